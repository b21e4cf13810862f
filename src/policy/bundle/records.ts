import { EVIDENCE_VERSION, type RecordBody } from '../../evidence/types.js';
import { randomUUIDv7 } from '../../util/uuid.js';

/** The enforcement point writing a record (the shape of `RecordBody['pep']`). */
export type PepRef = RecordBody['pep'];

/** The chain that groups an enforcement point's policy lifecycle records in its log. */
export const POLICY_CHAIN = 'policy';

/** A bundle activated or refused: which version was in force from when is provable from these. */
export function policyRecord(
  pep: PepRef,
  event: NonNullable<RecordBody['policy_event']>,
  now: number,
): RecordBody {
  return {
    v: EVIDENCE_VERSION,
    id: randomUUIDv7(),
    kind: 'policy',
    chain: POLICY_CHAIN,
    time: new Date(now).toISOString(),
    pep,
    policy_event: event,
  };
}

/** An enforcement point found running an unapproved policy, or no longer reporting. */
export function driftRecord(pep: PepRef, drift: NonNullable<RecordBody['drift']>, now: number): RecordBody {
  return {
    v: EVIDENCE_VERSION,
    id: randomUUIDv7(),
    kind: 'drift',
    chain: POLICY_CHAIN,
    time: new Date(now).toISOString(),
    pep,
    drift,
  };
}
