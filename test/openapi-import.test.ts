/**
 * OpenAPI import: loading (file / URL, JSON / YAML, external $refs, errors with pointers), the tools
 * each document yields (snapshots under test/fixtures/openapi/snapshots/, rewritten with
 * UPDATE_SNAPSHOTS=1), the tool selection and `gatehouse openapi tools`.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { main, type CliIo } from '../src/cli/main.js';
import { loadOpenApi } from '../src/openapi/load.js';
import { selectTools, toolName, toolsOf, TOOL_NAME_PATTERN } from '../src/openapi/tools.js';
import { OpenApiError, type ImportedApi, type JsonSchema, type OpenApiTool } from '../src/openapi/types.js';

// compiled to dist/test/: the fixtures stay in the source tree
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/openapi/', import.meta.url));
const SNAPSHOTS = path.join(FIXTURES, 'snapshots');
const UPDATE = process.env.UPDATE_SNAPSHOTS === '1';

const VENDORED = [
  'swagger-petstore-v3.yaml',
  'petstore-expanded.yaml',
  'uspto.yaml',
  'callback-example.yaml',
  'webhook-example.yaml',
  'petstore-with-external-docs.yaml',
  'swagger-petstore-v2.yaml',
] as const;
const HAND_WRITTEN = ['features-3.0.yaml', 'features-2.0.yaml', 'circular-self.yaml', 'circular-ab.json', 'external/main.yaml'] as const;

const load = (file: string): Promise<ImportedApi> => loadOpenApi(file, { baseDir: FIXTURES });

function newAjv(): InstanceType<typeof Ajv2020> {
  const ajv = new Ajv2020({ strict: false, logger: false, allErrors: true });
  const addFormats = (addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule;
  (addFormats as (a: InstanceType<typeof Ajv2020>) => unknown)(ajv);
  return ajv;
}
const ajv = newAjv();

function tool(api: ImportedApi, name: string): OpenApiTool {
  const t = api.tools.find((x) => x.name === name);
  assert.ok(t, `no tool ${name} (have ${api.tools.map((x) => x.name).join(', ')})`);
  return t;
}
const props = (s: JsonSchema | undefined): Record<string, JsonSchema> => (s?.properties ?? {}) as Record<string, JsonSchema>;

/** the common invariants of every imported tool */
function checkTools(api: ImportedApi): void {
  const names = new Set<string>();
  for (const t of api.tools) {
    assert.match(t.name, TOOL_NAME_PATTERN, `tool name ${t.name}`);
    assert.ok(!names.has(t.name), `duplicate tool name ${t.name}`);
    names.add(t.name);
    assert.equal(t.inputSchema.type, 'object');
    assert.equal(t.inputSchema.additionalProperties, false);
    assert.doesNotThrow(() => JSON.stringify(t), `JSON.stringify(${t.name})`);
    assert.doesNotThrow(() => ajv.compile(t.inputSchema), `inputSchema of ${t.name} compiles`);
    if (t.outputSchema) {
      assert.equal(t.outputSchema.type, 'object', `outputSchema of ${t.name} is an object`);
      assert.doesNotThrow(() => ajv.compile(t.outputSchema!), `outputSchema of ${t.name} compiles`);
    }
    for (const p of t.operation.parameters) assert.ok(p.arg in props(t.inputSchema), `${t.name}: argument ${p.arg}`);
    const b = t.operation.body;
    if (b?.mode === 'wrapped') assert.ok(b.arg in props(t.inputSchema));
    if (b?.mode === 'flattened') for (const n of b.properties) assert.ok(n in props(t.inputSchema));
  }
}

function snapshot(name: string, api: ImportedApi): void {
  const file = path.join(SNAPSHOTS, name.replace(/[/\\]/g, '__').replace(/\.(ya?ml|json)$/, '') + '.json');
  const actual = JSON.parse(JSON.stringify({ kind: api.kind, title: api.title, version: api.version, servers: api.servers, tools: api.tools })) as unknown;
  if (UPDATE) {
    mkdirSync(SNAPSHOTS, { recursive: true });
    writeFileSync(file, JSON.stringify(actual, null, 2) + '\n');
    return;
  }
  assert.ok(existsSync(file), `snapshot ${path.relative(FIXTURES, file)} missing: run UPDATE_SNAPSHOTS=1 npm test -- openapi-import`);
  assert.deepEqual(actual, JSON.parse(readFileSync(file, 'utf8')), `snapshot ${path.basename(file)} differs (UPDATE_SNAPSHOTS=1 rewrites it)`);
}

async function rejects(p: Promise<unknown>, check: (e: OpenApiError) => void): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof OpenApiError, `expected an OpenApiError, got ${String(e)}`);
    check(e);
    return;
  }
  assert.fail('expected an OpenApiError');
}

function throwsOpenApi(fn: () => unknown, check: (e: OpenApiError) => void): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof OpenApiError, `expected an OpenApiError, got ${String(e)}`);
    check(e);
    return;
  }
  assert.fail('expected an OpenApiError');
}

describe('vendored documents', () => {
  for (const file of [...VENDORED, ...HAND_WRITTEN]) {
    test(`${file}: tools snapshot, valid unique names, compilable acyclic schemas`, async () => {
      const api = await load(file);
      assert.ok(api.tools.length > 0);
      checkTools(api);
      assert.doesNotThrow(() => selectTools(api, undefined));
      snapshot(file, api);
    });
  }
});

describe('OpenAPI 3.0 petstore (swagger-petstore-v3.yaml)', () => {
  let api: ImportedApi;
  before(async () => {
    api = await load('swagger-petstore-v3.yaml');
  });

  test('document facts', () => {
    assert.equal(api.kind, 'openapi-3.0');
    assert.equal(api.title, 'Swagger Petstore - OpenAPI 3.0');
    assert.equal(api.version, '1.0.26-SNAPSHOT');
    assert.deepEqual(api.servers, [], 'a relative server of a file source is not absolute');
    assert.equal(api.tools.length, 19);
    assert.deepEqual(api.tools.slice(0, 4).map((t) => t.name), ['addPet', 'updatePet', 'findPetsByStatus', 'findPetsByTags']);
  });

  test('getPetById: required integer path parameter, object output, read-only', () => {
    const t = tool(api, 'getPetById');
    assert.equal(t.title, 'Find pet by ID');
    assert.equal(t.description, 'Returns a single pet');
    assert.deepEqual(props(t.inputSchema).petId, { type: 'integer', format: 'int64', description: 'ID of pet to return' });
    assert.deepEqual(t.inputSchema.required, ['petId']);
    assert.deepEqual(t.operation.parameters, [
      { name: 'petId', in: 'path', arg: 'petId', required: true, style: 'simple', explode: false, allowReserved: false, schema: props(t.inputSchema).petId },
    ]);
    assert.equal(t.operation.method, 'GET');
    assert.equal(t.operation.path, '/pet/{petId}');
    assert.equal(t.operation.body, undefined);
    assert.equal(t.operation.responseContentType, 'application/json');
    assert.equal(t.outputWrapped, false);
    assert.equal(t.outputSchema?.type, 'object');
    assert.deepEqual(t.outputSchema?.required, ['name', 'photoUrls']);
    assert.deepEqual(props(t.outputSchema).status?.enum, ['available', 'pending', 'sold']);
    assert.deepEqual(t.annotations, { title: 'Find pet by ID', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true });
    const validate = ajv.compile(t.inputSchema);
    assert.equal(validate({ petId: 3 }), true);
    assert.equal(validate({ petId: 'x' }), false);
    assert.equal(validate({}), false);
    assert.equal(validate({ petId: 3, other: 1 }), false, 'additionalProperties: false');
  });

  test('findPetsByStatus / findPetsByTags: query parameters, form style, explode, enum, default', () => {
    const byStatus = tool(api, 'findPetsByStatus');
    const status = byStatus.operation.parameters[0]!;
    assert.equal(status.in, 'query');
    assert.equal(status.style, 'form');
    assert.equal(status.explode, true);
    assert.equal(status.required, false);
    assert.deepEqual(props(byStatus.inputSchema).status, {
      type: 'string',
      default: 'available',
      enum: ['available', 'pending', 'sold'],
      description: 'Status values that need to be considered for filter',
    });
    assert.equal(byStatus.inputSchema.required, undefined);
    // an array response is wrapped
    assert.equal(byStatus.outputWrapped, true);
    assert.deepEqual(byStatus.outputSchema?.required, ['result']);
    assert.equal(props(byStatus.outputSchema).result?.type, 'array');

    const byTags = tool(api, 'findPetsByTags');
    const tags = byTags.operation.parameters[0]!;
    assert.deepEqual([tags.in, tags.style, tags.explode], ['query', 'form', true]);
    assert.deepEqual(props(byTags.inputSchema).tags, { type: 'array', items: { type: 'string' }, description: 'Tags to filter by' });
  });

  test('addPet: an object body is flattened into the arguments (JSON preferred over XML and forms)', () => {
    const t = tool(api, 'addPet');
    const body = t.operation.body!;
    assert.equal(body.mode, 'flattened');
    assert.equal(body.contentType, 'application/json');
    assert.equal(body.required, true);
    assert.deepEqual(body.properties, ['id', 'name', 'category', 'photoUrls', 'tags', 'status']);
    assert.deepEqual(Object.keys(props(t.inputSchema)), ['id', 'name', 'category', 'photoUrls', 'tags', 'status']);
    assert.deepEqual(t.inputSchema.required, ['name', 'photoUrls']);
    assert.equal(t.annotations.readOnlyHint, false);
    assert.equal(t.annotations.destructiveHint, undefined);
    assert.equal(t.annotations.idempotentHint, false);
    const validate = ajv.compile(t.inputSchema);
    assert.equal(validate({ name: 'rex', photoUrls: [], category: { id: 1, name: 'Dogs' } }), true);
    assert.equal(validate({ name: 'rex' }), false);
  });

  test('deletePet: destructive, idempotent; header parameter', () => {
    const t = tool(api, 'deletePet');
    assert.equal(t.annotations.destructiveHint, true);
    assert.equal(t.annotations.idempotentHint, true);
    assert.equal(t.annotations.readOnlyHint, false);
    assert.deepEqual(
      t.operation.parameters.map((p) => [p.in, p.name, p.style, p.explode]),
      [
        ['path', 'petId', 'simple', false],
        ['header', 'api_key', 'simple', false],
      ],
    );
    assert.equal(t.outputSchema, undefined);
    assert.equal(tool(api, 'updatePet').annotations.idempotentHint, true, 'PUT is idempotent');
  });

  test('uploadFile: a binary body is wrapped under `body`; loginUser: string output wrapped; createUser: default response', () => {
    const up = tool(api, 'uploadFile');
    assert.deepEqual(up.operation.body, {
      contentType: 'application/octet-stream',
      required: false,
      mode: 'wrapped',
      properties: [],
      arg: 'body',
      schema: { type: 'string', format: 'binary' },
    });
    assert.deepEqual(up.inputSchema.required, ['petId']);
    const login = tool(api, 'loginUser');
    assert.equal(login.outputWrapped, true);
    assert.deepEqual(login.outputSchema, { type: 'object', properties: { result: { type: 'string' } }, required: ['result'] });
    const create = tool(api, 'createUser');
    assert.equal(create.outputWrapped, false);
    assert.ok('username' in props(create.outputSchema));
    assert.equal(tool(api, 'getInventory').outputSchema?.additionalProperties !== undefined, true);
  });

  test('tool names from "METHOD path"', () => {
    assert.equal(toolName(undefined, 'GET', '/pet/{petId}'), 'get_pet_petId');
    assert.equal(toolName(undefined, 'DELETE', '/'), 'delete');
    assert.equal(toolName('find pet by id', 'GET', '/pets/{id}'), 'find_pet_by_id');
    assert.equal(toolName('repos/get-content', 'GET', '/x'), 'repos_get-content');
    const long = toolName('x'.repeat(300), 'GET', '/');
    assert.match(long, TOOL_NAME_PATTERN);
    assert.equal(long.length, 128);
  });

  test('selection: by operationId and by "METHOD /path", order kept, name and description overrides', () => {
    const sel = selectTools(api, [
      { operation: 'DELETE /pet/{petId}' },
      { operation: 'getPetById', name: 'get_pet', description: 'Fetch one pet' },
      { operation: 'get /store/inventory' },
    ]);
    assert.deepEqual(sel.map((t) => t.name), ['deletePet', 'get_pet', 'getInventory']);
    assert.equal(sel[1]!.description, 'Fetch one pet');
    assert.equal(sel[1]!.operation.operationId, 'getPetById');
    assert.equal(tool(api, 'getPetById').name, 'getPetById', 'the imported tools are not changed');
  });

  test('selection: an unknown operation names close matches', () => {
    throwsOpenApi(
      () => selectTools(api, [{ operation: 'getPetByID' }]),
      (e) => {
        assert.match(e.message, /unknown operation "getPetByID"/);
        assert.match(e.message, /did you mean "getPetById"/);
      },
    );
    throwsOpenApi(
      () => selectTools(api, [{ operation: 'GET /pets/{petId}' }]),
      (e) => assert.match(e.message, /"getPetById"/),
    );
  });

  test('selection: duplicate and invalid names are errors', () => {
    throwsOpenApi(
      () => selectTools(api, [{ operation: 'getPetById', name: 'pet' }, { operation: 'deletePet', name: 'pet' }]),
      (e) => assert.match(e.message, /duplicate tool name "pet": operations GET \/pet\/\{petId\} and DELETE \/pet\/\{petId\}/),
    );
    throwsOpenApi(
      () => selectTools(api, [{ operation: 'getPetById' }, { operation: 'addPet', name: 'getPetById' }]),
      (e) => assert.match(e.message, /duplicate tool name "getPetById"/),
    );
    throwsOpenApi(
      () => selectTools(api, [{ operation: 'getPetById', name: 'get pet' }]),
      (e) => assert.match(e.message, /invalid tool name "get pet"/),
    );
  });
});

describe('collisions and parameter details (features-3.0.yaml)', () => {
  let api: ImportedApi;
  before(async () => {
    api = await load('features-3.0.yaml');
  });

  test('servers: variables take their defaults', () => {
    assert.deepEqual(api.servers, ['https://eu.api.example.com/v2']);
  });

  test('GET /items/{id}: renamed colliding parameters, merged path-level ones, ignored headers, styles', () => {
    const t = tool(api, 'get_items_id');
    assert.equal(t.title, 'Get an item');
    const byArg = Object.fromEntries(t.operation.parameters.map((p) => [p.arg, p]));
    assert.deepEqual(Object.keys(byArg), ['id', 'query_id', 'filter', 'fields', 'coords', 'trace', 'header_id', 'session']);
    assert.deepEqual([byArg.id!.in, byArg.query_id!.in, byArg.header_id!.in], ['path', 'query', 'header']);
    assert.ok(t.operation.parameters.every((p) => !['accept', 'content-type', 'authorization'].includes(p.name.toLowerCase())));
    // the operation-level path parameter replaces the path-level one; the path-level header stays
    assert.deepEqual(props(t.inputSchema).id, { type: 'integer', exclusiveMinimum: 0, description: 'the item id' });
    assert.equal(byArg.trace!.in, 'header');
    assert.deepEqual(t.inputSchema.required, ['id', 'session']);
    assert.deepEqual([byArg.session!.style, byArg.session!.explode], ['form', true]);
    assert.deepEqual([byArg.filter!.style, byArg.filter!.explode], ['deepObject', true]);
    assert.deepEqual([byArg.fields!.style, byArg.fields!.explode, byArg.fields!.allowReserved], ['pipeDelimited', false, true]);
    assert.equal(props(byArg.coords!.schema).lat?.type, 'number', 'content parameters use the media type schema');
    assert.deepEqual(props(props(t.inputSchema).filter).color, { type: ['string', 'null'], enum: ['red', 'green', null] });
    // output: the lowest 2xx with JSON content; readOnly kept, writeOnly dropped
    assert.ok('id' in props(t.outputSchema));
    assert.ok(!('secret' in props(t.outputSchema)));
    assert.deepEqual(props(t.outputSchema).price, { type: ['number', 'null'], exclusiveMaximum: 100 });
    assert.deepEqual(props(t.outputSchema).tags, { type: 'array', examples: [['a', 'b']], items: { type: 'string' } });
    assert.equal(t.outputSchema?.discriminator, undefined);
    assert.equal(t.outputSchema?.['x-internal'], undefined);
  });

  test('a body property colliding with a parameter keeps the body under `body`', () => {
    const t = tool(api, 'replaceItem');
    assert.equal(t.operation.body?.mode, 'wrapped');
    assert.equal(t.operation.body?.arg, 'body');
    assert.deepEqual(props(t.inputSchema).body, {
      type: 'object',
      properties: { id: { type: 'integer' }, name: { type: 'string' } },
      description: 'the new item',
    });
    assert.deepEqual(t.inputSchema.required, ['id', 'body']);
    assert.equal(t.operation.responseContentType, 'application/problem+json');
    assert.equal(t.outputWrapped, true);
  });

  test('createItem: readOnly properties are not arguments; writeOnly ones are', () => {
    const t = tool(api, 'createItem');
    assert.equal(t.operation.body?.mode, 'flattened');
    assert.equal(t.operation.body?.contentType, 'application/json');
    assert.deepEqual(Object.keys(props(t.inputSchema)), ['name', 'secret', 'price', 'tags']);
    assert.deepEqual(t.inputSchema.required, ['name']);
    assert.deepEqual(props(t.inputSchema).name, { type: 'string', description: 'the name', default: 'unnamed' });
  });

  test('text body, default response, undeclared path parameter', () => {
    const patch = tool(api, 'patchItem');
    assert.deepEqual(patch.operation.body, { contentType: 'text/plain', required: false, mode: 'wrapped', properties: [], arg: 'body', schema: { type: 'string', maxLength: 100 } });
    const search = tool(api, 'searchItems');
    assert.deepEqual(search.outputSchema, { type: 'object', properties: { result: { type: 'integer' } }, required: ['result'] });
    assert.deepEqual(props(search.inputSchema).q, { type: 'string', pattern: '^[a-z]+$', default: 'abc' });
    const orphan = tool(api, 'deleteOrphan');
    assert.deepEqual(orphan.inputSchema.required, ['slug']);
    assert.equal(orphan.operation.parameters[0]?.in, 'path');
  });
});

describe('Swagger 2.0', () => {
  test('petstore v2: body, formData, file upload, csv arrays, servers from schemes+host+basePath', async () => {
    const api = await load('swagger-petstore-v2.yaml');
    assert.equal(api.kind, 'swagger-2.0');
    assert.deepEqual(api.servers, ['http://petstore.swagger.io/v2']);
    const add = tool(api, 'addPet');
    assert.equal(add.operation.body?.mode, 'flattened');
    assert.equal(add.operation.body?.contentType, 'application/json');
    assert.deepEqual(add.inputSchema.required, ['name', 'photoUrls']);
    const form = tool(api, 'updatePetWithForm');
    assert.deepEqual(form.operation.body, {
      contentType: 'application/x-www-form-urlencoded',
      required: false,
      mode: 'flattened',
      properties: ['name', 'status'],
      arg: '',
      schema: {
        type: 'object',
        properties: { name: { type: 'string', description: 'Updated name of the pet' }, status: { type: 'string', description: 'Updated status of the pet' } },
      },
    });
    const upload = tool(api, 'uploadFile');
    assert.equal(upload.operation.body?.contentType, 'multipart/form-data');
    assert.deepEqual(props(upload.inputSchema).file, { type: 'string', format: 'binary', description: 'file to upload' });
    const byStatus = tool(api, 'findPetsByStatus');
    assert.deepEqual([byStatus.operation.parameters[0]!.style, byStatus.operation.parameters[0]!.explode], ['form', false]);
    assert.deepEqual(props(byStatus.inputSchema).status?.items, { type: 'string', default: 'available', enum: ['available', 'pending', 'sold'] });
    assert.equal(tool(api, 'getOrderById').operation.responseContentType, 'application/json');
    assert.deepEqual(props(tool(api, 'getOrderById').inputSchema).orderId, {
      type: 'integer',
      format: 'int64',
      maximum: 5,
      minimum: 1,
      description: 'ID of pet that needs to be fetched',
    });
  });

  test('collectionFormat, formData collisions, type file responses, x-nullable', async () => {
    const api = await load('features-2.0.yaml');
    const search = tool(api, 'search');
    assert.deepEqual(
      search.operation.parameters.map((p) => [p.name, p.in, p.style, p.explode]),
      [
        ['ids', 'path', 'simple', false],
        ['csv', 'query', 'form', false],
        ['ssv', 'query', 'spaceDelimited', false],
        ['pipes', 'query', 'pipeDelimited', false],
        ['multi', 'query', 'form', true],
        ['limit', 'query', 'form', true],
      ],
    );
    assert.deepEqual(props(search.inputSchema).limit, { type: 'integer', minimum: 1, exclusiveMaximum: 50, default: 10 });
    const create = tool(api, 'createThing');
    assert.equal(create.operation.body?.contentType, 'application/json', 'global consumes');
    assert.deepEqual(props(create.inputSchema).size, { type: ['integer', 'null'] });
    const rename = tool(api, 'renameThing');
    assert.equal(rename.operation.body?.mode, 'wrapped');
    assert.equal(rename.operation.body?.contentType, 'application/x-www-form-urlencoded');
    assert.deepEqual(rename.inputSchema.required, ['name', 'body']);
    const upload = tool(api, 'uploadThing');
    assert.equal(upload.operation.body?.contentType, 'multipart/form-data');
    assert.equal(upload.outputSchema, undefined, 'a file response has no JSON schema');
    assert.deepEqual(api.servers, [], 'no host and a file source: no absolute server');
  });
});

describe('OpenAPI 3.1', () => {
  test('webhook-example.yaml loads; webhooks are not tools', async () => {
    const api = await load('webhook-example.yaml');
    assert.equal(api.kind, 'openapi-3.1');
    assert.deepEqual(api.tools.map((t) => t.name), ['listPets']);
    const items = props(tool(api, 'listPets').outputSchema).result?.items as JsonSchema;
    assert.deepEqual(items.required, ['id', 'name']);
  });
});

describe('circular schemas', () => {
  test('self-reference: $defs + $ref, terminates, validates recursive data', async () => {
    const start = Date.now();
    const api = await load('circular-self.yaml');
    assert.ok(Date.now() - start < 2000);
    checkTools(api);
    const create = tool(api, 'createNode');
    assert.equal(create.operation.body?.mode, 'flattened');
    assert.deepEqual(props(create.inputSchema).children, { type: 'array', items: { $ref: '#/$defs/TreeNode' } });
    assert.deepEqual(Object.keys(create.inputSchema.$defs as object), ['TreeNode']);
    const validate = ajv.compile(create.inputSchema);
    assert.equal(validate({ name: 'root', children: [{ name: 'a', children: [{ name: 'b' }] }] }), true);
    assert.equal(validate({ name: 'root', children: [{ children: [] }] }), false, 'nested nodes need a name');
    const get = tool(api, 'getNode');
    assert.deepEqual(props(get.outputSchema).parent, { $ref: '#/$defs/TreeNode' });
    assert.ok(JSON.stringify(get).length < 5000);
  });

  test('A → B → A (OpenAPI 3.1, JSON): terminates, acyclic', async () => {
    const start = Date.now();
    const api = await load('circular-ab.json');
    assert.ok(Date.now() - start < 2000);
    assert.equal(api.kind, 'openapi-3.1');
    checkTools(api);
    const t = tool(api, 'createA');
    assert.deepEqual(Object.keys(t.inputSchema.$defs as object), ['A']);
    assert.deepEqual(Object.keys(t.outputSchema?.$defs as object), ['B']);
    const validate = ajv.compile(t.outputSchema!);
    assert.equal(validate({ weight: null, a: { label: 'x', b: { weight: 1, many: [{ label: 'y' }] } } }), true);
    assert.equal(validate({ a: { b: { weight: 'heavy' } } }), false);
  });

  test('a dereferenced document with real JS cycles: toolsOf terminates with acyclic schemas', async () => {
    const deref = (await SwaggerParser.dereference(path.join(FIXTURES, 'circular-self.yaml'))) as object;
    const tools = toolsOf(deref, 'openapi-3.0');
    const create = tools.find((t) => t.name === 'createNode')!;
    assert.doesNotThrow(() => JSON.stringify(tools));
    assert.ok(create.inputSchema.$defs, 'recursion kept through $defs');
    assert.doesNotThrow(() => ajv.compile(create.inputSchema));
  });
});

describe('external $refs', () => {
  test('files next to the document are pulled in (parameters and schemas, nested references)', async () => {
    const api = await load('external/main.yaml');
    const get = tool(api, 'getPet');
    assert.deepEqual(props(get.inputSchema).petId, { type: 'integer', minimum: 1, format: 'int64', description: "the pet's id" });
    assert.equal(get.outputSchema?.type, 'object');
    const replace = tool(api, 'replacePet');
    assert.deepEqual(props(replace.inputSchema).kind, { type: 'string', enum: ['cat', 'dog', 'bird'] });
    assert.deepEqual(replace.inputSchema.required, ['petId', 'name']);
  });
});

describe('bad input', () => {
  test('an invalid document: the error names the JSON pointer', async () => {
    await rejects(load('bad/invalid-parameter.yaml'), (e) => {
      assert.equal(e.pointer, '/paths/~1pets/get/parameters/0');
      assert.match(e.message, /invalid OpenAPI 3\.0 document: missing required property "in"/);
      assert.match(e.message, /\(at \/paths\/~1pets\/get\/parameters\/0\)/);
    });
  });

  test('an unresolvable $ref: the pointer of the referencing object', async () => {
    await rejects(load('bad/unresolvable-ref.yaml'), (e) => {
      assert.match(e.message, /unresolvable \$ref "#\/components\/schemas\/Missing"/);
      assert.equal(e.pointer, '/paths/~1pets/get/responses/200/content/application~1json/schema');
    });
  });

  test('a missing external file', async () => {
    await rejects(load('bad/missing-external.yaml'), (e) => {
      assert.match(e.message, /no-such-file\.yaml/);
      assert.equal(e.pointer, '/paths/~1pets/get/responses/200/content/application~1json/schema');
    });
  });

  test('YAML syntax errors name line and column; other documents are refused', async () => {
    await rejects(load('bad/syntax-error.yaml'), (e) => assert.match(e.message, /syntax-error\.yaml:7:\d+: invalid YAML/));
    await rejects(load('bad/not-openapi.json'), (e) => assert.match(e.message, /not an OpenAPI document/));
    await rejects(load('no-such-document.yaml'), (e) => assert.match(e.message, /cannot read OpenAPI document no-such-document\.yaml: no such file/));
  });

  test('duplicate operationIds', async () => {
    await rejects(load('bad/duplicate-operation-id.yaml'), (e) => {
      assert.match(e.message, /duplicate operationId "getThing"/);
      assert.equal(e.pointer, '/paths/~1b/get/operationId');
    });
  });

  test('colliding generated names: an error unless the selection renames one', async () => {
    const api = await load('name-collision.yaml');
    throwsOpenApi(
      () => selectTools(api, undefined),
      (e) => assert.match(e.message, /duplicate tool name "pets_list": operations GET \/pets and GET \/pets2/),
    );
    const sel = selectTools(api, [{ operation: 'pets/list' }, { operation: 'pets list', name: 'pets_list_2' }]);
    assert.deepEqual(sel.map((t) => t.name), ['pets_list', 'pets_list_2']);
  });
});

describe('URL sources', () => {
  let server: Server;
  let base: string;
  const served = new Map<string, { body: string | Buffer; type: string }>();
  const file = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8');

  before(async () => {
    served.set('/specs/petstore', { body: file('swagger-petstore-v3.yaml'), type: 'application/yaml' });
    served.set('/specs/features-2.0.yaml', { body: file('features-2.0.yaml'), type: 'text/plain' });
    served.set('/ext/main.yaml', { body: file('external/main.yaml'), type: 'text/yaml' });
    served.set('/ext/parameters.yaml', { body: file('external/parameters.yaml'), type: 'text/yaml' });
    served.set('/ext/schemas/pet.yaml', { body: file('external/schemas/pet.yaml'), type: 'text/yaml' });
    served.set('/specs/local-file-ref.yaml', {
      body: 'openapi: 3.0.3\ninfo: {title: t, version: "1"}\npaths:\n  /x:\n    get:\n      responses:\n        "200":\n          description: ok\n          content:\n            application/json:\n              schema:\n                $ref: "file:///etc/hostname"\n',
      type: 'text/yaml',
    });
    served.set('/specs/v3.2', { body: 'openapi: 3.2.0\ninfo: {title: t, version: "1"}\npaths: {}\n', type: 'text/yaml' });
    served.set('/specs/huge', { body: Buffer.alloc(10 * 1024 * 1024 + 10, 0x20), type: 'text/yaml' });
    server = createServer((req, res) => {
      if (req.url === '/specs/moved') {
        res.writeHead(302, { location: '/specs/petstore' }).end();
        return;
      }
      const hit = served.get(req.url ?? '');
      if (!hit) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': hit.type }).end(hit.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('a YAML document over HTTP (default fetcher); relative servers resolve against the URL', async () => {
    const api = await loadOpenApi(`${base}/specs/petstore`, { baseDir: '/nonexistent' });
    assert.equal(api.tools.length, 19);
    assert.deepEqual(api.servers, [`${base}/v3`]);
    const fromFile = await load('swagger-petstore-v3.yaml');
    assert.deepEqual(JSON.parse(JSON.stringify(api.tools)), JSON.parse(JSON.stringify(fromFile.tools)));
  });

  test('redirects are followed; file: URLs are file paths', async () => {
    const api = await loadOpenApi(`${base}/specs/moved`, { baseDir: '/' });
    assert.equal(api.tools.length, 19);
    const local = await loadOpenApi(pathToFileURL(path.join(FIXTURES, 'webhook-example.yaml')).href, { baseDir: '/' });
    assert.equal(local.kind, 'openapi-3.1');
  });

  test('Swagger 2.0 without host: the server derives from the URL', async () => {
    const api = await loadOpenApi(`${base}/specs/features-2.0.yaml`, { baseDir: '/' });
    assert.deepEqual(api.servers, [`${base}/base`]);
  });

  test('external $refs of a URL document go through opts.fetchUrl', async () => {
    const fetched: string[] = [];
    const fetchUrl = async (url: string): Promise<string> => {
      fetched.push(url);
      const hit = served.get(new URL(url).pathname);
      if (!hit) throw new Error('HTTP 404');
      return hit.body.toString();
    };
    const api = await loadOpenApi(`${base}/ext/main.yaml`, { baseDir: '/', fetchUrl });
    assert.deepEqual(api.tools.map((t) => t.name), ['getPet', 'replacePet']);
    assert.deepEqual(fetched.map((u) => new URL(u).pathname).sort(), ['/ext/main.yaml', '/ext/parameters.yaml', '/ext/schemas/pet.yaml']);
  });

  test('a URL document cannot reference local files; HTTP errors, size cap and unsupported versions', async () => {
    await rejects(loadOpenApi(`${base}/specs/local-file-ref.yaml`, { baseDir: '/' }), (e) => assert.match(e.message, /file:\/\/\/etc\/hostname|resolve/));
    await rejects(loadOpenApi(`${base}/specs/missing`, { baseDir: '/' }), (e) => assert.match(e.message, /cannot read OpenAPI document .*HTTP 404/));
    await rejects(loadOpenApi(`${base}/specs/huge`, { baseDir: '/' }), (e) => assert.match(e.message, /larger than 10485760 bytes/));
    await rejects(loadOpenApi(`${base}/specs/v3.2`, { baseDir: '/' }), (e) => assert.match(e.message, /Unsupported OpenAPI version: 3\.2\.0/));
  });
});

describe('enormous documents', () => {
  test('thousands of operations with shared and recursive schemas load fast', async () => {
    const schemas: Record<string, unknown> = {};
    const S = 400;
    for (let i = 0; i < S; i++) {
      const p: Record<string, unknown> = {};
      for (let j = 0; j < 12; j++) p[`f${j}`] = { type: j % 3 ? 'string' : 'integer', description: `field ${j}` };
      if (i > 0) p.ref1 = { $ref: `#/components/schemas/S${(i * 7) % i}` };
      if (i > 1) p.ref2 = { type: 'array', items: { $ref: `#/components/schemas/S${(i * 13) % i}` } };
      if (i % 10 === 0) p.parent = { $ref: `#/components/schemas/S${i}` };
      p.next = { $ref: `#/components/schemas/S${(i + 1) % S}` }; // one big cycle through all of them
      schemas[`S${i}`] = { type: 'object', properties: p };
    }
    const paths: Record<string, unknown> = {};
    for (let i = 0; i < 1500; i++) {
      const ref = { $ref: `#/components/schemas/S${i % S}` };
      paths[`/r${i}/{id}`] = {
        get: {
          operationId: `get${i}`,
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'ok', content: { 'application/json': { schema: ref } } } },
        },
        post: {
          operationId: `post${i}`,
          requestBody: { content: { 'application/json': { schema: ref } } },
          responses: { '201': { description: 'ok', content: { 'application/json': { schema: { type: 'array', items: ref } } } } },
        },
      };
    }
    const doc = { openapi: '3.0.3', info: { title: 'big', version: '1' }, paths, components: { schemas } };
    const served = JSON.stringify(doc);
    const start = Date.now();
    const api = await loadOpenApi('https://api.example.com/big.json', { baseDir: '/', fetchUrl: async () => served });
    const elapsed = Date.now() - start;
    assert.equal(api.tools.length, 3000);
    assert.ok(elapsed < 6000, `loaded in ${elapsed} ms`);
    const t = tool(api, 'post7');
    assert.doesNotThrow(() => JSON.stringify(t));
    assert.doesNotThrow(() => ajv.compile(t.inputSchema));
    assert.doesNotThrow(() => ajv.compile(t.outputSchema!));
    assert.deepEqual(api.servers, ['https://api.example.com/']);
  });
});

describe('gatehouse openapi tools', () => {
  function io(): CliIo & { out: string[]; err: string[] } {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, stdout: (s) => out.push(s), stderr: (s) => err.push(s), cwd: FIXTURES, env: {} };
  }

  test('prints the MCP tools/list shape', async () => {
    const x = io();
    assert.equal(await main(['openapi', 'tools', 'swagger-petstore-v3.yaml'], x), 0, x.err.join(''));
    const printed = JSON.parse(x.out.join('')) as { tools: Record<string, unknown>[] };
    assert.equal(printed.tools.length, 19);
    const get = printed.tools.find((t) => t.name === 'getPetById')!;
    assert.deepEqual(Object.keys(get), ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations']);
    assert.ok(printed.tools.every((t) => !('operation' in t) && !('outputWrapped' in t)));
    assert.ok(x.out.join('').includes('\n  "tools": ['), 'pretty JSON');
  });

  test('--operations selects, in order', async () => {
    const x = io();
    assert.equal(await main(['openapi', 'tools', path.join(FIXTURES, 'swagger-petstore-v3.yaml'), '--operations', 'deletePet, GET /pet/{petId}'], x), 0);
    const printed = JSON.parse(x.out.join('')) as { tools: { name: string }[] };
    assert.deepEqual(printed.tools.map((t) => t.name), ['deletePet', 'getPetById']);
  });

  test('invalid input: exit 2 with the message', async () => {
    const bad = io();
    assert.equal(await main(['openapi', 'tools', 'bad/invalid-parameter.yaml'], bad), 2);
    assert.match(bad.err.join(''), /missing required property "in" \(at \/paths\/~1pets\/get\/parameters\/0\)/);
    assert.deepEqual(bad.out, []);
    const unknown = io();
    assert.equal(await main(['openapi', 'tools', 'swagger-petstore-v3.yaml', '--operations', 'getPet'], unknown), 2);
    assert.match(unknown.err.join(''), /unknown operation "getPet" \(did you mean/);
    const none = io();
    assert.equal(await main(['openapi', 'tools'], none), 2);
    assert.match(none.err.join(''), /SPEC missing/);
    const sub = io();
    assert.equal(await main(['openapi', 'list'], sub), 2);
    const help = io();
    assert.equal(await main(['--help'], help), 0);
    assert.match(help.out.join(''), /openapi tools SPEC/);
  });
});
