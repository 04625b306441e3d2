/**
 * quota-by-key (APIM): at most `calls` requests per `renewal-period` seconds (0 = never renews) for
 * each value of `counter-key`; beyond that 403 "Out of call volume quota. Quota will be replenished
 * in hh:mm:ss." with Retry-After (LastError Source quota-by-key, Reason QuotaExceeded).
 *
 * <quota-by-key calls="10000" renewal-period="3600" counter-key="@(context.Request.IpAddress)"
 *     increment-condition="@(...)" increment-count="1" first-period-start="2025-01-01T00:00:00Z" />
 *
 * - Periods are fixed and aligned to `first-period-start` (default 0001-01-01T00:00:00Z), as APIM.
 *   APIM documents a 300-second minimum period; Gatehouse accepts shorter ones (never stricter
 *   than APIM at load).
 * - Counters are shared BY KEY across policies and scopes, and "if multiple policies would
 *   increment the same key value, it is incremented only once per request" (APIM) — see
 *   rate-limit-by-key.ts, which also describes increment-condition (evaluated after the backend
 *   answered when it reads context.Response) and increment-count (newer APIM docs).
 * - `bandwidth` is refused at load (see quota.ts).
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { DEFAULT_PERIOD_START, cacheFor, giveBack, keyPart, quotaWindow, sharesOf, take } from './traffic/counters.js';
import { MAX_CALLS, quotaExceeded, refuseBandwidth } from './traffic/throttle.js';
import { incrementCondition, settleAfterResponse } from './rate-limit-by-key.js';
import { MAX_QUOTA_PERIOD } from './quota.js';

const NAME = 'quota-by-key';
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export const quotaByKey: PolicyDefinition = {
  name: NAME,
  sections: ['inbound'],
  attributes: {
    calls: {},
    bandwidth: { expressions: false },
    'renewal-period': { required: true, expressions: false },
    'counter-key': { required: true },
    'increment-condition': {},
    'increment-count': {},
    'first-period-start': { expressions: false },
  },
  compile(el, cc) {
    refuseBandwidth(el, cc);
    if (!el.attributes.has('calls') && !el.attributes.has('bandwidth')) cc.problem(el, `<${NAME}> requires the attribute "calls"`);
    const calls = cc.int(el, 'calls', { min: 0, max: MAX_CALLS });
    const period = cc.int(el, 'renewal-period', { min: 0, max: MAX_QUOTA_PERIOD });
    const counterKey = cc.string(el, 'counter-key');
    const count = cc.int(el, 'increment-count', { min: 0, max: MAX_CALLS }) ?? (() => 1);
    const cond = incrementCondition(el, cc);
    let anchor = DEFAULT_PERIOD_START;
    const fps = el.attributes.get('first-period-start');
    if (fps) {
      const t = fps.raw.trim();
      const ms = ISO_INSTANT.test(t) ? Date.parse(t) : NaN;
      if (!Number.isFinite(ms)) cc.problem({ line: fps.line, col: fps.col }, `attribute "first-period-start" of <${NAME}> must be a date-time like 2025-01-01T00:00:00Z, got "${fps.raw}"`);
      else anchor = ms;
    }
    const services = cc.services;
    return {
      async run(ctx) {
        const cache = cacheFor(services.cache, NAME);
        const limit = calls!(ctx);
        const base = `qk:${keyPart(counterKey!(ctx))}`;
        let by = count(ctx);
        if (cond && !cond.deferred && !cond.get(ctx)) by = 0;
        const shares = sharesOf(ctx);
        let share = shares.get(base);
        let admitted: boolean;
        if (share) {
          admitted = share.counted ? share.value <= limit : share.value < limit;
          if (!admitted) await giveBack(share);
        } else {
          const r = await take(cache, quotaWindow(base, period!(ctx) * 1000, anchor), by, limit);
          share = r.share;
          admitted = r.admitted;
          shares.set(base, share);
          if (admitted && by > 0 && cond?.deferred) settleAfterResponse(ctx, share, cond.get);
        }
        if (!admitted) throw quotaExceeded(NAME, share.window.resetAt);
      },
    };
  },
};
