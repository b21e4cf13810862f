import path from 'node:path';
import { REPO } from './fixture.js';

/** The `_meta`-echoing MCP server (test/fixtures/meta-server.ts) as built, started with `node`. */
export const META_SERVER = path.join(REPO, 'dist/test/fixtures/meta-server.js');

/** The mail-sending MCP server (test/fixtures/mail-server.ts) as built, started with `node`. */
export const MAIL_SERVER = path.join(REPO, 'dist/test/fixtures/mail-server.js');
