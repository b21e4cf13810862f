import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SemanticConfigSchema } from '../../../src/config/schema.js';
import { createVerifier } from '../../../src/semantic/factory.js';
import { LlmJudge } from '../../../src/semantic/llm.js';
import { ReplayVerifier } from '../../../src/semantic/replay.js';
import { ENV, KEY_ENV } from '../../helpers/judge-fixtures.js';

const configDir = path.resolve('/srv/mcpgov');
const semantic = (config: unknown) => SemanticConfigSchema.parse(config);
const llm = { base_url: 'http://127.0.0.1:9/v1', model: 'judge-model', api_key_env: KEY_ENV };

describe('createVerifier', () => {
  it('builds the LLM judge, with cassettes under the config folder by default', () => {
    const verifier = createVerifier(semantic({ verifier: 'llm', llm }), configDir, { env: ENV });
    expect(verifier).toBeInstanceOf(LlmJudge);
    expect(verifier).toMatchObject({ name: 'llm', cassettes: path.join(configDir, 'evals/cassettes') });
  });

  it('builds replay on the configured cassettes folder, needing no key', () => {
    const verifier = createVerifier(
      semantic({ verifier: 'replay', llm: { ...llm, cassettes: 'rec' } }),
      configDir,
      {
        env: {},
      },
    );
    expect(verifier).toBeInstanceOf(ReplayVerifier);
    expect(verifier).toMatchObject({ name: 'replay', cassettes: path.join(configDir, 'rec') });
  });

  it('builds the offline verifier by default, and nothing when the semantic stage is off', () => {
    expect(createVerifier(semantic({}), configDir)).toMatchObject({ name: 'heuristic' });
    expect(createVerifier(semantic({ verifier: 'off' }), configDir)).toBeUndefined();
  });

  it('refuses an LLM judge or replay without semantic.llm', () => {
    expect(() => createVerifier(semantic({ verifier: 'llm' }), configDir)).toThrow(/semantic\.llm/);
    expect(() => createVerifier(semantic({ verifier: 'replay' }), configDir)).toThrow(/semantic\.llm/);
  });

  it('refuses an LLM judge whose key variable is not set', () => {
    expect(() => createVerifier(semantic({ verifier: 'llm', llm }), configDir, { env: {} })).toThrow(KEY_ENV);
  });

  it('records only with the live LLM judge', () => {
    expect(() => createVerifier(semantic({ verifier: 'replay', llm }), configDir, { record: true })).toThrow(
      /verifier: llm/,
    );
    expect(
      createVerifier(semantic({ verifier: 'llm', llm }), configDir, { record: true, env: ENV }),
    ).toBeInstanceOf(LlmJudge);
  });
});
