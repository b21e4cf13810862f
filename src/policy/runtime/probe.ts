import type { PoliciesConfig } from '../../config/schema.js';
import { checkBundle, checkPointer, type Candidate } from './activation.js';
import type { Refusal } from '../bundle/errors.js';
import { createBundleSource } from './source.js';
import { loadTrust } from '../bundle/trust.js';

/**
 * Fetches and checks what an enforcement point with this config would activate now, exactly as it
 * would (without a cache or an active bundle to compare with). For `mcpgov validate`.
 */
export async function probeBundleSource(
  policy: PoliciesConfig,
  env: NodeJS.ProcessEnv = process.env,
  now = Date.now(),
): Promise<{ ok: true; candidate: Candidate } | Refusal> {
  const token = policy.token_env === undefined ? undefined : env[policy.token_env];
  const source = createBundleSource(policy, token);
  try {
    const ctx = { policy, trust: await loadTrust(policy), now };
    if (source.readPointer) {
      const jws = await source.readPointer();
      if (jws === undefined)
        return {
          ok: false,
          code: 'source_unavailable',
          message: `channel ${policy.channel} has no published pointer`,
        };
      const pointer = await checkPointer(jws, ctx);
      if (!pointer.ok) return pointer;
      const checked = await checkBundle(
        await source.readBundle(pointer.value.payload.bundle_digest),
        pointer.value,
        ctx,
      );
      return checked.ok ? { ok: true, candidate: checked.value } : checked;
    }
    const checked = await checkBundle(await source.readBundle(), undefined, ctx);
    return checked.ok ? { ok: true, candidate: checked.value } : checked;
  } catch (err) {
    return {
      ok: false,
      code: 'source_unavailable',
      message: `${source.location}: ${(err as Error).message}`,
    };
  }
}
