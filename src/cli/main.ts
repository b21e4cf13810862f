import { ConfigError } from '../config/yaml-file.js';
import { VERSION } from '../util/version.js';
import { gatewayCommand, gatewayHelp } from './gateway.js';
import { EXIT, UsageError, err, out } from './io.js';
import { evidenceCommand, evidenceHelp } from './evidence.js';
import { keysCommand, keysHelp } from './keys.js';
import { validateCommand, validateHelp } from './validate.js';

const HELP = `mcpgov ${VERSION}: runtime governance for AI agents that act through MCP tools

Usage: mcpgov <command> [options]

Commands:
  gateway    run the governing MCP gateway (stdio and/or Streamable HTTP)
  validate   check the config, registries and policies; print every problem with file and line
  evidence   verify an evidence folder offline
  keys       generate an Ed25519 key for signing evidence

Run "mcpgov <command> --help" for a command's options.`;

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  gateway: { run: gatewayCommand, help: gatewayHelp },
  validate: { run: validateCommand, help: validateHelp },
  keys: { run: keysCommand, help: keysHelp },
  evidence: { run: evidenceCommand, help: evidenceHelp },
};

/** Dispatches `mcpgov <command>`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    out(HELP);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-v') {
    out(VERSION);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    err(`mcpgov: unknown command "${name}"\n\n${HELP}`);
    return EXIT.usage;
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    out(command.help);
    return EXIT.ok;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof ConfigError) {
      err(e.message);
      return EXIT.failed;
    }
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`mcpgov ${name}: ${(e as Error).message}\n\n${command.help}`);
      return EXIT.usage;
    }
    err(`mcpgov ${name}: ${(e as Error).stack ?? String(e)}`);
    return EXIT.failed;
  }
}

/** Runs `main` with this process's arguments and exits with its code. */
export function run(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (e: unknown) => {
      err(String(e));
      process.exit(EXIT.failed);
    },
  );
}
