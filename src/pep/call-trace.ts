import {
  context,
  isSpanContextValid,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Decision } from '../core/decision.js';
import type { PepInfo } from '../evidence/types.js';
import { VERSION } from '../util/version.js';
import { DECISION_META_KEY } from './answers.js';

/*
 * One OpenTelemetry span per `tools/call`, through `@opentelemetry/api` only: until an SDK registers a
 * tracer provider (the CLI does when the OTEL_* variables ask for an exporter), every call here is the
 * API's no-op and no attribute is built. Names follow the OpenTelemetry MCP semantic conventions
 * (gen-ai/mcp.md: span `tools/call {gen_ai.tool.name}`, context in `params._meta`); the decision's own
 * attributes are under `mcpgov.`.
 */

/** The tracer of every enforcement point; a no-op until an SDK registers a provider. */
const tracer = trace.getTracer('mcpgov', VERSION);

/**
 * Reads trace context from a request's `_meta`: own string members only (the caller writes `_meta`).
 * The MCP conventions put W3C `traceparent`, `tracestate` and `baggage` there, unprefixed (SEP-414).
 */
const metaGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = Object.hasOwn(carrier, key) ? carrier[key] : undefined;
    return typeof value === 'string' ? value : undefined;
  },
};

/** Longest tool name put on a span: the caller chooses the name, the span stays small. */
const MAX_TOOL_NAME = 200;

/** The `_meta` members that carry a call's trace context downstream; empty when tracing is off. */
export type TraceMeta = Record<string, string>;

/**
 * The span of one governed `tools/call`: started when the call arrives (continuing the caller's trace
 * when its `_meta` carries one), told the decision, ended with the answer.
 */
export class CallTrace {
  private constructor(
    private readonly span: Span,
    /** The context the call arrived in: the caller's trace, or the ambient one. */
    private readonly parent: Context,
  ) {}

  /**
   * Starts the span. The gateway serves the call (SERVER); the sidecar makes it on its agent's
   * behalf (CLIENT). A tool that exists downstream names the span; any other name the caller sends
   * stays an attribute, so span names keep a bounded set.
   */
  static start(
    pep: PepInfo['kind'],
    toolName: string,
    server: string | undefined,
    sessionId: string,
    meta: Record<string, unknown> | undefined,
  ): CallTrace {
    const ambient = context.active();
    const parent = meta === undefined ? ambient : propagation.extract(ambient, meta, metaGetter);
    const tool = toolName.slice(0, MAX_TOOL_NAME);
    const span = tracer.startSpan(
      server === undefined ? 'tools/call' : `tools/call ${tool}`,
      { kind: pep === 'sidecar' ? SpanKind.CLIENT : SpanKind.SERVER },
      parent,
    );
    if (span.isRecording()) {
      span.setAttributes({
        'mcp.method.name': 'tools/call',
        'mcp.session.id': sessionId,
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': tool,
        'mcpgov.pep.kind': pep,
        ...(server === undefined ? {} : { 'mcpgov.server': server }),
      });
    }
    return new CallTrace(span, parent);
  }

  /** The trace this call belongs to, for its decision record; undefined when tracing is off. */
  get traceId(): string | undefined {
    const sc = this.span.spanContext();
    return isSpanContextValid(sc) ? sc.traceId : undefined;
  }

  /** Records what was decided. */
  decided(decision: Decision): void {
    if (!this.span.isRecording()) return;
    this.span.setAttributes({
      'mcpgov.decision.id': decision.id,
      'mcpgov.decision.effect': decision.effect,
      'mcpgov.decision.mode': decision.mode,
      'mcpgov.decision.enforced': decision.enforced,
      'mcpgov.decision.reasons': decision.reasons,
      ...(decision.waiver === undefined ? {} : { 'mcpgov.waiver.id': decision.waiver.id }),
      ...(decision.approval === undefined ? {} : { 'mcpgov.approval.request_id': decision.approval.request }),
    });
  }

  /** Records the approval request an escalation opened. */
  approvalOpened(requestId: string): void {
    if (this.span.isRecording()) this.span.setAttribute('mcpgov.approval.request_id', requestId);
  }

  /**
   * Runs the downstream call inside this span, handing it the `_meta` members to send (this span as
   * the downstream server's parent): instrumentation of the transport nests under the span too.
   */
  forward<T>(send: (meta: TraceMeta) => Promise<T>): Promise<T> {
    if (!isSpanContextValid(this.span.spanContext())) return send({});
    const active = trace.setSpan(this.parent, this.span);
    const meta: TraceMeta = {};
    propagation.inject(active, meta);
    return context.with(active, () => send(meta));
  }

  /**
   * Ends the span with the answer: an error status when the caller sees an error (a refusal, a tool
   * error, a protocol error), with `error.type` the reason code, `tool_error` or the JSON-RPC code.
   */
  end(result: CallToolResult | undefined, failure?: unknown): void {
    if (this.span.isRecording()) {
      if (failure !== undefined) {
        const code = (failure as { code?: unknown }).code;
        this.span.setAttribute('error.type', code === undefined ? 'internal_error' : String(code));
        if (failure instanceof Error) this.span.recordException(failure);
        this.span.setStatus({ code: SpanStatusCode.ERROR, message: (failure as Error).message });
      } else if (result?.isError === true) {
        const reason = reasonOf(result);
        this.span.setAttribute('error.type', reason ?? 'tool_error');
        this.span.setStatus({ code: SpanStatusCode.ERROR, message: reason ?? 'tool_error' });
      }
    }
    this.span.end();
  }
}

/** The reason code of an answer the enforcement point made itself (src/pep/answers.ts). */
function reasonOf(result: CallToolResult): string | undefined {
  const info = result._meta?.[DECISION_META_KEY] as { reason?: unknown } | undefined;
  return typeof info?.reason === 'string' ? info.reason : undefined;
}
