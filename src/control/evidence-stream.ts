import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import {
  jetstream,
  jetstreamManager,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { JSONWebKeySet } from 'jose';
import type { PepInfo } from '../evidence/types.js';
import { LogTail } from '../evidence/log-tail.js';
import type { Logger } from '../util/log.js';
import { EvidenceForwarder } from './evidence-forwarder.js';
import type { ReplicaCursor } from './evidence-replica.js';

/** The stream's name when the URL names none. */
export const DEFAULT_STREAM = 'MCPGOV_EVIDENCE';
/** Header of a checkpoint message: its index in the PEP's checkpoints (0, 1, ...). */
export const CHECKPOINT_INDEX_HEADER = 'Mcpgov-Checkpoint-Index';
/** How long JetStream remembers a message id to drop a resend (a record id is never reused anyway). */
const DUPLICATE_WINDOW_NS = 10 * 60 * 1e9;
/** How long one publish waits for the stream's acknowledgement. */
const PUBLISH_TIMEOUT_MS = 5000;
/** Appends closer together than this go out in one pump. */
const COALESCE_MS = 25;
/** How long to wait between attempts while NATS (or the stream) is unavailable. */
const RETRY_MS = 1000;

/** Where a config's `state.evidence_stream` points. */
export interface StreamTarget {
  /** `host:port`, for the client. */
  server: string;
  stream: string;
  tls: boolean;
  user?: string;
  pass?: string;
  /** The URL without credentials, for logs. */
  display: string;
}

/** Parses `nats://[user:pass@]host:port[?stream=NAME]` (or `tls://`). Throws on anything else. */
export function parseStreamUrl(url: string): StreamTarget {
  const parsed = new URL(url);
  if (parsed.protocol !== 'nats:' && parsed.protocol !== 'tls:') {
    throw new Error(`${url}: an evidence stream is a nats:// or tls:// URL`);
  }
  const stream = parsed.searchParams.get('stream') ?? DEFAULT_STREAM;
  // JetStream stream names: no whitespace, dots, wildcards or path separators.
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(stream)) {
    throw new Error(`${url}: stream= takes letters, digits, "_" and "-" only (at most 64)`);
  }
  const port = parsed.port === '' ? '4222' : parsed.port;
  const server = `${parsed.hostname}:${port}`;
  return {
    server,
    stream,
    tls: parsed.protocol === 'tls:',
    user: parsed.username === '' ? undefined : decodeURIComponent(parsed.username),
    pass: parsed.password === '' ? undefined : decodeURIComponent(parsed.password),
    display: `${parsed.protocol}//${server}?stream=${stream}`,
  };
}

/**
 * A PEP id as one subject token: percent-encoded, including the characters NATS
 * gives meaning to (`.`, `*`, `>`), so ids map one to one and back with decodeURIComponent.
 */
export function pepToken(pepId: string): string {
  return encodeURIComponent(pepId).replace(
    /[.*!'()~]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The subjects one PEP's evidence goes to in a stream. */
export function pepSubjects(stream: string, pepId: string) {
  const base = `${stream}.${pepToken(pepId)}`;
  return {
    records: `${base}.records`,
    checkpoints: `${base}.checkpoints`,
    keys: `${base}.keys`,
    all: `${base}.>`,
  };
}

/**
 * Creates the stream when it does not exist, append-only: no message can be deleted and the stream
 * cannot be purged (`deny_delete`, `deny_purge`), file storage, nothing expires. An existing stream
 * that allows either is refused: evidence must not go where it can be taken back.
 */
export async function ensureEvidenceStream(jsm: JetStreamManager, stream: string): Promise<void> {
  const info = await jsm.streams.info(stream).catch((err: Error) => {
    if (/stream not found/i.test(err.message)) return undefined;
    throw err;
  });
  if (info === undefined) {
    await jsm.streams.add({
      name: stream,
      subjects: [`${stream}.>`],
      storage: StorageType.File,
      deny_delete: true,
      deny_purge: true,
      duplicate_window: DUPLICATE_WINDOW_NS,
    });
    return;
  }
  if (!info.config.deny_delete || !info.config.deny_purge) {
    throw new Error(
      `stream ${stream} allows deleting or purging messages (deny_delete ${info.config.deny_delete}, ` +
        `deny_purge ${info.config.deny_purge}): evidence is streamed only into an append-only stream`,
    );
  }
}

/** The streaming state the metrics read. */
export interface StreamLag {
  connected: boolean;
  /** Durable local records not yet acknowledged by the stream. */
  records: number;
  /** Seconds since the oldest of those became durable (0 when there are none). */
  seconds: number;
}

/** What the evidence stream reads off the local log. */
export interface StreamSource {
  dir: string;
  /** Records durable in the local log: only those are streamed. */
  readonly durableCount: number;
  /** Calls `listener` whenever more records are durable; returns a function that stops it. */
  onDurable(listener: (count: number) => void): () => void;
  /** Calls `listener` after each signed checkpoint; returns a function that stops it. */
  onCheckpoint(listener: () => void): () => void;
}

export interface EvidenceStreamOptions {
  url: string;
  source: StreamSource;
  pep: PepInfo;
  /** The PEP's public signing keys, published once so that a pull can check the checkpoints. */
  jwks: JSONWebKeySet;
  log: Logger;
}

/**
 * Streams an enforcement point's evidence log to NATS JetStream (client: @nats-io/transport-node and
 * @nats-io/jetstream). The local log is written first and stays the spool: only durable records are
 * sent, in seq order, each with its record id as the message id, so JetStream drops a resend. Where to
 * resume comes from the stream itself (the PEP's last record there, checked against the local log),
 * so a restart after a crash sends nothing twice and skips nothing. While NATS is unreachable the PEP
 * goes on as before; the stream catches up when it returns.
 */
export class EvidenceStream {
  private readonly target: StreamTarget;
  private readonly subjects: ReturnType<typeof pepSubjects>;
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private forwarder?: EvidenceForwarder;
  /** The stream's cursor as last known (undefined until the first sync). */
  private cursor?: ReplicaCursor;
  private readonly startCount: number;
  private behindSince?: number;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private failing = false;
  /** Why streaming stopped for good (the stream disagrees with the local log), if it did. */
  private refused?: string;
  private closed = false;
  private readonly stopListening: (() => void)[];

  private constructor(private readonly opts: EvidenceStreamOptions) {
    this.target = parseStreamUrl(opts.url);
    this.subjects = pepSubjects(this.target.stream, opts.pep.id);
    this.startCount = opts.source.durableCount;
    this.stopListening = [
      opts.source.onDurable(() => {
        if (this.behindSince === undefined) this.behindSince = Date.now();
        this.schedule(COALESCE_MS);
      }),
      opts.source.onCheckpoint(() => this.schedule(COALESCE_MS)),
    ];
  }

  /** Starts streaming in the background; throws only on a malformed URL. */
  static start(opts: EvidenceStreamOptions): EvidenceStream {
    const stream = new EvidenceStream(opts);
    stream.schedule(0);
    return stream;
  }

  get lag(): StreamLag {
    const durable = this.opts.source.durableCount;
    // Before the stream has been asked, what this process wrote is the least that is behind.
    const records = Math.max(0, durable - (this.cursor?.next_seq ?? this.startCount));
    return {
      connected: this.forwarder !== undefined && !this.failing,
      records,
      seconds: records > 0 && this.behindSince !== undefined ? (Date.now() - this.behindSince) / 1000 : 0,
    };
  }

  /** Sends what is left (waiting at most `ms`), then closes the connection. */
  async close(ms = 5000): Promise<void> {
    for (const stop of this.stopListening) stop();
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.forwarder && !this.failing) {
      const sent = this.pumpOnce().then(
        () => true,
        () => false,
      );
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
      const done = await Promise.race([sent, timeout]);
      clearTimeout(timer);
      if (!done || this.lag.records > 0) {
        this.opts.log('warn', 'evidence stream: records left unsent at shutdown; sent at the next start', {
          records: this.lag.records,
        });
      }
    }
    this.closed = true;
    await this.running?.catch(() => {});
    await this.nc?.close().catch(() => {});
  }

  private schedule(ms: number): void {
    if (this.closed || this.refused !== undefined) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.cycle().finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.schedule(COALESCE_MS);
        }
      });
    }, ms);
    this.timer.unref();
  }

  /** One round: connect and find the cursor if needed, then send everything durable. */
  private async cycle(): Promise<void> {
    try {
      await this.pumpOnce();
      if (this.failing) {
        this.failing = false;
        this.opts.log('info', 'evidence stream: caught up after an outage', { stream: this.target.display });
      }
    } catch (err) {
      if (this.closed) return;
      this.forwarder = undefined;
      if (this.refused !== undefined) {
        this.opts.log('error', 'evidence stream stopped: the local log stays the record', {
          stream: this.target.display,
          reason: this.refused,
        });
        return;
      }
      if (!this.failing) {
        this.failing = true;
        this.opts.log(
          'error',
          'evidence stream unavailable; records stay in the local log until it returns',
          {
            stream: this.target.display,
            error: (err as Error).message,
          },
        );
      }
      this.again = false;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule(0);
      }, RETRY_MS);
      this.timer.unref();
    }
  }

  private async pumpOnce(): Promise<void> {
    this.forwarder ??= await this.sync();
    await this.forwarder.pump();
    if (this.lag.records === 0) this.behindSince = undefined;
  }

  /** Connects, makes sure of the stream and the PEP's keys in it, and finds where to resume. */
  private async sync(): Promise<EvidenceForwarder> {
    const nc = await this.connection();
    const jsm = await jetstreamManager(nc);
    await ensureEvidenceStream(jsm, this.target.stream);
    await this.publishKeys(jsm);
    const cursor = await this.streamCursor(jsm);
    this.cursor = cursor;
    const js = (this.js ??= jetstream(nc));
    const link = {
      sendRecords: async (lines: string[]): Promise<ReplicaCursor> => {
        let last = -1;
        // Pipelined: one connection keeps them in order, and each waits for its own acknowledgement.
        const acks = lines.map((line) => {
          const record = JSON.parse(line) as { id: string; seq: number };
          last = record.seq;
          return js.publish(this.subjects.records, line, { msgID: record.id, timeout: PUBLISH_TIMEOUT_MS });
        });
        const results = await Promise.allSettled(acks);
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason as Error;
        cursor.next_seq = last + 1;
        return { ...cursor };
      },
      sendCheckpoint: async (line: string): Promise<ReplicaCursor> => {
        const h = headers();
        h.set(CHECKPOINT_INDEX_HEADER, String(cursor.checkpoints));
        await js.publish(this.subjects.checkpoints, line, {
          msgID: `checkpoint:${pepToken(this.opts.pep.id)}:${cursor.checkpoints}`,
          headers: h,
          timeout: PUBLISH_TIMEOUT_MS,
        });
        cursor.checkpoints += 1;
        return { ...cursor };
      },
    };
    return new EvidenceForwarder(
      this.opts.source.dir,
      link,
      { ...cursor },
      () => this.opts.source.durableCount,
    );
  }

  private async connection(): Promise<NatsConnection> {
    if (this.nc && !this.nc.isClosed()) return this.nc;
    const nc = await connect({
      servers: this.target.server,
      user: this.target.user,
      pass: this.target.pass,
      tls: this.target.tls ? {} : undefined,
      name: `mcpgov ${this.opts.pep.id}`,
      // Once connected, the client reconnects on its own for as long as the process runs.
      maxReconnectAttempts: -1,
      reconnectTimeWait: RETRY_MS,
      timeout: 2000,
    });
    if (this.closed) {
      await nc.close();
      throw new Error('closed');
    }
    this.nc = nc;
    this.js = undefined;
    return nc;
  }

  /** Publishes the PEP's public keys unless the stream's latest keys message already has them. */
  private async publishKeys(jsm: JetStreamManager): Promise<void> {
    const kids = this.opts.jwks.keys.map((k) => k.kid ?? '').sort();
    const last = await jsm.streams.getMessage(this.target.stream, { last_by_subj: this.subjects.keys });
    const published = last ? (last.json<JSONWebKeySet>().keys ?? []).map((k) => k.kid ?? '') : [];
    if (kids.every((kid) => published.includes(kid))) return;
    await jetstream(this.nc!).publish(this.subjects.keys, JSON.stringify(this.opts.jwks), {
      msgID: `keys:${pepToken(this.opts.pep.id)}:${kids.join(',')}`,
      timeout: PUBLISH_TIMEOUT_MS,
    });
  }

  /**
   * Where to resume: after the PEP's last record in the stream, which must be the local log's record
   * at that seq. A stream holding other records under this PEP's id (another PEP configured with the
   * same id, or an evidence folder replaced) stops streaming, loudly: nothing is overwritten or mixed.
   */
  private async streamCursor(jsm: JetStreamManager): Promise<ReplicaCursor> {
    const { stream } = this.target;
    const last = await jsm.streams.getMessage(stream, { last_by_subj: this.subjects.records });
    let nextSeq = 0;
    if (last) {
      const seq = last.json<{ seq: number }>().seq;
      const [local] = await new LogTail(this.opts.source.dir, seq).read(1);
      if (local?.line !== last.string()) {
        this.refused =
          `the stream's last record for PEP ${this.opts.pep.id} (seq ${seq}) ` +
          (local ? 'differs from the local log' : 'is not in the local log') +
          ': another PEP may use the same id, or this evidence folder was replaced';
        throw new Error(this.refused);
      }
      nextSeq = seq + 1;
      const info = await jsm.streams.info(stream, { subjects_filter: this.subjects.records });
      const count = info.state.subjects?.[this.subjects.records] ?? 0;
      if (count !== nextSeq) {
        this.opts.log(
          'warn',
          'evidence stream: the PEP has a different number of records there than its last seq says',
          {
            stream: this.target.display,
            messages: count,
            next_seq: nextSeq,
          },
        );
      }
    }
    const lastCheckpoint = await jsm.streams.getMessage(stream, { last_by_subj: this.subjects.checkpoints });
    const index = lastCheckpoint?.header?.get(CHECKPOINT_INDEX_HEADER);
    return { next_seq: nextSeq, checkpoints: index ? Number(index) + 1 : 0 };
  }
}
