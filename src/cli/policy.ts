import { policyBuildCommand, policyTestCommand } from './policy-build.js';
import {
  policyApproveCommand,
  policyPublishCommand,
  policyRollbackCommand,
  policySignCommand,
  policyVerifyCommand,
} from './policy-release.js';
import { policyStatusCommand } from './policy-status.js';
import { EXIT, UsageError, err } from './io.js';

export const policyHelp = `Usage: mcpgov policy <subcommand> [options]

The policy lifecycle: sources in policies/ and registries/ become signed, approved, versioned
bundles that gateways load from a channel, with drift detection and rollback.

  test      [--json]                         run the policy tests (policies/tests/*.yaml)
  build     [--out DIR] [--seq N] [--eval-report FILE]
                                             compile and test the sources into a bundle folder; with
                                             --eval-report (mcpgov evals run --json output), the
                                             bundle carries the report and its manifest its scores
  sign      BUNDLE --key JWK [--ttl-days N]  sign a bundle (.signatures.json) with the build key
  verify    BUNDLE --jwks FILE [--scope S]   check a bundle's signature, files, hashes, scope, expiry
  approve   BUNDLE --key JWK --as NAME       add an approver's signature (.approvals.json)
  publish   BUNDLE --channel C --key JWK     store the bundle and point the channel at it (release key)
  rollback  --channel C --to DIGEST --key JWK
                                             point the channel back at a bundle it ran before
  status    [--url URL] [--json]             each enforcement point's bundle, state and drift

Options:
  --config FILE   config file (default: ./mcpgov.yaml); its "policies" section names the sources,
                  bundle name, scope, registry folder, pinned keys and channel requirements
  -h, --help      show this help

Exit codes: 0 ok, 1 refused or failed (tests fail, a check fails, drift found), 2 usage.`;

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  test: policyTestCommand,
  build: policyBuildCommand,
  sign: policySignCommand,
  verify: policyVerifyCommand,
  approve: policyApproveCommand,
  publish: policyPublishCommand,
  rollback: policyRollbackCommand,
  status: policyStatusCommand,
};

/** `mcpgov policy ...`. */
export async function policyCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const run = sub === undefined ? undefined : SUBCOMMANDS[sub];
  if (!run)
    throw new UsageError(sub === undefined ? 'a subcommand is required' : `unknown subcommand "${sub}"`);
  try {
    return await run(rest);
  } catch (e) {
    // A plain Error is a refusal with its own message (a missing key, a channel not configured):
    // say it in one line. Anything else is a fault and keeps its stack.
    if (e instanceof Error && e.constructor === Error) {
      err(`mcpgov policy ${sub}: ${e.message}`);
      return EXIT.failed;
    }
    throw e;
  }
}
