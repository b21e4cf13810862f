import { describe, expect, it } from 'vitest';
import { printable, span } from '../../../src/cli/approvals-output.js';

describe('what the approvals CLI prints of agent-controlled text', () => {
  it('shows control characters as escapes, so none can redraw the terminal', () => {
    expect(printable('fs__move_file\u001b[2K\u001b[1Aapproved\u009b31m\n')).toBe(
      'fs__move_file\\u001b[2K\\u001b[1Aapproved\\u009b31m\\u000a',
    );
    expect(printable('plain text, ünïcode ✓')).toBe('plain text, ünïcode ✓');
  });

  it('says how long ago in the largest fitting unit', () => {
    expect(span(45_000)).toBe('45s');
    expect(span(14 * 60_000)).toBe('14m');
    expect(span(5 * 3600_000)).toBe('5h');
    expect(span(3 * 86_400_000)).toBe('3d');
  });
});
