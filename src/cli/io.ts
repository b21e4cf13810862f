/** Exit codes shared by every subcommand. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A usage error: printed in one line with a pointer to the command's help, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An expected failure that says all there is to say in its message: printed in one line, exit 1. */
export class Failure extends Error {
  override name = 'Failure';
}

/** Writes a line to stdout (human or JSON output of non-server commands). */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Writes a line to stderr (diagnostics; the only place servers may write text). */
export function err(line: string): void {
  process.stderr.write(`${line}\n`);
}
