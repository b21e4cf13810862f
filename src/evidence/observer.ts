import type { EvidenceRecord } from './types.js';

/**
 * What an evidence log reports as it works (the metrics' feed). Called synchronously on the write
 * path, so every method must be cheap and must not throw.
 */
export interface EvidenceObserver {
  /** A record was written to the log (in seq order). */
  written(record: EvidenceRecord): void;
  /** An append settled: seconds from the append until its record was as durable as promised. */
  appended(seconds: number): void;
  /** An append was refused: its record is not in the log. */
  refused(): void;
  /** One fdatasync finished, taking this many seconds. */
  synced(seconds: number): void;
}

/**
 * The same observer, unable to break the write path: an observer that throws is logged once to
 * stderr and otherwise ignored, as a metric must never cost a record or leave an append unsettled.
 */
export function guardObserver(observer: EvidenceObserver | undefined): EvidenceObserver | undefined {
  if (!observer) return undefined;
  let told = false;
  const guard =
    <A extends unknown[]>(call: (...args: A) => void) =>
    (...args: A): void => {
      try {
        call(...args);
      } catch (err) {
        if (told) return;
        told = true;
        process.stderr.write(`mcpgov: evidence observer failed (ignored): ${(err as Error).message}\n`);
      }
    };
  return {
    written: guard((record: EvidenceRecord) => observer.written(record)),
    appended: guard((seconds: number) => observer.appended(seconds)),
    refused: guard(() => observer.refused()),
    synced: guard((seconds: number) => observer.synced(seconds)),
  };
}
