import type { StageResult } from '../../core/decision.js';
import { PASS, type Stage } from '../stage.js';

/**
 * A tool whose definition changed is a different tool: refuse it until a person re-approves it (the
 * "rug pull"). The reference is the registry's pin when there is one, else the definition the
 * enforcement point first saw. A definition with hidden instructions is refused, or flagged for
 * stage 2, as the server's `definitions` settings say. Outside a running enforcement point (policy
 * tests, evals) a tool has no review, and only the pin is checked, in the usual mode.
 */
export const checkDefinition: Stage = (ctx) => {
  const live = ctx.liveTool;
  const review = live?.review;
  // `block` enforces whatever the mode: the changed text has already reached the model by tools/list.
  const mode = review && (review.onChange === 'block' ? 'enforce' : 'observe');
  const changed = (code: 'definition_mismatch' | 'definition_changed', against: string): StageResult => ({
    kind: 'deny',
    code,
    message: `tool "${ctx.toolName}" changed: definition ${live?.digest ?? 'unknown'} is not the ${against}`,
    ...(mode === undefined ? {} : { mode }),
  });
  const pin = ctx.toolEntry?.definition_digest;
  if (pin !== undefined && live?.digest !== pin) return changed('definition_mismatch', `pinned ${pin}`);
  if (pin === undefined && review && live?.digest !== review.firstSeen) {
    return changed('definition_changed', `first seen ${review.firstSeen}`);
  }
  const poisoned = review?.poisoned;
  if (poisoned) {
    const message = `tool "${ctx.toolName}" has hidden instructions in its definition (${poisoned.detail})`;
    // Hidden whatever the mode: a poisoned description works on the model as soon as it is listed.
    if (poisoned.action === 'hide')
      return { kind: 'deny', code: 'poisoned_description', message, mode: 'enforce' };
    return { kind: 'flag', code: 'poisoned_description', message };
  }
  return PASS;
};
