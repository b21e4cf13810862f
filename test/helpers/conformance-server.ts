import path from 'node:path';
import { REPO } from './fixture.js';

/**
 * The server implementing the MCP conformance suite's server scenarios (test/fixtures/conformance-server.ts)
 * as built, started with `node`: `stdio`, or `http HOST:PORT`.
 */
export const CONFORMANCE_SERVER = path.join(REPO, 'dist/test/fixtures/conformance-server.js');
