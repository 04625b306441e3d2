/**
 * The credential manager's client-credentials connections, end to end: a real OAuth authorization
 * server (oidc-provider on loopback, JWT access tokens bound to a resource by RFC 8707) is the
 * provider, and the backends — a passthrough MCP server (the everything fixture behind a guard) and a
 * REST API served as an OpenAPI server — accept only that server's tokens (signature checked against
 * its JWKS, issuer and audience checked; 401 otherwise). The gateway reaches them with tokens it
 * obtains itself (get-authorization-context exactly as in APIM's docs, authentication-managed-identity,
 * a send-request child); the caller's own valid token of the same provider never arrives there.
 * Tokens are cached until 3 minutes before expiry and fetched once however many requests need them;
 * access policies refuse the gateway identity where they must; a provider that is down gives a clear
 * 500 and the next call after recovery works; the configuration is refused without
 * GATEHOUSE_SECRET_KEY and with an unknown provider.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startOpenIdProvider, type OpenIdProviderFixture } from './fixtures/oidc-provider.js';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { INIT, lastMessage, post, send, session } from './helpers/mcp-http.js';
import { configFromObject } from '../src/config/load.js';
import { createGateway, type Gateway, type GatewayOptions } from '../src/gateway.js';
import { createLogger } from '../src/observability/logger.js';
import { SecretBox, generateKey, parseKey } from '../src/secrets/secret-box.js';
import { CredentialManager } from '../src/credentials/manager.js';
import { providerOf } from '../src/credentials/providers.js';
import { openStore } from '../src/store/open.js';

/** the audience the backends accept (the provider's `resource` of get-authorization-context) */
const API = 'https://api.gatehouse.test/';
/** the resource of authentication-managed-identity */
const MI = 'https://graph.gatehouse.test/';

const BOX = new SecretBox({ current: parseKey(generateKey()) });

const ON_ERROR = '<on-error><base /><set-header name="x-reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header><set-header name="x-source" exists-action="override"><value>@(context.LastError.Source)</value></set-header><set-header name="x-message" exists-action="override"><value>@(context.LastError.Message)</value></set-header></on-error>';
const doc = (inbound: string) => `<policies><inbound><base />${inbound}</inbound><backend><base /></backend><outbound><base /></outbound>${ON_ERROR}</policies>`;
/** APIM's documented example, unchanged but for the ids */
const gac = (connection = 'svc', extra = '') =>
  `<get-authorization-context provider-id="idp" authorization-id="${connection}" context-variable-name="auth" identity-type="managed"${extra} />` +
  '<set-header name="Authorization" exists-action="override"><value>@("Bearer " + ((Authorization)context.Variables.GetValueOrDefault("auth"))?.AccessToken)</value></set-header>';

const SPEC = {
  openapi: '3.0.3',
  info: { title: 'Guarded', version: '1.0.0' },
  servers: [{ url: 'http://placeholder.invalid/api' }],
  paths: {
    '/whoami': {
      get: {
        operationId: 'whoAmI',
        responses: { '200': { description: 'the token the API saw', content: { 'application/json': { schema: { type: 'object', properties: { sub: { type: 'string' }, aud: {}, jti: { type: 'string' } } } } } } },
      },
    },
  },
};

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** the verified token's claims; undefined when refused with 401 */
  claims: JWTPayload | undefined;
}

/** verifies `Authorization: Bearer <JWT>` against the JWKS of the trusted provider(s) */
function verifier(trusted: () => readonly OpenIdProviderFixture[], audiences: string[]) {
  const keys = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  return async (header: string | undefined): Promise<JWTPayload> => {
    const m = /^Bearer ([A-Za-z0-9._-]+)$/.exec(header ?? '');
    if (!m) throw new Error('no bearer token');
    const iss = decodeJwt(m[1]!).iss;
    const op = trusted().find((o) => o.issuer === iss);
    if (!op) throw new Error('untrusted issuer');
    let jwks = keys.get(op.issuer);
    if (!jwks) keys.set(op.issuer, (jwks = createRemoteJWKSet(new URL(op.jwksUrl))));
    return (await jwtVerify(m[1]!, jwks, { issuer: op.issuer, audience: audiences })).payload;
  };
}

const listen = (srv: http.Server, port = 0) =>
  new Promise<number>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      srv.off('error', reject);
      resolve((srv.address() as AddressInfo).port);
    });
  });
const shut = (srv: http.Server | undefined) =>
  new Promise<void>((resolve) => {
    if (!srv?.listening) return resolve();
    srv.closeAllConnections();
    srv.close(() => resolve());
  });

const unauthorized = (res: http.ServerResponse) => res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'application/json' }).end('{"error":"invalid_token"}');

/** a REST API that answers only requests with a valid token of the trusted provider(s) */
async function startGuardedApi(verify: ReturnType<typeof verifier>, seen: Seen[]): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer((req, res) => {
    const entry: Seen = { method: req.method!, url: req.url!, headers: req.headers, claims: undefined };
    seen.push(entry);
    req.resume();
    verify(req.headers.authorization).then(
      (claims) => {
        entry.claims = claims;
        if (req.url !== '/api/whoami') return void res.writeHead(404).end();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: claims.sub, aud: claims.aud, jti: claims.jti }));
      },
      () => unauthorized(res),
    );
  });
  return { url: `http://127.0.0.1:${await listen(server)}/api`, server };
}

/** the everything MCP server behind a guard that forwards only requests with a valid token */
async function startGuardedMcp(target: string, verify: ReturnType<typeof verifier>, seen: Seen[]): Promise<{ url: string; server: http.Server }> {
  const t = new URL(target);
  const server = http.createServer((req, res) => {
    const entry: Seen = { method: req.method!, url: req.url!, headers: req.headers, claims: undefined };
    seen.push(entry);
    verify(req.headers.authorization).then(
      (claims) => {
        entry.claims = claims;
        const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (ur) => {
          res.writeHead(ur.statusCode!, ur.headers);
          ur.pipe(res);
        });
        up.on('error', () => res.destroy());
        res.on('close', () => up.destroy());
        req.pipe(up);
      },
      () => {
        req.resume();
        unauthorized(res);
      },
    );
  });
  return { url: `http://127.0.0.1:${await listen(server)}${t.pathname}`, server };
}

/**
 * A door to the provider's token endpoint: forwards to `target` after `delayMs`; it can be closed
 * (connection refused) and reopened on the same port.
 */
async function startDoor(target: string, delayMs = 0): Promise<{ port: number; open(): Promise<void>; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    setTimeout(() => {
      const up = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode!, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    }, delayMs);
  });
  const port = await listen(server);
  return { port, open: async () => void (await listen(server, port)), close: () => shut(server) };
}

interface Running {
  url: string;
  gateway: Gateway;
  logs: string[];
  close(): Promise<void>;
}

/** a gateway on 127.0.0.1:0 with the test's SecretBox (unless opts say otherwise) */
async function start(raw: Record<string, unknown>, opts: GatewayOptions = {}): Promise<Running> {
  const config = await configFromObject({ store: 'sqlite::memory:', cache: 'memory', ...raw, gateway: { listen: '127.0.0.1:0' } }, { baseDir: process.cwd(), env: {} });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const gateway = await createGateway(config, { logger: createLogger({ level: 'debug', destination }), secretBox: BOX, ...opts });
  const { url } = await gateway.listen(0, '127.0.0.1');
  return { url, gateway, logs, close: () => gateway.close() };
}

const providerRaw = (issuerOrTokenUrl: string, more: Record<string, unknown> = {}) => ({
  name: 'idp',
  type: 'oauth2',
  clientId: 'gatehouse',
  clientSecret: 'gatehouse-secret',
  tokenUrl: issuerOrTokenUrl.endsWith('/token') ? issuerOrTokenUrl : `${issuerOrTokenUrl}/token`,
  resource: API,
  connections: [
    { name: 'svc', grant: 'client-credentials', accessPolicies: [{ identity: 'managed' }] },
    { name: 'admins', grant: 'client-credentials', accessPolicies: [{ claim: 'roles', value: 'admin' }] },
  ],
  ...more,
});

type ToolResult = { content: { type: string; text?: string }[]; structuredContent?: unknown; isError?: boolean };

async function sdkClient(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'cc-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

describe('backends reached with credentials the gateway manages (client credentials)', () => {
  let op: OpenIdProviderFixture;
  let everything: EverythingServer;
  let mcpGuard: { url: string; server: http.Server };
  let api: { url: string; server: http.Server };
  const mcpSeen: Seen[] = [];
  const apiSeen: Seen[] = [];
  let gw: Running;
  let dir: string;
  let specFile: string;
  /** a valid token of the same provider for the backends' audience, held by the caller */
  let callerToken: string;
  const trusted: OpenIdProviderFixture[] = [];

  before(async () => {
    op = await startOpenIdProvider({
      clients: [
        { clientId: 'gatehouse', clientSecret: 'gatehouse-secret' },
        { clientId: 'caller', clientSecret: 'caller-secret' },
      ],
      accessTokenTtl: 3600,
    });
    trusted.push(op);
    everything = await startEverythingServer({ transport: 'streamable-http' });
    const verify = verifier(() => trusted, [API, MI]);
    mcpGuard = await startGuardedMcp(everything.url, verify, mcpSeen);
    api = await startGuardedApi(verify, apiSeen);
    dir = mkdtempSync(join(tmpdir(), 'gh-cc-'));
    specFile = join(dir, 'api.json');
    writeFileSync(specFile, JSON.stringify(SPEC));
    callerToken = await op.token({ clientId: 'caller', resource: API });
    gw = await start({
      credentials: { providers: [providerRaw(op.issuer)] },
      identity: { provider: 'idp', connection: 'svc' },
      servers: [
        { name: 'mcp', type: 'passthrough', backend: { url: mcpGuard.url }, policies: doc(gac()) },
        { name: 'rest', type: 'openapi', openapi: specFile, backend: { url: api.url }, policies: doc(gac()), tools: [{ operation: 'whoAmI' }] },
        { name: 'denied', type: 'passthrough', backend: { url: mcpGuard.url }, policies: doc(gac('admins')) },
        {
          name: 'lenient',
          type: 'passthrough',
          backend: { url: everything.url },
          policies: doc(
            '<get-authorization-context provider-id="idp" authorization-id="admins" context-variable-name="auth" identity-type="managed" ignore-error="true" />' +
              '<set-header name="x-auth" exists-action="override"><value>@(context.Variables.GetValueOrDefault("auth") == null ? "null" : "present")</value></set-header>',
          ),
        },
        { name: 'mi', type: 'passthrough', backend: { url: mcpGuard.url }, policies: doc(`<authentication-managed-identity resource="${MI}" />`) },
        {
          name: 'mivar',
          type: 'passthrough',
          backend: { url: everything.url },
          policies: doc(`<authentication-managed-identity resource="${MI}" output-token-variable-name="msi" /><set-header name="x-msi" exists-action="override"><value>@((string)context.Variables["msi"])</value></set-header>`),
        },
        {
          name: 'sendreq',
          type: 'passthrough',
          backend: { url: everything.url },
          policies: doc(
            `<send-request mode="new" response-variable-name="who" timeout="5"><set-url>${api.url}/whoami</set-url><set-method>GET</set-method><authentication-managed-identity resource="${MI}" /></send-request>` +
              '<set-header name="x-who-status" exists-action="override"><value>@(((IResponse)context.Variables["who"]).StatusCode.ToString())</value></set-header>' +
              '<set-header name="x-who" exists-action="override"><value>@(((IResponse)context.Variables["who"]).Body.As<string>())</value></set-header>',
          ),
        },
      ],
    });
  });

  after(async () => {
    await gw?.close();
    await shut(mcpGuard?.server);
    await shut(api?.server);
    await everything?.close();
    await op?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the guards accept only the provider\'s tokens: the caller\'s token would pass, a forged or absent one would not', async () => {
    // the caller's token IS valid for the backends: so the backends seeing only the gateway's token below is meaningful
    const ok = await fetch(`${api.url}/whoami`, { headers: { authorization: `Bearer ${callerToken}` } });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { sub: string }).sub, 'caller');
    const [h, p] = callerToken.split('.');
    const forged = `${h}.${p}.${Buffer.from('not the signature').toString('base64url')}`;
    assert.equal((await fetch(`${api.url}/whoami`, { headers: { authorization: `Bearer ${forged}` } })).status, 401);
    assert.equal((await fetch(`${api.url}/whoami`)).status, 401);
    assert.equal((await post(mcpGuard.url, INIT)).status, 401);
    assert.equal((await post(mcpGuard.url, INIT, { authorization: `Bearer ${forged}` })).status, 401);
  });

  it('get-authorization-context (APIM\'s example): the MCP and REST backends see the provider\'s token for the gateway, never the caller\'s; one token request for all', async () => {
    const hits = op.hits.token;
    const mcpFrom = mcpSeen.length;
    const apiFrom = apiSeen.length;
    const caller = { authorization: `Bearer ${callerToken}` };

    const mcp = await sdkClient(`${gw.url}/mcp/mcp`, caller);
    const rest = await sdkClient(`${gw.url}/rest/mcp`, caller);
    try {
      for (let i = 0; i < 3; i++) {
        const echoed = (await mcp.callTool({ name: 'echo', arguments: { text: `hello ${i}` } })) as ToolResult;
        assert.equal(echoed.content[0]!.text, `hello ${i}`);
        const who = (await rest.callTool({ name: 'whoAmI', arguments: {} })) as ToolResult;
        assert.equal(who.isError ?? false, false, JSON.stringify(who));
        assert.equal((who.structuredContent as { sub: string }).sub, 'gatehouse');
        assert.equal((who.structuredContent as { aud: string }).aud, API);
      }
    } finally {
      await mcp.close();
      await rest.close();
    }

    const mcpReqs = mcpSeen.slice(mcpFrom);
    const apiReqs = apiSeen.slice(apiFrom);
    assert.ok(mcpReqs.filter((r) => r.method === 'POST').length >= 5, 'initialize, initialized and the calls reached the MCP backend');
    assert.equal(apiReqs.length, 3);
    for (const r of [...mcpReqs, ...apiReqs]) {
      assert.ok(r.claims, `${r.method} ${r.url} was accepted by the backend`);
      assert.equal(r.claims.sub, 'gatehouse', 'the gateway\'s client, not the caller');
      assert.equal(r.claims.aud, API);
      assert.ok(!JSON.stringify(r.headers).includes(callerToken), 'the caller\'s token never arrives at the backend');
    }
    const tokens = new Set([...mcpReqs, ...apiReqs].map((r) => r.headers.authorization));
    assert.equal(tokens.size, 1, 'one token served every request');
    assert.equal(op.hits.token - hits, 1, 'one token request at the provider for all calls of both servers');
  });

  it('access policy: a connection for callers with roles=admin refuses identity-type managed → 500 from get-authorization-context; nothing reaches the backend', async () => {
    const hits = op.hits.token;
    const from = mcpSeen.length;
    const r = await post(`${gw.url}/denied/mcp`, INIT, { authorization: `Bearer ${callerToken}` });
    assert.equal(r.status, 500, r.text);
    assert.equal(r.headers.get('x-source'), 'get-authorization-context');
    assert.equal(r.headers.get('x-reason'), 'AccessDenied');
    assert.match(r.headers.get('x-message') ?? '', /may not use connection "admins" of provider "idp"/);
    assert.equal(mcpSeen.length, from, 'nothing reached the backend');
    assert.equal(op.hits.token, hits, 'no token was asked for');
  });

  it('access policy with ignore-error="true": the variable is null and the request continues', async () => {
    const from = everything.requests.length;
    const sid = await session(`${gw.url}/lenient/mcp`);
    assert.ok(sid);
    const reached = everything.requests.slice(from);
    assert.ok(reached.length >= 1);
    assert.equal(reached[0]!.headers['x-auth'], 'null');
    assert.equal(reached[0]!.headers.authorization, undefined);
  });

  it('authentication-managed-identity: the default Authorization header carries the identity\'s token for the resource', async () => {
    const from = mcpSeen.length;
    const client = await sdkClient(`${gw.url}/mi/mcp`, { authorization: `Bearer ${callerToken}` });
    try {
      const r = (await client.callTool({ name: 'echo', arguments: { text: 'mi' } })) as ToolResult;
      assert.equal(r.content[0]!.text, 'mi');
    } finally {
      await client.close();
    }
    const reqs = mcpSeen.slice(from);
    assert.ok(reqs.length >= 3);
    for (const q of reqs) {
      assert.ok(q.claims, `${q.method} ${q.url} accepted`);
      assert.equal(q.claims.sub, 'gatehouse');
      assert.equal(q.claims.aud, MI, 'a token for the resource of the policy');
      assert.ok(!JSON.stringify(q.headers).includes(callerToken));
    }
  });

  it('authentication-managed-identity with output-token-variable-name: the token goes into the variable, not the header (cached per resource)', async () => {
    const hits = op.hits.token;
    const from = everything.requests.length;
    await session(`${gw.url}/mivar/mcp`);
    const q = everything.requests[from]!;
    assert.equal(q.headers.authorization, undefined, 'no Authorization header without being asked');
    const token = q.headers['x-msi'];
    assert.equal(typeof token, 'string');
    const { payload } = await jwtVerify(token as string, createRemoteJWKSet(new URL(op.jwksUrl)), { issuer: op.issuer, audience: MI });
    assert.equal(payload.sub, 'gatehouse');
    assert.equal(op.hits.token, hits, 'the token for this resource was cached by the previous test');
  });

  it('send-request with an <authentication-managed-identity> child carries the token', async () => {
    const from = apiSeen.length;
    const e = everything.requests.length;
    await session(`${gw.url}/sendreq/mcp`);
    const q = everything.requests[e]!;
    assert.equal(q.headers['x-who-status'], '200', JSON.stringify(q.headers));
    const who = JSON.parse(q.headers['x-who'] as string) as { sub: string; aud: string };
    assert.deepEqual([who.sub, who.aud], ['gatehouse', MI]);
    const sent = apiSeen.slice(from);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.claims?.aud, MI);
  });

  it('tokens near expiry: with a lifetime under the 3-minute margin each call fetches a new token; concurrent calls share ONE request', async () => {
    const short = await startOpenIdProvider({ clients: [{ clientId: 'gatehouse', clientSecret: 'gatehouse-secret' }], accessTokenTtl: 170 });
    trusted.push(short);
    // the token endpoint answers after 300 ms, so that the six concurrent calls below all need the token while it is being fetched
    const slow = await startDoor(short.issuer, 300);
    const g = await start({
      credentials: { providers: [providerRaw(`http://127.0.0.1:${slow.port}/token`)] },
      servers: [{ name: 'rest', type: 'openapi', openapi: specFile, backend: { url: api.url }, policies: doc(gac()), tools: [{ operation: 'whoAmI' }] }],
    });
    const client = await sdkClient(`${g.url}/rest/mcp`);
    try {
      const call = async () => {
        const r = (await client.callTool({ name: 'whoAmI', arguments: {} })) as ToolResult;
        assert.equal(r.isError ?? false, false, JSON.stringify(r));
        return r.structuredContent as { sub: string; jti: string };
      };
      let hits = short.hits.token;
      const seq = [];
      for (let i = 0; i < 3; i++) seq.push(await call());
      assert.equal(short.hits.token - hits, 3, 'each call refetched (170 s < 3 min)');
      assert.equal(new Set(seq.map((s) => s.jti)).size, 3, 'three distinct tokens reached the API');

      hits = short.hits.token;
      const together = await Promise.all(Array.from({ length: 6 }, () => call()));
      assert.equal(short.hits.token - hits, 1, 'single flight: one token request for six concurrent calls');
      assert.equal(new Set(together.map((s) => s.jti)).size, 1, 'all six carried the same token');
      assert.ok(together.every((s) => s.sub === 'gatehouse'));
    } finally {
      await client.close();
      await g.close();
      await slow.close();
      await short.close();
    }
  });

  it('the cache keeps a token until exactly 3 minutes before it expires; after that, concurrent requests fetch once (manager clock)', async () => {
    let clock = Date.now();
    const store = await openStore('sqlite::memory:');
    const manager = new CredentialManager([providerOf(providerRaw(op.issuer) as Parameters<typeof providerOf>[0])], store, undefined, { publicUrl: 'http://127.0.0.1:1', now: () => clock });
    try {
      const hits = op.hits.token;
      const t0 = clock;
      const first = await manager.authorize('idp', 'svc', { kind: 'managed' });
      assert.equal(op.hits.token, hits + 1);
      assert.equal(first.claims.sub, 'gatehouse');
      assert.equal((first.claims.exp as number) - (first.claims.iat as number), 3600);

      clock = t0 + (3600 - 180) * 1000 - 1;
      assert.equal((await manager.authorize('idp', 'svc', { kind: 'managed' })).accessToken, first.accessToken, 'still cached 1 ms before the margin');
      assert.equal(op.hits.token, hits + 1);

      clock = t0 + (3600 - 180) * 1000;
      const second = await manager.authorize('idp', 'svc', { kind: 'managed' });
      assert.notEqual(second.accessToken, first.accessToken, 'refreshed at 3 minutes before expiry');
      assert.equal(op.hits.token, hits + 2);

      clock += 3600 * 1000; // past its expiry
      const all = await Promise.all(Array.from({ length: 10 }, () => manager.authorize('idp', 'svc', { kind: 'managed' })));
      assert.equal(op.hits.token, hits + 3, 'ten concurrent requests across expiry: one token request');
      assert.equal(new Set(all.map((a) => a.accessToken)).size, 1);
      assert.notEqual(all[0]!.accessToken, second.accessToken);
    } finally {
      await store.close();
    }
  });

  it('provider down: a clear 500 from the policy, the gateway keeps serving, and the next call after recovery works', async () => {
    const door = await startDoor(op.issuer);
    await door.close();
    const g = await start({
      credentials: { providers: [providerRaw(`http://127.0.0.1:${door.port}/token`, { connections: [{ name: 'svc', grant: 'client-credentials' }] })] },
      servers: [{ name: 'rest', type: 'openapi', openapi: specFile, backend: { url: api.url }, policies: doc(gac()), tools: [{ operation: 'whoAmI' }] }],
    });
    try {
      const url = `${g.url}/rest/mcp`;
      const from = apiSeen.length;
      // the server's inbound policy runs for every MCP request, initialize included
      const down = await post(url, INIT);
      assert.equal(down.status, 500, down.text);
      assert.equal(down.headers.get('x-source'), 'get-authorization-context');
      assert.equal(down.headers.get('x-reason'), 'TokenRequestFailed');
      assert.match(down.headers.get('x-message') ?? '', /token endpoint of provider "idp" is unreachable/);
      assert.match(down.text, /token endpoint of provider \\"idp\\" is unreachable/);
      assert.equal(apiSeen.length, from, 'nothing reached the API');
      const again = await post(url, INIT);
      assert.equal(again.status, 500, 'still down: still a clear error');
      assert.equal((await send(`${g.url}/healthz`, { method: 'GET' })).status, 200, 'the gateway did not crash');

      await door.open();
      const hits = op.hits.token;
      const sid = await session(url);
      const ok = await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'whoAmI', arguments: {} } }, { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(((lastMessage(ok.text).result as { structuredContent: { sub: string } }).structuredContent).sub, 'gatehouse');
      assert.equal(op.hits.token, hits + 1, 'the failure was not cached; the token, once had, is');
      assert.equal(apiSeen.length, from + 1);
      assert.equal(apiSeen.at(-1)!.claims?.sub, 'gatehouse');
    } finally {
      await g.close();
      await door.close();
    }
  });
});

describe('credentials configuration', () => {
  const raw = (policy = doc(gac())) => ({
    store: 'sqlite::memory:',
    cache: 'memory',
    credentials: { providers: [providerRaw('https://idp.example.test')] },
    servers: [{ name: 'mcp', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: policy }],
  });
  const load = (r: Record<string, unknown>) => configFromObject(r, { baseDir: process.cwd(), env: {} });
  const silent = () => createLogger({ level: 'silent' });

  it('credentials without GATEHOUSE_SECRET_KEY (and no secretBox) are refused, naming GATEHOUSE_SECRET_KEY', async () => {
    const config = await load(raw());
    await assert.rejects(createGateway(config, { env: {}, logger: silent() }), /GATEHOUSE_SECRET_KEY/);
    // with the key in the environment, or a SecretBox given, the same config starts
    const withKey = await createGateway(await load(raw()), { env: { GATEHOUSE_SECRET_KEY: generateKey() }, logger: silent() });
    await withKey.close();
    const withBox = await createGateway(await load(raw()), { env: {}, secretBox: BOX, logger: silent() });
    await withBox.close();
  });

  it('an unknown literal provider-id or authorization-id in a policy is a load error', async () => {
    const bad = doc('<get-authorization-context provider-id="nope" authorization-id="svc" context-variable-name="auth" identity-type="managed" />');
    await assert.rejects(async () => createGateway(await load(raw(bad)), { secretBox: BOX, logger: silent() }), /credential provider "nope" is not configured/);
    const badConn = doc('<get-authorization-context provider-id="idp" authorization-id="nope" context-variable-name="auth" identity-type="managed" />');
    await assert.rejects(async () => createGateway(await load(raw(badConn)), { secretBox: BOX, logger: silent() }), /provider "idp" has no connection "nope"/);
  });
});
