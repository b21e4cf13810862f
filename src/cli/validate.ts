import { parseArgs } from 'node:util';
import { checkConfig, loadConfig } from '../config/load-config.js';
import { ConfigError, formatProblem, type Problem } from '../config/yaml-file.js';
import { readPolicySet } from '../policy/policy-set.js';
import { EXIT, err, out } from './io.js';

export const validateHelp = `Usage: mcpgov validate [--config FILE]

Checks the config, the registries (tools.yaml, agents.yaml) and the policy rules it points to,
and prints every problem as FILE:LINE: PATH: MESSAGE. Exits 1 when there is any.

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
    const { policy, problems: policyProblems } = await readPolicySet(config);
    problems.push(...policyProblems);
    problems.push(...checkConfig(config, policy && new Set(policy.agents.file.agents.map((a) => a.id))));
    if (policy) {
      summary = `ok: ${values.config}: ${Object.keys(config.servers).length} servers, ${policy.tools.file.tools.length} tool entries, ${policy.agents.file.agents.length} agents, ${policy.rules.length} rules (policy ${policy.bundle.digest})`;
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
