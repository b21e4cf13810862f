import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Only the TypeScript sources: `tsc` also emits test files under dist/, which must not run twice.
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests spawn real MCP servers; two cores do not reward more parallel files.
    maxWorkers: 2,
  },
});
