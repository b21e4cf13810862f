import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { LineReader } from './jsonrpc-lines.js';

export interface StdioServerParams {
  command: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
}

/** A downstream line longer than this is dropped (and reported): a guard, not a policy limit. */
const MAX_DOWNSTREAM_LINE_BYTES = 256 * 1024 * 1024;
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
  private readonly reader = new LineReader({
    maxMessageBytes: MAX_DOWNSTREAM_LINE_BYTES,
    onMessage: (message) => this.onmessage?.(message),
    onProblem: (problem) => this.onerror?.(new Error(`downstream sent bad input: ${problem.message}`)),
  });

  constructor(private readonly params: StdioServerParams) {}

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
    if (stdin.write(`${JSON.stringify(message)}\n`)) return Promise.resolve();
    return new Promise((resolve) => stdin.once('drain', resolve));
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
