import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { startStdioWrapper } from '../../mcp-sidecar/stdio-wrapper.js';
import { createLogger } from '../util/log.js';
import { Failure, UsageError } from './io.js';
import { startTracing } from './tracing.js';

/** Options of `mcpgov sidecar` (commands/serve.ts), all before the wrapped command. */
export interface SidecarOptions {
  config: string;
  name: string;
  prefix?: boolean;
  gateway?: string;
}

/** `mcpgov sidecar [options] [--] COMMAND ARGS`: runs until stdin closes or the wrapped server exits. */
export async function sidecarCommand(values: SidecarOptions, argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined) throw new UsageError('give the server command to run');
  // A command that is not there is said in one line, before evidence or keys are touched.
  if (!(await findCommand(command)))
    throw new Failure(`cannot run "${command}": no such command (check the name and PATH)`);
  const config = await loadConfig(values.config);
  const log = createLogger('sidecar');
  const tracing = await startTracing({ service: 'mcpgov-sidecar', stdio: true, log });
  const wrapper = await startStdioWrapper({
    config,
    command,
    args,
    server: values.name,
    prefix: values.prefix ?? false,
    gateway: values.gateway,
    log,
  });
  process.once('SIGINT', () => void wrapper.close());
  process.once('SIGTERM', () => void wrapper.close());
  const code = await wrapper.done;
  await tracing?.shutdown();
  return code;
}

/**
 * Whether COMMAND resolves as the wrapper will spawn it: "node" always does (this process's own
 * binary); a path must be an executable file; a bare name must be one in a PATH folder.
 */
async function findCommand(command: string): Promise<boolean> {
  if (command === 'node') return true;
  const executable = (file: string) =>
    access(file, constants.X_OK).then(
      () => true,
      () => false,
    );
  if (command.includes('/') || command.includes(path.sep)) return executable(command);
  const folders = (process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean);
  const exts = process.platform === 'win32' ? (process.env['PATHEXT'] ?? '.EXE;.CMD').split(';') : [''];
  for (const folder of folders)
    for (const ext of exts) if (await executable(path.join(folder, command + ext))) return true;
  return false;
}
