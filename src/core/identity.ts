/** Who is calling: a verified token's claims, or the configured default agent marked unverified. */
export interface Identity {
  verified: boolean;
  iss?: string;
  sub?: string;
  spiffe_id?: string;
  client_id?: string;
  /** Scopes granted by the token, when it carries any; they narrow the agent's registered scopes. */
  scopes?: string[];
  /** SHA-256 of the token's `jti`; the raw token never enters evidence. */
  token_jti_sha256?: string;
  claims: Record<string, unknown>;
  /** The agent id this identity maps to, or undefined when no registry entry matches. */
  agentId?: string;
}
