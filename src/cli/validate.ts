import { existsSync } from 'node:fs';
import { checkConfig, loadConfig, type ResolvedConfig } from '../config/load-config.js';
import { ConfigError, formatProblem, type Problem } from '../config/yaml-file.js';
import { usesBundles } from '../config/check-policies.js';
import { probeBundleSource } from '../policy/runtime/probe.js';
import { readPolicySet, type PolicySet } from '../policy/policy-set.js';
import { createVerifier } from '../semantic/factory.js';
import { EXIT, err, out } from './io.js';

/** Options of `mcpgov validate` (commands/operate.ts). */
export interface ValidateOptions {
  config: string;
  json?: boolean;
  strict?: boolean;
}

/** What `validate --json` prints. */
interface ValidateReport {
  ok: boolean;
  config: string;
  servers?: number;
  tool_entries?: number;
  agents?: number;
  rules?: number;
  policy?: string;
  problems: Problem[];
  warnings: string[];
}

/** `mcpgov validate`: the same loaders the gateway uses, reporting every problem at once. */
export async function validateCommand(values: ValidateOptions): Promise<number> {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const report: ValidateReport = { ok: false, config: values.config, problems: [], warnings };
  try {
    const config = await loadConfig(values.config);
    const bundles = usesBundles(config.policy);
    let policy: PolicySet | undefined;
    let source = '';
    // Sources are checked whenever they are there: they are what the next bundle is built from.
    if (!bundles || existsSync(config.policies)) {
      const read = await readPolicySet(config);
      problems.push(...read.problems);
      policy = read.policy;
      source = `policy ${read.policy?.bundle.digest}`;
    }
    const configProblems = checkConfig(config);
    problems.push(...configProblems);
    problems.push(...semanticProblems(config));
    if (bundles && configProblems.length === 0) {
      const probed = await probeBundleSource(config.policy);
      if (probed.ok) {
        policy = probed.candidate.policy;
        source = `bundle ${probed.candidate.manifest.name}@${probed.candidate.manifest.seq} ${probed.candidate.digest}`;
      } else {
        problems.push({
          file: config.file,
          path: 'policies.bundle',
          message: `${probed.code}: ${probed.message}`,
        });
        policy = undefined;
      }
    }
    // Valid, but governing nothing: a gateway on it serves no tools.
    if (Object.keys(config.servers).length === 0)
      warnings.push(
        `${config.file}: no servers configured: a gateway on it serves no tools (add some under servers:; a sidecar's config needs none)`,
      );
    if (policy) {
      problems.push(...agentProblems(config, policy));
      Object.assign(report, {
        servers: Object.keys(config.servers).length,
        tool_entries: policy.tools.file.tools.length,
        agents: policy.agents.file.agents.length,
        rules: policy.rules.length,
        policy: source,
      });
    }
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
  report.problems = problems;
  report.ok = problems.length === 0 && !(values.strict && warnings.length > 0);
  const code = report.ok ? EXIT.ok : EXIT.failed;
  if (values.json) {
    out(JSON.stringify(report, null, 2));
    return code;
  }
  for (const p of problems) err(formatProblem(p));
  for (const w of warnings) err(`warning: ${w}`);
  if (problems.length > 0) {
    err(`${problems.length} problem${problems.length === 1 ? '' : 's'} found`);
    return EXIT.failed;
  }
  if (!report.ok && values.strict) {
    err(`${warnings.length} warning${warnings.length === 1 ? '' : 's'}, failing with --strict`);
    return EXIT.failed;
  }
  out(
    `ok: ${values.config}: ${report.servers} servers, ${report.tool_entries} tool entries, ${report.agents} agents, ${report.rules} rules (${report.policy})`,
  );
  return code;
}

/** The config's references into the agent registry of the policy that would be enforced. */
function agentProblems(config: ResolvedConfig, policy: PolicySet): Problem[] {
  const all = checkConfig(config, new Set(policy.agents.file.agents.map((a) => a.id)));
  return all.filter((p) => p.path === 'identity.default_agent');
}

/** Stage 2 as the gateway would build it at start: an LLM judge needs its settings and its key. */
function semanticProblems(config: ResolvedConfig): Problem[] {
  try {
    createVerifier(config.semantic, config.dir);
    return [];
  } catch (e) {
    return [{ file: config.file, path: 'semantic', message: (e as Error).message }];
  }
}
