/** /register: dynamic client registration (RFC 7591). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientIp, readJson, sendJsonNoStore } from './http.js';
import type { FacadeContext } from './context.js';

export async function register(ctx: FacadeContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!(await ctx.registerLimit.take(clientIp(req, ctx.trustProxy)))) {
    req.resume();
    return sendJsonNoStore(res, 429, { error: 'invalid_request', error_description: 'too many client registrations from this address; try again later' }, { 'retry-after': '3600' });
  }
  const client = await ctx.clients.register(await readJson(req));
  const { kind: _kind, ...body } = client;
  void _kind;
  ctx.logger?.info({ clientId: client.client_id, clientName: client.client_name, redirectUris: client.redirect_uris }, 'oauth client registered');
  sendJsonNoStore(res, 201, body);
}
