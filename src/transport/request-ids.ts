import { isObject } from './jsonrpc-lines.js';

/** A JSON-RPC request id (`1` and `"1"` are different ids). */
export type RequestId = string | number;

/** One incoming message's or batch's hold on its request ids until the requests reach their handler. */
export interface IdClaim {
  readonly ids: readonly RequestId[];
}

/**
 * The ids of one session's requests in flight: received and not yet answered. JSON-RPC pairs an answer
 * with its request by id alone, so a second request under the id of one still in flight would take the
 * first one's answer or lose it (MCP, basic protocol: a request id "MUST NOT have been previously used
 * by the requestor within the same session"). Such a request is refused instead, and the first goes on.
 */
export class InFlightIds {
  /** Each id's claim while its request is on the way in, `delivered` once its handler has it. */
  private readonly ids = new Map<RequestId, IdClaim | 'delivered'>();

  /**
   * Claims the ids of an incoming message or batch, or, when one of them is in flight already (or is
   * repeated in the batch), claims none and returns that id.
   */
  claim(ids: readonly RequestId[]): { ok: true; claim: IdClaim } | { ok: false; id: RequestId } {
    const seen = new Set<RequestId>();
    for (const id of ids) {
      if (this.ids.has(id) || seen.has(id)) return { ok: false, id };
      seen.add(id);
    }
    const claim: IdClaim = { ids };
    for (const id of ids) this.ids.set(id, claim);
    return { ok: true, claim };
  }

  /** The request reached its handler: its id stays in flight until it is answered or cancelled. */
  delivered(id: RequestId): void {
    if (this.ids.has(id)) this.ids.set(id, 'delivered');
  }

  /** The request was answered, or cancelled (then no answer comes): its id is free again. */
  settled(id: RequestId): void {
    this.ids.delete(id);
  }

  /** Ends a claim: ids whose requests never reached a handler (refused on the way) are free again. */
  release(claim: IdClaim): void {
    for (const id of claim.ids) if (this.ids.get(id) === claim) this.ids.delete(id);
  }

  clear(): void {
    this.ids.clear();
  }

  /** How many ids are claimed or in flight. */
  get size(): number {
    return this.ids.size;
  }
}

const isId = (id: unknown): id is RequestId => typeof id === 'string' || typeof id === 'number';

/** The ids of the requests (members with a method and an id) in a parsed message or batch. */
export function requestIds(body: unknown): RequestId[] {
  const messages = Array.isArray(body) ? (body as unknown[]) : [body];
  const ids: RequestId[] = [];
  for (const m of messages) {
    if (isObject(m) && typeof m['method'] === 'string' && isId(m['id'])) ids.push(m['id']);
  }
  return ids;
}

/** The request a `notifications/cancelled` message cancels, if the message is one. */
export function cancelledId(message: unknown): RequestId | undefined {
  if (!isObject(message) || message['method'] !== 'notifications/cancelled') return undefined;
  const params = message['params'];
  const id = isObject(params) ? params['requestId'] : undefined;
  return isId(id) ? id : undefined;
}

/** The id of a response (a result or an error), if the message is one. */
export function responseId(message: unknown): RequestId | undefined {
  if (!isObject(message) || message['method'] !== undefined) return undefined;
  const id = message['id'];
  return isId(id) ? id : undefined;
}
