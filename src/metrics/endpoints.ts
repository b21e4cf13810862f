import type { IncomingMessage, ServerResponse } from 'node:http';
import { readiness, type ReadinessCheck } from './health.js';
import type { PepMetrics } from './pep-metrics.js';

/** Paths of the probes, as load balancers and Kubernetes expect them. */
export const LIVENESS_PATH = '/healthz';
export const READINESS_PATH = '/readyz';
export const METRICS_PATH = '/metrics';

/** An HTTP route: answers and returns true, or returns false when the path is not its own. */
export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

/**
 * `/healthz` (200 while the process serves) and `/readyz` (200 when every check passes, else 503),
 * each a small JSON body of check names and states. No authentication: they tell nothing else, and
 * a load balancer or kubelet probes without credentials.
 */
export function probeRoutes(checks: Readonly<Record<string, ReadinessCheck>>): Route {
  return async (req, res, url) => {
    if (url.pathname !== LIVENESS_PATH && url.pathname !== READINESS_PATH) return false;
    if (!readOnly(req, res)) return true;
    if (url.pathname === LIVENESS_PATH) {
      send(res, req, 200, 'application/json; charset=utf-8', JSON.stringify({ status: 'ok' }));
      return true;
    }
    const { ready, checks: states } = await readiness(checks);
    const body = JSON.stringify({ status: ready ? 'ready' : 'not_ready', checks: states });
    send(res, req, ready ? 200 : 503, 'application/json; charset=utf-8', body);
    return true;
  };
}

/** `/metrics`: the enforcement point's registry in the Prometheus text format. */
export function metricsRoute(metrics: PepMetrics): Route {
  return async (req, res, url) => {
    if (url.pathname !== METRICS_PATH) return false;
    if (!readOnly(req, res)) return true;
    const { contentType, body } = await metrics.exposition();
    send(res, req, 200, contentType, body);
    return true;
  };
}

/** Only GET and HEAD: anything else is answered 405 here. */
function readOnly(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  res.setHeader('allow', 'GET, HEAD');
  const error = { code: 'method_not_allowed', message: 'use GET or HEAD' };
  send(res, req, 405, 'application/json; charset=utf-8', JSON.stringify({ error }));
  return false;
}

function send(res: ServerResponse, req: IncomingMessage, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
