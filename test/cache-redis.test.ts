/**
 * RedisCache against the real Redis at 127.0.0.1:6379 (shared with other tests: every cache here
 * uses its own random key prefix, and nothing is ever flushed).
 * - the whole Cache contract, on plain keys and on `mcp:session:` keys (the near-cache path);
 * - the near cache: served without a round trip, dropped on an invalidation, coherent between two
 *   instances, bypassed while the subscriber connection is down, honouring the key's TTL;
 * - failures: a closed port fails fast with GW_ERR_UNAVAILABLE, a Redis that goes away and comes
 *   back is recovered from, a password never appears in an error.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import net from 'node:net';
import { inspect } from 'node:util';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { openCache } from '../src/cache/open.js';
import { parseRedisUrl, RedisCache } from '../src/cache/redis.js';
import type { Cache } from '../src/cache/types.js';
import { GatewayError } from '../src/errors/gateway-error.js';
import { dropKeys } from './helpers/redis-keys.js';
import { cacheContract } from './helpers/cache-contract.js';
import { freePort } from './helpers/gateway.js';

const REDIS = 'redis://127.0.0.1:6379';
/** every prefix this file used: its keys are deleted when the file is done (Redis is shared) */
const prefixes: string[] = [];
const newPrefix = (): string => {
  const p = `ghtest-${randomUUID()}:`;
  prefixes.push(p);
  return p;
};

/** every cache made by a test, closed after it (also when an assertion failed half-way) */
const opened: Cache[] = [];
async function redisCache(url = REDIS, prefix = newPrefix(), opts: ConstructorParameters<typeof RedisCache>[1] = {}): Promise<RedisCache> {
  const c = new RedisCache(url, { prefix, ...opts });
  opened.push(c);
  await c.connect();
  return c;
}
afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

/** the Cache with every key under `mcp:session:`, so the contract runs through the near cache */
class SessionKeys implements Cache {
  readonly kind = 'redis' as const;
  constructor(private readonly inner: Cache) {}
  get = (k: string) => this.inner.get(`mcp:session:${k}`);
  set = (k: string, v: string, ttl?: number) => this.inner.set(`mcp:session:${k}`, v, ttl);
  setIfAbsent = (k: string, v: string, ttl?: number) => this.inner.setIfAbsent(`mcp:session:${k}`, v, ttl);
  delete = (k: string) => this.inner.delete(`mcp:session:${k}`);
  increment = (k: string, by: number, ttl: number) => this.inner.increment(`mcp:session:${k}`, by, ttl);
  touch = (k: string, ttl: number) => this.inner.touch(`mcp:session:${k}`, ttl);
  ping = () => this.inner.ping();
  close = () => this.inner.close();
}

cacheContract('RedisCache', () => redisCache());
cacheContract('RedisCache (mcp:session: keys, near cache)', async () => new SessionKeys(await redisCache()));
cacheContract('openCache(redis://…?prefix=…)', () => openCache(`${REDIS}/0?prefix=${encodeURIComponent(newPrefix())}`));

/** poll until `check` holds (at most `ms`) */
async function eventually(check: () => Promise<boolean>, ms = 1_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) assert.fail(`${what} did not hold within ${ms} ms`);
    await sleep(10);
  }
}

async function assertUnavailable(p: Promise<unknown>, secret?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof GatewayError, `a GatewayError, got ${inspect(err)}`);
    assert.equal(err.code, 'GW_ERR_UNAVAILABLE');
    assert.equal(err.status, 503);
    if (secret !== undefined) assert.ok(!inspect(err, { depth: 10 }).includes(secret), 'the secret appears in the error');
    return true;
  });
}

/**
 * A TCP proxy in front of Redis: can be switched off (every connection cut, the port closed) and on
 * again on the same port, and can hold back Redis' replies (not its RESP3 pushes, i.e. pub/sub
 * messages) by `replyDelayMs`, so an invalidation can overtake a reply.
 */
interface Proxy {
  readonly url: string;
  replyDelayMs: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}
const proxies: Proxy[] = [];
async function redisProxy(): Promise<Proxy> {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = net.createServer((down) => {
    const up = net.connect(6379, '127.0.0.1');
    sockets.add(down).add(up);
    down.pipe(up);
    up.on('data', (chunk: Buffer) => {
      if (proxy.replyDelayMs > 0 && chunk[0] !== 0x3e /* '>' */) {
        const t = setTimeout(() => {
          timers.delete(t);
          down.write(chunk);
        }, proxy.replyDelayMs);
        timers.add(t);
      } else down.write(chunk);
    });
    const end = () => {
      down.destroy();
      up.destroy();
      sockets.delete(down);
      sockets.delete(up);
    };
    down.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  const proxy: Proxy = {
    url: `redis://127.0.0.1:${port}`,
    replyDelayMs: 0,
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        for (const t of timers) clearTimeout(t);
        timers.clear();
        if (server.listening) server.close(() => r());
        else r();
      }),
    start: () => new Promise<void>((r) => server.listen(port, '127.0.0.1', r)),
  };
  await proxy.start();
  proxies.push(proxy);
  return proxy;
}
after(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  await dropKeys(prefixes);
});

describe('RedisCache near cache (mcp:session: keys)', () => {
  let plain: Redis;
  before(() => {
    plain = new Redis(6379, '127.0.0.1', { lazyConnect: false });
  });
  after(async () => {
    await plain.quit();
  });

  it('serves a session key from memory after the first read, until an invalidation is published', async () => {
    const a = await redisCache();
    const key = `mcp:session:${randomUUID()}`;
    await plain.set(a.prefix + key, 'v1', 'PX', 60_000);
    assert.equal(await a.get(key), 'v1');
    assert.equal(a.nearSize, 1);
    // removed behind its back, without an invalidation: the near copy still answers (no round trip)
    await plain.del(a.prefix + key);
    assert.equal(await a.get(key), 'v1');
    assert.equal(await a.get(key), 'v1');
    // the invalidation drops it
    await plain.publish(a.channel, key);
    await eventually(async () => (await a.get(key)) === undefined, 1_000, 'the invalidated key is gone');
    assert.equal(a.nearSize, 0);
  });

  it('never near-caches other keys: a change behind its back is seen at once', async () => {
    const a = await redisCache();
    const key = `rl:${randomUUID()}`;
    await plain.set(a.prefix + key, 'v1');
    assert.equal(await a.get(key), 'v1');
    await plain.set(a.prefix + key, 'v2');
    assert.equal(await a.get(key), 'v2');
    assert.equal(a.nearSize, 0);
  });

  it('keeps the key\'s TTL: a near copy expires with the key', async () => {
    const a = await redisCache();
    const key = `mcp:session:${randomUUID()}`;
    await plain.set(a.prefix + key, 'v1', 'PX', 150);
    assert.equal(await a.get(key), 'v1');
    assert.equal(a.nearSize, 1);
    // replaced behind its back (no TTL, no invalidation): the near copy answers until the old TTL ends
    await plain.set(a.prefix + key, 'v2');
    assert.equal(await a.get(key), 'v1');
    await sleep(200);
    assert.equal(await a.get(key), 'v2', 'read again from Redis once the near copy expired');
    await a.delete(key);
    assert.equal(await a.get(key), undefined);
  });

  it('is bounded', async () => {
    const a = await redisCache(REDIS, newPrefix(), { nearMax: 5 });
    for (let i = 0; i < 12; i++) {
      await plain.set(`${a.prefix}mcp:session:${i}`, `v${i}`, 'PX', 60_000);
      assert.equal(await a.get(`mcp:session:${i}`), `v${i}`);
      assert.ok(a.nearSize <= 5);
    }
    assert.equal(a.nearSize, 5);
  });

  it('two instances: set, touch and delete through B reach A\'s near copy', async () => {
    const prefix = newPrefix();
    const a = await redisCache(REDIS, prefix);
    const b = await redisCache(REDIS, prefix);
    const key = `mcp:session:${randomUUID()}`;
    await b.set(key, 'one', 60_000);
    await eventually(async () => (await a.get(key)) === 'one', 1_000, 'A reads B\'s value');
    await eventually(async () => a.nearSize === 1 && (await a.get(key)) === 'one', 1_000, 'A keeps a near copy');

    await b.set(key, 'two', 60_000);
    await eventually(async () => (await a.get(key)) === 'two', 1_000, 'A sees B\'s set');

    // touch shortens the TTL: A must not keep serving its copy past the new expiry
    assert.equal(await b.touch(key, 60), true);
    await sleep(120);
    assert.equal(await a.get(key), undefined, 'the touched key expired for A too');

    await b.set(key, 'three', 60_000);
    await eventually(async () => (await a.get(key)) === 'three', 1_000, 'A sees the new value');
    assert.equal(await b.delete(key), true);
    await eventually(async () => (await a.get(key)) === undefined, 1_000, 'A sees B\'s delete');

    assert.equal(await b.setIfAbsent(key, 'four', 60_000), true);
    await eventually(async () => (await a.get(key)) === 'four', 1_000, 'A sees B\'s setIfAbsent');
    await b.set(key, '1', 60_000);
    await eventually(async () => (await a.get(key)) === '1', 1_000, 'A sees a number');
    assert.equal(await b.increment(key, 2, 60_000), 3);
    await eventually(async () => (await a.get(key)) === '3', 1_000, 'A sees B\'s increment');
  });

  it('two instances: a plain key changed through B is seen by A at once', async () => {
    const prefix = newPrefix();
    const a = await redisCache(REDIS, prefix);
    const b = await redisCache(REDIS, prefix);
    const key = `k:${randomUUID()}`;
    await b.set(key, 'one');
    assert.equal(await a.get(key), 'one');
    await b.set(key, 'two');
    assert.equal(await a.get(key), 'two');
    await b.delete(key);
    assert.equal(await a.get(key), undefined);
  });

  it('two instances: 200 concurrent increments across both return exactly 1..200', async () => {
    const prefix = newPrefix();
    const a = await redisCache(REDIS, prefix);
    const b = await redisCache(REDIS, prefix);
    const key = `rl:${randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).increment(key, 1, 10_000)));
    assert.deepEqual(
      [...results].sort((x, y) => x - y),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    assert.equal(await a.get(key), '200');
    const ttl = await plain.pttl(prefix + key);
    assert.ok(ttl > 0 && ttl <= 10_000, `counter TTL ${ttl}`);
  });

  it('non-integer increments, and a non-numeric value is refused like MemoryCache', async () => {
    const a = await redisCache();
    assert.equal(await a.increment('f', 0.5, 10_000), 0.5);
    assert.equal(await a.increment('f', 1.25, 10_000), 1.75);
    await a.set('txt', 'hello');
    await assert.rejects(a.increment('txt', 1, 1000), (err: unknown) => err instanceof GatewayError && err.code === 'GW_ERR_INTERNAL');
    await assert.rejects(a.increment('f', Number.NaN, 1000), (err: unknown) => err instanceof GatewayError && err.code === 'GW_ERR_INTERNAL');
  });

  it('a read in flight when the key changes is not kept (the invalidation overtakes the reply)', async () => {
    const proxy = await redisProxy();
    const prefix = newPrefix();
    const a = await redisCache(proxy.url, prefix, { heartbeatMs: 0 });
    const b = await redisCache(REDIS, prefix);
    const key = `mcp:session:${randomUUID()}`;
    await b.set(key, 'old', 60_000);
    await eventually(async () => a.nearCacheActive && a.nearSize === 0);
    proxy.replyDelayMs = 150;
    const read = a.get(key); // Redis answers 'old' at once, A hears it 150 ms later
    await sleep(30);
    await b.set(key, 'new', 60_000); // its invalidation reaches A before that answer
    assert.equal(await read, 'old', 'the race happened: the read answered the value it read');
    proxy.replyDelayMs = 0;
    await sleep(20);
    assert.equal(await a.get(key), 'new', 'the answer of the read in flight was not kept');
    assert.equal(await a.get(key), 'new');
  });

  it('bypasses (and empties) the near cache while the subscriber connection is down', async () => {
    const prefix = newPrefix();
    const a = await redisCache(REDIS, prefix);
    const key = `mcp:session:${randomUUID()}`;
    await plain.set(prefix + key, 'v1', 'PX', 60_000);
    assert.equal(await a.get(key), 'v1');
    assert.equal(a.nearSize, 1);
    assert.equal(a.nearCacheActive, true);
    // kill A's subscriber connection (found by its name, which carries a hash of the prefix)
    const name = `gatehouse-cache-sub-${createHash('sha256').update(prefix).digest('hex').slice(0, 12)}`;
    const clients = String(await plain.client('LIST')).split('\n').filter((l) => l.includes(` name=${name} `));
    assert.equal(clients.length, 1, 'A has one subscriber connection');
    const id = /\bid=(\d+)/.exec(clients[0]!)![1]!;
    await plain.client('KILL', 'ID', id);
    await eventually(async () => !a.nearCacheActive, 1_000, 'the near cache is switched off');
    assert.equal(a.nearSize, 0);
    // changed without an invalidation (as if it had been sent while A was not listening)
    await plain.set(prefix + key, 'v2', 'PX', 60_000);
    assert.equal(await a.get(key), 'v2');
    // the subscriber reconnects and the near cache comes back, without the old copy
    await eventually(async () => a.nearCacheActive, 3_000, 'the near cache is back');
    assert.equal(await a.get(key), 'v2');
    assert.equal(a.nearSize, 1);
  });
});

describe('RedisCache failures', () => {
  it('a closed port fails fast: GW_ERR_UNAVAILABLE, ping false, connect rejects', async () => {
    const port = await freePort();
    const errors: string[] = [];
    const c = new RedisCache(`redis://127.0.0.1:${port}`, { prefix: newPrefix(), onError: (m) => errors.push(m) });
    opened.push(c);
    const t0 = Date.now();
    await assertUnavailable(c.get('mcp:session:x'));
    await assertUnavailable(c.get('k'));
    await assertUnavailable(c.set('mcp:session:x', 'v', 1000));
    await assertUnavailable(c.setIfAbsent('k', 'v'));
    await assertUnavailable(c.increment('k', 1, 1000));
    await assertUnavailable(c.touch('k', 1000));
    await assertUnavailable(c.delete('k'));
    assert.equal(await c.ping(), false);
    await assertUnavailable(c.connect());
    assert.ok(Date.now() - t0 < 3_000, `took ${Date.now() - t0} ms`);
    assert.ok(errors.length > 0, 'connection errors were reported to onError, not thrown');
    await c.close();
    await c.close();
    assert.equal(await c.ping(), false);
    await assert.rejects(c.get('k'), /closed/);
  });

  it('openCache on an unreachable Redis fails fast, naming host and port but no password', async () => {
    const port = await freePort();
    const t0 = Date.now();
    await assert.rejects(openCache(`redis://admin:pa55-w0rd-xyz@127.0.0.1:${port}/2`), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'GW_ERR_UNAVAILABLE');
      assert.match(err.message, new RegExp(`cannot connect to the Redis cache at 127\\.0\\.0\\.1:${port}`));
      const all = inspect(err, { depth: 10 });
      assert.ok(!all.includes('pa55-w0rd-xyz'), all);
      assert.ok(!all.includes('admin'), all);
      return true;
    });
    assert.ok(Date.now() - t0 < 3_000, `took ${Date.now() - t0} ms`);
  });

  it('a wrong password (Redis answers with an error) never appears in the error', async () => {
    const secret = `s3cr3t-${randomUUID()}`;
    await assert.rejects(openCache(`redis://nosuchuser-${randomUUID().slice(0, 8)}:${secret}@127.0.0.1:6379`), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'GW_ERR_UNAVAILABLE');
      const all = inspect(err, { depth: 10 });
      assert.ok(!all.includes(secret), all);
      assert.ok(!JSON.stringify({ m: err.message, c: String(err.cause) }).includes(secret));
      return true;
    });
    const c = new RedisCache(`redis://u:${secret}@127.0.0.1:6379`, { prefix: newPrefix() });
    opened.push(c);
    await eventually(async () => c.lastError !== undefined, 2_000, 'an auth error');
    assert.ok(!c.lastError!.includes(secret));
    await assertUnavailable(c.get('k'), secret);
  });

  it('parses URL forms without echoing them; bad URLs are config errors naming no secret', () => {
    const p = parseRedisUrl('rediss://user:p%40ss@redis.example.com:6380/3?prefix=gw1:');
    assert.equal(p.options.host, 'redis.example.com');
    assert.equal(p.options.port, 6380);
    assert.equal(p.options.db, 3);
    assert.equal(p.options.username, 'user');
    assert.equal(p.options.password, 'p@ss');
    assert.deepEqual(p.options.tls, { servername: 'redis.example.com' });
    assert.equal(p.prefix, 'gw1:');
    assert.equal(p.target, 'redis.example.com:6380');
    const q = parseRedisUrl('redis://:only-pw@[::1]');
    assert.equal(q.options.password, 'only-pw');
    assert.equal(q.options.username, undefined);
    assert.equal(q.options.port, 6379);
    assert.equal(q.options.tls, undefined);
    assert.equal(q.target, '[::1]:6379');
    assert.equal(parseRedisUrl('redis://legacy-pw@h').options.password, 'legacy-pw');
    for (const bad of ['redis://u:topsecret@h/notadb', 'redis://u:topsecret@h/0?bogus=1', 'redis://u:topsecret@:6379', 'redis:topsecret']) {
      assert.throws(
        () => parseRedisUrl(bad),
        (err: unknown) => err instanceof GatewayError && err.code === 'GW_ERR_CONFIG_INVALID' && !err.message.includes('topsecret'),
        bad,
      );
    }
  });

  it('recovers in the background when Redis goes away and comes back', async () => {
    const proxy = await redisProxy();
    const c = await redisCache(proxy.url);
    const key = `mcp:session:${randomUUID()}`;
    await c.set(key, 'v', 60_000);
    assert.equal(await c.get(key), 'v');
    // Redis goes away
    await proxy.stop();
    await eventually(async () => !c.nearCacheActive, 1_000, 'near cache off');
    const t0 = Date.now();
    await assertUnavailable(c.get(key));
    await assertUnavailable(c.increment('n', 1, 1000));
    assert.equal(await c.ping(), false);
    assert.ok(Date.now() - t0 < 3_000, `took ${Date.now() - t0} ms`);
    // and comes back: the cache reconnects by itself
    await proxy.start();
    await eventually(() => c.ping(), 5_000, 'ping answers again');
    assert.equal(await c.get(key), 'v');
    await eventually(async () => c.nearCacheActive, 5_000, 'near cache back');
  });

  it('a command in flight when the connection hangs fails within the command timeout', async () => {
    const proxy = await redisProxy();
    const c = await redisCache(proxy.url, newPrefix(), { commandTimeoutMs: 300 });
    proxy.replyDelayMs = 5_000;
    const t0 = Date.now();
    await assertUnavailable(c.get('k'));
    assert.ok(Date.now() - t0 < 1_500, `took ${Date.now() - t0} ms`);
    assert.equal(await c.ping(), false);
  });
});
