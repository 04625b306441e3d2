/**
 * The official MCP conformance suite (server scenarios, spec 2025-11-25) through Gatehouse: in one
 * run, against the fixture directly and through the gateway in front of it. Every scenario that
 * passes directly must pass through the gateway (PRODUCT §6).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { runConformance, type ConformanceRunResult } from './helpers/conformance.js';
import { startGateway, type RunningGateway } from './helpers/gateway.js';

let fixture: EverythingServer;
let gw: RunningGateway;
let direct: ConformanceRunResult;
let through: ConformanceRunResult;
let evilSeenDirect = 0;
const evil = () => fixture.requests.filter((r) => r.headers.host === 'evil.example.com').length;

before(async () => {
  fixture = await startEverythingServer({ transport: 'streamable-http' });
  gw = await startGateway({ servers: [{ name: 'everything', type: 'passthrough', backend: { url: fixture.url } }] });
  direct = await runConformance(fixture.url, { suite: 'all', timeoutMs: 240_000 });
  evilSeenDirect = evil();
  through = await runConformance(`${gw.url}/everything/mcp`, { suite: 'all', timeoutMs: 240_000 });
});

after(async () => {
  await gw?.close();
  await fixture?.close();
});

test('every scenario that passes directly passes through Gatehouse', (t) => {
  t.diagnostic(`direct: ${direct.passed.length} passed, ${direct.failed.length} failed`);
  t.diagnostic(`through Gatehouse: ${through.passed.length} passed, ${through.failed.length} failed`);
  assert.ok(direct.passed.length >= 30, `direct run found too few scenarios:\n${direct.output.slice(-3000)}`);
  const lost = direct.passed.filter((s) => !through.passed.includes(s));
  assert.deepEqual(lost, [], `failing only through the gateway: ${JSON.stringify(Object.fromEntries(lost.map((s) => [s, through.failureReasons[s]])), null, 2)}`);
});

test('the DNS-rebinding probe is refused by the gateway itself', () => {
  assert.ok(through.passed.includes('dns-rebinding-protection'));
  assert.ok(evilSeenDirect > 0, 'the direct run sent the probe to the fixture');
  assert.equal(evil(), evilSeenDirect, 'no probe passed through the gateway to the backend');
});
