import { EVIDENCE_VERSION, type RecordBody } from '../evidence/types.js';
import { canonicalJson, sha256Hex } from '../evidence/hash.js';
import { maskArguments } from '../evidence/mask.js';
import type { BundleRef } from '../policy/policy-set.js';
import type { CallContext, Decision, Identity } from '../pipeline/types.js';
import { randomUUIDv7 } from '../util/uuid.js';

/** The enforcement point writing the records. */
export interface PepInfo {
  id: string;
  kind: 'gateway' | 'sidecar' | 'cli';
  version: string;
}

function subjectOf(identity: Identity): RecordBody['subject'] {
  return {
    verified: identity.verified,
    agent: identity.agentId,
    iss: identity.iss,
    sub: identity.sub,
    spiffe_id: identity.spiffe_id,
    client_id: identity.client_id,
    scopes: identity.scopes,
    token_jti_sha256: identity.token_jti_sha256,
  };
}

/** A session's chain opening or closing; the open record names who the session belongs to. */
export function chainRecord(
  session: { id: string; callCount: number },
  identity: Identity,
  pep: PepInfo,
  event: 'open' | 'close',
): RecordBody {
  return {
    v: EVIDENCE_VERSION,
    id: randomUUIDv7(),
    kind: 'chain',
    chain: session.id,
    time: new Date().toISOString(),
    pep,
    subject: event === 'open' ? subjectOf(identity) : undefined,
    chain_event: event === 'open' ? { event } : { event, calls: session.callCount },
  };
}

/** The outcome record of a forwarded call whose tool declares an outcome check. */
export function outcomeRecord(
  ctx: CallContext,
  decisionId: string,
  pep: PepInfo,
  resultDigest: string | undefined,
  checks: { check: string; passed: boolean; error?: string }[],
): RecordBody {
  return {
    v: EVIDENCE_VERSION,
    id: randomUUIDv7(),
    kind: 'outcome',
    chain: ctx.session.id,
    time: new Date().toISOString(),
    pep,
    outcome: {
      decision_id: decisionId,
      tool: ctx.toolName,
      result_digest: resultDigest,
      verified: checks.every((c) => c.passed),
      checks,
    },
  };
}

/** The decision record: who asked for what, what was decided and under which policy. */
export function decisionRecord(
  ctx: CallContext,
  decision: Decision,
  bundle: BundleRef,
  pep: PepInfo,
  evalUs: number,
  argsDigest: string,
): RecordBody {
  const masked = maskArguments(ctx.arguments);
  return {
    v: EVIDENCE_VERSION,
    id: decision.id,
    kind: 'decision',
    chain: ctx.session.id,
    time: new Date(ctx.now).toISOString(),
    pep,
    subject: subjectOf(ctx.identity),
    request: {
      method: 'tools/call',
      server: ctx.liveTool?.server,
      tool: ctx.toolName,
      args_digest: argsDigest,
      args: masked.args,
      masked: masked.masked,
      definition_digest: ctx.liveTool?.digest,
      session: { id: ctx.session.id, call_count: ctx.session.callCount, intent: ctx.session.intent },
    },
    decision: {
      id: decision.id,
      effect: decision.effect,
      mode: decision.mode,
      enforced: decision.enforced,
      reasons: decision.reasons,
      rules: decision.rules,
      stages: decision.stages.map(({ stage, result }) => ({
        stage,
        kind: result.kind,
        code: 'code' in result ? result.code : undefined,
      })),
      bundle,
      eval_us: evalUs,
    },
  };
}

/** What happened when a call was forwarded (or could not be). */
export interface ActionFacts {
  forwarded: boolean;
  durationMs: number;
  isError: boolean;
  /** Size and digest of the result's RFC 8785 form, when there is a result. */
  result?: { bytes: number; digest: string };
  error?: { code: string; message: string };
}

/** Size and `sha256:` digest of a result's RFC 8785 form, from one serialization. */
export function resultFacts(result: unknown): { bytes: number; digest: string } {
  const canonical = canonicalJson(result);
  return { bytes: Buffer.byteLength(canonical), digest: `sha256:${sha256Hex(canonical)}` };
}

/** The action record that follows a forwarded call's decision record. */
export function actionRecord(
  ctx: CallContext,
  decisionId: string,
  pep: PepInfo,
  argsDigest: string,
  facts: ActionFacts,
): RecordBody {
  return {
    v: EVIDENCE_VERSION,
    id: randomUUIDv7(),
    kind: 'action',
    chain: ctx.session.id,
    time: new Date().toISOString(),
    pep,
    action: {
      decision_id: decisionId,
      tool: ctx.toolName,
      server: ctx.liveTool?.server,
      args_digest: argsDigest,
      forwarded: facts.forwarded,
      duration_ms: facts.durationMs,
      is_error: facts.isError,
      result_bytes: facts.result?.bytes ?? 0,
      result_digest: facts.result?.digest,
      error: facts.error,
    },
  };
}
