import { parseArgs } from 'node:util';
import { readJwks } from '../evidence/signer.js';
import { formatFailure, verifyLogDir } from '../evidence/verify.js';
import { EXIT, UsageError, err, out } from './io.js';

export const evidenceHelp = `Usage: mcpgov evidence <subcommand>

  verify PATH --jwks FILE   verify an evidence folder offline against pinned public keys: record
                            hashes and links, seq continuity, checkpoint signatures, checkpoint roots,
                            and that the last record is covered by a checkpoint. Prints the first bad
                            record and why, and exits 1.

Options:
  --jwks FILE   the public keys you trust (e.g. from "mcpgov keys generate"); required
  -h, --help    show this help`;

/** `mcpgov evidence ...`. */
export async function evidenceCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'verify') return verifyCommand(rest);
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
  const report = await verifyLogDir(dir, await readJwks(values.jwks));
  if (!report.ok) {
    err(`FAIL: ${formatFailure(report.failure!)}`);
    return EXIT.failed;
  }
  out(
    `ok: ${dir}: ${report.records} records in ${report.segments} segment${report.segments === 1 ? '' : 's'}, ` +
      `${report.checkpoints} checkpoints; the last covers every record; signed by ${report.kids.join(', ')}`,
  );
  return EXIT.ok;
}
