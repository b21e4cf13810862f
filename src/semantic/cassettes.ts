import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { sha256Hex } from '../evidence/hash.js';
import { JudgeError } from './llm-answer.js';
import { JUDGE_PROMPT_VERSION, type JudgeRequest } from './llm-prompt.js';

/**
 * A cassette is what a live OpenAI-compatible endpoint returned for one judge request, stored so the
 * eval suite can replay the judge without a network or a key. One JSON file per request, named by
 * the request hash. Only the recorder writes them, and only from a real HTTP response.
 */
export const CASSETTE_FORMAT = 'mcpgov.cassette/v1';

const RequestHashSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex>');

export const CassetteSchema = z.strictObject({
  format: z.literal(CASSETTE_FORMAT),
  /** `sha256:` of the exact request body; also the file name. */
  request_hash: RequestHashSchema,
  /** The judge prompt version the request was built with. */
  prompt_version: z.string().min(1),
  /** The model the request asked for (the response body names the model that answered). */
  model: z.string().min(1),
  /** Host (and port) of the endpoint that answered. */
  endpoint: z.strictObject({ host: z.string().min(1) }),
  /** When the answer was received (ISO 8601, UTC). */
  recorded_at: z.iso.datetime(),
  /** The request body as sent; it hashes to `request_hash`. */
  request: z.record(z.string(), z.unknown()),
  /** The HTTP status and the JSON body the endpoint returned, unchanged. */
  response: z.strictObject({ status: z.number().int(), body: z.unknown() }),
});
export type Cassette = z.infer<typeof CassetteSchema>;

/** The cassette file for a request hash. */
export function cassetteFile(dir: string, requestHash: string): string {
  return path.join(dir, `${requestHash.replace(/^sha256:/, '')}.json`);
}

/** What the recorder stores for one answered request. */
export interface RecordedExchange {
  request: JudgeRequest;
  /** The endpoint's base URL; only its host is stored. */
  endpoint: URL;
  /** The live HTTP response the body was read from. */
  response: Response;
  /** That response's body, parsed from the bytes received. */
  body: unknown;
}

/** Writes a cassette for one live exchange (atomically: a reader never sees half a file). */
export async function recordCassette(dir: string, exchange: RecordedExchange): Promise<string> {
  const { request, endpoint, response, body } = exchange;
  const cassette: Cassette = {
    format: CASSETTE_FORMAT,
    request_hash: request.hash,
    prompt_version: JUDGE_PROMPT_VERSION,
    model: request.body.model,
    endpoint: { host: endpoint.host },
    recorded_at: new Date().toISOString(),
    request: JSON.parse(request.text) as Record<string, unknown>,
    response: { status: response.status, body },
  };
  const file = cassetteFile(dir, request.hash);
  await mkdir(dir, { recursive: true });
  const temp = `${file}.${randomUUID()}.tmp`;
  await writeFile(temp, `${JSON.stringify(cassette, null, 2)}\n`);
  await rename(temp, file);
  return file;
}

/**
 * Reads the cassette for a request hash: undefined when there is none, an error when the file is not
 * a cassette or does not belong to that request (renamed, or its request edited).
 */
export async function readCassette(dir: string, requestHash: string): Promise<Cassette | undefined> {
  const file = cassetteFile(dir, requestHash);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new JudgeError('cassette_invalid', `cannot read cassette ${file}: ${(err as Error).message}`);
  }
  let parsed: z.ZodSafeParseResult<Cassette>;
  try {
    parsed = CassetteSchema.safeParse(JSON.parse(text));
  } catch {
    throw new JudgeError('cassette_invalid', `cassette ${file} is not JSON`);
  }
  if (!parsed.success) {
    throw new JudgeError(
      'cassette_invalid',
      `cassette ${file} is not a cassette: ${z.prettifyError(parsed.error)}`,
    );
  }
  const cassette = parsed.data;
  const storedRequestHash = `sha256:${sha256Hex(JSON.stringify(cassette.request))}`;
  if (cassette.request_hash !== requestHash || storedRequestHash !== requestHash) {
    throw new JudgeError('cassette_invalid', `cassette ${file} does not hold request ${requestHash}`);
  }
  return cassette;
}
