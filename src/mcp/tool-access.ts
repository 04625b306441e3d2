/**
 * Per-caller authorization of a protected server's MCP traffic, checked after the server's
 * policies ran (so after validate-jwt / validate-azure-ad-token set the principal):
 *
 * - sessions are bound to the subject that created them: another subject's request → 404, as for
 *   an unknown session (MCP security best practices, "session hijacking");
 * - `tools[].scopes`: a tools/call needs every listed scope in the token (`scope`/`scp`), else 403
 *   `WWW-Authenticate: Bearer error="insufficient_scope", scope="<granted + required>"` in one
 *   challenge; with no validated token at all, 401 with the challenge;
 * - `toolAccess` rules: a governed tool is listed in tools/list and callable only for callers whose
 *   claim holds one of the rule's values (every matching rule must be satisfied).
 */
import { GatewayError } from '../errors/gateway-error.js';
import type { PassthroughServerConfig } from '../config/types.js';
import { bearerChallenge, type ProtectedResource } from '../auth/challenge.js';
import { claimHasAny, type Principal } from '../auth/principal.js';
import { globToRegExp, type ToolFilter } from './tool-filter.js';
import type { SessionRecord } from './sessions.js';

interface Rule {
  readonly tools: readonly RegExp[];
  readonly claim: string;
  readonly values: readonly string[];
}

export interface ServerAuthorization {
  readonly resource: ProtectedResource | undefined;
  readonly toolScopes: ReadonlyMap<string, readonly string[]>;
  readonly rules: readonly Rule[];
}

export function compileAuthorization(server: PassthroughServerConfig, resource: ProtectedResource | undefined): ServerAuthorization {
  const toolScopes = new Map<string, readonly string[]>();
  for (const t of server.tools) if (t.scopes.length > 0) toolScopes.set(t.name, t.scopes);
  const rules = server.toolAccess.map((r) => ({ tools: r.tools.map(globToRegExp), claim: r.claim, values: r.values }));
  return { resource, toolScopes, rules };
}

/** the server's curation plus the caller's tool-access rules */
export function filterFor(base: ToolFilter, auth: ServerAuthorization, principal: Principal | undefined): ToolFilter {
  if (auth.rules.length === 0) return base;
  return {
    active: true,
    allows(name: string): boolean {
      if (!base.allows(name)) return false;
      for (const r of auth.rules) {
        if (!r.tools.some((re) => re.test(name))) continue;
        if (!principal || !claimHasAny(principal, r.claim, r.values)) return false;
      }
      return true;
    },
  };
}

/** a tools/call of a tool with required scopes: 401 without a validated token, 403 without the scopes */
export function checkToolScopes(auth: ServerAuthorization, tool: string, principal: Principal | undefined): void {
  const required = auth.toolScopes.get(tool);
  if (!required) return;
  if (!principal) {
    const scopes = [...new Set([...(auth.resource?.scopes ?? []), ...required])];
    throw new GatewayError('GW_ERR_UNAUTHORIZED', 'Unauthorized: this tool requires an access token', { headers: { 'www-authenticate': bearerChallenge(auth.resource, { scopes }) } });
  }
  const missing = required.filter((s) => !principal.scopes.includes(s));
  if (missing.length === 0) return;
  const scopes = [...new Set([...principal.scopes, ...required])];
  const description = `The tool "${tool}" requires the scopes: ${required.join(' ')}`;
  throw new GatewayError('GW_ERR_INSUFFICIENT_SCOPE', `Forbidden: insufficient scope. ${description}`, {
    headers: { 'www-authenticate': bearerChallenge(auth.resource, { error: 'insufficient_scope', description, scopes }) },
  });
}

/** the session belongs to the caller (null = created without a token, used without one) */
export function checkSubject(record: SessionRecord, principal: Principal | undefined): void {
  if ((record.subject ?? null) !== (principal?.subject ?? null)) {
    throw new GatewayError('GW_ERR_SESSION_NOT_FOUND', 'Session not found', { jsonRpcCode: -32001 });
  }
}
