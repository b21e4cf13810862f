import type { JSONWebKeySet } from 'jose';
import type { PoliciesConfig } from '../../config/schema.js';
import { readJwks } from '../../evidence/signer.js';
import type { ApprovalPolicy } from './approvals.js';

/** The pinned public keys of the policy lifecycle, read from the JWKS files the config names. */
export interface Trust {
  signers?: JSONWebKeySet;
  publishers?: JSONWebKeySet;
  approvers: Record<string, JSONWebKeySet>;
}

/** Reads every key file the config names; a missing or malformed file is an error naming it. */
export async function loadTrust(policy: PoliciesConfig): Promise<Trust> {
  const read = async (file: string | undefined, what: string) => {
    if (file === undefined) return undefined;
    try {
      return await readJwks(file);
    } catch (err) {
      throw new Error(`policies.keys.${what}: ${(err as Error).message}`, { cause: err });
    }
  };
  const approvers: Record<string, JSONWebKeySet> = {};
  for (const [name, file] of Object.entries(policy.keys.approvers)) {
    approvers[name] = (await read(file, `approvers.${name}`))!;
  }
  return {
    signers: await read(policy.keys.signers, 'signers'),
    publishers: await read(policy.keys.publishers, 'publishers'),
    approvers,
  };
}

/** The key ids in a key set. */
export function kidsOf(keys: JSONWebKeySet | undefined): string[] {
  return (keys?.keys ?? []).flatMap((k) => (k.kid === undefined ? [] : [k.kid]));
}

/**
 * What a channel requires of approvals, or undefined when the config does not describe the channel
 * (an enforcement point then relies on the pointer signature alone). Build and release keys never
 * count as approvals, whatever name they claim.
 */
export function approvalPolicy(
  policy: PoliciesConfig,
  trust: Trust,
  channel: string,
): ApprovalPolicy | undefined {
  const config = policy.channels[channel];
  if (!config) return undefined;
  return {
    required: config.approvals,
    allowed: config.approvers ?? Object.keys(policy.keys.approvers),
    keys: trust.approvers,
    excludedKids: [...kidsOf(trust.signers), ...kidsOf(trust.publishers)],
  };
}
