/** /revoke (RFC 7009), and the revocation of a refresh-token family. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OAuthError, readForm } from './http.js';
import { C, type RefreshFamily } from './records.js';
import { sha256 } from './crypto.js';
import { clientOf } from './client-authentication.js';
import type { FacadeContext } from './context.js';

export async function revokeFamily(ctx: FacadeContext, familyId: string, reason: string): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const rec = await ctx.store.get<RefreshFamily>(C.refresh, familyId);
    if (!rec || rec.value.revoked) return;
    if (await ctx.store.compareAndPut(C.refresh, familyId, { ...rec.value, revoked: true, revokedReason: reason }, rec.version)) {
      ctx.logger?.warn({ clientId: rec.value.clientId, reason }, 'oauth refresh-token family revoked');
      return;
    }
  }
}

export async function revoke(ctx: FacadeContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readForm(req);
  const client = await clientOf(ctx, req, form);
  const token = form.get('token');
  if (!token) throw new OAuthError('invalid_request', 'token is required');
  const dot = token.indexOf('.');
  // refresh tokens are `<family>.<secret>`; JWT access tokens (three parts) expire by themselves
  if (dot > 0 && token.split('.').length === 2) {
    const familyId = token.slice(0, dot);
    const rec = await ctx.store.get<RefreshFamily>(C.refresh, familyId);
    const hash = sha256(token);
    if (rec && rec.value.clientId === client.client_id && (rec.value.current === hash || rec.value.previous.includes(hash))) {
      await revokeFamily(ctx, familyId, 'revoked by the client');
    }
  }
  // RFC 7009 §2.2: 200 whether or not the token was valid
  res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '0' });
  res.end();
}
