import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Enforcer, Session } from './enforcer.js';

/** The enforcement point's own tool by which an agent states what the user asked for. */
export const DECLARE_INTENT_TOOL = 'mcpgov__declare_intent';

/** Its definition, listed first in every session's `tools/list`. */
export const declareIntentDefinition: Tool = {
  name: DECLARE_INTENT_TOOL,
  title: "Declare the user's request",
  description:
    "Call this once at the start of a task, and again when the user's request changes, with the " +
    "user's request in their own words. Tool calls are checked against it: calls that do not fit it " +
    'may be held for a person to approve.',
  inputSchema: {
    type: 'object',
    properties: {
      intent: { type: 'string', description: "The user's request, quoted or closely paraphrased." },
    },
    required: ['intent'],
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
};

/** Handles a call to {@link DECLARE_INTENT_TOOL}: records the intent in the session and its chain. */
export async function declareIntent(
  enforcer: Enforcer,
  session: Session,
  args: Record<string, unknown>,
): Promise<CallToolResult> {
  const intent = args['intent'];
  if (typeof intent !== 'string' || intent.trim() === '') {
    return {
      content: [{ type: 'text', text: 'declare_intent needs "intent": the user\'s request as text.' }],
      isError: true,
    };
  }
  let result: Awaited<ReturnType<Enforcer['declareIntent']>>;
  try {
    result = await enforcer.declareIntent(session, intent, 'declared');
  } catch {
    return {
      content: [
        {
          type: 'text',
          text: 'Call failed: the intent could not be recorded (reason: evidence_unavailable).',
        },
      ],
      isError: true,
    };
  }
  const text =
    result === 'kept_host_intent'
      ? "The application already stated the user's request for this session; it stays in force."
      : 'Intent recorded; later tool calls are checked against it.';
  return { content: [{ type: 'text', text }] };
}
