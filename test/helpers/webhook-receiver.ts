import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST a receiver got: its headers and raw body. */
export interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** What the receiver answers the n-th delivery (from 1): a status, and optional headers. */
export type Answer = (n: number) => { status: number; headers?: Record<string, string> };

/** A real HTTP webhook receiver on 127.0.0.1, keeping every delivery in order. */
export interface WebhookReceiver {
  url: string;
  deliveries: Delivery[];
  /** Resolves once `count` deliveries have arrived. */
  received(count: number): Promise<Delivery[]>;
  close(): Promise<void>;
}

/** Starts a receiver answering each POST with `answer(n)` (default 200). */
export async function startReceiver(answer: Answer = () => ({ status: 200 })): Promise<WebhookReceiver> {
  const deliveries: Delivery[] = [];
  const waiters: { count: number; resolve: (d: Delivery[]) => void }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const { status, headers } = answer(deliveries.length);
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(status < 300 ? 'ok' : 'not now');
      for (const w of waiters.filter((w) => deliveries.length >= w.count)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve([...deliveries]);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    received(count) {
      if (deliveries.length >= count) return Promise.resolve([...deliveries]);
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback URL nothing listens on (a port that was free a moment ago): a receiver that is down. */
export async function downUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/hook`;
}
