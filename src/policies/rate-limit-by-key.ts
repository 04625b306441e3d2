/**
 * rate-limit-by-key (APIM): at most `calls` requests per `renewal-period` seconds (≤ 300) for each
 * value of `counter-key`; beyond that 429 with Retry-After and the message "Rate limit is exceeded.
 * Try again in N seconds." (LastError Source rate-limit-by-key, Reason RateLimitExceeded).
 *
 * <rate-limit-by-key calls="10" renewal-period="60" counter-key="@(context.Request.IpAddress)"
 *     increment-condition="@(...)" increment-count="1" retry-after-header-name="Retry-After"
 *     retry-after-variable-name="v" remaining-calls-header-name="h" remaining-calls-variable-name="v"
 *     total-calls-header-name="h" />
 *
 * Counting (see traffic/counters.ts): fixed windows aligned to the first request of each window;
 * exact under concurrency (atomic increment, rejected requests give their share back).
 * Counters are shared BY KEY, not per policy: APIM uses "a single counter for each counter-key
 * value … updated at all scopes at which the policy is configured", so two rate-limit-by-key
 * policies (any scope, any server) with the same key value share one counter, and a request
 * counts once per key value however many of them it passes (the later ones check the shared
 * counter against their own `calls`; the window length is that of the policy that opened it).
 * Append a scope marker to the key for separate counters, as APIM advises.
 *
 * increment-condition: evaluated when the policy runs, unless it reads `context.Response` — then
 * (as in APIM's `@(context.Response.StatusCode == 200)` example) the request takes its share when
 * admitted and gives it back once the backend answered if the condition is false (a reservation:
 * concurrent requests can never over-admit). When no backend answer is visible to the pipeline
 * (see traffic/hooks.ts) the condition sees the pre-call response (status 200); when the backend
 * call fails it sees the error answer (e.g. 502). A request that does not count is still refused
 * once the limit is reached.
 */
import type { CompileContext, PolicyDefinition, ValueGetter } from '../pipeline/types.js';
import type { PipelineContext } from '../pipeline/context.js';
import type { PolicyElement } from '../policy/document.js';
import { cacheFor, countNow, giveBack, keyPart, rateWindow, sharesOf, take, type Share } from './traffic/counters.js';
import { afterForward, withErrorResponse } from './traffic/hooks.js';
import { MAX_CALLS, MAX_RATE_PERIOD, THROTTLE_NAME_ATTRIBUTES, reportRate, throttleNames } from './traffic/throttle.js';

const NAME = 'rate-limit-by-key';

/** an expression that reads the response must wait for it */
export const READS_RESPONSE = /\bcontext\s*\.\s*Response\b/;

export interface IncrementCondition {
  readonly get: ValueGetter<boolean>;
  /** evaluate after the backend answered */
  readonly deferred: boolean;
}

export function incrementCondition(el: PolicyElement, cc: CompileContext): IncrementCondition | undefined {
  const a = el.attributes.get('increment-condition');
  if (!a) return undefined;
  if (!a.expression && !/^\s*(true|false)\s*$/i.test(a.raw)) {
    cc.problem({ line: a.line, col: a.col }, `attribute "increment-condition" of <${el.name}> must be a boolean expression @(...), got "${a.raw}"`);
    return undefined;
  }
  return { get: cc.bool(el, 'increment-condition', true), deferred: a.expression !== undefined && READS_RESPONSE.test(a.expression.code) };
}

/**
 * After the backend answered: count the share if the condition holds, give it back if not (each
 * call of the backend, so a retried call ends with the last answer's verdict). A condition that
 * cannot be evaluated leaves the share counted (never over-admits).
 */
export function settleAfterResponse(ctx: PipelineContext, share: Share, cond: ValueGetter<boolean>): void {
  afterForward(ctx, async (c, outcome) => {
    try {
      const holds = outcome.error !== undefined ? withErrorResponse(c, outcome.error, () => cond(c)) : cond(c);
      if (holds) await countNow(share);
      else await giveBack(share);
    } catch {
      // keep the share as it is: the request already went through
    }
  });
}

export const rateLimitByKey: PolicyDefinition = {
  name: NAME,
  sections: ['inbound'],
  attributes: {
    calls: { required: true },
    'renewal-period': { required: true },
    'counter-key': { required: true },
    'increment-condition': {},
    'increment-count': {},
    ...THROTTLE_NAME_ATTRIBUTES,
  },
  compile(el, cc) {
    const calls = cc.int(el, 'calls', { min: 0, max: MAX_CALLS });
    const period = cc.int(el, 'renewal-period', { min: 1, max: MAX_RATE_PERIOD });
    const counterKey = cc.string(el, 'counter-key');
    const count = cc.int(el, 'increment-count', { min: 0, max: MAX_CALLS }) ?? (() => 1);
    const cond = incrementCondition(el, cc);
    const names = throttleNames(el, cc);
    const services = cc.services;
    return {
      async run(ctx) {
        const cache = cacheFor(services.cache, NAME);
        const limit = calls!(ctx);
        const periodMs = period!(ctx) * 1000;
        const base = `rlk:${keyPart(counterKey!(ctx))}`;
        let by = count(ctx);
        if (cond && !cond.deferred && !cond.get(ctx)) by = 0;
        const shares = sharesOf(ctx);
        let share = shares.get(base);
        let admitted: boolean;
        if (share) {
          // this key already counted this request (another rate-limit-by-key): check, don't count again
          admitted = share.counted ? share.value <= limit : share.value < limit;
          if (!admitted) await giveBack(share);
        } else {
          const window = await rateWindow(cache, base, periodMs);
          const r = await take(cache, window, by, limit);
          share = r.share;
          admitted = r.admitted;
          shares.set(base, share);
          if (admitted && by > 0 && cond?.deferred) settleAfterResponse(ctx, share, cond.get);
        }
        const decision = { limit, share };
        // apim.md §11: the 429 of rate-limit-by-key reports LastError.Source "rate-limit"
        reportRate(ctx, 'rate-limit', names, limit, [decision], admitted ? undefined : decision);
      },
    };
  },
};
