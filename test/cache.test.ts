import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openCache } from '../src/cache/open.js';
import { MemoryCache } from '../src/cache/memory.js';
import { GatewayError } from '../src/errors/gateway-error.js';
import { cacheContract } from './helpers/cache-contract.js';

cacheContract('MemoryCache', async () => new MemoryCache());
cacheContract('MemoryCache (fast sweep)', async () => new MemoryCache({ sweepIntervalMs: 5 }));
cacheContract('openCache(memory)', () => openCache('memory'));

describe('MemoryCache size bound', () => {
  it('defaults to 100 000 keys', async () => {
    const c = new MemoryCache();
    assert.equal(c.maxKeys, 100_000);
    await c.close();
  });

  it('never holds more than maxKeys keys and keeps the newest', async () => {
    const c = new MemoryCache({ maxKeys: 100 });
    try {
      for (let i = 0; i < 10_000; i++) {
        if (i % 3 === 0) await c.set(`k${i}`, 'v', 60_000);
        else if (i % 3 === 1) await c.increment(`k${i}`, 1, 60_000);
        else await c.setIfAbsent(`k${i}`, 'v');
        assert.ok(c.size <= 100);
      }
      assert.equal(c.size, 100);
      assert.equal(await c.get('k9999'), 'v');
      assert.equal(await c.get('k9998'), 'v');
      assert.equal(await c.get('k9997'), '1');
      assert.equal(await c.get('k0'), undefined);
    } finally {
      await c.close();
    }
  });

  it('evicts the soonest-expiring key first', async () => {
    const c = new MemoryCache({ maxKeys: 3 });
    try {
      await c.set('long', '1', 60_000);
      await c.set('soon', '2', 5_000);
      await c.set('forever', '3');
      await c.set('new', '4', 60_000);
      assert.equal(c.size, 3);
      assert.equal(await c.get('soon'), undefined);
      assert.equal(await c.get('long'), '1');
      assert.equal(await c.get('forever'), '3');
      assert.equal(await c.get('new'), '4');
    } finally {
      await c.close();
    }
  });

  it('evicts the oldest key when none expires', async () => {
    const c = new MemoryCache({ maxKeys: 3 });
    try {
      await c.set('a', '1');
      await c.set('b', '2');
      await c.set('c', '3');
      await c.set('a', 'updated'); // an update is not an insert: nothing evicted, order unchanged
      assert.equal(c.size, 3);
      await c.set('d', '4');
      assert.deepEqual([await c.get('a'), await c.get('b'), await c.get('c'), await c.get('d')], [undefined, '2', '3', '4']);
      await c.setIfAbsent('e', '5');
      assert.equal(await c.get('b'), undefined);
    } finally {
      await c.close();
    }
  });

  it('drops an expired key before evicting a live one', async () => {
    const c = new MemoryCache({ maxKeys: 3, sweepIntervalMs: 0 });
    try {
      await c.set('a', '1');
      await c.set('gone', '2', 20);
      await c.set('c', '3');
      await sleep(50);
      await c.set('d', '4');
      assert.equal(c.size, 3);
      assert.equal(await c.get('a'), '1');
      assert.equal(await c.get('c'), '3');
      assert.equal(await c.get('d'), '4');
    } finally {
      await c.close();
    }
  });

  it('deleted and re-created keys do not confuse eviction order', async () => {
    const c = new MemoryCache({ maxKeys: 3 });
    try {
      await c.set('a', '1');
      await c.set('b', '2');
      await c.delete('a');
      await c.set('a', '1b'); // now the newest
      await c.set('c', '3');
      await c.set('d', '4'); // evicts b, the oldest
      assert.deepEqual([await c.get('a'), await c.get('b'), await c.get('c'), await c.get('d')], ['1b', undefined, '3', '4']);
    } finally {
      await c.close();
    }
  });

  it('stays bounded and fast under churn with deletes (no quadratic behaviour)', async () => {
    const c = new MemoryCache({ maxKeys: 1000 });
    try {
      const started = performance.now();
      for (let i = 0; i < 200_000; i++) {
        await c.set(`k${i}`, 'v', i % 2 === 0 ? 0 : 60_000);
        if (i % 5 === 0) await c.delete(`k${i - 3}`);
      }
      assert.ok(c.size <= 1000);
      assert.ok(performance.now() - started < 5000, 'churn completes quickly');
    } finally {
      await c.close();
    }
  });

  it('rejects a non-positive maxKeys', () => {
    assert.throws(() => new MemoryCache({ maxKeys: 0 }), GatewayError);
  });
});

describe('MemoryCache expiry sweeping', () => {
  it('the periodic sweep removes expired keys without any access', async () => {
    const c = new MemoryCache({ sweepIntervalMs: 10 });
    try {
      for (let i = 0; i < 50; i++) await c.set(`k${i}`, 'v', 20);
      await c.set('keep', 'v');
      assert.equal(c.size, 51);
      await sleep(150);
      assert.equal(c.size, 1);
    } finally {
      await c.close();
    }
  });

  it('an expired key is dropped lazily when read', async () => {
    const c = new MemoryCache({ sweepIntervalMs: 0 });
    try {
      await c.set('x', 'v', 10);
      await sleep(40);
      assert.equal(c.size, 1);
      assert.equal(await c.get('x'), undefined);
      assert.equal(c.size, 0);
    } finally {
      await c.close();
    }
  });

  it('close stops the timer and empties the cache; later calls reject', async () => {
    const c = new MemoryCache({ sweepIntervalMs: 10 });
    await c.set('x', 'v');
    await c.close();
    assert.equal(c.size, 0);
    await assert.rejects(c.get('x'), (err: unknown) => err instanceof GatewayError && err.code === 'GW_ERR_UNAVAILABLE');
    await assert.rejects(c.set('x', 'v'));
    await assert.rejects(c.increment('x', 1, 10));
  });
});

describe('openCache', () => {
  it('memory opens a MemoryCache', async () => {
    const c = await openCache('memory');
    assert.ok(c instanceof MemoryCache);
    assert.equal(c.kind, 'memory');
    await c.close();
  });

  it('redis:// and rediss:// open Redis; an unreachable one is a 503-class error that does not echo the password', async () => {
    for (const url of ['redis://:s3cret@127.0.0.1:1/0', 'rediss://user:s3cret@127.0.0.1:1']) {
      await assert.rejects(openCache(url), (err: unknown) => {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.code, 'GW_ERR_UNAVAILABLE');
        assert.doesNotMatch(err.message, /s3cret/);
        return true;
      });
    }
  });

  it('rejects anything else with GW_ERR_CONFIG_INVALID', async () => {
    for (const url of ['', 'Memory', 'memcached://x:s3cret@y', 'memory:']) {
      await assert.rejects(openCache(url), (err: unknown) => {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.code, 'GW_ERR_CONFIG_INVALID');
        assert.ok(!err.message.includes('s3cret'));
        return true;
      });
    }
  });
});
