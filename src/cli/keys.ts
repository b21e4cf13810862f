import { parseArgs } from 'node:util';
import { writeKeyPair } from '../evidence/signer.js';
import { EXIT, UsageError, out } from './io.js';

export const keysHelp = `Usage: mcpgov keys generate --out DIR [--name NAME]

Generates an Ed25519 signing key for evidence checkpoints and packs:
  DIR/NAME.private.jwk   the private key (mode 0600): set it as evidence.key in mcpgov.yaml
  DIR/NAME.jwks.json     the public key set: give it to auditors (mcpgov evidence verify --jwks)
Existing files are never overwritten.

Options:
  --out DIR     folder to write to (created if missing)
  --name NAME   file name stem (default: signing-key)
  -h, --help    show this help`;

/** `mcpgov keys generate`. */
export async function keysCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { out: { type: 'string' }, name: { type: 'string', default: 'signing-key' } },
  });
  if (positionals[0] !== 'generate' || positionals.length !== 1)
    throw new UsageError('expected: keys generate');
  if (!values.out) throw new UsageError('--out DIR is required');
  const files = await writeKeyPair(values.out, values.name).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST')
      throw new Error(`refusing to overwrite an existing key in ${values.out}`, { cause: err });
    throw err;
  });
  out(JSON.stringify(files, null, 2));
  return EXIT.ok;
}
