/**
 * The Store contract: every implementation (SQLite now, PostgreSQL later) must pass it.
 * `make` returns a fresh, open store; each test uses its own random collection names, so a shared
 * database (e.g. one PostgreSQL schema) works too. The store is closed after each test.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Store } from '../../src/store/types.js';

/** code point order = SQLite BINARY order on UTF-8 = PostgreSQL COLLATE "C" order */
const byCodePoint = (a: string, b: string): number => {
  const x = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const y = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
  return x.length - y.length;
};

export function storeContract(name: string, make: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let col: string;
    beforeEach(async () => {
      store = await make();
      col = `c-${randomUUID()}`;
    });
    afterEach(async () => {
      await store.close();
    });

    describe('get / put', () => {
      it('get of a missing record is undefined', async () => {
        assert.equal(await store.get(col, 'nope'), undefined);
      });

      it('put then get returns the record with version 1', async () => {
        const before = Date.now();
        assert.equal(await store.put(col, 'a', { n: 1 }), 1);
        const rec = await store.get<{ n: number }>(col, 'a');
        assert.ok(rec);
        assert.equal(rec.collection, col);
        assert.equal(rec.id, 'a');
        assert.deepEqual(rec.value, { n: 1 });
        assert.equal(rec.version, 1);
        assert.equal(typeof rec.updatedAt, 'number');
        assert.ok(rec.updatedAt >= before - 1000 && rec.updatedAt <= Date.now() + 1000, 'updatedAt is epoch ms');
      });

      it('put replaces the value and increments the version', async () => {
        assert.equal(await store.put(col, 'a', 'one'), 1);
        assert.equal(await store.put(col, 'a', 'two'), 2);
        assert.equal(await store.put(col, 'a', 'three'), 3);
        const rec = await store.get(col, 'a');
        assert.equal(rec?.value, 'three');
        assert.equal(rec?.version, 3);
      });

      it('versions are per record, and collections are separate namespaces', async () => {
        const other = `${col}-other`;
        await store.put(col, 'a', 1);
        await store.put(col, 'a', 2);
        assert.equal(await store.put(col, 'b', 'b'), 1);
        assert.equal(await store.put(other, 'a', 'other'), 1);
        assert.equal((await store.get(col, 'a'))?.value, 2);
        assert.equal((await store.get(other, 'a'))?.value, 'other');
        assert.equal(await store.get(other, 'b'), undefined);
      });

      it('50 concurrent puts on one record get distinct versions 1..50', async () => {
        const versions = await Promise.all(Array.from({ length: 50 }, (_, i) => store.put(col, 'hot', i)));
        assert.deepEqual([...versions].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
        assert.equal((await store.get(col, 'hot'))?.version, 50);
      });

      it('a value that is not JSON-serialisable is rejected', async () => {
        await assert.rejects(store.put(col, 'u', undefined));
        assert.equal(await store.get(col, 'u'), undefined);
      });
    });

    describe('compareAndPut', () => {
      it('expectedVersion 0 creates only when absent', async () => {
        assert.equal(await store.compareAndPut(col, 'k', 'first', 0), true);
        assert.equal(await store.compareAndPut(col, 'k', 'second', 0), false);
        const rec = await store.get(col, 'k');
        assert.equal(rec?.value, 'first');
        assert.equal(rec?.version, 1);
      });

      it('writes only when the version matches, and bumps it', async () => {
        await store.put(col, 'k', 'v1');
        assert.equal(await store.compareAndPut(col, 'k', 'stale', 2), false);
        assert.equal(await store.compareAndPut(col, 'k', 'zero', 0), false);
        assert.equal(await store.compareAndPut(col, 'k', 'v2', 1), true);
        assert.equal(await store.compareAndPut(col, 'k', 'again', 1), false);
        const rec = await store.get(col, 'k');
        assert.equal(rec?.value, 'v2');
        assert.equal(rec?.version, 2);
        assert.equal(await store.put(col, 'k', 'v3'), 3);
      });

      it('a non-zero expectedVersion on a missing record fails without creating it', async () => {
        assert.equal(await store.compareAndPut(col, 'missing', 'x', 1), false);
        assert.equal(await store.get(col, 'missing'), undefined);
      });

      it('50 concurrent creates (expectedVersion 0): exactly one wins', async () => {
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.compareAndPut(col, 'race', { winner: i }, 0)));
        assert.equal(results.filter(Boolean).length, 1);
        const rec = await store.get<{ winner: number }>(col, 'race');
        assert.equal(rec?.version, 1);
        assert.deepEqual(rec?.value, { winner: results.indexOf(true) });
      });

      it('50 concurrent updates per version: exactly one wins each round', async () => {
        await store.put(col, 'race', { round: 0, by: -1 });
        for (let round = 1; round <= 5; round++) {
          const results = await Promise.all(
            Array.from({ length: 50 }, (_, i) => store.compareAndPut(col, 'race', { round, by: i }, round)),
          );
          assert.equal(results.filter(Boolean).length, 1, `round ${round}`);
          const rec = await store.get<{ round: number; by: number }>(col, 'race');
          assert.equal(rec?.version, round + 1);
          assert.deepEqual(rec?.value, { round, by: results.indexOf(true) });
        }
      });

      it('read-modify-write loops with retries lose no update', async () => {
        await store.put(col, 'counter', 0);
        const worker = async (): Promise<void> => {
          for (;;) {
            const rec = await store.get<number>(col, 'counter');
            assert.ok(rec);
            if (await store.compareAndPut(col, 'counter', rec.value + 1, rec.version)) return;
          }
        };
        await Promise.all(Array.from({ length: 20 }, worker));
        const rec = await store.get<number>(col, 'counter');
        assert.equal(rec?.value, 20);
        assert.equal(rec?.version, 21);
      });
    });

    describe('delete', () => {
      it('deletes an existing record once', async () => {
        await store.put(col, 'd', 1);
        assert.equal(await store.delete(col, 'd'), true);
        assert.equal(await store.get(col, 'd'), undefined);
        assert.equal(await store.delete(col, 'd'), false);
        assert.equal(await store.delete(col, 'never'), false);
      });

      it('a deleted record can be created again, starting at version 1', async () => {
        await store.put(col, 'd', 1);
        await store.put(col, 'd', 2);
        await store.delete(col, 'd');
        assert.equal(await store.compareAndPut(col, 'd', 'again', 0), true);
        assert.equal((await store.get(col, 'd'))?.version, 1);
      });

      it('only touches the given collection', async () => {
        await store.put(col, 'd', 1);
        await store.put(`${col}-2`, 'd', 2);
        await store.delete(col, 'd');
        assert.equal((await store.get(`${col}-2`, 'd'))?.value, 2);
      });
    });

    describe('list', () => {
      it('lists a collection ordered by id', async () => {
        for (const id of ['b', 'a', 'c:2', 'c:10', 'A', '0', 'c:1']) await store.put(col, id, { id });
        await store.put(`${col}-other`, 'zzz', 1);
        const all = await store.list<{ id: string }>(col);
        assert.deepEqual(
          all.map((r) => r.id),
          ['0', 'A', 'a', 'b', 'c:1', 'c:10', 'c:2'],
        );
        for (const r of all) {
          assert.equal(r.collection, col);
          assert.deepEqual(r.value, { id: r.id });
          assert.equal(r.version, 1);
        }
      });

      it('filters by id prefix', async () => {
        for (const id of ['user:2', 'user:1', 'user', 'users:1', 'use', 'org:1', 'user:10']) await store.put(col, id, id);
        assert.deepEqual(
          (await store.list(col, 'user:')).map((r) => r.id),
          ['user:1', 'user:10', 'user:2'],
        );
        assert.deepEqual(
          (await store.list(col, 'user')).map((r) => r.id),
          ['user', 'user:1', 'user:10', 'user:2', 'users:1'],
        );
        assert.deepEqual(await store.list(col, 'nomatch'), []);
        assert.equal((await store.list(col, '')).length, 7);
      });

      it('treats LIKE / GLOB / regex characters in the prefix literally', async () => {
        for (const id of ['a%b', 'a%c', 'axb', 'a_b', 'a*b', 'a[b', 'a.b', 'a\\b', 'a?b']) await store.put(col, id, id);
        assert.deepEqual((await store.list(col, 'a%')).map((r) => r.id), ['a%b', 'a%c']);
        assert.deepEqual((await store.list(col, 'a_')).map((r) => r.id), ['a_b']);
        assert.deepEqual((await store.list(col, 'a*')).map((r) => r.id), ['a*b']);
        assert.deepEqual((await store.list(col, 'a[')).map((r) => r.id), ['a[b']);
        assert.deepEqual((await store.list(col, 'a.')).map((r) => r.id), ['a.b']);
        assert.deepEqual((await store.list(col, 'a\\')).map((r) => r.id), ['a\\b']);
        assert.deepEqual((await store.list(col, 'a?')).map((r) => r.id), ['a?b']);
      });

      it('orders and filters unicode ids by code point', async () => {
        const ids = ['é', 'e', 'z', '日本', '日本語', '😀', '\uff21', 'émile', 'e\u0301'];
        for (const id of ids) await store.put(col, id, id);
        assert.deepEqual(
          (await store.list(col)).map((r) => r.id),
          [...ids].sort(byCodePoint),
        );
        assert.deepEqual((await store.list(col, '日本')).map((r) => r.id), ['日本', '日本語']);
        assert.deepEqual((await store.list(col, 'é')).map((r) => r.id), ['é', 'émile']);
        assert.deepEqual((await store.list(col, '😀')).map((r) => r.id), ['😀']);
      });

      it('an empty collection lists nothing', async () => {
        assert.deepEqual(await store.list(`${col}-empty`), []);
      });
    });

    describe('values and ids', () => {
      it('round-trips nested JSON values', async () => {
        const value = {
          s: 'text "quoted" \\ back\nslash\ttab',
          n: -12.5,
          big: Number.MAX_SAFE_INTEGER,
          t: true,
          f: false,
          nil: null,
          arr: [1, 'two', { three: [3, [3.3]] }, null, []],
          obj: { deep: { deeper: { deepest: { k: 'v' } } }, empty: {} },
        };
        await store.put(col, 'nested', value);
        assert.deepEqual((await store.get(col, 'nested'))?.value, value);
        assert.deepEqual((await store.list(col))[0]?.value, value);
      });

      it('round-trips top-level scalars, null and arrays', async () => {
        const values: unknown[] = [null, 0, 42, -1.5, '', 'plain', true, false, [], [1, [2]], {}];
        for (const [i, v] of values.entries()) await store.put(col, `v${i}`, v);
        for (const [i, v] of values.entries()) assert.deepEqual((await store.get(col, `v${i}`))?.value, v, `value ${i}`);
      });

      it('round-trips unicode in values, ids and collections', async () => {
        const ucol = `${col}-ÿ-日本-🚀`;
        const value = { emoji: '😀👍🏽🇳🇱', cjk: '漢字かなカナ', rtl: 'مرحبا', combining: 'e\u0301', zwj: '👩‍💻', nul: 'a\u0000b' };
        await store.put(ucol, 'ключ-🔑', value);
        const rec = await store.get(ucol, 'ключ-🔑');
        assert.deepEqual(rec?.value, value);
        assert.equal(rec?.id, 'ключ-🔑');
        assert.equal(rec?.collection, ucol);
      });

      it('stores SQL-ish text, quotes and long ids literally', async () => {
        const evil = "'; drop table records; --";
        const ids = [evil, `"${evil}"`, "O'Brien", 'a"b', '`x`', 'x'.repeat(1000), '%', '_', "'); DELETE FROM records WHERE ('1'='1"];
        for (const id of ids) await store.put(evil, id, { id, evil });
        for (const id of ids) {
          const rec = await store.get<{ id: string; evil: string }>(evil, id);
          assert.deepEqual(rec?.value, { id, evil });
          assert.equal(rec?.id, id);
          assert.equal(rec?.collection, evil);
        }
        assert.equal((await store.list(evil)).length, ids.length);
        assert.deepEqual((await store.list(evil, "'; drop")).map((r) => r.id), [evil]);
        // the table is still there and other collections are untouched
        await store.put(col, 'still-here', true);
        assert.equal((await store.get(col, 'still-here'))?.value, true);
        assert.equal(await store.delete(evil, evil), true);
        assert.equal((await store.list(evil)).length, ids.length - 1);
      });

      it('round-trips large values', async () => {
        const big = { text: 'λ'.repeat(1_000_000), list: Array.from({ length: 10_000 }, (_, i) => ({ i, s: `item-${i}` })) };
        await store.put(col, 'big', big);
        assert.deepEqual((await store.get(col, 'big'))?.value, big);
      });
    });

    describe('ping / close', () => {
      it('ping answers true while open', async () => {
        assert.equal(await store.ping(), true);
      });

      it('after close ping is false, close is idempotent, and calls reject', async () => {
        await store.close();
        assert.equal(await store.ping(), false);
        await store.close();
        await assert.rejects(store.get(col, 'a'));
        await assert.rejects(store.put(col, 'a', 1));
      });
    });
  });
}
