import { z } from 'zod';
import type { LlmJudgeConfig } from '../config/schema.js';
import { SemanticResultSchema, type SemanticResult } from './types.js';

/**
 * Why a judge gave no verdict. The pipeline treats every one alike (the tool's fail mode, never
 * allow); the code tells an operator which it was.
 */
export type JudgeErrorCode =
  /** No answer within `timeout_ms`. */
  | 'judge_timeout'
  /** The caller's signal aborted the request (the pipeline's own deadline, or shutdown). */
  | 'judge_aborted'
  /** The endpoint could not be reached, or answered with an HTTP error. */
  | 'judge_unavailable'
  /** The endpoint answered, but not with a verdict that matches the schema. */
  | 'judge_malformed'
  /** The model declined to answer. */
  | 'judge_refused'
  /** Recording was asked for and the cassette could not be written. */
  | 'judge_record_failed'
  /** Replay found no cassette for the request. */
  | 'cassette_missing'
  /** A cassette exists but is unreadable or does not match its request. */
  | 'cassette_invalid';

/** A judge that could not give a verdict. Messages never quote the model's answer or the API key. */
export class JudgeError extends Error {
  override readonly name = 'JudgeError';

  constructor(
    readonly code: JudgeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The parts of a chat completion the judge reads; the wire format may carry more (loose on purpose). */
const CompletionSchema = z.object({
  model: z.string().optional(),
  choices: z
    .array(
      z.object({
        message: z.object({
          content: z.string().nullish(),
          refusal: z.string().nullish(),
        }),
        finish_reason: z.string().nullish(),
      }),
    )
    .min(1),
  usage: z
    .object({
      prompt_tokens: z.number().int().nonnegative(),
      completion_tokens: z.number().int().nonnegative(),
    })
    .nullish(),
});

/** A verdict read from a chat completion, with what the completion says about itself. */
export interface JudgeReply {
  result: SemanticResult;
  /** The model that answered, as the endpoint names it (often a dated version of the one asked for). */
  model?: string;
  tokens?: { prompt: number; completion: number };
}

/** Parses an HTTP response body as JSON; anything else is a malformed answer. */
export function parseResponseBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new JudgeError('judge_malformed', 'the judge endpoint answered with a body that is not JSON');
  }
}

/** Reads the verdict out of a chat-completion body. Anything short of a valid verdict is an error. */
export function readJudgeReply(body: unknown): JudgeReply {
  const completion = CompletionSchema.safeParse(body);
  if (!completion.success) {
    throw new JudgeError(
      'judge_malformed',
      'the judge endpoint answered with something other than a chat completion',
    );
  }
  const { model, usage } = completion.data;
  const choice = completion.data.choices[0]!;
  if (choice.message.refusal) throw new JudgeError('judge_refused', 'the judge model refused to answer');
  const content = choice.message.content;
  if (content === null || content === undefined || content.trim() === '') {
    throw new JudgeError('judge_malformed', 'the judge model gave an empty answer');
  }
  if (choice.finish_reason === 'length') {
    throw new JudgeError('judge_malformed', 'the judge model ran out of tokens before finishing its answer');
  }
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch {
    throw new JudgeError('judge_malformed', 'the judge model answered with text that is not JSON');
  }
  const result = SemanticResultSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new JudgeError(
      'judge_malformed',
      `the judge model's answer is not a valid verdict (${issues.join('; ')})`,
    );
  }
  return {
    result: result.data,
    model,
    tokens: usage ? { prompt: usage.prompt_tokens, completion: usage.completion_tokens } : undefined,
  };
}

/** What a call cost, in USD, at the configured prices per million tokens; undefined without prices or usage. */
export function costOf(tokens: JudgeReply['tokens'], price: LlmJudgeConfig['price']): number | undefined {
  if (!tokens || !price) return undefined;
  const usd = (tokens.prompt * price.prompt_per_mtok + tokens.completion * price.completion_per_mtok) / 1e6;
  // Rounded to a millionth of a cent: enough for any per-call price, and free of float noise.
  return Math.round(usd * 1e8) / 1e8;
}
