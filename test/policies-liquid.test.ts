/**
 * set-body template="liquid" (APIM's Liquid, DotLiquid in C# mode) through a running gateway in front
 * of a real MCP backend: request headers, the JSON-RPC body, variables, loops, APIM's filters,
 * missing values, the corpus documents that use Liquid, load-time errors with positions (syntax,
 * include, snake_case filters) and a hostile template that must fail fast.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { startGateway, type RunningGateway } from './helpers/gateway.js';
import { ACCEPT, INIT, lastMessage, post } from './helpers/mcp-http.js';
import { PolicyError } from '../src/policy/errors.js';
import { parsePolicyDocument, elementChildren, type PolicyElement } from '../src/policy/document.js';
import { compileLiquidBody, LIQUID_LIMITS } from '../src/policies/liquid/index.js';

const CORPUS = fileURLToPath(new URL('../../../shared/apim-corpus/general/', import.meta.url));

const toolText = (text: string): string => ((lastMessage(text).result as { content: { text: string }[] }).content[0]!.text);

const when = (name: string, body: string) => `<when condition="@(context.Request.Headers.GetValueOrDefault(&quot;x-case&quot;, &quot;&quot;) == &quot;${name}&quot;)">${body}</when>`;
const answer = (template: string) => `<return-response>
          <set-status code="200" reason="OK" />
          <set-header name="content-type" exists-action="override"><value>text/plain</value></set-header>
          <set-body template="liquid">${template}</set-body>
        </return-response>`;

const SERVER = `<policies>
  <inbound>
    <base />
    <set-variable name="greeting" value="hello" />
    <set-variable name="count" value="@(41)" />
    <set-variable name="obj" value="@(JObject.Parse("{\\"a\\": 1, \\"list\\": [\\"x\\", \\"y\\", \\"z\\"]}"))" />
    <choose>
      ${when('headers', answer('key={{ context.Request.Headers["X-Test"] }};lower={{ context.Request.Headers["x-test"] }};upper={{ context.Request.Headers["X-TEST"] }};dot={{ context.Request.Headers.Accept }};loop={% for h in context.Request.Headers %}{% if h.Key == "x-test" %}{{ h.Key }}:{{ h.Value }}{% endif %}{% endfor %};method={{ context.Request.Method }};host={{ context.Request.Url.Host }};q={{ context.Request.Url.Query["Mode"] }}'))}
      ${when('vars', answer('{{ context.Variables["greeting"] | Upcase }} {{ context.Variables.count | Plus: 1 }} {% assign o = context.Variables["obj"] %}{{ o.a }}{{ o[\'list\'] | Join: "+" }} [{{ context.Variables["nope"] }}] {{ context.Variables | Size }}'))}
      ${when('loop', answer('{% for i in (1..4) %}{{ forloop.index }}{% unless forloop.last %},{% endunless %}{% endfor %}|{% for v in context.Variables %}{{ v.Key }};{% endfor %}|{% assign words = "c b a" | Split: " " | Sort %}{% for w in words limit: 2 %}{{ w }}{% endfor %}|{% case context.Request.Method %}{% when "GET" %}get{% when "POST" %}post{% endcase %}|{% capture c %}{{ context.Variables.count | Times: 2 }}{% endcapture %}{{ c }}'))}
      ${when('filters', answer('{{ context.Request.Headers["x-missing"] | Default: "anon" }}|{{ "  " | Default: "blank" }}|{{ "2024-05-06T07:08:09Z" | Date: "dd/MM/yyyy HH:mm" }}|{{ "a,b,c" | Split: "," | Reverse | Join: "" }}|{{ 7 | DividedBy: 2 }}|{{ "tom &amp; jerry" | Escape }}|{{ "hello world" | Capitalize }}|{{ context.Mcp.Method | Prepend: "m=" }}|{{ "x y" | UrlEncode }}|{{ 2.5 | Round }}|{{ "abcdef" | Truncate: 4 }}'))}
      ${when('missing', answer('[{{ body }}][{{ context.Request.Headers["nope"] }}][{{ context.Nope.Deeper }}][{{ context.User.Email }}][{{ nothing.at.all | Upcase }}][{% if context.Variables["nope"] %}set{% else %}unset{% endif %}]'))}
      ${when('request-body', answer('{% if context.Request.Body contains "clientInfo" %}raw body seen{% endif %}'))}
      ${when('hostile', answer('{% for a in (1..1000000) %}{% for b in (1..1000000) %}{{ a }}{% endfor %}{% endfor %}'))}
      ${when('slow', answer('{% for a in body.nothing %}{% endfor %}{% for a in (1..20000) %}{% for b in (1..200) %}{% endfor %}{% endfor %}done'))}
    </choose>
  </inbound>
  <backend><base /></backend>
  <outbound>
    <base />
    <choose>
      ${when('outbound', `<set-body template="liquid">status={{ context.Response.StatusCode }};type={{ context.Response.Headers["Content-Type"] }};body=[{{ body }}];raw={% if context.Response.Body contains "test_simple_text" %}yes{% endif %}</set-body>
        <set-header name="content-type" exists-action="override"><value>text/plain</value></set-header>`)}
    </choose>
  </outbound>
</policies>`;

/** rewrites the echo tool's JSON-RPC request from its own fields */
const ECHO_TOOL = `<policies>
  <inbound>
    <base />
    <set-body template="liquid">{% assign words = body.params.arguments.text | Split: " " %}{
  "jsonrpc": "{{ body.jsonrpc }}", "id": {{ body.id }}, "method": "{{ body.method }}",
  "params": { "name": "{{ body.params.name }}", "arguments": { "text": "{{ body.params.arguments.text | Upcase }}/{{ body.params.arguments.missing | Default: "none" }}/{{ context.Variables["greeting"] }}/{% for w in words %}[{{ w }}]{% endfor %}/{{ context.Request.Headers["X-Who"] | Default: "nobody" }}" } }
}</set-body>
  </inbound>
</policies>`;

describe('set-body template="liquid" through the gateway', () => {
  let fixture: EverythingServer;
  let gw: RunningGateway;
  let xmlService: http.Server;
  let base: string;

  before(async () => {
    fixture = await startEverythingServer({ transport: 'streamable-http' });
    // the send-request target of the corpus document "Extracting multiple values from xml documents"
    xmlService = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end('<message1><conditionValue>true</conditionValue><value1>MESSAGE1_TEST1</value1><value2>MESSAGE1_TEST2</value2><value3>MESSAGE1_TEST3</value3></message1>');
    });
    await new Promise<void>((r) => xmlService.listen(0, '127.0.0.1', () => r()));
    const xmlUrl = `http://127.0.0.1:${(xmlService.address() as AddressInfo).port}/message`;
    gw = await startGateway({
      namedValues: { 'my-send-request': xmlUrl },
      servers: [
        { name: 'lq', type: 'passthrough', backend: { url: fixture.url }, policies: SERVER, tools: [{ name: 'echo', policies: ECHO_TOOL }] },
        { name: 'headers-doc', type: 'passthrough', backend: { url: fixture.url }, policies: join(CORPUS, 'api-management-policy-snippets__examples__List all inbound headers.policy.xml') },
        { name: 'xml-doc', type: 'passthrough', backend: { url: fixture.url }, policies: join(CORPUS, 'api-management-policy-snippets__examples__Extracting multiple values from xml documents.policy.xml') },
      ],
    });
    base = gw.url;
  });
  after(async () => {
    await gw?.close();
    await fixture?.close();
    await new Promise<void>((r) => xmlService?.close(() => r()));
  });

  const call = (caseName: string, headers: Record<string, string> = {}, body: unknown = INIT) =>
    post(`${base}/lq/mcp?Mode=fast`, body, { 'x-case': caseName, ...headers });

  it('reads request headers by name (case-insensitive), iterates them as Key/Value pairs, and reads the URL', async () => {
    const r = await call('headers', { 'x-test': 'hello' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('content-type'), 'text/plain');
    assert.equal(r.text, `key=hello;lower=hello;upper=hello;dot=${ACCEPT};loop=x-test:hello;method=POST;host=127.0.0.1;q=fast`);
  });

  it('reads policy variables: strings, numbers, JSON objects; an unknown variable is empty', async () => {
    const r = await call('vars');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, 'HELLO 42 1x+y+z [] 3');
  });

  it('runs for loops (ranges, forloop, limit, dictionaries), case, capture and assign', async () => {
    const r = await call('loop');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, '1,2,3,4|greeting;count;obj;|ab|post|82');
  });

  it("applies APIM's filters with DotLiquid semantics, Default included", async () => {
    const r = await call('filters');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, 'anon|blank|06/05/2024 07:08|cba|3|tom &amp; jerry|Hello World|m=initialize|x+y|2|a...');
  });

  it('renders missing values as empty (and body is empty inside return-response, as in APIM)', async () => {
    const r = await call('missing');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, '[][][][][][unset]');
  });

  it('exposes the raw request body as context.Request.Body', async () => {
    const r = await call('request-body');
    assert.equal(r.text, 'raw body seen');
  });

  it('rewrites the JSON-RPC request from its body fields: the backend tool sees the new arguments', async () => {
    const init = await post(`${base}/lq/mcp`, INIT);
    assert.equal(init.status, 200, init.text);
    const sid = init.headers.get('mcp-session-id')!;
    const r = await post(`${base}/lq/mcp`, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'echo', arguments: { text: 'big small' } } }, { 'mcp-session-id': sid, 'x-who': 'ann' });
    assert.equal(r.status, 200, r.text);
    assert.equal(lastMessage(r.text).id, 9);
    assert.equal(toolText(r.text), 'BIG SMALL/none/hello/[big][small]/ann');
    const seen = fixture.requests.filter((q) => q.json && (q.json as { method?: string }).method === 'tools/call').at(-1)!;
    assert.equal(((seen.json as { params: { arguments: { text: string } } }).params.arguments.text), 'BIG SMALL/none/hello/[big][small]/ann');
  });

  it('outbound: context.Response and the response body (an SSE body is not JSON: body stays empty, as APIM binds JSON/XML only)', async () => {
    const init = await post(`${base}/lq/mcp`, INIT);
    const sid = init.headers.get('mcp-session-id')!;
    const r = await post(`${base}/lq/mcp`, { jsonrpc: '2.0', id: 6, method: 'tools/list' }, { 'mcp-session-id': sid, 'x-case': 'outbound' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('content-type'), 'text/plain');
    assert.equal(r.text, 'status=200;type=text/event-stream;body=[];raw=yes');
  });

  it('a hostile template (a huge loop) fails fast with on-error semantics, and the gateway keeps serving', async () => {
    const t0 = Date.now();
    const r = await call('hostile');
    const ms = Date.now() - t0;
    assert.equal(r.status, 500, r.text);
    assert.ok(ms < LIQUID_LIMITS.renderMillis + 2000, `took ${ms} ms`);
    const body = JSON.parse(r.text) as { statusCode: number; message: string };
    assert.equal(body.statusCode, 500);
    assert.match(body.message, /Liquid template failed at \d+:\d+: the render exceeded its (allocation|time) limit/);
    const slow = Date.now();
    const s = await call('slow');
    assert.equal(s.status, 500, s.text);
    assert.match(s.text, /time limit \(500 ms\)/);
    assert.ok(Date.now() - slow < LIQUID_LIMITS.renderMillis + 2000);
    const ok = await call('vars');
    assert.equal(ok.text, 'HELLO 42 1x+y+z [] 3');
  });

  it('corpus: "List all inbound headers" lists every request header', async () => {
    const r = await post(`${base}/headers-doc/mcp`, INIT, { 'x-test': 'corpus' });
    assert.equal(r.status, 200, r.text);
    const lines = r.text.split('\n').map((l) => l.trim()).filter(Boolean);
    assert.ok(lines.includes('x-test: corpus'), r.text);
    assert.ok(lines.includes('content-type: application/json'), r.text);
  });

  it('corpus: "Extracting multiple values from xml documents" renders its JSON variable into XML', async () => {
    const r = await post(`${base}/xml-doc/mcp`, INIT);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('content-type'), 'text/xml');
    assert.equal(r.text.replace(/\s+/g, ' ').trim(), '<message3> <data val1="MESSAGE1_TEST1" val3="MESSAGE1_TEST3" /> </message3>');
  });
});

describe('set-body template="liquid": load-time problems', () => {
  const load = (xml: string) => startGateway({ servers: [{ name: 'x', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: xml }] });
  const cases: { name: string; xml: string; expect: RegExp }[] = [
    {
      name: 'a syntax error, at its line and column in the policy file',
      xml: '<policies>\n  <inbound>\n    <return-response>\n      <set-body template="liquid">\n        ok\n        {% if context.Variables["x"] %}never closed\n      </set-body>\n    </return-response>\n  </inbound>\n</policies>',
      expect: /:6:9: Liquid template: tag \{% if context\.Variables\["x"\] %\} not closed/,
    },
    {
      name: 'an unclosed output inside XML markup',
      xml: '<policies><inbound><return-response><set-body template="liquid"><a>\n  <b>{{ body.x </b></a></set-body></return-response></inbound></policies>',
      expect: /:2:6: Liquid template: output "\{\{ body\.x <\/b><\/a>" not closed/,
    },
    {
      name: '{% include %} is refused (no file access)',
      xml: '<policies><inbound>\n<set-body template="liquid">\n  {% include "secrets.liquid" %}</set-body></inbound></policies>',
      expect: /:3:3: Liquid template: \{% include %\} is not supported: Gatehouse's Liquid templates cannot read files/,
    },
    { name: '{% render %} is refused', xml: '<policies><inbound><set-body template="liquid">{% render "x" %}</set-body></inbound></policies>', expect: /:1:48: Liquid template: \{% render %\} is not supported/ },
    { name: '{% layout %} is refused', xml: '<policies><inbound><set-body template="liquid">{% layout "x" %}</set-body></inbound></policies>', expect: /Liquid template: \{% layout %\} is not supported/ },
    {
      name: 'a Shopify filter name gets the APIM name as a hint',
      xml: '<policies><inbound><set-body template="liquid">{{ body.x | upcase }}</set-body></inbound></policies>',
      expect: /Liquid template: unknown Liquid filter "upcase" \(APIM's Liquid uses C#-style filter names: Upcase\)/,
    },
    { name: 'an unknown tag', xml: '<policies><inbound><set-body template="liquid">{% frobnicate %}</set-body></inbound></policies>', expect: /:1:48: Liquid template: unknown Liquid tag \{% frobnicate %\}/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await assert.rejects(load(c.xml), (err: unknown) => {
        assert.ok(err instanceof PolicyError, String(err));
        assert.match(err.message, c.expect);
        return true;
      });
    });
  }
});

describe('set-body template="liquid": the corpus documents compile their templates', () => {
  const files = [
    '../mcp-security/api-management-policy-snippets__examples__Generate Azure Relay Token.policy.xml',
    'api-management-policy-snippets__examples__Extracting multiple values from xml documents.policy.xml',
    'api-management-policy-snippets__examples__Trigger Azure Data Factory Pipeline With Parameters.policy.xml',
    'api-management-policy-snippets__examples__List all inbound headers.policy.xml',
  ];
  const bodies = (el: PolicyElement, out: PolicyElement[] = []): PolicyElement[] => {
    for (const c of elementChildren(el)) {
      if (c.name === 'set-body' && c.attributes.get('template')?.raw === 'liquid') out.push(c);
      else bodies(c, out);
    }
    return out;
  };
  for (const f of files) {
    it(f.replace(/^.*__/, ''), async () => {
      const { readFileSync } = await import('node:fs');
      const text = readFileSync(join(CORPUS, f), 'utf8');
      const doc = parsePolicyDocument(text, f, { namedValues: () => ({ value: 'https://nv.example.com', secret: false }) });
      const found = bodies(doc.root);
      assert.ok(found.length > 0);
      for (const el of found) {
        const problems: string[] = [];
        assert.ok(compileLiquidBody(el, (at, m) => problems.push(`${at.line}:${at.col} ${m}`)), problems.join('\n'));
      }
    });
  }
});
