import type { ClientServer } from './client-config.js';
import type { RiskTierSchema } from './schema.js';
import type { z } from 'zod';

/**
 * What `mcpgov init --from` makes of a client config's servers, before anything is written: their
 * names under mcpgov's rules, their entries for `mcpgov.yaml` with secrets moved out to environment
 * variables, and the risk tier each listed tool gets from its MCP annotations.
 */

/** A server as `mcpgov.yaml` lists it. */
export type InitServerEntry =
  | { type: 'stdio'; command: string; args: string[]; env?: Record<string, string>; cwd?: string }
  | { type: 'http'; url: string; headers?: Record<string, string> };

/** One client server, planned. */
export interface InitServer {
  /** Its name in mcpgov (tool names become `<name>__<tool>`). */
  name: string;
  /** Its name in the client config. */
  from: string;
  /** The entry written to `mcpgov.yaml`: secret-looking values (env, headers, args) replaced by `${env:NAME}`. */
  entry: InitServerEntry;
  /** The secrets taken out of `entry`, by variable name: the gateway's client entry passes them. */
  secrets: Record<string, string>;
  /** The server as the client runs it (secrets included), to start it and list its tools. */
  client: ClientServer;
}

/** Says whether a value is a credential, by its key's name or by what it looks like (key '' for an argument). */
export type SecretTest = (key: string, value: string) => boolean;

/** A value that is already an environment reference in the syntax both VS Code and mcpgov read. */
const ENV_REFERENCE = /^\$\{env:[A-Za-z_][A-Za-z0-9_]*\}$/;

/** Plans every client server; names are made valid and unique, secrets moved to variables. */
export function planServers(servers: readonly ClientServer[], isSecret: SecretTest): InitServer[] {
  const taken = new Set<string>();
  const variables = new Map<string, string>();
  /** The variable that carries `value`: `preferred` unless another server already uses it for another value. */
  const variable = (server: string, preferred: string, value: string): string => {
    let name = envName(preferred);
    if (variables.has(name) && variables.get(name) !== value) name = envName(`${server}_${preferred}`);
    for (let n = 2; variables.has(name) && variables.get(name) !== value; n++)
      name = envName(`${server}_${preferred}_${n}`);
    variables.set(name, value);
    return name;
  };
  return servers.map((client) => {
    const name = serverName(client.name, taken);
    taken.add(name);
    const secrets: Record<string, string> = {};
    const moved = (values: Record<string, string>, varFor: (key: string) => string) =>
      Object.fromEntries(
        Object.entries(values).map(([key, value]) => {
          if (ENV_REFERENCE.test(value) || !isSecret(key, value)) return [key, value];
          const v = variable(name, varFor(key), value);
          secrets[v] = value;
          return [key, `\${env:${v}}`];
        }),
      );
    const entry: InitServerEntry =
      client.kind === 'stdio'
        ? {
            type: 'stdio',
            command: client.command,
            // A connection string with a password in it is an argument (server-postgres takes one).
            args: client.args.map((arg, i) => {
              if (!isSecret('', arg)) return arg;
              const v = variable(name, `${name}_ARG${i + 1}`, arg);
              secrets[v] = arg;
              return `\${env:${v}}`;
            }),
            ...(Object.keys(client.env).length > 0 ? { env: moved(client.env, (k) => k) } : {}),
            ...(client.cwd ? { cwd: client.cwd } : {}),
          }
        : {
            type: 'http',
            url: client.url,
            ...(Object.keys(client.headers).length > 0
              ? { headers: moved(client.headers, (k) => `${name}_${k}`) }
              : {}),
          };
    return { name, from: client.name, entry, secrets, client };
  });
}

/**
 * A valid, unused server name for a client's name: letters, digits, "-" and single "_" (tool names
 * are `<server>__<tool>`), never the reserved "mcpgov".
 */
export function serverName(raw: string, taken: ReadonlySet<string>): string {
  let base = raw
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/_{2,}/g, '_')
    .replace(/^[^A-Za-z0-9]+/, '');
  while (base.endsWith('-') || base.endsWith('_')) base = base.slice(0, -1);
  if (base === '') base = 'server';
  if (base.toLowerCase() === 'mcpgov') base = 'mcpgov-server';
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
  return name;
}

/** An environment variable name: upper case letters, digits and "_". */
function envName(raw: string): string {
  const name = raw.toUpperCase().replace(/[^A-Z0-9_]+/g, '_');
  return /^[A-Z_]/.test(name) ? name : `_${name}`;
}

/** The MCP tool annotations that inform a guessed tier (MCP 2025-06-18, ToolAnnotations). */
export interface ToolHints {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
}

/** A tool a server listed, as `mcpgov init` registers it. */
export interface ListedTool {
  name: string;
  annotations?: ToolHints;
}

/** A risk tier guessed from hints, and the hint it came from (for the review note). */
export interface GuessedTier {
  tier: z.infer<typeof RiskTierSchema>;
  because: string;
}

/**
 * Read-only tools are low risk, destructive ones high, the rest medium. Hints are the server's own
 * claims, not guarantees (the spec says so), so every guess is marked for a person to review.
 */
export function guessTier(hints: ToolHints | undefined): GuessedTier {
  if (hints?.readOnlyHint === true) return { tier: 'low', because: 'readOnlyHint' };
  if (hints?.destructiveHint === true) return { tier: 'high', because: 'destructiveHint' };
  return { tier: 'medium', because: 'no readOnlyHint or destructiveHint' };
}
