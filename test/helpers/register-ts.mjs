// Registers ts-loader.mjs in each Vitest worker process (vitest.config.ts `execArgv`); worker threads
// started by the code under test inherit it.
import { register } from 'node:module';

register('./ts-loader.mjs', import.meta.url);
