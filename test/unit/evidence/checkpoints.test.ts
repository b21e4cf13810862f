import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  Checkpointer,
  CHECKPOINTS_FILE,
  CheckpointSchema,
  recordLeaf,
} from '../../../src/evidence/checkpoints.js';
import { treeHash } from '../../../src/evidence/merkle.js';
import * as lineFile from '../../../src/evidence/line-file.js';
import { LocalEd25519Signer, writeKeyPair } from '../../../src/evidence/signer.js';

vi.mock('../../../src/evidence/line-file.js', { spy: true });

const hash = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;

describe('checkpointer', () => {
  it('writes no checkpoint after a torn line it could not cut back, until the log is reopened', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-cp-'));
    const keys = await writeKeyPair(path.join(dir, 'keys'));
    const errors: string[] = [];
    let durable = 0;
    const checkpointer = new Checkpointer(
      {
        dir,
        origin: 'mcpgov/test',
        signer: await LocalEd25519Signer.fromFile(keys.privateKey),
        everyRecords: 1000,
        everySeconds: 3600,
        log: (_level, message, fields) => errors.push(`${message}: ${String(fields?.['error'])}`),
        existingLeaves: [],
        lastSize: 0,
      },
      () => durable,
    );
    checkpointer.add(hash(1));
    durable = 1;
    await checkpointer.checkpoint();
    expect(checkpointer.covered).toBe(1);

    // A full disk took part of the line and the cut-back failed too (it cannot be produced on demand).
    vi.mocked(lineFile.appendLine).mockRejectedValueOnce(
      new lineFile.TornLineError(path.join(dir, CHECKPOINTS_FILE), new Error('ENOSPC'), new Error('EIO')),
    );
    checkpointer.add(hash(2));
    durable = 2;
    await checkpointer.checkpoint();
    checkpointer.add(hash(3));
    durable = 3;
    await checkpointer.checkpoint();
    await checkpointer.close();

    expect(vi.mocked(lineFile.appendLine)).toHaveBeenCalledTimes(2);
    expect(checkpointer.covered).toBe(1);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/^checkpoint not written: .*could not be cut back/);
    expect(errors[1]).toMatch(/^checkpoint not written: no checkpoints until the log is reopened/);
    expect(errors[2]).toBe(errors[1]);
    const lines = (await readFile(path.join(dir, CHECKPOINTS_FILE), 'utf8')).split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
  });

  it('keeps its tree as it was when a checkpoint is not written: the next one covers every record', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-cp-'));
    const keys = await writeKeyPair(path.join(dir, 'keys'));
    let durable = 0;
    const checkpointer = new Checkpointer(
      {
        dir,
        origin: 'mcpgov/test',
        signer: await LocalEd25519Signer.fromFile(keys.privateKey),
        everyRecords: 1000,
        everySeconds: 3600,
        log: () => {},
        existingLeaves: [],
        lastSize: 0,
      },
      () => durable,
    );
    const leaves: Buffer[] = [];
    const add = (n: number) => {
      for (let i = 0; i < n; i++) {
        checkpointer.add(hash(leaves.length));
        leaves.push(recordLeaf(hash(leaves.length)));
      }
      durable = leaves.length;
    };
    add(5);
    await checkpointer.checkpoint();
    add(6);
    vi.mocked(lineFile.appendLine).mockRejectedValueOnce(new Error('ENOSPC'));
    await checkpointer.checkpoint();
    expect(checkpointer.covered).toBe(5);
    add(7);
    await checkpointer.checkpoint();
    await checkpointer.close();
    const lines = (await readFile(path.join(dir, CHECKPOINTS_FILE), 'utf8')).split('\n').filter(Boolean);
    const written = lines.map((l) => CheckpointSchema.parse(JSON.parse(l)));
    expect(written.map((c) => c.size)).toEqual([5, 18]);
    expect(written.map((c) => c.root)).toEqual(
      [5, 18].map((size) => treeHash(leaves.slice(0, size)).toString('base64')),
    );
  });
});
