// A small, safe XML model for LINQ to XML (XDocument/XElement), System.Xml (XmlDocument + an XPath subset) and
// XmlReader over in-memory text. No DTDs, no external entities, nothing is ever loaded from a file or URL.
import { CsException, LimitError } from '../errors.js';

const MAX_XML_DEPTH = 256;

export class XmlName {
  constructor(
    readonly local: string,
    readonly ns: string,
    /** prefix as written (for serialization and DOM names) */
    readonly prefix: string,
  ) {}
  get qname(): string {
    return this.prefix ? `${this.prefix}:${this.local}` : this.local;
  }
  /** XName.ToString(): {namespace}local */
  toString(): string {
    return this.ns ? `{${this.ns}}${this.local}` : this.local;
  }
  static parse(s: string): XmlName {
    const m = /^\{([^}]*)\}(.+)$/.exec(s);
    if (m) return new XmlName(m[2] as string, m[1] as string, '');
    const i = s.indexOf(':');
    return i > 0 ? new XmlName(s.slice(i + 1), '', s.slice(0, i)) : new XmlName(s, '', '');
  }
  /** does a name given as text ("local", "{ns}local" or "prefix:local") designate this name? */
  matches(s: string | XmlName): boolean {
    if (s instanceof XmlName) return s.local === this.local && (s.ns === this.ns || (!s.ns && !!s.prefix && s.prefix === this.prefix));
    if (s.startsWith('{')) return this.toString() === s;
    if (s.includes(':')) return this.qname === s;
    return this.local === s && (this.ns === '' || this.prefix === '');
  }
}

export abstract class XNodeBase {
  parent: XElem | XDoc | null = null;
}

export class XAttr {
  parent: XElem | null = null;
  constructor(
    readonly name: XmlName,
    public value: string,
  ) {}
}

export class XElem extends XNodeBase {
  readonly attrs: XAttr[] = [];
  readonly children: XNodeBase[] = [];
  constructor(public name: XmlName) {
    super();
  }
  add(n: XNodeBase): void {
    n.parent = this;
    this.children.push(n);
  }
}

export class XText extends XNodeBase {
  constructor(
    public text: string,
    readonly cdata = false,
  ) {
    super();
  }
}

export class XComment extends XNodeBase {
  constructor(readonly text: string) {
    super();
  }
}

export class XDoc extends XNodeBase {
  readonly children: XNodeBase[] = [];
  declaration: string | null = null;
  get root(): XElem | null {
    return (this.children.find((c) => c instanceof XElem) as XElem | undefined) ?? null;
  }
}

function xmlErr(msg: string, line: number, pos: number): never {
  throw new CsException('XmlException', `${msg} Line ${line}, position ${pos}.`);
}

const NAME_RE = /^[A-Za-z_\u00C0-\uFFEF][\w.\-\u00B7\u00C0-\uFFEF]*(?::[A-Za-z_\u00C0-\uFFEF][\w.\-\u00B7\u00C0-\uFFEF]*)?/;

export interface XmlEvent {
  type: 'Element' | 'EndElement' | 'Text' | 'Whitespace' | 'CDATA' | 'Comment' | 'ProcessingInstruction' | 'XmlDeclaration';
  name: string;
  value: string;
  depth: number;
  elem?: XElem;
  empty?: boolean;
}

/** parses XML text; keepWhitespace keeps whitespace-only text nodes (XmlReader), the DOM APIs drop them */
export function parseXml(s: string, keepWhitespace = false, events?: XmlEvent[]): XDoc {
  let i = s.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let lineStart = 0;
  const doc = new XDoc();
  const pos = (): number => i - lineStart + 1;
  const adv = (to: number): void => {
    for (let k = i; k < to; k++) {
      if (s.charCodeAt(k) === 10) {
        line++;
        lineStart = k + 1;
      }
    }
    i = to;
  };
  const decode = (t: string): string =>
    t.replace(/&([^;&\s]{1,32});/g, (m, e: string) => {
      switch (e) {
        case 'lt': return '<';
        case 'gt': return '>';
        case 'amp': return '&';
        case 'quot': return '"';
        case 'apos': return "'";
        default:
          if (/^#x[0-9a-fA-F]+$/.test(e)) return String.fromCodePoint(Math.min(parseInt(e.slice(2), 16), 0x10ffff));
          if (/^#\d+$/.test(e)) return String.fromCodePoint(Math.min(Number(e.slice(1)), 0x10ffff));
          xmlErr(`Reference to undeclared entity '${e}'.`, line, pos());
      }
      return m;
    });
  const stack: Array<{ el: XElem; ns: Map<string, string> }> = [];
  let nsScope = new Map<string, string>([['xml', 'http://www.w3.org/XML/1998/namespace']]);
  const addNode = (n: XNodeBase): void => {
    const top = stack[stack.length - 1];
    if (top) top.el.add(n);
    else {
      n.parent = doc;
      doc.children.push(n);
    }
  };
  while (i < s.length) {
    if (s[i] !== '<') {
      const j = s.indexOf('<', i);
      const end = j < 0 ? s.length : j;
      const raw = s.slice(i, end);
      adv(end);
      const ws = /^\s*$/.test(raw);
      if (!stack.length) {
        if (!ws) xmlErr('Data at the root level is invalid.', line, pos());
        continue;
      }
      const text = decode(raw);
      events?.push({ type: ws ? 'Whitespace' : 'Text', name: '', value: text, depth: stack.length });
      if (!ws || keepWhitespace) addNode(new XText(text));
      continue;
    }
    if (s.startsWith('<!--', i)) {
      const e = s.indexOf('-->', i + 4);
      if (e < 0) xmlErr('Unexpected end of file while parsing Comment has occurred.', line, pos());
      const text = s.slice(i + 4, e);
      events?.push({ type: 'Comment', name: '', value: text, depth: stack.length });
      if (stack.length) addNode(new XComment(text));
      adv(e + 3);
      continue;
    }
    if (s.startsWith('<![CDATA[', i)) {
      if (!stack.length) xmlErr('Data at the root level is invalid.', line, pos());
      const e = s.indexOf(']]>', i + 9);
      if (e < 0) xmlErr('Unexpected end of file while parsing CDATA has occurred.', line, pos());
      const text = s.slice(i + 9, e);
      events?.push({ type: 'CDATA', name: '', value: text, depth: stack.length });
      addNode(new XText(text, true));
      adv(e + 3);
      continue;
    }
    if (s.startsWith('<!', i)) xmlErr('For security reasons DTD is prohibited in this XML document.', line, pos());
    if (s.startsWith('<?', i)) {
      const e = s.indexOf('?>', i + 2);
      if (e < 0) xmlErr('Unexpected end of file.', line, pos());
      const body = s.slice(i + 2, e);
      const target = /^\S+/.exec(body)?.[0] ?? '';
      if (target === 'xml') {
        doc.declaration = `<?${body}?>`;
        events?.push({ type: 'XmlDeclaration', name: 'xml', value: body.slice(3).trim(), depth: 0 });
      } else events?.push({ type: 'ProcessingInstruction', name: target, value: body.slice(target.length).trim(), depth: stack.length });
      adv(e + 2);
      continue;
    }
    if (s.startsWith('</', i)) {
      const m = NAME_RE.exec(s.slice(i + 2, i + 2 + 512));
      const top = stack.pop();
      if (!m || !top) xmlErr('Unexpected end tag.', line, pos());
      if (m[0] !== top.el.name.qname) xmlErr(`The '${top.el.name.qname}' start tag does not match the end tag of '${m[0]}'.`, line, pos());
      const close = s.indexOf('>', i);
      if (close < 0 || s.slice(i + 2 + m[0].length, close).trim() !== '') xmlErr('Invalid end tag.', line, pos());
      events?.push({ type: 'EndElement', name: m[0], value: '', depth: stack.length });
      nsScope = stack.length ? (stack[stack.length - 1] as { ns: Map<string, string> }).ns : new Map([['xml', 'http://www.w3.org/XML/1998/namespace']]);
      adv(close + 1);
      continue;
    }
    // start tag
    const m = NAME_RE.exec(s.slice(i + 1, i + 1 + 512));
    if (!m) xmlErr(`Name cannot begin with the '${s[i + 1] ?? ''}' character.`, line, pos());
    if (stack.length >= MAX_XML_DEPTH) throw new LimitError(`XML nesting deeper than ${MAX_XML_DEPTH} levels`);
    if (!stack.length && doc.root) xmlErr('There are multiple root elements.', line, pos());
    const qname = m[0];
    let j = i + 1 + qname.length;
    const rawAttrs: Array<[string, string]> = [];
    let selfClose = false;
    for (;;) {
      while (j < s.length && /\s/.test(s[j] as string)) j++;
      if (s[j] === '>') {
        j++;
        break;
      }
      if (s[j] === '/' && s[j + 1] === '>') {
        selfClose = true;
        j += 2;
        break;
      }
      const an = NAME_RE.exec(s.slice(j, j + 512));
      if (!an) xmlErr(`Name cannot begin with the '${s[j] ?? ''}' character.`, line, pos());
      j += an[0].length;
      while (/\s/.test(s[j] ?? '')) j++;
      if (s[j] !== '=') xmlErr(`'${s[j] ?? ''}' is an unexpected token. The expected token is '='.`, line, pos());
      j++;
      while (/\s/.test(s[j] ?? '')) j++;
      const q = s[j];
      if (q !== '"' && q !== "'") xmlErr(`'${q ?? ''}' is an unexpected token. The expected token is '"' or '''.`, line, pos());
      const e = s.indexOf(q, j + 1);
      if (e < 0) xmlErr('Unexpected end of file.', line, pos());
      if (rawAttrs.some(([n]) => n === an[0])) xmlErr(`'${an[0]}' is a duplicate attribute name.`, line, pos());
      rawAttrs.push([an[0], decode(s.slice(j + 1, e))]);
      j = e + 1;
    }
    const scope = new Map(nsScope);
    for (const [n, v] of rawAttrs) {
      if (n === 'xmlns') scope.set('', v);
      else if (n.startsWith('xmlns:')) scope.set(n.slice(6), v);
    }
    const resolve = (q: string, isAttr: boolean): XmlName => {
      const k = q.indexOf(':');
      if (k < 0) return new XmlName(q, isAttr ? '' : (scope.get('') ?? ''), '');
      const prefix = q.slice(0, k);
      if (prefix === 'xmlns') return new XmlName(q.slice(k + 1), 'http://www.w3.org/2000/xmlns/', 'xmlns');
      const ns = scope.get(prefix);
      if (ns === undefined) xmlErr(`'${prefix}' is an undeclared prefix.`, line, pos());
      return new XmlName(q.slice(k + 1), ns, prefix);
    };
    const el = new XElem(resolve(qname, false));
    for (const [n, v] of rawAttrs) {
      const a = new XAttr(n === 'xmlns' ? new XmlName('xmlns', '', '') : resolve(n, true), v);
      a.parent = el;
      el.attrs.push(a);
    }
    addNode(el);
    events?.push({ type: 'Element', name: qname, value: '', depth: stack.length, elem: el, empty: selfClose });
    adv(j);
    if (!selfClose) {
      stack.push({ el, ns: scope });
      nsScope = scope;
    }
  }
  if (stack.length) xmlErr(`Unexpected end of file has occurred. The following elements are not closed: ${stack.map((x) => x.el.name.qname).reverse().join(', ')}.`, line, pos());
  if (!doc.root) xmlErr('Root element is missing.', line, pos());
  return doc;
}

// ------------------------------------------------------------------ text, serialization

export function textOf(n: XNodeBase | XAttr): string {
  if (n instanceof XAttr) return n.value;
  if (n instanceof XText) return n.text;
  if (n instanceof XComment) return '';
  const parts: string[] = [];
  const walk = (x: XNodeBase, d: number): void => {
    if (d > MAX_XML_DEPTH) return;
    if (x instanceof XText) parts.push(x.text);
    else if (x instanceof XElem || x instanceof XDoc) for (const c of x.children) walk(c, d + 1);
  };
  walk(n, 0);
  return parts.join('');
}

export function escXml(s: string, attr: boolean): string {
  let out = s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  if (attr) out = out.replace(/"/g, '&quot;');
  return out;
}

/** XElement.ToString() (indented) / OuterXml (compact) */
export function serializeXml(n: XNodeBase, indent: boolean): string {
  const out: string[] = [];
  const walk = (x: XNodeBase, level: number): void => {
    if (level > MAX_XML_DEPTH) throw new LimitError('XML nesting too deep to serialize');
    const pad = indent ? '  '.repeat(level) : '';
    if (x instanceof XText) {
      out.push(x.cdata ? `<![CDATA[${x.text}]]>` : escXml(x.text, false));
      return;
    }
    if (x instanceof XComment) {
      out.push(`<!--${x.text}-->`);
      return;
    }
    if (x instanceof XDoc) {
      x.children.forEach((c, k) => {
        if (indent && k > 0) out.push('\n');
        walk(c, 0);
      });
      return;
    }
    const el = x as XElem;
    const attrs = el.attrs.map((a) => ` ${a.name.prefix === 'xmlns' ? `xmlns:${a.name.local}` : a.name.qname}="${escXml(a.value, true)}"`).join('');
    if (el.children.length === 0) {
      out.push(`<${el.name.qname}${attrs} />`);
      return;
    }
    out.push(`<${el.name.qname}${attrs}>`);
    const elementOnly = indent && el.children.every((c) => c instanceof XElem || c instanceof XComment);
    for (const c of el.children) {
      if (elementOnly) out.push('\n' + pad + '  ');
      walk(c, level + 1);
    }
    if (elementOnly) out.push('\n' + pad);
    out.push(`</${el.name.qname}>`);
  };
  walk(n, 0);
  return out.join('');
}

export function descendants(n: XElem | XDoc, name?: string | XmlName): XElem[] {
  const out: XElem[] = [];
  const walk = (x: XElem | XDoc, d: number): void => {
    if (d > MAX_XML_DEPTH) return;
    for (const c of x.children) {
      if (c instanceof XElem) {
        if (name === undefined || c.name.matches(name)) out.push(c);
        walk(c, d + 1);
      }
    }
  };
  walk(n, 0);
  return out;
}

export function deepCloneXml(e: XElem, d = 0): XElem {
  if (d > MAX_XML_DEPTH) throw new LimitError('XML nesting too deep');
  const c = new XElem(e.name);
  for (const a of e.attrs) {
    const na = new XAttr(a.name, a.value);
    na.parent = c;
    c.attrs.push(na);
  }
  for (const ch of e.children) {
    if (ch instanceof XElem) c.add(deepCloneXml(ch, d + 1));
    else if (ch instanceof XText) c.add(new XText(ch.text, ch.cdata));
    else if (ch instanceof XComment) c.add(new XComment(ch.text));
  }
  return c;
}

// ------------------------------------------------------------------ XPath subset

type XNodeLike = XElem | XDoc | XText | XAttr;

interface Step {
  axis: 'child' | 'descendant' | 'self' | 'parent' | 'attribute';
  test: string; // name, '*', 'text()', 'node()'
  preds: string[];
}

function parseXPath(path: string): { absolute: boolean; steps: Step[] } {
  const p = path.trim();
  if (p.length > 1024) throw new CsException('XPathException', 'XPath expression too long.');
  let i = 0;
  let absolute = false;
  const steps: Step[] = [];
  let axisNext: 'child' | 'descendant' = 'child';
  if (p.startsWith('//')) {
    absolute = true;
    axisNext = 'descendant';
    i = 2;
  } else if (p.startsWith('/')) {
    absolute = true;
    i = 1;
  }
  while (i < p.length) {
    let j = i;
    let depth = 0;
    let quote = '';
    while (j < p.length) {
      const c = p[j] as string;
      if (quote) {
        if (c === quote) quote = '';
      } else if (c === "'" || c === '"') quote = c;
      else if (c === '[') depth++;
      else if (c === ']') depth--;
      else if (c === '/' && depth === 0) break;
      j++;
    }
    const raw = p.slice(i, j).trim();
    if (!raw) throw new CsException('XPathException', `'${path}' has an invalid token.`);
    const m = /^([^[]+)((?:\[.*\])*)$/.exec(raw);
    if (!m) throw new CsException('XPathException', `'${path}' has an invalid token.`);
    let test = (m[1] as string).trim();
    const preds = [...(m[2] ?? '').matchAll(/\[((?:[^\]'"]|'[^']*'|"[^"]*")*)\]/g)].map((x) => (x[1] as string).trim());
    let axis: Step['axis'] = axisNext;
    if (test === '.') axis = 'self';
    else if (test === '..') axis = 'parent';
    else if (test.startsWith('@')) {
      axis = 'attribute';
      test = test.slice(1);
    } else if (test.startsWith('child::')) test = test.slice(7);
    else if (test.startsWith('descendant::')) {
      axis = 'descendant';
      test = test.slice(12);
    }
    steps.push({ axis: axis === 'self' && axisNext === 'descendant' ? 'descendant' : axis, test, preds });
    if (p.startsWith('//', j)) {
      axisNext = 'descendant';
      i = j + 2;
    } else {
      axisNext = 'child';
      i = j + 1;
    }
  }
  return { absolute, steps };
}

function nameOk(n: XNodeLike, test: string): boolean {
  if (test === 'node()') return true;
  if (test === 'text()') return n instanceof XText;
  if (n instanceof XText || n instanceof XDoc) return false;
  if (test === '*') return true;
  return n.name.qname === test || (!test.includes(':') && n.name.local === test && n.name.prefix === '');
}

function predOk(n: XNodeLike, pred: string, index: number, size: number): boolean {
  if (/^\d+$/.test(pred)) return index === Number(pred);
  if (pred === 'last()') return index === size;
  const str = (s: string): string => s.slice(1, -1);
  let m = /^@([\w:.-]+)$/.exec(pred);
  if (m) return n instanceof XElem && n.attrs.some((a) => a.name.qname === m?.[1]);
  m = /^@([\w:.-]+)\s*(=|!=)\s*('[^']*'|"[^"]*")$/.exec(pred);
  if (m) {
    const a = n instanceof XElem ? n.attrs.find((x) => x.name.qname === m?.[1]) : undefined;
    return a !== undefined && (a.value === str(m[3] as string)) === (m[2] === '=');
  }
  m = /^local-name\(\)\s*=\s*('[^']*'|"[^"]*")$/.exec(pred);
  if (m) return n instanceof XElem && n.name.local === str(m[1] as string);
  m = /^(text\(\)|\.)\s*=\s*('[^']*'|"[^"]*")$/.exec(pred);
  if (m) return textOf(n as XNodeBase) === str(m[2] as string);
  m = /^([\w:.-]+)\s*=\s*('[^']*'|"[^"]*")$/.exec(pred);
  if (m) return n instanceof XElem && n.children.some((c) => c instanceof XElem && nameOk(c, m?.[1] as string) && textOf(c) === str(m?.[2] as string));
  m = /^([\w:.-]+)$/.exec(pred);
  if (m) return n instanceof XElem && n.children.some((c) => c instanceof XElem && nameOk(c, m?.[1] as string));
  throw new CsException('NotSupportedException', `XPath predicate '[${pred}]' is not supported (supported: [n], [last()], [@a], [@a='v'], [child='v'], [local-name()='v'], [text()='v']).`);
}

export function selectNodes(ctx: XElem | XDoc, path: string): XNodeLike[] {
  const { absolute, steps } = parseXPath(path);
  let doc: XNodeBase = ctx;
  let guard = 0;
  while (doc.parent && guard++ < 10_000) doc = doc.parent;
  let cur: XNodeLike[] = [absolute ? (doc as XDoc | XElem) : ctx];
  for (const st of steps) {
    const next: XNodeLike[] = [];
    for (const n of cur) {
      let cands: XNodeLike[] = [];
      if (st.axis === 'self') cands = [n];
      else if (st.axis === 'parent') cands = n instanceof XAttr ? (n.parent ? [n.parent] : []) : (n as XNodeBase).parent ? [(n as XNodeBase).parent as XElem] : [];
      else if (st.axis === 'attribute') cands = n instanceof XElem ? n.attrs.filter((a) => st.test === '*' || a.name.qname === st.test) : [];
      else if (st.axis === 'child') cands = n instanceof XElem || n instanceof XDoc ? (n.children.filter((c) => c instanceof XElem || c instanceof XText) as XNodeLike[]) : [];
      else if (n instanceof XElem || n instanceof XDoc) {
        const all: XNodeLike[] = [];
        const walk = (x: XElem | XDoc, d: number): void => {
          if (d > MAX_XML_DEPTH) return;
          for (const c of x.children) {
            if (c instanceof XElem) {
              all.push(c);
              walk(c, d + 1);
            } else if (c instanceof XText) all.push(c);
          }
        };
        if (st.test === '.' || st.test === 'node()') all.push(n);
        walk(n, 0);
        cands = all;
      }
      if (st.axis !== 'attribute' && st.test !== '.' && st.test !== '..') cands = cands.filter((c) => nameOk(c, st.test));
      for (const pr of st.preds) {
        const size = cands.length;
        cands = cands.filter((c, k) => predOk(c, pr, k + 1, size));
      }
      for (const c of cands) if (!next.includes(c)) next.push(c);
    }
    cur = next;
  }
  return cur;
}

// ------------------------------------------------------------------ wrappers for the System.Xml API

/** XmlDocument */
export class XmlDomDoc {
  doc: XDoc | null = null;
}

/** XmlNode / XmlElement / XmlAttribute / XmlText */
export class XmlDomNode {
  constructor(readonly node: XNodeLike) {}
}

export class XmlDomNodeList {
  constructor(readonly nodes: XmlDomNode[]) {}
}

/** new StringReader(text) */
export class CsStringReader {
  pos = 0;
  constructor(readonly text: string) {}
}

/** XmlReader.Create(new StringReader(text)) */
export class CsXmlReader {
  i = -1;
  readonly events: XmlEvent[] = [];
  constructor(text: string) {
    parseXml(text, true, this.events);
  }
  get cur(): XmlEvent | undefined {
    return this.events[this.i];
  }
}
