import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { SemanticInput } from '../types.js';
import { HeuristicVerifier, type Thresholds } from './index.js';

/**
 * The worker thread of ThreadVerifier (thread.ts): runs the offline verifier on each input it is
 * sent and posts the answer back. It reports `ready` once its patterns are compiled and its lemma
 * memo warm, so that the first call does not pay for that.
 */
const port = parentPort;
if (!port) throw new Error('thread-entry.js runs in a worker thread (see thread.ts)');

/**
 * The verifier runs below the event loop's priority (nice +10 for this thread alone: Linux applies a
 * thread's own nice value), so a call whose check costs CPU takes it from spare time, never from the
 * thread that serves every other session. Where it is not permitted, the thread runs as before.
 */
const VERIFIER_NICE = 10;
try {
  setPriority(VERIFIER_NICE);
} catch {
  // not permitted here: normal priority
}
const { thresholds } = (workerData ?? {}) as { thresholds?: Partial<Thresholds> };
const verifier = new HeuristicVerifier({ thresholds });

port.on('message', (message: { id: number; input: SemanticInput }) => {
  verifier.verify(message.input).then(
    (answer) => port.postMessage({ id: message.id, answer }),
    (err: unknown) => port.postMessage({ id: message.id, error: (err as Error).message ?? String(err) }),
  );
});
port.postMessage({ ready: true });
