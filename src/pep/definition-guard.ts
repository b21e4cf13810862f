import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { DefinitionsConfig } from '../config/schema.js';
import type { LiveTool } from '../core/live-tool.js';
import type { EvidenceSink, PepInfo, RecordBody } from '../evidence/types.js';
import type { PolicySet } from '../policy/policy-set.js';
import { liveTool } from '../registry/live-tool.js';
import type { Logger } from '../util/log.js';
import { scanDefinition } from './definition-scan.js';
import { definitionDriftRecord, definitionRecord } from './records.js';

export interface DefinitionGuardOptions {
  /** A server's settings: its own `definitions` over the top-level ones. */
  settings: (server: string) => DefinitionsConfig;
  evidence: EvidenceSink;
  pep: PepInfo;
  log: Logger;
  /** The policy in force: pins come from its tool registry. */
  policy: () => PolicySet;
  /** Milliseconds since the epoch; injectable for tests. */
  clock?: () => number;
}

/**
 * Reviews every tool list a downstream server presents, for both enforcement points: it remembers the
 * first definition it saw of each tool (trust on first use, for tools without a pin), scans each new
 * definition for hidden instructions and invisible characters, and records what it finds. A changed
 * definition (the "rug pull") is a `drift` record; a poisoned or stripped one a `definition` record.
 * What the pipeline then does with a tool (block, hide, flag) it reads from the tool's `review`.
 */
export class DefinitionGuard {
  /** The digest first seen per server and tool: kept across the server's restarts, for the PEP's life. */
  private readonly firstSeen = new Map<string, string>();
  /** The last review per server and tool, reused while the definition stays the same. */
  private readonly reviewed = new Map<string, LiveTool>();
  /** The drift episode recorded per server and tool (`expected|live`): recorded once, until it ends. */
  private readonly drifting = new Map<string, string>();
  private readonly clock: () => number;

  constructor(private readonly opts: DefinitionGuardOptions) {
    this.clock = opts.clock ?? Date.now;
  }

  /** Reviews a server's freshly loaded tools; `prefix` names them `<server>__<tool>` (as the gateway does). */
  review(server: string, defs: readonly Tool[], prefix = true): LiveTool[] {
    return defs.map((def) => this.reviewOne(server, def, prefix));
  }

  private reviewOne(server: string, def: Tool, prefix: boolean): LiveTool {
    const received = liveTool(server, def, prefix);
    const key = `${server}\u0000${def.name}`;
    const known = this.reviewed.get(key);
    if (known?.digest === received.digest && known.name === received.name) {
      this.checkDrift(key, known); // a pin may have changed with the policy meanwhile
      return known;
    }
    const firstSeen = this.firstSeen.get(key) ?? received.digest;
    this.firstSeen.set(key, firstSeen);
    const settings = this.opts.settings(server);
    const scan = scanDefinition(received.definition);
    const top = scan.findings[0];
    const live: LiveTool = {
      ...received,
      definition: scan.clean,
      review: {
        firstSeen,
        onChange: settings.on_change,
        poisoned:
          scan.poisoned && top
            ? { detail: `${top.field}: ${top.detail}`, action: settings.on_poisoned }
            : undefined,
      },
    };
    this.reviewed.set(key, live);
    if (scan.poisoned || scan.invisible > 0) {
      const action = scan.poisoned && settings.on_poisoned === 'hide' ? 'hidden' : 'listed';
      this.opts.log('warn', scan.poisoned ? 'poisoned tool definition' : 'invisible characters removed', {
        server,
        tool: live.name,
        action,
        finding: top ? `${top.field}: ${top.detail}` : undefined,
        invisible: scan.invisible,
      });
      this.record(
        definitionRecord(this.opts.pep, new Date(this.clock()), {
          action,
          digest: live.digest,
          findings: scan.findings,
          invisible_removed: scan.invisible,
          poisoned: scan.poisoned,
          server,
          tool: live.name,
        }),
      );
    }
    this.checkDrift(key, live);
    return live;
  }

  /** Records a drift episode when the live definition differs from its pin, or else its first-seen one. */
  private checkDrift(key: string, live: LiveTool): void {
    const review = live.review;
    if (!review) return;
    const pin = this.opts.policy().tools.match(live.name)?.definition_digest;
    const expected = pin ?? review.firstSeen;
    if (live.digest === expected) {
      this.drifting.delete(key);
      return;
    }
    const episode = `${expected}|${live.digest}`;
    if (this.drifting.get(key) === episode) return;
    this.drifting.set(key, episode);
    const action = review.onChange === 'block' ? 'blocked' : 'observed';
    const reference = pin === undefined ? 'first_seen' : 'pin';
    this.opts.log('warn', 'tool definition changed', {
      server: live.server,
      tool: live.name,
      reference,
      expected,
      live: live.digest,
      action,
    });
    const now = new Date(this.clock());
    this.record(
      definitionDriftRecord(this.opts.pep, now, {
        action,
        active_digest: live.digest,
        cause: 'definition_changed',
        expected_digest: expected,
        pep: this.opts.pep.id,
        reference,
        server: live.server,
        since: now.toISOString(),
        tool: live.name,
      }),
    );
  }

  private record(body: RecordBody): void {
    // Nothing waits on it: the tool's review already decides its calls.
    void this.opts.evidence
      .append(body)
      .catch((err: Error) =>
        this.opts.log('error', 'definition finding not recorded', { kind: body.kind, error: err.message }),
      );
  }
}
