import { mkdir, open, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { JSONWebKeySet } from 'jose';
import {
  CHECKPOINT_TYP,
  checkpointBody,
  CheckpointSchema,
  CHECKPOINTS_FILE,
  recordLeaf,
} from '../evidence/checkpoints.js';
import { readEvidence, segmentName } from '../evidence/jsonl-store.js';
import { appendLine, appendWhole, cutTornLastLine } from '../evidence/line-file.js';
import { CompactRange } from '../evidence/merkle.js';
import { verifyJws } from '../evidence/signer.js';
import { referenceRecordHash } from '../evidence/verify-chain.js';

/** The folder, inside a gateway's evidence folder, of the replicas of other PEPs' logs. */
export const REPLICAS_DIR = 'peps';

/** A PEP's folder under `peps/`: its id percent-encoded, so no id can climb out of the folder. */
export function replicaFolder(pepId: string): string {
  return encodeURIComponent(pepId);
}

/** Where a replica's pinned public keys live, so `mcpgov evidence verify` can check it offline. */
export const REPLICA_JWKS = 'keys/pep.jwks.json';

/** What a replica has: the next seq it expects and how many checkpoints it holds. */
export interface ReplicaCursor {
  next_seq: number;
  checkpoints: number;
}

/** A refused batch: the reason, and where the sender should resume. */
export class ReplicaError extends Error {
  constructor(
    message: string,
    readonly cursor: ReplicaCursor,
  ) {
    super(message);
    this.name = 'ReplicaError';
  }
}

/**
 * A verified copy of another enforcement point's evidence log (a sidecar's), kept by the gateway
 * under `peps/<pep id>/` in the same layout as any log, so the same offline verifier checks it. Every
 * record is checked on arrival (seq continuity, `prev` link, recomputed hash) and every checkpoint
 * against the PEP's pinned key and the records received: the gateway stores nothing it could not
 * verify. A record that arrives again is accepted once (same seq and hash) and not stored twice.
 */
export class EvidenceReplica {
  private constructor(
    readonly dir: string,
    private readonly jwks: JSONWebKeySet,
    private fh: FileHandle,
    private nextSeq: number,
    private prev: string | null,
    private readonly leaves: Buffer[],
    private checkpoints: number,
    private readonly tree: CompactRange,
  ) {}

  /** Opens (or creates) a replica; the PEP's public keys are pinned into it on creation. */
  static async open(dir: string, jwks: JSONWebKeySet): Promise<EvidenceReplica> {
    await mkdir(path.join(dir, 'keys'), { recursive: true });
    const keysFile = path.join(dir, REPLICA_JWKS);
    const pinned = await readFile(keysFile, 'utf8').catch(() => undefined);
    if (pinned === undefined) await writeFile(keysFile, `${JSON.stringify(jwks, null, 2)}\n`);
    else if (JSON.stringify(JSON.parse(pinned)) !== JSON.stringify(jwks)) {
      throw new Error(`${dir}: the PEP's configured keys differ from the keys pinned in its replica`);
    }
    // A crash mid-append leaves a torn last line; the sender resends from the cursor after it.
    await cutTornLastLine(path.join(dir, segmentName(1)));
    await cutTornLastLine(path.join(dir, CHECKPOINTS_FILE));
    const records = await readEvidence(dir);
    const leaves = records.map((r) => recordLeaf(r.hash));
    const text = await readFile(path.join(dir, CHECKPOINTS_FILE), 'utf8').catch(() => '');
    const lines = text.split('\n').filter(Boolean);
    const tree = new CompactRange();
    const last = lines.length > 0 ? CheckpointSchema.parse(JSON.parse(lines[lines.length - 1]!)) : undefined;
    for (let i = 0; i < (last?.size ?? 0); i++) tree.append(leaves[i]!);
    const fh = await open(path.join(dir, segmentName(1)), 'a');
    const tail = records[records.length - 1];
    return new EvidenceReplica(dir, jwks, fh, records.length, tail?.hash ?? null, leaves, lines.length, tree);
  }

  get cursor(): ReplicaCursor {
    return { next_seq: this.nextSeq, checkpoints: this.checkpoints };
  }

  /**
   * Appends records that continue the log. Records before the cursor are skipped when they match
   * what is stored (a resend after a lost acknowledgement); anything else out of line is refused.
   */
  async appendRecords(lines: readonly string[]): Promise<ReplicaCursor> {
    const accepted: string[] = [];
    let { nextSeq, prev } = this;
    const leaves: Buffer[] = [];
    for (const line of lines) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new ReplicaError('a forwarded record is not valid JSON', this.cursor);
      }
      const seq = record['seq'];
      if (typeof seq !== 'number') throw new ReplicaError('a forwarded record has no seq', this.cursor);
      const hash = referenceRecordHash(record);
      if (record['hash'] !== hash) {
        throw new ReplicaError(`record seq ${seq}: hash does not match the record`, this.cursor);
      }
      if (seq < nextSeq) {
        const known = seq < this.leaves.length ? this.leaves[seq] : leaves[seq - this.leaves.length];
        if (known && known.equals(recordLeaf(hash))) continue; // already stored: exactly once
        throw new ReplicaError(`record seq ${seq} differs from the one already received`, this.cursor);
      }
      if (seq !== nextSeq)
        throw new ReplicaError(`record seq ${seq} where ${nextSeq} was expected`, this.cursor);
      if (record['prev'] !== prev)
        throw new ReplicaError(`record seq ${seq}: prev does not link`, this.cursor);
      accepted.push(`${line}\n`);
      leaves.push(recordLeaf(hash));
      prev = hash;
      nextSeq += 1;
    }
    if (accepted.length > 0) {
      await appendWhole(this.fh, Buffer.from(accepted.join('')), path.join(this.dir, segmentName(1)));
      this.leaves.push(...leaves);
      this.nextSeq = nextSeq;
      this.prev = prev;
    }
    return this.cursor;
  }

  /** Appends the PEP's next signed checkpoint after checking its signature and root. */
  async appendCheckpoint(line: string): Promise<ReplicaCursor> {
    const checkpoint = CheckpointSchema.parse(JSON.parse(line));
    const signed = await verifyJws(checkpoint.jws, this.jwks);
    if (!signed.ok || signed.typ !== CHECKPOINT_TYP) {
      throw new ReplicaError(
        `checkpoint of size ${checkpoint.size}: ${signed.ok ? 'not a checkpoint signature' : signed.reason}`,
        this.cursor,
      );
    }
    const body = checkpointBody(checkpoint.origin, checkpoint.size, checkpoint.root);
    if (Buffer.from(signed.payload).toString('utf8') !== body) {
      throw new ReplicaError('checkpoint fields differ from the body that was signed', this.cursor);
    }
    if (checkpoint.size > this.leaves.length || checkpoint.size < this.tree.size) {
      throw new ReplicaError(
        `checkpoint of size ${checkpoint.size} does not fit the ${this.leaves.length} records received`,
        this.cursor,
      );
    }
    const tree = this.tree.clone();
    while (tree.size < checkpoint.size) tree.append(this.leaves[tree.size]!);
    if (tree.root().toString('base64') !== checkpoint.root) {
      throw new ReplicaError(
        `checkpoint of size ${checkpoint.size}: root does not match the records`,
        this.cursor,
      );
    }
    await appendLine(path.join(this.dir, CHECKPOINTS_FILE), `${JSON.stringify(checkpoint)}\n`);
    while (this.tree.size < checkpoint.size) this.tree.append(this.leaves[this.tree.size]!);
    this.checkpoints += 1;
    return this.cursor;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
