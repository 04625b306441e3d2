/**
 * Generates the published JSON Schema of gatehouse.yaml from the zod schema (src/config/schema.ts).
 * `npm run schema` builds and runs this file, which writes `schema/gatehouse.schema.json`;
 * test/schema.test.ts fails when the checked-in copy is out of date.
 */
import { realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { config } from '../src/config/schema.js';

export const SCHEMA_ID = 'urn:gatehouse:schema:gatehouse.yaml';

export function generateSchema(): object {
  const generated = z.toJSONSchema(config, { io: 'input' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: SCHEMA_ID,
    title: 'Gatehouse configuration (gatehouse.yaml)',
    description: 'Configuration of the Gatehouse MCP gateway. Unknown keys are errors. String values may use {{named-value}} references.',
    ...rest,
  };
}

/** The exact text of schema/gatehouse.schema.json: 2-space JSON and a final newline. */
export function schemaText(): string {
  return `${JSON.stringify(generateSchema(), null, 2)}\n`;
}

/** Repository root: the compiled file lives in dist/scripts/. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SCHEMA_FILE = fileURLToPath(new URL('../../schema/gatehouse.schema.json', import.meta.url));

const isMain = (): boolean => {
  const arg = process.argv[1];
  if (arg === undefined) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
};

if (isMain()) {
  writeFileSync(SCHEMA_FILE, schemaText());
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
}
