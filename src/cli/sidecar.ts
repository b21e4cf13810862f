import { loadConfig } from '../config/load-config.js';
import { startStdioWrapper } from '../../mcp-sidecar/stdio-wrapper.js';
import { createLogger } from '../util/log.js';
import { UsageError } from './io.js';
import { startTracing } from './tracing.js';

export const sidecarHelp = `Usage: mcpgov sidecar [--config FILE] [--name NAME] [--prefix] [--gateway URL] [--] COMMAND [ARGS...]

Runs COMMAND (a local MCP server speaking stdio) and serves it on this process's stdin/stdout,
governed: every tools/call is decided and recorded before it reaches the server, and tools/list
shows only the tools the agent may use. Put it in Claude Desktop's config in place of the bare
server. Tool names are the server's own unless --prefix is given.

Options:
  -c, --config FILE
                  config file: registries, policies, evidence, mode, identity
                  (default: $MCPGOV_CONFIG, else ./mcpgov.yaml)
  --name NAME     the server's name in the registry and in evidence (default: local)
  --prefix        expose tools as NAME__<tool>, as the gateway does
  --gateway URL   the gateway's control channel (ws://HOST:PORT/control): signed policy updates,
                  status for drift detection, and evidence forwarding (default: control.gateway);
                  the token comes from the variable control.token_env (MCPGOV_CONTROL_TOKEN)
  -h, --help      show this help

Options come before COMMAND; everything from COMMAND on is passed to it unchanged.
The caller's token, if any, comes from MCPGOV_TOKEN. Logs go to stderr; stdout carries JSON-RPC only.
Traces: one OpenTelemetry span per tools/call when the OTEL_* variables name an exporter.
"node" as COMMAND runs this process's own Node binary.`;

/** Options of `mcpgov sidecar`, all before the wrapped command. */
interface SidecarArgs {
  config: string;
  name: string;
  prefix: boolean;
  gateway?: string;
  command: string;
  args: string[];
}

const WITH_VALUE: Record<string, 'config' | 'name' | 'gateway'> = {
  '--config': 'config',
  '-c': 'config',
  '--name': 'name',
  '--gateway': 'gateway',
};

/**
 * Reads options up to the first argument that is not one (or up to "--"); everything from there on
 * is the wrapped command and its own arguments, untouched (like `env` or `sudo`). So both
 * `sidecar -c C -- node server.js --flag` and `sidecar -c C node server.js --flag` work, which also
 * suits launchers that drop "--" (the MCP Inspector's CLI does).
 */
export function parseSidecarArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): SidecarArgs {
  const out: Omit<SidecarArgs, 'command' | 'args'> = {
    config: env['MCPGOV_CONFIG'] ?? 'mcpgov.yaml',
    name: 'local',
    prefix: false,
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i += 1;
      break;
    }
    if (!arg.startsWith('-')) break;
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    if (flag === '--prefix') {
      out.prefix = true;
      continue;
    }
    const key = WITH_VALUE[flag];
    if (!key) throw new UsageError(`unknown option "${arg}" (options go before the server command)`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    out[key] = value;
  }
  const [command, ...args] = argv.slice(i);
  if (command === undefined) throw new UsageError('give the server command to run');
  return { ...out, command, args };
}

/** The arguments before the wrapped command: where `--help` means this command's help. */
export function sidecarOwnArgs(argv: readonly string[]): string[] {
  const own: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--' || !arg.startsWith('-')) break;
    own.push(arg);
    if (WITH_VALUE[arg] !== undefined) own.push(argv[++i] ?? '');
  }
  return own;
}

/** `mcpgov sidecar [options] [--] COMMAND ARGS`: runs until stdin closes or the wrapped server exits. */
export async function sidecarCommand(argv: string[]): Promise<number> {
  const { command, args, ...values } = parseSidecarArgs(argv);
  const config = await loadConfig(values.config);
  const log = createLogger('sidecar');
  const tracing = await startTracing({ service: 'mcpgov-sidecar', stdio: true, log });
  const wrapper = await startStdioWrapper({
    config,
    command,
    args,
    server: values.name,
    prefix: values.prefix,
    log,
  });
  process.once('SIGINT', () => void wrapper.close());
  process.once('SIGTERM', () => void wrapper.close());
  const code = await wrapper.done;
  await tracing?.shutdown();
  return code;
}
