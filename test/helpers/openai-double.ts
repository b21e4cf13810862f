import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for an OpenAI-compatible endpoint: a real HTTP server on 127.0.0.1 that speaks
 * the part of the chat-completions API the SDK uses (`POST /v1/chat/completions`). Each test scripts
 * the replies, one per request in order, and reads back the requests it received.
 */

/** Token use reported in a completion's `usage`. */
export interface DoubleUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

/** What the double does with one request. */
export type DoubleReply =
  /** A 200 chat completion whose message content is `content` (any text, valid JSON or not). */
  | {
      kind: 'completion';
      content: string | null;
      refusal?: string;
      finishReason?: string;
      usage?: DoubleUsage | null;
      model?: string;
    }
  /** An HTTP error in the API's error shape. */
  | {
      kind: 'error';
      status: number;
      message: string;
      param?: string;
      code?: string;
      headers?: Record<string, string>;
    }
  /** A 200 whose body is not JSON at all. */
  | { kind: 'raw'; body: string }
  /** `reply`, but only after `afterMs` (the double's own timer, cleared on close). */
  | { kind: 'slow'; afterMs: number; reply: DoubleReply };

/** A request as the double received it. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** The body bytes as received, decoded as UTF-8. */
  raw: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  body: ChatRequestBody | undefined;
}

/** The parts of a chat-completions request tests look at. */
export interface ChatRequestBody {
  model: string;
  messages: { role: string; content: string }[];
  response_format?: { type: string; json_schema?: { name: string; strict?: boolean; schema: unknown } };
  [key: string]: unknown;
}

/** A running double. */
export interface OpenAiDouble {
  /** Base URL for the SDK, e.g. `http://127.0.0.1:41234/v1`. */
  baseUrl: string;
  /** Every request received, oldest first. */
  requests: ReceivedRequest[];
  /** Queues replies for the next requests, in order. A request with nothing queued gets a 500. */
  script(...replies: DoubleReply[]): void;
  close(): Promise<void>;
}

/** A completion whose content is `result` as JSON: what a well-behaved judge model returns. */
export function verdictReply(
  result: unknown,
  usage: DoubleUsage | null = { prompt_tokens: 100, completion_tokens: 20 },
): DoubleReply {
  return { kind: 'completion', content: JSON.stringify(result), usage };
}

/** Starts a double on 127.0.0.1 with an ephemeral port. */
export async function startOpenAiDouble(): Promise<OpenAiDouble> {
  const queue: DoubleReply[] = [];
  const requests: ReceivedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let served = 0;

  const answer = (res: ServerResponse, reply: DoubleReply, model: string): void => {
    switch (reply.kind) {
      case 'slow': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!res.destroyed) answer(res, reply.reply, model);
        }, reply.afterMs);
        timers.add(timer);
        return;
      }
      case 'error':
        sendJson(
          res,
          reply.status,
          {
            error: {
              message: reply.message,
              type: 'invalid_request_error',
              param: reply.param ?? null,
              code: reply.code ?? null,
            },
          },
          reply.headers,
        );
        return;
      case 'raw':
        res.writeHead(200, { 'content-type': 'application/json' }).end(reply.body);
        return;
      case 'completion':
        sendJson(res, 200, {
          id: `chatcmpl-double-${served}`,
          object: 'chat.completion',
          created: 1_767_225_600,
          model: reply.model ?? model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: reply.content, refusal: reply.refusal ?? null },
              logprobs: null,
              finish_reason: reply.finishReason ?? 'stop',
            },
          ],
          ...(reply.usage !== null && {
            usage: {
              ...(reply.usage ?? { prompt_tokens: 100, completion_tokens: 20 }),
              total_tokens: (reply.usage?.prompt_tokens ?? 100) + (reply.usage?.completion_tokens ?? 20),
            },
          }),
        });
        return;
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: ChatRequestBody | undefined;
      try {
        body = JSON.parse(raw) as ChatRequestBody;
      } catch {
        body = undefined;
      }
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      requests.push({ method: req.method ?? '', path: url.pathname, headers: req.headers, raw, body });
      served++;
      if (req.method !== 'POST' || url.pathname !== '/v1/chat/completions') {
        sendJson(res, 404, {
          error: { message: `no route ${req.method} ${url.pathname}`, type: 'not_found' },
        });
        return;
      }
      const reply = queue.shift();
      if (!reply) {
        sendJson(res, 500, { error: { message: 'the double has no reply scripted', type: 'server_error' } });
        return;
      }
      answer(res, reply, body?.model ?? 'unknown');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    script: (...replies) => void queue.push(...replies),
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}
