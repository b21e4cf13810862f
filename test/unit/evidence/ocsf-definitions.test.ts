import { describe, expect, it } from 'vitest';
import { toOcsf } from '../../../src/evidence/export-ocsf.js';
import { recordBase, type EvidenceRecord } from '../../../src/evidence/types.js';

const PEP = { id: 'gw', kind: 'gateway', version: '0' } as const;
const D = `sha256:${'d'.repeat(64)}`;

function definitionRecord(poisoned: boolean): EvidenceRecord {
  return {
    ...recordBase('definition', 'definitions', PEP, new Date(0)),
    definition: {
      server: 'docs',
      tool: 'docs__notes',
      digest: D,
      poisoned,
      findings: poisoned ? [{ field: 'description', detail: 'a hidden-instruction block', score: 0.9 }] : [],
      invisible_removed: 2,
      action: poisoned ? 'hidden' : 'listed',
    },
    seq: 3,
    prev: null,
    hash: D,
  };
}

describe('OCSF export of tool definition findings', () => {
  it('maps a poisoned definition to a high-severity Detection Finding', () => {
    const [event] = toOcsf(definitionRecord(true));
    expect(event).toMatchObject({
      class_uid: 2004,
      severity: 'High',
      is_alert: true,
      finding_info: {
        title: 'Poisoned tool definition',
        desc: 'docs offers docs__notes with hidden instructions (hidden): description: a hidden-instruction block',
        types: ['tool_poisoning'],
      },
    });
  });

  it('maps invisible characters alone to a low-severity finding that is not an alert', () => {
    const [event] = toOcsf(definitionRecord(false));
    expect(event).toMatchObject({
      class_uid: 2004,
      severity: 'Low',
      is_alert: false,
      finding_info: { title: 'Invisible characters in a tool definition' },
    });
  });
});
