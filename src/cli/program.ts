import { Argument } from 'commander';
import { VERSION } from '../util/version.js';
import { McpgovCommand } from './command.js';
import { approvalsCommands } from './commands/approvals.js';
import { evidenceCommands } from './commands/evidence.js';
import { operateCommands } from './commands/operate.js';
import { policyCommands } from './commands/policy.js';
import { serveCommands } from './commands/serve.js';
import { EXIT, out } from './io.js';
import { initCommands } from './commands/init.js';

/**
 * The `mcpgov` command tree. Each command is one definition (commands/*.ts): its options, which
 * commander both parses and prints in `--help`, and an action that imports its implementation only
 * when it runs. A new command is one more definition in one of those files, or a file of its own
 * added to the list below.
 */
export function buildProgram(): McpgovCommand {
  const program = new McpgovCommand('mcpgov')
    .description(`mcpgov ${VERSION}: runtime governance for AI agents that act through MCP tools`)
    .usage('<command> [options]')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command...]', 'show help for a command (mcpgov help policy sign)')
    // Options belong to the command they follow: the sidecar's wrapped server keeps its own.
    .enablePositionalOptions()
    // Subcommands are listed by name; their own help shows their arguments and options.
    .configureHelp({ subcommandTerm: (command) => command.name() })
    .showSuggestionAfterError()
    .addHelpText(
      'after',
      '\nRun "mcpgov <command> --help" (or "mcpgov help <command>") for a command\'s options.\n' +
        'Exit codes: 0 ok, 1 failed or refused, 2 usage.',
    );

  initCommands(program);
  serveCommands(program);
  operateCommands(program);
  evidenceCommands(program);
  policyCommands(program);
  approvalsCommands(program);

  // Descriptions are written as paragraphs, which commander wraps to the terminal's width.
  const reflow = (command: McpgovCommand) => {
    command.description(reflowed(command.description()));
    command.commands.forEach((c) => reflow(c as McpgovCommand));
  };
  reflow(program);

  program
    .command('version')
    .summary('print the version')
    .run(async () => {
      out(VERSION);
      return EXIT.ok;
    });

  program
    .command('completion')
    .summary('print a bash or zsh completion script')
    .description(
      'Prints a completion script for the shell, generated from this command tree (README, "Shell\n' +
        'completion"):\n' +
        '  bash:  source <(mcpgov completion bash)   (e.g. in ~/.bashrc)\n' +
        '  zsh:   mcpgov completion zsh > ~/.zfunc/_mcpgov   (a folder on $fpath)',
    )
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .run(async (_opts, [shell]) => {
      const { completionScript } = await import('./completion.js');
      out(completionScript(buildProgram(), shell as 'bash' | 'zsh'));
      return EXIT.ok;
    });

  return program;
}

/**
 * Joins the lines of each paragraph into one (commander wraps each line it is given); blank lines and
 * indented lines (a list) stay as written.
 */
function reflowed(text: string): string {
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    const previous = lines.at(-1);
    const joins =
      previous !== undefined && previous !== '' && line !== '' && !/^\s/.test(line) && !/^\s/.test(previous);
    if (joins) lines[lines.length - 1] = `${previous} ${line}`;
    else lines.push(line);
  }
  return lines.join('\n');
}
