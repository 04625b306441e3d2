/**
 * cache-lookup (APIM): answer from the response cache when a fresh answer is there, without calling
 * the backend; otherwise remember the key so cache-store (outbound) stores this run's answer.
 * For MCP the cached answers are those of JSON-RPC requests (tools/call …), keyed on method and
 * params — see ./http/response-cache.ts for exactly what is cached and how the key is made.
 *
 * <cache-lookup vary-by-developer="false" vary-by-developer-groups="false"
 *   caching-type="prefer-external|external|internal" downstream-caching-type="none|private|public"
 *   must-revalidate="true" allow-private-response-caching="false">
 *   <vary-by-header>Accept</vary-by-header> <vary-by-query-parameter>a;b</vary-by-query-parameter>
 * </cache-lookup>
 */
import type { PolicyDefinition, ValueGetter } from '../pipeline/types.js';
import { newResponse } from '../pipeline/context.js';
import { RETURN } from '../pipeline/errors.js';
import { checkAttributes, choiceOrExpression } from './http/attrs.js';
import { cacheableRequest, cacheControl, cacheOf, CACHING_TYPES, paramsForKey, responseCacheKey, setLookupState, type CachedAnswer } from './http/response-cache.js';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const cacheLookup: PolicyDefinition = {
  name: 'cache-lookup',
  sections: ['inbound'],
  attributes: {
    'vary-by-developer': { required: true },
    'vary-by-developer-groups': { required: true },
    'caching-type': { expressions: false },
    'downstream-caching-type': {},
    'must-revalidate': {},
    'allow-private-response-caching': {},
  },
  children: ['vary-by-header', 'vary-by-query-parameter'],
  compile(el, cc) {
    const byDeveloper = cc.bool(el, 'vary-by-developer', false);
    const byGroups = cc.bool(el, 'vary-by-developer-groups', false);
    cc.choice(el, 'caching-type', CACHING_TYPES, 'prefer-external');
    const downstream = choiceOrExpression(el, cc, 'downstream-caching-type', ['none', 'private', 'public'] as const, 'none');
    const mustRevalidate = cc.bool(el, 'must-revalidate', true);
    const allowPrivate = cc.bool(el, 'allow-private-response-caching', false);
    const headers: ValueGetter<string>[] = [];
    const queries: ValueGetter<string>[] = [];
    for (const c of el.children) {
      if (c.type !== 'element') continue;
      checkAttributes(c, cc, []);
      const t = c.text;
      if (!t || t.raw.trim() === '') {
        cc.problem(c, `<${c.name}> needs a name`);
        continue;
      }
      if (c.name === 'vary-by-header' && !t.expression && !HEADER_NAME.test(t.raw.trim())) cc.problem(t, `"${t.raw.trim()}" is not a valid header name`);
      const g = cc.text(c);
      if (g) (c.name === 'vary-by-header' ? headers : queries).push(g);
    }
    const cache = cc.services.cache;
    return {
      async run(ctx) {
        if (!allowPrivate(ctx) && ctx.request.headers.has('authorization')) return;
        const req = cacheableRequest(ctx);
        if (!req) return;
        const c = cacheOf(cache, 'cache-lookup');
        const vary: unknown[] = [];
        for (const h of headers) {
          const name = h(ctx).trim().toLowerCase();
          vary.push(['h', name, ctx.request.headers.get(name) ?? null]);
        }
        for (const q of queries) {
          for (const name of q(ctx).split(';').map((s) => s.trim()).filter(Boolean)) vary.push(['q', name, ctx.request.url.query.get(name) ?? null]);
        }
        if (byDeveloper(ctx)) vary.push(['d', ctx.expr.user?.id ?? ctx.expr.subscription?.id ?? '']);
        if (byGroups(ctx)) vary.push(['g', (ctx.expr.user?.groups ?? []).map((g) => g.id).sort()]);
        const key = responseCacheKey([ctx.expr.api.id, req.method, paramsForKey(req.params), vary]);
        const state = { key, id: req.id, downstream: downstream(ctx), mustRevalidate: mustRevalidate(ctx) };
        let stored: CachedAnswer | undefined;
        try {
          const text = await c.get(key);
          stored = text === undefined ? undefined : (JSON.parse(text) as CachedAnswer);
        } catch (err) {
          cc.services.logger?.warn({ requestId: String(ctx.expr.requestId), policy: 'cache-lookup', err: { message: (err as Error).message } }, 'cache lookup failed; treated as a miss');
        }
        const now = Date.now();
        if (!stored || typeof stored.r !== 'string' || !(stored.exp > now)) {
          setLookupState(ctx, state);
          return;
        }
        const res = newResponse(200, 'OK', `{"jsonrpc":"2.0","id":${JSON.stringify(req.id)},"result":${stored.r}}`);
        res.headers.set('content-type', 'application/json');
        const cc2 = cacheControl(state, (stored.exp - now) / 1000);
        if (cc2) res.headers.set('cache-control', cc2);
        ctx.setResponse(res);
        throw RETURN;
      },
    };
  },
};
