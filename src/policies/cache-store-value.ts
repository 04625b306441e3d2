/**
 * cache-store-value (APIM): store `value` under `key` in the gateway's cache for `duration` seconds.
 * The value keeps its C# type (./http/cache-codec.ts). A duration of 0 stores nothing; values larger
 * than 4 MiB are not stored (logged); a value that can't be cached (e.g. an IResponse) is an error (Reason "CacheValueNotSupported").
 * A cache that doesn't answer is logged and the request goes on (APIM's store is best effort too).
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { PolicyFailure } from '../pipeline/errors.js';
import { encodeValue, MAX_CACHED_VALUE_BYTES, valueKey } from './http/cache-codec.js';
import { intAttribute } from './http/attrs.js';
import { cacheOf, CACHING_TYPES } from './http/response-cache.js';

export const cacheStoreValue: PolicyDefinition = {
  name: 'cache-store-value',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: {
    key: { required: true },
    value: { required: true },
    duration: { required: true },
    'caching-type': { expressions: false },
  },
  compile(el, cc) {
    cc.choice(el, 'caching-type', CACHING_TYPES, 'prefer-external');
    const key = cc.string(el, 'key');
    const value = cc.rawValue(el, 'value');
    const duration = intAttribute(el, cc, 'duration', { min: 0, max: 10 * 365 * 86_400 });
    const cache = cc.services.cache;
    const logger = cc.services.logger;
    return {
      async run(ctx) {
        const k = key ? key(ctx) : '';
        const seconds = duration ? duration(ctx) : 0;
        const v = value ? value(ctx) : null;
        let encoded: string;
        try {
          encoded = encodeValue(v);
        } catch (err) {
          throw new PolicyFailure({ source: 'cache-store-value', reason: 'CacheValueNotSupported', message: `cache-store-value: ${(err as Error).message}`, status: 500 }, { cause: err });
        }
        const c = cacheOf(cache, 'cache-store-value');
        if (seconds <= 0) return;
        if (Buffer.byteLength(encoded) > MAX_CACHED_VALUE_BYTES) {
          logger?.warn({ requestId: String(ctx.expr.requestId), policy: 'cache-store-value', bytes: Buffer.byteLength(encoded) }, `value not cached: larger than ${MAX_CACHED_VALUE_BYTES} bytes`);
          return;
        }
        try {
          await c.set(valueKey(k), encoded, seconds * 1000);
        } catch (err) {
          logger?.warn({ requestId: String(ctx.expr.requestId), policy: 'cache-store-value', err: { message: (err as Error).message } }, 'cache store failed');
        }
      },
    };
  },
};
