/**
 * The policy DOCUMENT: text → (named values) → lenient pre-pass → strict XML parser (saxes) → a tree of
 * policy elements with ORIGINAL positions, plus the document-level structure rules of APIM:
 *
 * - root `<policies>` with the sections `inbound`, `backend`, `outbound`, `on-error` (each at most once,
 *   any order, nothing else), or root `<fragment>` holding a list of policies (no sections, no `<base/>`);
 * - `<base/>` at most once per section and only directly inside a section.
 *
 * Problems are collected (as many as practical) and thrown together as one PolicyError.
 * Expressions are found and kept (exact code + position) but not compiled here.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { PolicyError, sortPolicyProblems, type PolicyProblem } from './errors.js';
import { substituteNamedValues, type NamedValueLookup } from './named-values.js';
import {
  decodeXmlText,
  identityOrigin,
  prepass,
  scanExpression,
  toFoundExpression,
  type FoundExpression,
  type PrepassResult,
  type SourcePosition,
  type TextOrigin,
} from './prepass.js';

export type SectionName = 'inbound' | 'backend' | 'outbound' | 'on-error';
export const SECTION_NAMES: readonly SectionName[] = ['inbound', 'backend', 'outbound', 'on-error'];

export function isSectionName(name: string): name is SectionName {
  return (SECTION_NAMES as readonly string[]).includes(name);
}

export interface AttrValue {
  /** the decoded value (entities decoded; for a value holding an expression, line ends normalized only) */
  raw: string;
  /** position of the first character of the value (after the quote), original text */
  line: number;
  col: number;
  /** position of the attribute name */
  nameLine: number;
  nameCol: number;
  /** the expressions in this value (original positions) */
  expressions: FoundExpression[];
  /** set when the whole value (whitespace aside) is one expression — APIM evaluates only that case */
  expression?: FoundExpression;
}

export interface TextValue {
  /** decoded text; for a verbatim body, the exact original inner markup */
  raw: string;
  line: number;
  col: number;
  expressions: FoundExpression[];
  /** set when the whole text (whitespace aside) is one expression */
  expression?: FoundExpression;
  /** true for a `set-body`/`xsl-transform` body holding markup, kept as the exact original substring */
  verbatim?: boolean;
}

export interface PolicyText extends TextValue {
  type: 'text';
  cdata?: boolean;
}

export interface PolicyElement {
  type: 'element';
  name: string;
  attributes: Map<string, AttrValue>;
  /** element children and (non-whitespace, or any text in body elements) text nodes, in order */
  children: PolicyNode[];
  /** the text content when the element has no element children (or a verbatim body) */
  text?: TextValue;
  /** position of the `<`, original text */
  line: number;
  col: number;
  offset: number;
  file?: string;
  /** `set-body` / `xsl-transform`: the exact inner text between the tags (after named values) */
  innerXml?: string;
}

export type PolicyNode = PolicyElement | PolicyText;

export interface PolicyDocument {
  kind: 'policies' | 'fragment';
  file?: string;
  root: PolicyElement;
  /** `<policies>`: its sections */
  sections: Partial<Record<SectionName, PolicyElement>>;
  /** `<fragment>`: its policies (element children of the root); empty for `<policies>` */
  policies: PolicyElement[];
  /** every expression in the document, in document order (original positions) */
  expressions: FoundExpression[];
  /** named values substituted (when a lookup was given) */
  namedValuesUsed: string[];
  secretsUsed: boolean;
}

export interface ParseOptions {
  /** substitute `{{name}}` before parsing; unknown names are load-time errors */
  namedValues?: NamedValueLookup;
}

/** Element whose content is a body/template: whitespace-only text is kept. */
const KEEP_WHITESPACE = new Set(['set-body', 'message', 'value', 'xsl-transform']);
/** Element whose content with markup is kept verbatim (Liquid templates, XML bodies, XSLT). */
const VERBATIM_BODY = new Set(['set-body', 'xsl-transform']);

export function elementChildren(el: PolicyElement): PolicyElement[] {
  return el.children.filter((c): c is PolicyElement => c.type === 'element');
}

interface OpenState {
  el: PolicyElement;
  /** xml offset just after the start tag's `>` */
  startEnd: number;
  selfClosing: boolean;
  hasElementChildren: boolean;
  runs: Array<{ node: PolicyText; pure: boolean; whitespace: boolean }>;
}

const XML_WS = /^[ \t\r\n]*$/;

export function parsePolicyDocument(text: string, file?: string, options: ParseOptions = {}): PolicyDocument {
  const problems: PolicyProblem[] = [];
  const add = (pos: { line: number; col: number }, message: string): void => {
    // one problem per position: the first is the cause, the rest would be its echoes
    if (problems.some((p) => p.line === pos.line && p.col === pos.col)) return;
    problems.push({ file, line: pos.line, col: pos.col, message });
  };

  let src = text;
  let origin: TextOrigin = identityOrigin(text);
  let namedValuesUsed: string[] = [];
  let secretsUsed = false;
  if (options.namedValues) {
    const sub = substituteNamedValues(text, options.namedValues);
    for (const p of sub.problems) add(p, `unknown named value "{{${p.name}}}"`);
    src = sub.text;
    origin = sub.origin;
    namedValuesUsed = sub.used;
    secretsUsed = sub.secretsUsed;
  }

  const pp = prepass(src, origin);
  for (const p of pp.problems) add(p, p.message);
  for (const e of pp.expressions) e.file = file;
  // APIM evaluates a value only when it is entirely one expression: text after it is a mistake
  const mixed = (e: FoundExpression): void => {
    let k = e.end;
    while (k < text.length && /[ \t\r\n]/.test(text[k]!)) k++;
    const st = origin.lines.position(e.start);
    add(origin.lines.position(k), `text after the expression that starts at ${st.line}:${st.col}: an expression must be the whole value (APIM does not evaluate an expression mixed with text)`);
  };
  for (const tag of pp.tags.values()) for (const a of tag.attrs) if (a.expression && !a.pure) mixed(a.expression);
  for (const t of pp.texts.values()) if (!t.pure) mixed(t.expression);
  const cdataExpressions: FoundExpression[] = [];

  const { xml } = pp;
  const parser = new SaxesParser({ position: true, xmlns: false });
  const stack: OpenState[] = [];
  let root: PolicyElement | undefined;
  let pendingLt = 0;
  let lastMarkupEnd = 0;
  let lastClosed: PolicyElement | undefined;
  let broken = false;
  // errors raised while saxes handles one closing tag are grouped (its recovery pops several elements)
  let group: { at: number; closing: string; popped: PolicyElement[]; unmatched: boolean } | undefined;

  const posOf = (xmlOffset: number): SourcePosition => pp.toOriginal(xmlOffset);
  const at = (el: { line: number; col: number }): string => `${el.line}:${el.col}`;

  const flushGroup = (): void => {
    if (!group) return;
    const g = group;
    group = undefined;
    const pos = posOf(g.at);
    if (g.unmatched) {
      const open = g.popped[0];
      add(pos, `unexpected closing tag </${g.closing}>${open ? ` (the open element is "${open.name}" opened at ${at(open)})` : ''}`);
      broken = true; // saxes has closed every element: what follows would only cascade
    } else if (g.popped.length > 0) {
      add(pos, `${unclosed(g.popped)} (found </${g.closing}>)`);
    }
  };
  /** innermost first */
  const unclosed = (els: PolicyElement[]): string => {
    const [first, ...rest] = els;
    if (!first) return 'unclosed element';
    const also = rest.map((e) => `"${e.name}" opened at ${at(e)}`).join(', ');
    return `unclosed element "${first.name}" opened at ${at(first)}${also ? ` (also unclosed: ${also})` : ''}`;
  };
  const unclosedAtEnd: PolicyElement[] = [];

  const closingTagAt = (end: number): { at: number; name: string } => {
    const lt = xml.lastIndexOf('</', Math.max(0, end - 1));
    const m = /^<\/\s*([^\s>]*)/.exec(xml.slice(lt, lt + 200));
    return { at: lt < 0 ? 0 : lt, name: m?.[1] ?? '' };
  };

  parser.on('error', (err: Error) => {
    const message = err.message.replace(/^\d+:\d+: /, '');
    const position = parser.position;
    if (broken) return;
    if (message === 'unexpected close tag.' || message.startsWith('unmatched closing tag:')) {
      const ct = closingTagAt(position);
      if (!group || group.at !== ct.at) {
        flushGroup();
        if (broken) return;
        group = { at: ct.at, closing: ct.name, popped: [], unmatched: false };
      }
      if (message === 'unexpected close tag.') {
        if (lastClosed) group.popped.push(lastClosed);
      } else {
        // no open element has this name: saxes closed everything it had open
        group.unmatched = true;
      }
      return;
    }
    flushGroup();
    if (broken) return;
    if (message.startsWith('unclosed tag: ')) {
      const st = stack.pop();
      if (st) {
        finish(st, -1);
        unclosedAtEnd.push(st.el);
      } else add(posOf(xml.length), `unclosed element "${message.slice('unclosed tag: '.length)}"`);
      return;
    }
    const off = Math.max(0, position - 1);
    switch (message) {
      case 'disallowed character.': {
        let o = off;
        if (o > 0 && /[\uDC00-\uDFFF]/.test(xml[o] ?? '')) o--;
        const cp = xml.codePointAt(o) ?? 0;
        add(posOf(o), `invalid character U+${cp.toString(16).toUpperCase().padStart(4, '0')} (not allowed in XML)`);
        return;
      }
      case 'text data outside of root node.': {
        // saxes notices at the end of the text run: point at its first non-blank character
        let k = xml.lastIndexOf('>', off) + 1;
        while (k < off && /[ \t\r\n]/.test(xml[k]!)) k++;
        add(posOf(k), 'text outside the root element');
        return;
      }
      case 'documents may contain only one root.':
        add(posOf(pendingLt), 'content after the root element: a document has exactly one root element');
        return;
      case 'document must contain a root element.':
        add(posOf(xml.length), 'empty document: no root element (expected <policies> or <fragment>)');
        return;
      case 'disallowed character in tag name':
      case 'disallowed character in tag name.': {
        if (xml[off - 1] === '<') add(posOf(off - 1), 'unescaped "<" (write &lt; in text and attribute values; a tag name must follow "<")');
        else add(posOf(off), 'invalid character in tag name');
        return;
      }
      case 'malformed comment.': {
        const dd = xml.lastIndexOf('--', off);
        add(posOf(dd >= 0 ? dd : off), 'malformed comment: "--" is not allowed inside an XML comment');
        return;
      }
      case 'unexpected end.':
        add(posOf(xml.length), 'unexpected end of document');
        return;
      default:
        if (message === 'attribute without value.') {
          const bare = pp.tags.get(pendingLt)?.attrs.find((x) => x.valueStart < 0);
          add(bare ? pp.inputPosition(bare.nameOffset) : posOf(off), bare ? `attribute "${bare.name}" has no value` : 'attribute without value');
          return;
        }
        if (message.startsWith('duplicate attribute: ')) {
          const name = message.slice('duplicate attribute: '.length).replace(/\.$/, '');
          const dups = pp.tags.get(pendingLt)?.attrs.filter((a) => a.name === name) ?? [];
          const second = dups[1];
          add(second ? pp.inputPosition(second.nameOffset) : posOf(off), `duplicate attribute "${name}"`);
          return;
        }
        add(posOf(off), message.replace(/\.$/, ''));
    }
  });

  parser.on('opentagstart', (tag) => {
    flushGroup();
    pendingLt = Math.max(0, xml.lastIndexOf(`<${tag.name}`, parser.position));
  });

  parser.on('opentag', (tag: SaxesTagPlain) => {
    const el = makeElement(tag, pendingLt);
    const parent = stack[stack.length - 1];
    if (parent) {
      parent.hasElementChildren = true;
      parent.el.children.push(el);
    } else if (!root) root = el;
    stack.push({ el, startEnd: parser.position, selfClosing: tag.isSelfClosing, hasElementChildren: false, runs: [] });
    lastMarkupEnd = parser.position;
  });

  parser.on('closetag', () => {
    const st = stack.pop();
    if (st) {
      const closeStart = st.selfClosing ? -1 : closingTagAt(parser.position).at;
      finish(st, closeStart);
      lastClosed = st.el;
    }
    lastMarkupEnd = parser.position;
  });

  parser.on('text', (t: string) => {
    const st = stack[stack.length - 1];
    const startXml = lastMarkupEnd;
    if (st) {
      const found = pp.texts.get(startXml);
      const p = posOf(startXml);
      const node: PolicyText = {
        type: 'text',
        raw: t,
        line: p.line,
        col: p.col,
        expressions: found ? [found.expression] : [],
      };
      if (found?.pure) node.expression = found.expression;
      st.runs.push({ node, pure: found?.pure ?? false, whitespace: XML_WS.test(t) });
      st.el.children.push(node);
    }
  });

  parser.on('cdata', (c: string) => {
    const st = stack[stack.length - 1];
    const lt = xml.lastIndexOf('<![CDATA[', parser.position);
    const startXml = lt + 9;
    lastMarkupEnd = parser.position;
    if (!st) return;
    const p = posOf(startXml);
    const node: PolicyText = { type: 'text', raw: c, line: p.line, col: p.col, expressions: [], cdata: true };
    let pure = false;
    // an expression written inside CDATA needs no escaping; APIM sees it as element text
    const srcStart = pp.map.toSource(startXml);
    const srcEnd = src.indexOf(']]>', srcStart);
    let k = srcStart;
    while (k < srcEnd && /[ \t\r\n]/.test(src[k]!)) k++;
    if (srcEnd > 0 && src[k] === '@' && (src[k + 1] === '(' || src[k + 1] === '{')) {
      const scan = scanExpression(src, k, srcEnd, { entities: false, quote: null });
      if (scan.ok) {
        const expr = toFoundExpression(scan, pp.origin);
        expr.file = file;
        cdataExpressions.push(expr);
        node.expressions.push(expr);
        pure = XML_WS.test(src.slice(scan.end, srcEnd));
        if (pure) node.expression = expr;
      } else {
        add(pp.inputPosition(scan.offset), scan.message);
      }
    }
    st.runs.push({ node, pure, whitespace: XML_WS.test(c) });
    st.el.children.push(node);
  });

  const markup = (): void => {
    lastMarkupEnd = parser.position;
  };
  parser.on('comment', markup);
  parser.on('processinginstruction', markup);
  parser.on('doctype', markup);
  parser.on('xmldecl', markup);

  try {
    parser.write(xml).close();
  } catch (e) {
    add(posOf(Math.max(0, parser.position - 1)), e instanceof Error ? e.message.replace(/^\d+:\d+: /, '') : String(e));
  }
  flushGroup();
  if (unclosedAtEnd.length > 0) add(posOf(xml.length), unclosed(unclosedAtEnd));

  // ---------------------------------------------------------------------------------------------
  // document structure
  // ---------------------------------------------------------------------------------------------
  const sections: Partial<Record<SectionName, PolicyElement>> = {};
  const policies: PolicyElement[] = [];
  let kind: PolicyDocument['kind'] = 'policies';
  if (root) {
    if (root.name === 'policies') {
      for (const child of root.children) {
        if (child.type === 'text') {
          add(child, `unexpected text in <policies>: only the sections inbound, backend, outbound and on-error are allowed`);
          continue;
        }
        if (!isSectionName(child.name)) {
          add(child, `unexpected element <${child.name}> in <policies>: only the sections inbound, backend, outbound and on-error are allowed`);
          continue;
        }
        const prev = sections[child.name];
        if (prev) {
          add(child, `duplicate section "${child.name}" (first at ${at(prev)})`);
          continue;
        }
        sections[child.name] = child;
      }
      for (const name of SECTION_NAMES) {
        const sec = sections[name];
        if (sec) for (const p of checkSection(sec)) add(p, p.message);
      }
    } else if (root.name === 'fragment') {
      kind = 'fragment';
      for (const child of root.children) {
        if (child.type === 'text') {
          add(child, 'unexpected text in <fragment>: a fragment holds policies only');
          continue;
        }
        if (isSectionName(child.name)) {
          add(child, `a fragment cannot contain a policy section (<${child.name}>)`);
          continue;
        }
        policies.push(child);
      }
      for (const p of findBase(root, 'fragment')) add(p, p.message);
    } else {
      add(root, `root must be <policies> or <fragment> (found <${root.name}>)`);
    }
  }

  if (problems.length > 0 || !root) {
    if (problems.length === 0) add({ line: 1, col: 1 }, 'empty document: no root element (expected <policies> or <fragment>)');
    throw new PolicyError(sortPolicyProblems(problems).slice(0, 100));
  }

  const expressions = [...pp.expressions, ...cdataExpressions].sort((a, b) => a.start - b.start);
  return { kind, file, root, sections, policies, expressions, namedValuesUsed, secretsUsed };

  // ---------------------------------------------------------------------------------------------

  function makeElement(tag: SaxesTagPlain, ltXml: number): PolicyElement {
    const info = pp.tags.get(ltXml);
    const p = posOf(ltXml);
    const attributes = new Map<string, AttrValue>();
    for (const [name, value] of Object.entries(tag.attributes)) {
      const a = info?.attrs.find((x) => x.name === name);
      let vpos: SourcePosition = p;
      let npos: SourcePosition = p;
      let raw = value;
      if (a) {
        npos = pp.inputPosition(a.nameOffset);
        if (a.valueStart >= 0) vpos = pp.inputPosition(a.valueStart);
        if (a.expression && a.valueStart >= 0) raw = decodeXmlText(src, a.valueStart, a.valueEnd);
      }
      const av: AttrValue = {
        raw,
        line: vpos.line,
        col: vpos.col,
        nameLine: npos.line,
        nameCol: npos.col,
        expressions: a?.expression ? [a.expression] : [],
      };
      if (a?.expression && a.pure) av.expression = a.expression;
      attributes.set(name, av);
    }
    return { type: 'element', name: tag.name, attributes, children: [], line: p.line, col: p.col, offset: p.offset, file };
  }

  /** completes an element when its closing tag is seen (closeStart: xml offset of `</`, -1 if none) */
  function finish(st: OpenState, closeStart: number): void {
    const { el } = st;
    const verbatim = VERBATIM_BODY.has(el.name);
    if (verbatim && !st.selfClosing && closeStart >= 0) {
      const a = pp.map.toSource(st.startEnd);
      const b = pp.map.toSource(closeStart);
      el.innerXml = src.slice(a, b);
      if (st.hasElementChildren) {
        const p = pp.inputPosition(a);
        el.children = [];
        el.text = { raw: el.innerXml, line: p.line, col: p.col, expressions: [], verbatim: true };
        return;
      }
    }
    if (!KEEP_WHITESPACE.has(el.name)) {
      el.children = el.children.filter((c) => c.type === 'element' || !XML_WS.test(c.raw));
    }
    if (!st.hasElementChildren && st.runs.length > 0) {
      const first = st.runs[0]!.node;
      const expressions = st.runs.flatMap((r) => r.node.expressions);
      const text: TextValue = { raw: st.runs.map((r) => r.node.raw).join(''), line: first.line, col: first.col, expressions };
      const withExpr = st.runs.filter((r) => r.node.expressions.length > 0);
      if (withExpr.length === 1 && withExpr[0]!.pure && st.runs.every((r) => r === withExpr[0] || r.whitespace)) {
        text.expression = withExpr[0]!.node.expressions[0];
      }
      el.text = text;
    }
  }
}

/** `<base/>`: at most once per section, and only directly inside it. */
export function checkSection(section: PolicyElement): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  let first: PolicyElement | undefined;
  for (const child of section.children) {
    if (child.type === 'text') {
      out.push({ file: section.file, line: child.line, col: child.col, message: `unexpected text in <${section.name}>: a section holds policies only` });
      continue;
    }
    if (child.name === 'base') {
      if (first) {
        out.push({
          file: child.file,
          line: child.line,
          col: child.col,
          message: `duplicate <base/> in section "${section.name}" (first at ${first.line}:${first.col}): <base/> may appear at most once per section`,
        });
      } else first = child;
    } else {
      out.push(...findBase(child, 'nested'));
    }
  }
  return out;
}

/** every `<base/>` at or below `el` (which is not a section), as a problem */
function findBase(el: PolicyElement, where: 'nested' | 'fragment'): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  const walk = (e: PolicyElement, parent: string): void => {
    if (e.name === 'base') {
      out.push({
        file: e.file,
        line: e.line,
        col: e.col,
        message:
          where === 'fragment'
            ? 'a fragment cannot contain <base/>'
            : `<base/> is only allowed directly inside a section (found inside <${parent}>)`,
      });
      return;
    }
    for (const c of e.children) if (c.type === 'element') walk(c, e.name);
  };
  if (where === 'fragment') {
    for (const c of el.children) if (c.type === 'element') walk(c, el.name);
  } else walk(el, '');
  return out;
}

export type { FoundExpression, PrepassResult };
