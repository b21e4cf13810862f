import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { toOcsf, verificationFinding } from '../../src/evidence/export-ocsf.js';
import { recordBase, type EvidenceRecord, type RecordBody } from '../../src/evidence/types.js';
import { definitionDriftRecord, definitionRecord } from '../../src/pep/records.js';
import { approver } from '../helpers/approvals.js';
import { CLI, REFERENCE_SERVERS, REPO } from '../helpers/fixture.js';
import { callTool, runGateway, type RunningGateway } from '../helpers/gateway-harness.js';
import { META_SERVER } from '../helpers/meta-server.js';

const run = promisify(execFile);
type Event = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** OCSF 1.x's requirements for the classes mcpgov exports (see the fixture's `$comment`). */
interface OcsfSchema {
  version: string;
  base_event: { required: string[]; enums: Record<string, Record<string, string>> };
  classes: Record<
    string,
    {
      category_uid: number;
      required: string[];
      native?: string[];
      enums: Record<string, Record<string, string>>;
    }
  >;
  profiles: { security_control: { attributes: string[]; enums: Record<string, Record<string, string>> } };
  objects: Record<
    string,
    { required?: string[]; at_least_one?: string[]; attributes?: Record<string, string> }
  >;
  event_objects: Record<string, string>;
}
const SCHEMA = JSON.parse(
  readFileSync(path.join(REPO, 'test/fixtures/ocsf-1.x-schema.json'), 'utf8'),
) as OcsfSchema;

/** The attribute with this enum id must name its caption, except for Other (99), which is the source's. */
const CAPTIONS: Record<string, string> = {
  activity_id: 'activity_name',
  severity_id: 'severity',
  status_id: 'status',
  action_id: 'action',
  disposition_id: 'disposition',
};

/** What is wrong with an object against the schema's requirements for its type. */
function objectProblems(type: string, value: unknown, at: string): string[] {
  const spec = SCHEMA.objects[type];
  if (!spec) return [`${at}: no requirements for ${type}`];
  if (typeof value !== 'object' || value === null) return [`${at}: not an object`];
  const o = value as Record<string, unknown>;
  const out: string[] = [];
  for (const attr of spec.required ?? []) if (o[attr] === undefined) out.push(`${at}.${attr}: required`);
  if (spec.at_least_one && !spec.at_least_one.some((a) => o[a] !== undefined))
    out.push(`${at}: needs one of ${spec.at_least_one.join(', ')}`);
  for (const [attr, child] of Object.entries(spec.attributes ?? {}))
    if (o[attr] !== undefined) out.push(...objectProblems(child, o[attr], `${at}.${attr}`));
  return out;
}

/** Whether `event[attr]` is one of `values`, with the caption its sibling must carry. */
function enumProblems(event: Event, attr: string, values: Record<string, string>): string[] {
  const id = event[attr] as unknown;
  if (id === undefined) return [];
  const caption = values[String(id)];
  if (typeof id !== 'number' || caption === undefined) return [`${attr}: ${String(id)} is not in the enum`];
  const named = CAPTIONS[attr];
  if (named && id !== 99 && event[named] !== undefined && event[named] !== caption)
    return [`${named}: "${event[named]}" is not the caption of ${attr} ${id} ("${caption}")`];
  return [];
}

/** Everything that makes an event fall short of OCSF 1.x for its class. */
function problems(event: Event): string[] {
  const out: string[] = [];
  for (const attr of SCHEMA.base_event.required) if (event[attr] === undefined) out.push(`${attr}: required`);
  const cls = SCHEMA.classes[String(event.class_uid)];
  if (!cls) return [...out, `class_uid ${event.class_uid} is not one the schema fixture covers`];
  for (const attr of cls.required) if (event[attr] === undefined) out.push(`${attr}: required`);
  if (event.category_uid !== cls.category_uid) out.push(`category_uid ${event.category_uid}`);
  if (event.type_uid !== event.class_uid * 100 + event.activity_id) out.push(`type_uid ${event.type_uid}`);
  if (typeof event.time !== 'number') out.push('time: not a timestamp');
  for (const [attr, values] of Object.entries({ ...SCHEMA.base_event.enums, ...cls.enums }))
    out.push(...enumProblems(event, attr, values));
  const control = SCHEMA.profiles.security_control;
  const profiled = control.attributes.filter((a) => !cls.native?.includes(a));
  if (profiled.some((a) => event[a] !== undefined)) {
    if (!event.metadata?.profiles?.includes('security_control'))
      out.push('security_control: not in profiles');
    for (const [attr, values] of Object.entries(control.enums))
      out.push(...enumProblems(event, attr, values));
  }
  for (const [attr, type] of Object.entries(SCHEMA.event_objects))
    if (event[attr] !== undefined) out.push(...objectProblems(type, event[attr], attr));
  if (event.metadata?.version !== SCHEMA.version) out.push(`metadata.version ${event.metadata?.version}`);
  return out;
}

/** A record as the log stores it, for the record builders' findings that no gateway run here makes. */
function stored(body: RecordBody, seq: number): EvidenceRecord {
  return { ...body, seq, prev: null, hash: `sha256:${'a'.repeat(64)}` };
}

/**
 * A gateway over server-everything and a server whose tools carry annotations (test/fixtures/
 * meta-server.ts: `show_meta` read-only, `erase_note` destructive, `append_note` silent). Enforce mode,
 * with rules that deny, escalate, and do either in observe mode only; approvals answer at once.
 */
async function gateway(): Promise<RunningGateway> {
  const rule = (id: string, when: unknown, effect: string, mode: string) => ({
    id,
    description: id,
    when,
    effect,
    reason: id.replaceAll('-', '_'),
    mode,
  });
  return runGateway({
    config: {
      mode: 'enforce',
      identity: { default_agent: 'dev' },
      approvals: { mode: 'return', timeout: 600, grant_seconds: 900 },
      servers: {
        everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] },
        meta: { command: 'node', args: [META_SERVER] },
      },
    },
    tools: {
      tools: [
        {
          name: 'everything__get-sum',
          owner: 'platform',
          risk_tier: 'low',
          outcome: { description: 'the sum is 42', check: { in: ['42', { var: 'result.content.0.text' }] } },
        },
        { name: 'everything__*', owner: 'platform', risk_tier: 'low' },
        { name: 'meta__*', owner: 'platform', risk_tier: 'low' },
      ],
      groups: { all: ['everything__*', 'meta__*'] },
    },
    agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['all'] }] },
    rules: [
      rule('secret-in-echo', { in: ['secret', { var: 'call.arguments.message' }] }, 'deny', 'enforce'),
      rule('leak-in-echo', { in: ['leak', { var: 'call.arguments.message' }] }, 'deny', 'observe'),
      rule('large-a', { '>': [{ var: 'call.arguments.a' }, 1000] }, 'escalate', 'enforce'),
      rule('large-b', { '>': [{ var: 'call.arguments.b' }, 1000] }, 'escalate', 'observe'),
    ],
  });
}

describe('OCSF export against the OCSF 1.x schema', () => {
  let records: EvidenceRecord[];
  let events: Event[];

  beforeAll(async () => {
    const gw = await gateway();
    let client: Client;
    try {
      client = await gw.client();
      await callTool(client, 'meta__show_meta', {});
      await callTool(client, 'meta__erase_note', { id: 'n1' });
      await callTool(client, 'meta__append_note', { text: 'x' });
      await callTool(client, 'meta__no_such_tool', {});
      await callTool(client, 'everything__echo', { message: 'a secret' });
      await callTool(client, 'everything__echo', { message: 'a leak' });
      // Escalated and held (return mode); approved by a person; the same call again uses the grant.
      await callTool(client, 'everything__get-sum', { a: 5000, b: 1 });
      const [request] = await gw.gateway.approvals.list({ state: 'pending' });
      const decided = await gw.gateway.approvals.decide(
        request!.id,
        { verdict: 'approve', reason: 'checked', args_digest: request!.binding.args_digest },
        approver('alice', Date.now()),
      );
      expect(decided.ok).toBe(true);
      await callTool(client, 'everything__get-sum', { a: 5000, b: 1 });
      await callTool(client, 'everything__get-sum', { a: 1, b: 5000 });
      const waiver = await gw.gateway.approvals.addWaiver(
        {
          agent: 'dev',
          tool: 'everything__echo',
          args_match: { '===': [{ var: 'call.arguments.message' }, 'secret, waived'] },
          until: '1h',
          reason: 'a known test string',
          compensating: 'none needed',
        },
        approver('alice', Date.now()),
      );
      expect(waiver.ok).toBe(true);
      await callTool(client, 'everything__echo', { message: 'secret, waived' });
    } finally {
      await gw.close();
    }
    const exported = async (format: string) =>
      (
        await run(
          process.execPath,
          [CLI, 'evidence', 'export', '--format', format, '--config', gw.fixture.configFile],
          {
            cwd: REPO,
            maxBuffer: 64 * 1024 * 1024,
          },
        )
      ).stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Event);
    records = (await exported('jsonl')) as EvidenceRecord[];
    // The findings no call here produces, built by the enforcement point's own record builders.
    const pep = { id: 'gateway-a', kind: 'gateway' as const, version: '0' };
    const time = new Date();
    const digest = (c: string) => `sha256:${c.repeat(64)}`;
    const findings: RecordBody[] = [
      definitionRecord(pep, time, {
        server: 'notes',
        tool: 'notes__read',
        digest: digest('b'),
        poisoned: true,
        findings: [{ field: 'description', detail: 'hidden instruction', score: 0.9 }],
        invisible_removed: 0,
        action: 'hidden',
      }),
      definitionRecord(pep, time, {
        server: 'notes',
        tool: 'notes__list',
        digest: digest('c'),
        poisoned: false,
        findings: [],
        invisible_removed: 3,
        action: 'listed',
      }),
      definitionDriftRecord(pep, time, {
        pep: pep.id,
        cause: 'definition_changed',
        expected_digest: digest('d'),
        active_digest: digest('e'),
        since: time.toISOString(),
        server: 'notes',
        tool: 'notes__read',
        reference: 'pin',
        action: 'blocked',
      }),
      {
        ...recordBase('drift', 'fleet', pep, time),
        drift: { pep: 'gateway-b', cause: 'not_reporting', since: time.toISOString() },
      },
      {
        ...recordBase('policy', 'policy', pep, time),
        policy_event: {
          event: 'refused',
          from: 'source',
          source: 'channel',
          code: 'bad_signature',
          message: 'no',
        },
      },
    ];
    events = [
      ...(await exported('ocsf')),
      ...findings.flatMap((f, i) => toOcsf(stored(f, i))).map((e) => JSON.parse(JSON.stringify(e)) as Event),
      JSON.parse(JSON.stringify(verificationFinding('hash mismatch', 'segment 1 line 3', pep))) as Event,
    ];
  });

  it('exports every kind of event this run wrote, in both classes', () => {
    expect(new Set(records.map((r) => r.kind))).toEqual(
      new Set(['chain', 'decision', 'action', 'approval', 'waiver', 'outcome']),
    );
    expect(new Set(events.map((e) => e.class_uid))).toEqual(new Set([6003, 2004]));
  });

  it("gives every event its class's required attributes, with enum values the schema defines", () => {
    const failing = events
      .map((e) => ({ event: `${e.class_uid} ${e.activity_name} ${e.metadata?.uid}`, problems: problems(e) }))
      .filter((f) => f.problems.length > 0);
    expect(failing).toEqual([]);
  });

  /** The decision event and the decision record of each call, in order. */
  const decisions = () =>
    events
      .filter((e) => e.class_uid === 6003 && e.metadata.profiles.includes('security_control'))
      .map((e) => ({ e, record: records.find((r) => r.id === e.metadata.uid)! }));

  it('maps each decision to its outcome: observe mode forwards, so it neither denies nor blocks', () => {
    const rows = decisions().map(({ e, record }) => [
      record.request?.tool,
      `${record.decision?.effect}${record.decision?.enforced ? '' : ' (observed)'}`,
      e.action_id,
      e.disposition_id,
      e.status_id,
      e.is_alert,
    ]);
    expect(rows).toEqual([
      ['meta__show_meta', 'allow', 1, 1, 1, false],
      ['meta__erase_note', 'allow', 1, 1, 1, false],
      ['meta__append_note', 'allow', 1, 1, 1, false],
      // A tool no server offers: denied as unknown.
      ['meta__no_such_tool', 'deny', 2, 2, 2, true],
      ['everything__echo', 'deny', 2, 2, 2, true],
      // Observed (3) and Detected (15): the violation is seen, the call goes ahead (status Success).
      ['everything__echo', 'deny (observed)', 3, 15, 1, true],
      // Held for a person: Other "Escalated", Delayed, status Other "Pending".
      ['everything__get-sum', 'escalate', 99, 14, 99, true],
      // The same call once a person approved it: Allowed, Approved.
      ['everything__get-sum', 'allow', 1, 8, 1, false],
      ['everything__get-sum', 'escalate (observed)', 3, 17, 1, true],
      // A waiver let it through: allowed (the waiver event says which).
      ['everything__echo', 'allow', 1, 1, 1, false],
    ]);
    const denied = decisions().find(({ record }) => record.decision?.reasons[0] === 'secret_in_echo')!.e;
    expect(denied).toMatchObject({ status: 'Failure', status_code: 'secret_in_echo', action: 'Denied' });
    const observed = decisions().find(({ record }) => record.decision?.reasons[0] === 'leak_in_echo')!.e;
    expect(observed).toMatchObject({ action: 'Observed', disposition: 'Detected', status: 'Success' });
  });

  it("classes tool calls by the tool's annotations: read-only is a Read, destructive an Update", () => {
    const byTool = (tool: string) =>
      events.filter((e) => e.class_uid === 6003 && e.api?.operation === tool).map((e) => e.activity_id);
    // The decision event, then the result event.
    expect(byTool('meta__show_meta')).toEqual([2, 2]);
    expect(byTool('meta__erase_note')).toEqual([3, 3]);
    expect(byTool('meta__append_note')).toEqual([99, 99]);
    const erase = events.find((e) => e.api?.operation === 'meta__erase_note')!;
    expect(erase).toMatchObject({
      activity_name: 'Update',
      type_uid: 600303,
      type_name: 'API Activity: Update',
    });
  });

  it('names the actor of every result event: the caller whose call it was', () => {
    const results = events.filter((e) => records.some((r) => r.kind === 'action' && r.id === e.metadata.uid));
    expect(results.length).toBeGreaterThan(0);
    for (const result of results) {
      const decision = events.find((e) => e.metadata.uid === result.api.request.uid)!;
      expect(result.actor).toEqual(decision.actor);
      expect(result.actor.user.uid).toBe('dev');
    }
  });
});
