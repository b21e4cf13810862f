import { describe, expect, it } from 'vitest';
import { digest } from '../../../src/evidence/hash.js';
import type { Decision } from '../../../src/core/decision.js';
import type { PepInfo } from '../../../src/evidence/types.js';
import type { CallContext } from '../../../src/pipeline/types.js';
import { actionRecord, decisionRecord, intentRecord, outcomeRecord } from '../../../src/pep/records.js';
import { policyRecord } from '../../../src/policy/runtime/records.js';
import { SECRET_SHAPES } from '../../fixtures/secret-corpus.js';

const pep: PepInfo = { id: 'pep-1', kind: 'gateway', version: '0' };
const bundle = { digest: `sha256:${'c'.repeat(64)}`, name: 'sources', revision: 'r1' };
const secretOf = (id: string) => SECRET_SHAPES.find((s) => s.id === id)!.secret;
const GH = secretOf('github-classic-pat');
const STRIPE = secretOf('stripe-live');
const JWT = secretOf('jwt');
const AWS = secretOf('aws-access-key-id');
const DB = secretOf('postgres-url');

function context(args: Record<string, unknown>, toolName = 'everything__echo'): CallContext {
  return {
    identity: { verified: false, claims: {}, agentId: 'dev' },
    toolName,
    arguments: args,
    session: { id: 's-1', callCount: 1, tools: [], history: [] },
    now: Date.UTC(2025, 0, 1),
  };
}

function decision(): Decision {
  return {
    id: 'd-1',
    effect: 'escalate',
    mode: 'observe',
    enforced: false,
    reasons: ['semantic_escalated'],
    message: 'held',
    rules: [],
    stages: [],
    reservations: [],
    semantic: {
      verdict: 'escalate',
      confidence: 0.8,
      signals: [
        { name: 'secret_exposure', detail: `message = "${GH}" is not named in the intent`, score: 0.8 },
      ],
      rationale: `The call sends ${STRIPE} to an outside address.`,
      verifier: 'llm',
      latency_ms: 3,
      cache_hit: false,
      error: `judge said: Authorization: Bearer ${JWT}`,
    },
  };
}

describe('records keep no secret from free text', () => {
  it('masks the intent, the tool name, and what the verifier wrote', () => {
    const intent = intentRecord({ id: 's-1' }, pep, `deploy with key ${AWS} and ${GH}`, 'meta');
    const ctx = context({ message: 'hi' }, `tool_${GH}`);
    const record = decisionRecord(ctx, decision(), bundle, pep, 1, digest(ctx.arguments));
    const text = JSON.stringify([intent, record]);
    for (const secret of [AWS, GH, STRIPE, JWT]) expect(text).not.toContain(secret);
    expect(intent.chain_event?.intent).toBe('deploy with key [masked] and [masked]');
    expect(record.decision?.semantic?.rationale).toBe('The call sends [masked] to an outside address.');
  });

  it('masks error messages in action and outcome records', () => {
    const ctx = context({ message: 'hi' });
    const action = actionRecord(ctx, 'd-1', pep, digest(ctx.arguments), {
      forwarded: true,
      durationMs: 1,
      isError: true,
      error: {
        code: 'downstream_error',
        message: `connect ${`postgres://app:${DB}@db.internal/orders`} refused`,
      },
    });
    const outcome = outcomeRecord(ctx, 'd-1', pep, undefined, [
      { check: 'file written', passed: false, error: `cannot read ${STRIPE}` },
    ]);
    const text = JSON.stringify([action, outcome]);
    expect(text).not.toContain(DB);
    expect(text).not.toContain(STRIPE);
    expect(action.action?.error?.message).toBe('connect postgres://app:[masked]@db.internal/orders refused');
  });

  it('masks credentials in a bundle source URL and a refusal message', () => {
    const record = policyRecord(
      pep,
      {
        event: 'refused',
        from: 'source',
        source: `https://ci:${DB}@bundles.example.com/prod`,
        code: 'bad_signature',
        message: `fetched https://bundles.example.com/prod?token=${GH}`,
      },
      0,
    );
    const text = JSON.stringify(record);
    expect(text).not.toContain(DB);
    expect(text).not.toContain(GH);
    expect(record.policy_event?.source).toBe('https://ci:[masked]@bundles.example.com/prod');
  });

  it('records a __proto__ member of the arguments, and the digest of exactly those arguments', () => {
    const args = JSON.parse('{"message":"p","__proto__":{"path":"/etc/shadow"}}') as Record<string, unknown>;
    const ctx = context(args);
    const record = decisionRecord(ctx, decision(), bundle, pep, 1, digest(args));
    expect(JSON.stringify(record.request?.args)).toBe('{"message":"p","__proto__":{"path":"/etc/shadow"}}');
    expect(record.request?.args_digest).toBe(digest(JSON.parse(JSON.stringify(args))));
    expect(record.request?.args_digest).not.toBe(digest({ message: 'p' }));
  });
});
