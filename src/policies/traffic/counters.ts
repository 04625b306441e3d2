/**
 * Counters of rate-limit, rate-limit-by-key, quota and quota-by-key, kept in the gateway Cache (never
 * in process memory) so a shared cache (Redis) shares them across replicas.
 *
 * Exactness: a request takes its share with ONE atomic `increment` and is admitted when the new value
 * is within the limit; when it is not, it gives the share back (a rejected request does not count).
 * The counter never drops below what admitted requests took, so of N concurrent requests exactly
 * `calls` are admitted — no check-then-increment race.
 *
 * Windows:
 * - rate limits: FIXED windows of `renewal-period` seconds, each aligned to the first request that
 *   found no window (a marker key `…:w` holds the window's start, with the period as TTL; the
 *   counter key carries that start, so a new window always starts from zero). APIM describes a
 *   sliding window and documents its rate limits as approximate; a fixed window is exact and
 *   predictable (Retry-After = the rest of the window). At a window boundary a caller may get up
 *   to 2×calls within one period, as with any fixed window.
 * - quotas: fixed periods aligned to `first-period-start` (default 0001-01-01T00:00:00Z, as APIM), so
 *   every replica computes the same period without coordination; `renewal-period="0"` never renews.
 */
import { createHash } from 'node:crypto';
import type { Cache } from '../../cache/types.js';
import type { PipelineContext } from '../../pipeline/context.js';
import { PolicyFailure } from '../../pipeline/errors.js';

/** the counter store, or a clear failure when the gateway runs without one (e.g. `gatehouse validate`) */
export function cacheFor(cache: Cache | undefined, policy: string): Cache {
  if (cache) return cache;
  throw new PolicyFailure({ source: policy, reason: 'CacheUnavailable', message: `<${policy}> needs the gateway cache for its counters, and none is configured here`, status: 500 });
}

/** a short stable id for a policy instance (document position and scope) */
export function instanceId(...parts: readonly (string | number | undefined)[]): string {
  return createHash('sha256').update(parts.map((p) => String(p ?? '')).join('\0')).digest('base64url').slice(0, 16);
}

/**
 * The part of a per-instance counter key that tells apart the pipelines one document position
 * serves: an api-scope document is compiled once per server and an operation-scope one once per
 * tool, and inline documents of different servers/tools can sit at the same line and column.
 */
export function scopeKey(scope: string, ctx: PipelineContext): string {
  if (scope === 'api') return `${keyPart(ctx.expr.api.id)}:`;
  if (scope === 'operation') return `${keyPart(ctx.expr.api.id)}:${keyPart(ctx.expr.operation.id)}:`;
  return '';
}

/** a key value as part of a cache key: as is when short and printable, hashed otherwise (bounded key size) */
export function keyPart(value: string): string {
  if (value.length <= 128 && !/[\u0000-\u001f\u007f]/.test(value)) return value;
  return `#${createHash('sha256').update(value).digest('base64url')}`;
}

/** where a counter lives in the current window or period */
export interface CounterWindow {
  readonly key: string;
  /** ms since the epoch when the window ends; Infinity = never */
  readonly resetAt: number;
  /** TTL for the counter key (0 = none) */
  readonly ttlMs: number;
}

const SLACK_MS = 5_000;

/** the current rate-limit window of `base` (fixed, aligned to the first request of the window) */
export async function rateWindow(cache: Cache, base: string, periodMs: number, now = Date.now()): Promise<CounterWindow> {
  const marker = `${base}:w`;
  let start: number | undefined;
  for (let attempt = 0; attempt < 3 && start === undefined; attempt++) {
    const got = await cache.get(marker);
    if (got !== undefined && Number.isFinite(Number(got))) start = Number(got);
    else if (await cache.setIfAbsent(marker, String(now), periodMs)) start = now;
  }
  // the marker vanished three times in a row (expiring under us): a window starting now is right
  start ??= now;
  const resetAt = start + periodMs;
  return { key: `${base}:c:${start}`, resetAt, ttlMs: Math.max(1, resetAt - now) + SLACK_MS };
}

/** APIM's default quota anchor, 0001-01-01T00:00:00Z */
export const DEFAULT_PERIOD_START = Date.parse('0001-01-01T00:00:00Z');

/** the current quota period of `base`: periods of `periodMs` from `anchor`; 0 = one endless period */
export function quotaWindow(base: string, periodMs: number, anchor: number, now = Date.now()): CounterWindow {
  if (periodMs === 0) return { key: `${base}:p:all`, resetAt: Infinity, ttlMs: 0 };
  const index = Math.floor((now - anchor) / periodMs);
  const resetAt = anchor + (index + 1) * periodMs;
  return { key: `${base}:p:${index}`, resetAt, ttlMs: Math.max(1, resetAt - now) + 60_000 };
}

/** one request's share of one counter */
export interface Share {
  readonly cache: Cache;
  readonly window: CounterWindow;
  /** how much this request adds (increment-count) */
  readonly by: number;
  /** the counter value this request saw (after its own increment while counted) */
  value: number;
  /** this request's `by` is in the counter now */
  counted: boolean;
}

/**
 * Take `by` from a counter limited to `limit`: admitted when the counter, with this request, stays
 * within the limit. `by = 0` (a request that does not count) only checks: it is rejected once the
 * limit is reached.
 */
export async function take(cache: Cache, window: CounterWindow, by: number, limit: number): Promise<{ admitted: boolean; share: Share }> {
  if (by === 0) {
    const v = Number((await cache.get(window.key)) ?? '0');
    const value = Number.isFinite(v) ? v : 0;
    return { admitted: value < limit, share: { cache, window, by, value, counted: false } };
  }
  const value = await cache.increment(window.key, by, window.ttlMs);
  if (value <= limit) return { admitted: true, share: { cache, window, by, value, counted: true } };
  await cache.increment(window.key, -by, window.ttlMs);
  return { admitted: false, share: { cache, window, by, value: value - by, counted: false } };
}

/** take back a counted share (rejected by another limit, or its increment-condition turned out false) */
export async function giveBack(share: Share): Promise<void> {
  if (!share.counted) return;
  share.counted = false;
  share.value -= share.by;
  await share.cache.increment(share.window.key, -share.by, share.window.ttlMs);
}

/** count a share after the fact (an increment-condition evaluated on the response turned true again) */
export async function countNow(share: Share): Promise<void> {
  if (share.counted) return;
  share.counted = true;
  share.value = await share.cache.increment(share.window.key, share.by, share.window.ttlMs);
}

/** whole seconds until `resetAt` (at least 1) — the Retry-After value */
export function secondsUntil(resetAt: number, now = Date.now()): number {
  return Math.max(1, Math.ceil((resetAt - now) / 1000));
}

/** C# TimeSpan text of a number of seconds: `hh:mm:ss`, or `d.hh:mm:ss` from one day on */
export function timeSpanText(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const days = Math.floor(s / 86_400);
  const two = (n: number) => String(n).padStart(2, '0');
  const hms = `${two(Math.floor((s % 86_400) / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
  return days > 0 ? `${days}.${hms}` : hms;
}

/**
 * Shares already taken by this request from counters shared by key (rate-limit-by-key, quota-by-key):
 * APIM increments a key "only once per request" however many policies name it.
 */
const perRequest = new WeakMap<PipelineContext, Map<string, Share>>();

export function sharesOf(ctx: PipelineContext): Map<string, Share> {
  let m = perRequest.get(ctx);
  if (!m) {
    m = new Map();
    perRequest.set(ctx, m);
  }
  return m;
}
