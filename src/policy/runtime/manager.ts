import type { PoliciesConfig } from '../../config/schema.js';
import { canonicalJson, sha256Hex } from '../../evidence/hash.js';
import type { EvidenceSink, RecordBody } from '../../evidence/types.js';
import type { Logger } from '../../util/log.js';
import {
  checkBundle,
  checkPointer,
  type ActiveBundle,
  type ActivationContext,
  type Candidate,
} from './activation.js';
import type { PolicyCache } from './cache.js';
import type { Pointer } from '../bundle/channel.js';
import type { Refusal } from '../bundle/errors.js';
import type { BundleFiles } from '../bundle/files.js';
import { peekPayload } from '../bundle/jws.js';
import type { PepInfo } from '../../evidence/types.js';
import { policyRecord } from './records.js';
import { MANIFEST_FILE } from '../bundle/schema.js';
import type { BundleSource } from './source.js';
import type { PepPolicyStatus } from './status.js';
import type { Trust } from '../bundle/trust.js';

/** What a policy manager needs. */
export interface PolicyManagerOptions {
  policy: PoliciesConfig;
  trust: Trust;
  source: BundleSource;
  /** Where the last good bundle is persisted; without one, an offline start fails. */
  cache?: PolicyCache;
  /** Where activations and refusals are recorded. */
  evidence?: EvidenceSink;
  pep: PepInfo;
  log: Logger;
  /** Milliseconds since the epoch; injectable for tests. */
  clock?: () => number;
  /** Called with each newly activated bundle: the enforcement point swaps its policy here. */
  onActivate?: (active: ActiveBundle) => void;
  /** Called after every check with the status to report. */
  onStatus?: (status: PepPolicyStatus) => void;
}

/** What one check of the source concluded. */
export type CheckResult = 'activated' | 'unchanged' | 'refused' | 'unavailable';

/**
 * Keeps an enforcement point on its newest acceptable bundle. Each check reads the source; a new
 * candidate passes every activation check or is refused, recorded as evidence, and the last good
 * bundle keeps deciding. An accepted one is swapped in as a whole (calls in flight keep the policy
 * they started with) and persisted for an offline start.
 */
export class PolicyManager {
  /** The bundle in force. */
  active?: ActiveBundle;
  /** The newest channel pointer that verified: the channel's approved bundle, as far as this PEP knows. */
  approved?: Pointer;
  private lastCheck?: number;
  private lastError?: { code: string; message: string; at: number };
  /** The refusal of the candidate last handled, which status keeps showing while it is current. */
  private handledRefusal?: { code: string; message: string; at: number };
  /** Identifies the candidate last handled (activated or refused), so it is not checked again. */
  private handled?: string;
  private running?: Promise<CheckResult>;
  /** Why the cached bundle was not used at start, for the start error. */
  private cacheRefusal?: Refusal;
  private timer?: NodeJS.Timeout;
  private readonly clock: () => number;

  constructor(private readonly opts: PolicyManagerOptions) {
    this.clock = opts.clock ?? Date.now;
  }

  /**
   * Activates the first bundle: the source's, or else the cached last good one (re-verified). The
   * cached bundle is also the floor the source's candidate must not go below. Throws when neither
   * passes: an enforcement point does not serve without a verified policy.
   */
  async start(): Promise<ActiveBundle> {
    const cached = await this.loadCache();
    if (cached) this.active = { ...cached, activatedAt: this.clock(), from: 'cache' };
    this.approved = cached?.pointer;
    const result = await this.check();
    // `unchanged` here means the source still points at the cached bundle: it comes from the source.
    if (result === 'unchanged' && cached) await this.activate(cached, 'source');
    else if (result !== 'activated' && cached) await this.activate(cached, 'cache');
    if (result !== 'activated' && !cached) {
      this.active = undefined;
      const cache = this.cacheRefusal
        ? `; the cached bundle was refused: ${this.cacheRefusal.code}: ${this.cacheRefusal.message}`
        : '';
      throw new Error(
        `no policy bundle could be activated from ${this.opts.source.location}: ${this.lastError?.message ?? 'nothing to load'}${cache}`,
      );
    }
    return this.active!;
  }

  /** Checks the source now; concurrent callers share one check. */
  check(): Promise<CheckResult> {
    this.running ??= this.checkOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Checks the source every `poll_seconds`, and when the source says it changed. */
  startPolling(): void {
    const tick = () =>
      void this.check().catch((err: Error) =>
        this.opts.log('error', 'policy check failed', { error: err.message }),
      );
    this.timer = setInterval(tick, this.opts.policy.poll_seconds * 1000);
    this.timer.unref();
    this.opts.source.onChange?.(() => {
      if (this.timer !== undefined) tick();
    });
  }

  /** Stops polling and waits for a check in progress, so nothing is recorded after shutdown. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }

  /** This enforcement point's policy status, as it reports it. */
  status(): PepPolicyStatus {
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
    const { pep, policy, source } = this.opts;
    const a = this.active;
    return {
      pep: { id: pep.id, kind: pep.kind === 'sidecar' ? 'sidecar' : 'gateway', version: pep.version },
      policy: {
        name: policy.name,
        channel: policy.channel ?? null,
        source: source.location,
        active: a
          ? {
              name: a.manifest.name,
              revision: a.manifest.revision,
              digest: a.digest,
              seq: a.manifest.seq,
              channel_seq: a.pointer?.payload.channel_seq ?? null,
              activated_at: iso(a.activatedAt)!,
              from: a.from,
            }
          : null,
        last_check: iso(this.lastCheck),
        last_error: this.lastError
          ? { code: this.lastError.code, message: this.lastError.message, at: iso(this.lastError.at)! }
          : null,
      },
    };
  }

  private async checkOnce(): Promise<CheckResult> {
    const result = await this.checkSource();
    this.opts.onStatus?.(this.status());
    return result;
  }

  private async checkSource(): Promise<CheckResult> {
    const { source } = this.opts;
    this.lastCheck = this.clock();
    let pointer: Pointer | undefined;
    let files: BundleFiles;
    let key: string;
    try {
      if (source.readPointer) {
        const jws = await source.readPointer();
        if (jws === undefined) return this.unavailable(`channel ${source.channel} has no published pointer`);
        key = `pointer:${sha256Hex(jws)}`;
        if (key === this.handled) return this.unchanged();
        if (jws === this.active?.pointer?.jws) {
          // The source is back on the pointer in force (after a refused replay, say): nothing to do.
          this.handled = key;
          this.lastError = this.handledRefusal = undefined;
          return 'unchanged';
        }
        const checked = await checkPointer(jws, this.context());
        if (!checked.ok) return this.refused(key, checked, undefined, jws);
        pointer = checked.value;
        files = await source.readBundle(pointer.payload.bundle_digest);
      } else {
        files = await source.readBundle();
        key = `folder:${sha256Hex(canonicalJson([...files].map(([n, b]) => [n, sha256Hex(b)]).sort()))}`;
        if (key === this.handled) return this.unchanged();
      }
    } catch (err) {
      return this.unavailable((err as Error).message);
    }
    const candidate = await checkBundle(files, pointer, this.context());
    // A pointer without the approvals its channel demands approves nothing; any other refusal means
    // this PEP cannot run what the channel approved, which drift detection must see.
    if (pointer && (candidate.ok || candidate.code !== 'approvals_insufficient')) this.approved = pointer;
    if (!candidate.ok) return this.refused(key, candidate, files, pointer?.jws);
    this.handled = key;
    await this.activate(candidate.value, 'source');
    return 'activated';
  }

  private context(): ActivationContext {
    return { policy: this.opts.policy, trust: this.opts.trust, now: this.clock(), active: this.active };
  }

  private unchanged(): CheckResult {
    // A source that was unreachable is back: the status shows the handled candidate's refusal again.
    if (this.lastError?.code === 'source_unavailable') this.lastError = this.handledRefusal;
    return 'unchanged';
  }

  private unavailable(message: string): CheckResult {
    if (this.lastError?.code !== 'source_unavailable')
      this.opts.log('warn', 'policy source unavailable; keeping the active bundle', { error: message });
    this.lastError = { code: 'source_unavailable', message, at: this.clock() };
    return 'unavailable';
  }

  private async refused(
    key: string,
    refusal: Refusal,
    files?: BundleFiles,
    jws?: string,
  ): Promise<CheckResult> {
    this.handled = key;
    this.lastError = this.handledRefusal = { code: refusal.code, message: refusal.message, at: this.clock() };
    const a = this.active;
    this.opts.log('error', 'policy bundle refused; the last good bundle stays active', {
      code: refusal.code,
      message: refusal.message,
      active: a?.digest,
    });
    const pointer =
      jws === undefined
        ? undefined
        : (peekPayload(jws) as { channel_seq?: unknown; bundle_digest?: unknown } | undefined);
    await this.record({
      event: 'refused',
      bundle: describeFiles(files, pointer?.bundle_digest),
      channel: this.opts.policy.channel,
      channel_seq: typeof pointer?.channel_seq === 'number' ? pointer.channel_seq : undefined,
      from: 'source',
      source: this.opts.source.location,
      code: refusal.code,
      message: refusal.message,
      active: a && { digest: a.digest, name: a.manifest.name, revision: a.manifest.revision },
    });
    return 'refused';
  }

  private async activate(candidate: Candidate, from: 'source' | 'cache'): Promise<void> {
    const now = this.clock();
    this.active = { ...candidate, activatedAt: now, from };
    // From the cache, the reason the source was not used stays visible in status.
    if (from === 'source') this.lastError = this.handledRefusal = undefined;
    this.opts.onActivate?.(this.active);
    const { manifest, digest, pointer } = candidate;
    this.opts.log('info', 'policy bundle activated', {
      name: manifest.name,
      seq: manifest.seq,
      digest,
      from,
    });
    await this.record({
      event: 'activated',
      bundle: { digest, name: manifest.name, revision: manifest.revision, seq: manifest.seq },
      channel: pointer?.payload.channel,
      channel_seq: pointer?.payload.channel_seq,
      approved_by: pointer?.payload.approved_by,
      from,
      source: from === 'cache' ? (this.opts.cache?.dir ?? '') : this.opts.source.location,
      active: { digest, name: manifest.name, revision: manifest.revision },
    });
    if (from === 'source' && this.opts.cache) {
      await this.opts.cache
        .save(candidate.files, pointer?.jws, now)
        .catch((err: Error) =>
          this.opts.log('error', 'last good bundle not persisted', { error: err.message }),
        );
    }
  }

  /** The cached bundle, checked like any candidate (a cache is a convenience, never trusted blindly). */
  private async loadCache(): Promise<Candidate | undefined> {
    const { cache } = this.opts;
    const cached = await cache?.load().catch((err: Error) => {
      this.opts.log('warn', 'policy cache unreadable', { error: err.message });
      return undefined;
    });
    if (!cached) return undefined;
    let pointer: Pointer | undefined;
    if (this.opts.source.readPointer) {
      if (cached.pointer === undefined) return undefined;
      const checked = await checkPointer(cached.pointer, this.context());
      if (!checked.ok) return this.cacheRefused(checked);
      pointer = checked.value;
    }
    const candidate = await checkBundle(cached.files, pointer, this.context());
    return candidate.ok ? candidate.value : this.cacheRefused(candidate);
  }

  private cacheRefused(refusal: Refusal): undefined {
    this.cacheRefusal = refusal;
    this.opts.log('warn', 'cached policy bundle refused', { code: refusal.code, message: refusal.message });
    return undefined;
  }

  private async record(event: NonNullable<RecordBody['policy_event']>): Promise<void> {
    await this.opts.evidence
      ?.append(policyRecord(this.opts.pep, event, this.clock()))
      .catch((err: Error) => this.opts.log('error', 'policy record not written', { error: err.message }));
  }
}

/** What can be said about a refused bundle without trusting it. */
function describeFiles(
  files: BundleFiles | undefined,
  digest: unknown,
): NonNullable<RecordBody['policy_event']>['bundle'] {
  let manifest: { name?: unknown; revision?: unknown; seq?: unknown } = {};
  try {
    manifest = JSON.parse(files?.get(MANIFEST_FILE)?.toString('utf8') ?? '{}') as typeof manifest;
  } catch {
    // an unreadable manifest is described by the pointer alone
  }
  const out: NonNullable<RecordBody['policy_event']>['bundle'] = {};
  if (typeof digest === 'string' && /^sha256:[0-9a-f]{64}$/.test(digest)) out.digest = digest;
  if (typeof manifest.name === 'string') out.name = manifest.name;
  if (typeof manifest.revision === 'string') out.revision = manifest.revision;
  if (Number.isInteger(manifest.seq)) out.seq = manifest.seq as number;
  return out;
}
