import { CONSOLE_HTML } from './console/page.js';
import { CONSOLE_JS } from './console/script.js';
import { CONSOLE_CSS } from './console/style.js';

/**
 * The approver console's files, served by the admin listener without authentication (the page asks
 * for a token and every datum comes from /api with it), keyed by URL path. One page, one script, one
 * stylesheet, no framework: the listener's Content-Security-Policy allows only these (`'self'`), so
 * no inline script or style and nothing from elsewhere.
 */
export const CONSOLE_ASSETS: Readonly<Record<string, { type: string; body: string }>> = {
  '/': { type: 'text/html; charset=utf-8', body: CONSOLE_HTML },
  '/console.js': { type: 'text/javascript; charset=utf-8', body: CONSOLE_JS },
  '/console.css': { type: 'text/css; charset=utf-8', body: CONSOLE_CSS },
};
