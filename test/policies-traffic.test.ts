/**
 * Traffic policies through a running gateway in front of the real MCP fixture backend: rate-limit,
 * rate-limit-by-key (exact counts under 50 concurrent requests, window renewal, increment-condition
 * and -count, per-request dedupe), quota and quota-by-key, limit-concurrency (slots, release on
 * success / error / client abort), ip-filter (IPv4, IPv6 on a ::1 listener), cors (preflight,
 * actual requests, terminate-unmatched-request, the gateway's own Origin check), and every load-time
 * error with its position.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { startGateway, type RunningGateway } from './helpers/gateway.js';
import { INIT, post, send, session, toolText, type Reply } from './helpers/mcp-http.js';
import { PolicyError } from '../src/policy/errors.js';
import { configFromObject } from '../src/config/load.js';
import { createGateway } from '../src/gateway.js';
import { createLogger } from '../src/observability/logger.js';
import { parsePolicyDocument } from '../src/policy/document.js';
import { composeScopes } from '../src/policy/compose.js';
import { compilePipeline } from '../src/pipeline/compile.js';
import { runPipeline } from '../src/pipeline/run.js';
import { PipelineContext } from '../src/pipeline/context.js';
import { createExpressionContext } from '../src/expressions/context.js';
import { createRegistry } from '../src/policies/registry.js';
import { formatIp, parseIp } from '../src/policies/traffic/ip.js';
import { DEFAULT_PERIOD_START, quotaWindow, timeSpanText } from '../src/policies/traffic/counters.js';
import { originOf } from '../src/policies/cors.js';

let nextId = 1000;
function call(url: string, sid: string, name: string, args: Record<string, unknown>, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Reply> {
  return post(url, { jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name, arguments: args } }, { 'mcp-session-id': sid, ...headers }, { signal });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function assertRateLimited(r: Reply, retryHeader = 'retry-after'): number {
  assert.equal(r.status, 429, r.text);
  const ra = Number(r.headers.get(retryHeader));
  assert.ok(Number.isInteger(ra) && ra >= 1, `${retryHeader}: ${r.headers.get(retryHeader)}`);
  assert.deepEqual(r.json, { statusCode: 429, message: `Rate limit is exceeded. Try again in ${ra} seconds.` });
  return ra;
}

/** a server's policy document that applies `body` only to requests carrying header x-case: `name` */
const when = (name: string, body: string) => `<when condition="@(context.Request.Headers.GetValueOrDefault(&quot;x-case&quot;, &quot;&quot;) == &quot;${name}&quot;)">${body}</when>`;

// -------------------------------------------------------------------------------------------------

describe('rate-limit-by-key', () => {
  let fixture: EverythingServer;
  let gw: RunningGateway;
  let url: string;
  let downUrl: string;

  const SERVER = `<policies>
  <inbound>
    <base />
    <choose>
      ${when('burst', '<rate-limit-by-key calls="10" renewal-period="60" counter-key="@(&quot;burst-&quot; + context.Request.Headers.GetValueOrDefault(&quot;x-run&quot;, &quot;&quot;))" remaining-calls-header-name="x-remaining" total-calls-header-name="x-total" remaining-calls-variable-name="remaining" />')}
      ${when('renew', '<rate-limit-by-key calls="2" renewal-period="1" counter-key="renew" retry-after-header-name="x-retry-after" retry-after-variable-name="retryAfter" />')}
      ${when('cond', '<rate-limit-by-key calls="2" renewal-period="60" counter-key="cond" increment-condition="@(context.Request.Headers.GetValueOrDefault(&quot;x-count&quot;, &quot;yes&quot;) == &quot;yes&quot;)" />')}
      ${when('count', '<rate-limit-by-key calls="5" renewal-period="60" counter-key="count" increment-count="2" remaining-calls-header-name="x-remaining" />')}
      ${when('twice', '<rate-limit-by-key calls="3" renewal-period="60" counter-key="twice" /><rate-limit-by-key calls="3" renewal-period="60" counter-key="twice" />')}
      ${when('response', '<rate-limit-by-key calls="1" renewal-period="60" counter-key="response-up" increment-condition="@(context.Response.StatusCode == 200)" />')}
      ${when('expr', '<rate-limit-by-key calls="@(1 + 1)" renewal-period="@(60)" counter-key="@(context.Request.IpAddress + &quot;-expr&quot;)" />')}
    </choose>
  </inbound>
  <backend><base /></backend>
  <outbound>
    <base />
    <set-header name="x-outbound" exists-action="override"><value>@(context.Variables.ContainsKey("remaining") ? "remaining=" + (int)context.Variables["remaining"] : "none")</value></set-header>
  </outbound>
  <on-error>
    <base />
    <set-header name="x-error" exists-action="override"><value>@(context.LastError.Source + "/" + context.LastError.Reason + "/" + (context.Variables.ContainsKey("retryAfter") ? context.Variables["retryAfter"].ToString() : "-"))</value></set-header>
  </on-error>
</policies>`;

  before(async () => {
    fixture = await startEverythingServer({ transport: 'streamable-http' });
    gw = await startGateway({
      servers: [
        { name: 'rl', type: 'passthrough', backend: { url: fixture.url }, policies: SERVER },
        {
          name: 'down',
          type: 'passthrough',
          backend: { url: 'http://127.0.0.1:9/mcp' },
          policies: '<policies><inbound><rate-limit-by-key calls="1" renewal-period="60" counter-key="response-down" increment-condition="@(context.Response.StatusCode == 200)" /></inbound></policies>',
        },
      ],
    });
    url = `${gw.url}/rl/mcp`;
    downUrl = `${gw.url}/down/mcp`;
  });
  after(async () => {
    await gw?.close();
    await fixture?.close();
  });

  it('50 concurrent requests: exactly `calls` admitted, the rest 429 with Retry-After and the remaining/total headers', async () => {
    const sid = await session(url);
    const texts = Array.from({ length: 50 }, (_, i) => `burst-a-${i}`);
    const replies = await Promise.all(texts.map((text) => call(url, sid, 'echo', { text }, { 'x-case': 'burst', 'x-run': 'a' })));
    const ok = replies.filter((r) => r.status === 200);
    const limited = replies.filter((r) => r.status !== 200);
    assert.equal(ok.length, 10, replies.map((r) => r.status).join(','));
    assert.equal(limited.length, 40);
    // each admitted request saw its own count: remaining 9 … 0, each once
    assert.deepEqual(ok.map((r) => Number(r.headers.get('x-remaining'))).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const r of ok) {
      assert.equal(r.headers.get('x-total'), '10');
      assert.match(r.headers.get('x-outbound') ?? '', /^remaining=\d$/);
    }
    for (const r of limited) {
      const ra = assertRateLimited(r);
      assert.ok(ra <= 60);
      assert.equal(r.headers.get('x-remaining'), '0');
      assert.equal(r.headers.get('x-total'), '10');
      assert.equal(r.headers.get('x-error'), 'rate-limit/RateLimitExceeded/-');
    }
    // exactly ten reached the backend
    const seen = fixture.toolCalls.filter((c) => c.name === 'echo' && String(c.arguments.text).startsWith('burst-a-'));
    assert.equal(seen.length, 10);
    // another key value has its own counter
    const other = await call(url, sid, 'echo', { text: 'other' }, { 'x-case': 'burst', 'x-run': 'b' });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('x-remaining'), '9');
  });

  it('the window renews after renewal-period; custom retry-after header and variable', async () => {
    const sid = await session(url);
    const h = { 'x-case': 'renew' };
    // sent together so that all three fall in the 1-second window the first one opens
    const first = await Promise.all(['1', '2', '3'].map((text) => call(url, sid, 'echo', { text }, h)));
    assert.deepEqual(first.map((r) => r.status).sort(), [200, 200, 429]);
    const third = first.find((r) => r.status === 429)!;
    assertRateLimited(third, 'x-retry-after');
    assert.equal(third.headers.get('x-retry-after'), '1');
    assert.equal(third.headers.get('retry-after'), null, 'retry-after-header-name replaces Retry-After');
    assert.equal(third.headers.get('x-error'), 'rate-limit/RateLimitExceeded/1');
    await sleep(1100);
    const fourth = await call(url, sid, 'echo', { text: '4' }, h);
    assert.equal(fourth.status, 200, fourth.text);
    assert.equal(toolText(fourth), '4');
  });

  it('increment-condition false: not counted, but refused once the limit is reached', async () => {
    const sid = await session(url);
    const yes = { 'x-case': 'cond' };
    const no = { 'x-case': 'cond', 'x-count': 'no' };
    assert.equal((await call(url, sid, 'echo', { text: 'a' }, yes)).status, 200);
    for (let i = 0; i < 4; i++) assert.equal((await call(url, sid, 'echo', { text: 'n' }, no)).status, 200);
    assert.equal((await call(url, sid, 'echo', { text: 'b' }, yes)).status, 200);
    assertRateLimited(await call(url, sid, 'echo', { text: 'c' }, yes));
    assertRateLimited(await call(url, sid, 'echo', { text: 'd' }, no));
  });

  it('increment-count adds more than one per request; a request that would overshoot is refused', async () => {
    const sid = await session(url);
    const h = { 'x-case': 'count' };
    const r1 = await call(url, sid, 'echo', { text: 'a' }, h);
    assert.equal(r1.headers.get('x-remaining'), '3');
    const r2 = await call(url, sid, 'echo', { text: 'b' }, h);
    assert.equal(r2.headers.get('x-remaining'), '1');
    const r3 = await call(url, sid, 'echo', { text: 'c' }, h);
    assertRateLimited(r3);
    assert.equal(r3.headers.get('x-remaining'), '1', 'the refused request gave its share back');
  });

  it('two policies with the same key count a request once', async () => {
    const sid = await session(url);
    const h = { 'x-case': 'twice' };
    for (let i = 0; i < 3; i++) assert.equal((await call(url, sid, 'echo', { text: `t${i}` }, h)).status, 200);
    assertRateLimited(await call(url, sid, 'echo', { text: 't3' }, h));
  });

  it('calls, renewal-period and counter-key may be expressions', async () => {
    const sid = await session(url);
    const h = { 'x-case': 'expr' };
    assert.equal((await call(url, sid, 'echo', { text: 'a' }, h)).status, 200);
    assert.equal((await call(url, sid, 'echo', { text: 'b' }, h)).status, 200);
    assertRateLimited(await call(url, sid, 'echo', { text: 'c' }, h));
  });

  it('an increment-condition on context.Response is settled after the backend answered', async () => {
    // live backend: the answer counts (status 200) and the next request is refused
    assert.equal((await post(url, INIT, { 'x-case': 'response' })).status, 200);
    assertRateLimited(await post(url, INIT, { 'x-case': 'response' }));
    // unreachable backend: the 502s do not count, so calls="1" never refuses
    for (let i = 0; i < 3; i++) {
      const r = await post(downUrl, INIT);
      assert.equal(r.status, 502, r.text);
    }
  });
});

// -------------------------------------------------------------------------------------------------

describe('rate-limit (per caller until subscriptions exist)', () => {
  let fixture: EverythingServer;
  let gw: RunningGateway;

  before(async () => {
    fixture = await startEverythingServer({ transport: 'streamable-http' });
    const onToolCalls = (body: string) => `<policies><inbound><base /><choose><when condition="@(context.Mcp.Method == &quot;tools/call&quot;)">${body}</when></choose></inbound>
      <on-error><base /><set-header name="x-error" exists-action="override"><value>@(context.LastError.Source + "/" + context.LastError.Reason + "/" + (context.Variables.ContainsKey("left") ? context.Variables["left"].ToString() : "-"))</value></set-header></on-error></policies>`;
    gw = await startGateway({
      servers: [
        {
          name: 'scoped',
          type: 'passthrough',
          backend: { url: fixture.url },
          policies: onToolCalls('<rate-limit calls="5" renewal-period="60" remaining-calls-variable-name="left"><api name="scoped" calls="4" renewal-period="60"><operation name="echo" calls="1" renewal-period="60" /></api><api id="elsewhere" calls="0" renewal-period="60" /></rate-limit>'),
        },
        { name: 'plain', type: 'passthrough', backend: { url: fixture.url }, policies: onToolCalls('<rate-limit calls="2" renewal-period="60" />') },
      ],
    });
  });
  after(async () => {
    await gw?.close();
    await fixture?.close();
  });

  it('limits calls per renewal-period with Retry-After and APIM\'s message', async () => {
    const url = `${gw.url}/plain/mcp`;
    const sid = await session(url);
    assert.equal((await call(url, sid, 'echo', { text: 'a' })).status, 200);
    assert.equal((await call(url, sid, 'echo', { text: 'b' })).status, 200);
    const r = await call(url, sid, 'echo', { text: 'c' });
    const ra = assertRateLimited(r);
    assert.ok(ra <= 60);
    assert.equal(r.headers.get('x-error'), 'rate-limit/RateLimitExceeded/-');
    // initialize and tools/list are outside the choose: not limited
    assert.equal((await post(url, { jsonrpc: '2.0', id: 9, method: 'tools/list' }, { 'mcp-session-id': sid })).status, 200);
  });

  it('<api> (the server) and <operation> (the tool) limits apply independently; a refused request counts nowhere', async () => {
    const url = `${gw.url}/scoped/mcp`;
    const sid = await session(url);
    assert.equal((await call(url, sid, 'echo', { text: 'a' })).status, 200);
    const op = await call(url, sid, 'echo', { text: 'b' });
    assertRateLimited(op);
    assert.equal(op.headers.get('x-error'), 'rate-limit/RateLimitExceeded/0');
    // the refused echo gave back its share of the top-level and api counters: three more fit the api limit of 4
    for (let i = 0; i < 3; i++) assert.equal((await call(url, sid, 'headers', {})).status, 200, `headers ${i}`);
    const api = await call(url, sid, 'headers', {});
    assertRateLimited(api);
    // <api id="elsewhere" calls="0"> never matched this server
  });
});

// -------------------------------------------------------------------------------------------------

describe('quota and quota-by-key', () => {
  let fixture: EverythingServer;
  let gw: RunningGateway;
  let url: string;

  before(async () => {
    fixture = await startEverythingServer({ transport: 'streamable-http' });
    gw = await startGateway({
      policies: `<policies><inbound><choose>${when('dup', '<quota-by-key calls="3" renewal-period="3600" counter-key="dup" />')}</choose></inbound></policies>`,
      servers: [
        {
          name: 'q',
          type: 'passthrough',
          backend: { url: fixture.url },
          policies: `<policies><inbound><base /><choose>
            ${when('key', '<quota-by-key calls="2" renewal-period="3600" counter-key="@(&quot;q-&quot; + context.Request.Headers.GetValueOrDefault(&quot;x-run&quot;, &quot;&quot;))" />')}
            ${when('fps', '<quota-by-key calls="1" renewal-period="86400" counter-key="fps" first-period-start="2020-01-01T06:00:00Z" />')}
            ${when('forever', '<quota calls="1" renewal-period="0" />')}
            ${when('ops', '<quota calls="10" renewal-period="3600"><api name="q" calls="10" renewal-period="3600"><operation name="echo" calls="1" renewal-period="3600" /></api></quota>')}
            ${when('dup', '<quota-by-key calls="3" renewal-period="3600" counter-key="dup" />')}
            ${when('cond', '<quota-by-key calls="1" renewal-period="3600" counter-key="cond" increment-condition="@(context.Request.Headers.GetValueOrDefault(&quot;x-count&quot;, &quot;yes&quot;) == &quot;yes&quot;)" />')}
          </choose></inbound>
          <on-error><base /><set-header name="x-error" exists-action="override"><value>@(context.LastError.Source + "/" + context.LastError.Reason)</value></set-header></on-error></policies>`,
        },
      ],
    });
    url = `${gw.url}/q/mcp`;
  });
  after(async () => {
    await gw?.close();
    await fixture?.close();
  });

  const replenish = /^Out of call volume quota\. Quota will be replenished in (\d+\.)?(\d\d):(\d\d):(\d\d)\.$/;
  const spanSeconds = (m: RegExpMatchArray) => Number((m[1] ?? '0.').slice(0, -1)) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);

  it('quota-by-key: 403 with Retry-After and "Quota will be replenished in hh:mm:ss" past the calls', async () => {
    const sid = await session(url);
    const h = { 'x-case': 'key', 'x-run': 'one' };
    assert.equal((await call(url, sid, 'echo', { text: 'a' }, h)).status, 200);
    assert.equal((await call(url, sid, 'echo', { text: 'b' }, h)).status, 200);
    const r = await call(url, sid, 'echo', { text: 'c' }, h);
    assert.equal(r.status, 403, r.text);
    const ra = Number(r.headers.get('retry-after'));
    assert.ok(ra >= 1 && ra <= 3600, String(ra));
    const body = r.json as { statusCode: number; message: string };
    assert.equal(body.statusCode, 403);
    const m = body.message.match(replenish);
    assert.ok(m, body.message);
    assert.ok(Math.abs(spanSeconds(m) - ra) <= 1);
    assert.equal(r.headers.get('x-error'), 'quota-by-key/QuotaExceeded');
    // another key value is untouched
    assert.equal((await call(url, sid, 'echo', { text: 'd' }, { 'x-case': 'key', 'x-run': 'two' })).status, 200);
  });

  it('quota-by-key periods are aligned to first-period-start', async () => {
    const sid = await session(url);
    const h = { 'x-case': 'fps' };
    assert.equal((await call(url, sid, 'echo', { text: 'a' }, h)).status, 200);
    const r = await call(url, sid, 'echo', { text: 'b' }, h);
    assert.equal(r.status, 403);
    // periods of a day starting 06:00 UTC: the next one starts at the next 06:00 UTC
    const now = new Date();
    let next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 6);
    if (next <= now.getTime()) next += 86_400_000;
    const expected = Math.ceil((next - now.getTime()) / 1000);
    assert.ok(Math.abs(Number(r.headers.get('retry-after')) - expected) <= 5, `${r.headers.get('retry-after')} vs ${expected}`);
  });

  it('quota with renewal-period="0" never renews', async () => {
    const sid = await session(url);
    const h = { 'x-case': 'forever' };
    assert.equal((await call(url, sid, 'echo', { text: 'a' }, h)).status, 200);
    const r = await call(url, sid, 'echo', { text: 'b' }, h);
    assert.equal(r.status, 403);
    assert.deepEqual(r.json, { statusCode: 403, message: 'Out of call volume quota. The quota does not renew.' });
    assert.equal(r.headers.get('retry-after'), null);
    assert.equal(r.headers.get('x-error'), 'quota/QuotaExceeded');
  });

  it('quota <operation> limits one tool; other tools go on', async () => {
    const sid = await session(url);
    const h = { 'x-case': 'ops' };
    assert.equal((await call(url, sid, 'echo', { text: 'a' }, h)).status, 200);
    const r = await call(url, sid, 'echo', { text: 'b' }, h);
    assert.equal(r.status, 403);
    assert.match((r.json as { message: string }).message, replenish);
    assert.equal((await call(url, sid, 'headers', {}, h)).status, 200);
  });

  it('the same key at global and server scope is incremented once per request', async () => {
    const sid = await session(url);
    const h = { 'x-case': 'dup' };
    for (let i = 0; i < 3; i++) assert.equal((await call(url, sid, 'echo', { text: `d${i}` }, h)).status, 200, `call ${i}`);
    assert.equal((await call(url, sid, 'echo', { text: 'd3' }, h)).status, 403);
  });

  it('increment-condition false is not counted', async () => {
    const sid = await session(url);
    for (let i = 0; i < 3; i++) assert.equal((await call(url, sid, 'echo', { text: 'n' }, { 'x-case': 'cond', 'x-count': 'no' })).status, 200);
    assert.equal((await call(url, sid, 'echo', { text: 'y' }, { 'x-case': 'cond' })).status, 200);
    assert.equal((await call(url, sid, 'echo', { text: 'z' }, { 'x-case': 'cond' })).status, 403);
  });
});

// -------------------------------------------------------------------------------------------------

describe('limit-concurrency', () => {
  let fixture: EverythingServer;
  let gw: RunningGateway;
  let url: string;

  before(async () => {
    fixture = await startEverythingServer({ transport: 'streamable-http' });
    gw = await startGateway({
      servers: [
        {
          name: 'lc',
          type: 'passthrough',
          backend: { url: fixture.url },
          policies: `<policies><inbound><base /><choose>${when('err', '<limit-concurrency key="err" max-count="1"><check-header name="x-never" failed-check-httpcode="418" failed-check-error-message="no x-never" /></limit-concurrency>')}</choose></inbound></policies>`,
          tools: [
            {
              name: 'slow',
              policies: '<policies><inbound><base /></inbound><backend><limit-concurrency key="slow-backend" max-count="2"><forward-request /></limit-concurrency></backend><outbound><base /></outbound></policies>',
            },
          ],
        },
      ],
    });
    url = `${gw.url}/lc/mcp`;
  });
  after(async () => {
    await gw?.close();
    await fixture?.close();
  });

  it('2 slots, 5 concurrent slow calls: 2 run, 3 get an immediate 429; then the slots are free again', async () => {
    const sid = await session(url);
    const replies = await Promise.all(Array.from({ length: 5 }, () => call(url, sid, 'slow', { ms: 1000 })));
    const ok = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status !== 200);
    assert.equal(ok.length, 2, replies.map((r) => `${r.status} ${r.text}`).join('\n'));
    assert.equal(refused.length, 3);
    for (const r of ok) {
      assert.equal(toolText(r), 'done');
      assert.ok(r.ms >= 1000);
    }
    for (const r of refused) {
      assert.equal(r.status, 429);
      assert.deepEqual(r.json, { statusCode: 429, message: 'Concurrency limit is exceeded. Try again later.' });
      assert.ok(r.ms < 700, `refused after ${r.ms} ms`);
    }
    const again = await Promise.all([call(url, sid, 'slow', { ms: 50 }), call(url, sid, 'slow', { ms: 50 })]);
    assert.deepEqual(again.map((r) => r.status), [200, 200]);
    // other tools are not inside the limit
    assert.equal((await call(url, sid, 'echo', { text: 'x' })).status, 200);
  });

  it('a client that goes away frees its slot', async () => {
    const sid = await session(url);
    const aborts = [new AbortController(), new AbortController()];
    const held = aborts.map((a) => call(url, sid, 'slow', { ms: 10_000 }, {}, a.signal).catch((e: unknown) => e));
    await sleep(300);
    assert.equal((await call(url, sid, 'slow', { ms: 10 })).status, 429, 'both slots are held');
    for (const a of aborts) a.abort();
    await Promise.all(held);
    let statuses: number[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      await sleep(50);
      statuses = (await Promise.all([call(url, sid, 'slow', { ms: 10 }), call(url, sid, 'slow', { ms: 10 })])).map((r) => r.status);
      if (statuses.every((s) => s === 200)) break;
    }
    assert.deepEqual(statuses, [200, 200]);
  });

  it('the slot is freed when the enclosed policies fail', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await post(url, INIT, { 'x-case': 'err' });
      assert.equal(r.status, 418, r.text);
      assert.deepEqual(r.json, { statusCode: 418, message: 'no x-never' });
    }
  });
});

// -------------------------------------------------------------------------------------------------

describe('ip-filter', () => {
  let fixture: EverythingServer;
  let gw: RunningGateway;
  let gw6: { url: string; close(): Promise<void> };

  const servers = (defs: Record<string, string>) =>
    Object.entries(defs).map(([name, filter]) => ({
      name,
      type: 'passthrough',
      backend: { url: fixture.url },
      policies: `<policies><inbound>${filter}</inbound><on-error><set-header name="x-error" exists-action="override"><value>@(context.LastError.Source + "/" + context.LastError.Reason)</value></set-header></on-error></policies>`,
    }));

  before(async () => {
    fixture = await startEverythingServer({ transport: 'streamable-http' });
    gw = await startGateway({
      servers: servers({
        allow: '<ip-filter action="allow"><address>10.1.2.3</address><address>127.0.0.1</address></ip-filter>',
        notallowed: '<ip-filter action="allow"><address-range from="10.0.0.0" to="10.255.255.255" /><address>192.168.1.1</address></ip-filter>',
        forbid: '<ip-filter action="forbid"><address-range from="127.0.0.0" to="127.0.0.255" /></ip-filter>',
        forbidother: '<ip-filter action="forbid"><address>::1</address><address-range from="192.168.0.0" to="192.168.255.255" /></ip-filter>',
        expr: '<ip-filter action="@(context.Request.Headers.GetValueOrDefault(&quot;x-action&quot;, &quot;allow&quot;))"><address>@(context.Request.Headers.GetValueOrDefault("x-ip", ""))</address></ip-filter>',
      }),
    });
    // a second gateway on the IPv6 loopback: the caller is ::1
    const config = await configFromObject(
      {
        store: 'sqlite::memory:',
        cache: 'memory',
        gateway: { listen: '127.0.0.1:0' },
        servers: servers({
          v6range: '<ip-filter action="allow"><address-range from="::" to="::ff" /></ip-filter>',
          v6outside: '<ip-filter action="allow"><address-range from="2001:db8::" to="2001:db8::ffff:ffff" /><address-range from="127.0.0.0" to="127.255.255.255" /></ip-filter>',
          v6forbid: '<ip-filter action="forbid"><address>0:0:0:0:0:0:0:1</address></ip-filter>',
        }),
      },
      { baseDir: process.cwd(), env: process.env },
    );
    const logger = createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    const g = await createGateway(config, { logger });
    const { url } = await g.listen(0, '::1');
    gw6 = { url, close: () => g.close() };
  });
  after(async () => {
    await gw?.close();
    await gw6?.close();
    await fixture?.close();
  });

  it('allow: a listed caller passes', async () => {
    assert.equal((await post(`${gw.url}/allow/mcp`, INIT)).status, 200);
  });

  it('allow: any other caller gets 403 CallerIpNotAllowed', async () => {
    const r = await post(`${gw.url}/notallowed/mcp`, INIT);
    assert.equal(r.status, 403);
    assert.deepEqual(r.json, { statusCode: 403, message: 'Caller IP address 127.0.0.1 is not allowed. Access denied.' });
    assert.equal(r.headers.get('x-error'), 'ip-filter/CallerIpNotAllowed');
  });

  it('forbid: a caller in a range gets 403 CallerIpBlocked; others pass', async () => {
    const r = await post(`${gw.url}/forbid/mcp`, INIT);
    assert.equal(r.status, 403);
    assert.deepEqual(r.json, { statusCode: 403, message: 'Caller IP address is blocked. Access denied.' });
    assert.equal(r.headers.get('x-error'), 'ip-filter/CallerIpBlocked');
    assert.equal((await post(`${gw.url}/forbidother/mcp`, INIT)).status, 200);
  });

  it('action and <address> may be expressions', async () => {
    const u = `${gw.url}/expr/mcp`;
    assert.equal((await post(u, INIT, { 'x-ip': '127.0.0.1' })).status, 200);
    assert.equal((await post(u, INIT, { 'x-ip': '10.0.0.1' })).status, 403);
    assert.equal((await post(u, INIT, { 'x-ip': '127.0.0.1', 'x-action': 'forbid' })).status, 403);
  });

  it('IPv6: ranges and addresses match the ::1 caller; IPv4 ranges never do', async () => {
    assert.equal((await post(`${gw6.url}/v6range/mcp`, INIT)).status, 200);
    const outside = await post(`${gw6.url}/v6outside/mcp`, INIT);
    assert.equal(outside.status, 403);
    assert.deepEqual(outside.json, { statusCode: 403, message: 'Caller IP address ::1 is not allowed. Access denied.' });
    const blocked = await post(`${gw6.url}/v6forbid/mcp`, INIT);
    assert.equal(blocked.status, 403);
    assert.equal(blocked.headers.get('x-error'), 'ip-filter/CallerIpBlocked');
  });

  it('parses IPv4, IPv6 (compressed, embedded IPv4, zone) and maps ::ffff:a.b.c.d to IPv4', () => {
    assert.deepEqual(parseIp('10.0.0.1'), { v6: false, n: 0x0a000001n });
    assert.deepEqual(parseIp('::ffff:10.0.0.1'), { v6: false, n: 0x0a000001n });
    assert.deepEqual(parseIp('::1'), { v6: true, n: 1n });
    assert.deepEqual(parseIp('[fe80::1%eth0]'), { v6: true, n: (0xfe80n << 112n) | 1n });
    assert.equal(formatIp(parseIp('2001:DB8::0:1')!), '2001:db8:0:0:0:0:0:1');
    assert.equal(formatIp(parseIp('64:ff9b::192.0.2.33')!), '64:ff9b:0:0:0:0:c000:221');
    for (const bad of ['', '1.2.3', '1.2.3.256', '01.2.3.4.5', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', '10.0.0.0/8', ':::']) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });
});

// -------------------------------------------------------------------------------------------------

describe('cors', () => {
  let fixture: EverythingServer;
  let gw: RunningGateway;
  const APP = 'https://app.example';
  const OTHER = 'https://other.example';

  const CORS = `<cors allow-credentials="true">
      <allowed-origins><origin>https://app.example/</origin></allowed-origins>
      <allowed-methods preflight-result-max-age="600"><method>GET</method><method>POST</method><method>DELETE</method></allowed-methods>
      <allowed-headers><header>Content-Type</header><header>Mcp-Session-Id</header><header>MCP-Protocol-Version</header><header>Authorization</header></allowed-headers>
      <expose-headers><header>Mcp-Session-Id</header></expose-headers>
    </cors>`;

  before(async () => {
    fixture = await startEverythingServer({ transport: 'streamable-http' });
    gw = await startGateway({
      // the gateway's own Origin check runs before any policy: every origin a cors policy allows must be listed here too
      gateway: { allowedOrigins: [APP, OTHER] },
      servers: [
        {
          name: 'cors',
          type: 'passthrough',
          backend: { url: fixture.url },
          // the outbound policy makes Streamable HTTP POST answers pass through the pipeline (see traffic/hooks.ts)
          policies: `<policies><inbound>${CORS}<base /></inbound><backend><base /></backend><outbound><base /><set-header name="x-outbound" exists-action="override"><value>1</value></set-header></outbound></policies>`,
        },
        {
          name: 'plain',
          type: 'passthrough',
          backend: { url: fixture.url },
          policies: `<policies><inbound>${CORS}</inbound></policies>`,
        },
        {
          name: 'term',
          type: 'passthrough',
          backend: { url: fixture.url },
          policies: '<policies><inbound><cors terminate-unmatched-request="true"><allowed-origins><origin>https://app.example</origin></allowed-origins><allowed-headers><header>*</header></allowed-headers></cors></inbound></policies>',
        },
        {
          name: 'any',
          type: 'passthrough',
          backend: { url: fixture.url },
          policies: '<policies><inbound><cors><allowed-origins><origin>*</origin></allowed-origins><allowed-methods><method>*</method></allowed-methods><allowed-headers><header>*</header></allowed-headers></cors></inbound></policies>',
        },
      ],
    });
  });
  after(async () => {
    await gw?.close();
    await fixture?.close();
  });

  const preflight = (server: string, origin: string, method: string, headers?: string) =>
    send(`${gw.url}/${server}/mcp`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': method, ...(headers ? { 'access-control-request-headers': headers } : {}) },
    });

  it('a matching preflight gets 200 with the Access-Control-* headers and never reaches the backend', async () => {
    const before = fixture.requests.length;
    const r = await preflight('cors', APP, 'POST', 'content-type, mcp-session-id, mcp-protocol-version');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, '');
    assert.equal(r.headers.get('access-control-allow-origin'), APP);
    assert.equal(r.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(r.headers.get('access-control-allow-methods'), 'GET, POST, DELETE');
    assert.equal(r.headers.get('access-control-allow-headers'), 'Content-Type, Mcp-Session-Id, MCP-Protocol-Version, Authorization');
    assert.equal(r.headers.get('access-control-max-age'), '600');
    assert.equal(r.headers.get('vary'), 'Origin');
    assert.equal(fixture.requests.length, before);
  });

  it('an unmatched preflight (origin, method or header) gets an empty 200 without CORS headers', async () => {
    const before = fixture.requests.length;
    for (const r of [await preflight('cors', OTHER, 'POST'), await preflight('cors', APP, 'PUT'), await preflight('cors', APP, 'POST', 'x-custom'), await preflight('term', OTHER, 'POST')]) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, '');
      assert.equal(r.headers.get('access-control-allow-origin'), null);
    }
    assert.equal(fixture.requests.length, before);
  });

  it('"*" origins answer "*" without credentials and echo the requested method and headers', async () => {
    const r = await preflight('any', OTHER, 'PATCH', 'x-one, x-two');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.equal(r.headers.get('access-control-allow-credentials'), null);
    assert.equal(r.headers.get('access-control-allow-methods'), 'PATCH');
    assert.equal(r.headers.get('access-control-allow-headers'), 'x-one, x-two');
    assert.equal(r.headers.get('vary'), null);
  });

  it('OPTIONS that is not a preflight still gets 405 with Allow', async () => {
    for (const server of ['cors', 'term']) {
      const r = await send(`${gw.url}/${server}/mcp`, { method: 'OPTIONS' });
      assert.equal(r.status, 405, r.text);
      assert.equal(r.headers.get('allow'), 'GET, POST, DELETE');
    }
  });

  it('an origin the gateway does not allow is refused before any policy (403)', async () => {
    const r = await preflight('any', 'https://evil.example', 'POST');
    assert.equal(r.status, 403);
    assert.equal(r.headers.get('access-control-allow-origin'), null);
  });

  it('an actual request from a matching origin gets Access-Control-Allow-Origin, -Credentials and -Expose-Headers', async () => {
    const u = `${gw.url}/cors/mcp`;
    const sid = await session(u, { origin: APP });
    const r = await post(u, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { origin: APP, 'mcp-session-id': sid });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('access-control-allow-origin'), APP);
    assert.equal(r.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(r.headers.get('access-control-expose-headers'), 'Mcp-Session-Id');
    assert.equal(r.headers.get('vary'), 'Origin');
    assert.equal(r.headers.get('x-outbound'), '1');
  });

  it('an actual request from an unmatched origin goes through without CORS headers', async () => {
    const u = `${gw.url}/cors/mcp`;
    const sid = await session(u, { origin: OTHER });
    const r = await post(u, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { origin: OTHER, 'mcp-session-id': sid });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), null);
    // terminate-unmatched-request only ends GET/HEAD: a POST goes on
    assert.equal((await post(`${gw.url}/term/mcp`, INIT, { origin: OTHER })).status, 200);
  });

  it('terminate-unmatched-request="true": an unmatched GET ends with an empty 200', async () => {
    const u = `${gw.url}/term/mcp`;
    const sid = await session(u);
    const r = await send(u, { method: 'GET', headers: { origin: OTHER, accept: 'text/event-stream', 'mcp-session-id': sid } });
    assert.equal(r.status, 200);
    assert.equal(r.text, '');
    assert.equal(r.headers.get('content-type'), null);
  });

  it(
    'an answer the endpoint writes straight to the client (initialize, no outbound policies) carries the CORS headers',
    async () => {
      const r = await post(`${gw.url}/plain/mcp`, INIT, { origin: APP });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('access-control-allow-origin'), APP);
      assert.equal(r.headers.get('access-control-expose-headers'), 'Mcp-Session-Id');
    },
  );

  it('origins compare by scheme, host and port', () => {
    assert.equal(originOf('https://App.Example/'), 'https://app.example:443');
    assert.equal(originOf('http://localhost:8080/path'), 'http://localhost:8080');
    assert.equal(originOf('null'), undefined);
    assert.equal(originOf('app.example'), undefined);
  });
});

// -------------------------------------------------------------------------------------------------

describe('traffic policy helpers', () => {
  it('quota periods are aligned to the anchor; renewal-period 0 never ends', () => {
    const anchor = Date.parse('2020-01-01T06:00:00Z');
    const w = quotaWindow('b', 86_400_000, anchor, Date.parse('2024-05-05T05:00:00Z'));
    assert.equal(w.resetAt, Date.parse('2024-05-05T06:00:00Z'));
    assert.equal(quotaWindow('b', 0, anchor).resetAt, Infinity);
    assert.equal(DEFAULT_PERIOD_START, Date.parse('0001-01-01T00:00:00Z'));
    assert.equal(quotaWindow('b', 3_600_000, DEFAULT_PERIOD_START, Date.parse('2024-05-05T05:20:00Z')).resetAt, Date.parse('2024-05-05T06:00:00Z'));
  });

  it('TimeSpan text as APIM prints it', () => {
    assert.equal(timeSpanText(504), '00:08:24');
    assert.equal(timeSpanText(3600), '01:00:00');
    assert.equal(timeSpanText(90_061), '1.01:01:01');
  });

  it('without a cache (gatehouse validate) a counter policy fails at run time with a clear message', async () => {
    const doc = parsePolicyDocument('<policies><inbound><rate-limit-by-key calls="1" renewal-period="1" counter-key="k" /></inbound></policies>', 'mem.xml');
    const pipeline = compilePipeline(composeScopes([{ scope: 'global', doc }]), createRegistry(), { backends: new Map() });
    const ctx = new PipelineContext(createExpressionContext(), { baseUrl: 'http://127.0.0.1:9', path: '', timeoutMs: 1000 }, async () => undefined);
    await runPipeline(pipeline, ctx);
    assert.equal(ctx.failure?.reason, 'CacheUnavailable');
    assert.equal(ctx.response.statusCode, 500);
    assert.match(ctx.failure?.message ?? '', /<rate-limit-by-key> needs the gateway cache/);
  });
});

// -------------------------------------------------------------------------------------------------

describe('traffic policy load errors', () => {
  /** `mark` is a unique substring of `inbound`; the problem must point at its first character (+ `shift`) */
  const cases: { name: string; inbound?: string; xml?: string; mark: string; shift?: number; expect: RegExp }[] = [
    { name: 'rate-limit-by-key renewal-period over 300', inbound: '<rate-limit-by-key calls="5" renewal-period="301" counter-key="k" />', mark: '301', expect: /renewal-period" of <rate-limit-by-key> must be an integer between 1 and 300/ },
    { name: 'rate-limit-by-key without counter-key', inbound: '<rate-limit-by-key calls="5" renewal-period="30" />', mark: '<rate-limit-by-key', expect: /<rate-limit-by-key> requires the attribute "counter-key"/ },
    { name: 'rate-limit-by-key unknown attribute', inbound: '<rate-limit-by-key calls="5" renewal-period="30" counter-key="k" bandwidth="4" />', mark: 'bandwidth', expect: /unknown attribute "bandwidth" on <rate-limit-by-key>/ },
    { name: 'rate-limit-by-key bad header name', inbound: '<rate-limit-by-key calls="5" renewal-period="30" counter-key="k" retry-after-header-name="retry after" />', mark: 'retry after', expect: /must be a valid header name/ },
    { name: 'rate-limit-by-key expression in a name attribute', inbound: '<rate-limit-by-key calls="5" renewal-period="30" counter-key="k" remaining-calls-variable-name="@(&quot;x&quot;)" />', mark: '@(', expect: /"remaining-calls-variable-name" of <rate-limit-by-key> does not accept policy expressions/ },
    { name: 'rate-limit-by-key literal increment-condition', inbound: '<rate-limit-by-key calls="5" renewal-period="30" counter-key="k" increment-condition="maybe" />', mark: 'maybe', expect: /increment-condition" of <rate-limit-by-key> must be a boolean expression/ },
    { name: 'rate-limit-by-key outside inbound', xml: '<policies><outbound><rate-limit-by-key calls="5" renewal-period="30" counter-key="k" /></outbound></policies>', mark: '<rate-limit-by-key', expect: /policy <rate-limit-by-key> is not allowed in the outbound section/ },
    { name: 'rate-limit calls as expression', inbound: '<rate-limit calls="@(5)" renewal-period="30" />', mark: '@(5)', expect: /"calls" of <rate-limit> does not accept policy expressions/ },
    { name: 'rate-limit negative calls', inbound: '<rate-limit calls="-1" renewal-period="30" />', mark: '-1', expect: /"calls" of <rate-limit> must be an integer between 0 and/ },
    { name: 'rate-limit api without name or id', inbound: '<rate-limit calls="5" renewal-period="30"><api calls="1" renewal-period="30" /></rate-limit>', mark: '<api', expect: /<api> needs a "name" or an "id" attribute/ },
    { name: 'rate-limit api unknown attribute', inbound: '<rate-limit calls="5" renewal-period="30"><api name="a" calls="1" renewal-period="30" colour="red" /></rate-limit>', mark: 'colour', expect: /unknown attribute "colour" on <api>/ },
    { name: 'rate-limit operation outside api', inbound: '<rate-limit calls="5" renewal-period="30"><operation name="a" calls="1" renewal-period="30" /></rate-limit>', mark: '<operation', expect: /<rate-limit> cannot contain <operation> \(allowed: api\)/ },
    { name: 'rate-limit operation without calls', inbound: '<rate-limit calls="5" renewal-period="30"><api name="a" calls="1" renewal-period="30"><operation name="o" renewal-period="30" /></api></rate-limit>', mark: '<operation', expect: /<operation> requires the attribute "calls"/ },
    { name: 'quota bandwidth', inbound: '<quota calls="5" bandwidth="100" renewal-period="3600" />', mark: 'bandwidth', expect: /bandwidth quotas are not supported/ },
    { name: 'quota without calls', inbound: '<quota renewal-period="3600" />', mark: '<quota', expect: /<quota> requires the attribute "calls"/ },
    { name: 'quota api bandwidth', inbound: '<quota calls="5" renewal-period="3600"><api name="a" bandwidth="1" renewal-period="60" /></quota>', mark: 'bandwidth', expect: /bandwidth quotas are not supported/ },
    { name: 'quota-by-key first-period-start', inbound: '<quota-by-key calls="5" renewal-period="3600" counter-key="k" first-period-start="tomorrow" />', mark: 'tomorrow', expect: /"first-period-start" of <quota-by-key> must be a date-time/ },
    { name: 'quota-by-key renewal-period expression', inbound: '<quota-by-key calls="5" renewal-period="@(3600)" counter-key="k" />', mark: '@(3600)', expect: /"renewal-period" of <quota-by-key> does not accept policy expressions/ },
    { name: 'limit-concurrency max-count 0', inbound: '<limit-concurrency key="k" max-count="0"><set-variable name="a" value="b" /></limit-concurrency>', mark: '0"', expect: /"max-count" of <limit-concurrency> must be an integer between 1 and/ },
    { name: 'limit-concurrency without key', inbound: '<limit-concurrency max-count="2" />', mark: '<limit-concurrency', expect: /<limit-concurrency> requires the attribute "key"/ },
    { name: 'limit-concurrency unknown child policy', inbound: '<limit-concurrency key="k" max-count="2"><frobnicate /></limit-concurrency>', mark: '<frobnicate', expect: /unknown policy <frobnicate>/ },
    { name: 'ip-filter bad action', inbound: '<ip-filter action="maybe"><address>1.2.3.4</address></ip-filter>', mark: 'maybe', expect: /"action" of <ip-filter> must be one of allow, forbid/ },
    { name: 'ip-filter bad address', inbound: '<ip-filter action="allow"><address>10.0.0.300</address></ip-filter>', mark: '10.0.0.300', expect: /address "10.0.0.300" is not an IPv4 or IPv6 address/ },
    { name: 'ip-filter CIDR', inbound: '<ip-filter action="allow"><address>10.0.0.0/8</address></ip-filter>', mark: '10.0.0.0/8', expect: /CIDR notation is not supported/ },
    { name: 'ip-filter range backwards', inbound: '<ip-filter action="allow"><address-range from="10.0.0.9" to="10.0.0.1" /></ip-filter>', mark: '<address-range', expect: /from "10.0.0.9" is after to "10.0.0.1"/ },
    { name: 'ip-filter mixed families', inbound: '<ip-filter action="allow"><address-range from="10.0.0.1" to="::1" /></ip-filter>', mark: '<address-range', expect: /must both be IPv4 or both IPv6/ },
    { name: 'ip-filter empty', inbound: '<ip-filter action="forbid" />', mark: '<ip-filter', expect: /<ip-filter> needs at least one <address> or <address-range>/ },
    { name: 'ip-filter unknown child', inbound: '<ip-filter action="forbid"><cidr>10.0.0.0/8</cidr></ip-filter>', mark: '<cidr', expect: /<ip-filter> cannot contain <cidr>/ },
    { name: 'cors without allowed-origins', inbound: '<cors><allowed-headers><header>a</header></allowed-headers></cors>', mark: '<cors', expect: /<cors> requires <allowed-origins>/ },
    { name: 'cors "*" with credentials', inbound: '<cors allow-credentials="true"><allowed-origins><origin>*</origin></allowed-origins></cors>', mark: 'true', expect: /allow-credentials="true" cannot be combined with the origin "\*"/ },
    { name: 'cors bad origin', inbound: '<cors><allowed-origins><origin>app.example</origin></allowed-origins></cors>', mark: 'app.example', expect: /<origin> must be "\*" or a URI with scheme and host/ },
    { name: 'cors bad method', inbound: '<cors><allowed-origins><origin>*</origin></allowed-origins><allowed-methods><method>GET POST</method></allowed-methods></cors>', mark: 'GET POST', expect: /"GET POST" is not an HTTP method/ },
    { name: 'cors unknown child', inbound: '<cors><allowed-origins><origin>*</origin></allowed-origins><allowed-verbs /></cors>', mark: '<allowed-verbs', expect: /<cors> cannot contain <allowed-verbs>/ },
    { name: 'cors bad max-age', inbound: '<cors><allowed-origins><origin>*</origin></allowed-origins><allowed-methods preflight-result-max-age="-5"><method>GET</method></allowed-methods></cors>', mark: '-5', expect: /"preflight-result-max-age" of <allowed-methods> must be an integer between 0/ },
    { name: 'cors outside inbound', xml: '<policies><outbound><cors><allowed-origins><origin>*</origin></allowed-origins></cors></outbound></policies>', mark: '<cors', expect: /policy <cors> is not allowed in the outbound section/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const xml = c.xml ?? `<policies><inbound>${c.inbound}</inbound></policies>`;
      const at = xml.indexOf(c.mark);
      assert.ok(at >= 0, `mark ${c.mark} not in ${xml}`);
      const col = at + 1 + (c.shift ?? 0);
      await assert.rejects(
        startGateway({ servers: [{ name: 'x', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: xml }] }),
        (err: unknown) => {
          assert.ok(err instanceof PolicyError, String(err));
          assert.match(err.message, new RegExp(`(?:^|:)1:${col}: .*${c.expect.source}`, 'm'), err.message);
          return true;
        },
      );
    });
  }

  it('every APIM corpus document using these policies loads', async () => {
    // the shapes found in ../shared/apim-corpus (rate-limit, quota, rate-limit-by-key, cors variants)
    const docs = [
      '<policies><inbound><rate-limit-by-key calls="5" renewal-period="30" counter-key="@(context.Request.IpAddress)" remaining-calls-variable-name="remainingCallsPerIP" /></inbound></policies>',
      '<policies><inbound><rate-limit calls="5" renewal-period="60" /><quota calls="100" renewal-period="604800" /></inbound></policies>',
      '<policies><inbound><cors allow-credentials="true"><allowed-origins><origin>https://ai.azure.com/</origin></allowed-origins><allowed-methods><method>*</method></allowed-methods><allowed-headers><header>*</header></allowed-headers><expose-headers><header>*</header></expose-headers></cors></inbound></policies>',
      '<policies><inbound><cors allow-credentials="false"><allowed-origins><origin>https://copilotstudio.preprod.microsoft.com</origin><origin>https://copilotstudio.microsoft.com</origin></allowed-origins></cors><base /></inbound></policies>',
    ];
    for (const xml of docs) {
      const g = await startGateway({ servers: [{ name: 'x', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: xml }] });
      await g.close();
    }
  });
});
