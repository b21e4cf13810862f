import { WebSocket } from 'ws';
import type { EvidenceLog } from '../evidence/evidence-log.js';
import { EvidenceForwarder } from './evidence-forwarder.js';
import type { ReplicaCursor } from './evidence-replica.js';
import {
  GatewayMessageSchema,
  MAX_CONTROL_MESSAGE_BYTES,
  type GatewayMessage,
  type SidecarMessage,
} from './channel-protocol.js';
import { pointerBundleDigest } from '../policy/bundle/channel.js';
import type { BundleFiles } from '../policy/bundle/files.js';
import type { BundleSource } from '../policy/runtime/source.js';
import type { PepPolicyStatus } from '../policy/runtime/status.js';
import type { Logger } from '../util/log.js';
import { PEP_HEADER } from './channel-server.js';
import type { PepInfo } from '../evidence/types.js';
import type { ResolvedConfig } from '../config/load-config.js';

/**
 * Bundles as the control channel delivers them: the channel's latest pointer and the files of the
 * bundles it named. Only bytes: the policy manager verifies everything before activating.
 */
export class ControlChannelSource implements BundleSource {
  readonly location: string;
  private pointer?: string;
  private readonly bundles = new Map<string, BundleFiles>();
  private readonly listeners: (() => void)[] = [];

  constructor(
    gateway: string,
    readonly channel: string,
  ) {
    this.location = `${gateway} (control channel)`;
  }

  /** Takes a pushed pointer and its bundle's files. */
  update(pointer: string, files: BundleFiles): void {
    this.pointer = pointer;
    const digest = pointerBundleDigest(pointer);
    if (digest !== undefined && files.size > 0) this.bundles.set(digest, files);
    for (const listener of this.listeners) listener();
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async readPointer(): Promise<string | undefined> {
    return this.pointer;
  }

  async readBundle(digest?: string): Promise<BundleFiles> {
    const files = digest === undefined ? undefined : this.bundles.get(digest);
    if (!files) throw new Error(`the gateway has not sent bundle ${digest}`);
    return files;
  }
}

export interface ControlClientOptions {
  /** The gateway's control endpoint, ws://HOST:PORT/control. */
  url: string;
  token: string;
  pep: PepInfo;
  evidence: EvidenceLog;
  /** The bundle name and channel followed, when the sidecar enforces bundles. */
  follow?: { name: string; channel: string };
  /** A pushed pointer and bundle arrived (already stored in the source): check them now. */
  onPolicy?: (pointer: string, files: BundleFiles) => void;
  log: Logger;
  /** Reconnect backoff: first delay and cap, in milliseconds. */
  backoff?: { initialMs: number; maxMs: number };
}

interface Waiting {
  resolve: (cursor: ReplicaCursor) => void;
  reject: (err: Error) => void;
}

/**
 * The sidecar's end of the control channel. It keeps one connection to the gateway, reconnecting
 * with exponential backoff and full jitter; says hello (PEP id, followed channel); forwards its
 * evidence log from the replica's cursor (the log on disk is the spool, so records written while the
 * gateway was away go out when it is back, once each, in order); sends status reports; and hands
 * pushed policies to the policy manager, which verifies them itself.
 */
export class ControlClient {
  private socket?: WebSocket;
  private attempt = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private nextId = 0;
  private readonly waiting = new Map<number, Waiting>();
  private forwarder?: EvidenceForwarder;
  private latestStatus?: PepPolicyStatus;
  private stopDurable?: () => void;
  private firstPolicy?: () => void;
  /** Resolves on the first pushed policy (or never, without one). */
  readonly policyArrived: Promise<void>;
  /** True while a connection is open and welcomed. */
  connected = false;

  constructor(private readonly opts: ControlClientOptions) {
    this.policyArrived = new Promise((resolve) => (this.firstPolicy = resolve));
  }

  start(): void {
    this.stopDurable = this.opts.evidence.onDurable(() => this.pump());
    this.connect();
  }

  /** Sends a status report now, or when the connection is back (only the latest is kept). */
  sendStatus(status: PepPolicyStatus): void {
    this.latestStatus = status;
    if (this.connected) this.send({ type: 'status', status });
  }

  /**
   * Waits (at most `ms`) until the gateway has acknowledged every durable record, so a sidecar that
   * stops while connected leaves nothing behind. Offline, the log keeps the rest for the next start.
   */
  async drain(ms: number): Promise<void> {
    const forwarder = this.forwarder;
    if (!this.connected || !forwarder) return;
    // One pump ships every durable record and then the checkpoints that cover them.
    await Promise.race([forwarder.pump().catch(() => {}), new Promise((r) => setTimeout(r, ms).unref())]);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.stopDurable?.();
    const socket = this.socket;
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      const done = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.close(1000, 'sidecar stopping');
      await Promise.race([done, new Promise((r) => setTimeout(r, 2000).unref())]);
    }
  }

  private connect(): void {
    if (this.closed) return;
    const socket = new WebSocket(this.opts.url, {
      headers: { authorization: `Bearer ${this.opts.token}`, [PEP_HEADER]: this.opts.pep.id },
      maxPayload: MAX_CONTROL_MESSAGE_BYTES,
      handshakeTimeout: 10_000,
    });
    this.socket = socket;
    socket.on('open', () => {
      this.send({ type: 'hello', pep: this.opts.pep, follow: this.opts.follow ?? null });
    });
    socket.on('message', (data: Buffer) => {
      let message: GatewayMessage;
      try {
        message = GatewayMessageSchema.parse(JSON.parse(data.toString('utf8')));
      } catch (err) {
        this.opts.log('warn', 'bad control message from the gateway', { error: (err as Error).message });
        return;
      }
      this.receive(message);
    });
    socket.on('unexpected-response', (_req, res) => {
      this.opts.log('error', 'the gateway refused the control channel', { status: res.statusCode });
    });
    socket.on('error', (err) => this.opts.log('debug', 'control channel error', { error: err.message }));
    socket.on('close', () => {
      if (this.socket !== socket) return;
      const wasConnected = this.connected;
      this.connected = false;
      this.forwarder = undefined;
      for (const w of this.waiting.values()) w.reject(new Error('control channel closed'));
      this.waiting.clear();
      if (wasConnected)
        this.opts.log('warn', 'control channel lost; enforcing locally and spooling evidence');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const { initialMs, maxMs } = this.opts.backoff ?? { initialMs: 250, maxMs: 30_000 };
    const ceiling = Math.min(maxMs, initialMs * 2 ** this.attempt);
    this.attempt += 1;
    // Full jitter: many sidecars losing one gateway do not come back in step.
    this.timer = setTimeout(() => this.connect(), Math.random() * ceiling);
    this.timer.unref();
  }

  private receive(message: GatewayMessage): void {
    switch (message.type) {
      case 'welcome':
        this.connected = true;
        this.attempt = 0;
        this.opts.log('info', 'control channel connected', { url: this.opts.url });
        if (this.latestStatus) this.send({ type: 'status', status: this.latestStatus });
        if (message.evidence) {
          this.forwarder = new EvidenceForwarder(
            this.opts.evidence.dir,
            {
              sendRecords: (lines) => this.request({ lines }),
              sendCheckpoint: (line) => this.request({ line }),
            },
            message.evidence,
            () => this.opts.evidence.durableCount,
          );
          this.pump();
        }
        return;
      case 'ack':
        this.waiting.get(message.id)?.resolve(message.cursor);
        this.waiting.delete(message.id);
        return;
      case 'nack':
        this.waiting
          .get(message.id)
          ?.reject(new Error(`the gateway refused forwarded evidence: ${message.error}`));
        this.waiting.delete(message.id);
        return;
      case 'policy': {
        const files: BundleFiles = new Map(
          Object.entries(message.files).map(([n, b]) => [n, Buffer.from(b, 'base64')]),
        );
        this.opts.onPolicy?.(message.pointer, files);
        this.firstPolicy?.();
        return;
      }
    }
  }

  private pump(): void {
    const forwarder = this.forwarder;
    if (!forwarder) return;
    forwarder.pump().catch((err: Error) => {
      // A refused batch would be refused again: stop until the next connection, and say so.
      this.opts.log('error', 'evidence forwarding stopped', { error: err.message });
      if (this.forwarder === forwarder) this.forwarder = undefined;
    });
  }

  private request(body: { lines: string[] } | { line: string }): Promise<ReplicaCursor> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.send(
        'lines' in body
          ? { type: 'records', id, lines: body.lines }
          : { type: 'checkpoint', id, line: body.line },
      );
    });
  }

  private send(message: SidecarMessage): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}

/** How long a sidecar that follows a channel over the control channel waits for its first bundle. */
const FIRST_POLICY_WAIT_MS = 10_000;

/** What a sidecar's control channel needs at start. */
export interface ControlChannelOptions {
  config: ResolvedConfig;
  /** The gateway's control endpoint; overrides the config's `control.gateway`. */
  gateway?: string;
  env: NodeJS.ProcessEnv;
  pep: PepInfo;
  evidence: EvidenceLog;
  log: Logger;
}

/**
 * Starts a sidecar's control channel, when one is configured: the client, and (when the sidecar
 * follows a channel) the bundle source it feeds. A fresh sidecar waits briefly for its first bundle;
 * offline, it starts from its cached last good bundle instead.
 */
export async function connectControlChannel(
  opts: ControlChannelOptions,
): Promise<{ client: ControlClient; source?: ControlChannelSource } | undefined> {
  const { config } = opts;
  const gateway = opts.gateway ?? config.control?.gateway;
  if (gateway === undefined) return undefined;
  const tokenEnv = config.control?.token_env ?? 'MCPGOV_CONTROL_TOKEN';
  const token = opts.env[tokenEnv];
  if (!token) throw new Error(`the control channel needs a token in the environment variable ${tokenEnv}`);
  const channel = config.policy.channel;
  const follow = channel === undefined ? undefined : { name: config.policy.name, channel };
  const source = follow ? new ControlChannelSource(gateway, follow.channel) : undefined;
  const client = new ControlClient({
    url: gateway,
    token,
    pep: opts.pep,
    evidence: opts.evidence,
    follow,
    log: opts.log,
    onPolicy: (pointer, files) => source?.update(pointer, files),
  });
  client.start();
  if (source) {
    await Promise.race([
      client.policyArrived,
      new Promise((resolve) => setTimeout(resolve, FIRST_POLICY_WAIT_MS).unref()),
    ]);
  }
  return { client, source };
}
