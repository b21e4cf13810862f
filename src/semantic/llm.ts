import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import type { LlmJudgeConfig } from '../config/schema.js';
import { recordCassette } from './cassettes.js';
import { costOf, JudgeError, parseResponseBody, readJudgeReply, type JudgeReply } from './llm-answer.js';
import { buildJudgeRequest, type JudgeRequest, type ResponseFormatKind } from './llm-prompt.js';
import type { SemanticAnswer, SemanticInput, SemanticVerifier } from './types.js';

/**
 * Used when the config names no `base_url`: `OPENAI_BASE_URL` from the environment the judge reads
 * (the variable OpenAI-compatible tools share), else OpenAI's own. Looked up here, not left to the SDK.
 */
const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
const BASE_URL_ENV = 'OPENAI_BASE_URL';

/** First retry delay and the cap on later ones, when the endpoint does not say how long to wait. */
const RETRY_BASE_MS = 250;
const RETRY_MAX_MS = 4000;

/** How an LLM judge runs besides its config. */
export interface LlmJudgeOptions {
  /** The folder relative paths in the config (`cassettes`) resolve against; default the working directory. */
  configDir?: string;
  /** Store every answer the endpoint returns as a cassette under the `cassettes` folder. */
  record?: boolean;
  /** Where the API key variable is read from; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * A semantic verifier that asks a model behind any OpenAI-compatible chat-completions endpoint. It
 * gives up after `timeout_ms` (retries included) or when the caller's signal aborts, retries only
 * what may succeed on a second try (connection failures, 408, 409, 429, 5xx), and rejects every
 * answer that is not a valid verdict: the pipeline then applies the tool's fail mode, never allow.
 */
export class LlmJudge implements SemanticVerifier {
  readonly name = 'llm';
  /** Where cassettes go when recording. */
  readonly cassettes: string;
  private readonly client: OpenAI;
  private readonly endpoint: URL;
  private readonly record: boolean;
  /** Becomes `json_object` for good once the endpoint refuses `json_schema`. */
  private format: ResponseFormatKind = 'json_schema';

  constructor(
    private readonly config: LlmJudgeConfig,
    options: LlmJudgeOptions = {},
  ) {
    const env = options.env ?? process.env;
    const apiKey = env[config.api_key_env];
    if (!apiKey) {
      throw new Error(
        `the LLM judge reads its API key from the environment variable ${config.api_key_env}, which is not set`,
      );
    }
    const baseURL = config.base_url ?? (env[BASE_URL_ENV] || DEFAULT_BASE_URL);
    this.endpoint = new URL(baseURL);
    // Retries are ours (bounded by the deadline, abortable while waiting); the SDK's logger is off
    // because stdout carries JSON-RPC in stdio mode, and failures reach the caller as rejections.
    this.client = new OpenAI({ apiKey, baseURL, timeout: config.timeout_ms, maxRetries: 0, logLevel: 'off' });
    this.cassettes = path.resolve(options.configDir ?? process.cwd(), config.cassettes);
    this.record = options.record ?? false;
  }

  async verify(input: SemanticInput, options: { signal?: AbortSignal } = {}): Promise<SemanticAnswer> {
    const started = performance.now();
    const deadline = AbortSignal.timeout(this.config.timeout_ms);
    const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    let exchange: { request: JudgeRequest; reply: JudgeReply };
    try {
      exchange = await this.ask(input, signal, started);
    } catch (err) {
      throw this.explain(err, options.signal, deadline);
    }
    const { request, reply } = exchange;
    const cost = costOf(reply.tokens, this.config.price);
    return {
      ...reply.result,
      provenance: {
        verifier: this.name,
        model: reply.model ?? this.config.model,
        prompt_hash: request.hash,
        latency_ms: Math.round((performance.now() - started) * 1000) / 1000,
        ...(reply.tokens && { tokens: reply.tokens }),
        ...(cost !== undefined && { cost_usd: cost }),
      },
    };
  }

  /** Sends the request, retrying what is retryable while the deadline allows. */
  private async ask(
    input: SemanticInput,
    signal: AbortSignal,
    started: number,
  ): Promise<{ request: JudgeRequest; reply: JudgeReply }> {
    for (let attempt = 1; ; attempt++) {
      const request = buildJudgeRequest(input, this.config.model, this.format);
      try {
        return { request, reply: await this.send(request, signal) };
      } catch (err) {
        if (signal.aborted || err instanceof JudgeError) throw err;
        if (this.format === 'json_schema' && refusesJsonSchema(err)) {
          this.format = 'json_object';
          attempt--; // a change of format, not a retry
          continue;
        }
        const delay = retryDelay(err, attempt);
        const retry =
          attempt <= this.config.max_retries &&
          isRetryable(err) &&
          performance.now() - started + delay < this.config.timeout_ms;
        if (!retry) throw unavailable(err, this.endpoint.host, attempt);
        await sleep(delay, undefined, { signal });
      }
    }
  }

  /** One HTTP exchange: the body is read once, recorded as received when recording, then interpreted. */
  private async send(request: JudgeRequest, signal: AbortSignal): Promise<JudgeReply> {
    const response = await this.client.chat.completions.create(request.body, { signal }).asResponse();
    const body = parseResponseBody(await response.text());
    if (this.record) {
      try {
        await recordCassette(this.cassettes, { request, endpoint: this.endpoint, response, body });
      } catch (err) {
        throw new JudgeError(
          'judge_record_failed',
          `cannot record the judge's answer: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
    return readJudgeReply(body);
  }

  /** Names why no verdict came: an error of the judge's own, the caller's abort, or the deadline. */
  private explain(err: unknown, callerSignal: AbortSignal | undefined, deadline: AbortSignal): JudgeError {
    if (err instanceof JudgeError) return err;
    if (callerSignal?.aborted)
      return new JudgeError('judge_aborted', 'the LLM judge request was aborted', { cause: err });
    if (deadline.aborted) {
      return new JudgeError(
        'judge_timeout',
        `the LLM judge gave no answer within ${this.config.timeout_ms} ms`,
        {
          cause: err,
        },
      );
    }
    return unavailable(err, this.endpoint.host, 1);
  }
}

/** Failures a second attempt may not repeat: connection errors, 408, 409, 429 and 5xx, unless the server says otherwise. */
function isRetryable(err: unknown): boolean {
  if (err instanceof APIUserAbortError) return false;
  if (err instanceof APIConnectionError) return true;
  if (!(err instanceof APIError) || err.status === undefined) return false;
  const says = err.headers?.get('x-should-retry');
  if (says === 'true' || says === 'false') return says === 'true';
  return err.status === 408 || err.status === 409 || err.status === 429 || err.status >= 500;
}

/** An endpoint without structured outputs answers 400 (or 422) about `response_format`. */
function refusesJsonSchema(err: unknown): boolean {
  if (!(err instanceof APIError) || (err.status !== 400 && err.status !== 422)) return false;
  return err.param === 'response_format' || /response_format|json_schema/i.test(err.message);
}

/**
 * How long to wait before retry `attempt`: what the endpoint asks for (`retry-after-ms`, or
 * `Retry-After` in seconds or as an HTTP date, RFC 9110 §10.2.3), else exponential backoff with jitter.
 */
function retryDelay(err: unknown, attempt: number): number {
  const headers = err instanceof APIError ? err.headers : undefined;
  const ms = headers?.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms);
  const after = headers?.get('retry-after');
  if (after) {
    const seconds = Number(after);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const at = Date.parse(after);
    if (!Number.isNaN(at)) return Math.max(0, at - Date.now());
  }
  return Math.min(RETRY_BASE_MS * 2 ** (attempt - 1), RETRY_MAX_MS) * (0.75 + Math.random() * 0.25);
}

/**
 * The endpoint failed. The provider's own error text is left out: some echo part of the API key
 * (an invalid-key message does); its error code is enough to act on.
 */
function unavailable(err: unknown, host: string, attempts: number): JudgeError {
  const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
  if (err instanceof APIConnectionError) {
    return new JudgeError('judge_unavailable', `cannot reach the judge endpoint ${host}${tries}`, {
      cause: err,
    });
  }
  if (err instanceof APIError && err.status !== undefined) {
    const code = typeof err.code === 'string' ? ` (${err.code})` : '';
    return new JudgeError(
      'judge_unavailable',
      `the judge endpoint ${host} answered HTTP ${err.status}${code}${tries}`,
      {
        cause: err,
      },
    );
  }
  return new JudgeError('judge_unavailable', `the LLM judge failed: ${(err as Error).message}`, {
    cause: err,
  });
}
