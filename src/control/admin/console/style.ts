/** The approver console's stylesheet (served as /console.css; the CSP allows no inline style). */
export const CONSOLE_CSS = `:root {
  color-scheme: light;
  --fg: #1d2430;
  --muted: #5b6575;
  --line: #d8dde5;
  --bg: #f6f7f9;
  --card: #ffffff;
  --accent: #2457c5;
  --ok: #1f7a3a;
  --bad: #b3261e;
  --warn: #9a6700;
  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
  font-size: 15px;
  line-height: 1.45;
}
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); color: var(--fg); }
#topbar {
  display: flex; align-items: center; justify-content: space-between; gap: 1rem; flex-wrap: wrap;
  padding: 0.75rem 1.5rem; background: #17202e; color: #fff;
}
#topbar h1 { font-size: 1.15rem; margin: 0; }
#whoami { display: flex; gap: 0.75rem; align-items: center; flex-wrap: wrap; }
#whoami .muted { color: #c7cfdb; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 0.75rem; }
.muted { color: var(--muted); }
.error { color: var(--bad); }
.notice { background: #e8f3ec; border: 1px solid #b6dcc2; padding: 0.5rem 0.75rem; border-radius: 6px; }
.count {
  display: inline-block; min-width: 1.5em; padding: 0 0.4em; border-radius: 999px; background: var(--accent);
  color: #fff; font-size: 0.85rem; text-align: center;
}
code, pre { font-family: ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace; font-size: 0.85rem; }
pre.args {
  margin: 0; padding: 0.5rem; background: #f1f3f6; border-radius: 4px; max-height: 16rem; overflow: auto;
  white-space: pre-wrap; word-break: break-all;
}
button {
  font: inherit; padding: 0.35rem 0.9rem; border-radius: 5px; border: 1px solid var(--line); background: #fff;
  cursor: pointer;
}
button:disabled { opacity: 0.55; cursor: progress; }
button.approve { background: var(--ok); border-color: var(--ok); color: #fff; }
button.deny, button.revoke-button { background: var(--bad); border-color: var(--bad); color: #fff; }
textarea, input[type='text'] {
  font: inherit; width: 100%; box-sizing: border-box; padding: 0.4rem; border: 1px solid var(--line);
  border-radius: 4px;
}
#signin { max-width: 40rem; }
#signin-form { display: grid; gap: 0.5rem; }
#signin-form button { justify-self: start; }
.request, .waiver, #linked {
  background: var(--card); border: 1px solid var(--line); border-left-width: 5px; border-radius: 6px;
  padding: 0.75rem 1rem; margin-bottom: 1rem;
}
.request.focused { outline: 3px solid var(--accent); }
.request.tier-low { border-left-color: #8aa4c8; }
.request.tier-medium { border-left-color: #d6a100; }
.request.tier-high { border-left-color: #d9622b; }
.request.tier-critical { border-left-color: var(--bad); }
.request-head, .waiver-head { display: flex; gap: 0.75rem; align-items: baseline; flex-wrap: wrap; font-weight: 600; }
.request-head .tool { font-size: 1.05rem; }
.request-head .mode, .request-head .waited { font-weight: 400; color: var(--muted); }
.request-head .waited { margin-left: auto; }
.tier-badge { font-size: 0.8rem; padding: 0.05rem 0.5rem; border-radius: 999px; color: #fff; background: #8aa4c8; }
.tier-badge.tier-medium { background: #b58800; }
.tier-badge.tier-high { background: #c4521d; }
.tier-badge.tier-critical { background: var(--bad); }
.badge { font-size: 0.8rem; padding: 0 0.4rem; border-radius: 4px; }
.badge.verified { background: #e3f1e7; color: var(--ok); }
.badge.unverified { background: #fbf0d9; color: var(--warn); }
.facts { display: grid; grid-template-columns: 11rem 1fr; gap: 0.3rem 1rem; margin: 0.75rem 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.facts ul { margin: 0; padding-left: 1.1rem; }
.decide, .revoke { display: grid; gap: 0.4rem; border-top: 1px solid var(--line); padding-top: 0.6rem; }
.buttons { display: flex; gap: 0.5rem; }
.card-error { margin: 0; font-weight: 600; }
table#decided { width: 100%; border-collapse: collapse; background: var(--card); font-size: 0.9rem; }
#decided th, #decided td {
  text-align: left; vertical-align: top; padding: 0.4rem 0.5rem; border-bottom: 1px solid var(--line);
}
#decided td.reason { overflow-wrap: anywhere; max-width: 20rem; }
tr.state-approved td.outcome { color: var(--ok); font-weight: 600; }
tr.state-denied td.outcome { color: var(--bad); font-weight: 600; }
tr.state-expired td.outcome, tr.state-withdrawn td.outcome { color: var(--muted); }
`;
