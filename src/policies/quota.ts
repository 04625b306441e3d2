/**
 * quota (APIM): at most `calls` requests per `renewal-period` seconds (0 = never renews), plus
 * independent quotas for one API (`<api>`, a server) and one operation in it (`<operation>`, a
 * tool); beyond a quota 403 "Out of call volume quota. Quota will be replenished in hh:mm:ss."
 * with Retry-After (LastError Source quota, Reason QuotaExceeded).
 *
 * <quota calls="10000" renewal-period="3600">
 *   <api name="server" calls="100" renewal-period="3600"><operation name="tool" calls="10" renewal-period="3600" /></api>
 * </quota>
 *
 * - APIM counts per SUBSCRIPTION with periods relative to the subscription's start. Without
 *   subscriptions (their own issue) Gatehouse counts per CLIENT IP, with periods aligned to
 *   0001-01-01T00:00:00Z like quota-by-key's default `first-period-start`. Each policy instance
 *   has its own counters (see rate-limit.ts).
 * - `bandwidth` (kilobytes) is refused at load: the gateway relays backend answers — SSE streams
 *   included — straight to the client without measuring them, so a kilobyte count would be wrong.
 *   Use `calls`.
 * - With `renewal-period="0"` the quota never renews; its 403 says so and has no Retry-After.
 * - Counting is exact under concurrency (traffic/counters.ts); a request refused by one quota gives
 *   its share back to the others.
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { DEFAULT_PERIOD_START, cacheFor, giveBack, instanceId, quotaWindow, take, type Share } from './traffic/counters.js';
import { MAX_CALLS, counterChecks, quotaExceeded, refuseBandwidth, scopedLimits } from './traffic/throttle.js';

const NAME = 'quota';
/** renewal-period upper bound: ~100 years */
export const MAX_QUOTA_PERIOD = 3_153_600_000;

export const quota: PolicyDefinition = {
  name: NAME,
  sections: ['inbound'],
  attributes: { calls: { expressions: false }, bandwidth: { expressions: false }, 'renewal-period': { required: true, expressions: false } },
  children: ['api'],
  compile(el, cc) {
    refuseBandwidth(el, cc);
    if (!el.attributes.has('calls') && !el.attributes.has('bandwidth')) cc.problem(el, `<${NAME}> requires the attribute "calls"`);
    const calls = cc.int(el, 'calls', { min: 0, max: MAX_CALLS });
    const period = cc.int(el, 'renewal-period', { min: 0, max: MAX_QUOTA_PERIOD });
    const limits = scopedLimits(el, cc, { minPeriod: 0, maxPeriod: MAX_QUOTA_PERIOD, quota: true });
    const id = instanceId(NAME, el.file, el.line, el.col, cc.scope);
    const scope = cc.scope;
    const services = cc.services;
    return {
      async run(ctx) {
        const cache = cacheFor(services.cache, NAME);
        const checks = counterChecks('q', id, scope, ctx, calls!(ctx), period!(ctx), limits);
        const taken: Share[] = [];
        for (const c of checks) {
          const window = quotaWindow(c.base, c.periodMs, DEFAULT_PERIOD_START);
          const r = await take(cache, window, 1, c.limit);
          if (!r.admitted) {
            for (const s of taken) await giveBack(s);
            throw quotaExceeded(NAME, window.resetAt);
          }
          taken.push(r.share);
        }
      },
    };
  },
};
