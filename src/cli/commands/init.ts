import { jsonOption, type McpgovCommand } from '../command.js';
import type { InitOptions } from '../init.js';

/** `mcpgov init`: a starting config, or an existing client's servers put under governance. */
export function initCommands(program: McpgovCommand): void {
  program
    .command('init')
    .summary('write a commented mcpgov.yaml, registries and a starter policy (or govern a client config)')
    .description(
      'Writes a starting setup into --dir: a commented mcpgov.yaml (observe mode), registries/tools.yaml\n' +
        'and registries/agents.yaml, and a starter policy (policies/starter.yaml). Existing files are never\n' +
        'overwritten without --force.\n\n' +
        'With --from, reads an MCP client config (Claude Desktop or Cursor: "mcpServers"; VS Code: "servers"\n' +
        'with type stdio or http), puts its servers behind the gateway, starts each once and registers its\n' +
        'tools with a risk tier guessed from their MCP annotations (readOnlyHint: low, destructiveHint: high,\n' +
        'otherwise medium), marked for review, and prints the client config block that replaces them.\n' +
        'Secret-looking values are read from ${env:NAME}, never written to mcpgov.yaml.\n\n' +
        'Exit status: 0 when every server listed its tools; 1 when one did not, one was left out (SSE; HTTP\n' +
        'with --sidecar) or nothing could be written; 2 for a usage error.',
    )
    .option('--from <file>', 'a client config to put under governance (Claude Desktop, Cursor, VS Code)')
    .option('--sidecar', 'wrap each stdio server in its own sidecar instead of one gateway')
    .option('--dir <dir>', 'where to write the files', '.')
    .option('--force', 'overwrite files that are already there')
    .option('--no-probe', 'do not start the servers: write the config, register no tools')
    .addOption(jsonOption('print the result as one JSON object (files, servers, tools, snippet)'))
    .run(async (opts: InitOptions) => (await import('../init.js')).initCommand(opts));
}
