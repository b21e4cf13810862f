import type { HostsConfig } from '../config/identity-schema.js';
import type { Identity } from '../core/identity.js';

/** How a caller reaches the enforcement point: over stdio from its launcher (or in process), or a network. */
export type CallerChannel = 'launcher' | 'network';

/**
 * Whether a caller is a host the config trusts to state the user's request in `_meta`. Only the
 * launcher (when `hosts.launcher` says so) or a verified token can be: a caller without a verified
 * token acts as the default agent, which anyone reaching the endpoint can do.
 */
export function isHost(identity: Identity, hosts: HostsConfig, channel: CallerChannel): boolean {
  if (channel === 'launcher' && hosts.launcher) return true;
  if (!identity.verified) return false;
  if (identity.agentId !== undefined && hosts.agents.includes(identity.agentId)) return true;
  return hosts.claims.some((entry) =>
    Object.entries(entry).every(([k, v]) => Object.hasOwn(identity.claims, k) && identity.claims[k] === v),
  );
}
