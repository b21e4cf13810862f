/**
 * The approver console's files, served by the admin listener without authentication (the page asks
 * for a token and every datum comes from /api with it), keyed by URL path. This placeholder page only
 * says where the API is; it loads no script, as the listener's Content-Security-Policy expects.
 */
export const CONSOLE_ASSETS: Readonly<Record<string, { type: string; body: string }>> = {
  '/': {
    type: 'text/html; charset=utf-8',
    body: `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>mcpgov approvals</title><link rel="stylesheet" href="/console.css"></head>
<body>
<h1>mcpgov approvals</h1>
<p>Decide approval requests through the admin API on this listener, with an approver bearer token:
<code>GET /api/approvals?state=pending</code>, <code>POST /api/approvals/ID/approve</code> with
<code>{"reason": "..."}</code>; or from the command line: <code>mcpgov approvals list</code>.</p>
</body>
</html>
`,
  },
  '/console.js': { type: 'text/javascript; charset=utf-8', body: '' },
  '/console.css': {
    type: 'text/css; charset=utf-8',
    body: 'body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 48rem; }\n',
  },
};
