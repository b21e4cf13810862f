import path from 'node:path';
import { REPO } from './fixture.js';

/** The hostile MCP server (test/fixtures/hostile-server.ts) as built, started with `node`. */
export const HOSTILE_SERVER = path.join(REPO, 'dist/test/fixtures/hostile-server.js');
