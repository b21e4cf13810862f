// A stand-in for thread-entry.js whose check never ends, for what the real verifier cannot do on
// purpose (every pattern it runs is linear): a tool named `spin` holds the thread in a busy loop;
// any other is allowed, with the thread's id as the model, so a test can tell threads apart.
import { parentPort, threadId } from 'node:worker_threads';

parentPort.on('message', ({ id, input }) => {
  if (input.tool.name === 'spin') for (;;);
  parentPort.postMessage({
    id,
    answer: {
      verdict: 'allow',
      confidence: 1,
      signals: [],
      rationale: 'stand-in',
      provenance: { verifier: 'heuristic', model: `thread-${threadId}` },
    },
  });
});
parentPort.postMessage({ ready: true });
