import { loadConfig } from '../config/load-config.js';
import { startGateway } from '../../mcp-gateway/gateway.js';
import { createLogger } from '../util/log.js';
import { EXIT, Failure, UsageError } from './io.js';
import { assertPortFree } from './port.js';
import { startTracing } from './tracing.js';

/** Options of `mcpgov gateway` (commands/serve.ts). */
export interface GatewayOptions {
  config: string;
  stdio?: boolean;
  http?: string;
}

/** How long SIGTERM/SIGINT waits for chain-close records, the last checkpoint and the servers to stop. */
const SHUTDOWN_DEADLINE_MS = 20_000;

/** `mcpgov gateway`: runs until SIGINT/SIGTERM or, in stdio mode, until stdin closes. */
export async function gatewayCommand(values: GatewayOptions): Promise<number> {
  const config = await loadConfig(values.config);
  const stdio = values.stdio || config.listen.stdio;
  // With --stdio alone, HTTP is served only when asked for on the command line.
  const http = values.http ?? (values.stdio ? undefined : config.listen.http);
  if (!stdio && !http)
    throw new UsageError('nothing to serve: give --stdio or --http, or set listen in the config');
  // A port already taken is said in one line before anything starts (servers, evidence, keys).
  for (const [hint, at] of [
    ['pass --http HOST:PORT', http],
    [`set another admin.http in ${config.file}`, config.admin?.http],
  ] as const)
    if (at) await assertPortFree(at, hint);
  const log = createLogger('gateway');
  const tracing = await startTracing({ service: 'mcpgov-gateway', stdio, log });
  const gateway = await startGateway({ config, stdio, http, log }).catch((e: NodeJS.ErrnoException) => {
    // Taken between the check above and the listener: the same one line.
    if (e.code === 'EADDRINUSE')
      throw new Failure(`port ${(e as { port?: number }).port} is in use; pass --http HOST:PORT`, {
        cause: e,
      });
    throw e;
  });

  return new Promise<number>((resolve) => {
    let closing = false;
    const shutdown = (why: string) => {
      if (closing) return;
      closing = true;
      log('info', 'shutting down', { why });
      // Shutdown is bounded: past this, the process exits without waiting any longer.
      setTimeout(() => {
        log('error', 'shutdown did not finish in time; exiting');
        resolve(EXIT.failed);
      }, SHUTDOWN_DEADLINE_MS).unref();
      gateway
        .close()
        // The last spans go out after the sessions close (their calls' spans end there).
        .then(() => tracing?.shutdown())
        .then(
          () => resolve(EXIT.ok),
          (e: Error) => {
            log('error', 'shutdown failed', { error: e.message });
            resolve(EXIT.failed);
          },
        );
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    if (stdio && !http) process.stdin.once('end', () => shutdown('stdin closed'));
  });
}
