import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Reason } from '../core/reason-codes.js';

/** The decision summary attached to every answer the PEP makes itself, for clients that read `_meta`. */
export const DECISION_META_KEY = 'mcpgov/decision';

/** A tool error the model can read out: one line, the reason code and the decision id. */
export function refusal(
  kind: 'denied' | 'held' | 'failed',
  message: string,
  code: Reason,
  decisionId: string,
  /** The approval request the answer is about, for clients that read `_meta`. */
  request?: string,
): CallToolResult {
  const lead = { denied: 'Denied by policy', held: 'Held for approval', failed: 'Call failed' }[kind];
  const tail = kind === 'held' ? ' The call was not executed.' : '';
  return {
    content: [
      { type: 'text', text: `${lead}: ${message} (reason: ${code}, decision: ${decisionId}).${tail}` },
    ],
    isError: true,
    _meta: {
      [DECISION_META_KEY]: {
        id: decisionId,
        answer: kind,
        reason: code,
        ...(request === undefined ? {} : { request }),
      },
    },
  };
}

/**
 * The answer for a tool the caller may not see. It is byte-for-byte what the SDK's own server answers
 * for a tool that does not exist, so a hidden tool cannot be told apart from a missing one.
 */
export function unknownToolAnswer(toolName: string): CallToolResult {
  return { content: [{ type: 'text', text: `MCP error -32602: Tool ${toolName} not found` }], isError: true };
}
