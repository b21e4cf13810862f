import type { WaiverInput } from '../approvals/types.js';
import { loadConfig } from '../config/load-config.js';
import { printRefusal, printWaivers } from './approvals-output.js';
import { openTarget } from './approvals-target.js';
import { EXIT, UsageError, out } from './io.js';

/** Options of `mcpgov waivers ...` (commands/approvals.ts). */
export interface WaiversOptions {
  config: string;
  gateway?: string;
  token?: string;
  agent?: string;
  tool?: string;
  argsMatch?: string;
  until?: string;
  reason?: string;
  compensating?: string;
  all?: boolean;
  json?: boolean;
}

/** `mcpgov waivers ...`. */
export async function waiversCommand(
  sub: 'add' | 'list' | 'revoke',
  values: WaiversOptions,
  ids: string[],
): Promise<number> {
  let input: WaiverInput | undefined;
  if (sub === 'add') input = waiverInput(values);
  if (sub === 'revoke' && !values.reason?.trim()) throw new UsageError('waivers revoke needs --reason R');

  const config = await loadConfig(values.config);
  const target = await openTarget({ config, gateway: values.gateway, tokenFile: values.token });
  const command = `waivers ${sub}`;
  try {
    if (sub === 'list') {
      const listed = await target.listWaivers(!(values.all ?? false));
      if (!listed.ok) return printRefusal(command, listed);
      if (values.json) out(JSON.stringify({ waivers: listed.value }, null, 2));
      else printWaivers(listed.value, Date.now());
      return EXIT.ok;
    }
    const changed = input
      ? await target.addWaiver(input)
      : await target.revokeWaiver(ids[0] ?? '', values.reason ?? '');
    if (!changed.ok) return printRefusal(command, changed);
    const waiver = changed.value;
    if (values.json) out(JSON.stringify({ waiver }, null, 2));
    else if (input)
      out(
        `created waiver ${waiver.id}: ${waiver.agent} may call ${waiver.tool} despite a deny or escalation until ${waiver.until} (${target.where})`,
      );
    else out(`revoked waiver ${waiver.id} (${target.where})`);
    return EXIT.ok;
  } finally {
    await target.close();
  }
}

/** The waiver `add` describes; a missing option or JSON that does not parse is a usage error. */
function waiverInput(values: WaiversOptions): WaiverInput {
  const missing = (['agent', 'tool', 'until', 'reason', 'compensating'] as const).filter(
    (k) => !values[k]?.trim(),
  );
  if (missing.length > 0)
    throw new UsageError(`waivers add needs ${missing.map((k) => `--${k}`).join(', ')}`);
  let argsMatch: unknown;
  if (values.argsMatch !== undefined) {
    try {
      argsMatch = JSON.parse(values.argsMatch);
    } catch (e) {
      throw new UsageError(`--args-match is not JSON: ${(e as Error).message}`);
    }
  }
  return {
    agent: values.agent ?? '',
    tool: values.tool ?? '',
    ...(argsMatch === undefined ? {} : { args_match: argsMatch }),
    until: values.until ?? '',
    reason: values.reason ?? '',
    compensating: values.compensating ?? '',
  };
}
