/**
 * Two gateways in one process sharing the real Redis at 127.0.0.1:6379, each with its own RedisCache
 * (as two replicas would have) on the same random key prefix: a session opened through one is served
 * by the other, a DELETE through one ends it for the other, and a rate limit is counted once across
 * both. And a gateway whose Redis is unreachable answers 503 (readiness and MCP requests), not a crash.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisCache } from '../src/cache/redis.js';
import type { Cache } from '../src/cache/types.js';
import { configFromObject } from '../src/config/load.js';
import { createGateway, type Gateway } from '../src/gateway.js';
import { createLogger } from '../src/observability/logger.js';
import { dropKeys } from './helpers/redis-keys.js';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { freePort } from './helpers/gateway.js';
import { INIT, post, send, session, toolText, type Reply } from './helpers/mcp-http.js';

const REDIS = 'redis://127.0.0.1:6379';
const PROTOCOL = '2025-11-25';

interface Replica {
  readonly url: string;
  readonly gateway: Gateway;
  readonly cache: Cache;
}

/** a gateway on 127.0.0.1:0 with the given cache (the caller closes the cache) */
async function startReplica(servers: unknown[], cache: Cache): Promise<Replica> {
  const config = await configFromObject(
    { store: 'sqlite::memory:', cache: 'memory', gateway: { listen: '127.0.0.1:0' }, servers },
    { baseDir: process.cwd(), env: process.env },
  );
  const logger = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  const gateway = await createGateway(config, { cache, logger });
  const { url } = await gateway.listen(config.gateway.port, '127.0.0.1');
  return { url, gateway, cache };
}

let nextId = 100;
const call = (url: string, sid: string, text: string): Promise<Reply> =>
  post(url, { jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name: 'echo', arguments: { text } } }, { 'mcp-session-id': sid, 'mcp-protocol-version': PROTOCOL });

describe('two gateway replicas sharing Redis', () => {
  let backend: EverythingServer;
  let a: Replica;
  let b: Replica;
  const caches: RedisCache[] = [];
  let prefix = '';

  before(async () => {
    backend = await startEverythingServer({ transport: 'streamable-http' });
    prefix = `ghtest-${randomUUID()}:`;
    const servers = [
      { name: 's', type: 'passthrough', backend: { url: backend.url, transport: 'streamable-http' } },
      {
        name: 'limited',
        type: 'passthrough',
        backend: { url: backend.url, transport: 'streamable-http' },
        policies: '<policies><inbound><base /><choose><when condition="@(context.Mcp.Method == &quot;tools/call&quot;)"><rate-limit calls="3" renewal-period="60" /></when></choose></inbound></policies>',
      },
    ];
    for (let i = 0; i < 2; i++) {
      const c = new RedisCache(REDIS, { prefix });
      caches.push(c);
      await c.connect();
    }
    a = await startReplica(servers, caches[0]!);
    b = await startReplica(servers, caches[1]!);
  });

  after(async () => {
    await a?.gateway.close();
    await b?.gateway.close();
    await Promise.all(caches.map((c) => c.close()));
    await backend?.close();
    await dropKeys([prefix]);
  });

  it('a session initialized through A serves tools/call through B (and A)', async () => {
    const sid = await session(`${a.url}/s/mcp`);
    const viaB = await call(`${b.url}/s/mcp`, sid, 'through B');
    assert.equal(viaB.status, 200, viaB.text);
    assert.equal(toolText(viaB), 'through B');
    const viaA = await call(`${a.url}/s/mcp`, sid, 'through A');
    assert.equal(viaA.status, 200, viaA.text);
    assert.equal(toolText(viaA), 'through A');
    // an id neither replica issued is unknown to both
    for (const r of [a, b]) assert.equal((await call(`${r.url}/s/mcp`, `${sid}x`, 'nope')).status, 404);
  });

  it('DELETE through A ends the session for B (which had it in its near cache)', async () => {
    const sid = await session(`${a.url}/s/mcp`);
    for (let i = 0; i < 3; i++) assert.equal((await call(`${b.url}/s/mcp`, sid, `b${i}`)).status, 200);
    const d = await send(`${a.url}/s/mcp`, { method: 'DELETE', headers: { 'mcp-session-id': sid, 'mcp-protocol-version': PROTOCOL } });
    assert.ok(d.status === 200 || d.status === 204, `DELETE: ${d.status} ${d.text}`);
    const end = Date.now() + 1_000;
    let r = await call(`${b.url}/s/mcp`, sid, 'after delete');
    while (r.status !== 404 && Date.now() < end) {
      await sleep(20);
      r = await call(`${b.url}/s/mcp`, sid, 'after delete');
    }
    assert.equal(r.status, 404, `B after the DELETE: ${r.status} ${r.text}`);
    assert.equal((await call(`${a.url}/s/mcp`, sid, 'after delete')).status, 404);
  });

  it('a rate limit is shared: 5 calls alternating A/B → exactly 3 × 200 and 2 × 429', async () => {
    const sid = await session(`${a.url}/limited/mcp`);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call(`${(i % 2 === 0 ? a : b).url}/limited/mcp`, sid, `call ${i}`);
      statuses.push(r.status);
      if (r.status === 429) assert.match(r.text, /Rate limit is exceeded/);
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
  });
});

describe('a gateway whose Redis is unreachable', () => {
  let backend: EverythingServer;
  let gw: Replica;
  let cache: RedisCache;

  before(async () => {
    backend = await startEverythingServer({ transport: 'streamable-http' });
    cache = new RedisCache(`redis://:never-shown@127.0.0.1:${await freePort()}`, { prefix: `ghtest-${randomUUID()}:` });
    gw = await startReplica([{ name: 's', type: 'passthrough', backend: { url: backend.url, transport: 'streamable-http' } }], cache);
  });

  after(async () => {
    await gw?.gateway.close();
    await cache?.close();
    await backend?.close();
  });

  it('answers /readyz 503 with cache "down"', async () => {
    const r = await send(`${gw.url}/readyz`, {});
    assert.equal(r.status, 503, r.text);
    assert.equal((r.json as { cache?: string }).cache, 'down');
  });

  it('answers an MCP request 503, fast, naming no secret', async () => {
    const t0 = Date.now();
    const init = await post(`${gw.url}/s/mcp`, INIT);
    assert.equal(init.status, 503, init.text);
    assert.ok(!init.text.includes('never-shown'));
    const r = await call(`${gw.url}/s/mcp`, 'some-session-id', 'x');
    assert.equal(r.status, 503, r.text);
    assert.ok(Date.now() - t0 < 3_000, `took ${Date.now() - t0} ms`);
    // still alive
    assert.equal((await send(`${gw.url}/readyz`, {})).status, 503);
  });
});
