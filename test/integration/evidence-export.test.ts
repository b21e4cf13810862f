import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { EvidenceLog } from '../../src/evidence/evidence-log.js';
import { listSegments } from '../../src/evidence/jsonl-store.js';
import { LocalEd25519Signer, writeKeyPair } from '../../src/evidence/signer.js';
import { EVIDENCE_VERSION, type EvidenceRecord } from '../../src/evidence/types.js';
import { CLI, REFERENCE_SERVERS, REPO } from '../helpers/fixture.js';
import { callTool, runGateway } from '../helpers/gateway-harness.js';

const run = promisify(execFile);
type Event = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function exportEvents(configFile: string, ...args: string[]): Promise<Event[]> {
  const { stdout } = await run(
    process.execPath,
    [CLI, 'evidence', 'export', '--config', configFile, ...args],
    { cwd: REPO, maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Event);
}

describe('evidence export', () => {
  let configFile: string;
  let records: EvidenceRecord[];

  beforeAll(async () => {
    const gw = await runGateway({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
      },
      tools: {
        tools: [
          {
            name: 'everything__get-sum',
            owner: 'platform',
            risk_tier: 'low',
            outcome: {
              description: 'the sum is reported as 42',
              check: { in: ['42', { var: 'result.content.0.text' }] },
            },
          },
          { name: 'everything__*', owner: 'platform', risk_tier: 'low' },
        ],
        groups: { all: ['everything__*'] },
      },
      agents: { agents: [{ id: 'dev', owner: 'platform', tool_groups: ['all'] }] },
      rules: [
        {
          id: 'no-secrets',
          description: 'no secrets in echo',
          when: { in: ['secret', { var: 'call.arguments.message' }] },
          effect: 'deny',
          reason: 'secret_in_echo',
        },
        {
          id: 'hold-big-sums',
          description: 'large sums need a person',
          when: { '>': [{ var: 'call.arguments.a' }, 1000] },
          effect: 'escalate',
          reason: 'large_sum',
        },
      ],
    });
    const client = await gw.client();
    await callTool(client, 'everything__echo', { message: 'fine' });
    await callTool(client, 'everything__echo', { message: 'a secret' });
    await callTool(client, 'everything__get-sum', { a: 5000, b: 1 });
    await callTool(client, 'everything__get-sum', { a: 1, b: 2 });
    await gw.close();
    configFile = gw.fixture.configFile;
    records = (
      await run(process.execPath, [CLI, 'evidence', 'export', '--format', 'jsonl', '--config', configFile], {
        cwd: REPO,
      })
    ).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as EvidenceRecord);
  });

  it('exports native JSONL records unchanged', () => {
    expect(records.map((r) => r.kind)).toEqual([
      'chain',
      'decision',
      'action',
      'decision',
      'decision',
      // The escalation in enforce mode opens an approval request (return mode: answered at once).
      'approval',
      'decision',
      'action',
      'outcome',
      'chain',
    ]);
  });

  it('maps decisions to OCSF API Activity with the security_control profile', async () => {
    const events = await exportEvents(configFile, '--format', 'ocsf');
    const decisions = events.filter((e) => e.metadata.profiles.includes('security_control'));
    // server-everything marks echo and get-sum read-only: Read (2), so type 600302. Each decision
    // carries the status of its call: Success (1) let through, Failure (2) denied, Other (99) held.
    expect(
      decisions.map((e) => [
        e.class_uid,
        e.type_uid,
        e.activity_name,
        e.action_id,
        e.disposition_id,
        e.status_id,
      ]),
    ).toEqual([
      [6003, 600302, 'Read', 1, 1, 1],
      [6003, 600302, 'Read', 2, 2, 2],
      [6003, 600302, 'Read', 99, 14, 99],
      [6003, 600302, 'Read', 1, 1, 1],
    ]);
    const denied = decisions[1]!;
    const record = records.find((r) => r.decision?.effect === 'deny')!;
    expect(denied.metadata).toMatchObject({
      uid: record.id,
      correlation_uid: record.chain,
      profiles: ['security_control'],
      version: '1.8.0',
    });
    expect(denied).toMatchObject({
      is_alert: true,
      api: { operation: 'everything__echo', service: { name: 'everything' } },
      policy: { uid: record.decision!.bundle.digest },
    });
    expect(denied.unmapped.mcpgov).toMatchObject({
      reasons: ['secret_in_echo'],
      rules: ['no-secrets'],
      hash: record.hash,
    });
  });

  it('reports a failed outcome check as a Detection Finding', async () => {
    const findings = (await exportEvents(configFile, '--format', 'ocsf')).filter((e) => e.class_uid === 2004);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      type_uid: 200401,
      is_alert: true,
      finding_info: {
        title: 'Outcome check failed for everything__get-sum',
        types: ['outcome_verification'],
      },
    });
  });

  it('is idempotent on record id and filters by time', async () => {
    const first = await exportEvents(configFile, '--format', 'ocsf');
    const second = await exportEvents(configFile, '--format', 'ocsf');
    expect(second.map((e) => e.metadata.uid)).toEqual(first.map((e) => e.metadata.uid));
    expect(new Set(first.map((e) => e.metadata.uid)).size).toBe(first.length);
    const late = records[4]!.time;
    const since = await exportEvents(configFile, '--format', 'jsonl', '--since', late);
    expect(since.every((r) => r.time >= late)).toBe(true);
    expect(since.length).toBeLessThan(records.length);
  });

  it('adds an integrity finding when the log does not verify', async () => {
    const dir = path.dirname(configFile);
    const segment = (await listSegments(path.join(dir, 'evidence')))[0]!;
    await writeFile(segment, (await readFile(segment, 'utf8')).replace('"fine"', '"FINE"'));
    const out = path.join(await mkdtemp(path.join(tmpdir(), 'mcpgov-export-')), 'events.jsonl');
    await run(
      process.execPath,
      [CLI, 'evidence', 'export', '--format', 'ocsf', '--config', configFile, '--out', out],
      { cwd: REPO },
    );
    const events = (await readFile(out, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Event);
    expect(events.at(-1)).toMatchObject({
      class_uid: 2004,
      finding_info: { title: 'Evidence log failed verification', types: ['evidence_integrity'] },
    });
  });
});

describe('evidence export of a large log into a pipe', () => {
  it('delivers every record before the process exits', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-export-large-'));
    const keys = await writeKeyPair(path.join(dir, 'keys'));
    const log = await EvidenceLog.open({
      dir: path.join(dir, 'evidence'),
      fsync: 'none',
      signer: await LocalEd25519Signer.fromFile(keys.privateKey),
      origin: 'mcpgov/test',
      checkpoint: { everyRecords: 1000, everySeconds: 3600 },
      segmentMaxBytes: 1 << 26,
      log: () => {},
    });
    const records = 3000;
    for (let i = 0; i < records; i++) {
      await log.append({
        v: EVIDENCE_VERSION,
        id: `r${i}`,
        kind: 'decision',
        chain: 'c',
        time: new Date(Date.UTC(2026, 0, 1)).toISOString(),
        pep: { id: 'p', kind: 'gateway', version: '0' },
        request: {
          method: 'tools/call',
          tool: 'fs__write_file',
          args_digest: `sha256:${'a'.repeat(64)}`,
          args: { content: 'x'.repeat(300) },
          masked: [],
          session: { id: 'c', call_count: i },
        },
      });
    }
    await log.close();
    const configFile = path.join(dir, 'mcpgov.yaml');
    await writeFile(configFile, 'evidence: { dir: ./evidence }\n');
    // Well past a pipe's buffer (about 1.2 MB): an exit right after the last write would cut it short.
    const events = await exportEvents(configFile, '--format', 'jsonl');
    expect(events).toHaveLength(records);
    expect(events.at(-1)?.id).toBe(`r${records - 1}`);
  });
});
