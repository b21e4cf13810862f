import type { ResolvedConfig } from '../config/load-config.js';
import type { EvidenceSink, PepInfo } from '../evidence/types.js';
import type { PolicySet } from '../policy/policy-set.js';
import { semanticEnv } from '../semantic/env.js';
import type { Logger } from '../util/log.js';
import { Enforcer } from './enforcer.js';

/** The enforcement core as a config describes it: the gateway and the sidecar build theirs here. */
export function createEnforcer(
  config: ResolvedConfig,
  opts: { policy: PolicySet; evidence: EvidenceSink; pep: PepInfo; log: Logger; clock?: () => number },
): Enforcer {
  const { history } = config.semantic;
  return new Enforcer({
    ...opts,
    defaultMode: config.mode,
    paths: config.paths,
    roots: Object.fromEntries(
      Object.entries(config.servers).map(([name, server]) => [name, 'roots' in server ? server.roots : []]),
    ),
    semantic: semanticEnv(config),
    history: { calls: history.calls, resultChars: history.result_chars },
  });
}
