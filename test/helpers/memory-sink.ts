import type { EvidenceRecord, EvidenceSink, RecordBody } from '../../src/evidence/types.js';

/** An evidence sink of our own interface that keeps what was appended in memory, in order. */
export function memorySink(): EvidenceSink & { records: RecordBody[] } {
  const records: RecordBody[] = [];
  return {
    records,
    append: async (body) => {
      records.push(body);
      return {
        ...body,
        seq: records.length - 1,
        prev: null,
        hash: `sha256:${'0'.repeat(64)}`,
      } as EvidenceRecord;
    },
    flush: async () => {},
    close: async () => {},
  };
}
