/**
 * Every ```xml example of the APIM reference notes (../shared/reference/apim.md) against Gatehouse:
 *
 * 1. each block is classified (a whole `<policies>` document, a bare policy element and the
 *    section the text puts it in, a block that uses a policy that is not implemented yet, or a
 *    statement shape with placeholder values) and loaded as a server policy — named values the
 *    blocks use are defined in the config;
 * 2. the set-header (§10), rate-limit-by-key (§11) and `<base/>` (§12.2) examples run through a
 *    running gateway in front of the real MCP fixture backend and do what the text says.
 *
 * The blocks are read from apim.md when the test runs: if the notes change, the classification
 * table below (checked against the file) says what to look at.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { startGateway, type RunningGateway } from './helpers/gateway.js';
import { ACCEPT, INIT, post, session, toolText } from './helpers/mcp-http.js';
import { configFromObject } from '../src/config/load.js';
import { compileServerPolicies, backendsOf } from '../src/mcp/server-policies.js';
import { createRegistry } from '../src/policies/registry.js';
import { PolicyError, type PolicyProblem } from '../src/policy/errors.js';

const APIM_MD = fileURLToPath(new URL('../../../shared/reference/apim.md', import.meta.url));

interface Block {
  /** 1-based, in document order */
  readonly index: number;
  /** line of the opening ``` fence in apim.md */
  readonly fenceLine: number;
  readonly heading: string;
  readonly xml: string;
}

function xmlBlocks(md: string): Block[] {
  const lines = md.split('\n');
  const out: Block[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^#{2,4} /.test(l)) heading = l.replace(/^#+ /, '');
    if (!/^```xml\s*$/.test(l)) continue;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^```\s*$/.test(lines[j]!)) body.push(lines[j++]!);
    out.push({ index: out.length + 1, fenceLine: i + 1, heading, xml: body.join('\n') });
    i = j;
  }
  return out;
}

type Section = 'inbound' | 'backend' | 'outbound' | 'on-error';

type Classification =
  /** a whole `<policies>` document: loads as a server (API-scope) policy */
  | { kind: 'document'; why: string }
  /** bare policy elements: wrapped in each of these sections, they load */
  | { kind: 'element'; sections: Section[]; why: string }
  /** uses policies that arrive with another issue: loads with ONLY "is not available yet" problems, at these policies' elements */
  | { kind: 'not-yet'; policies: string[]; sections: Section[]; why: string }
  /** a statement shape: placeholder values ("number", "a | b"), not a loadable example */
  | { kind: 'placeholder'; why: string }
  /** should load, but uses a policy Gatehouse does not implement (a gap, reported) */
  | { kind: 'gap'; missing: string; why: string };

/** index → what the block is, with the first characters it starts with (checked) */
const CLASSIFICATION: Record<number, { starts: string; c: Classification }> = {
  1: { starts: '<set-header name="Ocp-Apim-Subscription-Key"', c: { kind: 'element', sections: ['inbound'], why: '§2.3 "Set a subscription key on all MCP requests": a header toward the backend' } },
  2: { starts: '<rate-limit-by-key calls="5"', c: { kind: 'element', sections: ['inbound'], why: '§2.3 rate limit per client IP (rate-limit-by-key is inbound only)' } },
  3: { starts: '<!-- Rate limit tool calls by Mcp-Session-Id', c: { kind: 'element', sections: ['inbound'], why: '§2.3 rate limit tools/call per Mcp-Session-Id' } },
  4: { starts: '<validate-jwt header-name="Authorization"', c: { kind: 'element', sections: ['inbound'], why: '§2.3 validate-jwt + trace on an MCP server' } },
  5: { starts: '<validate-azure-ad-token tenant-id="your-tenant-id"', c: { kind: 'element', sections: ['inbound'], why: '§5.2 token-based inbound security' } },
  6: {
    starts: '<!-- Forward Authorization header to backend -->',
    c: { kind: 'element', sections: ['inbound', 'outbound'], why: '§5.3: the text says "forward the header in the Outbound policy", the snippet itself is a request-header set (inbound); it loads in both' },
  },
  7: { starts: '<!-- Add to inbound policy. -->', c: { kind: 'element', sections: ['inbound'], why: '§5.4 credential manager ("Add to inbound policy.")' } },
  8: { starts: '<validate-jwt\n', c: { kind: 'placeholder', why: '§6 policy statement: header-name, query-parameter-name and token-value all given, placeholder texts for booleans, numbers and keys' } },
  9: { starts: '<validate-jwt header-name="Authorization" require-scheme="Bearer">', c: { kind: 'element', sections: ['inbound'], why: '§6 example, signing key from the named value {{jwt-signing-key}}' } },
  10: { starts: '<validate-jwt header-name="Authorization" failed-validation-httpcode="401"', c: { kind: 'element', sections: ['inbound'], why: '§6 example with openid-config' } },
  11: { starts: '<validate-jwt header-name="Authorization" require-scheme="Bearer" output-token-variable-name="jwt">', c: { kind: 'element', sections: ['inbound'], why: '§6 claims-based authorization: validate-jwt, then choose/return-response on the claims' } },
  12: {
    starts: '<validate-azure-ad-token\n',
    c: { kind: 'placeholder', why: '§7 policy statement: the tenant-id placeholder holds nested quotes (…(for example, "contoso.onmicrosoft.com")…), not well-formed XML — reported as XML errors with positions' },
  },
  13: { starts: '<validate-azure-ad-token tenant-id="{{aad-tenant-id}}">', c: { kind: 'element', sections: ['inbound'], why: '§7 example with named values' } },
  14: { starts: '<validate-azure-ad-token tenant-id="{{aad-tenant-id}}" output-token-variable-name="jwt">', c: { kind: 'element', sections: ['inbound'], why: '§7 example with audiences and required claims' } },
  15: { starts: '<get-authorization-context\n', c: { kind: 'placeholder', why: '§8.4 policy statement: placeholder ids and identity-type=\"managed | jwt\"' } },
  16: { starts: '<!-- Get token back -->', c: { kind: 'element', sections: ['inbound'], why: '§8.4 example: the token returned with return-response' } },
  17: { starts: '<!-- Dynamically set attributes -->', c: { kind: 'element', sections: ['inbound'], why: '§8.4 example with expression attributes' } },
  18: { starts: '<!-- Token from incoming request (user-delegated) -->', c: { kind: 'element', sections: ['inbound'], why: '§8.4 user-delegated example' } },
  19: { starts: '<get-authorization-context provider-id="@(context.Request.Headers["providerId"][0])"', c: { kind: 'element', sections: ['inbound'], why: '§8.4 AIGW MCP labs: provider per request + set-header' } },
  20: { starts: '<policies>\n    <inbound>\n        <base />\n        <get-authorization-context', c: { kind: 'document', why: '§8.6 GitHub "All operations" policy document' } },
  21: { starts: '<set-header name="header name" exists-action="override | skip | append | delete">', c: { kind: 'placeholder', why: '§10 policy statement: "header name", exists-action lists the choices "override | skip | append | delete"' } },
  22: { starts: '<rate-limit-by-key calls="number"', c: { kind: 'placeholder', why: '§11 policy statement: calls="number", renewal-period="seconds", increment-condition="condition" …' } },
  23: { starts: '<policies>\n  <inbound>\n    <!-- statements to be applied to the request go here -->', c: { kind: 'document', why: '§12.1 document structure (comments only)' } },
  24: { starts: '<policies>\n    <inbound>\n        <cross-domain />', c: { kind: 'document', why: '§12.2 <base/> example (cross-domain, base, find-and-replace)' } },
};

/** the credential providers and connections the §5.4 and §8 blocks name */
const CREDENTIALS = {
  providers: [
    { name: 'github-01', type: 'github', clientId: 'gh-client', clientSecret: 'gh-secret', connections: [{ name: 'auth-01', grant: 'authorization-code' }, { name: 'first-connection', grant: 'authorization-code' }] },
    { name: 'your-credential-provider-id', type: 'oauth2', clientId: 'c', clientSecret: 's', authorizationUrl: 'https://idp.example.com/authorize', tokenUrl: 'https://idp.example.com/token', connections: [{ name: 'auth-01', grant: 'client-credentials' }] },
  ],
};

/** the named values the blocks use ({{jwt-signing-key}}, {{aad-tenant-id}}, {{aad-client-application-id}}) */
const NAMED_VALUES: Record<string, string> = {
  'jwt-signing-key': Buffer.from('a-symmetric-signing-key-of-32-bytes!').toString('base64'),
  'aad-tenant-id': '00000000-0000-0000-0000-000000000000',
  'aad-client-application-id': '11111111-1111-1111-1111-111111111111',
};

/** the block as a server policy document: a bare element inside `<policies><SECTION>` (one line up: +1) */
function asDocument(xml: string, section: Section | undefined): string {
  return section === undefined ? xml : `<policies><${section}>\n${xml}\n</${section}></policies>`;
}

async function load(doc: string): Promise<PolicyProblem[]> {
  const config = await configFromObject(
    { store: 'sqlite::memory:', namedValues: NAMED_VALUES, credentials: CREDENTIALS, servers: [{ name: 'example', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: doc }] },
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

const show = (ps: PolicyProblem[]) => ps.map((p) => `${p.line}:${p.col}: ${p.message}`).join('\n');

/** 1-based line and column of each `<name` start tag in a text */
function startTags(text: string, name: string): { line: number; col: number }[] {
  const out: { line: number; col: number }[] = [];
  text.split('\n').forEach((l, i) => {
    for (const m of l.matchAll(new RegExp(`<${name}(?=[\\s/>]|$)`, 'g'))) out.push({ line: i + 1, col: m.index + 1 });
  });
  return out;
}

const md = readFileSync(APIM_MD, 'utf8');
const BLOCKS = xmlBlocks(md);
const block = (i: number): string => {
  const b = BLOCKS[i - 1];
  assert.ok(b, `apim.md has no xml block #${i}`);
  return b.xml;
};

// -------------------------------------------------------------------------------------------------

describe('apim.md: every ```xml example loads', () => {
  it('the classification covers exactly the blocks of apim.md', () => {
    assert.equal(BLOCKS.length, Object.keys(CLASSIFICATION).length, `apim.md has ${BLOCKS.length} xml blocks`);
    for (const b of BLOCKS) {
      const entry = CLASSIFICATION[b.index];
      assert.ok(entry, `block #${b.index} (apim.md:${b.fenceLine}) is not classified`);
      assert.ok(b.xml.startsWith(entry.starts), `block #${b.index} (apim.md:${b.fenceLine}, ${b.heading}) starts with ${JSON.stringify(b.xml.slice(0, 60))}`);
    }
  });

  for (const b of BLOCKS) {
    const entry = CLASSIFICATION[b.index];
    if (!entry) continue;
    const c = entry.c;
    const title = `#${b.index} (apim.md:${b.fenceLine}, ${c.kind}): ${c.why}`;
    switch (c.kind) {
      case 'document':
        it(title, async () => {
          const ps = await load(b.xml);
          assert.deepEqual(ps, [], show(ps));
        });
        break;
      case 'element':
        it(title, async () => {
          for (const s of c.sections) {
            const ps = await load(asDocument(b.xml, s));
            assert.deepEqual(ps, [], `in <${s}>:\n${show(ps)}`);
          }
        });
        break;
      case 'not-yet':
        it(title, async () => {
          const sections: (Section | undefined)[] = c.sections.length > 0 ? c.sections : [undefined];
          for (const s of sections) {
            const doc = asDocument(b.xml, s);
            const ps = await load(doc);
            assert.ok(ps.length > 0, 'it must not load silently');
            const other = ps.filter((p) => !/ is not available yet /.test(p.message));
            assert.deepEqual(other, [], `only "not available yet" problems expected:\n${show(ps)}`);
            // each use of each such policy is reported, at its start tag
            const expected: string[] = c.policies.flatMap((name) => startTags(doc, name).map((at) => `${at.line}:${at.col}: policy <${name}> is not available yet`));
            assert.deepEqual(
              ps.map((p) => `${p.line}:${p.col}: ${p.message.replace(/ \(it arrives with .*\)$/, '')}`),
              expected,
            );
          }
        });
        break;
      case 'placeholder':
        it(`${title} — refused with positions, never silently accepted`, async () => {
          const ps = await load(asDocument(b.xml, 'inbound'));
          assert.ok(ps.length > 0, 'placeholder values must not load');
          for (const p of ps) {
            assert.ok(p.line >= 2, show(ps));
            assert.doesNotMatch(p.message, /unknown policy|not available yet/);
          }
        });
        break;
      case 'gap':
        it(`${title} — loads`, async () => {
          const ps = await load(b.xml);
          assert.deepEqual(ps, [], show(ps));
        });
        it(`#${b.index}: its only problem today is the missing <${c.missing}>`, async () => {
          const ps = await load(b.xml);
          assert.deepEqual(ps.map((p) => p.message), [`unknown policy <${c.missing}>`]);
        });
        break;
    }
  }

  it('the placeholder statements are refused where the placeholders are', async () => {
    const sh = await load(asDocument(block(21), 'inbound'));
    assert.ok(sh.some((p) => /attribute "exists-action" of <set-header> must be one of override, skip, append, delete, got "override \| skip \| append \| delete"/.test(p.message) && p.line === 2 && p.col === 47), show(sh));
    const rl = await load(asDocument(block(22), 'inbound'));
    assert.ok(rl.some((p) => p.line === 2 && p.col === 27 && /"calls" of <rate-limit-by-key>.*"number"/.test(p.message)), show(rl));
    assert.ok(rl.some((p) => p.line === 3 && /"renewal-period".*"seconds"/.test(p.message)), show(rl));
  });

  it('inline XML in the text loads too (§2.2 policy value, §10 example)', async () => {
    const inline = [...md.matchAll(/`(<policies><inbound><base \/><rate-limit [^`]+<\/policies>)`/g)].map((m) => m[1]!);
    assert.equal(inline.length, 1, 'the §2.2 inline document');
    assert.deepEqual(await load(inline[0]!), []);
    const example = /`(<set-header name="x-request-context-data"[^`]+<\/set-header>)`/.exec(md)?.[1];
    assert.ok(example, 'the §10 inline example');
    assert.deepEqual(await load(asDocument(example, 'inbound')), []);
    assert.deepEqual(await load(asDocument(example, 'outbound')), []);
  });
});

// -------------------------------------------------------------------------------------------------
// Behaviour

let nextId = 10;
const call = (url: string, sid: string, name: string, args: Record<string, unknown>, headers: Record<string, string> = {}) =>
  post(url, { jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name, arguments: args } }, { 'mcp-session-id': sid, ...headers });
const list = (url: string, sid: string) => post(url, { jsonrpc: '2.0', id: nextId++, method: 'tools/list' }, { 'mcp-session-id': sid });

/** a POST whose raw response header lines are kept (fetch joins repeated headers) */
function rawPost(url: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; raw: [string, string][] }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT, 'content-length': String(Buffer.byteLength(data)), ...headers } }, (res) => {
      const raw: [string, string][] = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2) raw.push([res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!]);
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, raw }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('§10 set-header examples behave as the text says', () => {
  let fx: EverythingServer;
  let gw: RunningGateway;
  const u = (name: string) => `${gw.url}/${name}/mcp`;
  /** §10 CSV rule and its exceptions, on the response */
  const MULTI = `<policies><outbound>
    <set-header name="x-csv" exists-action="override"><value>value1</value><value>value2</value><value>value3</value></set-header>
    <set-header name="WWW-Authenticate" exists-action="override"><value>Bearer realm="a, b"</value><value>Basic realm="c"</value></set-header>
    <set-header name="Set-Cookie" exists-action="override"><value>a=1</value><value>b=2</value></set-header>
    <set-header name="Transfer-Encoding" exists-action="override"><value>gzip</value></set-header>
    <set-header name="Content-Length" exists-action="delete" />
    <set-header name="Connection" exists-action="override"><value>close</value></set-header>
  </outbound></policies>`;

  before(async () => {
    fx = await startEverythingServer({ transport: 'streamable-http' });
    const server = (name: string, policies?: string) => ({ name, type: 'passthrough', backend: { url: fx.url }, ...(policies ? { policies } : {}) });
    gw = await startGateway({
      servers: [
        server('ex1-inbound', asDocument(block(1), 'inbound')),
        server('ex1-outbound', asDocument(block(1), 'outbound')),
        server('ex6-inbound', asDocument(block(6), 'inbound')),
        server('ex6-outbound', asDocument(block(6), 'outbound')),
        server('plain'),
        server('multi', MULTI),
      ],
    });
  });
  after(async () => {
    await gw?.close();
    await fx?.close();
  });

  const backendSaw = async (server: string, headers: Record<string, string> = {}) => {
    const sid = await session(u(server), headers);
    const r = await call(u(server), sid, 'headers', {}, headers);
    return { reply: r, seen: JSON.parse(toolText(r)) as Record<string, string> };
  };

  it('#1 in inbound: the header is set on the request to the backend (every MCP request, initialize included)', async () => {
    const n = fx.requests.length;
    const { seen, reply } = await backendSaw('ex1-inbound');
    assert.equal(seen['ocp-apim-subscription-key'], 'your-subscription-key');
    assert.equal(reply.headers.get('ocp-apim-subscription-key'), null, 'not on the response');
    const posts = fx.requests.slice(n).filter((q) => q.method === 'POST');
    assert.ok(posts.length >= 2);
    assert.ok(posts.every((q) => q.headers['ocp-apim-subscription-key'] === 'your-subscription-key'));
  });

  it('#1 in outbound: the header is set on the response to the client, not on the backend request', async () => {
    const { seen, reply } = await backendSaw('ex1-outbound');
    assert.equal(seen['ocp-apim-subscription-key'], undefined);
    assert.equal(reply.headers.get('ocp-apim-subscription-key'), 'your-subscription-key');
  });

  it('#6 in inbound: the client Authorization reaches the backend only because the policy forwards it', async () => {
    const auth = { authorization: 'Bearer client-token' };
    assert.equal((await backendSaw('plain', auth)).seen.authorization, undefined);
    assert.equal((await backendSaw('ex6-inbound', auth)).seen.authorization, 'Bearer client-token');
  });

  it('#6 in outbound (the docs\' wording): it sets a response header; the backend still never sees the token', async () => {
    const { seen, reply } = await backendSaw('ex6-outbound', { authorization: 'Bearer client-token' });
    assert.equal(seen.authorization, undefined);
    assert.equal(reply.headers.get('authorization'), 'Bearer client-token');
  });

  it('several <value>s: one CSV header; Connection / Content-Length / Transfer-Encoding are not taken from policies', async () => {
    const sid = await session(u('multi'));
    const r = await rawPost(u('multi'), { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'mcp-session-id': sid });
    assert.equal(r.status, 200);
    const values = (name: string) => r.raw.filter(([k]) => k === name).map(([, v]) => v);
    assert.equal(values('x-csv').length, 1);
    assert.deepEqual(values('x-csv')[0]!.split(',').map((s) => s.trim()), ['value1', 'value2', 'value3']);
    assert.ok(!values('transfer-encoding').includes('gzip'));
    assert.ok(!values('connection').includes('close'));
  });

  it('headers that may hold commas or dates (WWW-Authenticate, Set-Cookie) are emitted as separate header lines', async () => {
    const sid = await session(u('multi'));
    const r = await rawPost(u('multi'), { jsonrpc: '2.0', id: 4, method: 'tools/list' }, { 'mcp-session-id': sid });
    const values = (name: string) => r.raw.filter(([k]) => k === name).map(([, v]) => v);
    assert.deepEqual(values('www-authenticate'), ['Bearer realm="a, b"', 'Basic realm="c"']);
    assert.deepEqual(values('set-cookie'), ['a=1', 'b=2']);
  });
});

describe('§11 rate-limit-by-key examples behave as the text says', () => {
  let fx: EverythingServer;
  let gw: RunningGateway;
  const u = (name: string) => `${gw.url}/${name}/mcp`;
  // probes around the verbatim examples: the variable the example names, and LastError
  const PROBE_OUT = '<outbound><set-header name="x-remaining" exists-action="override"><value>@(context.Variables.ContainsKey("remainingCallsPerIP") ? context.Variables["remainingCallsPerIP"].ToString() : "unset")</value></set-header></outbound>';
  const PROBE_ERR = '<on-error><set-header name="x-last-error" exists-action="override"><value>@(context.LastError.Source + "|" + context.LastError.Reason + "|" + context.LastError.Message)</value></set-header></on-error>';

  before(async () => {
    fx = await startEverythingServer({ transport: 'streamable-http' });
    gw = await startGateway({
      servers: [
        { name: 'per-ip', type: 'passthrough', backend: { url: fx.url }, policies: `<policies><inbound>\n${block(2)}\n</inbound>${PROBE_OUT}${PROBE_ERR}</policies>` },
        { name: 'per-session', type: 'passthrough', backend: { url: fx.url }, policies: `<policies><inbound>\n${block(3)}\n</inbound>${PROBE_ERR}</policies>` },
      ],
    });
  });
  after(async () => {
    await gw?.close();
    await fx?.close();
  });

  it('#2: calls="5" per client IP: exactly 5 requests admitted, the 6th gets 429 with Retry-After; remaining-calls-variable-name counts down', async () => {
    const url = u('per-ip');
    const n = fx.requests.length;
    const sid = await session(url); // 1st call of this IP
    const remaining: (string | null)[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await list(url, sid); // 2nd … 5th
      assert.equal(r.status, 200, `call ${i + 2}: ${r.text}`);
      remaining.push(r.headers.get('x-remaining'));
    }
    assert.deepEqual(remaining, ['3', '2', '1', '0']);
    const before6 = fx.requests.length;
    const sixth = await list(url, sid);
    assert.equal(sixth.status, 429, sixth.text);
    const retry = Number(sixth.headers.get('retry-after'));
    assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 30, `Retry-After: ${sixth.headers.get('retry-after')}`);
    assert.deepEqual(sixth.json, { statusCode: 429, message: `Rate limit is exceeded. Try again in ${retry} seconds.` });
    assert.match(sixth.headers.get('x-last-error') ?? '', /\|RateLimitExceeded\|Rate limit is exceeded/);
    assert.equal(fx.requests.length, before6, 'a refused request never reaches the backend');
    assert.equal(fx.requests.slice(n).filter((q) => q.method === 'POST').length >= 5, true);
    // another MCP session from the same IP shares the counter
    const other = await post(url, INIT);
    assert.equal(other.status, 429);
  });

  it('#2: the LastError Source of the 429 is "rate-limit" (§11)', async () => {
    const r = await post(u('per-ip'), INIT);
    assert.equal(r.status, 429);
    assert.match(r.headers.get('x-last-error') ?? '', /^rate-limit\|/);
  });

  it('#3: one tools/call per Mcp-Session-Id per 60 s; other methods and other sessions are not limited by it', async () => {
    const url = u('per-session');
    const a = await session(url);
    const b = await session(url);
    const first = await call(url, a, 'echo', { text: 'one' });
    assert.equal(first.status, 200, first.text);
    assert.equal(toolText(first), 'one');
    const second = await call(url, a, 'echo', { text: 'two' });
    assert.equal(second.status, 429, second.text);
    assert.match((second.json as { message: string }).message, /^Rate limit is exceeded\. Try again in \d+ seconds\.$/);
    assert.match(second.headers.get('x-last-error') ?? '', /\|RateLimitExceeded\|/);
    for (let i = 0; i < 3; i++) assert.equal((await list(url, a)).status, 200, 'tools/list is not counted');
    const otherSession = await call(url, b, 'echo', { text: 'b' });
    assert.equal(otherSession.status, 200, 'a second session has its own counter');
    assert.equal((await call(url, b, 'echo', { text: 'b2' })).status, 429);
  });
});

describe('§12.2 <base/> example behaves as the text says', () => {
  let fx: EverythingServer;
  let gw: RunningGateway;
  const u = (name: string) => `${gw.url}/${name}/mcp`;
  const EXAMPLE = () => block(24);
  /** the example without its first policy, <cross-domain/> (not implemented) */
  const WITHOUT_CROSS_DOMAIN = () => EXAMPLE().split('\n').filter((l) => !/<cross-domain \/>/.test(l)).join('\n');
  /** the broader (global) scope: records what it saw and whether it ran */
  const GLOBAL = `<policies>
    <inbound>
      <set-variable name="global-ran" value="@(true)" />
      <set-variable name="global-saw-xyz" value="@(context.Request.Body.As<string>(preserveContent: true).Contains("xyz"))" />
    </inbound>
    <backend><forward-request /></backend>
    <outbound>
      <set-header name="x-global" exists-action="override"><value>@(context.Variables.ContainsKey("global-ran") ? "ran, saw xyz: " + context.Variables["global-saw-xyz"].ToString() : "not applied")</value></set-header>
    </outbound>
  </policies>`;

  before(async () => {
    fx = await startEverythingServer({ transport: 'streamable-http' });
    gw = await startGateway({
      policies: GLOBAL,
      servers: [
        { name: 'with-base', type: 'passthrough', backend: { url: fx.url }, policies: WITHOUT_CROSS_DOMAIN() },
        { name: 'without-base', type: 'passthrough', backend: { url: fx.url }, policies: WITHOUT_CROSS_DOMAIN().replace(/^\s*<base \/>\n/m, '') },
      ],
    });
  });
  after(async () => {
    await gw?.close();
    await fx?.close();
  });

  it('the verbatim example runs', async () => {
    const g = await startGateway({ policies: GLOBAL, servers: [{ name: 'verbatim', type: 'passthrough', backend: { url: fx.url }, policies: EXAMPLE() }] });
    await g.close();
  });

  it('(without <cross-domain/>) the broader scope runs at <base/>, before find-and-replace', async () => {
    const url = u('with-base');
    const sid = await session(url);
    const n = fx.requests.length;
    const r = await call(url, sid, 'echo', { text: 'xyz-xyz' });
    assert.equal(r.status, 200, r.text);
    assert.equal(toolText(r), 'abc-abc', 'find-and-replace changed the request the backend got');
    assert.equal(r.headers.get('x-global'), 'ran, saw xyz: True', 'the global scope ran first and saw the original body');
    assert.match(fx.requests.slice(n).find((q) => q.method === 'POST')?.body ?? '', /abc-abc/);
  });

  it('(without <cross-domain/>) removing <base/> at the API scope: only API-scope policies apply', async () => {
    const url = u('without-base');
    const sid = await session(url);
    const r = await call(url, sid, 'echo', { text: 'xyz' });
    assert.equal(toolText(r), 'abc');
    // the server document has no outbound section: the global outbound is inherited, the global inbound is not
    assert.equal(r.headers.get('x-global'), 'not applied');
  });
});
