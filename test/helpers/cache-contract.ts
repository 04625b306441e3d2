/**
 * The Cache contract: every implementation (memory now, Redis later) must pass it.
 * `make` returns a fresh, open cache; each test uses random key names, so a shared server works
 * too. TTLs are real (short) waits, not fake timers, so a remote implementation is exercised for real.
 * The timing assertions are one-sided where possible: a slow machine can only make a wrong
 * implementation pass, never a correct one fail.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cache } from '../../src/cache/types.js';

export function cacheContract(name: string, make: () => Promise<Cache>): void {
  describe(`Cache contract: ${name}`, () => {
    let cache: Cache;
    let ns: string;
    const k = (s: string): string => `${ns}:${s}`;
    beforeEach(async () => {
      cache = await make();
      ns = `t-${randomUUID()}`;
    });
    afterEach(async () => {
      await cache.close();
    });

    describe('get / set / delete', () => {
      it('get of a missing key is undefined', async () => {
        assert.equal(await cache.get(k('missing')), undefined);
      });

      it('set then get; set overwrites', async () => {
        await cache.set(k('a'), 'one');
        assert.equal(await cache.get(k('a')), 'one');
        await cache.set(k('a'), 'two');
        assert.equal(await cache.get(k('a')), 'two');
      });

      it('stores empty, unicode, JSON and large strings exactly', async () => {
        const values = ['', ' ', '😀 日本 é', JSON.stringify({ a: [1, { b: 'c' }] }), "'; drop table x; --", 'x'.repeat(200_000), 'a\u0000b\nc'];
        for (const [i, v] of values.entries()) await cache.set(k(`v${i}`), v);
        for (const [i, v] of values.entries()) assert.equal(await cache.get(k(`v${i}`)), v, `value ${i}`);
      });

      it('keys are distinct, including unicode and odd characters', async () => {
        const keys = ['a', 'A', 'a ', 'ключ', '🔑', 'a:b', 'a*', '*', '[x]'];
        for (const key of keys) await cache.set(k(key), `v-${key}`);
        for (const key of keys) assert.equal(await cache.get(k(key)), `v-${key}`);
      });

      it('delete removes a key once', async () => {
        await cache.set(k('d'), 'x');
        assert.equal(await cache.delete(k('d')), true);
        assert.equal(await cache.get(k('d')), undefined);
        assert.equal(await cache.delete(k('d')), false);
        assert.equal(await cache.delete(k('never')), false);
      });
    });

    describe('TTL', () => {
      it('a key set with a TTL disappears after it', async () => {
        await cache.set(k('t'), 'x', 50);
        assert.equal(await cache.get(k('t')), 'x');
        await sleep(100);
        assert.equal(await cache.get(k('t')), undefined);
        assert.equal(await cache.delete(k('t')), false, 'an expired key is invisible to delete');
        assert.equal(await cache.touch(k('t'), 1000), false, 'an expired key is invisible to touch');
      });

      it('without a TTL (or ttl <= 0) a key stays', async () => {
        await cache.set(k('forever'), 'x');
        await cache.set(k('zero'), 'x', 0);
        await cache.set(k('neg'), 'x', -5);
        await sleep(60);
        assert.equal(await cache.get(k('forever')), 'x');
        assert.equal(await cache.get(k('zero')), 'x');
        assert.equal(await cache.get(k('neg')), 'x');
      });

      it('set replaces the TTL', async () => {
        await cache.set(k('a'), 'short', 40);
        await cache.set(k('a'), 'long');
        await cache.set(k('b'), 'long', 10_000);
        await cache.set(k('b'), 'short', 40);
        await sleep(90);
        assert.equal(await cache.get(k('a')), 'long');
        assert.equal(await cache.get(k('b')), undefined);
      });

      it('touch extends the TTL of an existing key', async () => {
        await cache.set(k('s'), 'x', 150);
        await sleep(30);
        assert.equal(await cache.touch(k('s'), 10_000), true);
        await sleep(170);
        assert.equal(await cache.get(k('s')), 'x');
      });

      it('touch can shorten the TTL', async () => {
        await cache.set(k('s'), 'x', 10_000);
        assert.equal(await cache.touch(k('s'), 30), true);
        await sleep(80);
        assert.equal(await cache.get(k('s')), undefined);
      });

      it('touch of a missing key is false and creates nothing', async () => {
        assert.equal(await cache.touch(k('none'), 1000), false);
        assert.equal(await cache.get(k('none')), undefined);
      });
    });

    describe('setIfAbsent', () => {
      it('stores only when absent', async () => {
        assert.equal(await cache.setIfAbsent(k('n'), 'first'), true);
        assert.equal(await cache.setIfAbsent(k('n'), 'second'), false);
        assert.equal(await cache.get(k('n')), 'first');
      });

      it('an expired key counts as absent', async () => {
        assert.equal(await cache.setIfAbsent(k('n'), 'first', 30), true);
        await sleep(80);
        assert.equal(await cache.setIfAbsent(k('n'), 'second', 1000), true);
        assert.equal(await cache.get(k('n')), 'second');
      });

      it('applies its TTL', async () => {
        assert.equal(await cache.setIfAbsent(k('n'), 'x', 30), true);
        await sleep(80);
        assert.equal(await cache.get(k('n')), undefined);
      });

      it('100 concurrent calls: exactly one wins and its value is kept', async () => {
        const results = await Promise.all(Array.from({ length: 100 }, (_, i) => cache.setIfAbsent(k('race'), `v${i}`, 10_000)));
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal(await cache.get(k('race')), `v${results.indexOf(true)}`);
      });
    });

    describe('increment', () => {
      it('creates the key at 0 and adds', async () => {
        assert.equal(await cache.increment(k('c'), 1, 10_000), 1);
        assert.equal(await cache.increment(k('c'), 5, 10_000), 6);
        assert.equal(await cache.increment(k('c'), -2, 10_000), 4);
        assert.equal(await cache.get(k('c')), '4');
        assert.equal(await cache.increment(k('other'), 7, 10_000), 7);
      });

      it('is atomic: 1000 concurrent increments return exactly 1..1000', async () => {
        const results = await Promise.all(Array.from({ length: 1000 }, () => cache.increment(k('hot'), 1, 10_000)));
        assert.deepEqual(
          [...results].sort((a, b) => a - b),
          Array.from({ length: 1000 }, (_, i) => i + 1),
        );
        assert.equal(await cache.get(k('hot')), '1000');
      });

      it('sets the TTL on creation only (later calls do not extend it)', async () => {
        assert.equal(await cache.increment(k('w'), 1, 150), 1);
        await sleep(40);
        assert.equal(await cache.increment(k('w'), 1, 10_000), 2);
        await sleep(160); // 200 ms after creation: gone unless a later call extended the TTL
        assert.equal(await cache.get(k('w')), undefined);
      });

      it('an expired counter restarts at 0 with a fresh TTL', async () => {
        assert.equal(await cache.increment(k('w'), 1, 50), 1);
        assert.equal(await cache.increment(k('w'), 1, 50), 2);
        await sleep(100);
        assert.equal(await cache.increment(k('w'), 1, 10_000), 1);
        await sleep(60);
        assert.equal(await cache.get(k('w')), '1');
      });

      it('ttl <= 0 creates a counter without expiry', async () => {
        assert.equal(await cache.increment(k('p'), 3, 0), 3);
        await sleep(50);
        assert.equal(await cache.increment(k('p'), 1, 0), 4);
      });

      it('increments a numeric string stored with set, keeping its TTL state', async () => {
        await cache.set(k('s'), '10');
        assert.equal(await cache.increment(k('s'), 5, 30), 15);
        await sleep(70);
        assert.equal(await cache.get(k('s')), '15');
      });

      it('rejects incrementing a non-numeric value and leaves it unchanged', async () => {
        await cache.set(k('txt'), 'hello');
        await assert.rejects(cache.increment(k('txt'), 1, 1000));
        assert.equal(await cache.get(k('txt')), 'hello');
      });

      it('set after increment replaces the counter', async () => {
        await cache.increment(k('c'), 9, 10_000);
        await cache.set(k('c'), 'str');
        assert.equal(await cache.get(k('c')), 'str');
        await cache.delete(k('c'));
        assert.equal(await cache.increment(k('c'), 1, 10_000), 1);
      });
    });

    describe('ping / close', () => {
      it('ping answers true while open', async () => {
        assert.equal(await cache.ping(), true);
      });

      it('after close ping is false and close is idempotent', async () => {
        await cache.close();
        assert.equal(await cache.ping(), false);
        await cache.close();
      });
    });
  });
}
