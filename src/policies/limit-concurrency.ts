/**
 * limit-concurrency (APIM): at most `max-count` requests run the enclosed policies at once for each
 * `key` value; a request over the limit fails immediately with 429 (LastError Source
 * limit-concurrency, Reason ConcurrencyLimitExceeded — APIM documents no reason code). Usually it
 * wraps forward-request in the backend section:
 *
 * <backend><limit-concurrency key="@((string)context.Variables["tenant"])" max-count="3">
 *   <forward-request timeout="120" />
 * </limit-concurrency></backend>
 *
 * - The key is shared by every limit-concurrency policy naming it ("can be shared by multiple
 *   policies"), across scopes and servers.
 * - The count of running requests is a Cache counter (`lc:{key}`), so a shared cache (Redis) limits
 *   across replicas: +1 to enter (atomic; over the limit it takes the +1 back and fails), -1 when
 *   the enclosed policies finish — on success, on error and when the client goes away (the backend
 *   call ends then). The counter has a safety TTL of 60 s, refreshed every 20 s while a slot is
 *   held, so a replica that dies holding slots frees them once the key has been idle for 60 s
 *   (while other requests keep using the key, such leaked slots stay counted).
 * - A backend answer relayed as a stream after the pipeline (SSE with outbound policies present)
 *   is no longer inside forward-request: the slot is freed when the stream starts, not when it ends.
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import type { PolicyElement } from '../policy/document.js';
import { PolicyFailure } from '../pipeline/errors.js';
import { runPolicies } from '../pipeline/run.js';
import type { Cache } from '../cache/types.js';
import { cacheFor, keyPart } from './traffic/counters.js';

const NAME = 'limit-concurrency';
const SAFETY_TTL_MS = 60_000;
const REFRESH_MS = 20_000;

/** take back one slot; never leaves the counter negative (it may have expired meanwhile) */
async function leave(cache: Cache, key: string): Promise<void> {
  const n = await cache.increment(key, -1, SAFETY_TTL_MS);
  if (n < 0) await cache.increment(key, 1, SAFETY_TTL_MS);
}

export const limitConcurrency: PolicyDefinition = {
  name: NAME,
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: { key: { required: true }, 'max-count': { required: true, expressions: false } },
  children: '*',
  compile(el, cc) {
    const key = cc.string(el, 'key');
    const max = cc.int(el, 'max-count', { min: 1, max: 1_000_000 });
    const body = cc.policies(el.children.filter((c): c is PolicyElement => c.type === 'element'), cc.path);
    const services = cc.services;
    const logger = services.logger;
    return {
      async run(ctx) {
        const cache = cacheFor(services.cache, NAME);
        const limit = max!(ctx);
        const k = `lc:${keyPart(key!(ctx))}`;
        const n = await cache.increment(k, 1, SAFETY_TTL_MS);
        if (n > limit) {
          await leave(cache, k);
          throw new PolicyFailure({ source: NAME, reason: 'ConcurrencyLimitExceeded', message: 'Concurrency limit is exceeded. Try again later.', status: 429 });
        }
        const refresh = () => void cache.touch(k, SAFETY_TTL_MS).catch(() => undefined);
        refresh();
        const timer = setInterval(refresh, REFRESH_MS);
        timer.unref();
        try {
          await runPolicies(body, ctx);
        } finally {
          clearInterval(timer);
          await leave(cache, k).catch((err: unknown) => logger?.warn({ key: k, err: (err as Error).message }, 'limit-concurrency could not release its slot'));
        }
      },
    };
  },
};
