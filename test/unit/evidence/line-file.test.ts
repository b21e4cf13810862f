import { mkdtemp, open, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendWhole, cutTornLastLine, TornLineError } from '../../../src/evidence/line-file.js';

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

/**
 * A real file handle whose writes behave like a full disk (write(2): a short count, then ENOSPC);
 * optionally its truncate fails too. Everything else is the real handle's.
 */
function fullDisk(fh: FileHandle, room: number, truncateFails = false): FileHandle {
  return new Proxy(fh, {
    get(target, key) {
      if (key === 'write') {
        return async (buffer: Uint8Array, offset: number, length: number, position: number | null) => {
          if (room <= 0) throw enospc();
          const take = Math.min(room, length);
          room -= take;
          return target.write(buffer, offset, take, position);
        };
      }
      if (key === 'truncate' && truncateFails) return async () => Promise.reject(enospc());
      const value = Reflect.get(target, key) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function fileWith(text: string): Promise<string> {
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'mcpgov-line-')), 'checkpoints.jsonl');
  await writeFile(file, text);
  return file;
}

describe('whole-line appends', () => {
  it('cuts a line the disk took only part of back to the size before the append', async () => {
    const file = await fileWith('{"a":1}\n');
    const fh = await open(file, 'a');
    await expect(appendWhole(fullDisk(fh, 5), Buffer.from('{"b":2}\n'), file)).rejects.toThrow(/ENOSPC/);
    await fh.close();
    expect(await readFile(file, 'utf8')).toBe('{"a":1}\n');
  });

  it('writes the rest after a short write, when the disk takes it', async () => {
    const file = await fileWith('');
    const fh = await open(file, 'a');
    let first = true;
    const short = new Proxy(fh, {
      get(target, key) {
        if (key === 'write') {
          return async (b: Uint8Array, o: number, l: number, p: number | null) => {
            const take = first ? 3 : l;
            first = false;
            return target.write(b, o, take, p);
          };
        }
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    await appendWhole(short, Buffer.from('{"b":2}\n'), file);
    await fh.close();
    expect(await readFile(file, 'utf8')).toBe('{"b":2}\n');
  });

  it('says so when the file cannot be cut back either', async () => {
    const file = await fileWith('{"a":1}\n');
    const fh = await open(file, 'a');
    const failed = appendWhole(fullDisk(fh, 3, true), Buffer.from('{"b":2}\n'), file);
    await expect(failed).rejects.toBeInstanceOf(TornLineError);
    await fh.close();
    expect(await readFile(file, 'utf8')).toBe('{"a":1}\n{"b');
  });
});

describe('torn last lines', () => {
  it('cuts off the part after the last newline and reports its size', async () => {
    const file = await fileWith('{"a":1}\n{"b":2}\n{"c":');
    expect(await cutTornLastLine(file)).toBe(5);
    expect(await readFile(file, 'utf8')).toBe('{"a":1}\n{"b":2}\n');
    expect(await cutTornLastLine(file)).toBe(0);
  });

  it('empties a file whose only line is torn, and leaves a missing file alone', async () => {
    const file = await fileWith('{"a":');
    expect(await cutTornLastLine(file)).toBe(5);
    expect(await readFile(file, 'utf8')).toBe('');
    expect(await cutTornLastLine(path.join(path.dirname(file), 'none.jsonl'))).toBe(0);
  });

  it('finds the last newline across more than one read', async () => {
    const file = await fileWith(`${'x'.repeat(10)}\n${'y'.repeat(200_000)}`);
    expect(await cutTornLastLine(file)).toBe(200_000);
    expect(await readFile(file, 'utf8')).toBe(`${'x'.repeat(10)}\n`);
  });

  it('leaves a broken line in the middle for the verifier', async () => {
    const file = await fileWith('{"a":1}\n{"b"\n{"c":3}\n');
    expect(await cutTornLastLine(file)).toBe(0);
    expect(await readFile(file, 'utf8')).toBe('{"a":1}\n{"b"\n{"c":3}\n');
  });
});
