/** The consent page, its answer (/consent), and the consent registry (cookie + per user and client record). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OAuthClient } from './clients.js';
import { appendSetCookie, clearCookie, cookieName, escapeHtml, parseCookies, readForm, sendErrorPage, sendPage } from './http.js';
import { C, type ConsentRecord, type PendingRequest } from './records.js';
import { safeEqual, sha256 } from './crypto.js';
import { errorRedirect } from './error-redirect.js';
import { startUpstream } from './upstream-login.js';
import type { FacadeContext } from './context.js';

export function consentPage(ctx: FacadeContext, res: ServerResponse, client: OAuthClient, r: PendingRequest, requestId: string): void {
  const host = new URL(r.redirectUri).host;
  const name = client.client_name ?? client.client_id;
  const loopback = /^(localhost|127\.|\[::1\])/.test(new URL(r.redirectUri).hostname);
  const scopes = r.scope.length > 0 ? r.scope.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('') : '<li>(no specific scope)</li>';
  const upstream = ctx.upstream.settings.scopes.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('');
  const body = `<h1>Authorize ${escapeHtml(name)}</h1>
<p><strong>${escapeHtml(name)}</strong>${client.kind === 'metadata-document' ? ` (<code>${escapeHtml(client.client_id)}</code>)` : ''} asks to access <code>${escapeHtml(r.resource)}</code> on your behalf.</p>
<p>After you approve, you sign in at <code>${escapeHtml(new URL(ctx.upstream.settings.issuer).host)}</code> and access is sent to <strong>${escapeHtml(host)}</strong>:</p>
<p><code>${escapeHtml(r.redirectUri)}</code></p>
${loopback ? '<p class="warn">This redirect address is on your own computer (localhost). Approve only if you started this application yourself.</p>' : ''}
<p>Requested permissions:</p><ul>${scopes}</ul>
<p>Permissions requested from the identity provider:</p><ul>${upstream}</ul>
<form method="post" action="${escapeHtml(`${ctx.basePath}/consent`)}">
<input type="hidden" name="request" value="${escapeHtml(requestId)}">
<input type="hidden" name="csrf" value="${escapeHtml(r.csrf)}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`;
  sendPage(res, 200, `Authorize ${name}`, body);
}

/** consent cookie (sealed: client, upstream subject) + the server-side registry entry for that subject and client */
export async function hasConsent(ctx: FacadeContext, req: IncomingMessage, clientId: string, scope: readonly string[]): Promise<boolean> {
  const raw = parseCookies(req).get(cookieName(ctx.cookies, consentCookie(clientId)));
  if (!raw) return false;
  let v: { cid?: string; sub?: string; exp?: number };
  try {
    v = JSON.parse(ctx.box.open(decodeURIComponent(raw), 'as-consent-cookie')) as typeof v;
  } catch {
    return false;
  }
  if (v.cid !== clientId || typeof v.sub !== 'string' || typeof v.exp !== 'number' || v.exp < ctx.now()) return false;
  const rec = await ctx.store.get<ConsentRecord>(C.consent, consentIdOf(v.sub, clientId));
  return rec !== undefined && scope.every((s) => rec.value.scope.includes(s));
}

export function consentCookie(clientId: string): string {
  return `gh_consent_${sha256(clientId).slice(0, 16)}`;
}

export function consentIdOf(sub: string, clientId: string): string {
  return `${sha256(sub)}:${sha256(clientId)}`;
}

export async function consent(ctx: FacadeContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') {
    req.resume();
    return sendErrorPage(res, 405, 'Use the consent form.');
  }
  let form: URLSearchParams;
  try {
    form = await readForm(req);
  } catch {
    return sendErrorPage(res, 400, 'The consent form could not be read.');
  }
  const requestId = form.get('request') ?? '';
  const rec = requestId ? await ctx.store.get<PendingRequest>(C.request, requestId) : undefined;
  if (!rec) return sendErrorPage(res, 400, 'This authorization request is unknown or has already been answered. Start again from the application.');
  const pending = rec.value;
  const cookie = parseCookies(req).get(cookieName(ctx.cookies, 'gh_csrf'));
  const token = form.get('csrf') ?? undefined;
  if (!safeEqual(token, pending.csrf) || !safeEqual(cookie, pending.csrf)) {
    return sendErrorPage(res, 403, 'The consent form is missing its CSRF token or the token does not match. Start again from the application.');
  }
  // single use: the first answer wins
  if (!(await ctx.store.delete(C.request, requestId))) return sendErrorPage(res, 400, 'This authorization request has already been answered.');
  appendSetCookie(res, clearCookie(ctx.cookies, 'gh_csrf'));
  if (pending.expiresAt < ctx.now()) return sendErrorPage(res, 400, 'This authorization request has expired. Start again from the application.');
  const { csrf: _c, expiresAt: _e, ...request } = pending;
  void _c;
  void _e;
  const decision = form.get('decision');
  if (decision === 'approve') return startUpstream(ctx, res, request);
  ctx.logger?.info({ clientId: request.clientId }, 'oauth consent denied');
  return errorRedirect(ctx, res, request.redirectUri, 'access_denied', 'the user denied the request', request.state);
}
