import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { startGateway } from '../../mcp-gateway/gateway.js';
import { createLogger } from '../util/log.js';
import { EXIT, UsageError } from './io.js';
import { startTracing } from './tracing.js';

export const gatewayHelp = `Usage: mcpgov gateway [--config FILE] [--stdio] [--http HOST:PORT]

Runs the governing MCP gateway: aggregates the config's downstream servers as <server>__<tool>,
decides every tools/call, writes evidence before forwarding.

Options:
  --config FILE      config file (default: ./mcpgov.yaml)
  --stdio            serve one session on stdin/stdout (for Claude Desktop and IDE agents);
                     the caller's token, if any, comes from MCPGOV_TOKEN
  --http HOST:PORT   serve Streamable HTTP at http://HOST:PORT/mcp (default: the config's listen.http)
  -h, --help         show this help

Logs go to stderr as JSON lines (MCPGOV_LOG_LEVEL=debug|info|warn|error).
Traces: one OpenTelemetry span per tools/call when the OTEL_* variables name an exporter
(OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint); off otherwise.`;

/** How long SIGTERM/SIGINT waits for chain-close records, the last checkpoint and the servers to stop. */
const SHUTDOWN_DEADLINE_MS = 20_000;

/** `mcpgov gateway`: runs until SIGINT/SIGTERM or, in stdio mode, until stdin closes. */
export async function gatewayCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', default: 'mcpgov.yaml' },
      stdio: { type: 'boolean', default: false },
      http: { type: 'string' },
    },
  });
  const config = await loadConfig(values.config);
  const stdio = values.stdio || config.listen.stdio;
  // With --stdio alone, HTTP is served only when asked for on the command line.
  const http = values.http ?? (values.stdio ? undefined : config.listen.http);
  if (!stdio && !http)
    throw new UsageError('nothing to serve: give --stdio or --http, or set listen in the config');
  const log = createLogger('gateway');
  const tracing = await startTracing({ service: 'mcpgov-gateway', stdio, log });
  const gateway = await startGateway({ config, stdio, http, log });

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
