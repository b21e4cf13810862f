import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { z } from 'zod';
import {
  CHECKPOINT_TYP,
  checkpointBody,
  CheckpointSchema,
  readCheckpoints,
  recordLeaf,
  type Checkpoint,
} from './checkpoints.js';
import { listSegments } from './jsonl-store.js';
import { inclusionProof, verifyInclusion } from './merkle.js';
import type { Signer } from './signer.js';
import { verifyJws } from './signer.js';
import { referenceRecordHash } from './verify-chain.js';
import type { VerifyFailure } from './verify.js';

/** JWS `typ` of a pack manifest signature. */
export const PACK_TYP = 'mcpgov-pack+jws';

const ManifestSchema = z.object({
  v: z.literal('mcpgov.pack/v1'),
  chain: z.string(),
  origin: z.string(),
  created: z.string(),
  records: z.number().int().positive(),
  files: z.array(z.object({ name: z.string(), sha256: z.string() })),
});
type Manifest = z.infer<typeof ManifestSchema>;

const ProofSchema = z.object({
  seq: z.number().int(),
  tree_size: z.number().int(),
  proof: z.array(z.string()),
});

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** What `writePack` produced. */
export interface PackSummary {
  dir: string;
  chain: string;
  records: number;
  checkpointSize: number;
  files: string[];
}

/**
 * Writes one chain's evidence as a self-contained pack: its records, an inclusion proof for each against
 * the latest signed checkpoint, that checkpoint, the public key, the policy bundles the decisions cite,
 * and a manifest of file hashes signed by the evidence key. An auditor verifies it with the pack and the
 * pinned public key alone.
 */
export async function writePack(opts: {
  evidenceDir: string;
  chain: string;
  outDir: string;
  signer: Signer;
}): Promise<PackSummary> {
  const lines: { seq: number; text: string; chain: string; hash: string; bundle?: unknown }[] = [];
  const leaves: Buffer[] = [];
  for (const file of await listSegments(opts.evidenceDir)) {
    for (const text of (await readFile(file, 'utf8')).split('\n')) {
      if (!text) continue;
      const record = JSON.parse(text) as {
        seq: number;
        chain: string;
        hash: string;
        decision?: { bundle?: unknown };
      };
      leaves.push(recordLeaf(record.hash));
      if (record.chain === opts.chain)
        lines.push({
          seq: record.seq,
          text,
          chain: record.chain,
          hash: record.hash,
          bundle: record.decision?.bundle,
        });
    }
  }
  if (lines.length === 0) throw new Error(`no records of chain "${opts.chain}" in ${opts.evidenceDir}`);
  const checkpoints = await readCheckpoints(opts.evidenceDir);
  const last = checkpoints[checkpoints.length - 1];
  if (!last) throw new Error(`${opts.evidenceDir} has no signed checkpoint yet`);
  const checkpoint = CheckpointSchema.parse(JSON.parse(last.text));
  const uncovered = lines.find((l) => l.seq >= checkpoint.size);
  if (uncovered)
    throw new Error(
      `record seq ${uncovered.seq} is not covered by a checkpoint yet; close the session or wait for the next checkpoint`,
    );

  const proofs = lines.map((l) => ({
    seq: l.seq,
    tree_size: checkpoint.size,
    proof: inclusionProof(leaves, l.seq, checkpoint.size).map((h) => h.toString('base64')),
  }));
  const bundles = [
    ...new Map(lines.filter((l) => l.bundle).map((l) => [JSON.stringify(l.bundle), l.bundle])).values(),
  ];
  const files: Record<string, string> = {
    'records.jsonl': lines.map((l) => `${l.text}\n`).join(''),
    'proofs.jsonl': proofs.map((p) => `${JSON.stringify(p)}\n`).join(''),
    'checkpoint.json': `${JSON.stringify(checkpoint, null, 2)}\n`,
    'keys.jwks.json': `${JSON.stringify({ keys: [opts.signer.publicJwk] }, null, 2)}\n`,
    'bundles.json': `${JSON.stringify(bundles, null, 2)}\n`,
  };
  const manifest: Manifest = {
    v: 'mcpgov.pack/v1',
    chain: opts.chain,
    origin: checkpoint.origin,
    created: new Date().toISOString(),
    records: lines.length,
    files: Object.entries(files).map(([name, content]) => ({ name, sha256: sha256(content) })),
  };
  const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
  const jws = await opts.signer.sign(Buffer.from(manifestText), PACK_TYP);
  await mkdir(opts.outDir, { recursive: true });
  if ((await readdir(opts.outDir)).length > 0) throw new Error(`${opts.outDir} is not empty`);
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(opts.outDir, name), content);
  await writeFile(path.join(opts.outDir, 'manifest.json'), manifestText);
  await writeFile(path.join(opts.outDir, 'manifest.jws'), `${jws}\n`);
  return {
    dir: opts.outDir,
    chain: opts.chain,
    records: lines.length,
    checkpointSize: checkpoint.size,
    files: [...Object.keys(files), 'manifest.json', 'manifest.jws'],
  };
}

/** True when a folder looks like an evidence pack rather than an evidence log. */
export async function isPack(dir: string): Promise<boolean> {
  return (await readdir(dir).catch(() => [] as string[])).includes('manifest.json');
}

/** The result of verifying a pack. */
export interface PackReport {
  ok: boolean;
  chain?: string;
  records: number;
  checkpointSize?: number;
  failure?: VerifyFailure;
}

/**
 * Verifies a pack offline against pinned keys: the signed manifest, the exact file set and each file's
 * hash, the checkpoint signature and body, and for every record its hash, its chain, and its inclusion
 * proof against the checkpoint root.
 */
export async function verifyPack(dir: string, jwks: JSONWebKeySet): Promise<PackReport> {
  const report: PackReport = { ok: false, records: 0 };
  const at = (name: string, line?: number) => ({ file: path.join(dir, name), line });
  const fail = (failure: VerifyFailure) => ({ ...report, failure });

  const manifestText = await readFile(path.join(dir, 'manifest.json'), 'utf8');
  const jws = (await readFile(path.join(dir, 'manifest.jws'), 'utf8').catch(() => '')).trim();
  if (!jws) return fail({ ...at('manifest.jws'), reason: 'the manifest signature is missing' });
  const signed = await verifyJws(jws, jwks);
  if (!signed.ok) return fail({ ...at('manifest.jws'), reason: `manifest ${signed.reason}` });
  if (signed.typ !== PACK_TYP || Buffer.from(signed.payload).toString('utf8') !== manifestText) {
    return fail({ ...at('manifest.json'), reason: 'manifest differs from what was signed' });
  }
  const manifest = ManifestSchema.parse(JSON.parse(manifestText));
  report.chain = manifest.chain;

  const expected = new Set([...manifest.files.map((f) => f.name), 'manifest.json', 'manifest.jws']);
  for (const name of await readdir(dir))
    if (!expected.has(name)) return fail({ ...at(name), reason: 'file is not in the manifest' });
  const contents = new Map<string, string>();
  for (const f of manifest.files) {
    const content = await readFile(path.join(dir, f.name), 'utf8').catch(() => undefined);
    if (content === undefined)
      return fail({ ...at(f.name), reason: 'file listed in the manifest is missing' });
    if (sha256(content) !== f.sha256)
      return fail({ ...at(f.name), reason: 'file hash differs from the manifest' });
    contents.set(f.name, content);
  }

  const checkpoint: Checkpoint = CheckpointSchema.parse(JSON.parse(contents.get('checkpoint.json') ?? '{}'));
  const cpSigned = await verifyJws(checkpoint.jws, jwks);
  if (!cpSigned.ok) return fail({ ...at('checkpoint.json'), reason: `checkpoint ${cpSigned.reason}` });
  if (
    cpSigned.typ !== CHECKPOINT_TYP ||
    Buffer.from(cpSigned.payload).toString('utf8') !==
      checkpointBody(checkpoint.origin, checkpoint.size, checkpoint.root)
  ) {
    return fail({
      ...at('checkpoint.json'),
      reason: 'checkpoint fields differ from the body that was signed',
    });
  }
  report.checkpointSize = checkpoint.size;
  const root = Buffer.from(checkpoint.root, 'base64');

  const records = (contents.get('records.jsonl') ?? '').split('\n').filter(Boolean);
  const proofs = (contents.get('proofs.jsonl') ?? '')
    .split('\n')
    .filter(Boolean)
    .map((l) => ProofSchema.parse(JSON.parse(l)));
  if (records.length !== manifest.records || proofs.length !== records.length) {
    return fail({
      ...at('records.jsonl'),
      reason: 'the numbers of records, proofs and the manifest disagree',
    });
  }
  for (let i = 0; i < records.length; i++) {
    const where = at('records.jsonl', i + 1);
    const record = JSON.parse(records[i]!) as Record<string, unknown> & {
      seq: number;
      chain: string;
      hash: string;
    };
    if (record.chain !== manifest.chain)
      return fail({ ...where, seq: record.seq, reason: `record belongs to chain "${record.chain}"` });
    if (referenceRecordHash(record) !== record.hash)
      return fail({ ...where, seq: record.seq, reason: 'hash does not match the record: it was altered' });
    const proof = proofs[i]!;
    if (proof.seq !== record.seq || proof.tree_size !== checkpoint.size) {
      return fail({ ...where, seq: record.seq, reason: 'the inclusion proof is for another record or tree' });
    }
    const path_ = proof.proof.map((h) => Buffer.from(h, 'base64'));
    if (!verifyInclusion(recordLeaf(record.hash), record.seq, checkpoint.size, path_, root)) {
      return fail({
        ...where,
        seq: record.seq,
        reason: 'the record is not in the signed checkpoint (inclusion proof fails)',
      });
    }
  }
  return { ...report, ok: true, records: records.length };
}
