import { ConfigError } from '../config/yaml-file.js';
import { VERSION } from '../util/version.js';
import { gatewayCommand, gatewayHelp } from './gateway.js';
import { EXIT, UsageError, err, out } from './io.js';
import { evalsCommand, evalsHelp } from './evals.js';
import { evidenceCommand, evidenceHelp } from './evidence.js';
import { keysCommand, keysHelp } from './keys.js';
import { policyCommand, policyHelp } from './policy.js';
import { sidecarCommand, sidecarHelp, sidecarOwnArgs } from './sidecar.js';
import { validateCommand, validateHelp } from './validate.js';

const HELP = `mcpgov ${VERSION}: runtime governance for AI agents that act through MCP tools

Usage: mcpgov <command> [options]

Commands:
  gateway    run the governing MCP gateway (stdio and/or Streamable HTTP)
  sidecar    run one local MCP server over stdio, governed (in place of the bare server)
  validate   check the config, registries and policies; print every problem with file and line
  evidence   verify an evidence folder offline
  keys       generate an Ed25519 key for signing evidence
  policy     build, test, sign, approve, publish and roll back policy bundles; status and drift
  evals      run the eval suite (metrics per stage, gated by thresholds); convert R-Judge into cases

Run "mcpgov <command> --help" for a command's options.`;

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  gateway: { run: gatewayCommand, help: gatewayHelp },
  sidecar: { run: sidecarCommand, help: sidecarHelp },
  validate: { run: validateCommand, help: validateHelp },
  keys: { run: keysCommand, help: keysHelp },
  evidence: { run: evidenceCommand, help: evidenceHelp },
  policy: { run: policyCommand, help: policyHelp },
  evals: { run: evalsCommand, help: evalsHelp },
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
  // A wrapped command's own options are not ours (mcpgov sidecar -c C node server.js --help).
  const own = name === 'sidecar' ? sidecarOwnArgs(rest) : rest;
  if (own.includes('-h') || own.includes('--help')) {
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
    (code) => exitWhenFlushed(code),
    (e: unknown) => {
      err(String(e));
      exitWhenFlushed(EXIT.failed);
    },
  );
}

/**
 * Exits once stdout and stderr have taken everything written: writes to a pipe are asynchronous, and
 * process.exit() right after a large write (`evidence export` to a pipe) would cut the output short.
 */
function exitWhenFlushed(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}
