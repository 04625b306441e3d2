/**
 * cache-store (APIM): store this run's answer in the response cache for `duration` seconds when
 * cache-lookup missed for it (without a cache-lookup before it, it does nothing). Only successful
 * JSON-RPC results are stored — see ./http/response-cache.ts — with HTTP 200, or any 2xx with
 * cache-response="true". With downstream-caching-type private/public the answer also gets a
 * Cache-Control header.
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { intAttribute } from './http/attrs.js';
import { cacheableResult, cacheControl, cacheOf, lookupStateOf, type CachedAnswer } from './http/response-cache.js';

const MAX_STORED_BYTES = 4 * 1024 * 1024;

export const cacheStore: PolicyDefinition = {
  name: 'cache-store',
  sections: ['outbound'],
  attributes: { duration: { required: true }, 'cache-response': {} },
  compile(el, cc) {
    const duration = intAttribute(el, cc, 'duration', { min: 0, max: 10 * 365 * 86_400 });
    const cacheResponse = cc.bool(el, 'cache-response', false);
    const cache = cc.services.cache;
    return {
      async run(ctx) {
        const state = lookupStateOf(ctx);
        if (!state || !ctx.hasResponse) return;
        const seconds = duration ? duration(ctx) : 0;
        if (seconds <= 0) return;
        const res = ctx.response;
        const okStatus = res.statusCode === 200 || (cacheResponse(ctx) && res.statusCode >= 200 && res.statusCode < 300);
        if (!okStatus || !res.body) return;
        if (res.headers.has('mcp-session-id') || res.headers.has('set-cookie')) return;
        const type = (res.headers.get('content-type')?.[0] ?? '').split(';', 1)[0]!.trim().toLowerCase();
        const text = res.body.peekText();
        if (text.length > MAX_STORED_BYTES) return;
        const result = cacheableResult(type, text, state.id);
        if (result === undefined) return;
        const answer: CachedAnswer = { r: result, exp: Date.now() + seconds * 1000 };
        try {
          await cacheOf(cache, 'cache-store').set(state.key, JSON.stringify(answer), seconds * 1000);
        } catch (err) {
          if (!cache) throw err;
          cc.services.logger?.warn({ requestId: String(ctx.expr.requestId), policy: 'cache-store', err: { message: (err as Error).message } }, 'cache store failed');
          return;
        }
        const header = cacheControl(state, seconds);
        if (header) {
          res.headers.set('cache-control', header);
          ctx.touchedResponseHeaders.add('cache-control');
        }
      },
    };
  },
};
