import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { FileCounterStore, SPEND_FILE } from '../../../src/pipeline/spend-file.js';

const NOW = Date.parse('2026-03-10T12:00:00Z');
const clock = (): number => NOW;

async function stateDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'mcpgov-spend-'));
}

async function saved(dir: string): Promise<Record<string, Record<string, number>>> {
  return (JSON.parse(await readFile(path.join(dir, SPEND_FILE), 'utf8')) as { days: never }).days;
}

describe('spend totals in the state folder', () => {
  it('starts empty without a file, and a reopened store continues from the saved totals', async () => {
    const dir = await stateDir();
    const store = await FileCounterStore.open(dir, { clock });
    expect(await store.chargeSpend('dev', '2026-03-10', 4, 5)).toBeDefined();
    await store.close();
    expect(await saved(dir)).toEqual({ '2026-03-10': { dev: 4 } });

    const reopened = await FileCounterStore.open(dir, { clock });
    expect(await reopened.chargeSpend('dev', '2026-03-10', 2, 5)).toBeUndefined();
    expect(await reopened.chargeSpend('dev', '2026-03-10', 1, 5)).toBeDefined();
    await reopened.close();
  });

  it('writes a change on its own a moment later, without waiting for close', async () => {
    const dir = await stateDir();
    const store = await FileCounterStore.open(dir, { clock });
    await store.chargeSpend('dev', '2026-03-10', 1, 5);
    await store.chargeSpend('dev', '2026-03-10', 1, 5);
    await vi.waitFor(async () => expect(await saved(dir)).toEqual({ '2026-03-10': { dev: 2 } }), {
      timeout: 10_000,
    });
  });

  it('persists a released charge as given back', async () => {
    const dir = await stateDir();
    const store = await FileCounterStore.open(dir, { clock });
    (await store.chargeSpend('dev', '2026-03-10', 2, 5))?.release();
    await store.close();
    expect(await saved(dir)).toEqual({ '2026-03-10': { dev: 0 } });
  });

  it('drops days before yesterday and leaves no temp files behind', async () => {
    const dir = await stateDir();
    await writeFile(
      path.join(dir, SPEND_FILE),
      JSON.stringify({ version: 1, days: { '2026-03-01': { dev: 9 }, '2026-03-09': { dev: 3 } } }),
    );
    const store = await FileCounterStore.open(dir, { clock });
    await store.chargeSpend('dev', '2026-03-10', 1, 5);
    await store.close();
    expect(await saved(dir)).toEqual({ '2026-03-09': { dev: 3 }, '2026-03-10': { dev: 1 } });
    expect(await readdir(dir)).toEqual([SPEND_FILE]);
  });

  it('refuses a file it cannot read rather than start every cap from zero', async () => {
    const dir = await stateDir();
    await writeFile(path.join(dir, SPEND_FILE), '{"version":1,"days":');
    await expect(FileCounterStore.open(dir, { clock })).rejects.toThrow(/not a spend state file/);
  });

  it('creates the state folder when it first writes', async () => {
    const dir = path.join(await stateDir(), 'nested', 'state');
    const store = await FileCounterStore.open(dir, { clock });
    await store.chargeSpend('dev', '2026-03-10', 1, 5);
    await store.close();
    expect(existsSync(path.join(dir, SPEND_FILE))).toBe(true);
  });
});
