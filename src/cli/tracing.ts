import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import type { Logger } from '../util/log.js';

/*
 * The span code (src/pep/call-trace.ts) uses @opentelemetry/api alone. Which SDK records the spans is
 * the deployment's choice: `node --import` an SDK set-up of your own, or let the CLI start the
 * OpenTelemetry Node SDK from the standard OTEL_* variables, as here. Off by default: with none of
 * them set, nothing is loaded and every span is the API's no-op.
 */

/** A running SDK: flushes buffered spans and stops its exporters. */
export interface Tracing {
  shutdown(): Promise<void>;
}

/** How long shutdown waits for the last spans to be exported (an unreachable collector must not hold exit). */
const SHUTDOWN_MS = 5000;

/** OTEL_LOG_LEVEL values (the SDK's spelling) and the diag levels they select. */
const DIAG_LEVELS: Record<string, DiagLogLevel> = {
  NONE: DiagLogLevel.NONE,
  ERROR: DiagLogLevel.ERROR,
  WARN: DiagLogLevel.WARN,
  INFO: DiagLogLevel.INFO,
  DEBUG: DiagLogLevel.DEBUG,
  VERBOSE: DiagLogLevel.VERBOSE,
  ALL: DiagLogLevel.ALL,
};

/**
 * The trace exporters the environment asks for, as the OpenTelemetry specification reads it
 * (OTEL_TRACES_EXPORTER, default `otlp`), but only when something asks for tracing at all: an
 * exporter named in OTEL_TRACES_EXPORTER, or an OTLP endpoint set. Empty means tracing stays off.
 */
export function requestedExporters(env: NodeJS.ProcessEnv): string[] {
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return [];
  const named = (env['OTEL_TRACES_EXPORTER'] ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '' && s !== 'null');
  if (named.includes('none')) return [];
  if (named.length > 0) return [...new Set(named)];
  const endpoint = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  return endpoint !== undefined && endpoint.trim() !== '' ? ['otlp'] : [];
}

/**
 * Starts the OpenTelemetry Node SDK when the environment asks for a trace exporter, else does nothing.
 * `stdio`: stdout carries JSON-RPC, so the `console` exporter (which prints spans to stdout) is left
 * out. The SDK's own diagnostics go to the stderr logger (OTEL_LOG_LEVEL, default warn). Only traces
 * are set up: mcpgov emits no OpenTelemetry metrics or logs.
 */
export async function startTracing(opts: {
  service: string;
  stdio: boolean;
  log: Logger;
  env?: NodeJS.ProcessEnv;
}): Promise<Tracing | undefined> {
  const env = opts.env ?? process.env;
  let exporters = requestedExporters(env);
  if (exporters.length === 0) return undefined;
  if (opts.stdio && exporters.includes('console')) {
    opts.log('warn', 'the console trace exporter writes to stdout, which carries JSON-RPC here; left out');
    exporters = exporters.filter((e) => e !== 'console');
    if (exporters.length === 0) return undefined;
    // The SDK reads the exporter list from the environment when it starts.
    env['OTEL_TRACES_EXPORTER'] = exporters.join(',');
  }
  const loaded = await import('@opentelemetry/sdk-node').catch((err: unknown) => err as Error);
  if (loaded instanceof Error) {
    opts.log(
      'warn',
      'tracing is asked for, but @opentelemetry/sdk-node is not installed; spans are not recorded',
      {
        exporters,
        error: loaded.message,
      },
    );
    return undefined;
  }
  const named =
    env['OTEL_SERVICE_NAME'] !== undefined ||
    /(?:^|,)\s*service\.name=/.test(env['OTEL_RESOURCE_ATTRIBUTES'] ?? '');
  const sdk = new loaded.NodeSDK({
    serviceName: named ? undefined : opts.service,
    // Traces only: without these the SDK would also start OTLP metric and log exporters by default.
    metricReaders: [],
    logRecordProcessors: [],
  });
  // After the SDK's constructor, which installs a console logger for OTEL_LOG_LEVEL (stdout for info).
  diag.setLogger(diagLogger(opts.log), {
    logLevel: DIAG_LEVELS[(env['OTEL_LOG_LEVEL'] ?? '').trim().toUpperCase()] ?? DiagLogLevel.WARN,
    suppressOverrideMessage: true,
  });
  sdk.start();
  opts.log('info', 'tracing on', { exporters, service: named ? undefined : opts.service });
  return {
    shutdown: async () => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_MS);
        timer.unref();
      });
      await Promise.race([sdk.shutdown().catch(() => {}), deadline]);
      clearTimeout(timer);
    },
  };
}

/** The SDK's diagnostics as lines of the stderr logger. */
function diagLogger(log: Logger): DiagLogger {
  const line =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, ...args: unknown[]) =>
      log(level, `opentelemetry: ${message}`, args.length > 0 ? { details: args.map(String) } : undefined);
  return {
    error: line('error'),
    warn: line('warn'),
    info: line('info'),
    debug: line('debug'),
    verbose: line('debug'),
  };
}
