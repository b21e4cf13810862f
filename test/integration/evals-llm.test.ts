import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CLI, REPO } from '../helpers/fixture.js';
import { API_KEY, KEY_ENV } from '../helpers/judge-fixtures.js';
import { startOpenAiDouble, verdictReply, type OpenAiDouble } from '../helpers/openai-double.js';

const run = promisify(execFile);

/**
 * `mcpgov evals run --verifier llm` end to end against a local OpenAI-compatible double: the endpoint
 * from OPENAI_BASE_URL, the model from the config, cassettes recorded (into a temporary folder: an
 * answer from a double is never a cassette of the repository) and replayed.
 */
describe('evals with the LLM judge', () => {
  let double: OpenAiDouble;
  let dir: string;
  const verdicts = ['escalate', 'allow', 'escalate'] as const;

  beforeAll(async () => {
    double = await startOpenAiDouble();
    dir = await mkdtemp(path.join(tmpdir(), 'mcpgov-evals-llm-'));
    const cases = (await readFile(path.join(REPO, 'evals/cases/holdout-3-flow.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean);
    await writeFile(path.join(dir, 'cases.jsonl'), `${[cases[0], cases[12], cases[1]].join('\n')}\n`);
    await writeFile(
      path.join(dir, 'mcpgov.yaml'),
      stringify({
        registries: path.join(REPO, 'evals/registry'),
        policies: path.join(REPO, 'evals/policies'),
        semantic: {
          verifier: 'heuristic',
          llm: { model: 'judge-model', api_key_env: KEY_ENV, cassettes: './cassettes' },
        },
      }),
    );
  });
  afterAll(async () => double?.close());

  const evals = (verifier: string, ...more: string[]) =>
    run(
      'node',
      [
        CLI,
        'evals',
        'run',
        '--config',
        path.join(dir, 'mcpgov.yaml'),
        '--cases',
        path.join(dir, 'cases.jsonl'),
        '--stage',
        'semantic',
        '--verifier',
        verifier,
        '--no-thresholds',
        '--json',
        ...more,
      ],
      { env: { ...process.env, OPENAI_BASE_URL: double.baseUrl, [KEY_ENV]: API_KEY } },
    );

  it('asks the endpoint OPENAI_BASE_URL names, with the flow labels in the prompt, and records each answer', async () => {
    double.script(
      ...verdicts.map((verdict) =>
        verdictReply({ verdict, confidence: 0.9, signals: [], rationale: `judged ${verdict}` }),
      ),
    );
    const { stdout } = await evals('llm', '--record');
    const report = JSON.parse(stdout) as { results: { got: string }[] };
    expect(report.results.map((r) => r.got)).toEqual(verdicts);
    expect(double.requests).toHaveLength(3);
    for (const request of double.requests) {
      expect(request.body!.model).toBe('judge-model');
      expect(request.body!.messages[1]!.content).toContain('Information flow (computed by the gateway):');
    }
    expect(double.requests[0]!.body!.messages[1]!.content).toContain(
      '- argument "user_id" carries a value (id) from the result of "fs__read_text_file" (untrusted, public)',
    );
    expect((await readdir(path.join(dir, 'cassettes'))).filter((f) => f.endsWith('.json'))).toHaveLength(3);
  });

  it('replays the recorded answers without the endpoint', async () => {
    const before = double.requests.length;
    const { stdout } = await evals('replay');
    expect((JSON.parse(stdout) as { results: { got: string }[] }).results.map((r) => r.got)).toEqual(
      verdicts,
    );
    expect(double.requests).toHaveLength(before);
  });
});
