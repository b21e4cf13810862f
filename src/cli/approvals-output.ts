import type { ApprovalRequest, Approver, Waiver } from '../approvals/types.js';
import { EXIT, err, out } from './io.js';
import type { Refusal } from './approvals-target.js';

/** Prints a refusal (its code and message) and returns the exit code for it. */
export function printRefusal(command: string, refusal: Refusal): number {
  err(`mcpgov ${command}: refused (${refusal.code}): ${refusal.message}`);
  return EXIT.failed;
}

/** Prints rows under a header, columns padded to their widest cell. */
export function printTable(head: string[], cells: string[][]): void {
  const rows = cells.map((r) => r.map(printable));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  out(line(head));
  for (const r of rows) out(line(r));
}

/** C0 and C1 control characters, DEL, and the Unicode line and paragraph separators. */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * Text an agent controls (tool names, intents, arguments) shown on a terminal: control characters
 * become visible escapes, so no escape sequence can redraw or hide what the approver reads.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `90s`, `14m`, `3h`, `2d`: how long ago (or until) a time is, roughly. */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** Who an approver is and how they were verified, in one line. */
export function approverLine(a: Approver): string {
  const how = [
    `via ${a.via}`,
    a.iss && `iss ${a.iss}`,
    a.acr && `acr ${a.acr}`,
    a.amr && a.amr.length > 0 && `amr ${a.amr.join(',')}`,
    a.auth_time !== undefined && `authenticated ${new Date(a.auth_time * 1000).toISOString()}`,
  ].filter(Boolean);
  return `${a.sub}${a.name ? ` (${a.name})` : ''}, ${how.join(', ')}`;
}

/** The table `approvals list` prints. */
export function printRequests(requests: ApprovalRequest[], now: number): void {
  if (requests.length === 0) {
    out('no approval requests');
    return;
  }
  printTable(
    ['ID', 'STATE', 'TIER', 'AGENT', 'TOOL', 'AGE', 'EXPIRES', 'REASONS'],
    requests.map((r) => [
      r.id,
      r.state,
      r.tier,
      r.binding.agent ?? '-',
      r.binding.tool,
      span(now - Date.parse(r.created_at)),
      r.state === 'pending' ? `in ${span(Date.parse(r.expires_at) - now)}` : '-',
      r.reasons.join(','),
    ]),
  );
}

/** What `approvals show` prints: everything an approver needs to decide, masked as evidence holds it. */
export function printRequest(r: ApprovalRequest): void {
  const rows: [string, string | undefined][] = [
    ['request', r.id],
    ['state', `${r.state}${r.state === 'pending' ? ` (expires ${r.expires_at})` : ''}`],
    [
      'call',
      `${r.binding.tool}${r.server ? ` on server ${r.server}` : ''} by agent ${r.binding.agent ?? '(none)'}` +
        ` (${r.verified ? 'verified token' : 'unverified: the default agent'})`,
    ],
    [
      'tier',
      `${r.tier}${r.owner ? `; tool owner ${r.owner}` : ''}${r.agent_owner ? `; agent owner ${r.agent_owner}` : ''}`,
    ],
    ['mode', r.mode],
    ['reasons', r.reasons.join(', ') || '-'],
    ['signals', r.signals.length > 0 ? r.signals.join(', ') : undefined],
    ['approvers', r.approvers.length > 0 ? r.approvers.join(', ') : undefined],
    ['args', r.binding.args_digest],
    ['bundle', r.binding.bundle_digest],
    ['decision', `${r.decision_id} at ${r.pep}, session ${r.session}`],
    ['created', r.created_at],
    ['intent', r.intent],
    ['recent', r.recent_calls.length > 0 ? r.recent_calls.join(', ') : undefined],
  ];
  if (r.verdict) {
    const v = r.verdict;
    rows.push(['verdict', `${v.verdict} at ${v.at} by ${approverLine(v.approver)}`]);
    rows.push(['reason', v.reason]);
  }
  if (r.grant)
    rows.push([
      'grant',
      r.grant.used_at
        ? `used at ${r.grant.used_at} by decision ${r.grant.used_by ?? '?'}`
        : `unused; the same call may go through once until ${r.grant.expires_at}`,
    ]);
  if (r.interrupted)
    rows.push(['note', 'its held call was interrupted by a shutdown; an approval leaves a grant']);
  for (const [key, value] of rows) if (value !== undefined) out(`${key.padEnd(10)}${printable(value)}`);
  out('arguments (masked):');
  for (const line of (JSON.stringify(r.args, null, 2) ?? 'none').split('\n')) out(`  ${printable(line)}`);
}

/** A waiver's state at `now`. */
export function waiverState(w: Waiver, now: number): 'active' | 'expired' | 'revoked' {
  if (w.revoked) return 'revoked';
  return Date.parse(w.until) > now ? 'active' : 'expired';
}

/** The table `waivers list` prints. */
export function printWaivers(waivers: Waiver[], now: number): void {
  if (waivers.length === 0) {
    out('no waivers');
    return;
  }
  printTable(
    ['ID', 'STATE', 'AGENT', 'TOOL', 'UNTIL', 'BY', 'REASON'],
    waivers.map((w) => [
      w.id,
      waiverState(w, now),
      w.agent,
      `${w.tool}${w.args_match === undefined ? '' : ' (args_match)'}`,
      w.until,
      w.by.sub,
      oneLine(w.reason),
    ]),
  );
}

/** A free text on one line, cut at 60 characters. */
function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 60 ? `${flat.slice(0, 59)}…` : flat;
}
