/**
 * The credential manager's per-connection budget (APIM: 250 requests a minute to a provider): a
 * storm of token needs — here, tokens that live one second, so every call needs a new one — is cut
 * at 250 token requests in a minute with BudgetExceeded, and the provider sees no more than that;
 * a minute later the connection works again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CredentialError, CredentialManager } from '../src/credentials/manager.js';
import { providerOf } from '../src/credentials/providers.js';
import { openStore } from '../src/store/open.js';

test('a connection calls its token endpoint at most 250 times a minute', async () => {
  let hits = 0;
  const idp = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: `t${hits}`, token_type: 'Bearer', expires_in: 1 }));
    });
  });
  await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
  const tokenUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/token`;
  const store = await openStore('sqlite::memory:');
  let clock = 1_000_000;
  try {
    const provider = providerOf({ name: 'idp', type: 'oauth2', clientId: 'gw', clientSecret: 's', tokenUrl, connections: [{ name: 'svc', grant: 'client-credentials' }] });
    const manager = new CredentialManager([provider], store, undefined, { publicUrl: 'http://127.0.0.1:1', now: () => clock });
    const seen = new Set<string>();
    for (let i = 0; i < 250; i++) {
      seen.add((await manager.authorize('idp', 'svc', { kind: 'managed' })).accessToken);
      clock += 100; // 25 s for all 250: inside one minute
    }
    assert.equal(hits, 250);
    assert.equal(seen.size, 250, 'each call needed a new token (1-second tokens are inside the 3-minute margin)');
    await assert.rejects(manager.authorize('idp', 'svc', { kind: 'managed' }), (err: unknown) => err instanceof CredentialError && err.code === 'BudgetExceeded' && /250 token requests a minute/.test(err.message));
    assert.equal(hits, 250, 'the refused request never reached the provider');
    clock += 60_000;
    assert.equal((await manager.authorize('idp', 'svc', { kind: 'managed' })).accessToken, 't251', 'a minute later the budget is back');
  } finally {
    await store.close();
    await new Promise<void>((r) => idp.close(() => r()));
  }
});
