import { McpError } from '@modelcontextprotocol/sdk/types.js';

/** A call to a server that is down or restarting: it never reached the server. */
export class ServerUnavailableError extends Error {
  constructor(
    readonly server: string,
    message = `server "${server}" is unavailable (restarting)`,
  ) {
    super(message);
    this.name = 'ServerUnavailableError';
  }
}

/** Why a downstream answer was withheld from the agent (reason codes in src/core/reason-codes.ts). */
export type RefusedResultReason = 'result_too_large' | 'malformed_result';

/**
 * A downstream answer the enforcement point withholds: too large, or not the shape MCP gives it.
 * The call did reach the server; only its answer is refused.
 */
export class ResultRefusedError extends Error {
  constructor(
    readonly reason: RefusedResultReason,
    message: string,
  ) {
    super(message);
    this.name = 'ResultRefusedError';
  }
}

/**
 * The `error.data` key by which the stdio framing marks the error answer it makes up for a response it
 * discarded unread (too large), so that the request's waiter fails with a ResultRefusedError.
 */
export const REFUSED_KEY = 'mcpgov/refused';

/** The error a JSON-RPC error answer stands for: a ResultRefusedError when the framing refused it, else an McpError. */
export function answerError(error: { code: number; message: string; data?: unknown }): Error {
  const data = error.data;
  const refused =
    typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[REFUSED_KEY] : undefined;
  if (refused === 'result_too_large' || refused === 'malformed_result') {
    return new ResultRefusedError(refused, error.message);
  }
  return new McpError(error.code, error.message, error.data);
}
