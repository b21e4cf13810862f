import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { scanDefinition } from '../pep/definition-scan.js';
import { planPins, pinsDiffer, type LiveDigest, type PinChange } from '../registry/pin-file.js';
import { liveTool } from '../registry/live-tool.js';
import { createLogger } from '../util/log.js';
import { VERSION } from '../util/version.js';
import { startDownstreams } from '../../mcp-gateway/downstream.js';
import { EXIT, UsageError, err, out } from './io.js';

export const registryHelp = `Usage: mcpgov registry pin [--config FILE] [--server NAME]... [--add] [--dry-run | --check]

Starts the config's downstream servers, lists their tools, and writes each tool's live definition
digest into the tool registry (<registries>/tools.yaml) as definition_digest, for entries that name
the tool exactly. Only the pins change: comments, order and layout stay as they were. A pinned tool
whose definition later changes is refused (definition_mismatch) until it is pinned again.

Options:
  --config FILE   config file (default: ./mcpgov.yaml)
  --server NAME   only this server's tools (repeatable; default: every configured server)
  --add           give a tool that only a glob entry covers its own exact entry: a copy of that
                  glob entry (same owner, scopes and settings) with the pin, placed just before it
  --dry-run       print what would change; write nothing
  --check         write nothing; exit 1 when a pinned digest differs from the live definition or a
                  pinned tool is no longer offered (for CI)
  -h, --help      show this help

Prints one line per tool that changes (or differs, with --check), then a summary.`;

/** `mcpgov registry pin`: pins the live definitions of the config's servers' tools. */
export async function registryCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'pin')
    throw new UsageError(sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`);
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', default: 'mcpgov.yaml' },
      server: { type: 'string', multiple: true },
      add: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
    },
  });
  if (values.check && (values['dry-run'] || values.add))
    throw new UsageError('--check takes neither --dry-run nor --add');
  const config = await loadConfig(values.config);
  const names = values.server ?? Object.keys(config.servers);
  for (const name of names) {
    if (!Object.hasOwn(config.servers, name)) throw new UsageError(`no server "${name}" in ${config.file}`);
  }
  const live = await listLive({
    ...config,
    servers: Object.fromEntries(names.map((n) => [n, config.servers[n]!])),
  });
  if (!live) return EXIT.failed;

  const file = path.join(config.registries, 'tools.yaml');
  const text = await readFile(file, 'utf8');
  const plan = planPins(file, text, live, { add: values.add, servers: new Set(names) });
  for (const change of plan.changes) {
    const line = describe(change, values.check);
    if (line) out(line);
  }
  const count = (kind: PinChange['kind']) => plan.changes.filter((c) => c.kind === kind).length;
  if (values.check) {
    const repinned = plan.changes.filter((c) => c.kind === 'pin' && c.previous !== undefined).length;
    const differ = repinned + count('missing');
    out(
      pinsDiffer(plan.changes)
        ? `${differ} of ${differ + count('unchanged')} pinned tools differ from their live definitions`
        : `ok: ${count('unchanged')} pinned tools match their live definitions`,
    );
    return pinsDiffer(plan.changes) ? EXIT.failed : EXIT.ok;
  }
  const globOnly = plan.changes.flatMap((c) => (c.kind === 'not_exact' && c.entry ? [c.tool] : []));
  if (globOnly.length > 0) {
    out(`not pinned, only a glob entry covers them (--add gives them their own): ${globOnly.join(', ')}`);
  }
  const summary = `${count('pin')} pinned, ${count('add')} added, ${count('unchanged')} unchanged, ${count('not_exact')} without an exact entry`;
  if (values['dry-run'] || plan.text === text) {
    out(`${summary}; ${values['dry-run'] ? 'dry run: nothing written' : 'nothing to write'}`);
    return EXIT.ok;
  }
  await writeFile(file, plan.text);
  out(`${summary}; wrote ${file}`);
  return EXIT.ok;
}

/** Starts the servers, lists their tools, stops them; undefined (after saying why) when one did not start. */
async function listLive(config: Awaited<ReturnType<typeof loadConfig>>): Promise<LiveDigest[] | undefined> {
  const log = createLogger('registry', 'warn');
  const downstreams = await startDownstreams(config, log, { name: 'mcpgov-registry', version: VERSION });
  try {
    const down = [...downstreams.values()].filter((ds) => ds.state !== 'up');
    for (const ds of down) err(`mcpgov registry pin: server "${ds.name}" did not start; nothing pinned`);
    if (down.length > 0) return undefined;
    const live: LiveDigest[] = [];
    for (const [server, ds] of downstreams) {
      for (const def of ds.tools) {
        const tool = liveTool(server, def);
        const scan = scanDefinition(tool.definition);
        // Pinning approves a definition: say so when it carries what the gateway would hide.
        if (scan.poisoned) err(`warning: ${tool.name} has hidden instructions (${scan.findings[0]?.detail})`);
        live.push({ name: tool.name, digest: tool.digest });
      }
    }
    return live;
  } finally {
    await Promise.all([...downstreams.values()].map((ds) => ds.stop()));
  }
}

/** One output line per change worth reading; unchanged pins are only counted. */
function describe(change: PinChange, check: boolean): string | undefined {
  switch (change.kind) {
    case 'pin':
      if (change.previous)
        return `${check ? 'differs' : 'repinned'}  ${change.tool}  ${change.previous} -> ${change.digest}`;
      return check ? undefined : `pinned    ${change.tool}  ${change.digest}`;
    case 'add':
      return `added     ${change.tool}  ${change.digest} (a copy of ${change.from})`;
    case 'missing':
      return `missing   ${change.tool}  pinned ${change.pinned}, no longer offered by its server`;
    case 'not_exact':
      return check || change.entry ? undefined : `unregistered ${change.tool}  no registry entry, not pinned`;
    case 'unchanged':
      return undefined;
  }
}
