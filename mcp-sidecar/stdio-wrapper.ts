import type { Readable, Writable } from 'node:stream';
import type { ResolvedConfig } from '../src/config/load-config.js';
import type { Logger } from '../src/util/log.js';
import { LineStdioClientTransport } from '../src/transport/stdio-client.js';
import { LineStdioServerTransport } from '../src/transport/stdio-upstream.js';
import { startSidecar, type Sidecar } from './sidecar.js';

export interface StdioWrapperOptions {
  config: ResolvedConfig;
  /** The local MCP server to run and govern. */
  command: string;
  args: string[];
  /** Its name in the registry and evidence (default `local`). */
  server?: string;
  prefix?: boolean;
  /** The gateway's control channel, overriding the config's `control.gateway`. */
  gateway?: string;
  log: Logger;
  input?: Readable;
  output?: Writable;
}

/** A running stdio wrapper; `done` resolves with the exit code once either side has gone away. */
export interface StdioWrapper {
  sidecar: Sidecar;
  done: Promise<number>;
  close(): Promise<void>;
}

/**
 * `mcpgov sidecar -- COMMAND ARGS`: a stdio MCP server that runs one local MCP server and relays
 * its session message by message, governing `tools/call` and filtering `tools/list` on the way.
 * No SDK client or server sits in between: the handshake, resources, prompts and notifications are
 * the wrapped server's own, so the wrapper is what a user puts in Claude Desktop's config in place
 * of the bare server. If the wrapped server exits, the wrapper exits too (the client sees the same
 * as without it); if the client goes away, the wrapped server is stopped.
 */
export async function startStdioWrapper(opts: StdioWrapperOptions): Promise<StdioWrapper> {
  const { log } = opts;
  const sidecar = await startSidecar({ config: opts.config, gateway: opts.gateway, log, ownProcess: true });
  const { MCPGOV_TOKEN: token, ...env } = process.env;
  const child = new LineStdioClientTransport({
    command: opts.command === 'node' ? process.execPath : opts.command,
    args: opts.args,
    // The wrapped server sees the environment it would see without the wrapper, minus our token.
    env: env as Record<string, string>,
    cwd: process.cwd(),
    maxMessageBytes: opts.config.limits.max_downstream_message_bytes,
  });
  child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  const governed = await sidecar.govern(child, { server: opts.server, prefix: opts.prefix, token });
  const upstream = new LineStdioServerTransport({
    input: opts.input,
    output: opts.output,
    maxMessageBytes: opts.config.limits.max_message_bytes,
    log,
  });

  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  let closing: Promise<void> | undefined;
  const close = (code: number, why: string) => {
    closing ??= (async () => {
      log('info', 'sidecar stopping', { why });
      // Held calls are answered (approval_interrupted) while the client can still read the answers.
      await sidecar.approvals.interruptAll().catch(() => {});
      await upstream.close().catch(() => {});
      await governed.close().catch(() => {});
      await sidecar.close();
      finish(code);
    })();
    return closing;
  };

  upstream.onmessage = (message) => {
    governed
      .send(message)
      .catch((err: Error) => log('error', 'could not relay to the server', { error: err.message }));
  };
  governed.onmessage = (message) => void upstream.send(message);
  const chainClose = governed.onclose;
  governed.onclose = () => {
    chainClose?.();
    void close(closing ? 0 : 1, 'the wrapped server exited');
  };
  governed.onerror = (err) => log('warn', 'wrapped server transport error', { error: err.message });
  upstream.onclose = () => void close(0, 'stdin closed');

  await governed.start();
  await upstream.start();
  log('info', 'sidecar serving stdio', { command: opts.command, server: opts.server ?? 'local' });
  return { sidecar, done, close: () => close(0, 'closed') };
}
