/** The client of a /token or /revoke request (client_id, or HTTP Basic with the client id). */
import type { IncomingMessage } from 'node:http';
import type { OAuthClient } from './clients.js';
import { OAuthError } from './http.js';
import type { FacadeContext } from './context.js';

export async function clientOf(ctx: FacadeContext, req: IncomingMessage, form: URLSearchParams): Promise<OAuthClient> {
  let clientId = form.get('client_id') ?? undefined;
  const auth = req.headers.authorization;
  if (auth && /^basic /i.test(auth)) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const user = decodeURIComponent(decoded.slice(0, Math.max(decoded.indexOf(':'), 0)) || decoded);
    if (clientId !== undefined && clientId !== user) throw new OAuthError('invalid_request', 'client_id differs from the Authorization header', 400);
    clientId = user;
  }
  if (!clientId) throw new OAuthError('invalid_client', 'client_id is required', 401);
  let client: OAuthClient | undefined;
  try {
    client = await ctx.clients.find(clientId);
  } catch (err) {
    if (err instanceof OAuthError) throw new OAuthError('invalid_client', err.description, 401);
    throw err;
  }
  if (!client) throw new OAuthError('invalid_client', 'unknown client', 401);
  return client;
}
