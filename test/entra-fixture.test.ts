import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { startEntraAuthority } from './fixtures/entra-authority.js';
import type { EntraAuthority } from './fixtures/entra-authority.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const DOMAIN = 'contoso.onmicrosoft.com';
const CLIENT = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const API_V2 = '6e2a1f4c-0d1b-4e7a-9c3f-8b5d2a7e1f90';
const API_V1 = 'api://gatehouse-test';

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('Entra authority fixture', () => {
  let entra: EntraAuthority;
  before(async () => {
    entra = await startEntraAuthority({ tenantId: TENANT, tenantDomain: DOMAIN });
  });
  after(async () => {
    await entra.close();
  });

  it('exposes the tenant and issuers', () => {
    assert.match(entra.authority, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(entra.tenantId, TENANT);
    assert.equal(entra.tenantDomain, DOMAIN);
    assert.equal(entra.v2Issuer, `${entra.authority}/${TENANT}/v2.0`);
    assert.equal(entra.v1Issuer, `https://sts.windows.net/${TENANT}/`);
  });

  it('serves v2 and v1 discovery by GUID and by domain, always naming the GUID', async () => {
    for (const tenant of [TENANT, DOMAIN, DOMAIN.toUpperCase()]) {
      const v2 = await getJson(`${entra.authority}/${tenant}/v2.0/.well-known/openid-configuration`);
      assert.equal(v2.status, 200);
      assert.equal(v2.body.issuer, entra.v2Issuer);
      assert.equal(v2.body.jwks_uri, `${entra.authority}/${TENANT}/discovery/v2.0/keys`);
      assert.equal(v2.body.token_endpoint, `${entra.authority}/${TENANT}/oauth2/v2.0/token`);
      assert.equal(v2.body.authorization_endpoint, `${entra.authority}/${TENANT}/oauth2/v2.0/authorize`);
      assert.deepEqual(v2.body.id_token_signing_alg_values_supported, ['RS256']);

      const v1 = await getJson(`${entra.authority}/${tenant}/.well-known/openid-configuration`);
      assert.equal(v1.status, 200);
      assert.equal(v1.body.issuer, `https://sts.windows.net/${TENANT}/`);
      assert.equal(v1.body.jwks_uri, `${entra.authority}/${TENANT}/discovery/keys`);
      assert.equal(v1.body.token_endpoint, `${entra.authority}/${TENANT}/oauth2/token`);
    }
    const common = await getJson(`${entra.authority}/common/v2.0/.well-known/openid-configuration`);
    assert.equal(common.body.issuer, `${entra.authority}/{tenantid}/v2.0`);
    assert.equal(common.body.jwks_uri, `${entra.authority}/common/discovery/v2.0/keys`);
  });

  it('serves the same Entra-shaped RSA keys on both JWKS endpoints, by GUID and by domain', async () => {
    const v2 = await getJson(`${entra.authority}/${TENANT}/discovery/v2.0/keys`);
    const v1 = await getJson(`${entra.authority}/${DOMAIN}/discovery/keys`);
    assert.equal(v2.status, 200);
    assert.equal(v1.status, 200);
    const [k2] = v2.body.keys as Record<string, unknown>[];
    const [k1] = v1.body.keys as Record<string, unknown>[];
    assert.ok(k1 && k2);
    assert.equal(k1.kty, 'RSA');
    assert.equal(k1.use, 'sig');
    assert.equal(typeof k1.kid, 'string');
    assert.equal(k1.x5t, k1.kid);
    assert.equal(k1.e, 'AQAB');
    assert.equal(typeof k1.n, 'string');
    assert.equal('alg' in k1, false);
    for (const f of ['kty', 'use', 'kid', 'x5t', 'n', 'e']) assert.equal(k2[f], k1[f], f);
    assert.equal(k2.issuer, entra.v2Issuer);
  });

  it('mints a v2 access token that verifies against the v2 issuer and JWKS', async () => {
    const disco = await getJson(`${entra.authority}/${DOMAIN}/v2.0/.well-known/openid-configuration`);
    const jwks = createRemoteJWKSet(new URL(disco.body.jwks_uri as string));
    const token = await entra.token({ version: 2, aud: API_V2, clientAppId: CLIENT, claims: { scp: 'tools.read tools.call' } });
    const header = decodeProtectedHeader(token);
    assert.equal(header.typ, 'JWT');
    assert.equal(header.alg, 'RS256');
    assert.equal(typeof header.kid, 'string');
    assert.equal(header.x5t, header.kid);
    const { payload } = await jwtVerify(token, jwks, { issuer: disco.body.issuer as string, audience: API_V2, algorithms: ['RS256'] });
    assert.equal(payload.iss, entra.v2Issuer);
    assert.equal(payload.aud, API_V2);
    assert.equal(payload.azp, CLIENT);
    assert.equal(payload.azpacr, '1');
    assert.equal(payload.ver, '2.0');
    assert.equal(payload.tid, TENANT);
    assert.equal(payload.scp, 'tools.read tools.call');
    assert.equal(typeof payload.oid, 'string');
    assert.equal(typeof payload.sub, 'string');
    assert.equal('appid' in payload, false);
    assert.equal(payload.nbf, payload.iat);
    assert.equal(payload.exp, (payload.iat as number) + 600);
    // a v2 token is not a v1 token
    await assert.rejects(jwtVerify(token, jwks, { issuer: entra.v1Issuer, audience: API_V2 }), errors.JWTClaimValidationFailed);
  });

  it('mints a v1 access token that verifies against the sts.windows.net issuer and v1 JWKS', async () => {
    const disco = await getJson(`${entra.authority}/${TENANT}/.well-known/openid-configuration`);
    const jwks = createRemoteJWKSet(new URL(disco.body.jwks_uri as string));
    const token = await entra.token({ version: 1, aud: API_V1, clientAppId: CLIENT, claims: { roles: ['Tools.Invoke'] } });
    const { payload } = await jwtVerify(token, jwks, { issuer: entra.v1Issuer, audience: API_V1 });
    assert.equal(payload.iss, `https://sts.windows.net/${TENANT}/`);
    assert.equal(payload.appid, CLIENT);
    assert.equal(payload.appidacr, '1');
    assert.equal(payload.ver, '1.0');
    assert.equal(payload.tid, TENANT);
    assert.deepEqual(payload.roles, ['Tools.Invoke']);
    assert.equal('scp' in payload, false); // app-only
    assert.equal(payload.sub, payload.oid);
    assert.equal('azp' in payload, false);
  });

  it('rejects a token signed with the unpublished foreign key', async () => {
    const jwks = createRemoteJWKSet(new URL(`${entra.authority}/${TENANT}/discovery/v2.0/keys`));
    const good = await entra.token({ version: 2, aud: API_V2, clientAppId: CLIENT });
    await jwtVerify(good, jwks, { issuer: entra.v2Issuer, audience: API_V2 });
    const forged = await entra.token({ version: 2, aud: API_V2, clientAppId: CLIENT, foreignKey: true });
    assert.notEqual(decodeProtectedHeader(forged).kid, decodeProtectedHeader(good).kid);
    await assert.rejects(jwtVerify(forged, jwks, { issuer: entra.v2Issuer, audience: API_V2 }), errors.JWKSNoMatchingKey);
  });

  it('honours expiresIn and claim overrides/removals', async () => {
    const jwks = createRemoteJWKSet(new URL(`${entra.authority}/${TENANT}/discovery/v2.0/keys`));
    const expired = await entra.token({ version: 2, aud: API_V2, clientAppId: CLIENT, expiresIn: -60 });
    await assert.rejects(jwtVerify(expired, jwks, { issuer: entra.v2Issuer, audience: API_V2 }), errors.JWTExpired);
    const other = await entra.token({ version: 2, aud: API_V2, clientAppId: CLIENT, claims: { iss: 'https://evil.example/v2.0', scp: undefined } });
    const { payload } = await jwtVerify(other, jwks, { audience: API_V2 });
    assert.equal(payload.iss, 'https://evil.example/v2.0');
    assert.equal('scp' in payload, false);
  });

  it('answers an unknown tenant with 400 invalid_tenant and anything else with 404', async () => {
    const bad = await getJson(`${entra.authority}/nope.onmicrosoft.com/v2.0/.well-known/openid-configuration`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'invalid_tenant');
    assert.match(bad.body.error_description as string, /^AADSTS90002: Tenant 'nope\.onmicrosoft\.com' not found/);
    assert.deepEqual(bad.body.error_codes, [90002]);
    const badKeys = await getJson(`${entra.authority}/00000000-0000-0000-0000-000000000000/discovery/keys`);
    assert.equal(badKeys.status, 400);
    assert.equal((await fetch(`${entra.authority}/${TENANT}/oauth2/v2.0/nothing`)).status, 404);
    assert.equal((await fetch(`${entra.authority}/`)).status, 404);
  });

  it('counts GETs per path', async () => {
    const path = `/${DOMAIN}/discovery/keys`;
    const before = entra.hits.get(path) ?? 0;
    await getJson(`${entra.authority}${path}?x=1`);
    await getJson(`${entra.authority}${path}`);
    assert.equal(entra.hits.get(path), before + 2);
  });
});
