import { timingSafeEqual } from 'node:crypto';
import type { PoliciesConfig } from '../config/schema.js';
import { sha256Hex } from '../evidence/hash.js';
import type { EvidenceSink } from '../evidence/types.js';
import type { Logger } from '../util/log.js';
import { DriftMonitor, type PepView } from './drift.js';
import type { PepInfo } from '../evidence/types.js';
import { driftRecord } from '../policy/runtime/records.js';
import type { PointerPayload } from '../policy/bundle/schema.js';
import { PepPolicyStatusSchema, type PepPolicyStatus } from '../policy/runtime/status.js';

/** The control plane's answer to a status report, mapped to HTTP at the edge. */
export type ReportResult = { ok: true } | { ok: false; status: 400 | 401 | 403; message: string };

/** What `GET /policy/status` and `mcpgov policy status` show. */
export interface ControlPlaneView {
  /** The gateway that answers. */
  gateway: string;
  /** The channel's approved pointer, as the gateway last verified it. */
  approved: Omit<PointerPayload, 'v'> | null;
  peps: PepView[];
}

/** What the control plane needs. */
export interface ControlPlaneOptions {
  policy: PoliciesConfig;
  /** The gateway itself: always a known PEP, reporting in-process. */
  self: PepInfo;
  /** The approved pointer of the channel the gateway follows, when it follows one. */
  approved: () => PointerPayload | undefined;
  evidence?: EvidenceSink;
  log: Logger;
  clock?: () => number;
}

/**
 * The gateway's side of status and drift: authenticates PEP reports (known PEP ids with their own
 * bearer token only), keeps the latest report of each, and records a `drift` evidence record when a
 * PEP's digest differs from the channel's approved digest past the grace period, or it goes silent.
 */
export class PolicyControlPlane {
  private readonly monitor: DriftMonitor;
  private readonly clock: () => number;
  private timer?: NodeJS.Timeout;

  constructor(private readonly opts: ControlPlaneOptions) {
    this.clock = opts.clock ?? Date.now;
    const { drift, reporters } = opts.policy;
    this.monitor = new DriftMonitor(
      { graceMs: drift.grace_seconds * 1000, staleMs: drift.stale_seconds * 1000 },
      this.clock(),
      [opts.self.id, ...Object.keys(reporters).filter((id) => id !== opts.self.id)],
    );
  }

  /** Whether a bearer token belongs to some configured reporter (it may read the registry). */
  tokenKnown(token: string | undefined): boolean {
    return Object.values(this.opts.policy.reporters).some((r) => tokenMatches(token, r.token_sha256));
  }

  /**
   * Whether `token` is the bearer token pinned for PEP `id` in `policies.reporters`: 403 for a PEP
   * the gateway does not know, 401 for a wrong or missing token. Status reports and the sidecars'
   * control channel are authenticated here.
   */
  authenticate(id: string, token: string | undefined): ReportResult {
    const reporter = Object.hasOwn(this.opts.policy.reporters, id)
      ? this.opts.policy.reporters[id]
      : undefined;
    // The gateway's own id never comes over the wire: it reports in-process.
    if (!reporter || id === this.opts.self.id)
      return { ok: false, status: 403, message: `unknown enforcement point "${id}"` };
    if (!tokenMatches(token, reporter.token_sha256))
      return { ok: false, status: 401, message: `bad or missing bearer token for "${id}"` };
    return { ok: true };
  }

  /** Takes a report from another PEP, as received over HTTP. */
  async receive(body: unknown, token: string | undefined): Promise<ReportResult> {
    const parsed = PepPolicyStatusSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        ok: false,
        status: 400,
        message: `invalid status report: ${issue?.path.join('.')}: ${issue?.message}`,
      };
    }
    const allowed = this.authenticate(parsed.data.pep.id, token);
    if (!allowed.ok) return allowed;
    this.monitor.report(parsed.data, this.clock());
    await this.tick();
    return { ok: true };
  }

  /** Takes the gateway's own status. */
  async reportSelf(status: PepPolicyStatus): Promise<void> {
    this.monitor.report(status, this.clock());
    await this.tick();
  }

  /** Re-evaluates drift and records every episode that begins now. */
  async tick(): Promise<void> {
    const now = this.clock();
    for (const drift of this.monitor.evaluate(this.opts.approved(), now)) {
      this.opts.log('warn', 'policy drift', { ...drift });
      await this.opts.evidence
        ?.append(driftRecord(this.opts.self, drift, now))
        .catch((err: Error) => this.opts.log('error', 'drift record not written', { error: err.message }));
    }
  }

  /** Evaluates drift on a timer too, so silence is noticed without any report arriving. */
  start(): void {
    const { grace_seconds, stale_seconds } = this.opts.policy.drift;
    const everyMs = Math.min(5000, Math.max(100, (Math.min(grace_seconds, stale_seconds) * 1000) / 4));
    this.timer = setInterval(() => void this.tick(), everyMs);
    this.timer.unref();
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.timer);
  }

  /** Every known PEP with its state. */
  view(): ControlPlaneView {
    const approved = this.opts.approved();
    const { v: _v, ...pointer } = approved ?? { v: undefined };
    return {
      gateway: this.opts.self.id,
      approved: approved ? (pointer as Omit<PointerPayload, 'v'>) : null,
      peps: this.monitor.view(approved),
    };
  }
}

/** Compares a presented token with a configured `sha256:` digest in constant time. */
function tokenMatches(token: string | undefined, expected: string): boolean {
  if (token === undefined || token === '') return false;
  const a = Buffer.from(`sha256:${sha256Hex(token)}`);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
