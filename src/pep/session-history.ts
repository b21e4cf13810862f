import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { maskedArguments } from '../evidence/mask.js';
import type { ResultLabels } from '../flow/labels.js';
import type { SessionState } from '../pipeline/types.js';

import type { HistoryLimits } from '../semantic/types.js';

/**
 * The text an agent read from a tool result: its text parts (and structured content), cut to a
 * bound so a large file cannot crowd the session out. Images and audio carry no text to judge.
 */
export function resultText(result: CallToolResult, maxChars: number): string | undefined {
  const parts: string[] = [];
  for (const item of result.content ?? []) {
    if (item.type === 'text') parts.push(item.text);
    else if (item.type === 'resource' && 'text' in item.resource) parts.push(String(item.resource.text));
  }
  if (parts.length === 0 && result.structuredContent !== undefined) {
    parts.push(JSON.stringify(result.structuredContent));
  }
  if (parts.length === 0) return undefined;
  const text = parts.join('\n');
  return text.length <= maxChars
    ? text
    : `${text.slice(0, maxChars)} [... ${text.length - maxChars} more characters]`;
}

/**
 * Adds a forwarded call and what it returned to the session's history. Arguments are kept masked:
 * the history may be shown to an LLM judge, which must not receive credentials.
 */
export function recordHistory(
  state: SessionState,
  tool: string,
  args: Record<string, unknown>,
  result: CallToolResult,
  limits: HistoryLimits,
  labels?: ResultLabels,
): void {
  if (limits.calls === 0) return;
  const text = resultText(result, limits.resultChars);
  state.history.push({
    tool,
    arguments: maskedArguments(args).args as Record<string, unknown>,
    ...(text === undefined ? {} : { result: text }),
    ...(labels === undefined ? {} : { labels }),
  });
  if (state.history.length > limits.calls) state.history.splice(0, state.history.length - limits.calls);
}
