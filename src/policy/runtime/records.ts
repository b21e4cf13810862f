import { maskText } from '../../evidence/mask.js';
import { recordBase, type PepInfo, type RecordBody } from '../../evidence/types.js';

/** The chain that groups an enforcement point's policy lifecycle records in its log. */
export const POLICY_CHAIN = 'policy';

/** A bundle activated or refused: which version was in force from when is provable from these. */
export function policyRecord(
  pep: PepInfo,
  event: NonNullable<RecordBody['policy_event']>,
  now: number,
): RecordBody {
  // A bundle source may be a URL with credentials, and a refusal's message may quote what was fetched.
  const masked = {
    ...event,
    source: maskText(event.source),
    ...(event.message === undefined ? {} : { message: maskText(event.message) }),
  };
  return { ...recordBase('policy', POLICY_CHAIN, pep, new Date(now)), policy_event: masked };
}

/** An enforcement point found running an unapproved policy, or no longer reporting. */
export function driftRecord(pep: PepInfo, drift: NonNullable<RecordBody['drift']>, now: number): RecordBody {
  return { ...recordBase('drift', POLICY_CHAIN, pep, new Date(now)), drift };
}
