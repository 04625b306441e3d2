/**
 * APIM retry waits (retry policy, "Retry wait times"), for retry number n = 1, 2, …:
 * - only `interval`: fixed — interval;
 * - `interval` + `delta`: linear — interval + (n − 1) · delta;
 * - `interval` + `delta` + `max-interval`: exponential — interval + (2^(n−1) − 1) · random(0.8·delta, 1.2·delta),
 *   so interval = delta = 10 s, max 100 s waits ≈ 10, 20, 40, 80, 100, 100 … s (APIM's own example);
 * - `max-interval` always caps the wait; `first-fast-retry` makes the first retry immediate.
 * All values in seconds; the result in milliseconds.
 */
export interface BackoffSpec {
  readonly interval: number;
  readonly maxInterval?: number | undefined;
  readonly delta?: number | undefined;
  readonly firstFastRetry: boolean;
}

export function retryDelayMs(n: number, s: BackoffSpec, random: () => number = Math.random): number {
  if (n === 1 && s.firstFastRetry) return 0;
  let seconds: number;
  if (s.delta === undefined) seconds = s.interval;
  else if (s.maxInterval === undefined) seconds = s.interval + (n - 1) * s.delta;
  else seconds = s.interval + (2 ** (n - 1) - 1) * (s.delta * (0.8 + 0.4 * random()));
  if (s.maxInterval !== undefined) seconds = Math.min(seconds, s.maxInterval);
  return Math.max(0, Math.round(seconds * 1000));
}
