import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startOpenIdProvider } from './fixtures/oidc-provider.js';

const RESOURCE = 'https://mcp.test/weather/mcp';

test('oidc-provider fixture: client-credentials JWTs, JWKS, rotation, outage', async () => {
  const op = await startOpenIdProvider({
    clients: [
      { clientId: 'agent-admin', clientSecret: 'admin-secret', scope: 'weather:read weather:write', claims: { roles: ['admin'] } },
      { clientId: 'agent-reader', clientSecret: 'reader-secret', scope: 'weather:read' },
    ],
    scopes: ['weather:read', 'weather:write'],
    accessTokenTtl: 120,
  });
  try {
    assert.match(op.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    const discovery = (await (await fetch(op.discoveryUrl)).json()) as Record<string, unknown>;
    assert.equal(discovery['issuer'], op.issuer);
    assert.equal(discovery['jwks_uri'], op.jwksUrl);
    assert.equal(op.hits.discovery, 1);

    const jwks = createRemoteJWKSet(new URL(op.jwksUrl), { cooldownDuration: 0 });
    const verify = (token: string) => jwtVerify(token, jwks, { issuer: op.issuer, audience: RESOURCE });

    const t1 = await op.token({ clientId: 'agent-admin', resource: RESOURCE, scope: 'weather:read weather:write' });
    const v1 = await verify(t1);
    assert.equal(v1.protectedHeader.alg, 'RS256');
    assert.equal(v1.protectedHeader.kid, op.kids[0]);
    assert.equal(v1.payload.sub, 'agent-admin');
    assert.equal(v1.payload['client_id'], 'agent-admin');
    assert.equal(v1.payload.aud, RESOURCE);
    assert.equal(v1.payload['scope'], 'weather:read weather:write');
    assert.deepEqual(v1.payload['roles'], ['admin']);
    assert.equal((v1.payload.exp ?? 0) - (v1.payload.iat ?? 0), 120);
    const jwksHitsBefore = op.hits.jwks;
    assert.ok(jwksHitsBefore >= 1);

    // second client: no extra claims, scope limited to its allow list
    const r = await verify(await op.token({ clientId: 'agent-reader', resource: RESOURCE, scope: 'weather:read' }));
    assert.equal(r.payload.sub, 'agent-reader');
    assert.equal(r.payload['scope'], 'weather:read');
    assert.equal(r.payload['roles'], undefined);
    await assert.rejects(op.token({ clientId: 'agent-reader', resource: RESOURCE, scope: 'weather:write' }), /invalid_scope/);

    // rotation keeps the port, adds a new signing key, keeps the old one
    const oldKid = v1.protectedHeader.kid;
    await op.rotateKey();
    assert.equal(op.kids.length, 2);
    assert.equal(op.kids[1], oldKid);
    const t2 = await op.token({ clientId: 'agent-admin', resource: RESOURCE, scope: 'weather:read' });
    const kid2 = decodeProtectedHeader(t2).kid;
    assert.ok(kid2);
    assert.notEqual(kid2, oldKid);
    assert.equal(kid2, op.kids[0]);
    const v2 = await verify(t2); // unknown kid → jose refetches the JWKS
    assert.equal(v2.payload['scope'], 'weather:read');
    assert.ok(op.hits.jwks > jwksHitsBefore);
    await verify(t1); // old key still served
    const served = (await (await fetch(op.jwksUrl)).json()) as { keys: Array<{ kid: string; d?: string }> };
    assert.deepEqual(served.keys.map((k) => k.kid), [...op.kids]);
    assert.ok(served.keys.every((k) => k.d === undefined), 'JWKS must only contain public keys');

    // outage: discovery + JWKS 503, tokens still issued
    op.setDown(true);
    const jwksHits = op.hits.jwks;
    assert.equal((await fetch(op.jwksUrl)).status, 503);
    assert.equal((await fetch(op.discoveryUrl)).status, 503);
    assert.equal(op.hits.jwks, jwksHits + 1);
    await op.token({ clientId: 'agent-admin', resource: RESOURCE });
    op.setDown(false);
    assert.equal((await fetch(op.jwksUrl)).status, 200);
  } finally {
    await op.close();
  }
});
