/**
 * The bench's floor for a proxy process: MCP over stdio on this process's stdin/stdout, relayed
 * message by message, unchanged, to a server it starts over stdio. The same transports as the
 * gateway (LineStdioServerTransport upstream, LineStdioClientTransport downstream), and no pipeline,
 * no evidence, no SDK `Server` or `Client`: what a governed hop costs beyond this is governance.
 *
 *   node dist/test/bench/bare-proxy.js [COMMAND ARGS...]   (default: server-everything over stdio)
 */
import { relay } from '../../src/transport/relay.js';
import { LineStdioClientTransport } from '../../src/transport/stdio-client.js';
import { LineStdioServerTransport } from '../../src/transport/stdio-upstream.js';
import { createLogger } from '../../src/util/log.js';
import { REFERENCE_SERVERS } from '../helpers/fixture.js';

/** The gateway's default `limits.max_message_bytes`, so that both refuse the same lines. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  const log = createLogger('bare-proxy', 'warn');
  const near = new LineStdioServerTransport({ maxMessageBytes: MAX_MESSAGE_BYTES, log });
  const far = new LineStdioClientTransport(
    command === undefined
      ? { command: process.execPath, args: [REFERENCE_SERVERS.everything, 'stdio'] }
      : { command, args },
  );
  // The server's stderr is not part of the measurement.
  far.stderr.resume();
  await relay(near, far, log);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bare proxy failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
