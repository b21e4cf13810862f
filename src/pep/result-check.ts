import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { ReasonCode } from '../core/reason-codes.js';
import { resultFacts } from './records.js';

/** A result withheld from the agent: why, in one line. */
export interface ResultRefusal {
  code: Extract<ReasonCode, 'result_too_large' | 'malformed_result' | 'downstream_error'>;
  message: string;
}

/**
 * Whether a downstream tool result may reach the agent: it has a canonical JSON form (what the action
 * record digests), at most `maxBytes` of it, and the shape the MCP spec gives a CallToolResult (the
 * SDK's own schema: content blocks of known types, `isError` a boolean, `structuredContent` an
 * object). A hostile or broken server cannot push an answer through that would overrun the agent's
 * context or break its client. Returns the result's facts for the action record, and the refusal.
 */
export function checkResult(
  result: unknown,
  maxBytes: number,
): { facts?: { bytes: number; digest: string }; refusal?: ResultRefusal } {
  let facts: { bytes: number; digest: string };
  try {
    facts = resultFacts(result);
  } catch (err) {
    const message = `the result has no canonical JSON form: ${(err as Error).message}`;
    return { refusal: { code: 'downstream_error', message } };
  }
  if (facts.bytes > maxBytes) {
    const message = `the server's result is ${facts.bytes} bytes, over the ${maxBytes}-byte limit (limits.max_result_bytes)`;
    return { facts, refusal: { code: 'result_too_large', message } };
  }
  const parsed = CallToolResultSchema.safeParse(result);
  if (parsed.success) return { facts };
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  const message = `the server's result is not a valid CallToolResult${where}: ${issue?.message ?? 'invalid'}`;
  return { facts, refusal: { code: 'malformed_result', message } };
}
