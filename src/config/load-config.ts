import { existsSync, statSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import path from 'node:path';
import { checkPoliciesConfig } from './check-policies.js';
import { launchPackage } from './package-server.js';
import { stateRoot } from './state-root.js';
import { realFolder } from '../util/real-path.js';
import { ConfigError, YamlFile, type Problem } from './yaml-file.js';
import {
  ConfigSchema,
  type Config,
  type PoliciesConfig,
  type ServerConfig,
  type StdioServerConfig,
} from './schema.js';

/** The config after validation, with every relative path made absolute against the config's folder. */
export interface ResolvedConfig extends Omit<Config, 'servers' | 'policies' | 'state'> {
  /** Absolute path of the config file. */
  file: string;
  /** Folder of the config file; the base of every relative path but state paths. */
  dir: string;
  /**
   * The base of relative state paths (evidence, state, policy registry and cache): `dir`, or the user
   * state folder for a config inside `node_modules` (src/config/state-root.ts).
   */
  stateRoot: string;
  servers: Record<string, ServerConfig>;
  /**
   * Where shared state is kept: the folder (absolute; default `state` beside the evidence folder),
   * Redis for counters when `counters` is set, PostgreSQL for approvals when `approvals` is set, and
   * NATS JetStream as the evidence stream when `evidence_stream` is set.
   */
  state: { dir: string; counters?: string; approvals?: string; evidence_stream?: string };
  /** The policy sources folder (rule files and tests), absolute. */
  policies: string;
  /** The policy lifecycle settings, with every path absolute (`bundle` stays a URL when it is one). */
  policy: PoliciesConfig;
}

/**
 * Replaces `${config_dir}`, `${state_root}` and `${env:NAME}` in server command lines and environment
 * values, so a config can point a child server at files beside it (or at its state) whatever the
 * working directory. `${state_root}` is the config's folder unless given.
 */
export function interpolate(
  value: string,
  configDir: string,
  env: NodeJS.ProcessEnv = process.env,
  stateRootDir = configDir,
): string {
  return value.replace(
    /\$\{(config_dir|state_root|env:([A-Za-z_][A-Za-z0-9_]*))\}/g,
    (_m, what: string, name?: string) =>
      what === 'config_dir' ? configDir : what === 'state_root' ? stateRootDir : (env[name ?? ''] ?? ''),
  );
}

/** Reads, validates and resolves `mcpgov.yaml`; throws ConfigError listing every problem. */
export async function loadConfig(file: string): Promise<ResolvedConfig> {
  const abs = path.resolve(file);
  const { yaml, problems } = await YamlFile.read(abs);
  if (!yaml) throw new ConfigError(problems);
  const { value, problems: invalid } = yaml.validate(ConfigSchema);
  if (!value) throw new ConfigError(invalid);
  await seedState(value.seed, path.dirname(abs), stateRoot(abs));
  return resolveConfig(value, abs);
}

/**
 * Copies each `seed` folder into the state root where it is not there yet (never over what is
 * there: it is the user's now). A clone's state root is its config's folder, where the folder is
 * already; an installed mcpgov's demo gets its own copy under the user state folder.
 */
async function seedState(seed: Record<string, string>, dir: string, root: string): Promise<void> {
  for (const [to, from] of Object.entries(seed)) {
    const target = path.resolve(root, to);
    const source = path.resolve(dir, from);
    if (target === source || existsSync(target) || !existsSync(source)) continue;
    await cp(source, target, { recursive: true, errorOnExist: false, force: false });
  }
}

/**
 * A folder's real path (symlinks resolved), so path rules compare like with like; a folder that
 * cannot be resolved stays as written, and `checkConfig` reports it where it must exist.
 */
const real = (folder: string): string => realFolder(folder) ?? folder;

/**
 * Makes a validated config's paths absolute against the folder of `file` (state paths against its
 * state root), named paths and roots real, and package servers into the commands that start them.
 */
export function resolveConfig(
  config: Config,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedConfig {
  const dir = path.dirname(file);
  const root = stateRoot(file, env);
  const at = (p: string) => path.resolve(dir, p);
  const state = (p: string) => path.resolve(root, p);
  const fill = (value: string) => interpolate(value, dir, env, root);
  const servers: Record<string, ServerConfig> = {};
  for (const [name, entry] of Object.entries(config.servers)) {
    if ('url' in entry) {
      servers[name] = {
        ...entry,
        headers: Object.fromEntries(Object.entries(entry.headers).map(([k, v]) => [k, fill(v)])),
      };
      continue;
    }
    const launch =
      'package' in entry ? launchPackage(entry.package, dir) : { command: fill(entry.command), args: [] };
    // The resolved server keeps the entry's settings; its package is now the command above.
    const { package: _spec, ...server } = 'package' in entry ? entry : { ...entry, package: '' };
    servers[name] = {
      ...server,
      command: launch.command,
      args: [...launch.args, ...server.args.map(fill)],
      env: Object.fromEntries(Object.entries(server.env).map(([k, v]) => [k, fill(v)])),
      cwd: at(fill(server.cwd ?? '.')),
      roots: server.roots.map((r) => real(at(fill(r)))),
    };
  }
  return {
    ...config,
    file,
    dir,
    stateRoot: root,
    registries: at(config.registries),
    policies: at(config.policies.sources),
    policy: resolvePolicies(config.policies, at, state),
    evidence: {
      ...config.evidence,
      dir: state(config.evidence.dir),
      key: config.evidence.key === undefined ? undefined : at(config.evidence.key),
    },
    identity: {
      ...config.identity,
      jwks: config.identity.jwks === undefined ? undefined : at(config.identity.jwks),
    },
    paths: Object.fromEntries(Object.entries(config.paths).map(([k, v]) => [k, real(at(fill(v)))])),
    servers,
    state: {
      dir:
        config.state.dir === undefined
          ? path.join(path.dirname(state(config.evidence.dir)), 'state')
          : state(config.state.dir),
      counters: config.state.counters,
      approvals: config.state.approvals,
      evidence_stream: config.state.evidence_stream,
    },
    approvals: {
      ...config.approvals,
      jwks: config.approvals.jwks === undefined ? undefined : at(config.approvals.jwks),
    },
  };
}

/**
 * Makes the policy lifecycle's paths absolute (the registry and cache, which mcpgov writes, against
 * the state root); URLs (`http:`, `https:`, `file:`) stay as they are.
 */
function resolvePolicies(
  policies: PoliciesConfig,
  at: (p: string) => string,
  state: (p: string) => string,
): PoliciesConfig {
  const { keys } = policies;
  return {
    ...policies,
    sources: at(policies.sources),
    registry: state(policies.registry),
    cache: state(policies.cache),
    bundle:
      policies.bundle === undefined || /^(https?|file):/i.test(policies.bundle)
        ? policies.bundle
        : at(policies.bundle),
    reporters: Object.fromEntries(
      Object.entries(policies.reporters).map(([id, r]) => [
        id,
        { ...r, evidence_jwks: r.evidence_jwks === undefined ? undefined : at(r.evidence_jwks) },
      ]),
    ),
    keys: {
      signers: keys.signers === undefined ? undefined : at(keys.signers),
      publishers: keys.publishers === undefined ? undefined : at(keys.publishers),
      approvers: Object.fromEntries(Object.entries(keys.approvers).map(([k, v]) => [k, at(v)])),
    },
  };
}

/**
 * Problems zod cannot see: references from the config to files and to the agent registry. The gateway
 * refuses to start on any of them, and `mcpgov validate` reports them, through this one function.
 */
export function checkConfig(config: ResolvedConfig, agentIds?: ReadonlySet<string>): Problem[] {
  const problems: Problem[] = [];
  const { identity } = config;
  if (identity.jwks !== undefined && !existsSync(identity.jwks)) {
    problems.push({ file: config.file, path: 'identity.jwks', message: `file not found: ${identity.jwks}` });
  }
  if (config.evidence.key !== undefined && !existsSync(config.evidence.key)) {
    problems.push({
      file: config.file,
      path: 'evidence.key',
      message: `file not found: ${config.evidence.key}`,
    });
  }
  problems.push(...checkPoliciesConfig(config.policy, config.file));
  if (agentIds && identity.default_agent !== undefined && !agentIds.has(identity.default_agent)) {
    problems.push({
      file: config.file,
      path: 'identity.default_agent',
      message: `names unknown agent "${identity.default_agent}"`,
    });
  }
  for (const [i, agent] of identity.hosts.agents.entries()) {
    if (agentIds && !agentIds.has(agent)) {
      problems.push({
        file: config.file,
        path: `identity.hosts.agents[${i}]`,
        message: `names unknown agent "${agent}"`,
      });
    }
  }
  // Without a way to verify tokens, only the launcher can be a host: say so rather than trust nobody silently.
  if (identity.jwks === undefined && (identity.hosts.agents.length > 0 || identity.hosts.claims.length > 0)) {
    problems.push({
      file: config.file,
      path: 'identity.hosts',
      message: 'hosts named by agent or claims need identity.jwks to verify their tokens',
    });
  }
  for (const [id, reporter] of Object.entries(config.policy.reporters)) {
    if (reporter.evidence_jwks !== undefined && !existsSync(reporter.evidence_jwks)) {
      problems.push({
        file: config.file,
        path: `policies.reporters.${id}.evidence_jwks`,
        message: `file not found: ${reporter.evidence_jwks}`,
      });
    }
  }
  for (const [name, server] of Object.entries(config.servers)) {
    if ('command' in server) problems.push(...checkRoots(config.file, name, server));
  }
  problems.push(...checkUnprefixed(config.file, config.servers));
  // `mcpgov__*` names are the enforcement point's own tools (e.g. mcpgov__declare_intent).
  if (Object.hasOwn(config.servers, 'mcpgov')) {
    problems.push({
      file: config.file,
      path: 'servers.mcpgov',
      message: 'the server name "mcpgov" is reserved',
    });
  }
  return problems;
}

/**
 * At most one server may set `prefix: false`: two would both serve their tools under their own names,
 * so any name both offer would collide (the gateway also refuses live collisions, tool by tool).
 */
function checkUnprefixed(file: string, servers: Record<string, ServerConfig>): Problem[] {
  const unprefixed = Object.keys(servers).filter((name) => servers[name]?.prefix === false);
  if (unprefixed.length < 2) return [];
  const [first, second] = unprefixed;
  return [
    {
      file,
      path: `servers.${second}.prefix`,
      message: `servers "${first}" and "${second}" both set prefix: false: their tools would share one set of unprefixed names, where any name both offer collides; keep the prefix on one of them`,
    },
  ];
}

/**
 * A stdio server's roots must be folders, and when its arguments name folders (server-filesystem's
 * allowed directories) they must be the same ones in the same order: the server resolves a relative
 * path against the first that contains it, and path rules must resolve it the same way.
 */
function checkRoots(file: string, name: string, server: StdioServerConfig): Problem[] {
  const at = `servers.${name}.roots`;
  const problems: Problem[] = [];
  for (const [i, root] of server.roots.entries()) {
    if (!isDirectory(root)) problems.push({ file, path: `${at}[${i}]`, message: `not a folder: ${root}` });
  }
  if (server.roots.length === 0 || problems.length > 0) return problems;
  const folders = server.args
    .filter((a) => !a.startsWith('-'))
    .map((a) => path.resolve(server.cwd ?? '.', a))
    .filter(isDirectory)
    .map((a) => realFolder(a) ?? a);
  if (folders.length > 0 && folders.join('\0') !== server.roots.join('\0')) {
    problems.push({
      file,
      path: at,
      message:
        `the server's folder arguments (${folders.join(', ')}) differ from its roots ` +
        `(${server.roots.join(', ')}): path rules would resolve relative paths elsewhere than the server`,
    });
  }
  return problems;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
