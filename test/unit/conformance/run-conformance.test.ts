import { describe, expect, it } from 'vitest';
import { formatTable, regressions, type ScenarioResult } from '../../conformance/run-conformance.js';

const pass: ScenarioResult = { passed: true };
const fail = (why: string): ScenarioResult => ({ passed: false, why });
const SCENARIOS = ['ping', 'tools-call-sampling', 'resources-subscribe', 'dns-rebinding-protection'];

describe('conformance comparison', () => {
  it('counts as a regression every scenario that passes alone and fails through the gateway', () => {
    const alone = new Map([
      ['ping', pass],
      ['tools-call-sampling', pass],
      ['resources-subscribe', fail('Method not found')],
      ['dns-rebinding-protection', pass],
    ]);
    const gateway = new Map([
      ['ping', pass],
      ['tools-call-sampling', fail('Server did not request sampling from client')],
      ['resources-subscribe', fail('Method not found')],
      ['dns-rebinding-protection', pass],
    ]);
    expect(regressions(SCENARIOS, alone, gateway)).toEqual(['tools-call-sampling']);
  });

  it('requires DNS-rebinding protection of the gateway even where the server alone lacks it', () => {
    const alone = new Map(
      SCENARIOS.map((s) => [s, s === 'dns-rebinding-protection' ? fail('got 200') : pass]),
    );
    const gateway = new Map(
      SCENARIOS.map((s) => [s, s === 'dns-rebinding-protection' ? fail('got 200') : pass]),
    );
    expect(regressions(SCENARIOS, alone, gateway)).toEqual(['dns-rebinding-protection']);
    // A scenario that did not run at all counts as failed.
    expect(regressions(SCENARIOS, alone, new Map())).toEqual([
      'ping',
      'tools-call-sampling',
      'resources-subscribe',
      'dns-rebinding-protection',
    ]);
  });

  it('prints one row per scenario with the first failed check, and the totals', () => {
    const alone = new Map(SCENARIOS.map((s) => [s, pass]));
    const gateway = new Map([
      ['ping', pass],
      ['tools-call-sampling', fail('Server did not request sampling from client')],
    ]);
    expect(formatTable(SCENARIOS, alone, gateway).split('\n')).toEqual([
      'scenario                  alone  gateway  why (first failed check)',
      'ping                      pass   pass     ',
      'tools-call-sampling       pass   FAIL     gateway: Server did not request sampling from client',
      'resources-subscribe       pass   FAIL     gateway: no result',
      'dns-rebinding-protection  pass   FAIL     gateway: no result',
      'passed: alone 4/4, gateway 1/4',
    ]);
  });
});
