import type { EvidenceRecord } from './types.js';

/** OCSF schema version the export follows. */
export const OCSF_VERSION = '1.8.0';

type OcsfEvent = Record<string, unknown>;

/**
 * security_control profile values per effect (OCSF action_id / disposition_id). Escalate has no
 * native action, so it is Other (99) "Escalated" with disposition Delayed (14): the call waits.
 */
const CONTROL = {
  allow: {
    action_id: 1,
    action: 'Allowed',
    disposition_id: 1,
    disposition: 'Allowed',
    severity_id: 1,
    severity: 'Informational',
  },
  deny: {
    action_id: 2,
    action: 'Denied',
    disposition_id: 2,
    disposition: 'Blocked',
    severity_id: 3,
    severity: 'Medium',
  },
  escalate: {
    action_id: 99,
    action: 'Escalated',
    disposition_id: 14,
    disposition: 'Delayed',
    severity_id: 2,
    severity: 'Low',
  },
} as const;

function metadata(record: EvidenceRecord): OcsfEvent {
  return {
    version: OCSF_VERSION,
    product: { name: 'mcpgov', vendor_name: 'mcpgov', version: record.pep.version },
    // metadata.uid is the record id, so re-ingesting the same export is idempotent in the SIEM.
    uid: record.id,
    correlation_uid: record.chain,
    log_name: record.pep.id,
    original_time: record.time,
    profiles: record.kind === 'decision' ? ['security_control'] : [],
  };
}

function integrity(record: EvidenceRecord): OcsfEvent {
  return { seq: record.seq, hash: record.hash, prev: record.prev };
}

function apiActivity(record: EvidenceRecord, operation: string, extra: OcsfEvent): OcsfEvent {
  return {
    class_uid: 6003,
    class_name: 'API Activity',
    category_uid: 6,
    category_name: 'Application Activity',
    activity_id: 99,
    activity_name: operation,
    type_uid: 600399,
    type_name: 'API Activity: Other',
    time: Date.parse(record.time),
    metadata: metadata(record),
    actor: {
      user: { uid: record.subject?.sub ?? record.subject?.agent ?? 'unknown', name: record.subject?.agent },
      app_name: record.subject?.client_id,
    },
    src_endpoint: { name: record.subject?.agent ?? record.subject?.sub ?? 'unknown' },
    ...extra,
  };
}

function finding(record: EvidenceRecord, title: string, desc: string, types: string[]): OcsfEvent {
  return {
    class_uid: 2004,
    class_name: 'Detection Finding',
    category_uid: 2,
    category_name: 'Findings',
    activity_id: 1,
    activity_name: 'Create',
    type_uid: 200401,
    type_name: 'Detection Finding: Create',
    time: Date.parse(record.time),
    severity_id: 4,
    severity: 'High',
    is_alert: true,
    finding_info: { uid: record.id, title, desc, types },
    metadata: metadata(record),
    unmapped: { mcpgov: integrity(record) },
  };
}

/** Maps one evidence record to OCSF events (none for kinds a SIEM has no use for). */
export function toOcsf(record: EvidenceRecord): OcsfEvent[] {
  const request = record.request;
  if (record.kind === 'decision' && record.decision && request) {
    const d = record.decision;
    return [
      apiActivity(record, 'tools/call', {
        ...CONTROL[d.effect],
        is_alert: d.effect !== 'allow',
        api: {
          operation: request.tool,
          service: { name: request.server ?? 'unknown' },
          request: { uid: d.id },
        },
        dst_endpoint: { svc_name: request.server },
        policy: { uid: d.bundle.digest, name: d.bundle.name, version: d.bundle.revision },
        authorizations: [{ decision: d.effect, policy: { uid: d.bundle.digest, name: d.bundle.name } }],
        message: d.reasons.length > 0 ? `${d.effect}: ${d.reasons.join(', ')}` : d.effect,
        unmapped: {
          mcpgov: {
            ...integrity(record),
            mode: d.mode,
            enforced: d.enforced,
            reasons: d.reasons,
            rules: d.rules,
            args_digest: request.args_digest,
            masked: request.masked,
            verified_caller: record.subject?.verified,
          },
        },
      }),
    ];
  }
  if (record.kind === 'action' && record.action) {
    const a = record.action;
    return [
      apiActivity(record, 'tools/call result', {
        severity_id: 1,
        severity: 'Informational',
        status_id: a.is_error ? 2 : 1,
        status: a.is_error ? 'Failure' : 'Success',
        duration: Math.round(a.duration_ms),
        api: { operation: a.tool, service: { name: a.server ?? 'unknown' }, request: { uid: a.decision_id } },
        message: a.error?.message,
        unmapped: {
          mcpgov: {
            ...integrity(record),
            forwarded: a.forwarded,
            result_bytes: a.result_bytes,
            result_digest: a.result_digest,
          },
        },
      }),
    ];
  }
  if (record.kind === 'outcome' && record.outcome && !record.outcome.verified) {
    const o = record.outcome;
    const failed = o.checks.filter((c) => !c.passed).map((c) => c.check + (c.error ? ` (${c.error})` : ''));
    return [
      finding(record, `Outcome check failed for ${o.tool}`, failed.join('; '), ['outcome_verification']),
    ];
  }
  if (record.kind === 'drift' && record.drift?.cause === 'definition_changed') {
    const d = record.drift;
    const against = d.reference === 'pin' ? 'pinned' : 'first seen';
    const desc = `${d.server ?? 'a server'} changed ${d.tool ?? 'a tool'}: definition ${d.active_digest} is not the ${against} ${d.expected_digest} (${d.action ?? 'blocked'}, since ${d.since})`;
    return [finding(record, 'Tool definition changed', desc, ['tool_definition_drift'])];
  }
  if (record.kind === 'drift') {
    const d = record.drift;
    const desc = !d
      ? 'an enforcement point runs a policy other than the approved one'
      : d.cause === 'not_reporting'
        ? `${d.pep} has not reported its policy status since ${d.since}`
        : `${d.pep} runs ${d.active_digest ?? 'no bundle'} instead of the approved ${d.expected_digest} since ${d.since}`;
    return [finding(record, 'Policy drift', desc, ['policy_drift'])];
  }
  if (record.kind === 'definition' && record.definition) {
    const d = record.definition;
    const found = d.findings.map((f) => `${f.field}: ${f.detail}`).join('; ');
    if (d.poisoned) {
      const desc = `${d.server} offers ${d.tool} with hidden instructions (${d.action}): ${found}`;
      return [finding(record, 'Poisoned tool definition', desc, ['tool_poisoning'])];
    }
    // Invisible characters alone were stripped and the tool kept: worth a look, not an alert.
    const desc = `${d.server} offers ${d.tool} with ${d.invisible_removed} invisible characters (removed)`;
    return [
      {
        ...finding(record, 'Invisible characters in a tool definition', desc, ['tool_poisoning']),
        severity_id: 2,
        severity: 'Low',
        is_alert: false,
      },
    ];
  }
  if (record.kind === 'policy' && record.policy_event?.event === 'refused') {
    const p = record.policy_event;
    return [finding(record, 'Policy bundle refused', `${p.code}: ${p.message}`, ['policy_verification'])];
  }
  if (record.kind === 'approval' && record.approval) {
    const a = record.approval;
    return [
      apiActivity(record, `approval/${a.event}`, {
        // The person deciding is the actor of a verdict; otherwise the agent whose call it is.
        actor: a.approver
          ? { user: { uid: a.approver.sub, name: a.approver.name }, app_name: a.approver.via }
          : { user: { uid: a.agent ?? 'unknown' } },
        api: { operation: `approval/${a.event}`, request: { uid: a.request } },
        severity_id: 1,
        severity: 'Informational',
        unmapped: { mcpgov: { ...integrity(record), approval: a } },
      }),
    ];
  }
  if (record.kind === 'waiver' && record.waiver) {
    const w = record.waiver;
    // A waiver used is a control set aside for one call: worth a look in the SIEM, not an alert.
    const used = w.event === 'used';
    return [
      apiActivity(record, `waiver/${w.event}`, {
        actor: w.by
          ? { user: { uid: w.by.sub, name: w.by.name }, app_name: w.by.via }
          : { user: { uid: w.agent } },
        api: { operation: `waiver/${w.event}`, request: { uid: w.waiver } },
        severity_id: used ? 2 : 1,
        severity: used ? 'Low' : 'Informational',
        unmapped: { mcpgov: { ...integrity(record), waiver: w } },
      }),
    ];
  }
  if (record.kind === 'chain' && record.chain_event) {
    return [
      apiActivity(record, `session/${record.chain_event.event}`, {
        severity_id: 1,
        severity: 'Informational',
        unmapped: { mcpgov: integrity(record) },
      }),
    ];
  }
  return [];
}

/** A Detection Finding for an evidence log that failed verification while being exported. */
export function verificationFinding(
  reason: string,
  where: string,
  pep: EvidenceRecord['pep'] | undefined,
): OcsfEvent {
  const now = new Date().toISOString();
  const pseudo = {
    id: `verification:${where}`,
    chain: 'evidence-log',
    time: now,
    pep: pep ?? { id: 'unknown', kind: 'cli', version: '0' },
    kind: 'drift',
    seq: -1,
    hash: '',
    prev: null,
  } as unknown as EvidenceRecord;
  return finding(pseudo, 'Evidence log failed verification', `${where}: ${reason}`, ['evidence_integrity']);
}
