import type { EvidenceRecord, RecordBody } from './types.js';

/** OCSF schema version the export follows. */
export const OCSF_VERSION = '1.8.0';

type OcsfEvent = Record<string, unknown>;

type DecisionInfo = NonNullable<RecordBody['decision']>;
type ToolHints = NonNullable<RecordBody['request']>['tool_hints'];

/**
 * The security_control profile's outcome of a decision (action_id, disposition_id), its severity, and
 * the status of the call as the event describes it (status_id, base event: 1 Success, 2 Failure,
 * 99 Other). Values are OCSF 1.x's (test/fixtures/ocsf-1.x-schema.json lists them):
 * - allow: Allowed (1) / Allowed (1), or Approved (8) when a person's grant let the call through;
 * - enforced deny: Denied (2) / Blocked (2), status Failure with the reason code;
 * - enforced escalate: no native action, so Other (99) "Escalated" with Delayed (14): the call waits
 *   for a person, its status Other ("Pending");
 * - observe mode (deny or escalate not enforced, the call forwarded): Observed (3), "neither allowed
 *   nor denied", with Detected (15, "a policy violation was detected without further action") for a
 *   deny and Logged (17) for an escalate; status Success, as the call went ahead.
 */
function control(d: DecisionInfo): OcsfEvent {
  if (d.effect === 'allow') {
    const approved = d.approval?.grant_used === true;
    return {
      action_id: 1,
      action: 'Allowed',
      disposition_id: approved ? 8 : 1,
      disposition: approved ? 'Approved' : 'Allowed',
      severity_id: 1,
      severity: 'Informational',
      status_id: 1,
      status: 'Success',
    };
  }
  const deny = d.effect === 'deny';
  const severity = deny ? { severity_id: 3, severity: 'Medium' } : { severity_id: 2, severity: 'Low' };
  if (!d.enforced) {
    return {
      action_id: 3,
      action: 'Observed',
      disposition_id: deny ? 15 : 17,
      disposition: deny ? 'Detected' : 'Logged',
      ...severity,
      status_id: 1,
      status: 'Success',
    };
  }
  const code = d.reasons[0];
  return deny
    ? {
        action_id: 2,
        action: 'Denied',
        disposition_id: 2,
        disposition: 'Blocked',
        ...severity,
        status_id: 2,
        status: 'Failure',
        status_code: code,
      }
    : {
        action_id: 99,
        action: 'Escalated',
        disposition_id: 14,
        disposition: 'Delayed',
        ...severity,
        status_id: 99,
        status: 'Pending',
        status_code: code,
      };
}

/**
 * API Activity's activity for a tool call, from the tool's MCP annotations where they say it:
 * read-only is a Read (2); destructive is an Update (3), MCP's own word ("may perform destructive
 * updates"), since whether it deleted anything is more than the hint says. Otherwise Other (99),
 * named after the operation. Annotations are the server's hints: they class an event, nothing more.
 */
function toolActivity(hints: ToolHints, operation: string): { activity_id: number; activity_name: string } {
  if (hints?.read_only === true) return { activity_id: 2, activity_name: 'Read' };
  if (hints?.destructive === true) return { activity_id: 3, activity_name: 'Update' };
  return { activity_id: 99, activity_name: operation };
}

const ACTIVITY_TYPE_NAMES: Record<number, string> = {
  1: 'Create',
  2: 'Read',
  3: 'Update',
  4: 'Delete',
  99: 'Other',
};

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

function apiActivity(
  record: EvidenceRecord,
  operation: string,
  extra: OcsfEvent,
  activity = { activity_id: 99, activity_name: operation },
): OcsfEvent {
  return {
    class_uid: 6003,
    class_name: 'API Activity',
    category_uid: 6,
    category_name: 'Application Activity',
    ...activity,
    type_uid: 600300 + activity.activity_id,
    type_name: `API Activity: ${ACTIVITY_TYPE_NAMES[activity.activity_id] ?? 'Other'}`,
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
      apiActivity(
        record,
        'tools/call',
        {
          ...control(d),
          is_alert: d.effect !== 'allow',
          api: {
            operation: request.tool,
            service: { name: request.server ?? 'unknown' },
            request: { uid: d.id },
          },
          // A network endpoint names at least one of its members: none for a tool no server offers.
          ...(request.server === undefined ? {} : { dst_endpoint: { svc_name: request.server } }),
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
              trace_id: d.trace_id,
            },
          },
        },
        toolActivity(request.tool_hints, 'tools/call'),
      ),
    ];
  }
  if (record.kind === 'action' && record.action) {
    const a = record.action;
    // The actor comes from the record's subject (written on action records since they name it).
    return [
      apiActivity(
        record,
        'tools/call result',
        {
          severity_id: 1,
          severity: 'Informational',
          status_id: a.is_error ? 2 : 1,
          status: a.is_error ? 'Failure' : 'Success',
          status_code: a.error?.code,
          duration: Math.round(a.duration_ms),
          api: {
            operation: a.tool,
            service: { name: a.server ?? 'unknown' },
            request: { uid: a.decision_id },
          },
          ...(a.server === undefined ? {} : { dst_endpoint: { svc_name: a.server } }),
          message: a.error?.message,
          unmapped: {
            mcpgov: {
              ...integrity(record),
              forwarded: a.forwarded,
              result_bytes: a.result_bytes,
              result_digest: a.result_digest,
            },
          },
        },
        toolActivity(a.tool_hints, 'tools/call result'),
      ),
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
    const operation = `session/${record.chain_event.event}`;
    return [
      apiActivity(record, operation, {
        // API Activity requires `api`: the session's own event, under the session's id.
        api: { operation, request: { uid: record.chain } },
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
