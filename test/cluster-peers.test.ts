/**
 * Session affinity between workers (src/cluster/peers.ts) over real loopback HTTP: a request for a
 * session another worker owns is relayed to that worker's private listener, streaming both ways,
 * with the original client's address and without the cluster secret being visible to anything.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { clientAddress, isRelayed, Peers, PEER_SECRET_HEADER } from '../src/cluster/peers.js';
import { ownerOf, setWorkerIdentity, sessionIdSuffix } from '../src/cluster/role.js';
import { GatewayError } from '../src/errors/gateway-error.js';
import { newSessionId } from '../src/mcp/sessions.js';

const SECRET = 'x'.repeat(43);
const listen = (s: Server): Promise<number> => new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));

describe('worker identity and session ids', () => {
  after(() => setWorkerIdentity(undefined));
  it('a single process mints plain ids and owns nothing', () => {
    setWorkerIdentity(undefined);
    assert.match(newSessionId(), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(ownerOf(`${'A'.repeat(43)}.1`), undefined);
  });
  it('a worker tags its ids; only a valid worker index is an owner', () => {
    setWorkerIdentity({ index: 1, count: 3 });
    assert.equal(sessionIdSuffix(), '.1');
    const id = newSessionId();
    assert.match(id, /^[A-Za-z0-9_-]{43}\.1$/);
    assert.equal(ownerOf(id), 1);
    assert.equal(ownerOf(`${'A'.repeat(43)}.2`), 2);
    for (const bad of [`${'A'.repeat(43)}.3`, `${'A'.repeat(43)}.99`, `${'A'.repeat(43)}.-1`, `${'A'.repeat(43)}.1x`, 'A'.repeat(43), `${'A'.repeat(43)}.`, `${'A'.repeat(43)}.0001`]) {
      assert.equal(ownerOf(bad), undefined, bad);
    }
  });
});

describe('relaying to the owning worker', () => {
  let owner: Peers;
  let front: Peers;
  let frontServer: Server;
  let frontUrl: string;
  let ownerPort: number;
  const seen: Array<{ headers: IncomingMessage['headers']; raw: string[]; client: string; relayed: boolean; body: string }> = [];

  before(async () => {
    setWorkerIdentity({ index: 0, count: 2 });
    owner = new Peers(1, SECRET);
    ownerPort = await owner.listen((req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/again') {
        // the owner asked to relay a request that was itself relayed: it must decline (no loops)
        void front.relay(req.headers['mcp-session-id'] as string, req, res).then((relayed) => { if (!relayed) res.writeHead(298).end('declined'); });
        return;
      }
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => {
        seen.push({ headers: req.headers, raw: [...req.rawHeaders], client: clientAddress(req), relayed: isRelayed(req), body });
        if (req.url?.startsWith('/stream')) {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'x-owner': '1' });
          res.write('data: first\n\n');
          // the second event only after the client has seen the first (proves streaming, no buffering)
          req.socket.once('data', () => undefined);
          setTimeout(() => res.end('data: second\n\n'), 300);
          return;
        }
        res.writeHead(201, { 'content-type': 'application/json', 'x-owner': '1' }).end(JSON.stringify({ got: body }));
      });
    });
    front = new Peers(0, SECRET);
    front.setPorts([0, ownerPort]);
    frontServer = createServer((req, res) => {
      const sid = req.headers['mcp-session-id'] as string;
      front.relay(sid, req, res).then(
        (relayed) => { if (!relayed) res.writeHead(299).end('local'); },
        (err: unknown) => res.writeHead(err instanceof GatewayError ? err.status : 500).end(err instanceof GatewayError ? err.code : String(err)),
      );
    });
    frontUrl = `http://127.0.0.1:${await listen(frontServer)}`;
  });
  after(async () => {
    setWorkerIdentity(undefined);
    await front.close();
    await owner.close();
    frontServer.close();
  });

  it('relays a POST with its body and headers; the owner sees the client address, never the secret', async () => {
    seen.length = 0;
    const r = await fetch(`${frontUrl}/s/mcp?x=1`, { method: 'POST', headers: { 'mcp-session-id': `${'A'.repeat(43)}.1`, 'content-type': 'application/json', 'x-custom': 'kept', authorization: 'Bearer t' }, body: '{"jsonrpc":"2.0"}' });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('x-owner'), '1');
    assert.deepEqual(await r.json(), { got: '{"jsonrpc":"2.0"}' });
    const s = seen[0]!;
    assert.equal(s.relayed, true);
    assert.equal(s.client, '127.0.0.1');
    assert.equal(s.headers['x-custom'], 'kept');
    assert.equal(s.headers.authorization, 'Bearer t');
    assert.equal(s.headers[PEER_SECRET_HEADER], undefined);
    assert.ok(!s.raw.join('\n').includes(SECRET), 'the secret is not in the raw headers');
    assert.ok(!Object.values(s.headers).join('\n').includes(SECRET));
  });

  it('a client cannot pose as a relaying worker: forged peer headers are replaced, never believed', async () => {
    seen.length = 0;
    const r = await fetch(`${frontUrl}/s/mcp`, { method: 'POST', headers: { 'mcp-session-id': `${'A'.repeat(43)}.1`, [PEER_SECRET_HEADER]: 'guess', 'x-gatehouse-peer-client': '10.9.9.9' }, body: '{}' });
    assert.equal(r.status, 201);
    await r.text();
    assert.equal(seen[0]!.client, '127.0.0.1', 'the real client address, not the forged one');
    assert.ok(!seen[0]!.raw.some((v) => v === 'guess' || v === '10.9.9.9'), 'the forged values did not travel');
    // on the public listener a forged header is just a header: the address is the socket's
    const direct = { headers: { 'x-gatehouse-peer-client': '10.9.9.9' }, socket: { remoteAddress: '192.0.2.1' } } as unknown as IncomingMessage;
    assert.equal(clientAddress(direct), '192.0.2.1');
    assert.equal(isRelayed(direct), false);
  });

  it('keeps repeated headers (two Authorization headers stay two)', async () => {
    seen.length = 0;
    const { request } = await import('undici');
    const r = await request(`${frontUrl}/s/mcp`, { method: 'POST', headers: ['mcp-session-id', `${'A'.repeat(43)}.1`, 'authorization', 'Bearer a', 'authorization', 'Bearer b'], body: '{}' });
    await r.body.text();
    assert.equal(r.statusCode, 201);
    const auth = seen[0]!.raw.filter((_, i, a) => i % 2 === 1 && a[i - 1]!.toLowerCase() === 'authorization');
    assert.deepEqual(auth, ['Bearer a', 'Bearer b']);
  });

  it('streams an SSE answer through as it comes', async () => {
    const t0 = Date.now();
    const r = await fetch(`${frontUrl}/stream`, { method: 'GET', headers: { 'mcp-session-id': `${'B'.repeat(43)}.1` } });
    assert.equal(r.headers.get('content-type'), 'text/event-stream');
    const reader = r.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /data: first/);
    assert.ok(Date.now() - t0 < 280, 'the first event arrived before the owner ended the stream');
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    assert.match(rest, /data: second/);
  });

  it('serves locally what is its own, untagged, or owned by no worker', async () => {
    for (const sid of [`${'A'.repeat(43)}.0`, 'A'.repeat(43), `${'A'.repeat(43)}.7`]) {
      const r = await fetch(`${frontUrl}/s/mcp`, { method: 'POST', headers: { 'mcp-session-id': sid }, body: '{}' });
      assert.equal(r.status, 299, sid);
      assert.equal(await r.text(), 'local');
    }
  });

  it('an owner that is unreachable means the session is gone (404), a restarting one (port 0) is served locally', async () => {
    const dead = createServer();
    const deadPort = await listen(dead);
    await new Promise<void>((r) => dead.close(() => r()));
    front.setPorts([0, deadPort]);
    try {
      const r = await fetch(`${frontUrl}/s/mcp`, { method: 'POST', headers: { 'mcp-session-id': `${'A'.repeat(43)}.1` }, body: '{}' });
      assert.equal(r.status, 404);
      assert.equal(await r.text(), 'GW_ERR_SESSION_NOT_FOUND');
      front.setPorts([0, 0]);
      const local = await fetch(`${frontUrl}/s/mcp`, { method: 'POST', headers: { 'mcp-session-id': `${'A'.repeat(43)}.1` }, body: '{}' });
      assert.equal(local.status, 299);
      await local.text();
    } finally {
      front.setPorts([0, ownerPort]);
    }
  });

  it('the private listener refuses requests without the secret, with a wrong one, or a longer one', async () => {
    for (const headers of [{}, { [PEER_SECRET_HEADER]: 'wrong' }, { [PEER_SECRET_HEADER]: SECRET + 'x' }, { [PEER_SECRET_HEADER]: '' }] as Record<string, string>[]) {
      seen.length = 0;
      const r = await fetch(`http://127.0.0.1:${ownerPort}/s/mcp`, { method: 'POST', headers, body: '{}' });
      assert.equal(r.status, 403);
      assert.equal(seen.length, 0, 'nothing reached the handler');
      await r.text();
    }
  });

  it('a relayed request is never relayed again', async () => {
    const r = await fetch(`${frontUrl}/again`, { method: 'POST', headers: { 'mcp-session-id': `${'A'.repeat(43)}.1` }, body: '{}' });
    assert.equal(r.status, 298);
    assert.equal(await r.text(), 'declined');
    const direct = { headers: {}, socket: { remoteAddress: '10.0.0.9' } } as unknown as IncomingMessage;
    assert.equal(isRelayed(direct), false);
    assert.equal(clientAddress(direct), '10.0.0.9');
  });
});
