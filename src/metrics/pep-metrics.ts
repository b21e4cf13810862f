import { Gauge, Histogram, Registry } from 'prom-client';
import type { SettledEvent } from '../approvals/service.js';
import type { ApprovalRequest } from '../approvals/types.js';
import type { Decision, SemanticFinding } from '../core/decision.js';
import type { EvidenceObserver } from '../evidence/observer.js';
import type { EvidenceRecord } from '../evidence/types.js';
import type { BundleRef } from '../policy/policy-set.js';
import { BoundedLabel, SlotCounter, type CounterSlot } from './slots.js';

/** Distinct tool label values kept by default; past it, tools share `tool="other"`. */
export const DEFAULT_TOOL_LABELS = 1000;
/** Distinct deny reasons kept: ours are a fixed table, rules add their own, bounded by the policy. */
const REASON_LABELS = 200;
/** Distinct downstream server names kept (they come from the config). */
const SERVER_LABELS = 100;
/** Distinct semantic verifier names kept (heuristic, llm, replay). */
const VERIFIER_LABELS = 16;
/** The tool and server label of a call to a tool no downstream server offers (the name is the caller's). */
export const UNKNOWN = 'unknown';

// Buckets in seconds. The pipeline decides in tens of microseconds (stage 2 in about a millisecond);
// an fdatasync takes from a few hundred microseconds (SSD) to tens of milliseconds (cloud disks); a
// call includes the downstream server and, for a held call, the person approving it.
const DECISION_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];
const CALL_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];
const DISK_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const SEMANTIC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10];
const APPROVAL_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 14400, 86400];

const EFFECT_INDEX = { allow: 0, escalate: 1, deny: 2 } as const;
const SLOTS_PER_TOOL = 12; // 3 effects x 2 modes x enforced or not

/** A tool label's slots, per server (a sidecar's unprefixed names can repeat across servers). */
interface ToolSlots {
  tool: string;
  servers: Map<string, (CounterSlot | undefined)[]>;
}

/** The live state the gauges read when scraped. */
export interface MetricSources {
  /** Sessions open at the enforcement point. */
  sessions?: () => number;
  /** Approval requests waiting for a verdict. */
  pendingApprovals?: () => Promise<number>;
  /** The evidence stream's state, when one is configured. */
  stream?: () => { connected: boolean; records: number; seconds: number };
  /** The evidence log: its last signed checkpoint, and how much of it that covers. */
  evidence?: {
    readonly lastCheckpointAt: number | undefined;
    readonly covered: number;
    readonly count: number;
  };
}

/**
 * The Prometheus metrics of one enforcement point, in a registry of its own (never prom-client's
 * global one: two enforcement points in one process keep their own numbers). Label sets are bounded:
 * no arguments, session or request ids; tool names only as exposed names a downstream server offers,
 * at most `toolLabels` of them. The per-call path adds to pre-bound counter slots and observes
 * unlabelled histograms; everything else is read when the registry is scraped.
 */
export class PepMetrics {
  /** The registry `/metrics` serves. */
  readonly registry = new Registry();
  private readonly calls: SlotCounter<'server' | 'tool' | 'effect' | 'mode' | 'enforced'>;
  private readonly tools: BoundedLabel<ToolSlots>;
  private readonly denyReasons: BoundedLabel<CounterSlot>;
  private readonly decisionSeconds: Histogram;
  private readonly callSeconds: Histogram;
  private readonly appendSeconds: Histogram;
  private readonly fsyncSeconds: Histogram;
  private readonly recordKinds: BoundedLabel<CounterSlot>;
  private readonly appendFailures: CounterSlot;
  private readonly driftCauses: BoundedLabel<CounterSlot>;
  private readonly policyEvents: BoundedLabel<CounterSlot>;
  private readonly bundleInfo: Gauge<'name' | 'revision' | 'digest'>;
  private readonly downstreamUp: Gauge<'server'>;
  private readonly restarts: BoundedLabel<CounterSlot>;
  private readonly approvalsDecided: BoundedLabel<CounterSlot>;
  private readonly approvalsLapsed: BoundedLabel<CounterSlot>;
  private readonly approvalSeconds: Histogram<'verdict'>;
  private readonly verifiers: BoundedLabel<{ verifier: string; verdicts: BoundedLabel<CounterSlot> }>;
  private readonly semanticSeconds: Histogram<'verifier'>;
  private sources: MetricSources = {};
  private readonly startedAt = Date.now();

  constructor(opts: { toolLabels?: number } = {}) {
    const registers = [this.registry];
    const sourcesOf = () => this.sources;
    const slotCounter = <L extends string>(name: string, help: string, labels: readonly L[]) =>
      new SlotCounter<L>(this.registry, name, help, labels);
    const histogram = <L extends string = never>(
      name: string,
      help: string,
      buckets: number[],
      labelNames: readonly L[] = [],
    ) => new Histogram<L>({ name, help, buckets, labelNames, registers });
    /** A counter with one label whose values are capped. */
    const bounded = (name: string, help: string, label: string, cap: number) => {
      const counter = slotCounter(name, help, [label]);
      return new BoundedLabel(cap, (value) => counter.slot({ [label]: value }));
    };

    this.calls = slotCounter(
      'mcpgov_tool_calls_total',
      'tools/call requests decided (a decision record written), by server, exposed tool name, effect, mode and whether the effect was enforced',
      ['server', 'tool', 'effect', 'mode', 'enforced'],
    );
    this.tools = new BoundedLabel(opts.toolLabels ?? DEFAULT_TOOL_LABELS, (tool) => ({
      tool,
      servers: new Map(),
    }));
    this.denyReasons = bounded(
      'mcpgov_deny_reasons_total',
      'Decisions with effect deny (enforced or observed), by deciding reason code',
      'reason',
      REASON_LABELS,
    );
    this.decisionSeconds = histogram(
      'mcpgov_decision_duration_seconds',
      "The pipeline's evaluation time per decided call (stage 1, and stage 2 where it ran)",
      DECISION_BUCKETS,
    );
    this.callSeconds = histogram(
      'mcpgov_call_duration_seconds',
      'Time from taking a tools/call to answering it: decision, evidence, downstream call and any hold for approval',
      CALL_BUCKETS,
    );
    this.appendSeconds = histogram(
      'mcpgov_evidence_append_duration_seconds',
      'Time from appending an evidence record until it is written and as durable as evidence.fsync promises',
      DISK_BUCKETS,
    );
    this.fsyncSeconds = histogram(
      'mcpgov_evidence_fdatasync_duration_seconds',
      "Time one fdatasync of the evidence log's segment takes (one per group of records under fsync: batch)",
      DISK_BUCKETS,
    );
    this.recordKinds = bounded(
      'mcpgov_evidence_records_total',
      'Evidence records written to the log, by kind',
      'kind',
      32,
    );
    this.appendFailures = slotCounter(
      'mcpgov_evidence_append_failures_total',
      'Evidence appends refused (record not written): their calls were answered evidence_unavailable',
      [],
    ).slot({});
    this.driftCauses = bounded(
      'mcpgov_drift_events_total',
      'Drift records written (a PEP off its approved bundle or silent, a tool definition changed), by cause',
      'cause',
      16,
    );
    this.policyEvents = bounded(
      'mcpgov_policy_events_total',
      'Policy bundles activated or refused (policy records written), by event',
      'event',
      8,
    );
    this.bundleInfo = new Gauge({
      name: 'mcpgov_policy_bundle_info',
      help: 'The policy bundle in force: always 1, with its name, revision and digest as labels',
      labelNames: ['name', 'revision', 'digest'],
      registers,
    });
    this.downstreamUp = new Gauge({
      name: 'mcpgov_downstream_up',
      help: 'Whether a downstream server is connected and serving (1) or down, starting or restarting (0)',
      labelNames: ['server'],
      registers,
    });
    this.restarts = bounded(
      'mcpgov_downstream_restarts_total',
      'Restarts of a downstream server after it went away',
      'server',
      SERVER_LABELS,
    );
    new Gauge({
      name: 'mcpgov_approvals_pending',
      help: 'Approval requests waiting for a verdict',
      registers,
      collect: async function (this: Gauge) {
        const pending = await sourcesOf()
          .pendingApprovals?.()
          .catch(() => undefined);
        if (pending !== undefined) this.set(pending);
      },
    });
    this.approvalsDecided = bounded(
      'mcpgov_approvals_decided_total',
      'Approval requests decided by a person, by verdict',
      'verdict',
      4,
    );
    this.approvalsLapsed = bounded(
      'mcpgov_approvals_lapsed_total',
      'Approval requests that ended without a verdict, by state (expired, withdrawn)',
      'state',
      4,
    );
    this.approvalSeconds = histogram(
      'mcpgov_approvals_time_to_decision_seconds',
      'Time from an approval request to its verdict, by verdict (time to approve: verdict="approve")',
      APPROVAL_BUCKETS,
      ['verdict'],
    );
    const verdicts = slotCounter(
      'mcpgov_semantic_verdicts_total',
      'Semantic (stage 2) verdicts, by verifier and verdict (failed: the verifier failed or timed out)',
      ['verifier', 'verdict'],
    );
    this.verifiers = new BoundedLabel(VERIFIER_LABELS, (verifier) => ({
      verifier,
      verdicts: new BoundedLabel(8, (verdict) => verdicts.slot({ verifier, verdict })),
    }));
    this.semanticSeconds = histogram(
      'mcpgov_semantic_duration_seconds',
      'Time a semantic verifier took to judge a call, by verifier (verdicts served from the cache excluded)',
      SEMANTIC_BUCKETS,
      ['verifier'],
    );
    new Gauge({
      name: 'mcpgov_sessions_open',
      help: 'Sessions open at the enforcement point',
      registers,
      collect: function (this: Gauge) {
        const sessions = sourcesOf().sessions;
        if (sessions) this.set(sessions());
      },
    });
    const startedAt = this.startedAt;
    new Gauge({
      name: 'mcpgov_evidence_checkpoint_age_seconds',
      help: 'Seconds since the last signed checkpoint of the evidence log (since start when it has none)',
      registers,
      collect: function (this: Gauge) {
        const evidence = sourcesOf().evidence;
        if (evidence) this.set(Math.max(0, (Date.now() - (evidence.lastCheckpointAt ?? startedAt)) / 1000));
      },
    });
    new Gauge({
      name: 'mcpgov_evidence_uncovered_records',
      help: 'Evidence records written since the last signed checkpoint',
      registers,
      collect: function (this: Gauge) {
        const evidence = sourcesOf().evidence;
        if (evidence) this.set(Math.max(0, evidence.count - evidence.covered));
      },
    });
    new Gauge({
      name: 'mcpgov_evidence_stream_connected',
      help: 'Whether the evidence stream (NATS JetStream) takes records: 1 yes, 0 no (also 0 when none is configured)',
      registers,
      collect: function (this: Gauge) {
        const stream = sourcesOf().stream;
        if (stream) this.set(stream().connected ? 1 : 0);
      },
    });
    new Gauge({
      name: 'mcpgov_evidence_stream_lag_records',
      help: 'Durable evidence records the evidence stream has not acknowledged yet',
      registers,
      collect: function (this: Gauge) {
        const stream = sourcesOf().stream;
        if (stream) this.set(stream().records);
      },
    });
    new Gauge({
      name: 'mcpgov_evidence_stream_lag_seconds',
      help: 'Seconds the oldest record not yet in the evidence stream has waited (0 when caught up)',
      registers,
      collect: function (this: Gauge) {
        const stream = sourcesOf().stream;
        if (stream) this.set(stream().seconds);
      },
    });
  }

  /** Gives the gauges the live state they read when scraped. */
  watch(sources: MetricSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  /**
   * Counts a decided call (its decision record written). `tool` is the downstream tool it named, or
   * undefined when no server offers one by that name; `evalMicros` the pipeline's time, when it ran.
   */
  decided(tool: { name: string; server: string } | undefined, decision: Decision, evalMicros?: number): void {
    const slots = this.toolSlots(tool?.name ?? UNKNOWN, tool?.server ?? UNKNOWN);
    const index =
      EFFECT_INDEX[decision.effect] * 4 + (decision.mode === 'enforce' ? 2 : 0) + (decision.enforced ? 1 : 0);
    let slot = slots[index];
    if (slot === undefined) slot = slots[index] = this.callSlot(tool, decision);
    slot.value += 1;
    if (decision.effect === 'deny') this.denyReasons.get(decision.reasons[0] ?? 'internal_error').value += 1;
    if (evalMicros !== undefined) this.decisionSeconds.observe(evalMicros / 1e6);
    if (decision.semantic) this.judged(decision.semantic);
  }

  /** Observes one call's time from being taken to being answered. */
  answered(seconds: number): void {
    this.callSeconds.observe(seconds);
  }

  /** What the evidence log tells as it writes. */
  readonly evidence: EvidenceObserver = {
    written: (record: EvidenceRecord) => {
      this.recordKinds.get(record.kind).value += 1;
      if (record.kind === 'drift' && record.drift) this.driftCauses.get(record.drift.cause).value += 1;
      if (record.kind === 'policy' && record.policy_event)
        this.policyEvents.get(record.policy_event.event).value += 1;
    },
    appended: (seconds) => this.appendSeconds.observe(seconds),
    refused: () => {
      this.appendFailures.value += 1;
    },
    synced: (seconds) => this.fsyncSeconds.observe(seconds),
  };

  /** The policy bundle now in force (the one before it leaves the info metric). */
  policyActive(bundle: BundleRef): void {
    this.bundleInfo.reset();
    this.bundleInfo.set({ name: bundle.name, revision: bundle.revision, digest: bundle.digest }, 1);
  }

  /** A downstream server's connection state changed; `restarted` when it is starting again after going away. */
  downstreamState(server: string, up: boolean, restarted = false): void {
    this.downstreamUp.set({ server }, up ? 1 : 0);
    if (restarted) this.restarts.get(server).value += 1;
  }

  /** An approval request this enforcement point recorded as decided, expired or withdrawn. */
  approvalSettled(request: ApprovalRequest, event: SettledEvent): void {
    if (event !== 'decided') {
      this.approvalsLapsed.get(event).value += 1;
      return;
    }
    const verdict = request.verdict;
    if (!verdict) return;
    this.approvalsDecided.get(verdict.verdict).value += 1;
    const seconds = (Date.parse(verdict.at) - Date.parse(request.created_at)) / 1000;
    if (Number.isFinite(seconds))
      this.approvalSeconds.observe({ verdict: verdict.verdict }, Math.max(0, seconds));
  }

  /** The exposition text (Prometheus text format 0.0.4) and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private judged(finding: SemanticFinding): void {
    const verdict = finding.error === undefined ? finding.verdict : 'failed';
    const { verifier, verdicts } = this.verifiers.get(finding.verifier);
    verdicts.get(verdict).value += 1;
    if (!finding.cache_hit) this.semanticSeconds.observe({ verifier }, finding.latency_ms / 1000);
  }

  private toolSlots(name: string, server: string): (CounterSlot | undefined)[] {
    const entry = this.tools.get(name);
    let slots = entry.servers.get(server);
    if (slots === undefined) {
      slots = new Array<CounterSlot | undefined>(SLOTS_PER_TOOL);
      entry.servers.set(server, slots);
    }
    return slots;
  }

  private callSlot(tool: { name: string; server: string } | undefined, decision: Decision): CounterSlot {
    return this.calls.slot({
      server: tool?.server ?? UNKNOWN,
      tool: this.tools.get(tool?.name ?? UNKNOWN).tool,
      effect: decision.effect,
      mode: decision.mode,
      enforced: String(decision.enforced),
    });
  }
}
