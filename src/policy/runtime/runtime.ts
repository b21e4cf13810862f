import type { ResolvedConfig } from '../../config/load-config.js';
import type { EvidenceSink } from '../../evidence/types.js';
import type { Logger } from '../../util/log.js';
import { loadPolicySet, type PolicySet } from '../policy-set.js';
import type { ActiveBundle } from './activation.js';
import { PolicyCache } from './cache.js';
import { usesBundles } from '../../config/check-policies.js';
import { PolicyManager } from './manager.js';
import type { PepInfo } from '../../evidence/types.js';
import type { PointerPayload } from '../bundle/schema.js';
import { createBundleSource, type BundleSource } from './source.js';
import type { PepPolicyStatus } from './status.js';
import { loadTrust } from '../bundle/trust.js';

/** An enforcement point's policy, from sources or from signed bundles, and its status. */
export interface PolicyRuntime {
  /** The policy to start with. */
  initial: PolicySet;
  /** Present when bundles are loaded: it swaps policies as new bundles activate. */
  manager?: PolicyManager;
  /** Registers what to do when a new policy activates (the PEP swaps `enforcer.policy`). */
  onActivate(listener: (policy: PolicySet, active: ActiveBundle) => void): void;
  /** Registers a listener for every status update (after each check of the source). */
  onStatus(listener: (status: PepPolicyStatus) => void): void;
  /** The current status. */
  status(): PepPolicyStatus;
  /** The channel's approved pointer as this PEP last verified it. */
  approved(): PointerPayload | undefined;
  /** Starts polling the source (bundle mode) and reporting status; call once the PEP serves. */
  start(): void;
  /** Stops polling; resolves once a check in progress has finished. */
  close(): Promise<void>;
}

/** What `openPolicy` needs besides the config. */
export interface OpenPolicyOptions {
  pep: PepInfo;
  evidence?: EvidenceSink;
  log: Logger;
  clock?: () => number;
  env?: NodeJS.ProcessEnv;
  /** Where bundles come from instead of the one the config names (a sidecar's control channel). */
  source?: BundleSource;
  /** What the PEP adds to each status report besides the policy: the waivers in force. */
  statusExtras?: () => Pick<PepPolicyStatus, 'waivers'>;
}

/**
 * Loads what an enforcement point enforces: the sources directly, or (with `policies.bundle` or
 * `policies.channel`) the newest bundle that passes every activation check, else the cached last
 * good one. Throws when there is nothing valid to enforce.
 */
export async function openPolicy(config: ResolvedConfig, opts: OpenPolicyOptions): Promise<PolicyRuntime> {
  const { policy } = config;
  const clock = opts.clock ?? Date.now;
  const env = opts.env ?? process.env;
  const token = policy.token_env === undefined ? undefined : env[policy.token_env];
  if (policy.token_env !== undefined && !token)
    throw new Error(`policies.token_env: environment variable ${policy.token_env} is not set`);
  const activateListeners: ((policy: PolicySet, active: ActiveBundle) => void)[] = [];
  const statusListeners: ((status: PepPolicyStatus) => void)[] = [];
  const publish = (status: PepPolicyStatus) => {
    const full = { ...status, ...opts.statusExtras?.() };
    for (const l of statusListeners) l(full);
  };

  if (!usesBundles(policy)) {
    const initial = await loadPolicySet({ registries: config.registries, policies: config.policies });
    const startedAt = new Date(clock()).toISOString();
    const status = (): PepPolicyStatus => ({
      pep: {
        id: opts.pep.id,
        kind: opts.pep.kind === 'sidecar' ? 'sidecar' : 'gateway',
        version: opts.pep.version,
      },
      policy: {
        name: initial.bundle.name,
        channel: null,
        source: config.policies,
        active: { ...initial.bundle, seq: 0, channel_seq: null, activated_at: startedAt, from: 'sources' },
        last_check: startedAt,
        last_error: null,
      },
    });
    let timer: NodeJS.Timeout | undefined;
    return {
      initial,
      onActivate: (l) => activateListeners.push(l),
      onStatus: (l) => statusListeners.push(l),
      status,
      approved: () => undefined,
      start() {
        publish(status());
        // Sources never change under a running PEP; reporting keeps it from looking silent.
        timer = setInterval(() => publish(status()), policy.poll_seconds * 1000);
        timer.unref();
      },
      close: async () => clearInterval(timer),
    };
  }

  const manager = new PolicyManager({
    policy,
    trust: await loadTrust(policy),
    source: opts.source ?? createBundleSource(policy, token),
    cache: new PolicyCache(policy.cache),
    evidence: opts.evidence,
    pep: opts.pep,
    log: opts.log,
    clock,
    onActivate: (active) => {
      for (const l of activateListeners) l(active.policy, active);
    },
    onStatus: publish,
  });
  const active = await manager.start();
  return {
    initial: active.policy,
    manager,
    onActivate: (l) => activateListeners.push(l),
    onStatus: (l) => statusListeners.push(l),
    status: () => manager.status(),
    approved: () => manager.approved?.payload,
    start() {
      publish(manager.status());
      manager.startPolling();
    },
    close: () => manager.stop(),
  };
}
