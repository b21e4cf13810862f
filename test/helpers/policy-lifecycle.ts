import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import type { ResolvedConfig } from '../../src/config/load-config.js';
import { LocalEd25519Signer, writeKeyPair, type KeyFiles } from '../../src/evidence/signer.js';
import { addApproval, signApproval } from '../../src/policy/bundle/approvals.js';
import { buildBundle } from '../../src/policy/release/build.js';
import { readBundleDir, type BundleFiles } from '../../src/policy/bundle/files.js';
import { publishBundle } from '../../src/policy/release/publish.js';
import { RegistryStore } from '../../src/policy/release/registry-store.js';
import { readManifest, signBundle, writeSignature } from '../../src/policy/release/sign.js';
import { loadTrust } from '../../src/policy/bundle/trust.js';
import { CLI, REPO } from './fixture.js';

const run = promisify(execFile);

/** Every key of the policy lifecycle, generated into one folder: build, release and three approvers. */
export interface LifecycleKeys {
  dir: string;
  build: KeyFiles;
  release: KeyFiles;
  ciso: KeyFiles;
  grc: KeyFiles;
  secarch: KeyFiles;
}

/** Generates the lifecycle's Ed25519 keys under `dir/keys`. */
export async function makeKeys(dir: string): Promise<LifecycleKeys> {
  const keys = path.join(dir, 'keys');
  return {
    dir: keys,
    build: await writeKeyPair(keys, 'build'),
    release: await writeKeyPair(keys, 'release'),
    ciso: await writeKeyPair(keys, 'ciso'),
    grc: await writeKeyPair(keys, 'grc'),
    secarch: await writeKeyPair(keys, 'secarch'),
  };
}

/** A new temp folder holding a copy of the repository's demo `policies/` (with tests) and `registries/`. */
export async function demoSources(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-policy-'));
  await cp(path.join(REPO, 'policies'), path.join(dir, 'policies'), { recursive: true });
  await cp(path.join(REPO, 'registries'), path.join(dir, 'registries'), { recursive: true });
  return dir;
}

/**
 * The `policies:` section of a config for the demo lifecycle: bundle `demo`, scope `demo`, channel
 * `prod` needing 2 of ciso, grc, secarch. Relative paths resolve against the config's folder.
 */
export function lifecyclePolicies(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sources: './policies',
    name: 'demo',
    scope: 'demo',
    registry: './registry',
    cache: './cache',
    keys: {
      signers: './keys/build.jwks.json',
      publishers: './keys/release.jwks.json',
      approvers: {
        ciso: './keys/ciso.jwks.json',
        grc: './keys/grc.jwks.json',
        secarch: './keys/secarch.jwks.json',
      },
    },
    channels: { prod: { approvals: 2, approvers: ['ciso', 'grc', 'secarch'] } },
    ...extra,
  };
}

/** A gateway started from the built CLI, as users run it. */
export interface GatewayProcess {
  child: ChildProcess;
  /** `http://host:port` (without `/mcp`). */
  base: string;
  /** Stops it with SIGTERM and waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts `mcpgov gateway` on an ephemeral port; resolves with its base URL (from its log). */
export async function spawnGateway(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [CLI, 'gateway', '--config', configFile, '--http', '127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  const stderr: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stderr! });
    lines.on('line', (line) => {
      stderr.push(line);
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'serving Streamable HTTP' && entry.url) resolve(entry.url);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}:\n${stderr.join('\n')}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    base: url.replace(/\/mcp$/, ''),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs the built CLI in `cwd`; resolves with the exit code and output instead of throwing. */
export async function mcpgov(
  cwd: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/**
 * Builds the sources in `dir` into `dir/<out>`, signs it with the build key and has the given
 * approvers approve it, through the library (the CLI tests cover the same steps as commands).
 */
export async function releaseBundle(
  dir: string,
  keys: LifecycleKeys,
  opts: { out: string; seq: number; approvers?: ('ciso' | 'grc' | 'secarch')[] },
): Promise<{ dir: string; digest: string; files: BundleFiles }> {
  const built = await buildBundle(
    { registries: path.join(dir, 'registries'), policies: path.join(dir, 'policies'), name: 'demo' },
    { out: path.join(dir, opts.out), seq: opts.seq },
  );
  const files = await readBundleDir(built.dir);
  const builder = await LocalEd25519Signer.fromFile(keys.build.privateKey);
  await writeSignature(
    built.dir,
    await signBundle(files, builder, { scope: 'demo', expires: new Date(Date.now() + 30 * 86_400_000) }),
  );
  for (const who of opts.approvers ?? ['ciso', 'grc']) {
    const approver = await LocalEd25519Signer.fromFile(keys[who].privateKey);
    await addApproval(
      built.dir,
      await signApproval({ digest: built.digest, manifest: readManifest(files) }, approver, who),
      who,
    );
  }
  return { dir: built.dir, digest: built.digest, files: await readBundleDir(built.dir) };
}

/** Publishes a released bundle to channel `prod` of the registry a config's `policies` names. */
export async function publishToProd(
  config: ResolvedConfig,
  keys: LifecycleKeys,
  files: BundleFiles,
): Promise<void> {
  const published = await publishBundle(
    files,
    'prod',
    await LocalEd25519Signer.fromFile(keys.release.privateKey),
    {
      policy: config.policy,
      trust: await loadTrust(config.policy),
      store: await RegistryStore.open(config.policy.registry),
      now: Date.now(),
    },
  );
  if (!published.ok) throw new Error(`${published.code}: ${published.message}`);
}
