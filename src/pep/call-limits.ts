import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { LimitsSchema, type LimitsConfig } from '../config/schema.js';
import type { StageResult } from '../core/decision.js';
import { checkJson } from '../evidence/json-limits.js';
import { TOO_MANY_REQUESTS } from '../transport/jsonrpc-lines.js';

/** What the enforcer allows one call (README: Limits). */
export interface CallLimits {
  argumentBytes: number;
  argumentDepth: number;
  resultBytes: number;
  callsPerSession: number;
  callsPerAgent: number;
}

/** The enforcer's limits from the config's `limits:`. */
export function callLimits(config: LimitsConfig): CallLimits {
  return {
    argumentBytes: config.max_argument_bytes,
    argumentDepth: config.max_argument_depth,
    resultBytes: config.max_result_bytes,
    callsPerSession: config.max_concurrent_calls_per_session,
    callsPerAgent: config.max_concurrent_calls_per_agent,
  };
}

/** The limits a config without `limits:` gets. */
export const DEFAULT_CALL_LIMITS: CallLimits = callLimits(LimitsSchema.parse({}));

/** A refusal of a call's arguments, as the decision records it. */
export type ArgumentsRefusal = Extract<StageResult, { kind: 'deny' }>;

/**
 * Checks a call's arguments before anything else reads them (the pipeline, masking, hashing all walk
 * them recursively). A refusal is enforced in every mode: arguments past a limit cannot be decided
 * and recorded safely, so observing them would mean forwarding what nothing checked.
 */
export function checkArguments(args: unknown, limits: CallLimits): ArgumentsRefusal | undefined {
  const check = checkJson(args, { maxBytes: limits.argumentBytes, maxDepth: limits.argumentDepth });
  const deny = (code: ArgumentsRefusal['code'], message: string): ArgumentsRefusal => ({
    kind: 'deny',
    code,
    message,
    mode: 'enforce',
  });
  switch (check.kind) {
    case 'ok':
      return undefined;
    case 'too_large':
      return deny(
        'arguments_too_large',
        `the arguments are larger than the ${limits.argumentBytes}-byte limit (limits.max_argument_bytes)`,
      );
    case 'too_deep':
      return deny(
        'arguments_too_deep',
        `the arguments nest deeper than ${limits.argumentDepth} levels (limits.max_argument_depth)`,
      );
    case 'malformed':
      return deny('arguments_malformed', 'a string in the arguments is not well-formed Unicode');
  }
}

/**
 * Counts tool calls in flight, per session and per agent. A call past either limit is refused with a
 * JSON-RPC error before it is decided: it takes no quota, writes no record and changes no session
 * state, so a flood of calls cannot grow the evidence log; the caller may send it again later.
 */
export class CallGate {
  private readonly sessions = new Map<string, number>();
  private readonly agents = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: Pick<CallLimits, 'callsPerSession' | 'callsPerAgent'>) {}

  /** Calls in flight, over every session and agent. */
  get inFlight(): number {
    return this.total;
  }

  /** Takes a slot for one call of the session's agent; returns the function that gives it back. */
  enter(sessionId: string, agentId: string | undefined): () => void {
    const agent = agentId ?? '';
    const inSession = this.sessions.get(sessionId) ?? 0;
    const ofAgent = this.agents.get(agent) ?? 0;
    if (inSession >= this.limits.callsPerSession) throw busy('session', this.limits.callsPerSession);
    if (ofAgent >= this.limits.callsPerAgent) throw busy('agent', this.limits.callsPerAgent);
    this.sessions.set(sessionId, inSession + 1);
    this.agents.set(agent, ofAgent + 1);
    this.total += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      decrement(this.sessions, sessionId);
      decrement(this.agents, agent);
    };
  }
}

function busy(scope: 'session' | 'agent', limit: number): McpError {
  const key = scope === 'session' ? 'max_concurrent_calls_per_session' : 'max_concurrent_calls_per_agent';
  return new McpError(
    TOO_MANY_REQUESTS,
    `too many calls in flight: the ${scope} already has ${limit} (limits.${key}); retry when one has finished`,
    { reason: 'too_many_calls', scope, limit },
  );
}

function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left > 0) counts.set(key, left);
  else counts.delete(key);
}
