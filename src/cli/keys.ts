import { existsSync } from 'node:fs';
import path from 'node:path';
import { writeKeyPair } from '../evidence/signer.js';
import { EXIT, Failure, out } from './io.js';

/** Options of `mcpgov keys generate` (commands/operate.ts). */
export interface KeysOptions {
  out: string;
  name: string;
  json?: boolean;
}

/** `mcpgov keys generate`: refuses, writing nothing, when the folder already holds a key of that name. */
export async function keysGenerateCommand(values: KeysOptions): Promise<number> {
  const refuse = () =>
    new Failure(
      `${values.out} already holds a key named "${values.name}"; nothing was written (pass --name NAME or another --out DIR)`,
    );
  // Either file there is refused before anything is written, so no half pair is left behind.
  const stems = ['.private.jwk', '.jwks.json'].map((ext) => path.join(values.out, values.name + ext));
  if (stems.some((f) => existsSync(f))) throw refuse();
  const files = await writeKeyPair(values.out, values.name).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'EEXIST' ? refuse() : e;
  });
  if (values.json) out(JSON.stringify(files, null, 2));
  else {
    out(`private key: ${files.privateKey} (mode 0600; set it as evidence.key, keep it secret)`);
    out(`public keys: ${files.publicJwks} (give it to auditors: mcpgov evidence verify --jwks)`);
    out(`kid: ${files.kid}`);
  }
  return EXIT.ok;
}
