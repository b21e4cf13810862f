import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { checkConfig, type ResolvedConfig } from '../src/config/load-config.js';
import { ConfigError } from '../src/config/yaml-file.js';
import type { EvidenceLog } from '../src/evidence/evidence-log.js';
import { openEvidenceLog } from '../src/evidence/open-log.js';
import { Authenticator } from '../src/identity/authenticate.js';
import { createEnforcer } from '../src/pep/create-enforcer.js';
import type { Enforcer, Session } from '../src/pep/enforcer.js';
import type { PepInfo } from '../src/pep/records.js';
import { openPolicy, type PolicyRuntime } from '../src/policy/bundle/runtime.js';
import type { Identity } from '../src/pipeline/types.js';
import { createLogger, type Logger } from '../src/util/log.js';
import { VERSION } from '../src/util/version.js';
import { ControlChannelSource, ControlClient } from './control-client.js';
import { GovernedTransport } from './governed-transport.js';

export interface SidecarOptions {
  config: ResolvedConfig;
  /** The gateway's control channel (ws://HOST:PORT/control); overrides `control.gateway` in the config. */
  gateway?: string;
  log?: Logger;
  /** Injected clock for the pipeline (tests). */
  clock?: () => number;
  env?: NodeJS.ProcessEnv;
}

/** How long a sidecar that follows a channel over the control channel waits for its first bundle. */
const FIRST_POLICY_WAIT_MS = 10_000;

/** How one governed connection is named and who is calling on it. */
export interface GovernOptions {
  /** Name of the governed server in the registry and in evidence (default `local`). */
  server?: string;
  /** Expose tools as `<server>__<tool>` instead of their own names (default false). */
  prefix?: boolean;
  /** The caller's bearer token; without one, the config's default agent (marked unverified). */
  token?: string;
  /** Session (chain) id; a random one by default. */
  sessionId?: string;
}

/** A running sidecar: one agent's enforcement point, beside the agent, with its own evidence log. */
export interface Sidecar {
  enforcer: Enforcer;
  evidence: EvidenceLog;
  pep: PepInfo;
  /** The policy in force and its source (sources, a bundle, a channel, or the control channel). */
  policy: PolicyRuntime;
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
 * Starts a sidecar: the same policy, pipeline and evidence format as the gateway, in the agent's
 * own process (or in `mcpgov sidecar`'s stdio wrapper). Nothing is governed before the evidence log
 * and the policy are both in place.
 */
export async function startSidecar(opts: SidecarOptions): Promise<Sidecar> {
  const { config } = opts;
  const env = opts.env ?? process.env;
  const log = opts.log ?? createLogger('sidecar');
  const pep: PepInfo = { id: config.pep.id ?? `sidecar@${hostname()}`, kind: 'sidecar', version: VERSION };
  const configProblems = checkConfig(config);
  if (configProblems.length > 0) throw new ConfigError(configProblems);
  const gateway = opts.gateway ?? config.control?.gateway;
  const tokenEnv = config.control?.token_env ?? 'MCPGOV_CONTROL_TOKEN';
  const token = env[tokenEnv];
  if (gateway !== undefined && !token) {
    throw new Error(`the control channel needs a token in the environment variable ${tokenEnv}`);
  }

  // The sidecar's own signed log: its evidence (and its spool while the gateway is away).
  const evidence = await openEvidenceLog(config, pep.id, log);
  const follow =
    config.policy.channel === undefined
      ? undefined
      : { name: config.policy.name, channel: config.policy.channel };
  const source =
    gateway !== undefined && follow ? new ControlChannelSource(gateway, follow.channel) : undefined;
  let runtime: PolicyRuntime | undefined;
  const client =
    gateway === undefined
      ? undefined
      : new ControlClient({
          url: gateway,
          token: token!,
          pep,
          evidence,
          follow,
          log,
          onPolicy: (pointer, files) => {
            source?.update(pointer, files);
            void runtime?.manager?.check();
          },
        });
  try {
    client?.start();
    // A fresh sidecar on the control channel waits briefly for its first bundle; offline, it starts
    // from its cached last good bundle instead (openPolicy refuses to start with neither).
    if (source && client) {
      await Promise.race([
        client.policyArrived,
        new Promise((r) => setTimeout(r, FIRST_POLICY_WAIT_MS).unref()),
      ]);
    }
    runtime = await openPolicy(config, { pep, evidence, log, clock: opts.clock, env, source });
    const problems = checkConfig(config, new Set(runtime.initial.agents.file.agents.map((a) => a.id)));
    if (problems.length > 0) throw new ConfigError(problems);
  } catch (err) {
    await client?.close();
    await evidence.close();
    throw err;
  }
  const policy = runtime;
  const authenticator = await Authenticator.create(config.identity);
  const enforcer = createEnforcer(config, { policy: policy.initial, evidence, pep, log, clock: opts.clock });
  const governed = new Set<GovernedTransport>();
  // A new bundle swaps in as a whole; calls in flight keep the policy they started with.
  policy.onActivate((next) => {
    enforcer.policy = next;
    for (const t of governed) t.policyChanged();
  });
  if (client) policy.onStatus((status) => client.sendStatus(status));
  policy.start();
  const sessions = new Set<Session>();

  return {
    enforcer,
    evidence,
    pep,
    policy,
    control: client,
    async govern(transport, options = {}) {
      const auth = await authenticator.authenticate(options.token, enforcer.policy.agents);
      if (!auth.ok) throw new Error(`caller not authenticated: ${auth.message}`);
      const identity: Identity = auth.identity;
      const session = await enforcer.openSession(identity, options.sessionId ?? randomUUID());
      sessions.add(session);
      const wrapped = new GovernedTransport(transport, {
        enforcer,
        session,
        server: options.server ?? 'local',
        prefix: options.prefix ?? false,
      });
      governed.add(wrapped);
      // The SDK's Protocol keeps an onclose set before connect and calls it first, so the session's
      // chain closes when the connection ends.
      wrapped.onclose = () => {
        governed.delete(wrapped);
        if (!sessions.delete(session)) return;
        enforcer
          .closeSession(session)
          .catch((err: Error) => log('error', 'chain close not recorded', { error: err.message }));
      };
      log('info', 'session opened', {
        session: session.state.id,
        agent: identity.agentId,
        verified: identity.verified,
      });
      return wrapped;
    },
    async close() {
      const open = [...sessions];
      sessions.clear();
      await Promise.all(open.map((s) => enforcer.closeSession(s).catch(() => {})));
      await enforcer.close();
      await policy.close();
      await evidence.flush();
      await client?.drain(2000);
      await client?.close();
      await evidence.close();
    },
  };
}
