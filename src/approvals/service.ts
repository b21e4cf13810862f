import type { ApprovalsConfig } from '../config/approvals-schema.js';
import type { EvidenceSink, PepInfo } from '../evidence/types.js';
import { compileLogic, freezeInput, truthy } from '../policy/json-logic.js';
import { globMatch } from '../registry/glob.js';
import type { Logger } from '../util/log.js';
import { randomUUIDv7 } from '../util/uuid.js';
import { approvalRecord, waiverRecord } from './records.js';
import type { ApprovalStore } from './store.js';
import type {
  ApprovalRequest,
  ApproverPrincipal,
  CallBinding,
  DecideResult,
  RequestState,
  Tier,
  VerdictInput,
  Waiver,
  WaiverInput,
} from './types.js';

/** How often expiries are looked for, and verdicts made elsewhere recorded. */
const SWEEP_MS = 1000;
/** Longest reason or compensating-control text accepted. */
const MAX_TEXT = 2000;

/** How a held call ended. */
export type HeldOutcome =
  | { state: 'approved'; request: ApprovalRequest }
  | { state: 'denied'; request: ApprovalRequest }
  | { state: 'expired' | 'withdrawn' | 'interrupted'; request: ApprovalRequest };

/** What the enforcer knows of an escalated call when it opens a request for it. */
export type NewRequest = Omit<
  ApprovalRequest,
  'id' | 'state' | 'created_at' | 'expires_at' | 'verdict' | 'grant' | 'verdict_recorded' | 'interrupted'
> & { timeoutSeconds: number };

/** How a request stopped being pending, as this enforcement point recorded it. */
export type SettledEvent = 'decided' | 'expired' | 'withdrawn';

/** Why a waiver was refused; nothing changed. */
export type WaiverRefusal = 'invalid' | 'too_long' | 'step_up_required' | 'not_allowed' | 'unknown_waiver';

export interface ApprovalServiceOptions {
  store: ApprovalStore;
  config: ApprovalsConfig;
  evidence: EvidenceSink;
  pep: PepInfo;
  log: Logger;
  /** Milliseconds since the epoch; injectable for tests. */
  clock?: () => number;
}

/**
 * Approvals and waivers at one enforcement point: opens requests for escalated calls, holds calls
 * until their verdict, uses grants and waivers, and is the one function (`decide`) every approver
 * channel (CLI, admin API, console, elicitation) decides through. Every event is an evidence record.
 */
export class ApprovalService {
  readonly store: ApprovalStore;
  readonly config: ApprovalsConfig;
  private readonly clock: () => number;
  /** Held calls waiting for a verdict, by request id. */
  private readonly waiting = new Map<
    string,
    { request: ApprovalRequest; finish: (outcome: HeldOutcome) => void; interruption?: Promise<void> }
  >();
  /** Requests being opened: a shutdown waits for them, as their calls are about to be held. */
  private readonly opening = new Set<Promise<unknown>>();
  /** Set by a shutdown: a call held from then on is interrupted at once. */
  private interrupting = false;
  private readonly created = new Set<(request: ApprovalRequest) => void>();
  private readonly settled = new Set<(request: ApprovalRequest, event: SettledEvent) => void>();
  /**
   * Verdicts this process is recording now, by request: whoever else needs one recorded (the held
   * call, a grant's use, the sweep) waits for that recording instead of writing a second.
   */
  private readonly recording = new Map<string, Promise<void>>();
  /** Verdicts this process recorded whose store entry is not yet marked recorded (the sweep marks them). */
  private readonly recorded = new Set<string>();
  private waiverSnapshot: { id: string; agent: string; tool: string; until: string }[] = [];

  private sweeper?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private stopVerdicts?: () => void;

  constructor(private readonly opts: ApprovalServiceOptions) {
    this.store = opts.store;
    this.config = opts.config;
    this.clock = opts.clock ?? Date.now;
  }

  /** Starts expiring requests and waivers, and noticing verdicts other processes wrote. */
  start(): void {
    if (this.sweeper) return;
    this.stopVerdicts = this.store.onVerdict((request) => void this.verdictSeen(request));
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_MS);
    this.sweeper.unref();
    void this.sweep();
  }

  /** The waivers in force as of the last sweep or change (for status reports), at most 200. */
  activeWaivers(): { id: string; agent: string; tool: string; until: string }[] {
    return this.waiverSnapshot;
  }

  private async refreshWaivers(): Promise<void> {
    const active = await this.store.listWaivers({ active: true, now: this.clock() });
    this.waiverSnapshot = active
      .slice(0, 200)
      .map((w) => ({ id: w.id, agent: w.agent, tool: w.tool, until: w.until }));
  }

  /** Tells `listener` of every request opened here (webhooks, the console's inbox). */
  onCreated(listener: (request: ApprovalRequest) => void): () => void {
    this.created.add(listener);
    return () => this.created.delete(listener);
  }

  /**
   * Tells `listener` of every request this enforcement point records as decided, expired or
   * withdrawn, once per request whichever process gave the verdict (metrics).
   */
  onSettled(listener: (request: ApprovalRequest, event: SettledEvent) => void): () => void {
    this.settled.add(listener);
    return () => this.settled.delete(listener);
  }

  private tellSettled(request: ApprovalRequest, event: SettledEvent): void {
    for (const listener of this.settled) {
      try {
        listener(request, event);
      } catch (err) {
        this.opts.log('warn', 'approval listener failed', { error: (err as Error).message });
      }
    }
  }

  // --- the enforcer's side ---

  /** An active waiver covering this call, if any. */
  async findWaiver(
    agent: string | undefined,
    tool: string,
    args: Record<string, unknown>,
  ): Promise<Waiver | undefined> {
    const now = this.clock();
    for (const w of await this.store.listWaivers({ active: true, now })) {
      if (w.agent !== '*' && w.agent !== agent) continue;
      if (!globMatch(w.tool, tool)) continue;
      if (w.args_match !== undefined && !argsMatch(w.args_match, tool, args)) continue;
      return w;
    }
    return undefined;
  }

  /** Records that a waiver changed a decision. */
  async waiverUsed(waiver: Waiver, decisionId: string, waived: 'deny' | 'escalate'): Promise<void> {
    await this.append(
      waiverRecord(this.opts.pep, waiver, 'used', new Date(this.clock()), { decisionId, waived }),
      false,
    );
  }

  /**
   * Uses the single-use grant bound to exactly this call (at most once, whoever asks); only request
   * `requestId`'s when given (a held call's own).
   */
  async takeGrant(
    binding: CallBinding,
    decisionId: string,
    requestId?: string,
  ): Promise<ApprovalRequest | undefined> {
    const grant = await this.store.useGrant(binding, decisionId, this.clock(), requestId);
    // A verdict given elsewhere (a CLI on this machine) may not be evidence yet: it goes before its use.
    if (grant && !grant.verdict_recorded) {
      await this.recordOnce(grant.id).catch((err: Error) =>
        this.opts.log('error', 'approval verdict not recorded before its grant was used', {
          request: grant.id,
          error: err.message,
        }),
      );
    }
    return grant;
  }

  /** Records a grant's use by the decision that used it (after that decision's own record). */
  async grantUsed(request: ApprovalRequest, decisionId: string): Promise<void> {
    // Not waited on for durability: what proves the call was approved is durable already (the
    // verdict's record, and a retry's own decision record naming the request); this links the two,
    // like the action record that follows.
    await this.append(
      approvalRecord(this.opts.pep, request, 'grant_used', new Date(this.clock()), decisionId),
      false,
    );
  }

  /** Opens a request for an escalated call and records it; approvers are told. */
  async open(input: NewRequest): Promise<ApprovalRequest> {
    const opened = this.openRequest(input);
    this.opening.add(opened);
    try {
      return await opened;
    } finally {
      this.opening.delete(opened);
    }
  }

  private async openRequest(input: NewRequest): Promise<ApprovalRequest> {
    const now = this.clock();
    const { timeoutSeconds, ...fields } = input;
    const request: ApprovalRequest = {
      ...fields,
      id: randomUUIDv7(),
      state: 'pending',
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + timeoutSeconds * 1000).toISOString(),
    };
    await this.store.create(request);
    await this.append(approvalRecord(this.opts.pep, request, 'created', new Date(now)));
    for (const listener of this.created) {
      try {
        listener(request);
      } catch (err) {
        this.opts.log('warn', 'approval listener failed', { error: (err as Error).message });
      }
    }
    return request;
  }

  /**
   * Holds a call until its request is decided, expires, or the client cancels (`signal`): then the
   * request is withdrawn. `tick` is called every `progress_seconds` with the seconds waited so far.
   */
  hold(
    request: ApprovalRequest,
    signal: AbortSignal | undefined,
    tick?: (waitedSeconds: number) => void,
  ): Promise<HeldOutcome> {
    return new Promise<HeldOutcome>((resolve) => {
      // Counted, not read off the clock: MCP progress must increase with every notification, and
      // rounded clock readings (or a test's fixed clock) repeat.
      let ticks = 0;
      const every = this.config.progress_seconds;
      // (In milliseconds' precision, so 0.2 s steps read 0.6, not 0.6000000000000001.)
      const progress =
        tick && setInterval(() => tick(Math.round(++ticks * every * 1000) / 1000), every * 1000);
      // At its expiry the request is expired here, unless another process sharing the store (a CLI
      // listing requests) already did: then only reading it again tells this call.
      const expire = async () => {
        await this.sweep();
        const now = await this.store.get(request.id);
        if (now && now.state !== 'pending') await this.verdictSeen(now);
      };
      const expiry = setTimeout(
        () => void expire().catch(() => {}), // the sweep tries again every second
        Math.max(0, Date.parse(request.expires_at) - this.clock()) + 5,
      );
      const onAbort = () => void this.withdraw(request.id);
      const finish = (outcome: HeldOutcome) => {
        clearInterval(progress);
        clearTimeout(expiry);
        signal?.removeEventListener('abort', onAbort);
        this.waiting.delete(request.id);
        resolve(outcome);
      };
      this.waiting.set(request.id, { request, finish });
      if (this.interrupting) void this.interrupt(request);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();
      // A verdict may have come before the wait began (an approver quicker than this call's record).
      void this.store
        .get(request.id)
        .then((now) => (now && now.state !== 'pending' ? this.verdictSeen(now) : undefined))
        .catch(() => {}); // the sweep and the expiry timer look again
    });
  }

  /** Cuts every held call short (shutdown): each is answered `approval_interrupted`, its request kept. */
  async interruptAll(): Promise<void> {
    this.interrupting = true;
    // A call whose request is being opened (its record written) is held next: it is interrupted
    // too, not left waiting on a closed enforcement point.
    await Promise.allSettled([...this.opening]);
    await Promise.all([...this.waiting.values()].map(({ request }) => this.interrupt(request)));
  }

  /** Answers one held call `approval_interrupted`; its request stays decidable (and leaves a grant). */
  private interrupt(request: ApprovalRequest): Promise<void> {
    const held = this.waiting.get(request.id);
    if (!held) return Promise.resolve();
    held.interruption ??= (async () => {
      await this.store.interrupt(request.id).catch(() => {});
      await this.append(approvalRecord(this.opts.pep, request, 'interrupted', new Date(this.clock()))).catch(
        (err: Error) => this.opts.log('error', 'approval interruption not recorded', { error: err.message }),
      );
      held.finish({ state: 'interrupted', request: { ...request, interrupted: true } });
    })();
    return held.interruption;
  }

  // --- the approvers' side: one function decides, whatever the channel ---

  async get(id: string): Promise<ApprovalRequest | undefined> {
    return this.store.get(id);
  }

  async list(filter: { state?: RequestState; limit?: number } = {}): Promise<ApprovalRequest[]> {
    await this.expireNow();
    return this.store.list(filter);
  }

  /**
   * Decides a pending request for `principal`, or refuses with a code and a clear message and changes
   * nothing: an unknown, decided or expired request; an approver not allowed for its tier, its tool's
   * owner or its named approvers; the agent's own owner under separation of duties; an approval of a
   * step-up tier without a recent, stepped-up authentication; a request whose binding is not the one
   * the approver was shown.
   */
  async decide(id: string, input: VerdictInput, principal: ApproverPrincipal): Promise<DecideResult> {
    const reason = input.reason.trim();
    if (reason === '' || reason.length > MAX_TEXT) {
      return {
        ok: false,
        code: 'not_allowed',
        message: `a reason of 1 to ${MAX_TEXT} characters is required`,
      };
    }
    const request = await this.store.get(id);
    if (!request) return { ok: false, code: 'unknown_request', message: `no approval request ${id}` };
    if (input.args_digest !== undefined && input.args_digest !== request.binding.args_digest) {
      return {
        ok: false,
        code: 'binding_changed',
        message: `request ${id} is bound to arguments ${request.binding.args_digest}, not the ${input.args_digest} you were shown`,
      };
    }
    const refused = this.mayDecide(request, principal, input.verdict);
    if (refused) return refused;
    const now = this.clock();
    const deciding = this.store
      .decide(
        id,
        { verdict: input.verdict, reason, approver: principal.approver, at: new Date(now).toISOString() },
        now,
        new Date(now + this.config.grant_seconds * 1000).toISOString(),
        // A call held here for this request uses the grant in the same step: one store write, not two.
        this.waiting.has(id) ? request.decision_id : undefined,
      )
      .then(async (result) => {
        if (result.ok) await this.recordVerdict(result.request);
        return result;
      });
    // Registered before the store announces the verdict, so its listeners wait for this record.
    const recorded = deciding.then(() => undefined);
    recorded.catch(() => {}); // the caller of decide() is told of a failure
    this.recording.set(id, recorded);
    let result: DecideResult;
    try {
      result = await deciding;
    } finally {
      if (this.recording.get(id) === recorded) this.recording.delete(id);
    }
    // The verdict is evidence before its held call goes on (and uses the grant).
    if (result.ok) this.settle(result.request);
    return result;
  }

  /** Why `principal` may not give this verdict on `request`; undefined when they may. */
  mayDecide(
    request: ApprovalRequest,
    principal: ApproverPrincipal,
    verdict: 'approve' | 'deny',
  ): Extract<DecideResult, { ok: false }> | undefined {
    const who = principal.approver.sub;
    const no = (message: string) => ({ ok: false as const, code: 'not_allowed' as const, message });
    if (!principal.tiers.includes(request.tier))
      return no(`${who} may not decide ${request.tier}-tier requests`);
    if (
      request.owner !== undefined &&
      !principal.owners.includes('*') &&
      !principal.owners.includes(request.owner)
    )
      return no(`${who} may not decide requests for tools owned by ${request.owner}`);
    if (request.approvers.length > 0 && !request.approvers.includes(who))
      return no(
        `request ${request.id} names its approvers (${request.approvers.join(', ')}); ${who} is not one`,
      );
    if (
      this.config.separation_of_duties &&
      request.agent_owner !== undefined &&
      principal.teams.includes(request.agent_owner)
    )
      return no(
        `separation of duties: ${who} belongs to ${request.agent_owner}, which owns agent ${request.binding.agent ?? '(none)'}; another approver must decide`,
      );
    if (verdict === 'approve') {
      const stepUp = this.stepUpProblem(request.tier, principal);
      if (stepUp) return { ok: false, code: 'step_up_required', message: stepUp };
    }
    return undefined;
  }

  /** Why `principal`'s authentication is not enough for `tier`; undefined when it is. */
  stepUpProblem(tier: Tier, principal: ApproverPrincipal): string | undefined {
    const { step_up } = this.config;
    if (!step_up.tiers.includes(tier) || principal.localDev) return undefined;
    const a = principal.approver;
    const need = `${tier}-tier approvals need a step-up authentication`;
    if (a.auth_time === undefined) return `${need}: the token has no auth_time`;
    const age = this.clock() / 1000 - a.auth_time;
    if (age > step_up.max_auth_age_seconds)
      return `${need} within the last ${step_up.max_auth_age_seconds} s; this token's auth_time is ${Math.round(age)} s old: sign in again`;
    const acrOk = a.acr !== undefined && step_up.acr.includes(a.acr);
    const amrOk = (a.amr ?? []).some((m) => step_up.amr.includes(m));
    if (!acrOk && !amrOk) {
      const wanted = [...step_up.acr.map((v) => `acr ${v}`), ...step_up.amr.map((v) => `amr ${v}`)];
      return `${need}: the token carries none of ${wanted.join(', ') || '(no step-up value is configured)'}`;
    }
    return undefined;
  }

  // --- waivers ---

  async listWaivers(filter: { active?: boolean } = {}): Promise<Waiver[]> {
    return this.store.listWaivers({ ...filter, now: this.clock() });
  }

  /**
   * Creates a waiver, or refuses it (changing nothing): malformed, past, longer than
   * `waivers.max_days`, or by an approver without the step-up a critical approval needs.
   */
  async addWaiver(
    input: WaiverInput,
    principal: ApproverPrincipal,
  ): Promise<{ ok: true; waiver: Waiver } | { ok: false; code: WaiverRefusal; message: string }> {
    const now = this.clock();
    const invalid = (message: string) => ({ ok: false as const, code: 'invalid' as const, message });
    for (const [key, value] of Object.entries({
      agent: input.agent,
      tool: input.tool,
      reason: input.reason,
      compensating: input.compensating,
    })) {
      if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_TEXT)
        return invalid(`${key}: a text of 1 to ${MAX_TEXT} characters is required`);
    }
    const until = parseUntil(input.until, now);
    if (until === undefined)
      return invalid(`until: "${input.until}" is neither an ISO time nor a duration like 2h or 7d`);
    if (until <= now) return invalid(`until: ${new Date(until).toISOString()} is in the past`);
    const maxMs = this.config.waivers.max_days * 24 * 3600 * 1000;
    if (until - now > maxMs)
      return {
        ok: false,
        code: 'too_long',
        message: `a waiver may last at most ${this.config.waivers.max_days} days (waivers.max_days)`,
      };
    if (input.args_match !== undefined) {
      const compiled = compileLogic(input.args_match);
      if (!compiled.ok) return invalid(`args_match: ${compiled.problems.map((p) => p.message).join('; ')}`);
    }
    if (!principal.tiers.includes('critical'))
      return {
        ok: false,
        code: 'not_allowed',
        message: `${principal.approver.sub} may not decide critical-tier requests, so may not create waivers`,
      };
    const stepUp = this.stepUpProblem('critical', principal);
    if (stepUp)
      return {
        ok: false,
        code: 'step_up_required',
        message: `a waiver needs what a critical approval needs: ${stepUp}`,
      };
    const waiver: Waiver = {
      id: randomUUIDv7(),
      agent: input.agent.trim(),
      tool: input.tool.trim(),
      ...(input.args_match === undefined ? {} : { args_match: input.args_match as Waiver['args_match'] }),
      created_at: new Date(now).toISOString(),
      until: new Date(until).toISOString(),
      reason: input.reason.trim(),
      compensating: input.compensating.trim(),
      by: principal.approver,
    };
    await this.store.addWaiver(waiver);
    await this.refreshWaivers().catch(() => {});
    await this.append(waiverRecord(this.opts.pep, waiver, 'created', new Date(now)));
    return { ok: true, waiver };
  }

  async revokeWaiver(
    id: string,
    reason: string,
    principal: ApproverPrincipal,
  ): Promise<{ ok: true; waiver: Waiver } | { ok: false; code: WaiverRefusal; message: string }> {
    if (reason.trim() === '' || reason.length > MAX_TEXT)
      return { ok: false, code: 'invalid', message: `a reason of 1 to ${MAX_TEXT} characters is required` };
    const now = this.clock();
    const waiver = await this.store.revokeWaiver(id, {
      at: new Date(now).toISOString(),
      reason: reason.trim(),
      by: principal.approver,
    });
    if (!waiver) return { ok: false, code: 'unknown_waiver', message: `no active waiver ${id}` };
    await this.append(waiverRecord(this.opts.pep, waiver, 'revoked', new Date(now)));
    await this.refreshWaivers().catch(() => {});
    return { ok: true, waiver };
  }

  /** Stops the sweep; held calls are interrupted first by the kernel's shutdown. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.stopVerdicts?.();
    await this.sweeping;
    await this.markRecorded().catch((err: Error) =>
      this.opts.log('error', 'approvals store not told which verdicts are recorded', { error: err.message }),
    );
    await this.store.close();
  }

  // --- inside ---

  /** A request reached a verdict (here or in another process): its held call, if any, goes on. */
  private settle(request: ApprovalRequest): void {
    const finish = this.waiting.get(request.id)?.finish;
    if (!finish) return;
    if (request.state === 'approved' || request.state === 'denied') finish({ state: request.state, request });
    else if (request.state === 'expired' || request.state === 'withdrawn')
      finish({ state: request.state, request });
  }

  /**
   * A verdict this process did not give, or gave before a held call began to wait: recorded (once)
   * if no enforcement point has recorded it yet, then its held call, if any, goes on.
   */
  private async verdictSeen(request: ApprovalRequest): Promise<void> {
    if (!request.verdict_recorded) {
      try {
        await this.recordOnce(request.id);
      } catch (err) {
        this.opts.log('error', 'approval verdict not recorded; its held call waits', {
          request: request.id,
          error: (err as Error).message,
        });
        return;
      }
    }
    this.settle(request);
  }

  /** Records a request's verdict unless it is evidence already, or waits for the recording under way. */
  private recordOnce(id: string): Promise<void> {
    if (this.recorded.has(id)) return Promise.resolve();
    const underWay = this.recording.get(id);
    if (underWay) return underWay;
    const work = (async () => {
      // Read afresh: whoever asked may hold a copy older than a recording that finished since.
      const current = await this.store.get(id);
      if (current?.verdict && !current.verdict_recorded) await this.recordVerdict(current);
    })();
    this.recording.set(id, work);
    const done = () => {
      if (this.recording.get(id) === work) this.recording.delete(id);
    };
    work.then(done, done);
    return work;
  }

  private async withdraw(id: string): Promise<void> {
    const request = await this.store.withdraw(id, this.clock()).catch(() => undefined);
    if (!request) return;
    const recorded = await this.append(
      approvalRecord(this.opts.pep, request, 'withdrawn', new Date(this.clock())),
    ).then(
      () => true,
      () => false,
    );
    if (recorded) this.tellSettled(request, 'withdrawn');
    this.settle(request);
  }

  private async expireNow(): Promise<void> {
    const now = this.clock();
    for (const request of await this.store.expire(now)) {
      await this.append(approvalRecord(this.opts.pep, request, 'expired', new Date(now)));
      this.tellSettled(request, 'expired');
      this.settle(request);
    }
  }

  private sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        await this.expireNow();
        const now = this.clock();
        for (const waiver of await this.store.expireWaivers(now)) {
          await this.append(waiverRecord(this.opts.pep, waiver, 'expired', new Date(now)));
        }
        await this.markRecorded();
        await this.refreshWaivers();
        for (const request of await this.store.unrecordedVerdicts()) await this.verdictSeen(request);
      } catch (err) {
        this.opts.log('error', 'approvals sweep failed', { error: (err as Error).message });
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  /**
   * Writes the verdict's record. The store is told it is recorded afterwards (`markRecorded`), off
   * the held call's path.
   */
  private async recordVerdict(request: ApprovalRequest): Promise<void> {
    const at = request.verdict ? new Date(request.verdict.at) : new Date(this.clock());
    await this.append(approvalRecord(this.opts.pep, request, 'decided', at));
    // The store learns it is recorded at the next sweep (or at close), off the held call's path;
    // until then this process remembers it, so nothing here records it twice.
    this.recorded.add(request.id);
    this.tellSettled(request, 'decided');
  }

  /** Tells the store which verdicts this process has recorded since the last time. */
  private async markRecorded(): Promise<void> {
    for (const id of [...this.recorded]) {
      await this.store.markVerdictRecorded(id);
      this.recorded.delete(id);
    }
  }

  private append(record: Parameters<EvidenceSink['append']>[0], durable = true): Promise<unknown> {
    return this.opts.evidence.append(record, { durable });
  }
}

/** Whether a waiver's `args_match` holds for this call. */
function argsMatch(logic: unknown, tool: string, args: Record<string, unknown>): boolean {
  const compiled = compileLogic(logic);
  if (!compiled.ok) return false;
  try {
    return truthy(compiled.logic.evaluate(freezeInput({ call: { name: tool, arguments: args } }) as object));
  } catch {
    return false;
  }
}

/** An ISO time, or a duration from `now` (`90m`, `2h`, `7d`); undefined when neither. */
export function parseUntil(text: string, now: number): number | undefined {
  const duration = /^(\d+)\s*([smhd])$/.exec(text.trim());
  if (duration) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as 's' | 'm' | 'h' | 'd'];
    return now + Number(duration[1]) * unit;
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(text.trim())) return undefined;
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
}
