// The whitelist: every member, method, indexer and constructor an expression can reach is an entry of a table
// here, keyed by type. Tables are null-prototype objects read with hasOwn, so names like `constructor` or
// `__proto__` never resolve to anything.
import { CsException } from '../errors.js';
import type { Ty, Runtime } from '../types.js';
import {
  T, arrayOf, checkColl, convertToken, isDyn, isInstance, rtTypeKey, runtimeTypeName, invalidCast, nullRef, kvOf,
} from '../types.js';
import { JArray, JObject, JProperty, JToken, JValue } from '../runtime/json.js';
import { CsDateTime, CsDateTimeOffset, CsTimeSpan, MIN_MS } from '../runtime/time.js';
import {
  CsDictionary, CsGroupCollection, CsGrouping, CsGuid, CsKeyValuePair, CsList, CsMatchCollection, StringListMap,
} from '../runtime/values.js';
import { VariablesMap } from '../context.js';
import { XmlDomNodeList } from '../runtime/xml.js';

export interface CallCtx {
  rt: Runtime;
  /** generic type arguments */
  gen: Ty[];
  /** static types of the arguments */
  argTys: Ty[];
  /** static type of the receiver (instance methods) */
  selfTy: Ty;
}

export type TyFn<A extends unknown[]> = Ty | ((...a: A) => Ty);

export interface PropDef {
  ty: TyFn<[self: Ty]>;
  get(self: any, rt: Runtime): unknown;
  set?(self: any, v: unknown, rt: Runtime): void;
  /** what reading this property means for buffering */
  reads?: 'requestBody' | 'body' | 'variables';
}

export interface MethodDef {
  ret: TyFn<[self: Ty, args: Ty[], gen: Ty[]]>;
  call(self: any, args: any[], c: CallCtx): unknown;
  min?: number;
  max?: number;
  /** parameter names, for named arguments */
  names?: string[];
  /** parameter types of a lambda passed at argument i (null: not a lambda position) */
  lambda?: (self: Ty, i: number, args: Ty[]) => Ty[] | null;
  /** type of an out parameter at argument i (null: not an out parameter) */
  out?: (self: Ty, i: number, args: Ty[], gen: Ty[], count: number) => Ty | null;
  /** implicit conversion target of argument i (e.g. JToken), or null */
  coerce?: (self: Ty, i: number, args: Ty[], count: number) => Ty | null;
  /** allowed number of generic type arguments [min, max] (default [0, 0]) */
  gen?: [number, number];
  /** load-time validation of the call's static types: an error message, or null */
  check?: (self: Ty, args: Ty[], gen: Ty[]) => string | null;
}

export interface IndexerDef {
  ty: TyFn<[self: Ty, args: Ty[]]>;
  get(self: any, keys: any[], rt: Runtime): unknown;
  set?(self: any, keys: any[], v: unknown, rt: Runtime): void;
  /** implicit conversion target of the assigned value */
  valueTy?: (self: Ty) => Ty;
}

export interface CtorDef {
  call(args: any[], c: CallCtx): unknown;
  min?: number;
  max?: number;
  coerce?: (i: number, args: Ty[], count: number) => Ty | null;
  /** static type of the created object (default: the type itself, with its generic arguments) */
  ty?: (gen: Ty[]) => Ty;
  gen?: [number, number];
  lambda?: (i: number, args: Ty[]) => Ty[] | null;
}

export interface TypeDef {
  name: string;
  props: Record<string, PropDef>;
  methods: Record<string, MethodDef>;
  sprops: Record<string, PropDef>;
  smethods: Record<string, MethodDef>;
  indexer?: IndexerDef;
  ctor?: CtorDef;
  /** for enums: member name → value */
  enumValues?: Record<string, number>;
  /** number of generic parameters of the type (List<T> = 1) */
  arity?: number;
}

export const TYPES = new Map<string, TypeDef>();

function nullProto<V>(src: Record<string, V> = {}): Record<string, V> {
  const o = Object.create(null) as Record<string, V>;
  for (const [k, v] of Object.entries(src)) o[k] = v;
  return o;
}

export function own<V>(table: Record<string, V> | undefined, name: string): V | undefined {
  if (!table || !Object.prototype.hasOwnProperty.call(table, name)) return undefined;
  return table[name];
}

/** every member name that exists on some type (for receivers of unknown static type) */
export const ALL_MEMBER_NAMES = new Set<string>();

export function define(
  name: string,
  parts: {
    props?: Record<string, PropDef>;
    methods?: Record<string, MethodDef>;
    sprops?: Record<string, PropDef>;
    smethods?: Record<string, MethodDef>;
    indexer?: IndexerDef;
    ctor?: CtorDef;
    enumValues?: Record<string, number>;
    arity?: number;
  },
): TypeDef {
  let def = TYPES.get(name);
  if (!def) {
    def = { name, props: nullProto(), methods: nullProto(), sprops: nullProto(), smethods: nullProto() };
    TYPES.set(name, def);
  }
  Object.assign(def.props, parts.props ?? {});
  Object.assign(def.methods, parts.methods ?? {});
  Object.assign(def.sprops, parts.sprops ?? {});
  Object.assign(def.smethods, parts.smethods ?? {});
  for (const k of Object.keys(parts.props ?? {})) ALL_MEMBER_NAMES.add(k);
  for (const k of Object.keys(parts.methods ?? {})) ALL_MEMBER_NAMES.add(k);
  if (parts.indexer) def.indexer = parts.indexer;
  if (parts.ctor) def.ctor = parts.ctor;
  if (parts.arity !== undefined) def.arity = parts.arity;
  if (parts.enumValues) {
    def.enumValues = nullProto(parts.enumValues);
  }
  return def;
}

/** the lookup chain of member tables for a static type */
export function chainOf(t: Ty): string[] {
  switch (t.n) {
    case 'int':
    case 'long':
    case 'short':
    case 'byte':
    case 'double':
      return [t.n, 'number', 'object'];
    case 'string':
      return ['string', 'IEnumerable', 'object'];
    case 'Array':
    case 'List':
    case 'Dictionary':
    case 'StringListMap':
    case 'IVariables':
    case 'MatchCollection':
    case 'GroupCollection':
    case 'XmlNodeList':
    case 'XmlAttributeCollection':
    case 'IGrouping':
    case 'IEnumerable':
      return [t.n, 'IEnumerable', 'object'];
    case 'JObject':
    case 'JArray':
      return [t.n, 'JContainer', 'JToken', 'IEnumerable', 'object'];
    case 'JValue':
    case 'JProperty':
      return [t.n, 'JToken', 'IEnumerable', 'object'];
    case 'JContainer':
      return ['JContainer', 'JToken', 'IEnumerable', 'object'];
    case 'JToken':
      return ['JToken', 'IEnumerable', 'object'];
    case 'Enum':
      return ['Enum', 'object'];
    default:
      return [t.n, 'object'];
  }
}

export function findProp(t: Ty, name: string): PropDef | undefined {
  for (const n of chainOf(t)) {
    const p = own(TYPES.get(n)?.props, name);
    if (p) return p;
  }
  return undefined;
}

export function findMethod(t: Ty, name: string): MethodDef | undefined {
  for (const n of chainOf(t)) {
    const m = own(TYPES.get(n)?.methods, name);
    if (m) return m;
  }
  return undefined;
}

export function findIndexer(t: Ty): IndexerDef | undefined {
  for (const n of chainOf(t)) {
    const ix = TYPES.get(n)?.indexer;
    if (ix) return ix;
  }
  return undefined;
}

/** the static type of a runtime value, for dynamic dispatch */
export function tyOfValue(v: unknown): Ty {
  const k = rtTypeKey(v);
  switch (k) {
    case 'Array':
      return v instanceof Uint8Array ? T.bytes : arrayOf(T.dynamic);
    case 'List':
      return { n: 'List', a: [T.dynamic] };
    case 'Dictionary':
      return { n: 'Dictionary', a: [T.dynamic, T.dynamic] };
    case 'KeyValuePair':
      return kvOf(T.dynamic, T.dynamic);
    default:
      return { n: k };
  }
}

export function resolveTy<A extends unknown[]>(f: TyFn<A>, ...a: A): Ty {
  return typeof f === 'function' ? f(...a) : f;
}

// ------------------------------------------------------------------ runtime helpers shared by the tables

/** default(T) */
export function defaultOf(t: Ty): unknown {
  if (t.nullable) return null;
  switch (t.n) {
    case 'int':
    case 'long':
    case 'double':
    case 'byte':
    case 'short':
      return 0;
    case 'bool':
      return false;
    case 'char':
      return '\0';
    case 'DateTime':
      return new CsDateTime(MIN_MS, 'Unspecified');
    case 'DateTimeOffset':
      return new CsDateTimeOffset(MIN_MS, 0);
    case 'TimeSpan':
      return new CsTimeSpan(0);
    case 'Guid':
      return CsGuid.empty();
    case 'KeyValuePair':
      return new CsKeyValuePair(defaultOf((t.a?.[0] ?? T.object) as Ty), defaultOf((t.a?.[1] ?? T.object) as Ty));
    default:
      return null;
  }
}

const VALUE_TYPE_NAMES = new Set(['int', 'long', 'double', 'byte', 'short', 'bool', 'char', 'DateTime', 'DateTimeOffset', 'TimeSpan', 'Guid']);

/** runtime conversion of a value of unknown static type to T (C# cast / unboxing, lenient about JSON values) */
export function castValue(v: unknown, t: Ty): unknown {
  if (isDyn(t)) return v;
  if (v === null || v === undefined) {
    if (VALUE_TYPE_NAMES.has(t.n) && !(t as { nullable?: boolean }).nullable) nullRef();
    return null;
  }
  switch (t.n) {
    case 'string':
      if (typeof v === 'string') return v;
      if (v instanceof JToken) return convertToken(v, 'string');
      return invalidCast(v, 'System.String');
    case 'int':
    case 'long':
    case 'short':
    case 'byte':
      if (typeof v === 'number') {
        if (!Number.isInteger(v)) invalidCast(v, netTypeName(t));
        return v;
      }
      if (v instanceof JToken) return convertToken(v, t.n);
      return invalidCast(v, netTypeName(t));
    case 'double':
      if (typeof v === 'number') return v;
      if (v instanceof JToken) return convertToken(v, 'double');
      return invalidCast(v, 'System.Double');
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (v instanceof JToken) return convertToken(v, 'bool');
      return invalidCast(v, 'System.Boolean');
    case 'char':
      if (typeof v === 'string' && v.length === 1) return v;
      return invalidCast(v, 'System.Char');
    case 'DateTime':
      if (v instanceof CsDateTime) return v;
      if (v instanceof JToken) return convertToken(v, 'DateTime');
      return invalidCast(v, 'System.DateTime');
    case 'DateTimeOffset':
      if (v instanceof CsDateTimeOffset) return v;
      if (v instanceof CsDateTime) return CsDateTimeOffset.fromDateTime(v.kind === 'Utc' ? v : v.withKind('Unspecified'));
      if (v instanceof JToken) return convertToken(v, 'DateTimeOffset');
      return invalidCast(v, 'System.DateTimeOffset');
    case 'TimeSpan':
    case 'Guid':
      if (isInstance(v, t)) return v;
      if (v instanceof JToken) return convertToken(v, t.n);
      return invalidCast(v, `System.${t.n}`);
    case 'JToken':
    case 'JObject':
    case 'JArray':
    case 'JValue':
    case 'JProperty':
    case 'JContainer':
      if (isInstance(v, t)) return v;
      return invalidCast(v, `Newtonsoft.Json.Linq.${t.n}`);
    case 'Array':
      if (Array.isArray(v) || v instanceof Uint8Array) return v;
      return invalidCast(v, netTypeName(t));
    default:
      if (isInstance(v, t)) return v;
      return invalidCast(v, netTypeName(t));
  }
}

export function netTypeName(t: Ty): string {
  const m: Record<string, string> = {
    int: 'System.Int32', long: 'System.Int64', short: 'System.Int16', byte: 'System.Byte', double: 'System.Double', bool: 'System.Boolean',
    string: 'System.String', char: 'System.Char', object: 'System.Object',
  };
  if (t.n === 'Array') return `${netTypeName((t.a?.[0] ?? T.object) as Ty)}[]`;
  return m[t.n] ?? t.n;
}

/** snapshot of the elements of an enumerable value (foreach / LINQ) */
export function iterate(v: unknown, rt: Runtime, selfTy?: Ty): unknown[] {
  if (v === null || v === undefined) throw new CsException('ArgumentNullException', "Value cannot be null. (Parameter 'source')");
  let out: unknown[];
  if (Array.isArray(v)) out = v.slice();
  else if (v instanceof Uint8Array) out = Array.from(v);
  else if (typeof v === 'string') out = v.split('');
  else if (v instanceof CsList) out = v.items.slice();
  else if (v instanceof CsDictionary) out = v.entries().map(([k, x]) => new CsKeyValuePair(k, x));
  else if (v instanceof JArray) out = v.items.slice();
  else if (v instanceof JObject) {
    // a JObject enumerates KeyValuePair<string, JToken>; typed as JToken it enumerates its JProperty children
    if (selfTy && selfTy.n !== 'JObject' && !isDyn(selfTy)) out = [...v.props.values()];
    else out = [...v.props.values()].map((p) => new CsKeyValuePair(p.name, p.value));
  } else if (v instanceof JProperty) out = [v.value];
  else if (v instanceof JValue) throw new CsException('InvalidOperationException', 'Cannot access child value on Newtonsoft.Json.Linq.JValue.');
  else if (v instanceof StringListMap) out = v.entries().map(([k, x]) => new CsKeyValuePair(k, x.slice()));
  else if (v instanceof VariablesMap) out = v.entries().map(([k, x]) => new CsKeyValuePair(k, x));
  else if (v instanceof CsMatchCollection) out = v.matches.slice();
  else if (v instanceof CsGroupCollection) out = v.match.groups.slice();
  else if (v instanceof XmlDomNodeList) out = v.nodes.slice();
  else if (v instanceof CsGrouping) out = v.items.slice();
  else throw new CsException('InvalidCastException', `Type '${runtimeTypeName(v)}' is not enumerable.`);
  checkColl(rt, out.length);
  return out;
}

export { T };
