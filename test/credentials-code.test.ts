/**
 * The authorization-code consent flow of the credential manager, end to end and headless, against a
 * REAL OAuth 2.0 authorization server on loopback: oidc-provider v8 (test/fixtures/oauth-code-server.ts)
 * with its own login form (user + password) and consent form, PKCE S256, client_secret_basic,
 * RS256 JWT access tokens, refresh tokens rotated at every use, revocation.
 *
 * One gateway (config file + SQLite store file in a temp folder, GATEHOUSE_SECRET_KEY from the
 * environment) in front of the "everything" MCP backend; `gatehouse credentials` and `gatehouse
 * keys rotate` run on the same config file.
 *
 * (a) shared connection: CLI login link → gateway → provider login + consent → callback → back with
 *     status=connected; `credentials list`; the backend gets the provider's token (verified with the
 *     provider's JWKS) through get-authorization-context identity-type="managed" + set-header;
 * (b) per-user connection behind validate-jwt, identity-type="jwt": the first call fails with the
 *     caller's own login link; alice and bob each get their own token;
 * (c) refresh: 60 s access tokens (inside the 3-minute margin): concurrent calls → ONE refresh at the
 *     provider, the rotated refresh token is kept; a revoked refresh token → `error` in the list, 500
 *     (ignore-error → null), logging in again repairs it;
 * (d) the callback refuses a missing, unknown or reused state; a tampered grant → 403;
 * (e) the store file holds no token in clear; another GATEHOUSE_SECRET_KEY fails loudly (no crash);
 *     `gatehouse keys rotate` with the old key in GATEHOUSE_SECRET_KEY_PREVIOUS keeps it working.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { SignJWT, createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { main, type CliIo } from '../src/cli/main.js';
import { loadConfig } from '../src/config/load.js';
import { createGateway, type Gateway } from '../src/gateway.js';
import { createLogger } from '../src/observability/logger.js';
import { generateKey, keyIdOf, parseKey } from '../src/secrets/secret-box.js';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { browserLogin, startCodeServer, type CodeServer } from './fixtures/oauth-code-server.js';
import { freePort } from './helpers/gateway.js';
import { INIT, post, toolText } from './helpers/mcp-http.js';

const USERS = { alice: 'alice-pw', bob: 'bob-pw', ops: 'ops-pw' };
const USER_ISSUER = 'https://users.test';
const USER_KEY = Buffer.from('per-user-test-signing-key-of-32-bytes!!');
const APP = 'https://app.example/done';

interface Running {
  gateway: Gateway;
  logs: string[];
  close(): Promise<void>;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** the get-authorization-context + set-header pair of APIM's docs */
const authPolicy = (provider: string, connection: string, identity: 'managed' | 'jwt', before = '', ignore = false): string => `<policies><inbound>${before}
  <get-authorization-context provider-id="${provider}" authorization-id="${connection}" context-variable-name="auth-context" identity-type="${identity}" ignore-error="${ignore}" />
  ${
    ignore
      ? '<set-header name="x-auth-state" exists-action="override"><value>@(context.Variables.GetValueOrDefault("auth-context") == null ? "none" : "token")</value></set-header>'
      : '<set-header name="Authorization" exists-action="override"><value>@("Bearer " + ((Authorization)context.Variables.GetValueOrDefault("auth-context"))?.AccessToken)</value></set-header>'
  }
</inbound></policies>`;

describe('credentials: the authorization-code consent flow against a real OAuth server', () => {
  let dir: string;
  let cfg: string;
  let dbFile: string;
  let port: number;
  let publicUrl: string;
  let backend: EverythingServer;
  let idp: CodeServer;
  let gw: Running | undefined;
  const key1 = generateKey();
  const key2 = generateKey();
  /** every access token a backend request carried */
  const seenTokens = new Set<string>();

  const cli = async (env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> => {
    let stdout = '';
    let stderr = '';
    const io: CliIo = { stdout: (s) => (stdout += s.endsWith('\n') ? s : s + '\n'), stderr: (s) => (stderr += s.endsWith('\n') ? s : s + '\n'), cwd: dir, env };
    const code = await main(args, io);
    return { code, stdout, stderr };
  };
  const listed = async (): Promise<Record<string, { status: string; users?: number; error?: string }>> => {
    const r = await cli({}, 'credentials', 'list', '-c', cfg, '--json');
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { provider: string; connection: string; status: string; users?: number; error?: string }[];
    return Object.fromEntries(rows.map((x) => [`${x.provider}/${x.connection}`, x]));
  };

  async function startGw(env: NodeJS.ProcessEnv): Promise<Running> {
    const config = await loadConfig({ file: cfg, env, cwd: dir });
    const logs: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        cb();
      },
    });
    const gateway = await createGateway(config, { logger: createLogger({ level: 'debug', destination }), env });
    await gateway.listen(port, '127.0.0.1');
    return { gateway, logs, close: () => gateway.close() };
  }

  /** initialize + tools/call `headers` on a server: what the backend saw, or the refusal */
  async function call(server: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; auth?: string; seen?: Record<string, string> }> {
    const url = `${publicUrl}/${server}/mcp`;
    const init = await post(url, INIT, headers);
    if (init.status !== 200) return { status: init.status, text: init.text };
    const sid = init.headers.get('mcp-session-id');
    assert.ok(sid, init.text);
    const r = await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'headers', arguments: {} } }, { ...headers, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
    if (r.status !== 200) return { status: r.status, text: r.text };
    const seen = JSON.parse(toolText(r)) as Record<string, string>;
    const auth = seen.authorization?.replace(/^Bearer /, '');
    if (auth) seenTokens.add(auth);
    return { status: r.status, text: r.text, seen, ...(auth !== undefined ? { auth } : {}) };
  }

  const userToken = (sub: string, claims: Record<string, unknown> = { groups: ['staff'] }) =>
    new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(USER_ISSUER)
      .setSubject(sub)
      .setAudience(`${publicUrl}/peruser/mcp`)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(USER_KEY);

  const hosts = () => [new URL(publicUrl).host, new URL(idp.issuer).host];
  const loginLink = async (provider: string, connection: string, ...extra: string[]): Promise<string> => {
    const r = await cli({ GATEHOUSE_SECRET_KEY: key1 }, 'credentials', 'login-link', '-c', cfg, '--provider', provider, '--connection', connection, ...extra);
    assert.equal(r.code, 0, r.stderr);
    const link = r.stdout.trim();
    assert.ok(link.startsWith(`${publicUrl}/credentials/${provider}/${connection}/login?grant=`), link);
    return link;
  };
  const linkIn = (text: string): string => {
    const m = /Connect it at (http\S+?)(?=["\\\s]|$)/.exec(text);
    assert.ok(m, `a login link in ${text}`);
    return m[1]!;
  };
  const jwks = () => createRemoteJWKSet(new URL(`${idp.issuer}/jwks`));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-credentials-code-'));
    cfg = join(dir, 'gatehouse.yaml');
    dbFile = join(dir, 'gatehouse.db');
    port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    backend = await startEverythingServer({ transport: 'streamable-http' });
    const callback = `${publicUrl}/credentials/callback`;
    idp = await startCodeServer({
      users: USERS,
      clients: [
        { clientId: 'gatehouse', clientSecret: 'gatehouse-secret', redirectUris: [callback], accessTokenTtl: 3600 },
        { clientId: 'gatehouse-short', clientSecret: 'short-secret', redirectUris: [callback], accessTokenTtl: 60 },
      ],
    });
    const provider = (name: string, clientId: string, clientSecret: string, connections: unknown[]) => ({
      name,
      type: 'oauth2',
      clientId,
      clientSecret,
      authorizationUrl: idp.authorizationUrl,
      tokenUrl: idp.tokenUrl,
      scopes: ['api.read'],
      connections,
    });
    const validate = `<validate-jwt header-name="Authorization" require-scheme="Bearer"><issuer-signing-keys><key>${USER_KEY.toString('base64')}</key></issuer-signing-keys><issuers><issuer>${USER_ISSUER}</issuer></issuers></validate-jwt>`;
    const config = {
      store: `sqlite:${dbFile}`,
      cache: 'memory',
      gateway: { listen: `127.0.0.1:${port}`, publicUrl },
      credentials: {
        providers: [
          provider('idp', 'gatehouse', 'gatehouse-secret', [
            { name: 'shared', grant: 'authorization-code', accessPolicies: [{ identity: 'managed' }] },
            { name: 'mine', grant: 'authorization-code', perUser: true, accessPolicies: [{ claim: 'groups', value: 'staff' }] },
          ]),
          provider('idp-short', 'gatehouse-short', 'short-secret', [{ name: 'shared', grant: 'authorization-code', accessPolicies: [{ identity: 'managed' }] }]),
          { name: 'svc', type: 'oauth2', clientId: 'svc', clientSecret: 'svc-secret', tokenUrl: idp.tokenUrl, connections: [{ name: 'machine', grant: 'client-credentials' }] },
        ],
      },
      servers: [
        { name: 'shared', type: 'passthrough', backend: { url: backend.url }, policies: authPolicy('idp', 'shared', 'managed') },
        { name: 'peruser', type: 'passthrough', backend: { url: backend.url }, policies: authPolicy('idp', 'mine', 'jwt', validate) },
        { name: 'short', type: 'passthrough', backend: { url: backend.url }, policies: authPolicy('idp-short', 'shared', 'managed') },
        { name: 'lenient', type: 'passthrough', backend: { url: backend.url }, policies: authPolicy('idp-short', 'shared', 'managed', '', true) },
      ],
    };
    writeFileSync(cfg, JSON.stringify(config, null, 2)); // JSON is YAML
    gw = await startGw({ GATEHOUSE_SECRET_KEY: key1 });
  });

  after(async () => {
    await gw?.close();
    await idp?.close();
    await backend?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('gatehouse credentials (CLI)', () => {
    it('lists every connection as pending/ready before any login, never a token', async () => {
      const rows = await listed();
      assert.deepEqual(
        Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, v.status])),
        { 'idp/shared': 'pending', 'idp/mine': 'pending', 'idp-short/shared': 'pending', 'svc/machine': 'ready' },
      );
      assert.equal(rows['idp/mine']!.users, 0);
      const text = await cli({}, 'credentials', 'list', '-c', cfg);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^idp\/mine\s+authorization-code \(per user\)\s+pending\s+0 users$/m);
      assert.match(text.stdout, /^svc\/machine\s+client-credentials\s+ready$/m);
    });

    it('refuses bad invocations with exit 2', async () => {
      const env = { GATEHOUSE_SECRET_KEY: key1 };
      const cases: [NodeJS.ProcessEnv, string[], RegExp][] = [
        [env, ['credentials'], /a subcommand is required/],
        [env, ['credentials', 'nope', '-c', cfg], /unknown subcommand "nope"/],
        [env, ['credentials', 'list'], /-c FILE is required/],
        [env, ['credentials', 'login-link', '-c', cfg, '--provider', 'idp'], /--provider P and --connection C are required/],
        [{}, ['credentials', 'login-link', '-c', cfg, '--provider', 'idp', '--connection', 'shared'], /GATEHOUSE_SECRET_KEY is not set/],
        [{ GATEHOUSE_SECRET_KEY: 'short' }, ['credentials', 'login-link', '-c', cfg, '--provider', 'idp', '--connection', 'shared'], /GATEHOUSE_SECRET_KEY is not a valid key/],
        [env, ['credentials', 'login-link', '-c', cfg, '--provider', 'nope', '--connection', 'shared'], /no credential provider "nope" .*providers: idp, idp-short, svc/],
        [env, ['credentials', 'login-link', '-c', cfg, '--provider', 'idp', '--connection', 'nope'], /provider "idp" has no connection "nope" \(connections: shared, mine\)/],
        [env, ['credentials', 'login-link', '-c', cfg, '--provider', 'svc', '--connection', 'machine'], /uses client credentials: it needs no login/],
        [env, ['credentials', 'login-link', '-c', cfg, '--provider', 'idp', '--connection', 'shared', '--redirect', 'javascript:alert(1)'], /--redirect must be an absolute http\(s\) URL/],
        [env, ['credentials', 'revoke', '-c', cfg, '--provider', 'idp', '--connection', 'nope'], /has no connection "nope"/],
        [env, ['credentials', 'list', '-c', join(dir, 'missing.yaml')], /cannot read config file/],
      ];
      for (const [e, args, re] of cases) {
        const r = await cli(e, ...args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, re, args.join(' '));
        assert.equal(r.stdout, '', args.join(' '));
      }
      const help = await cli({}, '--help');
      assert.match(help.stdout, /gatehouse credentials login-link -c FILE --provider P --connection C/);
    });
  });

  describe('(a) a shared connection', () => {
    it('a call before the login fails with 500 and a login link', async () => {
      const r = await call('shared');
      assert.equal(r.status, 500, r.text);
      assert.match(r.text, /connection \\?"shared\\?" of provider \\?"idp\\?" is not connected/);
      assert.ok(linkIn(r.text).startsWith(`${publicUrl}/credentials/idp/shared/login?grant=`));
    });

    it('login link (CLI) → gateway → provider login + consent → callback → back with status=connected', async () => {
      const link = await loginLink('idp', 'shared', '--redirect', APP);
      // the gateway sends the browser to the provider's authorize endpoint, with state and PKCE S256
      const start = await fetch(link, { redirect: 'manual' });
      assert.equal(start.status, 302);
      assert.equal(start.headers.get('cache-control'), 'no-store');
      const authorize = new URL(start.headers.get('location')!);
      assert.equal(`${authorize.origin}${authorize.pathname}`, idp.authorizationUrl);
      assert.equal(authorize.searchParams.get('response_type'), 'code');
      assert.equal(authorize.searchParams.get('client_id'), 'gatehouse');
      assert.equal(authorize.searchParams.get('redirect_uri'), `${publicUrl}/credentials/callback`);
      assert.equal(authorize.searchParams.get('scope'), 'api.read');
      assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
      assert.match(authorize.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
      assert.ok((authorize.searchParams.get('state') ?? '').length >= 32);

      // a wrong password: the provider's login form refuses, nothing is connected
      const refused = await browserLogin(link, { user: 'ops', password: 'wrong' }, hosts());
      assert.equal(refused.lastStatus, 401);
      assert.equal(idp.refusedLogins, 1);
      assert.equal((await listed())['idp/shared']!.status, 'pending');

      const done = await browserLogin(link, { user: 'ops', password: USERS.ops }, hosts());
      assert.equal(`${done.final.origin}${done.final.pathname}`, APP, done.visited.join('\n'));
      assert.equal(done.final.searchParams.get('status'), 'connected');
      assert.equal(done.final.searchParams.get('error'), null);
      assert.ok(done.visited.some((v) => v.startsWith(`GET ${idp.issuer}/interaction/`)), 'the provider showed its pages');
      assert.ok(done.visited.some((v) => v.startsWith(`GET ${publicUrl}/credentials/callback?code=`)), 'the provider came back to the callback');
      assert.deepEqual(idp.count('gatehouse', 'authorization_code'), { ok: 1, failed: 0 });

      const rows = await listed();
      assert.equal(rows['idp/shared']!.status, 'connected');
      assert.equal(rows['idp/mine']!.status, 'pending');
      const text = await cli({}, 'credentials', 'list', '-c', cfg);
      assert.match(text.stdout, /^idp\/shared\s+authorization-code\s+connected\s+expires \d{4}-/m);
    });

    it('an MCP call carries the provider\'s access token for the user who consented', async () => {
      const r = await call('shared');
      assert.equal(r.status, 200, r.text);
      assert.ok(r.auth, 'the backend got an Authorization header');
      const { payload } = await jwtVerify(r.auth, jwks(), { issuer: idp.issuer, audience: idp.resource });
      assert.equal(payload.sub, 'ops');
      assert.equal(payload.client_id, 'gatehouse');
      assert.equal(payload.scope, 'api.read');
      // the token is kept: the next call uses it without asking the provider
      const again = await call('shared');
      assert.equal(again.auth, r.auth);
      assert.deepEqual(idp.count('gatehouse', 'refresh_token'), { ok: 0, failed: 0 });
      assert.deepEqual(idp.count('gatehouse', 'authorization_code'), { ok: 1, failed: 0 });
    });
  });

  describe('(b) a per-user connection (validate-jwt, identity-type="jwt")', () => {
    let aliceToken: string;

    it('a caller the access policies do not name is refused', async () => {
      const r = await call('peruser', { authorization: `Bearer ${await userToken('user-x', { groups: ['guests'] })}` });
      assert.equal(r.status, 500, r.text);
      assert.match(r.text, /may not use connection/);
      assert.doesNotMatch(r.text, /Connect it at/);
    });

    it('user A: first call fails with A\'s login link; after logging in as alice, A\'s calls carry alice\'s token', async () => {
      const a = { authorization: `Bearer ${await userToken('user-a')}` };
      const first = await call('peruser', a);
      assert.equal(first.status, 500, first.text);
      assert.match(first.text, /is not connected for this user/);
      const link = linkIn(first.text);
      assert.ok(link.startsWith(`${publicUrl}/credentials/idp/mine/login?grant=`), link);
      const done = await browserLogin(link, { user: 'alice', password: USERS.alice }, [...hosts()]);
      // no redirect in the link: the gateway's own landing URL
      assert.equal(`${done.final.origin}${done.final.pathname}`, `${publicUrl}/credentials/done`, done.visited.join('\n'));
      assert.equal(done.final.searchParams.get('status'), 'connected');
      const r = await call('peruser', a);
      assert.equal(r.status, 200, r.text);
      const { payload } = await jwtVerify(r.auth!, jwks(), { issuer: idp.issuer, audience: idp.resource });
      assert.equal(payload.sub, 'alice');
      aliceToken = r.auth!;
      const rows = await listed();
      assert.equal(rows['idp/mine']!.status, 'connected');
      assert.equal(rows['idp/mine']!.users, 1);
    });

    it('the default landing page of a login link without redirect exists', async () => {
      const r = await fetch(`${publicUrl}/credentials/done?status=connected`, { redirect: 'manual' });
      await r.arrayBuffer();
      assert.equal(r.status, 200);
    });

    it('user B logs in as bob and gets bob\'s token; A still gets alice\'s', async () => {
      const b = { authorization: `Bearer ${await userToken('user-b')}` };
      const first = await call('peruser', b);
      assert.equal(first.status, 500, first.text);
      const done = await browserLogin(linkIn(first.text), { user: 'bob', password: USERS.bob }, hosts());
      assert.equal(done.final.searchParams.get('status'), 'connected');
      const rb = await call('peruser', b);
      assert.equal(rb.status, 200, rb.text);
      assert.equal(decodeJwt(rb.auth!).sub, 'bob');
      const ra = await call('peruser', { authorization: `Bearer ${await userToken('user-a')}` });
      assert.equal(ra.auth, aliceToken);
      assert.equal(decodeJwt(ra.auth!).sub, 'alice');
      assert.equal((await listed())['idp/mine']!.users, 2);
      // the shared connection is not the per-user one
      assert.equal(decodeJwt((await call('shared')).auth!).sub, 'ops');
    });
  });

  describe('(c) refresh', () => {
    let firstLogin: string;

    it('60 s access tokens: concurrent calls make exactly ONE refresh; the rotated refresh token is kept', async () => {
      firstLogin = await loginLink('idp-short', 'shared', '--redirect', APP);
      const done = await browserLogin(firstLogin, { user: 'ops', password: USERS.ops }, hosts());
      assert.equal(done.final.searchParams.get('status'), 'connected');
      assert.deepEqual(idp.count('gatehouse-short', 'authorization_code'), { ok: 1, failed: 0 });
      const [firstRefresh] = idp.liveRefreshTokens('gatehouse-short');
      assert.ok(firstRefresh);

      // the token expires within the 3-minute margin: the next use refreshes it, once for all callers
      idp.setTokenDelay(300);
      const before = backend.requests.length;
      const N = 8;
      let replies;
      try {
        replies = await Promise.all(Array.from({ length: N }, () => post(`${publicUrl}/short/mcp`, INIT)));
      } finally {
        idp.setTokenDelay(0);
      }
      for (const r of replies) assert.equal(r.status, 200, r.text);
      assert.deepEqual(idp.count('gatehouse-short', 'refresh_token'), { ok: 1, failed: 0 });
      const auths = new Set(backend.requests.slice(before).map((q) => String(q.headers.authorization)));
      assert.equal(auths.size, 1, 'every call carried the same refreshed token');
      const token = [...auths][0]!.replace(/^Bearer /, '');
      seenTokens.add(token);
      const { payload } = await jwtVerify(token, jwks(), { issuer: idp.issuer, audience: idp.resource });
      assert.equal(payload.sub, 'ops');
      assert.ok(payload.exp! - payload.iat! <= 60);
      // rotation: the old refresh token is spent, the new one is the only live one
      const live = idp.liveRefreshTokens('gatehouse-short');
      assert.equal(live.length, 1);
      assert.notEqual(live[0], firstRefresh);
      // and the next use refreshes with the new one (the old one would revoke the grant)
      const next = await call('short');
      assert.equal(next.status, 200, next.text);
      assert.equal(decodeJwt(next.auth!).sub, 'ops');
      assert.equal(idp.count('gatehouse-short', 'refresh_token').failed, 0);
    });

    it('a revoked refresh token puts the connection in error: list shows it, calls fail with 500 (ignore-error: null)', async () => {
      const [rt] = idp.liveRefreshTokens('gatehouse-short');
      assert.ok(rt);
      assert.equal(await idp.revoke('gatehouse-short', rt), 200);
      const r = await call('short');
      assert.equal(r.status, 500, r.text);
      assert.match(r.text, /the refresh token was refused \(log in again\)/);
      assert.ok(linkIn(r.text).startsWith(`${publicUrl}/credentials/idp-short/shared/login?grant=`));
      assert.equal(idp.count('gatehouse-short', 'refresh_token').failed, 1);
      const row = (await listed())['idp-short/shared']!;
      assert.equal(row.status, 'error');
      assert.match(row.error ?? '', /invalid_grant/);
      // in error: no more token requests, the same 500
      const again = await call('short');
      assert.equal(again.status, 500);
      assert.match(again.text, /is in error/);
      assert.equal(idp.count('gatehouse-short', 'refresh_token').failed, 1);
      // ignore-error="true": the variable is null, the call goes on without a token
      const lenient = await call('lenient');
      assert.equal(lenient.status, 200, lenient.text);
      assert.equal(lenient.seen?.['x-auth-state'], 'none');
      assert.equal(lenient.auth, undefined);
    });

    it('logging in again repairs the connection', async () => {
      const r = await call('short');
      const done = await browserLogin(linkIn(r.text), { user: 'ops', password: USERS.ops }, hosts());
      assert.equal(done.final.searchParams.get('status'), 'connected');
      assert.equal((await listed())['idp-short/shared']!.status, 'connected');
      const ok = await call('short');
      assert.equal(ok.status, 200, ok.text);
      assert.equal(decodeJwt(ok.auth!).sub, 'ops');
      const lenient = await call('lenient');
      assert.equal(lenient.seen?.['x-auth-state'], 'token');
    });
  });

  describe('(d) the callback and the login link refuse what the gateway did not mint', () => {
    const noRedirect = async (url: string, status: number, message?: RegExp) => {
      const r = await fetch(url, { redirect: 'manual' });
      const body = await r.text();
      assert.equal(r.status, status, `${url}: ${body}`);
      assert.equal(r.headers.get('location'), null, url);
      if (message) assert.match(body, message);
    };

    it('a missing, unknown or reused state', async () => {
      await noRedirect(`${publicUrl}/credentials/callback?code=abc`, 403, /the callback has no state/);
      await noRedirect(`${publicUrl}/credentials/callback?code=abc&state=not-a-state-the-gateway-made`, 403, /unknown or already used state/);
      // a real callback, stopped before the gateway sees it (the gateway is not a host the browser follows)
      const link = await loginLink('idp', 'shared', '--redirect', APP);
      const toProvider = await fetch(link, { redirect: 'manual' });
      assert.equal(toProvider.status, 302);
      const stopped = await browserLogin(toProvider.headers.get('location')!, { user: 'ops', password: USERS.ops }, [new URL(idp.issuer).host]);
      assert.equal(`${stopped.final.origin}${stopped.final.pathname}`, `${publicUrl}/credentials/callback`);
      const codes = idp.count('gatehouse', 'authorization_code').ok;
      const first = await fetch(stopped.final, { redirect: 'manual' });
      assert.equal(first.status, 302);
      assert.equal(new URL(first.headers.get('location')!).searchParams.get('status'), 'connected');
      assert.equal(idp.count('gatehouse', 'authorization_code').ok, codes + 1);
      await noRedirect(stopped.final.href, 403, /unknown or already used state/);
      assert.equal(idp.count('gatehouse', 'authorization_code').ok + idp.count('gatehouse', 'authorization_code').failed, codes + 1, 'the replay never reached the provider');
      // the provider's error (the user said no) goes back to the app, and spends the state
      const link2 = await loginLink('idp', 'shared', '--redirect', APP);
      const authorize = new URL((await fetch(link2, { redirect: 'manual' })).headers.get('location')!);
      const state = authorize.searchParams.get('state')!;
      const denied = await fetch(`${publicUrl}/credentials/callback?error=access_denied&state=${state}`, { redirect: 'manual' });
      assert.equal(denied.status, 302);
      assert.equal(new URL(denied.headers.get('location')!).searchParams.get('error'), 'access_denied');
      await noRedirect(`${publicUrl}/credentials/callback?code=abc&state=${state}`, 403);
    });

    it('a login link without grant, with a tampered grant, for another connection, or with a bad redirect → 403', async () => {
      const link = new URL(await loginLink('idp', 'shared'));
      const grant = link.searchParams.get('grant')!;
      await noRedirect(`${publicUrl}/credentials/idp/shared/login`, 403, /has no grant/);
      const mid = Math.floor(grant.length / 2);
      const tampered = grant.slice(0, mid) + (grant[mid] === 'A' ? 'B' : 'A') + grant.slice(mid + 1);
      await noRedirect(`${publicUrl}/credentials/idp/shared/login?grant=${encodeURIComponent(tampered)}`, 403, /the login link is not valid/);
      await noRedirect(`${publicUrl}/credentials/idp/mine/login?grant=${encodeURIComponent(grant)}`, 403, /not valid for this connection/);
      await noRedirect(`${publicUrl}/credentials/idp/shared/login?grant=${encodeURIComponent(grant)}&redirect=javascript:alert(1)`, 403, /redirect must (be an http\(s\) URL|stay on this gateway)/);
      // an open redirect: another origin than the link was minted for is refused
      await noRedirect(`${publicUrl}/credentials/idp/shared/login?grant=${encodeURIComponent(grant)}&redirect=${encodeURIComponent("https://evil.example/steal")}`, 403, /redirect (does not match|must stay on this gateway)/);
      await noRedirect(`${publicUrl}/credentials/nope/shared/login?grant=${encodeURIComponent(grant)}`, 404);
      // a link sealed with another key
      const other = await cli({ GATEHOUSE_SECRET_KEY: key2 }, 'credentials', 'login-link', '-c', cfg, '--provider', 'idp', '--connection', 'shared');
      await noRedirect(other.stdout.trim(), 403, /the login link is not valid/);
      // the untouched link still works
      const ok = await fetch(link, { redirect: 'manual' });
      assert.equal(ok.status, 302);
    });
  });

  describe('(e) encryption at rest', () => {
    it('the SQLite store holds no access token, refresh token or code in clear', async () => {
      const bytes = [dbFile, `${dbFile}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f).toString('latin1')).join('\n');
      assert.match(bytes, /credential-connection/, 'the right file');
      assert.match(bytes, /v1\.[0-9a-f]{8}\./, 'sealed values are there');
      const secrets = [...seenTokens, ...idp.storedSecrets()];
      assert.ok(seenTokens.size >= 4 && secrets.length > seenTokens.size + 4, `${seenTokens.size} access tokens, ${secrets.length} secrets in all`);
      for (const s of secrets) {
        assert.ok(!bytes.includes(s), 'a token in clear in the store');
        // nor the signature part of a JWT alone
        const sig = s.split('.')[2];
        if (sig) assert.ok(!bytes.includes(sig));
      }
      // nor in what the CLI prints
      const listText = (await cli({}, 'credentials', 'list', '-c', cfg)).stdout + (await cli({}, 'credentials', 'list', '-c', cfg, '--json')).stdout;
      for (const s of secrets) assert.ok(!listText.includes(s));
    });

    it('a gateway with another GATEHOUSE_SECRET_KEY answers 500 when it needs a stored token, and keeps serving', async () => {
      await gw!.close();
      gw = await startGw({ GATEHOUSE_SECRET_KEY: key2 });
      const r = await call('shared');
      assert.equal(r.status, 500, r.text);
      assert.equal((await fetch(`${publicUrl}/healthz`)).status, 200, 'still serving');
      assert.equal((await call('peruser', { authorization: `Bearer ${await userToken('user-a')}` })).status, 500);
      assert.equal((await call('shared')).status, 500);
    });

    // KNOWN BUG (reported): CredentialManager#fetch lets the SecretKeyError of box.open escape;
    // get-authorization-context rethrows it (not a CredentialError) and the pipeline turns it into
    // a bare "Internal server error" that nothing logs — the key mismatch is invisible.
    it('… and says so: the answer or the log names the key the tokens were sealed with', async () => {
      const r = await call('shared');
      const oldId = keyIdOf(parseKey(key1));
      const newId = keyIdOf(parseKey(key2));
      const said = `${r.text}\n${gw!.logs.join('\n')}`;
      assert.ok(said.includes(`sealed with key ${oldId}`) && said.includes(newId), `the answer or the log names the keys:\n${r.text}\n${gw!.logs.slice(-3).join('\n')}`);
    });

    it('`gatehouse keys rotate` with the old key in GATEHOUSE_SECRET_KEY_PREVIOUS keeps the connections usable', async () => {
      await gw!.close();
      gw = undefined;
      const rotated = await cli({ GATEHOUSE_SECRET_KEY: key2, GATEHOUSE_SECRET_KEY_PREVIOUS: key1 }, 'keys', 'rotate', '-c', cfg);
      assert.equal(rotated.code, 0, rotated.stderr);
      const n = Number(/re-sealed (\d+) secret/.exec(rotated.stdout)?.[1]);
      assert.ok(n >= 8, rotated.stdout); // 4 connections (shared, 2 users, short) × access + refresh, and pending states
      gw = await startGw({ GATEHOUSE_SECRET_KEY: key2 });
      const shared = await call('shared');
      assert.equal(shared.status, 200, shared.text);
      assert.equal(decodeJwt(shared.auth!).sub, 'ops');
      const a = await call('peruser', { authorization: `Bearer ${await userToken('user-a')}` });
      assert.equal(decodeJwt(a.auth!).sub, 'alice');
      // the refresh path still opens the (re-sealed) refresh token
      const short = await call('short');
      assert.equal(short.status, 200, short.text);
      // old-key links no longer open; new ones do
      const stale = await cli({ GATEHOUSE_SECRET_KEY: key1 }, 'credentials', 'login-link', '-c', cfg, '--provider', 'idp', '--connection', 'shared');
      assert.equal((await fetch(stale.stdout.trim(), { redirect: 'manual' })).status, 403);
      const fresh = await cli({ GATEHOUSE_SECRET_KEY: key2 }, 'credentials', 'login-link', '-c', cfg, '--provider', 'idp', '--connection', 'shared');
      assert.equal((await fetch(fresh.stdout.trim(), { redirect: 'manual' })).status, 302);
    });

    it('`credentials revoke` forgets the stored tokens', async () => {
      await gw!.close();
      gw = undefined;
      const r = await cli({}, 'credentials', 'revoke', '-c', cfg, '--provider', 'idp', '--connection', 'mine');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'idp/mine: forgot 2 stored token sets');
      const rows = await listed();
      assert.equal(rows['idp/mine']!.status, 'pending');
      assert.equal(rows['idp/mine']!.users, 0);
      assert.equal(rows['idp/shared']!.status, 'connected');
      const j = await cli({}, 'credentials', 'revoke', '-c', cfg, '--provider', 'idp', '--connection', 'shared', '--json');
      assert.deepEqual(JSON.parse(j.stdout), { provider: 'idp', connection: 'shared', revoked: 1 });
      gw = await startGw({ GATEHOUSE_SECRET_KEY: key2 });
      const after = await call('shared');
      assert.equal(after.status, 500);
      assert.match(after.text, /is not connected/);
    });
  });
});
