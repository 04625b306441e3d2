// .NET number formatting (invariant/en-US culture).
import { CsException } from '../errors.js';

function badFormat(): never {
  throw new CsException('FormatException', 'Format specifier was invalid.');
}

/** double.ToString(): shortest round-trip digits; scientific notation when the exponent is >= 15 or < -5 */
export function formatDouble(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '∞';
  if (x === -Infinity) return '-∞';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const exp = x.toExponential(); // shortest digits
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(exp);
  if (!m) return String(x);
  const sign = m[1] as string;
  const digits = (m[2] as string) + (m[3] ?? '');
  const e = Number(m[4]);
  if (e >= 15 || e < -4) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const ae = Math.abs(e);
    return `${sign}${mant}E${e < 0 ? '-' : '+'}${ae < 10 ? '0' + ae : ae}`;
  }
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  if (digits.length <= e + 1) return sign + digits + '0'.repeat(e + 1 - digits.length);
  return `${sign}${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
}

/** Newtonsoft's JSON rendering of a double: round-trip text, with ".0" when it has no '.' or exponent */
export function formatJsonDouble(x: number): string {
  if (Number.isNaN(x)) return '"NaN"';
  if (x === Infinity) return '"Infinity"';
  if (x === -Infinity) return '"-Infinity"';
  const s = formatDouble(x);
  return /[.E]/.test(s) ? s : s + '.0';
}

export function formatInteger(x: number): string {
  if (Number.isSafeInteger(x)) return String(x);
  if (!Number.isFinite(x)) return formatDouble(x);
  return BigInt(Math.trunc(x)).toString();
}

function group3(intDigits: string): string {
  let out = '';
  for (let i = 0; i < intDigits.length; i++) {
    if (i > 0 && (intDigits.length - i) % 3 === 0) out += ',';
    out += intDigits[i];
  }
  return out;
}

function fixed(x: number, decimals: number): string {
  if (decimals > 100) badFormat();
  if (Math.abs(x) >= 1e21) {
    const big = BigInt(Math.round(x)).toString();
    return decimals > 0 ? `${big}.${'0'.repeat(decimals)}` : big;
  }
  return x.toFixed(decimals);
}

/** ToString(format) on a number; `isInt` tells whether the static type is an integral type */
export function formatNumber(x: number, format: string | null | undefined, isInt: boolean): string {
  if (format === null || format === undefined || format === '') return isInt ? formatInteger(x) : formatDouble(x);
  const m = /^([A-Za-z])(\d{0,3})$/.exec(format);
  if (m) {
    const f = (m[1] as string).toUpperCase();
    const hasPrec = m[2] !== '';
    const prec = hasPrec ? Number(m[2]) : -1;
    switch (f) {
      case 'D': {
        if (!isInt) badFormat();
        const s = formatInteger(Math.abs(x));
        return (x < 0 ? '-' : '') + (prec > s.length ? '0'.repeat(prec - s.length) + s : s);
      }
      case 'X': {
        if (!isInt) badFormat();
        let v = Math.trunc(x);
        let s: string;
        if (v < 0) {
          s = v >= -0x80000000 ? (v >>> 0).toString(16) : BigInt.asUintN(64, BigInt(v)).toString(16);
        } else s = v.toString(16);
        if (m[1] === 'X') s = s.toUpperCase();
        v = 0;
        return prec > s.length ? '0'.repeat(prec - s.length) + s : s;
      }
      case 'F': {
        const d = hasPrec ? prec : 2;
        return fixed(x, d);
      }
      case 'N': {
        const d = hasPrec ? prec : 2;
        const s = fixed(Math.abs(x), d);
        const [ip, fp] = s.split('.');
        const neg = x < 0 && Number(s) !== 0;
        return (neg ? '-' : '') + group3(ip as string) + (fp ? '.' + fp : '');
      }
      case 'P': {
        const d = hasPrec ? prec : 2;
        const s = fixed(Math.abs(x * 100), d);
        const [ip, fp] = s.split('.');
        return (x < 0 ? '-' : '') + group3(ip as string) + (fp ? '.' + fp : '') + ' %';
      }
      case 'C': {
        const d = hasPrec ? prec : 2;
        const s = fixed(Math.abs(x), d);
        const [ip, fp] = s.split('.');
        const body = '$' + group3(ip as string) + (fp ? '.' + fp : '');
        return x < 0 ? `(${body})` : body;
      }
      case 'E': {
        const d = hasPrec ? prec : 6;
        const s = x.toExponential(d);
        const em = /^(-?[\d.]+)e([+-])(\d+)$/.exec(s);
        if (!em) return s;
        const e = em[1] + (m[1] === 'e' ? 'e' : 'E') + em[2] + (em[3] as string).padStart(3, '0');
        return e;
      }
      case 'G':
      case 'R':
        if (isInt && !hasPrec) return formatInteger(x);
        if (!hasPrec || prec === 0) return isInt ? formatInteger(x) : formatDouble(x);
        return formatDouble(Number(x.toPrecision(Math.min(prec, 100))));
      default:
        break;
    }
  }
  return customNumber(x, format);
}

function customNumber(x: number, format: string): string {
  // sections: positive;negative;zero
  const sections = splitSections(format);
  let f = sections[0] as string;
  let v = x;
  if (x < 0 && sections.length > 1) {
    f = sections[1] as string;
    v = -x;
  } else if (x === 0 && sections.length > 2) f = sections[2] as string;
  let percent = false;
  let literalPrefix = '';
  let literalSuffix = '';
  // collect placeholder region and literals
  let numPart = '';
  let seenPlaceholder = false;
  for (let i = 0; i < f.length; i++) {
    const c = f[i] as string;
    if (c === "'" || c === '"') {
      const j = f.indexOf(c, i + 1);
      const lit = j < 0 ? f.slice(i + 1) : f.slice(i + 1, j);
      if (seenPlaceholder) literalSuffix += lit;
      else literalPrefix += lit;
      i = j < 0 ? f.length : j;
      continue;
    }
    if (c === '\\') {
      const lit = f[i + 1] ?? '';
      if (seenPlaceholder) literalSuffix += lit;
      else literalPrefix += lit;
      i++;
      continue;
    }
    if (c === '0' || c === '#' || c === '.' || c === ',') {
      if (literalSuffix) {
        // placeholders after a literal: keep simple, treat as part of the number
      }
      seenPlaceholder = true;
      numPart += c;
      continue;
    }
    if (c === '%') {
      percent = true;
      if (seenPlaceholder) literalSuffix += '%';
      else literalPrefix += '%';
      continue;
    }
    if (seenPlaceholder) literalSuffix += c;
    else literalPrefix += c;
  }
  if (percent) v *= 100;
  if (!seenPlaceholder) return literalPrefix + literalSuffix;
  const dot = numPart.indexOf('.');
  let intPat = dot < 0 ? numPart : numPart.slice(0, dot);
  const fracPat = dot < 0 ? '' : numPart.slice(dot + 1).replace(/,/g, '');
  // trailing commas before the decimal point scale by 1000
  while (intPat.endsWith(',')) {
    v /= 1000;
    intPat = intPat.slice(0, -1);
  }
  const grouping = intPat.includes(',');
  const minInt = (intPat.replace(/,/g, '').match(/0/g) ?? []).length;
  const minFrac = (fracPat.match(/^0*/) ?? [''])[0]?.length ?? 0;
  const maxFrac = fracPat.length;
  let s = fixed(Math.abs(v), maxFrac);
  let [ip, fp] = s.split('.') as [string, string | undefined];
  if (fp !== undefined) {
    let trimmed = fp;
    while (trimmed.length > minFrac && trimmed.endsWith('0')) trimmed = trimmed.slice(0, -1);
    fp = trimmed;
  }
  if (ip === '0' && minInt === 0) ip = '';
  if (ip.length < minInt) ip = '0'.repeat(minInt - ip.length) + ip;
  if (grouping && ip) ip = group3(ip);
  s = ip + (fp ? '.' + fp : '');
  if (s === '') s = '0'.repeat(Math.max(minInt, 0)) || '';
  const neg = v < 0 && sections.length === 1 && /[1-9]/.test(s);
  return (neg ? '-' : '') + literalPrefix + s + literalSuffix;
}

function splitSections(f: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < f.length; i++) {
    const c = f[i] as string;
    if (c === '\\') {
      cur += c + (f[i + 1] ?? '');
      i++;
    } else if (c === "'" || c === '"') {
      const j = f.indexOf(c, i + 1);
      cur += j < 0 ? f.slice(i) : f.slice(i, j + 1);
      i = j < 0 ? f.length : j;
    } else if (c === ';') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.slice(0, 3);
}

/** Math.Round with MidpointRounding.ToEven (the .NET default) */
export function roundHalfEven(x: number, digits = 0): number {
  if (!Number.isFinite(x)) return x;
  if (digits < 0 || digits > 15) throw new CsException('ArgumentOutOfRangeException', 'Rounding digits must be between 0 and 15, inclusive.');
  const p = 10 ** digits;
  const v = x * p;
  const r = Math.round(v);
  const isHalf = Math.abs(v - Math.trunc(v)) === 0.5;
  let out = r;
  if (isHalf && r % 2 !== 0) out = r - 1;
  return out / p;
}

export function roundAwayFromZero(x: number, digits = 0): number {
  const p = 10 ** digits;
  const v = x * p;
  return (Math.sign(v) * Math.round(Math.abs(v))) / p;
}
