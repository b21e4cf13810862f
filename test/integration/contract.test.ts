import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import type { EvidenceRecord } from '../../src/evidence/types.js';
import {
  CLI,
  REFERENCE_SERVERS,
  REPO,
  writeFixture,
  type Fixture,
  type FixtureSpec,
} from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';

interface ContractCase {
  note: string;
  tool: string;
  arguments: Record<string, unknown>;
  expect: {
    effect: 'allow' | 'deny' | 'escalate';
    reason?: string;
    answer: 'result' | 'denied' | 'held' | 'unknown';
  };
}

/** What kind of answer the agent got. */
function answerKind(result: CallToolResult): ContractCase['expect']['answer'] {
  const text = textOf(result);
  if (/^MCP error -32602: Tool .* not found$/.test(text)) return 'unknown';
  if (text.startsWith('Denied by policy:')) return 'denied';
  if (text.startsWith('Held for approval:')) return 'held';
  return 'result';
}

const SERVERS = (demo: string, outside: string) => ({
  fs: [REFERENCE_SERVERS.filesystem, demo, outside],
  memory: [REFERENCE_SERVERS.memory],
  everything: [REFERENCE_SERVERS.everything, 'stdio'],
});

/** The shipped registries and policies, with the demo path moved to a temporary folder. */
async function shippedSpec(demo: string, servers: Record<string, unknown>): Promise<FixtureSpec> {
  const read = async (file: string) =>
    parse(await readFile(path.join(REPO, file), 'utf8')) as Record<string, unknown>;
  const policies = await read('policies/demo.yaml');
  return {
    config: { mode: 'observe', identity: { default_agent: 'local-dev' }, paths: { demo }, servers },
    tools: await read('registries/tools.yaml'),
    agents: await read('registries/agents.yaml'),
    rules: policies['rules'] as unknown[],
  };
}

/** One enforcement point under test: how to call a tool, and the decisions it recorded. */
interface Pep {
  call(tool: string, args: Record<string, unknown>): Promise<CallToolResult>;
  decisions(): Promise<EvidenceRecord[]>;
  close(): Promise<void>;
}

async function gatewayPep(demo: string, outside: string): Promise<Pep> {
  const servers = Object.fromEntries(
    Object.entries(SERVERS(demo, outside)).map(([name, args]) => [name, { command: 'node', args }]),
  );
  const running: RunningGateway = await runGateway(await shippedSpec(demo, servers));
  const client = await running.client();
  return {
    call: (tool, args) => callTool(client, tool, args),
    decisions: async () => (await running.evidence()).filter((r) => r.kind === 'decision'),
    close: () => running.close(),
  };
}

/** One `mcpgov sidecar --prefix` stdio wrapper per server, each with its own evidence log. */
async function sidecarPep(demo: string, outside: string): Promise<Pep> {
  const wrappers = new Map<string, { client: Client; fixture: Fixture }>();
  for (const [name, args] of Object.entries(SERVERS(demo, outside))) {
    const fixture = await writeFixture(await shippedSpec(demo, {}));
    const client = new Client({ name: 'contract', version: '0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [
          CLI,
          'sidecar',
          '--config',
          fixture.configFile,
          '--name',
          name,
          '--prefix',
          '--',
          'node',
          ...args,
        ],
        stderr: 'ignore',
      }),
    );
    wrappers.set(name, { client, fixture });
  }
  const order: string[] = [];
  return {
    call: (tool, args) => {
      const server = tool.split('__')[0] ?? '';
      order.push(server);
      return callTool(wrappers.get(server)!.client, tool, args);
    },
    async decisions() {
      // Merge the per-server logs back into call order.
      const logs = new Map<string, EvidenceRecord[]>();
      for (const [name, w] of wrappers) {
        logs.set(
          name,
          (await readEvidence(w.fixture.evidenceDir)).filter((r) => r.kind === 'decision'),
        );
      }
      return order.map((server) => logs.get(server)!.shift()!);
    },
    async close() {
      await Promise.all([...wrappers.values()].map((w) => w.client.close()));
    },
  };
}

const cases = (
  parse(await readFile(path.join(REPO, 'test/contract/cases.yaml'), 'utf8')) as { cases: ContractCase[] }
).cases;

for (const [kind, start] of [
  ['gateway', gatewayPep],
  ['sidecar', sidecarPep],
] as const) {
  describe(`contract: ${kind}`, () => {
    let pep: Pep;
    let demo: string;
    let outside: string;

    beforeAll(async () => {
      demo = await mkdtemp(path.join(tmpdir(), 'mcpgov-contract-demo-'));
      outside = await mkdtemp(path.join(tmpdir(), 'mcpgov-contract-out-'));
      await writeFile(path.join(demo, 'hello.txt'), 'hello');
      pep = await start(demo, outside);
    });
    afterAll(async () => pep?.close());

    const fill = (v: unknown): unknown =>
      typeof v === 'string'
        ? v.replace('${demo}', demo).replace('${outside}', outside)
        : Array.isArray(v)
          ? v.map(fill)
          : v && typeof v === 'object'
            ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]))
            : v;

    for (const c of cases) {
      it(c.note, async () => {
        const result = await pep.call(c.tool, fill(c.arguments) as Record<string, unknown>);
        expect(answerKind(result)).toBe(c.expect.answer);
      });
    }

    it('recorded the decision and reason of every case', async () => {
      const decisions = await pep.decisions();
      expect(
        decisions.map((d) => [d.request?.tool, d.decision?.effect, d.decision?.reasons[0] ?? null]),
      ).toEqual(cases.map((c) => [c.tool, c.expect.effect, c.expect.reason ?? null]));
    });
  });
}
