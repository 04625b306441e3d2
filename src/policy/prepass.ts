/**
 * The lenient-XML pre-pass (PRODUCT.md §5).
 *
 * APIM accepts policy documents that are not well-formed XML: the body of a `@(...)` / `@{...}`
 * expression in an attribute value or in element text may hold raw `"`, `<`, `>` and `&&`. This
 * module finds those expressions with a small C# lexer (string, verbatim, interpolated and char
 * literals, comments) and rewrites only their XML-special characters into entity references, so a
 * strict XML parser accepts the result. Every rewrite is recorded in an offset map, so a (line, col)
 * the XML parser reports in the rewritten text maps back to the author's original (line, col).
 *
 * Rules (APIM's): an attribute value or a run of element text is an expression when, after optional
 * whitespace, it starts with `@(` or `@{`; the expression ends at the matching `)` / `}` (nesting is
 * counted outside string/char literals and comments). Expressions are not searched inside XML comments,
 * CDATA sections or processing instructions, nor outside the root element. An `@` anywhere else
 * (`a@b.c`, `Hello @(x)`) is plain text: APIM does not evaluate an expression mixed with text.
 */

// ------------------------------------------------------------------------------------------------
// positions
// ------------------------------------------------------------------------------------------------

export interface SourcePosition {
  /** 0-based offset into the original text (UTF-16 code units) */
  offset: number;
  /** 1-based line */
  line: number;
  /** 1-based column: UTF-16 code units from the start of the line, a tab counts 1, a BOM counts 0 */
  col: number;
}

/**
 * Line/column lookup for one text. Line breaks are LF, CRLF and a lone CR (as editors count them); the
 * UTF-8 BOM (U+FEFF at offset 0) is invisible.
 */
export class LineTable {
  readonly lineStarts: number[];
  readonly bom: boolean;
  readonly length: number;

  constructor(text: string) {
    this.length = text.length;
    this.bom = text.charCodeAt(0) === 0xfeff;
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) starts.push(i + 1);
      else if (c === 13 && text.charCodeAt(i + 1) !== 10) starts.push(i + 1);
    }
    this.lineStarts = starts;
  }

  position(offset: number): SourcePosition {
    const o = Math.max(0, Math.min(offset, this.length));
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    let col = o - starts[lo]! + 1;
    if (lo === 0 && this.bom && o > 0) col -= 1;
    return { offset: o, line: lo + 1, col };
  }
}

/**
 * Maps offsets of a rewritten text back to the text it was produced from. Built from segments: a copy
 * (same length on both sides, mapped 1:1) or a replacement (e.g. `<` → `&lt;`, `{{name}}` → value,
 * BOM → nothing); every offset inside a replacement maps to the start of what it replaced.
 */
export class OffsetMap {
  private readonly outStart: number[];
  private readonly inStart: number[];
  private readonly outLen: number[];
  private readonly inLen: number[];

  constructor(outStart: number[], inStart: number[], outLen: number[], inLen: number[]) {
    this.outStart = outStart;
    this.inStart = inStart;
    this.outLen = outLen;
    this.inLen = inLen;
  }

  static identity(): OffsetMap {
    return new OffsetMap([], [], [], []);
  }

  /** offset in the rewritten text → offset in the source text */
  toSource(out: number): number {
    const n = this.outStart.length;
    if (n === 0) return out;
    let lo = 0;
    let hi = n - 1;
    if (out < this.outStart[0]!) return out;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.outStart[mid]! <= out) lo = mid;
      else hi = mid - 1;
    }
    const delta = out - this.outStart[lo]!;
    const ol = this.outLen[lo]!;
    const il = this.inLen[lo]!;
    if (ol === il) return this.inStart[lo]! + delta;
    if (delta < ol) return this.inStart[lo]!;
    return this.inStart[lo]! + il + (delta - ol);
  }
}

export class OffsetMapBuilder {
  private readonly outStart: number[] = [];
  private readonly inStart: number[] = [];
  private readonly outLen: number[] = [];
  private readonly inLen: number[] = [];
  private outPos = 0;
  private inPos = 0;

  copy(n: number): void {
    if (n <= 0) return;
    const last = this.outStart.length - 1;
    if (last >= 0 && this.outLen[last] === this.inLen[last] && this.outStart[last]! + this.outLen[last]! === this.outPos) {
      this.outLen[last]! += n;
      this.inLen[last]! += n;
    } else {
      this.push(n, n);
    }
    this.outPos += n;
    this.inPos += n;
  }

  replace(inLen: number, outLen: number): void {
    this.push(outLen, inLen);
    this.outPos += outLen;
    this.inPos += inLen;
  }

  private push(outLen: number, inLen: number): void {
    this.outStart.push(this.outPos);
    this.inStart.push(this.inPos);
    this.outLen.push(outLen);
    this.inLen.push(inLen);
  }

  build(): OffsetMap {
    return new OffsetMap(this.outStart.slice(), this.inStart.slice(), this.outLen.slice(), this.inLen.slice());
  }
}

/**
 * Where a text came from: offsets in the text → offsets in the original, plus the original's line
 * table. The identity origin is the text itself.
 */
export interface TextOrigin {
  /** offset in the text given to the pre-pass → offset in the original text */
  toOriginal(offset: number): number;
  lines: LineTable;
}

export function identityOrigin(text: string): TextOrigin {
  return { toOriginal: (o) => o, lines: new LineTable(text) };
}

// ------------------------------------------------------------------------------------------------
// expressions
// ------------------------------------------------------------------------------------------------

export type ExpressionKind = 'expression' | 'block';

export interface FoundExpression {
  /** `@(...)` → 'expression', `@{...}` → 'block' */
  kind: ExpressionKind;
  /**
   * The C# text between the delimiters exactly as the expression engine must see it: XML entities
   * decoded (`&quot;` → `"`, `&lt;` → `<`), CRLF / CR → LF, everything else untouched.
   */
  code: string;
  /** offset of the `@` in the original text */
  start: number;
  /** offset just after the closing `)` / `}` in the original text */
  end: number;
  /** position of the first character of `code` in the original text (1-based) */
  line: number;
  col: number;
  /** set by the document layer */
  file?: string;
  /**
   * Original position of `code[index]` (index === code.length → the closing delimiter). Accounts for
   * decoded entities, CRLF and named-value substitutions, which the simple "count from (line, col)"
   * rule does not. Not enumerable (absent from JSON and deep-equality checks).
   */
  locate(index: number): SourcePosition;
}

export interface PrepassProblem {
  offset: number;
  line: number;
  col: number;
  message: string;
}

const ENTITY_RE = /&(?:(lt|gt|amp|quot|apos)|#([0-9]{1,7})|#x([0-9a-fA-F]{1,6}));/y;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** The XML entity reference at `i` (one of the five predefined or a valid character reference). */
export function entityAt(src: string, i: number): { value: string; length: number } | undefined {
  if (src.charCodeAt(i) !== 38 /* & */) return undefined;
  ENTITY_RE.lastIndex = i;
  const m = ENTITY_RE.exec(src);
  if (!m) return undefined;
  let value: string;
  if (m[1] !== undefined) value = NAMED[m[1]]!;
  else {
    const cp = m[2] !== undefined ? parseInt(m[2], 10) : parseInt(m[3]!, 16);
    if (!isXmlChar(cp)) return undefined;
    value = String.fromCodePoint(cp);
  }
  return { value, length: m[0].length };
}

function isXmlChar(cp: number): boolean {
  return cp === 9 || cp === 10 || cp === 13 || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/** Decodes entity references and normalizes line ends (no attribute whitespace normalization). */
export function decodeXmlText(src: string, from: number, to: number): string {
  let out = '';
  let i = from;
  while (i < to) {
    const c = src.charCodeAt(i);
    if (c === 38) {
      const e = entityAt(src, i);
      if (e) {
        out += e.value;
        i += e.length;
        continue;
      }
    } else if (c === 13) {
      out += '\n';
      i += src.charCodeAt(i + 1) === 10 ? 2 : 1;
      continue;
    }
    out += src[i];
    i++;
  }
  return out;
}

export interface ScanOptions {
  /** decode XML entity references while lexing (false inside CDATA) */
  entities: boolean;
  /** the quote character of the enclosing attribute value, escaped too; null in element text */
  quote: '"' | "'" | null;
}

export interface ScanSuccess {
  ok: true;
  kind: ExpressionKind;
  /** offset of the `@` */
  start: number;
  /** offset just after the closing delimiter */
  end: number;
  /** offset of the first code character */
  codeStart: number;
  code: string;
  /** flat pairs (code index, source offset) where the linear code→source relation restarts */
  anchors: number[];
  /** raw characters of the body that must become entity references, in order */
  escapes: Array<[offset: number, replacement: string]>;
}

export interface ScanFailure {
  ok: false;
  offset: number;
  message: string;
}

type Mode =
  | { t: 'top'; open: string; close: string; depth: number }
  | { t: 'hole'; braces: number; parens: number; brackets: number }
  | { t: 'format' }
  | { t: 'str'; verbatim: boolean; interp: boolean; start: number };

/**
 * Lexes the expression whose `@` is at `at` (followed by `(` or `{`) up to its matching delimiter,
 * never past `limit`. Pure: reports what to escape, does not rewrite.
 */
export function scanExpression(src: string, at: number, limit: number, opts: ScanOptions): ScanSuccess | ScanFailure {
  const opener = src[at + 1];
  if (src[at] !== '@' || (opener !== '(' && opener !== '{')) return { ok: false, offset: at, message: 'not an expression' };
  const kind: ExpressionKind = opener === '(' ? 'expression' : 'block';
  const stack: Mode[] = [{ t: 'top', open: opener, close: opener === '(' ? ')' : '}', depth: 1 }];
  let code = '';
  const anchors: number[] = [];
  const escapes: Array<[number, string]> = [];
  let anchorCode = 0;
  let anchorSrc = at + 2;
  anchors.push(0, at + 2);

  // one logical character at i: [char, width, fromEntity]
  const read = (i: number): [string, number, boolean] => {
    if (i >= limit) return ['', 0, false];
    const c = src.charCodeAt(i);
    if (c === 13) return ['\n', i + 1 < limit && src.charCodeAt(i + 1) === 10 ? 2 : 1, false];
    if (c === 38 && opts.entities) {
      const e = entityAt(src, i);
      if (e && i + e.length <= limit) return [e.value, e.length, true];
    }
    return [src[i]!, 1, false];
  };
  const take = (i: number, ch: string, w: number, ent: boolean): void => {
    if (i !== anchorSrc + (code.length - anchorCode)) {
      anchorCode = code.length;
      anchorSrc = i;
      anchors.push(anchorCode, anchorSrc);
    }
    code += ch;
    if (w !== 1 || ent) {
      // the next character does not follow linearly
      anchorCode = code.length;
      anchorSrc = i + w;
      anchors.push(anchorCode, anchorSrc);
    }
    if (!ent && opts.entities) {
      const r = escapeFor(src[i]!, opts.quote);
      if (r !== undefined) escapes.push([i, r]);
    }
  };
  const fail = (offset: number, message: string): ScanFailure => ({ ok: false, offset, message });

  let i = at + 2;
  for (;;) {
    const [ch, w, ent] = read(i);
    if (w === 0) {
      const top = stack[stack.length - 1]!;
      if (top.t === 'str') return fail(top.start, 'unterminated C# string literal');
      return fail(at, `unterminated expression: no matching '${kind === 'expression' ? ')' : '}'}' for '@${opener}'`);
    }
    const top = stack[stack.length - 1]!;

    if (top.t === 'str') {
      if (ch === '\n' && !top.verbatim) return fail(top.start, 'newline in C# string literal (a regular string cannot span lines; use @"..." for that)');
      if (ch === '\\' && !top.verbatim) {
        take(i, ch, w, ent);
        i += w;
        const [c2, w2, e2] = read(i);
        if (w2 === 0) continue;
        if (c2 === '\n') return fail(top.start, 'newline in C# string literal (a regular string cannot span lines; use @"..." for that)');
        take(i, c2, w2, e2);
        i += w2;
        continue;
      }
      if (ch === '"') {
        const [c2, w2, e2] = read(i + w);
        if (top.verbatim && c2 === '"') {
          take(i, ch, w, ent);
          take(i + w, c2, w2, e2);
          i += w + w2;
          continue;
        }
        take(i, ch, w, ent);
        i += w;
        stack.pop();
        continue;
      }
      if (top.interp && (ch === '{' || ch === '}')) {
        const [c2, w2, e2] = read(i + w);
        if (c2 === ch) {
          take(i, ch, w, ent);
          take(i + w, c2, w2, e2);
          i += w + w2;
          continue;
        }
        take(i, ch, w, ent);
        i += w;
        if (ch === '{') stack.push({ t: 'hole', braces: 0, parens: 0, brackets: 0 });
        continue;
      }
      take(i, ch, w, ent);
      i += w;
      continue;
    }

    if (top.t === 'format') {
      take(i, ch, w, ent);
      i += w;
      if (ch === '}') {
        stack.pop(); // format
        stack.pop(); // hole
      }
      continue;
    }

    // code (top level or an interpolation hole)
    const [n1, nw1, ne1] = read(i + w);
    if (ch === '/' && n1 === '/') {
      // line comment: up to (not including) the line end
      while (true) {
        const [c, cw, ce] = read(i);
        if (cw === 0 || c === '\n') break;
        take(i, c, cw, ce);
        i += cw;
      }
      continue;
    }
    if (ch === '/' && n1 === '*') {
      const startComment = i;
      take(i, ch, w, ent);
      take(i + w, n1, nw1, ne1);
      i += w + nw1;
      for (;;) {
        const [c, cw, ce] = read(i);
        if (cw === 0) return fail(startComment, 'unterminated C# comment');
        const [c2, cw2, ce2] = read(i + cw);
        if (c === '*' && c2 === '/') {
          take(i, c, cw, ce);
          take(i + cw, c2, cw2, ce2);
          i += cw + cw2;
          break;
        }
        take(i, c, cw, ce);
        i += cw;
      }
      continue;
    }
    if (ch === '"') {
      stack.push({ t: 'str', verbatim: false, interp: false, start: i });
      take(i, ch, w, ent);
      i += w;
      continue;
    }
    if (ch === '@' && n1 === '"') {
      stack.push({ t: 'str', verbatim: true, interp: false, start: i });
      take(i, ch, w, ent);
      take(i + w, n1, nw1, ne1);
      i += w + nw1;
      continue;
    }
    if ((ch === '@' && n1 === '$') || (ch === '$' && n1 === '@')) {
      const [n2, nw2, ne2] = read(i + w + nw1);
      if (n2 === '"') {
        stack.push({ t: 'str', verbatim: true, interp: true, start: i });
        take(i, ch, w, ent);
        take(i + w, n1, nw1, ne1);
        take(i + w + nw1, n2, nw2, ne2);
        i += w + nw1 + nw2;
        continue;
      }
    }
    if (ch === '$' && n1 === '"') {
      stack.push({ t: 'str', verbatim: false, interp: true, start: i });
      take(i, ch, w, ent);
      take(i + w, n1, nw1, ne1);
      i += w + nw1;
      continue;
    }
    if (ch === "'") {
      // char literal: 'x', '\'', '\\', '\u0041', '\x41'
      const startChar = i;
      take(i, ch, w, ent);
      i += w;
      const [c1, cw1, ce1] = read(i);
      if (cw1 === 0 || c1 === '\n') return fail(startChar, 'unterminated C# character literal');
      take(i, c1, cw1, ce1);
      i += cw1;
      if (c1 === '\\') {
        const [c2, cw2, ce2] = read(i);
        if (cw2 === 0 || c2 === '\n') return fail(startChar, 'unterminated C# character literal');
        take(i, c2, cw2, ce2);
        i += cw2;
      }
      let closed = false;
      for (let k = 0; k < 10; k++) {
        const [c, cw, ce] = read(i);
        if (cw === 0 || c === '\n') break;
        take(i, c, cw, ce);
        i += cw;
        if (c === "'") {
          closed = true;
          break;
        }
      }
      if (!closed) return fail(startChar, 'unterminated C# character literal');
      continue;
    }

    if (top.t === 'top') {
      if (ch === top.open) top.depth++;
      else if (ch === top.close) {
        top.depth--;
        if (top.depth === 0) {
          if (i !== anchorSrc + (code.length - anchorCode)) anchors.push(code.length, i);
          return { ok: true, kind, start: at, end: i + w, codeStart: at + 2, code, anchors, escapes };
        }
      }
      take(i, ch, w, ent);
      i += w;
      continue;
    }

    // interpolation hole
    if (top.t === 'hole') {
      if (ch === '}' && top.braces === 0 && top.parens === 0 && top.brackets === 0) {
        take(i, ch, w, ent);
        i += w;
        stack.pop();
        continue;
      }
      if (ch === ':' && top.braces === 0 && top.parens === 0 && top.brackets === 0 && n1 !== ':') {
        take(i, ch, w, ent);
        i += w;
        stack.push({ t: 'format' });
        continue;
      }
      if (ch === '{') top.braces++;
      else if (ch === '}') top.braces--;
      else if (ch === '(') top.parens++;
      else if (ch === ')') top.parens = Math.max(0, top.parens - 1);
      else if (ch === '[') top.brackets++;
      else if (ch === ']') top.brackets = Math.max(0, top.brackets - 1);
      take(i, ch, w, ent);
      i += w;
      continue;
    }
  }
}

function escapeFor(c: string, quote: '"' | "'" | null): string | undefined {
  switch (c) {
    case '<':
      return '&lt;';
    case '>':
      return '&gt;';
    case '&':
      return '&amp;';
    case '"':
      return quote === '"' ? '&quot;' : undefined;
    case "'":
      return quote === "'" ? '&apos;' : undefined;
    default:
      return undefined;
  }
}

/** Builds the public FoundExpression (original positions) from a scan of a text with a known origin. */
export function toFoundExpression(scan: ScanSuccess, origin: TextOrigin): FoundExpression {
  const { anchors } = scan;
  const locate = (index: number): SourcePosition => {
    const k = Math.max(0, Math.min(index, scan.code.length));
    // last anchor with code index <= k
    let lo = 0;
    let hi = anchors.length / 2 - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (anchors[mid * 2]! <= k) lo = mid;
      else hi = mid - 1;
    }
    const src = anchors[lo * 2 + 1]! + (k - anchors[lo * 2]!);
    return origin.lines.position(origin.toOriginal(src));
  };
  const first = locate(0);
  const expr: FoundExpression = {
    kind: scan.kind,
    code: scan.code,
    start: origin.toOriginal(scan.start),
    end: origin.toOriginal(scan.end - 1) + 1,
    line: first.line,
    col: first.col,
  } as FoundExpression;
  Object.defineProperty(expr, 'locate', { value: locate, enumerable: false });
  return expr;
}

// ------------------------------------------------------------------------------------------------
// the pre-pass
// ------------------------------------------------------------------------------------------------

export interface PrepassAttr {
  name: string;
  /** offsets in the pre-pass input */
  nameOffset: number;
  /** first character of the value (after the quote); -1 when the attribute has no quoted value */
  valueStart: number;
  /** the closing quote */
  valueEnd: number;
  quote: '"' | "'" | null;
  expression?: FoundExpression;
  /** the value is exactly one expression (surrounded by whitespace at most) */
  pure: boolean;
}

export interface PrepassTag {
  name: string;
  /** offset of `<` in the pre-pass input */
  offset: number;
  attrs: PrepassAttr[];
}

export interface PrepassText {
  /** offset of the first character of the text run in the pre-pass input */
  offset: number;
  expression: FoundExpression;
  /** nothing but whitespace follows the expression in this run */
  pure: boolean;
}

export interface PrepassResult {
  /** the rewritten, well-formed-where-APIM-accepts-it XML */
  xml: string;
  /** every expression found, in document order, with ORIGINAL positions */
  expressions: FoundExpression[];
  /** lexical problems inside expressions (e.g. unterminated expression), ORIGINAL positions */
  problems: PrepassProblem[];
  /** xml offset → pre-pass input offset */
  map: OffsetMap;
  /** the input's origin (identity unless a named-value substitution came first) */
  origin: TextOrigin;
  /** start tags by the xml offset of their `<` */
  tags: Map<number, PrepassTag>;
  /** text runs that start with an expression, by the xml offset of the run start */
  texts: Map<number, PrepassText>;
  /** xml offset → original position */
  toOriginal(xmlOffset: number): SourcePosition;
  /** pre-pass input offset → original position */
  inputPosition(offset: number): SourcePosition;
}

const WS = new Set([' ', '\t', '\n', '\r']);

function isNameStartChar(c: string | undefined): boolean {
  if (c === undefined) return false;
  return /[A-Za-z_:\u00C0-\uFFFF]/.test(c);
}

function isNameChar(c: string | undefined): boolean {
  if (c === undefined) return false;
  return /[A-Za-z0-9_:.\-\u00B7\u00C0-\uFFFF]/.test(c);
}

/** Finds every expression (original positions). */
export function findExpressions(text: string): FoundExpression[] {
  return prepass(text).expressions;
}

/**
 * Rewrites `text` so a strict XML parser accepts what APIM accepts. `origin` describes where `text`
 * came from when it is itself derived (named-value substitution); positions are reported in that
 * original.
 */
export function prepass(text: string, origin: TextOrigin = identityOrigin(text)): PrepassResult {
  const src = text;
  const n = src.length;
  const map = new OffsetMapBuilder();
  const parts: string[] = [];
  let outLen = 0;
  let emitted = 0;
  const expressions: FoundExpression[] = [];
  const problems: PrepassProblem[] = [];
  const tags = new Map<number, PrepassTag>();
  const texts = new Map<number, PrepassText>();

  const flushTo = (j: number): void => {
    if (j > emitted) {
      parts.push(src.slice(emitted, j));
      map.copy(j - emitted);
      outLen += j - emitted;
      emitted = j;
    }
  };
  const replaceAt = (j: number, width: number, s: string): void => {
    flushTo(j);
    parts.push(s);
    map.replace(width, s.length);
    outLen += s.length;
    emitted = j + width;
  };
  const inputPosition = (o: number): SourcePosition => origin.lines.position(origin.toOriginal(o));
  const problem = (offset: number, message: string): void => {
    const p = inputPosition(offset);
    problems.push({ offset: p.offset, line: p.line, col: p.col, message });
  };
  const applyEscapes = (escapes: Array<[number, string]>): void => {
    for (const [o, r] of escapes) replaceAt(o, 1, r);
  };
  /** escape every XML-special raw character in [from, to) (recovery after a failed expression) */
  const escapeRange = (from: number, to: number, quote: '"' | "'" | null): void => {
    for (let k = from; k < to; k++) {
      const c = src[k]!;
      if (c === '&') {
        const e = entityAt(src, k);
        if (e) {
          k += e.length - 1;
          continue;
        }
      }
      const r = escapeFor(c, quote);
      if (r !== undefined) replaceAt(k, 1, r);
    }
  };
  const startsExpr = (k: number): boolean => src[k] === '@' && (src[k + 1] === '(' || src[k + 1] === '{');
  const skipWs = (k: number, limit = n): number => {
    while (k < limit && WS.has(src[k]!)) k++;
    return k;
  };

  // BOM: dropped from the XML (the parser does not need it), kept in the position tables
  let i = 0;
  if (src.charCodeAt(0) === 0xfeff) {
    map.replace(1, 0);
    emitted = 1;
    i = 1;
  }

  let depth = 0;
  while (i < n) {
    const c = src[i]!;
    if (c === '<') {
      if (src.startsWith('<!--', i)) {
        const j = src.indexOf('-->', i + 4);
        i = j < 0 ? n : j + 3;
        continue;
      }
      if (src.startsWith('<![CDATA[', i)) {
        const j = src.indexOf(']]>', i + 9);
        i = j < 0 ? n : j + 3;
        continue;
      }
      if (src.startsWith('<?', i)) {
        const j = src.indexOf('?>', i + 2);
        i = j < 0 ? n : j + 2;
        continue;
      }
      if (src.startsWith('<!', i)) {
        // DOCTYPE or similar: to the matching '>' (an internal subset is bracketed)
        let k = i + 2;
        let brackets = 0;
        let q: string | null = null;
        for (; k < n; k++) {
          const d = src[k];
          if (q !== null) {
            if (d === q) q = null;
          } else if (d === '"' || d === "'") q = d;
          else if (d === '[') brackets++;
          else if (d === ']') brackets--;
          else if (d === '>' && brackets <= 0) break;
        }
        i = k + 1;
        continue;
      }
      if (src[i + 1] === '/') {
        const j = src.indexOf('>', i);
        i = j < 0 ? n : j + 1;
        depth = Math.max(0, depth - 1);
        continue;
      }
      if (isNameStartChar(src[i + 1])) {
        const r = startTag(i);
        i = r.end;
        if (!r.selfClosing) depth++;
        continue;
      }
      i++; // a stray '<': the XML parser reports it
      continue;
    }

    // a run of element text, up to the next '<'
    const runStart = i;
    const k = skipWs(i);
    if (depth > 0 && startsExpr(k)) {
      const scan = scanExpression(src, k, n, { entities: true, quote: null });
      if (scan.ok) {
        const expr = toFoundExpression(scan, origin);
        expressions.push(expr);
        flushTo(runStart);
        const xmlRunStart = outLen;
        applyEscapes(scan.escapes);
        const next = src.indexOf('<', scan.end);
        const runEnd = next < 0 ? n : next;
        checkAmpersands(scan.end, runEnd);
        let pure = true;
        for (let m = scan.end; m < runEnd; m++) {
          if (!WS.has(src[m]!)) {
            pure = false;
            break;
          }
        }
        texts.set(xmlRunStart, { offset: runStart, expression: expr, pure });
        i = runEnd;
        continue;
      }
      problem(scan.offset, scan.message);
      // recovery: the text ends at the next closing tag
      const close = src.indexOf('</', k);
      const end = close < 0 ? n : close;
      escapeRange(k, end, null);
      i = end;
      continue;
    }
    const next = src.indexOf('<', i);
    i = next < 0 ? n : next;
    if (depth > 0) checkAmpersands(runStart, i);
  }
  flushTo(n);

  const offsetMap = map.build();
  const xml = parts.join('');
  return {
    xml,
    expressions,
    problems,
    map: offsetMap,
    origin,
    tags,
    texts,
    toOriginal: (x: number) => inputPosition(offsetMap.toSource(x)),
    inputPosition,
  };

  function startTag(at: number): { end: number; selfClosing: boolean } {
    let j = at + 1;
    while (j < n && isNameChar(src[j])) j++;
    const tag: PrepassTag = { name: src.slice(at + 1, j), offset: at, attrs: [] };
    flushTo(at);
    tags.set(outLen, tag);
    for (;;) {
      j = skipWs(j);
      if (j >= n) return { end: n, selfClosing: false };
      const d = src[j]!;
      if (d === '>') return { end: j + 1, selfClosing: false };
      if (d === '/' && src[j + 1] === '>') return { end: j + 2, selfClosing: true };
      if (d === '<') return { end: j, selfClosing: false }; // malformed: the parser reports it
      if (d === '"' || d === "'" || d === '=' || d === '/') {
        j++;
        continue;
      }
      // attribute name
      const nameOffset = j;
      while (j < n && !WS.has(src[j]!) && src[j] !== '=' && src[j] !== '>' && src[j] !== '/' && src[j] !== '<' && src[j] !== '"' && src[j] !== "'") j++;
      const name = src.slice(nameOffset, j);
      const attr: PrepassAttr = { name, nameOffset, valueStart: -1, valueEnd: -1, quote: null, pure: false };
      tag.attrs.push(attr);
      j = skipWs(j);
      if (src[j] !== '=') continue;
      j = skipWs(j + 1);
      const q = src[j];
      if (q !== '"' && q !== "'") {
        // unquoted value: the parser reports it
        while (j < n && !WS.has(src[j]!) && src[j] !== '>' && src[j] !== '<') j++;
        continue;
      }
      attr.quote = q;
      attr.valueStart = j + 1;
      const e = skipWs(j + 1);
      if (startsExpr(e)) {
        const scan = scanExpression(src, e, n, { entities: true, quote: q });
        if (scan.ok) {
          const expr = toFoundExpression(scan, origin);
          expressions.push(expr);
          attr.expression = expr;
          applyEscapes(scan.escapes);
          const close = src.indexOf(q, scan.end);
          attr.valueEnd = close < 0 ? n : close;
          attr.pure = true;
          for (let m = scan.end; m < attr.valueEnd; m++) {
            if (!WS.has(src[m]!)) {
              attr.pure = false;
              break;
            }
          }
          j = close < 0 ? n : close + 1;
          continue;
        }
        const naiveEnd = src.indexOf(q, e);
        if (naiveEnd >= 0 && scan.offset === naiveEnd && endsAttribute(src, naiveEnd)) {
          // the string the lexer could not finish is the attribute's closing quote: a delimiter is missing
          const closer = src[e + 1] === '(' ? ')' : '}';
          problem(e, `unterminated expression: no matching '${closer}' for '@${src[e + 1]}' before the end of the attribute value`);
        } else problem(scan.offset, scan.message);
        // recovery: the value ends at the first quote that looks like the end of the attribute
        const close = plausibleValueEnd(src, e, q);
        escapeRange(e, close, q);
        attr.valueEnd = close;
        j = close < n ? close + 1 : n;
        continue;
      }
      const close = src.indexOf(q, j + 1);
      attr.valueEnd = close < 0 ? n : close;
      checkAmpersands(j + 1, attr.valueEnd);
      j = close < 0 ? n : close + 1;
    }
  }

  /**
   * A `&` that starts no entity reference is not XML (APIM rejects it too outside expressions): report
   * it here, where the message can be precise, and escape it so the XML parser does not lose its way.
   */
  function checkAmpersands(from: number, to: number): void {
    for (let k = src.indexOf('&', from); k >= 0 && k < to; k = src.indexOf('&', k + 1)) {
      LOOKS_LIKE_REF.lastIndex = k;
      if (LOOKS_LIKE_REF.test(src)) continue; // a reference: valid, or the parser names the problem
      problem(k, 'unescaped "&" (write &amp;)');
      replaceAt(k, 1, '&amp;');
    }
  }
}

const LOOKS_LIKE_REF = /&(?:[A-Za-z_:][-\w.:]*;|#)/y;

const TAG_END_AFTER = /[ \t\r\n]*\/?>/y;
const ATTR_AFTER = /[ \t\r\n]+[^\s=<>"'/]+[ \t\r\n]*=/y;

/** what follows the quote at `k` looks like the end of an attribute value */
function endsAttribute(src: string, k: number): boolean {
  TAG_END_AFTER.lastIndex = k + 1;
  if (TAG_END_AFTER.test(src)) return true;
  ATTR_AFTER.lastIndex = k + 1;
  return ATTR_AFTER.test(src);
}

/**
 * Recovery after an expression that does not lex: where does its attribute value end? Prefer a quote
 * that ends the tag, then one followed by another attribute, then the first quote.
 */
function plausibleValueEnd(src: string, from: number, q: string): number {
  const quotes: number[] = [];
  const closing = src.indexOf('</', from);
  for (let k = src.indexOf(q, from); k >= 0; k = src.indexOf(q, k + 1)) {
    if (closing >= 0 && k > closing) break; // never past a closing tag
    quotes.push(k);
  }
  for (const re of [TAG_END_AFTER, ATTR_AFTER]) {
    for (const k of quotes) {
      re.lastIndex = k + 1;
      if (re.test(src)) return k;
    }
  }
  return quotes[0] ?? src.length;
}
