import { hostname } from 'node:os';
import { checkConfig, type ResolvedConfig } from '../config/load-config.js';
import { ConfigError } from '../config/yaml-file.js';
import { createStatusReporter } from '../control/status-reporter.js';
import type { Identity } from '../core/identity.js';
import type { EvidenceLog } from '../evidence/evidence-log.js';
import type { PepInfo } from '../evidence/types.js';
import { Authenticator, type AuthResult } from '../identity/authenticate.js';
import { isHost, type CallerChannel } from '../identity/hosts.js';
import { semanticEnv } from '../pipeline/semantic-env.js';
import type { PolicySet } from '../policy/policy-set.js';
import { openPolicy, type PolicyRuntime } from '../policy/runtime/runtime.js';
import type { BundleSource } from '../policy/runtime/source.js';
import type { Logger } from '../util/log.js';
import { VERSION } from '../util/version.js';
import { DefinitionGuard } from './definition-guard.js';
import { callLimits } from './call-limits.js';
import { Enforcer, type Session } from './enforcer.js';
import { openEvidenceLog } from './open-evidence.js';
import { openApprovalStore } from '../approvals/open-store.js';
import { ApprovalService } from '../approvals/service.js';
import { consoleBaseUrl, createWebhookNotifier, type WebhookNotifier } from '../approvals/webhooks.js';
import { PepMetrics } from '../metrics/pep-metrics.js';
import { FileCounterStore } from '../pipeline/spend-file.js';
import { RedisCounterStore } from '../pipeline/redis-counters.js';
import { EvidenceStream } from '../control/evidence-stream.js';

/** How long shutdown waits for chain-close records and the final checkpoint before giving up. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

/** What an enforcement point needs to start its kernel. */
export interface KernelOptions {
  config: ResolvedConfig;
  kind: PepInfo['kind'];
  log: Logger;
  /** Milliseconds since the epoch for the pipeline; injectable for tests. */
  clock?: () => number;
  env?: NodeJS.ProcessEnv;
  /**
   * Runs once the evidence log is open and before the policy loads; may return where bundles come
   * from instead of the config's source (a sidecar's control channel delivers them).
   */
  beforePolicy?: (pep: PepInfo, evidence: EvidenceLog) => Promise<BundleSource | undefined>;
  /**
   * The enforcement point owns its process's event loop (the gateway, the stdio wrapper): a lone
   * call's fdatasync runs on it, saving the thread pool's hand-off there and back. Never in an
   * agent's own process, whose loop is the agent's.
   */
  inlineSync?: boolean;
  /** Runs at shutdown once every chain is closed, before the log is (a sidecar forwards its tail). */
  beforeEvidenceClose?: () => Promise<void>;
}

/**
 * The enforcement-point kernel the gateway and the sidecar both run: evidence log, policy,
 * authenticator and enforcer, the sessions open on them, and an orderly shutdown. Transports stay
 * outside: an entry point connects callers to `openSession` and governs their calls through `enforcer`.
 */
export interface Kernel {
  pep: PepInfo;
  evidence: EvidenceLog;
  /** The policy in force and its source: sources, or signed bundles with hot reload. */
  policy: PolicyRuntime;
  enforcer: Enforcer;
  /** Approval requests, verdicts and waivers: what approver channels (admin API, CLI) decide through. */
  approvals: ApprovalService;
  /**
   * Answers every held call `approval_interrupted` (its request stays decidable): call first at
   * shutdown, while the transports can still deliver the answers.
   */
  interruptHeld(): Promise<void>;
  /** Reviews downstream tool lists as they load: first-seen digests, poisoned definitions, drift records. */
  definitions: DefinitionGuard;
  /** This enforcement point's Prometheus metrics (a registry of its own). */
  metrics: PepMetrics;
  /** Turns a bearer token (or none: the default agent, unverified) into an identity. */
  authenticate(token: string | undefined): Promise<AuthResult>;
  /**
   * Opens a session (its chain's open record) and keeps it until `closeSession` or shutdown. The
   * channel says how the caller reached us: whether it may be a host (`identity.hosts`) depends on it.
   */
  openSession(identity: Identity, id: string, channel: CallerChannel): Promise<Session>;
  /** Writes the session's chain-close record and a checkpoint; a second call does nothing more. */
  closeSession(session: Session): Promise<void>;
  /** Calls `listener` after a new policy is in force (which tools an agent may see can change). */
  onPolicyChange(listener: (policy: PolicySet) => void): void;
  /** Starts polling the policy source and reporting status: call once the entry point serves. */
  start(): void;
  /**
   * Closes every open session (each chain gets its close record), stops the policy, and closes the
   * evidence log with a final signed checkpoint, within SHUTDOWN_TIMEOUT_MS. Call after the entry
   * point's transports have stopped accepting calls.
   */
  close(): Promise<void>;
}

/** Starts the kernel: nothing is governed before the evidence log and the policy are both in place. */
export async function openKernel(opts: KernelOptions): Promise<Kernel> {
  const { config, log } = opts;
  const env = opts.env ?? process.env;
  const pep: PepInfo = {
    id: config.pep.id ?? `${opts.kind}@${hostname()}`,
    kind: opts.kind,
    version: VERSION,
  };
  const configProblems = checkConfig(config);
  if (configProblems.length > 0) throw new ConfigError(configProblems);

  const metrics = new PepMetrics();
  // First, so that a bundle's activation (or refusal) is evidence, and so that a second enforcement
  // point on the same folder stops here, before it starts anything else.
  const evidence = await openEvidenceLog(config, pep.id, log, undefined, metrics.evidence);
  let policy: PolicyRuntime;
  let authenticator: Authenticator;
  let approvals: ApprovalService;
  let webhooks: WebhookNotifier;
  let counters: FileCounterStore | RedisCounterStore | undefined;
  // Every durable record also goes to the JetStream evidence stream when one is configured; the local
  // log stays the spool, so the stream catches up after an outage or a crash.
  const stream =
    config.state.evidence_stream === undefined
      ? undefined
      : EvidenceStream.start({
          url: config.state.evidence_stream,
          source: evidence,
          pep,
          jwks: evidence.publicJwks,
          log,
        });
  try {
    // Shared counters on Redis when configured; else daily spend totals come back from the state
    // folder, so a restart does not reset a spend cap.
    counters =
      config.state.counters === undefined
        ? await FileCounterStore.open(config.state.dir, { clock: opts.clock, log })
        : await RedisCounterStore.open(config.state.counters, { log });
    // PostgreSQL when configured (replicas share it); a schema not migrated to this build refuses the start.
    const store = await openApprovalStore(config.state);
    approvals = new ApprovalService({
      store,
      config: config.approvals,
      evidence,
      pep,
      log,
      clock: opts.clock,
    });
    // Approvers hear of each new request through the configured webhooks, in the background.
    webhooks = createWebhookNotifier({
      webhooks: config.approvals.webhooks,
      consoleBase: consoleBaseUrl(config.admin),
      env,
      log,
    });
    approvals.onCreated((request) => webhooks.notify(request));
    approvals.onSettled((request, event) => metrics.approvalSettled(request, event));
    const source = await opts.beforePolicy?.(pep, evidence);
    policy = await openPolicy(config, {
      pep,
      evidence,
      log,
      clock: opts.clock,
      env,
      source,
      statusExtras: () => ({ waivers: approvals.activeWaivers() }),
    });
    const agentIds = new Set(policy.initial.agents.file.agents.map((a) => a.id));
    const problems = checkConfig(config, agentIds);
    if (problems.length > 0) throw new ConfigError(problems);
    authenticator = await Authenticator.create(config.identity);
  } catch (err) {
    await counters?.close();
    await evidence.close();
    await stream?.close();
    throw err;
  }
  const token = config.policy.token_env === undefined ? undefined : env[config.policy.token_env];
  if (config.policy.report !== undefined && token !== undefined) {
    const report = createStatusReporter(config.policy.report, token, log);
    policy.onStatus((status) => void report(status));
  }

  const { history } = config.semantic;
  const enforcer = new Enforcer({
    policy: policy.initial,
    evidence,
    pep,
    log,
    clock: opts.clock,
    defaultMode: config.mode,
    paths: config.paths,
    roots: Object.fromEntries(
      Object.entries(config.servers).map(([name, server]) => [name, 'roots' in server ? server.roots : []]),
    ),
    semantic: semanticEnv(config),
    history: { calls: history.calls, resultChars: history.result_chars },
    limits: callLimits(config.limits),
    approvals,
    metrics,
    counters,
  });
  // A lone call's decision record is synced on the event loop (no thread hand-off); under load, on
  // the thread pool while the loop decides the next calls.
  if (opts.inlineSync === true) evidence.syncInlineWhen(() => enforcer.callsInFlight <= 1);
  const definitions = new DefinitionGuard({
    settings: (server) => ({ ...config.definitions, ...config.servers[server]?.definitions }),
    evidence,
    pep,
    log,
    policy: () => enforcer.policy,
    clock: opts.clock,
  });
  const listeners: ((policy: PolicySet) => void)[] = [];
  // A new bundle swaps in as a whole; calls in flight keep the policy they started with.
  policy.onActivate((next) => {
    enforcer.policy = next;
    metrics.policyActive(next.bundle);
    for (const listener of listeners) listener(next);
  });

  const open = new Set<Session>();
  metrics.policyActive(policy.initial.bundle);
  metrics.watch({
    sessions: () => open.size,
    pendingApprovals: async () => (await approvals.store.list({ state: 'pending' })).length,
    evidence,
    stream: stream && (() => stream.lag),
  });
  const closing = new Map<Session, Promise<void>>();
  const closeSession = (session: Session): Promise<void> => {
    const pending = closing.get(session);
    if (pending) return pending;
    if (!open.delete(session)) return Promise.resolve();
    const done = enforcer
      .closeSession(session)
      .catch((err: Error) => log('error', 'chain close not recorded', { error: err.message }));
    closing.set(session, done);
    return done;
  };

  let shutdown: Promise<void> | undefined;
  return {
    pep,
    evidence,
    policy,
    enforcer,
    approvals,
    interruptHeld: () => approvals.interruptAll(),
    definitions,
    metrics,
    authenticate: (token) => authenticator.authenticate(token, enforcer.policy.agents),
    async openSession(identity, id, channel) {
      const host = isHost(identity, config.identity.hosts, channel);
      const session = await enforcer.openSession(identity, id, host);
      open.add(session);
      log('info', 'session opened', {
        session: id,
        agent: identity.agentId,
        verified: identity.verified,
        host,
      });
      return session;
    },
    closeSession,
    onPolicyChange: (listener) => listeners.push(listener),
    start() {
      policy.start();
      approvals.start();
    },
    close() {
      shutdown ??= (async () => {
        // Held calls first, while their sessions can still carry the answer (a no-op when the entry
        // point already interrupted them).
        await approvals.interruptAll();
        const sessions = Promise.all([...open].map(closeSession)).then(() => Promise.all(closing.values()));
        if (!(await within(sessions, SHUTDOWN_TIMEOUT_MS))) {
          log('error', 'shutdown: chain-close records still pending; closing the log without them', {
            sessions: open.size + closing.size,
          });
        }
        webhooks.stop();
        // Every session is closed, so no call can charge spend any more: the last totals are final.
        await counters
          .close()
          .catch((err: Error) => log('error', 'spend totals not persisted', { error: err.message }));
        await approvals
          .close()
          .catch((err: Error) => log('error', 'approvals store not closed', { error: err.message }));
        await policy.close();
        await opts
          .beforeEvidenceClose?.()
          .catch((err: Error) => log('error', 'shutdown step failed', { error: err.message }));
        // The log's close writes what is pending and signs a last checkpoint over all of it.
        await evidence.close();
        // Then the stream gets the rest, the final checkpoint included (what it cannot take in time
        // is sent at the next start).
        await stream?.close();
      })();
      return shutdown;
    },
  };
}

/** Whether `work` settles within `ms`. */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
