import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evidenceCheck, probeFolder, readiness } from '../../../src/metrics/health.js';

describe('readiness', () => {
  it('is ready only when every check passes, and names each check with its state', async () => {
    expect(await readiness({ a: () => true, b: async () => true })).toEqual({
      ready: true,
      checks: { a: 'pass', b: 'pass' },
    });
    expect(await readiness({ a: () => true, b: async () => false })).toEqual({
      ready: false,
      checks: { a: 'pass', b: 'fail' },
    });
  });

  it('fails a check that throws or rejects', async () => {
    const result = await readiness({
      throws: () => {
        throw new Error('boom');
      },
      rejects: () => Promise.reject(new Error('boom')),
    });
    expect(result).toEqual({ ready: false, checks: { throws: 'fail', rejects: 'fail' } });
  });
});

describe('the evidence check', () => {
  it('passes on a writable folder and leaves nothing behind', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-probe-'));
    expect(await evidenceCheck({ dir, failure: undefined })()).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });

  it('fails where the folder is not a folder', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-probe-'));
    const file = path.join(dir, 'file');
    await writeFile(file, 'x');
    expect(await probeFolder(file)).toBe(false);
    expect(await probeFolder(path.join(dir, 'missing'))).toBe(false);
  });

  it('fails at once, without writing, when the log itself has failed', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-probe-'));
    expect(await evidenceCheck({ dir, failure: new Error('fdatasync failed') })()).toBe(false);
  });
});
