import { maskText } from '../evidence/mask.js';
import { recordBase, type PepInfo, type RecordBody } from '../evidence/types.js';
import type { Approver, ApprovalRequest, Waiver } from './types.js';

/** The chain every approval and waiver record goes in: requests outlive the sessions that made them. */
export const APPROVALS_CHAIN = 'approvals';

type ApprovalEvent = NonNullable<RecordBody['approval']>['event'];
type WaiverEvent = NonNullable<RecordBody['waiver']>['event'];

function approverInfo(a: Approver): NonNullable<NonNullable<RecordBody['approval']>['approver']> {
  return {
    acr: a.acr,
    amr: a.amr,
    auth_time: a.auth_time,
    iss: a.iss,
    name: a.name,
    sub: a.sub,
    via: a.via,
  };
}

/** One event in a request's life, as evidence (free text masked like every other record's). */
export function approvalRecord(
  pep: PepInfo,
  request: ApprovalRequest,
  event: ApprovalEvent,
  time: Date,
  usedBy?: string,
): RecordBody {
  const verdict = event === 'decided' ? request.verdict : undefined;
  return {
    ...recordBase('approval', APPROVALS_CHAIN, pep, time),
    approval: {
      agent: request.binding.agent,
      approver: verdict && approverInfo(verdict.approver),
      args_digest: request.binding.args_digest,
      bundle_digest: request.binding.bundle_digest,
      decision_id: request.decision_id,
      event,
      expires_at: event === 'created' ? request.expires_at : undefined,
      mode: request.mode,
      reason: verdict && maskText(verdict.reason),
      request: request.id,
      tier: request.tier,
      time_to_decision_ms: verdict && Math.max(0, Date.parse(verdict.at) - Date.parse(request.created_at)),
      tool: maskText(request.binding.tool),
      used_by: usedBy,
      verdict: verdict?.verdict,
    },
  };
}

/** One event in a waiver's life, as evidence. */
export function waiverRecord(
  pep: PepInfo,
  waiver: Waiver,
  event: WaiverEvent,
  time: Date,
  use?: { decisionId: string; waived: 'deny' | 'escalate' },
): RecordBody {
  const by = event === 'created' ? waiver.by : event === 'revoked' ? waiver.revoked?.by : undefined;
  const reason =
    event === 'created' ? waiver.reason : event === 'revoked' ? waiver.revoked?.reason : undefined;
  return {
    ...recordBase('waiver', APPROVALS_CHAIN, pep, time),
    waiver: {
      agent: waiver.agent,
      by: by && approverInfo(by),
      compensating: event === 'created' ? maskText(waiver.compensating) : undefined,
      decision_id: use?.decisionId,
      event,
      reason: reason === undefined ? undefined : maskText(reason),
      tool: maskText(waiver.tool),
      until: waiver.until,
      waived_effect: use?.waived,
      waiver: waiver.id,
    },
  };
}
