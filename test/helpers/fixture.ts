import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { PACKAGE_ROOT } from '../../src/util/version.js';

/** The repository root (where package.json and node_modules are). */
export const REPO = PACKAGE_ROOT;

/** Entry points of the reference MCP servers (devDependencies), started with `node`. */
export const REFERENCE_SERVERS = {
  everything: path.join(REPO, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'),
  filesystem: path.join(REPO, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js'),
  memory: path.join(REPO, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js'),
};

/** The built CLI, as `npm start` and users run it. */
export const CLI = path.join(REPO, 'dist/src/cli/bin-mcpgov.js');

/** What a throwaway gateway setup contains; each part is written as the YAML file a user would write. */
export interface FixtureSpec {
  config: Record<string, unknown>;
  tools: Record<string, unknown>;
  agents: Record<string, unknown>;
  rules?: unknown[];
  /** Extra files, by path relative to the fixture folder. */
  files?: Record<string, string>;
}

/** A temp folder with mcpgov.yaml, registries/ and policies/. */
export interface Fixture {
  dir: string;
  configFile: string;
  /** The evidence folder: segments, checkpoints, and the generated signing key under keys/. */
  evidenceDir: string;
}

/** Writes a complete config tree into a new temp folder. */
export async function writeFixture(spec: FixtureSpec): Promise<Fixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-'));
  await mkdir(path.join(dir, 'registries'));
  await mkdir(path.join(dir, 'policies'));
  await writeFile(path.join(dir, 'registries/tools.yaml'), stringify(spec.tools));
  await writeFile(path.join(dir, 'registries/agents.yaml'), stringify(spec.agents));
  await writeFile(path.join(dir, 'policies/rules.yaml'), stringify({ rules: spec.rules ?? [] }));
  for (const [name, content] of Object.entries(spec.files ?? {}))
    await writeFile(path.join(dir, name), content);
  const config = { evidence: { dir: './evidence', fsync: 'batch' }, ...spec.config };
  const configFile = path.join(dir, 'mcpgov.yaml');
  await writeFile(configFile, stringify(config));
  return { dir, configFile, evidenceDir: path.join(dir, 'evidence') };
}
