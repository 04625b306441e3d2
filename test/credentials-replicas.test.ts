/**
 * Two replicas sharing one store refresh the same authorization-code connection at the same moment,
 * against a provider that rotates refresh tokens: the one whose refresh loses (invalid_grant for the
 * already-used refresh token) takes the tokens the other stored instead of putting the connection
 * in `error`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { CredentialManager } from '../src/credentials/manager.js';
import { providerOf } from '../src/credentials/providers.js';
import { openStore } from '../src/store/open.js';
import { SecretBox, aadOf } from '../src/secrets/secret-box.js';

test('a refresh race between replicas ends with both using the winner\'s tokens', async () => {
  let current = 'rt-1';
  let issued = 0;
  const refreshes: string[] = [];
  const idp = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const rt = form.get('refresh_token') ?? '';
      refreshes.push(rt);
      const ok = rt === current;
      if (ok) {
        issued++;
        current = `rt-${issued + 1}`;
      }
      const answer = ok ? { access_token: `at-${issued + 1}`, refresh_token: current, token_type: 'Bearer', expires_in: 3600 } : { error: 'invalid_grant' };
      // the loser's answer comes after the winner has stored its tokens
      setTimeout(() => {
        res.writeHead(ok ? 200 : 400, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      }, ok ? 50 : 250);
    });
  });
  await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
  const tokenUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/token`;
  const file = `/tmp/gh-replicas-${process.pid}-${Date.now()}.db`;
  const storeA = await openStore(`sqlite:${file}`);
  const storeB = await openStore(`sqlite:${file}`);
  const box = new SecretBox({ current: randomBytes(32) });
  try {
    const raw = { name: 'idp', type: 'oauth2' as const, clientId: 'gw', clientSecret: 's', authorizationUrl: 'http://127.0.0.1:9/authorize', tokenUrl, connections: [{ name: 'shared', grant: 'authorization-code' as const }] };
    // a connected connection whose access token is inside the 3-minute refresh margin
    const id = 'idp/shared';
    await storeA.put('credential-connection', id, {
      status: 'connected',
      accessToken: box.seal('at-1', aadOf('credential-connection', id, 'accessToken')),
      refreshToken: box.seal('rt-1', aadOf('credential-connection', id, 'refreshToken')),
      expiresAt: Date.now() + 60_000,
      updatedAt: Date.now(),
    });
    const a = new CredentialManager([providerOf(raw)], storeA, box, { publicUrl: 'http://127.0.0.1:1' });
    const b = new CredentialManager([providerOf(raw)], storeB, box, { publicUrl: 'http://127.0.0.1:1' });
    const [ta, tb] = await Promise.all([a.authorize('idp', 'shared', { kind: 'managed' }), b.authorize('idp', 'shared', { kind: 'managed' })]);
    assert.deepEqual(refreshes, ['rt-1', 'rt-1'], 'both replicas tried to refresh with the same token');
    assert.equal(issued, 1, 'the provider rotated once');
    assert.equal(ta.accessToken, 'at-2');
    assert.equal(tb.accessToken, 'at-2', 'the loser uses the winner\'s token');
    const list = await b.list();
    assert.equal(list.find((c) => c.connection === 'shared')?.status, 'connected', 'the connection is not put in error');
  } finally {
    await storeA.close();
    await storeB.close();
    await new Promise<void>((r) => idp.close(() => r()));
    const { rmSync } = await import('node:fs');
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  }
});
