/** Exit codes shared by every subcommand. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A usage error: printed with the command's help, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Writes a line to stdout (human or JSON output of non-server commands). */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Writes a line to stderr (diagnostics; the only place servers may write text). */
export function err(line: string): void {
  process.stderr.write(`${line}\n`);
}
