// DateTime, DateTimeOffset and TimeSpan with .NET semantics (millisecond precision; the local time zone is UTC).
import { CsException } from '../errors.js';

export type DateTimeKind = 'Unspecified' | 'Utc' | 'Local';

const MS_PER_DAY = 86_400_000;
/** ms between 0001-01-01 and 1970-01-01 */
const EPOCH_OFFSET_MS = 62_135_596_800_000;
export const MIN_MS = -EPOCH_OFFSET_MS;
export const MAX_MS = 253_402_300_799_999;
const TICKS_PER_MS = 10_000;

function checkRange(ms: number): number {
  if (!Number.isFinite(ms) || ms < MIN_MS || ms > MAX_MS + 0.9999)
    throw new CsException('ArgumentOutOfRangeException', 'The added or subtracted value results in an un-representable DateTime.');
  return ms;
}

export class CsDateTime {
  constructor(
    /** wall-clock milliseconds since 1970-01-01T00:00:00 (no time zone applied) */
    readonly ms: number,
    readonly kind: DateTimeKind = 'Unspecified',
  ) {}
  static now(kind: DateTimeKind = 'Utc'): CsDateTime {
    return new CsDateTime(Date.now(), kind);
  }
  static fromParts(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0, kind: DateTimeKind = 'Unspecified'): CsDateTime {
    if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59 || ms < 0 || ms > 999)
      throw new CsException('ArgumentOutOfRangeException', 'Year, Month, and Day parameters describe an un-representable DateTime.');
    const t = Date.UTC(2000, mo - 1, d, h, mi, s, ms);
    // Date.UTC maps years 0..99 to 1900+; build from year 2000 and shift by whole years
    const dt = new Date(t);
    dt.setUTCFullYear(y);
    return new CsDateTime(dt.getTime(), kind);
  }
  static fromTicks(ticks: number, kind: DateTimeKind = 'Unspecified'): CsDateTime {
    return new CsDateTime(checkRange(ticks / TICKS_PER_MS - EPOCH_OFFSET_MS), kind);
  }
  private d(): Date {
    return new Date(Math.floor(this.ms));
  }
  get year(): number {
    return this.d().getUTCFullYear();
  }
  get month(): number {
    return this.d().getUTCMonth() + 1;
  }
  get day(): number {
    return this.d().getUTCDate();
  }
  get hour(): number {
    return this.d().getUTCHours();
  }
  get minute(): number {
    return this.d().getUTCMinutes();
  }
  get second(): number {
    return this.d().getUTCSeconds();
  }
  get millisecond(): number {
    return this.d().getUTCMilliseconds();
  }
  get dayOfWeek(): number {
    return this.d().getUTCDay();
  }
  get dayOfYear(): number {
    const start = Date.UTC(2000, 0, 1);
    const dt = new Date(start);
    dt.setUTCFullYear(this.year);
    return Math.floor((Math.floor(this.ms) - dt.getTime()) / MS_PER_DAY) + 1;
  }
  get ticks(): number {
    return (this.ms + EPOCH_OFFSET_MS) * TICKS_PER_MS;
  }
  /** fraction of the second in ticks (0..9999999) */
  get fracTicks(): number {
    const msInSecond = this.ms - Math.floor(this.ms / 1000) * 1000;
    return Math.round(msInSecond * TICKS_PER_MS);
  }
  get date(): CsDateTime {
    return new CsDateTime(Math.floor(this.ms / MS_PER_DAY) * MS_PER_DAY, this.kind);
  }
  get timeOfDay(): CsTimeSpan {
    return new CsTimeSpan(this.ms - Math.floor(this.ms / MS_PER_DAY) * MS_PER_DAY);
  }
  addMs(ms: number): CsDateTime {
    return new CsDateTime(checkRange(this.ms + ms), this.kind);
  }
  addMonths(n: number): CsDateTime {
    if (!Number.isInteger(n)) throw new CsException('ArgumentException', 'Value must be an integer.');
    const total = this.year * 12 + (this.month - 1) + n;
    const y = Math.floor(total / 12);
    const m = (total % 12) + 1;
    if (y < 1 || y > 9999) throw new CsException('ArgumentOutOfRangeException', 'The added or subtracted value results in an un-representable DateTime.');
    const d = Math.min(this.day, daysInMonth(y, m));
    const base = CsDateTime.fromParts(y, m, d, 0, 0, 0, 0, this.kind);
    return new CsDateTime(base.ms + (this.ms - this.date.ms), this.kind);
  }
  withKind(kind: DateTimeKind): CsDateTime {
    return new CsDateTime(this.ms, kind);
  }
  /** instant in UTC ms, treating Local and Unspecified as UTC (local time zone = UTC) */
  get utcMs(): number {
    return this.ms;
  }
}

export class CsDateTimeOffset {
  constructor(
    /** the UTC instant in ms since the Unix epoch */
    readonly utcMs: number,
    /** offset from UTC in minutes */
    readonly offsetMin: number = 0,
  ) {}
  static now(): CsDateTimeOffset {
    return new CsDateTimeOffset(Date.now(), 0);
  }
  static fromDateTime(dt: CsDateTime, offsetMin?: number): CsDateTimeOffset {
    const off = offsetMin ?? 0;
    if (dt.kind === 'Utc' && off !== 0) throw new CsException('ArgumentException', 'The UTC Offset for Utc DateTime instances must be 0.');
    return new CsDateTimeOffset(dt.ms - off * 60_000, off);
  }
  /** the local wall-clock time at this offset */
  get dateTime(): CsDateTime {
    return new CsDateTime(this.utcMs + this.offsetMin * 60_000, 'Unspecified');
  }
  get utcDateTime(): CsDateTime {
    return new CsDateTime(this.utcMs, 'Utc');
  }
  get offset(): CsTimeSpan {
    return new CsTimeSpan(this.offsetMin * 60_000);
  }
  addMs(ms: number): CsDateTimeOffset {
    checkRange(this.utcMs + ms);
    return new CsDateTimeOffset(this.utcMs + ms, this.offsetMin);
  }
  toUnixSeconds(): number {
    return Math.floor(this.utcMs / 1000);
  }
  toUnixMs(): number {
    return Math.floor(this.utcMs);
  }
}

export class CsTimeSpan {
  constructor(readonly ms: number) {}
  static fromTicks(t: number): CsTimeSpan {
    return new CsTimeSpan(t / TICKS_PER_MS);
  }
  get ticks(): number {
    return Math.round(this.ms * TICKS_PER_MS);
  }
  get days(): number {
    return Math.trunc(this.ms / MS_PER_DAY);
  }
  get hours(): number {
    return Math.trunc((this.ms % MS_PER_DAY) / 3_600_000);
  }
  get minutes(): number {
    return Math.trunc((this.ms % 3_600_000) / 60_000);
  }
  get seconds(): number {
    return Math.trunc((this.ms % 60_000) / 1000);
  }
  get milliseconds(): number {
    return Math.trunc(this.ms % 1000);
  }
}

export function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}
export function daysInMonth(y: number, m: number): number {
  return [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] ?? 0;
}

// ------------------------------------------------------------------ formatting

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
export const DAY_NAMES = DAYS;

function pad(n: number, w: number): string {
  const s = String(Math.abs(n));
  return (n < 0 ? '-' : '') + (s.length >= w ? s : '0'.repeat(w - s.length) + s);
}

function offsetString(offsetMin: number, style: 'z' | 'zz' | 'zzz' | 'K'): string {
  const sign = offsetMin < 0 ? '-' : '+';
  const a = Math.abs(offsetMin);
  const h = Math.floor(a / 60);
  const m = a % 60;
  if (style === 'z') return sign + String(h);
  if (style === 'zz') return sign + pad(h, 2);
  return `${sign}${pad(h, 2)}:${pad(m, 2)}`;
}

/** expands a .NET standard date format character into its custom pattern (en-US culture) */
function standardDatePattern(f: string, isOffset: boolean): string | null {
  switch (f) {
    case 'd': return 'M/d/yyyy';
    case 'D': return 'dddd, MMMM d, yyyy';
    case 'f': return 'dddd, MMMM d, yyyy h:mm tt';
    case 'F': return 'dddd, MMMM d, yyyy h:mm:ss tt';
    case 'g': return 'M/d/yyyy h:mm tt';
    case 'G': return isOffset ? 'M/d/yyyy h:mm:ss tt zzz' : 'M/d/yyyy h:mm:ss tt';
    case 'm': case 'M': return 'MMMM d';
    case 'o': case 'O': return isOffset ? "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffzzz" : "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK";
    case 'r': case 'R': return "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'";
    case 's': return "yyyy'-'MM'-'dd'T'HH':'mm':'ss";
    case 't': return 'h:mm tt';
    case 'T': return 'h:mm:ss tt';
    case 'u': return "yyyy'-'MM'-'dd HH':'mm':'ss'Z'";
    case 'U': return 'dddd, MMMM d, yyyy h:mm:ss tt';
    case 'y': case 'Y': return 'MMMM yyyy';
    default: return null;
  }
}

interface DateParts {
  dt: CsDateTime;
  /** offset in minutes for z/zz/zzz (DateTimeOffset), or null for DateTime */
  offsetMin: number | null;
}

export function formatDateTime(dt: CsDateTime, format: string | null | undefined): string {
  return formatDate({ dt, offsetMin: null }, format);
}

export function formatDateTimeOffset(dto: CsDateTimeOffset, format: string | null | undefined): string {
  let f = format;
  if (f === 'r' || f === 'R' || f === 'u') {
    // these always render the UTC time
    return formatDate({ dt: new CsDateTime(dto.utcMs, 'Utc'), offsetMin: 0 }, f);
  }
  if (f === 'U') throw new CsException('FormatException', 'Input string was not in a correct format.');
  if (!f) f = 'G';
  return formatDate({ dt: dto.dateTime, offsetMin: dto.offsetMin }, f);
}

function formatDate(p: DateParts, format: string | null | undefined): string {
  let f = format ?? '';
  if (f === '') f = 'G';
  let dt = p.dt;
  if (f.length === 1) {
    if (f === 'U') dt = dt.withKind('Utc');
    const pat = standardDatePattern(f, p.offsetMin !== null);
    if (pat === null) throw new CsException('FormatException', 'Input string was not in a correct format.');
    f = pat;
  }
  return customDate({ dt, offsetMin: p.offsetMin }, f);
}

function customDate(p: DateParts, f: string): string {
  const dt = p.dt;
  let out = '';
  let i = 0;
  while (i < f.length) {
    const c = f[i] as string;
    let n = 1;
    while (f[i + n] === c) n++;
    switch (c) {
      case 'y': {
        const y = dt.year;
        out += n === 1 ? String(y % 100) : n === 2 ? pad(y % 100, 2) : pad(y, n);
        break;
      }
      case 'M':
        out += n === 1 ? String(dt.month) : n === 2 ? pad(dt.month, 2) : n === 3 ? (MONTHS[dt.month - 1] as string).slice(0, 3) : (MONTHS[dt.month - 1] as string);
        break;
      case 'd':
        out += n === 1 ? String(dt.day) : n === 2 ? pad(dt.day, 2) : n === 3 ? (DAYS[dt.dayOfWeek] as string).slice(0, 3) : (DAYS[dt.dayOfWeek] as string);
        break;
      case 'h': {
        const h = dt.hour % 12 || 12;
        out += n === 1 ? String(h) : pad(h, 2);
        break;
      }
      case 'H':
        out += n === 1 ? String(dt.hour) : pad(dt.hour, 2);
        break;
      case 'm':
        out += n === 1 ? String(dt.minute) : pad(dt.minute, 2);
        break;
      case 's':
        out += n === 1 ? String(dt.second) : pad(dt.second, 2);
        break;
      case 'f':
      case 'F': {
        if (n > 7) throw new CsException('FormatException', 'Input string was not in a correct format.');
        let digits = pad(dt.fracTicks, 7).slice(0, n);
        if (c === 'F') {
          digits = digits.replace(/0+$/, '');
          if (digits === '' && out.endsWith('.')) out = out.slice(0, -1);
        }
        out += digits;
        break;
      }
      case 't':
        out += n === 1 ? (dt.hour < 12 ? 'A' : 'P') : dt.hour < 12 ? 'AM' : 'PM';
        break;
      case 'g':
        out += 'A.D.';
        break;
      case 'K':
        if (p.offsetMin !== null) out += offsetString(p.offsetMin, 'K');
        else if (dt.kind === 'Utc') out += 'Z';
        else if (dt.kind === 'Local') out += '+00:00';
        n = 1;
        while (f[i + n] === 'K') {
          out += out.slice(-1) === 'Z' ? 'Z' : '';
          n++;
        }
        break;
      case 'z': {
        const off = p.offsetMin ?? 0;
        out += offsetString(off, n === 1 ? 'z' : n === 2 ? 'zz' : 'zzz');
        break;
      }
      case ':':
      case '/':
        out += c.repeat(n);
        break;
      case "'":
      case '"': {
        let j = i + 1;
        let lit = '';
        while (j < f.length && f[j] !== c) {
          if (f[j] === '\\' && j + 1 < f.length) j++;
          lit += f[j];
          j++;
        }
        if (j >= f.length) throw new CsException('FormatException', `Cannot find a matching quote character for the character '${c}'.`);
        out += lit;
        i = j + 1;
        continue;
      }
      case '\\':
        if (i + 1 < f.length) out += f[i + 1];
        i += 2;
        continue;
      case '%':
        i += 1;
        continue;
      default:
        out += c.repeat(n);
    }
    i += n;
  }
  return out;
}

export function formatTimeSpan(ts: CsTimeSpan, format?: string | null): string {
  const neg = ts.ms < 0;
  const ticks = Math.abs(ts.ticks);
  const days = Math.floor(ticks / (TICKS_PER_MS * MS_PER_DAY));
  let rem = ticks - days * TICKS_PER_MS * MS_PER_DAY;
  const h = Math.floor(rem / (TICKS_PER_MS * 3_600_000));
  rem -= h * TICKS_PER_MS * 3_600_000;
  const m = Math.floor(rem / (TICKS_PER_MS * 60_000));
  rem -= m * TICKS_PER_MS * 60_000;
  const s = Math.floor(rem / (TICKS_PER_MS * 1000));
  const frac = rem - s * TICKS_PER_MS * 1000;
  const f = format ?? 'c';
  if (f === 'c' || f === 't' || f === 'T' || f === '' || f === 'g' || f === 'G') {
    if (f === 'g') {
      let out = `${neg ? '-' : ''}${days ? `${days}:` : ''}${h}:${pad(m, 2)}:${pad(s, 2)}`;
      if (frac) out += '.' + pad(frac, 7).replace(/0+$/, '');
      return out;
    }
    if (f === 'G') return `${neg ? '-' : ''}${days}:${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}.${pad(frac, 7)}`;
    let out = `${neg ? '-' : ''}${days ? `${days}.` : ''}${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}`;
    if (frac) out += '.' + pad(frac, 7);
    return out;
  }
  // custom TimeSpan format: d, hh, mm, ss, fff and quoted literals / escaped characters
  let out = '';
  let i = 0;
  while (i < f.length) {
    const c = f[i] as string;
    let n = 1;
    while (f[i + n] === c) n++;
    switch (c) {
      case 'd': out += pad(days, n); break;
      case 'h': out += n === 1 ? String(h) : pad(h, 2); break;
      case 'm': out += n === 1 ? String(m) : pad(m, 2); break;
      case 's': out += n === 1 ? String(s) : pad(s, 2); break;
      case 'f': out += pad(frac, 7).slice(0, n); break;
      case 'F': out += pad(frac, 7).slice(0, n).replace(/0+$/, ''); break;
      case '\\':
        out += f[i + 1] ?? '';
        i += 2;
        continue;
      case "'":
      case '"': {
        const j = f.indexOf(c, i + 1);
        if (j < 0) throw new CsException('FormatException', 'Input string was not in a correct format.');
        out += f.slice(i + 1, j);
        i = j + 1;
        continue;
      }
      default:
        throw new CsException('FormatException', 'Input string was not in a correct format.');
    }
    i += n;
  }
  return out;
}

// ------------------------------------------------------------------ parsing

const MONTH_ABBR: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12,
});

export interface ParsedDate {
  ms: number;
  /** minutes offset if the text carried a zone (Z / +hh:mm / GMT), else null */
  offsetMin: number | null;
}

/** parses the date formats DateTime.Parse accepts in practice (ISO 8601, RFC 1123, en-US M/d/yyyy [h:mm[:ss] [AM|PM]]) */
export function parseDateText(input: string): ParsedDate | null {
  const s = input.trim();
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,7}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(s);
  if (m) {
    const frac = m[7] ? Number(('0.' + m[7]).slice(0, 12)) * 1000 : 0;
    const base = safeParts(+(m[1] as string), +(m[2] as string), +(m[3] as string), +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
    if (base === null) return null;
    return { ms: base + frac, offsetMin: zoneMinutes(m[8]) };
  }
  m = /^(?:[a-z]{3},?\s+)?(\d{1,2})\s+([a-z]{3})[a-z]*\s+(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(GMT|UTC|Z|[+-]\d{2}:?\d{2})?$/i.exec(s);
  if (m) {
    const mo = MONTH_ABBR[(m[2] as string).toLowerCase()];
    if (!mo) return null;
    const base = safeParts(+(m[3] as string), mo, +(m[1] as string), +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
    if (base === null) return null;
    return { ms: base, offsetMin: zoneMinutes(m[7]) };
  }
  m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(AM|PM)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(s);
  if (m) {
    let h = +(m[4] ?? 0);
    const ap = m[7]?.toUpperCase();
    if (ap) {
      if (h < 1 || h > 12) return null;
      if (ap === 'PM' && h !== 12) h += 12;
      if (ap === 'AM' && h === 12) h = 0;
    }
    const base = safeParts(+(m[3] as string), +(m[1] as string), +(m[2] as string), h, +(m[5] ?? 0), +(m[6] ?? 0));
    if (base === null) return null;
    return { ms: base, offsetMin: zoneMinutes(m[8]) };
  }
  return null;
}

function zoneMinutes(z: string | undefined): number | null {
  if (!z) return null;
  const u = z.toUpperCase();
  if (u === 'Z' || u === 'GMT' || u === 'UTC') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(z);
  if (!m) return null;
  return (m[1] === '-' ? -1 : 1) * (+(m[2] as string) * 60 + +(m[3] ?? 0));
}

function safeParts(y: number, mo: number, d: number, h: number, mi: number, s: number): number | null {
  try {
    return CsDateTime.fromParts(y, mo, d, h, mi, s).ms;
  } catch {
    return null;
  }
}

/** DateTime.Parse: a text with a zone is converted to local time (= UTC here) with Kind Local */
export function parseDateTime(s: string): CsDateTime {
  const p = parseDateText(s);
  if (!p) throw new CsException('FormatException', `String '${s}' was not recognized as a valid DateTime.`);
  if (p.offsetMin === null) return new CsDateTime(p.ms, 'Unspecified');
  return new CsDateTime(p.ms - p.offsetMin * 60_000, 'Local');
}

export function parseDateTimeOffset(s: string): CsDateTimeOffset {
  const p = parseDateText(s);
  if (!p) throw new CsException('FormatException', `String '${s}' was not recognized as a valid DateTime.`);
  const off = p.offsetMin ?? 0;
  return new CsDateTimeOffset(p.ms - off * 60_000, off);
}

export function parseTimeSpan(s: string): CsTimeSpan {
  // [-][d.]hh:mm[:ss[.fffffff]] or [-]d:hh:mm:ss[.fffffff]
  const m =
    /^\s*(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?\s*$/.exec(s) ??
    /^\s*(-)?(\d+):(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?\s*$/.exec(s);
  const d = /^\s*(-)?(\d+)\s*$/.exec(s);
  if (d) return new CsTimeSpan((d[1] ? -1 : 1) * +(d[2] as string) * MS_PER_DAY);
  if (!m) throw new CsException('FormatException', 'String was not recognized as a valid TimeSpan.');
  const h = +(m[3] as string);
  const mi = +(m[4] as string);
  const sec = +(m[5] ?? 0);
  if (h > 23 || mi > 59 || sec > 59) throw new CsException('OverflowException', 'The TimeSpan string could not be parsed because at least one of the numeric components is out of range or contains too many digits.');
  const frac = m[6] ? Number('0.' + m[6]) * 1000 : 0;
  const ms = +(m[2] ?? 0) * MS_PER_DAY + h * 3_600_000 + mi * 60_000 + sec * 1000 + frac;
  return new CsTimeSpan(m[1] ? -ms : ms);
}

export function parseExactDateTime(s: string, format: string): CsDateTime {
  // supports the custom specifiers yyyy MM dd HH mm ss fff and literals, plus the standard formats o/s/u/R
  let f = format;
  if (f.length === 1) {
    const pat = standardDatePattern(f, false);
    if (pat === null) throw new CsException('FormatException', 'Input string was not in a correct format.');
    f = pat;
  }
  let re = '';
  const order: string[] = [];
  for (let i = 0; i < f.length; ) {
    const c = f[i] as string;
    let n = 1;
    while (f[i + n] === c) n++;
    if (c === "'" || c === '"') {
      const j = f.indexOf(c, i + 1);
      if (j < 0) throw new CsException('FormatException', 'Input string was not in a correct format.');
      re += escapeRe(f.slice(i + 1, j));
      i = j + 1;
      continue;
    }
    if (c === '\\') {
      re += escapeRe(f[i + 1] ?? '');
      i += 2;
      continue;
    }
    if ('yMdHhmsftK'.includes(c) && !(c === 'M' && n >= 3) && !(c === 'd' && n >= 3)) {
      order.push(c + n);
      if (c === 'f') re += `(\\d{${n}})`;
      else if (c === 't') re += '(AM|PM|A|P)';
      else if (c === 'K') re += '(Z|[+-]\\d{2}:\\d{2})?';
      else re += n === 1 ? '(\\d{1,2})' : `(\\d{${n}})`;
    } else if (c === 'M' || c === 'd') {
      order.push(c + n);
      re += '([A-Za-z]+)';
    } else re += escapeRe(c.repeat(n));
    i += n;
  }
  const m = new RegExp('^' + re + '$', 'i').exec(s.trim());
  if (!m) throw new CsException('FormatException', `String '${s}' was not recognized as a valid DateTime.`);
  let y = 1, mo = 1, d = 1, h = 0, mi = 0, sec = 0, ms = 0, pm: boolean | null = null;
  let off: number | null = null;
  order.forEach((o, k) => {
    const v = m[k + 1] ?? '';
    switch (o[0]) {
      case 'y': y = +v; if (o === 'y2' || o === 'y1') y += 2000; break;
      case 'M': mo = /^\d+$/.test(v) ? +v : (MONTH_ABBR[v.slice(0, 3).toLowerCase()] ?? 0); break;
      case 'd': if (/^\d+$/.test(v)) d = +v; break;
      case 'H': case 'h': h = +v; break;
      case 'm': mi = +v; break;
      case 's': sec = +v; break;
      case 'f': ms = Number('0.' + v) * 1000; break;
      case 't': pm = v.toUpperCase().startsWith('P'); break;
      case 'K': off = v ? zoneMinutes(v) : null; break;
    }
  });
  if (pm !== null) {
    if (pm && h < 12) h += 12;
    if (!pm && h === 12) h = 0;
  }
  const base = safeParts(y, mo, d, h, mi, sec);
  if (base === null) throw new CsException('FormatException', `String '${s}' was not recognized as a valid DateTime.`);
  if (off !== null) return new CsDateTime(base + ms - (off as number) * 60_000, 'Local');
  return new CsDateTime(base + ms, 'Unspecified');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
