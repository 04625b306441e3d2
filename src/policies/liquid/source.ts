/**
 * The Liquid source of a `<set-body template="liquid">` element, and where each of its characters
 * stands in the policy file (so a Liquid syntax error is reported at FILE:LINE:COL).
 *
 * - A body holding XML elements is markup: it is kept verbatim (the template produces XML), except
 *   that XML entities inside `{{ … }}` and `{% … %}` are decoded, so `{% if n &lt; 3 %}` works.
 * - A body of text only is read as XML text: entities decoded, comments dropped, CDATA unwrapped,
 *   line ends normalized — the same text the document model holds (`el.text.raw`).
 */
import type { PolicyElement } from '../../policy/document.js';

export interface LiquidSource {
  /** the template text given to Liquid */
  readonly text: string;
  /** file position of a template offset */
  at(offset: number): { line: number; col: number };
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** decodes the entity reference at `inner[i] === '&'`; undefined if it is not one */
function entityAt(inner: string, i: number): { text: string; len: number } | undefined {
  const semi = inner.indexOf(';', i + 1);
  if (semi < 0 || semi - i > 12) return undefined;
  const name = inner.slice(i + 1, semi);
  const named = Object.prototype.hasOwnProperty.call(ENTITIES, name) ? ENTITIES[name] : undefined;
  if (named !== undefined) return { text: named, len: semi - i + 1 };
  const m = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(name);
  if (!m) return undefined;
  const cp = m[1] !== undefined ? parseInt(m[1], 16) : parseInt(m[2]!, 10);
  if (!(cp >= 0 && cp <= 0x10ffff)) return undefined;
  return { text: String.fromCodePoint(cp), len: semi - i + 1 };
}

class Builder {
  text = '';
  /** map[k] = offset in the inner markup of template character k (one extra entry for the end) */
  readonly map: number[] = [];
  push(s: string, from: number): void {
    for (let k = 0; k < s.length; k++) this.map.push(from);
    this.text += s;
  }
  copy(inner: string, a: number, b: number): void {
    for (let k = a; k < b; k++) this.map.push(k);
    this.text += inner.slice(a, b);
  }
}

/** markup body: verbatim, entities decoded inside Liquid delimiters */
function markupTemplate(inner: string): Builder {
  const out = new Builder();
  const OPEN = /\{[{%]/g;
  let i = 0;
  while (i < inner.length) {
    OPEN.lastIndex = i;
    const m = OPEN.exec(inner);
    if (!m) {
      out.copy(inner, i, inner.length);
      break;
    }
    const start = m.index;
    out.copy(inner, i, start + 2);
    const close = inner.indexOf(inner[start + 1] === '{' ? '}}' : '%}', start + 2);
    const end = close < 0 ? inner.length : close;
    let k = start + 2;
    while (k < end) {
      const e = inner[k] === '&' ? entityAt(inner, k) : undefined;
      if (e) {
        out.push(e.text, k);
        k += e.len;
      } else {
        out.copy(inner, k, k + 1);
        k++;
      }
    }
    i = end;
  }
  return out;
}

/** text body: read as XML text (entities decoded, comments and PIs dropped, CDATA unwrapped, CRLF → LF) */
function textTemplate(inner: string): Builder {
  const out = new Builder();
  let i = 0;
  while (i < inner.length) {
    const c = inner[i]!;
    if (c === '<') {
      if (inner.startsWith('<!--', i)) {
        const e = inner.indexOf('-->', i + 4);
        i = e < 0 ? inner.length : e + 3;
        continue;
      }
      if (inner.startsWith('<?', i)) {
        const e = inner.indexOf('?>', i + 2);
        i = e < 0 ? inner.length : e + 2;
        continue;
      }
      if (inner.startsWith('<![CDATA[', i)) {
        const e = inner.indexOf(']]>', i + 9);
        const stop = e < 0 ? inner.length : e;
        crlf(inner, i + 9, stop, out);
        i = e < 0 ? inner.length : e + 3;
        continue;
      }
    }
    if (c === '&') {
      const e = entityAt(inner, i);
      if (e) {
        out.push(e.text, i);
        i += e.len;
        continue;
      }
    }
    if (c === '\r') {
      out.push('\n', i);
      i += inner[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    out.copy(inner, i, i + 1);
    i++;
  }
  return out;
}

function crlf(inner: string, a: number, b: number, out: Builder): void {
  for (let k = a; k < b; k++) {
    if (inner[k] === '\r') {
      out.push('\n', k);
      if (inner[k + 1] === '\n' && k + 1 < b) k++;
    } else out.copy(inner, k, k + 1);
  }
}

/**
 * Offset in `inner` of the first text the document model saw (its `el.text` position): after leading
 * comments and PIs; a leading CDATA section's text starts after `<![CDATA[`.
 */
function firstTextOffset(inner: string): number {
  let i = 0;
  for (;;) {
    if (inner.startsWith('<![CDATA[', i)) return i + 9;
    if (inner.startsWith('<!--', i)) {
      const e = inner.indexOf('-->', i + 4);
      if (e < 0) return i;
      i = e + 3;
    } else if (inner.startsWith('<?', i)) {
      const e = inner.indexOf('?>', i + 2);
      if (e < 0) return i;
      i = e + 2;
    } else return i;
  }
}

/**
 * Position of offset `i` of `s`, given that offset `anchor` of `s` is at (line, col) in the file.
 * Before the anchor on the anchor's first line the column is unknown; the line is still right.
 */
function positionIn(s: string, i: number, anchor: number, line: number, col: number): { line: number; col: number } {
  if (i >= anchor) {
    let l = line;
    let c = col;
    for (let k = anchor; k < i && k < s.length; k++) {
      if (s[k] === '\n') {
        l++;
        c = 1;
      } else c++;
    }
    return { line: l, col: c };
  }
  let l = line;
  for (let k = i; k < anchor; k++) if (s[k] === '\n') l--;
  const nl = s.lastIndexOf('\n', i - 1);
  if (l === line) return { line, col: Math.max(1, col - (anchor - i)) };
  return { line: l, col: nl >= 0 ? i - nl : 1 };
}

export function liquidSource(el: PolicyElement): LiquidSource {
  const inner = el.innerXml;
  const t = el.text;
  if (inner === undefined) {
    const text = t?.raw ?? '';
    const line = t?.line ?? el.line;
    const col = t?.col ?? el.col;
    return { text, at: (o) => positionIn(text, o, 0, line, col) };
  }
  if (t?.verbatim) {
    const b = markupTemplate(inner);
    b.map.push(inner.length);
    return { text: b.text, at: (o) => positionIn(inner, b.map[Math.min(Math.max(o, 0), b.map.length - 1)]!, 0, t.line, t.col) };
  }
  const b = textTemplate(inner);
  b.map.push(inner.length);
  if (t && b.text !== t.raw) {
    // the document model read the text differently: trust its text, positions from its start
    const text = t.raw;
    return { text, at: (o) => positionIn(text, o, 0, t.line, t.col) };
  }
  const anchor = firstTextOffset(inner);
  const line = t?.line ?? el.line;
  const col = t?.col ?? el.col;
  return { text: b.text, at: (o) => positionIn(inner, b.map[Math.min(Math.max(o, 0), b.map.length - 1)]!, anchor, line, col) };
}
