import { execFileSync } from 'node:child_process';
import { mkdtemp, open, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINTS_FILE } from '../../src/evidence/checkpoints.js';
import { EvidenceLog } from '../../src/evidence/evidence-log.js';
import { LocalEd25519Signer, readJwks, writeKeyPair } from '../../src/evidence/signer.js';
import { EVIDENCE_VERSION, type RecordBody } from '../../src/evidence/types.js';
import { verifyLogDir } from '../../src/evidence/verify.js';

const PAGE = 4096;

const body = (i: number): RecordBody => ({
  v: EVIDENCE_VERSION,
  id: `r${i}`,
  kind: 'decision',
  chain: 'c',
  time: new Date(Date.UTC(2026, 0, 1)).toISOString(),
  pep: { id: 'p', kind: 'gateway', version: '0' },
});

/** A small tmpfs of our own, where the machine allows it (root with CAP_SYS_ADMIN). */
function mountTmpfs(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Writes until the filesystem has no byte left: whole pages first, then single bytes. */
async function fill(file: string): Promise<void> {
  const fh = await open(file, 'w');
  try {
    for (const chunk of [Buffer.alloc(PAGE), Buffer.alloc(1)]) {
      for (;;) {
        try {
          if ((await fh.write(chunk)).bytesWritten < chunk.length) break;
        } catch {
          break;
        }
      }
    }
  } finally {
    await fh.close();
  }
}

const mountPoint = await mkdtemp(path.join(tmpdir(), 'mcpgov-tmpfs-'));
const mounted = mountTmpfs(mountPoint);
if (!mounted) {
  await rmdir(mountPoint);
  console.warn(
    'evidence-full-disk: SKIPPED: mounting a tmpfs is not permitted here (needs root); the cut-back is ' +
      'still covered at the file-handle boundary by test/unit/evidence/line-file.test.ts',
  );
}

/**
 * A real full filesystem (a 256 KiB tmpfs): the checkpoint written when it is full fails part-way,
 * and the checkpoints file is cut back to its last whole line, so once space returns the next
 * checkpoint lands on a line of its own and the log verifies. (Where mounting is not permitted, the
 * same cut-back is covered by test/unit/evidence/line-file.test.ts at the file-handle boundary.)
 */
describe.runIf(mounted)('evidence on a full filesystem', () => {
  let keysDir: string;
  let log: EvidenceLog | undefined;

  beforeAll(async () => {
    keysDir = await mkdtemp(path.join(tmpdir(), 'mcpgov-keys-'));
  });
  afterAll(async () => {
    await log?.close().catch(() => {});
    // Lazily, so a file a failed test left open cannot keep the mount behind.
    execFileSync('umount', ['-l', mountPoint]);
    await rmdir(mountPoint);
  });

  it('cuts a checkpoint that did not fit back to the last whole line, and the log verifies later', async () => {
    const keys = await writeKeyPair(keysDir);
    const dir = path.join(mountPoint, 'log');
    const errors: string[] = [];
    log = await EvidenceLog.open({
      dir,
      fsync: 'always',
      signer: await LocalEd25519Signer.fromFile(keys.privateKey),
      origin: 'mcpgov/test',
      checkpoint: { everyRecords: 1_000_000, everySeconds: 3600 },
      segmentMaxBytes: 1 << 26,
      log: (level, message) => {
        if (level === 'error') errors.push(message);
      },
    });
    const file = path.join(dir, CHECKPOINTS_FILE);
    let n = 0;
    // Checkpoint until the free room left in the file's last page is less than one more line: a
    // full disk then takes part of the next line and refuses the rest.
    let size = 0;
    for (;;) {
      await log.append(body(n++));
      await log.checkpoint();
      const now = (await stat(file)).size;
      const line = now - size;
      size = now;
      const room = size % PAGE === 0 ? 0 : PAGE - (size % PAGE);
      if (room > 0 && room < line - 8) break;
    }
    await log.append(body(n++));
    const filler = path.join(mountPoint, 'filler');
    await fill(filler);

    await log.checkpoint();
    expect(errors).toEqual(['checkpoint not written']);
    const text = await readFile(file, 'utf8');
    expect(text.length).toBe(size);
    expect(text.endsWith('\n')).toBe(true);

    await rm(filler);
    await log.append(body(n++));
    await log.close();
    log = undefined;
    const report = await verifyLogDir(dir, await readJwks(keys.publicJwks));
    expect(report.failure).toBeUndefined();
    expect(report).toMatchObject({ ok: true, records: n, covered: n });
  });
});
