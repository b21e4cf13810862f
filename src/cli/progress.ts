/** A progress bar on a terminal: what a long command draws while it works. */
export interface Progress {
  /** Reports `done` of `total` units (and a count to show beside the bar). */
  update(done: number, total: number, note?: string): void;
  /** Clears the bar, if one was drawn. */
  finish(): void;
}

const WIDTH = 30;

/**
 * A one-line bar on `stream`, drawn only when it is a terminal (a pipe or a file gets nothing) and only
 * once the work has taken `afterMs` (short runs stay quiet), redrawn at most every 100 ms.
 */
export function progressBar(stream: NodeJS.WriteStream = process.stderr, afterMs = 2000): Progress {
  if (!stream.isTTY) return { update() {}, finish() {} };
  const started = Date.now();
  let drawn = 0;
  let shown = false;
  return {
    update(done, total, note) {
      const now = Date.now();
      if (now - started < afterMs || now - drawn < 100) return;
      drawn = now;
      shown = true;
      const share = total > 0 ? Math.min(1, done / total) : 0;
      const full = Math.round(share * WIDTH);
      const bar = `${'#'.repeat(full)}${'-'.repeat(WIDTH - full)}`;
      stream.write(
        `\r[${bar}] ${String(Math.floor(share * 100)).padStart(3)}%${note ? ` ${note}` : ''}\x1b[K`,
      );
    },
    finish() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}
