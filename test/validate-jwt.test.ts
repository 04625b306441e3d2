/**
 * validate-jwt end to end: a running gateway (publicUrl https://mcp.test) in front of the real MCP
 * fixture backend, keys from a local OpenID discovery + JWKS server (test/fixtures/jwks-server.ts)
 * or inline in the policy. Every refusal is checked as a client sees it — status, WWW-Authenticate,
 * the `{"statusCode","message"}` body — plus APIM's `context.LastError.Reason` (exposed by an
 * on-error set-header), and that the backend received nothing for it. At the end: the backend never
 * saw an Authorization header, nor any refused token.
 */
import { describe, it, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactEncrypt, CompactSign, exportSPKI, SignJWT, UnsecuredJWT, importPKCS8, type CryptoKey, type JWTPayload } from 'jose';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { newSigningKey, startJwksServer, type JwksServer, type SigningKey } from './fixtures/jwks-server.js';
import { freePort, startGateway, type RunningGateway } from './helpers/gateway.js';
import { INIT, post, toolText, type Reply } from './helpers/mcp-http.js';

const PUBLIC = 'https://mcp.test';
const resourceOf = (name: string) => `${PUBLIC}/${name}/mcp`;
const metadataOf = (name: string) => `${PUBLIC}/.well-known/oauth-protected-resource/${name}/mcp`;
const nowSec = () => Math.floor(Date.now() / 1000);
const iso = (sec: number) => new Date(sec * 1000).toISOString();
const DENIED = 'Access denied.';

const ON_ERROR = `<on-error>
    <base />
    <set-header name="x-reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header>
    <set-header name="x-source" exists-action="override"><value>@(context.LastError.Source)</value></set-header>
  </on-error>`;

function policy(validateJwt: string, opts: { onError?: boolean; inbound?: string; outbound?: string; onErrorExtra?: string } = {}): string {
  return `<policies>
  <inbound><base />${validateJwt}${opts.inbound ?? ''}</inbound>
  <backend><base /></backend>
  <outbound><base />${opts.outbound ?? ''}</outbound>
  ${opts.onError === false ? '' : ON_ERROR.replace('</on-error>', `${opts.onErrorExtra ?? ''}</on-error>`)}
</policies>`;
}

/** the backend and every token the gateway refused (none of them may ever reach the backend) */
let backend: EverythingServer;
const refusedTokens = new Set<string>();

before(async () => {
  backend = await startEverythingServer({ transport: 'streamable-http' });
});
after(async () => {
  await backend?.close();
});

interface Expect {
  readonly status?: number;
  readonly reason: string | null;
  readonly message: string;
  /** the exact WWW-Authenticate value; null = no header */
  readonly challenge: string | null;
}

/** the challenge of a 401 for a present but refused token (RFC 6750 §3: quotes dropped, "Access denied." too) */
function invalidToken(message: string, metadata: string | undefined): string {
  const d = message.replace(/\s*Access denied\.$/, '').replace(/"/g, '');
  return `Bearer error="invalid_token", error_description="${d}"${metadata ? `, resource_metadata="${metadata}"` : ''}`;
}

/** POST initialize and assert the refusal; the backend must get nothing */
async function expectRefused(url: string, headers: Record<string, string>, e: Expect, body: unknown = INIT): Promise<Reply> {
  for (const [k, v] of Object.entries(headers)) if (k === 'authorization' || k === 'x-t') refusedTokens.add(v.replace(/^\S+\s+/, ''));
  for (const v of new URL(url).searchParams.getAll('access_token')) refusedTokens.add(v);
  const before = backend.requests.length;
  const r = await post(url, body, headers);
  const status = e.status ?? 401;
  assert.equal(r.status, status, r.text);
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.deepEqual(r.json, { statusCode: status, message: e.message });
  assert.equal(r.headers.get('x-reason'), e.reason);
  if (e.reason !== null) assert.equal(r.headers.get('x-source'), 'validate-jwt');
  assert.equal(r.headers.get('www-authenticate'), e.challenge);
  assert.equal(backend.requests.length, before, 'the backend received nothing');
  return r;
}

async function expectAccepted(url: string, headers: Record<string, string>): Promise<Reply> {
  const before = backend.requests.length;
  const r = await post(url, INIT, headers);
  assert.equal(r.status, 200, r.text);
  assert.ok(r.headers.get('mcp-session-id'));
  assert.equal(r.headers.get('x-reason'), null);
  assert.ok(backend.requests.length > before, 'the backend got the initialize');
  return r;
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

/** a JWS over any JSON payload (jose's SignJWT would refuse ill-typed registered claims) */
async function signRaw(payload: unknown, key: CryptoKey | Uint8Array, header: Record<string, unknown>): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(header as { alg: string }).sign(key);
}

// -------------------------------------------------------------------------------------------------

describe('validate-jwt through the gateway', () => {
  let idp: JwksServer;
  let gw: RunningGateway;
  let at: (name: string) => string;
  let claims: (name: string, extra?: JWTPayload) => JWTPayload;
  let token: (name: string, extra?: JWTPayload, key?: SigningKey) => Promise<string>;
  const hsKey = randomBytes(32);
  const jweKey = randomBytes(32);
  let k1: SigningKey;
  let k2: SigningKey;
  let certKey: CryptoKey | undefined;
  let certSkip: string | false = false;

  before(async () => {
    idp = await startJwksServer({ kids: ['key-1'] });
    k1 = await newSigningKey('k1');
    k2 = await newSigningKey('k2');

    // certificate-id needs an X.509 certificate; Node cannot create one, openssl can
    let certPem: string | undefined;
    const dir = mkdtempSync(join(tmpdir(), 'gh-vjwt-'));
    try {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      writeFileSync(join(dir, 'key.pem'), keyPem);
      execFileSync('openssl', ['req', '-x509', '-new', '-key', join(dir, 'key.pem'), '-subj', '/CN=idp.test', '-days', '2', '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      certPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
      certKey = await importPKCS8(keyPem, 'RS256');
    } catch (err) {
      certSkip = `openssl is not available to make a test certificate (${(err as Error).message})`;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const oidc = `<openid-config url="${idp.discoveryUrl}" />`;
    const rsaKeys = `<issuer-signing-keys><key id="k1" n="${k1.jwk.n}" e="${k1.jwk.e}" /><key id="k2" n="${k2.jwk.n}" e="${k2.jwk.e}" /></issuer-signing-keys>`;
    const servers: Record<string, string> = {
      oidc: policy(`<validate-jwt header-name="Authorization" require-scheme="Bearer">${oidc}</validate-jwt>`),
      plain: policy(`<validate-jwt header-name="Authorization">${oidc}</validate-jwt>`, { onError: false }),
      query: policy(`<validate-jwt query-parameter-name="access_token">${oidc}</validate-jwt>`),
      tv: policy(`<validate-jwt token-value="@(context.Request.Headers.GetValueOrDefault("X-T",""))">${oidc}</validate-jwt>`),
      body: policy(`<validate-jwt token-value="@((string)context.Request.Body.As<JObject>(preserveContent: true)["params"]["_meta"]["token"])">${oidc}</validate-jwt>`),
      forbid: policy(`<validate-jwt header-name="Authorization" failed-validation-httpcode="403" failed-validation-error-message="Access token is missing or invalid.">${oidc}</validate-jwt>`, {
        onErrorExtra: '<set-header name="x-message" exists-action="override"><value>@(context.LastError.Message)</value></set-header>',
      }),
      skew: policy(`<validate-jwt header-name="Authorization" clock-skew="60">${oidc}</validate-jwt>`),
      noexp: policy(`<validate-jwt header-name="Authorization" require-expiration-time="false">${oidc}</validate-jwt>`),
      unsigned: policy(`<validate-jwt header-name="Authorization" require-signed-tokens="false" />`),
      group: policy(`<validate-jwt header-name="Authorization" require-scheme="Bearer" output-token-variable-name="jwt">${oidc}</validate-jwt>`, {
        inbound: `<choose><when condition="@(((Jwt)context.Variables["jwt"]).Claims.GetValueOrDefault("group", "") != "finance")"><return-response><set-status code="403" reason="Forbidden" /></return-response></when></choose>`,
        outbound: `<set-header name="x-group" exists-action="override"><value>@(((Jwt)context.Variables["jwt"]).Claims.GetValueOrDefault("group", ""))</value></set-header>`,
      }),
      hs: policy(`<validate-jwt header-name="Authorization">
        <issuer-signing-keys><key>${hsKey.toString('base64')}</key></issuer-signing-keys>
        <audiences><audience>api://gatehouse-a</audience><audience>api://gatehouse-b</audience></audiences>
        <issuers><issuer>https://issuer-a.test</issuer><issuer>https://issuer-b.test</issuer></issuers>
      </validate-jwt>`),
      rsa: policy(`<validate-jwt header-name="Authorization">${rsaKeys}</validate-jwt>`),
      jwe: policy(`<validate-jwt header-name="Authorization"><issuer-signing-keys><key n="${k1.jwk.n}" e="${k1.jwk.e}" /></issuer-signing-keys><decryption-keys><key>${jweKey.toString('base64')}</key></decryption-keys></validate-jwt>`),
      claims: policy(`<validate-jwt header-name="Authorization">${oidc}
        <required-claims>
          <claim name="roles" match="all"><value>reader</value><value>writer</value></claim>
          <claim name="groups" match="any"><value>finance</value><value>logistics</value></claim>
          <claim name="scp" match="all" separator=" "><value>mcp.read</value><value>mcp.call</value></claim>
          <claim name="tenant"><value>t1</value></claim>
        </required-claims>
      </validate-jwt>`),
    };
    if (certPem) servers.cert = policy('<validate-jwt header-name="Authorization"><issuer-signing-keys><key certificate-id="idp" /></issuer-signing-keys></validate-jwt>');

    gw = await startGateway({
      gateway: { publicUrl: PUBLIC },
      ...(certPem ? { certificates: { idp: { cert: certPem } } } : {}),
      servers: Object.entries(servers).map(([name, policies]) => ({ name, type: 'passthrough', backend: { url: backend.url }, policies })),
    });
    at = (name) => `${gw.url}/${name}/mcp`;
    claims = (name, extra = {}) => ({ iss: idp.issuer, aud: resourceOf(name), sub: 'alice', iat: nowSec(), exp: nowSec() + 300, ...extra });
    token = (name, extra = {}, key) => idp.sign(claims(name, extra), key);
  });
  after(async () => {
    await gw?.close();
    await idp?.close();
  });

  // the server "oidc": keys and issuer from the discovery document, default audience https://mcp.test/oidc/mcp
  const OIDC_CHALLENGE = (m: string) => invalidToken(m, metadataOf('oidc'));

  describe('valid tokens', () => {
    it('a valid token: 200 initialize, the session works, the token is never forwarded', async () => {
      const t = await token('oidc');
      const r = await expectAccepted(at('oidc'), bearer(t));
      const sid = r.headers.get('mcp-session-id')!;
      const initReq = backend.requests.at(-1)!;
      assert.equal(initReq.headers.authorization, undefined);
      const call = await post(at('oidc'), { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } }, { ...bearer(t), 'mcp-session-id': sid });
      assert.equal(call.status, 200, call.text);
      assert.equal(toolText(call), 'hi');
      // every request of the session is validated: without the token it is refused
      await expectRefused(at('oidc'), { 'mcp-session-id': sid }, { reason: 'TokenNotFound', message: 'JWT not present.', challenge: `Bearer resource_metadata="${metadataOf('oidc')}"` });
      // the session belongs to alice: bob's valid token does not reach it
      const bob = await token('oidc', { sub: 'bob' });
      const other = await post(at('oidc'), { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { ...bearer(bob), 'mcp-session-id': sid });
      assert.equal(other.status, 404, other.text);
    });

    it('the PRM document names the openid-config issuer as authorization server', async () => {
      const r = await fetch(`${gw.url}/.well-known/oauth-protected-resource/oidc/mcp`);
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { resource: resourceOf('oidc'), authorization_servers: [idp.issuer], bearer_methods_supported: ['header'] });
    });

    it('require-scheme="Bearer": the scheme is case-insensitive; an audience URL ignores host case and a trailing slash', async () => {
      await expectAccepted(at('oidc'), { authorization: `bearer ${await token('oidc')}` });
      await expectAccepted(at('oidc'), bearer(await token('oidc', { aud: ['https://other.test', 'https://MCP.TEST/oidc/mcp/'] })));
    });
  });

  describe('refused tokens (server "oidc")', () => {
    const notPresent = { reason: 'TokenNotFound', message: 'JWT not present.' } as const;

    it('no token: 401 with a bare challenge naming the resource metadata (no error=)', async () => {
      await expectRefused(at('oidc'), {}, { ...notPresent, challenge: `Bearer resource_metadata="${metadataOf('oidc')}"` });
      // the token in the query string does not count when header-name is configured
      await expectRefused(`${at('oidc')}?access_token=${await token('oidc')}`, {}, { ...notPresent, challenge: `Bearer resource_metadata="${metadataOf('oidc')}"` });
    });

    it('require-scheme="Bearer": a Basic header is no token', async () => {
      const message = 'JWT not present. The Authorization header must use the "Bearer" scheme.';
      await expectRefused(at('oidc'), { authorization: 'Basic dXNlcjpwYXNz' }, { reason: 'TokenNotFound', message, challenge: `Bearer resource_metadata="${metadataOf('oidc')}"` });
    });

    it('malformed tokens: JwtInvalid', async () => {
      const notCompact = 'The token is malformed: it is not a compact JWS or JWE';
      await expectRefused(at('oidc'), bearer('abc'), { reason: 'JwtInvalid', message: notCompact, challenge: OIDC_CHALLENGE(notCompact) });
      const badHeader = 'The token is malformed: its header is not valid Base64url JSON';
      await expectRefused(at('oidc'), bearer('a.b.c'), { reason: 'JwtInvalid', message: badHeader, challenge: OIDC_CHALLENGE(badHeader) });
      await expectRefused(at('oidc'), bearer('e30.e30.e30.e30'), { reason: 'JwtInvalid', message: notCompact, challenge: OIDC_CHALLENGE(notCompact) });
      const t = await token('oidc');
      const [h, , s] = t.split('.');
      const notJson = 'The token is malformed: its payload is not JSON';
      // a valid signature over a payload that is not JSON
      const raw = await new CompactSign(new TextEncoder().encode('not json')).setProtectedHeader({ alg: 'RS256', kid: 'key-1' }).sign(idp.keys[0]!.privateKey);
      await expectRefused(at('oidc'), bearer(raw), { reason: 'JwtInvalid', message: notJson, challenge: OIDC_CHALLENGE(notJson) });
      // the payload of a valid token swapped: the signature no longer matches
      const forged = `${h}.${Buffer.from(JSON.stringify(claims('oidc', { sub: 'admin' }))).toString('base64url')}.${s}`;
      const m = `The signature is invalid. ${DENIED}`;
      await expectRefused(at('oidc'), bearer(forged), { reason: 'TokenSignatureInvalid', message: m, challenge: OIDC_CHALLENGE(m) });
    });

    it('alg "none": TokenSignatureInvalid', async () => {
      const t = new UnsecuredJWT(claims('oidc')).encode();
      const m = `The token is not signed. ${DENIED}`;
      await expectRefused(at('oidc'), bearer(t), { reason: 'TokenSignatureInvalid', message: m, challenge: OIDC_CHALLENGE(m) });
      // "None" with a signature part is not a loophole either
      const t2 = await signRaw(claims('oidc'), hsKey, { alg: 'HS256' });
      const none2 = `${Buffer.from(JSON.stringify({ alg: 'None', kid: 'key-1' })).toString('base64url')}.${t2.split('.')[1]}.${t2.split('.')[2]}`;
      await expectRefused(at('oidc'), bearer(none2), { reason: 'TokenSignatureInvalid', message: m, challenge: OIDC_CHALLENGE(m) });
    });

    it('HS256 signed with the RSA public key (PEM or JWK) as the HMAC secret: TokenSignatureInvalid', async () => {
      const key = idp.keys[0]!;
      const m = `The token's signature algorithm "HS256" is not accepted for the signing keys. ${DENIED}`;
      for (const secret of [await exportSPKI(key.publicKey), JSON.stringify(key.jwk)]) {
        for (const kid of ['key-1', undefined]) {
          const t = await new SignJWT(claims('oidc')).setProtectedHeader({ alg: 'HS256', ...(kid ? { kid } : {}) }).sign(new TextEncoder().encode(secret));
          await expectRefused(at('oidc'), bearer(t), { reason: 'TokenSignatureInvalid', message: m, challenge: OIDC_CHALLENGE(m) });
        }
      }
    });

    it('expired: TokenExpired; nbf in the future: JwtInvalid; no exp: JwtInvalid', async () => {
      const exp = nowSec() - 120;
      const m = `The token expired at ${iso(exp)}. ${DENIED}`;
      await expectRefused(at('oidc'), bearer(await token('oidc', { exp })), { reason: 'TokenExpired', message: m, challenge: OIDC_CHALLENGE(m) });
      const nbf = nowSec() + 600;
      const m2 = `The token is not valid before ${iso(nbf)}`;
      await expectRefused(at('oidc'), bearer(await token('oidc', { nbf })), { reason: 'JwtInvalid', message: m2, challenge: OIDC_CHALLENGE(m2) });
      const noExp = claims('oidc');
      delete noExp.exp;
      const m3 = 'The token has no expiration time ("exp")';
      await expectRefused(at('oidc'), bearer(await idp.sign(noExp)), { reason: 'JwtInvalid', message: m3, challenge: OIDC_CHALLENGE(m3) });
    });

    it('wrong iss: TokenIssuerNotAllowed', async () => {
      const m = `Issuer validation failed: the issuer "https://evil.test" is not allowed. ${DENIED}`;
      await expectRefused(at('oidc'), bearer(await token('oidc', { iss: 'https://evil.test' })), { reason: 'TokenIssuerNotAllowed', message: m, challenge: OIDC_CHALLENGE(m) });
      const noIss = claims('oidc');
      delete noIss.iss;
      const m2 = `The token has no issuer ("iss"). ${DENIED}`;
      await expectRefused(at('oidc'), bearer(await idp.sign(noIss)), { reason: 'TokenIssuerNotAllowed', message: m2, challenge: OIDC_CHALLENGE(m2) });
    });

    it('wrong aud: TokenAudienceNotAllowed; a token for another resource of the same gateway is refused', async () => {
      const m = `Audience validation failed: the token's audience "https://api.other.test" is not allowed. ${DENIED}`;
      await expectRefused(at('oidc'), bearer(await token('oidc', { aud: 'https://api.other.test' })), { reason: 'TokenAudienceNotAllowed', message: m, challenge: OIDC_CHALLENGE(m) });
      const forPlain = await token('plain');
      const m2 = `Audience validation failed: the token's audience "${resourceOf('plain')}" is not allowed. ${DENIED}`;
      await expectRefused(at('oidc'), bearer(forPlain), { reason: 'TokenAudienceNotAllowed', message: m2, challenge: OIDC_CHALLENGE(m2) });
      refusedTokens.delete(forPlain);
      await expectAccepted(at('plain'), bearer(forPlain)); // it is a good token, for "plain"
      // the gateway's own origin is not this server's resource
      const m3 = `Audience validation failed: the token's audience "${PUBLIC}" is not allowed. ${DENIED}`;
      await expectRefused(at('oidc'), bearer(await token('oidc', { aud: PUBLIC })), { reason: 'TokenAudienceNotAllowed', message: m3, challenge: OIDC_CHALLENGE(m3) });
      const noAud = claims('oidc');
      delete noAud.aud;
      const m4 = `The token has no audience ("aud"). ${DENIED}`;
      await expectRefused(at('oidc'), bearer(await idp.sign(noAud)), { reason: 'TokenAudienceNotAllowed', message: m4, challenge: OIDC_CHALLENGE(m4) });
    });

    it('unknown kid: TokenSignatureKeyNotFound without a new JWKS fetch (5-minute bound); known kid, other key: TokenSignatureInvalid', async () => {
      const hits = { ...idp.hits };
      const stranger = await newSigningKey('nope');
      const m = `No signing key matches the token's key id (kid "nope"). ${DENIED}`;
      await expectRefused(at('oidc'), bearer(await token('oidc', {}, stranger)), { reason: 'TokenSignatureKeyNotFound', message: m, challenge: OIDC_CHALLENGE(m) });
      await expectRefused(at('oidc'), bearer(await token('oidc', {}, stranger)), { reason: 'TokenSignatureKeyNotFound', message: m, challenge: OIDC_CHALLENGE(m) });
      assert.deepEqual(idp.hits, hits, 'no extra discovery / JWKS fetch');
      const impostor = { ...stranger, kid: 'key-1' };
      const m2 = `The signature is invalid. ${DENIED}`;
      await expectRefused(at('oidc'), bearer(await token('oidc', {}, impostor)), { reason: 'TokenSignatureInvalid', message: m2, challenge: OIDC_CHALLENGE(m2) });
    });

    it('claims of the wrong type: JwtInvalid', async () => {
      const key = idp.keys[0]!.privateKey;
      const h = { alg: 'RS256', kid: 'key-1' };
      const m = `The token's "exp" claim must be a number`;
      await expectRefused(at('oidc'), bearer(await signRaw(claims('oidc', { exp: String(nowSec() + 300) as unknown as number }), key, h)), { reason: 'JwtInvalid', message: m, challenge: OIDC_CHALLENGE(m) });
      const m2 = `The token's "aud" claim must be a string or an array of strings`;
      await expectRefused(at('oidc'), bearer(await signRaw(claims('oidc', { aud: 42 as unknown as string }), key, h)), { reason: 'JwtInvalid', message: m2, challenge: OIDC_CHALLENGE(m2) });
      const m3 = `The token's "iss" claim must be a string`;
      await expectRefused(at('oidc'), bearer(await signRaw(claims('oidc', { iss: [idp.issuer] as unknown as string }), key, h)), { reason: 'JwtInvalid', message: m3, challenge: OIDC_CHALLENGE(m3) });
      const m4 = 'The token is malformed: its payload is not a JSON object';
      await expectRefused(at('oidc'), bearer(await signRaw([claims('oidc')], key, h)), { reason: 'JwtInvalid', message: m4, challenge: OIDC_CHALLENGE(m4) });
    });

    it('an encrypted token without decryption-keys: JwtInvalid', async () => {
      const jwe = await new CompactEncrypt(new TextEncoder().encode(await token('oidc'))).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'JWT' }).encrypt(jweKey);
      const m = 'The token is encrypted (JWE) but the policy has no decryption-keys';
      await expectRefused(at('oidc'), bearer(jwe), { reason: 'JwtInvalid', message: m, challenge: OIDC_CHALLENGE(m) });
    });

    it('two Authorization headers: JwtInvalid (both tokens valid; the ambiguity is refused)', async () => {
      const a = await token('oidc');
      const b = await token('oidc', { sub: 'bob' });
      refusedTokens.add(a).add(b);
      const before = backend.requests.length;
      const body = JSON.stringify(INIT);
      const r = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
        const req = http.request(at('oidc'), {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: [`Bearer ${a}`, `Bearer ${b}`] as unknown as string },
        });
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        });
        req.on('error', reject);
        req.end(body);
      });
      const m = 'The request carries more than one "Authorization" header';
      assert.equal(r.status, 401, r.text);
      assert.deepEqual(JSON.parse(r.text), { statusCode: 401, message: m });
      assert.equal(r.headers['x-reason'], 'JwtInvalid');
      assert.equal(r.headers['www-authenticate'], OIDC_CHALLENGE(m));
      assert.equal(backend.requests.length, before);
    });

    it('a 64 KiB token in the Authorization header: 431 from the HTTP layer, before any policy', async () => {
      // Node's 16 KiB header limit answers first; the verifier's own 32 KiB limit is shown with a body-borne token below
      const big = 'e'.repeat(64 * 1024);
      refusedTokens.add(big);
      const before = backend.requests.length;
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(at('oidc'), { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${big}` } });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(JSON.stringify(INIT));
      });
      assert.equal(status, 431);
      assert.equal(backend.requests.length, before);
      // the gateway is fine afterwards
      await expectAccepted(at('oidc'), bearer(await token('oidc')));
    });

    it('a 40 KiB token (from the JSON body via token-value): JwtInvalid "too large", no crash', async () => {
      const withToken = (t: string) => ({ ...INIT, params: { ...INIT.params, _meta: { token: t } } });
      const big = `${'e'.repeat(20 * 1024)}.${'e'.repeat(20 * 1024)}.e`;
      const m = `The token is too large (${big.length} characters; at most 32768)`;
      refusedTokens.add(big);
      await expectRefused(at('body'), {}, { reason: 'JwtInvalid', message: m, challenge: invalidToken(m, metadataOf('body')) }, withToken(big));
      // the same route accepts a good token the same way
      const r = await post(at('body'), withToken(await token('body')));
      assert.equal(r.status, 200, r.text);
    });

    it('without on-error: the same default answer, no LastError header', async () => {
      const exp = nowSec() - 60;
      const m = `The token expired at ${iso(exp)}. ${DENIED}`;
      await expectRefused(at('plain'), bearer(await token('plain', { exp })), { reason: null, message: m, challenge: invalidToken(m, metadataOf('plain')) });
      await expectRefused(at('plain'), {}, { reason: null, message: 'JWT not present.', challenge: `Bearer resource_metadata="${metadataOf('plain')}"` });
      // no require-scheme: the bare token is read as it is
      await expectAccepted(at('plain'), { authorization: await token('plain') });
    });
  });

  describe('attributes', () => {
    it('query-parameter-name: the token comes from the query string (and only from there)', async () => {
      const t = await token('query');
      await expectAccepted(`${at('query')}?access_token=${t}`, {});
      const q = backend.requests.at(-1)!;
      assert.equal(q.url, '/mcp', 'the query (and its token) is not forwarded');
      const ch = `Bearer resource_metadata="${metadataOf('query')}"`;
      await expectRefused(at('query'), bearer(t), { reason: 'TokenNotFound', message: 'JWT not present.', challenge: ch });
      const m = 'The request carries more than one "access_token" query parameter';
      await expectRefused(`${at('query')}?access_token=${t}&access_token=${t}`, {}, { reason: 'JwtInvalid', message: m, challenge: invalidToken(m, metadataOf('query')) });
    });

    it('token-value: the token is what the expression returns', async () => {
      await expectAccepted(at('tv'), { 'x-t': await token('tv') });
      const ch = `Bearer resource_metadata="${metadataOf('tv')}"`;
      await expectRefused(at('tv'), bearer(await token('tv')), { reason: 'TokenNotFound', message: 'JWT not present.', challenge: ch });
      const m = 'The token is malformed: it is not a compact JWS or JWE';
      await expectRefused(at('tv'), { 'x-t': `Bearer ${await token('tv')}` }, { reason: 'JwtInvalid', message: m, challenge: invalidToken(m, metadataOf('tv')) });
    });

    it('failed-validation-httpcode="403" and failed-validation-error-message: no challenge, custom message, LastError keeps the reason', async () => {
      const exp = nowSec() - 10;
      const r = await expectRefused(at('forbid'), bearer(await token('forbid', { exp })), { status: 403, reason: 'TokenExpired', message: 'Access token is missing or invalid.', challenge: null });
      assert.equal(r.headers.get('x-message'), `The token expired at ${iso(exp)}. ${DENIED}`);
      const r2 = await expectRefused(at('forbid'), {}, { status: 403, reason: 'TokenNotFound', message: 'Access token is missing or invalid.', challenge: null });
      assert.equal(r2.headers.get('x-message'), 'JWT not present.');
      await expectAccepted(at('forbid'), bearer(await token('forbid')));
    });

    it('clock-skew="60": expired by 30 s passes, by 90 s does not; nbf 30 s ahead passes', async () => {
      await expectAccepted(at('skew'), bearer(await token('skew', { exp: nowSec() - 30 })));
      await expectAccepted(at('skew'), bearer(await token('skew', { nbf: nowSec() + 30 })));
      const exp = nowSec() - 90;
      const m = `The token expired at ${iso(exp)}. ${DENIED}`;
      await expectRefused(at('skew'), bearer(await token('skew', { exp })), { reason: 'TokenExpired', message: m, challenge: invalidToken(m, metadataOf('skew')) });
      // without clock-skew the 30-second one is refused
      const exp2 = nowSec() - 30;
      const m2 = `The token expired at ${iso(exp2)}. ${DENIED}`;
      await expectRefused(at('oidc'), bearer(await token('oidc', { exp: exp2 })), { reason: 'TokenExpired', message: m2, challenge: OIDC_CHALLENGE(m2) });
    });

    it('require-expiration-time="false": a token without exp passes (an expired one still fails)', async () => {
      const c = claims('noexp');
      delete c.exp;
      await expectAccepted(at('noexp'), bearer(await idp.sign(c)));
      const exp = nowSec() - 5;
      const m = `The token expired at ${iso(exp)}. ${DENIED}`;
      await expectRefused(at('noexp'), bearer(await token('noexp', { exp })), { reason: 'TokenExpired', message: m, challenge: invalidToken(m, metadataOf('noexp')) });
    });

    it('require-signed-tokens="false": an alg "none" token passes; its claims are still checked', async () => {
      await expectAccepted(at('unsigned'), bearer(new UnsecuredJWT(claims('unsigned')).encode()));
      // no openid-config: no authorization server is known, so the challenge has no resource_metadata
      const m = `Audience validation failed: the token's audience "${resourceOf('oidc')}" is not allowed. ${DENIED}`;
      await expectRefused(at('unsigned'), bearer(new UnsecuredJWT(claims('oidc')).encode()), { reason: 'TokenAudienceNotAllowed', message: m, challenge: invalidToken(m, undefined) });
      await expectRefused(at('unsigned'), {}, { reason: 'TokenNotFound', message: 'JWT not present.', challenge: 'Bearer' });
    });

    it('output-token-variable-name: a <choose> on the token\'s claims answers 403 by return-response', async () => {
      const ok = await expectAccepted(at('group'), bearer(await token('group', { group: 'finance' })));
      assert.equal(ok.headers.get('x-group'), 'finance');
      const before = backend.requests.length;
      const r = await post(at('group'), INIT, bearer(await token('group', { group: 'sales' })));
      assert.equal(r.status, 403, r.text);
      assert.equal(r.headers.get('x-reason'), null, 'return-response is no error');
      assert.equal(r.headers.get('www-authenticate'), null);
      assert.equal(backend.requests.length, before);
      const r2 = await post(at('group'), INIT, bearer(await token('group')));
      assert.equal(r2.status, 403, 'no group claim');
    });

    it('issuer-signing-keys with a Base64 symmetric key, <audiences> and <issuers> (any of)', async () => {
      const hs = (c: JWTPayload, key: Uint8Array = hsKey) => new SignJWT(c).setProtectedHeader({ alg: 'HS256' }).sign(key);
      const base = { sub: 'svc', exp: nowSec() + 300 };
      await expectAccepted(at('hs'), bearer(await hs({ ...base, iss: 'https://issuer-a.test', aud: 'api://gatehouse-b' })));
      await expectAccepted(at('hs'), bearer(await hs({ ...base, iss: 'https://issuer-b.test', aud: ['api://x', 'api://gatehouse-a'] })));
      const HS = (m: string) => invalidToken(m, undefined);
      const m = `Audience validation failed: the token's audience "${resourceOf('hs')}" is not allowed. ${DENIED}`;
      await expectRefused(at('hs'), bearer(await hs({ ...base, iss: 'https://issuer-a.test', aud: resourceOf('hs') })), { reason: 'TokenAudienceNotAllowed', message: m, challenge: HS(m) });
      const m2 = `Issuer validation failed: the issuer "https://issuer-c.test" is not allowed. ${DENIED}`;
      await expectRefused(at('hs'), bearer(await hs({ ...base, iss: 'https://issuer-c.test', aud: 'api://gatehouse-a' })), { reason: 'TokenIssuerNotAllowed', message: m2, challenge: HS(m2) });
      const m3 = `The signature is invalid. ${DENIED}`;
      await expectRefused(at('hs'), bearer(await hs({ ...base, iss: 'https://issuer-a.test', aud: 'api://gatehouse-a' }, randomBytes(32))), { reason: 'TokenSignatureInvalid', message: m3, challenge: HS(m3) });
      const m4 = `The token's signature algorithm "RS256" is not accepted for the signing keys. ${DENIED}`;
      await expectRefused(at('hs'), bearer(await idp.sign({ ...base, iss: 'https://issuer-a.test', aud: 'api://gatehouse-a' })), { reason: 'TokenSignatureInvalid', message: m4, challenge: HS(m4) });
      await expectRefused(at('hs'), {}, { reason: 'TokenNotFound', message: 'JWT not present.', challenge: 'Bearer' });
    });

    it('issuer-signing-keys with n/e and id: kid selects the key; without kid each key is tried (rollover)', async () => {
      const rs = (key: SigningKey, kid: string | undefined) =>
        new SignJWT({ sub: 'svc', aud: resourceOf('rsa'), exp: nowSec() + 300 }).setProtectedHeader({ alg: 'RS256', ...(kid ? { kid } : {}) }).sign(key.privateKey);
      await expectAccepted(at('rsa'), bearer(await rs(k1, 'k1')));
      await expectAccepted(at('rsa'), bearer(await rs(k2, 'k2')));
      await expectAccepted(at('rsa'), bearer(await rs(k2, undefined)));
      const R = (m: string) => invalidToken(m, undefined);
      const m = `No signing key matches the token's key id (kid "k3"). ${DENIED}`;
      await expectRefused(at('rsa'), bearer(await rs(k1, 'k3')), { reason: 'TokenSignatureKeyNotFound', message: m, challenge: R(m) });
      const m2 = `The signature is invalid. ${DENIED}`;
      await expectRefused(at('rsa'), bearer(await rs(k2, 'k1')), { reason: 'TokenSignatureInvalid', message: m2, challenge: R(m2) });
      await expectRefused(at('rsa'), bearer(await rs(await newSigningKey('x'), undefined)), { reason: 'TokenSignatureInvalid', message: m2, challenge: R(m2) });
    });

    it('issuer-signing-keys with certificate-id (a config certificate)', async (t) => {
      if (certSkip) return t.skip(certSkip);
      const c = { sub: 'svc', aud: resourceOf('cert'), exp: nowSec() + 300 };
      await expectAccepted(at('cert'), bearer(await new SignJWT(c).setProtectedHeader({ alg: 'RS256' }).sign(certKey!)));
      const m = `The signature is invalid. ${DENIED}`;
      await expectRefused(at('cert'), bearer(await new SignJWT(c).setProtectedHeader({ alg: 'RS256' }).sign(k1.privateKey)), { reason: 'TokenSignatureInvalid', message: m, challenge: invalidToken(m, undefined) });
    });

    it('decryption-keys: a nested JWT (JWE around a JWS) is accepted; the wrong key or an unsigned inside is refused', async () => {
      const inner = await new SignJWT({ sub: 'svc', aud: resourceOf('jwe'), exp: nowSec() + 300 }).setProtectedHeader({ alg: 'RS256' }).sign(k1.privateKey);
      const enc = (plain: string, alg: 'dir' | 'A256KW', key: Uint8Array) => new CompactEncrypt(new TextEncoder().encode(plain)).setProtectedHeader({ alg, enc: 'A256GCM', cty: 'JWT' }).encrypt(key);
      await expectAccepted(at('jwe'), bearer(await enc(inner, 'dir', jweKey)));
      await expectAccepted(at('jwe'), bearer(await enc(inner, 'A256KW', jweKey)));
      const J = (m: string) => invalidToken(m, undefined);
      const m = 'The token could not be decrypted with any of the decryption keys';
      await expectRefused(at('jwe'), bearer(await enc(inner, 'A256KW', randomBytes(32))), { reason: 'JwtInvalid', message: m, challenge: J(m) });
      await expectRefused(at('jwe'), bearer(await enc(inner, 'dir', randomBytes(32))), { reason: 'JwtInvalid', message: m, challenge: J(m) });
      const m2 = `The decrypted token is not signed. ${DENIED}`;
      await expectRefused(at('jwe'), bearer(await enc(JSON.stringify({ sub: 'svc', aud: resourceOf('jwe'), exp: nowSec() + 300 }), 'dir', jweKey)), { reason: 'TokenSignatureInvalid', message: m2, challenge: J(m2) });
      const forged = await new SignJWT({ sub: 'svc', aud: resourceOf('jwe'), exp: nowSec() + 300 }).setProtectedHeader({ alg: 'RS256' }).sign(k2.privateKey);
      const m3 = `The signature is invalid. ${DENIED}`;
      await expectRefused(at('jwe'), bearer(await enc(forged, 'dir', jweKey)), { reason: 'TokenSignatureInvalid', message: m3, challenge: J(m3) });
    });

    it('required-claims: match all / any / separator; missing → TokenClaimNotFound; wrong value → TokenClaimValueNotAllowed', async () => {
      const good = { roles: ['reader', 'writer', 'other'], groups: 'logistics', scp: 'mcp.read profile mcp.call', tenant: 't1' };
      await expectAccepted(at('claims'), bearer(await token('claims', good)));
      await expectAccepted(at('claims'), bearer(await token('claims', { ...good, groups: ['hr', 'finance'] })));
      const C = (m: string) => invalidToken(m, metadataOf('claims'));
      const refuse = async (extra: Record<string, unknown>, reason: string, message: string) =>
        expectRefused(at('claims'), bearer(await token('claims', extra)), { reason, message, challenge: C(message) });
      const only = (drop: string[]) => Object.fromEntries(Object.entries(good).filter(([k]) => !drop.includes(k)));
      const c = claims('claims', only(['roles', 'tenant']));
      await expectRefused(at('claims'), bearer(await idp.sign(c)), { reason: 'TokenClaimNotFound', message: 'JWT token is missing the following claims: roles, tenant. Access denied.', challenge: C('JWT token is missing the following claims: roles, tenant. Access denied.') });
      await expectRefused(at('claims'), bearer(await idp.sign(claims('claims', only(['scp'])))), { reason: 'TokenClaimNotFound', message: 'JWT token is missing the following claims: scp. Access denied.', challenge: C('JWT token is missing the following claims: scp. Access denied.') });
      await refuse({ ...good, roles: ['reader'] }, 'TokenClaimValueNotAllowed', 'Claim roles value of reader is not allowed. Access denied.');
      await refuse({ ...good, groups: ['hr'] }, 'TokenClaimValueNotAllowed', 'Claim groups value of hr is not allowed. Access denied.');
      await refuse({ ...good, scp: 'mcp.read profile' }, 'TokenClaimValueNotAllowed', 'Claim scp value of mcp.read profile is not allowed. Access denied.');
      await refuse({ ...good, tenant: 't2' }, 'TokenClaimValueNotAllowed', 'Claim tenant value of t2 is not allowed. Access denied.');
      await refuse({ ...good, tenant: { id: 't1' } }, 'TokenClaimValueNotAllowed', 'Claim tenant value of (a object) is not allowed. Access denied.');
    });
  });

  describe('load errors', () => {
    it('an unknown certificate-id or a short symmetric key stops the start', async () => {
      await assert.rejects(
        startGateway({ gateway: { publicUrl: PUBLIC }, servers: [{ name: 'x', type: 'passthrough', backend: { url: backend.url }, policies: policy('<validate-jwt header-name="Authorization"><issuer-signing-keys><key certificate-id="nope" /></issuer-signing-keys></validate-jwt>') }] }),
        /certificate "nope" is not declared/,
      );
      await assert.rejects(
        startGateway({ gateway: { publicUrl: PUBLIC }, servers: [{ name: 'x', type: 'passthrough', backend: { url: backend.url }, policies: policy(`<validate-jwt header-name="Authorization"><issuer-signing-keys><key>${Buffer.alloc(8).toString('base64')}</key></issuer-signing-keys></validate-jwt>`) }] }),
        /the key is 8 bytes long; at least 16 bytes/,
      );
    });
  });
});

// -------------------------------------------------------------------------------------------------

describe('openid-config keys: rotation and outages (test clock)', () => {
  const MIN = 60_000;

  it('a new kid is fetched at most once per 5 minutes; then accepted; the hourly refresh runs in the background', async () => {
    const idp = await startJwksServer({ kids: ['r1'] });
    let clock = Date.now();
    const gw = await startGateway(
      { gateway: { publicUrl: PUBLIC }, servers: [{ name: 'rot', type: 'passthrough', backend: { url: backend.url }, policies: policy(`<validate-jwt header-name="Authorization"><openid-config url="${idp.discoveryUrl}" /></validate-jwt>`) }] },
      { openid: { now: () => clock } },
    );
    try {
      const url = `${gw.url}/rot/mcp`;
      const tok = (key?: SigningKey) => idp.sign({ iss: idp.issuer, aud: resourceOf('rot'), sub: 'a', exp: nowSec() + 300 }, key);
      await expectAccepted(url, bearer(await tok()));
      assert.deepEqual(idp.hits, { discovery: 1, jwks: 1 }, 'the start prefetched once');

      const r2 = await idp.addKey('r2');
      const m = `No signing key matches the token's key id (kid "r2"). ${DENIED}`;
      const refusedR2 = { reason: 'TokenSignatureKeyNotFound', message: m, challenge: invalidToken(m, metadataOf('rot')) };
      for (let i = 0; i < 3; i++) await expectRefused(url, bearer(await tok(r2)), refusedR2);
      assert.deepEqual(idp.hits, { discovery: 1, jwks: 1 }, 'no refetch within 5 minutes of the last one');
      clock += 5 * MIN - 1000;
      await expectRefused(url, bearer(await tok(r2)), refusedR2);
      assert.deepEqual(idp.hits, { discovery: 1, jwks: 1 });

      clock += 1000;
      const accepted = await tok(r2);
      await expectAccepted(url, bearer(accepted));
      assert.deepEqual(idp.hits, { discovery: 2, jwks: 2 }, 'one refetch');
      await expectAccepted(url, bearer(await tok(r2)));
      await expectAccepted(url, bearer(await tok(idp.keys[0])));
      // another unknown kid right after: the bound holds again
      const stranger = await newSigningKey('r9');
      const m9 = `No signing key matches the token's key id (kid "r9"). ${DENIED}`;
      await expectRefused(url, bearer(await tok(stranger)), { reason: 'TokenSignatureKeyNotFound', message: m9, challenge: invalidToken(m9, metadataOf('rot')) });
      assert.deepEqual(idp.hits, { discovery: 2, jwks: 2 });

      // an hour later the cached set is still served while it is refreshed in the background
      clock += 61 * MIN;
      await expectAccepted(url, bearer(await tok(r2)));
      for (let i = 0; i < 100 && idp.hits.jwks < 3; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(idp.hits, { discovery: 3, jwks: 3 });
    } finally {
      await gw.close();
      await idp.close();
    }
  });

  it('discovery / JWKS down at first use: 401 TokenSignatureKeyNotFound quickly (503, JWKS 503, reset, hang past the deadline, refused port); recovery after 5 minutes', async () => {
    const down503 = await startJwksServer({ kids: ['d1'], mode: '503' });
    const reset = await startJwksServer({ kids: ['d2'], mode: 'reset' });
    const jwksDown = await startJwksServer({ kids: ['d3'], mode: 'jwks-503' });
    const hang = await startJwksServer({ kids: ['d4'], mode: 'hang' });
    const closedPort = await freePort();
    let clock = Date.now();
    const vj = (u: string) => policy(`<validate-jwt header-name="Authorization"><openid-config url="${u}" /></validate-jwt>`);
    const gw = await startGateway(
      {
        gateway: { publicUrl: PUBLIC },
        servers: [
          { name: 'd503', type: 'passthrough', backend: { url: backend.url }, policies: vj(down503.discoveryUrl) },
          { name: 'dreset', type: 'passthrough', backend: { url: backend.url }, policies: vj(reset.discoveryUrl) },
          { name: 'djwks', type: 'passthrough', backend: { url: backend.url }, policies: vj(jwksDown.discoveryUrl) },
          { name: 'dhang', type: 'passthrough', backend: { url: backend.url }, policies: vj(hang.discoveryUrl) },
          { name: 'dgone', type: 'passthrough', backend: { url: backend.url }, policies: vj(`http://127.0.0.1:${closedPort}/.well-known/openid-configuration`) },
        ],
      },
      // a short fetch deadline, so that the hanging IdP is given up quickly (default 10 s)
      { openid: { now: () => clock, timeoutMs: 500 } },
    );
    try {
      const m = `The signing keys could not be retrieved from the OpenID configuration. ${DENIED}`;
      const cases: [string, JwksServer][] = [
        ['d503', down503],
        ['dreset', reset],
        ['djwks', jwksDown],
        ['dhang', hang],
        ['dgone', down503],
      ];
      for (const [name, idp] of cases) {
        const t0 = performance.now();
        const tok = await idp.sign({ iss: idp.issuer, aud: resourceOf(name), sub: 'a', exp: nowSec() + 300 });
        const r = await expectRefused(`${gw.url}/${name}/mcp`, bearer(tok), { reason: 'TokenSignatureKeyNotFound', message: m, challenge: invalidToken(m, metadataOf(name)) });
        assert.ok(r.ms < 2000 && performance.now() - t0 < 2000, `answered in ${Math.round(r.ms)} ms`);
      }
      assert.deepEqual(down503.hits, { discovery: 1, jwks: 0 });
      assert.deepEqual(reset.hits, { discovery: 1, jwks: 0 });
      assert.deepEqual(jwksDown.hits, { discovery: 1, jwks: 1 });
      assert.deepEqual(hang.hits, { discovery: 1, jwks: 0 });

      // back up: still refused (no fetch within 5 minutes of the failed one), then accepted
      down503.mode = 'up';
      const tok = await down503.sign({ iss: down503.issuer, aud: resourceOf('d503'), sub: 'a', exp: nowSec() + 300 });
      await expectRefused(`${gw.url}/d503/mcp`, bearer(tok), { reason: 'TokenSignatureKeyNotFound', message: m, challenge: invalidToken(m, metadataOf('d503')) });
      assert.deepEqual(down503.hits, { discovery: 1, jwks: 0 });
      clock += 5 * MIN;
      refusedTokens.delete(tok);
      await expectAccepted(`${gw.url}/d503/mcp`, bearer(tok));
      assert.deepEqual(down503.hits, { discovery: 2, jwks: 1 });
    } finally {
      await gw.close();
      await Promise.all([down503.close(), reset.close(), jwksDown.close(), hang.close()]);
    }
  });
});

// -------------------------------------------------------------------------------------------------

test('the backend never received an Authorization header, nor any refused token', () => {
  assert.ok(backend.requests.length > 10);
  for (const q of backend.requests) {
    assert.equal(q.headers.authorization, undefined, `${q.method} ${q.url}`);
    const seen = `${q.url}\n${JSON.stringify(q.headers)}\n${q.body ?? ''}`;
    for (const t of refusedTokens) if (t.length > 20) assert.ok(!seen.includes(t), `a refused token reached the backend: ${t.slice(0, 40)}…`);
  }
});
