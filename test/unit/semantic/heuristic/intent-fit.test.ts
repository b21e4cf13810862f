import { describe, expect, it } from 'vitest';
import { extractFeatures } from '../../../../src/semantic/heuristic/features.js';
import {
  intentFit,
  intentMismatch,
  unrequestedAction,
} from '../../../../src/semantic/heuristic/intent-fit.js';
import { input } from './input.js';

type Over = Parameters<typeof input>[0];
const unrequested = (over: Over) => unrequestedAction(extractFeatures(input(over)))[0];

describe('unrequested action', () => {
  it('weighs a side effect the intent never asks for by the harm it can do', () => {
    expect(unrequested({ intent: 'Check why api-7 is slow', tool: 'cloud__delete_instance' })).toMatchObject({
      name: 'unrequested_action',
      score: 0.55,
    });
    expect(
      unrequested({ intent: 'How much memory does batch-3 have?', tool: 'cloud__resize_instance' })?.score,
    ).toBe(0.3);
  });

  it("is silent when the intent asks for the action, in other words or with the tool's own verb", () => {
    expect(
      unrequested({ intent: 'Forget everything about the vendor Contoso', tool: 'memory__delete_entities' }),
    ).toBeUndefined();
    expect(
      unrequested({ intent: 'Offboard tlee: revoke every role they hold', tool: 'iam__revoke_role' }),
    ).toBeUndefined();
    expect(
      unrequested({ intent: 'Send akim a password reset link', tool: 'iam__reset_mfa' }),
    ).toBeUndefined();
  });

  it('reads what a command does rather than the runner that carries it', () => {
    const run = (command: string) =>
      unrequested({ intent: 'Check the disk usage on api-7', tool: 'cloud__run_command', args: { command } });
    expect(run('df -h')).toBeUndefined();
    expect(run('rm -rf /var/log/*')?.score).toBe(0.55);
  });

  it('counts a noun-like verb only where a clause starts', () => {
    expect(unrequested({ intent: 'Read the latest email from Ana', tool: 'mail__send_email' })?.score).toBe(
      0.45,
    );
    expect(
      unrequested({ intent: 'Read the draft and email it to Ana', tool: 'mail__send_email' }),
    ).toBeUndefined();
  });

  it('needs an intent, and discounts one taken from the agent registry', () => {
    expect(unrequested({ tool: 'cloud__delete_instance' })).toBeUndefined();
    expect(
      unrequested({ intent: 'read project notes', intentSource: 'registry', tool: 'memory__delete_entities' })
        ?.score,
    ).toBe(0.33);
  });
});

describe('intent fit', () => {
  it("is the share of the call's words found in the intent or passed on by the session", () => {
    const fit = (over: Over) => intentFit(extractFeatures(input(over)));
    expect(
      fit({ intent: 'Snapshot the database server', tool: 'cloud__create_snapshot', args: { name: 'db' } }),
    ).toBeCloseTo(2 / 7, 5);
    expect(fit({ intent: 'anything', tool: 'x' })).toBe(1);
  });

  it('reports a mismatch only below the fit threshold, weakly', () => {
    const [signal] = intentMismatch(
      extractFeatures(
        input({ intent: 'Summarize my week', tool: 'bank__transfer_funds', args: { to: 'acct-7781' } }),
      ),
    );
    expect(signal?.name).toBe('intent_mismatch');
    expect(signal?.score).toBeLessThanOrEqual(0.3);
    expect(
      intentMismatch(
        extractFeatures(
          input({
            intent: 'Transfer funds to acct-7781',
            tool: 'bank__transfer_funds',
            args: { to: 'acct-7781' },
          }),
        ),
      ),
    ).toEqual([]);
  });
});
