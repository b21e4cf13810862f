import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cassetteFile, CassetteSchema } from '../../../src/semantic/cassettes.js';
import { LlmJudge } from '../../../src/semantic/llm.js';
import { buildJudgeRequest, JUDGE_PROMPT_VERSION } from '../../../src/semantic/llm-prompt.js';
import { CassetteMissError, ReplayVerifier } from '../../../src/semantic/replay.js';
import { startOpenAiDouble, verdictReply, type OpenAiDouble } from '../../helpers/openai-double.js';
import { API_KEY, ENV, escalation, injectedCall, judgeConfig } from '../../helpers/judge-fixtures.js';

let double: OpenAiDouble;
let dir: string;
beforeEach(async () => {
  double = await startOpenAiDouble();
  dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-cassettes-'));
});
afterEach(async () => {
  await double.close();
  await rm(dir, { recursive: true, force: true });
});

/** A recording judge writing cassettes into the test's temp folder. */
const recorder = (over: Parameters<typeof judgeConfig>[1] = {}) =>
  new LlmJudge(judgeConfig(double.baseUrl, { cassettes: dir, ...over }), { env: ENV, record: true });
const replayer = (model = 'judge-model') => new ReplayVerifier({ model, cassettes: dir });

describe('cassette recording', () => {
  it('stores what the endpoint returned, keyed by the request hash, with model, host and date', async () => {
    double.script(verdictReply(escalation, { prompt_tokens: 900, completion_tokens: 80 }));
    const answer = await recorder().verify(injectedCall);
    const hash = answer.provenance.prompt_hash!;
    expect(await readdir(dir)).toEqual([path.basename(cassetteFile(dir, hash))]);
    const cassette = CassetteSchema.parse(JSON.parse(await readFile(cassetteFile(dir, hash), 'utf8')));
    expect(cassette).toMatchObject({
      request_hash: hash,
      prompt_version: JUDGE_PROMPT_VERSION,
      model: 'judge-model',
      endpoint: { host: new URL(double.baseUrl).host },
      request: JSON.parse(double.requests[0]!.raw) as unknown,
      response: {
        status: 200,
        body: {
          id: 'chatcmpl-double-1',
          choices: [{ message: { content: JSON.stringify(escalation) } }],
          usage: { prompt_tokens: 900, completion_tokens: 80 },
        },
      },
    });
    expect(Date.parse(cassette.recorded_at)).not.toBeNaN();
  });

  it('never writes the API key into a cassette', async () => {
    double.script(verdictReply(escalation));
    await recorder().verify(injectedCall);
    const [file] = await readdir(dir);
    expect(await readFile(path.join(dir, file!), 'utf8')).not.toContain(API_KEY);
  });

  it('records nothing for an HTTP error', async () => {
    double.script({ kind: 'error', status: 500, message: 'internal error' });
    await expect(recorder({ max_retries: 0 }).verify(injectedCall)).rejects.toMatchObject({
      code: 'judge_unavailable',
    });
    expect(await readdir(dir)).toEqual([]);
  });

  it('writes nothing unless asked to record', async () => {
    double.script(verdictReply(escalation));
    await new LlmJudge(judgeConfig(double.baseUrl, { cassettes: dir }), { env: ENV }).verify(injectedCall);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('replay', () => {
  it('answers a recorded call as the live judge did, without the endpoint', async () => {
    double.script(verdictReply(escalation, { prompt_tokens: 900, completion_tokens: 80 }));
    const live = await recorder().verify(injectedCall);
    await double.close();
    const replayed = await replayer().verify(injectedCall);
    const { provenance: _live, ...liveResult } = live;
    const { provenance, ...replayedResult } = replayed;
    expect(replayedResult).toEqual(liveResult);
    expect(provenance).toMatchObject({
      verifier: 'replay',
      model: 'judge-model',
      prompt_hash: live.provenance.prompt_hash,
      tokens: { prompt: 900, completion: 80 },
    });
    expect(provenance).not.toHaveProperty('cost_usd');
  });

  it('replays a malformed answer as the same error', async () => {
    double.script({ kind: 'completion', content: 'I think it is fine.' });
    await expect(recorder().verify(injectedCall)).rejects.toMatchObject({ code: 'judge_malformed' });
    expect(await readdir(dir)).toHaveLength(1);
    await expect(replayer().verify(injectedCall)).rejects.toMatchObject({ code: 'judge_malformed' });
  });

  it('replays an answer recorded through the JSON-object fallback', async () => {
    double.script(
      {
        kind: 'error',
        status: 400,
        message: 'response_format json_schema is not supported',
        param: 'response_format',
      },
      verdictReply(escalation),
    );
    await recorder().verify(injectedCall);
    expect(double.requests[1]!.body?.response_format?.type).toBe('json_object');
    expect((await replayer().verify(injectedCall)).verdict).toBe('escalate');
  });

  it('fails loudly on a miss, naming the request hash', async () => {
    const expected = buildJudgeRequest(injectedCall, 'judge-model', 'json_schema').hash;
    const err = (await replayer()
      .verify(injectedCall)
      .catch((e: unknown) => e)) as CassetteMissError;
    expect(err).toBeInstanceOf(CassetteMissError);
    expect(err).toMatchObject({ code: 'cassette_missing', requestHash: expected });
    expect(err.message).toContain(expected);
  });

  it('misses when the model or the call differs from what was recorded', async () => {
    double.script(verdictReply(escalation));
    await recorder().verify(injectedCall);
    await expect(replayer('another-model').verify(injectedCall)).rejects.toBeInstanceOf(CassetteMissError);
    await expect(replayer().verify({ ...injectedCall, arguments: { person: 'Bob' } })).rejects.toBeInstanceOf(
      CassetteMissError,
    );
  });

  it('refuses a cassette whose request no longer hashes to its name', async () => {
    double.script(verdictReply(escalation));
    const { provenance } = await recorder().verify(injectedCall);
    const file = cassetteFile(dir, provenance.prompt_hash!);
    const cassette = JSON.parse(await readFile(file, 'utf8')) as { request: { model: string } };
    cassette.request.model = 'edited';
    await writeFile(file, JSON.stringify(cassette));
    await expect(replayer().verify(injectedCall)).rejects.toMatchObject({ code: 'cassette_invalid' });
  });

  it('refuses a file that is not a cassette', async () => {
    await writeFile(
      cassetteFile(dir, buildJudgeRequest(injectedCall, 'judge-model', 'json_schema').hash),
      '{"verdict":"allow"}',
    );
    await expect(replayer().verify(injectedCall)).rejects.toMatchObject({ code: 'cassette_invalid' });
  });

  it('rejects when the signal has already aborted', async () => {
    await expect(replayer().verify(injectedCall, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'judge_aborted',
    });
  });
});
