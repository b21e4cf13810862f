/** What the table says of one reason code. */
interface ReasonCodeInfo {
  /** One line, as the README's table shows it. */
  meaning: string;
  /**
   * A deny with this code means the agent may never call the tool: the tool is left out of its
   * `tools/list`, and a call is answered exactly as a call to a tool that does not exist.
   */
  hidden?: true;
}

/**
 * Every stable reason code mcpgov emits, in one place. Codes appear in decision records, in the
 * one-line answer an agent sees, and in the README's table (kept in sync by a unit test).
 * A code never changes meaning once released; new situations get new codes.
 */
export const REASON_CODES = {
  // identity
  unauthenticated: { meaning: 'no verified token and no default agent is configured' },
  invalid_token: { meaning: 'the bearer token failed verification' },
  insufficient_scope: { meaning: 'the token lacks a scope in identity.required_scopes (HTTP 403)' },
  keys_unavailable: {
    meaning: 'the keys that verify tokens could not be fetched (HTTP 503); never a fallback',
  },
  unknown_agent: { meaning: 'the caller maps to no agent in the agent registry' },
  // tool resolution
  unknown_tool: { meaning: 'no downstream server exposes a tool with this name', hidden: true },
  unregistered_tool: {
    meaning: 'the tool exists downstream but has no entry in the tool registry',
    hidden: true,
  },
  definition_mismatch: { meaning: "the tool's live definition differs from its pinned digest", hidden: true },
  definition_changed: {
    meaning: "the unpinned tool's definition changed since the enforcement point first saw it",
    hidden: true,
  },
  poisoned_description: {
    meaning: "the tool's definition carries hidden instructions (tool poisoning)",
    hidden: true,
  },
  tool_not_in_groups: { meaning: "the tool is in none of the agent's tool groups", hidden: true },
  missing_scope: { meaning: 'the agent lacks a scope the tool requires', hidden: true },
  data_class_not_cleared: {
    meaning: 'the tool handles a data class the agent is not cleared for',
    hidden: true,
  },
  resource_not_visible: {
    meaning: 'the resource or prompt belongs to a server none of whose tools the agent may use',
    hidden: true,
  },
  resource_not_cleared: { meaning: 'the resource handles a data class the agent is not cleared for' },
  // caps
  rate_limited: { meaning: "the agent exceeded the tool's calls-per-minute cap" },
  spend_cap_exceeded: { meaning: "the call would exceed the agent's daily spend cap" },
  counter_unavailable: {
    meaning:
      'the shared rate and spend counters (Redis) could not be reached; failing closed unless the tool is fail_open',
  },
  // rules and approval
  rule_error: { meaning: 'a policy rule failed while evaluating; failing closed' },
  approval_required: { meaning: 'the tool requires human approval for every call' },
  flagged_for_approval: {
    meaning: 'an earlier check flagged the call and the tool requires human approval for flagged calls',
  },
  approval_pending: {
    meaning:
      'held for a person: the request id is in the answer; once approved, the same call goes through once',
  },
  approval_denied: { meaning: "an approver denied the call's request; the answer carries their reason" },
  approval_timeout: { meaning: 'nobody decided the request before it expired' },
  approval_withdrawn: { meaning: 'the client cancelled the held call; its request was withdrawn' },
  approval_interrupted: {
    meaning:
      'the held call was cut short by a shutdown; its request stays decidable, and once approved the same call goes through once',
  },
  approval_unavailable: { meaning: 'the approvals store could not be reached; failing closed' },
  approval_granted: { meaning: "a person approved this exact call: its request's single-use grant was used" },
  waived: { meaning: 'a waiver let the call through despite a deny or escalate; the decision names it' },
  semantic_unavailable: { meaning: 'the tool requires a semantic check and no verifier is configured' },
  semantic_escalated: {
    meaning: 'the semantic check found the call does not clearly fit the intent; held for a person',
  },
  semantic_denied: { meaning: 'the semantic check found the call against the intent or unsafe' },
  semantic_failed: {
    meaning: "the semantic check failed or timed out; the tool's semantic_fail mode decided",
  },
  // limits (README: Limits); every mode refuses these
  arguments_too_large: { meaning: "the call's arguments exceed limits.max_argument_bytes" },
  arguments_too_deep: { meaning: "the call's arguments nest deeper than limits.max_argument_depth" },
  arguments_malformed: {
    meaning: "a string in the call's arguments is not well-formed Unicode (a lone surrogate)",
  },
  too_many_calls: {
    meaning: 'the session or agent has its limit of calls in flight (JSON-RPC error -32029, not recorded)',
  },
  too_many_sessions: {
    meaning: 'the caller or the gateway has its limit of open sessions (HTTP 429 or 503, not recorded)',
  },
  // platform
  internal_error: { meaning: 'an internal fault in a pipeline stage; failing closed' },
  evidence_unavailable: {
    meaning: 'the decision record could not be written, so the call was not forwarded',
  },
  server_unavailable: { meaning: 'the downstream server is down or restarting' },
  downstream_error: { meaning: 'the downstream server failed to answer the call' },
  result_too_large: { meaning: 'the downstream result exceeded limits.max_result_bytes; it was withheld' },
  malformed_result: { meaning: 'the downstream result is not a valid CallToolResult; it was withheld' },
  // evidence of a session (not a decision)
  intent_untrusted: {
    meaning: 'a `_meta` intent from a caller not configured as a host; recorded and ignored',
  },
} as const satisfies Record<string, ReasonCodeInfo>;

/** A reason code mcpgov itself emits. */
export type ReasonCode = keyof typeof REASON_CODES;

/** A policy rule's own `reason` (snake_case, chosen by the policy's author): never one of ours. */
export type RuleReason = string & { readonly kind: 'rule_reason' };

/** Why a decision went as it did: one of our codes, or a rule's own. */
export type Reason = ReasonCode | RuleReason;

/** Whether a deny with this reason hides the tool from the agent (see `ReasonCodeInfo.hidden`). */
export function hidesTool(reason: Reason): boolean {
  return Object.hasOwn(REASON_CODES, reason) && 'hidden' in REASON_CODES[reason as ReasonCode];
}
