/**
 * Runs the official MCP conformance suite (0.1.16, server mode, spec 2025-11-25, all scenarios incl.
 * pending) directly against the everything-server fixture. This is the baseline the gateway's
 * through-gateway conformance run is compared with. Also checks the fixture's gateway-test extras
 * (echo, slow, stream_events, headers, …) over both transports.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startEverythingServer } from './fixtures/everything-server.js';
import type { EverythingServer } from './fixtures/everything-server.js';
import { runConformance } from './helpers/conformance.js';
import type { ConformanceRunResult } from './helpers/conformance.js';

const CORE_SCENARIOS = [
  'server-initialize',
  'tools-list',
  'tools-call-simple-text',
  'tools-call-with-progress',
  'tools-call-sampling',
  'tools-call-elicitation',
  'resources-read-text',
  'prompts-get-simple',
  'logging-set-level',
  'ping',
  'completion-complete',
  'dns-rebinding-protection',
];

let fixture: EverythingServer;
let result: ConformanceRunResult;

before(async () => {
  fixture = await startEverythingServer({ transport: 'streamable-http' });
  result = await runConformance(fixture.url, { suite: 'all', timeoutMs: 240_000 });
});

after(async () => {
  await fixture?.close();
});

test('conformance suite runs against the fixture and reports every scenario', (t) => {
  t.diagnostic(`conformance run took ${result.durationMs} ms, exit code ${result.exitCode}`);
  t.diagnostic(`passed (${result.passed.length}): ${result.passed.join(', ')}`);
  t.diagnostic(`failed (${result.failed.length}): ${result.failed.join(', ') || '-'}`);
  for (const [name, reason] of Object.entries(result.failureReasons)) t.diagnostic(`  ${name}: ${reason}`);
  t.diagnostic(`with warnings: ${result.warnings.join(', ') || '-'}`);
  assert.ok(result.passed.length + result.failed.length >= 30, `expected >= 30 scenarios, output:\n${result.output.slice(-4000)}`);
});

test('core scenarios pass directly against the fixture', () => {
  const missing = CORE_SCENARIOS.filter((s) => !result.passed.includes(s));
  assert.deepEqual(
    missing,
    [],
    `core scenarios not passing: ${missing.map((m) => `${m} (${result.failureReasons[m] ?? '?'})`).join('; ')}`,
  );
});

test('every scenario of the 2025-11-25 suite passes directly against the fixture', () => {
  assert.deepEqual(result.failed, [], JSON.stringify(result.failureReasons, null, 2));
  assert.equal(result.exitCode, 0);
});

test('the fixture saw the DNS-rebinding probe and rejected it', () => {
  const evil = fixture.requests.filter((r) => r.headers.host === 'evil.example.com');
  assert.ok(evil.length >= 1, 'no request with Host: evil.example.com reached the fixture');
});

// ---------------------------------------------------------------------------------------------
// The fixture's own extras (used by the gateway tests), checked directly so failures there are not
// mistaken for gateway bugs.

async function connect(url: string, transport: 'streamable-http' | 'sse', headers: Record<string, string> = {}) {
  const client = new Client({ name: 'fixture-test', version: '1.0.0' });
  const requestInit = { headers };
  await client.connect(
    transport === 'sse'
      ? new SSEClientTransport(new URL(url), { requestInit })
      : new StreamableHTTPClientTransport(new URL(url), { requestInit }),
  );
  return client;
}

function textOf(result: unknown): string {
  const content = (result as CallToolResult).content;
  const first = content[0];
  assert.ok(first && first.type === 'text', JSON.stringify(content));
  return first.text;
}

for (const transport of ['streamable-http', 'sse'] as const) {
  describe(`everything fixture extras over ${transport}`, () => {
    let server: EverythingServer;
    let client: Client;
    before(async () => {
      server = await startEverythingServer({ transport });
      client = await connect(server.url, transport, { 'x-fixture-probe': 'yes' });
    });
    after(async () => {
      await client?.close();
      await server?.close();
    });

    test('URL shape', () => {
      assert.match(server.url, transport === 'sse' ? /^http:\/\/127\.0\.0\.1:\d+\/sse$/ : /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    });

    test('every tool has a description and an input schema; extras are listed', async () => {
      const { tools } = await client.listTools();
      for (const t of tools) assert.ok(t.description && t.inputSchema, t.name);
      const names = tools.map((t) => t.name);
      for (const n of ['echo', 'slow', 'stream_events', 'admin_reset', 'headers', 'test_simple_text', 'json_schema_2020_12_tool']) {
        assert.ok(names.includes(n), `${n} missing`);
      }
      const raw = tools.find((t) => t.name === 'json_schema_2020_12_tool')?.inputSchema as Record<string, unknown>;
      assert.equal(raw['$schema'], 'https://json-schema.org/draft/2020-12/schema');
      assert.equal(raw['additionalProperties'], false);
    });

    test('echo and admin_reset', async () => {
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'ping ✓' } })), 'ping ✓');
      assert.equal(textOf(await client.callTool({ name: 'admin_reset', arguments: {} })), 'reset done');
    });

    test('headers returns the HTTP headers of the tools/call request', async () => {
      const headers = JSON.parse(textOf(await client.callTool({ name: 'headers', arguments: {} }))) as Record<string, string>;
      assert.equal(headers['x-fixture-probe'], 'yes');
      assert.match(headers['host'] ?? '', /^127\.0\.0\.1:\d+$/);
    });

    test('stream_events sends count progress notifications and log messages', async () => {
      const progress: number[] = [];
      const logs: unknown[] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
        logs.push(n.params.data);
      });
      const result = await client.request(
        { method: 'tools/call', params: { name: 'stream_events', arguments: { count: 4, delayMs: 5 }, _meta: { progressToken: 'se-1' } } },
        CallToolResultSchema,
        { onprogress: (p) => progress.push(p.progress) },
      );
      assert.equal(textOf(result), 'sent 4 events');
      assert.deepEqual(progress, [1, 2, 3, 4]);
      assert.deepEqual(logs, ['event 1 of 4', 'event 2 of 4', 'event 3 of 4', 'event 4 of 4']);
    });

    test('slow honours cancellation and records it', async () => {
      assert.equal(textOf(await client.callTool({ name: 'slow', arguments: { ms: 10 } })), 'done');
      const ac = new AbortController();
      const pending = client.callTool({ name: 'slow', arguments: { ms: 30_000 } }, undefined, { signal: ac.signal });
      setTimeout(() => ac.abort('test cancel'), 50);
      await assert.rejects(pending);
      for (let i = 0; i < 50 && !server.toolCalls.some((c) => c.name === 'slow' && c.aborted); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.ok(server.toolCalls.some((c) => c.name === 'slow' && c.aborted), 'fixture did not see the cancellation');
    });

    test('invalid arguments and unknown tools are isError results', async () => {
      const bad = (await client.callTool({ name: 'slow', arguments: { ms: 'soon' } })) as CallToolResult;
      assert.equal(bad.isError, true);
      const unknown = (await client.callTool({ name: 'nope', arguments: {} })) as CallToolResult;
      assert.equal(unknown.isError, true);
    });

    test('subscribed sessions get notifications/resources/updated', async () => {
      const updated: string[] = [];
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
        updated.push(n.params.uri);
      });
      await client.subscribeResource({ uri: 'test://watched-resource' });
      await client.callTool({ name: 'update_watched_resource', arguments: { content: 'v2' } });
      for (let i = 0; i < 100 && updated.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(updated, ['test://watched-resource']);
      const read = await client.readResource({ uri: 'test://watched-resource' });
      assert.equal((read.contents[0] as { text?: string }).text, 'v2');
      await client.unsubscribeResource({ uri: 'test://watched-resource' });
    });

    test('requests records what reached the backend', () => {
      const posts = server.requests.filter((r) => r.method === 'POST');
      assert.ok(posts.length > 0);
      const calls = posts.filter((r) => (r.json as { method?: string } | undefined)?.method === 'tools/call');
      assert.ok(calls.some((r) => (r.json as { params: { name: string } }).params.name === 'admin_reset'));
      assert.ok(posts.every((r) => r.headers['x-fixture-probe'] === 'yes'));
      if (transport === 'sse') {
        assert.ok(server.requests.some((r) => r.method === 'GET' && r.url === '/sse'));
        assert.ok(posts.every((r) => r.url.startsWith('/messages?sessionId=')));
      } else {
        assert.ok(posts.every((r) => r.url === '/mcp'));
      }
    });

    test('non-loopback Host is rejected with 403', async () => {
      const { port, pathname } = new URL(server.url);
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port, path: pathname === '/sse' ? '/messages?sessionId=x' : '/mcp', method: 'POST', headers: { host: 'evil.example.com', 'content-type': 'application/json' } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end('{}');
      });
      assert.equal(status, 403);
    });
  });
}

test('streamable-http: unknown session id is 404, DELETE ends a session', async () => {
  const server = await startEverythingServer({ transport: 'streamable-http' });
  try {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const unknown = await fetch(server.url, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': 'nope' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    assert.equal(unknown.status, 404);
    const client = await connect(server.url, 'streamable-http');
    const transport = client.transport as StreamableHTTPClientTransport;
    const sessionId = transport.sessionId;
    assert.ok(sessionId);
    assert.equal(server.sessionCount(), 1);
    await transport.terminateSession();
    assert.equal(server.sessionCount(), 0);
    const after = await fetch(server.url, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
    });
    assert.equal(after.status, 404);
    await client.close();
  } finally {
    await server.close();
  }
});
