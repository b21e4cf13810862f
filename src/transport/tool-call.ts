import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

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
