import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load-config.js';
import type { ControlPlaneView } from '../control/control-plane.js';
import { RegistryStore } from '../policy/release/registry-store.js';
import { EXIT, UsageError, err, out } from './io.js';

/** `mcpgov policy status`: the registry's channels and, from a gateway, every PEP's bundle and drift. */
export async function policyStatusCommand(values: {
  config: string;
  url?: string;
  json?: boolean;
}): Promise<number> {
  const config = existsSync(values.config) ? await loadConfig(values.config) : undefined;
  const listen = config?.listen.http;
  const url = values.url ?? (listen ? `http://${listen}/policy/status` : undefined);
  if (!url) throw new UsageError('give --url http://HOST:PORT/policy/status, or --config with listen.http');

  let view: ControlPlaneView;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    view = (await res.json()) as ControlPlaneView;
  } catch (e) {
    err(`cannot read ${url}: ${(e as Error).message}`);
    return EXIT.failed;
  }
  const drifting = view.peps.filter((p) => p.state === 'drift');
  if (values.json) {
    out(JSON.stringify(view, null, 2));
    return drifting.length > 0 ? EXIT.failed : EXIT.ok;
  }

  const a = view.approved;
  out(
    a
      ? `channel ${a.name}/${a.channel}: ${a.bundle_digest} seq ${a.seq} channel_seq ${a.channel_seq}` +
          `${a.rollback ? ' (rollback)' : ''}, approved by ${a.approved_by.join(', ') || 'nobody'}, ` +
          `valid until ${new Date(a.exp * 1000).toISOString()}`
      : `gateway ${view.gateway} follows no channel: only silence counts as drift`,
  );
  const rows = view.peps.map((p) => {
    const active = p.status?.policy.active;
    const error = p.status?.policy.last_error;
    return [
      p.id,
      p.state,
      active ? `${active.digest.slice(0, 19)}…` : '-',
      active ? String(active.seq) : '-',
      p.status?.policy.last_check ?? '-',
      String(p.status?.waivers?.length ?? 0),
      p.drift ? `${p.drift.cause} since ${p.drift.since}` : error ? `${error.code}: ${error.message}` : '',
    ];
  });
  printTable(['PEP', 'STATE', 'ACTIVE DIGEST', 'SEQ', 'LAST CHECK', 'WAIVERS', 'DRIFT / LAST ERROR'], rows);
  for (const p of view.peps) {
    for (const w of p.status?.waivers ?? [])
      out(`waiver ${w.id} at ${p.id}: agent ${w.agent}, tool ${w.tool}, until ${w.until}`);
  }
  if (config && existsSync(path.join(config.policy.registry, 'index.json'))) {
    const store = await RegistryStore.open(config.policy.registry);
    for (const { name, channel } of store.channels()) {
      out(`\nhistory of ${name}/${channel} (${config.policy.registry}):`);
      for (const h of store.history(name, channel))
        out(
          `  channel_seq ${h.channel_seq}  seq ${h.seq}  ${h.digest}  ${h.published_at}` +
            `  approved by ${h.approved_by.join(', ') || 'nobody'}${h.rollback ? '  (rollback)' : ''}`,
        );
    }
  }
  if (drifting.length > 0) err(`drift: ${drifting.map((p) => p.id).join(', ')}`);
  return drifting.length > 0 ? EXIT.failed : EXIT.ok;
}

function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  out(line(head));
  for (const r of rows) out(line(r));
}
