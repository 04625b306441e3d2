/**
 * retry (APIM): run the child policies once, then again while `condition` is true after a run, at
 * most `count` more times (1–50), waiting between runs by APIM's formulas (./http/backoff.ts:
 * fixed `interval`, linear with `delta`, exponential with `delta` + `max-interval`;
 * `first-fast-retry` retries the first time at once). Any policy may be a child except <wait>.
 *
 * Around forward-request the request is sent again each time. The gateway's forward path reports a
 * backend's error answer (e.g. HTTP 503) or a connection failure/timeout as an error rather than a
 * response; inside retry such an error of forward-request is shown to the condition as
 * context.Response with the backend's status (or 502/504 when no answer came), so the usual
 * `condition="@(context.Response.StatusCode == 503)"` works. When retries stop (condition false or
 * count used up) that error goes on to on-error as it would without retry. Errors of other policies
 * are never retried. When the forward path wrote a successful answer straight to the client (a
 * pipeline without outbound policies), that answer is final: retry stops.
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import type { PolicyElement } from '../policy/document.js';
import type { PipelineContext } from '../pipeline/context.js';
import { newResponse } from '../pipeline/context.js';
import { runPolicies } from '../pipeline/run.js';
import { ReturnResponse } from '../pipeline/errors.js';
import { isGatewayError, type GatewayError } from '../errors/gateway-error.js';
import { conditionAttribute, intAttribute } from './http/attrs.js';
import { retryDelayMs } from './http/backoff.js';

const MAX_INTERVAL_SECONDS = 3600;

/** the HTTP status a forward failure stands for: the backend's own status when it answered, else the gateway's */
function statusOf(err: GatewayError): number {
  const d = err.detail as { status?: unknown; backendStatus?: unknown } | undefined;
  const fromDetail = typeof d?.backendStatus === 'number' ? d.backendStatus : typeof d?.status === 'number' ? d.status : undefined;
  if (fromDetail !== undefined) return fromDetail;
  const m = /\(HTTP (\d{3})\)/.exec(err.message);
  return m ? Number(m[1]) : err.status;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export const retry: PolicyDefinition = {
  name: 'retry',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: {
    condition: { required: true },
    count: { required: true },
    interval: { required: true },
    'max-interval': {},
    delta: {},
    'first-fast-retry': {},
  },
  children: '*',
  compile(el, cc) {
    const condition = conditionAttribute(el, cc, 'condition');
    const count = intAttribute(el, cc, 'count', { min: 1, max: 50 });
    const interval = intAttribute(el, cc, 'interval', { min: 0, max: MAX_INTERVAL_SECONDS });
    const maxInterval = intAttribute(el, cc, 'max-interval', { min: 0, max: MAX_INTERVAL_SECONDS });
    const delta = intAttribute(el, cc, 'delta', { min: 0, max: MAX_INTERVAL_SECONDS });
    const firstFast = cc.bool(el, 'first-fast-retry', false);
    const kids = el.children.filter((k): k is PolicyElement => k.type === 'element');
    for (const k of kids) if (k.name === 'wait') cc.problem(k, '<retry> cannot contain <wait> (APIM)');
    if (kids.length === 0) cc.problem(el, '<retry> needs at least one child policy');
    const body = cc.policies(kids, cc.path);
    return {
      async run(ctx: PipelineContext) {
        const max = count ? count(ctx) : 1;
        const spec = {
          interval: interval ? interval(ctx) : 0,
          maxInterval: maxInterval ? maxInterval(ctx) : undefined,
          delta: delta ? delta(ctx) : undefined,
          firstFastRetry: firstFast(ctx),
        };
        for (let attempt = 0; ; attempt++) {
          let failure: unknown;
          const had = ctx.hasResponse;
          const before = ctx.response;
          try {
            await runPolicies(body, ctx);
            // the forward path wrote the backend's answer straight to the client (no outbound
            // policies): it has a response but not a new response object. That answer is final.
            if (!had && ctx.hasResponse && ctx.response === before) return;
          } catch (err) {
            if (err instanceof ReturnResponse || !isGatewayError(err) || ctx.current?.name !== 'forward-request') throw err;
            failure = err;
            ctx.setResponse(newResponse(statusOf(err), ''));
          }
          const failedAt = ctx.current;
          if (attempt >= max) {
            if (failure !== undefined) throw failure;
            return;
          }
          const v = condition ? condition(ctx) : false;
          if (typeof v !== 'boolean') throw new Error(`the <retry> condition evaluated to ${v === null ? 'null' : typeof v}, not a boolean`);
          if (!v) {
            if (failure !== undefined) {
              ctx.current = failedAt; // LastError names the forward-request, not the condition
              throw failure;
            }
            return;
          }
          if (failure !== undefined) {
            // the response shown to the condition stood for the failure only
            ctx.expr.response = before;
            ctx.hasResponse = had;
          }
          const wait = retryDelayMs(attempt + 1, spec);
          if (wait > 0) await sleep(wait);
        }
      },
    };
  },
};
