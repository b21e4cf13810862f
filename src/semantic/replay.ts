import path from 'node:path';
import type { LlmJudgeConfig } from '../config/schema.js';
import { cassetteFile, readCassette } from './cassettes.js';
import { JudgeError, readJudgeReply } from './llm-answer.js';
import { buildJudgeRequest, RESPONSE_FORMATS } from './llm-prompt.js';
import type { SemanticAnswer, SemanticInput, SemanticVerifier } from './types.js';

/** Replay found no cassette for a request: nothing was recorded for this call, prompt and model. */
export class CassetteMissError extends JudgeError {
  constructor(
    /** The hash of the request the judge would send (with structured outputs), i.e. the missing cassette's name. */
    readonly requestHash: string,
    readonly file: string,
  ) {
    super(
      'cassette_missing',
      `no cassette for judge request ${requestHash} (expected ${file}); record it against a live endpoint with --record`,
    );
  }
}

/**
 * A semantic verifier that answers from cassettes: what a live judge endpoint returned for the exact
 * same request, recorded earlier. No network, no key. A request nothing was recorded for is an error
 * (the pipeline then fails closed); replay never makes up an answer.
 */
export class ReplayVerifier implements SemanticVerifier {
  readonly name = 'replay';
  /** The folder cassettes are read from. */
  readonly cassettes: string;

  constructor(
    private readonly config: Pick<LlmJudgeConfig, 'model' | 'cassettes'>,
    options: { configDir?: string } = {},
  ) {
    this.cassettes = path.resolve(options.configDir ?? process.cwd(), config.cassettes);
  }

  async verify(input: SemanticInput, options: { signal?: AbortSignal } = {}): Promise<SemanticAnswer> {
    const started = performance.now();
    // The live judge falls back to `json_object` on endpoints without structured outputs, so a
    // request may have been recorded in either format; the structured one is tried first, like live.
    const requests = RESPONSE_FORMATS.map((format) => buildJudgeRequest(input, this.config.model, format));
    for (const request of requests) {
      if (options.signal?.aborted)
        throw new JudgeError('judge_aborted', 'the replayed judge request was aborted');
      const cassette = await readCassette(this.cassettes, request.hash);
      if (!cassette) continue;
      const reply = readJudgeReply(cassette.response.body);
      return {
        ...reply.result,
        provenance: {
          verifier: this.name,
          model: reply.model ?? cassette.model,
          prompt_hash: request.hash,
          latency_ms: Math.round((performance.now() - started) * 1000) / 1000,
          // Recorded use, for reference; a replay itself costs nothing, so no `cost_usd`.
          ...(reply.tokens && { tokens: reply.tokens }),
        },
      };
    }
    const primary = requests[0]!.hash;
    throw new CassetteMissError(primary, cassetteFile(this.cassettes, primary));
  }
}
