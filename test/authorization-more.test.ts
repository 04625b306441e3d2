/**
 * More of the authorization-server facade, with the same real upstream OpenID provider and the
 * official MCP SDK client as test/authorization.test.ts:
 * - a Client ID Metadata Document client through the SDK (`clientMetadataUrl`, served over https
 *   with a self-signed certificate the facade trusts through its `metadataDocumentCa` option): no DCR;
 * - a 403 insufficient_scope step-up on a tool with `scopes`, consent approved again headlessly;
 * - an expired upstream state (→ 400 at /oauth/callback) and an expired authorization code
 *   (→ invalid_grant), with the facade's clock;
 * - signing-key rotation without downtime (`gatehouse keys rotate-signing`) against a running gateway
 *   sharing its SQLite store with the CLI, through validate-jwt (and its 5-minute unknown-kid bound,
 *   driven by the gateway's `openid.now` clock).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { InvalidClientMetadataError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { configFromObject } from '../src/config/load.js';
import { createGateway, type Gateway } from '../src/gateway.js';
import { createLogger } from '../src/observability/logger.js';
import { SecretBox, generateKey, rotateSecrets, secretBoxFromEnv } from '../src/secrets/secret-box.js';
import { openStore } from '../src/store/open.js';
import type { AuthorizationFacadeOptions } from '../src/authorization/facade.js';
import { SIGNING_KEY_COLLECTION, SigningKeyRotationError, SigningKeys, rotateSigningKey } from '../src/authorization/signing-keys.js';
import { runKeys } from '../src/cli/commands/keys.js';
import type { CliIo } from '../src/cli/main.js';
import { startUpstreamOp, type UpstreamOp } from './fixtures/upstream-op.js';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { freePort } from './helpers/gateway.js';
import { HeadlessProvider, browse, connectWithOAuth, connectWithOAuthTransport, get, postForm, s256, submitConsent, verifierOf, type Jar } from './helpers/as-facade.js';

const REDIRECT = 'http://127.0.0.1:9/callback';

function cliIo(env: NodeJS.ProcessEnv, cwd: string): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (s) => out.push(s), stderr: (s) => err.push(s), cwd, env };
}

describe('authorization server facade: CIMD through the SDK, step-up, expiries, signing-key rotation', () => {
  let dir: string;
  let op: UpstreamOp;
  let backend: EverythingServer;
  let gateway: Gateway;
  let base: string;
  let mcp: string;
  let configFile: string;
  let secretKey: string;
  let cimd: https.Server;
  let cimdBase: string;
  let cimdHits = 0;
  const cimdDocs = new Map<string, unknown>();
  /** the facade's clock (state, request, code expiries; token times) */
  let facadeSkew = 0;
  /** the clock of validate-jwt's OpenID configuration cache (hourly refresh, 5-minute unknown-kid bound) */
  let openidSkew = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-as-more-'));
    // a self-signed certificate for https://127.0.0.1 (the SDK requires an https clientMetadataUrl)
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2'], { stdio: 'ignore' });
    const certPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
    cimd = https.createServer({ cert: certPem, key: readFileSync(join(dir, 'key.pem')) }, (req, res) => {
      cimdHits++;
      const doc = cimdDocs.get(req.url ?? '');
      if (!doc) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' }).end(JSON.stringify(doc));
    });
    await new Promise<void>((r) => cimd.listen(0, '127.0.0.1', r));
    cimdBase = `https://127.0.0.1:${(cimd.address() as AddressInfo).port}`;

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    mcp = `${base}/files/mcp`;
    op = await startUpstreamOp({ redirectUri: `${base}/oauth/callback` });
    backend = await startEverythingServer({ transport: 'streamable-http' });
    const raw = {
      store: `sqlite:${join(dir, 'gatehouse.db')}`,
      cache: 'memory',
      gateway: { listen: `127.0.0.1:${port}`, publicUrl: base },
      servers: [
        {
          name: 'files',
          type: 'passthrough',
          backend: { url: backend.url },
          policies: `<policies><inbound><base /><validate-jwt header-name="Authorization"><openid-config url="${base}/.well-known/openid-configuration" /></validate-jwt></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /><set-header name="x-reason" exists-action="override"><value>@(context.LastError.Message)</value></set-header></on-error></policies>`,
          resourceMetadata: { scopes: ['files:read'] },
          tools: [{ name: 'echo', scopes: ['files:write'] }],
        },
      ],
      authorization: {
        upstream: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret, scopes: ['openid', 'profile'] },
        tokens: { accessTokenTtl: 900 },
      },
    };
    // the CLI (keys rotate-signing) reads the same config: JSON is YAML
    configFile = join(dir, 'gatehouse.yaml');
    writeFileSync(configFile, JSON.stringify(raw, null, 2));
    const config = await configFromObject(raw, { baseDir: dir, env: {} });
    secretKey = generateKey();
    const box = (await secretBoxFromEnv({ GATEHOUSE_SECRET_KEY: secretKey }))!.box;
    const authorization: Pick<AuthorizationFacadeOptions, 'now' | 'allowLoopbackMetadataDocuments' | 'metadataDocumentCa'> = {
      now: () => Date.now() + facadeSkew,
      allowLoopbackMetadataDocuments: true,
      metadataDocumentCa: certPem,
    };
    gateway = await createGateway(config, {
      logger: createLogger({ level: 'silent' }),
      secretBox: box,
      authorization,
      openid: { now: () => Date.now() + openidSkew },
      env: {},
    });
    await gateway.listen(port, '127.0.0.1');
  });

  after(async () => {
    await gateway?.close();
    await backend?.close();
    await op?.close();
    await new Promise<void>((r) => (cimd ? cimd.close(() => r()) : r()));
    cimd?.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  });

  async function register(name = 'Raw Client'): Promise<string> {
    const res = await fetch(`${base}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: name, redirect_uris: [REDIRECT] }) });
    assert.equal(res.status, 201);
    return ((await res.json()) as { client_id: string }).client_id;
  }

  function authorizeUrl(clientId: string, verifier: string): URL {
    const u = new URL(`${base}/authorize`);
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, code_challenge: s256(verifier), code_challenge_method: 'S256', state: 'st', resource: mcp, scope: 'files:read' })) u.searchParams.set(k, v);
    return u;
  }

  async function codeFor(clientId: string, verifier: string, jar: Jar = new Map()): Promise<string> {
    const code = (await browse(authorizeUrl(clientId, verifier), REDIRECT, jar)).searchParams.get('code');
    assert.ok(code);
    return code;
  }

  const exchange = (clientId: string, code: string, verifier: string) =>
    postForm(`${base}/token`, { grant_type: 'authorization_code', client_id: clientId, code, code_verifier: verifier, redirect_uri: REDIRECT, resource: mcp });

  /** an MCP initialize with a bearer token: the status says whether validate-jwt accepted it */
  async function initializeWith(token: string): Promise<Response> {
    const res = await fetch(mcp, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
    });
    await res.body?.cancel();
    return res;
  }

  it('advertises every scope of its servers (PRM baseline and tool scopes) in scopes_supported', async () => {
    const m = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    assert.deepEqual([...(m.scopes_supported as string[])].sort(), ['files:read', 'files:write']);
    const prm = (await (await fetch(`${base}/.well-known/oauth-protected-resource/files/mcp`)).json()) as Record<string, unknown>;
    assert.deepEqual(prm.scopes_supported, ['files:read'], 'the PRM keeps the baseline');
  });

  it('an SDK client with a Client ID Metadata Document URL (https) completes the flow without DCR', async () => {
    const redirectUrl = 'http://127.0.0.1:9/cimd-callback';
    const url = `${cimdBase}/clients/sdk.json`;
    cimdDocs.set('/clients/sdk.json', { client_id: url, client_name: 'CIMD SDK Client', redirect_uris: [redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' });
    const provider = new HeadlessProvider(redirectUrl, { clientMetadataUrl: url });
    const client = await connectWithOAuth(new URL(mcp), provider);
    const r = (await client.callTool({ name: 'test_simple_text', arguments: {} })) as { content: Array<{ text: string }> };
    assert.ok(r.content[0]!.text.length > 0);
    await client.close();
    assert.equal((provider.info as { client_id: string }).client_id, url, 'the URL is the client_id');
    assert.ok(!provider.requests.some((q) => q.includes('/register')), `no registration request: ${provider.requests.join(', ')}`);
    assert.ok(provider.requests.some((q) => q.startsWith('POST') && q.endsWith('/token')));
    assert.equal(provider.trace.consentPages, 1);
    assert.equal(provider.authorizationUrls[0]!.searchParams.get('client_id'), url);
    assert.equal(decodeJwt(provider.toks!.access_token).client_id, url);
    assert.ok(cimdHits >= 1, 'the facade fetched the document over https');

    // the SDK itself refuses a non-https metadata URL (so CIMD needs the https fixture above)
    const http = new HeadlessProvider(redirectUrl, { clientMetadataUrl: `http://127.0.0.1:9/clients/sdk.json` });
    await assert.rejects(connectWithOAuth(new URL(mcp), http), (e: unknown) => e instanceof InvalidClientMetadataError || /HTTPS URL/.test(String(e)));
  });

  it('a 403 insufficient_scope on a scoped tool is stepped up: consent for the new scope, new token, the call succeeds', async () => {
    const provider = new HeadlessProvider('http://127.0.0.1:9/step-up', { stepUpWithoutRefresh: true });
    const { client, transport } = await connectWithOAuthTransport(new URL(mcp), provider);
    assert.equal(decodeJwt(provider.toks!.access_token).scope, 'files:read', 'the baseline scope first');
    assert.deepEqual(provider.trace.consentScopes, [['files:read']]);
    // tools/list needs no extra scope; echo needs files:write
    assert.ok((await client.listTools()).tools.some((t) => t.name === 'echo'));
    const denied = provider.requests.length;
    await assert.rejects(client.callTool({ name: 'echo', arguments: { text: 'x' } }), UnauthorizedError, 'the SDK re-authorized (redirect) after the 403');
    assert.equal(provider.redirects, 2);
    const stepUp = provider.authorizationUrls[1]!;
    assert.deepEqual(stepUp.searchParams.get('scope')!.split(' ').sort(), ['files:read', 'files:write'], "the challenge's scope");
    assert.ok(!provider.requests.slice(denied).some((q) => q.includes('/register')), 'no new registration');
    assert.equal(provider.trace.consentPages, 2, 'consent asked again for the new scope');
    assert.ok(provider.trace.consentScopes![1]!.includes('files:write'));
    await transport.finishAuth(provider.code!);
    assert.deepEqual(String(decodeJwt(provider.toks!.access_token).scope).split(' ').sort(), ['files:read', 'files:write']);
    const r = (await client.callTool({ name: 'echo', arguments: { text: 'stepped up' } })) as { content: Array<{ text: string }> };
    assert.equal(r.content[0]!.text, 'stepped up');
    await client.close();
  });

  it('an expired upstream state is refused at /oauth/callback (400, no redirect)', async () => {
    const clientId = await register();
    const jar: Jar = new Map();
    const url = authorizeUrl(clientId, verifierOf());
    const page = await get(url, jar);
    assert.equal(page.status, 200);
    let res = await submitConsent(page, url, jar, 'approve');
    let next = new URL(res.headers.get('location')!, url);
    // follow the upstream login up to (not into) the gateway's callback
    for (let hop = 0; hop < 10 && !next.href.startsWith(`${base}/oauth/callback`); hop++) {
      res = await get(next, jar);
      next = new URL(res.headers.get('location')!, next);
    }
    assert.ok(next.href.startsWith(`${base}/oauth/callback?`), next.href);
    facadeSkew = 10 * 60_000 + 1_000;
    try {
      const late = await get(next, jar);
      assert.equal(late.status, 400);
      assert.equal(late.headers.get('location'), null);
      assert.match(await late.text(), /took too long/);
    } finally {
      facadeSkew = 0;
    }
    const again = await fetch(next, { redirect: 'manual', headers: { cookie: `gh_state=${next.searchParams.get('state')}` } });
    assert.equal(again.status, 400, 'the expired state was spent');
  });

  it('an expired authorization code is refused with invalid_grant', async () => {
    const clientId = await register();
    const v = verifierOf();
    const code = await codeFor(clientId, v);
    facadeSkew = 61_000;
    try {
      const r = await exchange(clientId, code, v);
      assert.equal(r.status, 400);
      assert.equal(r.json.error, 'invalid_grant');
      assert.match(String(r.json.error_description), /expired/);
    } finally {
      facadeSkew = 0;
    }
  });

  // last: it moves validate-jwt's clock
  it('rotates the signing key without downtime: gatehouse keys rotate-signing against the running gateway', async () => {
    const kids = async () => ((await (await fetch(`${base}/jwks`)).json()) as { keys: JWK[] }).keys.map((k) => k.kid);
    const [k1] = await kids();
    const clientId = await register();
    const v = verifierOf();
    const first = await exchange(clientId, await codeFor(clientId, v), v);
    const t1 = first.json.access_token as string;
    assert.equal(decodeProtectedHeader(t1).kid, k1);
    assert.equal((await initializeWith(t1)).status, 200, 'validate-jwt has fetched the JWKS (old key only)');

    // without GATEHOUSE_SECRET_KEY the command refuses
    const noKey = cliIo({}, dir);
    assert.equal(await runKeys(['rotate-signing', '-c', configFile], noKey), 2);
    assert.match(noKey.err.join('\n'), /GATEHOUSE_SECRET_KEY/);

    const io = cliIo({ GATEHOUSE_SECRET_KEY: secretKey }, dir);
    assert.equal(await runKeys(['rotate-signing', '-c', configFile, '--activate-in', '1'], io), 0, io.err.join('\n'));
    const k2 = /new signing key ([0-9a-f-]+)/.exec(io.out.join('\n'))?.[1];
    assert.ok(k2 && k2 !== k1);
    // published at once (no restart), not yet signing
    assert.deepEqual(await kids(), [k1, k2]);
    let refresh = first.json.refresh_token as string;
    const before = await postForm(`${base}/token`, { grant_type: 'refresh_token', client_id: clientId, refresh_token: refresh });
    assert.equal(decodeProtectedHeader(before.json.access_token as string).kid, k1, 'the new key does not sign before its activation');
    refresh = before.json.refresh_token as string;
    // a second rotation while one is pending is refused
    const pending = cliIo({ GATEHOUSE_SECRET_KEY: secretKey }, dir);
    assert.equal(await runKeys(['rotate-signing', '-c', configFile], pending), 1);
    assert.match(pending.err.join('\n'), /not active yet/);

    await new Promise((r) => setTimeout(r, 1_100));
    const after = await postForm(`${base}/token`, { grant_type: 'refresh_token', client_id: clientId, refresh_token: refresh });
    const t2 = after.json.access_token as string;
    assert.equal(decodeProtectedHeader(t2).kid, k2, 'tokens after the activation carry the new kid');
    assert.deepEqual(await kids(), [k2, k1], 'the previous key stays published');

    // validate-jwt pulls the key set again on an unknown kid at most once per 5 minutes (APIM's rule):
    // right after its last pull, a token with the new kid is refused — this is why a rotation
    // publishes the key 10 minutes before it signs (here --activate-in 1 skips that wait)
    assert.equal((await initializeWith(t2)).status, 401);
    openidSkew = 10 * 60_000; // the default activation delay has passed for the validator
    assert.equal((await initializeWith(t2)).status, 200, 'new kid: the JWKS is pulled again and validates');
    assert.equal((await initializeWith(t1)).status, 200, 'a token signed before the rotation still validates');
  });
});

describe('signing-key rotation (store level, with a clock)', () => {
  it('publishes the next key before it signs, keeps the previous one until its tokens expire, folds on the next rotation, survives a secret-key rotation', async () => {
    const store = await openStore('sqlite::memory:');
    const box = new SecretBox({ current: Buffer.alloc(32, 1) });
    let t = 1_000_000_000_000;
    const now = () => t;
    try {
      const keys = await SigningKeys.load(store, box, { now });
      const k1 = keys.kid;
      const r = await rotateSigningKey(store, box, { now, accessTokenTtlSeconds: 600 });
      assert.equal(r.activatesAt, t + 10 * 60_000, 'default: 10 minutes between publication and first use');
      assert.equal(r.previousRetireAt, r.activatesAt + 600_000 + 5 * 60_000);
      assert.deepEqual(r.published, [k1, r.kid]);
      const kidsAt = async (k: SigningKeys) => (await k.jwks()).keys.map((j) => j.kid);
      assert.deepEqual(await kidsAt(keys), [k1, r.kid]);
      let token = await keys.sign({ sub: 'a' });
      assert.equal(decodeProtectedHeader(token).kid, k1);
      await assert.rejects(rotateSigningKey(store, box, { now, accessTokenTtlSeconds: 600 }), SigningKeyRotationError);

      t = r.activatesAt;
      token = await keys.sign({ sub: 'a' });
      assert.equal(decodeProtectedHeader(token).kid, r.kid);
      await jwtVerify(token, createLocalJWKSet(await keys.jwks()));
      assert.deepEqual(await kidsAt(keys), [r.kid, k1]);
      t = r.previousRetireAt;
      assert.deepEqual(await kidsAt(keys), [r.kid], 'retired once its tokens have expired');

      // the next rotation folds the active key into `current` (re-sealed for that field)
      t = r.activatesAt + 1000;
      const r2 = await rotateSigningKey(store, box, { now, activateAfterMs: 0, accessTokenTtlSeconds: 600 });
      assert.equal(r2.replacedKid, r.kid);
      assert.deepEqual(r2.published, [r2.kid, r.kid, k1]);
      // a restart with a rotated data-encryption key still opens every private key
      const box2 = new SecretBox({ current: Buffer.alloc(32, 2), previous: [Buffer.alloc(32, 1)] });
      await rotateSecrets(store, box2, [SIGNING_KEY_COLLECTION]);
      const reloaded = await SigningKeys.load(store, new SecretBox({ current: Buffer.alloc(32, 2) }), { now });
      token = await reloaded.sign({ sub: 'b' });
      assert.equal(decodeProtectedHeader(token).kid, r2.kid);
      await jwtVerify(token, createLocalJWKSet(await reloaded.jwks()));
    } finally {
      await store.close();
    }
  });
});
