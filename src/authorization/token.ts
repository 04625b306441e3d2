/** /token: the authorization_code and refresh_token grants; access tokens and rotating refresh tokens. */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OAuthClient } from './clients.js';
import { OAuthError, readForm, sendJsonNoStore } from './http.js';
import { C, type CodeRecord, type RefreshFamily } from './records.js';
import { random, safeEqual, sha256 } from './crypto.js';
import { resourceOf } from './resources.js';
import { clientOf } from './client-authentication.js';
import { revokeFamily } from './revoke.js';
import type { FacadeContext } from './context.js';

const MAX_PREVIOUS_REFRESH = 50;

export async function token(ctx: FacadeContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readForm(req);
  const client = await clientOf(ctx, req, form);
  const grant = form.get('grant_type');
  let out: Record<string, unknown>;
  if (grant === 'authorization_code') out = await codeGrant(ctx, client, form);
  else if (grant === 'refresh_token') out = await refreshGrant(ctx, client, form);
  else throw new OAuthError('unsupported_grant_type', 'grant_type must be authorization_code or refresh_token');
  sendJsonNoStore(res, 200, out);
}

async function codeGrant(ctx: FacadeContext, client: OAuthClient, form: URLSearchParams): Promise<Record<string, unknown>> {
  const code = form.get('code');
  if (!code) throw new OAuthError('invalid_request', 'code is required');
  const id = sha256(code);
  const rec = await ctx.store.get<CodeRecord>(C.code, id);
  if (!rec) throw new OAuthError('invalid_grant', 'the authorization code is invalid');
  const c = rec.value;
  if (c.used) {
    // a replayed code: whatever it produced is revoked (RFC 6749 §4.1.2, OAuth 2.1 §4.1.3)
    if (c.familyId) await revokeFamily(ctx, c.familyId, 'authorization code replayed');
    throw new OAuthError('invalid_grant', 'the authorization code was already used');
  }
  // consume first: any attempt (even a failed one) spends the code
  if (!(await ctx.store.compareAndPut(C.code, id, { ...c, used: true }, rec.version))) {
    throw new OAuthError('invalid_grant', 'the authorization code was already used');
  }
  if (c.expiresAt < ctx.now()) throw new OAuthError('invalid_grant', 'the authorization code has expired');
  if (c.clientId !== client.client_id) throw new OAuthError('invalid_grant', 'the authorization code was issued to another client');
  if (form.get('redirect_uri') !== c.redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
  const verifier = form.get('code_verifier');
  if (!verifier || !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) throw new OAuthError('invalid_grant', 'code_verifier is missing or malformed');
  if (!safeEqual(createHash('sha256').update(verifier).digest('base64url'), c.codeChallenge)) throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
  const resource = requestedResource(ctx, form, c.resource);
  const familyId = random(18);
  const out = await issue(ctx, { clientId: c.clientId, sub: c.sub, scope: c.scope, resource, grantId: c.grantId }, familyId, undefined);
  const now = await ctx.store.get<CodeRecord>(C.code, id);
  if (now) await ctx.store.compareAndPut(C.code, id, { ...now.value, familyId }, now.version);
  return out;
}

/** the token request's `resource` must be the one granted (one resource per grant) */
function requestedResource(ctx: FacadeContext, form: URLSearchParams, granted: string): string {
  const asked = form.getAll('resource');
  if (asked.length === 0) return granted;
  if (asked.length > 1) throw new OAuthError('invalid_target', 'request one resource per token');
  const r = resourceOf(ctx, asked[0]!);
  if (!r || r !== granted) throw new OAuthError('invalid_target', 'the resource was not granted by this authorization');
  return r;
}

async function refreshGrant(ctx: FacadeContext, client: OAuthClient, form: URLSearchParams): Promise<Record<string, unknown>> {
  const token = form.get('refresh_token');
  if (!token) throw new OAuthError('invalid_request', 'refresh_token is required');
  const dot = token.indexOf('.');
  const familyId = dot > 0 ? token.slice(0, dot) : '';
  const rec = familyId ? await ctx.store.get<RefreshFamily>(C.refresh, familyId) : undefined;
  if (!rec) throw new OAuthError('invalid_grant', 'the refresh token is invalid');
  const f = rec.value;
  const hash = sha256(token);
  if (f.clientId !== client.client_id) throw new OAuthError('invalid_grant', 'the refresh token was issued to another client');
  if (f.revoked) throw new OAuthError('invalid_grant', 'the refresh token has been revoked');
  if (hash !== f.current) {
    if (f.previous.includes(hash)) {
      await revokeFamily(ctx, familyId, 'refresh token reused');
      throw new OAuthError('invalid_grant', 'the refresh token was already used; every token of this grant is revoked');
    }
    throw new OAuthError('invalid_grant', 'the refresh token is invalid');
  }
  if (f.expiresAt < ctx.now()) throw new OAuthError('invalid_grant', 'the refresh token has expired');
  const resource = requestedResource(ctx, form, f.resource);
  const asked = form.get('scope');
  let scope = f.scope;
  if (asked !== null) {
    const wanted = asked.split(' ').filter(Boolean);
    if (!wanted.every((s) => f.scope.includes(s))) throw new OAuthError('invalid_scope', 'a refresh cannot add scopes');
    scope = wanted;
  }
  return issue(ctx, { clientId: f.clientId, sub: f.sub, scope, resource, grantId: f.grantId }, familyId, rec);
}

/** a signed access token and a new refresh token (family created, or rotated with a version check) */
async function issue(
  ctx: FacadeContext,
  g: { clientId: string; sub: string; scope: readonly string[]; resource: string; grantId: string },
  familyId: string,
  existing: { value: RefreshFamily; version: number } | undefined,
): Promise<Record<string, unknown>> {
  const now = ctx.now();
  const refresh = `${familyId}.${random()}`;
  const hash = sha256(refresh);
  if (existing) {
    const f = existing.value;
    const next: RefreshFamily = { ...f, scope: f.scope, current: hash, previous: [...f.previous, f.current].slice(-MAX_PREVIOUS_REFRESH), expiresAt: now + ctx.refreshTtl * 1000 };
    if (!(await ctx.store.compareAndPut(C.refresh, familyId, next, existing.version))) {
      // a concurrent use of the same refresh token: treat as reuse
      await revokeFamily(ctx, familyId, 'refresh token used concurrently');
      throw new OAuthError('invalid_grant', 'the refresh token was already used; every token of this grant is revoked');
    }
  } else {
    const family: RefreshFamily = { clientId: g.clientId, sub: g.sub, scope: [...g.scope], resource: g.resource, grantId: g.grantId, current: hash, previous: [], expiresAt: now + ctx.refreshTtl * 1000, revoked: false };
    await ctx.store.put(C.refresh, familyId, family);
  }
  const iat = Math.floor(now / 1000);
  const accessToken = await ctx.keys.sign({
    iss: ctx.issuer,
    sub: g.sub,
    aud: g.resource,
    client_id: g.clientId,
    ...(g.scope.length > 0 ? { scope: g.scope.join(' ') } : {}),
    jti: randomUUID(),
    iat,
    nbf: iat,
    exp: iat + ctx.accessTtl,
  });
  return {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: ctx.accessTtl,
    refresh_token: refresh,
    scope: g.scope.join(' '),
  };
}
