import { CommanderError } from 'commander';
import { ConfigError } from '../config/yaml-file.js';
import type { McpgovCommand } from './command.js';
import { EXIT, Failure, UsageError, err } from './io.js';
import { buildProgram } from './program.js';

/** Expected failures of other layers that say all there is to say in their message (matched by name). */
const EXPECTED_ERRORS = ['EvidenceFolderLockedError', 'ApprovalSchemaError', 'JudgeError'];

/** System errors that are the environment's, not a fault of ours: a missing file, a refused connection. */
const SYSTEM_ERRORS = ['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'EADDRINUSE', 'ECONNREFUSED'];

/** Runs `mcpgov ARGV`; returns the exit code. Expected errors end in one line on stderr. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  let running = 'mcpgov';
  program.hook('preAction', (_root, action) => {
    running = commandName(action as McpgovCommand);
  });
  // Parse errors: one line naming the command, with commander's suggestion folded in.
  walk(program, (command) => {
    command.exitOverride();
    command.configureOutput({
      outputError: (message) => err(`${commandName(command)}: ${usageLine(message, command)}`),
    });
  });

  if (argv.length === 0) {
    // No command: the overview, on stderr, as a usage error.
    err(program.helpInformation().trimEnd());
    return EXIT.usage;
  }
  try {
    await program.parseAsync(helpAsOption(argv), { from: 'user' });
    return program.exitCode ?? EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help, --version and `help` exit 0; `mcpgov policy` without a subcommand printed that
      // command's help on stderr, and every parse error its one line: usage.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return reportError(running, e);
  }
}

/** `mcpgov help policy sign` is `mcpgov policy sign --help`, at any depth; `-v` is `-V`, as it was. */
function helpAsOption(argv: string[]): string[] {
  if (argv[0] === 'help' && argv.length > 1) return [...argv.slice(1), '--help'];
  return argv[0] === '-v' ? ['-V', ...argv.slice(1)] : argv;
}

/** commander's "error: unknown option '--htp'\n(Did you mean --http?)" as one line, with a hint. */
function usageLine(message: string, command: McpgovCommand): string {
  const text = message
    .trim()
    .replace(/^error: /, '')
    .replace(/\n\(Did you mean (.+)\?\)/, ' (did you mean $1?)')
    .replace(/unknown command/, command.parent ? 'unknown subcommand' : 'unknown command')
    .replace(/'([^']*)'/g, '"$1"')
    .replace(/\n+/g, ' ');
  if (/did you mean/.test(text)) return text;
  return `${text} (see "${commandName(command)} --help")`;
}

/** `mcpgov policy sign`, as the user typed it. */
function commandName(command: McpgovCommand): string {
  return ['mcpgov', command.path()].filter(Boolean).join(' ');
}

/** Prints an error from an action: one line when it is expected, the stack when it is a fault. */
function reportError(command: string, e: unknown): number {
  const error = e instanceof Error ? e : new Error(String(e));
  if (error instanceof ConfigError) {
    err(error.message);
    return EXIT.failed;
  }
  if (error instanceof UsageError) {
    err(`${command}: ${error.message} (see "${command} --help")`);
    return EXIT.usage;
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (
    error instanceof Failure ||
    EXPECTED_ERRORS.includes(error.name) ||
    (code && SYSTEM_ERRORS.includes(code))
  ) {
    err(`${command}: ${error.message}`);
    return EXIT.failed;
  }
  err(`${command}: ${error.stack ?? error.message}`);
  return EXIT.failed;
}

/** Calls `visit` on a command and every command under it. */
export function walk(command: McpgovCommand, visit: (command: McpgovCommand) => void): void {
  visit(command);
  for (const sub of command.commands) walk(sub as McpgovCommand, visit);
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
