/**
 * The AS facade's abuse brakes (registration 20/hour, authorization 60/minute per address) count in
 * the gateway's cache, so every worker and replica sharing it shares the count.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryCache } from '../src/cache/memory.js';
import type { Cache } from '../src/cache/types.js';
import { RateLimiter } from '../src/authorization/http.js';

describe('RateLimiter', () => {
  it('two limiters on one cache (two workers) share the budget per address and window', async () => {
    const cache = new MemoryCache();
    let t = 10 * 3_600_000;
    const now = () => t;
    const a = new RateLimiter('register', 20, 3_600_000, now, cache);
    const b = new RateLimiter('register', 20, 3_600_000, now, cache);
    const results: boolean[] = [];
    for (let i = 0; i < 24; i++) results.push(await (i % 2 ? a : b).take('203.0.113.7'));
    assert.equal(results.filter(Boolean).length, 20);
    assert.deepEqual(results.slice(20), [false, false, false, false]);
    // another address has its own budget; another limiter name too
    assert.equal(await a.take('203.0.113.8'), true);
    assert.equal(await new RateLimiter('authorize', 20, 3_600_000, now, cache).take('203.0.113.7'), true);
    // the next window starts afresh
    t += 3_600_000;
    assert.equal(await b.take('203.0.113.7'), true);
    await cache.close();
  });

  it('a failing cache falls back to counting in this process (still a brake)', async () => {
    const broken = { increment: () => Promise.reject(new Error('down')) } as unknown as Cache;
    const l = new RateLimiter('register', 3, 60_000, Date.now, broken);
    const got = [];
    for (let i = 0; i < 5; i++) got.push(await l.take('198.51.100.1'));
    assert.deepEqual(got, [true, true, true, false, false]);
  });

  it('without a cache it counts per process', async () => {
    const l = new RateLimiter('authorize', 2, 60_000);
    assert.deepEqual([await l.take('x'), await l.take('x'), await l.take('x')], [true, true, false]);
  });
});
