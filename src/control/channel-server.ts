import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { PoliciesConfig } from '../config/schema.js';
import { EvidenceReplica, REPLICAS_DIR, ReplicaError, replicaFolder } from './evidence-replica.js';
import { readJwks } from '../evidence/signer.js';
import {
  CONTROL_PATH,
  MAX_CONTROL_MESSAGE_BYTES,
  SidecarMessageSchema,
  type GatewayMessage,
} from './channel-protocol.js';
import type { PolicyControlPlane } from './control-plane.js';
import { readBundleDir } from '../policy/bundle/files.js';
import { pointerBundleDigest } from '../policy/bundle/channel.js';
import { bundlePath, pointerPath } from '../policy/release/registry-store.js';
import type { Logger } from '../util/log.js';

export interface ControlServerOptions {
  control: PolicyControlPlane;
  policy: PoliciesConfig;
  /** The gateway's evidence folder: replicas of sidecar logs go under `peps/<id>/`. */
  evidenceDir: string;
  log: Logger;
  /** How often the registry's channel pointers are checked for a change to push. */
  pollMs: number;
}

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden' };

/** A sidecar must say hello this soon after connecting. */
const HELLO_TIMEOUT_MS = 10_000;
/** The header naming the PEP whose token the upgrade presents. */
export const PEP_HEADER = 'x-mcpgov-pep';

/** What the registry holds for one channel, as relayed to the sidecars that follow it. */
interface Relay {
  pointer: string;
  files(): Promise<Record<string, string>>;
}

interface Connection {
  pepId: string;
  socket: WebSocket;
  token: string;
  follow?: { name: string; channel: string };
  replica?: EvidenceReplica;
  /** The pointer last pushed to this sidecar, so an unchanged one is not pushed again. */
  pushed?: string;
}

/**
 * The gateway's end of the control channel (`/control`, WebSocket). It authenticates each sidecar by
 * PEP id and bearer token (pinned by hash in `policies.reporters`), relays its channel's signed
 * pointer and bundle from the registry whenever they change (the sidecar verifies them itself: the
 * relay is not trusted), feeds its status reports to drift detection, and keeps a verified replica
 * of its evidence log.
 */
export class ControlServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CONTROL_MESSAGE_BYTES });
  private readonly connections = new Map<string, Connection>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: ControlServerOptions) {
    this.timer = setInterval(() => void this.pushAll(), opts.pollMs);
    this.timer.unref();
  }

  /** Takes an HTTP upgrade on the control path; false for any other path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): boolean {
    if (url.pathname !== CONTROL_PATH) return false;
    const pepId = req.headers[PEP_HEADER];
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const allowed =
      typeof pepId === 'string'
        ? this.opts.control.authenticate(pepId, token)
        : { ok: false as const, status: 403, message: `no ${PEP_HEADER} header` };
    if (!allowed.ok) {
      this.opts.log('warn', 'control channel refused', { pep: pepId, reason: allowed.message });
      socket.end(
        `HTTP/1.1 ${allowed.status} ${STATUS_TEXT[allowed.status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
      );
      return true;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, pepId as string, token!));
    return true;
  }

  private accept(socket: WebSocket, pepId: string, token: string): void {
    // One connection per PEP: a reconnect replaces a connection the sidecar gave up on.
    this.connections.get(pepId)?.socket.close(4000, 'replaced by a newer connection');
    const conn: Connection = { pepId, socket, token };
    this.connections.set(pepId, conn);
    const helloTimer = setTimeout(() => socket.close(4001, 'no hello'), HELLO_TIMEOUT_MS);
    let queue = Promise.resolve();
    socket.on('message', (data: Buffer) => {
      // One message at a time, in order: evidence batches must be appended in sequence.
      queue = queue
        .then(() => this.receive(conn, data, helloTimer))
        .catch((err: Error) => {
          this.opts.log('warn', 'control message failed', { pep: pepId, error: err.message });
          socket.close(4002, 'protocol error');
        });
    });
    socket.on('close', () => {
      clearTimeout(helloTimer);
      if (this.connections.get(pepId) === conn) this.connections.delete(pepId);
      void queue.then(() => conn.replica?.close());
    });
    socket.on('error', (err) =>
      this.opts.log('warn', 'control socket error', { pep: pepId, error: err.message }),
    );
  }

  private async receive(conn: Connection, data: Buffer, helloTimer: NodeJS.Timeout): Promise<void> {
    const message = SidecarMessageSchema.parse(JSON.parse(data.toString('utf8')));
    switch (message.type) {
      case 'hello': {
        clearTimeout(helloTimer);
        if (message.pep.id !== conn.pepId) throw new Error(`hello names PEP "${message.pep.id}"`);
        conn.follow = message.follow ?? undefined;
        conn.replica = await this.openReplica(conn.pepId);
        this.send(conn, { type: 'welcome', evidence: conn.replica?.cursor ?? null });
        this.opts.log('info', 'sidecar connected', { pep: conn.pepId, follow: conn.follow });
        await this.push(conn);
        return;
      }
      case 'status': {
        const outcome = await this.opts.control.receive(message.status, conn.token);
        if (!outcome.ok) throw new Error(outcome.message);
        return;
      }
      case 'records':
      case 'checkpoint': {
        const replica = conn.replica;
        if (!replica) {
          this.send(conn, {
            type: 'nack',
            id: message.id,
            cursor: { next_seq: 0, checkpoints: 0 },
            error: `no evidence key is pinned for "${conn.pepId}" (policies.reporters.<id>.evidence_jwks)`,
          });
          return;
        }
        try {
          const cursor =
            message.type === 'records'
              ? await replica.appendRecords(message.lines)
              : await replica.appendCheckpoint(message.line);
          this.send(conn, { type: 'ack', id: message.id, cursor });
        } catch (err) {
          if (!(err instanceof ReplicaError)) throw err;
          this.opts.log('warn', 'forwarded evidence refused', { pep: conn.pepId, error: err.message });
          this.send(conn, { type: 'nack', id: message.id, cursor: err.cursor, error: err.message });
        }
      }
    }
  }

  private async openReplica(pepId: string): Promise<EvidenceReplica | undefined> {
    const jwksFile = this.opts.policy.reporters[pepId]?.evidence_jwks;
    if (jwksFile === undefined) return undefined;
    return EvidenceReplica.open(
      path.join(this.opts.evidenceDir, REPLICAS_DIR, replicaFolder(pepId)),
      await readJwks(jwksFile),
    );
  }

  /**
   * Pushes each connected sidecar its channel's pointer and bundle, when they changed. Each channel's
   * pointer (and its bundle, when some sidecar needs it) is read once per round, however many follow it.
   */
  private async pushAll(): Promise<void> {
    const relays = new Map<string, Promise<Relay | undefined>>();
    for (const conn of this.connections.values()) {
      if (!conn.follow) continue;
      const key = `${conn.follow.name}/${conn.follow.channel}`;
      if (!relays.has(key)) relays.set(key, this.relay(conn.follow));
      await this.push(conn, await relays.get(key)).catch((err: Error) =>
        this.opts.log('warn', 'policy push failed', { pep: conn.pepId, error: err.message }),
      );
    }
  }

  /** A channel's pointer as the registry holds it, with its bundle's files read on first need. */
  private async relay(follow: { name: string; channel: string }): Promise<Relay | undefined> {
    const { registry } = this.opts.policy;
    let pointer: string;
    try {
      pointer = (await readFile(pointerPath(registry, follow.name, follow.channel), 'utf8')).trim();
    } catch {
      return undefined; // nothing published on this channel yet
    }
    let files: Promise<Record<string, string>> | undefined;
    const readFiles = async () => {
      const digest = pointerBundleDigest(pointer);
      const dir = digest && bundlePath(registry, follow.name, digest);
      const out: Record<string, string> = {};
      if (dir && existsSync(dir)) {
        for (const [name, bytes] of await readBundleDir(dir)) out[name] = bytes.toString('base64');
      }
      return out;
    };
    return { pointer, files: () => (files ??= readFiles()) };
  }

  private async push(conn: Connection, relay?: Relay): Promise<void> {
    if (!conn.follow) return;
    relay ??= await this.relay(conn.follow);
    if (!relay || relay.pointer === conn.pushed) return;
    this.send(conn, { type: 'policy', pointer: relay.pointer, files: await relay.files() });
    conn.pushed = relay.pointer;
  }

  private send(conn: Connection, message: GatewayMessage): void {
    conn.socket.send(JSON.stringify(message));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const conn of this.connections.values()) conn.socket.close(1001, 'gateway shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
