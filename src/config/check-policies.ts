import { existsSync } from 'node:fs';
import type { Problem } from './yaml-file.js';
import type { PoliciesConfig } from './schema.js';

/** Whether an enforcement point with this config loads signed bundles rather than sources. */
export function usesBundles(policy: PoliciesConfig): boolean {
  return policy.bundle !== undefined || policy.channel !== undefined;
}

/**
 * Problems in the policy lifecycle settings that zod cannot see: key files that do not exist, keys a
 * bundle source needs but the config lacks, channels naming unknown approvers, a report without a
 * token. One check for `mcpgov validate` and for gateway start.
 */
export function checkPoliciesConfig(policy: PoliciesConfig, file: string): Problem[] {
  const problems: Problem[] = [];
  const problem = (path: string, message: string) =>
    problems.push({ file, path: `policies.${path}`, message });
  const { keys } = policy;
  const exists = (p: string | undefined, path: string) => {
    if (p !== undefined && !existsSync(p)) problem(path, `file not found: ${p}`);
  };
  exists(keys.signers, 'keys.signers');
  exists(keys.publishers, 'keys.publishers');
  for (const [name, p] of Object.entries(keys.approvers)) exists(p, `keys.approvers.${name}`);

  if (usesBundles(policy) && keys.signers === undefined)
    problem('keys.signers', 'required to verify bundles (the build keys, a JWKS file)');
  if (policy.channel !== undefined && keys.publishers === undefined)
    problem('keys.publishers', 'required to verify channel pointers (the release keys, a JWKS file)');
  const remote = policy.bundle !== undefined && /^https?:/i.test(policy.bundle);
  if (remote && policy.channel === undefined) problem('bundle', 'an http(s) registry needs policies.channel');
  if ((remote || policy.report !== undefined) && policy.token_env === undefined)
    problem('token_env', 'required to authenticate to the gateway (registry endpoint and status reports)');

  for (const [channel, config] of Object.entries(policy.channels)) {
    const allowed = config.approvers ?? Object.keys(keys.approvers);
    for (const [i, name] of (config.approvers ?? []).entries()) {
      if (!Object.hasOwn(keys.approvers, name))
        problem(
          `channels.${channel}.approvers[${i}]`,
          `approver "${name}" has no key under policies.keys.approvers`,
        );
    }
    if (config.approvals > allowed.length)
      problem(
        `channels.${channel}.approvals`,
        `${config.approvals} approvals required but only ${allowed.length} approvers can give one`,
      );
  }
  return problems;
}
