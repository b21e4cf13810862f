import { z } from 'zod';

/**
 * JWS algorithms a bearer token may be signed with: asymmetric only. `none` carries no signature, and
 * with an HS* (shared-secret) algorithm whoever can verify a token can also mint one (RFC 8725 §2.1,
 * §3.1), so neither can be configured.
 */
export const ASYMMETRIC_ALGORITHMS = [
  'EdDSA',
  'Ed25519',
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
] as const;

const AlgorithmSchema = z.string().superRefine((alg, ctx) => {
  if (alg.toLowerCase() === 'none') {
    ctx.addIssue({ code: 'custom', message: '"none" is never accepted: an unsigned token proves nothing' });
  } else if (/^HS\d+$/i.test(alg)) {
    ctx.addIssue({
      code: 'custom',
      message: `${alg} is a shared-secret algorithm: whoever can verify a token could mint one (RFC 8725 §3.1); use an asymmetric one`,
    });
  } else if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) {
    ctx.addIssue({
      code: 'custom',
      message: `unknown algorithm; one of ${ASYMMETRIC_ALGORITHMS.join(', ')}`,
    });
  }
});

/** One scope token (RFC 6749 §3.3): printable ASCII without space, `"` or `\`, so it can sit in a header. */
export const ScopeSchema = z
  .string()
  .regex(
    /^[\x21\x23-\x5B\x5D-\x7E]+$/,
    'a scope is one token: printable ASCII without spaces, quotes or "\\"',
  );

const LOOPBACK_HOST = /^(localhost|127\.0\.0\.1|\[::1\])$/i;

/** Whether `value` is an https URL, or an http URL on a loopback host. */
export function isKeyUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOST.test(url.hostname));
}

/** Where verification keys come from: over plain http from another host they could be swapped in transit. */
const KeyUrlSchema = z.string().refine(isKeyUrl, 'must be an https URL (http only on a loopback host)');

/** RFC 8707 §2: a resource indicator is an absolute URI without a fragment. */
const ResourceSchema = z
  .url({ protocol: /^https?$/ })
  .refine((u) => !u.includes('#'), 'must not contain a fragment (RFC 8707 §2)');

/**
 * Who counts as a host: the application that took the user's request and may state it on a call in
 * `_meta["mcpgov/intent"]`, the most trusted intent. Any other caller's `_meta` intent is ignored (and
 * recorded as ignored): a model, or whatever steers it, could write one.
 */
export const HostsSchema = z.strictObject({
  /**
   * The program on the other end of stdio, which launched this enforcement point (the client of
   * `mcpgov gateway --stdio` or of `mcpgov sidecar`), or which calls the in-process sidecar's `govern`.
   */
  launcher: z.boolean().default(false),
  /** Callers with a verified token that maps to one of these agents. */
  agents: z.array(z.string().min(1)).default([]),
  /** Callers with a verified token carrying every claim of one entry (e.g. `{ client_id: chat-app }`). */
  claims: z
    .array(
      z
        .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
        .refine((c) => Object.keys(c).length > 0, 'an entry names at least one claim'),
    )
    .default([]),
});
export type HostsConfig = z.infer<typeof HostsSchema>;

/**
 * Who may call, and how the HTTP listener acts as an OAuth 2.1 resource server (MCP authorization):
 * token verification, and the RFC 9728 protected-resource metadata clients discover it by.
 */
export const IdentityConfigSchema = z
  .strictObject({
    /** Callers without a verified token act as this agent, marked unverified in evidence. */
    default_agent: z.string().optional(),
    /** Key source, one of three: a JWKS file that verifies bearer tokens ... */
    jwks: z.string().optional(),
    /** ... a JWKS URL, fetched and cached, fetched again for an unknown key id (rotation) ... */
    jwks_uri: KeyUrlSchema.optional(),
    /** ... or the issuer's `jwks_uri` from its OpenID Connect (or RFC 8414) metadata. */
    discovery: z.boolean().default(false),
    /** Required `iss`. */
    issuer: z.string().min(1).optional(),
    /** Required `aud`; default `resource`. */
    audience: z.string().min(1).optional(),
    algorithms: z
      .array(AlgorithmSchema)
      .min(1)
      .default([...ASYMMETRIC_ALGORITHMS]),
    /** Clock skew allowed on `exp` and `nbf`. */
    leeway_seconds: z.number().int().min(0).max(300).default(30),
    /** Scopes every token needs; one without them is answered 403 insufficient_scope. */
    required_scopes: z.array(ScopeSchema).default([]),
    /** This gateway's resource identifier (its MCP endpoint URL as clients reach it). */
    resource: ResourceSchema.optional(),
    /** Issuers of tokens for this resource, in the metadata; default `[issuer]`. */
    authorization_servers: z
      .array(z.url({ protocol: /^https?$/ }))
      .min(1)
      .optional(),
    /** Scopes the metadata advertises; default `required_scopes`. */
    scopes_supported: z.array(ScopeSchema).optional(),
    /** Callers trusted to state the user's request in `_meta["mcpgov/intent"]`; nobody by default. */
    hosts: HostsSchema.default({ launcher: false, agents: [], claims: [] }),
  })
  .superRefine((identity, ctx) => {
    const problem = (path: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [path], message });
    const sources = (['jwks', 'jwks_uri', 'discovery'] as const).filter(
      (k) => identity[k] !== undefined && identity[k] !== false,
    );
    if (sources.length > 1)
      problem(sources[1] ?? '', `choose one key source: ${sources.join(' and ')} are both set`);
    if (identity.discovery) {
      if (identity.issuer === undefined)
        problem('discovery', "needs identity.issuer: keys are found through the issuer's metadata");
      else if (!isKeyUrl(identity.issuer))
        problem('issuer', 'discovery needs an https issuer URL (http only on a loopback host)');
    }
    if (sources.length === 0) {
      for (const key of [
        'issuer',
        'audience',
        'resource',
        'authorization_servers',
        'scopes_supported',
      ] as const)
        if (identity[key] !== undefined)
          problem(key, 'has no effect without a key source (jwks, jwks_uri or discovery) to verify tokens');
      if (identity.required_scopes.length > 0)
        problem('required_scopes', 'has no effect without a key source (jwks, jwks_uri or discovery)');
      return;
    }
    if (identity.audience === undefined && identity.resource === undefined)
      problem(
        'audience',
        'required with token verification (or set identity.resource): otherwise a token issued for any other resource would be accepted (RFC 8707, MCP authorization)',
      );
    const issuerIsUrl = identity.issuer !== undefined && /^https?:\/\//i.test(identity.issuer);
    if (identity.authorization_servers === undefined && !issuerIsUrl)
      problem(
        'authorization_servers',
        'required when identity.issuer is not a URL: MCP clients find where to get a token in the protected-resource metadata (RFC 9728)',
      );
  });

/** The identity settings as written. */
export type IdentityConfig = z.infer<typeof IdentityConfigSchema>;
