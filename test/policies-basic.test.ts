/**
 * The core policies through a running gateway in front of the real MCP fixture backend:
 * set-header, set-variable, choose, set-status / set-body / return-response, set-query-parameter,
 * rewrite-uri, set-backend-service, set-method, check-header, mock-response, trace, forward-request,
 * on-error with context.LastError, `<base/>` composition global → server → tool, and every
 * policy's load-time problems with their exact LINE:COL.
 *
 * Most servers switch on the request header `x-case`, so one gateway carries many small cases.
 * What reached the backend is read from the fixture's own record (`requests`: method, url,
 * headers, body) or from its `headers` tool (the request headers that carried that tools/call).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startEverythingServer, type EverythingServer, type RecordedRequest } from './fixtures/everything-server.js';
import { startGateway, type RunningGateway } from './helpers/gateway.js';
import { INIT, lastMessage, post, session, toolText, type Reply } from './helpers/mcp-http.js';
import { configFromObject } from '../src/config/load.js';
import { compileServerPolicies, backendsOf } from '../src/mcp/server-policies.js';
import { createRegistry } from '../src/policies/registry.js';
import { PolicyError, type PolicyProblem } from '../src/policy/errors.js';
import { main } from '../src/cli/main.js';

let nextId = 100;
function call(url: string, sid: string, name: string, args: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Reply> {
  return post(url, { jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name, arguments: args } }, { 'mcp-session-id': sid, ...headers });
}

/** the request headers the fixture's `headers` tool saw */
const seenHeaders = (r: Reply): Record<string, string> => JSON.parse(toolText(r)) as Record<string, string>;

/** `<when>` on the request header x-case (lenient APIM syntax: raw quotes inside the attribute) */
const when = (name: string, body: string): string => `<when condition="@(context.Request.Headers.GetValueOrDefault("x-case", "") == "${name}")">${body}</when>`;

/** on-error that reports context.LastError in one response header */
const ON_ERROR_HEADER = `<on-error>
    <set-header name="x-error" exists-action="override"><value>@(context.LastError.Source + "|" + context.LastError.Reason + "|" + context.LastError.Section + "|" + context.LastError.Scope + "|" + context.LastError.Path + "|" + context.LastError.PolicyId)</value></set-header>
  </on-error>`;

const errorBody = (status: number, message: string) => ({ statusCode: status, message });

/** requests the fixture received since `n` */
const since = (fx: EverythingServer, n: number): RecordedRequest[] => fx.requests.slice(n);

/**
 * A minimal MCP backend that answers with plain JSON and delays its response HEADERS by the
 * `ms` argument of a tools/call: the "slow backend" of forward-request's timeout (APIM: the time
 * to wait for the response headers).
 */
async function startSlowJsonBackend(): Promise<{ url: string; calls: number; close(): Promise<void> }> {
  const state = { calls: 0 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (req.method !== 'POST') {
        res.writeHead(req.method === 'DELETE' ? 200 : 405).end();
        return;
      }
      const msg = JSON.parse(body) as { id?: number | string; method?: string; params?: { protocolVersion?: string; arguments?: { ms?: number } } };
      if (msg.id === undefined) {
        res.writeHead(202).end();
        return;
      }
      const reply = (result: unknown, extra: Record<string, string> = {}) => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json', ...extra });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
      };
      if (msg.method === 'initialize') {
        reply({ protocolVersion: msg.params?.protocolVersion ?? '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'slow-json', version: '1' } }, { 'mcp-session-id': 'slow-json-session' });
        return;
      }
      state.calls++;
      const ms = msg.params?.arguments?.ms ?? 0;
      setTimeout(() => reply({ content: [{ type: 'text', text: `slept ${ms}` }] }), ms);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    get calls() {
      return state.calls;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// -------------------------------------------------------------------------------------------------
// One gateway, many servers

const HDR = `<policies>
  <inbound>
    <set-header name="x-always" exists-action="override"><value>always</value></set-header>
    <choose>
      ${when('override', '<set-header name="x-client" exists-action="override"><value>policy</value></set-header><set-header name="x-fwd" exists-action="override"><value>policy</value></set-header>')}
      ${when('skip-earlier', '<set-header name="x-always" exists-action="skip"><value>second</value></set-header><set-header name="x-new" exists-action="skip"><value>fresh</value></set-header>')}
      ${when('skip-forwarded', '<set-header name="x-fwd" exists-action="skip"><value>policy</value></set-header>')}
      ${when('skip-authorization', '<set-header name="Authorization" exists-action="skip"><value>Bearer policy</value></set-header>')}
      ${when('append', '<set-header name="x-fwd" exists-action="append"><value>p1</value><value>p2</value></set-header><set-header name="x-always" exists-action="append"><value>more</value></set-header>')}
      ${when('delete', '<set-header name="x-fwd" exists-action="delete" /><set-header name="X-Always" exists-action="delete" />')}
      ${when('append-authorization', '<set-header name="Authorization" exists-action="append"><value>Bearer policy</value></set-header>')}
      ${when('multi', '<set-header name="x-multi" exists-action="override"><value>a</value><value>b</value><value>c</value></set-header>')}
      ${when('expr', '<set-header name="@(&quot;x-&quot; + context.Mcp.ToolName)" exists-action="override"><value>@(context.Mcp.Method)</value><value>@((string)context.Mcp.Arguments["text"])</value></set-header>')}
      ${when('crlf', '<set-header name="x-injected" exists-action="override"><value>@((string)context.Mcp.Arguments["text"])</value></set-header>')}
      ${when('bad-name', '<set-header name="@(&quot;x bad&quot;)" exists-action="override"><value>v</value></set-header>')}
      ${when('protected', '<set-header name="content-length" exists-action="override"><value>3</value></set-header><set-header name="host" exists-action="override"><value>evil.example</value></set-header><set-header name="mcp-session-id" exists-action="override"><value>forged</value></set-header>')}
    </choose>
  </inbound>
  <outbound>
    <set-header name="x-out" exists-action="override"><value>first</value></set-header>
    <choose>
      ${when('res-override', '<set-header name="x-out" exists-action="override"><value>second</value></set-header>')}
      ${when('res-skip', '<set-header name="x-out" exists-action="skip"><value>second</value></set-header><set-header name="content-type" exists-action="skip"><value>text/plain</value></set-header><set-header name="x-out-new" exists-action="skip"><value>fresh</value></set-header>')}
      ${when('res-append', '<set-header name="x-out" exists-action="append"><value>second</value><value>third</value></set-header>')}
      ${when('res-delete', '<set-header name="x-out" exists-action="delete" />')}
      ${when('res-multi', '<set-header name="x-multi" exists-action="override"><value>a</value><value>b</value></set-header>')}
      ${when('res-expr', '<set-header name="@(&quot;x-status-&quot; + context.Response.StatusCode)" exists-action="override"><value>@(context.Response.StatusCode)</value></set-header>')}
      ${when('res-cookie', '<set-header name="Set-Cookie" exists-action="override"><value>a=1; Path=/</value><value>b=2; Path=/</value></set-header>')}
      ${when('res-framing', '<set-header name="content-length" exists-action="override"><value>3</value></set-header><set-header name="connection" exists-action="override"><value>close</value></set-header>')}
    </choose>
  </outbound>
  ${ON_ERROR_HEADER}
</policies>`;

const VARS = `<policies>
  <inbound>
    <set-variable name="lit" value="42" />
    <set-variable name="num" value="@(40 + 2)" />
    <set-variable name="flag" value="@(1 < 2 && true)" />
    <set-variable name="obj" value="@(new JObject(new JProperty("name", "gatehouse"), new JProperty("n", 3)))" />
    <set-variable name="sum" value="@((int)context.Variables["num"] + (int)((JObject)context.Variables["obj"])["n"])" />
    <set-variable name="tool" value="@(context.Mcp.ToolName ?? "-")" />
    <choose>
      ${when('types', `<return-response>
        <set-status code="200" reason="OK" />
        <set-header name="content-type" exists-action="override"><value>application/json</value></set-header>
        <set-body>@(new JObject(
            new JProperty("litIsString", context.Variables["lit"] is string),
            new JProperty("litIsInt", context.Variables["lit"] is int),
            new JProperty("lit", (string)context.Variables["lit"]),
            new JProperty("numIsInt", context.Variables["num"] is int),
            new JProperty("numIsString", context.Variables["num"] is string),
            new JProperty("flagIsBool", context.Variables["flag"] is bool),
            new JProperty("flag", (bool)context.Variables["flag"]),
            new JProperty("objIsJObject", context.Variables["obj"] is JObject),
            new JProperty("objName", ((JObject)context.Variables["obj"])["name"].ToString()),
            new JProperty("sum", (int)context.Variables["sum"])
          ).ToString(Newtonsoft.Json.Formatting.None))</set-body>
      </return-response>`)}
      ${when('lit-as-int', '<set-variable name="bad" value="@(context.Variables.GetValueOrDefault&lt;int&gt;(&quot;lit&quot;, 0))" />')}
    </choose>
  </inbound>
  <outbound>
    <set-header name="x-vars" exists-action="override"><value>@((string)context.Variables["tool"] + "/" + ((int)context.Variables["sum"]).ToString() + "/" + ((bool)context.Variables["flag"] ? "yes" : "no"))</value></set-header>
  </outbound>
  ${ON_ERROR_HEADER}
</policies>`;

const FLOW = `<policies>
  <inbound>
    <set-variable name="n" value="@(int.Parse(context.Request.Headers.GetValueOrDefault("x-n", "0")))" />
    <choose>
      <when condition="@((int)context.Variables["n"] > 5)"><set-variable name="size" value="big" /></when>
      <when condition="@((int)context.Variables["n"] > 2)"><set-variable name="size" value="medium" /></when>
      <when condition="true"><set-variable name="size" value="literal-true" /></when>
      <otherwise><set-variable name="size" value="never" /></otherwise>
    </choose>
    <choose>
      <when condition="@((int)context.Variables["n"] > 100)"><set-variable name="huge" value="yes" /></when>
      <otherwise><set-variable name="huge" value="no" /></otherwise>
    </choose>
    <choose>
      <when condition="@(context.Request.Headers.ContainsKey("x-nested"))">
        <choose>
          <when condition="@(context.Request.Headers.GetValueOrDefault("x-nested", "") == "a")"><set-variable name="nested" value="inner-a" /></when>
          <otherwise><set-variable name="nested" value="inner-other" /></otherwise>
        </choose>
      </when>
      <otherwise><set-variable name="nested" value="outer-otherwise" /></otherwise>
    </choose>
    <choose>
      <when condition="@(context.Request.Headers.ContainsKey("x-nonbool"))">
        <choose>
          <when condition="@(context.Request.Headers.GetValueOrDefault("x-nonbool", ""))"><set-variable name="never" value="x" /></when>
        </choose>
      </when>
      <when condition="false"><set-variable name="never" value="x" /></when>
    </choose>
    <return-response>
      <set-status code="200" reason="OK" />
      <set-header name="x-size" exists-action="override"><value>@((string)context.Variables["size"])</value></set-header>
      <set-header name="x-huge" exists-action="override"><value>@((string)context.Variables["huge"])</value></set-header>
      <set-header name="x-nested" exists-action="override"><value>@((string)context.Variables["nested"])</value></set-header>
    </return-response>
  </inbound>
  ${ON_ERROR_HEADER}
</policies>`;

const RESP = `<policies>
  <inbound>
    <choose>
      ${when('rr', `<return-response>
        <set-status code="201" reason="Created Here" />
        <set-header name="x-made-by" exists-action="override"><value>return-response</value></set-header>
        <set-header name="content-type" exists-action="override"><value>application/json</value></set-header>
        <set-body>{"made":"by policy"}</set-body>
      </return-response><set-header name="x-never" exists-action="override"><value>unreached</value></set-header>`)}
      ${when('rr-empty', '<return-response />')}
      ${when('rr-notres', '<set-variable name="notres" value="hello" /><return-response response-variable-name="notres" />')}
      ${when('rr-missing', '<return-response id="rr-missing" response-variable-name="nothing-here" />')}
      ${when('status-in', '<set-status code="299" reason="Ignored" />')}
      ${when('body-in', '<set-body>@{ var b = context.Request.Body.As&lt;JObject&gt;(preserveContent: true); b["params"]["arguments"]["text"] = "rewritten by set-body"; return b.ToString(); }</set-body>')}
    </choose>
  </inbound>
  <outbound>
    <choose>
      ${when('status-out', '<set-status code="299" reason="Custom" />')}
      ${when('body-out', '<set-header name="content-type" exists-action="override"><value>application/json</value></set-header><set-body>@("{\\"jsonrpc\\":\\"2.0\\",\\"id\\":" + context.Request.Body.As&lt;JObject&gt;(preserveContent: true)["id"].ToString() + ",\\"result\\":{\\"content\\":[{\\"type\\":\\"text\\",\\"text\\":\\"replaced\\"}]}}")</set-body>')}
      ${when('rr-out', `<return-response>
        <set-status code="202" reason="Accepted" />
        <set-header name="x-replaced" exists-action="override"><value>@(context.Response.StatusCode.ToString())</value></set-header>
      </return-response>`)}
      ${when('rr-var-out', `<set-variable name="backendResponse" value="@(context.Response)" />
        <return-response response-variable-name="backendResponse">
          <set-status code="203" reason="From Variable" />
          <set-header name="x-from-var" exists-action="override"><value>@(((IResponse)context.Variables["backendResponse"]).StatusCode.ToString())</value></set-header>
        </return-response>`)}
    </choose>
  </outbound>
  ${ON_ERROR_HEADER}
</policies>`;

const QP = `<policies>
  <inbound>
    <choose>
      ${when('q-override', '<set-query-parameter name="a" exists-action="override"><value>1</value><value>2</value></set-query-parameter>')}
      ${when('q-append', '<set-query-parameter name="b" exists-action="override"><value>x</value></set-query-parameter><set-query-parameter name="b" exists-action="append"><value>y z</value></set-query-parameter>')}
      ${when('q-skip', '<set-query-parameter name="c" exists-action="override"><value>1</value></set-query-parameter><set-query-parameter name="c" exists-action="skip"><value>2</value></set-query-parameter><set-query-parameter name="d" exists-action="skip"><value>new</value></set-query-parameter>')}
      ${when('q-delete', '<set-query-parameter name="e" exists-action="override"><value>1</value></set-query-parameter><set-query-parameter name="f" exists-action="override"><value>1</value></set-query-parameter><set-query-parameter name="e" exists-action="delete" />')}
      ${when('q-expr', '<set-query-parameter name="@(&quot;tool&quot;)" exists-action="override"><value>@(context.Mcp.ToolName)</value><value>@(&quot;a&amp;b=c&quot;)</value></set-query-parameter>')}
      ${when('q-client', '<set-query-parameter name="g" exists-action="override"><value>1</value></set-query-parameter>')}
    </choose>
  </inbound>
  <outbound>
    <set-header name="x-query" exists-action="override"><value>@(context.Request.Url.Query.GetValueOrDefault("a", "-") + "|" + context.Request.Url.Query.GetValueOrDefault("b", "-") + "|" + context.Request.Url.Query.GetValueOrDefault("e", "-"))</value></set-header>
  </outbound>
  ${ON_ERROR_HEADER}
</policies>`;

const RW = `<policies>
  <inbound>
    <choose>
      ${when('rw-sub', '<rewrite-uri template="/sub/path?x=1" />')}
      ${when('rw-dots', '<rewrite-uri template="/a/./b/../c" />')}
      ${when('rw-expr', '<rewrite-uri template="@(&quot;/items/&quot; + context.Mcp.ToolName)" />')}
      ${when('rw-up', '<rewrite-uri id="climb" template="/a/../../etc/passwd" />')}
      ${when('rw-up-encoded', '<rewrite-uri template="/%2e%2e/x" />')}
      ${when('rw-abs', '<rewrite-uri template="http://evil.example/x" />')}
      ${when('rw-proto-relative', '<rewrite-uri template="@(&quot;//evil.example/x&quot;)" />')}
    </choose>
  </inbound>
  ${ON_ERROR_HEADER}
</policies>`;

const METH = `<policies>
  <inbound>
    <choose>
      ${when('put', '<set-method>PUT</set-method>')}
      ${when('expr', '<set-method>@(context.Request.Headers.GetValueOrDefault("x-method", "POST"))</set-method>')}
    </choose>
  </inbound>
  <outbound>
    <set-header name="x-method-seen" exists-action="override"><value>@(context.Request.Method)</value></set-header>
  </outbound>
  ${ON_ERROR_HEADER}
</policies>`;

const checkHeader = (attrs: string, values: string[]) =>
  `<policies><inbound><check-header id="the-check" name="x-api-key" ${attrs}>${values.map((v) => `<value>${v}</value>`).join('')}</check-header></inbound>${ON_ERROR_HEADER}</policies>`;

describe('core policies through the gateway', () => {
  let fx: EverythingServer;
  let fx2: EverythingServer;
  let gw: RunningGateway;
  const u = (name: string) => `${gw.url}/${name}/mcp`;

  before(async () => {
    fx = await startEverythingServer({ transport: 'streamable-http' });
    fx2 = await startEverythingServer({ transport: 'streamable-http' });
    const origin = new URL(fx.url).origin;
    gw = await startGateway({
      backends: { second: { url: fx2.url, timeout: 7 } },
      servers: [
        { name: 'hdr', type: 'passthrough', backend: { url: fx.url }, forwardHeaders: ['x-fwd'], policies: HDR },
        { name: 'vars', type: 'passthrough', backend: { url: fx.url }, policies: VARS },
        { name: 'flow', type: 'passthrough', backend: { url: fx.url }, policies: FLOW },
        { name: 'resp', type: 'passthrough', backend: { url: fx.url }, policies: RESP },
        { name: 'qp', type: 'passthrough', backend: { url: fx.url }, policies: QP },
        { name: 'rw', type: 'passthrough', backend: { url: fx.url }, policies: RW },
        // the configured backend is a dead port: only the policies' target works
        { name: 'rw-origin', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: `<policies><inbound><set-backend-service base-url="${origin}" /><rewrite-uri template="/mcp" /></inbound></policies>` },
        { name: 'sbs-url', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: `<policies><inbound><set-backend-service base-url="${fx2.url}" /></inbound></policies>` },
        { name: 'sbs-id', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: '<policies><inbound><set-backend-service backend-id="second" /></inbound></policies>' },
        {
          name: 'sbs-expr',
          type: 'passthrough',
          backend: { url: fx.url },
          policies: `<policies><inbound><set-backend-service base-url="@(context.Request.Headers.GetValueOrDefault(&quot;x-target&quot;, &quot;${fx.url}&quot;))" /></inbound>${ON_ERROR_HEADER}</policies>`,
        },
        { name: 'meth', type: 'passthrough', backend: { url: fx.url }, policies: METH },
        { name: 'chk', type: 'passthrough', backend: { url: fx.url }, policies: checkHeader('failed-check-httpcode="401" failed-check-error-message="Missing or wrong x-api-key" ignore-case="false"', ['alpha', 'Beta']) },
        { name: 'chk-ic', type: 'passthrough', backend: { url: fx.url }, policies: checkHeader('failed-check-httpcode="403" failed-check-error-message="@(&quot;key &quot; + context.Request.Headers.GetValueOrDefault(&quot;x-api-key&quot;, &quot;?&quot;) + &quot; refused&quot;)" ignore-case="true"', ['alpha', 'Beta']) },
        { name: 'chk-any', type: 'passthrough', backend: { url: fx.url }, policies: '<policies><inbound><check-header name="x-api-key" failed-check-httpcode="400" failed-check-error-message="x-api-key is required" ignore-case="true" /></inbound></policies>' },
        { name: 'mock', type: 'passthrough', backend: { url: fx.url }, policies: '<policies><inbound><mock-response status-code="201" content-type="application/json" /></inbound></policies>' },
        { name: 'mock-text', type: 'passthrough', backend: { url: fx.url }, policies: '<policies><inbound><mock-response status-code="503" content-type="text/plain" /></inbound></policies>' },
        { name: 'mock-default', type: 'passthrough', backend: { url: fx.url }, policies: '<policies><inbound><mock-response /></inbound></policies>' },
        {
          name: 'trace',
          type: 'passthrough',
          backend: { url: fx.url },
          policies: `<policies><inbound>
            <trace source="basic-test" severity="information"><message>@("tool=" + context.Mcp.Method)</message><metadata name="m" value="v" /></trace>
            <trace source="old-form">plain text message</trace>
          </inbound></policies>`,
        },
      ],
    });
  });
  after(async () => {
    await gw?.close();
    await fx?.close();
    await fx2?.close();
  });

  // ------------------------------------------------------------------------------- set-header
  describe('set-header', () => {
    let sid: string;
    before(async () => {
      sid = await session(u('hdr'));
    });
    const seen = async (c: string, extra: Record<string, string> = {}, args: Record<string, unknown> = {}) => seenHeaders(await call(u('hdr'), sid, 'headers', args, { 'x-case': c, ...extra }));

    it('override replaces a client header (one that was never forwarded, and a forwarded one)', async () => {
      const h = await seen('override', { 'x-client': 'client', 'x-fwd': 'client' });
      assert.equal(h['x-client'], 'policy');
      assert.equal(h['x-fwd'], 'policy');
      assert.equal(h['x-always'], 'always');
    });

    it('without a policy, only forwardHeaders reach the backend', async () => {
      const h = await seen('none', { 'x-client': 'client', 'x-fwd': 'client' });
      assert.equal(h['x-client'], undefined);
      assert.equal(h['x-fwd'], 'client');
    });

    it('skip keeps a value set earlier and sets an absent header', async () => {
      const h = await seen('skip-earlier');
      assert.equal(h['x-always'], 'always');
      assert.equal(h['x-new'], 'fresh');
    });

    it('skip keeps a forwarded client header', async () => {
      const h = await seen('skip-forwarded', { 'x-fwd': 'client' });
      assert.equal(h['x-fwd'], 'client');
    });

    it('skip never turns the client Authorization into a forwarded header', async () => {
      const h = await seen('skip-authorization', { authorization: 'Bearer client-secret' });
      assert.equal(h.authorization, undefined, 'the client token must not reach the backend');
      // without a client Authorization the policy's value is set
      const h2 = await seen('skip-authorization');
      assert.equal(h2.authorization, 'Bearer policy');
    });

    it('append adds values after the existing ones', async () => {
      const h = await seen('append', { 'x-fwd': 'client' });
      assert.equal(h['x-fwd'], 'client, p1, p2');
      assert.equal(h['x-always'], 'always, more');
    });

    it('append onto a client header that is not forwarded does not forward the client value', async () => {
      const h = await seen('append-authorization', { authorization: 'Bearer client-secret' });
      assert.doesNotMatch(h.authorization ?? '', /client-secret/);
    });

    it('delete removes a forwarded client header and one set earlier (names are case-insensitive)', async () => {
      const h = await seen('delete', { 'x-fwd': 'client' });
      assert.equal(h['x-fwd'], undefined);
      assert.equal(h['x-always'], undefined);
    });

    it('several <value>s become one comma-separated header', async () => {
      const h = await seen('multi');
      assert.equal(h['x-multi'], 'a, b, c');
    });

    it('name and values may be expressions', async () => {
      const h = await seen('expr', {}, { text: 'hi' });
      assert.equal(h['x-headers'], 'tools/call, hi');
    });

    it('headers the transport owns (content-length, host, mcp-session-id) are not changed by policies', async () => {
      const h = await seen('protected');
      assert.notEqual(h['content-length'], '3');
      assert.notEqual(h.host, 'evil.example');
      assert.notEqual(h['mcp-session-id'], 'forged');
    });

    it('a value with CR/LF is refused when the policy runs: 500 through on-error, nothing reaches the backend', async () => {
      const n = fx.requests.length;
      const r = await call(u('hdr'), sid, 'headers', { text: 'a\r\nx-smuggled: 1' }, { 'x-case': 'crlf' });
      assert.equal(r.status, 500, r.text);
      assert.deepEqual(r.json, errorBody(500, 'header "x-injected" value contains a line break or NUL'));
      assert.equal(r.headers.get('x-error'), 'set-header|PolicyEvaluationFailure|inbound|api|choose[1]/when[10]/set-header[1]|');
      assert.equal(since(fx, n).length, 0);
    });

    it('a header name from an expression that is not an HTTP token is refused when the policy runs', async () => {
      const r = await call(u('hdr'), sid, 'headers', {}, { 'x-case': 'bad-name' });
      assert.equal(r.status, 500, r.text);
      assert.match(r.headers.get('x-error') ?? '', /^set-header\|PolicyEvaluationFailure\|inbound\|/);
    });

    describe('on the response (outbound)', () => {
      const res = async (c: string) => {
        const r = await call(u('hdr'), sid, 'echo', { text: 'x' }, { 'x-case': c });
        assert.equal(r.status, 200, r.text);
        assert.equal(toolText(r), 'x');
        return r;
      };
      it('override', async () => {
        assert.equal((await res('res-override')).headers.get('x-out'), 'second');
      });
      it('skip keeps the earlier value and the backend content type, sets an absent header', async () => {
        const r = await res('res-skip');
        assert.equal(r.headers.get('x-out'), 'first');
        assert.equal(r.headers.get('content-type'), 'text/event-stream');
        assert.equal(r.headers.get('x-out-new'), 'fresh');
      });
      it('append', async () => {
        assert.equal((await res('res-append')).headers.get('x-out'), 'first, second, third');
      });
      it('delete', async () => {
        assert.equal((await res('res-delete')).headers.get('x-out'), null);
      });
      it('several values', async () => {
        assert.equal((await res('res-multi')).headers.get('x-multi'), 'a, b');
      });
      it('name and value from expressions over context.Response', async () => {
        assert.equal((await res('res-expr')).headers.get('x-status-200'), '200');
      });
      it('framing headers (content-length, connection) are not taken from policies', async () => {
        const r = await res('res-framing');
        assert.notEqual(r.headers.get('content-length'), '3');
        assert.notEqual(r.headers.get('connection'), 'close');
      });
      it('Set-Cookie with several values is sent as separate header lines (APIM §10)', async () => {
        const r = await res('res-cookie');
        assert.deepEqual(r.headers.getSetCookie(), ['a=1; Path=/', 'b=2; Path=/']);
      });
      it('outbound set-header also applies to the initialize answer', async () => {
        const r = await post(u('hdr'), INIT);
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('x-out'), 'first');
      });
    });
  });

  // ----------------------------------------------------------------------------- set-variable
  describe('set-variable', () => {
    it('a literal stays a string; an expression keeps its type (int, bool, JObject) for later expressions', async () => {
      const n = fx.requests.length;
      const r = await post(u('vars'), INIT, { 'x-case': 'types' });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, {
        litIsString: true,
        litIsInt: false,
        lit: '42',
        numIsInt: true,
        numIsString: false,
        flagIsBool: true,
        flag: true,
        objIsJObject: true,
        objName: 'gatehouse',
        sum: 45,
      });
      assert.equal(since(fx, n).length, 0, 'return-response answered');
    });

    it('variables set inbound are read outbound, after the backend answered', async () => {
      const sid = await session(u('vars'));
      const r = await call(u('vars'), sid, 'echo', { text: 'v' });
      assert.equal(toolText(r), 'v');
      assert.equal(r.headers.get('x-vars'), 'echo/45/yes');
    });

    it('GetValueOrDefault<int> of a literal (a string) is a runtime error', async () => {
      const r = await post(u('vars'), INIT, { 'x-case': 'lit-as-int' });
      assert.equal(r.status, 500, r.text);
      assert.match(r.headers.get('x-error') ?? '', /^set-variable\|ExpressionValueEvaluationFailure\|inbound\|api\|choose\[1\]\/when\[2\]\/set-variable\[1\]\|$/);
    });
  });

  // ---------------------------------------------------------------------------------- choose
  describe('choose', () => {
    const run = (headers: Record<string, string>) => post(u('flow'), INIT, headers);
    it('the first true <when> wins, even when later ones are true too', async () => {
      const r = await run({ 'x-n': '7' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-size'), 'big');
      assert.equal(r.headers.get('x-huge'), 'no');
      assert.equal((await run({ 'x-n': '3' })).headers.get('x-size'), 'medium');
    });
    it('a literal condition="true" is a condition too; otherwise runs only when no <when> matched', async () => {
      assert.equal((await run({ 'x-n': '1' })).headers.get('x-size'), 'literal-true');
      assert.equal((await run({ 'x-n': '101' })).headers.get('x-huge'), 'yes');
    });
    it('nested choose', async () => {
      assert.equal((await run({ 'x-nested': 'a' })).headers.get('x-nested'), 'inner-a');
      assert.equal((await run({ 'x-nested': 'b' })).headers.get('x-nested'), 'inner-other');
      assert.equal((await run({})).headers.get('x-nested'), 'outer-otherwise');
    });
    it('a condition that is not a boolean is a runtime error of that choose', async () => {
      const r = await run({ 'x-nonbool': 'true' });
      assert.equal(r.status, 500, r.text);
      assert.deepEqual(r.json, errorBody(500, 'a <when> condition evaluated to string, not a boolean'));
      assert.equal(r.headers.get('x-error'), 'choose|PolicyEvaluationFailure|inbound|api|choose[4]/when[1]/choose[1]|');
    });
  });

  // --------------------------------------------------- set-status, set-body, return-response
  describe('set-status, set-body, return-response', () => {
    let sid: string;
    before(async () => {
      sid = await session(u('resp'));
    });

    it('return-response answers with its status, reason, headers and body; nothing after it runs, the backend is not called', async () => {
      const n = fx.requests.length;
      const r = await call(u('resp'), sid, 'echo', { text: 'x' }, { 'x-case': 'rr' });
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('x-made-by'), 'return-response');
      assert.equal(r.headers.get('content-type'), 'application/json');
      assert.equal(r.headers.get('x-never'), null);
      assert.deepEqual(r.json, { made: 'by policy' });
      assert.equal(since(fx, n).length, 0);
    });

    it('an empty return-response is an empty 200', async () => {
      const r = await call(u('resp'), sid, 'echo', { text: 'x' }, { 'x-case': 'rr-empty' });
      assert.equal(r.status, 200);
      assert.equal(r.text, '');
    });

    it('response-variable-name must name a variable that holds a response', async () => {
      const r1 = await call(u('resp'), sid, 'echo', { text: 'x' }, { 'x-case': 'rr-notres' });
      assert.equal(r1.status, 500, r1.text);
      assert.equal(r1.headers.get('x-error'), 'return-response|PolicyEvaluationFailure|inbound|api|choose[1]/when[3]/return-response[1]|');
      const r2 = await call(u('resp'), sid, 'echo', { text: 'x' }, { 'x-case': 'rr-missing' });
      assert.equal(r2.status, 500, r2.text);
      assert.equal(r2.headers.get('x-error'), 'return-response|PolicyEvaluationFailure|inbound|api|choose[1]/when[4]/return-response[1]|rr-missing');
    });

    it('response-variable-name returns a response kept in a variable (here the backend answer), changed by the children', async () => {
      const r = await call(u('resp'), sid, 'echo', { text: 'kept' }, { 'x-case': 'rr-var-out' });
      assert.equal(r.status, 203, r.text);
      assert.equal(r.headers.get('x-from-var'), '200');
    });

    it('set-status in inbound (outside return-response) does not survive the backend call', async () => {
      const r = await call(u('resp'), sid, 'echo', { text: 'x' }, { 'x-case': 'status-in' });
      assert.equal(r.status, 200);
      assert.equal(toolText(r), 'x');
    });

    it('set-status in outbound changes the status of the backend answer', async () => {
      const r = await call(u('resp'), sid, 'echo', { text: 's' }, { 'x-case': 'status-out' });
      assert.equal(r.status, 299);
      assert.equal(toolText(r), 's');
    });

    it('set-body in inbound replaces the request body the backend receives', async () => {
      const n = fx.requests.length;
      const r = await call(u('resp'), sid, 'echo', { text: 'original' }, { 'x-case': 'body-in' });
      assert.equal(toolText(r), 'rewritten by set-body');
      const sent = since(fx, n).find((q) => q.method === 'POST');
      assert.match(sent?.body ?? '', /rewritten by set-body/);
      assert.doesNotMatch(sent?.body ?? '', /original/);
    });

    it('set-body in outbound replaces the backend answer', async () => {
      const r = await call(u('resp'), sid, 'echo', { text: 'o' }, { 'x-case': 'body-out' });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'application/json');
      assert.equal(toolText(r), 'replaced');
    });

    it('return-response in outbound replaces the backend answer', async () => {
      const r = await call(u('resp'), sid, 'echo', { text: 'o' }, { 'x-case': 'rr-out' });
      assert.equal(r.status, 202);
      assert.equal(r.headers.get('x-replaced'), '200');
      assert.equal(r.text, '');
    });
  });

  // ------------------------------------------------------------------------ set-query-parameter
  describe('set-query-parameter', () => {
    let sid: string;
    before(async () => {
      sid = await session(u('qp'));
    });
    const sent = async (c: string, url = u('qp')) => {
      const n = fx.requests.length;
      const r = await call(url, sid, 'echo', { text: 'q' }, { 'x-case': c });
      assert.equal(r.status, 200, r.text);
      assert.equal(toolText(r), 'q');
      const posts = since(fx, n).filter((q) => q.method === 'POST');
      assert.equal(posts.length, 1);
      return { url: new URL(posts[0]!.url, 'http://backend.invalid'), reply: r };
    };

    it('override with several values; context.Request.Url.Query shows them', async () => {
      const { url, reply } = await sent('q-override');
      assert.equal(url.pathname, '/mcp');
      assert.deepEqual(url.searchParams.getAll('a'), ['1', '2']);
      assert.equal(reply.headers.get('x-query'), '1,2|-|-');
    });
    it('append (values are URL-encoded)', async () => {
      const { url, reply } = await sent('q-append');
      assert.deepEqual(url.searchParams.getAll('b'), ['x', 'y z']);
      assert.equal(reply.headers.get('x-query'), '-|x,y z|-');
    });
    it('skip keeps an earlier value and sets an absent one', async () => {
      const { url } = await sent('q-skip');
      assert.deepEqual(url.searchParams.getAll('c'), ['1']);
      assert.deepEqual(url.searchParams.getAll('d'), ['new']);
    });
    it('delete', async () => {
      const { url } = await sent('q-delete');
      assert.equal(url.searchParams.has('e'), false);
      assert.deepEqual(url.searchParams.getAll('f'), ['1']);
    });
    it('name and values from expressions; special characters stay inside the value', async () => {
      const { url } = await sent('q-expr');
      assert.deepEqual(url.searchParams.getAll('tool'), ['echo', 'a&b=c']);
      assert.equal(url.searchParams.has('b'), false);
    });
    it("the client's own query string is not forwarded", async () => {
      const { url } = await sent('q-client', `${u('qp')}?subscription-key=secret&other=1`);
      assert.equal(url.search, '?g=1');
    });
  });

  // -------------------------------------------------------------------------------- rewrite-uri
  describe('rewrite-uri', () => {
    let sid: string;
    before(async () => {
      sid = await session(u('rw'));
    });
    const attempt = async (c: string) => {
      const n = fx.requests.length;
      const r = await call(u('rw'), sid, 'echo', { text: 'r' }, { 'x-case': c });
      return { r, urls: since(fx, n).map((q) => q.url) };
    };

    it('the backend sees the rewritten path (relative to the backend base URL) and query', async () => {
      const { r, urls } = await attempt('rw-sub');
      assert.ok(urls.length >= 1);
      assert.ok(urls.every((x) => x === '/mcp/sub/path?x=1'), urls.join(' '));
      // the fixture serves only /mcp: its 404 is a backend failure
      assert.equal(r.status, 502, r.text);
      assert.match(r.headers.get('x-error') ?? '', /^forward-request\|/);
    });
    it('dot segments inside the template are resolved', async () => {
      const { urls } = await attempt('rw-dots');
      assert.equal(urls[0], '/mcp/a/c');
    });
    it('the template may be an expression', async () => {
      const { urls } = await attempt('rw-expr');
      assert.equal(urls[0], '/mcp/items/echo');
    });
    for (const c of ['rw-up', 'rw-up-encoded', 'rw-abs', 'rw-proto-relative']) {
      it(`${c}: a template that leaves the backend base (.., absolute, protocol-relative) is refused, nothing is sent`, async () => {
        const { r, urls } = await attempt(c);
        assert.equal(r.status, 500, r.text);
        assert.match(r.headers.get('x-error') ?? '', /^rewrite-uri\|PolicyEvaluationFailure\|inbound\|api\|/);
        assert.deepEqual(urls, []);
      });
    }
    it('the LastError of a refused template carries its id', async () => {
      const { r } = await attempt('rw-up');
      assert.equal(r.headers.get('x-error'), 'rewrite-uri|PolicyEvaluationFailure|inbound|api|choose[1]/when[4]/rewrite-uri[1]|climb');
    });
    it('with set-backend-service to an origin, rewrite-uri gives the whole path: an SDK client works through it', async () => {
      const n = fx.requests.length;
      const c = new Client({ name: 'rw', version: '1' });
      const t = new StreamableHTTPClientTransport(new URL(u('rw-origin')));
      await c.connect(t);
      const res = await c.callTool({ name: 'echo', arguments: { text: 'via origin + rewrite' } });
      assert.deepEqual(res.content, [{ type: 'text', text: 'via origin + rewrite' }]);
      await c.close();
      const posts = since(fx, n).filter((q) => q.method === 'POST');
      assert.ok(posts.length >= 3);
      assert.ok(posts.every((q) => q.url === '/mcp'));
    });
  });

  // ------------------------------------------------------------------------ set-backend-service
  describe('set-backend-service', () => {
    const throughSdk = async (server: string) => {
      const n1 = fx.requests.length;
      const n2 = fx2.requests.length;
      const c = new Client({ name: 'sbs', version: '1' });
      await c.connect(new StreamableHTTPClientTransport(new URL(u(server))));
      const res = await c.callTool({ name: 'echo', arguments: { text: server } });
      assert.deepEqual(res.content, [{ type: 'text', text: server }]);
      await c.close();
      const posts2 = since(fx2, n2).filter((q) => q.method === 'POST');
      assert.ok(posts2.some((q) => (q.json as { method?: string } | undefined)?.method === 'initialize'));
      assert.ok(posts2.some((q) => (q.json as { method?: string } | undefined)?.method === 'tools/call'));
      assert.equal(since(fx, n1).length, 0, 'nothing reached the configured backend');
    };
    it('base-url sends every POST to another backend (a second fixture)', async () => {
      await throughSdk('sbs-url');
    });
    it('backend-id takes the URL from the config backends', async () => {
      await throughSdk('sbs-id');
    });
    it('an expression base-url is checked when it runs: not http(s) → 500, nothing sent', async () => {
      const n = fx.requests.length;
      const r = await post(u('sbs-expr'), INIT, { 'x-target': 'file:///etc/passwd' });
      assert.equal(r.status, 500, r.text);
      assert.match(r.headers.get('x-error') ?? '', /^set-backend-service\|PolicyEvaluationFailure\|inbound\|api\|set-backend-service\[1\]\|$/);
      assert.equal(since(fx, n).length, 0);
      const ok = await post(u('sbs-expr'), INIT, { 'x-target': fx2.url });
      assert.equal(ok.status, 200, ok.text);
    });
    it('an expression base-url obeys the SSRF rules: cloud metadata and link-local targets are refused, nothing sent', async () => {
      for (const target of ['http://169.254.169.254/latest/meta-data', 'http://metadata.google.internal/computeMetadata', 'http://[fe80::1]/x']) {
        const r = await post(u('sbs-expr'), INIT, { 'x-target': target });
        assert.equal(r.status, 500, `${target}: ${r.text}`);
        assert.match(r.headers.get('x-error') ?? '', /^set-backend-service\|/);
        assert.doesNotMatch(r.text, /meta-data|computeMetadata/, 'the refused URL is not echoed');
      }
    });
    it('the standalone GET stream and DELETE follow the policy target too', async () => {
      const n2 = fx2.requests.length;
      const sid = await session(u('sbs-url'));
      const g = await fetch(u('sbs-url'), { method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': sid } });
      assert.equal(g.status, 200);
      await g.body?.cancel();
      const d = await fetch(u('sbs-url'), { method: 'DELETE', headers: { 'mcp-session-id': sid } });
      assert.equal(d.status, 200);
      assert.ok(since(fx2, n2).some((q) => q.method === 'DELETE'));
    });
  });

  // --------------------------------------------------------------------------------- set-method
  describe('set-method', () => {
    it('the backend receives the method the policy set (the fixture answers PUT with 405: a backend failure)', async () => {
      const sid = await session(u('meth'));
      const n = fx.requests.length;
      const r = await call(u('meth'), sid, 'echo', { text: 'm' }, { 'x-case': 'put' });
      assert.deepEqual(since(fx, n).map((q) => q.method), ['PUT']);
      assert.equal(r.status, 502, r.text);
      const ok = await call(u('meth'), sid, 'echo', { text: 'm' }, { 'x-case': 'expr', 'x-method': 'post' });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('x-method-seen'), 'POST');
    });
    it('an expression that is not a method is refused when it runs', async () => {
      const sid = await session(u('meth'));
      const r = await call(u('meth'), sid, 'echo', { text: 'm' }, { 'x-case': 'expr', 'x-method': 'GET /x' });
      assert.equal(r.status, 500);
      assert.match(r.headers.get('x-error') ?? '', /^set-method\|PolicyEvaluationFailure\|inbound\|api\|choose\[1\]\/when\[2\]\/set-method\[1\]\|$/);
    });
  });

  // ------------------------------------------------------------------------------- check-header
  describe('check-header', () => {
    const init = async (server: string, key?: string) => {
      const n = fx.requests.length;
      const r = await post(u(server), INIT, key === undefined ? {} : { 'x-api-key': key });
      return { r, reached: since(fx, n).length > 0 };
    };
    it('a missing header: HeaderNotFound with the configured status and message', async () => {
      const { r, reached } = await init('chk');
      assert.equal(r.status, 401);
      assert.deepEqual(r.json, errorBody(401, 'Missing or wrong x-api-key'));
      assert.equal(r.headers.get('x-error'), 'check-header|HeaderNotFound|inbound|api|check-header[1]|the-check');
      assert.equal(reached, false);
    });
    it('a value not in the list: HeaderValueNotAllowed (case-sensitive unless ignore-case)', async () => {
      for (const v of ['gamma', 'ALPHA', 'beta']) {
        const { r, reached } = await init('chk', v);
        assert.equal(r.status, 401, v);
        assert.equal(r.headers.get('x-error'), 'check-header|HeaderValueNotAllowed|inbound|api|check-header[1]|the-check');
        assert.equal(reached, false);
      }
    });
    it('an allowed value passes (any of several comma-separated values)', async () => {
      for (const v of ['alpha', 'Beta', 'gamma, Beta']) {
        const { r, reached } = await init('chk', v);
        assert.equal(r.status, 200, `${v}: ${r.text}`);
        assert.equal(reached, true);
      }
    });
    it('ignore-case="true"; the message may be an expression', async () => {
      for (const v of ['ALPHA', 'beta']) assert.equal((await init('chk-ic', v)).r.status, 200, v);
      const { r } = await init('chk-ic', 'delta');
      assert.equal(r.status, 403);
      assert.deepEqual(r.json, errorBody(403, 'key delta refused'));
    });
    it('without <value>s only presence is checked', async () => {
      assert.equal((await init('chk-any', 'anything')).r.status, 200);
      const { r } = await init('chk-any');
      assert.equal(r.status, 400);
      assert.deepEqual(r.json, errorBody(400, 'x-api-key is required'));
    });
  });

  // ------------------------------------------------------------------------------ mock-response
  describe('mock-response', () => {
    it('answers with the status and content type, never reaching the backend', async () => {
      const n = fx.requests.length;
      const a = await post(u('mock'), INIT);
      assert.equal(a.status, 201);
      assert.equal(a.headers.get('content-type'), 'application/json');
      assert.deepEqual(a.json, {});
      const b = await post(u('mock-text'), INIT);
      assert.equal(b.status, 503);
      assert.equal(b.headers.get('content-type'), 'text/plain');
      assert.equal(b.text, '');
      const c = await post(u('mock-default'), INIT);
      assert.equal(c.status, 200);
      assert.equal(c.headers.get('content-type'), 'application/json');
      assert.equal(since(fx, n).length, 0);
    });
  });

  // -------------------------------------------------------------------------------------- trace
  describe('trace', () => {
    it('writes the <message> and the older text form to the debug log, with metadata', async () => {
      const n = gw.logs.length;
      const r = await post(u('trace'), INIT);
      assert.equal(r.status, 200);
      const traces = gw.logs.slice(n).map((l) => JSON.parse(l) as { msg?: string; trace?: unknown; metadata?: unknown }).filter((l) => l.msg === 'trace');
      assert.deepEqual(traces.map((t) => t.trace), [
        { source: 'basic-test', severity: 'information', message: 'tool=initialize' },
        { source: 'old-form', severity: 'verbose', message: 'plain text message' },
      ]);
      assert.deepEqual(traces[0]!.metadata, { m: 'v' });
    });
  });
});

// -------------------------------------------------------------------------------------------------

describe('trace messages in `gatehouse policy test`', () => {
  it('lists both forms of trace with source and severity', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-basic-trace-'));
    try {
      writeFileSync(join(dir, 'gatehouse.yaml'), 'servers:\n  - name: t\n    type: passthrough\n    backend: { url: "http://127.0.0.1:9/mcp" }\n    policies: ./t.xml\n');
      writeFileSync(
        join(dir, 't.xml'),
        '<policies>\n  <inbound>\n    <trace source="new" severity="error"><message>@("m=" + context.Mcp.Method)</message></trace>\n    <trace source="old">old text</trace>\n  </inbound>\n</policies>\n',
      );
      writeFileSync(join(dir, 'req.json'), JSON.stringify({ body: { jsonrpc: '2.0', id: 1, method: 'tools/list' } }));
      const out: string[] = [];
      const err: string[] = [];
      const io = { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s), cwd: dir, env: {} };
      assert.equal(await main(['policy', 'test', '-c', 'gatehouse.yaml', '--server', 't', '--request', 'req.json', '--json'], io), 0, err.join('\n'));
      const json = JSON.parse(out.join('')) as { traceMessages: unknown[] };
      assert.deepEqual(json.traceMessages, [
        { source: 'new', severity: 'error', message: 'm=tools/list' },
        { source: 'old', severity: 'verbose', message: 'old text' },
      ]);
      out.length = 0;
      assert.equal(await main(['policy', 'test', '-c', 'gatehouse.yaml', '--server', 't', '--request', 'req.json'], io), 0);
      const text = out.join('\n');
      assert.match(text, /^trace +\[error\] new: m=tools\/list$/m);
      assert.match(text, /^trace +\[verbose\] old: old text$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// -------------------------------------------------------------------------------------------------

describe('forward-request', () => {
  let slow: Awaited<ReturnType<typeof startSlowJsonBackend>>;
  let fx: EverythingServer;
  let gw: RunningGateway;
  const u = (name: string) => `${gw.url}/${name}/mcp`;

  before(async () => {
    slow = await startSlowJsonBackend();
    fx = await startEverythingServer({ transport: 'streamable-http' });
    gw = await startGateway({
      servers: [
        { name: 'ms', type: 'passthrough', backend: { url: slow.url }, policies: `<policies><backend><forward-request id="fwd" timeout-ms="300" /></backend>${ON_ERROR_HEADER}</policies>` },
        { name: 'sec', type: 'passthrough', backend: { url: slow.url }, policies: '<policies><backend><forward-request timeout="1" /></backend></policies>' },
        {
          name: 'ms-out',
          type: 'passthrough',
          backend: { url: slow.url },
          policies: `<policies><backend><forward-request timeout-ms="@(200 + 100)" /></backend><outbound><set-header name="x-out" exists-action="override"><value>o</value></set-header></outbound>${ON_ERROR_HEADER}</policies>`,
        },
        { name: 'sse', type: 'passthrough', backend: { url: fx.url }, policies: `<policies><backend><forward-request timeout-ms="300" /></backend>${ON_ERROR_HEADER}</policies>` },
        {
          name: 'fail',
          type: 'passthrough',
          backend: { url: fx.url },
          policies: `<policies><inbound><choose>${when('bad-version', '<set-header name="mcp-protocol-version" exists-action="override"><value>1999-01-01</value></set-header>')}</choose></inbound><backend><forward-request fail-on-error-status-code="true" /></backend><outbound><set-header name="x-out" exists-action="override"><value>o</value></set-header></outbound>${ON_ERROR_HEADER}</policies>`,
        },
        {
          name: 'nofail',
          type: 'passthrough',
          backend: { url: fx.url },
          policies: `<policies><inbound><choose>${when('bad-version', '<set-header name="mcp-protocol-version" exists-action="override"><value>1999-01-01</value></set-header>')}</choose></inbound><backend><forward-request /></backend><outbound><set-header name="x-out" exists-action="override"><value>o</value></set-header></outbound>${ON_ERROR_HEADER}</policies>`,
        },
      ],
    });
  });
  after(async () => {
    await gw?.close();
    await slow?.close();
    await fx?.close();
  });

  it('timeout-ms: a backend slower than that gives 504, LastError from forward-request (Reason Timeout, id as PolicyId)', async () => {
    const sid = await session(u('ms'));
    const t0 = performance.now();
    const r = await call(u('ms'), sid, 'slow', { ms: 1500 });
    const ms = performance.now() - t0;
    assert.equal(r.status, 504, r.text);
    assert.ok(ms < 1200, `answered after ${Math.round(ms)} ms`);
    assert.equal(r.headers.get('x-error'), 'forward-request|Timeout|backend|api|forward-request[1]|fwd');
    const fast = await call(u('ms'), sid, 'slow', { ms: 10 });
    assert.equal(fast.status, 200, fast.text);
    assert.equal(toolText(fast), 'slept 10');
  });

  it('timeout (seconds) without on-error: 504 with {"statusCode": 504, "message"}', async () => {
    const sid = await session(u('sec'));
    const r = await call(u('sec'), sid, 'slow', { ms: 1600 });
    assert.equal(r.status, 504, r.text);
    const body = r.json as { statusCode: number; message: string };
    assert.equal(body.statusCode, 504);
    assert.equal(typeof body.message, 'string');
    assert.ok(body.message.length > 0);
  });

  it('timeout-ms as an expression, with outbound policies (the answer handed back to the pipeline)', async () => {
    const sid = await session(u('ms-out'));
    const r = await call(u('ms-out'), sid, 'slow', { ms: 1500 });
    assert.equal(r.status, 504, r.text);
    assert.equal(r.headers.get('x-out'), null, 'outbound does not run after an error');
    assert.match(r.headers.get('x-error') ?? '', /^forward-request\|Timeout\|backend\|api\|/);
  });

  it('timeout-ms bounds the wait for the backend\'s answer, not a stream that has started (APIM: timeout is the wait for the response)', async () => {
    // an SSE backend answers at once and then streams: the started stream is not cut, so a slow tool
    // still completes (progress keeps flowing); a backend that doesn't answer in time is a 504 (test above)
    const sid = await session(u('sse'));
    const r = await call(u('sse'), sid, 'slow', { ms: 1500 });
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /done/);
  });

  it('fail-on-error-status-code="true": a backend 4xx goes to on-error', async () => {
    const sid = await session(u('fail'));
    const r = await call(u('fail'), sid, 'echo', { text: 'x' }, { 'x-case': 'bad-version' });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.headers.get('x-error'), 'forward-request|BackendErrorStatusCode|backend|api|forward-request[1]|');
    assert.equal(r.headers.get('x-out'), null);
    const ok = await call(u('fail'), sid, 'echo', { text: 'x' });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-out'), 'o');
  });

  it('without it, the backend 4xx JSON-RPC answer is the client\'s to see and outbound runs', async () => {
    const sid = await session(u('nofail'));
    const r = await call(u('nofail'), sid, 'echo', { text: 'x' }, { 'x-case': 'bad-version' });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.headers.get('x-error'), null);
    assert.equal(r.headers.get('x-out'), 'o');
    assert.ok((lastMessage(r.text) as { error?: unknown }).error, r.text);
  });
});

// -------------------------------------------------------------------------------------------------

describe('on-error and context.LastError', () => {
  let fx: EverythingServer;
  let gw: RunningGateway;
  let url: string;

  const ERR = `<policies>
  <inbound>
    <choose>
      ${when('check', '<check-header id="need-key" name="x-key" failed-check-httpcode="401" failed-check-error-message="x-key is required" ignore-case="true" />')}
      ${when('expr', '<set-variable id="bad-cast" name="v" value="@(((string)context.Variables[&quot;missing&quot;]).Length)" />')}
      ${when('in-on-error', '<check-header name="x-key" failed-check-httpcode="401" failed-check-error-message="x-key is required" ignore-case="true" />')}
    </choose>
  </inbound>
  <outbound>
    <choose>
      ${when('outbound', '<set-header id="out-bad" name="@(&quot;bad name&quot;)" exists-action="override"><value>v</value></set-header>')}
      ${when('replace', '<return-response><set-status code="202" reason="Replaced" /></return-response>')}
    </choose>
  </outbound>
  <on-error>
    <set-variable name="status-at-on-error" value="@(context.Response.StatusCode)" />
    <choose>
      ${when('in-on-error', '<set-header name="@(&quot;bad name&quot;)" exists-action="override"><value>v</value></set-header>')}
    </choose>
    <return-response>
      <set-status code="418" reason="Handled" />
      <set-header name="content-type" exists-action="override"><value>application/json</value></set-header>
      <set-body>@(new JObject(
        new JProperty("source", context.LastError.Source),
        new JProperty("reason", context.LastError.Reason),
        new JProperty("message", context.LastError.Message),
        new JProperty("scope", context.LastError.Scope),
        new JProperty("section", context.LastError.Section),
        new JProperty("path", context.LastError.Path),
        new JProperty("policyId", context.LastError.PolicyId),
        new JProperty("status", (int)context.Variables["status-at-on-error"])
      ).ToString(Newtonsoft.Json.Formatting.None))</set-body>
    </return-response>
  </on-error>
</policies>`;

  before(async () => {
    fx = await startEverythingServer({ transport: 'streamable-http' });
    gw = await startGateway({ servers: [{ name: 'err', type: 'passthrough', backend: { url: fx.url }, policies: ERR }] });
    url = `${gw.url}/err/mcp`;
  });
  after(async () => {
    await gw?.close();
    await fx?.close();
  });

  it('every LastError field of a policy failure (check-header inside choose, with an id); context.Response.StatusCode is the error status', async () => {
    const r = await post(url, INIT, { 'x-case': 'check' });
    assert.equal(r.status, 418, r.text);
    assert.deepEqual(r.json, {
      source: 'check-header',
      reason: 'HeaderNotFound',
      message: 'x-key is required',
      scope: 'api',
      section: 'inbound',
      path: 'choose[1]/when[1]/check-header[1]',
      policyId: 'need-key',
      status: 401,
    });
  });

  it('an expression failure: ExpressionValueEvaluationFailure, status 500', async () => {
    const r = await post(url, INIT, { 'x-case': 'expr' });
    assert.equal(r.status, 418, r.text);
    const j = r.json as Record<string, unknown>;
    assert.equal(j.source, 'set-variable');
    assert.equal(j.reason, 'ExpressionValueEvaluationFailure');
    assert.match(String(j.message), /^Expression evaluation failed\./);
    assert.equal(j.path, 'choose[1]/when[2]/set-variable[1]');
    assert.equal(j.policyId, 'bad-cast');
    assert.equal(j.status, 500);
  });

  it('a failure in outbound: Section outbound, after the backend answered', async () => {
    const sid = await session(url);
    const r = await call(url, sid, 'echo', { text: 'x' }, { 'x-case': 'outbound' });
    assert.equal(r.status, 418, r.text);
    const j = r.json as Record<string, unknown>;
    assert.deepEqual([j.source, j.section, j.scope, j.path, j.policyId], ['set-header', 'outbound', 'api', 'choose[1]/when[1]/set-header[1]', 'out-bad']);
  });

  it('a policy answer that replaces a streamed (SSE) backend answer: the unused stream is dropped, the gateway keeps running', async () => {
    // regression: the dropped undici body used to raise an unhandled "error" event (a process crash)
    for (let i = 0; i < 5; i++) {
      const sid = await session(url);
      const r = await call(url, sid, i % 2 === 0 ? 'echo' : 'slow', i % 2 === 0 ? { text: 'x' } : { ms: 100 }, { 'x-case': 'replace' });
      assert.equal(r.status, 202, r.text);
      const o = await call(url, sid, 'echo', { text: 'x' }, { 'x-case': 'outbound' });
      assert.equal(o.status, 418, o.text);
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await post(url, INIT)).status, 200);
  });

  it('an error inside on-error ends on-error: the client gets that error, the rest of on-error does not run', async () => {
    const r = await post(url, INIT, { 'x-case': 'in-on-error' });
    assert.equal(r.status, 500, r.text);
    assert.deepEqual(r.json, errorBody(500, '"bad name" is not a valid header name'));
  });

  it('no error, no on-error', async () => {
    const r = await post(url, INIT);
    assert.equal(r.status, 200, r.text);
  });

});

// -------------------------------------------------------------------------------------------------

describe('<base/> composition global → server → tool', () => {
  let fx: EverythingServer;
  let gw: RunningGateway;
  let url: string;

  const add = (v: string, name = 'order') => `<set-variable name="${name}" value="@(context.Variables.GetValueOrDefault&lt;string&gt;(&quot;${name}&quot;, &quot;&quot;) + &quot;${v} &quot;)" />`;
  const emit = (header: string, name: string) => `<set-header name="${header}" exists-action="override"><value>@(context.Variables.GetValueOrDefault&lt;string&gt;(&quot;${name}&quot;, &quot;&quot;).Trim())</value></set-header>`;
  const fail = (where: string, id: string) => `<choose><when condition="@(context.Request.Headers.GetValueOrDefault(&quot;x-fail&quot;, &quot;&quot;) == &quot;${where}&quot;)"><check-header id="${id}" name="x-never" failed-check-httpcode="409" failed-check-error-message="${where} failed" ignore-case="true" /></when></choose>`;
  const lastError = `<set-header name="x-last-error" exists-action="override"><value>@(context.LastError.Scope + "|" + context.LastError.Section + "|" + context.LastError.Path + "|" + context.LastError.PolicyId)</value></set-header>`;

  const GLOBAL = `<policies>
  <inbound>${add('G')}<set-header name="x-global-in" exists-action="override"><value>g</value></set-header>${fail('global', 'g-check')}</inbound>
  <backend><forward-request /></backend>
  <outbound>${add('G', 'out')}</outbound>
  <on-error>${add('G', 'err')}</on-error>
</policies>`;
  const SERVER = `<policies>
  <inbound>${add('S1')}<base />${add('S2')}${fail('api', 'api-check')}</inbound>
  <backend><base /></backend>
  <outbound><base />${add('S', 'out')}${emit('x-order', 'order')}${emit('x-out', 'out')}</outbound>
  <on-error>${add('S1', 'err')}<base />${add('S2', 'err')}${emit('x-err-order', 'err')}${lastError}</on-error>
</policies>`;
  const TOOL = `<policies>
  <inbound><base />${add('T')}${fail('operation', 'op-check')}</inbound>
  <outbound>${add('T1', 'out')}<base />${add('T2', 'out')}${emit('x-order', 'order')}${emit('x-out', 'out')}</outbound>
  <on-error><base />${add('T', 'err')}${emit('x-err-order', 'err')}</on-error>
</policies>`;
  // no <base/> in inbound: neither server nor global inbound policies apply to this tool
  const CUT = `<policies><inbound>${add('T-only')}</inbound></policies>`;

  before(async () => {
    fx = await startEverythingServer({ transport: 'streamable-http' });
    gw = await startGateway({
      policies: GLOBAL,
      servers: [{ name: 'sc', type: 'passthrough', backend: { url: fx.url }, policies: SERVER, tools: [{ name: 'echo', policies: TOOL }, { name: 'headers', policies: CUT }] }],
    });
    url = `${gw.url}/sc/mcp`;
  });
  after(async () => {
    await gw?.close();
    await fx?.close();
  });

  it('server scope: policies before <base/>, the global ones, then the rest', async () => {
    const sid = await session(url);
    const r = await post(url, { jsonrpc: '2.0', id: 5, method: 'tools/list' }, { 'mcp-session-id': sid });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-order'), 'S1 G S2');
    assert.equal(r.headers.get('x-out'), 'G S');
  });

  it('tool scope: global → server → tool, each <base/> where it stands, in inbound and outbound', async () => {
    const sid = await session(url);
    const n = fx.requests.length;
    const r = await call(url, sid, 'echo', { text: 'scoped' });
    assert.equal(toolText(r), 'scoped');
    assert.equal(r.headers.get('x-order'), 'S1 G S2 T');
    assert.equal(r.headers.get('x-out'), 'T1 G S T2');
    assert.ok(since(fx, n).some((q) => q.headers['x-global-in'] === 'g'));
  });

  it('a tool section without <base/> cuts inheritance (global inbound not applied); omitted sections are inherited', async () => {
    const sid = await session(url);
    const r = await call(url, sid, 'headers', {});
    const seen = seenHeaders(r);
    assert.equal(seen['x-global-in'], undefined);
    assert.equal(r.headers.get('x-order'), 'T-only');
    assert.equal(r.headers.get('x-out'), 'G S');
  });

  it('on-error composes the same way; LastError.Scope names the scope of the failing policy', async () => {
    const sid = await session(url);
    const cases: [string, string, string][] = [
      ['global', 'S1 G S2 T', 'global|inbound|choose[1]/when[1]/check-header[1]|g-check'],
      ['api', 'S1 G S2 T', 'api|inbound|choose[2]/when[1]/check-header[1]|api-check'],
      ['operation', 'S1 G S2 T', 'operation|inbound|choose[3]/when[1]/check-header[1]|op-check'],
    ];
    for (const [where, order, last] of cases) {
      const r = await call(url, sid, 'echo', { text: 'x' }, { 'x-fail': where });
      assert.equal(r.status, 409, `${where}: ${r.text}`);
      assert.deepEqual(r.json, errorBody(409, `${where} failed`));
      assert.equal(r.headers.get('x-err-order'), order, where);
      assert.equal(r.headers.get('x-last-error'), last, where);
    }
    // a request without a tool scope: server on-error around global's
    const r = await post(url, { jsonrpc: '2.0', id: 6, method: 'tools/list' }, { 'mcp-session-id': sid, 'x-fail': 'api' });
    assert.equal(r.status, 409);
    assert.equal(r.headers.get('x-err-order'), 'S1 G S2');
  });
});

// -------------------------------------------------------------------------------------------------
// Load-time problems: each policy's wrong attributes with the exact LINE:COL.

interface LoadCase {
  policy: string;
  section: 'inbound' | 'backend' | 'outbound' | 'on-error';
  xml: string;
  /** where the problem is: the first occurrence of this text in the policy line (its first character) */
  at: string;
  message: RegExp;
}

const LOAD_CASES: LoadCase[] = [
  { policy: 'set-header', section: 'inbound', xml: '<set-header name="a" colour="red"><value>x</value></set-header>', at: 'colour', message: /^unknown attribute "colour" on <set-header>$/ },
  { policy: 'set-header', section: 'inbound', xml: '<set-header name="a" exists-action="merge"><value>x</value></set-header>', at: 'merge', message: /^attribute "exists-action" of <set-header> must be one of override, skip, append, delete, got "merge"$/ },
  { policy: 'set-header', section: 'inbound', xml: '<set-header name="a" exists-action="@(&quot;skip&quot;)"><value>x</value></set-header>', at: '@(', message: /^attribute "exists-action" of <set-header> does not accept policy expressions$/ },
  { policy: 'set-header', section: 'inbound', xml: '<set-header exists-action="override"><value>x</value></set-header>', at: '<set-header', message: /^<set-header> requires the attribute "name"$/ },
  { policy: 'set-header', section: 'outbound', xml: '<set-header name="a" exists-action="override" />', at: '<set-header', message: /^<set-header> needs at least one <value> unless exists-action="delete"$/ },
  { policy: 'set-header', section: 'inbound', xml: '<set-header name="a"><val>x</val></set-header>', at: '<val>', message: /^<set-header> cannot contain <val> \(allowed: value\)$/ },
  { policy: 'set-header', section: 'inbound', xml: '<set-header name=""><value>x</value></set-header>', at: '"><value>', message: /^"" is not a valid header name$/ },
  { policy: 'set-variable', section: 'inbound', xml: '<set-variable name="@(&quot;n&quot;)" value="1" />', at: '@(', message: /^attribute "name" of <set-variable> does not accept policy expressions$/ },
  { policy: 'set-variable', section: 'inbound', xml: '<set-variable name="n" />', at: '<set-variable', message: /^<set-variable> requires the attribute "value"$/ },
  { policy: 'set-variable', section: 'outbound', xml: '<set-variable name="n" value="1" scope="x" />', at: 'scope', message: /^unknown attribute "scope" on <set-variable>$/ },
  { policy: 'set-variable', section: 'inbound', xml: '<set-variable name="v" value="@(context.Nope)" />', at: 'Nope', message: /Nope/ },
  { policy: 'choose', section: 'inbound', xml: '<choose><when><set-variable name="a" value="1" /></when></choose>', at: '<when>', message: /^<when> requires the attribute "condition"$/ },
  { policy: 'choose', section: 'inbound', xml: '<choose><when condition="yes"><set-variable name="a" value="1" /></when></choose>', at: 'yes', message: /^condition must be a boolean expression @\(\.\.\.\), got "yes"$/ },
  { policy: 'choose', section: 'inbound', xml: '<choose><otherwise /><when condition="@(true)" /></choose>', at: '<when', message: /^<when> must come before <otherwise>$/ },
  { policy: 'choose', section: 'inbound', xml: '<choose><when condition="@(true)" foo="1" /></choose>', at: 'foo', message: /^unknown attribute "foo" on <when>$/ },
  { policy: 'choose', section: 'inbound', xml: '<choose><foo /></choose>', at: '<foo', message: /^<choose> cannot contain <foo> \(allowed: when, otherwise\)$/ },
  { policy: 'choose', section: 'inbound', xml: '<choose />', at: '<choose', message: /^<choose> needs at least one <when>$/ },
  { policy: 'choose', section: 'inbound', xml: '<choose><when condition="@(true)" /><otherwise /><otherwise /></choose>', at: '<otherwise /></choose>', message: /^<choose> can have only one <otherwise>$/ },
  { policy: 'choose', section: 'inbound', xml: '<choose><when condition="@(true)"><frob /></when></choose>', at: '<frob', message: /^unknown policy <frob>$/ },
  { policy: 'choose', section: 'outbound', xml: '<choose><when condition="@(true)"><rewrite-uri template="/x" /></when></choose>', at: '<rewrite-uri', message: /^policy <rewrite-uri> is not allowed in the outbound section/ },
  { policy: 'set-status', section: 'outbound', xml: '<set-status code="abc" />', at: 'abc', message: /^attribute "code" of <set-status> must be an integer between 100 and 599, got "abc"$/ },
  { policy: 'set-status', section: 'outbound', xml: '<set-status code="99" />', at: '99', message: /^attribute "code" of <set-status> must be an integer between 100 and 599, got "99"$/ },
  { policy: 'set-status', section: 'on-error', xml: '<set-status reason="x" />', at: '<set-status', message: /^<set-status> requires the attribute "code"$/ },
  { policy: 'set-status', section: 'outbound', xml: '<set-status code="200" text="x" />', at: 'text', message: /^unknown attribute "text" on <set-status>$/ },
  { policy: 'set-body', section: 'outbound', xml: '<set-body template="xslt">x</set-body>', at: 'xslt', message: /^attribute "template" of <set-body> must be one of none, liquid, got "xslt"$/ },
  { policy: 'set-body', section: 'inbound', xml: '<set-body parse-date="maybe">x</set-body>', at: 'maybe', message: /^attribute "parse-date" of <set-body> must be true or false, got "maybe"$/ },
  { policy: 'set-body', section: 'inbound', xml: '<set-body>@(context.Request.Body.Nope())</set-body>', at: 'Nope', message: /Nope/ },
  { policy: 'return-response', section: 'inbound', xml: '<return-response><set-variable name="a" value="1" /></return-response>', at: '<set-variable', message: /^<return-response> cannot contain <set-variable> \(allowed: set-status, set-header, set-body\)$/ },
  { policy: 'return-response', section: 'inbound', xml: '<return-response response-variable-name="@(&quot;x&quot;)" />', at: '@(', message: /^attribute "response-variable-name" of <return-response> does not accept policy expressions$/ },
  { policy: 'return-response', section: 'inbound', xml: '<return-response><set-status code="600" /></return-response>', at: '600', message: /^attribute "code" of <set-status> must be an integer between 100 and 599, got "600"$/ },
  { policy: 'forward-request', section: 'backend', xml: '<forward-request timeout="abc" />', at: 'abc', message: /^attribute "timeout" of <forward-request> must be an integer between 0 and 240000, got "abc"$/ },
  { policy: 'forward-request', section: 'backend', xml: '<forward-request timeout="-1" />', at: '-1', message: /^attribute "timeout" of <forward-request> must be an integer/ },
  { policy: 'forward-request', section: 'backend', xml: '<forward-request timeout="1" timeout-ms="100" />', at: '<forward-request', message: /^use either timeout or timeout-ms, not both$/ },
  { policy: 'forward-request', section: 'backend', xml: '<forward-request follow-redirects="true" />', at: 'true', message: /^follow-redirects="true" is not supported/ },
  { policy: 'forward-request', section: 'backend', xml: '<forward-request http-version="3" />', at: '3"', message: /^attribute "http-version" of <forward-request> must be one of 1, 2or1, 2, got "3"$/ },
  { policy: 'forward-request', section: 'backend', xml: '<forward-request fail-on-error-status-code="yes" />', at: 'yes', message: /^attribute "fail-on-error-status-code" of <forward-request> must be one of false, true, got "yes"$/ },
  { policy: 'forward-request', section: 'backend', xml: '<forward-request buffer-response="@(true)" />', at: '@(', message: /^attribute "buffer-response" of <forward-request> does not accept policy expressions$/ },
  { policy: 'forward-request', section: 'inbound', xml: '<forward-request />', at: '<forward-request', message: /^policy <forward-request> is not allowed in the inbound section \(allowed: backend\)$/ },
  { policy: 'set-query-parameter', section: 'inbound', xml: '<set-query-parameter exists-action="override"><value>1</value></set-query-parameter>', at: '<set-query-parameter', message: /^<set-query-parameter> requires the attribute "name"$/ },
  { policy: 'set-query-parameter', section: 'inbound', xml: '<set-query-parameter name="a" />', at: '<set-query-parameter', message: /^<set-query-parameter> needs at least one <value> unless exists-action="delete"$/ },
  { policy: 'set-query-parameter', section: 'inbound', xml: '<set-query-parameter name="a" exists-action="replace"><value>1</value></set-query-parameter>', at: 'replace', message: /^attribute "exists-action" of <set-query-parameter> must be one of override, skip, append, delete, got "replace"$/ },
  { policy: 'set-query-parameter', section: 'outbound', xml: '<set-query-parameter name="a"><value>1</value></set-query-parameter>', at: '<set-query-parameter', message: /^policy <set-query-parameter> is not allowed in the outbound section \(allowed: inbound, backend\)$/ },
  { policy: 'rewrite-uri', section: 'inbound', xml: '<rewrite-uri />', at: '<rewrite-uri', message: /^<rewrite-uri> requires the attribute "template"$/ },
  { policy: 'rewrite-uri', section: 'inbound', xml: '<rewrite-uri template="/x" copy-unmatched-params="perhaps" />', at: 'perhaps', message: /^attribute "copy-unmatched-params" of <rewrite-uri> must be true or false, got "perhaps"$/ },
  { policy: 'rewrite-uri', section: 'outbound', xml: '<rewrite-uri template="/x" />', at: '<rewrite-uri', message: /^policy <rewrite-uri> is not allowed in the outbound section \(allowed: inbound\)$/ },
  { policy: 'set-backend-service', section: 'inbound', xml: '<set-backend-service />', at: '<set-backend-service', message: /^<set-backend-service> needs base-url or backend-id$/ },
  { policy: 'set-backend-service', section: 'inbound', xml: '<set-backend-service base-url="http://a.example" backend-id="known" />', at: '<set-backend-service', message: /^<set-backend-service> takes base-url or backend-id, not both$/ },
  { policy: 'set-backend-service', section: 'inbound', xml: '<set-backend-service backend-id="nope" />', at: 'nope', message: /^unknown backend-id "nope" \(not in the config's backends\)$/ },
  { policy: 'set-backend-service', section: 'backend', xml: '<set-backend-service base-url="ftp://a.example" />', at: 'ftp', message: /^set-backend-service: base-url must be http or https$/ },
  { policy: 'set-backend-service', section: 'inbound', xml: '<set-backend-service base-url="http://u:p@a.example" />', at: 'http', message: /^set-backend-service: base-url must not contain credentials$/ },
  { policy: 'set-backend-service', section: 'inbound', xml: '<set-backend-service base-url="not a url" />', at: 'not a url', message: /^set-backend-service: invalid base-url "not a url"$/ },
  { policy: 'set-backend-service', section: 'inbound', xml: '<set-backend-service sf-partition-key="1" base-url="http://a.example" />', at: 'sf-partition-key', message: /^"sf-partition-key" \(Service Fabric\) is not supported by Gatehouse$/ },
  { policy: 'set-backend-service', section: 'outbound', xml: '<set-backend-service base-url="http://a.example" />', at: '<set-backend-service', message: /^policy <set-backend-service> is not allowed in the outbound section \(allowed: inbound, backend\)$/ },
  { policy: 'set-method', section: 'inbound', xml: '<set-method />', at: '<set-method', message: /^<set-method> needs a method, e\.g\. <set-method>POST<\/set-method>$/ },
  { policy: 'set-method', section: 'inbound', xml: '<set-method>P OST</set-method>', at: 'P OST', message: /^"P OST" is not an HTTP method$/ },
  { policy: 'set-method', section: 'inbound', xml: '<set-method verb="x">POST</set-method>', at: 'verb', message: /^unknown attribute "verb" on <set-method>$/ },
  { policy: 'set-method', section: 'outbound', xml: '<set-method>POST</set-method>', at: '<set-method', message: /^policy <set-method> is not allowed in the outbound section \(allowed: inbound, on-error\)$/ },
  { policy: 'check-header', section: 'inbound', xml: '<check-header name="a" failed-check-error-message="m" />', at: '<check-header', message: /^<check-header> requires the attribute "failed-check-httpcode"$/ },
  { policy: 'check-header', section: 'inbound', xml: '<check-header name="a" failed-check-httpcode="401" />', at: '<check-header', message: /^<check-header> requires the attribute "failed-check-error-message"$/ },
  { policy: 'check-header', section: 'inbound', xml: '<check-header name="a" failed-check-httpcode="x" failed-check-error-message="m" />', at: 'x" failed', message: /^attribute "failed-check-httpcode" of <check-header> must be an integer between 100 and 599, got "x"$/ },
  { policy: 'check-header', section: 'inbound', xml: '<check-header name="a" failed-check-httpcode="401" failed-check-error-message="m" ignore-case="maybe" />', at: 'maybe', message: /^attribute "ignore-case" of <check-header> must be true or false, got "maybe"$/ },
  { policy: 'check-header', section: 'inbound', xml: '<check-header name="a" failed-check-httpcode="401" failed-check-error-message="m"><allowed>x</allowed></check-header>', at: '<allowed', message: /^<check-header> cannot contain <allowed> \(allowed: value\)$/ },
  { policy: 'check-header', section: 'outbound', xml: '<check-header name="a" failed-check-httpcode="401" failed-check-error-message="m" />', at: '<check-header', message: /^policy <check-header> is not allowed in the outbound section \(allowed: inbound\)$/ },
  { policy: 'mock-response', section: 'inbound', xml: '<mock-response status-code="abc" />', at: 'abc', message: /^attribute "status-code" of <mock-response> must be an integer between 100 and 599, got "abc"$/ },
  { policy: 'mock-response', section: 'inbound', xml: '<mock-response content-type="@(&quot;a&quot;)" />', at: '@(', message: /^attribute "content-type" of <mock-response> does not accept policy expressions$/ },
  { policy: 'mock-response', section: 'inbound', xml: '<mock-response status-code="200" delay="1" />', at: 'delay', message: /^unknown attribute "delay" on <mock-response>$/ },
  { policy: 'mock-response', section: 'backend', xml: '<mock-response />', at: '<mock-response', message: /^policy <mock-response> is not allowed in the backend section \(allowed: inbound, outbound, on-error\)$/ },
  { policy: 'trace', section: 'inbound', xml: '<trace severity="information"><message>x</message></trace>', at: '<trace', message: /^<trace> requires the attribute "source"$/ },
  { policy: 'trace', section: 'outbound', xml: '<trace source="s" severity="debug"><message>x</message></trace>', at: 'debug', message: /^attribute "severity" of <trace> must be one of verbose, information, error, got "debug"$/ },
  { policy: 'trace', section: 'inbound', xml: '<trace source="s" />', at: '<trace', message: /^<trace> needs a <message>$/ },
  { policy: 'trace', section: 'inbound', xml: '<trace source="s"><msg>x</msg></trace>', at: '<msg', message: /^<trace> cannot contain <msg> \(allowed: message, metadata\)$/ },
  { policy: 'trace', section: 'on-error', xml: '<trace source="s"><message>x</message><metadata name="a" /></trace>', at: '<metadata', message: /^<metadata> needs name and value$/ },
];

/** the documents are built so that the policy sits on line 3, after four spaces */
const LOAD_LINE = 3;
const LOAD_INDENT = 4;

async function loadProblems(section: string, xml: string): Promise<PolicyProblem[]> {
  const doc = `<policies>\n  <${section}>\n${' '.repeat(LOAD_INDENT)}${xml}\n  </${section}>\n</policies>\n`;
  const config = await configFromObject(
    { store: 'sqlite::memory:', backends: { known: { url: 'http://127.0.0.1:9/known' } }, servers: [{ name: 's', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: doc }] },
    { baseDir: process.cwd(), env: {} },
  );
  try {
    compileServerPolicies(config, createRegistry(), { backends: backendsOf(config) });
  } catch (err) {
    if (err instanceof PolicyError) return err.problems;
    throw err;
  }
  return [];
}

describe('load-time problems of each policy, with the exact LINE:COL', () => {
  for (const c of LOAD_CASES) {
    it(`${c.policy} (${c.section}): ${c.message.source.replace(/^\^|\$$/g, '').replace(/\\/g, '')}`, async () => {
      const problems = await loadProblems(c.section, c.xml);
      const idx = c.xml.indexOf(c.at);
      assert.ok(idx >= 0, `"${c.at}" not in the case's XML`);
      // an entity in the XML before the marker does not shift columns: columns count source characters
      const col = LOAD_INDENT + idx + 1;
      assert.equal(problems.length, 1, `exactly one problem, got:\n${problems.map((p) => `${p.line}:${p.col}: ${p.message}`).join('\n')}`);
      const p = problems[0]!;
      assert.match(p.message, c.message);
      assert.equal(`${p.line}:${p.col}`, `${LOAD_LINE}:${col}`, p.message);
      assert.equal(p.file, '<config>');
    });
  }

  it('the same problem through `gatehouse start`: the gateway does not start', async () => {
    await assert.rejects(
      startGateway({ servers: [{ name: 'x', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: '<policies>\n  <backend>\n    <forward-request follow-redirects="true" />\n  </backend>\n</policies>' }] }),
      (err: unknown) => err instanceof PolicyError && /^<config>:3:40: follow-redirects="true" is not supported/.test(err.message),
    );
  });
});
