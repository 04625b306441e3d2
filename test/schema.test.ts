/** The checked-in JSON Schema must be what scripts/generate-schema.ts produces from src/config/schema.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateSchema, schemaText } from '../scripts/generate-schema.js';

const SCHEMA_FILE = fileURLToPath(new URL('../../schema/gatehouse.schema.json', import.meta.url));

test('schema/gatehouse.schema.json is up to date', () => {
  const checkedIn = readFileSync(SCHEMA_FILE, 'utf8');
  assert.ok(
    checkedIn === schemaText(),
    'schema/gatehouse.schema.json differs from the zod schema in src/config/schema.ts: run `npm run schema`',
  );
});

test('the JSON Schema describes gatehouse.yaml', () => {
  const schema = generateSchema() as {
    $id?: string;
    title?: string;
    additionalProperties?: unknown;
    properties?: Record<string, unknown>;
  };
  assert.equal(typeof schema.$id, 'string');
  assert.equal(typeof schema.title, 'string');
  assert.equal(schema.additionalProperties, false, 'unknown keys are errors');
  for (const key of ['gateway', 'store', 'cache', 'namedValues', 'policies', 'fragments', 'backends', 'identity', 'servers', 'products', 'subscriptionKey', 'authorization', 'credentials']) {
    assert.ok(schema.properties && key in schema.properties, `missing ${key}`);
  }
});
