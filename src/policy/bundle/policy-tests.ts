import { digest } from '../../evidence/hash.js';
import { MemoryCounterStore } from '../../pipeline/counters.js';
import { evaluate } from '../../pipeline/evaluate.js';
import type { CallContext } from '../../pipeline/types.js';
import type { PolicySet } from '../policy-set.js';
import type { PolicyTestCase, PolicyTestFile } from './schema.js';
import type { Identity } from '../../core/identity.js';
import type { LiveTool } from '../../core/live-tool.js';

/** A fixed default time, so a case that does not set one decides the same on every run. */
const DEFAULT_TIME = '2026-01-05T12:00:00Z';

/** One named file of test cases (the name is its stem, e.g. `demo` for `policies/tests/demo.yaml`). */
export interface TestSuite {
  suite: string;
  tests: PolicyTestFile;
}

/** What one case expected and what the policy decided. */
export interface TestResult {
  suite: string;
  index: number;
  note: string;
  ok: boolean;
  expected: PolicyTestCase['expect'];
  got: { effect: string; reasons: string[]; rules: string[]; mode: string };
}

/** The report of a test run; stored in every bundle as `tests/report.json`. */
export interface TestReport {
  cases: number;
  passed: number;
  failed: number;
  results: TestResult[];
}

/**
 * Runs policy tests against a compiled policy through the same pipeline the enforcement points run
 * (every stage, fresh counters per case), so a passing test means the bundle decides that way in
 * production. Deterministic: no clock, no network. Stage 2 is skipped: it is measured by the eval
 * suite, and a policy test must mean the same whichever verifier production runs.
 */
export async function runPolicyTests(policy: PolicySet, suites: readonly TestSuite[]): Promise<TestReport> {
  const results: TestResult[] = [];
  for (const { suite, tests } of suites) {
    for (const [index, test] of tests.cases.entries()) {
      const paths = { ...tests.paths, ...test.input.paths };
      const roots = { ...tests.roots, ...test.input.roots };
      const ctx = contextOf(policy, test, `test:${suite}:${index}`);
      const decision = await evaluate(
        ctx,
        { policy, counters: new MemoryCounterStore(), paths, roots, skipSemantic: true },
        tests.mode,
      );
      const got = {
        effect: decision.effect,
        reasons: decision.reasons.map(String),
        rules: decision.rules,
        mode: decision.mode,
      };
      results.push({
        suite,
        index,
        note: test.note,
        ok: matches(test.expect, got),
        expected: test.expect,
        got,
      });
    }
  }
  const passed = results.filter((r) => r.ok).length;
  return { cases: results.length, passed, failed: results.length - passed, results };
}

function matches(expect: PolicyTestCase['expect'], got: TestResult['got']): boolean {
  if (expect.effect !== got.effect) return false;
  if (expect.reason !== undefined && expect.reason !== got.reasons[0]) return false;
  if (expect.mode !== undefined && expect.mode !== got.mode) return false;
  if (expect.rules !== undefined && [...expect.rules].sort().join() !== [...got.rules].sort().join())
    return false;
  return true;
}

/** The call context an enforcement point would build for this input. */
function contextOf(policy: PolicySet, test: PolicyTestCase, sessionId: string): CallContext {
  const { input } = test;
  const identity: Identity = input.identity
    ? { verified: true, ...input.identity, claims: input.identity.claims }
    : { verified: false, claims: {}, agentId: input.agent };
  if (input.identity) identity.agentId = policy.agents.resolve(identity)?.id;
  const entry = policy.tools.match(input.tool);
  const split = input.tool.indexOf('__');
  const definition = { name: split < 0 ? input.tool : input.tool.slice(split + 2) };
  const liveTool: LiveTool = {
    name: input.tool,
    server: split < 0 ? '' : input.tool.slice(0, split),
    tool: definition.name,
    definition,
    digest: input.definition_digest ?? entry?.definition_digest ?? digest(definition),
  };
  return {
    identity,
    agent: identity.agentId === undefined ? undefined : policy.agents.get(identity.agentId),
    toolName: input.tool,
    toolEntry: entry,
    liveTool,
    arguments: input.arguments,
    session: {
      id: sessionId,
      intent: input.session.intent,
      callCount: input.session.call_count + 1,
      tools: input.session.tools,
      history: [],
    },
    now: Date.parse(input.time ?? DEFAULT_TIME),
  };
}

/** One line per failed case, for the CLI and for refusals. */
export function describeFailures(report: TestReport): string[] {
  return report.results
    .filter((r) => !r.ok)
    .map(
      (r) =>
        `${r.suite}[${r.index}] ${r.note}: expected ${r.expected.effect}${r.expected.reason ? ` (${r.expected.reason})` : ''}, got ${r.got.effect}${r.got.reasons[0] ? ` (${r.got.reasons[0]})` : ''}`,
    );
}
