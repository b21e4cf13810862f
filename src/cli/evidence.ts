import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
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

export const evidenceHelp = `Usage: mcpgov evidence <subcommand>

  verify PATH --jwks FILE   verify an evidence folder or an evidence pack offline against pinned
                            public keys. A folder: record hashes and links, seq continuity, checkpoint
                            signatures and roots, and that the last record is covered by a checkpoint;
                            then each replica of a sidecar's log the folder keeps under peps/<id>/
                            (pin those PEPs' keys in the same --jwks file).
                            A pack: the signed manifest, the exact file set and hashes, the checkpoint,
                            and each record's inclusion proof. Prints the first bad record and why,
                            and exits 1.
  export --format jsonl|ocsf [--since TIME] [--out FILE]
                            the log as native JSONL, or as OCSF 1.8 events (API Activity 6003 with the
                            security_control profile; Detection Finding 2004 for failed outcome checks,
                            drift, and a log whose hash chain does not verify). metadata.uid is the
                            record id, so re-ingesting is idempotent.
  pack --chain ID --out DIR one session's records with inclusion proofs, the covering checkpoint, the
                            public key, the cited policy bundles and a signed manifest
  pull --stream URL --out DIR [--pep ID]
                            rebuild every enforcement point's log from a NATS JetStream evidence
                            stream (state.evidence_stream) under DIR/peps/<pep id>/, each record and
                            checkpoint checked on the way in; pulling again adds only what is new.
                            Then: evidence verify DIR --jwks KEYS, report DIR, export --dir DIR/peps/<id>

Options:
  --jwks FILE       (verify) the public keys you trust, e.g. from "mcpgov keys generate"; required
  --format F        (export) jsonl or ocsf
  --since TIME      (export) only records at or after this ISO 8601 time
  --out FILE        (export) write here instead of stdout
  --dir DIR         (export) the evidence folder to read (default: the config's evidence.dir)
  --chain ID        (pack) the chain (session id) to pack
  --out DIR         (pack) an empty or new folder
  --stream URL      (pull) nats://host:port?stream=NAME (default stream MCPGOV_EVIDENCE)
  --out DIR         (pull) where the logs are rebuilt
  --pep ID          (pull) only this enforcement point's log
  --config FILE     (pack, export) config naming the evidence folder (default: ./mcpgov.yaml)
  -h, --help        show this help`;

/** `mcpgov evidence ...`. */
export async function evidenceCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'verify') return verifyCommand(rest);
  if (sub === 'pack') return packCommand(rest);
  if (sub === 'export') return exportCommand(rest);
  if (sub === 'pull') return pullCommand(rest);
  throw new UsageError(sub === undefined ? 'a subcommand is required' : `unknown subcommand "${sub}"`);
}

async function verifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { jwks: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new UsageError('verify takes one PATH');
  if (!values.jwks) throw new UsageError('--jwks FILE is required: verification trusts only keys you pin');
  const dir = positionals[0]!;
  const jwks = await readJwks(values.jwks);
  if (await isPack(dir)) {
    const pack = await verifyPack(dir, jwks);
    if (!pack.ok) {
      err(`FAIL: ${formatFailure(pack.failure!)}`);
      return EXIT.failed;
    }
    out(
      `ok: pack ${dir}: ${pack.records} records of chain ${pack.chain}, each proven in the signed checkpoint of size ${pack.checkpointSize}`,
    );
    return EXIT.ok;
  }
  // The folder's own log, then the replicas of other enforcement points' logs it keeps (peps/<id>/),
  // each against the same pinned keys: an auditor pins every PEP key they trust.
  let failed = false;
  for (const folder of [dir, ...(await replicaDirs(dir))]) {
    const report = await verifyLogDir(folder, jwks);
    if (!report.ok) {
      err(`FAIL: ${formatFailure(report.failure!)}`);
      failed = true;
      continue;
    }
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
  return failed ? EXIT.failed : EXIT.ok;
}

/** Replicas of other PEPs' logs kept in an evidence folder (`peps/<pep id>/`). */
async function replicaDirs(dir: string): Promise<string[]> {
  const peps = path.join(dir, REPLICAS_DIR);
  const names = await readdir(peps).catch(() => [] as string[]);
  return names.sort().map((n) => path.join(peps, n));
}

async function packCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      chain: { type: 'string' },
      out: { type: 'string' },
      config: { type: 'string', default: 'mcpgov.yaml' },
    },
  });
  if (!values.chain || !values.out) throw new UsageError('pack needs --chain ID and --out DIR');
  const config = await loadConfig(values.config);
  const keyFile = config.evidence.key ?? generatedKeyPaths(config.evidence.dir).privateKey;
  const summary = await writePack({
    evidenceDir: config.evidence.dir,
    chain: values.chain,
    outDir: values.out,
    signer: await LocalEd25519Signer.fromFile(keyFile),
  });
  out(JSON.stringify(summary, null, 2));
  return EXIT.ok;
}

async function exportCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      format: { type: 'string' },
      since: { type: 'string' },
      out: { type: 'string' },
      dir: { type: 'string' },
      config: { type: 'string', default: 'mcpgov.yaml' },
    },
  });
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

async function pullCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { stream: { type: 'string' }, out: { type: 'string' }, pep: { type: 'string' } },
  });
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
  for (const p of pulled) {
    out(`pulled ${p.pep}: ${p.records} records, ${p.checkpoints} checkpoints -> ${p.dir}`);
  }
  return EXIT.ok;
}
