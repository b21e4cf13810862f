import type { CallToolResult, JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { errorObject, isObject } from './jsonrpc-lines.js';

/** `tools/call` params, checked for shape (the arguments themselves are the policy's business). */
export interface ToolCallParams {
  name: string;
  arguments?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
}

/** Progress of a long-running call, as a downstream server reports it. */
export interface Progress {
  progress: number;
  total?: number;
  message?: string;
}

/**
 * Governs and answers one `tools/call`: what a session's SDK server and the stdio transport's direct
 * path both call. It resolves to the tool result the caller sees (a refusal included) and rejects only
 * with protocol errors.
 */
export type ToolCallHandler = (
  params: ToolCallParams,
  signal: AbortSignal,
  onprogress?: (progress: Progress) => void,
  /** The `tools/call` request's id: what the server asks the client during the call relates to it. */
  requestId?: string | number,
) => Promise<CallToolResult>;

/**
 * Serves one `tools/call` through `handler` and resolves with its JSON-RPC answer: the result, or the
 * error the handler threw. Never rejects (the transports that call it write whatever it resolves to).
 */
export async function answerToolCall(
  handler: ToolCallHandler,
  id: string | number,
  params: ToolCallParams,
  signal: AbortSignal,
): Promise<JSONRPCMessage> {
  try {
    return { jsonrpc: '2.0', id, result: await handler(params, signal, undefined, id) } as JSONRPCMessage;
  } catch (err) {
    return { jsonrpc: '2.0', id, error: errorObject(err) } as JSONRPCMessage;
  }
}

/** Calls that ask for progress take the SDK path, which relays progress notifications. */
export function wantsProgress(params: { _meta?: Record<string, unknown> } | undefined): boolean {
  const meta = params?.['_meta'] as Record<string, unknown> | undefined;
  return meta?.['progressToken'] !== undefined;
}

/** Whether `params` has the shape of `tools/call` params (a name, object arguments and `_meta`). */
export function isToolCallParams(params: unknown): params is ToolCallParams {
  return (
    isObject(params) &&
    typeof params['name'] === 'string' &&
    (params['arguments'] === undefined || isObject(params['arguments'])) &&
    (params['_meta'] === undefined || isObject(params['_meta']))
  );
}
