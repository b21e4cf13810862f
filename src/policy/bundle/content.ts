import type { BundleRef } from '../policy-set.js';
import { compileBundle, summarizeProblems, type CompiledBundle } from './compile.js';
import { refuse, type Checked } from './errors.js';
import { describeFailures, runPolicyTests, type TestReport } from './policy-tests.js';
import type { VerifiedBundle } from './verify.js';

/** The policy reference a verified bundle's decisions cite. */
export function bundleRef(verified: VerifiedBundle): BundleRef {
  return { name: verified.manifest.name, revision: verified.manifest.revision, digest: verified.digest };
}

/**
 * The last two activation checks, shared by enforcement points and `policy publish`: the rules and
 * registries compile, and the bundle's own policy tests pass on this build of the engine.
 */
export async function compileAndTest(
  verified: VerifiedBundle,
): Promise<Checked<CompiledBundle & { report: TestReport }>> {
  const { compiled, problems } = compileBundle(verified.files, verified.manifest, bundleRef(verified));
  if (!compiled)
    return refuse('bundle_compile_failed', `bundle does not compile: ${summarizeProblems(problems)}`);
  const report = await runPolicyTests(compiled.policy, compiled.suites);
  if (report.failed > 0) {
    const first = describeFailures(report)[0] ?? '';
    return refuse('bundle_tests_failed', `${report.failed} of ${report.cases} policy tests fail: ${first}`);
  }
  return { ok: true, value: { ...compiled, report } };
}
