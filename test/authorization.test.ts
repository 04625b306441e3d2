/**
 * The authorization-server facade end to end, with a REAL upstream OpenID provider (oidc-provider
 * on loopback, headless login) and the official MCP SDK client: 401 → PRM → AS metadata → DCR →
 * /authorize → consent (CSRF) → upstream login → /oauth/callback → /token → tools/call through a
 * passthrough server whose validate-jwt trusts the gateway's own discovery; refresh without user
 * interaction; and the negative cases of the MCP security rules (PKCE, redirect URIs, resource
 * indicators, state, CSRF, framing, code and refresh-token replay, DCR redirect schemes, CIMD).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { configFromObject } from '../src/config/load.js';
import { createGateway, type Gateway } from '../src/gateway.js';
import { createLogger } from '../src/observability/logger.js';
import { SecretBox } from '../src/secrets/secret-box.js';
import { openStore } from '../src/store/open.js';
import { SigningKeys, SIGNING_KEY_COLLECTION } from '../src/authorization/signing-keys.js';
import { setCookie } from '../src/authorization/http.js';
import { canonicalResource } from '../src/authorization/facade.js';
import { startUpstreamOp, type UpstreamOp } from './fixtures/upstream-op.js';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { freePort } from './helpers/gateway.js';
import { HeadlessProvider, browse, connectWithOAuth, get, postForm, s256, submitConsent, verifierOf, type Jar, type Trace } from './helpers/as-facade.js';

describe('authorization server facade with a real upstream OpenID provider and the SDK client', () => {
  let op: UpstreamOp;
  let backend: EverythingServer;
  let gateway: Gateway;
  let base: string;
  let mcp: string;
  let cimdServer: http.Server;
  let cimdBase: string;
  const cimdDocs = new Map<string, unknown>();
  const REDIRECT = 'http://127.0.0.1:9/callback';

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    mcp = `${base}/weather/mcp`;
    op = await startUpstreamOp({ redirectUri: `${base}/oauth/callback` });
    backend = await startEverythingServer({ transport: 'streamable-http' });
    cimdServer = http.createServer((req, res) => {
      const doc = cimdDocs.get(req.url ?? '');
      if (!doc) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' }).end(JSON.stringify(doc));
    });
    await new Promise<void>((r) => cimdServer.listen(0, '127.0.0.1', r));
    cimdBase = `http://127.0.0.1:${(cimdServer.address() as AddressInfo).port}`;
    const config = await configFromObject(
      {
        store: 'sqlite::memory:',
        cache: 'memory',
        gateway: { listen: `127.0.0.1:${port}`, publicUrl: base },
        servers: [
          {
            name: 'weather',
            type: 'passthrough',
            backend: { url: backend.url },
            policies: `<policies><inbound><base /><validate-jwt header-name="Authorization"><openid-config url="${base}/.well-known/openid-configuration" /></validate-jwt></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /><set-header name="x-reason" exists-action="override"><value>@(context.LastError.Message)</value></set-header></on-error></policies>`,
            resourceMetadata: { scopes: ['weather:read'] },
          },
        ],
        authorization: {
          upstream: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret, scopes: ['openid', 'profile'] },
          tokens: { accessTokenTtl: 300 },
        },
      },
      { baseDir: process.cwd(), env: {} },
    );
    gateway = await createGateway(config, {
      logger: createLogger({ level: 'silent' }),
      secretBox: new SecretBox({ current: randomBytes(32) }),
      authorization: { allowLoopbackMetadataDocuments: true },
      // APIM's refetch bound as it is: the gateway does not prefetch its own discovery at load (nothing
      // listens yet), so the first request fetches it and nothing waits 5 minutes
      env: {},
    });
    await gateway.listen(port, '127.0.0.1');
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    await op?.close();
    await new Promise<void>((r) => (cimdServer ? cimdServer.close(() => r()) : r()));
  });

  /** a DCR client with REDIRECT */
  async function register(name = 'Raw Client', redirectUris = [REDIRECT]): Promise<string> {
    const res = await fetch(`${base}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: name, redirect_uris: redirectUris }) });
    assert.equal(res.status, 201);
    return ((await res.json()) as { client_id: string }).client_id;
  }

  function authorizeUrl(clientId: string, challenge: string | undefined, extra: Record<string, string> = {}): URL {
    const u = new URL(`${base}/authorize`);
    u.searchParams.set('response_type', 'code');
    u.searchParams.set('client_id', clientId);
    u.searchParams.set('redirect_uri', REDIRECT);
    if (challenge) {
      u.searchParams.set('code_challenge', challenge);
      u.searchParams.set('code_challenge_method', 'S256');
    }
    u.searchParams.set('state', 'client-state');
    u.searchParams.set('resource', mcp);
    u.searchParams.set('scope', 'weather:read');
    for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v);
    return u;
  }

  /** a full browser authorization → the client's code */
  async function codeFor(clientId: string, verifier: string, jar: Jar = new Map(), trace?: Trace): Promise<string> {
    const back = await browse(authorizeUrl(clientId, s256(verifier)), REDIRECT, jar, trace);
    assert.equal(back.searchParams.get('iss'), base);
    assert.equal(back.searchParams.get('state'), 'client-state');
    const code = back.searchParams.get('code');
    assert.ok(code, `no code: ${back.href}`);
    return code;
  }

  const exchange = (clientId: string, code: string, verifier: string, extra: Record<string, string> = {}) =>
    postForm(`${base}/token`, { grant_type: 'authorization_code', client_id: clientId, code, code_verifier: verifier, redirect_uri: REDIRECT, resource: mcp, ...extra });

  it('publishes RFC 8414 / OIDC metadata and a JWKS; protected servers name the facade', async () => {
    const r = await fetch(`${base}/.well-known/oauth-authorization-server`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.match(r.headers.get('cache-control') ?? '', /max-age/);
    const m = (await r.json()) as Record<string, unknown>;
    assert.equal(m.issuer, base);
    assert.equal(m.authorization_endpoint, `${base}/authorize`);
    assert.equal(m.token_endpoint, `${base}/token`);
    assert.equal(m.registration_endpoint, `${base}/register`);
    assert.equal(m.revocation_endpoint, `${base}/revoke`);
    assert.deepEqual(m.response_types_supported, ['code']);
    assert.deepEqual(m.grant_types_supported, ['authorization_code', 'refresh_token']);
    assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(m.token_endpoint_auth_methods_supported, ['none']);
    assert.equal(m.client_id_metadata_document_supported, true);
    assert.equal(m.authorization_response_iss_parameter_supported, true);
    assert.deepEqual(m.scopes_supported, ['weather:read']);
    const o = (await (await fetch(`${base}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.deepEqual(o, m);
    const jwks = (await (await fetch(m.jwks_uri as string)).json()) as { keys: Array<Record<string, unknown>> };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]!.kty, 'RSA');
    assert.equal(jwks.keys[0]!.d, undefined, 'no private key material');
    const prm = (await (await fetch(`${base}/.well-known/oauth-protected-resource/weather/mcp`)).json()) as Record<string, unknown>;
    assert.deepEqual(prm.authorization_servers, [base]);
    const pre = await fetch(`${base}/token`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  });

  it('the SDK client completes 401 → PRM → metadata → DCR → consent → upstream login → token → tools/call, then refreshes without the user', async () => {
    const provider = new HeadlessProvider('http://127.0.0.1:9/sdk-callback');
    const client = await connectWithOAuth(new URL(mcp), provider);
    const result = (await client.callTool({ name: 'echo', arguments: { text: 'hello via facade' } })) as { content: Array<{ text: string }> };
    assert.equal(result.content[0]!.text, 'hello via facade');
    await client.close();
    assert.equal(provider.redirects, 1);
    assert.equal(provider.trace.consentPages, 1);
    // the gateway went to the upstream provider as itself: static client id, own PKCE, no resource
    const up = op.authRequests.at(-1)!;
    assert.equal(up.get('client_id'), op.clientId);
    assert.equal(up.get('redirect_uri'), `${base}/oauth/callback`);
    assert.equal(up.get('code_challenge_method'), 'S256');
    assert.ok(up.get('state') && up.get('nonce'));
    assert.equal(up.get('resource'), null);
    // the token is the gateway's: iss, aud = the resource, sub = the upstream subject, scope, client_id
    const t = provider.toks!;
    const claims = decodeJwt(t.access_token);
    assert.equal(decodeProtectedHeader(t.access_token).alg, 'RS256');
    assert.equal(claims.iss, base);
    assert.equal(claims.aud, mcp);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.scope, 'weather:read');
    assert.equal(claims.client_id, (provider.info as { client_id: string }).client_id);
    assert.ok(typeof claims.jti === 'string' && claims.exp! - claims.iat! === 300);
    assert.ok(t.refresh_token);
    // the token never reaches the backend
    assert.ok(backend.requests.every((r) => r.headers.authorization === undefined));

    // refresh: an access token the server rejects → 401 → refresh_token grant, no redirect
    const oldRefresh = t.refresh_token;
    provider.toks = { ...t, access_token: 'expired.token.value' };
    const again = await connectWithOAuth(new URL(mcp), provider);
    const r2 = (await again.callTool({ name: 'echo', arguments: { text: 'after refresh' } })) as { content: Array<{ text: string }> };
    assert.equal(r2.content[0]!.text, 'after refresh');
    await again.close();
    assert.equal(provider.redirects, 1, 'no new user interaction');
    assert.notEqual(provider.toks.refresh_token, oldRefresh, 'refresh tokens rotate');
  });

  it('refuses plain or missing PKCE, unknown redirect URIs and clients (no redirect), and foreign resources (invalid_target)', async () => {
    const clientId = await register();
    const v = verifierOf();
    const plain = await get(authorizeUrl(clientId, undefined, { code_challenge: v, code_challenge_method: 'plain' }), new Map());
    assert.equal(plain.status, 302);
    const pl = new URL(plain.headers.get('location')!);
    assert.ok(pl.href.startsWith(REDIRECT));
    assert.equal(pl.searchParams.get('error'), 'invalid_request');
    assert.equal(pl.searchParams.get('iss'), base);
    const missing = new URL((await get(authorizeUrl(clientId, undefined), new Map())).headers.get('location')!);
    assert.equal(missing.searchParams.get('error'), 'invalid_request');

    const badRedirect = await get(authorizeUrl(clientId, s256(v), { redirect_uri: 'https://attacker.example/cb' }), new Map());
    assert.equal(badRedirect.status, 400);
    assert.equal(badRedirect.headers.get('location'), null);
    const almost = await get(authorizeUrl(clientId, s256(v), { redirect_uri: `${REDIRECT}/` }), new Map());
    assert.equal(almost.status, 400, 'exact string match');
    const unknown = await get(authorizeUrl('ghc_nope', s256(v)), new Map());
    assert.equal(unknown.status, 400);
    assert.equal(unknown.headers.get('location'), null);

    const foreign = await get(authorizeUrl(clientId, s256(v), { resource: 'https://graph.microsoft.com' }), new Map());
    assert.equal(foreign.status, 302);
    assert.equal(new URL(foreign.headers.get('location')!).searchParams.get('error'), 'invalid_target');
    // the gateway's resources are accepted case-insensitively in scheme/host and with one trailing slash
    const upper = await get(authorizeUrl(clientId, s256(v), { resource: `${mcp.replace('http://127.0.0.1', 'HTTP://127.0.0.1')}/` }), new Map());
    assert.equal(upper.status, 200);
  });

  it('serves a framing-proof consent page; a POST without (or with a wrong) CSRF token is refused; deny returns access_denied', async () => {
    const clientId = await register('Consent <Test> Client');
    const jar: Jar = new Map();
    const url = authorizeUrl(clientId, s256(verifierOf()));
    const page = await get(url, jar);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    const setCookie = page.headers.getSetCookie().join('\n');
    assert.match(setCookie, /^gh_csrf=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/m);
    const html = await page.clone().text();
    assert.ok(html.includes('Consent &lt;Test&gt; Client'), 'client name shown, escaped');
    assert.ok(html.includes('127.0.0.1:9'), 'redirect host shown');
    assert.ok(html.includes(REDIRECT), 'full redirect URI shown');
    assert.ok(html.includes('weather:read') && html.includes('openid'), 'scopes shown');
    const before = op.authRequests.length;
    const noCsrf = await submitConsent(page.clone(), url, jar, 'approve', { csrf: null });
    assert.equal(noCsrf.status, 403);
    const wrong = await submitConsent(page.clone(), url, jar, 'approve', { csrf: 'forged' });
    assert.equal(wrong.status, 403);
    const noCookie = await submitConsent(page.clone(), url, new Map(), 'approve');
    assert.equal(noCookie.status, 403, 'the CSRF token is bound to the browser cookie');
    assert.equal(op.authRequests.length, before, 'nothing reached the upstream provider');
    const deny = await submitConsent(page, url, jar, 'deny');
    assert.equal(deny.status, 302);
    const back = new URL(deny.headers.get('location')!);
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('state'), 'client-state');
  });

  it('rejects callbacks with a missing, unknown or replayed state', async () => {
    const jar: Jar = new Map();
    assert.equal((await get(`${base}/oauth/callback?code=x`, jar)).status, 400);
    assert.equal((await get(`${base}/oauth/callback?code=x&state=unknown`, jar)).status, 400);
    const clientId = await register();
    const trace: Trace = { consentPages: 0 };
    await codeFor(clientId, verifierOf(), jar, trace);
    assert.ok(trace.callbackUrl);
    const replay = await fetch(trace.callbackUrl, { redirect: 'manual', headers: { cookie: `gh_state=${trace.callbackUrl.searchParams.get('state')}` } });
    assert.equal(replay.status, 400);
    assert.equal(replay.headers.get('location'), null);
  });

  it('remembers consent per user and client: a second authorization skips the consent page', async () => {
    const clientId = await register();
    const jar: Jar = new Map();
    const trace: Trace = { consentPages: 0 };
    await codeFor(clientId, verifierOf(), jar, trace);
    await codeFor(clientId, verifierOf(), jar, trace);
    assert.equal(trace.consentPages, 1);
    // another client in the same browser still asks
    const other = await register('Other');
    await codeFor(other, verifierOf(), jar, trace);
    assert.equal(trace.consentPages, 2);
  });

  it('/token checks the PKCE verifier, redirect_uri and resource; a replayed code fails and revokes what it issued', async () => {
    const clientId = await register();
    const jar: Jar = new Map();
    const v = verifierOf();
    let code = await codeFor(clientId, v, jar);
    const wrong = await exchange(clientId, code, verifierOf());
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error, 'invalid_grant');
    assert.equal(wrong.headers.get('cache-control'), 'no-store');

    code = await codeFor(clientId, v, jar);
    const mismatch = await exchange(clientId, code, v, { redirect_uri: 'http://127.0.0.1:9/other' });
    assert.equal(mismatch.json.error, 'invalid_grant');

    code = await codeFor(clientId, v, jar);
    const target = await exchange(clientId, code, v, { resource: 'https://other.example/mcp' });
    assert.equal(target.json.error, 'invalid_target');

    code = await codeFor(clientId, v, jar);
    const ok = await exchange(clientId, code, v);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    assert.equal(ok.json.token_type, 'Bearer');
    const replay = await exchange(clientId, code, v);
    assert.equal(replay.json.error, 'invalid_grant');
    const refresh = await postForm(`${base}/token`, { grant_type: 'refresh_token', client_id: clientId, refresh_token: ok.json.refresh_token as string });
    assert.equal(refresh.json.error, 'invalid_grant', 'tokens issued from a replayed code are revoked');
    // another client cannot redeem a code
    const other = await register();
    code = await codeFor(clientId, v, jar);
    assert.equal((await exchange(other, code, v)).json.error, 'invalid_grant');
  });

  it('rotates refresh tokens; replaying an old one revokes the whole family; /revoke ends a family', async () => {
    const clientId = await register();
    const v = verifierOf();
    const first = await exchange(clientId, await codeFor(clientId, v), v);
    const rt1 = first.json.refresh_token as string;
    const second = await postForm(`${base}/token`, { grant_type: 'refresh_token', client_id: clientId, refresh_token: rt1, resource: mcp });
    assert.equal(second.status, 200);
    const rt2 = second.json.refresh_token as string;
    assert.notEqual(rt2, rt1);
    assert.equal(decodeJwt(second.json.access_token as string).aud, mcp);
    const replay = await postForm(`${base}/token`, { grant_type: 'refresh_token', client_id: clientId, refresh_token: rt1 });
    assert.equal(replay.json.error, 'invalid_grant');
    const afterReplay = await postForm(`${base}/token`, { grant_type: 'refresh_token', client_id: clientId, refresh_token: rt2 });
    assert.equal(afterReplay.json.error, 'invalid_grant', 'the family is revoked');

    const third = await exchange(clientId, await codeFor(clientId, v), v);
    const rev = await postForm(`${base}/revoke`, { client_id: clientId, token: third.json.refresh_token as string });
    assert.equal(rev.status, 200);
    const revoked = await postForm(`${base}/token`, { grant_type: 'refresh_token', client_id: clientId, refresh_token: third.json.refresh_token as string });
    assert.equal(revoked.json.error, 'invalid_grant');
  });

  it('DCR refuses javascript:, data:, non-loopback http and fragment redirect URIs; issues public clients', async () => {
    for (const bad of ['javascript:alert(1)', 'data:text/html,hi', 'http://evil.example/cb', 'https://ok.example/cb#frag', 'file:///etc/passwd']) {
      const r = await fetch(`${base}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'x', redirect_uris: [bad] }) });
      assert.equal(r.status, 400, bad);
      assert.equal(((await r.json()) as { error: string }).error, 'invalid_redirect_uri', bad);
    }
    const r = await fetch(`${base}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'ok', redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'client_secret_post' }) });
    assert.equal(r.status, 201);
    const body = (await r.json()) as Record<string, unknown>;
    assert.equal(body.token_endpoint_auth_method, 'none');
    assert.equal(body.client_secret, undefined);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
  });

  it('accepts Client ID Metadata Documents whose client_id equals their URL and checks their redirect URIs', async () => {
    const good = `${cimdBase}/clients/good.json`;
    cimdDocs.set('/clients/good.json', { client_id: good, client_name: 'CIMD Client', redirect_uris: [REDIRECT] });
    const v = verifierOf();
    const back = await browse(authorizeUrl(good, s256(v)), REDIRECT, new Map());
    const code = back.searchParams.get('code')!;
    const tok = await exchange(good, code, v);
    assert.equal(tok.status, 200);
    assert.equal(decodeJwt(tok.json.access_token as string).client_id, good);

    const liar = `${cimdBase}/clients/liar.json`;
    cimdDocs.set('/clients/liar.json', { client_id: 'https://someone.else/client.json', client_name: 'Liar', redirect_uris: [REDIRECT] });
    assert.equal((await get(authorizeUrl(liar, s256(v)), new Map())).status, 400);
    const otherRedirect = await get(authorizeUrl(good, s256(v), { redirect_uri: 'http://127.0.0.1:9/elsewhere' }), new Map());
    assert.equal(otherRedirect.status, 400);
    assert.equal((await get(authorizeUrl(`${cimdBase}/clients/missing.json`, s256(v)), new Map())).status, 400);
  });

  // last: it exhausts this address's registration budget
  it('rate-limits dynamic registration per client address', async () => {
    let limited: Response | undefined;
    for (let i = 0; i < 25 && !limited; i++) {
      const r = await fetch(`${base}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: `n${i}`, redirect_uris: [REDIRECT] }) });
      if (r.status === 429) limited = r;
      else assert.equal(r.status, 201);
      await r.body?.cancel();
    }
    assert.ok(limited, 'a 429 within 25 registrations');
    assert.ok(limited.headers.get('retry-after'));
  });
});

describe('authorization server signing key', () => {
  it('is generated once, kept in the store with its private key sealed, and reused after a restart', async () => {
    const store = await openStore('sqlite::memory:');
    const box = new SecretBox({ current: randomBytes(32) });
    try {
      const a = await SigningKeys.load(store, box);
      const b = await SigningKeys.load(store, box);
      assert.equal(a.kid, b.kid);
      assert.deepEqual(await a.jwks(), await b.jwks());
      const rec = await store.get<{ privateJwk: string }>(SIGNING_KEY_COLLECTION, 'current');
      assert.match(rec!.value.privateJwk, /^v1\./, 'sealed');
      assert.ok(!JSON.stringify(rec!.value).includes('"d"'));
      await assert.rejects(SigningKeys.load(store, new SecretBox({ current: randomBytes(32) })), /GW_SECRET_KEY_MISMATCH|sealed with key/);
    } finally {
      await store.close();
    }
  });
});

describe('authorization server helpers', () => {
  it('uses __Host- cookies with Secure when publicUrl is https, plain names otherwise', () => {
    assert.equal(setCookie({ secure: true }, 'gh_state', 'v', 600), '__Host-gh_state=v; Path=/; Max-Age=600; HttpOnly; SameSite=Lax; Secure');
    assert.equal(setCookie({ secure: false }, 'gh_state', 'v', 600), 'gh_state=v; Path=/; Max-Age=600; HttpOnly; SameSite=Lax');
  });
  it('canonicalises resource indicators (scheme/host case, one trailing slash) and refuses fragments', () => {
    assert.equal(canonicalResource('HTTPS://GW.example.com/Weather/mcp/'), 'https://gw.example.com/Weather/mcp');
    assert.equal(canonicalResource('https://gw.example.com'), 'https://gw.example.com');
    assert.equal(canonicalResource('https://gw.example.com/mcp#x'), undefined);
    assert.equal(canonicalResource('gw.example.com'), undefined);
  });
});
