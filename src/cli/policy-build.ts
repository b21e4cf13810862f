import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, type ResolvedConfig } from '../config/load-config.js';
import { formatProblem } from '../config/yaml-file.js';
import { buildBundle, BuildRefused, testSources, type SourceSpec } from '../policy/release/build.js';
import { describeFailures } from '../policy/bundle/policy-tests.js';
import { RegistryStore } from '../policy/release/registry-store.js';
import { EXIT, UsageError, err, out } from './io.js';

function sourcesOf(config: ResolvedConfig): SourceSpec {
  return { registries: config.registries, policies: config.policies, name: config.policy.name };
}

/** Options of `mcpgov policy test` (commands/policy.ts). */
export interface PolicyTestOptions {
  config: string;
  json?: boolean;
}

/** Options of `mcpgov policy build` (commands/policy.ts). */
export interface PolicyBuildOptions {
  config: string;
  out?: string;
  seq?: number;
  revision?: string;
  evalReport?: string;
  json?: boolean;
}

/** `mcpgov policy test`: the sources' policy tests; exit 1 when any fails. */
export async function policyTestCommand(values: PolicyTestOptions): Promise<number> {
  const tested = await testSources(sourcesOf(await loadConfig(values.config)));
  for (const p of tested.problems) err(formatProblem(p));
  const { report } = tested;
  if (!report) {
    err(`${tested.problems.length} problem${tested.problems.length === 1 ? '' : 's'} in the sources`);
    return EXIT.failed;
  }
  if (values.json) out(JSON.stringify(report, null, 2));
  else {
    for (const r of report.results) out(`${r.ok ? 'PASS' : 'FAIL'} ${r.suite}[${r.index}] ${r.note}`);
    for (const line of describeFailures(report)) err(`FAIL: ${line}`);
    out(`${report.passed} of ${report.cases} policy tests passed`);
  }
  if (report.cases === 0) err('no policy tests found under policies/tests/');
  return report.failed === 0 && report.cases > 0 ? EXIT.ok : EXIT.failed;
}

/** `mcpgov policy build`: compile and test the sources into a new bundle folder. */
export async function policyBuildCommand(values: PolicyBuildOptions): Promise<number> {
  const evalReport =
    values.evalReport === undefined ? undefined : await readJson(values.evalReport, '--eval-report');
  const seq = values.seq;
  const config = await loadConfig(values.config);
  const name = config.policy.name;
  // The next seq follows the highest the registry has seen, so a build never reuses a published one.
  const next = seq ?? (await publishedMaxSeq(config.policy.registry, name)) + 1;
  const outDir = path.resolve(
    values.out ?? path.join(config.stateRoot, '.mcpgov', 'bundles', `${name}@${next}`),
  );
  try {
    const built = await buildBundle(sourcesOf(config), {
      out: outDir,
      seq: next,
      revision: values.revision,
      evalReport,
    });
    const summary = {
      bundle: built.dir,
      name: built.manifest.name,
      revision: built.manifest.revision,
      seq: built.manifest.seq,
      digest: built.digest,
      tests: { cases: built.report.cases, passed: built.report.passed },
      ...(built.manifest.evals ? { evals: built.manifest.evals } : {}),
    };
    if (values.json) out(JSON.stringify(summary, null, 2));
    else
      out(
        `built ${summary.name}@${summary.seq} revision ${summary.revision}: ${summary.bundle} ` +
          `(${summary.digest}; ${summary.tests.passed} of ${summary.tests.cases} policy tests passed)`,
      );
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof BuildRefused)) throw e;
    for (const p of e.problems) err(formatProblem(p));
    if (e.report) for (const line of describeFailures(e.report)) err(`FAIL: ${line}`);
    err(`build refused: ${e.message}; nothing was written`);
    return EXIT.failed;
  }
}

/** The highest seq the registry holds for a name; 0 when there is no registry yet (nothing is created). */
async function publishedMaxSeq(registry: string, name: string): Promise<number> {
  if (!existsSync(path.join(registry, 'index.json'))) return 0;
  return (await RegistryStore.open(registry)).maxSeq(name);
}

/** Reads a JSON file named on the command line; a missing or malformed one is a usage problem. */
async function readJson(file: string, flag: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${flag}: ${file} is not JSON (write it with "mcpgov evals run --json > FILE")`);
  }
}
