import { randomUUID } from 'node:crypto';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ResolvedConfig } from '../src/config/load-config.js';
import { connectControlChannel, type ControlClient } from '../src/control/channel-client.js';
import { openKernel, type Kernel } from '../src/pep/kernel.js';
import type { PepInfo } from '../src/evidence/types.js';
import { createLogger, type Logger } from '../src/util/log.js';
import { GovernedTransport } from './governed-transport.js';

export interface SidecarOptions {
  config: ResolvedConfig;
  /** The gateway's control channel (ws://HOST:PORT/control); overrides `control.gateway` in the config. */
  gateway?: string;
  log?: Logger;
  /** Injected clock for the pipeline (tests). */
  clock?: () => number;
  env?: NodeJS.ProcessEnv;
  /**
   * The sidecar has a process of its own (the stdio wrapper), so a lone call's fdatasync may run on
   * its event loop; in an agent's process the loop is the agent's, and it never blocks there.
   */
  ownProcess?: boolean;
}

/** How one governed connection is named and who is calling on it. */
export interface GovernOptions {
  /** Name of the governed server in the registry and in evidence (default `local`). */
  server?: string;
  /** Expose tools and prompts as `<server>__<name>` instead of their own names (default false). */
  prefix?: boolean;
  /** The caller's bearer token; without one, the config's default agent (marked unverified). */
  token?: string;
  /** Session (chain) id; a random one by default. */
  sessionId?: string;
}

/** A running sidecar: one agent's enforcement point, beside the agent, with its own evidence log. */
export interface Sidecar extends Pick<Kernel, 'enforcer' | 'evidence' | 'policy' | 'approvals'> {
  pep: PepInfo;
  /** The control channel to the gateway, when configured. */
  control?: ControlClient;
  /**
   * Governs a client transport: connect the agent's SDK `Client` to the returned transport instead
   * of the original, and every `tools/call` goes through the pipeline.
   */
  govern(transport: Transport, options?: GovernOptions): Promise<GovernedTransport>;
  close(): Promise<void>;
}

/**
 * Starts a sidecar: the same kernel as the gateway (policy, pipeline, evidence format), in the agent's
 * own process or in `mcpgov sidecar`'s stdio wrapper, with a control channel to a gateway if set.
 */
export async function startSidecar(opts: SidecarOptions): Promise<Sidecar> {
  const { config } = opts;
  const env = opts.env ?? process.env;
  const log = opts.log ?? createLogger('sidecar');
  let control: ControlClient | undefined;
  const kernel = await openKernel({
    config,
    kind: 'sidecar',
    log,
    clock: opts.clock,
    inlineSync: opts.ownProcess === true,
    env,
    beforePolicy: async (pep, evidence) => {
      const channel = await connectControlChannel({ config, gateway: opts.gateway, env, pep, evidence, log });
      control = channel?.client;
      return channel?.source;
    },
    beforeEvidenceClose: async () => {
      await kernel.evidence.checkpoint();
      await control?.drain(2000);
      await control?.close();
    },
  }).catch(async (err: unknown) => {
    await control?.close();
    throw err;
  });
  kernel.policy.onStatus((status) => control?.sendStatus(status));
  const governed = new Set<GovernedTransport>();
  kernel.onPolicyChange(() => {
    for (const t of governed) t.policyChanged();
  });
  kernel.start();

  return {
    enforcer: kernel.enforcer,
    approvals: kernel.approvals,
    evidence: kernel.evidence,
    policy: kernel.policy,
    pep: kernel.pep,
    control,
    async govern(transport, options = {}) {
      const auth = await kernel.authenticate(options.token);
      if (!auth.ok) throw new Error(`caller not authenticated: ${auth.message}`);
      // The caller is the program that runs this sidecar: in process, or the stdio wrapper's launcher.
      const session = await kernel.openSession(auth.identity, options.sessionId ?? randomUUID(), 'launcher');
      const wrapped = new GovernedTransport(transport, {
        enforcer: kernel.enforcer,
        session,
        server: options.server ?? 'local',
        definitions: kernel.definitions,
        prefix: options.prefix ?? false,
      });
      governed.add(wrapped);
      // The SDK's Protocol keeps an onclose set before connect and calls it first, so the session's
      // chain closes when the connection ends.
      wrapped.onclose = () => {
        governed.delete(wrapped);
        void kernel.closeSession(session);
      };
      return wrapped;
    },
    close: () => kernel.close(),
  };
}
