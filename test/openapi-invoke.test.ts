import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import {
  buildRequest,
  compileArguments,
  errorResult,
  sendRest,
  toToolResult,
  type RestResponse,
} from '../src/openapi/invoke.js';
import {
  ArgumentError,
  type BodyBinding,
  type JsonSchema,
  type OpenApiTool,
  type ParameterBinding,
  type ParameterLocation,
} from '../src/openapi/types.js';

// ------------------------------------------------------------------------------------------------
// helpers

function param(
  name: string,
  where: ParameterLocation,
  opts: Partial<Omit<ParameterBinding, 'name' | 'in'>> = {},
): ParameterBinding {
  const defaultStyle = where === 'path' || where === 'header' ? 'simple' : 'form';
  const style = opts.style ?? defaultStyle;
  return {
    name,
    in: where,
    arg: opts.arg ?? name,
    required: opts.required ?? where === 'path',
    style,
    explode: opts.explode ?? style === 'form',
    allowReserved: opts.allowReserved ?? false,
    schema: opts.schema ?? {},
  };
}

function makeTool(opts: {
  name?: string;
  method?: string;
  path: string;
  parameters?: ParameterBinding[];
  body?: BodyBinding;
  inputSchema?: JsonSchema;
  outputSchema?: JsonSchema;
  outputWrapped?: boolean;
  responseContentType?: string;
}): OpenApiTool {
  return {
    name: opts.name ?? 'op',
    title: undefined,
    description: undefined,
    inputSchema: opts.inputSchema ?? { type: 'object', properties: {}, additionalProperties: true },
    outputSchema: opts.outputSchema,
    outputWrapped: opts.outputWrapped ?? false,
    annotations: {},
    operation: {
      operationId: opts.name ?? 'op',
      method: opts.method ?? 'GET',
      path: opts.path,
      parameters: opts.parameters ?? [],
      body: opts.body,
      responseContentType: opts.responseContentType,
    },
  };
}

function bodyBinding(contentType: string, opts: Partial<BodyBinding> = {}): BodyBinding {
  return {
    contentType,
    required: opts.required ?? false,
    mode: opts.mode ?? 'wrapped',
    properties: opts.properties ?? [],
    arg: opts.arg ?? 'body',
    schema: opts.schema ?? {},
  };
}

function argError(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ArgumentError, `expected ArgumentError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

function response(status: number, contentType: string, body: Buffer | string, extra: Partial<RestResponse> = {}): RestResponse {
  return {
    status,
    headers: contentType ? { 'content-type': contentType } : {},
    contentType,
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    truncated: false,
    ...extra,
  };
}

// ------------------------------------------------------------------------------------------------
// argument validation

describe('compileArguments', () => {
  const tool = makeTool({
    path: '/pet',
    inputSchema: {
      type: 'object',
      properties: {
        petId: { type: 'integer' },
        name: { type: 'string' },
        status: { type: 'string', enum: ['available', 'pending', 'sold'] },
        tags: { type: 'array', items: { type: 'string' } },
        limit: { type: 'integer', default: 20 },
        when: { type: 'string', format: 'date-time' },
      },
      required: ['name'],
      additionalProperties: false,
    },
  });
  const validate = compileArguments(tool);

  test('valid arguments pass and defaults are applied', () => {
    const args: Record<string, unknown> = { name: 'rex', petId: 3 };
    validate(args);
    assert.equal(args.limit, 20);
  });

  test('compiled once per tool', () => {
    assert.equal(compileArguments(tool), validate);
  });

  test('wrong type', () => {
    argError(() => validate({ name: 'a', petId: 'x' }), /argument "petId" must be integer/);
    // no coercion
    argError(() => validate({ name: 'a', petId: '12' }), /argument "petId" must be integer/);
  });

  test('missing required', () => {
    argError(() => validate({}), /missing required argument "name"/);
    argError(() => validate(undefined), /missing required argument "name"/);
  });

  test('extra property', () => {
    argError(() => validate({ name: 'a', foo: 1 }), /unknown argument "foo"/);
  });

  test('enum', () => {
    argError(() => validate({ name: 'a', status: 'x' }), /argument "status" must be one of: available, pending, sold/);
  });

  test('format and nested paths', () => {
    argError(() => validate({ name: 'a', when: 'yesterday' }), /argument "when" must match format "date-time"/);
    argError(() => validate({ name: 'a', tags: ['ok', 5] }), /argument "tags\[1\]" must be string/);
  });

  test('not an object', () => {
    argError(() => validate([1]), /arguments must be object/);
  });

  test('several problems are all listed', () => {
    argError(
      () => validate({ petId: 'x', status: 'y', foo: 1 }),
      /(?=.*missing required argument "name")(?=.*argument "petId" must be integer)(?=.*unknown argument "foo")(?=.*argument "status" must be one of)/,
    );
  });

  test('the list is bounded', () => {
    const args: Record<string, unknown> = { name: 'a' };
    for (let i = 0; i < 25; i++) args[`x${i}`] = i;
    assert.throws(
      () => validate(args),
      (e: unknown) => {
        assert.ok(e instanceof ArgumentError);
        assert.equal((e.message.match(/unknown argument/g) ?? []).length, 10);
        assert.match(e.message, /and 15 more problems/);
        return true;
      },
    );
  });

  test('$schema and $id of imported schemas do not break compilation', () => {
    const t1 = makeTool({ path: '/a', inputSchema: { $schema: 'http://json-schema.org/draft-07/schema#', $id: 'x', type: 'object' } });
    const t2 = makeTool({ path: '/b', inputSchema: { $id: 'x', type: 'object', required: ['q'] } });
    compileArguments(t1)({});
    argError(() => compileArguments(t2)({}), /missing required argument "q"/);
  });
});

// ------------------------------------------------------------------------------------------------
// request building: path

describe('buildRequest: path', () => {
  const tool = makeTool({ path: '/pet/{petId}/tags', parameters: [param('petId', 'path')] });

  test('plain substitution', () => {
    assert.equal(buildRequest(tool, { petId: 12 }).pathAndQuery, '/pet/12/tags');
    assert.equal(buildRequest(tool, { petId: 'a b' }).pathAndQuery, '/pet/a%20b/tags');
  });

  for (const evil of ['../admin', '../../admin', 'a%2Fb', 'x/y', '?q=1', '#f', '\r\nHost: evil', 'a\\b', '%2e%2e', '..%2F', ';x=1', 'a/../../b']) {
    test(`injection attempt ${JSON.stringify(evil)} stays inside the segment`, () => {
      const { pathAndQuery } = buildRequest(tool, { petId: evil });
      assert.ok(pathAndQuery.startsWith('/pet/'), pathAndQuery);
      assert.ok(pathAndQuery.endsWith('/tags'), pathAndQuery);
      const segment = pathAndQuery.slice('/pet/'.length, -'/tags'.length);
      assert.doesNotMatch(segment, /[/?#\r\n\\]/);
      assert.equal(decodeURIComponent(segment), evil);
      // what a URL parser (undici uses WHATWG URL) makes of it
      const url = new URL(`http://backend.example${pathAndQuery}`);
      assert.equal(url.host, 'backend.example');
      assert.equal(url.search, '');
      assert.equal(url.hash, '');
      assert.deepEqual(url.pathname.split('/').slice(0, 2), ['', 'pet']);
      assert.equal(url.pathname.split('/').length, 4);
      assert.equal(url.pathname, pathAndQuery);
    });
  }

  test('dot segments and empty values are refused', () => {
    argError(() => buildRequest(tool, { petId: '..' }), /must not be "\." or "\.\."/);
    argError(() => buildRequest(tool, { petId: '.' }), /must not be "\." or "\.\."/);
    argError(() => buildRequest(tool, { petId: '' }), /argument "petId" must not be empty/);
  });

  test('simple style arrays and objects', () => {
    const t = makeTool({ path: '/x/{v}', parameters: [param('v', 'path')] });
    assert.equal(buildRequest(t, { v: [3, 4, 5] }).pathAndQuery, '/x/3,4,5');
    assert.equal(buildRequest(t, { v: ['a,b', 'c/d'] }).pathAndQuery, '/x/a%2Cb,c%2Fd');
    assert.equal(buildRequest(t, { v: { role: 'admin', n: 'A' } }).pathAndQuery, '/x/role,admin,n,A');
    const te = makeTool({ path: '/x/{v}', parameters: [param('v', 'path', { explode: true })] });
    assert.equal(buildRequest(te, { v: { role: 'admin', n: 'A' } }).pathAndQuery, '/x/role=admin,n=A');
  });

  test('label style', () => {
    const t = makeTool({ path: '/x/{v}', parameters: [param('v', 'path', { style: 'label' })] });
    assert.equal(buildRequest(t, { v: 5 }).pathAndQuery, '/x/.5');
    assert.equal(buildRequest(t, { v: [3, 4] }).pathAndQuery, '/x/.3,4');
    assert.equal(buildRequest(t, { v: { a: 1, b: 2 } }).pathAndQuery, '/x/.a,1,b,2');
    assert.equal(buildRequest(t, { v: 'a/b' }).pathAndQuery, '/x/.a%2Fb');
    argError(() => buildRequest(t, { v: '.' }), /must not be "\." or "\.\."/);
    const te = makeTool({ path: '/x/{v}', parameters: [param('v', 'path', { style: 'label', explode: true })] });
    assert.equal(buildRequest(te, { v: [3, 4] }).pathAndQuery, '/x/.3.4');
    assert.equal(buildRequest(te, { v: { a: 1, b: 2 } }).pathAndQuery, '/x/.a=1.b=2');
  });

  test('matrix style', () => {
    const t = makeTool({ path: '/x/{v}', parameters: [param('v', 'path', { style: 'matrix' })] });
    assert.equal(buildRequest(t, { v: 5 }).pathAndQuery, '/x/;v=5');
    assert.equal(buildRequest(t, { v: [3, 4] }).pathAndQuery, '/x/;v=3,4');
    assert.equal(buildRequest(t, { v: { a: 1, b: 2 } }).pathAndQuery, '/x/;v=a,1,b,2');
    assert.equal(buildRequest(t, { v: 'x;y=1/z' }).pathAndQuery, '/x/;v=x%3By%3D1%2Fz');
    const te = makeTool({ path: '/x/{v}', parameters: [param('v', 'path', { style: 'matrix', explode: true })] });
    assert.equal(buildRequest(te, { v: [3, 4] }).pathAndQuery, '/x/;v=3;v=4');
    assert.equal(buildRequest(te, { v: { a: 1, b: 2 } }).pathAndQuery, '/x/;a=1;b=2');
  });

  test('several path params and renamed args', () => {
    const t = makeTool({
      path: '/users/{id}/items/{itemId}.json',
      parameters: [param('id', 'path', { arg: 'path_id' }), param('itemId', 'path')],
    });
    assert.equal(buildRequest(t, { path_id: 'u 1', itemId: 7 }).pathAndQuery, '/users/u%201/items/7.json');
  });
});

// ------------------------------------------------------------------------------------------------
// request building: query

describe('buildRequest: query styles', () => {
  const q = (p: ParameterBinding, v: unknown): string => buildRequest(makeTool({ path: '/s', parameters: [p] }), { [p.arg]: v }).pathAndQuery;

  test('form explode (default)', () => {
    const p = param('a', 'query');
    assert.equal(q(p, 5), '/s?a=5');
    assert.equal(q(p, [1, 2]), '/s?a=1&a=2');
    assert.equal(q(p, { x: 1, y: 2 }), '/s?x=1&y=2');
    assert.equal(q(p, 'a b&c=d#e'), '/s?a=a%20b%26c%3Dd%23e');
    assert.equal(q(p, true), '/s?a=true');
  });

  test('form no explode', () => {
    const p = param('a', 'query', { explode: false });
    assert.equal(q(p, 5), '/s?a=5');
    assert.equal(q(p, [1, 2]), '/s?a=1,2');
    assert.equal(q(p, { x: 1, y: 2 }), '/s?a=x,1,y,2');
    assert.equal(q(p, ['a,b', 'c']), '/s?a=a%2Cb,c');
  });

  test('spaceDelimited', () => {
    assert.equal(q(param('a', 'query', { style: 'spaceDelimited', explode: false }), [1, 2]), '/s?a=1%202');
    assert.equal(q(param('a', 'query', { style: 'spaceDelimited', explode: false }), { x: 1, y: 2 }), '/s?a=x%201%20y%202');
    assert.equal(q(param('a', 'query', { style: 'spaceDelimited', explode: true }), [1, 2]), '/s?a=1&a=2');
  });

  test('pipeDelimited', () => {
    assert.equal(q(param('a', 'query', { style: 'pipeDelimited', explode: false }), [1, 2]), '/s?a=1|2');
    assert.equal(q(param('a', 'query', { style: 'pipeDelimited', explode: false }), ['x|y', 'z']), '/s?a=x%7Cy|z');
    assert.equal(q(param('a', 'query', { style: 'pipeDelimited', explode: true }), [1, 2]), '/s?a=1&a=2');
  });

  test('deepObject', () => {
    const p = param('a', 'query', { style: 'deepObject', explode: true });
    assert.equal(q(p, { x: 1, y: 2 }), '/s?a[x]=1&a[y]=2');
    assert.equal(q(p, { x: { z: 'q r' } }), '/s?a[x][z]=q%20r');
    assert.equal(q(p, { 'k]&b=1': 1 }), '/s?a[k%5D%26b%3D1]=1');
  });

  test('allowReserved', () => {
    const p = param('a', 'query', { allowReserved: true });
    assert.equal(q(p, '/x:y?z[0]@a,b;c'), '/s?a=/x:y?z[0]@a,b;c');
    // & = # % stay encoded even then: they would add parameters or end the URL
    assert.equal(q(p, 'a&b=c#d%'), '/s?a=a%26b%3Dc%23d%25');
    assert.equal(q(param('a', 'query'), '/x:y'), '/s?a=%2Fx%3Ay');
  });

  test('several parameters, undefined skipped, null empty', () => {
    const t = makeTool({ path: '/s', parameters: [param('a', 'query'), param('b', 'query'), param('c', 'query')] });
    assert.equal(buildRequest(t, { a: 1, c: null }).pathAndQuery, '/s?a=1&c=');
    assert.equal(buildRequest(t, {}).pathAndQuery, '/s');
  });
});

// ------------------------------------------------------------------------------------------------
// request building: headers, cookies

describe('buildRequest: headers and cookies', () => {
  test('header params (simple style)', () => {
    const t = makeTool({
      path: '/h',
      parameters: [param('X-Id', 'header'), param('X-List', 'header'), param('X-Obj', 'header', { explode: true })],
    });
    const r = buildRequest(t, { 'X-Id': 5, 'X-List': ['a', 'b'], 'X-Obj': { k: 'v', n: 1 } });
    assert.equal(r.headers['x-id'], '5');
    assert.equal(r.headers['x-list'], 'a,b');
    assert.equal(r.headers['x-obj'], 'k=v,n=1');
  });

  test('CR/LF in a header value is refused', () => {
    const t = makeTool({ path: '/h', parameters: [param('X-Id', 'header')] });
    argError(() => buildRequest(t, { 'X-Id': 'a\r\nHost: evil' }), /argument "X-Id" must not contain line breaks/);
    argError(() => buildRequest(t, { 'X-Id': 'a\nb' }), /argument "X-Id"/);
    argError(() => buildRequest(t, { 'X-Id': ['a', 'b\r'] }), /argument "X-Id"/);
    argError(() => buildRequest(t, { 'X-Id': 'nul\u0000' }), /argument "X-Id"/);
  });

  test('Accept / Content-Type / Authorization header params are ignored', () => {
    const t = makeTool({ path: '/h', parameters: [param('Authorization', 'header'), param('Content-Type', 'header')] });
    const r = buildRequest(t, { Authorization: 'Bearer x', 'Content-Type': 'text/evil' });
    assert.equal(r.headers.authorization, undefined);
    assert.equal(r.headers['content-type'], undefined);
  });

  test('cookie params become one cookie header', () => {
    const t = makeTool({
      path: '/c',
      parameters: [param('session', 'cookie'), param('ids', 'cookie', { explode: false }), param('evil', 'cookie')],
    });
    const r = buildRequest(t, { session: 'abc', ids: [1, 2], evil: 'x; admin=1\r\n' });
    assert.equal(r.headers.cookie, 'session=abc; ids=1,2; evil=x%3B%20admin%3D1%0D%0A');
  });

  test('accept header', () => {
    assert.equal(buildRequest(makeTool({ path: '/a' }), {}).headers.accept, 'application/json, */*;q=0.8');
    const t = makeTool({ path: '/a', responseContentType: 'application/problem+json' });
    assert.equal(buildRequest(t, {}).headers.accept, 'application/problem+json, */*;q=0.8');
  });

  test('method upper-cased', () => {
    assert.equal(buildRequest(makeTool({ path: '/a', method: 'delete' }), {}).method, 'DELETE');
  });
});

// ------------------------------------------------------------------------------------------------
// request building: bodies

function parseMultipart(body: Buffer, contentType: string): { headers: string; data: Buffer }[] {
  const m = /boundary=(.+)$/.exec(contentType);
  assert.ok(m?.[1], contentType);
  const boundary = m[1];
  const text = body.toString('latin1');
  assert.ok(text.endsWith(`--${boundary}--\r\n`));
  const parts = text.split(`--${boundary}`).slice(1, -1);
  return parts.map((p) => {
    const raw = p.slice(2, -2); // leading CRLF, trailing CRLF
    const i = raw.indexOf('\r\n\r\n');
    return { headers: raw.slice(0, i), data: Buffer.from(raw.slice(i + 4), 'latin1') };
  });
}

describe('buildRequest: bodies', () => {
  test('JSON flattened', () => {
    const t = makeTool({
      path: '/pet',
      method: 'POST',
      body: bodyBinding('application/json', { mode: 'flattened', properties: ['name', 'tags'] }),
      parameters: [param('dry', 'query')],
    });
    const r = buildRequest(t, { name: 'rex', tags: ['a'], dry: true });
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(String(r.body)), { name: 'rex', tags: ['a'] });
    assert.equal(r.pathAndQuery, '/pet?dry=true');
    // nothing present, body optional → no body
    const r2 = buildRequest(t, { dry: false });
    assert.equal(r2.body, undefined);
    assert.equal(r2.headers['content-type'], undefined);
  });

  test('JSON wrapped and +json', () => {
    const t = makeTool({ path: '/x', method: 'PUT', body: bodyBinding('application/merge-patch+json') });
    const r = buildRequest(t, { body: [1, { a: 'b' }] });
    assert.equal(r.headers['content-type'], 'application/merge-patch+json');
    assert.equal(r.body, '[1,{"a":"b"}]');
    assert.equal(buildRequest(t, { body: 'str' }).body, '"str"');
  });

  test('form urlencoded', () => {
    const t = makeTool({
      path: '/f',
      method: 'POST',
      body: bodyBinding('application/x-www-form-urlencoded', { mode: 'flattened', properties: ['a', 'b', 'c', 'd'] }),
    });
    const r = buildRequest(t, { a: 'x y&z', b: [1, 2], c: { k: 'v' }, d: false });
    assert.equal(r.headers['content-type'], 'application/x-www-form-urlencoded');
    const sp = new URLSearchParams(String(r.body));
    assert.equal(sp.get('a'), 'x y&z');
    assert.deepEqual(sp.getAll('b'), ['1', '2']);
    assert.deepEqual(JSON.parse(sp.get('c') ?? ''), { k: 'v' });
    assert.equal(sp.get('d'), 'false');
  });

  test('multipart/form-data', () => {
    const t = makeTool({
      path: '/upload',
      method: 'POST',
      body: bodyBinding('multipart/form-data', {
        mode: 'flattened',
        properties: ['name', 'meta', 'file', 'tags', 'b64'],
        schema: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            meta: { type: 'object' },
            file: { type: 'string', format: 'binary' },
            tags: { type: 'array', items: { type: 'string' } },
            b64: { type: 'string', contentEncoding: 'base64', contentMediaType: 'image/png' },
          },
        },
      }),
    });
    const r = buildRequest(t, { name: 'he said "hi"\r\n', meta: { a: 1 }, file: 'file content', tags: ['x', 'y'], b64: Buffer.from([1, 2, 255]).toString('base64') });
    const ct = r.headers['content-type'] ?? '';
    assert.match(ct, /^multipart\/form-data; boundary=----GatehouseBoundary[0-9a-f]{32}$/);
    assert.ok(Buffer.isBuffer(r.body));
    const parts = parseMultipart(r.body, ct);
    assert.equal(parts.length, 6);
    assert.equal(parts[0]?.headers, 'Content-Disposition: form-data; name="name"');
    assert.equal(parts[0]?.data.toString(), 'he said "hi"\r\n');
    assert.match(parts[1]?.headers ?? '', /name="meta"\r\nContent-Type: application\/json/);
    assert.deepEqual(JSON.parse(parts[1]?.data.toString() ?? ''), { a: 1 });
    assert.match(parts[2]?.headers ?? '', /name="file"; filename="file"\r\nContent-Type: application\/octet-stream/);
    assert.equal(parts[2]?.data.toString(), 'file content');
    assert.equal(parts[3]?.data.toString(), 'x');
    assert.equal(parts[4]?.data.toString(), 'y');
    assert.match(parts[5]?.headers ?? '', /Content-Type: image\/png/);
    assert.deepEqual([...(parts[5]?.data ?? [])], [1, 2, 255]);
    // boundaries are random
    const r2 = buildRequest(t, { name: 'a' });
    assert.notEqual(r2.headers['content-type'], ct);
  });

  test('text/plain and other types', () => {
    const t = makeTool({ path: '/t', method: 'POST', body: bodyBinding('text/plain') });
    const r = buildRequest(t, { body: 'hello' });
    assert.equal(r.body, 'hello');
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(buildRequest(t, { body: 42 }).body, '42');
    const x = makeTool({ path: '/t', method: 'POST', body: bodyBinding('application/xml') });
    assert.equal(buildRequest(x, { body: '<a/>' }).body, '<a/>');
    assert.equal(buildRequest(x, { body: '<a/>' }).headers['content-type'], 'application/xml');
    const b = makeTool({ path: '/t', method: 'POST', body: bodyBinding('application/octet-stream', { schema: { type: 'string', format: 'byte' } }) });
    assert.deepEqual(buildRequest(b, { body: Buffer.from('hi').toString('base64') }).body, Buffer.from('hi'));
  });
});

// ------------------------------------------------------------------------------------------------
// toToolResult (unit)

describe('toToolResult', () => {
  const plain = makeTool({ path: '/x', name: 'getX' });
  const withSchema = makeTool({ path: '/x', outputSchema: { type: 'object' } });
  const wrapped = makeTool({ path: '/x', outputSchema: { type: 'object', properties: { result: { type: 'array' } } }, outputWrapped: true });

  test('JSON', () => {
    const res = response(200, 'application/json; charset=utf-8', '{"a":1}');
    assert.deepEqual(toToolResult(withSchema, res).structuredContent, { a: 1 });
    assert.equal(toToolResult(plain, res).structuredContent, undefined);
    assert.deepEqual(JSON.parse(String(toToolResult(plain, res).content[0]?.text)), { a: 1 });
    assert.deepEqual(toToolResult(wrapped, response(200, 'application/vnd.x+json', '[1,2]')).structuredContent, { result: [1, 2] });
    // invalid JSON → text
    const bad = toToolResult(withSchema, response(200, 'application/json', '{oops'));
    assert.equal(bad.structuredContent, undefined);
    assert.equal(bad.content[0]?.text, '{oops');
  });

  test('truncated JSON: no structuredContent, a note', () => {
    const r = toToolResult(withSchema, response(200, 'application/json', '{"a":"bbbb', { truncated: true }));
    assert.equal(r.structuredContent, undefined);
    assert.equal(r.content.at(-1)?.text, '(response truncated at 10 bytes)');
  });

  test('charset', () => {
    const r = toToolResult(plain, response(200, 'text/plain; charset=iso-8859-1', Buffer.from([0x63, 0x61, 0x66, 0xe9])));
    assert.equal(r.content[0]?.text, 'café');
  });

  test('errorResult', () => {
    assert.deepEqual(errorResult('nope'), { content: [{ type: 'text', text: 'nope' }], isError: true });
  });

  test('non-2xx binary excerpt', () => {
    const r = toToolResult(plain, response(503, 'application/octet-stream', Buffer.alloc(10)));
    assert.equal(r.isError, true);
    assert.equal(r.content[0]?.text, 'HTTP 503 Service Unavailable: (10 bytes of application/octet-stream)');
  });
});

// ------------------------------------------------------------------------------------------------
// against a real HTTP server

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

describe('sendRest + toToolResult against a server', () => {
  let server: Server;
  let base: string;
  let agent: Agent;
  const recorded: Recorded[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse, body: Buffer) => void> = {
    '/json': (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 1, name: 'rex' }));
    },
    '/echo': (req, res, body) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: body.toString('latin1') }));
    },
    '/text': (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('hello wörld');
    },
    '/png': (_q, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(PNG);
    },
    '/bin': (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-disposition': 'attachment; filename="data.bin"' });
      res.end(Buffer.from([0, 1, 2, 3, 254, 255]));
    },
    '/empty': (_q, res) => {
      res.writeHead(204);
      res.end();
    },
    '/missing': (_q, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"pet not found"}');
    },
    '/boom': (_q, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`stack trace ${'x'.repeat(10_000)}`);
    },
    '/slow': (_q, res) => {
      const t = setTimeout(() => res.end('late'), 5000);
      timers.add(t);
    },
    '/slowbody': (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('start…');
      const t = setTimeout(() => res.end('end'), 5000);
      timers.add(t);
    },
    '/huge': (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`[${'1,'.repeat(500_000)}1]`);
    },
    '/redirect': (_q, res) => {
      res.writeHead(302, { location: '/json' });
      res.end();
    },
  };

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        recorded.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        const route = routes[(req.url ?? '').split('?')[0]?.split(';')[0] ?? ''] ?? routes['/echo'];
        route?.(req, res, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    agent = new Agent({ connections: 16 });
  });

  after(async () => {
    for (const t of timers) clearTimeout(t);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await agent.close();
  });

  const call = async (tool: OpenApiTool, args: Record<string, unknown>, opts: Partial<Parameters<typeof sendRest>[2]> = {}) => {
    const res = await sendRest(base, buildRequest(tool, args), { timeoutMs: 2000, dispatcher: agent, ...opts });
    return { res, result: toToolResult(tool, res) };
  };

  test('JSON 200 → structuredContent', async () => {
    const tool = makeTool({ path: '/json', outputSchema: { type: 'object' }, responseContentType: 'application/json' });
    const { res, result } = await call(tool, {});
    assert.equal(res.status, 200);
    assert.equal(res.contentType, 'application/json');
    assert.deepEqual(result.structuredContent, { id: 1, name: 'rex' });
    assert.deepEqual(JSON.parse(String(result.content[0]?.text)), { id: 1, name: 'rex' });
    assert.equal(result.isError, undefined);
    assert.equal(recorded.at(-1)?.headers.accept, 'application/json, */*;q=0.8');
  });

  test('request as sent: path, query, headers, cookie, JSON body, policy headers', async () => {
    const tool = makeTool({
      path: '/echo/{id}',
      method: 'POST',
      parameters: [param('id', 'path'), param('q', 'query'), param('X-Trace', 'header'), param('sid', 'cookie')],
      body: bodyBinding('application/json', { mode: 'flattened', properties: ['name'] }),
    });
    const { result } = await call(
      tool,
      { id: '../admin', q: ['a', 'b c'], 'X-Trace': 't1', sid: 's 1', name: 'rex' },
      { headers: { authorization: 'Bearer k', 'X-Trace': null, 'X-Extra': 'e' } },
    );
    const rec = recorded.at(-1);
    assert.ok(rec);
    assert.equal(rec.method, 'POST');
    assert.equal(rec.url, '/echo/..%2Fadmin?q=a&q=b%20c');
    assert.equal(rec.headers['content-type'], 'application/json');
    assert.equal(rec.headers.cookie, 'sid=s%201');
    assert.equal(rec.headers.authorization, 'Bearer k');
    assert.equal(rec.headers['x-trace'], undefined);
    assert.equal(rec.headers['x-extra'], 'e');
    assert.deepEqual(JSON.parse(rec.body.toString()), { name: 'rex' });
    assert.equal(result.structuredContent, undefined); // no outputSchema
  });

  test('multipart body arrives intact', async () => {
    const tool = makeTool({
      path: '/echo',
      method: 'POST',
      body: bodyBinding('multipart/form-data', { mode: 'flattened', properties: ['a', 'f'], schema: { properties: { f: { type: 'string', format: 'binary' } } } }),
    });
    await call(tool, { a: '1', f: 'content' });
    const rec = recorded.at(-1);
    assert.ok(rec);
    const parts = parseMultipart(rec.body, String(rec.headers['content-type']));
    assert.deepEqual(parts.map((p) => p.data.toString()), ['1', 'content']);
  });

  test('text', async () => {
    const { result } = await call(makeTool({ path: '/text' }), {});
    assert.deepEqual(result.content, [{ type: 'text', text: 'hello wörld' }]);
  });

  test('PNG → image content', async () => {
    const { result } = await call(makeTool({ path: '/png' }), {});
    assert.deepEqual(result.content, [{ type: 'image', data: PNG.toString('base64'), mimeType: 'image/png' }]);
  });

  test('octet-stream → resource', async () => {
    const { result } = await call(makeTool({ path: '/bin', name: 'download' }), {});
    const item = result.content[0] as { type: string; resource: { uri: string; mimeType: string; blob: string } };
    assert.equal(item.type, 'resource');
    assert.equal(item.resource.mimeType, 'application/octet-stream');
    assert.deepEqual([...Buffer.from(item.resource.blob, 'base64')], [0, 1, 2, 3, 254, 255]);
    assert.equal(item.resource.uri, 'openapi://download/response/data.bin');
  });

  test('204 → (no content)', async () => {
    const { res, result } = await call(makeTool({ path: '/empty', method: 'DELETE' }), {});
    assert.equal(res.status, 204);
    assert.deepEqual(result, { content: [{ type: 'text', text: '(no content)' }] });
  });

  test('404 → isError with excerpt', async () => {
    const { result } = await call(makeTool({ path: '/missing' }), {});
    assert.equal(result.isError, true);
    assert.equal(result.content[0]?.text, 'HTTP 404 Not Found: {"error":"pet not found"}');
  });

  test('500 → isError with a bounded excerpt', async () => {
    const { result } = await call(makeTool({ path: '/boom' }), {});
    assert.equal(result.isError, true);
    const text = String(result.content[0]?.text);
    assert.match(text, /^HTTP 500 Internal Server Error: stack trace x+…$/);
    assert.ok(text.length <= 2048 + 64, String(text.length));
  });

  test('302 is not followed', async () => {
    const before = recorded.length;
    const { res, result } = await call(makeTool({ path: '/redirect' }), {});
    assert.equal(res.status, 302);
    assert.equal(result.isError, true);
    assert.match(String(result.content[0]?.text), /^HTTP 302 Found \(redirect to \/json not followed\)/);
    assert.equal(recorded.length, before + 1);
  });

  test('slow endpoint → GW_REST_TIMEOUT', async () => {
    const t0 = Date.now();
    await assert.rejects(call(makeTool({ path: '/slow' }), {}, { timeoutMs: 150 }), (e: unknown) => {
      assert.equal((e as { code?: string }).code, 'GW_REST_TIMEOUT');
      assert.match((e as Error).message, /127\.0\.0\.1:\d+/);
      assert.doesNotMatch((e as Error).message, /\/slow/);
      return true;
    });
    assert.ok(Date.now() - t0 < 1500);
  });

  test('slow body → GW_REST_TIMEOUT (deadline covers the body)', async () => {
    await assert.rejects(call(makeTool({ path: '/slowbody' }), {}, { timeoutMs: 200 }), { code: 'GW_REST_TIMEOUT' });
  });

  test('caller abort → GW_REST_ABORTED', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(call(makeTool({ path: '/slow' }), {}, { timeoutMs: 2000, signal: ac.signal }), { code: 'GW_REST_ABORTED' });
  });

  test('huge response → truncated', async () => {
    const tool = makeTool({ path: '/huge', outputSchema: { type: 'object', properties: { result: {} } }, outputWrapped: true });
    const { res, result } = await call(tool, {}, { maxBytes: 64 * 1024 });
    assert.equal(res.truncated, true);
    assert.equal(res.body.length, 64 * 1024);
    assert.equal(result.structuredContent, undefined);
    assert.equal(result.content.at(-1)?.text, `(response truncated at ${64 * 1024} bytes)`);
    // not truncated with the default bound
    const full = await call(tool, {});
    assert.equal(full.res.truncated, false);
    assert.equal((full.result.structuredContent?.result as unknown[]).length, 500_001);
  });

  test('policy header with CR/LF is refused', async () => {
    await assert.rejects(call(makeTool({ path: '/json' }), {}, { headers: { 'x-a': 'a\r\nb: c' } }), { code: 'GW_REST_INVALID_REQUEST' });
  });

  test('connection refused → GW_REST_UNREACHABLE', async () => {
    const s = createServer();
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    const req = buildRequest(makeTool({ path: '/secret/{k}', parameters: [param('k', 'path')] }), { k: 'token123' });
    await assert.rejects(sendRest(`http://127.0.0.1:${port}`, req, { timeoutMs: 2000, dispatcher: agent }), (e: unknown) => {
      assert.equal((e as { code?: string }).code, 'GW_REST_UNREACHABLE');
      assert.match((e as Error).message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.doesNotMatch((e as Error).message, /token123|secret/);
      return true;
    });
  });

  test('default dispatcher works too', async () => {
    const res = await sendRest(base, buildRequest(makeTool({ path: '/text' }), {}), { timeoutMs: 2000 });
    assert.equal(res.body.toString(), 'hello wörld');
  });
});
