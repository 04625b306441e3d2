/**
 * A REST API as an MCP server, end to end: an OpenAPI document and a real HTTP backend implementing
 * it, Gatehouse serving the operations as tools, and the official MCP SDK client calling each kind
 * of tool (path, query arrays, headers, JSON body, form body, binary answer, 4xx/5xx, timeout)
 * through the tools' policies — the backend sees exactly the expected requests. Also: the
 * subscription key in the client's headers through a product (never reaching the backend), bad
 * arguments as tool errors naming the field, injection attempts that cannot move the request target,
 * an unknown operation in the config, and the quickstart's demo REST API.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGateway, type RunningGateway } from './helpers/gateway.js';
import { INIT, post, session } from './helpers/mcp-http.js';
import { configFromObject, ConfigError } from '../src/config/load.js';
import { openStore } from '../src/store/open.js';
import { Subscriptions } from '../src/subscriptions/subscriptions.js';
import { startDemoRestApi } from '../src/demo/rest-api.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');

const SPEC = {
  openapi: '3.0.3',
  info: { title: 'Pets', version: '1.0.0' },
  servers: [{ url: 'http://placeholder.invalid/v1' }],
  paths: {
    '/pets': {
      get: {
        operationId: 'listPets',
        summary: 'List pets',
        parameters: [
          { name: 'status', in: 'query', schema: { type: 'array', items: { type: 'string', enum: ['available', 'sold'] } }, explode: true },
          { name: 'tags', in: 'query', schema: { type: 'array', items: { type: 'string' } }, explode: false },
          { name: 'limit', in: 'query', schema: { type: 'integer', maximum: 100 } },
        ],
        responses: { '200': { description: 'ok', content: { 'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/Pet' } } } } } },
      },
      post: {
        operationId: 'addPet',
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/NewPet' } } } },
        responses: { '201': { description: 'created', content: { 'application/json': { schema: { $ref: '#/components/schemas/Pet' } } } } },
      },
    },
    '/pets/{petId}': {
      get: {
        operationId: 'getPet',
        parameters: [{ name: 'petId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'ok', content: { 'application/json': { schema: { $ref: '#/components/schemas/Pet' } } } }, '404': { description: 'missing' } },
      },
      delete: { operationId: 'deletePet', parameters: [{ name: 'petId', in: 'path', required: true, schema: { type: 'string' } }], responses: { '204': { description: 'gone' } } },
    },
    '/pets/{petId}/photo': {
      get: { operationId: 'getPhoto', parameters: [{ name: 'petId', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'png', content: { 'image/png': { schema: { type: 'string', format: 'binary' } } } } } },
    },
    '/pets/{petId}/notes': {
      post: {
        operationId: 'addNote',
        parameters: [{ name: 'petId', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: { content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', required: ['note'], properties: { note: { type: 'string' }, stars: { type: 'integer' } } } } } },
        responses: { '200': { description: 'ok', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
    '/whoami': {
      get: { operationId: 'whoAmI', parameters: [{ name: 'X-Tenant', in: 'header', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object', properties: { tenant: { type: 'string' } } } } } } } },
    },
    '/fail/{code}': {
      get: { operationId: 'fail', parameters: [{ name: 'code', in: 'path', required: true, schema: { type: 'integer' } }], responses: { default: { description: 'whatever' } } },
    },
    '/slow': { get: { operationId: 'slow', responses: { '200': { description: 'eventually' } } } },
  },
  components: {
    schemas: {
      NewPet: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, tag: { type: 'string' } } },
      Pet: { type: 'object', required: ['id', 'name'], properties: { id: { type: 'integer' }, name: { type: 'string' }, tag: { type: 'string' } } },
    },
  },
};

const TOOL_POLICY = '<policies><inbound><base /><set-header name="x-tool-policy" exists-action="override"><value>@(context.Mcp.ToolName)</value></set-header></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>';
const SERVER_POLICY = '<policies><inbound><base /><set-header name="x-server-policy" exists-action="override"><value>pets</value></set-header></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>';

describe('OpenAPI servers: REST operations as MCP tools', () => {
  let rest: http.Server;
  let restUrl: string;
  const seen: Seen[] = [];
  let gw: RunningGateway;
  let dir: string;
  let client: Client;
  let key: string;

  const callTool = (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args }) as Promise<{ content: { type: string; text?: string; data?: string; mimeType?: string }[]; structuredContent?: unknown; isError?: boolean }>;
  const last = () => seen.at(-1)!;

  before(async () => {
    rest = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        const u = new URL(req.url!, 'http://x');
        const json = (status: number, v: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(v));
        };
        if (u.pathname === '/v1/pets' && req.method === 'GET') return json(200, [{ id: 1, name: 'Rex', tag: u.searchParams.getAll('status').join('+') }]);
        if (u.pathname === '/v1/pets' && req.method === 'POST') return json(201, { id: 7, ...(JSON.parse(body) as object) });
        if (u.pathname === '/v1/whoami') return json(200, { tenant: req.headers['x-tenant'] });
        if (u.pathname === '/v1/slow') return void setTimeout(() => json(200, {}), 3000);
        let m = /^\/v1\/fail\/(\d+)$/.exec(u.pathname);
        if (m) return json(Number(m[1]), { error: `failed with ${m[1]}`, detail: 'x'.repeat(5000) });
        m = /^\/v1\/pets\/([^/]+)\/photo$/.exec(u.pathname);
        if (m) {
          res.writeHead(200, { 'content-type': 'image/png' });
          return res.end(PNG);
        }
        m = /^\/v1\/pets\/([^/]+)\/notes$/.exec(u.pathname);
        if (m) {
          res.writeHead(200, { 'content-type': 'text/plain' });
          return res.end(`noted for ${decodeURIComponent(m[1]!)}`);
        }
        m = /^\/v1\/pets\/([^/]+)$/.exec(u.pathname);
        if (m && req.method === 'GET') return m[1] === '404' ? json(404, { error: 'no such pet' }) : json(200, { id: 1, name: decodeURIComponent(m[1]!) });
        if (m && req.method === 'DELETE') {
          res.writeHead(204);
          return res.end();
        }
        json(404, { error: 'unknown route' });
      });
    });
    await new Promise<void>((r) => rest.listen(0, '127.0.0.1', r));
    restUrl = `http://127.0.0.1:${(rest.address() as AddressInfo).port}/v1`;
    dir = mkdtempSync(join(tmpdir(), 'gh-openapi-'));
    writeFileSync(join(dir, 'pets.json'), JSON.stringify(SPEC));
    const db = join(dir, 'gh.db');
    gw = await startGateway({
      store: `sqlite:${db}`,
      servers: [
        {
          name: 'pets',
          type: 'openapi',
          openapi: join(dir, 'pets.json'),
          backend: { url: restUrl, timeout: 1 },
          policies: SERVER_POLICY,
          tools: [
            { operation: 'listPets' },
            { operation: 'getPet', policies: TOOL_POLICY },
            { operation: 'addPet', name: 'add_pet', description: 'Adds a pet to the store' },
            { operation: 'DELETE /pets/{petId}' },
            { operation: 'getPhoto' },
            { operation: 'addNote' },
            { operation: 'whoAmI' },
            { operation: 'fail' },
            { operation: 'slow' },
          ],
        },
      ],
      products: [{ name: 'pets-product', servers: ['pets'] }],
    });
    const store = await openStore(`sqlite:${db}`);
    key = (await new Subscriptions(store).create({ name: 'vscode', scope: { type: 'product', name: 'pets-product' } })).primaryKey;
    await store.close();
    client = new Client({ name: 'sdk', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/pets/mcp`), { requestInit: { headers: { 'Ocp-Apim-Subscription-Key': key } } }));
  });

  after(async () => {
    await client?.close();
    await gw?.close();
    await new Promise<void>((r) => {
      rest?.closeAllConnections();
      rest?.close(() => r());
    });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists the selected operations as tools, in order, with schemas and annotations', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ['listPets', 'getPet', 'add_pet', 'deletePet', 'getPhoto', 'addNote', 'whoAmI', 'fail', 'slow']);
    const get = tools.find((t) => t.name === 'getPet')!;
    assert.deepEqual(get.inputSchema.required, ['petId']);
    assert.equal(get.annotations?.readOnlyHint, true);
    assert.ok(get.outputSchema, 'a JSON success response gives an output schema');
    assert.equal(tools.find((t) => t.name === 'deletePet')!.annotations?.destructiveHint, true);
    assert.equal(tools.find((t) => t.name === 'add_pet')!.description, 'Adds a pet to the store');
  });

  it('path parameter, through the tool and server policies; structuredContent; the key never reaches the backend', async () => {
    const r = await callTool('getPet', { petId: 'Rex' });
    assert.equal(r.isError ?? false, false);
    assert.deepEqual(r.structuredContent, { id: 1, name: 'Rex' });
    const q = last();
    assert.equal(q.method, 'GET');
    assert.equal(q.url, '/v1/pets/Rex');
    assert.equal(q.headers['x-tool-policy'], 'getPet');
    assert.equal(q.headers['x-server-policy'], 'pets');
    for (const s of seen) {
      assert.equal(s.headers['ocp-apim-subscription-key'], undefined);
      assert.ok(!JSON.stringify(s).includes(key));
      assert.equal(s.headers.authorization, undefined);
    }
  });

  it('query arrays (exploded and not) and an integer', async () => {
    const r = await callTool('listPets', { status: ['available', 'sold'], tags: ['a', 'b'], limit: 5 });
    assert.equal(r.isError ?? false, false);
    const u = new URL(last().url, 'http://x');
    assert.deepEqual(u.searchParams.getAll('status'), ['available', 'sold']);
    assert.equal(u.searchParams.get('tags'), 'a,b');
    assert.equal(u.searchParams.get('limit'), '5');
    assert.equal(last().headers['x-tool-policy'], undefined, 'the tool policy of getPet is not listPets\'s');
  });

  it('a header parameter, a JSON body and a form body', async () => {
    const who = await callTool('whoAmI', { 'X-Tenant': 'contoso' });
    assert.equal(last().headers['x-tenant'], 'contoso');
    assert.deepEqual(who.structuredContent, { tenant: 'contoso' });
    const added = await callTool('add_pet', { name: 'Tom', tag: 'cat' });
    assert.equal(last().method, 'POST');
    assert.match(String(last().headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(last().body), { name: 'Tom', tag: 'cat' });
    assert.deepEqual(added.structuredContent, { id: 7, name: 'Tom', tag: 'cat' });
    const note = await callTool('addNote', { petId: 'Rex', note: 'good dog', stars: 5 });
    assert.match(String(last().headers['content-type']), /^application\/x-www-form-urlencoded/);
    assert.deepEqual(Object.fromEntries(new URLSearchParams(last().body)), { note: 'good dog', stars: '5' });
    assert.equal(note.content[0]!.text, 'noted for Rex');
  });

  it('a binary image answer becomes image content; a 204 is fine', async () => {
    const r = await callTool('getPhoto', { petId: 'Rex' });
    assert.equal(r.content[0]!.type, 'image');
    assert.equal(r.content[0]!.mimeType, 'image/png');
    assert.deepEqual(Buffer.from(r.content[0]!.data!, 'base64'), PNG);
    const d = await callTool('deletePet', { petId: 'Rex' });
    assert.equal(d.isError ?? false, false);
    assert.equal(last().method, 'DELETE');
  });

  it('4xx and 5xx answers are tool errors with the status and a bounded excerpt; a timeout is a tool error; the session lives on', async () => {
    for (const code of [404, 500]) {
      const r = await callTool('fail', { code });
      assert.equal(r.isError, true);
      assert.match(r.content[0]!.text!, new RegExp(`HTTP ${code}`));
      assert.ok(r.content[0]!.text!.length < 4000, 'the excerpt is bounded');
    }
    const slow = await callTool('slow', {});
    assert.equal(slow.isError, true);
    assert.match(slow.content[0]!.text!, /did not answer/);
    const again = await callTool('getPet', { petId: 'still-alive' });
    assert.deepEqual(again.structuredContent, { id: 1, name: 'still-alive' });
  });

  it('bad arguments are tool errors naming the field, and nothing reaches the backend', async () => {
    const before = seen.length;
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['listPets', { limit: 'five' }, /limit/],
      ['listPets', { limit: 1000 }, /limit/],
      ['listPets', { status: ['lost'] }, /status/],
      ['add_pet', {}, /name/],
      ['add_pet', { name: 'x', color: 'red' }, /color/],
      ['getPet', { petId: 12 }, /petId/],
    ];
    for (const [tool, args, field] of cases) {
      const r = await callTool(tool, args);
      assert.equal(r.isError, true, `${tool} ${JSON.stringify(args)}`);
      assert.match(r.content[0]!.text!, field);
    }
    assert.equal(seen.length, before);
  });

  it('path parameters cannot move the request target (../, %2F, /, ?, #, CRLF)', async () => {
    for (const petId of ['../admin', '..%2Fadmin', 'a/b', 'x?admin=1', 'y#frag', 'z\r\nHost: evil']) {
      await callTool('getPet', { petId });
      const u = last().url;
      assert.ok(u.startsWith('/v1/pets/'), u);
      assert.equal(u.split('/').length, 4, `one path segment: ${u}`);
      assert.ok(!u.includes('?') && !u.includes('#'), u);
      assert.equal(decodeURIComponent(u.slice('/v1/pets/'.length)), petId);
    }
  });

  it('an unknown tool is a JSON-RPC error; a missing key is 401 before any tool runs', async () => {
    await assert.rejects(client.callTool({ name: 'nope', arguments: {} }), /Unknown tool/);
    const r = await post(`${gw.url}/pets/mcp`, INIT);
    assert.equal(r.status, 401);
  });

  it('bad protocol input on an OpenAPI server: batch, GET stream, unknown method, missing/unknown session, tools/call without a name, malformed JSON', async () => {
    const url = `${gw.url}/pets/mcp`;
    const k = { 'Ocp-Apim-Subscription-Key': key };
    const sid = await session(url, k);
    const h = { ...k, 'mcp-session-id': sid };
    const before = seen.length;
    const batch = await post(url, [{ jsonrpc: '2.0', id: 1, method: 'ping' }], h);
    assert.equal(batch.status, 400);
    const get = await fetch(url, { headers: { ...h, accept: 'text/event-stream' } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST, DELETE');
    await get.body?.cancel();
    const unknown = await post(url, { jsonrpc: '2.0', id: 2, method: 'resources/list' }, h);
    assert.equal((unknown.json as { error: { code: number } }).error.code, -32601);
    assert.equal((await post(url, { jsonrpc: '2.0', id: 3, method: 'ping' }, k)).status, 400, 'no session header');
    assert.equal((await post(url, { jsonrpc: '2.0', id: 4, method: 'ping' }, { ...k, 'mcp-session-id': 'made-up' })).status, 404);
    // a tools/call without a tool name is not a valid MCP request (the shared JSON-RPC classifier)
    const nameless = await post(url, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { arguments: {} } }, h);
    assert.equal((nameless.json as { error: { code: number } }).error.code, -32600);
    const malformed = await post(url, '{"jsonrpc":', h);
    assert.equal(malformed.status, 400);
    assert.equal((malformed.json as { error: { code: number } }).error.code, -32700);
    const ping = await post(url, { jsonrpc: '2.0', id: 6, method: 'ping' }, h);
    assert.deepEqual((ping.json as { result: unknown }).result, {});
    assert.equal(seen.length, before, 'none of it reached the REST backend');
  });

  it('an unknown operation in the config is a config problem that names it', async () => {
    await assert.rejects(
      configFromObject({ servers: [{ name: 'p', type: 'openapi', openapi: join(dir, 'pets.json'), backend: { url: restUrl }, tools: [{ operation: 'getPett' }] }] }, { baseDir: dir, env: {} }),
      (err: unknown) => err instanceof ConfigError && /servers\[0\]\.tools\[0\]\.operation: .*getPett/.test(err.message),
    );
    await assert.rejects(
      configFromObject({ servers: [{ name: 'p', type: 'openapi', openapi: join(dir, 'missing.yaml') }] }, { baseDir: dir, env: {} }),
      (err: unknown) => err instanceof ConfigError && /servers\[0\]\.openapi: cannot import the OpenAPI document/.test(err.message),
    );
  });

  it('the quickstart demo REST API works as an OpenAPI server (document fetched by URL)', async () => {
    const demo = await startDemoRestApi();
    const g = await startGateway({ servers: [{ name: 'books', type: 'openapi', openapi: demo.openapiUrl }] });
    try {
      const sid = await session(`${g.url}/books/mcp`);
      const r = await post(`${g.url}/books/mcp`, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'listBooks', arguments: { tag: ['classic'] } } }, { 'mcp-session-id': sid });
      const result = (r.json as { result: { structuredContent: { result: { title: string }[] } } }).result;
      assert.deepEqual(result.structuredContent.result.map((b) => b.title).sort(), ['A Wizard of Earthsea', 'The Left Hand of Darkness']);
    } finally {
      await g.close();
      await demo.close();
    }
  });
});
