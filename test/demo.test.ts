/**
 * The built-in demo MCP server (`gatehouse start` without config), exercised directly with the SDK
 * client over Streamable HTTP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startDemoMcpServer } from '../src/demo/quickstart-server.js';
import type { DemoMcpServer } from '../src/demo/quickstart-server.js';

let demo: DemoMcpServer;
let client: Client;

async function call(name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

function firstText(result: CallToolResult): string {
  const item = result.content[0];
  assert.ok(item && item.type === 'text', `expected text content, got ${JSON.stringify(result.content)}`);
  return item.text;
}

before(async () => {
  demo = await startDemoMcpServer();
  client = new Client({ name: 'demo-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(demo.url)));
});

after(async () => {
  await client?.close();
  await demo?.close();
});

describe('demo MCP server', () => {
  test('listens on a loopback /mcp URL and initializes as gatehouse-demo', () => {
    assert.match(demo.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const info = client.getServerVersion();
    assert.equal(info?.name, 'gatehouse-demo');
    const caps = client.getServerCapabilities();
    assert.ok(caps?.tools && caps.resources && caps.prompts);
    assert.match(client.getInstructions() ?? '', /Gatehouse/);
  });

  test('tools/list: every tool has a title, description and an object input schema', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['add', 'current_time', 'echo', 'random_uuid', 'word_count']);
    for (const tool of tools) {
      assert.ok(tool.title, `${tool.name} has no title`);
      assert.ok(tool.description && tool.description.length > 10, `${tool.name} has no description`);
      assert.equal(tool.inputSchema.type, 'object');
    }
    const add = tools.find((t) => t.name === 'add');
    assert.deepEqual(add?.inputSchema.required?.slice().sort(), ['a', 'b']);
    const time = tools.find((t) => t.name === 'current_time');
    assert.ok(time?.inputSchema.properties?.['timezone']);
    assert.equal(time?.inputSchema.required?.includes('timezone') ?? false, false);
  });

  test('echo returns its text', async () => {
    const r = await call('echo', { text: 'héllo, gateway' });
    assert.notEqual(r.isError, true);
    assert.equal(firstText(r), 'héllo, gateway');
  });

  test('add sums numbers (text and structured content)', async () => {
    const r = await call('add', { a: 2.5, b: -4 });
    assert.notEqual(r.isError, true);
    assert.equal(firstText(r), '-1.5');
    assert.deepEqual(r.structuredContent, { sum: -1.5 });
  });

  test('add with a non-number argument is an isError result', async () => {
    const r = await call('add', { a: 'two', b: 2 });
    assert.equal(r.isError, true);
    assert.match(firstText(r), /validation|expected number/i);
  });

  test('add with a missing argument is an isError result', async () => {
    const r = await call('add', { a: 1 });
    assert.equal(r.isError, true);
  });

  test('current_time defaults to UTC', async () => {
    const before = Date.now();
    const r = await call('current_time');
    assert.notEqual(r.isError, true);
    const s = r.structuredContent as { iso: string; timezone: string; local: string; offset: string };
    assert.equal(s.timezone, 'UTC');
    assert.equal(s.offset, '+00:00');
    const t = Date.parse(s.iso);
    assert.ok(t >= before - 1000 && t <= Date.now() + 1000, `iso ${s.iso} is not now`);
    assert.match(s.local, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    assert.equal(s.local, s.iso.slice(0, 19)); // UTC local time = ISO instant truncated to seconds
  });

  test('current_time honours an IANA time zone', async () => {
    const r = await call('current_time', { timezone: 'Asia/Kolkata' });
    assert.notEqual(r.isError, true);
    const s = r.structuredContent as { iso: string; timezone: string; local: string; offset: string };
    assert.equal(s.timezone, 'Asia/Kolkata');
    assert.equal(s.offset, '+05:30'); // India has no DST
    const utc = Date.parse(s.iso);
    const local = Date.parse(`${s.local}Z`);
    const diffMin = Math.round((local - utc) / 60_000);
    assert.equal(diffMin, 330);
    assert.match(firstText(r), /Asia\/Kolkata/);
    const lower = await call('current_time', { timezone: 'europe/paris' });
    assert.equal((lower.structuredContent as { timezone: string }).timezone, 'Europe/Paris');
  });

  test('current_time rejects an unknown time zone with isError', async () => {
    const r = await call('current_time', { timezone: 'Mars/Olympus_Mons' });
    assert.equal(r.isError, true);
    assert.match(firstText(r), /Unknown time zone "Mars\/Olympus_Mons"/);
  });

  test('random_uuid returns v4 UUIDs', async () => {
    const one = await call('random_uuid');
    assert.match(firstText(one), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const many = await call('random_uuid', { count: 5 });
    const { uuids } = many.structuredContent as { uuids: string[] };
    assert.equal(uuids.length, 5);
    assert.equal(new Set(uuids).size, 5);
    const bad = await call('random_uuid', { count: 0 });
    assert.equal(bad.isError, true);
  });

  test('word_count counts words, characters and lines', async () => {
    const r = await call('word_count', { text: 'The quick brown fox\njumps over  the lazy dog.\n' });
    assert.notEqual(r.isError, true);
    assert.deepEqual(r.structuredContent, { words: 9, characters: 46, lines: 3 });
    const empty = await call('word_count', { text: '   ' });
    assert.deepEqual(empty.structuredContent, { words: 0, characters: 3, lines: 1 });
    const missing = await call('word_count', {});
    assert.equal(missing.isError, true);
  });

  test('an unknown tool is an isError result', async () => {
    const r = await call('no_such_tool');
    assert.equal(r.isError, true);
  });

  test('resources: demo://readme is listed and readable', async () => {
    const { resources } = await client.listResources();
    const readme = resources.find((r) => r.uri === 'demo://readme');
    assert.ok(readme, 'demo://readme not listed');
    assert.equal(readme.mimeType, 'text/markdown');
    const { contents } = await client.readResource({ uri: 'demo://readme' });
    const first = contents[0];
    assert.ok(first && 'text' in first);
    assert.match(String(first.text), /Gatehouse/);
    assert.match(String(first.text), /gatehouse start/);
  });

  test('prompts: summarize embeds the text argument', async () => {
    const { prompts } = await client.listPrompts();
    const summarize = prompts.find((p) => p.name === 'summarize');
    assert.ok(summarize?.description);
    assert.deepEqual(summarize.arguments?.map((a) => [a.name, a.required]), [['text', true]]);
    const got = await client.getPrompt({ name: 'summarize', arguments: { text: 'Gatehouse proxies MCP servers.' } });
    const msg = got.messages[0];
    assert.equal(msg?.role, 'user');
    assert.ok(msg && msg.content.type === 'text');
    assert.match(msg.content.text, /Gatehouse proxies MCP servers\./);
    await assert.rejects(client.getPrompt({ name: 'summarize', arguments: {} }));
  });

  test('rejects a DNS-rebinding Host header and unknown sessions', async () => {
    const port = new URL(demo.url).port;
    const init = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    };
    const http = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/mcp',
          method: 'POST',
          headers: {
            host: 'evil.example.com',
            origin: 'http://evil.example.com',
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(init));
    });
    assert.equal(status, 403);

    const unknown = await fetch(demo.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': 'not-a-session',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    assert.equal(unknown.status, 404);
  });
});
