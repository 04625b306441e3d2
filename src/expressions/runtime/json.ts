// A Newtonsoft.Json.Linq-like JSON model (JToken, JObject, JArray, JProperty, JValue): parsing, serialization and
// conversions. Property names live in a Map, never on a JS object, so no name can reach a prototype.
import { CsException, LimitError } from '../errors.js';
import { formatDouble, formatInteger, formatJsonDouble } from './numfmt.js';
import { CsDateTime, CsDateTimeOffset, CsTimeSpan, formatDateTime, formatDateTimeOffset, formatTimeSpan } from './time.js';

export type JValueType = 'String' | 'Integer' | 'Float' | 'Boolean' | 'Null' | 'Date' | 'Guid' | 'Uri' | 'TimeSpan' | 'Bytes' | 'Undefined';

export const MAX_JSON_DEPTH = 64;
/** depth bound for recursive walks over tokens built by code (serialization, cloning) */
const MAX_WALK_DEPTH = 1000;

export abstract class JToken {
  parent: JToken | null = null;
  abstract get tokenType(): string;
}

export class JValue extends JToken {
  constructor(
    readonly vtype: JValueType,
    public value: unknown,
    /** original text of an integer too large for a double */
    readonly raw?: string,
  ) {
    super();
  }
  get tokenType(): string {
    return this.vtype;
  }
  static str(s: string | null): JValue {
    return s === null ? new JValue('Null', null) : new JValue('String', s);
  }
  static int(n: number): JValue {
    return new JValue('Integer', n);
  }
  static float(n: number): JValue {
    return new JValue('Float', n);
  }
  static bool(b: boolean): JValue {
    return new JValue('Boolean', b);
  }
  static null(): JValue {
    return new JValue('Null', null);
  }
}

export class JProperty extends JToken {
  value: JToken;
  constructor(
    readonly name: string,
    value: JToken,
  ) {
    super();
    this.value = adopt(value, this);
  }
  get tokenType(): string {
    return 'Property';
  }
}

export class JObject extends JToken {
  readonly props = new Map<string, JProperty>();
  get tokenType(): string {
    return 'Object';
  }
  get(name: string): JToken | null {
    return this.props.get(name)?.value ?? null;
  }
  /** indexer set: replaces the value of an existing property or adds a new one */
  set(name: string, value: JToken): void {
    const p = this.props.get(name);
    if (p) p.value = adopt(value, p);
    else this.addProperty(new JProperty(name, value));
  }
  addProperty(p: JProperty): void {
    if (this.props.has(p.name))
      throw new CsException('ArgumentException', `Can not add property ${p.name} to Newtonsoft.Json.Linq.JObject. Property with the same name already exists on object.`);
    const prop = p.parent ? new JProperty(p.name, deepClone(p.value)) : p;
    prop.parent = this;
    this.props.set(prop.name, prop);
  }
  remove(name: string): boolean {
    const p = this.props.get(name);
    if (!p) return false;
    p.parent = null;
    this.props.delete(name);
    return true;
  }
}

export class JArray extends JToken {
  readonly items: JToken[] = [];
  get tokenType(): string {
    return 'Array';
  }
  add(v: JToken): void {
    this.items.push(adopt(v, this));
  }
}

/** takes ownership of a token: a token that already has a parent is deep-cloned (as Newtonsoft does) */
export function adopt(t: JToken, parent: JToken): JToken {
  const x = t.parent ? deepClone(t) : t;
  x.parent = parent;
  return x;
}

export function deepClone(t: JToken, depth = 0): JToken {
  if (depth > MAX_WALK_DEPTH) throw new LimitError('JSON nesting too deep');
  if (t instanceof JValue) return new JValue(t.vtype, t.value, t.raw);
  if (t instanceof JProperty) return new JProperty(t.name, deepClone(t.value, depth + 1));
  if (t instanceof JObject) {
    const o = new JObject();
    for (const p of t.props.values()) {
      const c = new JProperty(p.name, deepClone(p.value, depth + 1));
      c.parent = o;
      o.props.set(p.name, c);
    }
    return o;
  }
  const a = new JArray();
  for (const it of (t as JArray).items) a.add(deepClone(it, depth + 1));
  return a;
}

export function removeFromParent(t: JToken): void {
  const p = t.parent;
  if (!p) throw new CsException('InvalidOperationException', 'The parent is missing.');
  if (t instanceof JProperty && p instanceof JObject) {
    p.remove(t.name);
    return;
  }
  if (p instanceof JArray) {
    const i = p.items.indexOf(t);
    if (i >= 0) p.items.splice(i, 1);
    t.parent = null;
    return;
  }
  if (p instanceof JProperty) throw new CsException('InvalidOperationException', 'Cannot add or remove items from Newtonsoft.Json.Linq.JProperty.');
}

export function tokenChildren(t: JToken): JToken[] {
  if (t instanceof JObject) return [...t.props.values()];
  if (t instanceof JArray) return [...t.items];
  if (t instanceof JProperty) return [t.value];
  return [];
}

export function hasValues(t: JToken): boolean {
  if (t instanceof JObject) return t.props.size > 0;
  if (t instanceof JArray) return t.items.length > 0;
  if (t instanceof JProperty) return true;
  return false;
}

export function tokenPath(t: JToken): string {
  const parts: string[] = [];
  let cur: JToken | null = t;
  let guard = 0;
  while (cur && cur.parent && guard++ < MAX_WALK_DEPTH) {
    const p: JToken = cur.parent;
    if (cur instanceof JProperty) {
      parts.unshift(/^[A-Za-z_][A-Za-z0-9_]*$/.test(cur.name) ? `.${cur.name}` : `['${cur.name}']`);
    } else if (p instanceof JArray) parts.unshift(`[${p.items.indexOf(cur)}]`);
    cur = p;
  }
  const s = parts.join('');
  return s.startsWith('.') ? s.slice(1) : s;
}

// ------------------------------------------------------------------ parsing

export class JsonParser {
  private i = 0;
  private line = 1;
  private lineStart = 0;
  constructor(private readonly s: string) {}

  private err(msg: string): never {
    throw new CsException('JsonReaderException', `${msg} Path '', line ${this.line}, position ${this.i - this.lineStart}.`);
  }

  private ws(): void {
    const s = this.s;
    for (;;) {
      const c = s.charCodeAt(this.i);
      if (c === 10) {
        this.i++;
        this.line++;
        this.lineStart = this.i;
      } else if (c === 32 || c === 9 || c === 13 || c === 0xfeff || c === 0xa0) this.i++;
      else if (c === 47 && s.charCodeAt(this.i + 1) === 47) {
        while (this.i < s.length && s.charCodeAt(this.i) !== 10) this.i++;
      } else if (c === 47 && s.charCodeAt(this.i + 1) === 42) {
        const e = s.indexOf('*/', this.i + 2);
        if (e < 0) this.err('Unexpected end while parsing comment.');
        this.i = e + 2;
      } else return;
    }
  }

  parseDocument(): JToken {
    this.ws();
    if (this.i >= this.s.length) this.err('Unexpected end of content while loading JObject.');
    const v = this.value(0);
    this.ws();
    if (this.i < this.s.length) this.err(`Additional text encountered after finished reading JSON content: ${this.s[this.i]}.`);
    return v;
  }

  private value(depth: number): JToken {
    if (depth > MAX_JSON_DEPTH) this.err(`The reader's MaxDepth of ${MAX_JSON_DEPTH} has been exceeded.`);
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.object(depth + 1);
    if (c === '[') return this.array(depth + 1);
    if (c === '"' || c === "'") return JValue.str(this.string());
    if (c === undefined) this.err('Unexpected end when reading JSON.');
    if (c === '-' || c === '.' || (c >= '0' && c <= '9')) return this.number();
    const word = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(this.s.slice(this.i, this.i + 64))?.[0] ?? '';
    switch (word) {
      case 'true':
        this.i += 4;
        return JValue.bool(true);
      case 'false':
        this.i += 5;
        return JValue.bool(false);
      case 'null':
        this.i += 4;
        return JValue.null();
      case 'undefined':
        this.i += 9;
        return new JValue('Undefined', null);
      case 'NaN':
        this.i += 3;
        return JValue.float(NaN);
      case 'Infinity':
        this.i += 8;
        return JValue.float(Infinity);
      default:
        this.err(`Unexpected character encountered while parsing value: ${c}.`);
    }
  }

  private number(): JToken {
    const m = /^-?(?:Infinity|\d*\.?\d+(?:[eE][+-]?\d+)?|\d+\.?)/.exec(this.s.slice(this.i, this.i + 400));
    if (!m) this.err(`Unexpected character encountered while parsing number: ${this.s[this.i]}.`);
    const text = m[0];
    this.i += text.length;
    const next = this.s[this.i];
    if (next !== undefined && /[A-Za-z0-9_]/.test(next)) this.err(`Unexpected character encountered while parsing number: ${next}.`);
    if (text === '-Infinity') return JValue.float(-Infinity);
    if (/[.eE]/.test(text)) return JValue.float(Number(text));
    const n = Number(text);
    if (!Number.isSafeInteger(n)) return new JValue('Integer', n, text.replace(/^(-?)0+(?=\d)/, '$1'));
    return JValue.int(n);
  }

  private string(): string {
    const q = this.s[this.i];
    this.i++;
    let out = '';
    const s = this.s;
    for (;;) {
      const j = this.i;
      while (this.i < s.length && s[this.i] !== q && s[this.i] !== '\\') this.i++;
      out += s.slice(j, this.i);
      if (this.i >= s.length) this.err('Unterminated string. Expected delimiter: ' + q + '.');
      const c = s[this.i];
      if (c === q) {
        this.i++;
        return out;
      }
      const e = s[this.i + 1];
      this.i += 2;
      switch (e) {
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case '/': out += '/'; break;
        case '\\': out += '\\'; break;
        case '"': out += '"'; break;
        case "'": out += "'"; break;
        case 'u': {
          const h = s.slice(this.i, this.i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(h)) this.err(`Invalid Unicode escape sequence: \\u${h}.`);
          out += String.fromCharCode(parseInt(h, 16));
          this.i += 4;
          break;
        }
        default:
          this.err(`Bad JSON escape sequence: \\${e ?? ''}.`);
      }
    }
  }

  private propertyName(): string {
    const c = this.s[this.i];
    if (c === '"' || c === "'") return this.string();
    const m = /^[A-Za-z_$][A-Za-z0-9_$-]*/.exec(this.s.slice(this.i, this.i + 1024));
    if (!m) this.err(`Invalid property identifier character: ${c ?? ''}.`);
    this.i += m[0].length;
    return m[0];
  }

  private object(depth: number): JObject {
    if (depth > MAX_JSON_DEPTH) this.err(`The reader's MaxDepth of ${MAX_JSON_DEPTH} has been exceeded.`);
    this.i++; // {
    const o = new JObject();
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return o;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] === '}') {
        this.i++;
        return o; // trailing comma
      }
      const name = this.propertyName();
      this.ws();
      if (this.s[this.i] !== ':') this.err(`Invalid character after parsing property name. Expected ':' but got: ${this.s[this.i] ?? 'end of input'}.`);
      this.i++;
      const v = this.value(depth);
      // duplicate names: the last one wins (JObject.Parse default)
      o.set(name, v);
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === '}') {
        this.i++;
        return o;
      }
      this.err(`After parsing a value an unexpected character was encountered: ${c ?? 'end of input'}.`);
    }
  }

  private array(depth: number): JArray {
    if (depth > MAX_JSON_DEPTH) this.err(`The reader's MaxDepth of ${MAX_JSON_DEPTH} has been exceeded.`);
    this.i++; // [
    const a = new JArray();
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return a;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] === ']') {
        this.i++;
        return a;
      }
      a.add(this.value(depth));
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === ']') {
        this.i++;
        return a;
      }
      this.err(`After parsing a value an unexpected character was encountered: ${c ?? 'end of input'}.`);
    }
  }
}

export function parseJson(s: string): JToken {
  return new JsonParser(s).parseDocument();
}

export function parseJObject(s: string): JObject {
  const t = parseJson(s);
  if (!(t instanceof JObject))
    throw new CsException('JsonReaderException', `Error reading JObject from JsonReader. Current JsonReader item is not an object: ${startName(t)}. Path '', line 1, position 1.`);
  return t;
}

export function parseJArray(s: string): JArray {
  const t = parseJson(s);
  if (!(t instanceof JArray))
    throw new CsException('JsonReaderException', `Error reading JArray from JsonReader. Current JsonReader item is not an array: ${startName(t)}. Path '', line 1, position 1.`);
  return t;
}

function startName(t: JToken): string {
  return t instanceof JObject ? 'StartObject' : t instanceof JArray ? 'StartArray' : t.tokenType;
}

// ------------------------------------------------------------------ serialization

const NEEDS_ESCAPE = /["\\\u0000-\u001f\u0085\u2028\u2029]/;

export function jsonString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    switch (c) {
      case 34: out += '\\"'; break;
      case 92: out += '\\\\'; break;
      case 10: out += '\\n'; break;
      case 13: out += '\\r'; break;
      case 9: out += '\\t'; break;
      case 8: out += '\\b'; break;
      case 12: out += '\\f'; break;
      default:
        if (c < 0x20 || c === 0x85 || c === 0x2028 || c === 0x2029) out += '\\u' + c.toString(16).padStart(4, '0');
        else out += s[i];
    }
  }
  return out + '"';
}

/** JSON text of a scalar JValue */
export function jvalueJson(v: JValue): string {
  switch (v.vtype) {
    case 'String':
      return jsonString(v.value as string);
    case 'Integer':
      return v.raw ?? formatInteger(v.value as number);
    case 'Float':
      return formatJsonDouble(v.value as number);
    case 'Boolean':
      return v.value ? 'true' : 'false';
    case 'Null':
      return 'null';
    case 'Undefined':
      return 'undefined';
    case 'Date':
      return jsonString(isoDate(v.value));
    case 'Guid':
      return jsonString(String((v.value as { toString(): string }).toString()));
    case 'Uri':
      return jsonString(String((v.value as { original: string }).original));
    case 'TimeSpan':
      return jsonString(formatTimeSpan(v.value as CsTimeSpan));
    case 'Bytes':
      return jsonString(Buffer.from(v.value as Uint8Array).toString('base64'));
  }
}

/** Newtonsoft's IsoDateFormat: yyyy-MM-ddTHH:mm:ss.FFFFFFFK */
export function isoDate(d: unknown): string {
  if (d instanceof CsDateTimeOffset) return formatDateTimeOffset(d, "yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFFFzzz");
  return formatDateTime(d as CsDateTime, "yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFFFK");
}

export interface SerializeBudget {
  /** called with the number of characters produced so far; throws when a limit is exceeded */
  check(len: number): void;
}

export function serializeToken(t: JToken, indented: boolean, budget?: SerializeBudget): string {
  const parts: string[] = [];
  let len = 0;
  const push = (s: string): void => {
    parts.push(s);
    len += s.length;
    if (budget && (s.length > 1024 || (parts.length & 255) === 0)) budget.check(len);
  };
  const walk = (x: JToken, level: number): void => {
    if (level > MAX_WALK_DEPTH) throw new LimitError('JSON nesting too deep to serialize');
    if (x instanceof JValue) {
      push(jvalueJson(x));
      return;
    }
    if (x instanceof JProperty) {
      push(jsonString(x.name));
      push(indented ? ': ' : ':');
      walk(x.value, level);
      return;
    }
    const children: JToken[] = x instanceof JObject ? [...x.props.values()] : (x as JArray).items;
    const [open, close] = x instanceof JObject ? ['{', '}'] : ['[', ']'];
    if (children.length === 0) {
      push(open + close);
      return;
    }
    push(open);
    const ind = indented ? '\n' + '  '.repeat(level + 1) : '';
    children.forEach((c, i) => {
      if (i > 0) push(',');
      if (indented) push(ind);
      walk(c, level + 1);
    });
    if (indented) push('\n' + '  '.repeat(level));
    push(close);
  };
  walk(t, 0);
  const out = parts.join('');
  budget?.check(out.length);
  return out;
}

/** JToken.ToString(): JValue renders its value (not JSON), containers render indented JSON */
export function tokenToString(t: JToken, indented = true, budget?: SerializeBudget): string {
  if (t instanceof JValue && indented) return jvalueText(t);
  return serializeToken(t, indented, budget);
}

/** the text of a JValue as JValue.ToString() gives it */
export function jvalueText(v: JValue): string {
  switch (v.vtype) {
    case 'String':
      return v.value as string;
    case 'Integer':
      return v.raw ?? formatInteger(v.value as number);
    case 'Float':
      return formatDouble(v.value as number);
    case 'Boolean':
      return v.value ? 'True' : 'False';
    case 'Null':
    case 'Undefined':
      return '';
    case 'Date':
      return v.value instanceof CsDateTimeOffset ? formatDateTimeOffset(v.value, null) : formatDateTime(v.value as CsDateTime, null);
    case 'Guid':
      return String((v.value as { toString(): string }).toString());
    case 'Uri':
      return String((v.value as { original: string }).original);
    case 'TimeSpan':
      return formatTimeSpan(v.value as CsTimeSpan);
    case 'Bytes':
      return 'System.Byte[]';
  }
}

export { CsDateTime, CsDateTimeOffset, CsTimeSpan };
