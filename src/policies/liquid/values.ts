/**
 * The values a Liquid template sees, and how DotLiquid (the engine APIM runs) turns them into text.
 *
 * Templates only ever get plain data: strings, numbers, booleans, null, arrays and plain objects
 * built for them. Two kinds of value need more than that and carry it under a Symbol key, which
 * Liquid cannot name (a template reaches own string keys only):
 * - a DateTime (a date string of a JSON body with parse-date, context.Timestamp, a DateTime variable):
 *   `{ [DATE]: { ms, kind, offsetMin } }` — it renders as .NET renders a DateTime and the `Date`
 *   filter formats it with .NET format strings;
 * - an object that renders as a text (a URL): `{ Scheme, Host, …, [TEXT]: "https://…" }`.
 */
import { CsDateTime, CsDateTimeOffset, formatDateTime, formatDateTimeOffset, type DateTimeKind } from '../../expressions/runtime/time.js';
import { formatDouble } from '../../expressions/runtime/numfmt.js';

export const DATE: unique symbol = Symbol('gatehouse.liquid.date');
export const TEXT: unique symbol = Symbol('gatehouse.liquid.text');

export interface DateData {
  /** wall-clock ms since 1970-01-01 (the DateTime's own clock, no zone applied) */
  readonly ms: number;
  readonly kind: DateTimeKind;
  /** set for a DateTimeOffset: its offset from UTC in minutes */
  readonly offsetMin: number | null;
}

export type DateValue = { readonly [DATE]: DateData };

/** a plain, frozen date value */
export function dateValue(d: DateData): DateValue {
  return Object.freeze({ [DATE]: Object.freeze({ ms: d.ms, kind: d.kind, offsetMin: d.offsetMin }) });
}

export function dateOf(v: unknown): DateData | undefined {
  return v !== null && typeof v === 'object' && DATE in v ? (v as DateValue)[DATE] : undefined;
}

/** a plain object that renders as `text` */
export function textObject(text: string, fields: Record<string, unknown>): Record<string, unknown> {
  const o: Record<string | symbol, unknown> = newObject();
  for (const [k, v] of Object.entries(fields)) put(o, k, v);
  o[TEXT] = text;
  return o;
}

/** an empty object for template data (own properties only are visible to templates) */
export function newObject(): Record<string, unknown> {
  return {};
}

/** sets an own property, even for a name like "__proto__" */
export function put(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(DATE in v);
}

export const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** DotLiquid renders a DateTime with the invariant culture: "MM/dd/yyyy HH:mm:ss" (a DateTimeOffset adds " zzz") */
export function formatDate(d: DateData, format: string | null): string {
  if (d.offsetMin !== null) {
    const dto = new CsDateTimeOffset(d.ms - d.offsetMin * 60_000, d.offsetMin);
    return formatDateTimeOffset(dto, format === null || format === '' ? 'MM/dd/yyyy HH:mm:ss zzz' : format);
  }
  return formatDateTime(new CsDateTime(d.ms, d.kind), format === null || format === '' ? 'MM/dd/yyyy HH:mm:ss' : format);
}

/** a number as .NET prints it (integers in full, doubles round-trip with .NET's exponent style) */
export function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return Object.is(n, -0) ? '0' : String(n);
  return formatDouble(n);
}

/**
 * A value as text the way DotLiquid writes it: nil → "", booleans lower case, a collection → its
 * items concatenated. An object (a JSON object of the body) renders as its JSON text.
 */
export function toText(v: unknown, depth = 0): string {
  if (v === null || v === undefined) return '';
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return formatNumber(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      break;
    default:
      return '';
  }
  if (depth > 64) throw new Error('value nested too deeply to render');
  const d = dateOf(v);
  if (d) return formatDate(d, null);
  if (TEXT in v) return String((v as { [TEXT]: unknown })[TEXT]);
  if (Array.isArray(v)) {
    let s = '';
    for (const x of v) s += toText(x, depth + 1);
    return s;
  }
  return toJson(v, depth);
}

/** an object or array as compact JSON (dates and URLs as their text) */
export function toJson(v: unknown, depth = 0): string {
  if (depth > 64) throw new Error('value nested too deeply to render');
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? formatNumber(v) : JSON.stringify(formatNumber(v));
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      break;
    default:
      return 'null';
  }
  const d = dateOf(v);
  if (d) return JSON.stringify(formatDate(d, null));
  if (TEXT in v) return JSON.stringify(String((v as { [TEXT]: unknown })[TEXT]));
  if (Array.isArray(v)) return '[' + v.map((x) => toJson(x, depth + 1)).join(',') + ']';
  const parts: string[] = [];
  for (const k of Object.keys(v)) parts.push(JSON.stringify(k) + ':' + toJson((v as Record<string, unknown>)[k], depth + 1));
  return '{' + parts.join(',') + '}';
}
