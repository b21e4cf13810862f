import { hostname } from 'node:os';
import { open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Logger } from '../util/log.js';

/** The lock file in an evidence folder: whoever holds it is the folder's one writer. */
export const LOCK_FILE = '.lock';
/** Guards a takeover of a stale lock, so two starting processes cannot both take it over. */
const TAKEOVER_FILE = '.lock.takeover';
/** A takeover guard older than this was left by a process that died mid-takeover. */
const TAKEOVER_STALE_MS = 10_000;

/** Who holds an evidence folder. */
export const LockHolderSchema = z.object({
  pid: z.number().int().positive(),
  host: z.string(),
  pep: z.string(),
  since: z.string(),
});
/** Who holds an evidence folder. */
export type LockHolder = z.infer<typeof LockHolderSchema>;

/** Thrown when another live enforcement point writes to the folder. */
export class EvidenceFolderLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly holder: LockHolder | undefined,
  ) {
    const who = holder
      ? `${holder.pep} (pid ${holder.pid} on ${holder.host}, since ${holder.since})`
      : 'another process (its lock file is unreadable)';
    const remote = holder !== undefined && holder.host !== hostname();
    super(
      `evidence folder ${dir} is in use by ${who}. Each enforcement point needs an evidence folder of ` +
        'its own: set evidence.dir in its config (and pep.id) so they differ' +
        (remote
          ? `. The holder runs on another host, so whether it is alive cannot be checked from here: if it is ` +
            `gone, remove ${path.join(dir, LOCK_FILE)}`
          : ''),
    );
    this.name = 'EvidenceFolderLockedError';
  }
}

/** A held lock on an evidence folder. */
export interface FolderLock {
  release(): Promise<void>;
}

/**
 * Makes this process the one writer of an evidence folder: `seq` and `prev` run over the whole log,
 * so two writers would interleave appends and break the chain. The lock is a file created with
 * O_EXCL holding pid, host and PEP id. A lock left by a process on this host that no longer exists
 * is taken over, and the takeover is logged; a live holder, or one on another host, is refused.
 */
export async function lockEvidenceFolder(dir: string, pep: string, log: Logger): Promise<FolderLock> {
  const file = path.join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), pep, since: new Date().toISOString() };
  if (!(await create(file, me))) {
    const holder = await readHolder(file);
    if (!holder || !isStale(holder)) throw new EvidenceFolderLockedError(dir, holder);
    await takeOver(dir, file, holder, me);
    log('warn', 'took over the evidence folder from an enforcement point that no longer runs', {
      dir,
      previous: holder,
    });
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      // Only our own lock is removed: never one a later process took over.
      if ((await readHolder(file))?.pid === me.pid) await rm(file, { force: true });
    },
  };
}

/** Creates the lock file exclusively; false when it exists already. */
async function create(file: string, holder: LockHolder): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await handle.writeFile(`${JSON.stringify(holder)}\n`);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return true;
}

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const parsed = LockHolderSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A holder on this host whose process is gone. (On another host, liveness cannot be checked.) */
function isStale(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return false;
  if (holder.pid === process.pid) return false; // this process holds it already: a second writer
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else; it is alive.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Replaces a stale lock, one process at a time, and only if it is still the stale one. */
async function takeOver(dir: string, file: string, stale: LockHolder, me: LockHolder): Promise<void> {
  const guard = path.join(dir, TAKEOVER_FILE);
  const guardAge = await stat(guard).then(
    (s) => Date.now() - s.mtimeMs,
    () => undefined,
  );
  if (guardAge !== undefined && guardAge > TAKEOVER_STALE_MS) await rm(guard, { force: true });
  if (!(await create(guard, me))) throw new EvidenceFolderLockedError(dir, await readHolder(guard));
  try {
    const current = await readHolder(file);
    if (current?.pid !== stale.pid || current.since !== stale.since) {
      throw new EvidenceFolderLockedError(dir, current);
    }
    await rm(file, { force: true });
    if (!(await create(file, me))) throw new EvidenceFolderLockedError(dir, await readHolder(file));
  } finally {
    await rm(guard, { force: true });
  }
}
