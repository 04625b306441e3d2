/** /authorize: the authorization request (PKCE S256, one resource), answered by the consent page or the upstream login. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OAuthClient } from './clients.js';
import { OAuthError, appendSetCookie, clientIp, sendErrorPage, setCookie } from './http.js';
import { C, type AuthRequest, type PendingRequest } from './records.js';
import { random } from './crypto.js';
import { resourceOf } from './resources.js';
import { errorRedirect } from './error-redirect.js';
import { consentPage, hasConsent } from './consent.js';
import { startUpstream } from './upstream-login.js';
import type { FacadeContext } from './context.js';

const REQUEST_TTL_MS = 10 * 60_000;
const CODE_CHALLENGE_RE = /^[A-Za-z0-9._~-]{43,128}$/;

export async function authorize(ctx: FacadeContext, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    req.resume();
    return sendErrorPage(res, 405, 'Use GET for the authorization endpoint.');
  }
  if (!(await ctx.authorizeLimit.take(clientIp(req, ctx.trustProxy)))) return sendErrorPage(res, 429, 'Too many authorization requests; try again later.');
  for (const k of new Set(q.keys())) if (q.getAll(k).length > 1 && k !== 'resource') return sendErrorPage(res, 400, `The parameter "${k}" is repeated.`);
  const clientId = q.get('client_id') ?? '';
  if (!clientId) return sendErrorPage(res, 400, 'The request has no client_id.');
  let client: OAuthClient | undefined;
  try {
    client = await ctx.clients.find(clientId);
  } catch (err) {
    if (err instanceof OAuthError) return sendErrorPage(res, 400, `The client cannot be used: ${err.description}`);
    throw err;
  }
  if (!client) return sendErrorPage(res, 400, 'Unknown client_id: register the client first.');
  const asked = q.get('redirect_uri');
  const redirectUri = asked ?? (client.redirect_uris.length === 1 ? client.redirect_uris[0]! : undefined);
  // exact string match against the registered URIs; never redirect to an unverified URI
  if (redirectUri === undefined || !client.redirect_uris.includes(redirectUri)) {
    return sendErrorPage(res, 400, asked === null ? 'The request has no redirect_uri.' : 'The redirect_uri is not registered for this client.');
  }
  const state = q.get('state') ?? undefined;
  const fail = (error: string, description: string) => errorRedirect(ctx, res, redirectUri, error, description, state);
  if (state !== undefined && state.length > 2048) return fail('invalid_request', 'state is too long');
  if (q.get('response_type') !== 'code') return fail('unsupported_response_type', 'response_type must be code');
  const challenge = q.get('code_challenge');
  const method = q.get('code_challenge_method');
  if (!challenge) return fail('invalid_request', 'PKCE is required: code_challenge is missing');
  if (method !== 'S256') return fail('invalid_request', 'PKCE code_challenge_method must be S256');
  if (!CODE_CHALLENGE_RE.test(challenge)) return fail('invalid_request', 'code_challenge is malformed');
  const resources = q.getAll('resource');
  if (resources.length > 1) return fail('invalid_target', 'request one resource per authorization');
  const resource = resources.length === 1 ? resourceOf(ctx, resources[0]!) : ctx.publicUrl;
  if (!resource) return fail('invalid_target', 'the resource is not an MCP server of this gateway');
  const requested = (q.get('scope') ?? '').split(' ').filter(Boolean);
  const scope = [...new Set(requested.filter((s) => ctx.scopes.includes(s)))];
  const request: AuthRequest = { clientId, redirectUri, codeChallenge: challenge, resource, scope, state };

  // consent already given by this (upstream) user to this client: straight to the upstream login
  if (await hasConsent(ctx, req, clientId, scope)) return startUpstream(ctx, res, request);

  const csrf = random();
  const requestId = random();
  const pending: PendingRequest = { ...request, csrf, expiresAt: ctx.now() + REQUEST_TTL_MS };
  await ctx.store.put(C.request, requestId, pending);
  appendSetCookie(res, setCookie(ctx.cookies, 'gh_csrf', csrf, REQUEST_TTL_MS / 1000));
  consentPage(ctx, res, client, pending, requestId);
}
