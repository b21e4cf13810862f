import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { REFUSED_KEY } from './errors.js';
import { INVALID_REQUEST, LineReader, writeLine } from './jsonrpc-lines.js';

export interface StdioServerParams {
  command: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  /**
   * Largest message the server may send (`limits.max_downstream_message_bytes`): a longer line is discarded as it
   * arrives, never held in memory, and the request it answers fails with `result_too_large`.
   */
  maxMessageBytes?: number;
}

/** Without a configured limit, a downstream line longer than this is dropped: a guard, not a policy. */
const MAX_DOWNSTREAM_LINE_BYTES = 256 * 1024 * 1024;
/** Bytes kept of each end of a discarded line: enough for the JSON-RPC envelope around its id. */
const EDGE_BYTES = 256;
/** A JSON-RPC id (a string or an integer) as JSON text. */
const ID = String.raw`("(?:[^"\\]|\\.){0,200}"|-?\d{1,16})`;
/** The SDK writes `{"result":...,"jsonrpc":"2.0","id":ID}`: the id closes the line. */
const TAIL_ID = new RegExp(String.raw`"id"\s*:\s*${ID}\s*\}\s*$`);
/** Other implementations write the envelope first: `{"jsonrpc":"2.0","id":ID,...`. */
const HEAD_ID = new RegExp(String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*${ID}`);
/** An answer (not a request of the server's, whose id is in the server's own id space) opens so. */
const ANSWER_HEAD = new RegExp(
  String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?(?:"id"\s*:\s*${ID}\s*,\s*)?"(?:result|error)"`,
);
/** How long a server gets to exit after its stdin closes, then after SIGTERM (as the SDK's transport). */
const EXIT_GRACE_MS = 2000;

/**
 * A client transport to a local MCP server over its stdin/stdout (MCP stdio transport), like the
 * SDK's `StdioClientTransport`, but framing with the hardened {@link LineReader}: it checks each
 * message's JSON-RPC envelope by hand instead of with a schema library, since every downstream
 * result crosses it on the hot path. The server's stderr is available as a stream before start.
 */
export class LineStdioClientTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;

  private child?: ChildProcess;
  private readonly stderrStream = new PassThrough();
  private readonly reader: LineReader;

  constructor(private readonly params: StdioServerParams) {
    const limit = params.maxMessageBytes ?? MAX_DOWNSTREAM_LINE_BYTES;
    this.reader = new LineReader({
      maxMessageBytes: limit,
      edges: EDGE_BYTES,
      onMessage: (message) => this.onmessage?.(message),
      onProblem: (problem) => {
        this.onerror?.(new Error(`downstream sent bad input: ${problem.message}`));
        const id = problem.edges && recoverId(problem.edges.head, problem.edges.tail);
        // The waiter fails now, not when its timeout runs out (JSON-RPC 2.0 §5: an error answer per id).
        if (id !== undefined) {
          this.onmessage?.({
            jsonrpc: '2.0',
            id,
            error: {
              code: INVALID_REQUEST,
              message: `the server's answer is over the ${limit}-byte limit (limits.max_downstream_message_bytes)`,
              data: { [REFUSED_KEY]: 'result_too_large' },
            },
          } as JSONRPCMessage);
        }
      },
    });
  }

  /** The server's stderr (piped), readable from construction on so no early output is lost. */
  get stderr(): PassThrough {
    return this.stderrStream;
  }

  /** The server's process id, while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    if (this.child) throw new Error('transport already started');
    return new Promise((resolve, reject) => {
      const child = spawn(this.params.command, this.params.args ?? [], {
        env: { ...getDefaultEnvironment(), ...this.params.env },
        stdio: ['pipe', 'pipe', 'pipe'],
        shell: false,
        windowsHide: true,
        cwd: this.params.cwd,
      });
      this.child = child;
      child.on('error', (err) => {
        reject(err);
        this.onerror?.(err);
      });
      child.on('spawn', () => resolve());
      child.on('close', () => {
        if (this.child === child) this.child = undefined;
        this.onclose?.();
      });
      child.stdin?.on('error', (err) => this.onerror?.(err));
      child.stdout?.on('data', (chunk: Buffer) => this.reader.push(chunk));
      child.stdout?.on('error', (err) => this.onerror?.(err));
      child.stderr?.pipe(this.stderrStream);
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin) return Promise.reject(new Error('Not connected'));
    return writeLine(stdin, `${JSON.stringify(message)}\n`);
  }

  /** Closes stdin and waits for the server to exit, then SIGTERM, then SIGKILL. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const exitedWithin = (ms: number) =>
      Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, ms).unref())]);
    child.stdin?.end();
    await exitedWithin(EXIT_GRACE_MS);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exitedWithin(EXIT_GRACE_MS);
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** The id of a discarded JSON-RPC answer, from its first and last bytes; undefined when they show none, or a request. */
export function recoverId(head: string, tail: string): string | number | undefined {
  if (!ANSWER_HEAD.test(head)) return undefined;
  const match = TAIL_ID.exec(tail) ?? HEAD_ID.exec(head);
  if (!match?.[1]) return undefined;
  try {
    const id: unknown = JSON.parse(match[1]);
    return typeof id === 'string' || typeof id === 'number' ? id : undefined;
  } catch {
    return undefined;
  }
}
