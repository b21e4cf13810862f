import { JsonDocument, formatProblem, type Problem } from '../../config/yaml-file.js';
import { compilePolicyDocuments, type BundleRef, type PolicySet } from '../policy-set.js';
import type { BundleFiles } from './files.js';
import { PolicyTestFileSchema, type Manifest } from './schema.js';
import type { TestSuite } from './policy-tests.js';

/** A bundle's content compiled: the policy set to enforce and the tests it must pass first. */
export interface CompiledBundle {
  policy: PolicySet;
  suites: TestSuite[];
}

/**
 * Compiles a bundle's registries, rules (in manifest order) and tests with the same validation and
 * compiler as sources, so a bundle that verifies but does not compile is refused, never half-loaded.
 */
export function compileBundle(
  files: BundleFiles,
  manifest: Manifest,
  bundle: BundleRef,
): { compiled?: CompiledBundle; problems: Problem[] } {
  const problems: Problem[] = [];
  const doc = (name: string) => {
    const bytes = files.get(name);
    if (!bytes) {
      problems.push({ file: name, path: '', message: 'listed in the manifest but not in the bundle' });
      return undefined;
    }
    const parsed = JsonDocument.parse(name, bytes.toString('utf8'));
    problems.push(...parsed.problems);
    return parsed.doc;
  };
  const rules = manifest.files.rules.map(doc).filter((d): d is JsonDocument => d !== undefined);
  const { policy } = compilePolicyDocuments(
    { tools: doc(manifest.files.registries.tools), agents: doc(manifest.files.registries.agents), rules },
    problems,
    () => bundle,
  );
  const suites: TestSuite[] = [];
  for (const name of manifest.files.tests) {
    const value = doc(name)?.validate(PolicyTestFileSchema);
    if (value) problems.push(...value.problems);
    if (value?.value) suites.push({ suite: suiteName(name), tests: value.value });
  }
  if (!policy || problems.length > 0) return { problems };
  return { compiled: { policy, suites }, problems };
}

/** `tests/cases/demo.json` -> `demo`: the same suite name the sources' `policies/tests/demo.yaml` has. */
export function suiteName(file: string): string {
  return (file.split('/').pop() ?? file).replace(/\.(json|ya?ml)$/, '');
}

/** The first few problems on one line, for a refusal message. */
export function summarizeProblems(problems: readonly Problem[], max = 3): string {
  const shown = problems.slice(0, max).map(formatProblem).join('; ');
  return problems.length > max ? `${shown}; and ${problems.length - max} more` : shown;
}
