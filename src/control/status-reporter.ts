import type { Logger } from '../util/log.js';
import type { PepPolicyStatus } from '../policy/runtime/status.js';

const REPORT_TIMEOUT_MS = 5000;

/**
 * Sends this enforcement point's policy status to a gateway (`POST /policy/status`), one report at
 * a time: while one is in flight only the newest waiting status is kept. Failures are logged once per
 * outage and never affect enforcement; the gateway notices silence as drift.
 */
export function createStatusReporter(
  url: string,
  token: string,
  log: Logger,
  fetchImpl: typeof fetch = fetch,
): (status: PepPolicyStatus) => Promise<void> {
  let inFlight: Promise<void> | undefined;
  let waiting: PepPolicyStatus | undefined;
  let failing = false;
  const send = async (status: PepPolicyStatus) => {
    try {
      const res = await fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(status),
        signal: AbortSignal.timeout(REPORT_TIMEOUT_MS),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
      if (failing) log('info', 'policy status reports delivered again', { url });
      failing = false;
    } catch (err) {
      if (!failing) log('warn', 'policy status report failed', { url, error: (err as Error).message });
      failing = true;
    }
  };
  const drain = async () => {
    while (waiting) {
      const next = waiting;
      waiting = undefined;
      await send(next);
    }
    inFlight = undefined;
  };
  return (status) => {
    waiting = status;
    inFlight ??= drain();
    return inFlight;
  };
}
