/**
 * Gatehouse as an MCP resource server, with a real OpenID provider (oidc-provider on loopback,
 * client-credentials JWT access tokens bound to a resource by RFC 8707) and the official MCP SDK
 * client: the 401 challenge and Protected Resource Metadata lead an SDK client without a token to a
 * token and in; tools/list is filtered by the caller's claims; a tool needing more scope answers
 * 403 insufficient_scope and the SDK steps up; sessions belong to the subject that created them;
 * keys rotate without a restart within APIM's 5-minute refetch bound; the caller's token never
 * reaches the backend.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { startOpenIdProvider, type OpenIdProviderFixture } from './fixtures/oidc-provider.js';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { freePort, startGateway, type RunningGateway } from './helpers/gateway.js';
import { ACCEPT, INIT, post, send, session, toolText } from './helpers/mcp-http.js';

/**
 * SDK 1.32.2's client-credentials provider asks for `clientMetadata.scope`, not the scope of the
 * challenge (it is the authorization-code flow that uses the challenge's scope). This one adopts the
 * `scope` of the last Bearer challenge the transport saw — what an interactive client does — so the
 * 401/403 challenges drive which scopes are requested.
 */
class ChallengeScopedProvider extends ClientCredentialsProvider {
  scope: string | undefined;
  override prepareTokenRequest(): URLSearchParams {
    const p = new URLSearchParams({ grant_type: 'client_credentials' });
    if (this.scope) p.set('scope', this.scope);
    return p;
  }
  /** the fetch for the MCP transport: records the challenge's scope */
  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const r = await fetch(input, init);
    const m = /\bscope="([^"]*)"/.exec(r.headers.get('www-authenticate') ?? '');
    if (m) this.scope = m[1];
    return r;
  };
}

const ON_ERROR = '<on-error><base /><set-header name="x-reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header></on-error>';

function policy(discoveryUrl: string): string {
  return `<policies><inbound><base /><validate-jwt header-name="Authorization"><openid-config url="${discoveryUrl}" /></validate-jwt></inbound><backend><base /></backend><outbound><base /></outbound>${ON_ERROR}</policies>`;
}

describe('MCP resource server with a real OpenID provider and the SDK client', () => {
  let op: OpenIdProviderFixture;
  let backend: EverythingServer;
  let gw: RunningGateway;
  let base: string;
  let mcp: string;
  let resource: string;
  const tokens = new Map<string, string>();

  /** a token of a client for a resource (cached per client+resource) */
  async function token(clientId: string, res = resource, scope = 'weather:read'): Promise<string> {
    const key = `${clientId} ${res} ${scope}`;
    let t = tokens.get(key);
    if (!t) {
      t = await op.token({ clientId, resource: res, scope });
      tokens.set(key, t);
    }
    return t;
  }
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  before(async () => {
    op = await startOpenIdProvider({
      clients: [
        { clientId: 'reader', clientSecret: 'reader-secret', scope: 'weather:read' },
        { clientId: 'admin', clientSecret: 'admin-secret', scope: 'weather:read weather:write', claims: { roles: ['admin'] } },
      ],
      scopes: ['weather:read', 'weather:write'],
    });
    backend = await startEverythingServer({ transport: 'streamable-http' });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    mcp = `${base}/weather/mcp`;
    resource = mcp;
    gw = await startGateway({
      gateway: { listen: `127.0.0.1:${port}`, publicUrl: base },
      servers: [
        {
          name: 'weather',
          type: 'passthrough',
          backend: { url: backend.url },
          policies: policy(op.discoveryUrl),
          resourceMetadata: { scopes: ['weather:read'], resourceName: 'Weather' },
          tools: [{ name: 'admin_reset', scopes: ['weather:write'] }],
          toolAccess: [{ tools: ['stream_events'], claim: 'roles', values: ['admin'] }],
        },
        { name: 'open', type: 'passthrough', backend: { url: backend.url } },
      ],
    });
  });

  after(async () => {
    await gw?.close();
    await backend?.close();
    await op?.close();
  });

  it('serves Protected Resource Metadata per server, at the SDK alias, and at the root; not for unprotected servers', async () => {
    const r = await send(`${base}/.well-known/oauth-protected-resource/weather/mcp`, { method: 'GET' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      resource: mcp,
      authorization_servers: [op.issuer],
      scopes_supported: ['weather:read'],
      bearer_methods_supported: ['header'],
      resource_name: 'Weather',
    });
    assert.equal(r.headers.get('cache-control'), 'public, max-age=3600');
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    const alias = await send(`${mcp}/.well-known/oauth-protected-resource`, { method: 'GET' });
    assert.deepEqual(alias.json, r.json);
    const root = await send(`${base}/.well-known/oauth-protected-resource`, { method: 'GET' });
    assert.equal(root.status, 200);
    assert.equal((root.json as { resource: string }).resource, base);
    const pre = await send(`${base}/.well-known/oauth-protected-resource/weather/mcp`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } });
    assert.equal(pre.status, 204);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /GET/);
    assert.equal((await send(`${base}/.well-known/oauth-protected-resource/open/mcp`, { method: 'GET' })).status, 404);
    assert.equal((await send(`${base}/.well-known/oauth-protected-resource/nope/mcp`, { method: 'GET' })).status, 404);
    assert.equal((await send(`${base}/.well-known/oauth-protected-resource/weather/mcp`, { method: 'POST' })).status, 405);
  });

  it('answers a request without a token with 401 and the challenge that leads to the metadata; nothing reaches the backend', async () => {
    const before = backend.requests.length;
    const r = await post(mcp, INIT);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/weather/mcp", scope="weather:read"`);
    assert.deepEqual(r.json, { statusCode: 401, message: 'JWT not present.' });
    assert.equal(r.headers.get('x-reason'), 'TokenNotFound');
    assert.equal(backend.requests.length, before);
  });

  it('refuses a valid token of this provider issued for another resource (audience binding: no token passthrough)', async () => {
    const other = await token('reader', `${base}/open/mcp`);
    const r = await post(mcp, INIT, bearer(other));
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('x-reason'), 'TokenAudienceNotAllowed');
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="[^"]+", scope="weather:read"$/);
  });

  it('an SDK client without a token follows 401 → PRM → the provider → token, then lists (filtered) and calls tools', async () => {
    const provider = new ChallengeScopedProvider({ clientId: 'reader', clientSecret: 'reader-secret' });
    const client = new Client({ name: 'reader-bot', version: '1.0.0' });
    const seen = backend.requests.length;
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp), { authProvider: provider, fetch: provider.fetch }));
    try {
      const access = provider.tokens()?.access_token;
      assert.ok(access, 'the SDK obtained a token');
      const claims = decodeJwt(access);
      assert.equal(claims.aud, mcp, 'the token is bound to this server (resource from the PRM)');
      assert.equal(claims.scope, 'weather:read', 'the scope from the challenge');

      const names = (await client.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('echo') && names.includes('admin_reset'));
      assert.ok(!names.includes('stream_events'), 'stream_events is only for callers with roles=admin');

      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'hello' } });
      assert.equal((echoed.content as { text: string }[])[0]!.text, 'hello');

      // outside the caller's list: refused in-band, never reaches the backend
      await assert.rejects(client.callTool({ name: 'stream_events', arguments: { count: 1 } }), /Unknown tool: stream_events/);
      assert.ok(!backend.toolCalls.some((c) => c.name === 'stream_events'));

      // a tool needing weather:write: 403 insufficient_scope; the SDK tries to step up and the provider refuses the reader
      await assert.rejects(client.callTool({ name: 'admin_reset', arguments: {} }));
      assert.ok(!backend.toolCalls.some((c) => c.name === 'admin_reset'));
    } finally {
      await client.close();
    }
    const mine = backend.requests.slice(seen);
    assert.ok(mine.length >= 3, 'initialize, tools/list and tools/call reached the backend');
    assert.ok(mine.every((q) => q.headers.authorization === undefined), 'the client token never reaches the backend');
  });

  it('step-up: an SDK client granted only weather:read gets weather:write through the 403 challenge and the call succeeds', async () => {
    const provider = new ChallengeScopedProvider({ clientId: 'admin', clientSecret: 'admin-secret' });
    const client = new Client({ name: 'admin-bot', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp), { authProvider: provider, fetch: provider.fetch }));
    try {
      assert.equal(decodeJwt(provider.tokens()!.access_token).scope, 'weather:read');
      const names = (await client.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('stream_events'), 'roles=admin sees stream_events');
      const calls = backend.toolCalls.filter((c) => c.name === 'admin_reset').length;
      const r = await client.callTool({ name: 'admin_reset', arguments: {} });
      assert.equal(r.isError ?? false, false);
      assert.equal(backend.toolCalls.filter((c) => c.name === 'admin_reset').length, calls + 1, 'one call reached the backend, after the step-up');
      assert.equal(decodeJwt(provider.tokens()!.access_token).scope, 'weather:read weather:write');
    } finally {
      await client.close();
    }
  });

  it('the 403 names every scope the tool needs plus those granted, in one challenge', async () => {
    const t = await token('reader');
    const sid = await session(mcp, bearer(t));
    const r = await post(mcp, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'admin_reset', arguments: {} } }, { ...bearer(t), 'mcp-session-id': sid });
    assert.equal(r.status, 403);
    assert.equal(
      r.headers.get('www-authenticate'),
      `Bearer error="insufficient_scope", error_description="The tool admin_reset requires the scopes: weather:write", resource_metadata="${base}/.well-known/oauth-protected-resource/weather/mcp", scope="weather:read weather:write"`,
    );
    assert.equal(r.headers.get('x-reason'), 'InsufficientScope');
  });

  it('a session belongs to the subject that created it: another subject gets 404, no token 401, on POST, GET and DELETE', async () => {
    const reader = await token('reader');
    const admin = await token('admin');
    const sid = await session(mcp, bearer(reader));
    const list = { jsonrpc: '2.0', id: 3, method: 'tools/list' };
    assert.equal((await post(mcp, list, { ...bearer(admin), 'mcp-session-id': sid })).status, 404);
    const anon = await post(mcp, list, { 'mcp-session-id': sid });
    assert.equal(anon.status, 401, 'a session is never authentication');
    assert.equal((await post(mcp, list, { ...bearer(reader), 'mcp-session-id': sid })).status, 200);
    const get = await send(mcp, { method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': sid, ...bearer(admin) } });
    assert.equal(get.status, 404);
    assert.equal((await send(mcp, { method: 'DELETE', headers: { 'mcp-session-id': sid, ...bearer(admin) } })).status, 404);
    assert.equal((await send(mcp, { method: 'DELETE', headers: { 'mcp-session-id': sid, ...bearer(reader) } })).status, 200);
    assert.equal((await post(mcp, list, { ...bearer(reader), 'mcp-session-id': sid })).status, 404, 'ended');
  });

  it('a tools/call outside the caller\'s claims is refused with a JSON-RPC error (raw HTTP) and never reaches the backend', async () => {
    const t = await token('reader');
    const sid = await session(mcp, bearer(t));
    const r = await post(mcp, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'stream_events', arguments: { count: 1 } } }, { ...bearer(t), 'mcp-session-id': sid });
    assert.equal(r.status, 200);
    assert.deepEqual((r.json as { error: { code: number } }).error.code, -32602);
    const admin = await token('admin');
    const sid2 = await session(mcp, bearer(admin));
    const ok = await post(mcp, { jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } }, { ...bearer(admin), 'mcp-session-id': sid2 });
    assert.equal(toolText(ok), 'x');
  });

  it('legacy HTTP+SSE: the stream belongs to the caller that opened it', async () => {
    const reader = await token('reader');
    const admin = await token('admin');
    const ac = new AbortController();
    const res = await fetch(`${base}/weather/sse`, { headers: { accept: 'text/event-stream', ...bearer(reader) }, signal: ac.signal });
    assert.equal(res.status, 200);
    const reader0 = res.body!.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader0.read()).value);
    const endpoint = /data: (\S+)/.exec(text)![1]!;
    const url = new URL(endpoint, base).href;
    const msg = { ...INIT };
    assert.equal((await post(url, msg, bearer(admin))).status, 404);
    assert.equal((await post(url, msg)).status, 401);
    assert.equal((await post(url, msg, bearer(reader))).status, 202);
    ac.abort();
    assert.equal((await send(`${base}/weather/sse`, { method: 'GET', headers: { accept: 'text/event-stream' } })).status, 401);
  });

  it('rotates keys without a restart, refetching the JWKS at most once per 5 minutes', async () => {
    let now = Date.now();
    const port = await freePort();
    const g = await startGateway(
      {
        gateway: { listen: `127.0.0.1:${port}`, publicUrl: `http://127.0.0.1:${port}` },
        servers: [{ name: 'weather', type: 'passthrough', backend: { url: backend.url }, policies: policy(op.discoveryUrl), resourceMetadata: { scopes: ['weather:read'] } }],
      },
      { openid: { now: () => now } },
    );
    try {
      const url = `http://127.0.0.1:${port}/weather/mcp`;
      const t1 = await op.token({ clientId: 'reader', resource: url, scope: 'weather:read' });
      assert.equal((await post(url, INIT, bearer(t1))).status, 200);
      const fetched = op.hits.jwks;
      await op.rotateKey({ keepOld: true });
      const t2 = await op.token({ clientId: 'reader', resource: url, scope: 'weather:read' });
      assert.notEqual(decodeJwt(t2).jti, decodeJwt(t1).jti);
      const refused = await post(url, INIT, bearer(t2));
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get('x-reason'), 'TokenSignatureKeyNotFound');
      assert.equal(op.hits.jwks, fetched, 'no refetch within 5 minutes of the last one');
      now += 5 * 60 * 1000 + 1;
      assert.equal((await post(url, INIT, bearer(t2))).status, 200, 'after 5 minutes the unknown kid triggers one refetch');
      assert.equal(op.hits.jwks, fetched + 1);
      assert.equal((await post(url, INIT, bearer(t2))).status, 200);
      assert.equal((await post(url, INIT, bearer(t1))).status, 200, 'the old key is still published');
      assert.equal(op.hits.jwks, fetched + 1, 'known keys need no fetch');
    } finally {
      await g.close();
    }
  });

  it('with the JWKS endpoint down, a token gets a clear 401 quickly (never 500, never a hang)', async () => {
    op.setDown(true);
    const port = await freePort();
    const g = await startGateway({
      gateway: { listen: `127.0.0.1:${port}`, publicUrl: `http://127.0.0.1:${port}` },
      servers: [{ name: 'weather', type: 'passthrough', backend: { url: backend.url }, policies: policy(op.discoveryUrl), resourceMetadata: { scopes: ['weather:read'] } }],
    });
    try {
      const url = `http://127.0.0.1:${port}/weather/mcp`;
      const t = await op.token({ clientId: 'reader', resource: url, scope: 'weather:read' });
      const r = await post(url, INIT, bearer(t));
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('x-reason'), 'TokenSignatureKeyNotFound');
      assert.match((r.json as { message: string }).message, /could not be retrieved/);
      assert.ok(r.ms < 5000, `answered in ${Math.round(r.ms)} ms`);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
    } finally {
      op.setDown(false);
      await g.close();
    }
  });

  it('the unprotected server stays open and the Accept rules still apply before authentication', async () => {
    const sid = await session(`${base}/open/mcp`);
    assert.ok(sid);
    const r = await post(mcp, INIT, { accept: 'application/json' });
    assert.equal(r.status, 406);
    assert.equal(ACCEPT.includes('text/event-stream'), true);
  });
});
