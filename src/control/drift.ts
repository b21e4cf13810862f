import type { RecordBody } from '../evidence/types.js';
import type { PointerPayload } from '../policy/bundle/schema.js';
import type { PepPolicyStatus } from '../policy/runtime/status.js';

/** How long a PEP may run another digest than the approved one, or stay silent, before it drifts. */
export interface DriftSettings {
  graceMs: number;
  staleMs: number;
}

/**
 * Where a PEP stands against its channel: `pending` runs another digest within the grace period;
 * `unknown` never reported, or there is no approved pointer to compare with.
 */
export type PepState = 'in_sync' | 'pending' | 'drift' | 'unknown';

/** One PEP as the control plane sees it: its last report, and whether it drifted. */
export interface PepView {
  id: string;
  state: PepState;
  /** Its last report, or null when it never reported. */
  status: PepPolicyStatus | null;
  last_report: string | null;
  drift: NonNullable<RecordBody['drift']> | null;
}

interface Tracked {
  status?: PepPolicyStatus;
  receivedAt?: number;
  /** The `approved|active` pair first seen mismatching, and since when. */
  mismatch?: { key: string; since: number };
  /** The current drift episode: recorded once when it begins. */
  drift?: NonNullable<RecordBody['drift']>;
}

/**
 * Compares every known enforcement point's reported digest with its channel's approved digest. A PEP
 * that runs another digest for longer than the grace period, or that has not reported for longer than
 * the stale period, has drifted: the episode is returned once (for one `drift` record) and stays
 * visible in the view until the PEP is back in sync. Time is passed in, so tests control it.
 */
export class DriftMonitor {
  private readonly peps = new Map<string, Tracked>();

  constructor(
    private readonly settings: DriftSettings,
    /** When monitoring began: a PEP that never reports is silent since then. */
    private readonly startedAt: number,
    known: readonly string[],
  ) {
    for (const id of known) this.peps.set(id, {});
  }

  /** Takes a PEP's report; reports from unknown PEPs are the caller's to refuse. */
  report(status: PepPolicyStatus, now: number): void {
    const tracked = this.peps.get(status.pep.id);
    if (!tracked) throw new Error(`unknown enforcement point "${status.pep.id}"`);
    tracked.status = status;
    tracked.receivedAt = now;
  }

  /**
   * Re-evaluates every PEP against the approved pointer (undefined when the channel has none, so only
   * silence can be drift) and returns the drift episodes that begin now.
   */
  evaluate(approved: PointerPayload | undefined, now: number): NonNullable<RecordBody['drift']>[] {
    const begun: NonNullable<RecordBody['drift']>[] = [];
    for (const [id, t] of this.peps) {
      const found = this.assess(id, t, approved, now);
      // assess() hands back the same object while an episode continues; a new object is a new episode.
      if (found && found !== t.drift) begun.push(found);
      t.drift = found;
    }
    return begun;
  }

  /** Every known PEP's state, for `mcpgov policy status` and the admin endpoint. */
  view(approved: PointerPayload | undefined): PepView[] {
    return [...this.peps].map(([id, t]) => ({
      id,
      state: stateOf(t, approved),
      status: t.status ?? null,
      last_report: t.receivedAt === undefined ? null : new Date(t.receivedAt).toISOString(),
      drift: t.drift ?? null,
    }));
  }

  private assess(
    id: string,
    t: Tracked,
    approved: PointerPayload | undefined,
    now: number,
  ): NonNullable<RecordBody['drift']> | undefined {
    const iso = (ms: number) => new Date(ms).toISOString();
    const heard = t.receivedAt ?? this.startedAt;
    const active = t.status?.policy.active?.digest;
    const base = {
      pep: id,
      ...(approved ? { channel: approved.channel, expected_digest: approved.bundle_digest } : {}),
      ...(active ? { active_digest: active } : {}),
      ...(t.receivedAt === undefined ? {} : { last_report: iso(t.receivedAt) }),
    };
    if (now - heard > this.settings.staleMs) {
      // The same silence stays one episode: keep the first record's facts.
      if (t.drift?.cause === 'not_reporting') return t.drift;
      return { ...base, cause: 'not_reporting', since: iso(heard) };
    }
    if (!approved || !t.status || active === approved.bundle_digest) {
      t.mismatch = undefined;
      return undefined;
    }
    const key = `${approved.bundle_digest}|${active ?? 'none'}`;
    if (t.mismatch?.key !== key) t.mismatch = { key, since: now };
    if (now - t.mismatch.since <= this.settings.graceMs) return undefined;
    if (
      t.drift?.cause === 'digest_mismatch' &&
      t.drift.active_digest === active &&
      t.drift.expected_digest === approved.bundle_digest
    )
      return t.drift;
    return { ...base, cause: 'digest_mismatch', since: iso(t.mismatch.since) };
  }
}

function stateOf(t: Tracked, approved: PointerPayload | undefined): PepState {
  if (t.drift) return 'drift';
  if (!t.status || !approved) return 'unknown';
  return t.status.policy.active?.digest === approved.bundle_digest ? 'in_sync' : 'pending';
}
