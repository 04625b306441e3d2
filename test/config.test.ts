/**
 * The configuration loader (src/config/load.ts) and `gatehouse validate`.
 * A table of broken configs with their exact problem lines, then the positive cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configFromObject, loadConfig } from '../src/config/load.js';
import { ConfigError, formatProblem } from '../src/config/errors.js';
import { runValidate, type ExtraCheck } from '../src/cli/commands/validate.js';

// compiled to dist/test/: the fixtures stay in the source tree
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/config/', import.meta.url));
const FULL = path.join(FIXTURES, 'full');

/** the start of a valid passthrough server entry, for the cases below */
const S = 'servers:\n  - name: weather\n    type: passthrough\n';

interface BrokenCase {
  name: string;
  yaml: string;
  env?: Record<string, string>;
  expected: string[];
}

const BROKEN: BrokenCase[] = [
  {
    name: 'YAML syntax error: unclosed flow sequence',
    yaml: 'gateway:\n  listen: [1, 2\nstore: memory\n',
    expected: ['<inline>:3:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]'],
  },
  {
    name: 'YAML syntax error: unterminated quote',
    yaml: 'store: "sqlite:x\n',
    expected: ['<inline>:2:1: invalid YAML: Missing closing "quote'],
  },
  {
    name: 'YAML syntax error: tab indentation',
    yaml: 'gateway:\n\tlisten: 1\n',
    expected: ['<inline>:2:1: invalid YAML: Tabs are not allowed as indentation'],
  },
  {
    name: 'duplicate top-level key',
    yaml: 'store: sqlite:a.db\ncache: memory\nstore: sqlite:b.db\n',
    expected: ['<inline>:3:1: duplicate key "store"'],
  },
  {
    name: 'duplicate nested key',
    yaml: 'gateway:\n  listen: 127.0.0.1:1\n  listen: 127.0.0.1:2\n',
    expected: ['<inline>:3:3: gateway: duplicate key "listen"'],
  },
  {
    name: 'unknown top-level key',
    yaml: 'gateway: {}\nservres: []\n',
    expected: ['<inline>:2:1: unknown key "servres"'],
  },
  {
    name: 'unknown key in a server',
    yaml: `${S}    backend: { url: http://127.0.0.1:9000/mcp }\n    forward_headers: [x-a]\n`,
    expected: ['<inline>:5:5: servers[0]: unknown key "forward_headers"'],
  },
  {
    name: 'unknown key in a backend',
    yaml: `${S}    backend:\n      url: http://127.0.0.1:9000/mcp\n      timeoutMs: 5000\n`,
    expected: ['<inline>:6:7: servers[0].backend: unknown key "timeoutMs"'],
  },
  {
    name: 'wrong types',
    yaml: 'gateway:\n  trustProxy: "yes"\n  maxBodyBytes: 1.5\n  allowedOrigins: https://a.example\n',
    expected: [
      '<inline>:2:15: gateway.trustProxy: expected boolean, got string',
      '<inline>:3:17: gateway.maxBodyBytes: expected integer, got 1.5',
      '<inline>:4:19: gateway.allowedOrigins: expected array, got string',
    ],
  },
  {
    name: 'gateway.workers below the range',
    yaml: 'gateway:\n  workers: 0\n',
    expected: ['<inline>:2:12: gateway.workers: must be at least 1'],
  },
  {
    name: 'gateway.workers too many',
    yaml: 'gateway:\n  workers: 65\n',
    expected: ['<inline>:2:12: gateway.workers: must be at most 64'],
  },
  {
    name: 'gateway.workers a word or a fraction',
    yaml: 'gateway:\n  workers: many\ndrain: 1\n',
    expected: ['<inline>:2:12: gateway.workers: must be an integer from 1 to 64 or "auto"', '<inline>:3:1: unknown key "drain"'],
  },
  {
    name: 'several workers with an in-memory store',
    yaml: 'gateway:\n  workers: 2\nstore: "sqlite::memory:"\n',
    expected: ['<inline>:2:12: gateway.workers: several workers need a shared store: use a sqlite file (sqlite:PATH) or postgres://, not sqlite::memory:'],
  },
  {
    name: 'empty value where an object is required',
    yaml: `${S}    backend:\n`,
    expected: ['<inline>:4:5: servers[0].backend: expected object, got null'],
  },
  {
    name: 'bad URL',
    yaml: `${S}    backend: { url: notaurl }\n`,
    expected: ['<inline>:4:21: servers[0].backend.url: invalid URL "notaurl"'],
  },
  {
    name: 'non-http URL',
    yaml: `${S}    backend: { url: "ftp://files.example/mcp" }\n`,
    expected: ['<inline>:4:21: servers[0].backend.url: URL must use http or https, got "ftp:"'],
  },
  {
    name: 'bad listen: no port',
    yaml: 'gateway:\n  listen: localhost\n',
    expected: ['<inline>:2:11: gateway.listen: must be host:port, e.g. 127.0.0.1:8080'],
  },
  {
    name: 'bad listen: port out of range',
    yaml: 'gateway:\n  listen: 127.0.0.1:70000\n',
    expected: ['<inline>:2:11: gateway.listen: port must be between 0 and 65535'],
  },
  {
    name: 'bad listen: not an IPv4 address',
    yaml: 'gateway:\n  listen: 300.1.1.1:80\n',
    expected: ['<inline>:2:11: gateway.listen: invalid IPv4 address "300.1.1.1"'],
  },
  {
    name: 'bad server name',
    yaml: 'servers:\n  - name: Weather\n    type: passthrough\n    backend: { url: http://127.0.0.1:9000/mcp }\n',
    expected: ['<inline>:2:11: servers[0].name: must be lowercase letters, digits, - and _ (URL segment), starting with a letter or digit'],
  },
  {
    name: 'unknown server type',
    yaml: 'servers:\n  - name: weather\n    type: grpc\n    backend: { url: http://127.0.0.1:9000/mcp }\n',
    expected: ['<inline>:3:11: servers[0].type: must be one of passthrough, openapi'],
  },
  {
    name: 'missing server type',
    yaml: 'servers:\n  - name: weather\n    backend: { url: http://127.0.0.1:9000/mcp }\n',
    expected: ['<inline>:2:5: servers[0]: missing required key "type" (one of passthrough, openapi)'],
  },
  {
    name: 'missing backend',
    yaml: `${S}    policies: "<policies/>"\n`,
    expected: ['<inline>:2:5: servers[0]: missing required key "backend"'],
  },
  {
    name: 'bad transport',
    yaml: `${S}    backend: { url: http://127.0.0.1:9000/mcp, transport: websocket }\n`,
    expected: ['<inline>:4:59: servers[0].backend.transport: must be one of streamable-http, sse'],
  },
  {
    name: 'forbidden forwardHeaders',
    yaml: `${S}    backend: { url: http://127.0.0.1:9000/mcp }\n    forwardHeaders: [x-request-id, Cookie, Mcp-Session-Id]\n`,
    expected: [
      '<inline>:5:36: servers[0].forwardHeaders[1]: header "cookie" is never forwarded to a backend (remove it from forwardHeaders)',
      '<inline>:5:44: servers[0].forwardHeaders[2]: header "mcp-session-id" is never forwarded to a backend (remove it from forwardHeaders)',
    ],
  },
  {
    name: 'duplicate server names',
    yaml: 'servers:\n'
      + '  - { name: a, type: passthrough, backend: { url: "http://h/mcp" } }\n'
      + '  - { name: b, type: passthrough, backend: { url: "http://h/mcp" } }\n'
      + '  - { name: a, type: passthrough, backend: { url: "http://h/mcp" } }\n',
    expected: ['<inline>:4:13: servers[2].name: duplicate server name "a" (already defined at servers[0])'],
  },
  {
    name: 'duplicate tool names within a server',
    yaml: `${S}    backend: { url: http://127.0.0.1:9000/mcp }\n    tools:\n      - name: get_forecast\n      - name: search\n      - name: get_forecast\n`,
    expected: ['<inline>:8:15: servers[0].tools[2].name: duplicate tool name "get_forecast" in server "weather" (already defined at servers[0].tools[0])'],
  },
  {
    name: 'unknown named value',
    yaml: `namedValues:\n  host: 127.0.0.1\n${S}    backend: { url: "http://{{hots}}:9000/mcp" }\n`,
    expected: ['<inline>:6:21: servers[0].backend.url: unknown named value "hots" (not defined in namedValues)'],
  },
  {
    name: 'missing environment variable of a named value',
    yaml: 'namedValues:\n  api-key: { env: GATEHOUSE_TEST_UNSET_VAR, secret: true }\n',
    expected: ['<inline>:2:12: namedValues.api-key: environment variable "GATEHOUSE_TEST_UNSET_VAR" is not set (and no default is given)'],
  },
  {
    name: 'named value shapes',
    yaml: 'namedValues:\n  a: [1, 2]\n  b: { env: X, secret: "yes" }\n  c: { value: 3 }\n  d: {}\n  "e f": x\n',
    expected: [
      '<inline>:2:6: namedValues.a: must be a string or { env: VAR } or { value: ..., secret: true }',
      '<inline>:3:24: namedValues.b.secret: expected boolean, got string',
      '<inline>:4:15: namedValues.c.value: expected string, got number',
      '<inline>:5:6: namedValues.d: must be a string or { env: VAR } or { value: ..., secret: true }',
      '<inline>:6:3: namedValues: invalid key "e f": named value names are letters, digits, . _ -',
    ],
  },
  {
    name: 'product naming an unknown server',
    yaml: 'servers:\n  - { name: a, type: passthrough, backend: { url: "http://h/mcp" } }\nproducts:\n  - name: starter\n    servers: [a, b]\n',
    expected: ['<inline>:5:18: products[0].servers[1]: unknown server "b"'],
  },
  {
    name: 'missing policy file',
    yaml: 'policies: ./nope/global.xml\n',
    expected: ['<inline>:1:11: policies: cannot read policy file "./nope/global.xml": ENOENT: no such file or directory'],
  },
  {
    name: 'identity naming an unknown provider',
    yaml: 'identity: { provider: corp, connection: svc }\ncredentials:\n  providers:\n    - name: other\n      type: oauth2\n      clientId: x\n',
    expected: ['<inline>:1:23: identity.provider: unknown credentials provider "corp"'],
  },
  {
    name: 'identity naming an unknown connection; duplicate provider names',
    yaml: 'identity: { provider: corp, connection: svc }\ncredentials:\n  providers:\n'
      + '    - name: corp\n      type: oauth2\n      clientId: x\n      connections:\n        - { name: user, grant: authorization-code }\n'
      + '    - name: corp\n      type: github\n      clientId: y\n',
    expected: [
      '<inline>:1:41: identity.connection: unknown connection "svc" of credentials provider "corp"',
      '<inline>:9:13: credentials.providers[1].name: duplicate credentials provider name "corp" (already defined at credentials.providers[0])',
    ],
  },
  {
    name: 'secret fields: missing env var, wrong type',
    yaml: 'credentials:\n  providers:\n    - name: corp\n      type: oauth2\n      clientId: x\n      clientSecret: { env: GATEHOUSE_TEST_UNSET_VAR }\ngateway:\n  admin:\n    token: 12345\n',
    expected: [
      '<inline>:6:21: credentials.providers[0].clientSecret: environment variable "GATEHOUSE_TEST_UNSET_VAR" is not set',
      '<inline>:9:12: gateway.admin.token: must be a string or { env: VAR }',
    ],
  },
  {
    name: 'publicUrl with a query, allowedOrigins that are not origins',
    yaml: 'gateway:\n  publicUrl: https://mcp.example.com/base?x=1\n  allowedOrigins: [https://ok.example, "https://a.example/path", "*"]\n',
    expected: [
      '<inline>:2:14: gateway.publicUrl: must not have a query or fragment',
      '<inline>:3:40: gateway.allowedOrigins[1]: "https://a.example/path" is not an origin (scheme://host[:port], no path)',
      '<inline>:3:66: gateway.allowedOrigins[2]: "*" is not an origin (scheme://host[:port], no path)',
    ],
  },
  {
    name: 'connections: enum, literal and union problems',
    yaml: 'credentials:\n  providers:\n    - name: p\n      type: github\n      clientId: x\n      connections:\n        - name: c\n'
      + '          grant: device-code\n          accessPolicies: [ { identity: user }, { claim: oid }, {} ]\n',
    expected: [
      '<inline>:8:18: credentials.providers[0].connections[0].grant: must be one of authorization-code, client-credentials',
      '<inline>:9:41: credentials.providers[0].connections[0].accessPolicies[0].identity: must be "managed"',
      '<inline>:9:49: credentials.providers[0].connections[0].accessPolicies[1]: missing required key "value"',
      '<inline>:9:65: credentials.providers[0].connections[0].accessPolicies[2]: must be { identity: managed } or { claim: ..., value: ... }',
    ],
  },
  {
    name: 'array size and glob problems',
    yaml: `${S}    backend: { url: "http://h/mcp" }\n    resourceMetadata: { authorizationServers: [] }\n    allowTools: ["bad tool"]\n`,
    expected: [
      '<inline>:5:47: servers[0].resourceMetadata.authorizationServers: must have at least 1 item',
      '<inline>:6:18: servers[0].allowTools[0]: must be a tool name or glob (letters, digits, _-./ and * ?)',
    ],
  },
  {
    name: 'several problems at once, all reported in file order',
    yaml: 'gateway:\n  listen: nope\n  colour: blue\nservers:\n  - name: a\n    type: passthrough\n'
      + '    backend: { url: "http://h/mcp", transport: ws }\n  - name: a\n    type: passthrough\nproducts:\n  - { name: p, servers: [zz] }\n',
    expected: [
      '<inline>:2:11: gateway.listen: must be host:port, e.g. 127.0.0.1:8080',
      '<inline>:3:3: gateway: unknown key "colour"',
      '<inline>:7:48: servers[0].backend.transport: must be one of streamable-http, sse',
      '<inline>:8:5: servers[1]: missing required key "backend"',
      '<inline>:8:11: servers[1].name: duplicate server name "a" (already defined at servers[0])',
      '<inline>:11:26: products[0].servers[0]: unknown server "zz"',
    ],
  },
  {
    name: 'root is a list',
    yaml: '- name: weather\n',
    expected: ['<inline>:1:1: expected a mapping of settings at the top level, got array'],
  },
  {
    name: 'root is a scalar',
    yaml: 'hello\n',
    expected: ['<inline>:1:1: expected a mapping of settings at the top level, got a scalar'],
  },
  {
    name: 'empty document',
    yaml: '# nothing here\n',
    expected: ['<inline>:1:1: the config is empty: expected a mapping of settings (gateway, servers, ...)'],
  },
];

async function problemsOf(run: () => Promise<unknown>): Promise<ConfigError> {
  try {
    await run();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail('expected a ConfigError');
}

test('broken configs: table has at least 20 cases', () => {
  assert.ok(BROKEN.length >= 20, `${BROKEN.length} cases`);
});

for (const c of BROKEN) {
  test(`broken config: ${c.name}`, async () => {
    const err = await problemsOf(() => loadConfig({ text: c.yaml, env: c.env ?? {}, cwd: FIXTURES }));
    assert.deepEqual(err.message.split('\n'), c.expected);
    assert.deepEqual(err.problems.map((p) => formatProblem(p)), c.expected);
    for (const p of err.problems) {
      assert.equal(p.file, '<inline>');
      assert.ok(p.line >= 1 && p.col >= 1);
    }
  });
}

test('missing policy file in a fixture: FILE is the config file, shown relative to cwd', async () => {
  const err = await problemsOf(() => loadConfig({ file: 'missing-policy.yaml', cwd: FIXTURES, env: {} }));
  assert.equal(err.problems.length, 1);
  assert.equal(err.problems[0]?.file, path.join(FIXTURES, 'missing-policy.yaml'));
  assert.equal(
    formatProblem(err.problems[0]!, { cwd: FIXTURES }),
    'missing-policy.yaml:5:15: servers[0].policies: cannot read policy file "./policies/does-not-exist.xml": ENOENT: no such file or directory',
  );
});

test('missing config file: one problem at 1:1', async () => {
  const err = await problemsOf(() => loadConfig({ file: 'nope.yaml', cwd: FIXTURES }));
  assert.deepEqual(err.message.split('\n'), [`${path.join(FIXTURES, 'nope.yaml')}:1:1: cannot read config file: ENOENT: no such file or directory`]);
});

test('text with a file name: problems reported under that file', async () => {
  const err = await problemsOf(() => loadConfig({ text: 'bogus: 1\n', file: 'gatehouse.yaml', cwd: FIXTURES }));
  assert.equal(formatProblem(err.problems[0]!, { cwd: FIXTURES }), 'gatehouse.yaml:1:1: unknown key "bogus"');
});

test('a full PRODUCT §3 config loads', async () => {
  const env = { GITHUB_CLIENT_SECRET: 'gh-secret-value', CORP_CLIENT_SECRET: 'corp-secret-value' };
  const c = await loadConfig({ file: path.join(FULL, 'gatehouse.yaml'), env });
  assert.equal(c.file, path.join(FULL, 'gatehouse.yaml'));
  assert.equal(c.baseDir, FULL);
  assert.deepEqual(c.gateway, {
    host: '127.0.0.1',
    port: 8080,
    publicUrl: 'https://mcp.example.com',
    allowedOrigins: ['https://app.example.com'],
    allowedHosts: ['localhost', '127.0.0.1', '[::1]', 'mcp.example.com'],
    trustProxy: false,
    maxBodyBytes: 4 * 1024 * 1024,
    drainTimeoutMs: 10_000,
    sessionTtlMs: 3_600_000,
    entraAuthority: 'https://login.microsoftonline.com',
    workers: 1,
  });
  assert.equal(c.store, `sqlite:${path.join(FULL, '.gatehouse', 'gatehouse.db')}`);
  assert.equal(c.cache, 'memory');

  // both servers; the openapi one with its document imported and its tool named by the config
  assert.equal(c.servers.length, 2);
  assert.equal(c.raw.servers?.length, 2);
  const pets = c.servers[1]!;
  assert.equal(pets.type, 'openapi');
  assert.equal(pets.openapi?.source, path.join(FULL, 'apis', 'petstore.yaml'));
  assert.deepEqual(pets.openapi?.tools.map((t) => t.name), ['get_pet']);
  assert.deepEqual(pets.tools.map((t) => [t.name, t.operation]), [['get_pet', 'getPetById']]);
  assert.equal(pets.backend.url, 'http://127.0.0.1:9001/api/v3');
  const weather = c.servers[0]!;
  assert.equal(weather.name, 'weather');
  assert.deepEqual(weather.backend, { url: 'http://127.0.0.1:9000/mcp', transport: 'streamable-http', timeoutMs: 30_000 });
  assert.deepEqual(weather.forwardHeaders, ['x-request-id', 'traceparent']);
  assert.deepEqual(weather.allowTools, ['get_*', 'search']);
  assert.deepEqual(weather.denyTools, ['*_admin']);
  assert.deepEqual(weather.resourceMetadata, { authorizationServers: ['https://login.example.com'], scopes: ['weather.read'] });
  assert.equal(weather.policies?.file, path.join(FULL, 'policies', 'weather.xml'));
  assert.match(weather.policies?.xml ?? '', /<!-- weather -->/);
  assert.equal(weather.tools.length, 1);
  assert.equal(weather.tools[0]?.name, 'get_forecast');
  assert.deepEqual(weather.tools[0]?.scopes, ['weather.read']);
  assert.equal(weather.tools[0]?.policies?.file, path.join(FULL, 'policies', 'forecast.xml'));

  assert.equal(c.policies?.file, path.join(FULL, 'policies', 'global.xml'));
  const fragment = c.fragments?.get('common-headers');
  assert.equal(fragment?.file, path.join(FULL, 'policies', 'fragments', 'common-headers.xml'));
  assert.match(fragment?.xml ?? '', /\{\{tenant-id\}\}/, 'named values in policy documents are left to the policy engine');
  assert.deepEqual(c.products?.map((p) => ({ ...p, policies: p.policies?.file })), [
    { name: 'starter', servers: ['weather', 'petstore'], subscriptionRequired: true, policies: path.join(FULL, 'policies', 'starter.xml') },
  ]);

  assert.deepEqual(c.namedValues.get('tenant-id'), { value: '00000000-0000-0000-0000-000000000000', secret: false });
  assert.deepEqual(c.namedValues.get('github-secret'), { value: 'gh-secret-value', secret: true });
  assert.deepEqual(c.namedValues.get('entra-secret'), { value: 'entra-default-secret', secret: true });
  assert.equal(c.raw.authorization?.upstream.issuer, 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0');
  assert.equal(c.raw.authorization?.upstream.clientSecret, 'entra-default-secret');
  assert.equal(c.raw.credentials?.providers?.[0]?.clientSecret, 'gh-secret-value');
  assert.equal(c.raw.credentials?.providers?.[1]?.clientSecret, 'corp-secret-value');
  assert.equal(c.raw.namedValues?.['weather-host'], '127.0.0.1:9000');
});

test('defaults are applied', async () => {
  const c = await loadConfig({
    text: 'servers:\n  - name: weather\n    type: passthrough\n    backend: { url: "http://127.0.0.1:9000/mcp" }\n    forwardHeaders: [X-Trace, x-trace]\n    tools: [{ name: t }]\n    resourceMetadata: {}\n',
    cwd: '/srv/gh',
    env: {},
  });
  assert.equal(c.file, undefined);
  assert.equal(c.baseDir, '/srv/gh');
  assert.deepEqual(c.gateway, {
    host: '127.0.0.1',
    port: 8080,
    publicUrl: 'http://127.0.0.1:8080',
    allowedOrigins: [],
    allowedHosts: ['localhost', '127.0.0.1', '[::1]'],
    trustProxy: false,
    maxBodyBytes: 4194304,
    drainTimeoutMs: 10000,
    sessionTtlMs: 3600000,
    entraAuthority: 'https://login.microsoftonline.com',
    workers: 1,
  });
  assert.equal(c.store, 'sqlite:/srv/gh/.gatehouse/gatehouse.db');
  assert.equal(c.cache, 'memory');
  assert.deepEqual(c.products, []);
  assert.equal(c.fragments?.size, 0);
  assert.equal(c.policies, undefined);
  const s = c.servers[0]!;
  assert.deepEqual(s.backend, { url: 'http://127.0.0.1:9000/mcp', transport: 'streamable-http', timeoutMs: 30000 });
  assert.deepEqual(s.forwardHeaders, ['x-trace']);
  assert.equal(s.allowTools, undefined);
  assert.deepEqual(s.denyTools, []);
  assert.deepEqual(s.toolAccess, []);
  assert.deepEqual(s.tools, [{ name: 't', scopes: [] }]);
  assert.equal(s.policies, undefined);
  assert.deepEqual(s.resourceMetadata, { authorizationServers: [], scopes: [] });
});

test('gateway settings: IPv6 listen, seconds to ms, explicit hosts, non-loopback bind', async () => {
  const v6 = await loadConfig({ text: 'gateway:\n  listen: "[::1]:9000"\n  drainTimeout: 2.5\n  sessionTtl: 60\n  maxBodyBytes: 1024\n', env: {} });
  assert.equal(v6.gateway.host, '::1');
  assert.equal(v6.gateway.port, 9000);
  assert.equal(v6.gateway.publicUrl, 'http://[::1]:9000');
  assert.deepEqual(v6.gateway.allowedHosts, ['localhost', '127.0.0.1', '[::1]']);
  assert.equal(v6.gateway.drainTimeoutMs, 2500);
  assert.equal(v6.gateway.sessionTtlMs, 60000);
  assert.equal(v6.gateway.maxBodyBytes, 1024);

  const any = await loadConfig({ text: 'gateway:\n  listen: 0.0.0.0:80\n  publicUrl: https://GW.example.com/base/\n  allowedOrigins: ["HTTPS://App.Example.com:443", "http://localhost:3000/"]\n', env: {} });
  assert.equal(any.gateway.host, '0.0.0.0');
  assert.equal(any.gateway.publicUrl, 'https://gw.example.com/base');
  assert.deepEqual(any.gateway.allowedHosts, []);
  assert.deepEqual(any.gateway.allowedOrigins, ['https://app.example.com', 'http://localhost:3000']);

  const hosts = await loadConfig({ text: 'gateway:\n  allowedHosts: [GW.Example.com, "localhost:8080"]\n', env: {} });
  assert.deepEqual(hosts.gateway.allowedHosts, ['gw.example.com', 'localhost:8080']);

  const store = await loadConfig({ text: 'store: "postgres://gh@db/gatehouse"\ncache: "redis://127.0.0.1:6379"\n', env: {}, cwd: '/x' });
  assert.equal(store.store, 'postgres://gh@db/gatehouse');
  assert.equal(store.cache, 'redis://127.0.0.1:6379');
  const abs = await loadConfig({ text: 'store: sqlite:/var/lib/gh.db\n', env: {}, cwd: '/x' });
  assert.equal(abs.store, 'sqlite:/var/lib/gh.db');
});

test('named values and env references are substituted in config strings', async () => {
  const yaml = [
    'namedValues:',
    '  host: { env: GH_TEST_HOST }',
    '  port: 9000',
    '  token: { value: admin-token-123, secret: true }',
    '  region: { env: GH_TEST_UNSET, default: eu }',
    'gateway:',
    '  admin: { token: "{{token}}" }',
    'policies: "<policies>{{not-defined-here}}</policies>"',
    'servers:',
    '  - name: weather',
    '    type: passthrough',
    '    description: "weather in {{region}}"',
    '    backend: { url: "http://{{host}}:{{port}}/mcp", transport: sse, timeout: 5 }',
    'credentials:',
    '  providers:',
    '    - name: corp',
    '      type: oauth2',
    '      clientId: gatehouse',
    '      clientSecret: { env: GH_TEST_SECRET }',
  ].join('\n');
  const c = await loadConfig({ text: yaml, env: { GH_TEST_HOST: 'backend.local', GH_TEST_SECRET: 'env-secret' } });
  assert.deepEqual(c.servers[0]?.backend, { url: 'http://backend.local:9000/mcp', transport: 'sse', timeoutMs: 5000 });
  assert.equal(c.raw.servers?.[0]?.description, 'weather in eu');
  assert.equal(c.raw.gateway?.admin?.token, 'admin-token-123');
  assert.equal(c.raw.credentials?.providers?.[0]?.clientSecret, 'env-secret');
  // inline XML is not substituted (the policy engine does it), and an unknown name there is not a config problem
  assert.deepEqual(c.policies, { xml: '<policies>{{not-defined-here}}</policies>' });
  assert.deepEqual(c.namedValues.get('port'), { value: '9000', secret: false });
  assert.deepEqual(c.namedValues.get('host'), { value: 'backend.local', secret: false });
  assert.deepEqual(c.namedValues.get('token'), { value: 'admin-token-123', secret: true });
  assert.deepEqual(c.namedValues.get('region'), { value: 'eu', secret: false });
});

test('secrets never appear in problems, even when the secret-bearing value is invalid', async () => {
  const yaml = [
    'namedValues:',
    '  api-key: { env: API_KEY, secret: true }',
    '  short: { value: "q:z", secret: true }',
    'gateway:',
    '  allowedOrigins: ["{{api-key}}", "{{short}}"]',
    '  publicUrl: "https://x.example/?k={{api-key}}"',
    'servers:',
    '  - name: s',
    '    type: passthrough',
    '    backend: { url: "{{api-key}}" }',
    '  - name: t',
    '    type: passthrough',
    '    backend: { url: "{{short}}" }',
    '    policies: "./{{api-key}}.xml"',
    'credentials:',
    '  providers:',
    '    - name: p',
    '      type: oauth2',
    '      clientId: x',
    '      clientSecret: { env: CORP, secret: true }',
    '      authorizationUrl: "ftp://{{api-key}}"',
    '      tokenUrl: "{{short}}"',
    'products:',
    '  - { name: x, servers: ["{{short}}"] }',
  ].join('\n');
  const env = { API_KEY: 'sup3r-s3cret-value', CORP: 'corp-secret-1' };
  const err = await problemsOf(() => loadConfig({ text: yaml, env, cwd: FIXTURES }));
  assert.deepEqual(err.message.split('\n'), [
    '<inline>:5:20: gateway.allowedOrigins[0]: (secret value) is not an origin (scheme://host[:port], no path)',
    '<inline>:5:35: gateway.allowedOrigins[1]: (secret value) is not an origin (scheme://host[:port], no path)',
    '<inline>:6:14: gateway.publicUrl: must not have a query or fragment',
    '<inline>:10:21: servers[0].backend.url: invalid URL (secret value)',
    '<inline>:13:21: servers[1].backend.url: URL must use http or https, got (secret value)',
    '<inline>:14:15: servers[1].policies: cannot read policy file (secret value): ENOENT: no such file or directory',
    '<inline>:21:25: credentials.providers[0].authorizationUrl: URL must use http or https, got (secret value)',
    '<inline>:22:17: credentials.providers[0].tokenUrl: URL must use http or https, got (secret value)',
    '<inline>:24:26: products[0].servers[0]: unknown server (secret value)',
  ]);
  for (const text of [err.message, JSON.stringify(err.problems), String(err.stack)]) {
    for (const secret of ['sup3r-s3cret-value', 'q:z', 'corp-secret-1']) {
      assert.ok(!text.includes(secret), `secret ${secret} leaked`);
    }
  }
});

test('secrets in configFromObject problems are hidden too', async () => {
  const err = await problemsOf(() => configFromObject({
    namedValues: { pw: { value: 'hunter2-hunter2', secret: true } },
    servers: [{ name: 'a', type: 'passthrough', backend: { url: 'mailto:{{pw}}' } }],
  }, { baseDir: FIXTURES, env: {} }));
  assert.deepEqual(err.message.split('\n'), ['<object>:1:1: servers[0].backend.url: URL must use http or https, got (secret value)']);
  assert.ok(!JSON.stringify(err.problems).includes('hunter2'));
});

test('configFromObject: problems at 1:1 with paths; a valid object loads', async () => {
  const err = await problemsOf(() => configFromObject({
    servers: [{ name: 'a', type: 'passthrough', backend: { url: 'notaurl' }, extra: true }],
    bogus: 1,
  }, { baseDir: '/tmp', env: {} }));
  assert.deepEqual(err.message.split('\n'), [
    '<object>:1:1: servers[0].backend.url: invalid URL "notaurl"',
    '<object>:1:1: servers[0]: unknown key "extra"',
    '<object>:1:1: unknown key "bogus"',
  ]);
  const notObject = await problemsOf(() => configFromObject([], { baseDir: '/tmp' }));
  assert.equal(notObject.message, '<object>:1:1: expected a mapping of settings at the top level, got array');

  const input = { servers: [{ name: 'demo', type: 'passthrough', backend: { url: 'http://127.0.0.1:1/mcp' }, policies: 'demo.xml' }] };
  const missing = await problemsOf(() => configFromObject(input, { baseDir: FULL, env: {} }));
  assert.deepEqual(missing.message.split('\n'), ['<object>:1:1: servers[0].policies: cannot read policy file "demo.xml": ENOENT: no such file or directory']);
  input.servers[0]!.policies = 'policies/weather.xml';
  const c = await configFromObject(input, { baseDir: FULL, env: {} });
  assert.equal(c.file, undefined);
  assert.equal(c.servers[0]?.policies?.file, path.join(FULL, 'policies', 'weather.xml'));
  assert.equal(input.servers[0]!.policies, 'policies/weather.xml', 'the input object is not modified');
  assert.ok(!Object.isFrozen(input));
});

test('the loaded config is deep-frozen', async () => {
  const c = await loadConfig({ file: path.join(FULL, 'gatehouse.yaml'), env: { GITHUB_CLIENT_SECRET: 'a', CORP_CLIENT_SECRET: 'b' } });
  for (const o of [c, c.gateway, c.gateway.allowedHosts, c.servers, c.servers[0], c.servers[0]?.backend, c.servers[0]?.tools[0],
    c.servers[0]?.policies, c.products, c.raw, c.raw.servers, c.raw.servers?.[1], c.raw.namedValues, c.namedValues, c.fragments]) {
    assert.ok(Object.isFrozen(o));
  }
  assert.throws(() => { (c.gateway as { port: number }).port = 1; }, TypeError);
  assert.throws(() => { (c.servers as unknown as unknown[]).push({}); }, TypeError);
  assert.throws(() => { (c.namedValues as Map<string, unknown>).set('x', {}); }, TypeError);
  assert.throws(() => { (c.fragments as Map<string, unknown>).delete('common-headers'); }, TypeError);
  assert.equal(c.namedValues.get('tenant-id')?.value, '00000000-0000-0000-0000-000000000000');
});

test('the loader prints nothing', async () => {
  const calls: unknown[] = [];
  const saved = { log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug };
  const capture = (...a: unknown[]): void => { calls.push(a); };
  Object.assign(console, { log: capture, info: capture, warn: capture, error: capture, debug: capture });
  try {
    await loadConfig({ text: BROKEN.find((b) => b.name.startsWith('several'))!.yaml, env: {} }).catch(() => undefined);
    await loadConfig({ file: path.join(FULL, 'gatehouse.yaml'), env: {} }).catch(() => undefined);
    await loadConfig({ file: path.join(FULL, 'gatehouse.yaml'), env: { GITHUB_CLIENT_SECRET: 'a', CORP_CLIENT_SECRET: 'b' } });
  } finally {
    Object.assign(console, saved);
  }
  assert.deepEqual(calls, []);
  // and no module of the loader writes to stdout/stderr
  const srcDir = fileURLToPath(new URL('../../src/config/', import.meta.url));
  for (const f of readdirSync(srcDir).filter((n) => n.endsWith('.ts'))) {
    const text = readFileSync(path.join(srcDir, f), 'utf8');
    assert.ok(!/\bconsole\.|process\.(stdout|stderr)/.test(text), `${f} prints`);
  }
});

// ------------------------------------------------------------------------------------------------
// gatehouse validate

function io(cwd: string, env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (s: string) => { out.push(s); }, stderr: (s: string) => { err.push(s); }, cwd, env } };
}

test('validate: a bad file prints every problem and returns 2; a good file prints ok and returns 0', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-validate-'));
  try {
    writeFileSync(path.join(dir, 'bad.yaml'), 'gateway:\n  listen: nope\nservers:\n  - name: a\n    type: passthrough\n    backend: { url: notaurl }\n');
    const bad = io(dir);
    assert.equal(await runValidate(['-c', 'bad.yaml'], bad.io), 2);
    assert.deepEqual(bad.out.join(''), [
      'bad.yaml:2:11: gateway.listen: must be host:port, e.g. 127.0.0.1:8080',
      'bad.yaml:6:21: servers[0].backend.url: invalid URL "notaurl"',
      '',
    ].join('\n'));
    assert.deepEqual(bad.err, []);

    mkdirSync(path.join(dir, 'policies'));
    writeFileSync(path.join(dir, 'policies', 'global.xml'), '<policies><inbound><base/></inbound></policies>\n');
    writeFileSync(path.join(dir, 'gatehouse.yaml'), [
      'policies: ./policies/global.xml',
      'servers:',
      '  - name: weather',
      '    type: passthrough',
      '    backend: { url: "http://127.0.0.1:9000/mcp" }',
      '  - name: petstore',
      '    type: openapi',
      '    openapi: ./petstore.yaml',
      '',
    ].join('\n'));
    writeFileSync(path.join(dir, 'petstore.yaml'), 'openapi: 3.0.3\ninfo: { title: P, version: "1" }\nservers: [{ url: "http://127.0.0.1:9001/api" }]\npaths:\n  /pets:\n    get: { operationId: listPets, responses: { "200": { description: ok } } }\n');
    const good = io(dir);
    assert.equal(await runValidate([], good.io), 0, good.out.join(''));
    assert.deepEqual(good.out, ['gatehouse.yaml: ok (2 servers)\n']);
    const good2 = io(dir);
    assert.equal(await runValidate(['--config', path.join(dir, 'gatehouse.yaml')], good2.io), 0);
    assert.deepEqual(good2.out, ['gatehouse.yaml: ok (2 servers)\n']);

    // a file outside cwd keeps its absolute path
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'gatehouse-elsewhere-'));
    try {
      const outside = io(elsewhere);
      assert.equal(await runValidate(['-c', path.join(dir, 'bad.yaml')], outside.io), 2);
      assert.ok((outside.out[0] ?? '').startsWith(`${path.join(dir, 'bad.yaml')}:2:11: `), outside.out[0]);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }

    // extra checks (the policy engine's hook) run on a loaded config and their problems are printed
    const check: ExtraCheck = async (config) => [{ file: config.policies?.file ?? '?', line: 1, col: 2, message: 'policy problem' }];
    const extra = io(dir);
    assert.equal(await runValidate([], extra.io, [check]), 2);
    assert.deepEqual(extra.out, ['policies/global.xml:1:2: policy problem\n']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('validate: no config file, missing -c file, unknown option', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-validate-'));
  try {
    const none = io(dir);
    assert.equal(await runValidate([], none.io), 2);
    assert.deepEqual(none.err, ['no config file: ./gatehouse.yaml not found\n']);
    assert.deepEqual(none.out, []);

    const missing = io(dir);
    assert.equal(await runValidate(['-c', 'other.yaml'], missing.io), 2);
    assert.deepEqual(missing.out, ['other.yaml:1:1: cannot read config file: ENOENT: no such file or directory\n']);

    const unknown = io(dir);
    assert.equal(await runValidate(['--bogus'], unknown.io), 2);
    assert.match(unknown.err.join(''), /gatehouse validate: .*--bogus/);
    assert.match(unknown.err.join(''), /usage: gatehouse validate/);

    const positional = io(dir);
    assert.equal(await runValidate(['extra.yaml'], positional.io), 2);
    assert.match(positional.err.join(''), /usage: gatehouse validate/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('validate: secret values do not appear in the output', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-validate-'));
  try {
    writeFileSync(path.join(dir, 'gatehouse.yaml'), [
      'namedValues:',
      '  key: { env: GH_KEY, secret: true }',
      'servers:',
      '  - name: a',
      '    type: passthrough',
      '    backend: { url: "https://{{key}}@bad host/" }',
      '',
    ].join('\n'));
    const run = io(dir, { GH_KEY: 'very-secret-key-value' });
    assert.equal(await runValidate([], run.io), 2);
    const all = run.out.join('') + run.err.join('');
    assert.ok(!all.includes('very-secret-key-value'), all);
    assert.equal(all, 'gatehouse.yaml:6:21: servers[0].backend.url: invalid URL (secret value)\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('certificates: PEM files and inline PEM load; a bad certificate, a missing file, a foreign key and bad toolAccess rules are reported with positions', async () => {
  const { execFileSync } = await import('node:child_process');
  const { mkdtempSync, readFileSync, writeFileSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gh-certs-'));
  try {
    const mk = (name: string) => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.pem`), '-days', '1', '-subj', `/CN=${name}`], { stdio: 'ignore' });
    };
    mk('idp');
    mk('other');
    writeFileSync(path.join(dir, 'bad.pem'), '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    const inline = readFileSync(path.join(dir, 'other.pem'), 'utf8');
    const ok = await loadConfig({
      text: `certificates:\n  idp: { cert: ./idp.pem, key: ./idp.key }\n  inline: { cert: ${JSON.stringify(inline)} }\n`,
      file: path.join(dir, 'gatehouse.yaml'),
      env: {},
    });
    assert.deepEqual([...(ok.certificates?.keys() ?? [])], ['idp', 'inline']);
    assert.match(ok.certificates!.get('idp')!.key ?? '', /PRIVATE KEY/);

    const err = await problemsOf(() => loadConfig({
      text: [
        'certificates:',
        '  a: { cert: ./bad.pem }',
        '  b: { cert: ./missing.pem }',
        '  c: { cert: ./idp.pem, key: ./other.key }',
        'servers:',
        '  - name: w',
        '    type: passthrough',
        '    backend: { url: "http://127.0.0.1:9/mcp" }',
        '    toolAccess: [{ tools: [], claim: roles, values: [admin] }, { tools: [x], claim: roles }]',
        '',
      ].join('\n'),
      file: path.join(dir, 'gatehouse.yaml'),
      env: {},
    }));
    const lines = err.problems.map((p) => `${p.line}:${p.col}: ${p.message}`);
    assert.ok(lines.some((l) => /^2:\d+: certificates\.a\.cert: is not a PEM X\.509 certificate$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^3:\d+: certificates\.b\.cert: cannot read certificate file "\.\/missing\.pem": ENOENT/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^4:\d+: certificates\.c\.key: the private key does not belong to the certificate$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^9:\d+: servers\[0\]\.toolAccess\[0\]\.tools: /.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /servers\[0\]\.toolAccess\[1\]: missing required key "values"/.test(l)), lines.join('\n'));
    assert.ok(!err.message.includes('PRIVATE KEY'), 'no key material in problems');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
