import { homedir } from 'node:os';
import path from 'node:path';

/**
 * mcpgov's folder for state that belongs to the user rather than to a project: `$MCPGOV_HOME` if set,
 * else `$XDG_STATE_HOME/mcpgov` (XDG Base Directory Specification: "state data that should persist
 * between application restarts"), else `~/.local/state/mcpgov`, the specification's default.
 */
export function userStateFolder(env: NodeJS.ProcessEnv = process.env): string {
  if (env['MCPGOV_HOME']) return path.resolve(env['MCPGOV_HOME']);
  if (env['XDG_STATE_HOME'] && path.isAbsolute(env['XDG_STATE_HOME']))
    return path.join(env['XDG_STATE_HOME'], 'mcpgov');
  return path.join(homedir(), '.local', 'state', 'mcpgov');
}

/**
 * The folder a config's relative state paths (evidence, keys, approvals and waivers, the policy
 * registry and cache, built bundles, `${state_root}` in server settings) resolve against: the config's
 * own folder, except for a config inside a `node_modules` folder (the demo config of an installed
 * mcpgov), whose state goes to the user state folder: an installed package is never written to.
 */
export function stateRoot(configFile: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = path.dirname(path.resolve(configFile));
  return dir.split(path.sep).includes('node_modules') ? userStateFolder(env) : dir;
}
