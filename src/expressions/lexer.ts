// Lexer for the C# subset used by APIM policy expressions.
import { CompileError } from './errors.js';

export type NumType = 'int' | 'uint' | 'long' | 'ulong' | 'double' | 'float' | 'decimal';

export interface InterpHole {
  /** offsets of the expression code inside the whole code string */
  start: number;
  end: number;
  /** alignment expression code range, if any */
  align?: { start: number; end: number };
  format?: string;
  formatStart?: number;
}

export type InterpPart = string | InterpHole;

export interface Token {
  kind: 'ident' | 'keyword' | 'number' | 'string' | 'char' | 'interp' | 'punct' | 'eof';
  /** identifier/keyword name, punctuator text, or decoded string/char value */
  value: string;
  start: number;
  end: number;
  num?: number;
  numType?: NumType;
  parts?: InterpPart[];
  /** true when whitespace or a comment precedes this token */
  spaceBefore: boolean;
}

export const KEYWORDS: ReadonlySet<string> = new Set([
  'abstract', 'as', 'base', 'bool', 'break', 'byte', 'case', 'catch', 'char', 'checked', 'class', 'const', 'continue',
  'decimal', 'default', 'delegate', 'do', 'double', 'else', 'enum', 'event', 'explicit', 'extern', 'false', 'finally',
  'fixed', 'float', 'for', 'foreach', 'goto', 'if', 'implicit', 'in', 'int', 'interface', 'internal', 'is', 'lock',
  'long', 'namespace', 'new', 'null', 'object', 'operator', 'out', 'override', 'params', 'private', 'protected',
  'public', 'readonly', 'ref', 'return', 'sbyte', 'sealed', 'short', 'sizeof', 'stackalloc', 'static', 'string',
  'struct', 'switch', 'this', 'throw', 'true', 'try', 'typeof', 'uint', 'ulong', 'unchecked', 'unsafe', 'ushort',
  'using', 'virtual', 'void', 'volatile', 'while',
]);

const PUNCTS = [
  '<<=', '??=', '...',
  '=>', '==', '!=', '<=', '>=', '&&', '||', '++', '--', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '<<', '??', '::', '..',
  '{', '}', '(', ')', '[', ']', '.', ',', ':', ';', '+', '-', '*', '/', '%', '&', '|', '^', '!', '~', '=', '<', '>', '?',
];

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || (c > 127 && /\p{L}/u.test(String.fromCharCode(c)));
}
function isIdentPart(c: number): boolean {
  return isIdentStart(c) || (c >= 48 && c <= 57) || (c > 127 && /[\p{Mn}\p{Mc}\p{Nd}\p{Pc}]/u.test(String.fromCharCode(c)));
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isHex(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

export class Lexer {
  private pos: number;
  constructor(
    private readonly src: string,
    start = 0,
    private readonly limit = src.length,
  ) {
    this.pos = start;
  }

  tokenize(): Token[] {
    const out: Token[] = [];
    for (;;) {
      const t = this.next();
      out.push(t);
      if (t.kind === 'eof') return out;
      if (out.length > 200_000) throw new CompileError('EXPR_LIMIT', 'expression is too long', t.start);
    }
  }

  private err(msg: string, at: number): never {
    throw new CompileError('EXPR_SYNTAX', msg, at);
  }

  /** skips whitespace and comments; returns true if anything was skipped */
  private skipTrivia(): boolean {
    const s = this.src;
    const start = this.pos;
    while (this.pos < this.limit) {
      const c = s.charCodeAt(this.pos);
      if (c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12 || c === 0xa0 || c === 0xfeff) {
        this.pos++;
      } else if (c === 47 && s.charCodeAt(this.pos + 1) === 47) {
        while (this.pos < this.limit && s.charCodeAt(this.pos) !== 10 && s.charCodeAt(this.pos) !== 13) this.pos++;
      } else if (c === 47 && s.charCodeAt(this.pos + 1) === 42) {
        const e = s.indexOf('*/', this.pos + 2);
        if (e < 0 || e + 2 > this.limit) this.err('unterminated comment', this.pos);
        this.pos = e + 2;
      } else break;
    }
    return this.pos > start;
  }

  next(): Token {
    const spaceBefore = this.skipTrivia();
    const s = this.src;
    const start = this.pos;
    if (this.pos >= this.limit) return { kind: 'eof', value: '', start, end: start, spaceBefore };
    const c = s.charCodeAt(this.pos);
    // strings: "..", @"..", $"..", $@"..", @$".."
    if (c === 34) return this.lexString(start, false, false, start + 1, spaceBefore);
    if (c === 64 /* @ */ || c === 36 /* $ */) {
      const c1 = s.charCodeAt(this.pos + 1);
      const c2 = s.charCodeAt(this.pos + 2);
      if (c === 64 && c1 === 34) return this.lexString(start, true, false, start + 2, spaceBefore);
      if (c === 36 && c1 === 34) return this.lexString(start, false, true, start + 2, spaceBefore);
      if ((c === 64 && c1 === 36 && c2 === 34) || (c === 36 && c1 === 64 && c2 === 34))
        return this.lexString(start, true, true, start + 3, spaceBefore);
      if (c === 36 && c1 === 36) this.err('raw interpolated strings are not supported', start);
      if (c === 64 && isIdentStart(c1)) {
        // verbatim identifier @name
        this.pos++;
        const t = this.lexIdent(this.pos, spaceBefore);
        return { ...t, kind: 'ident', start };
      }
      this.err(`unexpected character '${String.fromCharCode(c)}'`, start);
    }
    if (c === 39 /* ' */) return this.lexChar(start, spaceBefore);
    if (isDigit(c) || (c === 46 && isDigit(s.charCodeAt(this.pos + 1)))) return this.lexNumber(start, spaceBefore);
    if (isIdentStart(c)) return this.lexIdent(start, spaceBefore);
    if (c === 63 /* ? */ && s.charCodeAt(this.pos + 1) === 46 && !isDigit(s.charCodeAt(this.pos + 2))) {
      this.pos += 2;
      return { kind: 'punct', value: '?.', start, end: this.pos, spaceBefore };
    }
    for (const p of PUNCTS) {
      if (s.startsWith(p, this.pos) && this.pos + p.length <= this.limit) {
        this.pos += p.length;
        return { kind: 'punct', value: p, start, end: this.pos, spaceBefore };
      }
    }
    if (c === 35 /* # */) this.err('preprocessor directives are not supported', start);
    this.err(`unexpected character '${String.fromCharCode(c)}'`, start);
  }

  private lexIdent(start: number, spaceBefore: boolean): Token {
    const s = this.src;
    let p = start;
    while (p < this.limit && isIdentPart(s.charCodeAt(p))) p++;
    this.pos = p;
    const name = s.slice(start, p);
    return { kind: KEYWORDS.has(name) ? 'keyword' : 'ident', value: name, start, end: p, spaceBefore };
  }

  private lexNumber(start: number, spaceBefore: boolean): Token {
    const s = this.src;
    let p = start;
    let text = '';
    let isReal = false;
    let radix = 10;
    if (s[p] === '0' && (s[p + 1] === 'x' || s[p + 1] === 'X')) {
      radix = 16;
      p += 2;
      while (p < this.limit && (isHex(s.charCodeAt(p)) || s[p] === '_')) {
        if (s[p] !== '_') text += s[p];
        p++;
      }
      if (!text) this.err('invalid hexadecimal literal', start);
    } else if (s[p] === '0' && (s[p + 1] === 'b' || s[p + 1] === 'B')) {
      radix = 2;
      p += 2;
      while (p < this.limit && (s[p] === '0' || s[p] === '1' || s[p] === '_')) {
        if (s[p] !== '_') text += s[p];
        p++;
      }
      if (!text) this.err('invalid binary literal', start);
    } else {
      while (p < this.limit && (isDigit(s.charCodeAt(p)) || s[p] === '_')) {
        if (s[p] !== '_') text += s[p];
        p++;
      }
      if (s[p] === '.' && isDigit(s.charCodeAt(p + 1))) {
        isReal = true;
        text += '.';
        p++;
        while (p < this.limit && (isDigit(s.charCodeAt(p)) || s[p] === '_')) {
          if (s[p] !== '_') text += s[p];
          p++;
        }
      }
      if (s[p] === 'e' || s[p] === 'E') {
        let q = p + 1;
        if (s[q] === '+' || s[q] === '-') q++;
        if (isDigit(s.charCodeAt(q))) {
          isReal = true;
          text += 'e' + s.slice(p + 1, q);
          p = q;
          while (p < this.limit && isDigit(s.charCodeAt(p))) text += s[p++];
        }
      }
    }
    let numType: NumType;
    const suf = (s[p] ?? '').toLowerCase();
    const suf2 = (s[p + 1] ?? '').toLowerCase();
    let value: number;
    if (radix === 10 && (suf === 'f' || suf === 'd' || suf === 'm')) {
      numType = suf === 'f' ? 'float' : suf === 'd' ? 'double' : 'decimal';
      p++;
      value = Number(text);
    } else if (isReal) {
      numType = 'double';
      value = Number(text);
    } else {
      value = radix === 10 ? Number(text) : parseInt(text, radix);
      if ((suf === 'u' && suf2 === 'l') || (suf === 'l' && suf2 === 'u')) {
        numType = 'ulong';
        p += 2;
      } else if (suf === 'u') {
        numType = value <= 0xffffffff ? 'uint' : 'ulong';
        p++;
      } else if (suf === 'l') {
        numType = 'long';
        p++;
      } else if (value <= 0x7fffffff) numType = 'int';
      else if (value <= 0xffffffff) numType = 'uint';
      else if (value <= 9223372036854775807) numType = 'long';
      else numType = 'ulong';
    }
    if (p < this.limit && isIdentPart(s.charCodeAt(p))) this.err('invalid numeric literal', start);
    this.pos = p;
    return { kind: 'number', value: s.slice(start, p), start, end: p, num: value, numType, spaceBefore };
  }

  /** decodes one escape sequence at p (pointing at the backslash); returns [text, nextPos] */
  private escape(p: number): [string, number] {
    const s = this.src;
    const e = s[p + 1];
    switch (e) {
      case "'": return ["'", p + 2];
      case '"': return ['"', p + 2];
      case '\\': return ['\\', p + 2];
      case '0': return ['\0', p + 2];
      case 'a': return ['\x07', p + 2];
      case 'b': return ['\b', p + 2];
      case 'f': return ['\f', p + 2];
      case 'n': return ['\n', p + 2];
      case 'r': return ['\r', p + 2];
      case 't': return ['\t', p + 2];
      case 'v': return ['\v', p + 2];
      case 'e': return ['\x1b', p + 2];
      case 'u': {
        const h = s.slice(p + 2, p + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(h)) this.err('invalid \\u escape sequence', p);
        return [String.fromCharCode(parseInt(h, 16)), p + 6];
      }
      case 'U': {
        const h = s.slice(p + 2, p + 10);
        if (!/^[0-9a-fA-F]{8}$/.test(h) || parseInt(h, 16) > 0x10ffff) this.err('invalid \\U escape sequence', p);
        return [String.fromCodePoint(parseInt(h, 16)), p + 10];
      }
      case 'x': {
        let q = p + 2;
        while (q < p + 6 && isHex(s.charCodeAt(q))) q++;
        if (q === p + 2) this.err('invalid \\x escape sequence', p);
        return [String.fromCharCode(parseInt(s.slice(p + 2, q), 16)), q];
      }
      default:
        this.err('unrecognized escape sequence', p);
    }
  }

  private lexChar(start: number, spaceBefore: boolean): Token {
    const s = this.src;
    let p = start + 1;
    let v: string;
    if (s[p] === '\\') [v, p] = this.escape(p);
    else if (s[p] === "'" || s[p] === '\n' || p >= this.limit) this.err('empty or invalid character literal', start);
    else v = s[p++] as string;
    if (s[p] !== "'") this.err('too many characters in character literal', start);
    this.pos = p + 1;
    return { kind: 'char', value: v, start, end: this.pos, spaceBefore };
  }

  private lexString(start: number, verbatim: boolean, interp: boolean, p: number, spaceBefore: boolean): Token {
    const s = this.src;
    const parts: InterpPart[] = [];
    let buf = '';
    for (;;) {
      if (p >= this.limit) this.err('unterminated string literal', start);
      const ch = s[p] as string;
      if (ch === '"') {
        if (verbatim && s[p + 1] === '"') {
          buf += '"';
          p += 2;
          continue;
        }
        p++;
        break;
      }
      if (!verbatim && (ch === '\n' || ch === '\r')) this.err('newline in string literal', p);
      if (!verbatim && ch === '\\') {
        const [t, q] = this.escape(p);
        buf += t;
        p = q;
        continue;
      }
      if (interp && ch === '{') {
        if (s[p + 1] === '{') {
          buf += '{';
          p += 2;
          continue;
        }
        if (buf) parts.push(buf);
        buf = '';
        const hole = this.lexHole(p + 1, verbatim);
        parts.push(hole.hole);
        p = hole.next;
        continue;
      }
      if (interp && ch === '}') {
        if (s[p + 1] === '}') {
          buf += '}';
          p += 2;
          continue;
        }
        this.err("unescaped '}' in interpolated string (use '}}')", p);
      }
      buf += ch;
      p++;
    }
    this.pos = p;
    if (!interp) return { kind: 'string', value: buf, start, end: p, spaceBefore };
    if (buf) parts.push(buf);
    return { kind: 'interp', value: '', start, end: p, parts, spaceBefore };
  }

  /** scans an interpolation hole starting at p (just after '{'); returns the hole and the position after '}' */
  private lexHole(p: number, verbatim: boolean): { hole: InterpHole; next: number } {
    const sub = new Lexer(this.src, p, this.limit);
    let depth = 0;
    const exprStart = p;
    let exprEnd = -1;
    let alignStart = -1;
    let alignEnd = -1;
    for (;;) {
      const t = sub.next();
      if (t.kind === 'eof') this.err('unterminated interpolation hole', p - 1);
      if (t.kind === 'punct') {
        if (t.value === '(' || t.value === '[' || t.value === '{') depth++;
        else if (t.value === ')' || t.value === ']') depth--;
        else if (t.value === '}') {
          if (depth === 0) {
            if (alignStart >= 0) alignEnd = t.start;
            else exprEnd = t.start;
            return { hole: this.mkHole(exprStart, exprEnd, alignStart, alignEnd), next: t.end };
          }
          depth--;
        } else if (depth === 0 && t.value === ',' && alignStart < 0) {
          exprEnd = t.start;
          alignStart = t.end;
        } else if (depth === 0 && (t.value === ':' || t.value === '::')) {
          if (alignStart >= 0) alignEnd = t.start;
          else exprEnd = t.start;
          // format clause: raw text up to the closing brace
          let q = t.start + 1;
          let fmt = '';
          while (q < this.limit && this.src[q] !== '}') {
            if (this.src[q] === '"' && !verbatim) this.err('unexpected quote in format clause', q);
            if (!verbatim && this.src[q] === '\\') {
              const [e, nq] = this.escape(q);
              fmt += e;
              q = nq;
              continue;
            }
            fmt += this.src[q];
            q++;
          }
          if (q >= this.limit) this.err('unterminated interpolation hole', p - 1);
          const hole = this.mkHole(exprStart, exprEnd, alignStart, alignEnd);
          hole.format = fmt;
          hole.formatStart = t.start + 1;
          return { hole, next: q + 1 };
        }
      }
    }
  }

  private mkHole(start: number, end: number, alignStart: number, alignEnd: number): InterpHole {
    if (this.src.slice(start, end).trim() === '') this.err('empty interpolation hole', start);
    const h: InterpHole = { start, end };
    if (alignStart >= 0) h.align = { start: alignStart, end: alignEnd };
    return h;
  }
}
