import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkConfig, loadConfig, type ResolvedConfig } from '../config/load-config.js';
import { ConfigError, formatProblem, type Problem } from '../config/yaml-file.js';
import { usesBundles } from '../config/check-policies.js';
import { probeBundleSource } from '../policy/runtime/probe.js';
import { readPolicySet, type PolicySet } from '../policy/policy-set.js';
import { createVerifier } from '../semantic/factory.js';
import { EXIT, err, out } from './io.js';

export const validateHelp = `Usage: mcpgov validate [--config FILE]

Checks the config, the registries (tools.yaml, agents.yaml) and the policy rules it points to,
and prints every problem as FILE:LINE: PATH: MESSAGE. Exits 1 when there is any.

With policies.bundle or policies.channel, it also checks the policy lifecycle settings (key files,
channels, approvers) and fetches and verifies the bundle the gateway would activate now, with every
check the gateway runs (signature, files, hashes, scope, expiry, approvals, compile, tests).

Options:
  --config FILE   config file (default: ./mcpgov.yaml)
  -h, --help      show this help`;

/** `mcpgov validate`: the same loaders the gateway uses, reporting every problem at once. */
export async function validateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', default: 'mcpgov.yaml' } },
  });
  const problems: Problem[] = [];
  let summary = '';
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
    if (policy) {
      problems.push(...agentProblems(config, policy));
      if (problems.length === 0)
        summary = `ok: ${values.config}: ${Object.keys(config.servers).length} servers, ${policy.tools.file.tools.length} tool entries, ${policy.agents.file.agents.length} agents, ${policy.rules.length} rules (${source})`;
    }
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
  for (const p of problems) err(formatProblem(p));
  if (problems.length > 0) {
    err(`${problems.length} problem${problems.length === 1 ? '' : 's'} found`);
    return EXIT.failed;
  }
  out(summary);
  return EXIT.ok;
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
