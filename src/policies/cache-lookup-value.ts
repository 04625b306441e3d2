/**
 * cache-lookup-value (APIM): look `key` up in the gateway's cache (./http/cache-codec.ts: values keep
 * their type) and assign it to `variable-name`. On a miss the variable gets `default-value` when the
 * attribute is given (a literal string, or an expression's value with its type), and is left alone
 * otherwise (so `context.Variables.ContainsKey(...)` tells a miss, as in APIM's samples).
 * caching-type internal|external|prefer-external all use the gateway's configured cache (`cache:`;
 * shared by every replica when it is Redis). A cache that doesn't answer counts as a miss (logged).
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { decodeValue, valueKey } from './http/cache-codec.js';
import { cancellationOf } from './http/cancel.js';
import { cacheOf, CACHING_TYPES } from './http/response-cache.js';

export const cacheLookupValue: PolicyDefinition = {
  name: 'cache-lookup-value',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: {
    key: { required: true },
    'default-value': {},
    'variable-name': { required: true, expressions: false },
    'caching-type': { expressions: false },
  },
  compile(el, cc) {
    cc.choice(el, 'caching-type', CACHING_TYPES, 'prefer-external');
    const key = cc.string(el, 'key');
    const varName = el.attributes.get('variable-name')?.raw ?? '';
    if (el.attributes.has('variable-name') && varName.trim() === '') cc.problem(el.attributes.get('variable-name')!, 'variable-name must not be empty');
    const def = el.attributes.has('default-value') ? cc.rawValue(el, 'default-value') : undefined;
    const cache = cc.services.cache;
    const logger = cc.services.logger;
    return {
      async run(ctx) {
        const cancel = cancellationOf(ctx);
        const k = key ? key(ctx) : '';
        const c = cacheOf(cache, 'cache-lookup-value');
        let hit: { value: unknown } | undefined;
        try {
          const text = await c.get(valueKey(k));
          hit = text === undefined ? undefined : decodeValue(text);
        } catch (err) {
          logger?.warn({ requestId: String(ctx.expr.requestId), policy: 'cache-lookup-value', err: { message: (err as Error).message } }, 'cache lookup failed; treated as a miss');
        }
        if (cancel?.aborted) return;
        if (hit) ctx.variables.set(varName, hit.value);
        else if (def) ctx.variables.set(varName, def(ctx));
      },
    };
  },
};
