import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { JSONWebKeySet } from 'jose';
import { EvidenceReplica, REPLICA_JWKS, REPLICAS_DIR, replicaFolder } from './evidence-replica.js';
import { CHECKPOINT_INDEX_HEADER, parseStreamUrl, pepSubjects, pepToken } from './evidence-stream.js';

/** What a pull rebuilt for one enforcement point. */
export interface PulledPep {
  pep: string;
  dir: string;
  records: number;
  checkpoints: number;
}

export interface PullOptions {
  /** The stream's URL (`nats://host:port?stream=NAME`). */
  url: string;
  /** The folder to rebuild logs in: each PEP's under `peps/<pep id>/`, as a gateway keeps replicas. */
  out: string;
  /** Only this PEP (default: every PEP the stream holds records of). */
  pep?: string;
}

/** Messages asked for per fetch. */
const FETCH = 1000;
/** How long one fetch waits for messages the stream said it has. */
const FETCH_WAIT_MS = 5000;

/**
 * Rebuilds per-PEP evidence logs from a JetStream evidence stream. Every record is checked as it is
 * appended (seq continuity, `prev` link, recomputed hash) and every checkpoint against the PEP's
 * published keys and the records before it, exactly as a gateway checks a sidecar's forwarded log; a
 * gap or a changed record stops the pull with the PEP and seq. Pulling into the same folder again
 * adds only what is new. `mcpgov evidence verify OUT --jwks KEYS` then checks every rebuilt log
 * against the keys an auditor pins.
 */
export async function pullEvidence(opts: PullOptions): Promise<PulledPep[]> {
  const target = parseStreamUrl(opts.url);
  const nc = await connect({
    servers: target.server,
    user: target.user,
    pass: target.pass,
    tls: target.tls ? {} : undefined,
    name: 'mcpgov evidence pull',
    timeout: 5000,
  });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(target.stream, { subjects_filter: `${target.stream}.>` });
    const counts = info.state.subjects ?? {};
    const tokens = [
      ...new Set(
        Object.keys(counts)
          .filter((s) => s.endsWith('.records'))
          .map((s) => s.split('.')[1]!),
      ),
    ].sort();
    const wanted = opts.pep === undefined ? tokens : tokens.filter((t) => t === pepToken(opts.pep!));
    if (opts.pep !== undefined && wanted.length === 0) {
      throw new Error(`stream ${target.stream} holds no records of PEP ${opts.pep}`);
    }
    const js = jetstream(nc);
    const pulled: PulledPep[] = [];
    for (const token of wanted) {
      const pep = decodeURIComponent(token);
      const subjects = pepSubjects(target.stream, pep);
      const dir = path.join(opts.out, REPLICAS_DIR, replicaFolder(pep));
      const expected = (subject: string): number => counts[subject] ?? 0;
      const jwks = await pinKeys(
        dir,
        await readKeys(js, target.stream, subjects.keys, expected(subjects.keys)),
      );
      const replica = await EvidenceReplica.open(dir, jwks);
      try {
        const total = expected(subjects.records) + expected(subjects.checkpoints) + expected(subjects.keys);
        let lines: string[] = [];
        const flush = async (): Promise<void> => {
          if (lines.length > 0) await replica.appendRecords(lines);
          lines = [];
        };
        await each(js, target.stream, subjects.all, total, async (subject, data, index) => {
          if (subject === subjects.records) {
            lines.push(data);
            if (lines.length >= FETCH) await flush();
          } else if (subject === subjects.checkpoints) {
            await flush();
            // A checkpoint already in the folder (an earlier pull) is not appended twice.
            if (index !== undefined && index < replica.cursor.checkpoints) return;
            await replica.appendCheckpoint(data);
          }
        }).catch((err: Error) => {
          throw new Error(`PEP ${pep}: ${err.message}`, { cause: err });
        });
        await flush().catch((err: Error) => {
          throw new Error(`PEP ${pep}: ${err.message}`, { cause: err });
        });
        pulled.push({ pep, dir, records: replica.cursor.next_seq, checkpoints: replica.cursor.checkpoints });
      } finally {
        await replica.close();
      }
    }
    return pulled;
  } finally {
    await nc.close();
  }
}

/** Every keys message the PEP published, as one key set (a key rotation adds keys, never drops one). */
async function readKeys(
  js: JetStreamClient,
  stream: string,
  subject: string,
  count: number,
): Promise<JSONWebKeySet> {
  const keys: JSONWebKeySet['keys'] = [];
  await each(js, stream, subject, count, (_subject, data) => {
    for (const key of (JSON.parse(data) as JSONWebKeySet).keys) {
      if (!keys.some((k) => k.kid === key.kid)) keys.push(key);
    }
    return Promise.resolve();
  });
  if (keys.length === 0) throw new Error(`${subject}: the PEP published no public keys`);
  return { keys };
}

/** Writes the key set a replica pins, adding to what an earlier pull pinned there. */
async function pinKeys(dir: string, jwks: JSONWebKeySet): Promise<JSONWebKeySet> {
  const file = path.join(dir, REPLICA_JWKS);
  const pinned = await readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as JSONWebKeySet,
    () => ({ keys: [] }) as JSONWebKeySet,
  );
  const keys = [...pinned.keys];
  for (const key of jwks.keys) if (!keys.some((k) => k.kid === key.kid)) keys.push(key);
  const merged = { keys };
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(merged, null, 2)}\n`);
  return merged;
}

/**
 * Reads every message on `subject` in stream order through an ordered consumer, stopping once the
 * stream has nothing more pending (at least `count` messages, the number the stream reported).
 */
async function each(
  js: JetStreamClient,
  stream: string,
  subject: string,
  count: number,
  visit: (subject: string, data: string, checkpointIndex: number | undefined) => Promise<void>,
): Promise<void> {
  if (count === 0) return;
  const consumer = await js.consumers.get(stream, { filter_subjects: subject });
  let seen = 0;
  // Ask for exactly what is known to be there, so a fetch returns as soon as it has it.
  let wanted = count;
  while (wanted > 0) {
    const batch = await consumer.fetch({ max_messages: Math.min(FETCH, wanted), expires: FETCH_WAIT_MS });
    let got = 0;
    let pending = 0;
    for await (const m of batch) {
      got += 1;
      seen += 1;
      pending = m.info.pending;
      const index = m.headers?.get(CHECKPOINT_INDEX_HEADER);
      await visit(m.subject, m.string(), index ? Number(index) : undefined);
    }
    // Messages added since the count was taken are read too.
    wanted = Math.max(count - seen, pending);
    if (got === 0) throw new Error(`${subject}: the stream stopped after ${seen} of ${count} messages`);
  }
}
