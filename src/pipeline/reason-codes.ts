/**
 * Every stable reason code mcpgov emits, in one place. Codes appear in decision records, in the
 * one-line answer an agent sees, and in the README's table (kept in sync by a unit test).
 * A code never changes meaning once released; new situations get new codes.
 */
export const REASON_CODES = {
  // identity
  unauthenticated: 'no verified token and no default agent is configured',
  invalid_token: 'the bearer token failed verification',
  unknown_agent: 'the caller maps to no agent in the agent registry',
  // tool resolution
  unknown_tool: 'no downstream server exposes a tool with this name',
  unregistered_tool: 'the tool exists downstream but has no entry in the tool registry',
  definition_mismatch: "the tool's live definition differs from its pinned digest",
  tool_not_in_groups: "the tool is in none of the agent's tool groups",
  missing_scope: 'the agent lacks a scope the tool requires',
  data_class_not_cleared: 'the tool handles a data class the agent is not cleared for',
  // caps
  rate_limited: "the agent exceeded the tool's calls-per-minute cap",
  spend_cap_exceeded: "the call would exceed the agent's daily spend cap",
  // rules and approval
  rule_error: 'a policy rule failed while evaluating; failing closed',
  approval_required: 'the tool requires human approval for every call',
  semantic_unavailable: 'the tool requires a semantic check and no verifier is configured',
  semantic_escalated: 'the semantic check found the call does not clearly fit the intent; held for a person',
  semantic_denied: 'the semantic check found the call against the intent or unsafe',
  semantic_failed: "the semantic check failed or timed out; the tool's semantic_fail mode decided",
  // platform
  internal_error: 'an internal fault in a pipeline stage; failing closed',
  evidence_unavailable: 'the decision record could not be written, so the call was not forwarded',
  server_unavailable: 'the downstream server is down or restarting',
  downstream_error: 'the downstream server failed to answer the call',
  // evidence of a session (not a decision)
  intent_untrusted: 'a `_meta` intent from a caller not configured as a host; recorded and ignored',
} as const;

/** A built-in reason code, or a policy rule's own `reason` (also snake_case). */
export type ReasonCode = keyof typeof REASON_CODES | (string & {});
