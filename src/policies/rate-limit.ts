/**
 * rate-limit (APIM): at most `calls` requests per `renewal-period` seconds (≤ 300), plus independent
 * limits for one API (`<api>`, in Gatehouse a server) and one operation inside it (`<operation>`,
 * in Gatehouse a tool — context.Operation is the tool of a tools/call, else the MCP method);
 * beyond a limit 429 with Retry-After and "Rate limit is exceeded. Try again in N seconds."
 * (LastError Source rate-limit, Reason RateLimitExceeded).
 *
 * <rate-limit calls="20" renewal-period="90" retry-after-header-name="…" retry-after-variable-name="…"
 *     remaining-calls-header-name="…" remaining-calls-variable-name="…" total-calls-header-name="…">
 *   <api name="server" calls="10" renewal-period="60"><operation name="tool" calls="5" renewal-period="60" /></api>
 * </rate-limit>
 *
 * APIM counts per SUBSCRIPTION: so does Gatehouse (context.Subscription.Id); a request without a
 * subscription (a server that needs no key) counts per CLIENT IP (context.Request.IpAddress,
 * canonical form). Each policy instance has its own counters (keyed by its
 * document position and scope, plus the server for api/operation-scope documents): two rate-limit
 * policies never share counts, as two APIM product/API policies don't. Windows and exact counting:
 * traffic/counters.ts. A request rejected by one limit gives its share back to the others.
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { cacheFor, giveBack, instanceId, rateWindow, take } from './traffic/counters.js';
import { MAX_CALLS, MAX_RATE_PERIOD, THROTTLE_NAME_ATTRIBUTES, counterChecks, reportRate, scopedLimits, throttleNames, type Decision } from './traffic/throttle.js';

const NAME = 'rate-limit';

export const rateLimit: PolicyDefinition = {
  name: NAME,
  sections: ['inbound'],
  attributes: { calls: { required: true, expressions: false }, 'renewal-period': { required: true, expressions: false }, ...THROTTLE_NAME_ATTRIBUTES },
  children: ['api'],
  compile(el, cc) {
    const calls = cc.int(el, 'calls', { min: 0, max: MAX_CALLS });
    const period = cc.int(el, 'renewal-period', { min: 1, max: MAX_RATE_PERIOD });
    const names = throttleNames(el, cc);
    const limits = scopedLimits(el, cc, { minPeriod: 1, maxPeriod: MAX_RATE_PERIOD, quota: false });
    const id = instanceId(NAME, el.file, el.line, el.col, cc.scope);
    const scope = cc.scope;
    const services = cc.services;
    return {
      async run(ctx) {
        const cache = cacheFor(services.cache, NAME);
        const checks = counterChecks('rl', id, scope, ctx, calls!(ctx), period!(ctx), limits);
        const decisions: Decision[] = [];
        let rejected: Decision | undefined;
        for (const c of checks) {
          const window = await rateWindow(cache, c.base, c.periodMs);
          const r = await take(cache, window, 1, c.limit);
          const d = { limit: c.limit, share: r.share };
          decisions.push(d);
          if (!r.admitted) {
            rejected = d;
            break;
          }
        }
        if (rejected) for (const d of decisions) await giveBack(d.share);
        reportRate(ctx, NAME, names, checks[0]!.limit, decisions, rejected);
      },
    };
  },
};
