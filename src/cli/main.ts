import { ConfigError } from '../config/yaml-file.js';
import { VERSION } from '../util/version.js';
import { EXIT, UsageError, err, out } from './io.js';

const HELP = `mcpgov ${VERSION}: runtime governance for AI agents that act through MCP tools

Usage: mcpgov <command> [options]

Commands:
  gateway    run the governing MCP gateway (stdio and/or Streamable HTTP)
  sidecar    run one local MCP server over stdio, governed (in place of the bare server)
  validate   check the config, registries and policies; print every problem with file and line
  init       write a starting setup, or put a client config's servers (Claude Desktop, Cursor, VS Code) under governance
  evidence   verify evidence offline, export it for a SIEM (JSONL, OCSF), pack one session
  report     the pilot report from evidence: coverage, denies, approvals, drift, completeness (JSON, HTML)
  keys       generate an Ed25519 key pair (evidence checkpoints, policy bundles)
  policy     build, test, sign, approve, publish and roll back policy bundles; status and drift
  evals      run the eval suite (metrics per stage, gated by thresholds); convert R-Judge into cases
  registry   pin the live definitions of the servers' tools in the tool registry (or check the pins)
  connect    relay stdio to a remote gateway over HTTP, presenting a bearer token
  approvals  list, show, approve and deny approval requests (escalated calls waiting for a person)
  waivers    add, list and revoke waivers (time-boxed exceptions to deny and escalate)
  db         migrate (or check) the PostgreSQL schema of approvals and waivers

Run "mcpgov <command> --help" for a command's options.`;

/** A subcommand module: its entry point and help text. */
interface CommandModule {
  run: (argv: string[]) => Promise<number>;
  help: string;
  /** The arguments that are the command's own (the sidecar's end where the wrapped command starts). */
  ownArgs?: (argv: string[]) => string[];
}

/**
 * Subcommands load on demand: a command pays only for what it uses (the gateway's SDK and servers,
 * the evals' lexicon), so `mcpgov --help` or `mcpgov keys` start at once.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  gateway: async () => {
    const m = await import('./gateway.js');
    return { run: m.gatewayCommand, help: m.gatewayHelp };
  },
  sidecar: async () => {
    const m = await import('./sidecar.js');
    return { run: m.sidecarCommand, help: m.sidecarHelp, ownArgs: m.sidecarOwnArgs };
  },
  validate: async () => {
    const m = await import('./validate.js');
    return { run: m.validateCommand, help: m.validateHelp };
  },
  init: async () => {
    const m = await import('./init.js');
    return { run: m.initCommand, help: m.initHelp };
  },
  connect: async () => {
    const m = await import('./connect.js');
    return { run: m.connectCommand, help: m.connectHelp };
  },
  keys: async () => {
    const m = await import('./keys.js');
    return { run: m.keysCommand, help: m.keysHelp };
  },
  evidence: async () => {
    const m = await import('./evidence.js');
    return { run: m.evidenceCommand, help: m.evidenceHelp };
  },
  report: async () => {
    const m = await import('./report.js');
    return { run: m.reportCommand, help: m.reportHelp };
  },
  policy: async () => {
    const m = await import('./policy.js');
    return { run: m.policyCommand, help: m.policyHelp };
  },
  evals: async () => {
    const m = await import('./evals.js');
    return { run: m.evalsCommand, help: m.evalsHelp };
  },
  registry: async () => {
    const m = await import('./registry.js');
    return { run: m.registryCommand, help: m.registryHelp };
  },
  approvals: async () => {
    const m = await import('./approvals.js');
    return { run: m.approvalsCommand, help: m.approvalsHelp };
  },
  waivers: async () => {
    const m = await import('./waivers.js');
    return { run: m.waiversCommand, help: m.waiversHelp };
  },
  db: async () => {
    const m = await import('./db.js');
    return { run: m.dbCommand, help: m.dbHelp };
  },
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
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    err(`mcpgov: unknown command "${name}"\n\n${HELP}`);
    return EXIT.usage;
  }
  const command = await load();
  // A wrapped command's own options are not ours (mcpgov sidecar -c C node server.js --help).
  const own = command.ownArgs ? command.ownArgs(rest) : rest;
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
    // Expected failures that say all there is to say in their message (not loaded here: --help stays fast).
    if (['EvidenceFolderLockedError', 'ApprovalSchemaError'].includes((e as Error).name)) {
      err(`mcpgov ${name}: ${(e as Error).message}`);
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
