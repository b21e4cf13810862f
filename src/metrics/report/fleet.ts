import type { EvidenceRecord } from '../../evidence/types.js';
import { CappedCounts, RecentItems } from './bounded.js';

/** Drift events listed one by one in the report, at most (the latest; every one is counted). */
export const RECENT_DRIFT = 100;

/** One drift event as the report lists it. */
export interface DriftRow {
  time: string;
  cause: string;
  /** The enforcement point that drifted (policy drift), or the one that saw a definition change. */
  pep: string;
  channel?: string;
  server?: string;
  tool?: string;
  /** For a changed definition: what was done with the tool (`blocked`, `observed`). */
  action?: string;
  expected_digest?: string;
  active_digest?: string;
}

/** Drift, poisoned tool definitions and policy activations: what differs from what was approved. */
export class FleetStats {
  readonly driftCauses = new CappedCounts(16);
  readonly drift = new RecentItems<DriftRow>(RECENT_DRIFT);
  readonly definitions = { findings: 0, poisoned: 0, hidden: 0, invisible_removed: 0 };
  readonly policy = { activated: 0, refused: 0, refusals: new CappedCounts(64) };
  /** The bundles activated, by digest: name and revision. */
  readonly bundles = new Map<string, { name?: string; revision?: string; activated: number }>();

  addDrift(time: string, d: NonNullable<EvidenceRecord['drift']>): void {
    this.driftCauses.add(String(d.cause));
    this.drift.add({
      time,
      cause: String(d.cause),
      pep: String(d.pep),
      channel: d.channel,
      server: d.server,
      tool: d.tool,
      action: d.action,
      expected_digest: d.expected_digest,
      active_digest: d.active_digest,
    });
  }

  addDefinition(d: NonNullable<EvidenceRecord['definition']>): void {
    this.definitions.findings++;
    if (d.poisoned) this.definitions.poisoned++;
    if (d.action === 'hidden') this.definitions.hidden++;
    if (typeof d.invisible_removed === 'number') this.definitions.invisible_removed += d.invisible_removed;
  }

  addPolicy(p: NonNullable<EvidenceRecord['policy_event']>): void {
    if (p.event === 'activated') {
      this.policy.activated++;
      const digest = p.active?.digest ?? p.bundle?.digest;
      if (digest !== undefined && (this.bundles.has(digest) || this.bundles.size < 100)) {
        const b = this.bundles.get(digest) ?? {
          name: p.active?.name ?? p.bundle?.name,
          revision: p.active?.revision ?? p.bundle?.revision,
          activated: 0,
        };
        b.activated++;
        this.bundles.set(digest, b);
      }
    } else {
      this.policy.refused++;
      this.policy.refusals.add(p.code ?? '(none)');
    }
  }
}
