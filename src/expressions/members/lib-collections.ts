// Arrays, List<T>, Dictionary<K,V>, KeyValuePair, LINQ (IEnumerable<T>), headers/query/claims maps, Variables.
import { CsException } from '../errors.js';
import {
  T, arrayOf, checkColl, csCompare, csObjectEquals, elemType, enumOf, isDyn, isInstance, kvOf, listOf, dictOf, tick,
} from '../types.js';
import type { Runtime, Ty } from '../types.js';
import { castValue, defaultOf, define, iterate, type CallCtx, type MethodDef } from './registry.js';
import { m, p, ignoreCaseArg, strEq, hashCode } from './lib-core.js';
import { CsDictionary, CsGrouping, CsKeyValuePair, CsList, OutBox, StringListMap } from '../runtime/values.js';
import { VariablesMap } from '../context.js';
import { CsDateTime, CsDateTimeOffset, CsTimeSpan } from '../runtime/time.js';
import { CsGuid } from '../runtime/values.js';

type Fn = (...a: unknown[]) => unknown;

const E = (self: Ty): Ty => elemType(self) ?? T.dynamic;
const funcRet = (t: Ty | undefined): Ty => (t && t.n === 'Func' && t.a ? (t.a[t.a.length - 1] as Ty) : T.dynamic);
const lam = (i0: number) => (self: Ty, i: number): Ty[] | null => (i === i0 ? [E(self), T.int] : null);

function noElements(): never {
  throw new CsException('InvalidOperationException', 'Sequence contains no elements');
}
function noMatch(): never {
  throw new CsException('InvalidOperationException', 'Sequence contains no matching element');
}

function call(rt: Runtime, f: unknown, ...args: unknown[]): unknown {
  tick(rt);
  return (f as Fn)(...args);
}

function truthy(v: unknown): boolean {
  return v === true;
}

/** value key for Distinct/Union/Contains-like set operations */
function setKey(v: unknown): unknown {
  if (v === null || v === undefined) return 'null:';
  if (typeof v === 'string') return 's:' + v;
  if (typeof v === 'number') return 'n:' + v;
  if (typeof v === 'boolean') return 'b:' + v;
  if (v instanceof CsDateTime) return 'd:' + v.ms;
  if (v instanceof CsDateTimeOffset) return 'o:' + v.utcMs;
  if (v instanceof CsTimeSpan) return 't:' + v.ms;
  if (v instanceof CsGuid) return 'g:' + v.hex;
  return v;
}

function distinct(items: unknown[], ignoreCase = false): unknown[] {
  const seen = new Set<unknown>();
  const out: unknown[] = [];
  for (const it of items) {
    const k = setKey(ignoreCase && typeof it === 'string' ? it.toLowerCase() : it);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(it);
    }
  }
  return out;
}

function items(self: unknown, c: CallCtx): unknown[] {
  return iterate(self, c.rt, c.selfTy);
}

function pick(c: CallCtx, list: unknown[], pred: unknown, which: 'first' | 'last' | 'single', orDefault: boolean, defArg?: unknown): unknown {
  const matches: unknown[] = [];
  const xs = which === 'last' ? list.slice().reverse() : list;
  for (const x of xs) {
    if (pred === undefined || truthy(call(c.rt, pred, x))) {
      matches.push(x);
      if (which !== 'single' || matches.length > 1) break;
    }
  }
  if (which === 'single' && matches.length > 1)
    throw new CsException('InvalidOperationException', pred === undefined ? 'Sequence contains more than one element' : 'Sequence contains more than one matching element');
  if (matches.length === 0) {
    if (orDefault) return defArg !== undefined ? defArg : defaultOf(E(c.selfTy));
    if (pred === undefined || list.length === 0) noElements();
    noMatch();
  }
  return matches[0];
}

/** the sort keys of an OrderBy result, so that ThenBy can refine it */
const ORDERED = new WeakMap<unknown[], { source: unknown[]; keys: Array<{ fn: unknown; desc: boolean }> }>();

function multiOrder(c: CallCtx, source: unknown[], keys: Array<{ fn: unknown; desc: boolean }>): unknown[] {
  const keyed = source.map((x, i) => ({ x, ks: keys.map((k) => (k.fn === undefined ? x : call(c.rt, k.fn, x))), i }));
  tick(c.rt, Math.ceil(source.length * Math.log2(source.length + 2)));
  keyed.sort((a, b) => {
    for (let j = 0; j < keys.length; j++) {
      const r = csCompare(a.ks[j], b.ks[j]);
      if (r !== 0) return (keys[j] as { desc: boolean }).desc ? -r : r;
    }
    return a.i - b.i;
  });
  const out = keyed.map((e) => e.x);
  ORDERED.set(out, { source, keys });
  return out;
}

function keyOrder(c: CallCtx, list: unknown[], key: unknown, desc: boolean): unknown[] {
  return multiOrder(c, list, [{ fn: key, desc }]);
}

function thenOrder(c: CallCtx, self: unknown, key: unknown, desc: boolean): unknown[] {
  const meta = Array.isArray(self) ? ORDERED.get(self) : undefined;
  if (!meta) throw new CsException('InvalidOperationException', 'ThenBy must follow OrderBy or OrderByDescending.');
  return multiOrder(c, meta.source, [...meta.keys, { fn: key, desc }]);
}

function groupBy(c: CallCtx, list: unknown[], keyFn: unknown, elemFn: unknown): CsGrouping[] {
  const groups = new Map<unknown, CsGrouping>();
  for (const x of list) {
    const k = call(c.rt, keyFn, x);
    const sk = setKey(k);
    let g = groups.get(sk);
    if (!g) {
      g = new CsGrouping(k, []);
      groups.set(sk, g);
    }
    g.items.push(elemFn === undefined ? x : call(c.rt, elemFn, x));
  }
  return [...groups.values()];
}

function aggregateNum(c: CallCtx, list: unknown[], sel: unknown, op: 'sum' | 'min' | 'max' | 'avg'): unknown {
  const vals = sel === undefined ? list : list.map((x) => call(c.rt, sel, x));
  const nums = vals.filter((v) => v !== null && v !== undefined);
  if (op === 'sum') return nums.reduce((a: number, b) => a + (b as number), 0);
  if (nums.length === 0) {
    const ty = sel === undefined ? E(c.selfTy) : funcRet(c.argTys[0]);
    if (['int', 'long', 'double', 'byte', 'short'].includes(ty.n)) noElements();
    return null;
  }
  if (op === 'avg') return (nums as number[]).reduce((a, b) => a + b, 0) / nums.length;
  let best = nums[0];
  for (const v of nums.slice(1)) {
    const r = csCompare(v, best);
    if ((op === 'min' && r < 0) || (op === 'max' && r > 0)) best = v;
  }
  return best;
}

const numSelRet = (self: Ty, a: Ty[]): Ty => (a.length ? funcRet(a[0]) : E(self));

const linq: Record<string, MethodDef> = {
  Any: m(T.bool, (self, a, c) => {
    const xs = items(self, c);
    if (a.length === 0) return xs.length > 0;
    return xs.some((x) => truthy(call(c.rt, a[0], x)));
  }, { max: 1, lambda: lam(0) }),
  All: m(T.bool, (self, a, c) => items(self, c).every((x) => truthy(call(c.rt, a[0], x))), { min: 1, max: 1, lambda: lam(0) }),
  Where: m((self) => enumOf(E(self)), (self, a, c) => items(self, c).filter((x, i) => truthy(call(c.rt, a[0], x, i))), { min: 1, max: 1, lambda: lam(0) }),
  Select: m((_s, a) => enumOf(funcRet(a[0])), (self, a, c) => items(self, c).map((x, i) => call(c.rt, a[0], x, i)), { min: 1, max: 1, lambda: lam(0) }),
  SelectMany: m((_s, a) => {
    const r = funcRet(a[0]);
    return enumOf(elemType(r) ?? T.dynamic);
  }, (self, a, c) => {
    const out: unknown[] = [];
    for (const x of items(self, c)) {
      const inner = call(c.rt, a[0], x);
      out.push(...iterate(inner, c.rt));
      checkColl(c.rt, out.length);
    }
    return out;
  }, { min: 1, max: 1, lambda: lam(0) }),
  First: m((self) => E(self), (self, a, c) => pick(c, items(self, c), a[0], 'first', false), { max: 1, lambda: lam(0) }),
  FirstOrDefault: m((self) => E(self), (self, a, c) => {
    const pred = typeof a[0] === 'function' ? a[0] : undefined;
    return pick(c, items(self, c), pred, 'first', true, pred ? a[1] : a[0]);
  }, { max: 2, lambda: lam(0) }),
  Last: m((self) => E(self), (self, a, c) => pick(c, items(self, c), a[0], 'last', false), { max: 1, lambda: lam(0) }),
  LastOrDefault: m((self) => E(self), (self, a, c) => {
    const pred = typeof a[0] === 'function' ? a[0] : undefined;
    return pick(c, items(self, c), pred, 'last', true, pred ? a[1] : a[0]);
  }, { max: 2, lambda: lam(0) }),
  Single: m((self) => E(self), (self, a, c) => pick(c, items(self, c), a[0], 'single', false), { max: 1, lambda: lam(0) }),
  SingleOrDefault: m((self) => E(self), (self, a, c) => {
    const pred = typeof a[0] === 'function' ? a[0] : undefined;
    return pick(c, items(self, c), pred, 'single', true, pred ? a[1] : a[0]);
  }, { max: 2, lambda: lam(0) }),
  Count: m(T.int, (self, a, c) => {
    const xs = items(self, c);
    return a.length ? xs.filter((x) => truthy(call(c.rt, a[0], x))).length : xs.length;
  }, { max: 1, lambda: lam(0) }),
  LongCount: m(T.long, (self, a, c) => {
    const xs = items(self, c);
    return a.length ? xs.filter((x) => truthy(call(c.rt, a[0], x))).length : xs.length;
  }, { max: 1, lambda: lam(0) }),
  Contains: m(T.bool, (self, a, c) => {
    const ic = a.length > 1 && ignoreCaseArg(a[1]);
    return items(self, c).some((x) => (ic && typeof x === 'string' && typeof a[0] === 'string' ? strEq(x, a[0], true) : csObjectEquals(x, a[0])));
  }, { min: 1, max: 2 }),
  ToArray: m((self) => arrayOf(E(self)), (self, _a, c) => items(self, c), { max: 0 }),
  ToList: m((self) => listOf(E(self)), (self, _a, c) => new CsList(items(self, c)), { max: 0 }),
  ToDictionary: m((self, a) => dictOf(funcRet(a[0]), a.length > 1 ? funcRet(a[1]) : E(self)), (self, a, c) => {
    const d = new CsDictionary(a.length > 2 && ignoreCaseArg(a[2]));
    for (const x of items(self, c)) d.add(call(c.rt, a[0], x), a.length > 1 && typeof a[1] === 'function' ? call(c.rt, a[1], x) : x);
    return d;
  }, { min: 1, max: 3, lambda: (self, i) => (i <= 1 ? [E(self)] : null) }),
  Concat: m((self) => enumOf(E(self)), (self, a, c) => {
    const out = [...items(self, c), ...iterate(a[0], c.rt)];
    checkColl(c.rt, out.length);
    return out;
  }, { min: 1, max: 1 }),
  Append: m((self) => enumOf(E(self)), (self, a, c) => [...items(self, c), a[0]], { min: 1, max: 1 }),
  Prepend: m((self) => enumOf(E(self)), (self, a, c) => [a[0], ...items(self, c)], { min: 1, max: 1 }),
  OrderBy: m((self) => enumOf(E(self)), (self, a, c) => keyOrder(c, items(self, c), a[0], false), { min: 1, max: 2, lambda: lam(0) }),
  OrderByDescending: m((self) => enumOf(E(self)), (self, a, c) => keyOrder(c, items(self, c), a[0], true), { min: 1, max: 2, lambda: lam(0) }),
  ThenBy: m((self) => enumOf(E(self)), (self, a, c) => thenOrder(c, self, a[0], false), { min: 1, max: 2, lambda: lam(0) }),
  ThenByDescending: m((self) => enumOf(E(self)), (self, a, c) => thenOrder(c, self, a[0], true), { min: 1, max: 2, lambda: lam(0) }),
  GroupBy: m((self, a) => enumOf({ n: 'IGrouping', a: [funcRet(a[0]), a.length > 1 ? funcRet(a[1]) : E(self)] }), (self, a, c) => groupBy(c, items(self, c), a[0], a[1]), {
    min: 1, max: 2, lambda: (self, i) => (i <= 1 ? [E(self)] : null),
  }),
  Reverse: m((self) => enumOf(E(self)), (self, _a, c) => items(self, c).reverse(), { max: 0 }),
  Distinct: m((self) => enumOf(E(self)), (self, a, c) => distinct(items(self, c), a.length > 0 && ignoreCaseArg(a[0])), { max: 1 }),
  Union: m((self) => enumOf(E(self)), (self, a, c) => distinct([...items(self, c), ...iterate(a[0], c.rt)], a.length > 1 && ignoreCaseArg(a[1])), { min: 1, max: 2 }),
  Intersect: m((self) => enumOf(E(self)), (self, a, c) => {
    const other = new Set(iterate(a[0], c.rt).map(setKey));
    return distinct(items(self, c)).filter((x) => other.has(setKey(x)));
  }, { min: 1, max: 2 }),
  Except: m((self) => enumOf(E(self)), (self, a, c) => {
    const other = new Set(iterate(a[0], c.rt).map(setKey));
    return distinct(items(self, c)).filter((x) => !other.has(setKey(x)));
  }, { min: 1, max: 2 }),
  Skip: m((self) => enumOf(E(self)), (self, a, c) => items(self, c).slice(Math.max(0, a[0] as number)), { min: 1, max: 1 }),
  Take: m((self) => enumOf(E(self)), (self, a, c) => items(self, c).slice(0, Math.max(0, a[0] as number)), { min: 1, max: 1 }),
  SkipWhile: m((self) => enumOf(E(self)), (self, a, c) => {
    const xs = items(self, c);
    let i = 0;
    while (i < xs.length && truthy(call(c.rt, a[0], xs[i], i))) i++;
    return xs.slice(i);
  }, { min: 1, max: 1, lambda: lam(0) }),
  TakeWhile: m((self) => enumOf(E(self)), (self, a, c) => {
    const xs = items(self, c);
    let i = 0;
    while (i < xs.length && truthy(call(c.rt, a[0], xs[i], i))) i++;
    return xs.slice(0, i);
  }, { min: 1, max: 1, lambda: lam(0) }),
  ElementAt: m((self) => E(self), (self, a, c) => {
    const xs = items(self, c);
    const i = a[0] as number;
    if (i < 0 || i >= xs.length) throw new CsException('ArgumentOutOfRangeException', "Index was out of range. Must be non-negative and less than the size of the collection. (Parameter 'index')");
    return xs[i];
  }, { min: 1, max: 1 }),
  ElementAtOrDefault: m((self) => E(self), (self, a, c) => {
    const xs = items(self, c);
    const i = a[0] as number;
    return i >= 0 && i < xs.length ? xs[i] : defaultOf(E(c.selfTy));
  }, { min: 1, max: 1 }),
  DefaultIfEmpty: m((self) => enumOf(E(self)), (self, a, c) => {
    const xs = items(self, c);
    return xs.length ? xs : [a.length ? a[0] : defaultOf(E(c.selfTy))];
  }, { max: 1 }),
  Sum: m(numSelRet, (self, a, c) => aggregateNum(c, items(self, c), a[0], 'sum'), { max: 1, lambda: lam(0) }),
  Min: m(numSelRet, (self, a, c) => aggregateNum(c, items(self, c), a[0], 'min'), { max: 1, lambda: lam(0) }),
  Max: m(numSelRet, (self, a, c) => aggregateNum(c, items(self, c), a[0], 'max'), { max: 1, lambda: lam(0) }),
  Average: m(T.double, (self, a, c) => {
    const xs = items(self, c);
    if (xs.length === 0) noElements();
    return aggregateNum(c, xs, a[0], 'avg');
  }, { max: 1, lambda: lam(0) }),
  Aggregate: m((self, a) => (a.length === 1 ? E(self) : a.length === 3 ? funcRet(a[2]) : a[0] ?? T.dynamic), (self, a, c) => {
    const xs = items(self, c);
    if (a.length === 1) {
      if (xs.length === 0) noElements();
      let acc = xs[0];
      for (const x of xs.slice(1)) acc = call(c.rt, a[0], acc, x);
      return acc;
    }
    let acc = a[0];
    for (const x of xs) acc = call(c.rt, a[1], acc, x);
    return a.length === 3 ? call(c.rt, a[2], acc) : acc;
  }, {
    min: 1,
    max: 3,
    lambda: (self, i, args) => {
      if (args.length === 0 && i === 0) return [E(self), E(self)];
      if (i === 0) return [E(self), E(self)];
      if (i === 1) return [args[0] ?? T.dynamic, E(self)];
      if (i === 2) return [args[0] ?? T.dynamic];
      return null;
    },
  }),
  SequenceEqual: m(T.bool, (self, a, c) => {
    const xs = items(self, c);
    const ys = iterate(a[0], c.rt);
    return xs.length === ys.length && xs.every((x, i) => csObjectEquals(x, ys[i]));
  }, { min: 1, max: 1 }),
  Cast: m((_s, _a, gen) => enumOf(gen[0] ?? T.dynamic), (self, _a, c) => items(self, c).map((x) => castValue(x, c.gen[0] ?? T.dynamic)), { max: 0, gen: [1, 1] }),
  OfType: m((_s, _a, gen) => enumOf(gen[0] ?? T.dynamic), (self, _a, c) => items(self, c).filter((x) => isInstance(x, c.gen[0] ?? T.dynamic)), { max: 0, gen: [1, 1] }),
  AsEnumerable: m((self) => enumOf(E(self)), (self, _a, c) => items(self, c), { max: 0 }),
  ToHashSet: m((self) => listOf(E(self)), (self, _a, c) => new CsList(distinct(items(self, c))), { max: 1 }),
};

define('IEnumerable', { methods: linq, arity: 1 });

// ------------------------------------------------------------------ arrays

function idx(i: unknown, len: number): number {
  const n = i as number;
  if (!Number.isInteger(n) || n < 0 || n >= len) throw new CsException('IndexOutOfRangeException', 'Index was outside the bounds of the array.');
  return n;
}

define('Array', {
  props: {
    Length: p(T.int, (a: unknown[] | Uint8Array) => a.length),
    LongLength: p(T.long, (a: unknown[] | Uint8Array) => a.length),
    Rank: p(T.int, () => 1),
  },
  indexer: {
    ty: (self) => E(self),
    get(a: unknown[] | Uint8Array, k) {
      return a[idx(k[0], a.length)];
    },
    set(a: unknown[] | Uint8Array, k, v) {
      const i = idx(k[0], a.length);
      if (a instanceof Uint8Array) a[i] = (v as number) & 0xff;
      else a[i] = v;
    },
    valueTy: (self) => E(self),
  },
  methods: {
    Clone: m((self) => self, (a: unknown[] | Uint8Array) => a.slice(), { max: 0 }),
    CopyTo: m(T.void, (a: unknown[] | Uint8Array, args) => {
      const dst = args[0] as unknown[];
      const at = args[1] as number;
      if (at < 0 || at + a.length > dst.length) throw new CsException('ArgumentException', 'Destination array was not long enough.');
      for (let i = 0; i < a.length; i++) dst[at + i] = a[i];
    }, { min: 2, max: 2 }),
  },
  smethods: {
    Copy: m(T.void, (_s, a) => {
      let src: unknown[] | Uint8Array, srcIdx: number, dst: unknown[] | Uint8Array, dstIdx: number, len: number;
      if (a.length === 3) [src, dst, len, srcIdx, dstIdx] = [a[0], a[1], a[2], 0, 0];
      else [src, srcIdx, dst, dstIdx, len] = [a[0], a[1], a[2], a[3], a[4]];
      if (!src || !dst) throw new CsException('ArgumentNullException', "Value cannot be null. (Parameter 'sourceArray')");
      if (srcIdx < 0 || dstIdx < 0 || len < 0 || srcIdx + len > src.length || dstIdx + len > dst.length)
        throw new CsException('ArgumentException', 'Source array was not long enough. Check the source index, length, and the array\'s lower bounds.');
      const tmp = Array.from(src.slice(srcIdx, srcIdx + len) as ArrayLike<unknown>);
      for (let i = 0; i < len; i++) (dst as unknown[])[dstIdx + i] = tmp[i];
    }, { min: 3, max: 5 }),
    Exists: m(T.bool, (_s, a, c) => iterate(a[0], c.rt).some((x) => truthy(call(c.rt, a[1], x))), { min: 2, max: 2, lambda: (_s, i, args) => (i === 1 ? [E(args[0] ?? T.dynamic)] : null) }),
    TrueForAll: m(T.bool, (_s, a, c) => iterate(a[0], c.rt).every((x) => truthy(call(c.rt, a[1], x))), { min: 2, max: 2, lambda: (_s, i, args) => (i === 1 ? [E(args[0] ?? T.dynamic)] : null) }),
    Find: m((_s, a) => E(a[0] ?? T.dynamic), (_s, a, c) => {
      const xs = iterate(a[0], c.rt);
      const r = xs.find((x) => truthy(call(c.rt, a[1], x)));
      return r === undefined ? defaultOf(E(c.argTys[0] ?? T.dynamic)) : r;
    }, { min: 2, max: 2, lambda: (_s, i, args) => (i === 1 ? [E(args[0] ?? T.dynamic)] : null) }),
    FindIndex: m(T.int, (_s, a, c) => iterate(a[0], c.rt).findIndex((x) => truthy(call(c.rt, a[1], x))), { min: 2, max: 2, lambda: (_s, i, args) => (i === 1 ? [E(args[0] ?? T.dynamic)] : null) }),
    FindAll: m((_s, a) => arrayOf(E(a[0] ?? T.dynamic)), (_s, a, c) => iterate(a[0], c.rt).filter((x) => truthy(call(c.rt, a[1], x))), { min: 2, max: 2, lambda: (_s, i, args) => (i === 1 ? [E(args[0] ?? T.dynamic)] : null) }),
    ConvertAll: m((_s, a) => arrayOf(funcRet(a[1])), (_s, a, c) => iterate(a[0], c.rt).map((x) => call(c.rt, a[1], x)), { min: 2, max: 2, lambda: (_s, i, args) => (i === 1 ? [E(args[0] ?? T.dynamic)] : null) }),
    IndexOf: m(T.int, (_s, a, c) => iterate(a[0], c.rt).findIndex((x) => csObjectEquals(x, a[1])), { min: 2, max: 2 }),
    Reverse: m(T.void, (_s, a) => {
      (a[0] as unknown[]).reverse();
    }, { min: 1, max: 1 }),
    Sort: m(T.void, (_s, a, c) => {
      const arr = a[0] as unknown[];
      const sorted = keyOrder(c, Array.from(arr), undefined, false);
      for (let i = 0; i < sorted.length; i++) arr[i] = sorted[i];
    }, { min: 1, max: 1 }),
    Empty: m((_s, _a, gen) => arrayOf(gen[0] ?? T.dynamic), () => [], { max: 0, gen: [1, 1] }),
  },
});

// ------------------------------------------------------------------ List<T>

function listIdx(l: CsList, i: unknown): number {
  const n = i as number;
  if (!Number.isInteger(n) || n < 0 || n >= l.items.length)
    throw new CsException('ArgumentOutOfRangeException', "Index was out of range. Must be non-negative and less than the size of the collection. (Parameter 'index')");
  return n;
}

define('List', {
  arity: 1,
  props: {
    Count: p(T.int, (l: CsList) => l.items.length),
    Capacity: p(T.int, (l: CsList) => l.items.length),
  },
  indexer: {
    ty: (self) => E(self),
    get: (l: CsList, k) => l.items[listIdx(l, k[0])],
    set(l: CsList, k, v) {
      l.items[listIdx(l, k[0])] = v;
    },
    valueTy: (self) => E(self),
  },
  methods: {
    Add: m(T.void, (l: CsList, a, c) => {
      checkColl(c.rt, l.items.length + 1);
      l.items.push(a[0]);
    }, { min: 1, max: 1, coerce: (self, i) => (i === 0 ? E(self) : null) }),
    AddRange: m(T.void, (l: CsList, a, c) => {
      const xs = iterate(a[0], c.rt);
      checkColl(c.rt, l.items.length + xs.length);
      l.items.push(...xs);
    }, { min: 1, max: 1 }),
    Insert: m(T.void, (l: CsList, a, c) => {
      const i = a[0] as number;
      if (i < 0 || i > l.items.length) throw new CsException('ArgumentOutOfRangeException', "Index must be within the bounds of the List. (Parameter 'index')");
      checkColl(c.rt, l.items.length + 1);
      l.items.splice(i, 0, a[1]);
    }, { min: 2, max: 2, coerce: (self, i) => (i === 1 ? E(self) : null) }),
    Remove: m(T.bool, (l: CsList, a) => {
      const i = l.items.findIndex((x) => csObjectEquals(x, a[0]));
      if (i < 0) return false;
      l.items.splice(i, 1);
      return true;
    }, { min: 1, max: 1 }),
    RemoveAt: m(T.void, (l: CsList, a) => {
      l.items.splice(listIdx(l, a[0]), 1);
    }, { min: 1, max: 1 }),
    RemoveAll: m(T.int, (l: CsList, a, c) => {
      const before = l.items.length;
      l.items = l.items.filter((x) => !truthy(call(c.rt, a[0], x)));
      return before - l.items.length;
    }, { min: 1, max: 1, lambda: lam(0) }),
    Clear: m(T.void, (l: CsList) => {
      l.items.length = 0;
    }, { max: 0 }),
    Contains: m(T.bool, (l: CsList, a) => l.items.some((x) => csObjectEquals(x, a[0])), { min: 1, max: 1 }),
    IndexOf: m(T.int, (l: CsList, a) => l.items.findIndex((x) => csObjectEquals(x, a[0])), { min: 1, max: 1 }),
    Find: m((self) => E(self), (l: CsList, a, c) => {
      const r = l.items.find((x) => truthy(call(c.rt, a[0], x)));
      return r === undefined ? defaultOf(E(c.selfTy)) : r;
    }, { min: 1, max: 1, lambda: lam(0) }),
    FindAll: m((self) => listOf(E(self)), (l: CsList, a, c) => new CsList(l.items.filter((x) => truthy(call(c.rt, a[0], x)))), { min: 1, max: 1, lambda: lam(0) }),
    FindIndex: m(T.int, (l: CsList, a, c) => l.items.findIndex((x) => truthy(call(c.rt, a[0], x))), { min: 1, max: 1, lambda: lam(0) }),
    Exists: m(T.bool, (l: CsList, a, c) => l.items.some((x) => truthy(call(c.rt, a[0], x))), { min: 1, max: 1, lambda: lam(0) }),
    TrueForAll: m(T.bool, (l: CsList, a, c) => l.items.every((x) => truthy(call(c.rt, a[0], x))), { min: 1, max: 1, lambda: lam(0) }),
    ForEach: m(T.void, (l: CsList, a, c) => {
      for (const x of l.items.slice()) call(c.rt, a[0], x);
    }, { min: 1, max: 1, lambda: lam(0) }),
    Sort: m(T.void, (l: CsList, a, c) => {
      if (a.length === 0) l.items = keyOrder(c, l.items, undefined, false);
      else {
        tick(c.rt, l.items.length * 4);
        l.items = l.items
          .map((x, i) => ({ x, i }))
          .sort((x, y) => (call(c.rt, a[0], x.x, y.x) as number) || x.i - y.i)
          .map((e) => e.x);
      }
    }, { max: 1, lambda: (self, i) => (i === 0 ? [E(self), E(self)] : null) }),
    Reverse: m(T.void, (l: CsList) => {
      l.items.reverse();
    }, { max: 0 }),
    GetRange: m((self) => listOf(E(self)), (l: CsList, a) => {
      const i = a[0] as number;
      const n = a[1] as number;
      if (i < 0 || n < 0 || i + n > l.items.length) throw new CsException('ArgumentException', 'Offset and length were out of bounds for the array or count is greater than the number of elements from index to the end of the source collection.');
      return new CsList(l.items.slice(i, i + n));
    }, { min: 2, max: 2 }),
    ToArray: m((self) => arrayOf(E(self)), (l: CsList) => l.items.slice(), { max: 0 }),
  },
  ctor: {
    call(a, c) {
      if (a.length === 1 && typeof a[0] !== 'number') return new CsList(iterate(a[0], c.rt));
      return new CsList();
    },
    max: 1,
    ty: (gen) => listOf(gen[0] ?? T.dynamic),
    gen: [1, 1],
  },
});

// ------------------------------------------------------------------ Dictionary<K,V>

const dictK = (self: Ty): Ty => (self.a?.[0] ?? T.dynamic) as Ty;
const dictV = (self: Ty): Ty => (self.a?.[1] ?? T.dynamic) as Ty;

define('Dictionary', {
  arity: 2,
  props: {
    Count: p(T.int, (d: CsDictionary) => d.size),
    Keys: p((self) => listOf(dictK(self)), (d: CsDictionary) => new CsList(d.entries().map((e) => e[0]))),
    Values: p((self) => listOf(dictV(self)), (d: CsDictionary) => new CsList(d.entries().map((e) => e[1]))),
  },
  indexer: {
    ty: (self) => dictV(self),
    get: (d: CsDictionary, k) => d.getOrThrow(k[0]),
    set(d: CsDictionary, k, v) {
      if (d.readOnly) throw new CsException('NotSupportedException', 'Collection is read-only.');
      d.set(k[0], v);
    },
    valueTy: (self) => dictV(self),
  },
  methods: {
    Add: m(T.void, (d: CsDictionary, a, c) => {
      if (d.readOnly) throw new CsException('NotSupportedException', 'Collection is read-only.');
      checkColl(c.rt, d.size + 1);
      d.add(a[0], a[1]);
    }, { min: 2, max: 2, coerce: (self, i) => (i === 0 ? dictK(self) : i === 1 ? dictV(self) : null) }),
    TryAdd: m(T.bool, (d: CsDictionary, a, c) => {
      if (d.has(a[0])) return false;
      checkColl(c.rt, d.size + 1);
      d.add(a[0], a[1]);
      return true;
    }, { min: 2, max: 2, coerce: (self, i) => (i === 0 ? dictK(self) : i === 1 ? dictV(self) : null) }),
    Remove: m(T.bool, (d: CsDictionary, a) => {
      if (d.readOnly) throw new CsException('NotSupportedException', 'Collection is read-only.');
      return d.delete(a[0]);
    }, { min: 1, max: 1 }),
    ContainsKey: m(T.bool, (d: CsDictionary, a) => d.has(a[0]), { min: 1, max: 1 }),
    ContainsValue: m(T.bool, (d: CsDictionary, a) => d.entries().some((e) => csObjectEquals(e[1], a[0])), { min: 1, max: 1 }),
    TryGetValue: m(T.bool, (d: CsDictionary, a) => {
      const box = a[1] as OutBox;
      if (d.has(a[0])) {
        box.value = d.get(a[0]);
        return true;
      }
      box.value = null;
      return false;
    }, { min: 2, max: 2, out: (self, i) => (i === 1 ? dictV(self) : null) }),
    GetValueOrDefault: m((self) => dictV(self), (d: CsDictionary, a, c) => (d.has(a[0]) ? d.get(a[0]) : a.length > 1 ? a[1] : defaultOf(dictV(c.selfTy))), { min: 1, max: 2 }),
    Clear: m(T.void, (d: CsDictionary) => {
      if (d.readOnly) throw new CsException('NotSupportedException', 'Collection is read-only.');
      d.map.clear();
    }, { max: 0 }),
  },
  ctor: {
    call(a) {
      const comparer = a.find((x) => ignoreCaseArg(x));
      const d = new CsDictionary(comparer !== undefined);
      const src = a.find((x) => x instanceof CsDictionary) as CsDictionary | undefined;
      if (src) for (const [k, v] of src.entries()) d.add(k, v);
      return d;
    },
    max: 2,
    ty: (gen) => dictOf(gen[0] ?? T.dynamic, gen[1] ?? T.dynamic),
    gen: [2, 2],
  },
});

define('IGrouping', {
  props: {
    Key: p((self) => (self.a?.[0] ?? T.dynamic) as Ty, (g: CsGrouping) => g.key),
  },
});

define('KeyValuePair', {
  arity: 2,
  props: {
    Key: p((self) => dictK(self), (kv: CsKeyValuePair) => kv.key),
    Value: p((self) => dictV(self), (kv: CsKeyValuePair) => kv.value),
  },
  ctor: {
    call: (a) => new CsKeyValuePair(a[0], a[1]),
    min: 2,
    max: 2,
    ty: (gen) => kvOf(gen[0] ?? T.dynamic, gen[1] ?? T.dynamic),
    gen: [2, 2],
  },
});

// ------------------------------------------------------------------ headers / query / claims / form (name → string[])

function keyNotFound(k: unknown): never {
  throw new CsException('KeyNotFoundException', `The given key '${String(k)}' was not present in the dictionary.`);
}

define('StringListMap', {
  props: {
    Count: p(T.int, (h: StringListMap) => h.size),
    Keys: p(listOf(T.string), (h: StringListMap) => new CsList(h.names())),
    Values: p(listOf(T.strings), (h: StringListMap) => new CsList(h.entries().map((e) => e[1].slice()))),
  },
  indexer: {
    ty: T.strings,
    get(h: StringListMap, k) {
      if (k[0] === null || k[0] === undefined) throw new CsException('ArgumentNullException', "Value cannot be null. (Parameter 'key')");
      const v = h.get(String(k[0]));
      if (v === undefined) keyNotFound(k[0]);
      return v.slice();
    },
  },
  methods: {
    ContainsKey: m(T.bool, (h: StringListMap, a) => a[0] !== null && a[0] !== undefined && h.has(String(a[0])), { min: 1, max: 1 }),
    TryGetValue: m(T.bool, (h: StringListMap, a) => {
      const box = a[1] as OutBox;
      const v = a[0] === null || a[0] === undefined ? undefined : h.get(String(a[0]));
      box.value = v === undefined ? null : v.slice();
      return v !== undefined;
    }, { min: 2, max: 2, out: (_s, i) => (i === 1 ? T.strings : null) }),
    // APIM: GetValueOrDefault(name[, string default]) → the values joined with ','; with a string[] default → string[]
    GetValueOrDefault: m((_s, a) => (a[1] && a[1].n === 'Array' ? T.strings : T.string), (h: StringListMap, a, c) => {
      const v = a[0] === null || a[0] === undefined ? undefined : h.get(String(a[0]));
      if (c.argTys[1] && c.argTys[1].n === 'Array') return v === undefined ? (a[1] ?? null) : v.slice();
      if (v === undefined) return a.length > 1 ? a[1] : null;
      return v.join(',');
    }, { min: 1, max: 2 }),
  },
});

// ------------------------------------------------------------------ context.Variables

define('IVariables', {
  props: {
    Count: p(T.int, (v: VariablesMap) => v.size),
    Keys: p(listOf(T.string), (v: VariablesMap) => new CsList(v.entries().map((e) => e[0]))),
    Values: p(listOf(T.object), (v: VariablesMap) => new CsList(v.entries().map((e) => e[1]))),
  },
  indexer: {
    ty: T.object,
    get(v: VariablesMap, k) {
      const name = k[0];
      if (name === null || name === undefined) throw new CsException('ArgumentNullException', "Value cannot be null. (Parameter 'key')");
      if (!v.has(String(name))) keyNotFound(name);
      return v.get(String(name));
    },
  },
  methods: {
    ContainsKey: m(T.bool, (v: VariablesMap, a) => a[0] !== null && a[0] !== undefined && v.has(String(a[0])), { min: 1, max: 1 }),
    TryGetValue: m(T.bool, (v: VariablesMap, a) => {
      const box = a[1] as OutBox;
      const has = a[0] !== null && a[0] !== undefined && v.has(String(a[0]));
      box.value = has ? v.get(String(a[0])) : null;
      return has;
    }, { min: 2, max: 2, out: (_s, i) => (i === 1 ? T.object : null) }),
    // GetValueOrDefault(name) → object; GetValueOrDefault<T>(name[, T default]) → T, the stored value cast to T;
    // GetValueOrDefault(name, T default) infers T from the default
    GetValueOrDefault: m((_s, a, gen) => gen[0] ?? (a.length > 1 && a[1] && a[1].n !== 'null' ? a[1] : T.object), (v: VariablesMap, a, c) => {
      const t = c.gen[0] ?? (a.length > 1 && c.argTys[1] && c.argTys[1].n !== 'null' ? c.argTys[1] : T.object);
      const name = a[0];
      if (name === null || name === undefined || !v.has(String(name))) return a.length > 1 ? a[1] : defaultOf(t);
      const val = v.get(String(name));
      if (isDyn(t)) return val;
      if (val === null) return a.length > 1 ? a[1] : defaultOf(t);
      return castValue(val, t);
    }, { min: 1, max: 2, gen: [0, 1], coerce: (_s, i) => (i === 1 ? null : null) }),
  },
});

export { hashCode };
