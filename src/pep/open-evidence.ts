import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ResolvedConfig } from '../config/load-config.js';
import type { Logger } from '../util/log.js';
import { EvidenceLog } from '../evidence/evidence-log.js';
import { LocalEd25519Signer, writeKeyPair } from '../evidence/signer.js';
import type { EvidenceObserver } from '../evidence/observer.js';

/** Where a generated key lives when the config names none. */
export function generatedKeyPaths(evidenceDir: string) {
  const dir = path.join(evidenceDir, 'keys');
  return {
    dir,
    privateKey: path.join(dir, 'signing-key.private.jwk'),
    publicJwks: path.join(dir, 'signing-key.jwks.json'),
  };
}

/**
 * The signer for an evidence folder: the configured key, or one generated on first start under
 * `<dir>/keys/` (said on stderr, with the public key to hand to auditors).
 */
export async function evidenceSigner(config: ResolvedConfig, log: Logger): Promise<LocalEd25519Signer> {
  if (config.evidence.key !== undefined) return LocalEd25519Signer.fromFile(config.evidence.key);
  const generated = generatedKeyPaths(config.evidence.dir);
  if (!existsSync(generated.privateKey)) {
    const files = await writeKeyPair(generated.dir);
    log('warn', 'no evidence.key configured: generated an evidence signing key', {
      private_key: files.privateKey,
      public_jwks: files.publicJwks,
      kid: files.kid,
    });
  }
  return LocalEd25519Signer.fromFile(generated.privateKey);
}

/**
 * Opens the evidence log a config describes, for an enforcement point with the given id. `origin` (the
 * checkpoints' origin line) defaults to the PEP's; a CLI writing into a gateway's folder keeps the
 * gateway's, as a log has one origin. `observer` is told of what the log writes (the PEP's metrics).
 */
export async function openEvidenceLog(
  config: ResolvedConfig,
  pepId: string,
  log: Logger,
  origin = `mcpgov/${pepId}`,
  observer?: EvidenceObserver,
): Promise<EvidenceLog> {
  return EvidenceLog.open({
    dir: config.evidence.dir,
    fsync: config.evidence.fsync,
    signer: await evidenceSigner(config, log),
    origin,
    writer: pepId,
    checkpoint: {
      everyRecords: config.evidence.checkpoint.every_records,
      everySeconds: config.evidence.checkpoint.every_seconds,
    },
    segmentMaxBytes: config.evidence.segment_max_bytes,
    log,
    observer,
  });
}
