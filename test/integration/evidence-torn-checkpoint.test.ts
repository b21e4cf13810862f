import { execFile } from 'node:child_process';
import { appendFile, cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { startGateway } from '../../mcp-gateway/gateway.js';
import { loadConfig } from '../../src/config/load-config.js';
import { CHECKPOINTS_FILE } from '../../src/evidence/checkpoints.js';
import type { Logger } from '../../src/util/log.js';
import { CLI, REFERENCE_SERVERS, REPO } from '../helpers/fixture.js';
import { callTool, runGateway } from '../helpers/gateway-harness.js';

const run = promisify(execFile);

async function verify(dir: string): Promise<{ code: number; output: string }> {
  const jwks = path.join(dir, 'keys/signing-key.jwks.json');
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'evidence', 'verify', dir, '--jwks', jwks], {
      cwd: REPO,
    });
    return { code: 0, output: stdout + stderr };
  } catch (e) {
    const r = e as { code: number; stdout: string; stderr: string };
    return { code: r.code, output: r.stdout + r.stderr };
  }
}

/**
 * A checkpoint line torn by a crash (or by a full disk before cut-back existed) is recovered when the
 * gateway starts again: the torn tail is cut off and logged, the gateway serves, and the folder
 * verifies. A broken line in the middle of the file stays: that is tampering, and verify says so.
 */
describe('a torn checkpoint line', () => {
  it('is cut off when the gateway restarts, and `mcpgov evidence verify` passes afterwards', async () => {
    const gw = await runGateway({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
      },
      tools: {
        tools: [{ name: 'everything__*', owner: 'p', risk_tier: 'low' }],
        groups: { all: ['everything__*'] },
      },
      agents: { agents: [{ id: 'dev', owner: 'p', tool_groups: ['all'] }] },
    });
    const first = await gw.client();
    expect((await callTool(first, 'everything__echo', { message: 'one' })).isError).toBeFalsy();
    await gw.close();
    const dir = gw.fixture.evidenceDir;
    const file = path.join(dir, CHECKPOINTS_FILE);
    const whole = await readFile(file, 'utf8');
    const last = whole.trimEnd().split('\n').at(-1)!;
    const torn = last.slice(0, Math.floor(last.length / 2));
    await appendFile(file, torn);

    const before = await verify(dir);
    expect(before.code).toBe(1);
    expect(before.output).toMatch(/the last line is incomplete \(torn write\)/);

    const logged: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
    const log: Logger = (level, msg, fields) => logged.push({ level, msg, fields });
    const again = await startGateway({
      config: await loadConfig(gw.fixture.configFile),
      http: '127.0.0.1:0',
      log,
    });
    const client = new Client({ name: 'test-agent', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(again.httpUrl!)));
    expect((await callTool(client, 'everything__echo', { message: 'two' })).isError).toBeFalsy();
    await client.close();
    await again.close();

    expect(logged).toContainEqual({
      level: 'warn',
      msg: 'cut off a torn last checkpoint line left by an interrupted write',
      fields: { file, bytes: torn.length },
    });
    const text = await readFile(file, 'utf8');
    expect(text.startsWith(whole)).toBe(true);
    expect(text.slice(whole.length)).not.toContain(torn);
    const after = await verify(dir);
    expect(after.output).toMatch(/^ok: .*the last covers every record/);
    expect(after.code).toBe(0);

    // The same torn text in the middle of the file is not a crash's trace: verify refuses it.
    const tampered = await mkdtemp(path.join(tmpdir(), 'mcpgov-torn-'));
    await cp(dir, tampered, { recursive: true });
    const lines = text.trimEnd().split('\n');
    lines.splice(1, 0, torn);
    await writeFile(path.join(tampered, CHECKPOINTS_FILE), `${lines.join('\n')}\n`);
    const middle = await verify(tampered);
    expect(middle.code).toBe(1);
    expect(middle.output).toMatch(/checkpoints\.jsonl:2: not a checkpoint/);
  });
});
