import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { definitionDigest } from '../../src/registry/digest.js';
import { silentLogger } from '../../src/util/log.js';
import { startGateway } from '../../mcp-gateway/gateway.js';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import type { EvidenceRecord } from '../../src/evidence/types.js';
import { CLI, REFERENCE_SERVERS, REPO, writeFixture } from '../helpers/fixture.js';
import { callTool, textOf } from '../helpers/gateway-harness.js';
import { HOSTILE_SERVER } from '../helpers/hostile-server.js';

const run = promisify(execFile);

/** Runs the built CLI; resolves with exit code and output instead of throwing on a non-zero exit. */
async function mcpgov(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: REPO });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** The digest a CLI output line names (the pattern's first group). */
function digestIn(output: string, line: RegExp): string {
  const digest = line.exec(output)?.[1];
  expect(digest, `${String(line)} in:\n${output}`).toBeDefined();
  return digest!;
}

/** The live definition digests of a server's tools, read with a plain SDK client. */
async function liveDigests(args: string[]): Promise<Map<string, string>> {
  const client = new Client({ name: 'test', version: '0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args, stderr: 'ignore' }));
  try {
    const { tools } = await client.listTools();
    return new Map(tools.map((t) => [t.name, definitionDigest(t as unknown as Record<string, unknown>)]));
  } finally {
    await client.close();
  }
}

/** Runs a gateway on a config file with one HTTP client connected; stops both afterwards. */
async function withGateway(
  configFile: string,
  use: (client: Client, records: () => Promise<EvidenceRecord[]>) => Promise<void>,
): Promise<void> {
  const config = await loadConfig(configFile);
  const gateway = await startGateway({ config, http: '127.0.0.1:0', log: silentLogger });
  const client = new Client({ name: 'agent', version: '0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.httpUrl!)));
    await use(client, async () => {
      await gateway.evidence.flush();
      return readEvidence(config.evidence.dir);
    });
  } finally {
    await client.close();
    await gateway.close();
  }
}

const STALE = `sha256:${'0'.repeat(64)}`;

/** A registry as a person writes it: comments, flow lists, a stale pin, globs after exact entries. */
const REGISTRY = `# Inventory for the pin test.
tools:
  # exact entries: these get pins
  - name: everything__echo # the echo tool
    owner: platform
    risk_tier: low
    scopes: [demo] # trailing comment on the last line
  - name: memory__read_graph
    owner: knowledge
    risk_tier: low
    definition_digest: '${STALE}'
    mode: observe

  # globs
  - name: everything__*
    owner: platform
    risk_tier: low
    scopes: [demo]
  - name: memory__*
    owner: knowledge
    risk_tier: medium
    scopes: [memory.read]
groups:
  all: [everything__*, memory__*]
`;

const referenceConfig = {
  identity: { default_agent: 'dev' },
  mode: 'enforce',
  servers: {
    everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] },
    memory: {
      command: 'node',
      args: [REFERENCE_SERVERS.memory],
      env: { MEMORY_FILE_PATH: '${config_dir}/memory.jsonl' },
    },
  },
};
const agents = { agents: [{ id: 'dev', owner: 'p', tool_groups: ['all'], scopes: ['demo', 'memory.read'] }] };

describe('mcpgov registry pin', () => {
  it('writes the live digests into exact entries, changing nothing else, and --check then passes', async () => {
    const fx = await writeFixture({
      config: referenceConfig,
      tools: {},
      agents,
      files: { 'registries/tools.yaml': REGISTRY },
    });
    const pinned = await mcpgov('registry', 'pin', '--config', fx.configFile);
    expect(pinned.code).toBe(0);
    const echo = digestIn(pinned.stdout, /^pinned {4}everything__echo {2}(sha256:[0-9a-f]{64})$/m);
    const graph = digestIn(
      pinned.stdout,
      new RegExp(`^repinned  memory__read_graph  ${STALE} -> (sha256:[0-9a-f]{64})$`, 'm'),
    );
    expect(pinned.stdout).toMatch(/2 pinned, 0 added, 0 unchanged, \d+ without an exact entry; wrote /);
    const text = await readFile(path.join(fx.dir, 'registries/tools.yaml'), 'utf8');
    expect(text).toBe(
      REGISTRY.replace(
        '    scopes: [demo] # trailing comment on the last line\n',
        `    scopes: [demo] # trailing comment on the last line\n    definition_digest: ${echo}\n`,
      ).replace(`'${STALE}'`, graph),
    );

    const check = await mcpgov('registry', 'pin', '--config', fx.configFile, '--check');
    expect(check).toMatchObject({ code: 0, stdout: 'ok: 2 pinned tools match their live definitions\n' });

    // The gateway sees the same live definitions: the pinned tools pass, and their decision records
    // carry the pinned digests as the live ones.
    await withGateway(fx.configFile, async (client, records) => {
      expect(textOf(await callTool(client, 'everything__echo', { message: 'pinned' }))).toBe('Echo: pinned');
      expect((await callTool(client, 'memory__read_graph')).isError).toBeFalsy();
      const decisions = (await records()).filter((r) => r.kind === 'decision');
      expect(decisions.map((r) => [r.request?.definition_digest, r.decision?.reasons])).toEqual([
        [echo, []],
        [graph, []],
      ]);
      expect((await records()).some((r) => r.kind === 'drift')).toBe(false);
    });
  }, 120_000);

  it('with --dry-run prints what would change and writes nothing; --add copies the governing glob entry', async () => {
    const fx = await writeFixture({
      config: referenceConfig,
      tools: {},
      agents,
      files: { 'registries/tools.yaml': REGISTRY },
    });
    const file = path.join(fx.dir, 'registries/tools.yaml');
    const dry = await mcpgov(
      'registry',
      'pin',
      '--config',
      fx.configFile,
      '--server',
      'memory',
      '--add',
      '--dry-run',
    );
    expect(dry.code).toBe(0);
    const search = digestIn(
      dry.stdout,
      /^added {5}memory__search_nodes {2}(sha256:[0-9a-f]{64}) \(a copy of memory__\*\)$/m,
    );
    expect(dry.stdout).toMatch(/; dry run: nothing written\n$/);
    expect(await readFile(file, 'utf8')).toBe(REGISTRY);

    const added = await mcpgov('registry', 'pin', '--config', fx.configFile, '--server', 'memory', '--add');
    expect(added.code).toBe(0);
    const text = await readFile(file, 'utf8');
    expect(text).toContain(
      `  - name: memory__search_nodes\n    owner: knowledge\n    risk_tier: medium\n    scopes: [memory.read]\n    definition_digest: ${search}\n`,
    );
    // New entries sit just before the glob they copy; the everything entries were not touched.
    expect(text.indexOf('name: memory__search_nodes')).toBeLessThan(text.indexOf('name: memory__*'));
    expect(text.indexOf('name: memory__search_nodes')).toBeGreaterThan(text.indexOf('name: everything__*'));
    const head = (t: string) => t.slice(0, t.indexOf('  - name: memory__read_graph'));
    expect(head(text)).toBe(head(REGISTRY)); // the other server's entries stay as they were
    expect((await mcpgov('validate', '--config', fx.configFile)).code).toBe(0);
  }, 120_000);

  it('with --check exits 1 when a pinned definition changed, and the gateway refuses the tool', async () => {
    const config = (variant: string) => ({
      identity: { default_agent: 'dev' },
      mode: 'enforce',
      servers: { hostile: { command: 'node', args: [HOSTILE_SERVER, '--variant', variant] } },
    });
    const fx = await writeFixture({
      config: config('1'),
      tools: {
        tools: [
          { name: 'hostile__weather', owner: 'p', risk_tier: 'low' },
          { name: 'hostile__*', owner: 'p', risk_tier: 'low' },
        ],
        groups: { all: ['hostile__*'] },
      },
      agents: { agents: [{ id: 'dev', owner: 'p', tool_groups: ['all'] }] },
    });
    const pinned = await mcpgov('registry', 'pin', '--config', fx.configFile);
    expect(pinned.code).toBe(0);
    // Pinning approves a definition: the CLI says when one carries what the gateway would hide.
    expect(pinned.stderr).toContain('warning: hostile__notes has hidden instructions');
    const v1 = digestIn(pinned.stdout, /^pinned {4}hostile__weather {2}(sha256:[0-9a-f]{64})$/m);
    const v2 = (await liveDigests([HOSTILE_SERVER, '--variant', '2'])).get('weather');
    expect(v2).not.toBe(v1);

    // The server ships a new definition of the pinned tool.
    await writeFile(fx.configFile, stringify({ evidence: { dir: './evidence' }, ...config('2') }));
    const check = await mcpgov('registry', 'pin', '--config', fx.configFile, '--check');
    expect(check.code).toBe(1);
    expect(check.stdout).toBe(
      `differs  hostile__weather  ${v1} -> ${v2}\n1 of 1 pinned tools differ from their live definitions\n`,
    );

    await withGateway(fx.configFile, async (client, records) => {
      expect(textOf(await callTool(client, 'hostile__weather', { city: 'Oslo' }))).toBe(
        'MCP error -32602: Tool hostile__weather not found',
      );
      const all = await records();
      expect(all.findLast((r) => r.request?.tool === 'hostile__weather')?.decision?.reasons).toEqual([
        'definition_mismatch',
      ]);
      expect(all.find((r) => r.drift?.tool === 'hostile__weather')?.drift).toMatchObject({
        cause: 'definition_changed',
        reference: 'pin',
        expected_digest: v1,
        active_digest: v2,
        action: 'blocked',
      });
    });

    // Re-pinning after review approves the new definition.
    expect((await mcpgov('registry', 'pin', '--config', fx.configFile)).stdout).toContain(
      `repinned  hostile__weather  ${v1} -> ${v2}`,
    );
    expect((await mcpgov('registry', 'pin', '--config', fx.configFile, '--check')).code).toBe(0);
  }, 120_000);
});
