/**
 * Named values (apim.md §12.3): `{{Name}}` placeholders are replaced in the policy TEXT before it is
 * parsed — in attribute values, element text and inside expression string literals alike. A value may
 * itself hold a policy expression (`@(...)`), which the pre-pass then finds; values are not expanded
 * recursively (a value cannot reference another named value).
 *
 * Values are inserted XML-escaped (see escapeXml). Not substituted: inside XML comments, and unknown names inside a `<set-body template="liquid">`
 * body (Liquid's own `{{ x }}` syntax; a known named value there is still substituted).
 *
 * Positions: the result carries an offset map (substituted text → original text), so every later
 * position (pre-pass, XML parser) maps back to the author's text; everything inside an inserted value
 * maps to the `{{` of its placeholder.
 */
import { LineTable, OffsetMap, OffsetMapBuilder, type TextOrigin } from './prepass.js';

export interface NamedValue {
  value: string;
  secret: boolean;
}

export type NamedValueLookup = (name: string) => NamedValue | undefined;

export interface NamedValueProblem {
  name: string;
  line: number;
  col: number;
}

export interface SubstitutionResult {
  text: string;
  /** unknown names, with the position of their `{{` in the original text */
  problems: NamedValueProblem[];
  /** at least one secret value was inserted (the text must not be logged or echoed) */
  secretsUsed: boolean;
  /** names substituted, in order of first use */
  used: string[];
  /** substituted-text offset → original offset */
  map: OffsetMap;
  /** the origin of the substituted text (for the pre-pass) */
  origin: TextOrigin;
}

/** APIM: a named value's name holds letters, digits, '.', '-' and '_' only. */
const PLACEHOLDER = /\{\{([A-Za-z0-9._-]+)\}\}/g;
const LIQUID_BODY = /<set-body\b[^>]*\btemplate\s*=\s*(["'])liquid\1[^>]*>/g;

export function substituteNamedValues(text: string, lookup: NamedValueLookup): SubstitutionResult {
  const lines = new LineTable(text);
  const comments = regions(text, /<!--/g, '-->');
  const liquid: Array<[number, number]> = [];
  LIQUID_BODY.lastIndex = 0;
  for (let m = LIQUID_BODY.exec(text); m; m = LIQUID_BODY.exec(text)) {
    if (m[0].endsWith('/>')) continue;
    const from = m.index + m[0].length;
    const close = text.indexOf('</set-body', from);
    liquid.push([from, close < 0 ? text.length : close]);
  }
  const inside = (list: Array<[number, number]>, o: number): boolean => list.some(([a, b]) => o >= a && o < b);

  const map = new OffsetMapBuilder();
  const problems: NamedValueProblem[] = [];
  const used: string[] = [];
  let secretsUsed = false;
  let out = '';
  let last = 0;
  PLACEHOLDER.lastIndex = 0;
  for (let m = PLACEHOLDER.exec(text); m; m = PLACEHOLDER.exec(text)) {
    const at = m.index;
    if (inside(comments, at)) continue;
    const name = m[1]!;
    const nv = lookup(name);
    if (nv === undefined) {
      if (!inside(liquid, at)) {
        const p = lines.position(at);
        problems.push({ name, line: p.line, col: p.col });
      }
      continue;
    }
    out += text.slice(last, at);
    map.copy(at - last);
    const inserted = escapeXml(nv.value);
    out += inserted;
    map.replace(m[0].length, inserted.length);
    last = at + m[0].length;
    if (nv.secret) secretsUsed = true;
    if (!used.includes(name)) used.push(name);
  }
  out += text.slice(last);
  map.copy(text.length - last);
  const built = map.build();
  return {
    text: out,
    problems,
    secretsUsed,
    used,
    map: built,
    origin: { toOriginal: (o) => built.toSource(o), lines },
  };
}

/**
 * A value is inserted with `& < > " '` as entity references: the XML parser (and the expression
 * lexer, which decodes entities) then yields exactly the value, whatever it holds — a secret with a
 * `"` or `&` cannot break the document, and a value holding `@(...)` is still found as an expression.
 */
function escapeXml(v: string): string {
  return v.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;'));
}

/** [start, end) of every `open`…`close` region (an unclosed one runs to the end). */
function regions(text: string, open: RegExp, close: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  open.lastIndex = 0;
  for (let m = open.exec(text); m; m = open.exec(text)) {
    const end = text.indexOf(close, m.index + m[0].length);
    const stop = end < 0 ? text.length : end + close.length;
    out.push([m.index, stop]);
    open.lastIndex = stop;
  }
  return out;
}
