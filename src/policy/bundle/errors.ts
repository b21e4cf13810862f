/**
 * Every stable code for why a policy bundle, an approval or a channel pointer is refused, in one
 * place. Codes appear in `policy` evidence records, in enforcement-point status, and in the README's
 * table (kept in sync by a unit test). A code never changes meaning once released.
 */
export const BUNDLE_ERRORS = {
  source_unavailable: 'the bundle source or channel pointer could not be read',
  bundle_unsigned: 'the bundle has no .signatures.json with exactly one signature',
  bundle_unknown_key: 'the bundle is signed by a key that is not pinned in keys.signers',
  bundle_bad_signature: 'the bundle signature does not verify',
  bundle_file_missing: 'a file the signature lists is not in the bundle',
  bundle_file_unexpected: 'the bundle holds a file the signature does not list',
  bundle_hash_mismatch: "a file's SHA-256 differs from the signed hash",
  bundle_manifest_invalid: 'the manifest is missing, malformed, or disagrees with the signature',
  bundle_scope_mismatch: 'the bundle is signed for another scope',
  bundle_expired: 'the bundle signature has expired',
  bundle_seq_lower: "the bundle's seq is lower than the active bundle's (rollback)",
  bundle_compile_failed: 'the rules or registries in the bundle do not compile',
  bundle_tests_failed: "the bundle's policy tests do not pass",
  approvals_insufficient: 'fewer valid approvals than the channel requires',
  pointer_invalid: 'the channel pointer is malformed, or names another bundle or channel',
  pointer_unknown_key: 'the channel pointer is signed by a key that is not pinned in keys.publishers',
  pointer_bad_signature: 'the channel pointer signature does not verify',
  pointer_expired: 'the channel pointer has expired (freeze attack)',
  pointer_replayed: "the channel pointer's channel_seq is not above the active one (replay)",
  pointer_digest_mismatch: 'the bundle is not the one the channel pointer names',
} as const;

/** One of the codes above. */
export type BundleErrorCode = keyof typeof BUNDLE_ERRORS;

/** A refusal: a stable code and one specific human line. */
export interface Refusal {
  ok: false;
  code: BundleErrorCode;
  message: string;
}

/** The result of a check: the checked value, or why it was refused. */
export type Checked<T> = { ok: true; value: T } | Refusal;

/** Builds a refusal. */
export function refuse(code: BundleErrorCode, message: string): Refusal {
  return { ok: false, code, message };
}

/** Thrown where a refusal ends a command (the CLI prints `code: message`). */
export class BundleError extends Error {
  override name = 'BundleError';
  constructor(
    readonly code: BundleErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** Rethrows a refusal as an error; returns the value otherwise. */
  static unwrap<T>(checked: Checked<T>): T {
    if (!checked.ok) throw new BundleError(checked.code, checked.message);
    return checked.value;
  }
}
