/** Log levels, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Structured logger. Everything goes to stderr: in stdio mode stdout carries JSON-RPC only. */
export type Logger = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger writing one JSON object per line to stderr, at `MCPGOV_LOG_LEVEL` (default info) and above. */
export function createLogger(component: string, level: LogLevel = envLevel()): Logger {
  return (lvl, msg, fields) => {
    if (ORDER[lvl] < ORDER[level]) return;
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level: lvl, component, msg, ...fields })}\n`,
    );
  };
}

function envLevel(): LogLevel {
  const v = process.env['MCPGOV_LOG_LEVEL'];
  return v === 'debug' || v === 'info' || v === 'warn' || v === 'error' ? v : 'info';
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = () => {};
