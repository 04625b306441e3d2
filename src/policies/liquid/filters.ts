/**
 * APIM's Liquid filters, with DotLiquid's C#-style names (`Upcase`, `AtLeast`, `Default`, `Date` …)
 * and DotLiquid's semantics where they differ from Shopify Liquid:
 * - `Date` takes .NET date format strings (`Date: "yyyy-MM-ddTHH:mm:ss"`);
 * - `Default` replaces nil, "" and whitespace-only values;
 * - `Capitalize` title-cases every word (TextInfo.ToTitleCase), `Sort` ignores case;
 * - `Plus`/`Minus`/`Times`/`DividedBy`/`Modulo` use integer arithmetic for two integers (7 | DividedBy: 2 → 3);
 * - `Round` rounds half to even; `Escape`/`UrlEncode` follow System.Net.WebUtility.
 * `Replace`/`ReplaceFirst` take a literal pattern (never a regular expression), and every filter runs in
 * time linear in its input. New strings and arrays are charged to the render's memory limit.
 */
import type { Context } from 'liquidjs';

/** what liquidjs binds `this` to in a filter */
interface FilterImpl {
  readonly context: Context;
}
import { parseDateText } from '../../expressions/runtime/time.js';
import { dateOf, formatDate, isPlainObject, own, toText, type DateData } from './values.js';

type Filter = (this: FilterImpl, input: unknown, ...args: unknown[]) => unknown;

function charge(self: FilterImpl, n: number): void {
  self.context.memoryLimit.use(n);
}

const isBlank = (s: string): boolean => s.trim() === '';

/** a number from a number or numeric text; NaN otherwise */
function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const s = v.trim().replace(/,(?=\d{3}(\D|$))/g, '');
    if (/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
  }
  return NaN;
}

/** decimal-like result: drop the binary noise a double leaves (0.1 + 0.2 → 0.3) */
const dec = (x: number): number => (Number.isFinite(x) ? Number(x.toPrecision(15)) : x);

function intArg(v: unknown, def: number): number {
  if (v === undefined || v === null) return def;
  const n = num(v);
  if (!Number.isFinite(n)) throw new Error(`"${toText(v)}" is not an integer`);
  return Math.trunc(n);
}

/** the items of a collection, nested arrays flattened (DotLiquid's Flatten) */
function flatten(v: unknown, out: unknown[] = [], depth = 0): unknown[] {
  if (depth > 64) throw new Error('array nested too deeply');
  if (Array.isArray(v)) for (const x of v) flatten(x, out, depth + 1);
  else out.push(v);
  return out;
}

function items(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return [...v];
  if (isPlainObject(v)) return Object.keys(v).map((k) => `[${k}, ${toText(v[k])}]`);
  return [v];
}

// ------------------------------------------------------------------ HTML and URL encoding (System.Net.WebUtility)

function htmlEncode(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '&') out += '&amp;';
    else if (ch === '"') out += '&quot;';
    else if (ch === "'") out += '&#39;';
    else if ((cp >= 160 && cp < 256) || cp > 0xffff) out += `&#${cp};`;
    else out += ch;
  }
  return out;
}

const HTML_NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: '\u00a0', copy: '\u00a9', reg: '\u00ae' };

function htmlDecode(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,8});/g, (m, body: string) => {
    if (body[0] === '#') {
      const cp = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return cp >= 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return own(HTML_NAMED, body) ? HTML_NAMED[body]! : m;
  });
}

const URL_SAFE = /[A-Za-z0-9\-_.!*()]/;

function urlEncode(s: string): string {
  let out = '';
  for (const ch of s) {
    if (ch === ' ') out += '+';
    else if (URL_SAFE.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function urlDecode(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '+') bytes.push(32);
    else if (c === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** DotLiquid's StripHtml: drop <script>…</script>, <style>…</style>, <!-- … --> blocks, then every <…> tag (linear time) */
function stripHtml(s: string): string {
  const lower = s.toLowerCase();
  const blocks: Array<[string, string]> = [
    ['<script', '</script>'],
    ['<!--', '-->'],
    ['<style', '</style>'],
  ];
  const nextClose = new Map<string, number>();
  const closeAfter = (close: string, from: number): number => {
    const known = nextClose.get(close);
    if (known !== undefined && (known === -1 || known >= from)) return known;
    const at = lower.indexOf(close, from);
    nextClose.set(close, at);
    return at;
  };
  let out = '';
  let i = 0;
  while (i < s.length) {
    const lt = s.indexOf('<', i);
    if (lt < 0) {
      out += s.slice(i);
      break;
    }
    out += s.slice(i, lt);
    let skipped = false;
    for (const [open, close] of blocks) {
      if (lower.startsWith(open, lt)) {
        const e = closeAfter(close, lt + open.length);
        if (e >= 0) {
          i = e + close.length;
          skipped = true;
          break;
        }
      }
    }
    if (skipped) continue;
    const gt = s.indexOf('>', lt + 1);
    if (gt < 0) {
      out += s.slice(lt);
      break;
    }
    i = gt + 1;
  }
  return out;
}

/** TextInfo.ToTitleCase: each word's first letter upper case, the rest lower case; all-caps words kept */
function titleCase(s: string): string {
  return s.replace(/[\p{L}\p{N}\p{M}]+/gu, (w) => (w === w.toUpperCase() && w !== w.toLowerCase() ? w : w[0]!.toUpperCase() + w.slice(1).toLowerCase()));
}

// ------------------------------------------------------------------ arithmetic

function maths(name: string, op: (a: number, b: number, integral: boolean) => number): Filter {
  return function (this: FilterImpl, input, operand) {
    if (input === null || input === undefined || operand === null || operand === undefined) return null;
    const a = num(input);
    const b = num(operand);
    if (Number.isNaN(a) || Number.isNaN(b)) {
      if (name === 'Plus' && typeof input === 'string') {
        const s = input + toText(operand);
        charge(this, s.length);
        return s;
      }
      if (name === 'Times' && typeof input === 'string' && Number.isInteger(b) && b >= 0) {
        charge(this, input.length * b);
        return input.repeat(b);
      }
      throw new Error(`${name}: "${toText(Number.isNaN(a) ? input : operand)}" is not a number`);
    }
    const integral = typeof input === 'number' && typeof operand === 'number' && Number.isInteger(a) && Number.isInteger(b);
    return op(a, b, integral);
  };
}

function divideByZero(): never {
  throw new Error('Attempted to divide by zero.');
}

/** Math.Round(decimal, places): half to even */
function roundHalfEven(x: number, places: number): number {
  const p = Math.min(Math.max(places, 0), 15);
  const f = 10 ** p;
  const scaled = dec(x * f);
  const fl = Math.floor(scaled);
  const diff = dec(scaled - fl);
  let r: number;
  if (diff === 0.5) r = fl % 2 === 0 ? fl : fl + 1;
  else r = Math.round(scaled);
  return dec(r / f);
}

// ------------------------------------------------------------------ dates

function nowDate(): DateData {
  return { ms: Date.now(), kind: 'Local', offsetMin: null };
}

/** DateTime.TryParse (the local time zone is UTC): a text with a zone becomes local time */
function parseDate(text: string): DateData | undefined {
  const p = parseDateText(text);
  if (!p) return undefined;
  return p.offsetMin === null ? { ms: p.ms, kind: 'Unspecified', offsetMin: null } : { ms: p.ms - p.offsetMin * 60_000, kind: 'Local', offsetMin: null };
}

function dateFilter(this: FilterImpl, input: unknown, format?: unknown): unknown {
  if (input === null || input === undefined) return null;
  const f = format === null || format === undefined ? '' : toText(format);
  const d = dateOf(input);
  if (d) return formatDate(d, isBlank(f) ? null : f);
  let date: DateData | undefined;
  if (typeof input === 'number') {
    if (isBlank(f)) return input;
    date = { ms: Math.trunc(input) * 1000, kind: 'Local', offsetMin: null };
  } else {
    const value = toText(input);
    const now = /^\s*(now|today)\s*$/i.test(value);
    date = now ? nowDate() : parseDate(value);
    if (!date) return input;
    if (isBlank(f)) return now ? formatDate(date, null) : input;
  }
  const s = formatDate(date, f);
  charge(this, s.length);
  return s;
}

// ------------------------------------------------------------------ sorting

function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  const da = dateOf(a);
  const db = dateOf(b);
  if (da && db) return da.ms - db.ms;
  const sa = toText(a).toUpperCase();
  const sb = toText(b).toUpperCase();
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function sortFilter(this: FilterImpl, input: unknown, property?: unknown): unknown {
  if (input === null || input === undefined) return null;
  const arr = flatten(input);
  charge(this, arr.length);
  const prop = property === null || property === undefined ? '' : toText(property);
  if (prop === '') return arr.sort(compareValues);
  if (arr.every((o) => isPlainObject(o)) && arr.some((o) => own(o as object, prop))) {
    const at = (o: unknown): unknown => (own(o as object, prop) ? (o as Record<string, unknown>)[prop] : null);
    return arr.sort((x, y) => compareValues(at(x), at(y)));
  }
  return arr;
}

// ------------------------------------------------------------------ the filters

const str = (v: unknown): string | null => (v === null || v === undefined ? null : toText(v));

export const APIM_FILTERS: Readonly<Record<string, Filter>> = Object.freeze({
  Abs(input) {
    const n = num(toText(input));
    return Number.isNaN(n) ? 0 : Math.abs(n);
  },
  Append(input, s) {
    const a = str(input);
    if (a === null) return null;
    const r = a + toText(s);
    charge(this, r.length);
    return r;
  },
  AtLeast(input, min) {
    const n = num(toText(input));
    const m = num(toText(min));
    return Number.isNaN(n) || Number.isNaN(m) ? input : Math.max(n, m);
  },
  AtMost(input, max) {
    const n = num(toText(input));
    const m = num(toText(max));
    return Number.isNaN(n) || Number.isNaN(m) ? input : Math.min(n, m);
  },
  Capitalize(input) {
    const s = str(input);
    return s === null || isBlank(s) ? s : titleCase(s);
  },
  Ceil(input) {
    const n = num(toText(input));
    return Number.isNaN(n) ? null : Math.ceil(n);
  },
  Compact(input) {
    if (input === null || input === undefined) return null;
    const arr = flatten(input).filter((x) => x !== null && x !== undefined);
    charge(this, arr.length);
    return arr;
  },
  Concat(left, right) {
    if (left === null || left === undefined) return right;
    if (right === null || right === undefined) return left;
    const a = Array.isArray(left) ? left : [left];
    const b = Array.isArray(right) ? right : [right];
    charge(this, a.length + b.length);
    return [...a, ...b];
  },
  Currency(input, languageTag) {
    if (input === null || input === undefined) return null;
    const n = num(input);
    if (Number.isNaN(n)) return toText(input);
    const symbol = languageTag !== undefined && languageTag !== null && toText(languageTag).trim() === '' ? '¤' : '$';
    const abs = Math.abs(n).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return (n < 0 ? '-' : '') + symbol + abs;
  },
  Date: dateFilter,
  Default(input, def) {
    return input === null || input === undefined || isBlank(toText(input)) ? def : input;
  },
  DividedBy: maths('DividedBy', (a, b, integral) => {
    if (b === 0) divideByZero();
    return integral ? Math.trunc(a / b) : dec(a / b);
  }),
  Downcase(input) {
    const s = str(input);
    return s === null ? null : s.toLowerCase();
  },
  Escape(input) {
    const s = str(input);
    if (s === null || s === '') return s;
    const r = htmlEncode(s);
    charge(this, r.length);
    return r;
  },
  EscapeOnce(input) {
    const s = str(input);
    if (s === null || s === '') return s;
    const r = htmlEncode(htmlDecode(s));
    charge(this, r.length);
    return r;
  },
  First(input) {
    if (input === null || input === undefined) return null;
    const it = items(input);
    return it.length ? it[0] : null;
  },
  Floor(input) {
    const n = num(toText(input));
    return Number.isNaN(n) ? null : Math.floor(n);
  },
  H(input) {
    return APIM_FILTERS.Escape!.call(this, input);
  },
  Join(input, glue) {
    if (input === null || input === undefined) return null;
    const g = glue === undefined ? ' ' : toText(glue);
    const parts = items(input).map((x) => toText(x));
    const r = parts.join(g);
    charge(this, r.length);
    return r;
  },
  Last(input) {
    if (input === null || input === undefined) return null;
    const it = items(input);
    return it.length ? it[it.length - 1] : null;
  },
  Lstrip(input) {
    const s = str(input);
    return s === null ? null : s.trimStart();
  },
  Map(input, property) {
    if (input === null || input === undefined) return null;
    const prop = toText(property);
    const list = Array.isArray(input) ? input : [input];
    charge(this, list.length);
    return list.map((o) => (isPlainObject(o) && own(o, prop) ? o[prop] : null));
  },
  Minus: maths('Minus', (a, b, integral) => (integral ? a - b : dec(a - b))),
  Modulo: maths('Modulo', (a, b, integral) => {
    if (b === 0) divideByZero();
    return integral ? a % b : dec(a % b);
  }),
  NewlineToBr(input) {
    const s = str(input);
    if (s === null || isBlank(s)) return s;
    const r = s.replace(/\r?\n/g, '<br />$&');
    charge(this, r.length);
    return r;
  },
  Plus: maths('Plus', (a, b, integral) => (integral ? a + b : dec(a + b))),
  Prepend(input, s) {
    const a = str(input);
    if (a === null) return null;
    const r = toText(s) + a;
    charge(this, r.length);
    return r;
  },
  Remove(input, s) {
    const a = str(input);
    const p = toText(s);
    if (a === null || isBlank(a) || p === '') return a;
    return a.split(p).join('');
  },
  RemoveFirst(input, s) {
    const a = str(input);
    const p = toText(s);
    if (a === null || isBlank(a) || p === '') return a;
    const i = a.indexOf(p);
    return i < 0 ? a : a.slice(0, i) + a.slice(i + p.length);
  },
  Replace(input, s, replacement) {
    const a = str(input);
    const p = s === null || s === undefined ? '' : toText(s);
    if (a === null || a === '' || p === '') return a;
    const r = a.split(p).join(toText(replacement));
    charge(this, r.length);
    return r;
  },
  ReplaceFirst(input, s, replacement) {
    const a = str(input);
    const p = s === null || s === undefined ? '' : toText(s);
    if (a === null || a === '' || p === '') return a;
    const i = a.indexOf(p);
    if (i < 0) return a;
    const r = a.slice(0, i) + toText(replacement) + a.slice(i + p.length);
    charge(this, r.length);
    return r;
  },
  Reverse(input) {
    if (!Array.isArray(input)) return input;
    charge(this, input.length);
    return [...input].reverse();
  },
  Round(input, places) {
    const n = typeof input === 'number' ? input : num(toText(input));
    if (Number.isNaN(n)) return null;
    const p = places === null || places === undefined ? 0 : num(places);
    if (Number.isNaN(p)) return null;
    return roundHalfEven(n, Math.trunc(p));
  },
  Rstrip(input) {
    const s = str(input);
    return s === null ? null : s.trimEnd();
  },
  Size(input) {
    if (typeof input === 'string') return input.length;
    if (Array.isArray(input)) return input.length;
    if (isPlainObject(input)) return Object.keys(input).length;
    return 0;
  },
  Slice(input, start, len) {
    const st = intArg(start, 0);
    const ln = intArg(len, 1);
    if (typeof input === 'string') {
      let s = st;
      let l = ln;
      if (s > input.length) return null;
      if (s < 0) {
        s += input.length;
        if (s < 0) {
          l = Math.max(0, l + s);
          s = 0;
        }
      }
      if (s + l > input.length) l = input.length - s;
      return input.substr(s, Math.max(0, l));
    }
    if (Array.isArray(input)) {
      const s = st < 0 ? Math.max(0, input.length + st) : st;
      charge(this, Math.min(Math.max(0, ln), input.length));
      return input.slice(s, s + Math.max(0, ln));
    }
    return input;
  },
  Sort: sortFilter,
  SortNatural: sortFilter,
  Split(input, pattern) {
    const s = str(input);
    if (s === null || isBlank(s)) return [s];
    const p = pattern === null || pattern === undefined ? '' : toText(pattern);
    const r = p === '' ? [...s] : s.split(p).filter((x) => x !== '');
    charge(this, r.length);
    return r;
  },
  Strip(input) {
    const s = str(input);
    return s === null ? null : s.trim();
  },
  StripHtml(input) {
    const s = str(input);
    return s === null || isBlank(s) ? s : stripHtml(s);
  },
  StripNewlines(input) {
    const s = str(input);
    return s === null || isBlank(s) ? s : s.replace(/\r?\n/g, '');
  },
  Times: maths('Times', (a, b, integral) => (integral ? a * b : dec(a * b))),
  Truncate(input, length, ellipsis) {
    const s = str(input);
    if (s === null || s === '') return s;
    const n = intArg(length, 50);
    const t = ellipsis === undefined || ellipsis === null ? '...' : toText(ellipsis);
    if (n < 0) return t;
    return s.length > n ? s.slice(0, Math.max(0, n - t.length)) + t : s;
  },
  TruncateWords(input, words, ellipsis) {
    const s = str(input);
    if (s === null || s === '') return s;
    const n = intArg(words, 15);
    const t = ellipsis === undefined || ellipsis === null ? '...' : toText(ellipsis);
    if (n <= 0) return t;
    const w = s.split(' ');
    return w.length > n ? w.slice(0, n).join(' ') + t : s;
  },
  Uniq(input) {
    if (input === null || input === undefined) return null;
    const arr = flatten(input);
    charge(this, arr.length);
    const seen = new Set<unknown>();
    const out: unknown[] = [];
    for (const x of arr) {
      const d = dateOf(x);
      const key = d ? `date:${d.ms}:${d.kind}:${d.offsetMin}` : x;
      if (!seen.has(key)) {
        seen.add(key);
        out.push(x);
      }
    }
    return out;
  },
  Upcase(input) {
    const s = str(input);
    return s === null ? null : s.toUpperCase();
  },
  UrlDecode(input) {
    const s = str(input);
    return s === null ? null : urlDecode(s);
  },
  UrlEncode(input) {
    const s = str(input);
    if (s === null) return null;
    const r = urlEncode(s);
    charge(this, r.length);
    return r;
  },
} satisfies Record<string, Filter>);

/** Shopify/liquidjs snake_case name → APIM's name (for the hint in "unknown filter" problems) */
export function apimFilterName(name: string): string | undefined {
  const pascal = name
    .split('_')
    .map((p) => (p ? p[0]!.toUpperCase() + p.slice(1).toLowerCase() : ''))
    .join('');
  const direct = Object.keys(APIM_FILTERS).find((k) => k.toLowerCase() === name.replace(/_/g, '').toLowerCase());
  return own(APIM_FILTERS, pascal) ? pascal : direct;
}
