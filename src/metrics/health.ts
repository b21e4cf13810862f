import { open, rm } from 'node:fs/promises';
import path from 'node:path';

/** One readiness check: whether the part it looks at can serve now. It never throws. */
export type ReadinessCheck = () => boolean | Promise<boolean>;

/** What `/readyz` answers: ready only when every check passes. Names and states only, never why. */
export interface Readiness {
  ready: boolean;
  checks: Record<string, 'pass' | 'fail'>;
}

/** Runs the named readiness checks together; a check that throws fails. */
export async function readiness(checks: Readonly<Record<string, ReadinessCheck>>): Promise<Readiness> {
  const names = Object.keys(checks);
  const passed = await Promise.all(
    names.map(async (name) => {
      try {
        return (await checks[name]?.()) === true;
      } catch {
        return false;
      }
    }),
  );
  const states: Record<string, 'pass' | 'fail'> = {};
  names.forEach((name, i) => (states[name] = passed[i] ? 'pass' : 'fail'));
  return { ready: passed.every(Boolean), checks: states };
}

/**
 * The file the evidence check writes and removes in the evidence folder. Never a segment name
 * (`log-NNNNNN.jsonl`) nor the checkpoints file, so readers of the folder pass over it.
 */
export const PROBE_FILE = '.readyz-probe';

/**
 * The evidence check: the log has not failed (a failed fdatasync or an uncut torn line stops it until
 * a restart), and a byte can be written in its folder now (a full disk, a read-only or vanished
 * folder fail). Concurrent probes share one write.
 */
export function evidenceCheck(log: {
  readonly dir: string;
  readonly failure: Error | undefined;
}): ReadinessCheck {
  let running: Promise<boolean> | undefined;
  return () => {
    if (log.failure !== undefined) return false;
    running ??= probeFolder(log.dir).finally(() => (running = undefined));
    return running;
  };
}

/** Whether a one-byte file can be created, written and removed in `dir`. */
export async function probeFolder(dir: string): Promise<boolean> {
  const file = path.join(dir, PROBE_FILE);
  try {
    const fh = await open(file, 'w');
    try {
      await fh.write(PROBE_BYTE);
    } finally {
      await fh.close();
    }
    await rm(file);
    return true;
  } catch {
    await rm(file, { force: true }).catch(() => {});
    return false;
  }
}

const PROBE_BYTE = Buffer.from('\n');
