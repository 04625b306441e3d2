/**
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
 */
import { OpenApiError, type JsonSchema } from './types.js';
import { isObj, str, type Kind, type Obj } from './document-values.js';
import { decodeSegment, type RefDoc } from './refs.js';
import { sanitizeName } from './naming.js';
import { ARRAY_SUBSCHEMAS, DATA_KEYWORDS, MAP_SUBSCHEMAS, SCALAR_KEYWORDS, SINGLE_SUBSCHEMA, validRegex } from './schema-keywords.js';

type Mode = 'input' | 'output';

/** a schema used twice or more is inlined while its unfolded size stays within this many nodes */
const SHARED_INLINE_LIMIT = 24;
/** inlined schemas nest at most this many levels; deeper parts go to $defs */
const MAX_INLINE_DEPTH = 12;

export interface Converted {
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
export class SchemaGraph {
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
export function isObjectSchema(s: JsonSchema | boolean, defs: Record<string, JsonSchema | boolean>, depth = 0): boolean {
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
