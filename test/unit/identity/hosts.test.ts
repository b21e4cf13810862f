import { describe, expect, it } from 'vitest';
import { HostsSchema } from '../../../src/config/identity-schema.js';
import { isHost } from '../../../src/identity/hosts.js';
import type { Identity } from '../../../src/core/identity.js';

const hosts = HostsSchema.parse({ agents: ['chat-host'], claims: [{ client_id: 'chat-app', tier: 1 }] });
const verified = (over: Partial<Identity>): Identity => ({ verified: true, claims: {}, ...over });

describe('hosts', () => {
  it('trusts nobody by default', () => {
    const none = HostsSchema.parse({});
    expect(isHost(verified({ agentId: 'chat-host' }), none, 'network')).toBe(false);
    expect(isHost({ verified: false, claims: {} }, none, 'launcher')).toBe(false);
  });

  it('trusts the launcher only when the config says so, token or not', () => {
    const launcher = HostsSchema.parse({ launcher: true });
    expect(isHost({ verified: false, claims: {} }, launcher, 'launcher')).toBe(true);
    expect(isHost({ verified: false, claims: {} }, launcher, 'network')).toBe(false);
  });

  it('trusts a verified caller mapped to a host agent, never an unverified one acting as it', () => {
    expect(isHost(verified({ agentId: 'chat-host' }), hosts, 'network')).toBe(true);
    expect(isHost({ verified: false, claims: {}, agentId: 'chat-host' }, hosts, 'network')).toBe(false);
    expect(isHost(verified({ agentId: 'assistant' }), hosts, 'network')).toBe(false);
  });

  it('trusts a verified token carrying every claim of one entry, compared strictly', () => {
    expect(isHost(verified({ claims: { client_id: 'chat-app', tier: 1, x: 2 } }), hosts, 'network')).toBe(
      true,
    );
    expect(isHost(verified({ claims: { client_id: 'chat-app', tier: '1' } }), hosts, 'network')).toBe(false);
    expect(isHost(verified({ claims: { client_id: 'chat-app' } }), hosts, 'network')).toBe(false);
  });

  it('refuses an entry with no claims, which would match every token', () => {
    expect(HostsSchema.safeParse({ claims: [{}] }).success).toBe(false);
    expect(HostsSchema.safeParse({ launcher: true, sidecar: true }).success).toBe(false);
  });
});
