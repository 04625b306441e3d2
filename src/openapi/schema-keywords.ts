/** The JSON Schema keywords the schema conversion copies, by kind (data, scalar, subschemas). */

/** keywords copied as data */
export const DATA_KEYWORDS = ['default', 'enum', 'const'] as const;
/** scalar keywords copied as they are (when of the right type) */
export const SCALAR_KEYWORDS: Record<string, 'string' | 'number' | 'boolean'> = {
  title: 'string',
  description: 'string',
  format: 'string',
  multipleOf: 'number',
  maximum: 'number',
  minimum: 'number',
  maxLength: 'number',
  minLength: 'number',
  maxItems: 'number',
  minItems: 'number',
  uniqueItems: 'boolean',
  maxProperties: 'number',
  minProperties: 'number',
  maxContains: 'number',
  minContains: 'number',
  deprecated: 'boolean',
  readOnly: 'boolean',
  writeOnly: 'boolean',
  contentMediaType: 'string',
  contentEncoding: 'string',
};
export const SINGLE_SUBSCHEMA = [
  'additionalProperties',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
  'unevaluatedItems',
  'unevaluatedProperties',
  'additionalItems',
] as const;
export const ARRAY_SUBSCHEMAS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'] as const;
export const MAP_SUBSCHEMAS = ['properties', 'patternProperties', 'dependentSchemas'] as const;

export function validRegex(p: string): boolean {
  try {
    new RegExp(p, 'u');
    return true;
  } catch {
    return false;
  }
}
