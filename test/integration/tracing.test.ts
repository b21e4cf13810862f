import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { readEvidence } from '../../src/evidence/jsonl-store.js';
import type { EvidenceRecord } from '../../src/evidence/types.js';
import { LineStdioClientTransport } from '../../src/transport/stdio-client.js';
import { silentLogger } from '../../src/util/log.js';
import { startSidecar, type Sidecar } from '../../mcp-sidecar/sidecar.js';
import { CLI, REFERENCE_SERVERS, writeFixture, type FixtureSpec } from '../helpers/fixture.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';
import { META_SERVER } from '../helpers/meta-server.js';

/*
 * The OpenTelemetry SDK, registered in this test process as a deployment would register it: a tracer
 * provider whose spans land in memory, the AsyncLocalStorage context manager, the W3C propagator.
 * The gateway and the sidecar run in process, against real MCP servers: server-everything, and a
 * small SDK server that answers with the `_meta` it receives (test/fixtures/meta-server.ts).
 */
const exporter = new InMemorySpanExporter();

beforeAll(() => {
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
afterAll(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});
beforeEach(() => exporter.reset());

const spec: FixtureSpec = {
  config: {
    mode: 'enforce',
    identity: { default_agent: 'dev' },
    servers: {
      everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] },
      meta: { command: 'node', args: [META_SERVER] },
    },
  },
  tools: {
    tools: [
      { name: 'everything__*', owner: 'platform', risk_tier: 'low' },
      { name: 'meta__*', owner: 'platform', risk_tier: 'low' },
      // The sidecar's names: the meta server's own, unprefixed.
      { name: '*', owner: 'platform', risk_tier: 'low' },
    ],
    groups: { all: ['*'] },
  },
  agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['all'] }] },
  rules: [
    {
      id: 'no-secrets',
      description: 'no secrets in echo',
      when: { in: ['secret', { var: 'call.arguments.message' }] },
      effect: 'deny',
      reason: 'secret_in_echo',
    },
    {
      id: 'hold-big-sums',
      description: 'large sums need a person',
      when: { '>': [{ var: 'call.arguments.a' }, 1000] },
      effect: 'escalate',
      reason: 'large_sum',
    },
  ],
};

/** A caller's W3C trace context: a fresh trace id and span id, sampled. */
function callerContext(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** Calls a tool with `_meta` on the request, as an instrumented client does. */
function callWithMeta(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  meta: Record<string, unknown>,
): Promise<CallToolResult> {
  return client.request(
    { method: 'tools/call', params: { name, arguments: args, _meta: meta } },
    CallToolResultSchema,
  );
}

/** The spans of `tools/call`s exported so far. */
const callSpans = () =>
  exporter.getFinishedSpans().filter((s) => s.attributes['mcp.method.name'] === 'tools/call');

/** The one span of the call that `decisionId` decided; waits until it has ended. */
async function spanOf(decisionId: string): Promise<ReadableSpan> {
  return vi.waitFor(() => {
    const spans = callSpans().filter((s) => s.attributes['mcpgov.decision.id'] === decisionId);
    expect(spans).toHaveLength(1);
    return spans[0]!;
  });
}

/** The decision record of the last call to `tool`. */
function lastDecision(records: EvidenceRecord[], tool: string): EvidenceRecord {
  const found = records.filter((r) => r.kind === 'decision' && r.request?.tool === tool).at(-1);
  if (!found) throw new Error(`no decision record for ${tool}`);
  return found;
}

describe('tracing through the gateway', () => {
  let gw: RunningGateway;
  let client: Client;

  beforeAll(async () => {
    gw = await runGateway(spec);
    client = await gw.client();
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('records one span per tools/call, with the decision on it', async () => {
    await callTool(client, 'everything__echo', { message: 'one' });
    await callTool(client, 'everything__get-sum', { a: 1, b: 2 });
    await callTool(client, 'meta__show_meta', {});
    await vi.waitFor(() => expect(callSpans()).toHaveLength(3));
    expect(callSpans().map((s) => s.name)).toEqual([
      'tools/call everything__echo',
      'tools/call everything__get-sum',
      'tools/call meta__show_meta',
    ]);
    const record = lastDecision(await gw.evidence(), 'everything__get-sum');
    const span = await spanOf(record.id);
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(span.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'everything__get-sum',
      'gen_ai.operation.name': 'execute_tool',
      'mcpgov.server': 'everything',
      'mcpgov.decision.id': record.id,
      'mcpgov.decision.effect': 'allow',
      'mcpgov.decision.mode': 'enforce',
      'mcpgov.decision.enforced': true,
      'mcpgov.decision.reasons': [],
    });
    // Tracing on, the decision record names the trace its call belongs to.
    expect(record.decision?.trace_id).toBe(span.spanContext().traceId);
  });

  it("continues the caller's trace from _meta and records its id in the decision", async () => {
    const caller = callerContext();
    await callWithMeta(
      client,
      'everything__echo',
      { message: 'traced' },
      { traceparent: caller.traceparent },
    );
    const record = lastDecision(await gw.evidence(), 'everything__echo');
    const span = await spanOf(record.id);
    expect(span.spanContext().traceId).toBe(caller.traceId);
    expect(span.parentSpanContext?.spanId).toBe(caller.spanId);
    expect(span.parentSpanContext?.isRemote).toBe(true);
    expect(record.decision?.trace_id).toBe(caller.traceId);
  });

  it('passes the trace on to the downstream server in _meta, with its own span as the parent', async () => {
    const caller = callerContext();
    const result = await callWithMeta(
      client,
      'meta__show_meta',
      {},
      { traceparent: caller.traceparent, tracestate: 'vendor=abc', 'example.com/other': 'kept' },
    );
    const received = JSON.parse(textOf(result)) as Record<string, unknown>;
    const record = lastDecision(await gw.evidence(), 'meta__show_meta');
    const span = await spanOf(record.id);
    const { traceId, spanId } = span.spanContext();
    expect(traceId).toBe(caller.traceId);
    expect(received).toMatchObject({
      traceparent: `00-${traceId}-${spanId}-01`,
      tracestate: 'vendor=abc',
      'example.com/other': 'kept',
    });
  });

  it('starts a trace for a call that brings none, and passes that one on', async () => {
    const result = await callTool(client, 'meta__show_meta', {});
    const received = JSON.parse(textOf(result)) as { traceparent?: string };
    const record = lastDecision(await gw.evidence(), 'meta__show_meta');
    const span = await spanOf(record.id);
    expect(span.parentSpanContext).toBeUndefined();
    expect(received.traceparent).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
    expect(record.decision?.trace_id).toBe(span.spanContext().traceId);
  });

  it('gives a denied call an error status with its reason code', async () => {
    const denied = await callTool(client, 'everything__echo', { message: 'a secret' });
    expect(denied.isError).toBe(true);
    const record = lastDecision(await gw.evidence(), 'everything__echo');
    const span = await spanOf(record.id);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes).toMatchObject({
      'mcpgov.decision.effect': 'deny',
      'mcpgov.decision.enforced': true,
      'mcpgov.decision.reasons': ['secret_in_echo'],
      'error.type': 'secret_in_echo',
    });
  });

  it('names the approval request an escalation opens', async () => {
    const held = await callTool(client, 'everything__get-sum', { a: 5000, b: 1 });
    expect(held.isError).toBe(true);
    const records = await gw.evidence();
    const record = lastDecision(records, 'everything__get-sum');
    const opened = records.find(
      (r) => r.approval?.event === 'created' && r.approval.decision_id === record.id,
    );
    const span = await spanOf(record.id);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes).toMatchObject({
      'mcpgov.decision.effect': 'escalate',
      'mcpgov.approval.request_id': opened?.approval?.request,
      'error.type': 'approval_pending',
    });
  });
});

describe('tracing through the sidecar', () => {
  let sidecar: Sidecar;
  let client: Client;
  let evidenceDir: string;

  beforeAll(async () => {
    const fx = await writeFixture(spec);
    evidenceDir = fx.evidenceDir;
    sidecar = await startSidecar({ config: await loadConfig(fx.configFile), log: silentLogger });
    client = new Client({ name: 'agent', version: '0' });
    const transport = new LineStdioClientTransport({ command: process.execPath, args: [META_SERVER] });
    await client.connect(await sidecar.govern(transport, { server: 'meta' }));
  });
  afterAll(async () => {
    await client?.close();
    await sidecar?.close();
  });

  it("continues the agent's trace, passes it to the server and records it in the decision", async () => {
    const caller = callerContext();
    const result = await callWithMeta(client, 'show_meta', {}, { traceparent: caller.traceparent });
    const received = JSON.parse(textOf(result)) as { traceparent?: string };
    await sidecar.evidence.flush();
    const record = lastDecision(await readEvidence(evidenceDir), 'show_meta');
    const span = await spanOf(record.id);
    // The sidecar makes the call on its agent's behalf.
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.name).toBe('tools/call show_meta');
    expect(span.spanContext().traceId).toBe(caller.traceId);
    expect(span.parentSpanContext?.spanId).toBe(caller.spanId);
    expect(received.traceparent).toBe(`00-${caller.traceId}-${span.spanContext().spanId}-01`);
    expect(record.decision?.trace_id).toBe(caller.traceId);
    expect(callSpans()).toHaveLength(1);
  });
});

/** An OTLP/HTTP collector that keeps the JSON export requests it receives. */
async function startCollector(): Promise<{ url: string; spans: () => OtlpSpan[]; server: HttpServer }> {
  const bodies: unknown[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(body));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const spans = () =>
    (bodies as OtlpExport[]).flatMap((b) =>
      b.resourceSpans.flatMap((r) =>
        r.scopeSpans.flatMap((s) => s.spans.map((span) => ({ ...span, resource: r.resource }))),
      ),
    );
  return { url: `http://127.0.0.1:${port}/v1/traces`, spans, server };
}

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; boolValue?: boolean };
}
interface OtlpSpan {
  name: string;
  traceId: string;
  attributes: OtlpAttribute[];
  resource?: { attributes: OtlpAttribute[] };
}
interface OtlpExport {
  resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

describe('mcpgov gateway with OTEL_TRACES_EXPORTER=otlp', () => {
  it('starts the Node SDK and exports the spans of its calls, the last ones at shutdown', async () => {
    const collector = await startCollector();
    const fx = await writeFixture({
      ...spec,
      config: {
        ...spec.config,
        servers: { everything: (spec.config['servers'] as Record<string, unknown>)['everything'] },
      },
    });
    const child = spawn(
      process.execPath,
      [CLI, 'gateway', '--config', fx.configFile, '--http', '127.0.0.1:0'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          ...process.env,
          OTEL_TRACES_EXPORTER: 'otlp',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.url,
          // Spans wait for shutdown: the test sees them only if shutdown flushes them.
          OTEL_BSP_SCHEDULE_DELAY: '600000',
        },
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stderr! }).on('line', (line) => {
        stderr += `${line}\n`;
        const entry = line.startsWith('{') ? (JSON.parse(line) as { msg?: string; url?: string }) : {};
        if (entry.msg === 'serving Streamable HTTP' && entry.url) resolve(entry.url);
      });
      void exited.then((code) => reject(new Error(`gateway exited with ${code}: ${stderr}`)));
    });
    try {
      const client = new Client({ name: 'agent', version: '0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      const caller = callerContext();
      await callWithMeta(
        client,
        'everything__echo',
        { message: 'exported' },
        { traceparent: caller.traceparent },
      );
      await client.close();
      expect(collector.spans()).toEqual([]);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toContain('"msg":"tracing on"');
      const [span, ...others] = collector.spans();
      expect(others).toEqual([]);
      expect(span).toMatchObject({ name: 'tools/call everything__echo', traceId: caller.traceId });
      expect(span?.attributes).toContainEqual({
        key: 'mcpgov.decision.effect',
        value: { stringValue: 'allow' },
      });
      expect(span?.resource?.attributes).toContainEqual({
        key: 'service.name',
        value: { stringValue: 'mcpgov-gateway' },
      });
    } finally {
      child.kill('SIGKILL');
      collector.server.close();
    }
    // A process of its own that loads the whole Node SDK: more than the default on a busy machine.
  }, 90_000);
});
