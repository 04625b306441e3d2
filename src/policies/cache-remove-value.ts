/**
 * cache-remove-value (APIM): remove the value stored under `key` (see cache-store-value). Removing a
 * key that isn't there is not an error; a cache that doesn't answer is logged and the request goes on.
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { valueKey } from './http/cache-codec.js';
import { cacheOf, CACHING_TYPES } from './http/response-cache.js';

export const cacheRemoveValue: PolicyDefinition = {
  name: 'cache-remove-value',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: { key: { required: true }, 'caching-type': { expressions: false } },
  compile(el, cc) {
    cc.choice(el, 'caching-type', CACHING_TYPES, 'prefer-external');
    const key = cc.string(el, 'key');
    const cache = cc.services.cache;
    const logger = cc.services.logger;
    return {
      async run(ctx) {
        const k = key ? key(ctx) : '';
        const c = cacheOf(cache, 'cache-remove-value');
        try {
          await c.delete(valueKey(k));
        } catch (err) {
          logger?.warn({ requestId: String(ctx.expr.requestId), policy: 'cache-remove-value', err: { message: (err as Error).message } }, 'cache remove failed');
        }
      },
    };
  },
};
