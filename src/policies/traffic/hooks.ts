/**
 * What the traffic policies need from the backend call, attached to one request's PipelineContext:
 *
 * - response headers decided in inbound (rate limits' remaining/total calls, cors on an actual
 *   request) that must end up on the backend's answer;
 * - work to do once the backend answered (an increment-condition that reads context.Response);
 * - answering instead of the backend (cors: an unmatched preflight ends in an empty 200).
 *
 * This module adds one interceptor around the backend call (`ctx.interceptForward`) the first
 * time a policy of this request needs one. Limits of that approach, which the
 * gateway's policy bridge decides and this module cannot change:
 * - a header is set both on the response known before the call (so a bridge that carries
 *   pre-forward response headers onto the backend's answer picks it up) and, when the backend's
 *   answer is handed back to the pipeline (Streamable HTTP POSTs with outbound policies), on that
 *   answer after the call;
 * - when the endpoint writes the backend's answer straight to the client ("direct" mode: no
 *   outbound policies, initialize, GET/DELETE, legacy SSE), that answer is not visible here: the
 *   headers are not added and an after-hook sees `visible: false` (context.Response still holds
 *   the pre-call placeholder, status 200).
 */
import type { ForwardOptions, PipelineContext } from '../../pipeline/context.js';
import { errorResponse, toFailure } from '../../pipeline/run.js';

export interface ForwardOutcome {
  /** the backend's answer is ctx.response (false: written straight to the client, or the call failed) */
  readonly visible: boolean;
  /** the call failed with this error (it is rethrown after the hooks) */
  readonly error?: unknown;
}

type AfterHook = (ctx: PipelineContext, outcome: ForwardOutcome) => Promise<void>;
/** returns true when it answered (ctx.response set): the backend is not called */
type Interceptor = (ctx: PipelineContext) => boolean;

interface HookState {
  readonly headers: Map<string, string>;
  readonly after: AfterHook[];
  readonly intercept: Interceptor[];
}

const states = new WeakMap<PipelineContext, HookState>();

function stateOf(ctx: PipelineContext): HookState {
  const existing = states.get(ctx);
  if (existing) return existing;
  const st: HookState = { headers: new Map(), after: [], intercept: [] };
  states.set(ctx, st);
  ctx.interceptForward((original) => async (c: PipelineContext, opts: ForwardOptions): Promise<void> => {
    for (const answer of st.intercept) if (answer(c)) return;
    const before = c.response;
    let error: unknown;
    let failed = false;
    try {
      await original(c, opts);
    } catch (err) {
      error = err;
      failed = true;
    }
    const visible = !failed && c.response !== before;
    if (visible) {
      for (const [name, value] of st.headers) {
        c.response.headers.set(name, value);
        c.touchedResponseHeaders.add(name.toLowerCase());
      }
    }
    for (const hook of st.after) await hook(c, failed ? { visible, error } : { visible });
    if (failed) throw error;
  });
  return st;
}

/**
 * Set a response header from a policy: directly when a response exists (outbound, a policy's
 * answer), else on the pre-call response and again on the backend's answer (see module comment).
 */
export function addResponseHeader(ctx: PipelineContext, name: string, value: string): void {
  ctx.touchedResponseHeaders.add(name.toLowerCase());
  if (ctx.target) {
    ctx.target.headers.set(name, value);
    return;
  }
  ctx.response.headers.set(name, value);
  if (!ctx.hasResponse) stateOf(ctx).headers.set(name, value);
}

/** run `hook` after each backend call of this request (also when it failed) */
export function afterForward(ctx: PipelineContext, hook: AfterHook): void {
  stateOf(ctx).after.push(hook);
}

/** let `answer` replace the backend call of this request */
export function interceptForward(ctx: PipelineContext, answer: Interceptor): void {
  stateOf(ctx).intercept.push(answer);
}

/**
 * Evaluate `fn` (an expression reading context.Response) against the response the client would get
 * for a failed backend call — APIM's error answer — and put the real one back afterwards.
 */
export function withErrorResponse<T>(ctx: PipelineContext, error: unknown, fn: () => T): T {
  const saved = ctx.expr.response;
  ctx.expr.response = errorResponse(toFailure(error, ctx));
  try {
    return fn();
  } finally {
    ctx.expr.response = saved;
  }
}
