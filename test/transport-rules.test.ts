/**
 * Streamable HTTP rules of MCP 2025-11-25 and PRODUCT §6–7, each with its bad input, against a
 * running gateway in front of a real SDK backend that records what reaches it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { startGateway, type RunningGateway } from './helpers/gateway.js';
import { ACCEPT, messages, post } from './helpers/mcp-http.js';

const init = (id: number | string = 1, protocolVersion = '2025-11-25') => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw-test', version: '1' } },
});

describe('Streamable HTTP transport rules', () => {
  let fixture: EverythingServer;
  let gw: RunningGateway;
  let mcp: string;
  let hang: Server;
  let hangUrl: string;

  before(async () => {
    fixture = await startEverythingServer({ transport: 'streamable-http' });
    hang = createServer(() => {
      /* never answers: the gateway must time out */
    });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    hangUrl = `http://127.0.0.1:${(hang.address() as AddressInfo).port}/mcp`;
    gw = await startGateway({
      gateway: { allowedOrigins: ['https://app.example.com'], maxBodyBytes: 64 * 1024 },
      servers: [
        { name: 'main', type: 'passthrough', backend: { url: fixture.url }, forwardHeaders: ['x-request-id', 'traceparent'] },
        { name: 'curated', type: 'passthrough', backend: { url: fixture.url }, allowTools: ['test_*', 'echo', 'admin_*'], denyTools: ['*_reset', 'test_sampling'] },
        { name: 'down', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp', timeout: 2 } },
        { name: 'slow', type: 'passthrough', backend: { url: hangUrl, timeout: 0.3 } },
      ],
    });
    mcp = `${gw.url}/main/mcp`;
  });

  after(async () => {
    await gw?.close();
    await fixture?.close();
    hang.closeAllConnections();
    await new Promise((r) => hang.close(r));
  });

  async function session(url = mcp, version = '2025-11-25'): Promise<string> {
    const r = await post(url, init(1, version));
    assert.equal(r.status, 200, r.text);
    const sid = r.headers.get('mcp-session-id');
    assert.ok(sid);
    const n = await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': sid, 'mcp-protocol-version': version });
    assert.equal(n.status, 202);
    return sid;
  }

  it('initialize returns a gateway session id of >= 128 random bits, visible ASCII, never the backend id', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const r = await post(mcp, init());
      const sid = r.headers.get('mcp-session-id')!;
      assert.match(sid, /^[\x21-\x7e]+$/);
      assert.ok(sid.length >= 43, 'base64url of 32 random bytes');
      ids.add(sid);
      const backendIds = fixture.requests.map((q) => q.headers['mcp-session-id']).filter(Boolean);
      assert.ok(!backendIds.includes(sid));
      assert.equal((r.json as { result: { protocolVersion: string } }).result.protocolVersion, '2025-11-25');
    }
    assert.equal(ids.size, 5);
  });

  it('negotiates: a supported version comes back unchanged, an unsupported one gets the latest', async () => {
    const old = await post(mcp, init(1, '2025-03-26'));
    assert.equal((old.json as { result: { protocolVersion: string } }).result.protocolVersion, '2025-03-26');
    const future = await post(mcp, init(1, '2099-01-01'));
    assert.equal((future.json as { result: { protocolVersion: string } }).result.protocolVersion, '2025-11-25');
  });

  it('a notification gets 202 with an empty body', async () => {
    const sid = await session();
    const r = await post(mcp, { jsonrpc: '2.0', method: 'notifications/roots/list_changed' }, { 'mcp-session-id': sid });
    assert.equal(r.status, 202);
    assert.equal(r.text, '');
  });

  it('a request gets JSON or an SSE stream ending with its response', async () => {
    const sid = await session();
    const r = await post(mcp, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } }, { 'mcp-session-id': sid });
    assert.equal(r.status, 200);
    const last = messages(r).at(-1)!;
    assert.equal(last.id, 7);
    assert.deepEqual((last.result as { content: unknown[] }).content, [{ type: 'text', text: 'x' }]);
  });

  it('rejects a POST whose Accept does not list both types (406)', async () => {
    for (const accept of ['application/json', 'text/event-stream', '*/*', 'application/jsonx, text/event-stream']) {
      const r = await post(mcp, init(), { accept });
      assert.equal(r.status, 406, accept);
      assert.equal((r.json as { error: { code: number } }).error.code, -32000);
    }
  });

  it('rejects a non-JSON content type (415)', async () => {
    const r = await post(mcp, JSON.stringify(init()), { 'content-type': 'text/plain' });
    assert.equal(r.status, 415);
  });

  it('malformed JSON is a JSON-RPC parse error (400, -32700)', async () => {
    for (const body of ['{', '{"jsonrpc":"2.0",', '\u0000\u0001', '']) {
      const r = await post(mcp, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.deepEqual(r.json, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error: invalid JSON' } });
    }
  });

  it('valid JSON that is not JSON-RPC is an invalid request (400, -32600)', async () => {
    for (const body of [42, '"str"', null, {}, { jsonrpc: '1.0', id: 1, method: 'x' }, { jsonrpc: '2.0', id: {}, method: 'x' }, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 5 } }]) {
      const r = await post(mcp, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal((r.json as { error: { code: number } }).error.code, -32600);
    }
  });

  it('a body over the limit is refused with 413 before it is buffered', async () => {
    const sid = await session();
    const big = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x'.repeat(70 * 1024) } } };
    const r = await post(mcp, big, { 'mcp-session-id': sid });
    assert.equal(r.status, 413);
    assert.match(r.text, /exceeds 65536 bytes/);
  });

  it('a request without a session is 400; an unknown or made-up session is 404', async () => {
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
    assert.equal((await post(mcp, call)).status, 400);
    assert.equal((await post(mcp, call, { 'mcp-session-id': 'nope' })).status, 404);
    assert.equal((await post(mcp, call, { 'mcp-session-id': 'x'.repeat(5000) })).status, 404);
    const r = await post(mcp, call, { 'mcp-session-id': 'A'.repeat(43) });
    assert.equal(r.status, 404);
    assert.equal((r.json as { error: { code: number } }).error.code, -32001);
  });

  it('a session of one server is unknown on another', async () => {
    const sid = await session();
    const r = await post(`${gw.url}/curated/mcp`, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': sid });
    assert.equal(r.status, 404);
  });

  it('an unsupported MCP-Protocol-Version is 400; a missing one is accepted', async () => {
    const sid = await session();
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
    for (const v of ['2024-10-07', '1999-01-01', 'garbage']) {
      const r = await post(mcp, call, { 'mcp-session-id': sid, 'mcp-protocol-version': v });
      assert.equal(r.status, 400, v);
    }
    assert.equal((await post(mcp, call, { 'mcp-session-id': sid })).status, 200);
    assert.equal((await post(mcp, call, { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' })).status, 200);
  });

  it('DELETE ends the session: later use is 404', async () => {
    const sid = await session();
    const d = await fetch(mcp, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
    assert.equal(d.status, 200);
    assert.equal((await post(mcp, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': sid })).status, 404);
    const again = await fetch(mcp, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
    assert.equal(again.status, 404);
  });

  it('other methods are 405 with Allow', async () => {
    const r = await fetch(mcp, { method: 'PUT', body: '{}' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, POST, DELETE');
  });

  it('batches are refused for 2025-11-25 and 2025-06-18 sessions, relayed for 2025-03-26', async () => {
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', id: 2, method: 'ping' },
    ];
    for (const v of ['2025-11-25', '2025-06-18']) {
      const sid = await session(mcp, v);
      const r = await post(mcp, batch, { 'mcp-session-id': sid });
      assert.equal(r.status, 400, v);
      assert.equal((r.json as { error: { code: number } }).error.code, -32600);
    }
    const sid = await session(mcp, '2025-03-26');
    const r = await post(mcp, batch, { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-03-26' });
    assert.equal(r.status, 200, r.text);
    const ids = messages(r).flatMap((m) => (Array.isArray(m) ? m : [m])).map((m) => (m as { id: number }).id).sort();
    assert.deepEqual(ids, [1, 2]);
    const withInit = await post(mcp, [init(3, '2025-03-26')], { 'mcp-session-id': sid });
    assert.equal(withInit.status, 400);
  });

  describe('Origin and Host (DNS rebinding)', () => {
    it('a present, non-allowed Origin is 403 with a JSON-RPC error without id', async () => {
      for (const origin of ['https://evil.example.com', 'null', 'http://localhost.evil.com', 'not a url']) {
        const r = await post(mcp, init(), { origin });
        assert.equal(r.status, 403, origin);
        assert.equal((r.json as { id: unknown }).id, null);
      }
    });

    it('allowed, loopback and absent Origins pass', async () => {
      for (const origin of ['https://app.example.com', 'http://localhost:3000', 'http://127.0.0.1:5173', undefined]) {
        const r = await post(mcp, init(), origin ? { origin } : {});
        assert.equal(r.status, 200, String(origin));
      }
    });

    it('bound to loopback, a foreign Host is refused', async () => {
      const { request } = await import('node:http');
      const u = new URL(mcp);
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { host: 'evil.example.com', 'content-type': 'application/json', accept: ACCEPT } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.end(JSON.stringify(init()));
      });
      assert.equal(status, 403);
    });
  });

  describe('what reaches the backend', () => {
    it('never the Authorization header, cookies or unlisted headers; forwardHeaders do', async () => {
      const secret = 'Bearer sk-live-SUPERSECRET-123';
      const extra = { authorization: secret, cookie: 'session=abc', 'x-request-id': 'req-42', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'x-custom': 'nope', 'proxy-authorization': 'Basic Zm9vOmJhcg==', 'ocp-apim-subscription-key': 'k' };
      const r = await post(mcp, init(), extra);
      const sid = r.headers.get('mcp-session-id')!;
      const t = await post(mcp, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'headers', arguments: {} } }, { ...extra, 'mcp-session-id': sid });
      const seen = JSON.parse(((messages(t).at(-1)!.result as { content: { text: string }[] }).content[0]!.text)) as Record<string, string>;
      assert.equal(seen['x-request-id'], 'req-42');
      assert.equal(seen.traceparent, extra.traceparent);
      for (const h of ['authorization', 'cookie', 'x-custom', 'proxy-authorization', 'ocp-apim-subscription-key']) assert.equal(seen[h], undefined, h);
      assert.notEqual(seen['mcp-session-id'], sid, 'the backend sees its own session id, not the gateway one');
      for (const q of fixture.requests) {
        assert.equal(q.headers.authorization, undefined);
        assert.equal(q.headers.cookie, undefined);
      }
      assert.ok(!gw.logs.some((l) => l.includes('SUPERSECRET')), 'no secret in the logs');
    });

    it('answers carry no backend headers (no Set-Cookie, no backend session id)', async () => {
      const r = await post(mcp, init());
      const sid = r.headers.get('mcp-session-id')!;
      const t = await post(mcp, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': sid });
      assert.equal(t.headers.get('set-cookie'), null);
      assert.equal(t.headers.get('mcp-session-id'), null);
      assert.equal(t.headers.get('x-powered-by'), null);
    });
  });

  describe('tool curation', () => {
    it('tools/list shows only allowed tools; deny wins', async () => {
      const url = `${gw.url}/curated/mcp`;
      const sid = await session(url);
      const r = await post(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': sid });
      const names = ((messages(r).at(-1)!.result as { tools: { name: string }[] }).tools).map((t) => t.name).sort();
      assert.ok(names.includes('echo'));
      assert.ok(names.includes('test_simple_text'));
      assert.ok(!names.includes('admin_reset'), 'denied by *_reset');
      assert.ok(!names.includes('test_sampling'), 'denied by name');
      assert.ok(!names.includes('slow'), 'not in allow list');
    });

    it('a call outside the list is refused in-band and never reaches the backend', async () => {
      const url = `${gw.url}/curated/mcp`;
      const sid = await session(url);
      const before = fixture.toolCalls.length;
      for (const name of ['admin_reset', 'slow', 'test_sampling', '__proto__', '']) {
        const r = await post(url, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name, arguments: {} } }, { 'mcp-session-id': sid });
        assert.equal(r.status, 200);
        assert.deepEqual(r.json, { jsonrpc: '2.0', id: 5, error: { code: -32602, message: `Unknown tool: ${name}` } });
      }
      assert.equal(fixture.toolCalls.length, before);
      const ok = await post(url, { jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'echo', arguments: { text: 'y' } } }, { 'mcp-session-id': sid });
      assert.equal(messages(ok).at(-1)!.id, 6);
    });
  });

  describe('backend failures', () => {
    it('backend down → 502 with a JSON body', async () => {
      const r = await post(`${gw.url}/down/mcp`, init());
      assert.equal(r.status, 502);
      assert.deepEqual(r.json, { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'backend of server "down" is unreachable' } });
    });

    it('backend slow → 504 with a JSON body', async () => {
      const r = await post(`${gw.url}/slow/mcp`, init());
      assert.equal(r.status, 504);
      assert.match(r.text, /did not answer in time/);
    });

    it('a backend that lost its session is re-initialized transparently', async () => {
      const sid = await session();
      // end the backend's session behind the gateway's back
      const backendSid = fixture.requests.filter((q) => q.headers['mcp-session-id']).at(-1)!.headers['mcp-session-id'] as string;
      const d = await fetch(fixture.url, { method: 'DELETE', headers: { 'mcp-session-id': backendSid } });
      assert.equal(d.status, 200);
      const r = await post(mcp, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { text: 'again' } } }, { 'mcp-session-id': sid });
      assert.equal(r.status, 200, r.text);
      assert.equal(messages(r).at(-1)!.id, 3);
    });
  });

  describe('operations endpoints', () => {
    it('/healthz, /readyz and /metrics', async () => {
      assert.deepEqual(await (await fetch(`${gw.url}/healthz`)).json(), { status: 'ok' });
      const ready = await fetch(`${gw.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ready', store: 'ok', cache: 'ok', draining: false });
      const m = await (await fetch(`${gw.url}/metrics`)).text();
      assert.match(m, /gatehouse_requests_total\{server="main",method="tools\/call",tool="echo",status="200"\} \d+/);
      assert.match(m, /gatehouse_request_duration_seconds_bucket\{le="0.005",server="main",method="initialize"\}/);
      assert.match(m, /gatehouse_errors_total\{server="down",kind="GW_ERR_UPSTREAM_CONNECT"\} 1/);
      assert.match(m, /gatehouse_errors_total\{server="main",kind="GW_ERR_PARSE"\} \d+/);
    });

    it('unknown paths are 404 with the APIM error body; request ids are echoed or made', async () => {
      const r = await fetch(`${gw.url}/nope/mcp`, { headers: { 'x-request-id': 'abc-123' } });
      assert.equal(r.status, 404);
      assert.deepEqual(await r.json(), { statusCode: 404, message: 'Not Found' });
      assert.equal(r.headers.get('x-request-id'), 'abc-123');
      const r2 = await fetch(`${gw.url}/healthz`, { headers: { 'x-request-id': 'bad id with spaces' } });
      assert.match(r2.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
    });
  });

  describe('GET stream and legacy HTTP+SSE bad inputs', () => {
    it('GET /mcp: Accept without text/event-stream is 406, no session is 400, an unknown one 404', async () => {
      assert.equal((await fetch(mcp, { headers: { accept: 'application/json' } })).status, 406);
      assert.equal((await fetch(mcp, { headers: { accept: 'text/event-stream' } })).status, 400);
      assert.equal((await fetch(mcp, { headers: { accept: 'text/event-stream', 'mcp-session-id': 'nope' } })).status, 404);
    });

    it('legacy endpoints: wrong methods 405, wrong Accept 406, missing or unknown sessionId 400/404', async () => {
      assert.equal((await fetch(`${gw.url}/main/sse`, { method: 'PUT' })).status, 405);
      assert.equal((await fetch(`${gw.url}/main/sse`, { headers: { accept: 'application/json' } })).status, 406);
      assert.equal((await fetch(`${gw.url}/main/messages`)).status, 405);
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
      const h = { 'content-type': 'application/json' };
      assert.equal((await fetch(`${gw.url}/main/messages`, { method: 'POST', headers: h, body })).status, 400);
      const unknown = await fetch(`${gw.url}/main/messages?sessionId=nope`, { method: 'POST', headers: h, body });
      assert.equal(unknown.status, 404);
      assert.equal(((await unknown.json()) as { error: { code: number } }).error.code, -32001);
    });

    it('legacy messages on an open stream: bad content type 415, malformed JSON 400, not initialized 400, oversized 413', async () => {
      const ac = new AbortController();
      const stream = await fetch(`${gw.url}/main/sse`, { headers: { accept: 'text/event-stream' }, signal: ac.signal });
      assert.equal(stream.status, 200);
      const reader = stream.body!.getReader();
      let text = '';
      while (!/event: endpoint\ndata: ([^\n]+)\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
      const path = /event: endpoint\ndata: ([^\n]+)\n/.exec(text)![1]!;
      assert.match(path, /^\/main\/messages\?sessionId=[A-Za-z0-9_-]{43}$/);
      const url = `${gw.url}${path}`;
      const send = (b: string, type = 'application/json') => fetch(url, { method: 'POST', headers: { 'content-type': type }, body: b });
      try {
        assert.equal((await send('{}', 'text/plain')).status, 415);
        const bad = await send('{"jsonrpc":');
        assert.equal(bad.status, 400);
        assert.equal(((await bad.json()) as { error: { code: number } }).error.code, -32700);
        assert.equal((await send('{"jsonrpc":"2.0","id":1,"method":"tools/list"}')).status, 400, 'not initialized yet');
        assert.equal((await send('[]')).status, 400, 'empty batch');
        assert.equal((await send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'x', params: { pad: 'x'.repeat(70 * 1024) } }))).status, 413);
      } finally {
        ac.abort();
      }
    });
  });
});
