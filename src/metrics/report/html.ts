import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { RENDER_SCRIPT } from './html-script.js';
import type { PilotReport, Percentiles, ReasonCount } from './report.js';

/**
 * The HTML report: one self-contained file. The numbers and tables are written as escaped HTML; the
 * charts are drawn by Chart.js, whose minified build is inlined from node_modules, from the report's
 * JSON in an `application/json` block. A Content-Security-Policy allows exactly those two scripts (by
 * hash) and no network at all, so the file opens anywhere and nothing in it can fetch or run more.
 * Everything from evidence (tool and agent names, reasons, waiver texts) is attacker-influenced, and
 * is only ever escaped text or data drawn on a canvas.
 */
export async function renderHtml(report: PilotReport): Promise<string> {
  const chartJs = await chartLibrary();
  const data = jsonForScript(report);
  const body = renderBody(report);
  const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
  const csp = [
    "default-src 'none'",
    `script-src ${hash(chartJs)} ${hash(RENDER_SCRIPT)}`,
    "style-src 'unsafe-inline'",
    'img-src data:',
  ].join('; ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mcpgov pilot report</title>
<style>${STYLE}</style>
</head>
<body>
${body}
<script type="application/json" id="report-data">${data}</script>
<script>${chartJs}</script>
<script>${RENDER_SCRIPT}</script>
</body>
</html>
`;
}

/** Chart.js's UMD build, minified, without its source map comment (the map is not shipped inline). */
async function chartLibrary(): Promise<string> {
  const entry = createRequire(import.meta.url).resolve('chart.js');
  const file = path.join(path.dirname(entry), 'chart.umd.min.js');
  const code = (await readFile(file, 'utf8')).replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
  // Inside a <script> element only "</script" (and "<!--") end or change the element.
  if (/<\/script|<!--/i.test(code)) throw new Error(`${file} cannot be inlined in a <script> element`);
  return code;
}

/** JSON that cannot end its `<script>` element: `<`, `>`, `&` and the JS line separators escaped. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Text as HTML (element content or a quoted attribute). */
export function esc(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A share to one decimal, rounded down: 99.96% must not read as 100.0%. */
const pct = (r: number | null) => (r === null ? 'n/a' : `${(Math.floor(r * 1000) / 10).toFixed(1)}%`);
const num = (n: number) => n.toLocaleString('en-US');

/** A duration in ms as people read it. */
export function duration(ms: number | null): string {
  if (ms === null) return 'n/a';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

function card(title: string, value: string, detail: string, id: string): string {
  return `<div class="card" id="${id}"><h3>${esc(title)}</h3><p class="value">${esc(value)}</p><p class="detail">${esc(detail)}</p></div>`;
}

/** A chart's canvas, or a note when there is nothing to draw. */
function chartBox(id: string, title: string, hasData: boolean, tall = false): string {
  const inner = hasData
    ? `<div class="chart${tall ? ' tall' : ''}"><canvas id="${id}" role="img" aria-label="${esc(title)}"></canvas></div>`
    : '<p class="empty">Nothing recorded in this period.</p>';
  return `<figure><figcaption>${esc(title)}</figcaption>${inner}</figure>`;
}

function table(headers: string[], rows: (string | number)[][], limit = 200): string {
  if (rows.length === 0) return '';
  const head = headers.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows
    .slice(0, limit)
    .map((r) => `<tr>${r.map((c) => `<td>${esc(typeof c === 'number' ? num(c) : c)}</td>`).join('')}</tr>`)
    .join('\n');
  const more =
    rows.length > limit
      ? `<p class="detail">${num(rows.length - limit)} more rows in the JSON report.</p>`
      : '';
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>${more}`;
}

function percentilesText(p: Percentiles): string {
  return p.count === 0
    ? 'none decided'
    : `p50 ${duration(p.p50)} · p90 ${duration(p.p90)} · max ${duration(p.max)} (${num(p.count)})`;
}

function reasonRows(rows: ReasonCount[]): (string | number)[][] {
  return rows.map((r) => [r.reason, r.enforced, r.observed, r.total]);
}

function renderBody(r: PilotReport): string {
  const f = r.filters;
  const filters = [
    f.since && `since ${f.since}`,
    f.until && `until ${f.until}`,
    f.agent && `agent ${f.agent}`,
    f.tool && `tool ${f.tool}`,
  ].filter(Boolean);
  const d = r.decisions;
  const a = r.approvals;
  const unit = r.series.unit;
  const hasSeries = r.series.points.length > 0;
  const rowOf = (x: PilotReport['agents'][number] | PilotReport['tools'][number]) => [
    x.calls,
    x.allowed,
    x.denied_enforced,
    x.denied_observed,
    x.escalated_enforced,
    x.escalated_observed,
    x.waived,
    x.forwarded,
    x.errors,
  ];
  const effectHeaders = [
    'calls',
    'allowed',
    'denied (enforced)',
    'denied (observed)',
    'escalated (enforced)',
    'escalated (observed)',
    'waived',
    'forwarded',
    'errors',
  ];
  return `<header>
<h1>mcpgov pilot report</h1>
<p class="detail">${esc(r.source.path)} (${esc(r.source.kind)}) · records from ${esc(r.period.first ?? 'n/a')} to ${esc(r.period.last ?? 'n/a')}${filters.length ? ` · ${esc(filters.join(', '))}` : ''} · generated ${esc(r.generated_at)}</p>
</header>
<main>
<section class="cards">
${card('Coverage', pct(r.coverage.ratio), r.coverage.note ?? `${num(r.coverage.decided)} of ${num(r.coverage.received)} tools/call requests have a decision record; gap ${num(r.coverage.gap)}`, 'card-coverage')}
${card('Deny rate', pct(r.pilot.deny_rate), `${num(d.denied_enforced)} enforced, ${num(d.denied_observed)} observed of ${num(d.calls)} calls`, 'card-deny-rate')}
${card('Approvals', num(a.created), `time to decision ${percentilesText(a.time_to_decision_ms)}`, 'card-approvals')}
${card('Evidence completeness', pct(r.completeness.ratio), `${num(r.completeness.complete)} of ${num(r.completeness.sessions)} sessions closed and covered by a signed checkpoint`, 'card-completeness')}
${card(
  'Drift events',
  num(r.drift.events),
  Object.entries(r.drift.by_cause)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none',
  'card-drift',
)}
${card('Waivers in force', num(r.waivers.in_force), `at ${r.waivers.in_force_at}; ${num(r.waivers.used)} uses in the period`, 'card-waivers')}
</section>

<section>
<h2>Calls and decisions per ${esc(unit)}</h2>
${chartBox('chart-calls', `Governed calls by decision, per ${unit}`, hasSeries, true)}
</section>

<section class="pair">
<div>
<h2>Coverage</h2>
${chartBox('chart-coverage', 'tools/call requests with and without a decision record', r.coverage.received > 0 && r.coverage.ratio !== null)}
<p class="detail">Sessions counted: ${num(r.coverage.sessions)}; closed without a received count: ${num(r.coverage.sessions_without_count)}; still open: ${num(r.coverage.open_sessions)} (${num(r.coverage.decided_in_open_sessions)} decisions, not counted).</p>
</div>
<div>
<h2>Evidence completeness</h2>
${chartBox('chart-completeness', 'Sessions by how their chain ended', r.completeness.sessions > 0)}
<p class="detail">Records covered by a signed checkpoint: ${num(r.completeness.records_covered)} of ${num(r.completeness.records)}.</p>
</div>
</section>

<section>
<h2>Deny reasons</h2>
<p class="detail">Deny rate ${pct(d.deny_rate)}; enforced (blocked) ${pct(d.enforced_deny_rate)}. Observed denies were recorded and forwarded (observe mode).</p>
${chartBox('chart-deny-reasons', 'Denies by deciding reason, enforced and observed', r.deny_reasons.length > 0)}
${table(['reason', 'enforced', 'observed', 'total'], reasonRows(r.deny_reasons))}
</section>

<section>
<h2>Escalations and time to approve</h2>
${chartBox('chart-escalations', `Escalations per ${unit}, and the time people took to decide (p50, p90)`, hasSeries && d.escalated_enforced + d.escalated_observed + a.decided > 0, true)}
<div class="pair">
<div>${chartBox('chart-approvals', 'Approval requests by outcome', a.approved + a.denied + a.expired + a.withdrawn + a.pending > 0)}</div>
<div>
${table(
  ['approvals', 'count'],
  [
    ['created', a.created],
    ['decided', a.decided],
    ['approved', a.approved],
    ['denied', a.denied],
    ['expired', a.expired],
    ['withdrawn', a.withdrawn],
    ['interrupted', a.interrupted],
    ['grants used', a.grants_used],
    ['pending', a.pending],
  ],
)}
<p class="detail">Time to decision (all verdicts): ${esc(percentilesText(a.time_to_decision_ms))}.<br>Time to approve (approvals only): ${esc(percentilesText(a.time_to_approve_ms))}.</p>
</div>
</div>
${table(['escalation reason', 'enforced', 'observed', 'total'], reasonRows(r.escalation_reasons))}
</section>

<section>
<h2>Waivers</h2>
<p class="detail">Created ${num(r.waivers.created)}, used ${num(r.waivers.used)}, revoked ${num(r.waivers.revoked)}, expired ${num(r.waivers.expired)}; in force at ${esc(r.waivers.in_force_at)}: ${num(r.waivers.in_force)}.</p>
${chartBox('chart-waivers', 'Decisions each waiver changed', r.waivers.list.length > 0)}
${table(
  ['waiver', 'agent', 'tool', 'until', 'uses', 'in force', 'reason'],
  r.waivers.list.map((w) => [
    w.id,
    w.agent,
    w.tool,
    w.until,
    w.uses,
    w.in_force ? 'yes' : w.revoked ? 'revoked' : w.expired ? 'expired' : 'no',
    w.reason ?? '',
  ]),
)}
</section>

<section>
<h2>Semantic signals</h2>
<p class="detail">Calls checked by stage 2: ${num(r.semantic.checked)}; verifier errors ${num(r.semantic.errors)}; cache hits ${num(r.semantic.cache_hits)}; latency ${esc(percentilesText(r.semantic.latency_ms))}.</p>
${chartBox('chart-signals', 'Calls by semantic signal', r.semantic.signals.length > 0)}
${table(['verdict', 'calls'], Object.entries(r.semantic.verdicts))}
</section>

<section>
<h2>Agents</h2>
${chartBox('chart-agents', 'Calls per agent by decision', r.agents.length > 0, true)}
${table(
  ['agent', ...effectHeaders, 'unverified'],
  r.agents.map((x) => [x.agent, ...rowOf(x), x.unverified]),
)}
</section>

<section>
<h2>Tools</h2>
${chartBox('chart-tools', 'Calls per tool by decision (top 20)', r.tools.length > 0, true)}
${table(
  ['tool', 'server', ...effectHeaders],
  r.tools.map((x) => [x.tool, x.servers.join(', '), ...rowOf(x)]),
)}
</section>

<section>
<h2>Drift</h2>
${chartBox('chart-drift', 'Drift events by cause', r.drift.events > 0)}
${table(
  ['time', 'cause', 'enforcement point', 'server', 'tool', 'channel', 'action'],
  r.drift.recent.map((x) => [
    x.time,
    x.cause,
    x.pep,
    x.server ?? '',
    x.tool ?? '',
    x.channel ?? '',
    x.action ?? '',
  ]),
)}
<p class="detail">Tool definitions found carrying hidden instructions: ${num(r.drift.definitions.poisoned)} (hidden from agents: ${num(r.drift.definitions.hidden)}). Policy bundles activated ${num(r.policy.activated)}, refused ${num(r.policy.refused)}.</p>
</section>

<section>
<h2>Evidence logs</h2>
${table(
  [
    'log',
    'kind',
    'enforcement point',
    'records',
    'segments',
    'last checkpoint covers',
    'uncovered',
    'unreadable',
    'sessions',
    'complete',
  ],
  r.source.logs.map((l) => [
    l.path,
    l.kind,
    l.pep ?? '',
    l.records,
    l.segments,
    l.checkpoint_size,
    l.uncovered,
    l.unreadable,
    l.sessions,
    l.complete_sessions,
  ]),
)}
<p class="detail">Counted from the records as written; <code>mcpgov evidence verify</code> proves the chain and the checkpoints' signatures.</p>
</section>
</main>`;
}

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #0f172a; background: #f8fafc; }
header { padding: 20px 28px 8px; background: #0f172a; color: #f8fafc; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .detail { color: #cbd5e1; }
main { padding: 16px 28px 40px; max-width: 1280px; }
section { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 16px 20px; margin: 16px 0; }
section.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px; background: none; border: 0; padding: 0; }
.card { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 12px 16px; }
.card h3 { margin: 0; font-size: 13px; font-weight: 600; color: #475569; text-transform: uppercase; letter-spacing: .03em; }
.card .value { margin: 6px 0 2px; font-size: 30px; font-weight: 700; }
h2 { margin: 0 0 10px; font-size: 17px; }
.detail { color: #64748b; margin: 6px 0; overflow-wrap: anywhere; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 16px; }
section.pair { background: none; border: 0; padding: 0; }
section.pair > div { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 16px 20px; }
figure { margin: 0 0 12px; }
figcaption { font-weight: 600; color: #334155; margin-bottom: 6px; }
.chart { position: relative; height: 260px; }
.chart.tall { height: 340px; }
.empty { color: #94a3b8; font-style: italic; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e2e8f0; overflow-wrap: anywhere; }
th { background: #f1f5f9; font-weight: 600; }
td:not(:first-child) { font-variant-numeric: tabular-nums; }
`;
