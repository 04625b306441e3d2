/** Argument validation: a tool call's arguments against the tool's input schema (`compileArguments`). */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { ArgumentError, type JsonSchema, type OpenApiTool } from './types.js';

const MAX_LISTED_PROBLEMS = 10;

let ajvInstance: InstanceType<typeof Ajv2020> | undefined;
function ajv(): InstanceType<typeof Ajv2020> {
  if (!ajvInstance) {
    ajvInstance = new Ajv2020({
      strict: false,
      allErrors: true,
      useDefaults: true,
      coerceTypes: false,
      // schemas with an $id must not be registered (two tools may carry the same $id)
      addUsedSchema: false,
      validateSchema: false,
      logger: false,
    });
    // ajv-formats is CommonJS: its default import is module.exports (the plugin, with .default too)
    const addFormats = (addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule;
    (addFormats as (a: InstanceType<typeof Ajv2020>) => unknown)(ajvInstance);
  }
  return ajvInstance;
}

const validators = new WeakMap<OpenApiTool, (args: unknown) => void>();

/**
 * The validator of a tool's arguments (compiled once per tool object). It applies schema defaults
 * to the object it is given and throws an `ArgumentError` naming every problem (at most 10 listed).
 * `undefined` arguments are validated as `{}`.
 */
export function compileArguments(tool: OpenApiTool): (args: unknown) => void {
  const cached = validators.get(tool);
  if (cached) return cached;
  const schema: JsonSchema = { ...tool.inputSchema };
  // the meta-schema of an imported document is irrelevant here (and Ajv2020 knows only 2020-12)
  delete schema.$schema;
  let validate: ValidateFunction;
  try {
    validate = ajv().compile(schema);
  } catch (e) {
    throw new Error(`the input schema of tool "${tool.name}" cannot be compiled: ${(e as Error).message}`);
  }
  const fn = (args: unknown): void => {
    const value = args === undefined ? {} : args;
    if (validate(value)) return;
    throw new ArgumentError(describeErrors(validate.errors ?? []));
  };
  validators.set(tool, fn);
  return fn;
}

function describeErrors(errors: readonly ErrorObject[]): string {
  const problems: string[] = [];
  for (const err of errors) {
    const p = describeError(err);
    if (!problems.includes(p)) problems.push(p);
  }
  if (problems.length === 0) return 'invalid arguments';
  if (problems.length <= MAX_LISTED_PROBLEMS) return problems.join('; ');
  const more = problems.length - MAX_LISTED_PROBLEMS;
  return `${problems.slice(0, MAX_LISTED_PROBLEMS).join('; ')}; … and ${more} more problem${more === 1 ? '' : 's'}`;
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `/tags/0/name` → `tags[0].name` */
function fieldName(segments: readonly string[]): string {
  let out = '';
  for (const s of segments) {
    if (/^(0|[1-9][0-9]*)$/.test(s) && out !== '') out += `[${s}]`;
    else out += out === '' ? s : `.${s}`;
  }
  return out.length > 200 ? `${out.slice(0, 200)}…` : out;
}

function describeValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function describeError(err: ErrorObject): string {
  const at = pointerSegments(err.instancePath);
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
    case 'dependentRequired':
    case 'dependencies':
      if (typeof params.missingProperty === 'string')
        return `missing required argument "${fieldName([...at, params.missingProperty])}"`;
      break;
    case 'additionalProperties':
      if (typeof params.additionalProperty === 'string')
        return `unknown argument "${fieldName([...at, params.additionalProperty])}"`;
      break;
    case 'unevaluatedProperties':
      if (typeof params.unevaluatedProperty === 'string')
        return `unknown argument "${fieldName([...at, params.unevaluatedProperty])}"`;
      break;
    case 'type': {
      const t = Array.isArray(params.type) ? params.type.join(' or ') : String(params.type);
      return at.length === 0 ? `arguments must be ${t}` : `argument "${fieldName(at)}" must be ${t}`;
    }
    case 'enum':
      if (Array.isArray(params.allowedValues)) {
        const allowed = params.allowedValues.slice(0, 20).map(describeValue).join(', ');
        const tail = params.allowedValues.length > 20 ? ', …' : '';
        return `argument "${fieldName(at)}" must be one of: ${allowed}${tail}`;
      }
      break;
    case 'const':
      return `argument "${fieldName(at)}" must be ${describeValue(params.allowedValue)}`;
    default:
      break;
  }
  const msg = err.message ?? 'is invalid';
  return at.length === 0 ? `arguments ${msg}` : `argument "${fieldName(at)}" ${msg}`;
}
