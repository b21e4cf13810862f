import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { StorageType } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { pepToken } from '../../src/control/evidence-stream.js';
import { readEvidence, readEvidenceLines } from '../../src/evidence/jsonl-store.js';
import { generatedKeyPaths } from '../../src/pep/open-evidence.js';
import type { LogLevel } from '../../src/util/log.js';
import { startGateway, type Gateway } from '../../mcp-gateway/gateway.js';
import { waitFor } from '../helpers/approvals.js';
import { freePort } from '../helpers/demo-copy.js';
import { CLI, REFERENCE_SERVERS, writeFixture, type Fixture } from '../helpers/fixture.js';
import { callTool, textOf } from '../helpers/gateway-harness.js';
import {
  freshStreamName,
  NATS_SERVER,
  natsReachable,
  natsServerBinary,
  startPrivateNats,
  streamAdmin,
  subjectCounts,
  type PrivateNats,
} from '../helpers/nats.js';
import { parseExposition, sampleValue } from '../helpers/prometheus-text.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const exec = promisify(execFile);
const available = await natsReachable('the evidence stream tests');
const binary = available ? natsServerBinary() : undefined;
if (available && !binary) {
  console.warn('evidence-stream: no nats-server binary on PATH; the NATS outage test did not run');
}

/** A gateway with one echo tool, its evidence streamed to `stream` on `server`. */
function fixture(server: string, stream: string, pepId = 'gw-stream'): Promise<Fixture> {
  return writeFixture({
    config: {
      mode: 'enforce',
      pep: { id: pepId },
      identity: { default_agent: 'dev' },
      evidence: { dir: './evidence', fsync: 'batch', checkpoint: { every_records: 50, every_seconds: 1 } },
      state: { evidence_stream: `nats://${server}?stream=${stream}` },
      servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
    },
    tools: {
      tools: [{ name: 'everything__echo', owner: 'platform', risk_tier: 'low' }],
      groups: { demo: ['everything__echo'] },
    },
    agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['demo'], scopes: [], clearance: [] }] },
  });
}

interface Running {
  gateway: Gateway;
  client: Client;
  logs: { level: LogLevel; msg: string; fields?: Record<string, unknown> }[];
}

async function start(fx: Fixture): Promise<Running> {
  const logs: Running['logs'] = [];
  const gateway = await startGateway({
    config: await loadConfig(fx.configFile),
    http: '127.0.0.1:0',
    log: (level, msg, fields) => logs.push({ level, msg, fields }),
  });
  const client = new Client({ name: 'test-agent', version: '0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.httpUrl ?? '')));
  return { gateway, client, logs };
}

async function stop(r: Running): Promise<void> {
  await r.client.close().catch(() => {});
  await r.gateway.close();
}

async function echo(r: Running, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const result = await callTool(r.client, 'everything__echo', { message: `${tag} ${i}` });
    expect(result.isError, textOf(result)).toBeFalsy();
  }
}

/** The gateway's stream gauges, read the way Prometheus reads them. */
async function streamGauges(r: Running): Promise<{ connected: number; lag: number }> {
  const families = parseExposition(await r.gateway.metrics.registry.metrics());
  return {
    connected: sampleValue(families, 'mcpgov_evidence_stream_connected') ?? -1,
    lag: sampleValue(families, 'mcpgov_evidence_stream_lag_records') ?? -1,
  };
}

/** The records one PEP has in a stream, as the stream stores them, in stream order. */
async function streamedRecords(server: string, stream: string, pepId: string): Promise<string[]> {
  const admin = await streamAdmin(server);
  try {
    const out: string[] = [];
    const subject = `${stream}.${pepToken(pepId)}.records`;
    const counts = await subjectCounts(admin.jsm, stream);
    for (let seq = 1, found = 0; found < (counts[subject] ?? 0); seq++) {
      const m = await admin.jsm.streams.getMessage(stream, { seq });
      if (m?.subject === subject) {
        out.push(m.string());
        found += 1;
      }
    }
    return out;
  } finally {
    await admin.close();
  }
}

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return exec(process.execPath, [CLI, ...args]);
}

describe.skipIf(!available)('evidence stream on NATS JetStream', () => {
  const streams: { server: string; name: string }[] = [];
  afterAll(async () => {
    for (const { server, name } of streams) {
      const admin = await streamAdmin(server).catch(() => undefined);
      await admin?.jsm.streams.delete(name).catch(() => {});
      await admin?.close();
    }
  });

  it('streams every record once, append-only; pull rebuilds the log byte for byte, and verify, export and report read it', async () => {
    const stream = freshStreamName();
    streams.push({ server: NATS_SERVER, name: stream });
    const fx = await fixture(NATS_SERVER, stream);
    const first = await start(fx);
    await echo(first, 20, 'first');
    await stop(first);

    // A restart resumes after the last record the stream holds: nothing is sent twice.
    const second = await start(fx);
    await echo(second, 15, 'second');
    await waitFor('stream caught up', async () =>
      (await streamGauges(second)).lag === 0 ? true : undefined,
    );
    expect((await streamGauges(second)).connected).toBe(1);
    await stop(second);

    const local = await readEvidenceLines(fx.evidenceDir);
    const streamed = await streamedRecords(NATS_SERVER, stream, 'gw-stream');
    expect(streamed).toEqual(local);
    expect(new Set(streamed.map((l) => (JSON.parse(l) as { id: string }).id)).size).toBe(local.length);

    const admin = await streamAdmin();
    try {
      const info = await admin.jsm.streams.info(stream);
      expect(info.config).toMatchObject({ deny_delete: true, deny_purge: true, storage: StorageType.File });
      await expect(admin.jsm.streams.deleteMessage(stream, 1)).rejects.toThrow(/not permitted/);
      await expect(admin.jsm.streams.purge(stream)).rejects.toThrow(/not permitted/);
    } finally {
      await admin.close();
    }

    const out = await mkdtemp(path.join(tmpdir(), 'mcpgov-pull-'));
    const url = `nats://${NATS_SERVER}?stream=${stream}`;
    const pulled = await cli('evidence', 'pull', '--stream', url, '--out', out);
    expect(pulled.stdout).toContain(`pulled gw-stream: ${local.length} records`);
    const rebuilt = path.join(out, 'peps', pepToken('gw-stream'));
    expect(await readEvidenceLines(rebuilt)).toEqual(local);
    expect(await readFile(path.join(rebuilt, 'checkpoints.jsonl'), 'utf8')).toBe(
      await readFile(path.join(fx.evidenceDir, 'checkpoints.jsonl'), 'utf8'),
    );
    // Pulling again into the same folder adds nothing.
    const again = await cli('evidence', 'pull', '--stream', url, '--out', out, '--pep', 'gw-stream');
    expect(again.stdout).toContain(`pulled gw-stream: ${local.length} records`);
    expect(await readEvidenceLines(rebuilt)).toEqual(local);

    const jwks = generatedKeyPaths(fx.evidenceDir).publicJwks;
    const verified = await cli('evidence', 'verify', out, '--jwks', jwks);
    expect(verified.stdout).toContain(`ok: ${rebuilt}: ${local.length} records`);
    const exported = await cli('evidence', 'export', '--format', 'jsonl', '--dir', rebuilt);
    expect(exported.stdout.split('\n').filter(Boolean)).toHaveLength(local.length);
    const report = JSON.parse((await cli('report', out)).stdout) as { decisions: { calls: number } };
    expect(report.decisions.calls).toBe(35);
  });

  it('refuses a stream that allows deletes, and a stream whose records under this PEP id differ from the log', async () => {
    const admin = await streamAdmin();
    const open = freshStreamName();
    streams.push({ server: NATS_SERVER, name: open });
    try {
      await admin.jsm.streams.add({ name: open, subjects: [`${open}.>`], storage: StorageType.File });
    } finally {
      await admin.close();
    }
    const deletable = await start(await fixture(NATS_SERVER, open));
    await echo(deletable, 2, 'deletable');
    await waitFor('the refusal logged', () =>
      deletable.logs.find((l) => l.msg.startsWith('evidence stream unavailable')),
    );
    expect(JSON.stringify(deletable.logs)).toContain('allows deleting or purging messages');
    expect(await subjectCounts((await streamAdmin()).jsm, open)).toEqual({});
    await stop(deletable);

    // Two folders streaming under one PEP id: the second stops streaming instead of mixing logs.
    const shared = freshStreamName();
    streams.push({ server: NATS_SERVER, name: shared });
    const a = await start(await fixture(NATS_SERVER, shared, 'same-id'));
    await echo(a, 3, 'a');
    await stop(a);
    const b = await start(await fixture(NATS_SERVER, shared, 'same-id'));
    await echo(b, 1, 'b');
    const stopped = await waitFor('the mismatch refused', () =>
      b.logs.find((l) => l.msg === 'evidence stream stopped: the local log stays the record'),
    );
    expect(String(stopped.fields?.['reason'])).toContain('another PEP may use the same id');
    expect((await streamGauges(b)).connected).toBe(0);
    await stop(b);
  });

  it.skipIf(!binary)(
    'keeps governing while NATS is down and catches up once it is back: nothing lost, nothing twice',
    async () => {
      const storeDir = await mkdtemp(path.join(tmpdir(), 'mcpgov-nats-'));
      const port = await freePort();
      let nats: PrivateNats = await startPrivateNats(binary!, port, storeDir);
      const server = `127.0.0.1:${port}`;
      const stream = freshStreamName();
      try {
        const fx = await fixture(server, stream);
        const r = await start(fx);
        await echo(r, 10, 'before');
        await waitFor('streamed', async () => ((await streamGauges(r)).lag === 0 ? true : undefined));

        await nats.stop();
        await echo(r, 25, 'during');
        await waitFor('outage seen', async () =>
          (await streamGauges(r)).connected === 0 ? true : undefined,
        );
        expect((await streamGauges(r)).lag).toBeGreaterThan(0);

        nats = await startPrivateNats(binary!, port, storeDir);
        await echo(r, 5, 'after');
        await waitFor('caught up', async () => {
          const g = await streamGauges(r);
          return g.lag === 0 && g.connected === 1 ? true : undefined;
        });
        await stop(r);

        const local = await readEvidenceLines(fx.evidenceDir);
        const streamed = await streamedRecords(server, stream, 'gw-stream');
        expect(streamed).toEqual(local);
        const decisions = (await readEvidence(fx.evidenceDir)).filter((rec) => rec.kind === 'decision');
        expect(decisions).toHaveLength(40);
        const out = await mkdtemp(path.join(tmpdir(), 'mcpgov-pull-'));
        await cli('evidence', 'pull', '--stream', `nats://${server}?stream=${stream}`, '--out', out);
        const verified = await cli(
          'evidence',
          'verify',
          out,
          '--jwks',
          generatedKeyPaths(fx.evidenceDir).publicJwks,
        );
        expect(verified.stdout).toContain(`${local.length} records`);
        expect(await readdir(path.join(out, 'peps'))).toEqual([pepToken('gw-stream')]);
      } finally {
        await nats.stop();
      }
    },
  );
});
