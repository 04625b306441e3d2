/**
 * Cancellation for <wait for="any">: while a wait runs its children concurrently, the children find
 * the wait's AbortSignal here (send-request aborts its HTTP call with it; send-request and
 * cache-lookup-value do not write their variable once it fired). Also remembers which policy raised
 * an error, so a wait that rethrows a child's error reports the right LastError path.
 */
import type { PipelineContext } from '../../pipeline/context.js';

type Current = NonNullable<PipelineContext['current']>;

const signals = new WeakMap<PipelineContext, AbortSignal>();
const origins = new WeakMap<object, Current>();

/** the signal of the innermost running <wait>, if any */
export function cancellationOf(ctx: PipelineContext): AbortSignal | undefined {
  return signals.get(ctx);
}

/** run `fn` with `signal` as the context's cancellation (combined with an outer one); restores afterwards */
export async function withCancellation<T>(ctx: PipelineContext, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  const outer = signals.get(ctx);
  signals.set(ctx, outer ? AbortSignal.any([outer, signal]) : signal);
  try {
    return await fn();
  } finally {
    if (outer) signals.set(ctx, outer);
    else signals.delete(ctx);
  }
}

/** note the policy an error came from (concurrent children overwrite ctx.current) */
export function markOrigin(err: unknown, current: Current): void {
  if (typeof err === 'object' && err !== null && !origins.has(err)) origins.set(err, current);
}

export function originOf(err: unknown): Current | undefined {
  return typeof err === 'object' && err !== null ? origins.get(err) : undefined;
}
