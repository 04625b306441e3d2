/**
 * The shared cache of a multi-process gateway, in one process: real CacheHost (the primary's side,
 * a MemoryCache) and real ClusterCache instances (the workers' side) joined by an asynchronous,
 * in-order channel like node:cluster's IPC. It must pass the Cache contract and keep the workers'
 * near caches coherent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryCache } from '../src/cache/memory.js';
import { CacheHost } from '../src/cluster/cache-host.js';
import { ClusterCache } from '../src/cluster/cluster-cache.js';
import type { CacheRequest, ToWorker } from '../src/cluster/messages.js';
import { GatewayError } from '../src/errors/gateway-error.js';
import { cacheContract } from './helpers/cache-contract.js';

interface Cluster {
  host: CacheHost;
  worker(): { cache: ClusterCache; sent: CacheRequest[] };
  /** let every message in flight arrive */
  settle(): Promise<void>;
}

function cluster(): Cluster {
  const listeners = new Map<number, (m: ToWorker) => void>();
  const host = new CacheHost(new MemoryCache(), (id, m) => setImmediate(() => listeners.get(id)?.(m)), () => listeners.keys());
  let next = 1;
  return {
    host,
    worker() {
      const id = next++;
      const sent: CacheRequest[] = [];
      const cache = new ClusterCache({
        send: (m) => {
          sent.push(m);
          setImmediate(() => void host.handle(id, m));
        },
        onMessage: (l) => listeners.set(id, l),
      });
      return { cache, sent };
    },
    settle: () => sleep(5),
  };
}

cacheContract('ClusterCache (one worker of a primary)', async () => cluster().worker().cache);

describe('ClusterCache near cache', () => {
  it('a second read of a key costs no message to the primary', async () => {
    const c = cluster();
    const a = c.worker();
    await a.cache.set('k', 'v', 60_000);
    assert.equal(await a.cache.get('k'), 'v');
    const before = a.sent.length;
    for (let i = 0; i < 5; i++) assert.equal(await a.cache.get('k'), 'v');
    assert.equal(a.sent.length, before);
  });

  it('another worker’s set, delete, increment and touch reach a reader that holds the key', async () => {
    const c = cluster();
    const a = c.worker();
    const b = c.worker();
    await b.cache.set('k', 'one');
    assert.equal(await a.cache.get('k'), 'one');
    await b.cache.set('k', 'two');
    await c.settle();
    assert.equal(await a.cache.get('k'), 'two');
    await b.cache.delete('k');
    await c.settle();
    assert.equal(await a.cache.get('k'), undefined);
    await b.cache.increment('n', 1, 60_000);
    assert.equal(await a.cache.get('n'), '1');
    await b.cache.increment('n', 4, 60_000);
    await c.settle();
    assert.equal(await a.cache.get('n'), '5');
    // a touch changes the lifetime: the reader fetches the new one instead of expiring early
    await b.cache.set('t', 'x', 60);
    assert.equal(await a.cache.get('t'), 'x');
    await b.cache.touch('t', 60_000);
    await c.settle();
    await sleep(90);
    assert.equal(await a.cache.get('t'), 'x');
  });

  it('a read in flight while the worker itself changes the key is not kept', async () => {
    const c = cluster();
    const a = c.worker();
    await a.cache.set('k', 'old');
    const inFlight = a.cache.get('k');
    await a.cache.set('k', 'new');
    assert.equal(await inFlight, 'old');
    assert.equal(await a.cache.get('k'), 'new');
  });

  it('a read in flight while another worker changes the key is dropped when the news arrives', async () => {
    const c = cluster();
    const a = c.worker();
    const b = c.worker();
    await b.cache.set('k', 'old');
    const inFlight = a.cache.get('k');
    const write = b.cache.set('k', 'new');
    await Promise.all([inFlight, write]);
    await c.settle();
    assert.equal(await a.cache.get('k'), 'new');
  });

  it('honours the TTL in the near cache', async () => {
    const c = cluster();
    const a = c.worker();
    await a.cache.set('k', 'v', 50);
    assert.equal(await a.cache.get('k'), 'v');
    await sleep(80);
    assert.equal(await a.cache.get('k'), undefined);
  });

  it('counters are exact when several workers increment at once', async () => {
    const c = cluster();
    const workers = [c.worker(), c.worker(), c.worker()];
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => workers[i % 3]!.cache.increment('hits', 1, 60_000)));
    assert.deepEqual([...results].sort((x, y) => x - y), Array.from({ length: 300 }, (_, i) => i + 1));
    for (const w of workers) assert.equal(await w.cache.get('hits'), '300');
  });

  it('setIfAbsent has exactly one winner across workers', async () => {
    const c = cluster();
    const ws = [c.worker(), c.worker()];
    const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => ws[i % 2]!.cache.setIfAbsent('lock', `w${i}`, 60_000)));
    assert.equal(wins.filter(Boolean).length, 1);
  });

  it('a primary that does not answer is a 503-class error after the deadline, and ping says false', async () => {
    const cache = new ClusterCache({ send: () => undefined, onMessage: () => undefined }, 50);
    const t0 = Date.now();
    await assert.rejects(cache.get('k'), (e: unknown) => e instanceof GatewayError && e.code === 'GW_ERR_UNAVAILABLE' && e.status === 503);
    assert.ok(Date.now() - t0 < 2_000);
    assert.equal(await cache.ping(), false);
  });

  it('a channel that throws on send is a 503-class error, not a crash', async () => {
    const cache = new ClusterCache({ send: () => { throw new Error('channel closed'); }, onMessage: () => undefined });
    await assert.rejects(cache.set('k', 'v'), (e: unknown) => e instanceof GatewayError && e.code === 'GW_ERR_UNAVAILABLE');
  });

  it('after close every call fails fast and pending ones are rejected', async () => {
    const cache = new ClusterCache({ send: () => undefined, onMessage: () => undefined }, 10_000);
    const pending = cache.get('k');
    await cache.close();
    await assert.rejects(pending, (e: unknown) => e instanceof GatewayError && e.code === 'GW_ERR_UNAVAILABLE');
    await assert.rejects(cache.get('k'), (e: unknown) => e instanceof GatewayError && e.code === 'GW_ERR_UNAVAILABLE');
  });
});
