/**
 * Client ID Metadata Documents and SSRF (MCP security best practices §SSRF; checklist 30): with the
 * gateway's defaults, a client_id URL that points at loopback or a private range, or that is not
 * https, is refused at /authorize with a 400 page (never a redirect) and never fetched.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { configFromObject } from '../src/config/load.js';
import { createGateway, type Gateway } from '../src/gateway.js';
import { createLogger } from '../src/observability/logger.js';
import { SecretBox } from '../src/secrets/secret-box.js';

describe('AS facade: client metadata documents cannot reach internal addresses', () => {
  let gw: Gateway;
  let base: string;
  let docServer: http.Server;
  let docHits = 0;
  let docPort = 0;

  before(async () => {
    docServer = http.createServer((_req, res) => {
      docHits++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((r) => docServer.listen(0, '127.0.0.1', r));
    docPort = (docServer.address() as AddressInfo).port;
    const config = await configFromObject(
      {
        store: 'sqlite::memory:',
        gateway: { listen: '127.0.0.1:0', publicUrl: 'http://127.0.0.1:1' },
        servers: [{ name: 'files', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, resourceMetadata: { scopes: ['files:read'] } }],
        authorization: { upstream: { issuer: 'http://127.0.0.1:9', clientId: 'gw', clientSecret: 's' } },
      },
      { baseDir: process.cwd(), env: {} },
    );
    // the defaults: no loopback metadata documents
    gw = await createGateway(config, { logger: createLogger({ level: 'silent' }), secretBox: new SecretBox({ current: randomBytes(32) }), env: {} });
    base = (await gw.listen(0, '127.0.0.1')).url;
  });

  after(async () => {
    await gw?.close();
    await new Promise<void>((r) => docServer.close(() => r()));
  });

  const authorize = (clientId: string) => {
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: 'http://127.0.0.1:7/cb',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
      state: 's',
      resource: 'http://127.0.0.1:1/files/mcp',
    });
    return fetch(`${base}/authorize?${q}`, { redirect: 'manual' });
  };

  it('refuses loopback, private, link-local and plain-http client_id URLs without fetching them', async () => {
    for (const clientId of [
      `https://127.0.0.1:${docPort}/client.json`,
      `https://localhost:${docPort}/client.json`,
      'https://10.1.2.3/client.json',
      'https://192.168.0.10/client.json',
      'https://169.254.169.254/latest/meta-data',
      `http://127.0.0.1:${docPort}/client.json`,
    ]) {
      const t0 = performance.now();
      const r = await authorize(clientId);
      assert.equal(r.status, 400, clientId);
      assert.equal(r.headers.get('location'), null, `${clientId}: no redirect`);
      assert.ok(performance.now() - t0 < 3000, `${clientId}: refused without waiting on the network`);
    }
    assert.equal(docHits, 0, 'nothing was fetched');
  });
});
