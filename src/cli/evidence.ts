import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { generatedKeyPaths } from '../pep/open-evidence.js';
import { isPack, verifyPack, writePack } from '../evidence/pack.js';
import { toOcsf, verificationFinding } from '../evidence/export-ocsf.js';
import { listSegments, readEvidenceLines } from '../evidence/jsonl-store.js';
import { REPLICAS_DIR } from '../control/evidence-replica.js';
import { pullEvidence, type PulledPep } from '../control/evidence-pull.js';
import type { EvidenceRecord } from '../evidence/types.js';
import { verifyChainLines } from '../evidence/verify-chain.js';
import { LocalEd25519Signer, readJwks } from '../evidence/signer.js';
import { formatFailure, verifyLogDir } from '../evidence/verify.js';
import { EXIT, UsageError, err, out } from './io.js';

/** Options of `mcpgov evidence ...` (commands/evidence.ts). */
export interface EvidenceOptions {
  config: string;
  jwks?: string;
  format?: 'jsonl' | 'ocsf';
  since?: string;
  out?: string;
  dir?: string;
  chain?: string;
  stream?: string;
  pep?: string;
  json?: boolean;
}

/** `mcpgov evidence verify PATH --jwks FILE`: a folder (and its replicas) or a pack, offline. */
export async function verifyCommand(values: EvidenceOptions, dir: string): Promise<number> {
  if (!values.jwks) throw new UsageError('--jwks FILE is required: verification trusts only keys you pin');
  const jwks = await readJwks(values.jwks);
  if (await isPack(dir)) {
    const pack = await verifyPack(dir, jwks);
    if (values.json) out(JSON.stringify({ kind: 'pack', path: dir, ...pack }, null, 2));
    if (!pack.ok) {
      err(`FAIL: ${formatFailure(pack.failure!)}`);
      return EXIT.failed;
    }
    if (!values.json)
      out(
        `ok: pack ${dir}: ${pack.records} records of chain ${pack.chain}, each proven in the signed checkpoint of size ${pack.checkpointSize}`,
      );
    return EXIT.ok;
  }
  // The folder's own log, then the replicas of other enforcement points' logs it keeps (peps/<id>/),
  // each against the same pinned keys: an auditor pins every PEP key they trust.
  let failed = false;
  const logs: Record<string, unknown>[] = [];
  for (const folder of [dir, ...(await replicaDirs(dir))]) {
    const report = await verifyLogDir(folder, jwks);
    if (values.json) logs.push({ ...report, path: folder, approvals: Object.fromEntries(report.approvals) });
    if (!report.ok) {
      err(`FAIL: ${formatFailure(report.failure!)}`);
      failed = true;
      continue;
    }
    if (values.json) continue;
    out(
      `ok: ${folder}: ${report.records} records in ${report.segments} segment${report.segments === 1 ? '' : 's'}, ` +
        `${report.checkpoints} checkpoints; the last covers every record; signed by ${report.kids.join(', ') || 'nobody (empty)'}`,
    );
    const kinds = Object.entries(report.kinds).map(([kind, n]) => `${kind} ${n}`);
    if (kinds.length > 0) out(`  records: ${kinds.join(', ')}`);
    for (const [id, trail] of report.approvals) {
      out(`  approval ${id} (${trail.tool}, agent ${trail.agent ?? 'none'}): ${trail.events.join(' -> ')}`);
    }
  }
  if (values.json) out(JSON.stringify({ ok: !failed, kind: 'folder', path: dir, logs }, null, 2));
  return failed ? EXIT.failed : EXIT.ok;
}

/** Replicas of other PEPs' logs kept in an evidence folder (`peps/<pep id>/`). */
async function replicaDirs(dir: string): Promise<string[]> {
  const peps = path.join(dir, REPLICAS_DIR);
  const names = await readdir(peps).catch(() => [] as string[]);
  return names.sort().map((n) => path.join(peps, n));
}

/** `mcpgov evidence pack --chain ID --out DIR`: one session's records with proofs, signed. */
export async function packCommand(values: EvidenceOptions): Promise<number> {
  if (!values.chain || !values.out) throw new UsageError('pack needs --chain ID and --out DIR');
  const config = await loadConfig(values.config);
  const keyFile = config.evidence.key ?? generatedKeyPaths(config.evidence.dir).privateKey;
  const summary = await writePack({
    evidenceDir: config.evidence.dir,
    chain: values.chain,
    outDir: values.out,
    signer: await LocalEd25519Signer.fromFile(keyFile),
  });
  if (values.json) out(JSON.stringify(summary, null, 2));
  else
    out(
      `packed chain ${summary.chain} into ${summary.dir}: ${summary.records} records, ` +
        `checkpoint of size ${summary.checkpointSize}, ${summary.files.length} files`,
    );
  return EXIT.ok;
}

/** `mcpgov evidence export --format jsonl|ocsf`: the log for a SIEM. */
export async function exportCommand(values: EvidenceOptions): Promise<number> {
  if (values.format !== 'jsonl' && values.format !== 'ocsf')
    throw new UsageError('--format must be jsonl or ocsf');
  const since = values.since === undefined ? undefined : Date.parse(values.since);
  if (since !== undefined && Number.isNaN(since))
    throw new UsageError(`--since "${values.since}" is not an ISO 8601 time`);
  const dir = values.dir ?? (await loadConfig(values.config)).evidence.dir;
  if (values.dir !== undefined && (await listSegments(dir)).length === 0) {
    throw new UsageError(`${values.dir} holds no evidence segments`);
  }
  const lines = await readEvidenceLines(dir);
  const records = lines.map((l) => JSON.parse(l) as EvidenceRecord);
  const selected = records.filter((r) => since === undefined || Date.parse(r.time) >= since);
  let output: string[];
  if (values.format === 'jsonl') {
    output = selected.map((r) => JSON.stringify(r));
  } else {
    output = selected.flatMap(toOcsf).map((e) => JSON.stringify(e));
    // A log whose hash chain is broken is itself a finding the SIEM must see.
    const chain = verifyChainLines(lines);
    if (!chain.ok)
      output.push(JSON.stringify(verificationFinding(chain.reason, `line ${chain.line}`, records[0]?.pep)));
  }
  const text = output.map((l) => `${l}\n`).join('');
  if (values.out) await writeFile(values.out, text);
  else process.stdout.write(text);
  if (values.out)
    err(`exported ${output.length} ${values.format === 'ocsf' ? 'OCSF events' : 'records'} to ${values.out}`);
  return EXIT.ok;
}

/** `mcpgov evidence pull --stream URL --out DIR`: rebuild every PEP's log from a JetStream stream. */
export async function pullCommand(values: EvidenceOptions): Promise<number> {
  if (!values.stream || !values.out) throw new UsageError('pull needs --stream URL and --out DIR');
  if (!/^(nats|tls):\/\//.test(values.stream)) {
    throw new UsageError(`--stream "${values.stream}" is not a nats:// or tls:// URL`);
  }
  let pulled: PulledPep[];
  try {
    pulled = await pullEvidence({ url: values.stream, out: values.out, pep: values.pep });
  } catch (e) {
    err(`FAIL: ${(e as Error).message}`);
    return EXIT.failed;
  }
  if (pulled.length === 0) err(`the stream holds no evidence records yet; nothing written to ${values.out}`);
  if (values.json) {
    out(JSON.stringify({ pulled }, null, 2));
    return EXIT.ok;
  }
  for (const p of pulled) {
    out(`pulled ${p.pep}: ${p.records} records, ${p.checkpoints} checkpoints -> ${p.dir}`);
  }
  return EXIT.ok;
}
