import { watch, type FSWatcher } from 'node:fs';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import type { ApprovalStore } from './store.js';
import {
  ApprovalRequestSchema,
  WaiverSchema,
  type ApprovalRequest,
  type CallBinding,
  type DecideResult,
  type RequestState,
  type Verdict,
  type Waiver,
} from './types.js';
import { z } from 'zod';

/** The store's file in the state folder. */
export const APPROVALS_FILE = 'approvals.json';
const LOCK_FILE = 'approvals.lock';
/** A lock held longer than this belongs to a process that died mid-transition. */
const LOCK_STALE_MS = 10_000;
/** A transition waits at most this long for another process's to finish. */
const LOCK_WAIT_MS = 15_000;
/** How often other processes' verdicts are looked for when the folder watch says nothing. */
const POLL_MS = 500;
/** Decided requests older than this (by creation) are dropped from the file; evidence keeps them. */
const KEEP_DECIDED_MS = 30 * 24 * 3600 * 1000;

const DataSchema = z.object({
  requests: z.array(ApprovalRequestSchema),
  waivers: z.array(WaiverSchema),
});
type Data = z.infer<typeof DataSchema>;

/** The store file is not what this version writes: refused, never overwritten. */
export class ApprovalStoreCorruptError extends Error {
  override name = 'ApprovalStoreCorruptError';
}

/**
 * The embedded approval store: one JSON file (lowdb) in the state folder, shared by the processes of
 * one machine (the gateway, and the CLI deciding offline). Every transition takes a lock file, reads
 * the file afresh, changes it and writes it whole (lowdb writes through a temporary file and a
 * rename, so a reader never sees half a file). Verdicts from other processes are noticed by watching
 * the folder, with a poll behind it.
 */
export class LowdbApprovalStore implements ApprovalStore {
  private readonly db: Low<Data>;
  private readonly file: string;
  private readonly lockFile: string;
  private readonly listeners = new Set<(request: ApprovalRequest) => void>();
  /** The state of every request as last seen, so a change made elsewhere is told once. */
  private readonly seen = new Map<string, RequestState>();
  private watcher?: FSWatcher;
  private poller?: NodeJS.Timeout;
  private lastMtime = 0;
  /** The file's parsed contents, and which version of the file they are (see `load`). */
  private cache?: { key: string; data: Data };
  /** This process's transitions, one at a time (the lock file orders them against other processes). */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(readonly dir: string) {
    this.file = path.join(dir, APPROVALS_FILE);
    this.lockFile = path.join(dir, LOCK_FILE);
    this.db = new Low(new JSONFile<Data>(this.file), { requests: [], waivers: [] });
  }

  /** Opens (creating when missing) the store in `dir`; a file it cannot read is an error, never reset. */
  static async open(dir: string): Promise<LowdbApprovalStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const store = new LowdbApprovalStore(dir);
    const data = await store.load();
    for (const r of data.requests) store.seen.set(r.id, r.state);
    return store;
  }

  async create(request: ApprovalRequest): Promise<void> {
    await this.transition((data) => {
      data.requests.push(structuredClone(request));
      this.seen.set(request.id, request.state);
    });
  }

  async get(id: string): Promise<ApprovalRequest | undefined> {
    // Copies: what load() returns is the store's own cached contents.
    const request = (await this.load()).requests.find((r) => r.id === id);
    return request && structuredClone(request);
  }

  async list(filter: { state?: RequestState; limit?: number } = {}): Promise<ApprovalRequest[]> {
    const all = (await this.load()).requests.filter((r) => !filter.state || r.state === filter.state);
    all.sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
    return structuredClone(filter.limit === undefined ? all : all.slice(0, filter.limit));
  }

  async decide(
    id: string,
    verdict: Verdict,
    now: number,
    grantExpiresAt: string,
    usedBy?: string,
  ): Promise<DecideResult> {
    const result = await this.transition((data): DecideResult => {
      const request = data.requests.find((r) => r.id === id);
      if (!request) return { ok: false, code: 'unknown_request', message: `no approval request ${id}` };
      // An expiry is left to expire(), whose caller records it: changed here, it would go unrecorded.
      const expired =
        request.state === 'expired' || (request.state === 'pending' && Date.parse(request.expires_at) <= now);
      if (expired)
        return { ok: false, code: 'expired', message: `request ${id} expired at ${request.expires_at}` };
      if (request.state !== 'pending')
        return { ok: false, code: 'not_pending', message: `request ${id} is already ${request.state}` };
      request.state = verdict.verdict === 'approve' ? 'approved' : 'denied';
      request.verdict = verdict;
      if (verdict.verdict === 'approve') {
        request.grant =
          usedBy === undefined
            ? { expires_at: grantExpiresAt }
            : { expires_at: grantExpiresAt, used_at: new Date(now).toISOString(), used_by: usedBy };
      }
      this.seen.set(id, request.state);
      return { ok: true, request: structuredClone(request) };
    });
    if (result.ok) this.emit(result.request);
    return result;
  }

  async useGrant(
    binding: CallBinding,
    decisionId: string,
    now: number,
    requestId?: string,
  ): Promise<ApprovalRequest | undefined> {
    const usable = (r: ApprovalRequest) =>
      (requestId === undefined || r.id === requestId) && matchesGrant(r, binding, now);
    // Most calls have no grant: look before taking the lock.
    if (!(await this.load()).requests.some(usable)) return undefined;
    return this.transition((data) => {
      const request = data.requests.find(usable);
      if (!request?.grant) return undefined;
      request.grant.used_at = new Date(now).toISOString();
      request.grant.used_by = decisionId;
      return structuredClone(request);
    });
  }

  async expire(now: number): Promise<ApprovalRequest[]> {
    const due = (r: ApprovalRequest) => r.state === 'pending' && Date.parse(r.expires_at) <= now;
    if (!(await this.load()).requests.some(due)) return [];
    return this.transition((data) => {
      const expired = data.requests.filter(due);
      for (const r of expired) {
        r.state = 'expired';
        this.seen.set(r.id, r.state);
      }
      return structuredClone(expired);
    });
  }

  async withdraw(id: string, _now: number): Promise<ApprovalRequest | undefined> {
    return this.transition((data) => {
      const request = data.requests.find((r) => r.id === id && r.state === 'pending');
      if (!request) return undefined;
      request.state = 'withdrawn';
      this.seen.set(id, request.state);
      return structuredClone(request);
    });
  }

  async interrupt(id: string): Promise<void> {
    await this.transition((data) => {
      const request = data.requests.find((r) => r.id === id);
      if (request) request.interrupted = true;
    });
  }

  async markVerdictRecorded(id: string): Promise<void> {
    await this.transition((data) => {
      const request = data.requests.find((r) => r.id === id);
      if (request) request.verdict_recorded = true;
    });
  }

  async unrecordedVerdicts(): Promise<ApprovalRequest[]> {
    return structuredClone(
      (await this.load()).requests.filter((r) => r.verdict !== undefined && !r.verdict_recorded),
    );
  }

  async addWaiver(waiver: Waiver): Promise<void> {
    await this.transition((data) => {
      data.waivers.push(structuredClone(waiver));
    });
  }

  async listWaivers(filter: { active?: boolean; now?: number } = {}): Promise<Waiver[]> {
    const now = filter.now ?? Date.now();
    const all = (await this.load()).waivers.filter((w) => !filter.active || isActive(w, now));
    return structuredClone(all.reverse());
  }

  async revokeWaiver(id: string, revoked: NonNullable<Waiver['revoked']>): Promise<Waiver | undefined> {
    return this.transition((data) => {
      const waiver = data.waivers.find((w) => w.id === id && w.revoked === undefined);
      if (!waiver) return undefined;
      waiver.revoked = revoked;
      return structuredClone(waiver);
    });
  }

  async expireWaivers(now: number): Promise<Waiver[]> {
    const due = (w: Waiver) => !w.revoked && !w.expiry_recorded && Date.parse(w.until) <= now;
    if (!(await this.load()).waivers.some(due)) return [];
    return this.transition((data) => {
      const expired = data.waivers.filter(due);
      for (const w of expired) w.expiry_recorded = true;
      return structuredClone(expired);
    });
  }

  onVerdict(listener: (request: ApprovalRequest) => void): () => void {
    this.listeners.add(listener);
    this.watchOthers();
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    clearInterval(this.poller);
    await this.queue.catch(() => {});
  }

  private emit(request: ApprovalRequest): void {
    for (const listener of this.listeners) {
      try {
        listener(request);
      } catch {
        // a listener's fault is its own
      }
    }
  }

  /** Starts noticing verdicts written by other processes (the CLI deciding against this folder). */
  private watchOthers(): void {
    if (this.poller || this.closed) return;
    const check = () => void this.checkOthers().catch(() => {});
    try {
      this.watcher = watch(this.dir, { persistent: false }, (_event, name) => {
        if (name === APPROVALS_FILE) check();
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // no watch on this filesystem: the poll below still notices
    }
    this.poller = setInterval(check, POLL_MS);
    this.poller.unref();
  }

  private async checkOthers(): Promise<void> {
    if (this.closed) return;
    const mtime = await stat(this.file).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    if (mtime === this.lastMtime) return;
    this.lastMtime = mtime;
    for (const request of (await this.load()).requests) {
      const before = this.seen.get(request.id);
      this.seen.set(request.id, request.state);
      if (before === 'pending' && (request.state === 'approved' || request.state === 'denied')) {
        this.emit(request);
      }
    }
  }

  /**
   * Reads the file as it is now (a missing file is an empty store). The parsed contents are kept
   * for as long as the file is the same one (inode, size and modification time): lowdb replaces the
   * file on every write, so any write, by any process, is a new file.
   */
  private async load(): Promise<Data> {
    const key = await this.fileKey();
    if (key === undefined) return { requests: [], waivers: [] };
    if (this.cache?.key === key) return this.cache.data;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { requests: [], waivers: [] };
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ApprovalStoreCorruptError(`${this.file} is not JSON: ${(err as Error).message}`);
    }
    const data = DataSchema.safeParse(parsed);
    if (!data.success) {
      throw new ApprovalStoreCorruptError(
        `${this.file} is not an approvals store: ${data.error.issues[0]?.message ?? 'invalid'}`,
      );
    }
    // Kept only when the file did not change while it was read (else the next read parses again).
    if ((await this.fileKey()) === key) this.cache = { key, data: data.data };
    return data.data;
  }

  /** Identifies the file's current version; undefined when there is no file. */
  private async fileKey(): Promise<string | undefined> {
    try {
      const s = await stat(this.file, { bigint: true });
      return `${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Runs `change` on the current contents under the lock, then writes them (when it returns). */
  private transition<T>(change: (data: Data) => T): Promise<T> {
    const run = this.queue.then(async () => {
      const release = await this.lock();
      try {
        const data = await this.load();
        const result = change(data);
        const horizon = Date.now() - KEEP_DECIDED_MS;
        data.requests = data.requests.filter(
          (r) => r.state === 'pending' || Date.parse(r.created_at) >= horizon,
        );
        this.db.data = data;
        await this.db.write();
        const key = await this.fileKey();
        this.cache = key === undefined ? undefined : { key, data };
        return result;
      } catch (err) {
        // The contents may have been changed in memory and not written: read them afresh next time.
        this.cache = undefined;
        throw err;
      } finally {
        await release();
      }
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** Takes the lock file, waiting for another process's transition; a stale lock is taken over. */
  private async lock(): Promise<() => Promise<void>> {
    const started = Date.now();
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      try {
        const handle = await open(this.lockFile, 'wx', 0o600);
        await handle.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), at: Date.now() }));
        await handle.close();
        return () => rm(this.lockFile, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      if (await this.staleLock()) {
        await rm(this.lockFile, { force: true });
        continue;
      }
      if (Date.now() - started > LOCK_WAIT_MS) {
        throw new Error(
          `approvals store ${this.dir} stayed locked for ${LOCK_WAIT_MS / 1000} s (${LOCK_FILE})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** Whether the lock file was left by a process that is gone, or has been held far too long. */
  private async staleLock(): Promise<boolean> {
    let text: string;
    let modified: number;
    try {
      [text, modified] = await Promise.all([
        readFile(this.lockFile, 'utf8'),
        stat(this.lockFile).then((s) => s.mtimeMs),
      ]);
    } catch {
      return false; // just removed: try again
    }
    let holder: { pid?: number; host?: string; at?: number };
    try {
      holder = JSON.parse(text) as typeof holder;
    } catch {
      // Empty or partial: being written right now, or left so by a process killed between creating
      // and writing it, which only its age tells.
      return Date.now() - modified > LOCK_STALE_MS;
    }
    if (typeof holder.at === 'number' && Date.now() - holder.at > LOCK_STALE_MS) return true;
    if (holder.host === hostname() && typeof holder.pid === 'number') return !alive(holder.pid);
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function matchesGrant(r: ApprovalRequest, b: CallBinding, now: number): boolean {
  return (
    r.state === 'approved' &&
    r.grant !== undefined &&
    r.grant.used_at === undefined &&
    Date.parse(r.grant.expires_at) > now &&
    r.binding.agent === b.agent &&
    r.binding.tool === b.tool &&
    r.binding.args_digest === b.args_digest &&
    r.binding.bundle_digest === b.bundle_digest
  );
}

/** Whether a waiver applies at `now`: not revoked and not past its `until`. */
export function isActive(w: Waiver, now: number): boolean {
  return w.revoked === undefined && Date.parse(w.until) > now;
}
