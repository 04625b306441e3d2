/**
 * Products and subscription keys through a running gateway in front of the real MCP backend: the
 * SDK client with `Ocp-Apim-Subscription-Key` in its headers (as VS Code is configured), every
 * refusal with APIM's 401 and message, keys removed before anything reaches the backend, the
 * product-scope policies and context.Subscription/Product, rate-limit per subscription exact under
 * concurrency, and a burst of wrong keys that valid callers do not feel (and metrics show).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { startGateway, type RunningGateway } from './helpers/gateway.js';
import { INIT, post, send, session, toolText } from './helpers/mcp-http.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/types.js';
import { Subscriptions } from '../src/subscriptions/subscriptions.js';
import { KEY_INVALID, KEY_NOT_FOUND } from '../src/subscriptions/gate.js';
import { main, type CliIo } from '../src/cli/main.js';

const KEY = 'ocp-apim-subscription-key';

const GLOBAL = `<policies><inbound><set-header name="x-global" exists-action="override"><value>g</value></set-header></inbound><backend><forward-request /></backend><outbound /><on-error><set-header name="x-reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header></on-error></policies>`;
const STARTER = `<policies><inbound><base /><rate-limit calls="5" renewal-period="60" remaining-calls-header-name="x-remaining" /><set-header name="x-product" exists-action="override"><value>@(context.Product.Name)</value></set-header><set-header name="x-subscription" exists-action="override"><value>@((context.Subscription?.Name ?? "none") + "/" + (context.Subscription?.Id ?? ""))</value></set-header></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>`;
const WEATHER = `<policies><inbound><base /><set-header name="x-api" exists-action="override"><value>@(context.Api.Name)</value></set-header></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>`;
const ECHO_TOOL = `<policies><inbound><base /><set-header name="x-operation" exists-action="override"><value>@(context.Operation.Name)</value></set-header></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>`;
const BYKEY = `<policies><inbound><base /><rate-limit-by-key calls="3" renewal-period="60" counter-key="@(context.Subscription.Id)" /></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>`;

const HS_KEY = Buffer.alloc(32, 9);
const BOTH = `<policies><inbound><base /><validate-jwt header-name="Authorization"><issuer-signing-keys><key>${HS_KEY.toString('base64')}</key></issuer-signing-keys><audiences><audience>both-api</audience></audiences></validate-jwt></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>`;

describe('products and subscription keys', () => {
  let backend: EverythingServer;
  let gw: RunningGateway;
  let dir: string;
  let store: Store;
  let subs: Subscriptions;
  const keys: Record<string, { primary: string; secondary: string; id: string }> = {};
  const url = (server: string) => `${gw.url}/${server}/mcp`;

  async function issue(name: string, scope: Parameters<Subscriptions['create']>[0]['scope'], extra: { endDate?: string } = {}) {
    const r = await subs.create({ name, scope, ...extra });
    keys[name] = { primary: r.primaryKey, secondary: r.secondaryKey, id: r.subscription.id };
    return keys[name]!;
  }
  const call = (server: string, sid: string, key: string, id: number, text = 'hi') =>
    post(url(server), { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text } } }, { [KEY]: key, 'mcp-session-id': sid });

  before(async () => {
    backend = await startEverythingServer({ transport: 'streamable-http' });
    dir = mkdtempSync(join(tmpdir(), 'gh-products-'));
    const dbFile = join(dir, 'gh.db');
    gw = await startGateway({
      store: `sqlite:${dbFile}`,
      policies: GLOBAL,
      servers: [
        { name: 'weather', type: 'passthrough', backend: { url: backend.url }, policies: WEATHER, tools: [{ name: 'echo', policies: ECHO_TOOL }] },
        { name: 'extra', type: 'passthrough', backend: { url: backend.url } },
        { name: 'openx', type: 'passthrough', backend: { url: backend.url } },
        { name: 'free', type: 'passthrough', backend: { url: backend.url } },
        { name: 'bykey', type: 'passthrough', backend: { url: backend.url } },
        { name: 'both', type: 'passthrough', backend: { url: backend.url }, policies: BOTH },
      ],
      products: [
        { name: 'starter', servers: ['weather'], policies: STARTER },
        { name: 'gold', servers: ['weather', 'extra'] },
        { name: 'extra-only', servers: ['extra'] },
        { name: 'open', servers: ['openx'], subscriptionRequired: false },
        { name: 'metered', servers: ['bykey'], policies: BYKEY },
        { name: 'secure', servers: ['both'] },
      ],
    });
    store = await openStore(`sqlite:${dbFile}`);
    subs = new Subscriptions(store);
    await issue('alice', { type: 'product', name: 'starter' });
    await issue('bob', { type: 'product', name: 'starter' });
    await issue('gold-1', { type: 'product', name: 'gold' });
    await issue('extra-1', { type: 'product', name: 'extra-only' });
    await issue('weather-only', { type: 'server', name: 'weather' });
    await issue('everything', { type: 'all' });
    await issue('old', { type: 'product', name: 'starter' }, { endDate: new Date(Date.now() - 60_000).toISOString() });
    await issue('paused', { type: 'product', name: 'starter' });
    await subs.setState('paused', 'suspended');
    await issue('gone', { type: 'product', name: 'starter' });
    await subs.setState('gone', 'cancelled');
    await issue('m1', { type: 'product', name: 'metered' });
    await issue('m2', { type: 'product', name: 'metered' });
  });

  after(async () => {
    await gw?.close();
    await store?.close();
    await backend?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the SDK client with the key in its headers (as VS Code is configured) initializes, lists and calls; the backend never sees the key', async () => {
    const key = keys.alice!.primary;
    const seen = backend.requests.length;
    const client = new Client({ name: 'vscode-like', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url('weather')), { requestInit: { headers: { 'Ocp-Apim-Subscription-Key': key } } }));
    try {
      assert.ok((await client.listTools()).tools.some((t) => t.name === 'echo'));
      const r = await client.callTool({ name: 'echo', arguments: { text: 'through a product' } });
      assert.equal((r.content as { text: string }[])[0]!.text, 'through a product');
    } finally {
      await client.close();
    }
    const mine = backend.requests.slice(seen);
    assert.ok(mine.length >= 3);
    for (const q of mine) {
      assert.equal(q.headers[KEY], undefined);
      assert.ok(!JSON.stringify(q.headers).includes(key), 'no header carries the key');
      assert.ok(!q.url.includes(key), 'no URL carries the key');
      assert.equal(q.headers['x-product'], 'starter');
      assert.equal(q.headers['x-subscription'], `alice/${keys.alice!.id}`);
    }
  });

  it('a missing key is 401 SubscriptionKeyNotFound with APIM\'s body; no session is created', async () => {
    const sessions = backend.sessionCount();
    const r = await post(url('weather'), INIT);
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, { statusCode: 401, message: KEY_NOT_FOUND });
    assert.equal(r.headers.get('mcp-session-id'), null);
    assert.equal(backend.sessionCount(), sessions);
  });

  it('wrong, malformed, suspended, cancelled, expired and other-product keys are 401 SubscriptionKeyInvalid', async () => {
    const sessions = backend.sessionCount();
    const bad = {
      wrong: 'f'.repeat(64),
      malformed: 'not-a-key',
      suspended: keys.paused!.primary,
      cancelled: keys.gone!.primary,
      expired: keys.old!.primary,
      'other product': keys['extra-1']!.primary,
    };
    for (const [why, key] of Object.entries(bad)) {
      const r = await post(url('weather'), INIT, { [KEY]: key });
      assert.equal(r.status, 401, why);
      assert.deepEqual(r.json, { statusCode: 401, message: KEY_INVALID }, why);
      assert.ok(!r.text.includes(key), `${why}: the key is not echoed`);
    }
    assert.equal(backend.sessionCount(), sessions);
  });

  it('hostile keys: oversized, non-hex, a key in header and query (the header wins), two values joined', async () => {
    const big = await post(url('weather'), INIT, { [KEY]: 'a'.repeat(8000) });
    assert.equal(big.status, 401);
    assert.deepEqual(big.json, { statusCode: 401, message: KEY_INVALID });
    assert.equal((await post(url('weather'), INIT, { [KEY]: '../../etc/passwd' })).status, 401);
    const good = (await issue('precedence', { type: 'product', name: 'starter' })).primary;
    // a valid header key wins over a wrong query key; the reverse is refused
    assert.equal((await post(`${url('weather')}?subscription-key=${'0'.repeat(64)}`, INIT, { [KEY]: good })).status, 200);
    assert.equal((await post(`${url('weather')}?subscription-key=${good}`, INIT, { [KEY]: '0'.repeat(64) })).status, 401);
    // two header lines arrive joined ("a, b", as Node joins repeated custom headers): not a key
    const two = await post(url('weather'), INIT, { [KEY]: `${'0'.repeat(64)}, ${good}` });
    assert.equal(two.status, 401, 'a wrong first value is not rescued by a second one');
  });

  it('the secondary key works; server- and all-scoped subscriptions; a gold key reaches both its servers', async () => {
    const sec = await issue('second', { type: 'product', name: 'starter' });
    assert.ok(await session(url('weather'), { [KEY]: sec.secondary }));
    assert.ok(await session(url('weather'), { [KEY]: keys['weather-only']!.primary }));
    assert.equal((await post(url('extra'), INIT, { [KEY]: keys['weather-only']!.primary })).status, 401);
    assert.ok(await session(url('extra'), { [KEY]: keys.everything!.primary }));
    assert.ok(await session(url('extra'), { [KEY]: keys['gold-1']!.primary }));
    assert.ok(await session(url('weather'), { [KEY]: keys['gold-1']!.primary }));
  });

  it('the key in the query parameter works too and is removed before the backend', async () => {
    const key = (await issue('by-query', { type: 'product', name: 'starter' })).primary;
    const seen = backend.requests.length;
    const r = await post(`${url('weather')}?subscription-key=${key}`, INIT);
    assert.equal(r.status, 200);
    assert.ok(backend.requests.slice(seen).every((q) => !q.url.includes(key)));
  });

  it('a server in no product, or only in an open product, needs no key', async () => {
    assert.ok(await session(url('free')));
    assert.ok(await session(url('openx')));
  });

  it('every request of a session needs the key, and regenerating a key stops the old one at once', async () => {
    const k = await issue('rotating', { type: 'product', name: 'gold' });
    const sid = await session(url('extra'), { [KEY]: k.primary });
    assert.equal(toolText(await call('extra', sid, k.primary, 2)), 'hi');
    assert.equal((await post(url('extra'), { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'mcp-session-id': sid })).status, 401);
    const re = await subs.regenerate('rotating', 'primary');
    assert.ok(re.primaryKey && re.primaryKey !== k.primary);
    assert.equal((await call('extra', sid, k.primary, 4)).status, 401, 'the old primary is refused at once');
    assert.equal(toolText(await call('extra', sid, re.primaryKey, 5)), 'hi');
    assert.equal(toolText(await call('extra', sid, k.secondary, 6)), 'hi', 'the secondary key is untouched');
    await subs.setState('rotating', 'suspended');
    assert.equal((await call('extra', sid, re.primaryKey, 7)).status, 401, 'suspension takes effect at once');
  });

  it('policies compose global → product → server → tool with <base/>; context.Product and context.Operation', async () => {
    const key = keys.bob!.primary;
    const sid = await session(url('weather'), { [KEY]: key });
    const seen = backend.requests.length;
    assert.equal(toolText(await call('weather', sid, key, 11)), 'hi');
    const q = backend.requests.slice(seen).find((x) => (x.json as { method?: string } | undefined)?.method === 'tools/call')!;
    assert.equal(q.headers['x-global'], 'g');
    assert.equal(q.headers['x-product'], 'starter');
    assert.equal(q.headers['x-api'], 'weather');
    assert.equal(q.headers['x-operation'], 'echo');
    // a gold subscription: no product policies (gold has none), so no x-product, no rate limit
    const gold = keys['gold-1']!.primary;
    const sid2 = await session(url('weather'), { [KEY]: gold });
    const seen2 = backend.requests.length;
    assert.equal(toolText(await call('weather', sid2, gold, 12)), 'hi');
    const q2 = backend.requests.slice(seen2).find((x) => (x.json as { method?: string } | undefined)?.method === 'tools/call')!;
    assert.equal(q2.headers['x-product'], undefined);
    assert.equal(q2.headers['x-global'], 'g');
    assert.equal(q2.headers['x-operation'], 'echo');
  });

  it('rate-limit counts per subscription, exactly, under concurrency', async () => {
    const a = await issue('burst-a', { type: 'product', name: 'starter' });
    const b = await issue('burst-b', { type: 'product', name: 'starter' });
    const sa = await session(url('weather'), { [KEY]: a.primary }); // 1 of 5
    const sb = await session(url('weather'), { [KEY]: b.primary });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call('weather', sa, a.primary, 100 + i)));
    const ok = results.filter((r) => r.status === 200).length;
    assert.equal(ok, 4, 'initialize took 1 of the 5 calls; exactly 4 of 20 concurrent calls pass');
    const refused = results.filter((r) => r.status === 429);
    assert.equal(refused.length, 16);
    assert.equal(refused[0]!.headers.get('x-reason'), 'RateLimitExceeded');
    assert.ok(Number(refused[0]!.headers.get('retry-after')) > 0);
    // the other subscription has its own counter
    assert.equal(toolText(await call('weather', sb, b.primary, 200)), 'hi');
  });

  it('rate-limit-by-key can key on context.Subscription.Id', async () => {
    const m1 = keys.m1!.primary;
    const m2 = keys.m2!.primary;
    const s1 = await session(url('bykey'), { [KEY]: m1 });
    const s2 = await session(url('bykey'), { [KEY]: m2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call('bykey', s1, m1, 300 + i)).status);
    assert.deepEqual(statuses, [200, 200, 429], 'initialize + 2 calls = 3 per subscription');
    assert.equal((await call('bykey', s2, m2, 310)).status, 200);
  });

  it('a burst of wrong keys does not stop valid callers and shows in the metrics', async () => {
    const key = keys['gold-1']!.primary;
    const sid = await session(url('extra'), { [KEY]: key });
    const wrong = Array.from({ length: 300 }, (_, i) => post(url('extra'), INIT, { [KEY]: (i.toString(16) + 'a'.repeat(64)).slice(0, 64) }));
    const valid = Array.from({ length: 20 }, (_, i) => call('extra', sid, key, 400 + i));
    const [w, v] = await Promise.all([Promise.all(wrong), Promise.all(valid)]);
    assert.ok(w.every((r) => r.status === 401));
    assert.ok(v.every((r) => r.status === 200), 'every valid call succeeded during the burst');
    const metrics = await send(`${gw.url}/metrics`, { method: 'GET' });
    const m = /gatehouse_errors_total\{server="extra",kind="GW_ERR_SUBSCRIPTION_KEY_INVALID"\} (\d+)/.exec(metrics.text);
    assert.ok(m && Number(m[1]) >= 300, 'the refusals are counted');
  });

  it('the store holds no key in clear, and no log line shows one', async () => {
    const all = Object.values(keys).flatMap((k) => [k.primary, k.secondary]);
    for (const f of ['gh.db', 'gh.db-wal']) {
      const p = join(dir, f);
      if (!existsSync(p)) continue;
      const bytes = readFileSync(p).toString('latin1');
      for (const k of all) {
        assert.ok(!bytes.includes(k), `${f} holds no key`);
        assert.ok(!bytes.includes(Buffer.from(k, 'hex').toString('base64')), `${f} holds no key (base64)`);
      }
    }
    const logs = gw.logs.join('\n');
    for (const k of all) assert.ok(!logs.includes(k), 'no key in the logs');
  });

  it('a server can require a key and a token together', async () => {
    const { SignJWT } = await import('jose');
    const token = await new SignJWT({ sub: 'u1' }).setProtectedHeader({ alg: 'HS256' }).setAudience('both-api').setExpirationTime('5m').sign(HS_KEY);
    const k = (await issue('both-key', { type: 'product', name: 'secure' })).primary;
    const noKey = await post(url('both'), INIT, { authorization: `Bearer ${token}` });
    assert.equal(noKey.status, 401);
    assert.deepEqual(noKey.json, { statusCode: 401, message: KEY_NOT_FOUND });
    const noToken = await post(url('both'), INIT, { [KEY]: k });
    assert.equal(noToken.status, 401);
    assert.equal(noToken.headers.get('x-reason'), 'TokenNotFound');
    const seen = backend.requests.length;
    assert.ok(await session(url('both'), { [KEY]: k, authorization: `Bearer ${token}` }));
    assert.ok(backend.requests.slice(seen).every((q) => q.headers.authorization === undefined && q.headers[KEY] === undefined));
  });

  it('gatehouse policy test --product traces the four scopes in order', async () => {
    const cfg = join(dir, 'gatehouse.yaml');
    writeFileSync(cfg, JSON.stringify({
      store: 'sqlite::memory:',
      policies: GLOBAL,
      servers: [{ name: 'weather', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: WEATHER, tools: [{ name: 'echo', policies: ECHO_TOOL }] }],
      products: [{ name: 'starter', servers: ['weather'], policies: STARTER }],
    }));
    const req = join(dir, 'req.json');
    writeFileSync(req, JSON.stringify({ body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } } }));
    let out = '';
    const io: CliIo = { stdout: (s) => (out += s + '\n'), stderr: (s) => (out += s + '\n'), cwd: dir, env: {} };
    assert.equal(await main(['policy', 'test', '-c', cfg, '--server', 'weather', '--product', 'starter', '--request', req, '--json'], io), 0, out);
    const trace = (JSON.parse(out) as { trace: { policy: string; scope: string; section: string }[] }).trace;
    assert.deepEqual(
      trace.filter((t) => t.section === 'inbound').map((t) => `${t.scope}:${t.policy}`),
      ['global:set-header', 'product:rate-limit', 'product:set-header', 'product:set-header', 'api:set-header', 'operation:set-header'],
    );
    assert.equal(await main(['policy', 'test', '-c', cfg, '--server', 'weather', '--product', 'nope', '--request', req], io), 2);
  });
});
