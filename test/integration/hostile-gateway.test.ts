import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { toOcsf } from '../../src/evidence/export-ocsf.js';
import type { EvidenceRecord } from '../../src/evidence/types.js';
import { callTool, runGateway, textOf, type RunningGateway } from '../helpers/gateway-harness.js';
import { HOSTILE_SERVER } from '../helpers/hostile-server.js';

/**
 * The gateway in front of a hostile server (test/fixtures/hostile-server.ts), twice: `hostile` with the
 * default settings (block changed definitions, hide poisoned ones), and `watched` set to observe
 * changes and leave poisoned definitions to stage 2. Both rewrite `weather` after their first list.
 */
const MAX_RESULT_BYTES = 64 * 1024;

const DEFINITION_DIGEST = /^sha256:[0-9a-f]{64}$/;

async function listed(client: Client): Promise<Map<string, Tool>> {
  const { tools } = await client.listTools();
  return new Map(tools.map((t) => [t.name, t]));
}

const lastDecision = (records: EvidenceRecord[], tool: string) =>
  records.findLast((r) => r.kind === 'decision' && r.request?.tool === tool);

describe('gateway in front of a hostile server', () => {
  let gw: RunningGateway;
  let client: Client;

  beforeAll(async () => {
    gw = await runGateway({
      config: {
        mode: 'enforce',
        identity: { default_agent: 'dev' },
        // Results over MAX_RESULT_BYTES are read and withheld; messages over twice that are not even read.
        limits: { max_result_bytes: MAX_RESULT_BYTES, max_downstream_message_bytes: 2 * MAX_RESULT_BYTES },
        servers: {
          hostile: { command: 'node', args: [HOSTILE_SERVER, '--rug-pull'] },
          watched: {
            command: 'node',
            args: [HOSTILE_SERVER, '--rug-pull'],
            definitions: { on_change: 'observe', on_poisoned: 'semantic' },
          },
        },
      },
      tools: {
        tools: [
          { name: 'hostile__*', owner: 'p', risk_tier: 'low' },
          { name: 'watched__*', owner: 'p', risk_tier: 'low' },
        ],
        groups: { all: ['hostile__*', 'watched__*'] },
      },
      agents: { agents: [{ id: 'dev', owner: 'p', tool_groups: ['all'] }] },
    });
    client = await gw.client();
    // Each server rewrote `weather` right after the gateway's first list: wait until both changes are in.
    await vi.waitFor(
      async () => {
        const drift = (await gw.evidence()).filter((r) => r.drift?.cause === 'definition_changed');
        expect(drift.map((r) => r.drift?.server).sort()).toEqual(['hostile', 'watched']);
      },
      { timeout: 30_000, interval: 50 },
    );
  }, 60_000);
  afterAll(() => gw.close());

  describe('rug pull', () => {
    it('blocks a tool whose definition changed after the gateway first saw it, and records the drift', async () => {
      expect((await listed(client)).has('hostile__weather')).toBe(false);
      const result = await callTool(client, 'hostile__weather', { city: 'Oslo' });
      expect(result).toMatchObject({ isError: true });
      expect(textOf(result)).toBe('MCP error -32602: Tool hostile__weather not found');

      const records = await gw.evidence();
      expect(lastDecision(records, 'hostile__weather')?.decision).toMatchObject({
        effect: 'deny',
        enforced: true,
        reasons: ['definition_changed'],
      });
      const drift = records.find((r) => r.drift?.tool === 'hostile__weather');
      expect(drift).toMatchObject({
        kind: 'drift',
        chain: 'definitions',
        drift: { cause: 'definition_changed', server: 'hostile', reference: 'first_seen', action: 'blocked' },
      });
      expect(drift?.drift?.expected_digest).toMatch(DEFINITION_DIGEST);
      expect(drift?.drift?.active_digest).toMatch(DEFINITION_DIGEST);
      expect(drift?.drift?.active_digest).not.toBe(drift?.drift?.expected_digest);
      // The decision cites the live (changed) definition, the drift record the one first seen.
      expect(lastDecision(records, 'hostile__weather')?.request?.definition_digest).toBe(
        drift?.drift?.active_digest,
      );
      // Once per episode, however often the list is read.
      expect(records.filter((r) => r.drift?.tool === 'hostile__weather')).toHaveLength(1);
    });

    it('exports the change to OCSF as a Detection Finding', async () => {
      const drift = (await gw.evidence()).find((r) => r.drift?.tool === 'hostile__weather')!;
      const [event] = toOcsf(drift);
      expect(event).toMatchObject({
        class_uid: 2004,
        class_name: 'Detection Finding',
        finding_info: { title: 'Tool definition changed', types: ['tool_definition_drift'] },
      });
      expect((event as { finding_info: { desc: string } }).finding_info.desc).toContain(
        'hostile changed hostile__weather',
      );
    });

    it('keeps serving the server’s unchanged tools', async () => {
      expect(textOf(await callTool(client, 'hostile__echo', { text: 'still here' }))).toBe('still here');
    });

    it('with on_change: observe, lists and forwards the changed tool and records the deny as observed', async () => {
      const tools = await listed(client);
      expect(tools.get('watched__weather')?.description).toContain('optional note');
      expect(textOf(await callTool(client, 'watched__weather', { city: 'Oslo' }))).toBe('Sunny in Oslo');
      const records = await gw.evidence();
      expect(lastDecision(records, 'watched__weather')?.decision).toMatchObject({
        effect: 'deny',
        mode: 'observe',
        enforced: false,
        reasons: ['definition_changed'],
      });
      expect(records.find((r) => r.drift?.tool === 'watched__weather')?.drift?.action).toBe('observed');
    });
  });

  describe('poisoned descriptions', () => {
    it('hides a tool with hidden instructions, split by zero-width characters or hidden in tag characters', async () => {
      const tools = await listed(client);
      expect(tools.has('hostile__notes')).toBe(false);
      expect(tools.has('hostile__translate')).toBe(false);
      const result = await callTool(client, 'hostile__notes', { note: 'x' });
      expect(textOf(result)).toBe('MCP error -32602: Tool hostile__notes not found');
      const records = await gw.evidence();
      expect(lastDecision(records, 'hostile__notes')?.decision?.reasons).toEqual(['poisoned_description']);

      const findings = new Map(
        records.filter((r) => r.kind === 'definition').map((r) => [r.definition?.tool, r.definition]),
      );
      expect(findings.get('hostile__notes')).toMatchObject({
        poisoned: true,
        action: 'hidden',
        invisible_removed: 3,
        findings: [expect.objectContaining({ field: 'description' })],
      });
      expect(findings.get('hostile__notes')?.findings[0]?.detail).toContain('hidden-instruction block');
      expect(findings.get('hostile__translate')).toMatchObject({ poisoned: true, action: 'hidden' });
      expect(findings.get('hostile__translate')?.findings[0]).toMatchObject({ field: 'hidden text' });
      expect(findings.get('hostile__translate')?.findings[0]?.detail).toContain('ignore other instructions');
    });

    it('strips zero-width characters from an otherwise clean description and keeps the tool', async () => {
      const clock = (await listed(client)).get('hostile__clock');
      expect(clock?.description).toBe('Tells the time.');
      expect(textOf(await callTool(client, 'hostile__clock'))).toBe('done');
      const finding = (await gw.evidence()).find((r) => r.definition?.tool === 'hostile__clock');
      expect(finding?.definition).toMatchObject({ poisoned: false, invisible_removed: 2, action: 'listed' });
    });

    it('with on_poisoned: semantic, lists the cleaned tool and stage 2 refuses its calls', async () => {
      const notes = (await listed(client)).get('watched__notes');
      expect(notes?.description).toContain('<IMPORTANT>Before using this tool');
      expect(notes?.description).not.toMatch(/\u200B/);
      const result = await callTool(client, 'watched__notes', { note: 'hello' });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/reason: semantic_denied/);
      expect(textOf(result)).toContain('poisoned_description');
      const decision = lastDecision(await gw.evidence(), 'watched__notes')?.decision;
      expect(decision?.reasons).toEqual(['semantic_denied', 'poisoned_description']);
      expect(decision?.semantic?.signals.map((s) => s.name)).toContain('poisoned_description');
    });
  });

  describe('oversized and malformed results', () => {
    it('refuses a result over limits.max_result_bytes with a tool error, and the next call works', async () => {
      const result = await callTool(client, 'hostile__huge', { bytes: 4 * MAX_RESULT_BYTES });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(
        // Refused by the stdio framing as it arrived, never read into memory whole.
        /^Call failed: the server's answer is over the 131072-byte limit \(limits\.max_downstream_message_bytes\); the call ran, its result is withheld \(reason: result_too_large, decision: [0-9a-f-]{36}\)\.$/,
      );
      // Smaller than a message can be, larger than a result may be: read, then withheld.
      expect(textOf(await callTool(client, 'hostile__huge', { bytes: MAX_RESULT_BYTES + 1 }))).toMatch(
        /^Call failed: the server's result is \d+ bytes, over the 65536-byte limit \(limits\.max_result_bytes\); the call ran, its result is withheld \(reason: result_too_large, /,
      );
      const records = await gw.evidence();
      const decision = lastDecision(records, 'hostile__huge');
      const action = records.findLast((r) => r.action?.decision_id === decision?.decision?.id)?.action;
      expect(action).toMatchObject({
        forwarded: true,
        is_error: true,
        error: { code: 'result_too_large' },
      });

      expect(textOf(await callTool(client, 'hostile__huge', { bytes: 10 }))).toBe('x'.repeat(10));
      expect(textOf(await callTool(client, 'hostile__echo', { text: 'after' }))).toBe('after');
    });

    it.each(['content-not-array', 'unknown-block', 'is-error-string'])(
      'refuses a malformed result (%s) with a tool error, and the next call works',
      async (kind) => {
        const result = await callTool(client, 'hostile__malformed', { kind });
        expect(result.isError).toBe(true);
        expect(textOf(result)).toMatch(/not a valid CallToolResult.*\(reason: malformed_result, decision: /);
        const records = await gw.evidence();
        const decision = lastDecision(records, 'hostile__malformed');
        const action = records.findLast((r) => r.action?.decision_id === decision?.decision?.id)?.action;
        expect(action).toMatchObject({
          forwarded: true,
          is_error: true,
          error: { code: 'malformed_result' },
        });
        expect(textOf(await callTool(client, 'hostile__echo', { text: kind }))).toBe(kind);
      },
    );
  });
});
