import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Mode } from '../core/effect.js';
import type { Decision, StageRun } from '../core/decision.js';
import { hidesTool } from '../core/reason-codes.js';
import { digest } from '../evidence/hash.js';
import type { EvidenceSink, PepInfo } from '../evidence/types.js';
import { decide } from '../pipeline/evaluate.js';
import type { CallContext } from '../pipeline/types.js';
import type { PolicySet } from '../policy/policy-set.js';
import { ServerUnavailableError } from '../transport/errors.js';
import type { Logger } from '../util/log.js';
import type { Session } from './enforcer.js';
import { actionRecord, decisionRecord, resultFacts } from './records.js';

/** A `resources/read` or `prompts/get` to govern: what is asked of which server. */
export interface ReadTarget {
  method: 'resources/read' | 'prompts/get';
  server: string;
  /** The resource's URI, or the prompt's exposed name (`<server>__<prompt>`). */
  name: string;
  /** The request's params as the client sent them (recorded masked, like a call's arguments). */
  params: Record<string, unknown>;
  /** Whether the session's agent may use at least one of the server's tools. */
  serverVisible: boolean;
}

/** What governing a read needs from its enforcement point. */
export interface ReadEnv {
  policy: PolicySet;
  evidence: EvidenceSink;
  pep: PepInfo;
  defaultMode: Mode;
  log: Logger;
  now: number;
}

/**
 * Governs one `resources/read` or `prompts/get` like a tool call: a decision (the agent must be
 * registered; the server must be one whose tools it may use; a resource entry's data classes must be
 * within its clearance), a durable decision record before the server is asked, then an action record.
 * A refusal is a JSON-RPC error (these methods have no error result): one naming the decision, or,
 * for what the agent may not see at all, the server's own "not found".
 */
export async function governRead<T>(
  env: ReadEnv,
  session: Session,
  target: ReadTarget,
  forward: () => Promise<T>,
): Promise<T> {
  const { policy } = env;
  const agentId = session.identity.agentId;
  const agent = agentId === undefined ? undefined : policy.agents.get(agentId);
  const entry =
    target.method === 'resources/read' ? policy.tools.matchResource(target.name, target.server) : undefined;
  const runs: StageRun[] = [];
  // Who asks, first: an unknown agent is cleared for nothing.
  runs.push({
    stage: 'agent',
    result: agent
      ? { kind: 'pass' }
      : { kind: 'deny', code: 'unknown_agent', message: 'the caller maps to no registered agent' },
  });
  // What the agent may not see is refused whatever the mode, as a hidden tool is.
  runs.push({
    stage: 'server',
    result: target.serverVisible
      ? { kind: 'pass' }
      : {
          kind: 'deny',
          code: 'resource_not_visible',
          message: `the agent may use none of ${target.server}'s tools`,
          mode: 'enforce',
        },
  });
  const clearance = new Set(agent?.clearance ?? []);
  const uncleared = (entry?.data_classes ?? []).filter((c) => !clearance.has(c));
  runs.push({
    stage: 'data_classes',
    result:
      uncleared.length === 0
        ? { kind: 'pass' }
        : {
            kind: 'deny',
            code: 'resource_not_cleared',
            message: `the resource handles data the agent is not cleared for: ${uncleared.join(', ')}`,
          },
  });
  const decision = decide(runs, entry?.mode, env.defaultMode);

  const ctx: CallContext = {
    identity: session.identity,
    agent,
    toolName: target.name,
    arguments: target.params,
    session: { ...session.state, tools: [...session.state.tools], history: [] },
    now: env.now,
  };
  const argsDigest = digest(target.params);
  const where = { method: target.method, server: target.server };
  try {
    await env.evidence.append(
      decisionRecord(ctx, decision, policy.bundle, env.pep, 0, argsDigest, undefined, undefined, where),
    );
  } catch (err) {
    env.log('error', 'evidence record not written; refusing the request', { error: (err as Error).message });
    throw new McpError(
      ErrorCode.InternalError,
      `evidence_unavailable: the decision record could not be written`,
    );
  }
  if (decision.effect !== 'allow' && decision.enforced) throw refusal(target, decision);

  const started = performance.now();
  let result: T | undefined;
  let failure: unknown;
  try {
    result = await forward();
  } catch (err) {
    failure = err;
  }
  const unavailable = failure instanceof ServerUnavailableError;
  const facts = {
    forwarded: !unavailable,
    durationMs: performance.now() - started,
    isError: failure !== undefined,
    result: result === undefined ? undefined : resultFacts(result),
    error:
      failure === undefined
        ? undefined
        : {
            code: unavailable ? 'server_unavailable' : 'downstream_error',
            message: (failure as Error).message,
          },
  };
  void env.evidence
    .append(actionRecord(ctx, decision.id, env.pep, argsDigest, facts, target.server), { durable: false })
    .catch((err: Error) => env.log('error', 'action record not written', { error: err.message }));
  if (failure !== undefined) throw failure;
  return result as T;
}

/** The JSON-RPC error a refused read is answered with. */
function refusal(target: ReadTarget, decision: Decision): McpError {
  const code = decision.reasons[0] ?? 'internal_error';
  if (hidesTool(code)) {
    const what = target.method === 'resources/read' ? 'Resource' : 'Prompt';
    return new McpError(ErrorCode.InvalidParams, `${what} ${target.name} not found`);
  }
  return new McpError(
    ErrorCode.InvalidRequest,
    `denied (${code}): ${decision.message}; decision ${decision.id}`,
    { reason: code, decision: decision.id },
  );
}
