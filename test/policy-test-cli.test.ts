/**
 * `gatehouse policy test` as a user runs it: `node bin/gatehouse.js policy test -c FILE --server NAME
 * [--tool NAME] --request REQ.json [--json]`, with a config and policy files in a temp folder.
 *
 * Checked: the trace (each policy with scope, section, path, LINE:COL, outcome) in the order
 * global → server → tool with `<base/>`, the variables set, the backend request that would be sent
 * (headers set by policies present, the client's Authorization absent), the final response — in
 * the human format and with --json; return-response and errors (on-error, LastError); bad inputs
 * (exit 2 with a usage line or FILE:LINE:COL).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url));

const CONFIG = `policies: ./global.xml
servers:
  - name: weather
    type: passthrough
    backend: { url: "http://127.0.0.1:9/mcp", timeout: 10 }
    forwardHeaders: [x-request-id]
    policies: ./server.xml
    tools:
      - name: get_forecast
        policies: ./tool.xml
  - name: plain
    type: passthrough
    backend: { url: "http://127.0.0.1:9/plain" }
`;

const GLOBAL = `<policies>
  <inbound>
    <set-variable name="order" value="global" />
    <set-header name="x-global" exists-action="override"><value>g</value></set-header>
  </inbound>
  <backend>
    <forward-request timeout="20" />
  </backend>
  <outbound>
    <set-header name="x-order" exists-action="override"><value>@((string)context.Variables["order"])</value></set-header>
  </outbound>
  <on-error>
    <set-header name="x-error" exists-action="override"><value>@(context.LastError.Reason)</value></set-header>
  </on-error>
</policies>
`;

const SERVER = `<policies>
  <inbound>
    <trace source="server">before base</trace>
    <base />
    <set-variable name="order" value="@((string)context.Variables["order"] + ">server")" />
    <choose>
      <when condition="@(context.Request.Headers.GetValueOrDefault("x-block", "") == "yes")">
        <return-response>
          <set-status code="403" reason="Forbidden" />
          <set-body>{"blocked":true}</set-body>
        </return-response>
      </when>
      <when condition="@(context.Request.Headers.GetValueOrDefault("x-fail", "") == "yes")">
        <check-header id="key-check" name="x-key" failed-check-httpcode="401" failed-check-error-message="x-key missing" ignore-case="true" />
      </when>
    </choose>
  </inbound>
  <backend>
    <base />
  </backend>
  <outbound>
    <base />
  </outbound>
  <on-error>
    <base />
  </on-error>
</policies>
`;

const TOOL = `<policies>
  <inbound>
    <base />
    <set-header name="Authorization" exists-action="override"><value>Bearer backend-token</value></set-header>
    <set-variable name="city" value="@((string)context.Mcp.Arguments["city"])" />
    <set-variable name="count" value="@(3)" />
    <set-query-parameter name="units" exists-action="override"><value>metric</value></set-query-parameter>
    <trace source="tool" severity="information"><message>@("forecast for " + (string)context.Variables["city"])</message></trace>
  </inbound>
  <outbound>
    <base />
    <set-header name="x-tool" exists-action="override"><value>@(context.Mcp.ToolName)</value></set-header>
  </outbound>
</policies>
`;

const FILES: Record<string, string> = { 'global.xml': GLOBAL, 'server.xml': SERVER, 'tool.xml': TOOL };

/** LINE:COL of the `<` of the first element starting with `marker` in a policy file */
function at(file: string, marker: string, nth = 1): string {
  const lines = FILES[file]!.split('\n');
  let seen = 0;
  for (let i = 0; i < lines.length; i++) {
    let from = 0;
    for (;;) {
      const c = lines[i]!.indexOf(marker, from);
      if (c < 0) break;
      if (++seen === nth) return `${i + 1}:${c + 1}`;
      from = c + 1;
    }
  }
  throw new Error(`${marker} not in ${file}`);
}

const FORECAST = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'get_forecast', arguments: { city: 'Paris' } } };
const BACKEND_ANSWER = { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'sunny' }] } };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(cwd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'policy', 'test', ...args], { cwd, encoding: 'utf8', env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'silent' }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

interface TraceEntry {
  policy: string;
  scope: string;
  section: string;
  path: string;
  line: number;
  col: number;
  outcome: string;
  detail?: string;
  variables?: Record<string, unknown>;
}

interface JsonOut {
  server: string;
  tool: string | null;
  trace: TraceEntry[];
  traceMessages: { source: string; severity: string; message: string }[];
  lastError: Record<string, unknown> | null;
  backendRequest: { method: string; url: string; headers: Record<string, string>; body?: string; timeoutMs: number } | null;
  variables: Record<string, unknown>;
  response: { status: number; reason: string; headers: Record<string, string[]>; body: string };
}

describe('gatehouse policy test', () => {
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gh-policy-test-'));
    writeFileSync(join(dir, 'gatehouse.yaml'), CONFIG);
    for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, name), text);
    const req = (name: string, value: unknown) => writeFileSync(join(dir, name), JSON.stringify(value, null, 2));
    req('forecast.json', {
      headers: { authorization: 'Bearer client-secret', 'x-request-id': 'req-1', 'x-not-forwarded': 'n' },
      body: FORECAST,
      backendResponse: { status: 200, headers: { 'content-type': 'application/json' }, body: BACKEND_ANSWER },
    });
    req('list.json', { headers: { authorization: 'Bearer client-secret' }, body: { jsonrpc: '2.0', id: 2, method: 'tools/list' } });
    req('blocked.json', { headers: { 'x-block': 'yes' }, body: { jsonrpc: '2.0', id: 3, method: 'tools/list' } });
    req('failing.json', { headers: { 'x-fail': 'yes' }, body: { jsonrpc: '2.0', id: 4, method: 'tools/list' } });
    req('other-tool.json', { body: { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'other', arguments: { city: 'Oslo' } } } });
    writeFileSync(join(dir, 'not-json.json'), '{ "body": ');
    req('array.json', [1, 2]);
    // start the invocations the tests below make all at once (run() keeps each one's result)
    const W = ['-c', 'gatehouse.yaml', '--server', 'weather', '--request'];
    const all = [
      ...['forecast.json', 'list.json', 'blocked.json', 'failing.json'].flatMap((f) => [[...W, f], [...W, f, '--json']]),
      ['-c', 'gatehouse.yaml', '--server', 'weather', '--tool', 'get_forecast', '--request', 'other-tool.json', '--json'],
      ['-c', 'gatehouse.yaml', '--server', 'plain', '--request', 'list.json', '--json'],
      [],
      ['-c', 'gatehouse.yaml', '--server', 'weather'],
      ['-c', 'gatehouse.yaml', '--request', 'forecast.json'],
      ['--server', 'weather', '--request', 'forecast.json'],
      [...W, 'forecast.json', '--verbose'],
      [...W, 'forecast.json', 'extra'],
      ['-c', 'gatehouse.yaml', '--server', 'nope', '--request', 'forecast.json'],
      ...['missing.json', 'not-json.json', 'array.json'].map((f) => [...W, f]),
      ['-c', 'nope.yaml', '--server', 'weather', '--request', 'forecast.json'],
    ];
    await Promise.all(all.map((a) => run(...a)));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** each distinct invocation runs once (the CLI takes ~0.5 s to start); the suites start theirs together */
  const runs = new Map<string, Promise<Run>>();
  const run = (...args: string[]): Promise<Run> => {
    const key = args.join('\0');
    let r = runs.get(key);
    if (!r) {
      r = cli(dir, args);
      runs.set(key, r);
    }
    return r;
  };
  const json = async (...args: string[]): Promise<JsonOut> => {
    const r = await run(...args, '--json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as JsonOut;
  };
  const rows = (t: TraceEntry[]) => t.map((e) => [e.section, e.scope, e.policy, e.path, `${e.line}:${e.col}`, e.outcome]);

  // what a tools/call of get_forecast runs: global → server → tool, each <base/> where it stands
  const FORECAST_TRACE = [
    ['inbound', 'api', 'trace', 'trace[1]', at('server.xml', '<trace'), 'ok'],
    ['inbound', 'global', 'set-variable', 'set-variable[1]', at('global.xml', '<set-variable'), 'ok'],
    ['inbound', 'global', 'set-header', 'set-header[1]', at('global.xml', '<set-header'), 'ok'],
    ['inbound', 'api', 'set-variable', 'set-variable[2]', at('server.xml', '<set-variable'), 'ok'],
    ['inbound', 'api', 'choose', 'choose[1]', at('server.xml', '<choose'), 'ok'],
    ['inbound', 'operation', 'set-header', 'set-header[2]', at('tool.xml', '<set-header'), 'ok'],
    ['inbound', 'operation', 'set-variable', 'set-variable[3]', at('tool.xml', '<set-variable'), 'ok'],
    ['inbound', 'operation', 'set-variable', 'set-variable[4]', at('tool.xml', '<set-variable', 2), 'ok'],
    ['inbound', 'operation', 'set-query-parameter', 'set-query-parameter[1]', at('tool.xml', '<set-query-parameter'), 'ok'],
    ['inbound', 'operation', 'trace', 'trace[2]', at('tool.xml', '<trace'), 'ok'],
    ['backend', 'global', 'forward-request', 'forward-request[1]', at('global.xml', '<forward-request'), 'ok'],
    ['outbound', 'global', 'set-header', 'set-header[1]', at('global.xml', '<set-header', 2), 'ok'],
    ['outbound', 'operation', 'set-header', 'set-header[2]', at('tool.xml', '<set-header', 2), 'ok'],
  ];

  describe('--json', () => {
    let out: JsonOut;
    before(async () => {
      out = await json('-c', 'gatehouse.yaml', '--server', 'weather', '--request', 'forecast.json');
    });

    it('names the server and the tool (taken from the tools/call)', async () => {
      assert.equal(out.server, 'weather');
      assert.equal(out.tool, 'get_forecast');
    });

    it('traces every policy in order across global → server → tool, with scope, section, path, LINE:COL and outcome', async () => {
      assert.deepEqual(rows(out.trace), FORECAST_TRACE);
    });

    it('shows the variables each policy set, and all variables at the end (with their types)', async () => {
      const vars = out.trace.filter((e) => e.variables).map((e) => [e.path, e.variables]);
      assert.deepEqual(vars, [
        ['set-variable[1]', { order: 'global' }],
        ['set-variable[2]', { order: 'global>server' }],
        ['set-variable[3]', { city: 'Paris' }],
        ['set-variable[4]', { count: 3 }],
      ]);
      assert.deepEqual(out.variables, { order: 'global>server', city: 'Paris', count: 3 });
    });

    it('lists the trace policy messages in order', async () => {
      assert.deepEqual(out.traceMessages, [
        { source: 'server', severity: 'verbose', message: 'before base' },
        { source: 'tool', severity: 'information', message: 'forecast for Paris' },
      ]);
    });

    it('shows the backend request: policy headers and forwardHeaders present, the client Authorization replaced, other client headers absent', async () => {
      const b = out.backendRequest!;
      assert.ok(b, 'a backend request');
      assert.equal(b.method, 'POST');
      assert.equal(b.url, 'http://127.0.0.1:9/mcp?units=metric');
      assert.equal(b.timeoutMs, 20_000, 'forward-request timeout="20"');
      // the Authorization the tool policy set is there (shown redacted: it is a credential), the client's is not
      assert.deepEqual(Object.keys(b.headers).sort(), ['authorization', 'x-global', 'x-request-id']);
      assert.equal(b.headers['x-request-id'], 'req-1');
      assert.equal(b.headers['x-global'], 'g');
      assert.notEqual(b.headers.authorization, 'Bearer client-secret');
      assert.deepEqual(JSON.parse(b.body!), FORECAST);
      assert.doesNotMatch(JSON.stringify(out), /client-secret/);
    });

    it('shows the final response: the backend answer with the outbound headers', async () => {
      assert.equal(out.response.status, 200);
      assert.deepEqual(out.response.headers, { 'content-type': ['application/json'], 'x-order': ['global>server'], 'x-tool': ['get_forecast'] });
      assert.deepEqual(JSON.parse(out.response.body), BACKEND_ANSWER);
      assert.equal(out.lastError, null);
    });

    it('a request without a tool scope: no operation-scope policy, and the client Authorization never reaches the backend', async () => {
      const o = await json('-c', 'gatehouse.yaml', '--server', 'weather', '--request', 'list.json');
      assert.equal(o.tool, null);
      assert.deepEqual(rows(o.trace), FORECAST_TRACE.filter((r) => r[1] !== 'operation'));
      assert.deepEqual(o.backendRequest!.headers, { 'x-global': 'g' });
      assert.equal(o.backendRequest!.url, 'http://127.0.0.1:9/mcp');
      // no backendResponse in the request file: an empty 200
      assert.equal(o.response.status, 200);
    });

    it('--tool selects the tool scope whatever the body says', async () => {
      const o = await json('-c', 'gatehouse.yaml', '--server', 'weather', '--tool', 'get_forecast', '--request', 'other-tool.json');
      assert.equal(o.tool, 'get_forecast');
      assert.ok(o.trace.some((e) => e.scope === 'operation'));
      assert.equal(o.variables.city, 'Oslo');
      assert.deepEqual(o.response.headers['x-tool'], ['other']);
    });

    it('a server without policies: only the global scope runs', async () => {
      const o = await json('-c', 'gatehouse.yaml', '--server', 'plain', '--request', 'list.json');
      assert.ok(o.trace.length > 0);
      assert.ok(o.trace.every((e) => e.scope === 'global'));
      assert.equal(o.backendRequest!.url, 'http://127.0.0.1:9/plain');
    });

    it('return-response: outcome "return" on the choose and the return-response inside it, nothing sent to the backend, the policy answer', async () => {
      const o = await json('-c', 'gatehouse.yaml', '--server', 'weather', '--request', 'blocked.json');
      assert.deepEqual(rows(o.trace).slice(-4), [
        ['inbound', 'api', 'choose', 'choose[1]', at('server.xml', '<choose'), 'return'],
        ['inbound', 'api', 'return-response', 'choose[1]/when[1]/return-response[1]', at('server.xml', '<return-response'), 'return'],
        ['inbound', 'api', 'set-status', 'choose[1]/when[1]/return-response[1]/set-status[1]', at('server.xml', '<set-status'), 'ok'],
        ['inbound', 'api', 'set-body', 'choose[1]/when[1]/return-response[1]/set-body[1]', at('server.xml', '<set-body'), 'ok'],
      ]);
      assert.ok(!o.trace.some((e) => e.section !== 'inbound'), 'no backend, no outbound');
      assert.equal(o.backendRequest, null);
      assert.equal(o.response.status, 403);
      assert.equal(o.response.reason, 'Forbidden');
      assert.deepEqual(JSON.parse(o.response.body), { blocked: true });
    });

    it('an error: outcome "error" with its detail, on-error runs (global via <base/>), LastError and the error response', async () => {
      const o = await json('-c', 'gatehouse.yaml', '--server', 'weather', '--request', 'failing.json');
      const r = rows(o.trace);
      assert.deepEqual(r.slice(-3), [
        ['inbound', 'api', 'choose', 'choose[1]', at('server.xml', '<choose'), 'error'],
        ['inbound', 'api', 'check-header', 'choose[1]/when[2]/check-header[1]', at('server.xml', '<check-header'), 'error'],
        ['on-error', 'global', 'set-header', 'set-header[1]', at('global.xml', '<set-header', 3), 'ok'],
      ]);
      assert.equal(o.trace.find((e) => e.policy === 'check-header')!.detail, 'x-key missing');
      assert.deepEqual(o.lastError, {
        source: 'check-header',
        reason: 'HeaderNotFound',
        message: 'x-key missing',
        scope: 'api',
        section: 'inbound',
        path: 'choose[1]/when[2]/check-header[1]',
        policyId: 'key-check',
      });
      assert.equal(o.backendRequest, null);
      assert.equal(o.response.status, 401);
      assert.deepEqual(o.response.headers['x-error'], ['HeaderNotFound']);
      assert.deepEqual(JSON.parse(o.response.body), { statusCode: 401, message: 'x-key missing' });
    });
  });

  describe('human format', () => {
    /** the trace rows of the human output: section scope path LINE:COL outcome [detail] [vars …] */
    const ROW = /^(inbound|backend|outbound|on-error) +(global|product|api|operation) +(\S+) +(\d+:\d+) +(ok|return|error)(?: \((.*?)\))?(?: {2}vars (\{.*\}))?$/;

    it('one line per policy in order, then trace messages, the backend request and the response', async () => {
      const r = await run('-c', 'gatehouse.yaml', '--server', 'weather', '--request', 'forecast.json');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      const lines = r.stdout.split('\n');
      assert.equal(lines[0], 'policy test: server "weather", tool "get_forecast"');
      const trace = lines.map((l) => ROW.exec(l)).filter((m): m is RegExpExecArray => m !== null);
      assert.deepEqual(
        trace.map((m) => [m[1], m[2], m[3], m[4], m[5]]),
        FORECAST_TRACE.map((t) => [t[0], t[1], t[3], t[4], t[5]]),
      );
      assert.deepEqual(
        trace.filter((m) => m[7]).map((m) => [m[3], JSON.parse(m[7]!)]),
        [
          ['set-variable[1]', { order: 'global' }],
          ['set-variable[2]', { order: 'global>server' }],
          ['set-variable[3]', { city: 'Paris' }],
          ['set-variable[4]', { count: 3 }],
        ],
      );
      assert.ok(lines.includes('trace     [verbose] server: before base'), r.stdout);
      assert.ok(lines.includes('trace     [information] tool: forecast for Paris'), r.stdout);
      const backend = lines.find((l) => l.startsWith('backend request: '));
      assert.ok(backend, r.stdout);
      const b = JSON.parse(backend.slice('backend request: '.length)) as { url: string; headers: Record<string, string> };
      assert.equal(b.url, 'http://127.0.0.1:9/mcp?units=metric');
      assert.ok(b.headers.authorization, 'the Authorization set by the tool policy');
      assert.notEqual(b.headers.authorization, 'Bearer client-secret');
      assert.equal(b.headers['x-global'], 'g');
      assert.equal(b.headers['x-not-forwarded'], undefined);
      assert.doesNotMatch(r.stdout, /client-secret/);
      const resIdx = lines.findIndex((l) => l.startsWith('response: '));
      assert.ok(resIdx > 0);
      assert.match(lines[resIdx]!, /^response: 200 /);
      assert.deepEqual(JSON.parse(lines[resIdx]!.slice('response: 200 '.length)), { 'content-type': ['application/json'], 'x-order': ['global>server'], 'x-tool': ['get_forecast'] });
      assert.deepEqual(JSON.parse(lines[resIdx + 1]!), BACKEND_ANSWER);
    });

    it('return-response: "backend request: (not sent)"', async () => {
      const r = await run('-c', 'gatehouse.yaml', '--server', 'weather', '--request', 'blocked.json');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^policy test: server "weather"$/m);
      assert.match(r.stdout, /^backend request: \(not sent\)$/m);
      assert.match(r.stdout, /^response: 403 /m);
      assert.match(r.stdout, /^inbound +api +choose\[1\]\/when\[1\]\/return-response\[1\] +\d+:\d+ +return$/m);
    });

    it('an error: its detail on the trace line and the LastError', async () => {
      const r = await run('-c', 'gatehouse.yaml', '--server', 'weather', '--request', 'failing.json');
      assert.equal(r.code, 0, r.stderr);
      const row = r.stdout.split('\n').map((l) => ROW.exec(l)).find((m) => m?.[3] === 'choose[1]/when[2]/check-header[1]');
      assert.ok(row, r.stdout);
      assert.equal(row[5], 'error');
      assert.equal(row[6], 'x-key missing');
      const last = /^LastError: (.*)$/m.exec(r.stdout);
      assert.ok(last, r.stdout);
      assert.deepEqual(JSON.parse(last[1]!), { source: 'check-header', reason: 'HeaderNotFound', message: 'x-key missing', scope: 'api', section: 'inbound', path: 'choose[1]/when[2]/check-header[1]', policyId: 'key-check' });
      assert.match(r.stdout, /^response: 401 /m);
    });
  });

  describe('bad input: exit 2, nothing on stdout', () => {
    const USAGE = 'usage: gatehouse policy test -c FILE --server NAME [--tool NAME] [--product NAME] --request REQ.json [--json]';
    const bad = async (args: string[], stderr: RegExp) => {
      const r = await run(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, stderr);
      return r;
    };

    it('missing arguments: the usage line', async () => {
      await bad([], new RegExp(`^${USAGE.replace(/[[\].]/g, '\\$&')}$`, 'm'));
      await bad(['-c', 'gatehouse.yaml', '--server', 'weather'], /^usage: gatehouse policy test /m);
      await bad(['-c', 'gatehouse.yaml', '--request', 'forecast.json'], /^usage: gatehouse policy test /m);
      await bad(['--server', 'weather', '--request', 'forecast.json'], /^usage: gatehouse policy test /m);
    });

    it('an unknown option or a stray argument', async () => {
      await bad(['-c', 'gatehouse.yaml', '--server', 'weather', '--request', 'forecast.json', '--verbose'], /Unknown option '--verbose'/);
      await bad(['-c', 'gatehouse.yaml', '--server', 'weather', '--request', 'forecast.json', 'extra'], /extra/);
    });

    it('an unknown server: the servers there are', async () => {
      await bad(['-c', 'gatehouse.yaml', '--server', 'nope', '--request', 'forecast.json'], /^no server "nope" in gatehouse\.yaml \(servers: weather, plain\)$/m);
    });

    it('an unreadable, invalid or non-object request file', async () => {
      await bad(['-c', 'gatehouse.yaml', '--server', 'weather', '--request', 'missing.json'], /^missing\.json: .*ENOENT/m);
      await bad(['-c', 'gatehouse.yaml', '--server', 'weather', '--request', 'not-json.json'], /^not-json\.json: .*JSON/m);
      await bad(['-c', 'gatehouse.yaml', '--server', 'weather', '--request', 'array.json'], /^array\.json: the request file must hold a JSON object$/m);
    });

    it('a missing config file', async () => {
      await bad(['-c', 'nope.yaml', '--server', 'weather', '--request', 'forecast.json'], /^nope\.yaml:1:1: cannot read config file/m);
    });

    describe('in a folder with broken policies', () => {
      let bdir: string;
      const BROKEN_TOOL = '<policies>\n  <inbound>\n    <base />\n    <set-header name="x" colour="red"><value>v</value></set-header>\n  </inbound>\n</policies>\n';
      const BROKEN_SERVER = '<policies>\n  <inbound>\n    <base />\n    <frobnicate />\n  </inbound>\n  <outbound>\n    <rewrite-uri template="/x" />\n  </outbound>\n</policies>\n';
      before(async () => {
        bdir = mkdtempSync(join(tmpdir(), 'gh-policy-test-bad-'));
        writeFileSync(join(bdir, 'gatehouse.yaml'), CONFIG.replace('./server.xml', './broken-server.xml').replace('./tool.xml', './broken-tool.xml'));
        writeFileSync(join(bdir, 'global.xml'), GLOBAL);
        writeFileSync(join(bdir, 'broken-server.xml'), BROKEN_SERVER);
        writeFileSync(join(bdir, 'broken-tool.xml'), BROKEN_TOOL);
        writeFileSync(join(bdir, 'req.json'), JSON.stringify({ body: FORECAST }));
        writeFileSync(join(bdir, 'bad-config.yaml'), `${CONFIG.replace('./server.xml', '../x.xml')}colour: red\n`);
        await Promise.all([runIn('-c', 'gatehouse.yaml', '--server', 'weather', '--request', 'req.json'), runIn('-c', 'bad-config.yaml', '--server', 'weather', '--request', 'req.json')]);
      });
      after(() => rmSync(bdir, { recursive: true, force: true }));
      const started = new Map<string, Promise<Run>>();
      const runIn = (...args: string[]): Promise<Run> => {
        const key = args.join('\0');
        if (!started.has(key)) started.set(key, cli(bdir, args));
        return started.get(key)!;
      };

      it('a policy error: every problem as FILE:LINE:COL, exit 2', async () => {
        const r = await runIn('-c', 'gatehouse.yaml', '--server', 'weather', '--request', 'req.json');
        assert.equal(r.code, 2, r.stderr);
        assert.equal(r.stdout, '');
        assert.deepEqual(r.stderr.trim().split('\n'), [
          'broken-server.xml:4:5: unknown policy <frobnicate>',
          'broken-server.xml:7:5: policy <rewrite-uri> is not allowed in the outbound section (allowed: inbound)',
          'broken-tool.xml:4:26: unknown attribute "colour" on <set-header>',
        ]);
      });

      it('a config error: FILE:LINE:COL of the config, exit 2', async () => {
        const r = await runIn('-c', 'bad-config.yaml', '--server', 'weather', '--request', 'req.json');
        assert.equal(r.code, 2, r.stderr);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /^bad-config\.yaml:\d+:\d+: .*colour/m);
      });
    });
  });
});
