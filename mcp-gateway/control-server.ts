import { timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { PoliciesConfig } from '../src/config/schema.js';
import { sha256Hex } from '../src/evidence/hash.js';
import { EvidenceReplica, REPLICAS_DIR, ReplicaError } from '../src/evidence/replica.js';
import { readJwks } from '../src/evidence/signer.js';
import {
  CONTROL_PATH,
  MAX_CONTROL_MESSAGE_BYTES,
  SidecarMessageSchema,
  type GatewayMessage,
} from '../src/pep/control-protocol.js';
import type { PolicyControlPlane } from '../src/policy/bundle/control-plane.js';
import { readBundleDir } from '../src/policy/bundle/files.js';
import { peekPayload } from '../src/policy/bundle/jws.js';
import { bundlePath, pointerPath } from '../src/policy/bundle/registry-store.js';
import type { Logger } from '../src/util/log.js';

export interface ControlServerOptions {
  control: PolicyControlPlane;
  policy: PoliciesConfig;
  /** The gateway's evidence folder: replicas of sidecar logs go under `peps/<id>/`. */
  evidenceDir: string;
  log: Logger;
  /** How often the registry's channel pointers are checked for a change to push. */
  pollMs: number;
}

/** A sidecar must say hello this soon after connecting. */
const HELLO_TIMEOUT_MS = 10_000;
/** The header naming the PEP whose token the upgrade presents. */
export const PEP_HEADER = 'x-mcpgov-pep';

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
    const reporter =
      typeof pepId === 'string' && Object.hasOwn(this.opts.policy.reporters, pepId)
        ? this.opts.policy.reporters[pepId]
        : undefined;
    const refuse = (status: number, text: string) => {
      this.opts.log('warn', 'control channel refused', { pep: pepId, status });
      socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return true;
    };
    if (!reporter) return refuse(403, 'Forbidden');
    if (!token || !tokenMatches(token, reporter.token_sha256)) return refuse(401, 'Unauthorized');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, pepId as string, token));
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
    // PEP ids may hold any characters; the folder name must not climb out of peps/.
    const folder = encodeURIComponent(pepId);
    return EvidenceReplica.open(
      path.join(this.opts.evidenceDir, REPLICAS_DIR, folder),
      await readJwks(jwksFile),
    );
  }

  /** Pushes each connected sidecar its channel's pointer and bundle, when they changed. */
  private async pushAll(): Promise<void> {
    for (const conn of this.connections.values()) {
      await this.push(conn).catch((err: Error) =>
        this.opts.log('warn', 'policy push failed', { pep: conn.pepId, error: err.message }),
      );
    }
  }

  private async push(conn: Connection): Promise<void> {
    if (!conn.follow) return;
    const { registry } = this.opts.policy;
    let pointer: string;
    try {
      pointer = (await readFile(pointerPath(registry, conn.follow.name, conn.follow.channel), 'utf8')).trim();
    } catch {
      return; // nothing published on this channel yet
    }
    if (pointer === conn.pushed) return;
    const payload = peekPayload(pointer) as { bundle_digest?: unknown } | undefined;
    const digest = typeof payload?.bundle_digest === 'string' ? payload.bundle_digest : '';
    const dir = bundlePath(registry, conn.follow.name, digest);
    const files: Record<string, string> = {};
    if (/^sha256:[0-9a-f]{64}$/.test(digest) && existsSync(dir)) {
      for (const [name, bytes] of await readBundleDir(dir)) files[name] = bytes.toString('base64');
    }
    this.send(conn, { type: 'policy', pointer, files });
    conn.pushed = pointer;
  }

  private send(conn: Connection, message: GatewayMessage): void {
    conn.socket.send(JSON.stringify(message));
  }

  /** The PEP ids connected now. */
  get connected(): string[] {
    return [...this.connections.keys()];
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const conn of this.connections.values()) conn.socket.close(1001, 'gateway shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

function tokenMatches(token: string, expected: string): boolean {
  const a = Buffer.from(`sha256:${sha256Hex(token)}`);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
