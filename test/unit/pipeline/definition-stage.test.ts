import { describe, expect, it } from 'vitest';
import { ToolsFileSchema } from '../../../src/config/schema.js';
import type { DefinitionReview, LiveTool } from '../../../src/core/live-tool.js';
import { checkDefinition } from '../../../src/pipeline/stages/definition.js';
import type { StageEnv } from '../../../src/pipeline/stage.js';
import type { CallContext } from '../../../src/pipeline/types.js';
import { ToolRegistry } from '../../../src/registry/registries.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const registry = new ToolRegistry(
  ToolsFileSchema.parse({
    tools: [
      { name: 'wx__pinned', owner: 'p', risk_tier: 'low', definition_digest: A },
      { name: 'wx__*', owner: 'p', risk_tier: 'low' },
    ],
  }),
);

function ctx(name: string, digest: string, review?: DefinitionReview): CallContext {
  const live: LiveTool = { name, server: 'wx', tool: name.slice(4), definition: {}, digest, review };
  return {
    identity: { verified: false, claims: {} },
    toolName: name,
    toolEntry: registry.match(name),
    liveTool: live,
    arguments: {},
    session: { id: 's', callCount: 1, tools: [], history: [] },
    now: 0,
  };
}
const run = (c: CallContext) => checkDefinition(c, {} as StageEnv);

describe('definition stage', () => {
  it('denies a changed unpinned tool, enforced whatever the mode, with on_change: block', () => {
    expect(run(ctx('wx__weather', B, { firstSeen: A, onChange: 'block' }))).toMatchObject({
      kind: 'deny',
      code: 'definition_changed',
      mode: 'enforce',
    });
  });

  it('records the same deny in observe mode with on_change: observe', () => {
    expect(run(ctx('wx__weather', B, { firstSeen: A, onChange: 'observe' }))).toMatchObject({
      kind: 'deny',
      code: 'definition_changed',
      mode: 'observe',
    });
  });

  it('judges a pinned tool by its pin: a match passes even after a change, a mismatch is denied', () => {
    expect(run(ctx('wx__pinned', A, { firstSeen: B, onChange: 'block' }))).toEqual({ kind: 'pass' });
    expect(run(ctx('wx__pinned', B, { firstSeen: B, onChange: 'block' }))).toMatchObject({
      kind: 'deny',
      code: 'definition_mismatch',
      mode: 'enforce',
    });
    // Outside a running enforcement point (policy tests, evals): the usual mode decides.
    expect(run(ctx('wx__pinned', B))).not.toHaveProperty('mode');
  });

  it('hides a poisoned tool, or flags it for stage 2, as the server settings say', () => {
    const poisoned = (action: 'hide' | 'semantic'): DefinitionReview => ({
      firstSeen: A,
      onChange: 'block',
      poisoned: { detail: 'description: a hidden-instruction block', action },
    });
    expect(run(ctx('wx__notes', A, poisoned('hide')))).toMatchObject({
      kind: 'deny',
      code: 'poisoned_description',
      mode: 'enforce',
    });
    expect(run(ctx('wx__notes', A, poisoned('semantic')))).toMatchObject({
      kind: 'flag',
      code: 'poisoned_description',
    });
  });

  it('passes an unchanged, clean tool', () => {
    expect(run(ctx('wx__weather', A, { firstSeen: A, onChange: 'block' }))).toEqual({ kind: 'pass' });
  });
});
