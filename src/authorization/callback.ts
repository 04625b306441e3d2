/** /oauth/callback: the upstream login's answer → consent recorded, an authorization code for the client. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { aadOf, pathOf } from '../secrets/secret-box.js';
import { appendSetCookie, clearCookie, cookieName, parseCookies, redirect, sendErrorPage, setCookie } from './http.js';
import { C, type CodeRecord, type ConsentRecord, type UpstreamState } from './records.js';
import { random, safeEqual, sha256 } from './crypto.js';
import { errorRedirect } from './error-redirect.js';
import { consentCookie, consentIdOf } from './consent.js';
import type { FacadeContext } from './context.js';

const CODE_TTL_MS = 60_000;
const CONSENT_COOKIE_TTL_S = 30 * 24 * 3600;

export async function callback(ctx: FacadeContext, req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
  if (req.method !== 'GET') {
    req.resume();
    return sendErrorPage(res, 405, 'Use GET.');
  }
  const q = new URLSearchParams(query);
  const state = q.get('state');
  if (!state) return sendErrorPage(res, 400, 'The login response has no state.');
  const cookie = parseCookies(req).get(cookieName(ctx.cookies, 'gh_state'));
  if (!safeEqual(cookie, state)) return sendErrorPage(res, 400, 'The login response does not belong to this browser session (state mismatch). Start again from the application.');
  const id = sha256(state);
  const rec = await ctx.store.get<UpstreamState>(C.state, id);
  // single use: whoever deletes it owns it
  if (!rec || !(await ctx.store.delete(C.state, id))) return sendErrorPage(res, 400, 'The login response is unknown or was already used. Start again from the application.');
  appendSetCookie(res, clearCookie(ctx.cookies, 'gh_state'));
  const s = rec.value;
  if (s.expiresAt < ctx.now()) return sendErrorPage(res, 400, 'The login took too long (more than 10 minutes). Start again from the application.');
  const request = s.request;
  const upstreamError = q.get('error');
  if (upstreamError) {
    const error = upstreamError === 'access_denied' || upstreamError === 'temporarily_unavailable' ? upstreamError : 'access_denied';
    return errorRedirect(ctx, res, request.redirectUri, error, 'the sign-in at the identity provider did not succeed', request.state);
  }
  let result;
  try {
    const codeVerifier = ctx.box.open(s.codeVerifier, aadOf(C.state, id, pathOf('codeVerifier')));
    result = await ctx.upstream.finish(new URL(`${ctx.publicUrl}/oauth/callback?${query}`), { state, codeVerifier, nonce: s.nonce });
  } catch (err) {
    ctx.logger?.warn({ err: (err as Error).message, clientId: request.clientId }, 'the upstream login could not be completed');
    return errorRedirect(ctx, res, request.redirectUri, 'server_error', 'the sign-in at the identity provider could not be completed', request.state);
  }
  const now = ctx.now();
  const grantId = randomUUID();
  await ctx.store.put(C.upstream, grantId, {
    issuer: result.issuer,
    sub: result.sub,
    clientId: request.clientId,
    createdAt: now,
    tokens: ctx.box.seal(JSON.stringify(result.tokens), aadOf(C.upstream, grantId, pathOf('tokens'))),
  });
  // the consent registry: this user approved this client (for these scopes)
  const consentId = consentIdOf(result.sub, request.clientId);
  const prev = await ctx.store.get<ConsentRecord>(C.consent, consentId);
  const scope = [...new Set([...(prev?.value.scope ?? []), ...request.scope])];
  await ctx.store.put<ConsentRecord>(C.consent, consentId, { sub: result.sub, clientId: request.clientId, scope, updatedAt: now });
  const cookieValue = ctx.box.seal(JSON.stringify({ cid: request.clientId, sub: result.sub, exp: now + CONSENT_COOKIE_TTL_S * 1000 }), 'as-consent-cookie');
  appendSetCookie(res, setCookie(ctx.cookies, consentCookie(request.clientId), cookieValue, CONSENT_COOKIE_TTL_S));

  const code = random();
  const codeRecord: CodeRecord = { ...request, sub: result.sub, grantId, expiresAt: now + CODE_TTL_MS, used: false };
  await ctx.store.put(C.code, sha256(code), codeRecord);
  ctx.logger?.info({ clientId: request.clientId, resource: request.resource }, 'oauth authorization code issued');
  const u = new URL(request.redirectUri);
  u.searchParams.set('code', code);
  if (request.state !== undefined) u.searchParams.set('state', request.state);
  u.searchParams.set('iss', ctx.issuer);
  redirect(res, u.href);
}
