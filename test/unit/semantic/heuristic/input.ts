import type { HistoryEntry, SemanticInput } from '../../../../src/semantic/types.js';

/** A semantic input with only what a test cares about; the intent counts as declared by the case. */
export function input(over: {
  intent?: string;
  tool: string;
  args?: Record<string, unknown>;
  history?: HistoryEntry[];
  description?: string;
  inputSchema?: unknown;
  risk_tier?: SemanticInput['tool']['risk_tier'];
  intentSource?: SemanticInput['intentSource'];
}): SemanticInput {
  return {
    intent: over.intent,
    intentSource: over.intentSource ?? (over.intent === undefined ? 'none' : 'case'),
    tool: {
      name: over.tool,
      description: over.description,
      inputSchema: over.inputSchema,
      risk_tier: over.risk_tier,
    },
    arguments: over.args ?? {},
    history: over.history ?? [],
  };
}
