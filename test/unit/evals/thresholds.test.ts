import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkThresholds, formatThresholdFailure, readThresholds } from '../../../src/evals/thresholds.js';

const metrics = { precision: 0.9, recall: 0.7, f1: 0.7875, fpr: 0.08, accuracy: 0.85 };

describe('threshold gating', () => {
  it('fails each metric below its minimum or above its maximum, for the stage that ran', () => {
    const thresholds = { pipeline: { min: { recall: 0.8, precision: 0.9 }, max: { fpr: 0.05 } } };
    const failures = checkThresholds(metrics, 'pipeline', thresholds);
    expect(failures).toEqual([
      { metric: 'recall', value: 0.7, bound: 'min', limit: 0.8 },
      { metric: 'fpr', value: 0.08, bound: 'max', limit: 0.05 },
    ]);
    expect(formatThresholdFailure(failures[0]!)).toBe('recall 0.7000 is below the minimum 0.8');
    expect(checkThresholds(metrics, 'semantic', thresholds)).toEqual([]);
  });

  it('reads a strict file: an unknown metric is an error, not a silently skipped gate', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-thresholds-'));
    const ok = path.join(dir, 'ok.json');
    await writeFile(ok, JSON.stringify({ semantic: { min: { f1: 0.8 } } }));
    expect(await readThresholds(ok)).toEqual({ semantic: { min: { f1: 0.8 }, max: {} } });
    const typo = path.join(dir, 'typo.json');
    await writeFile(typo, JSON.stringify({ semantic: { min: { f_1: 0.8 } } }));
    await expect(readThresholds(typo)).rejects.toThrow(/typo\.json: semantic\.min/);
  });
});
