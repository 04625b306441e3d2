/** The start of the upstream provider's login, after consent. */
import type { ServerResponse } from 'node:http';
import { aadOf, pathOf } from '../secrets/secret-box.js';
import { appendSetCookie, redirect, setCookie } from './http.js';
import { C, type AuthRequest, type UpstreamState } from './records.js';
import { random, sha256 } from './crypto.js';
import { errorRedirect } from './error-redirect.js';
import type { FacadeContext } from './context.js';

const STATE_TTL_MS = 10 * 60_000;

/** after consent: a single-use state (stored, and in a cookie), then the upstream provider's login */
export async function startUpstream(ctx: FacadeContext, res: ServerResponse, request: AuthRequest): Promise<void> {
  const state = random();
  let login;
  try {
    login = await ctx.upstream.loginUrl(state);
  } catch (err) {
    ctx.logger?.warn({ err: (err as Error).message }, 'the upstream identity provider is unreachable');
    return errorRedirect(ctx, res, request.redirectUri, 'temporarily_unavailable', 'the identity provider is unreachable', request.state);
  }
  const value: UpstreamState = { request, codeVerifier: login.codeVerifier, nonce: login.nonce, expiresAt: ctx.now() + STATE_TTL_MS };
  await ctx.store.put(C.state, sha256(state), { ...value, codeVerifier: ctx.box.seal(login.codeVerifier, aadOf(C.state, sha256(state), pathOf('codeVerifier'))) });
  appendSetCookie(res, setCookie(ctx.cookies, 'gh_state', state, STATE_TTL_MS / 1000));
  redirect(res, login.url);
}
