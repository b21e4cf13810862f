import { createServer } from 'node:net';
import { Failure } from './io.js';

/**
 * Fails in one line, ending in `hint` (what to change), when HOST:PORT is already taken: the gateway
 * then never starts its servers only to stop them. Port 0 (any free port) is always free.
 */
export async function assertPortFree(hostPort: string, hint: string): Promise<void> {
  const match = /^\[?([^\]]*)\]?:(\d+)$/.exec(hostPort);
  if (!match || Number(match[2]) === 0) return;
  const [host, port] = [match[1]!, Number(match[2])];
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(new Failure(`port ${port} is in use; ${hint}`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND')
        reject(new Failure(`cannot listen on ${hostPort}: no such local address; ${hint}`));
      // Anything else (EACCES on a low port, ...) is left for the real listener to report.
      else resolve();
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
