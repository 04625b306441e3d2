/**
 * The policy engine through a running gateway in front of a real MCP backend: scopes and <base/>,
 * request/response headers, variables and expressions, choose, return-response, on-error with
 * context.LastError, per-tool policies, load-time errors with positions.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { startGateway, type RunningGateway } from './helpers/gateway.js';
import { INIT, lastMessage, post } from './helpers/mcp-http.js';
import { PolicyError } from '../src/policy/errors.js';

const GLOBAL = `<policies>
  <inbound>
    <set-header name="x-global" exists-action="override"><value>g</value></set-header>
    <set-variable name="order" value="global" />
  </inbound>
  <backend><forward-request /></backend>
  <outbound>
    <set-header name="x-gw-outbound" exists-action="override"><value>@((string)context.Variables["order"])</value></set-header>
  </outbound>
  <on-error>
    <set-header name="x-error-source" exists-action="override"><value>@(context.LastError.Source)</value></set-header>
  </on-error>
</policies>`;

const SERVER = `<policies>
  <inbound>
    <set-variable name="order" value="@(context.Variables.GetValueOrDefault<string>("order", "") + ">server-before")" />
    <base />
    <set-header name="x-server" exists-action="override"><value>@(context.Api.Name)</value></set-header>
    <choose>
      <when condition="@(context.Request.Headers.GetValueOrDefault("x-block", "") == "yes")">
        <return-response>
          <set-status code="403" reason="Forbidden" />
          <set-header name="x-why" exists-action="override"><value>blocked by policy</value></set-header>
          <set-body>{"blocked":true}</set-body>
        </return-response>
      </when>
      <when condition="@(context.Request.Headers.GetValueOrDefault("x-fail", "") == "yes")">
        <check-header name="x-never-sent" failed-check-httpcode="401" failed-check-error-message="missing x-never-sent" ignore-case="true" />
      </when>
    </choose>
  </inbound>
  <backend><base /></backend>
  <outbound><base /></outbound>
  <on-error>
    <base />
    <return-response>
      <set-status code="418" reason="Teapot" />
      <set-header name="content-type" exists-action="override"><value>application/json</value></set-header>
      <set-body>@{
        return new JObject(
          new JProperty("source", context.LastError.Source),
          new JProperty("reason", context.LastError.Reason),
          new JProperty("message", context.LastError.Message),
          new JProperty("section", context.LastError.Section),
          new JProperty("scope", context.LastError.Scope),
          new JProperty("path", context.LastError.Path)
        ).ToString(Newtonsoft.Json.Formatting.None);
      }</set-body>
    </return-response>
  </on-error>
</policies>`;

const TOOL = `<policies>
  <inbound>
    <base />
    <set-header name="x-tool" exists-action="override"><value>@(context.Mcp.ToolName + ":" + (string)context.Mcp.Arguments["text"])</value></set-header>
    <set-variable name="order" value="@(context.Variables.GetValueOrDefault<string>("order", "") + ">tool")" />
  </inbound>
</policies>`;

describe('policy engine through the gateway', () => {
  let fixture: EverythingServer;
  let gw: RunningGateway;
  let url: string;

  before(async () => {
    fixture = await startEverythingServer({ transport: 'streamable-http' });
    gw = await startGateway({
      policies: GLOBAL,
      servers: [
        {
          name: 'pol',
          type: 'passthrough',
          backend: { url: fixture.url },
          policies: SERVER,
          tools: [{ name: 'headers', policies: TOOL }],
        },
      ],
    });
    url = `${gw.url}/pol/mcp`;
  });
  after(async () => {
    await gw?.close();
    await fixture?.close();
  });

  async function session(headers: Record<string, string> = {}): Promise<string> {
    const r = await post(url, INIT, headers);
    assert.equal(r.status, 200, r.text);
    return r.headers.get('mcp-session-id')!;
  }

  it('an SDK client works through a pipeline on every scope', async () => {
    const c = new Client({ name: 'pol-test', version: '1' });
    await c.connect(new StreamableHTTPClientTransport(new URL(url)));
    const r = await c.callTool({ name: 'echo', arguments: { text: 'through policies' } });
    assert.deepEqual(r.content, [{ type: 'text', text: 'through policies' }]);
    await c.close();
  });

  it('inbound set-header reaches the backend; scopes compose global → server → tool with <base/> where it stands', async () => {
    const sid = await session();
    const r = await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'headers', arguments: { text: 'hi' } } }, { 'mcp-session-id': sid });
    assert.equal(r.status, 200, r.text);
    const seen = JSON.parse(((lastMessage(r.text).result as { content: { text: string }[] }).content[0]!.text)) as Record<string, string>;
    assert.equal(seen['x-global'], 'g');
    assert.equal(seen['x-server'], 'pol');
    assert.equal(seen['x-tool'], 'headers:hi');
    // server's set-variable ran before <base/> (global), the tool's after everything inherited
    assert.equal(r.headers.get('x-gw-outbound'), 'global>tool');
  });

  it('outbound policies set response headers on the backend answer', async () => {
    const sid = await session();
    const r = await post(url, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'mcp-session-id': sid });
    assert.equal(r.status, 200);
    // global set-variable "order"="global" ran after the server's "before" set-variable, overwriting it
    assert.equal(r.headers.get('x-gw-outbound'), 'global');
    assert.ok(((lastMessage(r.text).result as { tools: unknown[] }).tools).length > 3);
  });

  it('return-response answers without reaching the backend', async () => {
    const before = fixture.requests.length;
    const r = await post(url, INIT, { 'x-block': 'yes' });
    assert.equal(r.status, 403);
    assert.equal(r.headers.get('x-why'), 'blocked by policy');
    assert.deepEqual(r.json, { blocked: true });
    assert.equal(fixture.requests.length, before);
  });

  it('a failing policy goes to on-error with context.LastError; on-error scopes compose too', async () => {
    const r = await post(url, INIT, { 'x-fail': 'yes' });
    assert.equal(r.status, 418, r.text);
    assert.deepEqual(r.json, {
      source: 'check-header',
      reason: 'HeaderNotFound',
      message: 'missing x-never-sent',
      section: 'inbound',
      scope: 'api',
      path: 'choose[1]/when[2]/check-header[1]',
    });
    // the global on-error (via <base/>) ran before the server's return-response
    assert.equal(r.headers.get('x-error-source'), null, 'return-response builds a fresh response');
  });

  it('the client Authorization header still never reaches the backend', async () => {
    const sid = await session({ authorization: 'Bearer client-token' });
    await post(url, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'headers', arguments: { text: 'a' } } }, { 'mcp-session-id': sid, authorization: 'Bearer client-token' });
    assert.ok(fixture.requests.every((q) => q.headers.authorization === undefined));
  });
});

describe('policy load errors', () => {
  const cases: { name: string; xml: string; expect: RegExp }[] = [
    { name: 'unknown policy', xml: '<policies><inbound><frobnicate /></inbound></policies>', expect: /1:20: unknown policy <frobnicate>/ },
    { name: 'unknown attribute', xml: '<policies><inbound><set-header name="a" colour="red"><value>x</value></set-header></inbound></policies>', expect: /1:41: unknown attribute "colour" on <set-header>/ },
    { name: 'wrong section', xml: '<policies><outbound><rewrite-uri template="/x" /></outbound></policies>', expect: /1:21: policy <rewrite-uri> is not allowed in the outbound section/ },
    { name: 'missing attribute', xml: '<policies><inbound><set-variable value="1" /></inbound></policies>', expect: /1:20: <set-variable> requires the attribute "name"/ },
    { name: 'bad enum', xml: '<policies><inbound><set-header name="a" exists-action="merge"><value>x</value></set-header></inbound></policies>', expect: /exists-action.*must be one of override, skip, append, delete/ },
    { name: 'bad expression', xml: '<policies><inbound><set-variable name="a" value="@(context.Nope)" /></inbound></policies>', expect: /1:\d+: .*Nope/ },
    { name: 'an LLM policy Gatehouse does not offer', xml: '<policies><inbound><llm-token-limit tokens-per-minute="5" counter-key="k" /></inbound></policies>', expect: /1:20: unknown policy <llm-token-limit>/ },
    { name: 'get-authorization-context naming an unknown provider', xml: '<policies><inbound><get-authorization-context provider-id="nope" authorization-id="a" context-variable-name="c" /></inbound></policies>', expect: /credential provider "nope" is not configured/ },
    { name: 'two backend policies', xml: '<policies><backend><forward-request /><forward-request /></backend></policies>', expect: /backend section can contain only one policy/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await assert.rejects(
        startGateway({ servers: [{ name: 'x', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: c.xml }] }),
        (err: unknown) => {
          assert.ok(err instanceof PolicyError, String(err));
          assert.match(err.message, c.expect);
          return true;
        },
      );
    });
  }
});
