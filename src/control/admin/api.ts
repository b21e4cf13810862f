import { z } from 'zod';
import type { ApprovalService, WaiverRefusal } from '../../approvals/service.js';
import { RequestStateSchema, type ApproverPrincipal, type VerdictRefusal } from '../../approvals/types.js';
import type { ApiError } from './http.js';

/** An /api request once its caller is authenticated (and its body, if any, read as JSON). */
export interface ApiRequest {
  method: string;
  /** Path segments after `/api`. */
  path: string[];
  query: URLSearchParams;
  body?: unknown;
  principal: ApproverPrincipal;
}

/** What an /api route answers: a status and a JSON body, or an error. */
export type ApiAnswer = { status: number; body: unknown } | { error: ApiError };

const TEXT_MAX = 2000;
const Text = z.string().trim().min(1).max(TEXT_MAX);

/** `POST /api/approvals/:id/approve|deny`. */
const VerdictBodySchema = z.strictObject({
  reason: Text,
  args_digest: z
    .string()
    .regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex digits>')
    .optional(),
});

/** `POST /api/waivers`: WaiverInput. */
const WaiverBodySchema = z.strictObject({
  agent: Text,
  tool: Text,
  args_match: z.json().optional(),
  until: z.string().min(1).max(100),
  reason: Text,
  compensating: Text,
});

/** `POST /api/waivers/:id/revoke`. */
const RevokeBodySchema = z.strictObject({ reason: Text });

const LimitSchema = z.coerce.number().int().positive().max(10_000);

/** Body methods per route shape, so a wrong method is told apart from an unknown path. */
const ROUTES: { pattern: RegExp; methods: string[] }[] = [
  { pattern: /^approvals$/, methods: ['GET'] },
  { pattern: /^approvals\/[^/]+$/, methods: ['GET'] },
  { pattern: /^approvals\/[^/]+\/(approve|deny)$/, methods: ['POST'] },
  { pattern: /^waivers$/, methods: ['GET', 'POST'] },
  { pattern: /^waivers\/[^/]+\/revoke$/, methods: ['POST'] },
  { pattern: /^whoami$/, methods: ['GET'] },
];

/** The methods the path accepts; undefined when no route has this path. */
export function allowedMethods(path: string[]): string[] | undefined {
  const joined = path.join('/');
  return ROUTES.find((r) => r.pattern.test(joined))?.methods;
}

/** Whether the route reads a body. */
export function takesBody(method: string): boolean {
  return method === 'POST';
}

/** HTTP status of a refused verdict (the codes are ApprovalService's). */
const VERDICT_STATUS: Record<VerdictRefusal, number> = {
  unknown_request: 404,
  not_pending: 409,
  expired: 409,
  binding_changed: 409,
  not_allowed: 403,
  step_up_required: 403,
};

/** HTTP status of a refused waiver change. */
const WAIVER_STATUS: Record<WaiverRefusal, number> = {
  invalid: 400,
  too_long: 400,
  step_up_required: 403,
  not_allowed: 403,
  unknown_waiver: 404,
};

/**
 * The approvals API over ApprovalService: every verdict goes through `decide`, every waiver through
 * `addWaiver` / `revokeWaiver`, so the API refuses exactly what every other channel refuses.
 */
export function approvalsApi(approvals: ApprovalService) {
  return async (req: ApiRequest): Promise<ApiAnswer> => {
    const [resource, id, action] = req.path;
    const { principal } = req;

    if (resource === 'whoami') {
      const { approver, teams, owners, tiers } = principal;
      return { status: 200, body: { approver, teams, owners, tiers } };
    }

    if (resource === 'approvals' && id === undefined) {
      const state = req.query.get('state');
      const parsedState = state === null ? undefined : RequestStateSchema.safeParse(state);
      if (parsedState && !parsedState.success)
        return malformed(`state must be one of ${RequestStateSchema.options.join(', ')}`);
      const limit = req.query.get('limit');
      const parsedLimit = limit === null ? undefined : LimitSchema.safeParse(limit);
      if (parsedLimit && !parsedLimit.success) return malformed('limit must be an integer from 1 to 10000');
      const requests = await approvals.list({ state: parsedState?.data, limit: parsedLimit?.data });
      return { status: 200, body: { requests } };
    }

    if (resource === 'approvals' && id !== undefined && action === undefined) {
      const request = await approvals.get(id);
      if (!request) return refused(404, 'unknown_request', `no approval request ${id}`);
      return { status: 200, body: { request } };
    }

    if (resource === 'approvals' && id !== undefined && (action === 'approve' || action === 'deny')) {
      const body = VerdictBodySchema.safeParse(req.body);
      if (!body.success) return malformed(problems(body.error));
      const verdict = action === 'approve' ? 'approve' : 'deny';
      const result = await approvals.decide(id, { verdict, ...body.data }, principal);
      if (!result.ok) return refused(VERDICT_STATUS[result.code], result.code, result.message);
      return { status: 200, body: { request: result.request } };
    }

    if (resource === 'waivers' && id === undefined && req.method === 'GET') {
      const active = req.query.get('active');
      if (active !== null && active !== 'true' && active !== 'false')
        return malformed('active must be true or false');
      const waivers = await approvals.listWaivers({ active: active === 'true' });
      return { status: 200, body: { waivers } };
    }

    if (resource === 'waivers' && id === undefined && req.method === 'POST') {
      const body = WaiverBodySchema.safeParse(req.body);
      if (!body.success) return malformed(problems(body.error));
      const result = await approvals.addWaiver(body.data, principal);
      if (!result.ok) return refused(WAIVER_STATUS[result.code], result.code, result.message);
      return { status: 201, body: { waiver: result.waiver } };
    }

    if (resource === 'waivers' && id !== undefined && action === 'revoke') {
      const body = RevokeBodySchema.safeParse(req.body);
      if (!body.success) return malformed(problems(body.error));
      const result = await approvals.revokeWaiver(id, body.data.reason, principal);
      if (!result.ok) return refused(WAIVER_STATUS[result.code], result.code, result.message);
      return { status: 200, body: { waiver: result.waiver } };
    }

    return refused(404, 'not_found', `no API route /api/${req.path.join('/')}`);
  };
}

function refused(status: number, code: string, message: string): ApiAnswer {
  return { error: { status, code, message } };
}

function malformed(message: string): ApiAnswer {
  return refused(400, 'malformed', message);
}

/** zod's issues as one line: `reason: Too small ...; args_digest: must be ...`. */
function problems(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : 'body'}: ${i.message}`)
    .join('; ');
}
