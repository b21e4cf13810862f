import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { scanDefinition } from '../pep/definition-scan.js';
import { planPins, pinsDiffer, type LiveDigest, type PinChange } from '../registry/pin-file.js';
import { liveTool } from '../registry/live-tool.js';
import { createLogger } from '../util/log.js';
import { VERSION } from '../util/version.js';
import { startDownstreams } from '../../mcp-gateway/downstream.js';
import { EXIT, UsageError, err, out } from './io.js';

/** Options of `mcpgov registry pin` (commands/operate.ts). */
export interface RegistryPinOptions {
  config: string;
  server?: string[];
  add?: boolean;
  dryRun?: boolean;
  check?: boolean;
  json?: boolean;
}

/** `mcpgov registry pin`: pins the live definitions of the config's servers' tools. */
export async function registryPinCommand(values: RegistryPinOptions): Promise<number> {
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
  const plan = planPins(file, text, live, { add: values.add ?? false, servers: new Set(names) });
  const count = (kind: PinChange['kind']) => plan.changes.filter((c) => c.kind === kind).length;
  const counts = {
    pinned: count('pin'),
    added: count('add'),
    unchanged: count('unchanged'),
    missing: count('missing'),
    not_exact: count('not_exact'),
  };
  const differ = pinsDiffer(plan.changes);
  const write = !values.check && !values.dryRun && plan.text !== text;
  if (write) await writeFile(file, plan.text);
  const code = values.check && differ ? EXIT.failed : EXIT.ok;
  if (values.json) {
    const result = values.check ? { ok: !differ } : { written: write ? file : null };
    out(JSON.stringify({ ...result, file, counts, changes: plan.changes }, null, 2));
    return code;
  }

  for (const change of plan.changes) {
    const line = describe(change, values.check ?? false);
    if (line) out(line);
  }
  if (values.check) {
    const repinned = plan.changes.filter((c) => c.kind === 'pin' && c.previous !== undefined).length;
    const differing = repinned + counts.missing;
    out(
      differ
        ? `${differing} of ${differing + counts.unchanged} pinned tools differ from their live definitions`
        : `ok: ${counts.unchanged} pinned tools match their live definitions`,
    );
    return code;
  }
  const globOnly = plan.changes.flatMap((c) => (c.kind === 'not_exact' && c.entry ? [c.tool] : []));
  if (globOnly.length > 0) {
    out(`not pinned, only a glob entry covers them (--add gives them their own): ${globOnly.join(', ')}`);
  }
  const summary = `${counts.pinned} pinned, ${counts.added} added, ${counts.unchanged} unchanged, ${counts.not_exact} without an exact entry`;
  if (!write) out(`${summary}; ${values.dryRun ? 'dry run: nothing written' : 'nothing to write'}`);
  else out(`${summary}; wrote ${file}`);
  return code;
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
