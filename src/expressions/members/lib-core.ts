// object, numbers, bool, char, string, enums, exceptions, Math, Convert, BitConverter, Encoding, WebUtility, Uri,
// Guid, Random, StringBuilder, Regex.
import { CsException } from '../errors.js';
import {
  T, arrayOf, checkColl, checkLen, checkStr, csCompare, csObjectEquals, csToString, formatWith, isDyn, listOf,
  parseBoolText, parseDoubleText, parseIntText, checkIntRange, argNull, Encoding, CsRegexObj, INTEGRAL, tick,
} from '../types.js';
import type { Ty, Runtime } from '../types.js';
import { define, iterate, own, TYPES, type CallCtx, type MethodDef, type PropDef } from './registry.js';
import { roundHalfEven, roundAwayFromZero } from '../runtime/numfmt.js';
import {
  CsEnum, CsGroup, CsGroupCollection, CsGuid, CsMatch, CsMatchCollection, CsRandom, CsStringBuilder,
  CsTypeInfo, CsUri, OutBox,
} from '../runtime/values.js';
import { compileRegex, execRegex, parseOptions, REGEX_OPTION_VALUES } from '../runtime/regex.js';
import { runtimeTypeName } from '../types.js';


// ------------------------------------------------------------------ helpers

export function m(ret: MethodDef['ret'], call: MethodDef['call'], opts: Partial<MethodDef> = {}): MethodDef {
  return { ret, call, ...opts };
}
export function p(ty: PropDef['ty'], get: PropDef['get'], opts: Partial<PropDef> = {}): PropDef {
  return { ty, get, ...opts };
}

export function needStr(v: unknown, name: string): string {
  if (v === null || v === undefined) argNull(name);
  return typeof v === 'string' ? v : csToString(v);
}

export function enumVal(v: unknown, type: string): number | null {
  if (v instanceof CsEnum && v.type === type) return v.value;
  return null;
}

/** true if a StringComparison / StringComparer argument asks for case-insensitivity */
export function ignoreCaseArg(v: unknown): boolean {
  if (v instanceof CsEnum && (v.type === 'StringComparison' || v.type === 'StringComparer')) return v.value % 2 === 1;
  if (typeof v === 'boolean') return v;
  return false;
}

export function strEq(a: string, b: string, ignoreCase: boolean): boolean {
  return ignoreCase ? a.toUpperCase() === b.toUpperCase() || a.toLowerCase() === b.toLowerCase() : a === b;
}

export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

export function hashCode(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return Number.isInteger(v) ? v | 0 : hashString(String(v));
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof CsGuid) return hashString(v.hex);
  return hashString(csToString(v));
}

const isWs = (c: string): boolean => /\s/.test(c);
const WS_RE = /\s/g;

function trimChars(s: string, chars: string[] | null, start: boolean, end: boolean): string {
  const test = chars && chars.length > 0 ? (c: string) => chars.includes(c) : isWs;
  let a = 0;
  let b = s.length;
  if (start) while (a < b && test(s[a] as string)) a++;
  if (end) while (b > a && test(s[b - 1] as string)) b--;
  return s.slice(a, b);
}

/** the trailing params of a method as a flat list (a single array argument is the params array) */
export function paramsList(args: unknown[], from: number): unknown[] {
  if (args.length === from + 1 && (Array.isArray(args[from]) || args[from] instanceof Uint8Array)) return Array.from(args[from] as ArrayLike<unknown>);
  return args.slice(from);
}

function charsOf(v: unknown): string[] | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x) => x !== null && x !== undefined).map((x) => String(x));
  return null;
}

export function splitString(rt: Runtime, s: string, seps: string[] | null, count: number, opts: number): string[] {
  if (count < 0) throw new CsException('ArgumentOutOfRangeException', 'Count cannot be less than zero.');
  const removeEmpty = (opts & 1) !== 0;
  const trim = (opts & 2) !== 0;
  const finish = (piece: string): string => (trim ? piece.trim() : piece);
  const out: string[] = [];
  if (count === 0) return out;
  const separators = (seps ?? []).filter((x) => x !== '');
  const useWs = separators.length === 0;
  let start = 0;
  let i = 0;
  /** the next separator at or after i: [position, length] or null */
  const nextSep = (from: number): [number, number] | null => {
    if (useWs) {
      WS_RE.lastIndex = from;
      const m = WS_RE.exec(s);
      return m ? [m.index, 1] : null;
    }
    let best: [number, number] | null = null;
    for (const sep of separators) {
      const at = s.indexOf(sep, from);
      if (at >= 0 && (best === null || at < best[0])) best = [at, sep.length];
    }
    return best;
  };
  while (i <= s.length) {
    if (out.length >= count - 1) break;
    const hit = nextSep(i);
    if (!hit) break;
    const piece = finish(s.slice(start, hit[0]));
    if (!(removeEmpty && piece === '')) out.push(piece);
    i = hit[0] + hit[1];
    start = i;
    if ((out.length & 1023) === 0) checkColl(rt, out.length);
  }
  const last = finish(s.slice(start));
  if (!(removeEmpty && last === '')) out.push(last);
  checkColl(rt, out.length);
  return out;
}

export function stringFormat(rt: Runtime, fmt: string, args: unknown[], argTys?: Ty[]): string {
  let out = '';
  let i = 0;
  while (i < fmt.length) {
    const c = fmt[i] as string;
    if (c === '{') {
      if (fmt[i + 1] === '{') {
        out += '{';
        i += 2;
        continue;
      }
      const close = fmt.indexOf('}', i);
      if (close < 0) throw new CsException('FormatException', 'Input string was not in a correct format.');
      const spec = fmt.slice(i + 1, close);
      const m2 = /^\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?(?::(.*))?$/s.exec(spec);
      if (!m2) throw new CsException('FormatException', 'Input string was not in a correct format.');
      const idx = Number(m2[1]);
      if (idx >= args.length)
        throw new CsException('FormatException', 'Index (zero based) must be greater than or equal to zero and less than the size of the argument list.');
      let text = formatWith(args[idx], m2[3], argTys?.[idx]);
      if (m2[2] !== undefined) {
        const w = Number(m2[2]);
        checkLen(rt, Math.abs(w));
        text = w >= 0 ? text.padStart(w) : text.padEnd(-w);
      }
      out += text;
      checkLen(rt, out.length);
      i = close + 1;
      continue;
    }
    if (c === '}') {
      if (fmt[i + 1] === '}') {
        out += '}';
        i += 2;
        continue;
      }
      throw new CsException('FormatException', 'Input string was not in a correct format.');
    }
    out += c;
    i++;
  }
  return checkStr(rt, out);
}

function replaceAll(rt: Runtime, s: string, oldV: string, newV: string, ignoreCase = false): string {
  if (oldV === '') throw new CsException('ArgumentException', "String cannot be of zero length. (Parameter 'oldValue')");
  const hay = ignoreCase ? s.toLowerCase() : s;
  const needle = ignoreCase ? oldV.toLowerCase() : oldV;
  let count = 0;
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + needle.length)) count++;
  if (count === 0) return s;
  checkLen(rt, s.length + count * (newV.length - oldV.length));
  let out = '';
  let last = 0;
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + needle.length)) {
    out += s.slice(last, i) + newV;
    last = i + needle.length;
  }
  return out + s.slice(last);
}

function outOfRange(name: string, msg: string): never {
  throw new CsException('ArgumentOutOfRangeException', `${msg} (Parameter '${name}')`);
}

function checkIndex(i: number, len: number, name = 'index'): void {
  if (!Number.isInteger(i) || i < 0 || i > len) outOfRange(name, 'Index was out of range. Must be non-negative and less than or equal to the size of the collection.');
}

function strIndexOf(s: string, v: unknown, start: number, ignoreCase: boolean, last: boolean): number {
  if (v === null || v === undefined) argNull('value');
  const needle = String(v);
  const hay = ignoreCase ? s.toLowerCase() : s;
  const n = ignoreCase ? needle.toLowerCase() : needle;
  if (last) return hay.lastIndexOf(n, start);
  return hay.indexOf(n, start);
}

// ------------------------------------------------------------------ object

define('object', {
  methods: {
    ToString: m(T.string, (self, args, c) => (args.length ? formatWith(self, args[0] as string | null, c.selfTy) : csToString(self, c.selfTy)), { max: 2 }),
    Equals: m(T.bool, (self, args) => csObjectEquals(self, args[0]), { min: 1, max: 1 }),
    GetHashCode: m(T.int, (self) => hashCode(self), { max: 0 }),
    GetType: m({ n: 'Type' }, (self) => {
      const full = runtimeTypeName(self);
      return new CsTypeInfo(full.split('.').pop() as string, full);
    }, { max: 0 }),
  },
});

define('Type', {
  props: {
    Name: p(T.string, (s: CsTypeInfo) => s.name),
    FullName: p(T.string, (s: CsTypeInfo) => s.fullName),
  },
});

// ------------------------------------------------------------------ numbers

function numToString(self: number, args: unknown[], c: CallCtx): string {
  const fmt = typeof args[0] === 'string' ? args[0] : null;
  return formatWith(self, fmt, c.selfTy);
}

define('number', {
  methods: {
    ToString: m(T.string, numToString, { max: 2 }),
    CompareTo: m(T.int, (self, args) => csCompare(self, args[0]), { min: 1, max: 1 }),
    Equals: m(T.bool, (self, args) => self === args[0], { min: 1, max: 1 }),
  },
});

function intParse(target: string): MethodDef {
  return m({ n: target }, (_s, args) => {
    const style = enumVal(args[1], 'NumberStyles');
    if (style !== null && (style & 512) !== 0) {
      const t = needStr(args[0], 's').trim();
      if (!/^[0-9a-fA-F]+$/.test(t)) throw new CsException('FormatException', `The input string '${t}' was not in a correct format.`);
      return checkIntRange(parseInt(t, 16), target);
    }
    return parseIntText(args[0] as string, target);
  }, { min: 1, max: 3 });
}

function intTryParse(target: string): MethodDef {
  return m(T.bool, (_s, args) => {
    const box = args[args.length - 1] as OutBox;
    try {
      if (args[0] === null || args[0] === undefined) throw new Error();
      box.value = parseIntText(args[0] as string, target);
      return true;
    } catch {
      box.value = 0;
      return false;
    }
  }, { min: 2, max: 4, out: (_s, i, _a, _g, n) => (i === n - 1 ? { n: target } : null) });
}

const INT_RANGES: Record<string, [number, number]> = {
  int: [-2147483648, 2147483647],
  long: [-9223372036854775808, 9223372036854775807],
  short: [-32768, 32767],
  byte: [0, 255],
};
for (const t of ['int', 'long', 'short', 'byte']) {
  const [lo, hi] = INT_RANGES[t] as [number, number];
  define(t, {
    sprops: {
      MaxValue: p({ n: t }, () => hi),
      MinValue: p({ n: t }, () => lo),
    },
    smethods: {
      Parse: intParse(t),
      TryParse: intTryParse(t),
    },
  });
}

define('double', {
  sprops: {
    MaxValue: p(T.double, () => Number.MAX_VALUE),
    MinValue: p(T.double, () => -Number.MAX_VALUE),
    Epsilon: p(T.double, () => Number.MIN_VALUE),
    NaN: p(T.double, () => NaN),
    PositiveInfinity: p(T.double, () => Infinity),
    NegativeInfinity: p(T.double, () => -Infinity),
  },
  smethods: {
    Parse: m(T.double, (_s, args) => parseDoubleText(args[0] as string), { min: 1, max: 3 }),
    TryParse: m(T.bool, (_s, args) => {
      const box = args[args.length - 1] as OutBox;
      try {
        box.value = parseDoubleText(args[0] as string);
        return true;
      } catch {
        box.value = 0;
        return false;
      }
    }, { min: 2, max: 4, out: (_s, i, _a, _g, n) => (i === n - 1 ? T.double : null) }),
    IsNaN: m(T.bool, (_s, a) => Number.isNaN(a[0]), { min: 1, max: 1 }),
    IsInfinity: m(T.bool, (_s, a) => a[0] === Infinity || a[0] === -Infinity, { min: 1, max: 1 }),
    IsFinite: m(T.bool, (_s, a) => Number.isFinite(a[0]), { min: 1, max: 1 }),
  },
});

define('bool', {
  methods: {
    ToString: m(T.string, (self) => (self ? 'True' : 'False'), { max: 1 }),
    CompareTo: m(T.int, (self, args) => csCompare(self, args[0]), { min: 1, max: 1 }),
  },
  sprops: {
    TrueString: p(T.string, () => 'True'),
    FalseString: p(T.string, () => 'False'),
  },
  smethods: {
    Parse: m(T.bool, (_s, args) => parseBoolText(args[0] as string), { min: 1, max: 1 }),
    TryParse: m(T.bool, (_s, args) => {
      const box = args[1] as OutBox;
      try {
        box.value = parseBoolText(args[0] as string);
        return true;
      } catch {
        box.value = false;
        return false;
      }
    }, { min: 2, max: 2, out: (_s, i) => (i === 1 ? T.bool : null) }),
  },
});

define('char', {
  methods: {
    ToString: m(T.string, (self) => self, { max: 1 }),
    CompareTo: m(T.int, (self, args) => csCompare(self, args[0]), { min: 1, max: 1 }),
    Equals: m(T.bool, (self, args) => self === args[0], { min: 1, max: 1 }),
  },
  smethods: {
    IsDigit: m(T.bool, (_s, a) => /^\p{Nd}$/u.test(a[0]), { min: 1, max: 1 }),
    IsLetter: m(T.bool, (_s, a) => /^\p{L}$/u.test(a[0]), { min: 1, max: 1 }),
    IsLetterOrDigit: m(T.bool, (_s, a) => /^[\p{L}\p{Nd}]$/u.test(a[0]), { min: 1, max: 1 }),
    IsWhiteSpace: m(T.bool, (_s, a) => /^\s$/.test(a[0]), { min: 1, max: 1 }),
    IsUpper: m(T.bool, (_s, a) => /^\p{Lu}$/u.test(a[0]), { min: 1, max: 1 }),
    IsLower: m(T.bool, (_s, a) => /^\p{Ll}$/u.test(a[0]), { min: 1, max: 1 }),
    IsPunctuation: m(T.bool, (_s, a) => /^\p{P}$/u.test(a[0]), { min: 1, max: 1 }),
    ToUpper: m(T.char, (_s, a) => (a[0] as string).toUpperCase(), { min: 1, max: 1 }),
    ToLower: m(T.char, (_s, a) => (a[0] as string).toLowerCase(), { min: 1, max: 1 }),
    ToString: m(T.string, (_s, a) => a[0] as string, { min: 1, max: 1 }),
  },
  sprops: {
    MaxValue: p(T.char, () => '\uffff'),
    MinValue: p(T.char, () => '\0'),
  },
});

// ------------------------------------------------------------------ string

const strMethods: Record<string, MethodDef> = {
  Substring: m(T.string, (s: string, a) => {
    const start = a[0] as number;
    if (start < 0 || start > s.length) outOfRange('startIndex', 'startIndex cannot be larger than length of string.');
    if (a.length > 1) {
      const len = a[1] as number;
      if (len < 0 || start + len > s.length) outOfRange('length', 'Index and length must refer to a location within the string.');
      return s.substr(start, len);
    }
    return s.slice(start);
  }, { min: 1, max: 2 }),
  IndexOf: m(T.int, (s: string, a) => {
    let start = 0;
    let ic = false;
    if (a.length >= 2 && typeof a[1] === 'number') start = a[1];
    if (a.length >= 2 && a[a.length - 1] instanceof CsEnum) ic = ignoreCaseArg(a[a.length - 1]);
    if (start < 0 || start > s.length) outOfRange('startIndex', 'Index was out of range.');
    if (a.length >= 3 && typeof a[2] === 'number') {
      const r = strIndexOf(s.slice(0, start + (a[2] as number)), a[0], start, ic, false);
      return r;
    }
    return strIndexOf(s, a[0], start, ic, false);
  }, { min: 1, max: 4 }),
  LastIndexOf: m(T.int, (s: string, a) => {
    let start = s.length;
    let ic = false;
    if (a.length >= 2 && typeof a[1] === 'number') start = a[1];
    if (a.length >= 2 && a[a.length - 1] instanceof CsEnum) ic = ignoreCaseArg(a[a.length - 1]);
    return strIndexOf(s, a[0], start, ic, true);
  }, { min: 1, max: 3 }),
  IndexOfAny: m(T.int, (s: string, a) => {
    const cs = a[0] as string[];
    const start = (a[1] as number | undefined) ?? 0;
    for (let i = start; i < s.length; i++) if (cs.includes(s[i] as string)) return i;
    return -1;
  }, { min: 1, max: 2 }),
  LastIndexOfAny: m(T.int, (s: string, a) => {
    const cs = a[0] as string[];
    for (let i = s.length - 1; i >= 0; i--) if (cs.includes(s[i] as string)) return i;
    return -1;
  }, { min: 1, max: 1 }),
  Contains: m(T.bool, (s: string, a) => {
    const ic = a.length > 1 && ignoreCaseArg(a[1]);
    if (a[0] === null || a[0] === undefined) argNull('value');
    return strIndexOf(s, a[0], 0, ic, false) >= 0;
  }, { min: 1, max: 2 }),
  StartsWith: m(T.bool, (s: string, a) => {
    const v = needStr(a[0], 'value');
    const ic = a.length > 1 && ignoreCaseArg(a[1]);
    return ic ? s.toLowerCase().startsWith(v.toLowerCase()) : s.startsWith(v);
  }, { min: 1, max: 3 }),
  EndsWith: m(T.bool, (s: string, a) => {
    const v = needStr(a[0], 'value');
    const ic = a.length > 1 && ignoreCaseArg(a[1]);
    return ic ? s.toLowerCase().endsWith(v.toLowerCase()) : s.endsWith(v);
  }, { min: 1, max: 3 }),
  Split: m(T.strings, (s: string, a, c) => {
    // Split(params char[]) | Split(char[]|string[]|char|string [, int count] [, StringSplitOptions])
    let opts = 0;
    let count = Infinity;
    const args = [...a];
    if (args.length && args[args.length - 1] instanceof CsEnum) opts = (args.pop() as CsEnum).value;
    if (args.length >= 2 && typeof args[args.length - 1] === 'number' && c.argTys[args.length - 1]?.n !== 'char') count = args.pop() as number;
    let seps: string[] | null;
    if (args.length === 0) seps = null;
    else if (args.length === 1) seps = charsOf(args[0]);
    else seps = args.map((x) => String(x));
    return splitString(c.rt, s, seps, count, opts);
  }, { max: 4 }),
  Trim: m(T.string, (s: string, a) => trimChars(s, a.length ? paramsList(a, 0).map(String) : null, true, true), {}),
  TrimStart: m(T.string, (s: string, a) => trimChars(s, a.length ? paramsList(a, 0).map(String) : null, true, false), {}),
  TrimEnd: m(T.string, (s: string, a) => trimChars(s, a.length ? paramsList(a, 0).map(String) : null, false, true), {}),
  ToLower: m(T.string, (s: string) => s.toLowerCase(), { max: 1 }),
  ToUpper: m(T.string, (s: string) => s.toUpperCase(), { max: 1 }),
  ToLowerInvariant: m(T.string, (s: string) => s.toLowerCase(), { max: 0 }),
  ToUpperInvariant: m(T.string, (s: string) => s.toUpperCase(), { max: 0 }),
  Replace: m(T.string, (s: string, a, c) => {
    if (a[0] === null || a[0] === undefined) argNull('oldValue');
    const ic = a.length > 2 && ignoreCaseArg(a[a.length - 1]);
    return replaceAll(c.rt, s, String(a[0]), a[1] === null || a[1] === undefined ? '' : String(a[1]), ic);
  }, { min: 2, max: 4 }),
  PadLeft: m(T.string, (s: string, a, c) => {
    const w = a[0] as number;
    if (w < 0) outOfRange('totalWidth', 'Non-negative number required.');
    checkLen(c.rt, w);
    return s.padStart(w, (a[1] as string | undefined) ?? ' ');
  }, { min: 1, max: 2 }),
  PadRight: m(T.string, (s: string, a, c) => {
    const w = a[0] as number;
    if (w < 0) outOfRange('totalWidth', 'Non-negative number required.');
    checkLen(c.rt, w);
    return s.padEnd(w, (a[1] as string | undefined) ?? ' ');
  }, { min: 1, max: 2 }),
  Equals: m(T.bool, (s: string, a) => {
    if (typeof a[0] !== 'string') return false;
    return strEq(s, a[0], a.length > 1 && ignoreCaseArg(a[1]));
  }, { min: 1, max: 2 }),
  CompareTo: m(T.int, (s: string, a) => (a[0] === null ? 1 : csCompare(s, a[0])), { min: 1, max: 1 }),
  ToString: m(T.string, (s: string) => s, { max: 1 }),
  ToCharArray: m(arrayOf(T.char), (s: string, a, c) => {
    const part = a.length === 2 ? s.substr(a[0] as number, a[1] as number) : s;
    checkColl(c.rt, part.length);
    return part.split('');
  }, { max: 2 }),
  Insert: m(T.string, (s: string, a, c) => {
    const i = a[0] as number;
    checkIndex(i, s.length, 'startIndex');
    const v = needStr(a[1], 'value');
    checkLen(c.rt, s.length + v.length);
    return s.slice(0, i) + v + s.slice(i);
  }, { min: 2, max: 2 }),
  Remove: m(T.string, (s: string, a) => {
    const i = a[0] as number;
    if (i < 0 || i > s.length) outOfRange('startIndex', 'startIndex must be less than length of string.');
    if (a.length > 1) {
      const n = a[1] as number;
      if (n < 0 || i + n > s.length) outOfRange('count', 'Index and count must refer to a location within the string.');
      return s.slice(0, i) + s.slice(i + n);
    }
    return s.slice(0, i);
  }, { min: 1, max: 2 }),
  Normalize: m(T.string, (s: string) => s.normalize('NFC'), { max: 1 }),
  GetHashCode: m(T.int, (s: string) => hashString(s), { max: 0 }),
  // APIM extension methods on string
  AsJwt: m(T.Jwt, () => null, { max: 0 }),
  TryParseJwt: m(T.bool, () => false, { min: 1, max: 1, out: (_s, i) => (i === 0 ? T.Jwt : null) }),
  AsBasic: m({ n: 'BasicCredentials' }, () => null, { max: 0 }),
  TryParseBasic: m(T.bool, () => false, { min: 1, max: 1, out: (_s, i) => (i === 0 ? { n: 'BasicCredentials' } : null) }),
};

function joinValues(rt: Runtime, sep: string, items: unknown[], tys?: Ty): string {
  let len = 0;
  const parts = items.map((x) => {
    const s = csToString(x, tys);
    len += s.length + sep.length;
    checkLen(rt, len);
    return s;
  });
  return checkStr(rt, parts.join(sep));
}


define('string', {
  methods: strMethods,
  props: {
    Length: p(T.int, (s: string) => s.length),
  },
  indexer: {
    ty: T.char,
    get(s: string, k) {
      const i = k[0] as number;
      if (!Number.isInteger(i) || i < 0 || i >= s.length) throw new CsException('IndexOutOfRangeException', 'Index was outside the bounds of the array.');
      return s[i];
    },
  },
  sprops: {
    Empty: p(T.string, () => ''),
  },
  smethods: {
    IsNullOrEmpty: m(T.bool, (_s, a) => a[0] === null || a[0] === undefined || a[0] === '', { min: 1, max: 1 }),
    IsNullOrWhiteSpace: m(T.bool, (_s, a) => a[0] === null || a[0] === undefined || String(a[0]).trim() === '', { min: 1, max: 1 }),
    Join: m(T.string, (_s, a, c) => {
      const sep = a[0] === null || a[0] === undefined ? '' : String(a[0]);
      let items: unknown[];
      let elemTy: Ty | undefined;
      if (a.length === 2) {
        const v = a[1];
        if (v === null || v === undefined) argNull('values');
        items = c.argTys[1] && c.argTys[1].n === 'string' ? [v] : iterateLoose(v, c.rt);
        elemTy = c.argTys[1]?.a?.[0];
      } else items = a.slice(1);
      return joinValues(c.rt, sep, items, elemTy);
    }, { min: 2 }),
    Concat: m(T.string, (_s, a, c) => {
      let items: unknown[];
      let elemTy: Ty | undefined;
      if (a.length === 1 && !(c.argTys[0]?.n === 'string')) {
        items = iterateLoose(a[0], c.rt);
        elemTy = c.argTys[0]?.a?.[0];
      } else items = a;
      return joinValues(c.rt, '', items, elemTy);
    }, { min: 1 }),
    Format: m(T.string, (_s, a, c) => {
      let args = a;
      let tys = c.argTys;
      if (args[0] instanceof CsEnum && args[0].type === 'CultureInfo') {
        args = args.slice(1);
        tys = tys.slice(1);
      }
      const fmt = needStr(args[0], 'format');
      const rest = paramsList(args, 1);
      return stringFormat(c.rt, fmt, rest, rest.length === args.length - 1 ? tys.slice(1) : undefined);
    }, { min: 1 }),
    Compare: m(T.int, (_s, a) => {
      const x = a[0] as string | null;
      const y = a[1] as string | null;
      const ic = a.length > 2 && ignoreCaseArg(a[2]);
      if (x === null || y === null) return x === y ? 0 : x === null ? -1 : 1;
      return csCompare(ic ? x.toLowerCase() : x, ic ? y.toLowerCase() : y);
    }, { min: 2, max: 3 }),
    CompareOrdinal: m(T.int, (_s, a) => {
      const x = a[0] as string | null;
      const y = a[1] as string | null;
      if (x === null || y === null) return x === y ? 0 : x === null ? -1 : 1;
      return csCompare(x, y);
    }, { min: 2, max: 2 }),
    Equals: m(T.bool, (_s, a) => {
      const x = a[0] as string | null;
      const y = a[1] as string | null;
      if (x === null || y === null || x === undefined || y === undefined) return (x ?? null) === (y ?? null);
      return strEq(x, y, a.length > 2 && ignoreCaseArg(a[2]));
    }, { min: 2, max: 3 }),
    Copy: m(T.string, (_s, a) => needStr(a[0], 'str'), { min: 1, max: 1 }),
  },
  ctor: {
    // new string(char c, int count) | new string(char[] value)
    call(a, c) {
      if (a.length === 2) {
        const n = a[1] as number;
        if (n < 0) outOfRange('count', 'Non-negative number required.');
        checkLen(c.rt, n);
        return (a[0] as string).repeat(n);
      }
      if (Array.isArray(a[0])) return (a[0] as string[]).join('');
      return '';
    },
    min: 1,
    max: 3,
    ty: () => T.string,
  },
});

function iterateLoose(v: unknown, rt: Runtime): unknown[] {
  if (v === null || v === undefined) return [];
  return iterate(v, rt);
}

// ------------------------------------------------------------------ enums

export function defineEnum(name: string, values: Record<string, number>): void {
  define(name, { enumValues: values });
}

defineEnum('StringComparison', {
  CurrentCulture: 0, CurrentCultureIgnoreCase: 1, InvariantCulture: 2, InvariantCultureIgnoreCase: 3, Ordinal: 4, OrdinalIgnoreCase: 5,
});
defineEnum('StringComparer', {
  CurrentCulture: 0, CurrentCultureIgnoreCase: 1, InvariantCulture: 2, InvariantCultureIgnoreCase: 3, Ordinal: 4, OrdinalIgnoreCase: 5,
});
defineEnum('StringSplitOptions', { None: 0, RemoveEmptyEntries: 1, TrimEntries: 2 });
defineEnum('RegexOptions', REGEX_OPTION_VALUES);
defineEnum('Formatting', { None: 0, Indented: 1 });
defineEnum('JTokenType', {
  None: 0, Object: 1, Array: 2, Constructor: 3, Property: 4, Comment: 5, Integer: 6, Float: 7, String: 8, Boolean: 9, Null: 10,
  Undefined: 11, Date: 12, Raw: 13, Bytes: 14, Guid: 15, Uri: 16, TimeSpan: 17,
});
defineEnum('DateTimeKind', { Unspecified: 0, Utc: 1, Local: 2 });
defineEnum('UriKind', { RelativeOrAbsolute: 0, Absolute: 1, Relative: 2 });
defineEnum('MidpointRounding', { ToEven: 0, AwayFromZero: 1, ToZero: 2, ToNegativeInfinity: 3, ToPositiveInfinity: 4 });
defineEnum('DayOfWeek', { Sunday: 0, Monday: 1, Tuesday: 2, Wednesday: 3, Thursday: 4, Friday: 5, Saturday: 6 });
defineEnum('NumberStyles', {
  None: 0, AllowLeadingWhite: 1, AllowTrailingWhite: 2, AllowLeadingSign: 4, Integer: 7, AllowHexSpecifier: 512, HexNumber: 515,
  Number: 111, Float: 167, Currency: 383, Any: 511,
});
defineEnum('CultureInfo', { InvariantCulture: 0, CurrentCulture: 1, CurrentUICulture: 2 });
defineEnum('DateTimeStyles', { None: 0, AdjustToUniversal: 16, AssumeLocal: 32, AssumeUniversal: 64, RoundtripKind: 128 });

define('CultureInfo', {
  smethods: {
    GetCultureInfo: m({ n: 'CultureInfo' }, () => new CsEnum('CultureInfo', 'CurrentCulture', 1), { min: 1, max: 1 }),
  },
  ctor: { call: () => new CsEnum('CultureInfo', 'CurrentCulture', 1), min: 1, max: 1 },
});

define('StringComparer', {
  methods: {
    Equals: m(T.bool, (self: CsEnum, a) => {
      if (a[0] === null || a[1] === null) return a[0] === a[1];
      return strEq(String(a[0]), String(a[1]), self.value % 2 === 1);
    }, { min: 2, max: 2 }),
    Compare: m(T.int, (self: CsEnum, a) => {
      const ic = self.value % 2 === 1;
      const x = a[0] as string | null;
      const y = a[1] as string | null;
      if (x === null || y === null) return x === y ? 0 : x === null ? -1 : 1;
      return csCompare(ic ? x.toLowerCase() : x, ic ? y.toLowerCase() : y);
    }, { min: 2, max: 2 }),
  },
});

define('Enum', {
  methods: {
    ToString: m(T.string, (self: CsEnum, a) => formatWith(self, a[0] as string | undefined), { max: 1 }),
    HasFlag: m(T.bool, (self: CsEnum, a) => {
      const f = (a[0] as CsEnum).value;
      return (self.value & f) === f;
    }, { min: 1, max: 1 }),
    Equals: m(T.bool, (self: CsEnum, a) => a[0] instanceof CsEnum && a[0].type === self.type && a[0].value === self.value, { min: 1, max: 1 }),
  },
});

/** builds the CsEnum for a flags value (used by `|` on enums) */
export function enumFromValue(type: string, value: number): CsEnum {
  const vals = TYPES.get(type)?.enumValues;
  if (vals) {
    for (const k of Object.keys(vals)) if (vals[k] === value) return new CsEnum(type, k, value);
    const names = Object.keys(vals).filter((k) => {
      const v = vals[k] as number;
      return v !== 0 && (value & v) === v && (v & (v - 1)) === 0;
    });
    if (names.length) return new CsEnum(type, names.join(', '), value);
  }
  return new CsEnum(type, String(value), value);
}

// ------------------------------------------------------------------ exceptions

const EXCEPTION_TYPES = [
  'Exception', 'SystemException', 'ArgumentException', 'ArgumentNullException', 'ArgumentOutOfRangeException', 'InvalidOperationException',
  'FormatException', 'NotSupportedException', 'NotImplementedException', 'InvalidCastException', 'NullReferenceException',
  'KeyNotFoundException', 'IndexOutOfRangeException', 'OverflowException', 'DivideByZeroException', 'UnauthorizedAccessException',
  'JsonReaderException', 'JsonException', 'JsonSerializationException', 'UriFormatException', 'CryptographicException',
  'TimeoutException', 'HttpRequestException', 'ApplicationException',
];
export const EXCEPTION_TYPE_SET = new Set(EXCEPTION_TYPES);

/** is an exception of type `thrown` caught by `catch (catchType)`? */
export function exceptionMatches(thrown: string, catchType: string): boolean {
  if (catchType === 'Exception') return true;
  if (thrown === catchType) return true;
  if (catchType === 'SystemException') return thrown !== 'ApplicationException' && !thrown.startsWith('Json');
  if (catchType === 'ArgumentException') return thrown === 'ArgumentNullException' || thrown === 'ArgumentOutOfRangeException';
  if (catchType === 'JsonException') return thrown.startsWith('Json');
  if (catchType === 'FormatException') return thrown === 'UriFormatException';
  return false;
}

for (const name of EXCEPTION_TYPES) {
  define(name, {
    props: {
      Message: p(T.string, (e: { message: string }) => e.message),
      InnerException: p(T.Exception, () => null),
      StackTrace: p(T.string, () => ''),
      Source: p(T.string, () => 'Gatehouse'),
    },
    ctor: {
      call(a) {
        let msg = a[0] === null || a[0] === undefined ? `Exception of type 'System.${name}' was thrown.` : String(a[0]);
        if (name === 'ArgumentNullException' && a.length === 1) msg = `Value cannot be null. (Parameter '${String(a[0])}')`;
        return new CsException(name, msg);
      },
      max: 2,
      ty: () => ({ n: name }),
    },
  });
}
define('Exception', {
  methods: {
    ToString: m(T.string, (e: { csType?: string; type?: string; message: string }) => `System.${e.csType ?? e.type}: ${e.message}`, { max: 0 }),
  },
});

// ------------------------------------------------------------------ Math

function numRet(_s: Ty, a: Ty[]): Ty {
  if (a.some((t) => t.n === 'double')) return T.double;
  if (a.some((t) => t.n === 'long')) return T.long;
  if (a.every((t) => INTEGRAL.has(t.n) || t.n === 'char')) return T.int;
  return a.some((t) => isDyn(t)) ? T.double : T.double;
}

define('Math', {
  sprops: {
    PI: p(T.double, () => Math.PI),
    E: p(T.double, () => Math.E),
  },
  smethods: {
    Min: m(numRet, (_s, a) => Math.min(a[0], a[1]), { min: 2, max: 2 }),
    Max: m(numRet, (_s, a) => Math.max(a[0], a[1]), { min: 2, max: 2 }),
    Abs: m((_s, a) => numRet(_s, a), (_s, a) => {
      const v = a[0] as number;
      if (v === -2147483648) throw new CsException('OverflowException', 'Negating the minimum value of a twos complement number is invalid.');
      return Math.abs(v);
    }, { min: 1, max: 1 }),
    Floor: m(T.double, (_s, a) => Math.floor(a[0]), { min: 1, max: 1 }),
    Ceiling: m(T.double, (_s, a) => Math.ceil(a[0]), { min: 1, max: 1 }),
    Truncate: m(T.double, (_s, a) => Math.trunc(a[0]), { min: 1, max: 1 }),
    Round: m(T.double, (_s, a) => {
      const x = a[0] as number;
      let digits = 0;
      let mode = 0;
      for (const extra of a.slice(1)) {
        if (typeof extra === 'number') digits = extra;
        else if (extra instanceof CsEnum) mode = extra.value;
      }
      if (mode === 1) return roundAwayFromZero(x, digits);
      if (mode === 2) return Math.trunc(x * 10 ** digits) / 10 ** digits;
      if (mode === 3) return Math.floor(x * 10 ** digits) / 10 ** digits;
      if (mode === 4) return Math.ceil(x * 10 ** digits) / 10 ** digits;
      return roundHalfEven(x, digits);
    }, { min: 1, max: 3 }),
    Pow: m(T.double, (_s, a) => Math.pow(a[0], a[1]), { min: 2, max: 2 }),
    Sqrt: m(T.double, (_s, a) => Math.sqrt(a[0]), { min: 1, max: 1 }),
    Log: m(T.double, (_s, a) => (a.length > 1 ? Math.log(a[0]) / Math.log(a[1]) : Math.log(a[0])), { min: 1, max: 2 }),
    Log10: m(T.double, (_s, a) => Math.log10(a[0]), { min: 1, max: 1 }),
    Log2: m(T.double, (_s, a) => Math.log2(a[0]), { min: 1, max: 1 }),
    Exp: m(T.double, (_s, a) => Math.exp(a[0]), { min: 1, max: 1 }),
    Sign: m(T.int, (_s, a) => Math.sign(a[0]), { min: 1, max: 1 }),
    Clamp: m(numRet, (_s, a) => Math.min(Math.max(a[0], a[1]), a[2]), { min: 3, max: 3 }),
    Sin: m(T.double, (_s, a) => Math.sin(a[0]), { min: 1, max: 1 }),
    Cos: m(T.double, (_s, a) => Math.cos(a[0]), { min: 1, max: 1 }),
    Tan: m(T.double, (_s, a) => Math.tan(a[0]), { min: 1, max: 1 }),
  },
});

// ------------------------------------------------------------------ Convert

function toInt(v: unknown, target: string, base?: number): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') {
    const r = INTEGRAL.has(target) ? (Number.isInteger(v) ? v : roundHalfEven(v)) : v;
    return checkIntRange(r, target);
  }
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    if (base === 16) {
      const t = v.trim().replace(/^0x/i, '');
      if (!/^[0-9a-fA-F]+$/.test(t)) throw new CsException('FormatException', 'Could not find any recognizable digits.');
      return checkIntRange(parseInt(t, 16), target);
    }
    if (base === 2 || base === 8) return checkIntRange(parseInt(v.trim(), base), target);
    if (v.length === 1 && target === 'char') return v.charCodeAt(0);
    return parseIntText(v, target);
  }
  if (v instanceof CsEnum) return v.value;
  throw new CsException('InvalidCastException', `Unable to cast object of type '${runtimeTypeName(v)}' to type 'System.IConvertible'.`);
}

function fromBase64(s: string): Uint8Array {
  const t = s.replace(/[\s]/g, '');
  if (t.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(t))
    throw new CsException('FormatException', 'The input is not a valid Base-64 string as it contains a non-base 64 character, more than two padding characters, or an illegal character among the padding characters.');
  return new Uint8Array(Buffer.from(t, 'base64'));
}

define('Convert', {
  smethods: {
    ToBase64String: m(T.string, (_s, a, c) => {
      const b = a[0] as Uint8Array;
      if (b === null || b === undefined) argNull('inArray');
      const bytes = a.length >= 3 ? b.subarray(a[1] as number, (a[1] as number) + (a[2] as number)) : b;
      checkLen(c.rt, Math.ceil(bytes.length / 3) * 4);
      return Buffer.from(bytes).toString('base64');
    }, { min: 1, max: 4 }),
    FromBase64String: m(T.bytes, (_s, a) => fromBase64(needStr(a[0], 's')), { min: 1, max: 1 }),
    ToHexString: m(T.string, (_s, a, c) => {
      const b = a[0] as Uint8Array;
      if (!b) argNull('inArray');
      checkLen(c.rt, b.length * 2);
      return Buffer.from(b).toString('hex').toUpperCase();
    }, { min: 1, max: 3 }),
    FromHexString: m(T.bytes, (_s, a) => {
      const s = needStr(a[0], 's');
      if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new CsException('FormatException', 'The input is not a valid hex string as it contains a non-hex character.');
      return new Uint8Array(Buffer.from(s, 'hex'));
    }, { min: 1, max: 1 }),
    ToInt32: m(T.int, (_s, a) => toInt(a[0], 'int', typeof a[1] === 'number' ? a[1] : undefined), { min: 1, max: 2 }),
    ToInt64: m(T.long, (_s, a) => toInt(a[0], 'long', typeof a[1] === 'number' ? a[1] : undefined), { min: 1, max: 2 }),
    ToInt16: m(T.short, (_s, a) => toInt(a[0], 'short', typeof a[1] === 'number' ? a[1] : undefined), { min: 1, max: 2 }),
    ToByte: m(T.byte, (_s, a) => toInt(a[0], 'byte', typeof a[1] === 'number' ? a[1] : undefined), { min: 1, max: 2 }),
    ToDouble: m(T.double, (_s, a) => {
      const v = a[0];
      if (v === null || v === undefined) return 0;
      if (typeof v === 'number') return v;
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'string') return parseDoubleText(v);
      throw new CsException('InvalidCastException', `Unable to cast object of type '${runtimeTypeName(v)}' to type 'System.IConvertible'.`);
    }, { min: 1, max: 2 }),
    ToDecimal: m(T.double, (_s, a) => (typeof a[0] === 'string' ? parseDoubleText(a[0]) : Number(a[0] ?? 0)), { min: 1, max: 2 }),
    ToBoolean: m(T.bool, (_s, a) => {
      const v = a[0];
      if (v === null || v === undefined) return false;
      if (typeof v === 'boolean') return v;
      if (typeof v === 'number') return v !== 0;
      if (typeof v === 'string') return parseBoolText(v);
      throw new CsException('InvalidCastException', `Unable to cast object of type '${runtimeTypeName(v)}' to type 'System.IConvertible'.`);
    }, { min: 1, max: 2 }),
    ToString: m(T.string, (_s, a, c) => {
      if (a.length === 2 && typeof a[0] === 'number' && typeof a[1] === 'number') {
        const base = a[1];
        if (![2, 8, 10, 16].includes(base)) throw new CsException('ArgumentException', 'Invalid Base.');
        const v = a[0] < 0 && base !== 10 ? a[0] >>> 0 : a[0];
        return v.toString(base);
      }
      return a[0] === null || a[0] === undefined ? '' : formatWith(a[0], null, c.argTys[0]);
    }, { min: 1, max: 2 }),
    ToChar: m(T.char, (_s, a) => (typeof a[0] === 'number' ? String.fromCharCode(a[0]) : String(a[0]).charAt(0)), { min: 1, max: 1 }),
  },
});

// ------------------------------------------------------------------ BitConverter

function readLE(b: Uint8Array, start: number, n: number): bigint {
  if (start < 0 || start + n > b.length) outOfRange('startIndex', 'Index was out of range.');
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[start + i] as number);
  return v;
}

define('BitConverter', {
  sprops: {
    IsLittleEndian: p(T.bool, () => true),
  },
  smethods: {
    ToString: m(T.string, (_s, a, c) => {
      const b = a[0] as Uint8Array;
      if (!b) argNull('value');
      const start = (a[1] as number | undefined) ?? 0;
      const len = (a[2] as number | undefined) ?? b.length - start;
      checkLen(c.rt, len * 3);
      return Array.from(b.subarray(start, start + len), (x) => x.toString(16).padStart(2, '0').toUpperCase()).join('-');
    }, { min: 1, max: 3 }),
    ToInt32: m(T.int, (_s, a) => Number(BigInt.asIntN(32, readLE(a[0], a[1], 4))), { min: 2, max: 2 }),
    ToUInt32: m(T.long, (_s, a) => Number(readLE(a[0], a[1], 4)), { min: 2, max: 2 }),
    ToInt16: m(T.short, (_s, a) => Number(BigInt.asIntN(16, readLE(a[0], a[1], 2))), { min: 2, max: 2 }),
    ToInt64: m(T.long, (_s, a) => Number(BigInt.asIntN(64, readLE(a[0], a[1], 8))), { min: 2, max: 2 }),
    GetBytes: m(T.bytes, (_s, a, c) => {
      const v = a[0];
      const t = c.argTys[0]?.n ?? 'int';
      if (typeof v === 'boolean') return Uint8Array.of(v ? 1 : 0);
      const n = t === 'long' ? 8 : t === 'short' ? 2 : t === 'double' ? 8 : t === 'char' ? 2 : 4;
      const buf = Buffer.alloc(n);
      if (t === 'double') buf.writeDoubleLE(v as number);
      else if (t === 'char') buf.writeUInt16LE((v as string).charCodeAt(0));
      else buf.writeBigInt64LE !== undefined && n === 8 ? buf.writeBigInt64LE(BigInt(Math.trunc(v as number))) : n === 2 ? buf.writeInt16LE(v as number) : buf.writeInt32LE((v as number) | 0);
      return new Uint8Array(buf);
    }, { min: 1, max: 1 }),
  },
});

// ------------------------------------------------------------------ Encoding

function encGetBytes(e: Encoding, s: string): Uint8Array {
  if (e.name === 'ascii') return Uint8Array.from(s.split(''), (ch) => (ch.charCodeAt(0) < 128 ? ch.charCodeAt(0) : 63));
  if (e.name === 'latin1') return Uint8Array.from(s.split(''), (ch) => (ch.charCodeAt(0) < 256 ? ch.charCodeAt(0) : 63));
  return new Uint8Array(Buffer.from(s, e.name === 'utf16le' ? 'utf16le' : 'utf8'));
}

function encGetString(e: Encoding, b: Uint8Array): string {
  if (e.name === 'ascii') return Array.from(b, (x) => (x < 128 ? String.fromCharCode(x) : '?')).join('');
  if (e.name === 'latin1') return Buffer.from(b).toString('latin1');
  return Buffer.from(b).toString(e.name === 'utf16le' ? 'utf16le' : 'utf8');
}

const UTF8 = new Encoding('utf8');
define('Encoding', {
  sprops: {
    UTF8: p({ n: 'Encoding' }, () => UTF8),
    ASCII: p({ n: 'Encoding' }, () => new Encoding('ascii')),
    Unicode: p({ n: 'Encoding' }, () => new Encoding('utf16le')),
    Latin1: p({ n: 'Encoding' }, () => new Encoding('latin1')),
    Default: p({ n: 'Encoding' }, () => UTF8),
  },
  smethods: {
    GetEncoding: m({ n: 'Encoding' }, (_s, a) => {
      const n = String(a[0]).toLowerCase().replace(/[-_]/g, '');
      if (n === 'utf8') return UTF8;
      if (n === 'ascii' || n === 'usascii') return new Encoding('ascii');
      if (n === 'utf16' || n === 'unicode' || n === 'utf16le') return new Encoding('utf16le');
      if (n === 'iso88591' || n === 'latin1') return new Encoding('latin1');
      throw new CsException('ArgumentException', `'${String(a[0])}' is not a supported encoding name.`);
    }, { min: 1, max: 1 }),
  },
  methods: {
    GetBytes: m(T.bytes, (self: Encoding, a, c) => {
      const s = a[0];
      if (s === null || s === undefined) argNull('s');
      const text = Array.isArray(s) ? s.join('') : String(s);
      checkLen(c.rt, text.length);
      return encGetBytes(self, text);
    }, { min: 1, max: 1 }),
    GetString: m(T.string, (self: Encoding, a, c) => {
      const b = a[0] as Uint8Array;
      if (!b) argNull('bytes');
      const bytes = a.length === 3 ? b.subarray(a[1] as number, (a[1] as number) + (a[2] as number)) : b;
      return checkStr(c.rt, encGetString(self, bytes));
    }, { min: 1, max: 3 }),
    GetByteCount: m(T.int, (self: Encoding, a) => encGetBytes(self, needStr(a[0], 's')).length, { min: 1, max: 1 }),
  },
});

// ------------------------------------------------------------------ WebUtility / Uri escaping

function percentEncode(s: string, keep: RegExp, spaceAsPlus: boolean, lower = false): string {
  let out = '';
  for (const ch of s) {
    if (keep.test(ch)) out += ch;
    else if (ch === ' ' && spaceAsPlus) out += '+';
    else {
      let bytes: Buffer;
      const cp = ch.codePointAt(0) as number;
      if (cp >= 0xd800 && cp <= 0xdfff) bytes = Buffer.from('\ufffd', 'utf8');
      else bytes = Buffer.from(ch, 'utf8');
      for (const b of bytes) {
        const h = b.toString(16).padStart(2, '0');
        out += '%' + (lower ? h : h.toUpperCase());
      }
    }
  }
  return out;
}

export function percentDecode(s: string, plusAsSpace: boolean): string {
  const t = plusAsSpace ? s.replace(/\+/g, ' ') : s;
  if (!t.includes('%')) return t;
  // decode each run of %XX escapes as UTF-8 (invalid sequences become U+FFFD, stray '%' stay)
  return t.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
}

function hasLoneSurrogate(s: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

const hexUpper = (c: string): string => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0');

export function escapeDataString(s: string): string {
  if (hasLoneSurrogate(s)) return percentEncode(s, /^[A-Za-z0-9\-._~]$/, false);
  return encodeURIComponent(s).replace(/[!'()*]/g, hexUpper);
}

/** WebUtility.UrlEncode: unreserved A-Za-z0-9 -_.!*() kept, space → '+', the rest %XX (UTF-8, upper-case hex) */
function urlEncode(s: string): string {
  if (hasLoneSurrogate(s)) return percentEncode(s, /^[A-Za-z0-9\-_.!*()]$/, true);
  return encodeURIComponent(s).replace(/%20/g, '+').replace(/[~']/g, hexUpper);
}

function escapeUriString(s: string): string {
  if (hasLoneSurrogate(s)) return percentEncode(s, /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]$/, false);
  return encodeURI(s).replace(/%25/g, '%').replace(/%5B/g, '[').replace(/%5D/g, ']');
}

function htmlEncode(s: string): string {
  return s.replace(/[<>&"'\u00A0-\u00FF]|[\uD800-\uDBFF][\uDC00-\uDFFF]/g, (ch) => {
    switch (ch) {
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '&': return '&amp;';
      case '"': return '&quot;';
      case "'": return '&#39;';
      default: return `&#${ch.codePointAt(0) as number};`;
    }
  });
}

const NAMED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: '\u00a0' };
function htmlDecode(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|[A-Za-z]+);/g, (m0, e: string) => {
    if (e.startsWith('#x') || e.startsWith('#X')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number(e.slice(1)));
    return Object.prototype.hasOwnProperty.call(NAMED_ENTITIES, e) ? (NAMED_ENTITIES[e] as string) : m0;
  });
}

const webUtility: Record<string, MethodDef> = {
  UrlEncode: m(T.string, (_s, a, c) => {
    if (a[0] === null || a[0] === undefined) return null;
    return checkStr(c.rt, urlEncode(String(a[0])));
  }, { min: 1, max: 1 }),
  UrlDecode: m(T.string, (_s, a) => (a[0] === null || a[0] === undefined ? null : percentDecode(String(a[0]), true)), { min: 1, max: 1 }),
  HtmlEncode: m(T.string, (_s, a, c) => {
    if (a[0] === null || a[0] === undefined) return null;
    return checkStr(c.rt, htmlEncode(String(a[0])));
  }, { min: 1, max: 1 }),
  HtmlDecode: m(T.string, (_s, a) => (a[0] === null || a[0] === undefined ? null : htmlDecode(String(a[0]))), { min: 1, max: 1 }),
};
define('WebUtility', { smethods: webUtility });

// ------------------------------------------------------------------ Uri

define('Uri', {
  props: {
    AbsoluteUri: p(T.string, (u: CsUri) => u.absoluteUri),
    AbsolutePath: p(T.string, (u: CsUri) => u.url.pathname),
    LocalPath: p(T.string, (u: CsUri) => decodeURIComponentSafe(u.url.pathname)),
    Host: p(T.string, (u: CsUri) => u.url.hostname.replace(/^\[|\]$/g, '')),
    DnsSafeHost: p(T.string, (u: CsUri) => u.url.hostname.replace(/^\[|\]$/g, '')),
    Port: p(T.int, (u: CsUri) => u.port),
    Scheme: p(T.string, (u: CsUri) => u.url.protocol.replace(/:$/, '')),
    Query: p(T.string, (u: CsUri) => u.url.search),
    Fragment: p(T.string, (u: CsUri) => u.url.hash),
    PathAndQuery: p(T.string, (u: CsUri) => u.url.pathname + u.url.search),
    Authority: p(T.string, (u: CsUri) => u.url.host),
    UserInfo: p(T.string, (u: CsUri) => (u.url.username ? u.url.username + (u.url.password ? ':' + u.url.password : '') : '')),
    OriginalString: p(T.string, (u: CsUri) => u.original),
    IsAbsoluteUri: p(T.bool, () => true),
    IsDefaultPort: p(T.bool, (u: CsUri) => u.url.port === ''),
    Segments: p(T.strings, (u: CsUri) => {
      const path = u.url.pathname;
      const segs = path.split('/').map((x, i, arr) => (i < arr.length - 1 ? x + '/' : x));
      return segs.filter((x) => x !== '');
    }),
  },
  methods: {
    ToString: m(T.string, (u: CsUri) => u.toString(), { max: 0 }),
    GetLeftPart: m(T.string, (u: CsUri, a) => {
      const part = (a[0] as CsEnum).name;
      if (part === 'Scheme') return u.url.protocol + '//';
      if (part === 'Authority') return u.url.origin;
      if (part === 'Path') return u.url.origin + u.url.pathname;
      return u.url.origin + u.url.pathname + u.url.search;
    }, { min: 1, max: 1 }),
  },
  smethods: {
    EscapeDataString: m(T.string, (_s, a, c) => {
      return checkStr(c.rt, escapeDataString(needStr(a[0], 'stringToEscape')));
    }, { min: 1, max: 1 }),
    UnescapeDataString: m(T.string, (_s, a) => percentDecode(needStr(a[0], 'stringToUnescape'), false), { min: 1, max: 1 }),
    EscapeUriString: m(T.string, (_s, a, c) => {
      return checkStr(c.rt, escapeUriString(needStr(a[0], 'stringToEscape')));
    }, { min: 1, max: 1 }),
    IsWellFormedUriString: m(T.bool, (_s, a) => {
      const s = a[0];
      if (typeof s !== 'string') return false;
      const kind = (a[1] as CsEnum | undefined)?.value ?? 0;
      const abs = /^[a-z][a-z0-9+.-]*:\/\/[^\s]+$/i.test(s) && !/\s/.test(s);
      if (kind === 1) return abs;
      if (kind === 2) return !/^[a-z][a-z0-9+.-]*:/i.test(s) && !/\s/.test(s);
      return abs || !/\s/.test(s);
    }, { min: 2, max: 2 }),
    TryCreate: m(T.bool, (_s, a) => {
      const box = a[a.length - 1] as OutBox;
      try {
        if (a.length === 3 && a[0] instanceof CsUri) box.value = new CsUri(String(a[1]), a[0]);
        else {
          const kind = (a[1] as CsEnum | undefined)?.value ?? 0;
          if (kind === 2) throw new Error('relative');
          box.value = new CsUri(needStr(a[0], 'uriString'));
        }
        return true;
      } catch {
        box.value = null;
        return false;
      }
    }, { min: 3, max: 3, out: (_s, i) => (i === 2 ? T.Uri : null) }),
  },
  ctor: {
    call(a) {
      if (a.length === 2 && a[0] instanceof CsUri) return new CsUri(needStr(a[1], 'relativeUri'), a[0]);
      if (a.length === 2 && a[1] instanceof CsEnum && a[1].value === 2) throw new CsException('NotSupportedException', 'Relative Uri instances are not supported.');
      return new CsUri(needStr(a[0], 'uriString'));
    },
    min: 1,
    max: 2,
  },
});

function decodeURIComponentSafe(s: string): string {
  return percentDecode(s, false);
}

// ------------------------------------------------------------------ Guid

define('Guid', {
  methods: {
    ToString: m(T.string, (g: CsGuid, a) => g.format(a[0] as string | undefined), { max: 2 }),
    ToByteArray: m(T.bytes, (g: CsGuid) => g.toByteArray(), { max: 0 }),
    CompareTo: m(T.int, (g: CsGuid, a) => csCompare(g, a[0]), { min: 1, max: 1 }),
  },
  sprops: {
    Empty: p(T.Guid, () => CsGuid.empty()),
  },
  smethods: {
    NewGuid: m(T.Guid, () => CsGuid.newGuid(), { max: 0 }),
    Parse: m(T.Guid, (_s, a) => {
      const g = CsGuid.tryParse(needStr(a[0], 'input'));
      if (!g) throw new CsException('FormatException', `Unrecognized Guid format.`);
      return g;
    }, { min: 1, max: 1 }),
    TryParse: m(T.bool, (_s, a) => {
      const box = a[1] as OutBox;
      const g = typeof a[0] === 'string' ? CsGuid.tryParse(a[0]) : null;
      box.value = g ?? CsGuid.empty();
      return g !== null;
    }, { min: 2, max: 2, out: (_s, i) => (i === 1 ? T.Guid : null) }),
  },
  ctor: {
    call(a) {
      if (a[0] instanceof Uint8Array) return CsGuid.fromBytes(a[0]);
      const g = CsGuid.tryParse(needStr(a[0], 'g'));
      if (!g) throw new CsException('FormatException', 'Unrecognized Guid format.');
      return g;
    },
    min: 1,
    max: 1,
  },
});

// ------------------------------------------------------------------ Random

define('Random', {
  methods: {
    Next: m(T.int, (r: CsRandom, a) => {
      if (a.length === 0) return r.next(0, 2147483647);
      if (a.length === 1) {
        if ((a[0] as number) < 0) outOfRange('maxValue', "'maxValue' must be greater than zero.");
        return r.next(0, a[0] as number);
      }
      return r.next(a[0] as number, a[1] as number);
    }, { max: 2 }),
    NextDouble: m(T.double, (r: CsRandom) => r.nextDouble(), { max: 0 }),
    NextBytes: m(T.void, (r: CsRandom, a) => {
      const b = a[0] as Uint8Array;
      for (let i = 0; i < b.length; i++) b[i] = r.next(0, 256);
    }, { min: 1, max: 1 }),
  },
  sprops: {
    Shared: p({ n: 'Random' }, () => new CsRandom()),
  },
  ctor: {
    call: (a) => new CsRandom(a.length ? (a[0] as number) : undefined),
    max: 1,
  },
});

// ------------------------------------------------------------------ StringBuilder

function sbAppend(rt: Runtime, sb: CsStringBuilder, s: string): CsStringBuilder {
  checkLen(rt, sb.length + s.length);
  sb.parts.push(s);
  sb.length += s.length;
  if (sb.parts.length > 64) sb.parts = [sb.parts.join('')];
  return sb;
}

define('StringBuilder', {
  props: {
    Length: { ty: T.int, get: (sb: CsStringBuilder) => sb.length, set(sb: CsStringBuilder, v) {
      const s = sb.parts.join('');
      const n = v as number;
      sb.parts = [n <= s.length ? s.slice(0, n) : s.padEnd(n, '\0')];
      sb.length = n;
    } },
  },
  methods: {
    Append: m({ n: 'StringBuilder' }, (sb: CsStringBuilder, a, c) => {
      if (a.length === 2 && typeof a[1] === 'number' && c.argTys[0]?.n === 'char') return sbAppend(c.rt, sb, (a[0] as string).repeat(Math.max(0, a[1])));
      return sbAppend(c.rt, sb, formatWith(a[0], null, c.argTys[0]));
    }, { min: 1, max: 3 }),
    AppendLine: m({ n: 'StringBuilder' }, (sb: CsStringBuilder, a, c) => sbAppend(c.rt, sb, (a.length ? csToString(a[0]) : '') + '\n'), { max: 1 }),
    AppendFormat: m({ n: 'StringBuilder' }, (sb: CsStringBuilder, a, c) => sbAppend(c.rt, sb, stringFormat(c.rt, needStr(a[0], 'format'), paramsList(a, 1))), { min: 1 }),
    Insert: m({ n: 'StringBuilder' }, (sb: CsStringBuilder, a, c) => {
      const s = sb.parts.join('');
      const i = a[0] as number;
      checkIndex(i, s.length);
      const ins = csToString(a[1]);
      checkLen(c.rt, s.length + ins.length);
      sb.parts = [s.slice(0, i) + ins + s.slice(i)];
      sb.length = s.length + ins.length;
      return sb;
    }, { min: 2, max: 2 }),
    Replace: m({ n: 'StringBuilder' }, (sb: CsStringBuilder, a, c) => {
      const s = replaceAll(c.rt, sb.parts.join(''), String(a[0]), a[1] === null ? '' : String(a[1]));
      sb.parts = [s];
      sb.length = s.length;
      return sb;
    }, { min: 2, max: 2 }),
    Clear: m({ n: 'StringBuilder' }, (sb: CsStringBuilder) => {
      sb.parts = [];
      sb.length = 0;
      return sb;
    }, { max: 0 }),
    ToString: m(T.string, (sb: CsStringBuilder) => sb.parts.join(''), { max: 2 }),
  },
  ctor: {
    call(a, c) {
      const sb = new CsStringBuilder();
      if (typeof a[0] === 'string') sbAppend(c.rt, sb, a[0]);
      return sb;
    },
    max: 2,
  },
});

// ------------------------------------------------------------------ Regex

function regexFlags(v: unknown): number {
  return v instanceof CsEnum ? v.value : 0;
}

function buildMatch(rt: Runtime, re: ReturnType<typeof compileRegex>, input: string, start: number): CsMatch {
  const charge = (n: number): void => tick(rt, n);
  const caps = execRegex(re, input, start, charge);
  if (!caps) return CsMatch.empty(re.names.slice(0, re.groupCount + 1).map((n, i) => n ?? String(i)));
  const groups: CsGroup[] = [];
  for (let g = 0; g <= re.groupCount; g++) {
    const s = caps[g * 2] as number;
    const e = caps[g * 2 + 1] as number;
    const name = re.names[g] ?? String(g);
    if (s >= 0 && e >= 0) groups.push(new CsGroup(true, input.slice(s, e), s, e - s, name));
    else groups.push(new CsGroup(false, '', 0, 0, name));
  }
  const g0 = groups[0] as CsGroup;
  const nextStart = g0.length === 0 ? g0.index + 1 : g0.index + g0.length;
  return new CsMatch(groups, nextStart <= input.length ? () => buildMatch(rt, re, input, nextStart) : null);
}


function allMatches(rt: Runtime, re: ReturnType<typeof compileRegex>, input: string): CsMatch[] {
  const out: CsMatch[] = [];
  let mt = buildMatch(rt, re, input, 0);
  while (mt.success) {
    out.push(mt);
    checkColl(rt, out.length);
    if (!mt.next) break;
    mt = mt.next();
  }
  return out;
}

function expandReplacement(rep: string, mt: CsMatch): string {
  return rep.replace(/\$(\$|&|\d+|\{([A-Za-z_]\w*|\d+)\}|`|'|_)/g, (m0, tok: string, name?: string) => {
    if (tok === '$') return '$';
    if (tok === '&') return mt.value;
    const key = name ?? tok;
    if (/^\d+$/.test(key)) {
      const g = mt.groups[Number(key)];
      return g ? g.value : m0;
    }
    const g = mt.groups.find((x) => x.name === key);
    return g ? g.value : m0;
  });
}

function regexReplace(rt: Runtime, re: ReturnType<typeof compileRegex>, input: string, rep: unknown): string {
  const ms = allMatches(rt, re, input);
  let out = '';
  let last = 0;
  for (const mt of ms) {
    out += input.slice(last, mt.index);
    if (typeof rep === 'function') out += csToString((rep as (x: unknown) => unknown)(mt));
    else out += expandReplacement(rep === null || rep === undefined ? '' : String(rep), mt);
    checkLen(rt, out.length);
    last = mt.index + mt.length;
  }
  return checkStr(rt, out + input.slice(last));
}

function regexSplit(rt: Runtime, re: ReturnType<typeof compileRegex>, input: string): string[] {
  const ms = allMatches(rt, re, input);
  const out: string[] = [];
  let last = 0;
  for (const mt of ms) {
    out.push(input.slice(last, mt.index));
    for (const g of mt.groups.slice(1)) if (g.success) out.push(g.value);
    last = mt.index + mt.length;
  }
  out.push(input.slice(last));
  return out;
}

function reOf(pattern: unknown, flags: unknown): ReturnType<typeof compileRegex> {
  return compileRegex(needStr(pattern, 'pattern'), parseOptions(regexFlags(flags)));
}

const evaluatorLambda = (_s: Ty, i: number): Ty[] | null => (i === 2 ? [{ n: 'Match' }] : null);

define('Regex', {
  smethods: {
    IsMatch: m(T.bool, (_s, a, c) => buildMatch(c.rt, reOf(a[1], a[2]), needStr(a[0], 'input'), 0).success, { min: 2, max: 4 }),
    Match: m({ n: 'Match' }, (_s, a, c) => buildMatch(c.rt, reOf(a[1], a[2]), needStr(a[0], 'input'), 0), { min: 2, max: 4 }),
    Matches: m({ n: 'MatchCollection' }, (_s, a, c) => new CsMatchCollection(allMatches(c.rt, reOf(a[1], a[2]), needStr(a[0], 'input'))), { min: 2, max: 4 }),
    Replace: m(T.string, (_s, a, c) => regexReplace(c.rt, reOf(a[1], a[3]), needStr(a[0], 'input'), a[2]), { min: 3, max: 5, lambda: evaluatorLambda }),
    Split: m(T.strings, (_s, a, c) => regexSplit(c.rt, reOf(a[1], a[2]), needStr(a[0], 'input')), { min: 2, max: 4 }),
    Escape: m(T.string, (_s, a) => needStr(a[0], 'str').replace(/[\\*+?|{[()^$.# \t\n\r\f]/g, (ch) => {
      const map: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\f': '\\f', ' ': '\\ ' };
      return map[ch] ?? '\\' + ch;
    }), { min: 1, max: 1 }),
    Unescape: m(T.string, (_s, a) => needStr(a[0], 'str').replace(/\\(.)/g, (_m0, ch: string) => {
      const map: Record<string, string> = { t: '\t', n: '\n', r: '\r', f: '\f' };
      return map[ch] ?? ch;
    }), { min: 1, max: 1 }),
  },
  methods: {
    IsMatch: m(T.bool, (r: CsRegexObj, a, c) => buildMatch(c.rt, compileRegex(r.pattern, parseOptions(r.flags)), needStr(a[0], 'input'), (a[1] as number | undefined) ?? 0).success, { min: 1, max: 2 }),
    Match: m({ n: 'Match' }, (r: CsRegexObj, a, c) => buildMatch(c.rt, compileRegex(r.pattern, parseOptions(r.flags)), needStr(a[0], 'input'), (a[1] as number | undefined) ?? 0), { min: 1, max: 2 }),
    Matches: m({ n: 'MatchCollection' }, (r: CsRegexObj, a, c) => new CsMatchCollection(allMatches(c.rt, compileRegex(r.pattern, parseOptions(r.flags)), needStr(a[0], 'input'))), { min: 1, max: 1 }),
    Replace: m(T.string, (r: CsRegexObj, a, c) => regexReplace(c.rt, compileRegex(r.pattern, parseOptions(r.flags)), needStr(a[0], 'input'), a[1]), {
      min: 2, max: 2, lambda: (_s, i) => (i === 1 ? [{ n: 'Match' }] : null),
    }),
    Split: m(T.strings, (r: CsRegexObj, a, c) => regexSplit(c.rt, compileRegex(r.pattern, parseOptions(r.flags)), needStr(a[0], 'input')), { min: 1, max: 1 }),
    ToString: m(T.string, (r: CsRegexObj) => r.pattern, { max: 0 }),
  },
  ctor: {
    call(a) {
      const pat = needStr(a[0], 'pattern');
      compileRegex(pat, parseOptions(regexFlags(a[1])));
      return new CsRegexObj(pat, regexFlags(a[1]));
    },
    min: 1,
    max: 3,
  },
});

define('Match', {
  props: {
    Success: p(T.bool, (x: CsMatch) => x.success),
    Value: p(T.string, (x: CsMatch) => x.value),
    Index: p(T.int, (x: CsMatch) => x.index),
    Length: p(T.int, (x: CsMatch) => x.length),
    Groups: p({ n: 'GroupCollection' }, (x: CsMatch) => new CsGroupCollection(x)),
  },
  methods: {
    NextMatch: m({ n: 'Match' }, (x: CsMatch) => (x.next ? x.next() : CsMatch.empty(x.groups.map((g) => g.name))), { max: 0 }),
    ToString: m(T.string, (x: CsMatch) => x.value, { max: 0 }),
  },
});

define('Group', {
  props: {
    Success: p(T.bool, (g: CsGroup) => g.success),
    Value: p(T.string, (g: CsGroup) => g.value),
    Index: p(T.int, (g: CsGroup) => g.index),
    Length: p(T.int, (g: CsGroup) => g.length),
    Name: p(T.string, (g: CsGroup) => g.name),
  },
  methods: {
    ToString: m(T.string, (g: CsGroup) => g.value, { max: 0 }),
  },
});

define('GroupCollection', {
  props: {
    Count: p(T.int, (gc: CsGroupCollection) => gc.match.groups.length),
  },
  indexer: {
    ty: { n: 'Group' },
    get(gc: CsGroupCollection, k) {
      const key = k[0];
      const g = typeof key === 'number' ? gc.match.groups[key] : gc.match.groups.find((x) => x.name === key);
      return g ?? new CsGroup(false, '', 0, 0, String(key));
    },
  },
});

define('MatchCollection', {
  props: {
    Count: p(T.int, (mc: CsMatchCollection) => mc.matches.length),
  },
  indexer: {
    ty: { n: 'Match' },
    get(mc: CsMatchCollection, k) {
      const i = k[0] as number;
      if (i < 0 || i >= mc.matches.length) outOfRange('i', 'Specified argument was out of the range of valid values.');
      return mc.matches[i];
    },
  },
});

export { own, listOf, arrayOf };
