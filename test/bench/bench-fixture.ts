import type { EngineState } from './engines-bench.js';
import { REFERENCE_SERVERS, writeFixture, type Fixture } from '../helpers/fixture.js';

/** What a bench gateway setup varies: evidence fsync, shared state on the engines, limits. */
export interface BenchFixtureOptions {
  fsync: string;
  state?: EngineState['state'];
  limits?: Record<string, number>;
}

/**
 * The bench's gateway setup: every server-everything tool for one agent, a stage-1 rule on echo's
 * message. With `state`, shared state is on the engines and the tools carry a rate cap (never reached)
 * so that every call takes a Redis check-and-reserve.
 */
export function benchFixture({ fsync, state, limits }: BenchFixtureOptions): Promise<Fixture> {
  return writeFixture({
    config: {
      mode: 'enforce',
      evidence: { dir: './evidence', fsync },
      identity: { default_agent: 'bench' },
      servers: { everything: { command: 'node', args: [REFERENCE_SERVERS.everything, 'stdio'] } },
      ...(state ? { state } : {}),
      ...(limits ? { limits } : {}),
    },
    tools: {
      tools: [
        {
          name: 'everything__*',
          owner: 'bench',
          risk_tier: 'low',
          scopes: ['demo'],
          data_classes: ['internal'],
          ...(state ? { caps: { rate_per_minute: 100_000_000 } } : {}),
        },
      ],
      groups: { all: ['everything__*'] },
    },
    agents: {
      agents: [
        { id: 'bench', owner: 'bench', tool_groups: ['all'], scopes: ['demo'], clearance: ['internal'] },
      ],
    },
    rules: [
      {
        id: 'no-secrets-in-echo',
        description: 'echo must not carry a private key',
        when: { in: ['PRIVATE KEY', { var: 'call.arguments.message' }] },
        effect: 'deny',
        reason: 'secret_in_arguments',
      },
    ],
  });
}
