import { Command, InvalidArgumentError, Option } from 'commander';

/** What an action returns: the process's exit code (EXIT in io.ts). */
export type Action<O> = (opts: O, args: string[]) => Promise<number>;

/**
 * A commander command whose action returns the exit code, kept on the root command for `main` to
 * return (commander itself ignores an action's result). Subcommands are of the same class.
 */
export class McpgovCommand extends Command {
  /** The exit code of the action that ran, on the root command. */
  exitCode?: number;

  override createCommand(name?: string): McpgovCommand {
    return new McpgovCommand(name);
  }

  /**
   * Sets the action: `run(opts, args)` gets the parsed options and the positional arguments (for a
   * command with a variadic last argument, flattened: `sidecar -c C node server.js --flag` gives
   * `['node', 'server.js', '--flag']`). Load the implementation inside it with `await import(...)`,
   * so `mcpgov --help` and `--version` do not pay for it.
   */
  run<O>(run: Action<O>): this {
    return this.action(async () => {
      const code = await run(this.opts<O & Record<string, unknown>>(), this.args);
      this.root().exitCode = code;
    });
  }

  /** The command's words after `mcpgov`: `policy sign`. */
  path(): string {
    if (!(this.parent instanceof McpgovCommand)) return '';
    return [this.parent.path(), this.name()].filter(Boolean).join(' ');
  }

  /** The `mcpgov` command at the top of the tree. */
  root(): McpgovCommand {
    return this.parent instanceof McpgovCommand ? this.parent.root() : this;
  }
}

/** `-c, --config FILE`, from MCPGOV_CONFIG when not given; on every command that reads a config. */
export function configOption(
  fallback = 'mcpgov.yaml',
  env: string | false = 'MCPGOV_CONFIG',
  description = 'config file',
): Option {
  const option = new Option('-c, --config <file>', description).default(fallback);
  return env ? option.env(env) : option;
}

/** `--json`: the command's report as one JSON document on stdout. */
export function jsonOption(what = 'print the result as JSON'): Option {
  return new Option('--json', what);
}

/** `HOST:PORT` (IPv6 in brackets), checked before anything starts. */
export function hostPort(value: string): string {
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) > 65_535)
    throw new InvalidArgumentError(`expected HOST:PORT (e.g. 127.0.0.1:8787), got "${value}"`);
  return value;
}

/** A whole number from 1 up. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1)
    throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

/** A whole number from 0 up. */
export function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
  return Number(value);
}

/** A number above 0 (fractions allowed). */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n))
    throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
