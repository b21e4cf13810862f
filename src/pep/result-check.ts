import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { ResultRefusedError } from '../transport/errors.js';

/**
 * Whether a downstream tool result may reach the agent: at most `maxBytes` in its RFC 8785 form (the
 * size the action record reports), and the shape the MCP spec gives a CallToolResult (the SDK's own
 * schema: content blocks of known types, `isError` a boolean, `structuredContent` an object). A hostile
 * or broken server cannot push an answer through that would overrun the agent's context or break its
 * client. Returns the refusal, or undefined when the result may pass.
 */
export function checkResult(
  result: unknown,
  bytes: number,
  maxBytes: number,
): ResultRefusedError | undefined {
  if (bytes > maxBytes) {
    return new ResultRefusedError(
      'result_too_large',
      `the server's result is ${bytes} bytes, over the ${maxBytes}-byte limit (limits.max_result_bytes)`,
    );
  }
  const parsed = CallToolResultSchema.safeParse(result);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  return new ResultRefusedError(
    'malformed_result',
    `the server's result is not a valid CallToolResult${where}: ${issue?.message ?? 'invalid'}`,
  );
}
