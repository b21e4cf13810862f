import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../util/log.js';
import { errorObject } from './jsonrpc-lines.js';

/** A JSON-RPC error code of ours for a request the far side could not be reached with (MCP leaves -32000..-32099 to servers). */
export const RELAY_FAILED = -32030;

/**
 * Relays one MCP session between two transports, message by message: what `near` receives goes to
 * `far` and back. Neither side is interpreted; a request `far` cannot take (an HTTP error, the server
 * gone) is answered on `near` with a JSON-RPC error naming why, so the client never waits for nothing.
 * Resolves when either side closes, after closing the other.
 */
export async function relay(near: Transport, far: Transport, log: Logger): Promise<void> {
  let closed = false;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const closeBoth = async (why: string) => {
    if (closed) return;
    closed = true;
    log('info', 'relay closing', { why });
    await Promise.allSettled([near.close(), far.close()]);
    done();
  };
  near.onmessage = (message) => {
    far.send(message).catch((err: unknown) => {
      log('warn', 'could not relay to the server', { error: (err as Error).message });
      const id = (message as { id?: string | number }).id;
      const isRequest = id !== undefined && (message as { method?: string }).method !== undefined;
      if (isRequest) {
        const { message: text } = errorObject(err);
        const error = { code: RELAY_FAILED, message: `the server could not be reached: ${text}` };
        void near.send({ jsonrpc: '2.0', id, error } as JSONRPCMessage);
      }
    });
  };
  far.onmessage = (message) => {
    near.send(message).catch((err: unknown) => {
      log('warn', 'could not relay to the client', { error: (err as Error).message });
    });
  };
  near.onclose = () => void closeBoth('the client closed');
  far.onclose = () => void closeBoth('the server closed');
  near.onerror = (err) => log('warn', 'client transport error', { error: err.message });
  far.onerror = (err) => log('warn', 'server transport error', { error: err.message });
  await far.start();
  await near.start();
  return finished;
}
