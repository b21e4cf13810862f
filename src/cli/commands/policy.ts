import { Option } from 'commander';
import { configOption, jsonOption, positiveInt, positiveNumber, type McpgovCommand } from '../command.js';
import { Failure } from '../io.js';
import type { PolicyBuildOptions, PolicyTestOptions } from '../policy-build.js';
import type { PolicyReleaseOptions } from '../policy-release.js';

/** `mcpgov policy ...`: the policy lifecycle. */
export function policyCommands(program: McpgovCommand): void {
  const policy = program
    .command('policy')
    .summary('build, test, sign, approve, publish and roll back policy bundles; status and drift')
    .usage('<subcommand> [options]')
    .description(
      'The policy lifecycle: sources in policies/ and registries/ become signed, approved, versioned\n' +
        "bundles that gateways load from a channel, with drift detection and rollback. The config's\n" +
        '"policies" section names the sources, bundle name, scope, registry folder, pinned keys and\n' +
        'channel requirements.',
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 refused or failed (tests fail, a check fails, drift found), 2 usage.',
    );

  policy
    .command('test')
    .summary('run the policy tests (policies/tests/*.yaml)')
    .description('Runs the policy tests (policies/tests/*.yaml) against the sources; exits 1 when any fails.')
    .addOption(configOption())
    .addOption(jsonOption('print the test report as JSON'))
    .run(
      refusing(async (opts: PolicyTestOptions) =>
        (await import('../policy-build.js')).policyTestCommand(opts),
      ),
    );

  policy
    .command('build')
    .summary('compile and test the sources into a bundle folder')
    .description(
      'Compiles and tests the sources into a bundle folder; nothing is written when a test fails.\n' +
        'With --eval-report (the output of "mcpgov evals run --json"), the bundle carries the report and\n' +
        'its manifest the scores.',
    )
    .addOption(configOption())
    .option('--out <dir>', 'the bundle folder (default: .mcpgov/bundles/NAME@SEQ beside the config)')
    .addOption(
      new Option(
        '--seq <n>',
        "the bundle's sequence number (default: one above the highest published)",
      ).argParser(positiveInt),
    )
    .option(
      '--revision <rev>',
      'the sources\' revision recorded in the manifest (default: their git commit, -dirty when changed; else "unversioned")',
    )
    .option('--eval-report <file>', 'an eval report to carry (mcpgov evals run --json > FILE)')
    .addOption(jsonOption('print the bundle, digest and test counts as JSON'))
    .run(
      refusing(async (opts: PolicyBuildOptions) =>
        (await import('../policy-build.js')).policyBuildCommand(opts),
      ),
    );

  const release = (name: 'sign' | 'verify' | 'approve' | 'publish', summary: string, description: string) =>
    policy
      .command(name)
      .summary(summary)
      .description(description)
      .argument('<bundle>', 'the bundle folder')
      .addOption(configOption());
  const load = () => import('../policy-release.js');

  release(
    'sign',
    'sign a bundle (.signatures.json) with the build key',
    "Signs every file's hash, the scope and the expiry of a bundle with the build key (.signatures.json).",
  )
    .requiredOption('--key <jwk>', 'the private build key')
    .option('--scope <scope>', "the scope the signature is for (default: the config's policies.scope)")
    .addOption(
      new Option('--ttl-days <n>', 'days the signature is valid').argParser(positiveNumber).default(90),
    )
    .addOption(jsonOption())
    .run(refusing(async (opts: PolicyReleaseOptions, [b]) => (await load()).policySignCommand(opts, b!)));

  release(
    'verify',
    "check a bundle's signature, files, hashes, scope and expiry",
    'Checks a bundle as an enforcement point does: signature, files, hashes, scope and expiry.',
  )
    .option('--jwks <file>', 'required: the public keys you trust (verification trusts only keys you pin)')
    .option('--scope <scope>', "the scope to expect (default: the config's policies.scope)")
    .addOption(jsonOption())
    .run(refusing(async (opts: PolicyReleaseOptions, [b]) => (await load()).policyVerifyCommand(opts, b!)));

  release(
    'approve',
    "add an approver's signature (.approvals.json)",
    'Verifies the bundle as publish would, then adds your signature over its digest (.approvals.json).',
  )
    .requiredOption('--key <jwk>', 'your private approver key')
    .requiredOption('--as <name>', 'your approver name (policies.keys.approvers)')
    .addOption(jsonOption())
    .run(refusing(async (opts: PolicyReleaseOptions, [b]) => (await load()).policyApproveCommand(opts, b!)));

  release(
    'publish',
    'store the bundle and point the channel at it (release key)',
    'Checks the approvals, stores the bundle in the registry and points the channel at it, signed with the release key.',
  )
    .requiredOption('--channel <name>', 'the channel to point at the bundle')
    .requiredOption('--key <jwk>', 'the private release key')
    .addOption(jsonOption())
    .run(refusing(async (opts: PolicyReleaseOptions, [b]) => (await load()).policyPublishCommand(opts, b!)));

  policy
    .command('rollback')
    .summary('point the channel back at a bundle it ran before')
    .description(
      'Points the channel back at a bundle it ran before: a new pointer, signed with the release key.',
    )
    .addOption(configOption())
    .requiredOption('--channel <name>', 'the channel')
    .requiredOption('--to <digest>', 'the bundle digest (sha256:<64 hex>) to go back to')
    .requiredOption('--key <jwk>', 'the private release key')
    .addOption(jsonOption())
    .run(refusing(async (opts: PolicyReleaseOptions) => (await load()).policyRollbackCommand(opts)));

  policy
    .command('status')
    .summary("each enforcement point's bundle, state and drift")
    .description(
      "Each enforcement point's bundle, state and drift, from a gateway's /policy/status, and the\n" +
        'channel history from the registry. Exits 1 when any enforcement point drifts.',
    )
    .addOption(configOption())
    .option('--url <url>', "http://HOST:PORT/policy/status (default: from the config's listen.http)")
    .addOption(jsonOption("print the control plane's view as JSON"))
    .run(
      refusing(async (opts: { config: string; url?: string; json?: boolean }) =>
        (await import('../policy-status.js')).policyStatusCommand(opts),
      ),
    );
}

/**
 * In the policy lifecycle a plain Error is a refusal with its own message (a missing key file, a
 * channel not configured): one line, exit 1. Anything else is a fault and keeps its stack.
 */
function refusing<O>(run: (opts: O, args: string[]) => Promise<number>) {
  return async (opts: O, args: string[]) => {
    try {
      return await run(opts, args);
    } catch (e) {
      if (e instanceof Error && e.constructor === Error) throw new Failure(e.message, { cause: e });
      throw e;
    }
  };
}
