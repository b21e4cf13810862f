import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ResolvedConfig } from '../config/load-config.js';
import type { EvidenceSink, PepInfo } from '../evidence/types.js';
import type { PolicyRuntime } from '../policy/runtime/runtime.js';
import type { Logger } from '../util/log.js';
import { ControlServer } from './channel-server.js';
import { PolicyControlPlane } from './control-plane.js';
import { policyRoutes } from './policy-endpoints.js';

/** The gateway's side of the fleet: status and drift, the policy endpoints, the sidecars' channel. */
export interface Fleet {
  /** PEP status reports and drift detection (`/policy/status`). */
  plane: PolicyControlPlane;
  /** The sidecars' control channel (`/control`). */
  channel: ControlServer;
  /** The policy endpoints on the HTTP listener; false for a path they do not serve. */
  routes(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  /** WebSocket upgrades of the control channel; false for another path. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): boolean;
  start(): void;
  close(): Promise<void>;
}

/** What the fleet control plane of a gateway needs. */
export interface FleetOptions {
  config: ResolvedConfig;
  pep: PepInfo;
  policy: PolicyRuntime;
  evidence: EvidenceSink;
  log: Logger;
  clock?: () => number;
}

/** The fleet control plane a gateway runs beside its own enforcement. */
export function createFleet(opts: FleetOptions): Fleet {
  const { config, log } = opts;
  const plane = new PolicyControlPlane({
    policy: config.policy,
    self: opts.pep,
    approved: () => opts.policy.approved(),
    evidence: opts.evidence,
    log,
    clock: opts.clock,
  });
  opts.policy.onStatus((status) => void plane.reportSelf(status));
  const channel = new ControlServer({
    control: plane,
    policy: config.policy,
    evidenceDir: config.evidence.dir,
    log,
    pollMs: config.policy.poll_seconds * 1000,
  });
  return {
    plane,
    channel,
    routes: policyRoutes({ control: plane, registry: config.policy.registry, log }),
    upgrade: (req, socket, head, url) => channel.handleUpgrade(req, socket, head, url),
    start: () => plane.start(),
    async close() {
      plane.stop();
      await channel.close();
    },
  };
}
