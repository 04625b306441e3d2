/**
 * In-process Cache (single replica). On the request hot path, so it avoids allocation: a Map of
 * mutable entries (a counter is kept as a number and bumped in place), a monotonic clock for
 * expiry, and an insertion-order queue of entries for eviction (V8 Maps degrade badly when
 * repeatedly iterated from the front after deletions, so the Map itself is never used for that).
 *
 * Expired keys are invisible to every call; they are dropped lazily when touched and by a periodic,
 * unref'd sweep. The number of keys is bounded (default 100 000): when full, inserting a new key
 * first drops an expired key found among the oldest few, else evicts the soonest-expiring of them
 * (keys without a TTL count as expiring last), else the oldest. Hostile traffic therefore cannot grow
 * memory without limit (it can push out old keys, which is the price of the bound).
 */
import { performance } from 'node:perf_hooks';
import { GatewayError } from '../errors/gateway-error.js';
import type { Cache } from './types.js';

export interface MemoryCacheOptions {
  /** maximum number of keys kept; default 100 000 */
  readonly maxKeys?: number;
  /** how often expired keys are swept (ms); default 30 000 */
  readonly sweepIntervalMs?: number;
}

interface Entry {
  readonly key: string;
  v: string | number;
  /** monotonic deadline (performance.now() based); 0 = never expires */
  exp: number;
  /** false once removed from the map (it may still sit in the eviction queue) */
  live: boolean;
}

const DEFAULT_MAX_KEYS = 100_000;
const DEFAULT_SWEEP_MS = 30_000;
/** how many of the oldest keys are considered when evicting */
const EVICTION_SAMPLE = 8;
/** at most this many queue slots (live or removed) are looked at per eviction */
const EVICTION_SCAN = 32;
const NUMERIC = /^-?\d+(\.\d+)?$/;

const deadline = (now: number, ttlMs: number | undefined): number => (ttlMs !== undefined && ttlMs > 0 ? now + ttlMs : 0);

export class MemoryCache implements Cache {
  readonly kind = 'memory' as const;
  readonly maxKeys: number;
  private readonly map = new Map<string, Entry>();
  /** entries in insertion order from `head`; may contain removed (not live) entries, compacted when they pile up */
  private queue: (Entry | undefined)[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(opts: MemoryCacheOptions = {}) {
    const max = opts.maxKeys ?? DEFAULT_MAX_KEYS;
    if (!Number.isInteger(max) || max < 1) throw new GatewayError('GW_ERR_CONFIG_INVALID', 'cache maxKeys must be a positive integer');
    this.maxKeys = max;
    const every = opts.sweepIntervalMs ?? DEFAULT_SWEEP_MS;
    if (every > 0) {
      this.timer = setInterval(() => this.sweep(), every);
      this.timer.unref();
    }
  }

  /** number of keys held, including expired ones not yet swept */
  get size(): number {
    return this.map.size;
  }

  async get(key: string): Promise<string | undefined> {
    if (this.closed) throw closedError();
    const e = this.find(key, performance.now());
    if (e === undefined) return undefined;
    return typeof e.v === 'string' ? e.v : String(e.v);
  }

  /** the value with its remaining lifetime in ms (0 = no TTL): what a worker's near cache may keep */
  getWithTtl(key: string): { value: string; ttlMs: number } | undefined {
    if (this.closed) throw closedError();
    const now = performance.now();
    const e = this.find(key, now);
    if (e === undefined) return undefined;
    return { value: typeof e.v === 'string' ? e.v : String(e.v), ttlMs: e.exp === 0 ? 0 : Math.max(1, e.exp - now) };
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (this.closed) throw closedError();
    const now = performance.now();
    const e = this.find(key, now);
    if (e === undefined) this.insert(key, value, deadline(now, ttlMs), now);
    else {
      e.v = value;
      e.exp = deadline(now, ttlMs);
    }
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    if (this.closed) throw closedError();
    const now = performance.now();
    if (this.find(key, now) !== undefined) return false;
    this.insert(key, value, deadline(now, ttlMs), now);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    if (this.closed) throw closedError();
    const e = this.find(key, performance.now());
    if (e === undefined) return false;
    this.drop(e);
    return true;
  }

  async increment(key: string, by: number, ttlMs: number): Promise<number> {
    if (this.closed) throw closedError();
    if (!Number.isFinite(by)) throw new GatewayError('GW_ERR_INTERNAL', 'cache increment must be a finite number');
    const now = performance.now();
    const e = this.find(key, now);
    if (e === undefined) {
      this.insert(key, by, deadline(now, ttlMs), now); // TTL only on creation
      return by;
    }
    if (typeof e.v === 'number') return (e.v += by);
    if (!NUMERIC.test(e.v)) throw new GatewayError('GW_ERR_INTERNAL', 'cache value is not a number');
    return (e.v = Number(e.v) + by);
  }

  async touch(key: string, ttlMs: number): Promise<boolean> {
    if (this.closed) throw closedError();
    const now = performance.now();
    const e = this.find(key, now);
    if (e === undefined) return false;
    e.exp = deadline(now, ttlMs);
    return true;
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.map.clear();
    this.queue = [];
    this.head = 0;
  }

  /** drops every expired key and compacts the eviction queue; runs periodically */
  sweep(): void {
    const now = performance.now();
    const next: Entry[] = [];
    const q = this.queue;
    for (let i = this.head; i < q.length; i++) {
      const e = q[i];
      if (e === undefined || !e.live) continue;
      if (e.exp !== 0 && e.exp <= now) this.drop(e);
      else next.push(e);
    }
    this.queue = next;
    this.head = 0;
  }

  /** the live, unexpired entry for key (an expired one is dropped) */
  private find(key: string, now: number): Entry | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (e.exp !== 0 && e.exp <= now) {
      this.drop(e);
      return undefined;
    }
    return e;
  }

  private insert(key: string, v: string | number, exp: number, now: number): void {
    if (this.map.size >= this.maxKeys) this.evict(now);
    const e: Entry = { key, v, exp, live: true };
    this.map.set(key, e);
    this.queue.push(e);
    // removed entries linger in the queue; compact once they outnumber the live ones (amortised O(1))
    if (this.queue.length > 2 * this.map.size + 64) this.compact();
  }

  private drop(e: Entry): void {
    e.live = false;
    this.map.delete(e.key);
  }

  private evict(now: number): void {
    const q = this.queue;
    while (this.head < q.length && !q[this.head]?.live) q[this.head++] = undefined;
    let victim: Entry | undefined;
    let victimExp = Infinity;
    // q[head] is live here, so a victim is always found; the scan is bounded even across removed entries
    const end = Math.min(q.length, this.head + EVICTION_SCAN);
    for (let i = this.head, seen = 0; i < end && seen < EVICTION_SAMPLE; i++) {
      const e = q[i];
      if (e === undefined || !e.live) continue;
      seen++;
      if (e.exp !== 0 && e.exp <= now) {
        victim = e;
        break;
      }
      const exp = e.exp === 0 ? Infinity : e.exp;
      if (victim === undefined || exp < victimExp) {
        victim = e;
        victimExp = exp;
      }
    }
    if (victim !== undefined) this.drop(victim);
    else if (this.map.size >= this.maxKeys) {
      // unreachable while the queue mirrors the map; stay bounded regardless
      const first = this.map.values().next();
      if (first.done !== true) this.drop(first.value);
    }
  }

  private compact(): void {
    const next: Entry[] = [];
    const q = this.queue;
    for (let i = this.head; i < q.length; i++) {
      const e = q[i];
      if (e !== undefined && e.live) next.push(e);
    }
    this.queue = next;
    this.head = 0;
  }
}

function closedError(): GatewayError {
  return new GatewayError('GW_ERR_UNAVAILABLE', 'cache is closed');
}
