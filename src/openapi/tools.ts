/**
 * OpenAPI operations → MCP tools (`toolsOf`) and the `tools:` selection of a config (`selectTools`).
 *
 * Input: a parsed OpenAPI 3.0 / 3.1 or Swagger 2.0 document whose `$ref`s are internal (a *bundled*
 * document, as load.ts produces) — a fully dereferenced document (shared and even circular JS
 * objects) works too.
 *
 * Schemas are converted to plain JSON Schema 2020-12 data (no cycles): OpenAPI-only keywords are dropped (`discriminator`, `xml`, `externalDocs`, `x-*`) or
 * translated (`nullable` → a `"null"` type, boolean `exclusiveMinimum/Maximum` → numbers, `example`
 * → `examples`, Swagger `type: file` → a binary string). Input schemas leave out `readOnly`
 * properties, output schemas `writeOnly` ones.
 *
 * Recursion, depth and sharing (`$defs`): schemas are inlined, except those that
 *  - take part in a cycle (the targets of the back edges a depth-first walk finds: `Node → children
 *    → Node`, `A → B → A`; every cycle has one),
 *  - would nest deeper than MAX_INLINE_DEPTH schema levels once inlined, or
 *  - are big (more than SHARED_INLINE_LIMIT nodes inlined) and referenced from several places;
 * these are emitted once per tool under `$defs` at the top of its inputSchema / outputSchema and
 * referenced as `{"$ref": "#/$defs/Name"}` (Name: the component name). The decision is made once per
 * document and direction, so a schema has the same form in every tool. The result is finite, acyclic
 * JSON; the conversion never loops (and is iterative where the document's graph is walked), whatever
 * the input graph. Converted schemas are memoized per document: tools of one import may share
 * sub-objects, so treat them as read-only.
 * The `schema` of a ParameterBinding / BodyBinding is the same data as in the inputSchema: its
 * `#/$defs/...` references resolve against the tool's inputSchema.
 *
 * Tool names: the operationId, else `method path` ("GET /pet/{petId}" → "get_pet_petId"), with every
 * run of characters outside [A-Za-z0-9_.-] turned into one "_" and cut to 128 characters. `toolsOf`
 * does not fail on colliding names: `selectTools` (which every consumer calls) does, so a selection
 * can resolve a collision with `name:`.
 */
import { createHash } from 'node:crypto';
import {
  OpenApiError,
  type BodyBinding,
  type ImportedApi,
  type JsonSchema,
  type OpenApiTool,
  type OperationBinding,
  type ParameterBinding,
  type ParameterLocation,
  type ToolAnnotations,
  type ToolSelection,
} from './types.js';

type Obj = Record<string, unknown>;
type Kind = ImportedApi['kind'];
type Mode = 'input' | 'output';

export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const LOCATIONS: readonly ParameterLocation[] = ['path', 'query', 'header', 'cookie'];
/** header parameters OpenAPI ignores (Accept, Content-Type) and the gateway owns (Authorization) */
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);
/** a schema used twice or more is inlined while its unfolded size stays within this many nodes */
const SHARED_INLINE_LIMIT = 24;
/** inlined schemas nest at most this many levels; deeper parts go to $defs */
const MAX_INLINE_DEPTH = 12;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const nonEmpty = (v: unknown): string | undefined => {
  const s = str(v)?.trim();
  return s ? s : undefined;
};

// -------------------------------------------------------------------------------------------
// JSON pointers

export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function pointerOf(...segments: readonly (string | number)[]): string {
  return segments.map((s) => '/' + escapePointer(String(s))).join('');
}

function decodeSegment(s: string): string {
  let d = s;
  try {
    d = decodeURIComponent(s);
  } catch {
    /* keep it as is */
  }
  return d.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** the document `$ref`s resolve in, with a cache of the pointers looked up */
class RefDoc {
  private readonly cache = new Map<string, unknown>();
  constructor(readonly root: unknown) {}

  /** the value at an internal reference ("#/components/schemas/Pet"); undefined when missing */
  lookup(ref: string): unknown {
    if (this.cache.has(ref)) return this.cache.get(ref);
    let value: unknown;
    if (ref === '#' || ref === '') value = this.root;
    else if (ref.startsWith('#/')) {
      value = this.root;
      for (const raw of ref.slice(2).split('/')) {
        const seg = decodeSegment(raw);
        if (Array.isArray(value)) value = /^\d+$/.test(seg) ? value[Number(seg)] : undefined;
        else if (isObj(value) && Object.prototype.hasOwnProperty.call(value, seg)) value = value[seg];
        else value = undefined;
        if (value === undefined) break;
      }
    }
    this.cache.set(ref, value);
    return value;
  }

  /** follows a chain of `$ref` objects (Reference Objects) to the object they name */
  deref(value: unknown, where: string): unknown {
    let v = value;
    const seen = new Set<string>();
    while (isObj(v) && typeof v.$ref === 'string') {
      const ref = v.$ref;
      if (seen.has(ref)) throw new OpenApiError(`circular $ref "${ref}"`, where);
      seen.add(ref);
      const target = this.lookup(ref);
      if (target === undefined) throw new OpenApiError(`unresolvable $ref "${ref}"`, where);
      v = target;
    }
    return v;
  }
}

// -------------------------------------------------------------------------------------------
// schema conversion

/** keywords copied as data */
const DATA_KEYWORDS = ['default', 'enum', 'const'] as const;
/** scalar keywords copied as they are (when of the right type) */
const SCALAR_KEYWORDS: Record<string, 'string' | 'number' | 'boolean'> = {
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
const SINGLE_SUBSCHEMA = [
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
const ARRAY_SUBSCHEMAS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'] as const;
const MAP_SUBSCHEMAS = ['properties', 'patternProperties', 'dependentSchemas'] as const;

function validRegex(p: string): boolean {
  try {
    new RegExp(p, 'u');
    return true;
  } catch {
    return false;
  }
}

function sanitizeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/_+/g, '_').replace(/^_+|_+$/g, '');
}

interface Converted {
  readonly schema: JsonSchema | boolean;
  /** names of the `$defs` entries the schema refers to (directly or through inlined parts) */
  readonly deps: ReadonlySet<string>;
}
const NO_DEPS: ReadonlySet<string> = new Set();

/**
 * The schemas of one document, in one direction (tool inputs or tool outputs), converted to plain
 * JSON Schema. Phase 1: `addRoots` for every root schema of every operation (a depth-first walk that
 * finds the recursion points and counts references). Phase 2: `convertRoot` / `defsFor`. Conversion
 * results are memoized per schema object and shared between tools (treat them as read-only).
 */
class SchemaGraph {
  private readonly kids = new Map<object, object[]>();
  private readonly state = new Map<object, 1 | 2>();
  private readonly indeg = new Map<object, number>();
  private readonly nameHints = new Map<object, string>();
  private readonly defNodes = new Set<object>();
  private readonly order: object[] = [];
  private decided = 0;
  private readonly info = new Map<object, { size: number; height: number }>();
  private readonly defNames = new Map<object, string>();
  private readonly defNodeByName = new Map<string, object>();
  private readonly usedNames = new Set<string>();
  private readonly defBodies = new Map<string, Converted>();
  private readonly memo = new Map<object, Converted>();
  private readonly refMemo = new Map<object, Converted>();
  private readonly inProgress = new Set<object>();
  /** where the schemas being converted come from (for error messages) */
  where: string | undefined;

  constructor(
    private readonly doc: RefDoc,
    private readonly kind: Kind,
    private readonly mode: Mode,
  ) {}

  // --- graph (the analysis and the conversion walk the very same edges)

  /** the schema a value stands for, following `$ref`s; undefined when not a schema object */
  private target(s: unknown): object | undefined {
    let v = s;
    let hops = 0;
    while (isObj(v) && typeof v.$ref === 'string' && !this.hasRefSiblings(v)) {
      const ref = v.$ref;
      if (++hops > 64) return undefined; // a $ref chain that loops
      const next = this.doc.lookup(ref);
      if (next === undefined) throw new OpenApiError(`unresolvable $ref "${ref}"`, this.where);
      if (isObj(next) && !this.nameHints.has(next)) {
        const hint = sanitizeName(decodeSegment(ref.slice(ref.lastIndexOf('/') + 1)));
        if (hint) this.nameHints.set(next, hint);
      }
      v = next;
    }
    return isObj(v) ? v : undefined;
  }

  /** OpenAPI 3.1: a $ref with sibling keywords (both apply) */
  private hasRefSiblings(s: Obj): boolean {
    if (this.kind !== 'openapi-3.1') return false;
    for (const k of Object.keys(s)) if (k !== '$ref' && k !== 'description' && k !== 'summary' && !k.startsWith('x-')) return true;
    return false;
  }

  private skipProperty(child: unknown): boolean {
    const t = this.target(child) as Obj | undefined;
    if (!t) return false;
    return this.mode === 'input' ? t.readOnly === true : t.writeOnly === true;
  }

  /** the direct subschemas of a schema object (not following its own $ref) */
  private children(s: Obj): unknown[] {
    const out: unknown[] = [];
    if (typeof s.$ref === 'string') out.push({ $ref: s.$ref }); // a 3.1 $ref with siblings
    for (const k of SINGLE_SUBSCHEMA) if (isObj(s[k])) out.push(s[k]);
    for (const k of ARRAY_SUBSCHEMAS) {
      const a = s[k];
      if (Array.isArray(a)) for (const c of a) if (isObj(c)) out.push(c);
    }
    const items = s.items;
    if (Array.isArray(items)) for (const c of items) out.push(c);
    else if (isObj(items)) out.push(items);
    for (const k of MAP_SUBSCHEMAS) {
      const m = s[k];
      if (!isObj(m)) continue;
      for (const c of Object.values(m)) {
        if (!isObj(c)) continue;
        if (k === 'properties' && this.skipProperty(c)) continue;
        out.push(c);
      }
    }
    return out;
  }

  private childTargets(node: object): object[] {
    let k = this.kids.get(node);
    if (k) return k;
    k = [];
    for (const c of this.children(node as Obj)) {
      const t = this.target(c);
      if (t) k.push(t);
    }
    this.kids.set(node, k);
    return k;
  }

  /** depth-first walk (iterative: no stack limit) recording in-degrees, back edges and post-order */
  private visit(root: object): void {
    const stack: { node: object; kids: object[]; i: number }[] = [];
    const enter = (n: object): void => {
      this.state.set(n, 1);
      stack.push({ node: n, kids: this.childTargets(n), i: 0 });
    };
    enter(root);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      if (top.i < top.kids.length) {
        const t = top.kids[top.i++]!;
        this.indeg.set(t, (this.indeg.get(t) ?? 0) + 1);
        const st = this.state.get(t);
        if (st === 1) {
          this.defNodes.add(t); // a back edge: recursion goes through $defs
        } else if (st === undefined) enter(t);
      } else {
        this.state.set(top.node, 2);
        this.order.push(top.node);
        stack.pop();
      }
    }
  }

  /** phase 1: walks the schemas reachable from these roots */
  addRoots(roots: readonly unknown[]): void {
    for (const r of roots) {
      const t = this.target(r);
      if (t && !this.state.has(t)) this.visit(t);
    }
  }

  /**
   * Which schemas become `$defs` entries (decided in post-order, children first):
   *  - the targets of back edges of the walk (every cycle has one): recursion;
   *  - schemas whose inlined body would nest deeper than MAX_INLINE_DEPTH schema levels;
   *  - big schemas (inlined size > SHARED_INLINE_LIMIT nodes) referenced from several places.
   * A `$defs` entry counts as a leaf for its parents, so every emitted body stays shallow and small.
   */
  private defs(): Set<object> {
    for (; this.decided < this.order.length; this.decided++) {
      const n = this.order[this.decided]!;
      let size = 1;
      let height = 1;
      for (const t of this.childTargets(n)) {
        const info = this.defNodes.has(t) ? undefined : this.info.get(t);
        if (!info) {
          size += 1;
          continue;
        }
        size = Math.min(size + info.size, 1e9);
        height = Math.max(height, info.height + 1);
      }
      this.info.set(n, { size, height });
      if (height > MAX_INLINE_DEPTH || ((this.indeg.get(n) ?? 0) >= 2 && size > SHARED_INLINE_LIMIT)) this.defNodes.add(n);
    }
    return this.defNodes;
  }

  /** a node the analysis has not seen (a root added late): walk it now */
  private ensureVisited(t: object): void {
    if (!this.state.has(t)) this.visit(t);
  }

  // --- conversion

  /** a root schema: its own body is always inlined (even when it also is a `$defs` entry) */
  convertRoot(s: unknown): Converted {
    if (typeof s === 'boolean') return { schema: s, deps: NO_DEPS };
    if (!isObj(s)) return { schema: {}, deps: NO_DEPS };
    const t = this.target(s);
    if (!t) return { schema: {}, deps: NO_DEPS };
    this.ensureVisited(t);
    const c = this.defs().has(t) ? this.defBody(this.defName(t)) : this.inline(t);
    return this.withRefDescription(s, t, c);
  }

  convert(s: unknown): Converted {
    if (typeof s === 'boolean') return { schema: s, deps: NO_DEPS };
    if (!isObj(s)) return { schema: {}, deps: NO_DEPS };
    const t = this.target(s);
    if (!t) return { schema: {}, deps: NO_DEPS };
    this.ensureVisited(t);
    let c: Converted;
    if (this.defs().has(t)) {
      const known = this.refMemo.get(t);
      if (known) c = known;
      else {
        const name = this.defName(t);
        c = { schema: { $ref: `#/$defs/${name}` }, deps: new Set([name]) };
        this.refMemo.set(t, c);
      }
    } else c = this.inline(t);
    return this.withRefDescription(s, t, c);
  }

  /** OpenAPI 3.1: the description next to a $ref overrides the referenced one */
  private withRefDescription(s: Obj, t: object, c: Converted): Converted {
    if (t !== s && this.kind === 'openapi-3.1' && typeof s.description === 'string' && typeof c.schema === 'object') {
      return { schema: { ...c.schema, description: s.description }, deps: c.deps };
    }
    return c;
  }

  private inline(t: object): Converted {
    const known = this.memo.get(t);
    if (known) return known;
    if (this.inProgress.has(t)) {
      // a cycle the analysis did not foresee: cut it (never loops)
      return { schema: { description: 'recursive schema (cut)' }, deps: NO_DEPS };
    }
    this.inProgress.add(t);
    try {
      const c = this.body(t as Obj);
      this.memo.set(t, c);
      return c;
    } finally {
      this.inProgress.delete(t);
    }
  }

  private defName(t: object): string {
    const known = this.defNames.get(t);
    if (known) return known;
    const base = this.nameHints.get(t) ?? (sanitizeName(str((t as Obj).title) ?? '') || 'Schema');
    let name = base;
    for (let i = 2; this.usedNames.has(name); i++) name = `${base}_${i}`;
    this.usedNames.add(name);
    this.defNames.set(t, name);
    this.defNodeByName.set(name, t);
    return name;
  }

  private defBody(name: string): Converted {
    const known = this.defBodies.get(name);
    if (known) return known;
    const t = this.defNodeByName.get(name)!;
    // references to definitions never expand them, so converting a body cannot recurse into itself
    const c = this.body(t as Obj);
    this.defBodies.set(name, c);
    return c;
  }

  /** the `$defs` a converted schema needs (transitively), in a stable order */
  defsFor(...deps: ReadonlySet<string>[]): Record<string, JsonSchema | boolean> {
    const out: Record<string, JsonSchema | boolean> = {};
    const queue: string[] = [];
    for (const d of deps) for (const n of d) queue.push(n);
    while (queue.length) {
      const name = queue.shift()!;
      if (Object.prototype.hasOwnProperty.call(out, name)) continue;
      const c = this.defBody(name);
      out[name] = c.schema;
      for (const n of c.deps) if (!Object.prototype.hasOwnProperty.call(out, n)) queue.push(n);
    }
    return out;
  }

  /** one schema object's own keywords, subschemas converted */
  private body(s: Obj): Converted {
    let deps: Set<string> | undefined;
    const sub = (c: unknown): JsonSchema | boolean => {
      const r = this.convert(c);
      if (r.deps.size) {
        deps ??= new Set();
        for (const n of r.deps) deps.add(n);
      }
      return r.schema;
    };
    if (typeof s.$ref === 'string') {
      // OpenAPI 3.1 $ref with sibling keywords: both apply
      const { $ref, ...rest } = s;
      const inner = this.body(rest);
      const out = { ...(inner.schema as JsonSchema) };
      const ref = sub({ $ref });
      out.allOf = [ref, ...(Array.isArray(out.allOf) ? out.allOf : [])];
      for (const n of inner.deps) (deps ??= new Set()).add(n);
      return { schema: out, deps: deps ?? NO_DEPS };
    }
    const out: JsonSchema = {};
    const v30 = this.kind !== 'openapi-3.1';
    // type
    let type: unknown = s.type;
    let format = str(s.format);
    if (type === 'file') {
      type = 'string';
      format = 'binary';
    }
    if (typeof type === 'string' || (Array.isArray(type) && type.every((t) => typeof t === 'string'))) {
      const nullable = v30 && (s.nullable === true || s['x-nullable'] === true);
      if (nullable && typeof type === 'string') out.type = [type, 'null'];
      else out.type = Array.isArray(type) ? [...type] : type;
    }
    for (const [k, t] of Object.entries(SCALAR_KEYWORDS)) {
      if (k === 'format') continue;
      if (typeof s[k] === t) out[k] = s[k];
    }
    if (format !== undefined) out.format = format;
    if (typeof s.pattern === 'string' && validRegex(s.pattern)) out.pattern = s.pattern;
    // numeric bounds: boolean exclusive flags (Swagger 2.0 / OpenAPI 3.0)
    for (const [flag, bound] of [
      ['exclusiveMinimum', 'minimum'],
      ['exclusiveMaximum', 'maximum'],
    ] as const) {
      const f = s[flag];
      if (typeof f === 'number') out[flag] = f;
      else if (f === true && typeof s[bound] === 'number') {
        out[flag] = s[bound];
        delete out[bound];
      }
    }
    for (const k of DATA_KEYWORDS) {
      if (s[k] !== undefined) out[k] = structuredClone(s[k]);
    }
    if (Array.isArray(out.enum) && Array.isArray(out.type) && out.type.includes('null') && !out.enum.includes(null)) {
      out.enum = [...out.enum, null];
    }
    if (Array.isArray(s.examples)) out.examples = structuredClone(s.examples);
    else if (s.example !== undefined) out.examples = [structuredClone(s.example)];
    // subschemas
    const dropped: string[] = [];
    if (isObj(s.properties)) {
      const props: Record<string, unknown> = {};
      for (const [name, c] of Object.entries(s.properties)) {
        if (!isObj(c) && typeof c !== 'boolean') continue;
        if (isObj(c) && this.skipProperty(c)) {
          dropped.push(name);
          continue;
        }
        props[name] = sub(c);
      }
      out.properties = props;
    }
    if (Array.isArray(s.required)) {
      const req = [...new Set(s.required.filter((r): r is string => typeof r === 'string' && !dropped.includes(r)))];
      if (req.length) out.required = req;
    }
    for (const k of MAP_SUBSCHEMAS) {
      if (k === 'properties' || !isObj(s[k])) continue;
      const m: Record<string, unknown> = {};
      for (const [name, c] of Object.entries(s[k] as Obj)) {
        if (k === 'patternProperties' && !validRegex(name)) continue;
        m[name] = sub(c);
      }
      out[k] = m;
    }
    if (isObj(s.dependentRequired)) out.dependentRequired = structuredClone(s.dependentRequired);
    for (const k of SINGLE_SUBSCHEMA) {
      const c = s[k];
      if (isObj(c) || typeof c === 'boolean') out[k] = sub(c);
    }
    for (const k of ARRAY_SUBSCHEMAS) {
      const a = s[k];
      if (Array.isArray(a) && a.length) out[k] = a.map((c) => sub(c));
    }
    const items = s.items;
    if (Array.isArray(items)) {
      // draft-4 tuple form → prefixItems
      if (items.length) out.prefixItems = items.map((c) => sub(c));
    } else if (isObj(items) || typeof items === 'boolean') {
      out.items = sub(items);
    }
    return { schema: out, deps: deps ?? NO_DEPS };
  }
}

/** object-like: an object root that can be an MCP outputSchema as it is */
function isObjectSchema(s: JsonSchema | boolean, defs: Record<string, JsonSchema | boolean>, depth = 0): boolean {
  if (typeof s !== 'object' || depth > 8) return false;
  if (s.type === 'object' || (Array.isArray(s.type) && s.type.length === 1 && s.type[0] === 'object')) return true;
  if (s.type !== undefined) return false;
  if (typeof s.$ref === 'string' && s.$ref.startsWith('#/$defs/')) {
    const d = defs[s.$ref.slice('#/$defs/'.length)];
    return d !== undefined && isObjectSchema(d, defs, depth + 1);
  }
  if (s.properties !== undefined || s.additionalProperties !== undefined || s.patternProperties !== undefined) {
    return !s.anyOf && !s.oneOf;
  }
  if (Array.isArray(s.allOf) && s.allOf.length) {
    return s.allOf.every((c) => isObjectSchema(c as JsonSchema | boolean, defs, depth + 1));
  }
  return false;
}

// -------------------------------------------------------------------------------------------
// operations

interface RawParam {
  name: string;
  in: ParameterLocation;
  obj: Obj;
  pointer: string;
}

function isJsonMedia(mt: string): boolean {
  const m = mt.split(';')[0]!.trim().toLowerCase();
  return m === 'application/json' || /^application\/[^/]*\+json$/.test(m) || /^[a-z]+\/[a-z0-9.+-]*json$/.test(m);
}

/** the request media type to use, preferring JSON, then forms, then text, then the first listed */
function pickRequestMedia(types: readonly string[]): string | undefined {
  if (!types.length) return undefined;
  const lower = types.map((t) => t.toLowerCase());
  const find = (pred: (t: string) => boolean): string | undefined => {
    const i = lower.findIndex(pred);
    return i >= 0 ? types[i] : undefined;
  };
  return (
    find((t) => t.split(';')[0]!.trim() === 'application/json') ??
    find(isJsonMedia) ??
    find((t) => t.startsWith('application/x-www-form-urlencoded')) ??
    find((t) => t.startsWith('multipart/form-data')) ??
    find((t) => t.startsWith('text/plain')) ??
    types[0]
  );
}

/** success response codes in preference order: specific 2xx ascending, then 2XX; `default` when none */
function successCodes(responses: Obj): string[] {
  const keys = Object.keys(responses);
  const specific = keys.filter((k) => /^2\d\d$/.test(k)).sort((a, b) => Number(a) - Number(b));
  const range = keys.filter((k) => /^2xx$/i.test(k));
  const ok = [...specific, ...range];
  if (ok.length) return ok;
  return keys.includes('default') ? ['default'] : [];
}

function objectFlattenable(raw: unknown): raw is Obj {
  if (!isObj(raw)) return false;
  if (raw.type !== undefined && raw.type !== 'object' && !(Array.isArray(raw.type) && raw.type.includes('object'))) return false;
  if (!isObj(raw.properties)) return false;
  for (const k of ['allOf', 'anyOf', 'oneOf', 'not', 'if', 'patternProperties', 'unevaluatedProperties', 'dependentSchemas']) {
    if (raw[k] !== undefined) return false;
  }
  return raw.additionalProperties === undefined || raw.additionalProperties === false;
}

export function toolName(operationId: string | undefined, method: string, path: string): string {
  let name = sanitizeName(operationId ?? `${method.toLowerCase()} ${path}`);
  if (!name) name = sanitizeName(`${method.toLowerCase()} ${path}`) || method.toLowerCase();
  if (name.length > 128) {
    const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
    name = `${name.slice(0, 119)}_${hash}`;
  }
  return name;
}

function annotationsFor(method: string, title: string | undefined): ToolAnnotations {
  const m = method.toUpperCase();
  const readOnly = m === 'GET' || m === 'HEAD' || m === 'OPTIONS';
  const a: { -readonly [K in keyof ToolAnnotations]: ToolAnnotations[K] } = {};
  if (title !== undefined) a.title = title;
  a.readOnlyHint = readOnly;
  if (m === 'DELETE') a.destructiveHint = true;
  else if (readOnly) a.destructiveHint = false;
  a.idempotentHint = readOnly || m === 'PUT' || m === 'DELETE';
  a.openWorldHint = true;
  return a;
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
function swagger2ParamSchema(p: Obj): Obj {
  const s: Obj = {};
  for (const k of SWAGGER2_SCHEMA_FIELDS) if (p[k] !== undefined) s[k] = p[k];
  return s;
}

const STYLES = new Set(['simple', 'form', 'label', 'matrix', 'spaceDelimited', 'pipeDelimited', 'deepObject']);

interface BodyPlan {
  readonly schema: unknown;
  readonly contentType: string;
  readonly required: boolean;
  readonly description?: string | undefined;
  /** Swagger 2.0 formData parameters (the body is the object they form) */
  readonly form?: readonly RawParam[] | undefined;
}

/** what an operation needs, before any schema is converted */
interface OperationPlan {
  readonly path: string;
  readonly method: string;
  readonly pointer: string;
  readonly op: Obj;
  readonly operationId: string | undefined;
  /** path, query, header, cookie parameters, in that order */
  readonly params: readonly RawParam[];
  readonly paramSchemas: ReadonlyMap<RawParam, unknown>;
  readonly body: BodyPlan | undefined;
  readonly output: { readonly schema: unknown; readonly contentType: string; readonly pointer: string } | undefined;
}

class OperationBuilder {
  readonly input: SchemaGraph;
  readonly output: SchemaGraph;

  constructor(
    private readonly doc: RefDoc,
    private readonly kind: Kind,
    private readonly spec: Obj,
  ) {
    this.input = new SchemaGraph(doc, kind, 'input');
    this.output = new SchemaGraph(doc, kind, 'output');
  }

  /** phase 1: the raw parts of an operation; its schemas are added to the graphs */
  plan(path: string, method: string, pathItem: Obj, op: Obj, pointer: string): OperationPlan {
    const upper = method.toUpperCase();
    const params = this.mergedParameters(path, pathItem, op, pointer);
    const v2 = this.kind === 'swagger-2.0';
    const regular: RawParam[] = [];
    const formParams: RawParam[] = [];
    let bodyParam: RawParam | undefined;
    for (const p of params) {
      if ((p.in as string) === 'body') {
        if (bodyParam) throw new OpenApiError(`operation ${upper} ${path} has more than one body parameter`, p.pointer);
        bodyParam = p;
      } else if ((p.in as string) === 'formData') formParams.push(p);
      else regular.push(p);
    }
    if (bodyParam && formParams.length) {
      throw new OpenApiError(`operation ${upper} ${path} has both body and formData parameters`, bodyParam.pointer);
    }

    let body: BodyPlan | undefined;
    if (v2) {
      const consumes = (Array.isArray(op.consumes) ? op.consumes : Array.isArray(this.spec.consumes) ? this.spec.consumes : []).filter(
        (c): c is string => typeof c === 'string',
      );
      if (bodyParam) {
        const plain = consumes.filter((c) => !/^(multipart\/|application\/x-www-form-urlencoded)/i.test(c));
        body = {
          schema: bodyParam.obj.schema ?? {},
          contentType: pickRequestMedia(plain) ?? 'application/json',
          required: bodyParam.obj.required === true,
          description: nonEmpty(bodyParam.obj.description),
        };
      } else if (formParams.length) {
        const lc = consumes.map((c) => c.toLowerCase());
        const multipart =
          formParams.some((p) => p.obj.type === 'file') ||
          (lc.some((c) => c.startsWith('multipart/form-data')) && !lc.some((c) => c.startsWith('application/x-www-form-urlencoded')));
        body = {
          schema: undefined,
          contentType: multipart ? 'multipart/form-data' : 'application/x-www-form-urlencoded',
          required: formParams.some((p) => p.obj.required === true),
          form: formParams,
        };
      }
    } else if (op.requestBody !== undefined) {
      const rb = this.doc.deref(op.requestBody, pointer + '/requestBody');
      if (isObj(rb) && isObj(rb.content)) {
        const ct = pickRequestMedia(Object.keys(rb.content));
        if (ct !== undefined) {
          const media = this.doc.deref(rb.content[ct], `${pointer}/requestBody/content/${escapePointer(ct)}`);
          const contentType = ct === '*/*' || ct.toLowerCase() === 'application/*' ? 'application/json' : ct;
          const hasSchema = isObj(media) && media.schema !== undefined;
          body = {
            schema: hasSchema ? (media as Obj).schema : isJsonMedia(contentType) ? {} : { type: 'string' },
            contentType,
            required: rb.required === true,
            description: nonEmpty(rb.description),
          };
        }
      }
    }

    const sorted = [...regular].sort((a, b) => LOCATIONS.indexOf(a.in) - LOCATIONS.indexOf(b.in));
    const paramSchemas = new Map<RawParam, unknown>();
    for (const p of sorted) paramSchemas.set(p, this.parameterSchema(p));
    for (const p of formParams) paramSchemas.set(p, swagger2ParamSchema(p.obj));
    const output = this.outputPlan(op, pointer);

    this.input.where = pointer;
    this.input.addRoots([...paramSchemas.values()]);
    if (body && !body.form) this.input.addRoots([body.schema]);
    if (output) {
      this.output.where = output.pointer;
      this.output.addRoots([output.schema]);
    }
    return { path, method: upper, pointer, op, operationId: nonEmpty(op.operationId), params: sorted, paramSchemas, body, output };
  }

  /** phase 2: the tool */
  finish(plan: OperationPlan): OpenApiTool {
    const v2 = this.kind === 'swagger-2.0';
    const input = this.input;
    input.where = plan.pointer;
    const deps: ReadonlySet<string>[] = [];
    const used = new Set<string>();
    const properties: Record<string, unknown> = {};
    const required: string[] = [];
    const bindings: ParameterBinding[] = [];
    for (const p of plan.params) {
      let arg = p.name;
      if (used.has(arg)) arg = `${p.in}_${p.name}`;
      for (let i = 2; used.has(arg); i++) arg = `${p.in}_${p.name}_${i}`;
      used.add(arg);
      const c = this.paramProperty(p, plan.paramSchemas.get(p));
      deps.push(c.deps);
      properties[arg] = c.schema;
      const req = p.in === 'path' || p.obj.required === true;
      if (req) required.push(arg);
      const { style, explode } = this.styleOf(p);
      bindings.push({ name: p.name, in: p.in, arg, required: req, style, explode, allowReserved: !v2 && p.obj.allowReserved === true, schema: c.schema });
    }

    let body: BodyBinding | undefined;
    const b = plan.body;
    if (b) {
      let bodySchema: JsonSchema;
      let flatNames: string[] | undefined;
      if (b.form) {
        const props: Record<string, unknown> = {};
        const req: string[] = [];
        for (const p of b.form) {
          const c = this.paramProperty(p, plan.paramSchemas.get(p));
          deps.push(c.deps);
          props[p.name] = c.schema;
          if (p.obj.required === true) req.push(p.name);
        }
        bodySchema = { type: 'object', properties: props, ...(req.length ? { required: req } : {}) };
        flatNames = Object.keys(props);
      } else {
        const c = input.convertRoot(b.schema);
        deps.push(c.deps);
        bodySchema = typeof c.schema === 'boolean' ? (c.schema ? {} : { not: {} }) : c.schema;
        if (objectFlattenable(this.derefSchema(b.schema)) && isObj(bodySchema.properties)) flatNames = Object.keys(bodySchema.properties);
      }
      if (flatNames !== undefined && !flatNames.some((n) => used.has(n))) {
        const props = bodySchema.properties as Record<string, unknown>;
        for (const n of flatNames) properties[n] = props[n];
        if (b.required || b.form) {
          const req = Array.isArray(bodySchema.required) ? (bodySchema.required as unknown[]) : [];
          for (const r of req) if (typeof r === 'string' && flatNames.includes(r) && !required.includes(r)) required.push(r);
        }
        body = { contentType: b.contentType, required: b.required, mode: 'flattened', properties: flatNames, arg: '', schema: bodySchema };
      } else {
        let arg = 'body';
        if (used.has(arg)) arg = 'requestBody';
        for (let i = 2; used.has(arg); i++) arg = `body_${i}`;
        used.add(arg);
        const prop: JsonSchema = { ...bodySchema };
        if (b.description) prop.description = b.description;
        properties[arg] = prop;
        if (b.required) required.push(arg);
        body = { contentType: b.contentType, required: b.required, mode: 'wrapped', properties: [], arg, schema: prop };
      }
    }

    const inputSchema: JsonSchema = { type: 'object', properties };
    if (required.length) inputSchema.required = required;
    inputSchema.additionalProperties = false;
    const defs = input.defsFor(...deps);
    if (Object.keys(defs).length) inputSchema.$defs = defs;

    let outputSchema: JsonSchema | undefined;
    let outputWrapped = false;
    if (plan.output) {
      this.output.where = plan.output.pointer;
      const c = this.output.convertRoot(plan.output.schema);
      const odefs = this.output.defsFor(c.deps);
      const hasDefs = Object.keys(odefs).length > 0;
      if (typeof c.schema === 'object' && isObjectSchema(c.schema, odefs)) {
        outputSchema = { ...c.schema, type: 'object' };
      } else {
        outputSchema = { type: 'object', properties: { result: c.schema }, required: ['result'] };
        outputWrapped = true;
      }
      if (hasDefs) outputSchema.$defs = odefs;
    }

    const title = nonEmpty(plan.op.summary);
    const description = nonEmpty(plan.op.description) ?? title;
    const operation: OperationBinding = {
      operationId: plan.operationId,
      method: plan.method,
      path: plan.path,
      parameters: bindings,
      body,
      responseContentType: plan.output?.contentType,
    };
    return {
      name: toolName(plan.operationId, plan.method, plan.path),
      title,
      description,
      inputSchema,
      outputSchema,
      outputWrapped,
      annotations: annotationsFor(plan.method, title),
      operation,
    };
  }

  private derefSchema(s: unknown): unknown {
    let v = s;
    const seen = new Set<string>();
    while (isObj(v) && typeof v.$ref === 'string' && !seen.has(v.$ref)) {
      seen.add(v.$ref);
      v = this.doc.lookup(v.$ref);
    }
    return v;
  }

  private mergedParameters(path: string, pathItem: Obj, op: Obj, pointer: string): RawParam[] {
    const pathPointer = pointer.slice(0, pointer.lastIndexOf('/'));
    const collect = (list: unknown, base: string): RawParam[] => {
      if (!Array.isArray(list)) return [];
      const out: RawParam[] = [];
      list.forEach((raw, i) => {
        const where = `${base}/parameters/${i}`;
        const p = this.doc.deref(raw, where);
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
  private parameterSchema(p: RawParam): unknown {
    if (this.kind === 'swagger-2.0') return swagger2ParamSchema(p.obj);
    if (p.obj.schema !== undefined) return p.obj.schema;
    if (isObj(p.obj.content)) {
      const first = Object.values(p.obj.content)[0];
      const media = this.doc.deref(first, p.pointer + '/content');
      if (isObj(media) && media.schema !== undefined) return media.schema;
    }
    return { type: 'string' };
  }

  /** a parameter's property schema: its converted schema plus the parameter's description etc. */
  private paramProperty(p: RawParam, raw: unknown): { schema: JsonSchema; deps: ReadonlySet<string> } {
    const c = this.input.convertRoot(raw);
    const s: JsonSchema = typeof c.schema === 'boolean' ? {} : { ...c.schema };
    const desc = nonEmpty(p.obj.description);
    if (desc) s.description = desc;
    if (p.obj.deprecated === true) s.deprecated = true;
    if (this.kind !== 'swagger-2.0' && p.obj.example !== undefined && s.examples === undefined) s.examples = [structuredClone(p.obj.example)];
    return { schema: s, deps: c.deps };
  }

  private styleOf(p: RawParam): { style: ParameterBinding['style']; explode: boolean } {
    if (this.kind === 'swagger-2.0') return swagger2Style(p.in, p.obj);
    const def: ParameterBinding['style'] = p.in === 'query' || p.in === 'cookie' ? 'form' : 'simple';
    const style = typeof p.obj.style === 'string' && STYLES.has(p.obj.style) ? (p.obj.style as ParameterBinding['style']) : def;
    const explode = typeof p.obj.explode === 'boolean' ? p.obj.explode : style === 'form';
    return { style, explode };
  }

  /** the success response's JSON schema: the first 2xx (lowest code first) with one; `default` when no 2xx */
  private outputPlan(op: Obj, pointer: string): OperationPlan['output'] {
    const responses = op.responses;
    if (!isObj(responses)) return undefined;
    for (const code of successCodes(responses)) {
      const where = `${pointer}/responses/${escapePointer(code)}`;
      const res = this.doc.deref(responses[code], where);
      if (!isObj(res)) continue;
      if (this.kind === 'swagger-2.0') {
        const produces = (Array.isArray(op.produces) ? op.produces : Array.isArray(this.spec.produces) ? this.spec.produces : []).filter(
          (c): c is string => typeof c === 'string',
        );
        const json = produces.length ? produces.find(isJsonMedia) : 'application/json';
        const resolved = this.derefSchema(res.schema);
        if (json && res.schema !== undefined && !(isObj(resolved) && resolved.type === 'file')) {
          return { schema: res.schema, contentType: json, pointer: where };
        }
      } else if (isObj(res.content)) {
        const types = Object.keys(res.content);
        const json = types.find((t) => t.split(';')[0]!.trim().toLowerCase() === 'application/json') ?? types.find(isJsonMedia);
        if (json) {
          const media = this.doc.deref(res.content[json], `${where}/content/${escapePointer(json)}`);
          if (isObj(media) && media.schema !== undefined) return { schema: media.schema, contentType: json, pointer: where };
        }
      }
    }
    return undefined;
  }
}

/** the kind of a parsed document (undefined when it is none of the three) */
export function kindOf(spec: unknown): Kind | undefined {
  if (!isObj(spec)) return undefined;
  if (spec.swagger === '2.0') return 'swagger-2.0';
  if (typeof spec.openapi === 'string') {
    if (spec.openapi.startsWith('3.1')) return 'openapi-3.1';
    if (spec.openapi.startsWith('3.0')) return 'openapi-3.0';
  }
  return undefined;
}

/**
 * One tool per operation of the document, in document order (paths, then methods). Throws an
 * OpenApiError (with the JSON pointer) for duplicate operationIds, an unresolvable $ref, or a
 * Swagger 2.0 operation with several body parameters / body and formData parameters.
 */
export function toolsOf(spec: object, kind: Kind): OpenApiTool[] {
  const root = spec as Obj;
  const doc = new RefDoc(root);
  const builder = new OperationBuilder(doc, kind, root);
  const tools: OpenApiTool[] = [];
  const paths = root.paths;
  if (!isObj(paths)) return tools;
  const operationIds = new Map<string, string>();
  const plans: OperationPlan[] = [];
  for (const [path, rawItem] of Object.entries(paths)) {
    if (!path.startsWith('/')) continue; // x- extensions
    const itemPointer = pointerOf('paths', path);
    const item = doc.deref(rawItem, itemPointer);
    if (!isObj(item)) continue;
    for (const key of Object.keys(item)) {
      if (!(HTTP_METHODS as readonly string[]).includes(key)) continue;
      const op = item[key];
      if (!isObj(op)) continue;
      const pointer = `${itemPointer}/${key}`;
      const id = nonEmpty(op.operationId);
      if (id !== undefined) {
        const first = operationIds.get(id);
        if (first !== undefined) throw new OpenApiError(`duplicate operationId "${id}" (also at ${first})`, pointer + '/operationId');
        operationIds.set(id, pointer);
      }
      plans.push(builder.plan(path, key, item, op, pointer));
    }
  }
  for (const plan of plans) tools.push(builder.finish(plan));
  return tools;
}

// -------------------------------------------------------------------------------------------
// selection

function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (!a.length) return b.length;
  if (!b.length) return a.length;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function labelOf(t: OpenApiTool): string {
  return t.operation.operationId ?? `${t.operation.method} ${t.operation.path}`;
}

/** up to 5 operations whose id, "METHOD /path" or tool name is close to `wanted` */
export function closeOperations(tools: readonly OpenApiTool[], wanted: string): string[] {
  const w = wanted.toLowerCase();
  const scored: { label: string; score: number }[] = [];
  for (const t of tools) {
    const forms = [t.operation.operationId, `${t.operation.method} ${t.operation.path}`, t.name].filter((f): f is string => !!f);
    let best = Infinity;
    for (const f of forms) {
      const fl = f.toLowerCase();
      let d = levenshtein(w, fl);
      if (fl.includes(w) || w.includes(fl)) d = Math.min(d, Math.abs(fl.length - w.length) / 4);
      best = Math.min(best, d);
    }
    const limit = Math.max(2, Math.floor(w.length * 0.4));
    if (best <= limit) scored.push({ label: labelOf(t), score: best });
  }
  scored.sort((a, b) => a.score - b.score || a.label.localeCompare(b.label));
  return [...new Set(scored.map((s) => s.label))].slice(0, 5);
}

function findOperation(tools: readonly OpenApiTool[], wanted: string): OpenApiTool {
  const w = wanted.trim();
  let matches = tools.filter((t) => t.operation.operationId === w);
  if (!matches.length) {
    const m = /^([A-Za-z]+)\s+(\S.*)$/.exec(w);
    if (m) {
      const method = m[1]!.toUpperCase();
      const path = m[2]!.trim();
      matches = tools.filter((t) => t.operation.method === method && t.operation.path === path);
    }
  }
  if (!matches.length) matches = tools.filter((t) => t.name === w);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new OpenApiError(`operation "${wanted}" is ambiguous: ${matches.map((t) => `${t.operation.method} ${t.operation.path}`).join(', ')}`);
  }
  const close = closeOperations(tools, w);
  const hint = close.length ? ` (did you mean ${close.map((c) => `"${c}"`).join(', ')}?)` : tools.length ? ` (the document has ${tools.length} operations)` : ' (the document has no operations)';
  throw new OpenApiError(`unknown operation "${wanted}"${hint}`);
}

function checkUnique(tools: readonly OpenApiTool[]): void {
  const seen = new Map<string, OpenApiTool>();
  for (const t of tools) {
    const first = seen.get(t.name);
    if (first) {
      const a = `${first.operation.method} ${first.operation.path}`;
      const b = `${t.operation.method} ${t.operation.path}`;
      const detail = a === b ? `selected twice (operation ${a})` : `operations ${a} and ${b}`;
      throw new OpenApiError(`duplicate tool name "${t.name}": ${detail}; give one of them another name in the tools selection`);
    }
    seen.set(t.name, t);
  }
}

/**
 * The tools an openapi server exposes: all operations when `selection` is undefined, otherwise the
 * selected ones in selection order, with their `name` / `description` overrides. An operation is
 * matched by operationId, then "METHOD /path" (method case-insensitive), then generated tool name.
 * Throws an OpenApiError for an unknown operation (naming close matches), an invalid tool name or a
 * duplicate tool name.
 */
export function selectTools(api: ImportedApi, selection: readonly ToolSelection[] | undefined): OpenApiTool[] {
  if (selection === undefined) {
    const all = [...api.tools];
    checkUnique(all);
    return all;
  }
  const out: OpenApiTool[] = [];
  for (const sel of selection) {
    const tool = findOperation(api.tools, sel.operation);
    let t = tool;
    if (sel.name !== undefined) {
      if (!TOOL_NAME_PATTERN.test(sel.name)) {
        throw new OpenApiError(`invalid tool name "${sel.name}" for operation "${sel.operation}": it must match ${TOOL_NAME_PATTERN.source}`);
      }
      t = { ...t, name: sel.name };
    }
    if (sel.description !== undefined) t = { ...t, description: sel.description };
    out.push(t);
  }
  checkUnique(out);
  return out;
}
