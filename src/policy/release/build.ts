import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { YamlFile, type Problem } from '../../config/yaml-file.js';
import { sha256Hex } from '../../evidence/hash.js';
import { VERSION } from '../../util/version.js';
import { readPolicySet, type PolicyData, type PolicySet } from '../policy-set.js';
import {
  bundleDigest,
  canonicalBytes,
  fileEntries,
  writeBundleDir,
  type BundleFiles,
} from '../bundle/files.js';
import { gitSource } from './git.js';
import { runPolicyTests, type TestReport, type TestSuite } from '../bundle/policy-tests.js';
import {
  BUNDLE_SPEC,
  ENGINE,
  EVAL_REPORT_FILE,
  EvalReportSummarySchema,
  MANIFEST_FILE,
  PolicyTestFileSchema,
  REPORT_FILE,
  type Manifest,
} from '../bundle/schema.js';

/** Where sources are and what to call the bundle. */
export interface SourceSpec {
  registries: string;
  /** The policies folder: rule files, and tests under `tests/`. */
  policies: string;
  name: string;
}

/** Sources compiled and tested, before anything is written. */
export interface TestedSources {
  policy?: PolicySet;
  data?: PolicyData;
  suites: TestSuite[];
  report?: TestReport;
  problems: Problem[];
}

/**
 * Compiles the sources and runs their policy tests (`policies/tests/*.yaml`). Problems in any file
 * come back as problems; failing tests come back in the report.
 */
export async function testSources(src: SourceSpec): Promise<TestedSources> {
  const { policy, data, problems } = await readPolicySet(src);
  const suites: TestSuite[] = [];
  const dir = path.join(src.policies, 'tests');
  const names = existsSync(dir)
    ? (await readdir(dir, { withFileTypes: true }))
        .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
        .map((e) => e.name)
        .sort()
    : [];
  for (const name of names) {
    const { yaml, problems: syntax } = await YamlFile.read(path.join(dir, name));
    problems.push(...syntax);
    const { value, problems: invalid } = yaml ? yaml.validate(PolicyTestFileSchema) : { problems: [] };
    problems.push(...invalid);
    if (value) suites.push({ suite: name.replace(/\.ya?ml$/, ''), tests: value });
  }
  const stems = suites.map((s) => s.suite);
  const duplicate = stems.find((s, i) => stems.indexOf(s) !== i);
  if (duplicate) problems.push({ file: dir, path: '', message: `two test files named "${duplicate}"` });
  if (!policy || problems.length > 0) return { suites, problems };
  return { policy, data, suites, report: await runPolicyTests(policy, suites), problems };
}

/** What `buildBundle` wrote. */
export interface BuiltBundle {
  dir: string;
  manifest: Manifest;
  digest: string;
  report: TestReport;
}

/** Why a build was refused: problems in the sources, or failing tests. */
export class BuildRefused extends Error {
  override name = 'BuildRefused';
  constructor(
    message: string,
    readonly problems: Problem[],
    readonly report?: TestReport,
  ) {
    super(message);
  }
}

/**
 * Compiles sources into a bundle folder: the validated registries, rules and tests as RFC 8785 JSON,
 * the test report, and a manifest naming the build. Refuses (and writes nothing) when a source has a
 * problem or a test fails, so an unsigned bundle already means "compiles and passes its tests".
 */
export async function buildBundle(
  src: SourceSpec,
  opts: { out: string; seq: number; revision?: string; evalReport?: unknown },
): Promise<BuiltBundle> {
  const tested = await testSources(src);
  const { data, report, suites } = tested;
  if (!data || !report) throw new BuildRefused('the sources have problems', tested.problems);
  if (report.failed > 0)
    throw new BuildRefused(`${report.failed} of ${report.cases} policy tests failed`, [], report);

  const git = await gitSource(src.policies, [src.policies, src.registries]);
  const base = git?.root ?? path.dirname(src.policies);
  const revision = opts.revision ?? (git ? `${git.commit}${git.dirty ? '-dirty' : ''}` : 'unversioned');
  const files: BundleFiles = new Map();
  const manifestFiles: Manifest['files'] = {
    registries: { tools: 'registries/tools.json', agents: 'registries/agents.json' },
    rules: [],
    tests: [],
  };
  files.set(manifestFiles.registries.tools, canonicalBytes(data.tools));
  files.set(manifestFiles.registries.agents, canonicalBytes(data.agents));
  for (const { file, rules } of data.rules) {
    const name = `rules/${path.basename(file).replace(/\.ya?ml$/, '')}.json`;
    if (files.has(name)) throw new BuildRefused(`two rule files compile to ${name}`, []);
    files.set(name, canonicalBytes({ rules }));
    manifestFiles.rules.push(name);
  }
  for (const { suite, tests } of suites) {
    const name = `tests/cases/${suite}.json`;
    files.set(name, canonicalBytes(tests));
    manifestFiles.tests.push(name);
  }
  files.set(REPORT_FILE, canonicalBytes(report));
  const manifest: Manifest = {
    spec: BUNDLE_SPEC,
    name: src.name,
    revision,
    seq: opts.seq,
    engine: ENGINE,
    compiler: `mcpgov@${VERSION}`,
    source: {
      ...(git ? { commit: git.commit, dirty: git.dirty, ...(git.repo ? { repo: git.repo } : {}) } : {}),
      registries: path.relative(base, src.registries) || '.',
      policies: path.relative(base, src.policies) || '.',
    },
    files: manifestFiles,
    tests: { cases: report.cases, passed: report.passed, failed: report.failed, report: REPORT_FILE },
  };
  if (opts.evalReport !== undefined) {
    const summary = EvalReportSummarySchema.safeParse(opts.evalReport);
    if (!summary.success)
      throw new BuildRefused('the eval report is not the output of "mcpgov evals run --json"', []);
    const bytes = canonicalBytes(opts.evalReport);
    files.set(EVAL_REPORT_FILE, bytes);
    manifest.evals = {
      report: EVAL_REPORT_FILE,
      digest: `sha256:${sha256Hex(bytes)}`,
      cases: summary.data.cases,
      metrics: summary.data.metrics,
    };
  }
  files.set(MANIFEST_FILE, canonicalBytes(manifest));
  if (existsSync(opts.out)) throw new Error(`refusing to overwrite ${opts.out}: choose a new --out folder`);
  await writeBundleDir(opts.out, files);
  return { dir: opts.out, manifest, digest: bundleDigest(fileEntries(files)), report };
}
