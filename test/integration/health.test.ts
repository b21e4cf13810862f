import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/approvals.js';
import { REFERENCE_SERVERS } from '../helpers/fixture.js';
import { runGateway, type RunningGateway } from '../helpers/gateway-harness.js';
import { rawRequest } from '../helpers/raw-http.js';

/**
 * `/healthz` and `/readyz` on both listeners of a real gateway: ready while policy, evidence and a
 * downstream server all serve; 503 naming the failing check when the evidence folder can no longer
 * be written or every downstream server is down; ready again once they are back.
 */

interface Probe {
  status: number;
  body: { status: string; checks?: Record<string, string> };
}

/** GETs a probe path, with any Host header (a load balancer probes by IP address). */
async function probe(base: string, route: string, host?: string): Promise<Probe> {
  const res = await rawRequest(new URL(route, base).href, {
    method: 'GET',
    headers: host === undefined ? {} : { host },
  });
  return { status: res.status, body: JSON.parse(await res.text()) as Probe['body'] };
}

const READY = { status: 'ready', checks: { policy: 'pass', evidence: 'pass', downstream: 'pass' } };

/** The same readiness on the admin listener and on the MCP listener. */
async function readyz(gw: RunningGateway): Promise<Probe> {
  const [admin, mcp] = await Promise.all([probe(gw.gateway.adminUrl!, '/readyz'), probe(gw.url, '/readyz')]);
  expect(mcp).toEqual(admin);
  return admin;
}

/** Waits until `/readyz` answers `status`, and returns that answer. */
function readyzBecomes(gw: RunningGateway, status: number): Promise<Probe> {
  return waitFor(`/readyz ${status}`, async () => {
    const answer = await readyz(gw);
    return answer.status === status ? answer : undefined;
  });
}

const fixture = (root: string, config: Record<string, unknown> = {}) => ({
  config: {
    mode: 'enforce',
    identity: { default_agent: 'dev' },
    servers: { fs: { command: 'node', args: [REFERENCE_SERVERS.filesystem, root] } },
    admin: { http: '127.0.0.1:0' },
    ...config,
  },
  tools: { tools: [{ name: 'fs__*', owner: 'storage', risk_tier: 'low' }], groups: { fs: ['fs__*'] } },
  agents: { agents: [{ id: 'dev', owner: 'dev-team', tool_groups: ['fs'] }] },
});

describe('health probes', () => {
  let gw: RunningGateway;
  let root: string;
  const undo: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'mcpgov-health-root-'));
    gw = await runGateway(fixture(root));
  });
  afterAll(async () => {
    for (const step of undo.reverse()) await step().catch(() => {});
    await gw?.close();
  });

  it('answers /healthz 200 and /readyz 200 on both listeners, for any Host, without a token', async () => {
    for (const base of [gw.gateway.adminUrl!, gw.url]) {
      expect(await probe(base, '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
      expect(await probe(base, '/readyz')).toEqual({ status: 200, body: READY });
      expect(await probe(base, '/readyz', '10.0.0.7:8787')).toEqual({ status: 200, body: READY });
    }
    // Everything else still refuses a Host it does not serve.
    const console = await rawRequest(`${gw.gateway.adminUrl}/`, {
      method: 'GET',
      headers: { host: '10.0.0.7' },
    });
    expect(console.status).toBe(403);
  });

  it('turns 503 naming the evidence check when the evidence folder is no longer a writable folder, and back', async () => {
    // chmod does not stop root; replacing the folder with a file does: nothing can be created in
    // it any more (a new segment, the checkpoints file, the probe). The open segment's descriptor
    // still writes into the folder moved aside, so no record is lost meanwhile.
    const dir = gw.fixture.evidenceDir;
    const aside = `${dir}.aside`;
    await rename(dir, aside);
    await writeFile(dir, 'not a folder\n');
    const restore = async () => {
      await rm(dir, { force: true });
      await rename(aside, dir);
    };
    undo.push(restore);

    expect(await readyz(gw)).toEqual({
      status: 503,
      body: { status: 'not_ready', checks: { policy: 'pass', evidence: 'fail', downstream: 'pass' } },
    });
    expect((await probe(gw.url, '/healthz')).status).toBe(200);

    await restore();
    undo.pop();
    expect(await readyz(gw)).toEqual({ status: 200, body: READY });
  });

  it('turns 503 naming the downstream check when no downstream server is up, and back', async () => {
    // Without its folder, server-filesystem exits at once: restarts fail until it is back.
    const away = `${root}.away`;
    await rename(root, away);
    undo.push(() => rename(away, root));
    process.kill(gw.gateway.downstreams.get('fs')!.pid!, 'SIGKILL');
    expect(await readyzBecomes(gw, 503)).toEqual({
      status: 503,
      body: { status: 'not_ready', checks: { policy: 'pass', evidence: 'pass', downstream: 'fail' } },
    });

    await rename(away, root);
    undo.pop();
    expect(await readyzBecomes(gw, 200)).toEqual({ status: 200, body: READY });
  });

  it('answers other methods 405', async () => {
    const res = await rawRequest(`${gw.url.replace(/\/mcp$/, '')}/readyz`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe('GET, HEAD');
  });
});

/** A small tmpfs of our own, where the machine allows it (root with CAP_SYS_ADMIN). */
function mountTmpfs(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const mountPoint = await mkdtemp(path.join(tmpdir(), 'mcpgov-health-tmpfs-'));
const mounted = mountTmpfs(mountPoint);
if (!mounted) {
  await rmdir(mountPoint);
  console.warn(
    'health: SKIPPED the full-filesystem case: mounting a tmpfs is not permitted here (needs root with ' +
      'CAP_SYS_ADMIN); the folder-replaced-by-a-file case above still makes evidence writes fail',
  );
}

/** Writes until the filesystem has no byte left: whole pages first, then single bytes. */
async function fill(file: string): Promise<void> {
  const fh = await open(file, 'w');
  try {
    for (const chunk of [Buffer.alloc(4096), Buffer.alloc(1)]) {
      for (;;) {
        try {
          if ((await fh.write(chunk)).bytesWritten < chunk.length) break;
        } catch {
          break;
        }
      }
    }
  } finally {
    await fh.close();
  }
}

/** The evidence folder on a real filesystem that fills up: writes fail with ENOSPC, whoever writes. */
describe.runIf(mounted)('health probes on a full filesystem', () => {
  let gw: RunningGateway;

  beforeAll(async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'mcpgov-health-root-'));
    gw = await runGateway(
      fixture(root, { evidence: { dir: path.join(mountPoint, 'evidence'), fsync: 'batch' } }),
    );
  });
  afterAll(async () => {
    await rm(path.join(mountPoint, 'filler'), { force: true });
    await gw?.close();
    // Lazily, so a file a failed test left open cannot keep the mount behind.
    execFileSync('umount', ['-l', mountPoint]);
    await rmdir(mountPoint);
  });

  it('turns 503 naming the evidence check when the disk is full, and 200 once there is room again', async () => {
    expect(await readyz(gw)).toEqual({ status: 200, body: READY });
    const filler = path.join(mountPoint, 'filler');
    await fill(filler);
    expect(await readyz(gw)).toEqual({
      status: 503,
      body: { status: 'not_ready', checks: { policy: 'pass', evidence: 'fail', downstream: 'pass' } },
    });
    await rm(filler);
    expect(await readyz(gw)).toEqual({ status: 200, body: READY });
  });
});
