import { InvalidArgumentError, Option } from 'commander';
import { configOption, hostPort, type McpgovCommand } from '../command.js';
import type { GatewayOptions } from '../gateway.js';
import type { SidecarOptions } from '../sidecar.js';
import type { ConnectOptions } from '../connect.js';

/** `mcpgov gateway`, `mcpgov sidecar` and `mcpgov connect`: the commands that serve MCP. */
export function serveCommands(program: McpgovCommand): void {
  program
    .command('gateway')
    .summary('run the governing MCP gateway (stdio and/or Streamable HTTP)')
    .description(
      "Runs the governing MCP gateway: aggregates the config's downstream servers as <server>__<tool>,\n" +
        'decides every tools/call, writes evidence before forwarding.',
    )
    .addOption(configOption())
    .option(
      '--stdio',
      "serve one session on stdin/stdout (for Claude Desktop and IDE agents); the caller's token, if any, comes from MCPGOV_TOKEN",
    )
    .addOption(
      new Option(
        '--http <host:port>',
        "serve Streamable HTTP at http://HOST:PORT/mcp (default: the config's listen.http)",
      ).argParser(hostPort),
    )
    .addHelpText(
      'after',
      '\nLogs go to stderr as JSON lines (MCPGOV_LOG_LEVEL=debug|info|warn|error).\n' +
        'Traces: one OpenTelemetry span per tools/call when the OTEL_* variables name an exporter\n' +
        '(OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint); off otherwise.',
    )
    .run(async (opts: GatewayOptions) => (await import('../gateway.js')).gatewayCommand(opts));

  program
    .command('sidecar')
    .summary('run one local MCP server over stdio, governed (in place of the bare server)')
    .description(
      "Runs COMMAND (a local MCP server speaking stdio) and serves it on this process's stdin/stdout,\n" +
        'governed: every tools/call is decided and recorded before it reaches the server, and tools/list\n' +
        "shows only the tools the agent may use. Put it in Claude Desktop's config in place of the bare\n" +
        "server. Tool names are the server's own unless --prefix is given.",
    )
    .argument('<command>', 'the MCP server to run ("node" runs this process\'s own Node binary)')
    .argument('[args...]', 'its arguments, passed unchanged (its own --help included)')
    // Options end at COMMAND: everything from there on is the wrapped server's (like env or sudo),
    // with or without "--" (some launchers drop it).
    .passThroughOptions()
    .addOption(configOption())
    .option('--name <name>', "the server's name in the registry and in evidence", 'local')
    .option('--prefix', 'expose tools as NAME__<tool>, as the gateway does')
    .addOption(
      new Option(
        '--gateway <url>',
        "the gateway's control channel (ws://HOST:PORT/control): signed policy updates, status for drift detection and evidence forwarding (default: control.gateway; the token comes from the variable control.token_env)",
      ).argParser(wsUrl),
    )
    .addHelpText(
      'after',
      '\nOptions come before COMMAND; everything from COMMAND on is passed to it unchanged.\n' +
        "The caller's token, if any, comes from MCPGOV_TOKEN. Logs go to stderr; stdout carries JSON-RPC only.\n" +
        'Traces: one OpenTelemetry span per tools/call when the OTEL_* variables name an exporter.',
    )
    .run(async (opts: SidecarOptions, args) => (await import('../sidecar.js')).sidecarCommand(opts, args));

  program
    .command('connect')
    .summary('relay stdio to a remote gateway over HTTP, presenting a bearer token')
    .description(
      "Serves MCP on stdin/stdout and relays the session to a remote gateway's Streamable HTTP endpoint,\n" +
        'presenting a bearer token: how a desktop client that speaks stdio (Claude Desktop, an IDE agent, the\n' +
        "MCP Inspector's CLI) reaches a gateway that requires tokens. Nothing is governed here: the gateway\n" +
        'decides. The token is read once at start and never logged.',
    )
    .argument('<url>', "the gateway's MCP endpoint (http(s)://HOST:PORT/mcp)", httpUrl)
    .addOption(
      new Option(
        '--token-env <name>',
        'environment variable holding the token (default: MCPGOV_TOKEN, if set)',
      ).conflicts('tokenFile'),
    )
    .option('--token-file <file>', 'file holding the token (its first line)')
    .addHelpText(
      'after',
      '\nA request the gateway refuses at the HTTP level (401 without a valid token, 403, 503) is answered\n' +
        'with JSON-RPC error -32030 naming the status. Logs go to stderr.',
    )
    .run(async (opts: ConnectOptions, [url]) => (await import('../connect.js')).connectCommand(opts, url!));
}

function httpUrl(value: string): string {
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol))
    throw new InvalidArgumentError(`not an http(s) URL: ${value}`);
  return value;
}

function wsUrl(value: string): string {
  if (!URL.canParse(value) || !/^wss?:$/.test(new URL(value).protocol))
    throw new InvalidArgumentError(`not a ws(s):// URL: ${value}`);
  return value;
}
