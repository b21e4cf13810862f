import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI } from './fixture.js';

/** A gateway running as its own process (`mcpgov gateway --http 127.0.0.1:0`), as users run it. */
export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process has written to stderr so far. */
  stderr(): string;
  /** The admin listener's URL, once the process has said it serves one. */
  adminUrl(): string | undefined;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM, as an orchestrator stops it; resolves once it has exited (at once if it already has). */
  stop(): Promise<void>;
}

/** Starts the built gateway on an ephemeral port; resolves once it serves (its log names the URL). */
export async function startGatewayProcess(configFile: string): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [CLI, 'gateway', '--config', configFile, '--http', '127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let admin: string | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stderr! });
    lines.on('line', (line) => {
      stderr += `${line}\n`;
      if (!line.startsWith('{')) return; // a plain-text startup error; the exit handler reports it
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'serving Streamable HTTP' && entry.url) resolve(entry.url);
      if (entry.msg === 'serving the admin API and approver console' && entry.url) admin = entry.url;
    });
    void exited.then((code) => reject(new Error(`gateway exited with ${code}: ${stderr}`)));
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return { child, url, stderr: () => stderr, adminUrl: () => admin, exited, stop };
}
