// Static types of the compiler, the evaluation runtime state (limits) and the C# value semantics shared by the
// compiler and the member tables: ToString, equality, casts, JSON conversions.
import { CsException, LimitError } from './errors.js';
import {
  ApiInfo, AuthorizationInfo, DeploymentInfo, ExpressionContext, GroupInfo, HeaderMap, LastErrorInfo, McpInfo, MessageBody,
  OperationInfo, ProductInfo, RequestInfo, ResponseInfo, SubscriptionInfo, UrlInfo, UserInfo, VariablesMap,
} from './context.js';
import { JArray, JObject, JProperty, JToken, JValue, deepClone, jvalueText, tokenToString } from './runtime/json.js';
import { formatDouble, formatInteger, formatNumber } from './runtime/numfmt.js';
import {
  CsStringReader, CsXmlReader, XAttr, XComment, XDoc, XElem, XText, XmlDomDoc, XmlDomNode, XmlDomNodeList, XmlName, serializeXml,
} from './runtime/xml.js';
import {
  CsDateTime, CsDateTimeOffset, CsTimeSpan, formatDateTime, formatDateTimeOffset, formatTimeSpan, parseDateTime,
} from './runtime/time.js';
import {
  BasicCredentials, CsAnon, CsDictionary, CsEnum, CsExceptionValue, CsGroup, CsGroupCollection, CsGuid, CsHash, CsKeyValuePair,
  CsGrouping, CsList, CsMatch, CsMatchCollection, CsRandom, CsRsa, CsStringBuilder, CsTypeInfo, CsUri, CsX509, Jwt, StringListMap,
} from './runtime/values.js';

// ------------------------------------------------------------------ static types

export interface Ty {
  readonly n: string;
  readonly a?: readonly Ty[];
  /** 'ctxResponse' marks context.Response (so reading its Body is a response-body read) */
  readonly tag?: string;
  /** Nullable<T> of a value type (int?, DateTime?) */
  readonly nullable?: boolean;
  /** field types of an anonymous type */
  readonly f?: ReadonlyMap<string, Ty>;
}

const mk = (n: string): Ty => ({ n });
export const T = {
  dynamic: mk('dynamic'),
  object: mk('object'),
  void: mk('void'),
  null: mk('null'),
  string: mk('string'),
  char: mk('char'),
  bool: mk('bool'),
  int: mk('int'),
  long: mk('long'),
  double: mk('double'),
  byte: mk('byte'),
  short: mk('short'),
  JToken: mk('JToken'),
  JObject: mk('JObject'),
  JArray: mk('JArray'),
  JValue: mk('JValue'),
  JProperty: mk('JProperty'),
  DateTime: mk('DateTime'),
  DateTimeOffset: mk('DateTimeOffset'),
  TimeSpan: mk('TimeSpan'),
  Guid: mk('Guid'),
  Uri: mk('Uri'),
  Jwt: mk('Jwt'),
  bytes: { n: 'Array', a: [mk('byte')] } as Ty,
  strings: { n: 'Array', a: [mk('string')] } as Ty,
  StringListMap: mk('StringListMap'),
  Exception: mk('Exception'),
};

export const arrayOf = (e: Ty): Ty => ({ n: 'Array', a: [e] });
export const listOf = (e: Ty): Ty => ({ n: 'List', a: [e] });
export const enumOf = (e: Ty): Ty => ({ n: 'IEnumerable', a: [e] });
export const dictOf = (k: Ty, v: Ty): Ty => ({ n: 'Dictionary', a: [k, v] });
export const kvOf = (k: Ty, v: Ty): Ty => ({ n: 'KeyValuePair', a: [k, v] });
export const funcOf = (params: Ty[], ret: Ty): Ty => ({ n: 'Func', a: [...params, ret] });

export const NUMERIC = new Set(['int', 'long', 'double', 'byte', 'short', 'char']);
export const INTEGRAL = new Set(['int', 'long', 'byte', 'short']);
export const VALUE_TYPES = new Set([
  'int', 'long', 'double', 'byte', 'short', 'char', 'bool', 'DateTime', 'DateTimeOffset', 'TimeSpan', 'Guid', 'KeyValuePair',
]);

export function isDyn(t: Ty): boolean {
  return t.n === 'dynamic' || t.n === 'object';
}
export function isNumeric(t: Ty): boolean {
  return NUMERIC.has(t.n) && t.n !== 'char';
}
export function isIntegral(t: Ty): boolean {
  return INTEGRAL.has(t.n);
}
export function sameType(a: Ty, b: Ty): boolean {
  if (a.n !== b.n) return false;
  const aa = a.a ?? [];
  const ba = b.a ?? [];
  return aa.length === ba.length && aa.every((x, i) => sameType(x, ba[i] as Ty));
}

const DISPLAY: Record<string, string> = {
  StringListMap: 'IReadOnlyDictionary<string, string[]>',
  IVariables: 'IReadOnlyDictionary<string, object>',
  IContext: 'context',
};

export function tyName(t: Ty): string {
  switch (t.n) {
    case 'Array':
      return `${tyName((t.a?.[0] ?? T.object) as Ty)}[]`;
    case 'List':
    case 'IEnumerable':
    case 'Dictionary':
    case 'KeyValuePair':
      return `${t.n}<${(t.a ?? []).map(tyName).join(', ')}>`;
    case 'Func':
      return 'lambda';
    default:
      return DISPLAY[t.n] ?? t.n;
  }
}

/** element type when enumerated (foreach / LINQ), or null */
export function elemType(t: Ty): Ty | null {
  switch (t.n) {
    case 'Array':
    case 'List':
    case 'IEnumerable':
      return (t.a?.[0] ?? T.dynamic) as Ty;
    case 'IGrouping':
      return (t.a?.[1] ?? T.dynamic) as Ty;
    case 'Dictionary':
      return kvOf((t.a?.[0] ?? T.dynamic) as Ty, (t.a?.[1] ?? T.dynamic) as Ty);
    case 'string':
      return T.char;
    case 'JArray':
    case 'JToken':
    case 'JProperty':
    case 'JValue':
      return T.JToken;
    case 'JObject':
      return kvOf(T.string, T.JToken);
    case 'StringListMap':
      return kvOf(T.string, T.strings);
    case 'IVariables':
      return kvOf(T.string, T.object);
    case 'MatchCollection':
      return mk('Match');
    case 'GroupCollection':
      return mk('Group');
    case 'XmlNodeList':
    case 'XmlAttributeCollection':
      return mk('XmlNode');
    case 'dynamic':
    case 'object':
      return T.dynamic;
    default:
      return null;
  }
}

// ------------------------------------------------------------------ runtime state and limits

export interface Runtime {
  steps: number;
  maxSteps: number;
  nextCheck: number;
  deadline: number;
  maxStr: number;
  maxColl: number;
  maxDepth: number;
  depth: number;
  /** offset (in the code) of the node being evaluated, for error positions */
  at: number;
  /** characters / elements allocated by large strings and collections so far (bounded by 16 × maxStr) */
  alloc: number;
  ctx: ExpressionContext;
}

export const TIME_CHECK_INTERVAL = 256;

export function tick(rt: Runtime, n = 1): void {
  rt.steps += n;
  if (rt.steps >= rt.nextCheck) {
    if (rt.steps > rt.maxSteps) throw new LimitError(`evaluation exceeded ${rt.maxSteps} steps`);
    rt.nextCheck = Math.min(rt.steps + TIME_CHECK_INTERVAL, rt.maxSteps + 1);
    if (performance.now() > rt.deadline) throw new LimitError('evaluation exceeded its time limit');
  }
}

function allocate(rt: Runtime, n: number): void {
  rt.alloc += n;
  if (rt.alloc > rt.maxStr * 16) throw new LimitError(`evaluation allocated more than ${rt.maxStr * 16} characters`);
}

export function checkStr(rt: Runtime, s: string): string {
  if (s.length > rt.maxStr) throw new LimitError(`string longer than ${rt.maxStr} characters`);
  if (s.length > 4096) {
    tick(rt, s.length >> 10);
    allocate(rt, s.length);
  }
  return s;
}

/** call before building a string of `n` characters */
export function checkLen(rt: Runtime, n: number): void {
  if (n > rt.maxStr) throw new LimitError(`string longer than ${rt.maxStr} characters`);
  if (n > 4096) {
    tick(rt, n >> 10);
    allocate(rt, n);
  }
}

export function checkColl(rt: Runtime, n: number): void {
  if (n > rt.maxColl) throw new LimitError(`collection larger than ${rt.maxColl} elements`);
  if (n > 1024) {
    tick(rt, n >> 8);
    // an element costs 8 bytes or more (a number, a reference): charged as 16 characters
    allocate(rt, n * 16);
  }
}

// ------------------------------------------------------------------ exceptions

export function nullRef(): never {
  throw new CsException('NullReferenceException', 'Object reference not set to an instance of an object.');
}
export function argNull(name: string): never {
  throw new CsException('ArgumentNullException', `Value cannot be null. (Parameter '${name}')`);
}
export function invalidCast(v: unknown, target: string): never {
  throw new CsException('InvalidCastException', `Unable to cast object of type '${runtimeTypeName(v)}' to type '${target}'.`);
}

// ------------------------------------------------------------------ runtime type names

/** the .NET type name of a runtime value, for messages and GetType().Name */
export function runtimeTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'string':
      return 'System.String';
    case 'boolean':
      return 'System.Boolean';
    case 'number':
      return Number.isInteger(v) ? 'System.Int32' : 'System.Double';
    case 'function':
      return 'System.Func';
    default:
      break;
  }
  if (v instanceof Uint8Array) return 'System.Byte[]';
  if (Array.isArray(v)) return 'System.Object[]';
  if (v instanceof JObject) return 'Newtonsoft.Json.Linq.JObject';
  if (v instanceof JArray) return 'Newtonsoft.Json.Linq.JArray';
  if (v instanceof JValue) return 'Newtonsoft.Json.Linq.JValue';
  if (v instanceof JProperty) return 'Newtonsoft.Json.Linq.JProperty';
  const n = rtTypeKey(v);
  return n === 'object' ? 'System.Object' : n;
}

/** the member-table key of a runtime value */
export function rtTypeKey(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isInteger(v) ? 'int' : 'double';
    case 'function':
      return 'Func';
    default:
      break;
  }
  if (v instanceof Uint8Array || Array.isArray(v)) return 'Array';
  if (v instanceof JObject) return 'JObject';
  if (v instanceof JArray) return 'JArray';
  if (v instanceof JValue) return 'JValue';
  if (v instanceof JProperty) return 'JProperty';
  if (v instanceof CsDateTime) return 'DateTime';
  if (v instanceof CsDateTimeOffset) return 'DateTimeOffset';
  if (v instanceof CsTimeSpan) return 'TimeSpan';
  if (v instanceof CsGuid) return 'Guid';
  if (v instanceof CsUri) return 'Uri';
  if (v instanceof CsList) return 'List';
  if (v instanceof CsDictionary) return 'Dictionary';
  if (v instanceof CsKeyValuePair) return 'KeyValuePair';
  if (v instanceof CsGrouping) return 'IGrouping';
  if (v instanceof CsEnum) return 'Enum';
  if (v instanceof CsAnon) return 'Anon';
  if (v instanceof HeaderMap || v instanceof StringListMap) return 'StringListMap';
  if (v instanceof Jwt) return 'Jwt';
  if (v instanceof BasicCredentials) return 'BasicCredentials';
  if (v instanceof CsRandom) return 'Random';
  if (v instanceof CsStringBuilder) return 'StringBuilder';
  if (v instanceof CsMatch) return 'Match';
  if (v instanceof CsTypeInfo) return 'Type';
  if (v instanceof CsGroup) return 'Group';
  if (v instanceof CsGroupCollection) return 'GroupCollection';
  if (v instanceof CsMatchCollection) return 'MatchCollection';
  if (v instanceof CsHash) return 'HashAlgorithm';
  if (v instanceof CsException || v instanceof CsExceptionValue) return 'Exception';
  if (v instanceof ExpressionContext) return 'IContext';
  if (v instanceof RequestInfo) return 'IRequest';
  if (v instanceof ResponseInfo) return 'IResponse';
  if (v instanceof UrlInfo) return 'IUrl';
  if (v instanceof MessageBody) return 'IMessageBody';
  if (v instanceof VariablesMap) return 'IVariables';
  if (v instanceof ApiInfo) return 'IApi';
  if (v instanceof OperationInfo) return 'IOperation';
  if (v instanceof ProductInfo) return 'IProduct';
  if (v instanceof SubscriptionInfo) return 'ISubscription';
  if (v instanceof UserInfo) return 'IUser';
  if (v instanceof GroupInfo) return 'IGroup';
  if (v instanceof DeploymentInfo) return 'IDeployment';
  if (v instanceof LastErrorInfo) return 'ILastError';
  if (v instanceof McpInfo) return 'IMcp';
  if (v instanceof AuthorizationInfo) return 'Authorization';
  if (v instanceof Encoding) return 'Encoding';
  if (v instanceof CsX509) return 'X509Certificate2';
  if (v instanceof CsRsa) return 'RSA';
  if (v instanceof XElem) return 'XElement';
  if (v instanceof XDoc) return 'XDocument';
  if (v instanceof XAttr) return 'XAttribute';
  if (v instanceof XmlName) return 'XName';
  if (v instanceof XText) return 'XText';
  if (v instanceof XComment) return 'XComment';
  if (v instanceof XmlDomDoc) return 'XmlDocument';
  if (v instanceof XmlDomNode) return 'XmlNode';
  if (v instanceof XmlDomNodeList) return 'XmlNodeList';
  if (v instanceof CsStringReader) return 'StringReader';
  if (v instanceof CsXmlReader) return 'XmlReader';
  if (v instanceof CsRegexObj) return 'Regex';
  return 'object';
}

/** Encoding instances (Encoding.UTF8, Encoding.ASCII, ...) */
export class Encoding {
  constructor(readonly name: 'utf8' | 'ascii' | 'utf16le' | 'latin1') {}
}

/** a Regex instance (new Regex(pattern, options)) */
export class CsRegexObj {
  constructor(
    readonly pattern: string,
    readonly flags: number,
  ) {}
}

// ------------------------------------------------------------------ ToString

/** C# ToString()/string conversion of a runtime value; `ty` (static type) refines numbers */
export function csToString(v: unknown, ty?: Ty): string {
  if (v === null || v === undefined) return '';
  switch (typeof v) {
    case 'string':
      return v;
    case 'boolean':
      return v ? 'True' : 'False';
    case 'number':
      if (ty && (INTEGRAL.has(ty.n))) return formatInteger(v);
      if (ty && ty.n === 'double') return formatDouble(v);
      return Number.isInteger(v) && Math.abs(v) < 1e15 ? String(v) : formatDouble(v);
    default:
      break;
  }
  if (v instanceof JToken) return tokenToString(v);
  if (v instanceof CsDateTime) return formatDateTime(v, null);
  if (v instanceof CsDateTimeOffset) return formatDateTimeOffset(v, null);
  if (v instanceof CsTimeSpan) return formatTimeSpan(v, null);
  if (v instanceof CsGuid) return v.format('D');
  if (v instanceof CsUri) return v.toString();
  if (v instanceof CsEnum) return v.name;
  if (v instanceof CsStringBuilder) return v.parts.join('');
  if (v instanceof CsMatch) return v.value;
  if (v instanceof UrlInfo) return v.toString();
  if (v instanceof CsKeyValuePair) return `[${csToString(v.key)}, ${csToString(v.value)}]`;
  if (v instanceof CsAnon) {
    const parts = [...v.fields.entries()].map(([k, x]) => `${k} = ${csToString(x)}`);
    return parts.length ? `{ ${parts.join(', ')} }` : '{ }';
  }
  if (v instanceof CsException) return `System.${v.csType}: ${v.message}`;
  if (v instanceof CsExceptionValue) return `System.${v.type}: ${v.message}`;
  if (v instanceof Uint8Array) return 'System.Byte[]';
  if (Array.isArray(v)) return `${arrayElemTypeName(v)}[]`;
  if (v instanceof CsList) return 'System.Collections.Generic.List`1[System.Object]';
  if (v instanceof CsDictionary) return 'System.Collections.Generic.Dictionary`2[System.Object,System.Object]';
  if (v instanceof Jwt) return v.raw;
  if (v instanceof XElem || v instanceof XDoc) return serializeXml(v, true);
  if (v instanceof XAttr) return `${v.name.qname}="${v.value}"`;
  if (v instanceof XmlName) return v.toString();
  if (v instanceof XText) return v.text;
  if (v instanceof XmlDomNode) return v.node instanceof XElem ? 'System.Xml.XmlElement' : v.node instanceof XAttr ? 'System.Xml.XmlAttribute' : 'System.Xml.XmlText';
  if (v instanceof XmlDomDoc) return 'System.Xml.XmlDocument';
  if (v instanceof Encoding) return 'System.Text.Encoding';
  const key = rtTypeKey(v);
  return key === 'object' ? 'System.Object' : key;
}

function arrayElemTypeName(a: unknown[]): string {
  if (a.length > 0 && a.every((x) => typeof x === 'string')) return 'System.String';
  return 'System.Object';
}

/** ToString(format) / {x:format} for formattable values */
export function formatWith(v: unknown, format: string | null | undefined, ty?: Ty): string {
  if (format === null || format === undefined || format === '') return csToString(v, ty);
  if (typeof v === 'number') {
    const isInt = ty && !isDyn(ty) ? INTEGRAL.has(ty.n) : Number.isInteger(v);
    return formatNumber(v, format, isInt);
  }
  if (v instanceof CsDateTime) return formatDateTime(v, format);
  if (v instanceof CsDateTimeOffset) return formatDateTimeOffset(v, format);
  if (v instanceof CsTimeSpan) return formatTimeSpan(v, format);
  if (v instanceof CsGuid) return v.format(format);
  if (v instanceof CsEnum) {
    if (format === 'D' || format === 'd') return String(v.value);
    return v.name;
  }
  return csToString(v, ty);
}

// ------------------------------------------------------------------ equality and comparison

export function csEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (a instanceof CsDateTime && b instanceof CsDateTime) return a.ms === b.ms;
  if (a instanceof CsDateTimeOffset && b instanceof CsDateTimeOffset) return a.utcMs === b.utcMs;
  if (a instanceof CsTimeSpan && b instanceof CsTimeSpan) return a.ms === b.ms;
  if (a instanceof CsGuid && b instanceof CsGuid) return a.hex === b.hex;
  if (a instanceof CsEnum && b instanceof CsEnum) return a.type === b.type && a.value === b.value;
  if (a instanceof CsUri && b instanceof CsUri) return a.absoluteUri === b.absoluteUri;
  if (a instanceof CsKeyValuePair && b instanceof CsKeyValuePair) return csEquals(a.key, b.key) && csEquals(a.value, b.value);
  return false;
}

/** Equals(object) semantics (value equality for primitives; JValue compares values) */
export function csObjectEquals(a: unknown, b: unknown): boolean {
  if (a instanceof JValue && b instanceof JValue) return a.vtype === b.vtype ? csEquals(a.value, b.value) : false;
  if (a instanceof CsAnon && b instanceof CsAnon) {
    if (a.fields.size !== b.fields.size) return false;
    for (const [k, v] of a.fields) if (!b.fields.has(k) || !csObjectEquals(v, b.fields.get(k))) return false;
    return true;
  }
  return csEquals(a, b);
}

/** ordering of comparable values (numbers, strings ordinal, DateTime, DateTimeOffset, TimeSpan, Guid) */
export function csCompare(a: unknown, b: unknown): number {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  const ka = comparableKey(a);
  const kb = comparableKey(b);
  if (ka !== null && kb !== null) return ka < kb ? -1 : ka > kb ? 1 : 0;
  if (a instanceof JValue && b instanceof JValue) return csCompare(a.value, b.value);
  throw new CsException('ArgumentException', 'At least one object must implement IComparable.');
}

function comparableKey(v: unknown): number | string | null {
  if (v instanceof CsDateTime) return v.ms;
  if (v instanceof CsDateTimeOffset) return v.utcMs;
  if (v instanceof CsTimeSpan) return v.ms;
  if (v instanceof CsGuid) return v.hex;
  if (v instanceof CsEnum) return v.value;
  return null;
}

// ------------------------------------------------------------------ JSON conversions

/** Newtonsoft's implicit/explicit conversion of a .NET value into a JToken (new JValue(object) / JToken.FromObject) */
export function toJTokenValue(v: unknown, ty?: Ty): JToken {
  if (v === null || v === undefined) return JValue.null();
  if (v instanceof JToken) return v;
  switch (typeof v) {
    case 'string':
      return JValue.str(v);
    case 'boolean':
      return JValue.bool(v);
    case 'number':
      if (ty && ty.n === 'double') return JValue.float(v);
      if (ty && INTEGRAL.has(ty.n)) return JValue.int(v);
      return Number.isInteger(v) ? JValue.int(v) : JValue.float(v);
    default:
      break;
  }
  if (v instanceof CsDateTime || v instanceof CsDateTimeOffset) return new JValue('Date', v);
  if (v instanceof CsGuid) return new JValue('Guid', v);
  if (v instanceof CsUri) return new JValue('Uri', v);
  if (v instanceof CsTimeSpan) return new JValue('TimeSpan', v);
  if (v instanceof Uint8Array) return new JValue('Bytes', v);
  if (v instanceof CsEnum) return JValue.int(v.value);
  return fromObject(v, 0);
}

/** JToken.FromObject: serializes .NET objects (anonymous types, dictionaries, lists, arrays) into tokens */
export function fromObject(v: unknown, depth = 0): JToken {
  if (depth > 64) throw new CsException('JsonSerializationException', 'Self referencing loop or nesting too deep.');
  if (v === null || v === undefined) return JValue.null();
  if (v instanceof JToken) return deepClone(v);
  if (Array.isArray(v) || v instanceof CsList) {
    const a = new JArray();
    for (const it of Array.isArray(v) ? v : v.items) a.add(fromObject(it, depth + 1));
    return a;
  }
  if (v instanceof CsAnon) {
    const o = new JObject();
    for (const [k, x] of v.fields) {
      const t = v.types?.get(k) as Ty | undefined;
      o.set(k, typeof x === 'number' && t ? toJTokenValue(x, t) : fromObject(x, depth + 1));
    }
    return o;
  }
  if (v instanceof CsDictionary) {
    const o = new JObject();
    for (const [k, x] of v.entries()) o.set(csToString(k), fromObject(x, depth + 1));
    return o;
  }
  if (v instanceof StringListMap) {
    const o = new JObject();
    for (const [k, x] of v.entries()) o.set(k, fromObject(x, depth + 1));
    return o;
  }
  if (v instanceof CsKeyValuePair) {
    const o = new JObject();
    o.set('Key', fromObject(v.key, depth + 1));
    o.set('Value', fromObject(v.value, depth + 1));
    return o;
  }
  if (typeof v === 'object' && !(v instanceof Uint8Array) && rtTypeKey(v) !== 'DateTime' && rtTypeKey(v) !== 'DateTimeOffset' &&
    rtTypeKey(v) !== 'Guid' && rtTypeKey(v) !== 'Uri' && rtTypeKey(v) !== 'TimeSpan' && rtTypeKey(v) !== 'Enum') {
    throw new CsException('JsonSerializationException', `Serializing objects of type ${runtimeTypeName(v)} is not supported.`);
  }
  return toJTokenValue(v);
}

function tokenTypeName(t: JToken | null): string {
  if (t === null) return 'Null';
  return t.tokenType;
}

function convErr(t: JToken | null, target: string): never {
  throw new CsException('ArgumentException', `Can not convert ${tokenTypeName(t)} to ${target}.`);
}

/** Newtonsoft's explicit conversions (string)token, (int)token, ... */
export function convertToken(t: JToken | null, target: string, nullable = false): unknown {
  if (target === 'string') {
    if (t === null) return null;
    if (!(t instanceof JValue)) convErr(t, 'String');
    if (t.vtype === 'Null' || t.vtype === 'Undefined') return null;
    if (t.vtype === 'Bytes') return Buffer.from(t.value as Uint8Array).toString('base64');
    return jvalueText(t);
  }
  if (t === null) {
    if (nullable) return null;
    throw new CsException('ArgumentNullException', "Value cannot be null. (Parameter 'value')");
  }
  if (!(t instanceof JValue)) convErr(t, netName(target));
  if (t.vtype === 'Null' || t.vtype === 'Undefined') {
    if (nullable) return null;
    convErr(t, netName(target));
  }
  const v = t.value;
  switch (target) {
    case 'int':
    case 'long':
    case 'short':
    case 'byte': {
      let n: number;
      if (t.vtype === 'Integer') n = v as number;
      else if (t.vtype === 'Float') n = Math.round(v as number);
      else if (t.vtype === 'Boolean') n = v ? 1 : 0;
      else if (t.vtype === 'String') n = parseIntText(v as string);
      else convErr(t, netName(target));
      return checkIntRange(n, target);
    }
    case 'double': {
      if (t.vtype === 'Integer' || t.vtype === 'Float') return v as number;
      if (t.vtype === 'Boolean') return v ? 1 : 0;
      if (t.vtype === 'String') return parseDoubleText(v as string);
      convErr(t, 'Double');
    }
    // falls through (never)
    case 'bool': {
      if (t.vtype === 'Boolean') return v;
      if (t.vtype === 'Integer' || t.vtype === 'Float') return (v as number) !== 0;
      if (t.vtype === 'String') return parseBoolText(v as string);
      convErr(t, 'Boolean');
    }
    // falls through (never)
    case 'DateTime': {
      if (t.vtype === 'Date') return v instanceof CsDateTimeOffset ? v.dateTime : v;
      if (t.vtype === 'String') return parseDateTime(v as string);
      convErr(t, 'DateTime');
    }
    // falls through (never)
    case 'DateTimeOffset': {
      if (t.vtype === 'Date') return v instanceof CsDateTime ? CsDateTimeOffset.fromDateTime(v.withKind('Unspecified')) : v;
      convErr(t, 'DateTimeOffset');
    }
    // falls through (never)
    case 'Guid': {
      if (t.vtype === 'Guid') return v;
      if (t.vtype === 'String') {
        const g = CsGuid.tryParse(v as string);
        if (g) return g;
      }
      convErr(t, 'Guid');
    }
    // falls through (never)
    case 'TimeSpan': {
      if (t.vtype === 'TimeSpan') return v;
      convErr(t, 'TimeSpan');
    }
    // falls through (never)
    case 'Uri': {
      if (t.vtype === 'Uri') return v;
      if (t.vtype === 'String') return new CsUri(v as string);
      convErr(t, 'Uri');
    }
    // falls through (never)
    case 'char': {
      if (t.vtype === 'String' && (v as string).length === 1) return v;
      if (t.vtype === 'Integer') return String.fromCharCode(v as number);
      convErr(t, 'Char');
    }
    // falls through (never)
    case 'byte[]': {
      if (t.vtype === 'Bytes') return v;
      if (t.vtype === 'String') return new Uint8Array(Buffer.from(v as string, 'base64'));
      convErr(t, 'Byte[]');
    }
    // falls through (never)
    default:
      convErr(t, netName(target));
  }
}

function netName(t: string): string {
  const m: Record<string, string> = { int: 'Int32', long: 'Int64', short: 'Int16', byte: 'Byte', double: 'Double', bool: 'Boolean', string: 'String', char: 'Char' };
  return m[t] ?? t;
}

export function checkIntRange(n: number, target: string): number {
  const ranges: Record<string, [number, number]> = {
    int: [-2147483648, 2147483647],
    long: [-9223372036854775808, 9223372036854775807],
    short: [-32768, 32767],
    byte: [0, 255],
  };
  const r = ranges[target];
  if (!Number.isFinite(n) || (r && (n < r[0] || n > r[1])))
    throw new CsException('OverflowException', `Value was either too large or too small for ${netName(target) === 'Int32' ? 'an Int32' : `a${/^[AEIOU]/.test(netName(target)) ? 'n' : ''} ${netName(target)}`}.`);
  return n;
}

export function parseIntText(s: string | null, target = 'int'): number {
  if (s === null || s === undefined) argNull('s');
  const t = s.trim();
  if (!/^[+-]?\d+$/.test(t)) throw new CsException('FormatException', `The input string '${s}' was not in a correct format.`);
  return checkIntRange(Number(t), target);
}

export function parseDoubleText(s: string | null): number {
  if (s === null || s === undefined) argNull('s');
  const t = s.trim();
  if (/^[+-]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?([eE][+-]?\d+)?$/.test(t) && /\d/.test(t)) return Number(t.replace(/,/g, ''));
  if (t === 'NaN') return NaN;
  if (t === 'Infinity' || t === '∞') return Infinity;
  if (t === '-Infinity' || t === '-∞') return -Infinity;
  throw new CsException('FormatException', `The input string '${s}' was not in a correct format.`);
}

export function parseBoolText(s: string | null): boolean {
  if (s === null || s === undefined) argNull('value');
  const t = s.trim().toLowerCase();
  if (t === 'true') return true;
  if (t === 'false') return false;
  throw new CsException('FormatException', `String '${s}' was not recognized as a valid Boolean.`);
}

// ------------------------------------------------------------------ runtime instance checks

/** does the runtime value belong to the static type? (is / as / casts / GetValueOrDefault<T>) */
export function isInstance(v: unknown, t: Ty): boolean {
  if (v === null || v === undefined) return false;
  switch (t.n) {
    case 'object':
    case 'dynamic':
      return true;
    case 'string':
      return typeof v === 'string';
    case 'char':
      return typeof v === 'string' && v.length === 1;
    case 'bool':
      return typeof v === 'boolean';
    case 'int':
    case 'long':
    case 'short':
    case 'byte':
      return typeof v === 'number' && Number.isInteger(v);
    case 'double':
      return typeof v === 'number';
    case 'Array': {
      const e = (t.a?.[0] ?? T.object) as Ty;
      if (v instanceof Uint8Array) return e.n === 'byte' || isDyn(e);
      if (!Array.isArray(v)) return false;
      return isDyn(e) || v.every((x) => x === null || isInstance(x, e));
    }
    case 'List':
      return v instanceof CsList;
    case 'Dictionary':
      return v instanceof CsDictionary;
    case 'IEnumerable':
      return Array.isArray(v) || v instanceof Uint8Array || v instanceof CsList || v instanceof CsDictionary || v instanceof JArray ||
        v instanceof JObject || v instanceof StringListMap || typeof v === 'string';
    case 'JToken':
      return v instanceof JToken;
    case 'JContainer':
      return v instanceof JObject || v instanceof JArray || v instanceof JProperty;
    case 'IResponse':
      return v instanceof ResponseInfo;
    case 'XNode':
      return v instanceof XElem || v instanceof XDoc || v instanceof XText || v instanceof XComment;
    case 'XContainer':
      return v instanceof XElem || v instanceof XDoc;
    case 'Exception':
      return v instanceof CsException || v instanceof CsExceptionValue;
    default:
      return rtTypeKey(v) === t.n;
  }
}

export { JToken, JObject, JArray, JValue, JProperty };
