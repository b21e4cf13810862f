import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { loadConfig } from '../../src/config/load-config.js';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import type { EvidenceRecord } from '../../src/evidence/types.js';
import { silentLogger } from '../../src/util/log.js';
import { startGateway, type Gateway } from '../../mcp-gateway/gateway.js';
import { writeFixture, type Fixture, type FixtureSpec } from './fixture.js';

/** A gateway started in-process on an ephemeral loopback port, with its fixture folder. */
export interface RunningGateway {
  gateway: Gateway;
  fixture: Fixture;
  url: string;
  /** Connects a new SDK client, optionally with a bearer token. */
  client(token?: string): Promise<Client>;
  /** Every evidence record written so far. */
  evidence(): Promise<EvidenceRecord[]>;
  close(): Promise<void>;
}

/** Writes the fixture and starts a gateway on it serving Streamable HTTP (default: any free port on 127.0.0.1). */
export async function runGateway(
  spec: FixtureSpec,
  clock?: () => number,
  http = '127.0.0.1:0',
): Promise<RunningGateway> {
  const fixture = await writeFixture(spec);
  const config = await loadConfig(fixture.configFile);
  const gateway = await startGateway({ config, http, log: silentLogger, clock });
  const url = gateway.httpUrl ?? '';
  const clients: Client[] = [];
  return {
    gateway,
    fixture,
    url,
    async client(token) {
      const client = new Client({ name: 'test-agent', version: '0' });
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
      clients.push(client);
      return client;
    },
    async evidence() {
      await gateway.evidence.flush();
      return readEvidence(fixture.evidenceDir);
    },
    async close() {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      await gateway.close();
    },
  };
}

/** Calls a tool and returns the raw result, without the SDK's output-schema validation. */
export function callTool(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<CallToolResult> {
  return client.request({ method: 'tools/call', params: { name, arguments: args } }, CallToolResultSchema);
}

/** The text of a tool result's content blocks. */
export function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');
}
