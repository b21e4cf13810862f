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

interface VisibilityCase {
  note: string;
  agent: string;
  expect: {
    resources: 'shown' | 'none';
    templates: 'shown' | 'none';
    prompts: 'shown' | 'none';
    read: 'result' | 'not_found';
    prompt: 'result' | 'not_found';
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

const table = parse(await readFile(path.join(REPO, 'test/contract/cases.yaml'), 'utf8')) as {
  cases: ContractCase[];
  visibility: VisibilityCase[];
};
const cases = table.cases;

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

/** What one agent saw of server-everything's resources and prompts through one enforcement point. */
interface Seen {
  resources: string[];
  templates: string[];
  prompts: string[];
  read: string;
  prompt: string;
}

/** Lists, reads and gets through a connected client; `probe` names what to read and get. */
async function look(client: Client, probe: { uri: string; prompt: string }): Promise<Seen> {
  const outcome = (p: Promise<unknown>) =>
    p.then(
      () => 'result',
      (err: Error) => (/ not found$/.test(err.message) ? 'not_found' : `error: ${err.message}`),
    );
  return {
    resources: (await client.listResources()).resources.map((r) => `${r.uri} ${r.name}`),
    templates: (await client.listResourceTemplates()).resourceTemplates.map(
      (t) => `${t.uriTemplate} ${t.name}`,
    ),
    prompts: (await client.listPrompts()).prompts.map((p) => p.name),
    read: await outcome(client.readResource({ uri: probe.uri })),
    prompt: await outcome(client.getPrompt({ name: probe.prompt })),
  };
}

describe('contract: resources and prompts', () => {
  const seen = new Map<string, Seen>();
  let probe: { uri: string; prompt: string } | undefined;

  /**
   * The shipped registries with `agent` as the caller, over server-everything alone, in enforce mode
   * (observe mode hides nothing: it never blocks).
   */
  const spec = async (agent: string, servers: Record<string, unknown>) => {
    const base = await shippedSpec('/nonexistent', servers);
    return { ...base, config: { ...base.config, mode: 'enforce', identity: { default_agent: agent } } };
  };

  const viaGateway = async (agent: string): Promise<Seen> => {
    const everything = { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] };
    const running = await runGateway(await spec(agent, { everything }));
    try {
      const client = await running.client();
      if (!probe) {
        const resources = (await client.listResources()).resources;
        const prompts = (await client.listPrompts()).prompts;
        const simple = prompts.find((p) => !(p.arguments ?? []).some((a) => a.required));
        probe = { uri: resources[0]?.uri ?? '', prompt: simple?.name ?? '' };
      }
      return await look(client, probe);
    } finally {
      await running.close();
    }
  };

  const viaSidecar = async (agent: string): Promise<Seen> => {
    const fixture = await writeFixture(await spec(agent, {}));
    const client = new Client({ name: 'contract', version: '0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [CLI, 'sidecar', '-c', fixture.configFile, '--name', 'everything', '--prefix', 'node'].concat(
          REFERENCE_SERVERS.everything,
          'stdio',
        ),
        stderr: 'ignore',
      }),
    );
    try {
      return await look(client, probe!);
    } finally {
      await client.close();
    }
  };

  // The visible case runs first: it finds the resource and prompt the others try to reach.
  for (const c of table.visibility) {
    it(`${c.note} (gateway)`, async () => {
      const got = await viaGateway(c.agent);
      seen.set(`gateway:${c.agent}`, got);
      expect(probe?.uri).toMatch(/\S/);
      expect(probe?.prompt).toMatch(/^everything__/);
      expect({
        resources: got.resources.length > 0 ? 'shown' : 'none',
        templates: got.templates.length > 0 ? 'shown' : 'none',
        prompts: got.prompts.length > 0 ? 'shown' : 'none',
        read: got.read,
        prompt: got.prompt,
      }).toEqual(c.expect);
    });
    it(`${c.note} (sidecar, exactly as the gateway)`, async () => {
      expect(await viaSidecar(c.agent)).toEqual(seen.get(`gateway:${c.agent}`));
    });
  }
});
