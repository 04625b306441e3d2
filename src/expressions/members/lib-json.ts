// JToken, JObject, JArray, JValue, JProperty, JsonConvert (Newtonsoft.Json semantics).
import { CsException } from '../errors.js';
import {
  T, arrayOf, checkColl, checkLen, checkStr, convertToken, enumOf, fromObject, isDyn, listOf, toJTokenValue, tick, dictOf,
} from '../types.js';
import type { Runtime, Ty } from '../types.js';
import { castValue, define, defaultOf, type MethodDef } from './registry.js';
import { m, p, enumVal, ignoreCaseArg } from './lib-core.js';
import {
  JArray, JObject, JProperty, JToken, JValue, adopt, deepClone, hasValues, parseJArray, parseJObject, parseJson, removeFromParent,
  serializeToken, tokenChildren, tokenPath, tokenToString, type SerializeBudget,
} from '../runtime/json.js';
import { CsDictionary, CsEnum, CsList, OutBox } from '../runtime/values.js';
import { formatJsonDouble } from '../runtime/numfmt.js';

const JT = T.JToken;

export function budget(rt: Runtime): SerializeBudget {
  return {
    check(len: number) {
      checkLen(rt, len);
      tick(rt, 1);
    },
  };
}

function wantIndented(a: unknown[]): boolean {
  const f = enumVal(a[0], 'Formatting');
  return f === null ? true : f === 1;
}

/** JToken indexer: JObject by name, JArray by index; JValue/JProperty throw */
export function tokenIndex(t: JToken, key: unknown): JToken | null {
  if (t instanceof JObject) {
    if (typeof key !== 'string') throw new CsException('ArgumentException', `Accessed JObject values with invalid key value: ${String(key)}. Object property name expected.`);
    return t.get(key);
  }
  if (t instanceof JArray) {
    if (typeof key !== 'number') throw new CsException('ArgumentException', `Accessed JArray values with invalid key value: "${String(key)}". Int32 array index expected.`);
    if (!Number.isInteger(key) || key < 0 || key >= t.items.length)
      throw new CsException('ArgumentOutOfRangeException', "Index was out of range. Must be non-negative and less than the size of the collection. (Parameter 'index')");
    return t.items[key] as JToken;
  }
  if (t instanceof JProperty) throw new CsException('InvalidOperationException', `Cannot access child value on Newtonsoft.Json.Linq.JProperty.`);
  throw new CsException('InvalidOperationException', `Cannot access child value on Newtonsoft.Json.Linq.JValue.`);
}

function tokenSet(t: JToken, key: unknown, v: unknown): void {
  const tok = v === null || v === undefined ? JValue.null() : (v as JToken);
  if (t instanceof JObject) {
    if (typeof key !== 'string') throw new CsException('ArgumentException', `Set JObject values with invalid key value: ${String(key)}. Object property name expected.`);
    t.set(key, tok);
    return;
  }
  if (t instanceof JArray) {
    if (typeof key !== 'number' || !Number.isInteger(key) || key < 0 || key >= t.items.length)
      throw new CsException('ArgumentOutOfRangeException', "Index was out of range. Must be non-negative and less than the size of the collection. (Parameter 'index')");
    const old = t.items[key] as JToken;
    old.parent = null;
    t.items[key] = adopt(tok, t);
    return;
  }
  throw new CsException('InvalidOperationException', `Cannot set child value on ${t instanceof JProperty ? 'Newtonsoft.Json.Linq.JProperty' : 'Newtonsoft.Json.Linq.JValue'}.`);
}

/** token → T (Value<T>, Values<T>, ToObject<T>) */
export function tokenTo(t: JToken | null, target: Ty): unknown {
  if (isDyn(target)) {
    if (t instanceof JValue) return t.vtype === 'Null' ? null : t.value;
    return t;
  }
  switch (target.n) {
    case 'JToken':
    case 'JObject':
    case 'JArray':
    case 'JValue':
    case 'JProperty':
      if (t === null) return null;
      return castValue(t, target);
    case 'string':
    case 'int':
    case 'long':
    case 'short':
    case 'byte':
    case 'double':
    case 'bool':
    case 'DateTime':
    case 'DateTimeOffset':
    case 'Guid':
    case 'TimeSpan':
    case 'Uri':
    case 'char':
      if (t === null) return defaultOf(target);
      if (t instanceof JValue && t.vtype === 'Null' && (target as { nullable?: boolean }).nullable) return null;
      return convertToken(t, target.n, (target as { nullable?: boolean }).nullable === true);
    case 'Array':
    case 'List': {
      if (t === null) return null;
      if (!(t instanceof JArray)) throw new CsException('JsonSerializationException', `Cannot deserialize the current JSON object into type '${target.n}' because the type requires a JSON array.`);
      const elem = (target.a?.[0] ?? T.dynamic) as Ty;
      if (target.n === 'Array' && elem.n === 'byte') return convertToken(t, 'byte[]');
      const xs = t.items.map((x) => tokenTo(x, elem));
      return target.n === 'List' ? new CsList(xs) : xs;
    }
    case 'Dictionary': {
      if (t === null) return null;
      if (!(t instanceof JObject)) throw new CsException('JsonSerializationException', 'Cannot deserialize the current JSON array into a Dictionary because the type requires a JSON object.');
      const d = new CsDictionary();
      const vt = (target.a?.[1] ?? T.dynamic) as Ty;
      for (const pr of t.props.values()) d.set(pr.name, tokenTo(pr.value, vt));
      return d;
    }
    default:
      throw new CsException('NotSupportedException', `Converting JSON to ${target.n} is not supported.`);
  }
}

const tokenMethods: Record<string, MethodDef> = {
  ToString: m(T.string, (t: JToken, a, c) => tokenToString(t, wantIndented(a), budget(c.rt)), { max: 2 }),
  Value: m((_s, _a, gen) => gen[0] ?? T.dynamic, (t: JToken, a, c) => {
    const target = c.gen[0] ?? T.dynamic;
    if (a.length === 0) return tokenTo(t, target);
    return tokenTo(tokenIndex(t, a[0]), target);
  }, { max: 1, gen: [1, 1] }),
  Values: m((_s, _a, gen) => enumOf(gen[0] ?? JT), (t: JToken, _a, c) => {
    const target = c.gen[0] ?? JT;
    return tokenChildren(t).map((x) => tokenTo(x instanceof JProperty ? x.value : x, target));
  }, { max: 0, gen: [0, 1] }),
  Children: m(enumOf(JT), (t: JToken) => tokenChildren(t), { max: 0 }),
  ToObject: m((_s, _a, gen) => gen[0] ?? T.dynamic, (t: JToken, _a, c) => tokenTo(t, c.gen[0] ?? T.dynamic), { max: 0, gen: [1, 1] }),
  SelectToken: m(JT, (t: JToken, a) => selectToken(t, String(a[0] ?? ''), a[1] === true), { min: 1, max: 2 }),
  SelectTokens: m(enumOf(JT), (t: JToken, a) => {
    const r = selectToken(t, String(a[0] ?? ''), false);
    return r === null ? [] : [r];
  }, { min: 1, max: 2 }),
  DeepClone: m((self) => self, (t: JToken) => deepClone(t), { max: 0 }),
  Remove: m(T.void, (t: JToken) => removeFromParent(t), { max: 0 }),
  Replace: m(T.void, (t: JToken, a) => {
    const parent = t.parent;
    if (!parent) throw new CsException('InvalidOperationException', 'The parent is missing.');
    const v = a[0] as JToken;
    if (parent instanceof JProperty) parent.value = adopt(v, parent);
    else if (parent instanceof JArray) {
      const i = parent.items.indexOf(t);
      parent.items[i] = adopt(v, parent);
    } else if (parent instanceof JObject && t instanceof JProperty && v instanceof JProperty) {
      parent.remove(t.name);
      parent.addProperty(v);
    }
    t.parent = null;
  }, { min: 1, max: 1, coerce: (_s, i) => (i === 0 ? JT : null) }),
  Equals: m(T.bool, (t: JToken, a) => t === a[0], { min: 1, max: 1 }),
};

const tokenProps = {
  Type: p({ n: 'JTokenType' }, (t: JToken) => {
    const names = ['None', 'Object', 'Array', 'Constructor', 'Property', 'Comment', 'Integer', 'Float', 'String', 'Boolean', 'Null', 'Undefined', 'Date', 'Raw', 'Bytes', 'Guid', 'Uri', 'TimeSpan'];
    const n = t.tokenType;
    return new CsEnum('JTokenType', n, Math.max(0, names.indexOf(n)));
  }),
  HasValues: p(T.bool, (t: JToken) => hasValues(t)),
  Parent: p({ n: 'JContainer' }, (t: JToken) => t.parent),
  Path: p(T.string, (t: JToken) => tokenPath(t)),
  Root: p(JT, (t: JToken) => {
    let r = t;
    let guard = 0;
    while (r.parent && guard++ < 10_000) r = r.parent;
    return r;
  }),
  First: p(JT, (t: JToken) => {
    if (t instanceof JValue) throw new CsException('InvalidOperationException', 'Cannot access child value on Newtonsoft.Json.Linq.JValue.');
    return tokenChildren(t)[0] ?? null;
  }),
  Last: p(JT, (t: JToken) => {
    if (t instanceof JValue) throw new CsException('InvalidOperationException', 'Cannot access child value on Newtonsoft.Json.Linq.JValue.');
    const ch = tokenChildren(t);
    return ch[ch.length - 1] ?? null;
  }),
  Next: p(JT, (t: JToken) => siblings(t, 1)),
  Previous: p(JT, (t: JToken) => siblings(t, -1)),
};

function siblings(t: JToken, d: number): JToken | null {
  const parent = t.parent;
  if (!parent) return null;
  const ch = tokenChildren(parent);
  const i = ch.indexOf(t);
  return ch[i + d] ?? null;
}

define('JToken', {
  props: tokenProps,
  methods: tokenMethods,
  indexer: {
    ty: JT,
    get: (t: JToken, k) => tokenIndex(t, k[0]),
    set: (t: JToken, k, v) => tokenSet(t, k[0], v),
    valueTy: () => JT,
  },
  smethods: {
    Parse: m(JT, (_s, a, c) => parseJsonChecked(c.rt, a[0]), { min: 1, max: 2 }),
    FromObject: m(JT, (_s, a, c) => fromObjectChecked(c.rt, a[0]), { min: 1, max: 2 }),
    DeepEquals: m(T.bool, (_s, a) => deepEquals(a[0] as JToken | null, a[1] as JToken | null), { min: 2, max: 2 }),
  },
});

define('JContainer', {
  props: {
    Count: p(T.int, (t: JToken) => tokenChildren(t).length),
  },
});

function parseJsonChecked(rt: Runtime, s: unknown): JToken {
  if (s === null || s === undefined) throw new CsException('ArgumentNullException', "Value cannot be null. (Parameter 'json')");
  const text = String(s);
  tick(rt, text.length >> 8);
  return parseJson(text);
}

function fromObjectChecked(rt: Runtime, v: unknown): JToken {
  if (v === null || v === undefined) throw new CsException('ArgumentNullException', "Value cannot be null. (Parameter 'o')");
  const t = fromObject(v);
  tick(rt, 1);
  return t;
}

export function deepEquals(a: JToken | null, b: JToken | null, depth = 0): boolean {
  if (depth > 1000) return false;
  if (a === null || b === null) return a === b;
  if (a instanceof JValue && b instanceof JValue) {
    if (a.vtype === 'Null' || b.vtype === 'Null') return a.vtype === b.vtype;
    if ((a.vtype === 'Integer' || a.vtype === 'Float') && (b.vtype === 'Integer' || b.vtype === 'Float')) return a.value === b.value;
    return a.vtype === b.vtype && serializeToken(a, false) === serializeToken(b, false);
  }
  if (a instanceof JProperty && b instanceof JProperty) return a.name === b.name && deepEquals(a.value, b.value, depth + 1);
  if (a instanceof JArray && b instanceof JArray)
    return a.items.length === b.items.length && a.items.every((x, i) => deepEquals(x, b.items[i] as JToken, depth + 1));
  if (a instanceof JObject && b instanceof JObject) {
    if (a.props.size !== b.props.size) return false;
    for (const [k, pr] of a.props) {
      const o = b.props.get(k);
      if (!o || !deepEquals(pr.value, o.value, depth + 1)) return false;
    }
    return true;
  }
  return false;
}

/** SelectToken: a JSONPath subset ($, .name, ['name'], [n]) */
export function selectToken(root: JToken, path: string, errorWhenNoMatch: boolean): JToken | null {
  let cur: JToken | null = root;
  let i = 0;
  const s = path.trim();
  if (s.startsWith('$')) i = 1;
  const miss = (): null => {
    if (errorWhenNoMatch) throw new CsException('JsonException', `Property '${path}' does not exist on JObject.`);
    return null;
  };
  while (i < s.length && cur !== null) {
    const c = s[i];
    if (c === '.') {
      i++;
      if (s[i] === '.') throw new CsException('NotSupportedException', 'Recursive descent in SelectToken is not supported.');
      continue;
    }
    if (c === '[') {
      const close = s.indexOf(']', i);
      if (close < 0) throw new CsException('JsonException', `Unexpected end while parsing path.`);
      const inner = s.slice(i + 1, close).trim();
      i = close + 1;
      if (/^\d+$/.test(inner)) {
        if (!(cur instanceof JArray)) return miss();
        cur = cur.items[Number(inner)] ?? null;
        if (cur === null) return miss();
      } else if (/^'.*'$/.test(inner) || /^".*"$/.test(inner)) {
        if (!(cur instanceof JObject)) return miss();
        cur = cur.get(inner.slice(1, -1));
        if (cur === null) return miss();
      } else if (inner === '*') throw new CsException('NotSupportedException', 'Wildcards in SelectToken are not supported.');
      else throw new CsException('JsonException', `Unexpected character while parsing path indexer: ${inner[0] ?? ''}`);
      continue;
    }
    let j = i;
    while (j < s.length && s[j] !== '.' && s[j] !== '[') j++;
    const name = s.slice(i, j);
    i = j;
    if (name === '*') throw new CsException('NotSupportedException', 'Wildcards in SelectToken are not supported.');
    if (!(cur instanceof JObject)) return miss();
    cur = cur.get(name);
    if (cur === null) return miss();
  }
  return cur;
}

/** contents for new JObject(...)/new JArray(...)/new JProperty(name, ...) (params object[] content) */
function addContent(target: JObject | JArray, content: unknown, rt: Runtime, ty?: Ty): void {
  if (content === null || content === undefined) {
    if (target instanceof JArray) target.add(JValue.null());
    return;
  }
  if (target instanceof JObject) {
    if (content instanceof JProperty) {
      target.addProperty(content);
      return;
    }
    if (content instanceof JObject) {
      for (const pr of content.props.values()) target.addProperty(new JProperty(pr.name, deepClone(pr.value)));
      return;
    }
    if (Array.isArray(content) || content instanceof CsList) {
      for (const x of Array.isArray(content) ? content : content.items) addContent(target, x, rt);
      return;
    }
    throw new CsException('ArgumentException', `Can not add ${content instanceof JToken ? `Newtonsoft.Json.Linq.${content.constructor === JArray ? 'JArray' : 'JValue'}` : 'a value'} to Newtonsoft.Json.Linq.JObject.`);
  }
  if (content instanceof JToken) {
    target.add(content);
  } else if (Array.isArray(content) || content instanceof CsList) {
    for (const x of Array.isArray(content) ? content : content.items) target.add(toJTokenValue(x));
  } else target.add(toJTokenValue(content, ty));
  checkColl(rt, target.items.length);
}

function propertyContent(a: unknown[], tys: Ty[]): JToken {
  if (a.length > 2) {
    const arr = new JArray();
    a.slice(1).forEach((x, i) => arr.add(toJTokenValue(x, tys[i + 1])));
    return arr;
  }
  const v = a[1];
  if (v instanceof JToken) return v;
  if (Array.isArray(v) || v instanceof CsList) {
    const arr = new JArray();
    const et = tys[1]?.a?.[0];
    for (const x of Array.isArray(v) ? v : v.items) arr.add(toJTokenValue(x, et));
    return arr;
  }
  return toJTokenValue(v, tys[1]);
}

define('JObject', {
  props: {
    Count: p(T.int, (o: JObject) => o.props.size),
  },
  indexer: {
    ty: JT,
    get(o: JObject, k) {
      if (k[0] === null || k[0] === undefined) throw new CsException('ArgumentNullException', "Value cannot be null. (Parameter 'propertyName')");
      return tokenIndex(o, k[0]);
    },
    set: (o: JObject, k, v) => tokenSet(o, k[0], v),
    valueTy: () => JT,
  },
  methods: {
    Properties: m(enumOf(T.JProperty), (o: JObject) => [...o.props.values()], { max: 0 }),
    Property: m(T.JProperty, (o: JObject, a) => {
      const name = String(a[0]);
      const ic = a.length > 1 && ignoreCaseArg(a[1]);
      if (!ic) return o.props.get(name) ?? null;
      for (const pr of o.props.values()) if (pr.name.toLowerCase() === name.toLowerCase()) return pr;
      return null;
    }, { min: 1, max: 2 }),
    GetValue: m(JT, (o: JObject, a) => {
      const name = String(a[0]);
      const ic = a.length > 1 && ignoreCaseArg(a[1]);
      const direct = o.props.get(name);
      if (direct || !ic) return direct?.value ?? null;
      for (const pr of o.props.values()) if (pr.name.toLowerCase() === name.toLowerCase()) return pr.value;
      return null;
    }, { min: 1, max: 2 }),
    TryGetValue: m(T.bool, (o: JObject, a) => {
      const box = a[a.length - 1] as OutBox;
      const pr = o.props.get(String(a[0]));
      box.value = pr?.value ?? null;
      return pr !== undefined;
    }, { min: 2, max: 3, out: (_s, i, _a, _g, n) => (i === n - 1 ? JT : null) }),
    ContainsKey: m(T.bool, (o: JObject, a) => o.props.has(String(a[0])), { min: 1, max: 1 }),
    Add: m(T.void, (o: JObject, a, c) => {
      if (a.length === 2) o.addProperty(new JProperty(String(a[0]), (a[1] as JToken | null) ?? JValue.null()));
      else addContent(o, a[0], c.rt, c.argTys[0]);
      checkColl(c.rt, o.props.size);
    }, { min: 1, max: 2, coerce: (_s, i, _a, n) => (n === 2 && i === 1 ? JT : null) }),
    Remove: m(T.bool, (o: JObject, a) => (a[0] instanceof JToken ? (removeFromParent(a[0]), true) : o.remove(String(a[0]))), { min: 1, max: 1 }),
    Merge: m(T.void, (o: JObject, a) => {
      const other = a[0];
      if (!(other instanceof JObject)) return;
      mergeInto(o, other, 0);
    }, { min: 1, max: 2 }),
  },
  smethods: {
    Parse: m(T.JObject, (_s, a, c) => {
      if (a[0] === null || a[0] === undefined) throw new CsException('ArgumentNullException', "Value cannot be null. (Parameter 'json')");
      tick(c.rt, String(a[0]).length >> 8);
      return parseJObject(String(a[0]));
    }, { min: 1, max: 2 }),
    FromObject: m(T.JObject, (_s, a, c) => {
      const t = fromObjectChecked(c.rt, a[0]);
      if (!(t instanceof JObject)) throw new CsException('ArgumentException', `Object serialized to ${t.tokenType}. JObject instance expected.`);
      return t;
    }, { min: 1, max: 2 }),
  },
  ctor: {
    call(a, c) {
      const o = new JObject();
      for (const x of a.length === 1 && (Array.isArray(a[0]) || a[0] instanceof CsList) ? [a[0]] : a) addContent(o, x, c.rt);
      return o;
    },
  },
});

function mergeInto(o: JObject, other: JObject, depth: number): void {
  if (depth > 100) return;
  for (const pr of other.props.values()) {
    const existing = o.get(pr.name);
    if (existing instanceof JObject && pr.value instanceof JObject) mergeInto(existing, pr.value, depth + 1);
    else if (existing instanceof JArray && pr.value instanceof JArray) for (const it of pr.value.items) existing.add(deepClone(it));
    else if (!(pr.value instanceof JValue && pr.value.vtype === 'Null' && existing)) o.set(pr.name, deepClone(pr.value));
  }
}

define('JArray', {
  props: {
    Count: p(T.int, (a: JArray) => a.items.length),
  },
  indexer: {
    ty: JT,
    get: (arr: JArray, k) => tokenIndex(arr, k[0]),
    set: (arr: JArray, k, v) => tokenSet(arr, k[0], v),
    valueTy: () => JT,
  },
  methods: {
    Add: m(T.void, (arr: JArray, a, c) => {
      checkColl(c.rt, arr.items.length + 1);
      arr.add(a[0] instanceof JToken ? a[0] : toJTokenValue(a[0]));
    }, { min: 1, max: 1, coerce: (_s, i) => (i === 0 ? JT : null) }),
    Insert: m(T.void, (arr: JArray, a, c) => {
      const i = a[0] as number;
      if (i < 0 || i > arr.items.length) throw new CsException('ArgumentOutOfRangeException', "Index must be within the bounds of the List. (Parameter 'index')");
      checkColl(c.rt, arr.items.length + 1);
      arr.items.splice(i, 0, adopt(a[1] instanceof JToken ? a[1] : toJTokenValue(a[1]), arr));
    }, { min: 2, max: 2, coerce: (_s, i) => (i === 1 ? JT : null) }),
    Remove: m(T.bool, (arr: JArray, a) => {
      const i = arr.items.indexOf(a[0] as JToken);
      if (i < 0) return false;
      (arr.items[i] as JToken).parent = null;
      arr.items.splice(i, 1);
      return true;
    }, { min: 1, max: 1 }),
    RemoveAt: m(T.void, (arr: JArray, a) => {
      const i = a[0] as number;
      if (i < 0 || i >= arr.items.length) throw new CsException('ArgumentOutOfRangeException', "Index is equal to or greater than Count. (Parameter 'index')");
      arr.items.splice(i, 1);
    }, { min: 1, max: 1 }),
    Clear: m(T.void, (arr: JArray) => {
      arr.items.length = 0;
    }, { max: 0 }),
    Contains: m(T.bool, (arr: JArray, a) => arr.items.includes(a[0] as JToken), { min: 1, max: 1 }),
    IndexOf: m(T.int, (arr: JArray, a) => arr.items.indexOf(a[0] as JToken), { min: 1, max: 1 }),
  },
  smethods: {
    Parse: m(T.JArray, (_s, a, c) => {
      if (a[0] === null || a[0] === undefined) throw new CsException('ArgumentNullException', "Value cannot be null. (Parameter 'json')");
      tick(c.rt, String(a[0]).length >> 8);
      return parseJArray(String(a[0]));
    }, { min: 1, max: 2 }),
    FromObject: m(T.JArray, (_s, a, c) => {
      const t = fromObjectChecked(c.rt, a[0]);
      if (!(t instanceof JArray)) throw new CsException('ArgumentException', `Object serialized to ${t.tokenType}. JArray instance expected.`);
      return t;
    }, { min: 1, max: 2 }),
  },
  ctor: {
    call(a, c) {
      const arr = new JArray();
      if (a.length === 1 && a[0] instanceof JArray) {
        for (const it of a[0].items) arr.add(deepClone(it));
        return arr;
      }
      a.forEach((x, i) => addContent(arr, x, c.rt, c.argTys[i]));
      return arr;
    },
  },
});

define('JProperty', {
  props: {
    Name: p(T.string, (pr: JProperty) => pr.name),
    Value: { ty: JT, get: (pr: JProperty) => pr.value, set(pr: JProperty, v) {
      pr.value = adopt(v === null || v === undefined ? JValue.null() : (v as JToken), pr);
    } },
  },
  ctor: {
    call(a, c) {
      if (a[0] === null || a[0] === undefined) throw new CsException('ArgumentNullException', "Value cannot be null. (Parameter 'name')");
      return new JProperty(String(a[0]), propertyContent(a, c.argTys));
    },
    min: 2,
    coerce: () => null,
  },
});

define('JValue', {
  props: {
    Value: p(T.object, (v: JValue) => (v.vtype === 'Null' || v.vtype === 'Undefined' ? null : v.value)),
  },
  methods: {
    ToString: m(T.string, (v: JValue, a, c) => (a.length && a[0] instanceof CsEnum && a[0].type === 'Formatting' ? serializeToken(v, false) : tokenToString(v, true, budget(c.rt))), { max: 2 }),
    CompareTo: m(T.int, (v: JValue, a) => {
      const o = a[0] as JValue;
      const x = v.value as number | string;
      const y = o.value as number | string;
      return x < y ? -1 : x > y ? 1 : 0;
    }, { min: 1, max: 1 }),
  },
  sprops: {},
  smethods: {
    CreateNull: m(T.JValue, () => JValue.null(), { max: 0 }),
    CreateString: m(T.JValue, (_s, a) => JValue.str(a[0] as string | null), { min: 1, max: 1 }),
  },
  ctor: {
    call: (a, c) => toJTokenValue(a[0], c.argTys[0]) as JValue,
    min: 1,
    max: 1,
  },
});

// ------------------------------------------------------------------ JsonConvert

function serializeValue(rt: Runtime, v: unknown, ty: Ty | undefined, indented: boolean): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' && ty && ty.n === 'double') return formatJsonDouble(v);
  const t = v instanceof JToken ? v : fromObject(v);
  return checkStr(rt, serializeToken(t, indented, budget(rt)));
}

define('JsonConvert', {
  smethods: {
    SerializeObject: m(T.string, (_s, a, c) => {
      const fmt = a.slice(1).find((x) => x instanceof CsEnum && x.type === 'Formatting') as CsEnum | undefined;
      return serializeValue(c.rt, a[0], c.argTys[0], fmt?.value === 1);
    }, { min: 1, max: 3 }),
    DeserializeObject: m((_s, _a, gen) => gen[0] ?? T.object, (_s, a, c) => {
      if (a[0] === null || a[0] === undefined) throw new CsException('ArgumentNullException', "Value cannot be null. (Parameter 'value')");
      const tok = parseJsonChecked(c.rt, a[0]);
      const target = c.gen[0];
      if (!target) return tok instanceof JValue ? (tok.vtype === 'Null' ? null : tok.value) : tok;
      return tokenTo(tok, target);
    }, { min: 1, max: 2, gen: [0, 1] }),
    ToString: m(T.string, (_s, a, c) => serializeValue(c.rt, a[0], c.argTys[0], false), { min: 1, max: 1 }),
  },
});

export { JT, listOf, arrayOf, dictOf };
