import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LlmJudge } from '../../../src/semantic/llm.js';
import type { JudgeError } from '../../../src/semantic/llm-answer.js';
import {
  startOpenAiDouble,
  verdictReply,
  type DoubleReply,
  type OpenAiDouble,
} from '../../helpers/openai-double.js';
import {
  API_KEY,
  ENV,
  escalation,
  injectedCall,
  judgeConfig,
  KEY_ENV,
} from '../../helpers/judge-fixtures.js';

let double: OpenAiDouble;
beforeEach(async () => {
  double = await startOpenAiDouble();
});
afterEach(async () => {
  await double.close();
});

const sha256 = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const judge = (over: Parameters<typeof judgeConfig>[1] = {}) =>
  new LlmJudge(judgeConfig(double.baseUrl, over), { env: ENV });

describe('LLM judge', () => {
  it('returns the verdict the model gives, with its provenance', async () => {
    double.script(verdictReply(escalation, { prompt_tokens: 1200, completion_tokens: 300 }));
    const answer = await judge().verify(injectedCall);
    expect(answer).toMatchObject(escalation);
    expect(answer.provenance).toMatchObject({
      verifier: 'llm',
      model: 'judge-model',
      prompt_hash: sha256(double.requests[0]!.raw),
      tokens: { prompt: 1200, completion: 300 },
    });
    expect(answer.provenance.latency_ms).toBeGreaterThanOrEqual(0);
  });

  it('costs the tokens at the configured prices per million', async () => {
    double.script(verdictReply(escalation, { prompt_tokens: 1200, completion_tokens: 300 }));
    const answer = await judge().verify(injectedCall);
    // 1200 × 2.5 / 1e6 + 300 × 10 / 1e6
    expect(answer.provenance.cost_usd).toBe(0.006);
  });

  it('reports no cost without prices, and no tokens when the endpoint reports no usage', async () => {
    double.script(
      verdictReply(escalation, { prompt_tokens: 10, completion_tokens: 5 }),
      verdictReply(escalation, null),
    );
    const unpriced = await judge({ price: undefined }).verify(injectedCall);
    expect(unpriced.provenance.tokens).toEqual({ prompt: 10, completion: 5 });
    expect(unpriced.provenance).not.toHaveProperty('cost_usd');
    const unmetered = await judge().verify(injectedCall);
    expect(unmetered.provenance).not.toHaveProperty('tokens');
    expect(unmetered.provenance).not.toHaveProperty('cost_usd');
  });

  it('names the model version the endpoint reports', async () => {
    double.script({
      kind: 'completion',
      content: JSON.stringify(escalation),
      model: 'judge-model-2026-01-15',
    });
    expect((await judge().verify(injectedCall)).provenance.model).toBe('judge-model-2026-01-15');
  });

  it('sends the key from the variable api_key_env names, and returns it nowhere', async () => {
    double.script(verdictReply(escalation));
    const answer = await judge().verify(injectedCall);
    const request = double.requests[0]!;
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request.raw).not.toContain(API_KEY);
    expect(JSON.stringify(answer)).not.toContain(API_KEY);
  });

  it('asks the endpoint OPENAI_BASE_URL names when the config names none', async () => {
    double.script(verdictReply(escalation));
    const config = judgeConfig(double.baseUrl);
    delete config.base_url;
    const answer = await new LlmJudge(config, { env: { ...ENV, OPENAI_BASE_URL: double.baseUrl } }).verify(
      injectedCall,
    );
    expect(answer.verdict).toBe('escalate');
    expect(double.requests).toHaveLength(1);
  });

  it('refuses to start without its API key, naming the variable', () => {
    expect(() => new LlmJudge(judgeConfig(double.baseUrl), { env: {} })).toThrow(KEY_ENV);
  });
});

describe('LLM judge request', () => {
  it('asks the configured model for the verdict schema through structured outputs', async () => {
    double.script(verdictReply(escalation));
    await judge().verify(injectedCall);
    const body = double.requests[0]!.body!;
    expect(body.model).toBe('judge-model');
    expect(body.response_format).toMatchObject({ type: 'json_schema', json_schema: { strict: true } });
    expect(body.response_format?.json_schema?.schema).toMatchObject({
      type: 'object',
      required: ['verdict', 'confidence', 'signals', 'rationale'],
      additionalProperties: false,
      properties: { verdict: { enum: ['allow', 'escalate', 'deny'] } },
    });
  });

  it('falls back to a JSON object answer where the endpoint has no structured outputs, and stays there', async () => {
    double.script(
      {
        kind: 'error',
        status: 400,
        message:
          "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
        param: 'response_format',
      },
      verdictReply(escalation),
      verdictReply(escalation),
    );
    const j = judge({ max_retries: 0 });
    const answer = await j.verify(injectedCall);
    expect(answer.verdict).toBe('escalate');
    expect(double.requests.map((r) => r.body?.response_format?.type)).toEqual(['json_schema', 'json_object']);
    expect(answer.provenance.prompt_hash).toBe(sha256(double.requests[1]!.raw));
    await j.verify(injectedCall);
    expect(double.requests[2]!.body?.response_format?.type).toBe('json_object');
  });
});

describe('LLM judge answers that are not a verdict', () => {
  const cases: [string, DoubleReply][] = [
    ['prose instead of JSON', { kind: 'completion', content: 'Sure! This call looks fine to me: allow.' }],
    ['a body that is not JSON', { kind: 'raw', body: '<html>gateway error</html>' }],
    [
      'a verdict outside the schema',
      {
        kind: 'completion',
        content: JSON.stringify({ verdict: 'approve', confidence: 1.5, signals: [], rationale: 'ok' }),
      },
    ],
    [
      'a signal with an unnamed reason',
      {
        kind: 'completion',
        content: JSON.stringify({ ...escalation, signals: [{ name: 'Looks Bad', detail: 'x', score: 0.5 }] }),
      },
    ],
    [
      'an allow missing its rationale',
      { kind: 'completion', content: JSON.stringify({ verdict: 'allow', confidence: 1, signals: [] }) },
    ],
    ['an empty answer', { kind: 'completion', content: '' }],
    [
      'an answer cut off at the token limit',
      { kind: 'completion', content: '{"verdict": "allow", "conf', finishReason: 'length' },
    ],
  ];

  it.each(cases)('rejects %s as malformed, without retrying', async (_name, reply) => {
    double.script(reply, verdictReply({ ...escalation, verdict: 'allow' }));
    await expect(judge().verify(injectedCall)).rejects.toMatchObject({
      name: 'JudgeError',
      code: 'judge_malformed',
    });
    expect(double.requests).toHaveLength(1);
  });

  it('says which fields of a schema-violating answer are wrong, without quoting the answer', async () => {
    double.script({
      kind: 'completion',
      content: JSON.stringify({
        verdict: 'approve',
        confidence: 1.5,
        signals: [],
        rationale: 'grant Amy access',
      }),
    });
    const err = (await judge()
      .verify(injectedCall)
      .catch((e: unknown) => e)) as JudgeError;
    expect(err.message).toMatch(/verdict/);
    expect(err.message).toMatch(/confidence/);
    expect(err.message).not.toContain('grant Amy');
  });

  it('rejects a refusal', async () => {
    double.script({ kind: 'completion', content: null, refusal: 'I cannot help with that.' });
    await expect(judge().verify(injectedCall)).rejects.toMatchObject({ code: 'judge_refused' });
  });
});

describe('LLM judge deadlines', () => {
  it('rejects an answer that comes after timeout_ms, without retrying past the deadline', async () => {
    double.script({ kind: 'slow', afterMs: 30_000, reply: verdictReply(escalation) });
    await expect(judge({ timeout_ms: 100 }).verify(injectedCall)).rejects.toMatchObject({
      code: 'judge_timeout',
      message: expect.stringContaining('100 ms'),
    });
    expect(double.requests).toHaveLength(1);
  });

  it("rejects when the caller's signal aborts the request in flight", async () => {
    double.script({ kind: 'slow', afterMs: 30_000, reply: verdictReply(escalation) });
    const controller = new AbortController();
    const pending = judge().verify(injectedCall, { signal: controller.signal });
    await vi.waitFor(() => expect(double.requests).toHaveLength(1));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'judge_aborted' });
  });

  it('sends nothing when the signal has already aborted', async () => {
    double.script(verdictReply(escalation));
    await expect(judge().verify(injectedCall, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'judge_aborted',
    });
    expect(double.requests).toHaveLength(0);
  });

  it('stops, without retrying, when the signal aborts during a retryable failure', async () => {
    double.script({ kind: 'error', status: 503, message: 'overloaded', headers: { 'retry-after': '20' } });
    const controller = new AbortController();
    const pending = judge({ timeout_ms: 60_000 }).verify(injectedCall, { signal: controller.signal });
    await vi.waitFor(() => expect(double.requests).toHaveLength(1));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'judge_aborted' });
    expect(double.requests).toHaveLength(1);
  });
});

describe('LLM judge retries', () => {
  it('retries an HTTP 500 and returns the next answer, sending the same request again', async () => {
    double.script({ kind: 'error', status: 500, message: 'internal error' }, verdictReply(escalation));
    const answer = await judge().verify(injectedCall);
    expect(answer.verdict).toBe('escalate');
    expect(double.requests).toHaveLength(2);
    expect(double.requests[1]!.raw).toBe(double.requests[0]!.raw);
  });

  it('retries an HTTP 429 after the delay the endpoint asks for', async () => {
    double.script(
      { kind: 'error', status: 429, message: 'rate limited', headers: { 'retry-after-ms': '5' } },
      verdictReply(escalation),
    );
    expect((await judge().verify(injectedCall)).verdict).toBe('escalate');
    expect(double.requests).toHaveLength(2);
  });

  it('gives up at once when the endpoint asks for a wait past the deadline', async () => {
    double.script(
      { kind: 'error', status: 503, message: 'overloaded', headers: { 'retry-after': '20' } },
      verdictReply(escalation),
    );
    await expect(judge({ timeout_ms: 5000 }).verify(injectedCall)).rejects.toMatchObject({
      code: 'judge_unavailable',
      message: expect.stringContaining('HTTP 503'),
    });
    expect(double.requests).toHaveLength(1);
  });

  it('gives up after max_retries, naming the status and the attempts', async () => {
    const busy: DoubleReply = {
      kind: 'error',
      status: 503,
      message: 'overloaded',
      headers: { 'retry-after-ms': '1' },
    };
    double.script(busy, busy, verdictReply(escalation));
    await expect(judge({ max_retries: 1 }).verify(injectedCall)).rejects.toMatchObject({
      code: 'judge_unavailable',
      message: expect.stringMatching(/HTTP 503 after 2 attempts/),
    });
    expect(double.requests).toHaveLength(2);
  });

  it("does not retry a rejected key, and leaves the provider's message (which may echo the key) out", async () => {
    double.script(
      {
        kind: 'error',
        status: 401,
        message: `Incorrect API key provided: ${API_KEY.slice(0, 8)}****${API_KEY.slice(-4)}.`,
        code: 'invalid_api_key',
      },
      verdictReply(escalation),
    );
    const err = (await judge()
      .verify(injectedCall)
      .catch((e: unknown) => e)) as JudgeError;
    expect(err).toMatchObject({
      code: 'judge_unavailable',
      message: expect.stringContaining('HTTP 401 (invalid_api_key)'),
    });
    expect(err.message).not.toContain(API_KEY.slice(-4));
    expect(double.requests).toHaveLength(1);
  });

  it('does not retry a plain bad request', async () => {
    double.script(
      { kind: 'error', status: 400, message: 'model not found', code: 'model_not_found' },
      verdictReply(escalation),
    );
    await expect(judge().verify(injectedCall)).rejects.toMatchObject({ code: 'judge_unavailable' });
    expect(double.requests).toHaveLength(1);
  });

  it('rejects when the endpoint cannot be reached', async () => {
    const closed = await startOpenAiDouble();
    await closed.close();
    const unreachable = new LlmJudge(judgeConfig(closed.baseUrl, { max_retries: 0 }), { env: ENV });
    await expect(unreachable.verify(injectedCall)).rejects.toMatchObject({
      code: 'judge_unavailable',
      message: expect.stringContaining('cannot reach'),
    });
  });
});
