/** Authorization errors sent back to the client's (verified) redirect URI. */
import type { ServerResponse } from 'node:http';
import { redirect } from './http.js';
import type { FacadeContext } from './context.js';

/** redirect an authorization error to the client (its redirect URI was verified) */
export function errorRedirect(ctx: FacadeContext, res: ServerResponse, redirectUri: string, error: string, description: string, state: string | undefined): void {
  const u = new URL(redirectUri);
  u.searchParams.set('error', error);
  u.searchParams.set('error_description', description);
  if (state !== undefined) u.searchParams.set('state', state);
  u.searchParams.set('iss', ctx.issuer);
  redirect(res, u.href);
}
