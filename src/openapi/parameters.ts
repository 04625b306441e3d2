/** An operation's parameters: merged from path and operation level, their schemas and serialization styles. */
import type { JsonSchema, ParameterBinding, ParameterLocation } from './types.js';
import { isObj, nonEmpty, type Kind, type Obj } from './document-values.js';
import type { RefDoc } from './refs.js';
import type { SchemaGraph } from './schema-convert.js';

export const LOCATIONS: readonly ParameterLocation[] = ['path', 'query', 'header', 'cookie'];
/** header parameters OpenAPI ignores (Accept, Content-Type) and the gateway owns (Authorization) */
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);

export interface RawParam {
  name: string;
  in: ParameterLocation;
  obj: Obj;
  pointer: string;
}

interface Swagger2Style {
  style: ParameterBinding['style'];
  explode: boolean;
}

function swagger2Style(loc: ParameterLocation, p: Obj): Swagger2Style {
  if (loc === 'path' || loc === 'header') return { style: 'simple', explode: false };
  if (p.type !== 'array') return { style: 'form', explode: true };
  switch (p.collectionFormat) {
    case 'multi':
      return { style: 'form', explode: true };
    case 'ssv':
      return { style: 'spaceDelimited', explode: false };
    case 'pipes':
      return { style: 'pipeDelimited', explode: false };
    // csv (the default) and tsv (no OpenAPI 3 equivalent: sent comma-separated)
    default:
      return { style: 'form', explode: false };
  }
}

const SWAGGER2_SCHEMA_FIELDS = [
  'type',
  'format',
  'items',
  'enum',
  'default',
  'maximum',
  'minimum',
  'exclusiveMaximum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'maxItems',
  'minItems',
  'uniqueItems',
  'multipleOf',
  'x-nullable',
  'example',
];

/** the schema of a Swagger 2.0 non-body parameter (its own fields) */
export function swagger2ParamSchema(p: Obj): Obj {
  const s: Obj = {};
  for (const k of SWAGGER2_SCHEMA_FIELDS) if (p[k] !== undefined) s[k] = p[k];
  return s;
}

const STYLES = new Set(['simple', 'form', 'label', 'matrix', 'spaceDelimited', 'pipeDelimited', 'deepObject']);

export function mergedParameters(doc: RefDoc, path: string, pathItem: Obj, op: Obj, pointer: string): RawParam[] {
  const pathPointer = pointer.slice(0, pointer.lastIndexOf('/'));
  const collect = (list: unknown, base: string): RawParam[] => {
    if (!Array.isArray(list)) return [];
    const out: RawParam[] = [];
    list.forEach((raw, i) => {
      const where = `${base}/parameters/${i}`;
      const p = doc.deref(raw, where);
      if (!isObj(p) || typeof p.name !== 'string' || typeof p.in !== 'string') return;
      if (p.in === 'header' && IGNORED_HEADERS.has(p.name.toLowerCase())) return;
      out.push({ name: p.name, in: p.in as ParameterLocation, obj: p, pointer: where });
    });
    return out;
  };
  const fromPath = collect(pathItem.parameters, pathPointer);
  const fromOp = collect(op.parameters, pointer);
  const key = (p: RawParam): string => `${p.in}\u0000${p.name}`;
  const opByKey = new Map(fromOp.map((p) => [key(p), p]));
  const merged: RawParam[] = [];
  const seen = new Set<string>();
  // path-level parameters, an operation-level one with the same name and location replacing it
  for (const p of [...fromPath, ...fromOp]) {
    const k = key(p);
    if (seen.has(k)) continue;
    seen.add(k);
    merged.push(opByKey.get(k) ?? p);
  }
  // path template variables nobody declared: implicit required string parameters
  for (const m of path.matchAll(/\{([^{}]+)\}/g)) {
    const name = m[1]!;
    if (!seen.has(`path\u0000${name}`)) {
      seen.add(`path\u0000${name}`);
      merged.push({ name, in: 'path', obj: { name, in: 'path', required: true, type: 'string', schema: { type: 'string' } }, pointer });
    }
  }
  return merged.filter((p) => (LOCATIONS as readonly string[]).includes(p.in) || (p.in as string) === 'body' || (p.in as string) === 'formData');
}

/** the raw schema of a (non-body) parameter */
export function parameterSchema(doc: RefDoc, kind: Kind, p: RawParam): unknown {
  if (kind === 'swagger-2.0') return swagger2ParamSchema(p.obj);
  if (p.obj.schema !== undefined) return p.obj.schema;
  if (isObj(p.obj.content)) {
    const first = Object.values(p.obj.content)[0];
    const media = doc.deref(first, p.pointer + '/content');
    if (isObj(media) && media.schema !== undefined) return media.schema;
  }
  return { type: 'string' };
}

/** a parameter's property schema: its converted schema plus the parameter's description etc. */
export function paramProperty(input: SchemaGraph, kind: Kind, p: RawParam, raw: unknown): { schema: JsonSchema; deps: ReadonlySet<string> } {
  const c = input.convertRoot(raw);
  const s: JsonSchema = typeof c.schema === 'boolean' ? {} : { ...c.schema };
  const desc = nonEmpty(p.obj.description);
  if (desc) s.description = desc;
  if (p.obj.deprecated === true) s.deprecated = true;
  if (kind !== 'swagger-2.0' && p.obj.example !== undefined && s.examples === undefined) s.examples = [structuredClone(p.obj.example)];
  return { schema: s, deps: c.deps };
}

export function styleOf(kind: Kind, p: RawParam): { style: ParameterBinding['style']; explode: boolean } {
  if (kind === 'swagger-2.0') return swagger2Style(p.in, p.obj);
  const def: ParameterBinding['style'] = p.in === 'query' || p.in === 'cookie' ? 'form' : 'simple';
  const style = typeof p.obj.style === 'string' && STYLES.has(p.obj.style) ? (p.obj.style as ParameterBinding['style']) : def;
  const explode = typeof p.obj.explode === 'boolean' ? p.obj.explode : style === 'form';
  return { style, explode };
}
