import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Only the TypeScript sources: `tsc` also emits test files under dist/, which must not run twice.
    include: ['test/**/*.test.ts'],
    // Integration tests start real servers and gateway processes: on a machine at several times its
    // cores' load a case has taken over 30 s. Timeouts here catch hangs; no test measures speed.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests spawn real MCP servers; two cores do not reward more parallel files.
    maxWorkers: 2,
    // Worker threads (the semantic verifier's) load their sources with Node, not Vitest: let Node
    // read the TypeScript sources there.
    execArgv: ['--import', new URL('./test/helpers/register-ts.mjs', import.meta.url).href],
  },
});
