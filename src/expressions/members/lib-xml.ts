// LINQ to XML (XDocument, XElement, XAttribute, XName, XNode.ReadFrom), System.Xml (XmlDocument, XmlNode,
// SelectSingleNode/SelectNodes with an XPath subset), XmlReader over a StringReader. In-memory text only.
import { CsException } from '../errors.js';
import { T, checkColl, checkStr, enumOf, csToString } from '../types.js';
import type { Ty } from '../types.js';
import { define, iterate } from './registry.js';
import { m, p, needStr } from './lib-core.js';
import {
  CsStringReader, CsXmlReader, XAttr, XComment, XDoc, XElem, XText, XmlDomDoc, XmlDomNode, XmlDomNodeList, XmlName, XNodeBase,
  deepCloneXml, descendants, parseXml, selectNodes, serializeXml, textOf,
} from '../runtime/xml.js';
import { CsEnum, CsList } from '../runtime/values.js';

const XE: Ty = { n: 'XElement' };
const XD: Ty = { n: 'XDocument' };
const XA: Ty = { n: 'XAttribute' };
const XN: Ty = { n: 'XName' };
const XNODE: Ty = { n: 'XNode' };
const XMLNODE: Ty = { n: 'XmlNode' };

function nameArg(v: unknown): string | XmlName {
  if (v instanceof XmlName) return v;
  return needStr(v, 'name');
}

function parseChecked(text: unknown, rt: { maxStr: number }): XDoc {
  const s = needStr(text, 'text');
  if (s.length > rt.maxStr) throw new CsException('XmlException', 'document too large');
  return parseXml(s);
}

/** content for new XElement(name, content...) / Add(content) */
function addXContent(el: XElem, v: unknown, depth = 0): void {
  if (depth > 32) throw new CsException('ArgumentException', 'content nested too deeply');
  if (v === null || v === undefined) return;
  if (v instanceof XElem) el.add(v.parent ? deepCloneXml(v) : v);
  else if (v instanceof XAttr) {
    if (el.attrs.some((a) => a.name.toString() === v.name.toString())) throw new CsException('InvalidOperationException', 'Duplicate attribute.');
    const a = v.parent ? new XAttr(v.name, v.value) : v;
    a.parent = el;
    el.attrs.push(a);
  } else if (v instanceof XDoc) {
    if (v.root) el.add(deepCloneXml(v.root));
  } else if (Array.isArray(v) || v instanceof CsList) for (const x of Array.isArray(v) ? v : v.items) addXContent(el, x, depth + 1);
  else if (typeof v === 'boolean') el.add(new XText(v ? 'true' : 'false'));
  else el.add(new XText(csToString(v)));
}

function elementsOf(n: XElem | XDoc, name?: string | XmlName): XElem[] {
  return n.children.filter((c): c is XElem => c instanceof XElem && (name === undefined || c.name.matches(name)));
}

define('XName', {
  props: {
    LocalName: p(T.string, (n: XmlName) => n.local),
    NamespaceName: p(T.string, (n: XmlName) => n.ns),
  },
  methods: {
    ToString: m(T.string, (n: XmlName) => n.toString(), { max: 0 }),
  },
  smethods: {
    Get: m(XN, (_s, a) => (a.length === 2 ? new XmlName(needStr(a[0], 'localName'), needStr(a[1], 'namespaceName'), '') : XmlName.parse(needStr(a[0], 'expandedName'))), { min: 1, max: 2 }),
  },
});

const xcontainerMethods = {
  Descendants: m(enumOf(XE), (n: XElem | XDoc, a, c) => {
    const r = descendants(n, a.length ? nameArg(a[0]) : undefined);
    checkColl(c.rt, r.length);
    return r;
  }, { max: 1 }),
  Elements: m(enumOf(XE), (n: XElem | XDoc, a) => elementsOf(n, a.length ? nameArg(a[0]) : undefined), { max: 1 }),
  Element: m(XE, (n: XElem | XDoc, a) => elementsOf(n, nameArg(a[0]))[0] ?? null, { min: 1, max: 1 }),
  Nodes: m(enumOf(XNODE), (n: XElem | XDoc) => n.children.slice(), { max: 0 }),
  DescendantNodes: m(enumOf(XNODE), (n: XElem | XDoc) => descendants(n), { max: 0 }),
  Add: m(T.void, (n: XElem | XDoc, a) => {
    if (n instanceof XDoc) {
      for (const x of a) if (x instanceof XElem) {
        if (n.root) throw new CsException('InvalidOperationException', 'This operation would create an incorrectly structured document.');
        x.parent = n;
        n.children.push(x.parent && x.parent !== n ? deepCloneXml(x) : x);
      }
      return;
    }
    for (const x of a) addXContent(n, x);
  }, { min: 1 }),
  ToString: m(T.string, (n: XElem | XDoc, a, c) => checkStr(c.rt, serializeXml(n, !(a[0] instanceof CsEnum && a[0].name === 'DisableFormatting'))), { max: 1 }),
};

define('XElement', {
  props: {
    Name: { ty: XN, get: (e: XElem) => e.name, set(e: XElem, v) {
      e.name = v instanceof XmlName ? v : XmlName.parse(needStr(v, 'value'));
    } },
    Value: { ty: T.string, get: (e: XElem) => textOf(e), set(e: XElem, v) {
      e.children.length = 0;
      e.add(new XText(needStr(v, 'value')));
    } },
    HasElements: p(T.bool, (e: XElem) => e.children.some((c) => c instanceof XElem)),
    HasAttributes: p(T.bool, (e: XElem) => e.attrs.length > 0),
    IsEmpty: p(T.bool, (e: XElem) => e.children.length === 0),
    Parent: p(XE, (e: XElem) => (e.parent instanceof XElem ? e.parent : null)),
    FirstAttribute: p(XA, (e: XElem) => e.attrs[0] ?? null),
  },
  methods: {
    ...xcontainerMethods,
    Attribute: m(XA, (e: XElem, a) => {
      const n = nameArg(a[0]);
      return e.attrs.find((x) => (typeof n === 'string' ? x.name.qname === n || x.name.toString() === n : x.name.matches(n))) ?? null;
    }, { min: 1, max: 1 }),
    Attributes: m(enumOf(XA), (e: XElem, a) => (a.length ? e.attrs.filter((x) => x.name.qname === csToString(a[0])) : e.attrs.slice()), { max: 1 }),
    SetAttributeValue: m(T.void, (e: XElem, a) => {
      const name = nameArg(a[0]);
      const i = e.attrs.findIndex((x) => (typeof name === 'string' ? x.name.qname === name : x.name.matches(name)));
      if (a[1] === null || a[1] === undefined) {
        if (i >= 0) e.attrs.splice(i, 1);
        return;
      }
      if (i >= 0) (e.attrs[i] as XAttr).value = csToString(a[1]);
      else addXContent(e, new XAttr(typeof name === 'string' ? XmlName.parse(name) : name, csToString(a[1])));
    }, { min: 2, max: 2 }),
    SetElementValue: m(T.void, (e: XElem, a) => {
      const name = nameArg(a[0]);
      const existing = elementsOf(e, name)[0];
      if (a[1] === null || a[1] === undefined) {
        if (existing) e.children.splice(e.children.indexOf(existing), 1);
        return;
      }
      if (existing) {
        existing.children.length = 0;
        existing.add(new XText(csToString(a[1])));
      } else {
        const el = new XElem(typeof name === 'string' ? XmlName.parse(name) : name);
        el.add(new XText(csToString(a[1])));
        e.add(el);
      }
    }, { min: 2, max: 2 }),
    Remove: m(T.void, (e: XElem) => {
      const parent = e.parent;
      if (!parent) throw new CsException('InvalidOperationException', 'The parent is missing.');
      parent.children.splice(parent.children.indexOf(e), 1);
      e.parent = null;
    }, { max: 0 }),
    RemoveAll: m(T.void, (e: XElem) => {
      e.children.length = 0;
      e.attrs.length = 0;
    }, { max: 0 }),
  },
  smethods: {
    Parse: m(XE, (_s, a, c) => {
      const d = parseChecked(a[0], c.rt);
      const root = d.root as XElem;
      root.parent = null;
      return root;
    }, { min: 1, max: 2 }),
  },
  ctor: {
    call(a) {
      const nameV = a[0];
      if (nameV instanceof XElem) return deepCloneXml(nameV);
      const el = new XElem(nameV instanceof XmlName ? nameV : XmlName.parse(needStr(nameV, 'name')));
      for (const x of a.slice(1)) addXContent(el, x);
      return el;
    },
    min: 1,
  },
});

define('XDocument', {
  props: {
    Root: p(XE, (d: XDoc) => d.root),
    Declaration: p(T.string, (d: XDoc) => d.declaration),
  },
  methods: xcontainerMethods,
  smethods: {
    Parse: m(XD, (_s, a, c) => parseChecked(a[0], c.rt), { min: 1, max: 2 }),
    Load: m(XD, () => {
      throw new CsException('NotSupportedException', 'XDocument.Load reads files or URLs; use XDocument.Parse(text).');
    }, { min: 1, max: 2 }),
  },
  ctor: {
    call(a) {
      const d = new XDoc();
      for (const x of a) {
        if (x instanceof XElem) {
          const el = x.parent ? deepCloneXml(x) : x;
          el.parent = d;
          d.children.push(el);
        }
      }
      return d;
    },
  },
});

define('XAttribute', {
  props: {
    Name: p(XN, (x: XAttr) => x.name),
    Value: { ty: T.string, get: (x: XAttr) => x.value, set(x: XAttr, v) {
      x.value = needStr(v, 'value');
    } },
    Parent: p(XE, (x: XAttr) => x.parent),
  },
  methods: {
    ToString: m(T.string, (x: XAttr) => `${x.name.qname}="${x.value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')}"`, { max: 0 }),
    Remove: m(T.void, (x: XAttr) => {
      if (!x.parent) throw new CsException('InvalidOperationException', 'The parent is missing.');
      x.parent.attrs.splice(x.parent.attrs.indexOf(x), 1);
      x.parent = null;
    }, { max: 0 }),
  },
  ctor: {
    call: (a) => new XAttr(a[0] instanceof XmlName ? a[0] : XmlName.parse(needStr(a[0], 'name')), csToString(a[1])),
    min: 2,
    max: 2,
  },
});

define('XText', {
  props: {
    Value: p(T.string, (x: XText) => x.text),
  },
});

define('XNode', {
  smethods: {
    ReadFrom: m(XNODE, (_s, a) => {
      const r = a[0];
      if (!(r instanceof CsXmlReader)) throw new CsException('ArgumentNullException', "Value cannot be null. (Parameter 'reader')");
      const ev = r.cur;
      if (!ev) throw new CsException('InvalidOperationException', 'The XmlReader state should be Interactive.');
      if (ev.type === 'Element' && ev.elem) {
        const el = deepCloneXml(ev.elem);
        // move past the matching end element
        if (ev.empty) r.i++;
        else {
          const depth = ev.depth;
          r.i++;
          while (r.i < r.events.length && !((r.events[r.i] as { type: string }).type === 'EndElement' && (r.events[r.i] as { depth: number }).depth === depth)) r.i++;
          r.i++;
        }
        return el;
      }
      if (ev.type === 'Text' || ev.type === 'Whitespace' || ev.type === 'CDATA') {
        r.i++;
        return new XText(ev.value, ev.type === 'CDATA');
      }
      if (ev.type === 'Comment') {
        r.i++;
        return new XComment(ev.value);
      }
      throw new CsException('InvalidOperationException', `The XmlReader should not be on a node of type ${ev.type}.`);
    }, { min: 1, max: 1 }),
  },
});

// ------------------------------------------------------------------ System.Xml DOM

function domNode(n: XNodeBase | XAttr | null | undefined): XmlDomNode | null {
  return n ? new XmlDomNode(n as XElem) : null;
}

function docOf(d: XmlDomDoc): XDoc {
  if (!d.doc) throw new CsException('XmlException', 'Root element is missing.');
  return d.doc;
}

function nodeName(n: XElem | XDoc | XText | XAttr): string {
  if (n instanceof XElem) return n.name.qname;
  if (n instanceof XAttr) return n.name.prefix === 'xmlns' ? `xmlns:${n.name.local}` : n.name.qname;
  if (n instanceof XDoc) return '#document';
  return (n as XText).cdata ? '#cdata-section' : '#text';
}

const domSelect = {
  SelectSingleNode: m(XMLNODE, (self: XmlDomDoc | XmlDomNode, a) => {
    const ctx = self instanceof XmlDomDoc ? docOf(self) : (self.node as XElem);
    if (!(ctx instanceof XElem) && !(ctx instanceof XDoc)) return null;
    return domNode(selectNodes(ctx, needStr(a[0], 'xpath'))[0] as XNodeBase | undefined);
  }, { min: 1, max: 2 }),
  SelectNodes: m({ n: 'XmlNodeList' }, (self: XmlDomDoc | XmlDomNode, a, c) => {
    const ctx = self instanceof XmlDomDoc ? docOf(self) : (self.node as XElem);
    if (!(ctx instanceof XElem) && !(ctx instanceof XDoc)) return new XmlDomNodeList([]);
    const nodes = selectNodes(ctx, needStr(a[0], 'xpath'));
    checkColl(c.rt, nodes.length);
    return new XmlDomNodeList(nodes.map((x) => new XmlDomNode(x)));
  }, { min: 1, max: 2 }),
  GetElementsByTagName: m({ n: 'XmlNodeList' }, (self: XmlDomDoc | XmlDomNode, a) => {
    const ctx = self instanceof XmlDomDoc ? docOf(self) : (self.node as XElem);
    const name = needStr(a[0], 'name');
    const all = ctx instanceof XElem || ctx instanceof XDoc ? descendants(ctx) : [];
    return new XmlDomNodeList(all.filter((e) => name === '*' || e.name.qname === name).map((e) => new XmlDomNode(e)));
  }, { min: 1, max: 2 }),
};

define('XmlDocument', {
  props: {
    DocumentElement: p(XMLNODE, (d: XmlDomDoc) => domNode(d.doc?.root)),
    InnerText: p(T.string, (d: XmlDomDoc) => (d.doc ? textOf(d.doc) : '')),
    OuterXml: p(T.string, (d: XmlDomDoc) => (d.doc ? serializeXml(d.doc, false) : '')),
    InnerXml: p(T.string, (d: XmlDomDoc) => (d.doc ? serializeXml(d.doc, false) : '')),
  },
  methods: {
    LoadXml: m(T.void, (d: XmlDomDoc, a, c) => {
      d.doc = parseChecked(a[0], c.rt);
    }, { min: 1, max: 1 }),
    Load: m(T.void, () => {
      throw new CsException('NotSupportedException', 'XmlDocument.Load reads files or URLs; use LoadXml(text).');
    }, { min: 1, max: 1 }),
    ...domSelect,
  },
  ctor: { call: () => new XmlDomDoc(), max: 0 },
});

define('XmlNode', {
  props: {
    Name: p(T.string, (x: XmlDomNode) => nodeName(x.node)),
    LocalName: p(T.string, (x: XmlDomNode) => (x.node instanceof XElem || x.node instanceof XAttr ? x.node.name.local : nodeName(x.node))),
    NamespaceURI: p(T.string, (x: XmlDomNode) => (x.node instanceof XElem || x.node instanceof XAttr ? x.node.name.ns : '')),
    Prefix: p(T.string, (x: XmlDomNode) => (x.node instanceof XElem || x.node instanceof XAttr ? x.node.name.prefix : '')),
    InnerText: p(T.string, (x: XmlDomNode) => textOf(x.node as XNodeBase)),
    Value: p(T.string, (x: XmlDomNode) => (x.node instanceof XAttr ? x.node.value : x.node instanceof XText ? x.node.text : null)),
    InnerXml: p(T.string, (x: XmlDomNode) => (x.node instanceof XElem ? x.node.children.map((ch) => serializeXml(ch, false)).join('') : textOf(x.node as XNodeBase))),
    OuterXml: p(T.string, (x: XmlDomNode) => (x.node instanceof XAttr ? `${x.node.name.qname}="${x.node.value}"` : serializeXml(x.node as XNodeBase, false))),
    ParentNode: p(XMLNODE, (x: XmlDomNode) => (x.node instanceof XAttr ? null : domNode((x.node as XNodeBase).parent))),
    FirstChild: p(XMLNODE, (x: XmlDomNode) => (x.node instanceof XElem ? domNode(x.node.children[0]) : null)),
    LastChild: p(XMLNODE, (x: XmlDomNode) => (x.node instanceof XElem ? domNode(x.node.children[x.node.children.length - 1]) : null)),
    HasChildNodes: p(T.bool, (x: XmlDomNode) => x.node instanceof XElem && x.node.children.length > 0),
    ChildNodes: p({ n: 'XmlNodeList' }, (x: XmlDomNode) => new XmlDomNodeList(x.node instanceof XElem ? x.node.children.map((c) => new XmlDomNode(c as XElem)) : [])),
    Attributes: p({ n: 'XmlAttributeCollection' }, (x: XmlDomNode) => (x.node instanceof XElem ? new XmlDomNodeList(x.node.attrs.map((a) => new XmlDomNode(a))) : null)),
  },
  methods: {
    ...domSelect,
    GetAttribute: m(T.string, (x: XmlDomNode, a) => (x.node instanceof XElem ? (x.node.attrs.find((at) => at.name.qname === String(a[0]))?.value ?? '') : ''), { min: 1, max: 2 }),
    HasAttribute: m(T.bool, (x: XmlDomNode, a) => x.node instanceof XElem && x.node.attrs.some((at) => at.name.qname === String(a[0])), { min: 1, max: 2 }),
  },
});

for (const name of ['XmlNodeList', 'XmlAttributeCollection']) {
  define(name, {
    props: {
      Count: p(T.int, (l: XmlDomNodeList) => l.nodes.length),
    },
    indexer: {
      ty: XMLNODE,
      get(l: XmlDomNodeList, k) {
        const key = k[0];
        if (typeof key === 'number') return l.nodes[key] ?? null;
        return l.nodes.find((n) => (n.node instanceof XAttr || n.node instanceof XElem) && n.node.name.qname === String(key)) ?? null;
      },
    },
    methods: {
      Item: m(XMLNODE, (l: XmlDomNodeList, a) => l.nodes[a[0] as number] ?? null, { min: 1, max: 1 }),
    },
  });
}

// ------------------------------------------------------------------ StringReader / XmlReader

define('StringReader', {
  methods: {
    ReadToEnd: m(T.string, (r: CsStringReader) => {
      const s = r.text.slice(r.pos);
      r.pos = r.text.length;
      return s;
    }, { max: 0 }),
    ReadLine: m(T.string, (r: CsStringReader) => {
      if (r.pos >= r.text.length) return null;
      const rest = r.text.slice(r.pos);
      const m0 = /\r\n|\n|\r/.exec(rest);
      const line = m0 ? rest.slice(0, m0.index) : rest;
      r.pos += m0 ? m0.index + m0[0].length : rest.length;
      return line;
    }, { max: 0 }),
    Dispose: m(T.void, () => undefined, { max: 0 }),
  },
  ctor: { call: (a) => new CsStringReader(needStr(a[0], 's')), min: 1, max: 1 },
});

const NODE_TYPES: Record<string, number> = {
  None: 0, Element: 1, Attribute: 2, Text: 3, CDATA: 4, EntityReference: 5, Entity: 6, ProcessingInstruction: 7, Comment: 8, Document: 9,
  DocumentType: 10, DocumentFragment: 11, Notation: 12, Whitespace: 13, SignificantWhitespace: 14, EndElement: 15, EndEntity: 16,
  XmlDeclaration: 17,
};
define('XmlNodeType', { enumValues: NODE_TYPES });

function nodeType(r: CsXmlReader): CsEnum {
  const t = r.cur?.type ?? 'None';
  return new CsEnum('XmlNodeType', t, NODE_TYPES[t] ?? 0);
}

function isContent(t: string): boolean {
  return t === 'Element' || t === 'EndElement' || t === 'Text' || t === 'CDATA';
}

function readerElementText(r: CsXmlReader): string {
  const ev = r.cur;
  if (!ev || ev.type !== 'Element') throw new CsException('XmlException', `The ${ev?.type ?? 'None'} node is not an Element.`);
  const text = ev.elem ? textOf(ev.elem) : '';
  if (ev.empty) r.i++;
  else {
    const depth = ev.depth;
    r.i++;
    while (r.i < r.events.length && !((r.events[r.i] as { type: string }).type === 'EndElement' && (r.events[r.i] as { depth: number }).depth === depth)) r.i++;
    r.i++;
  }
  return text;
}

define('XmlReader', {
  props: {
    EOF: p(T.bool, (r: CsXmlReader) => r.i >= r.events.length),
    Name: p(T.string, (r: CsXmlReader) => r.cur?.name ?? ''),
    LocalName: p(T.string, (r: CsXmlReader) => {
      const n = r.cur?.name ?? '';
      const k = n.indexOf(':');
      return k < 0 ? n : n.slice(k + 1);
    }),
    Value: p(T.string, (r: CsXmlReader) => r.cur?.value ?? ''),
    Depth: p(T.int, (r: CsXmlReader) => r.cur?.depth ?? 0),
    NodeType: p({ n: 'XmlNodeType' }, (r: CsXmlReader) => nodeType(r)),
    IsEmptyElement: p(T.bool, (r: CsXmlReader) => r.cur?.empty === true),
    HasValue: p(T.bool, (r: CsXmlReader) => ['Text', 'CDATA', 'Whitespace', 'Comment', 'ProcessingInstruction', 'XmlDeclaration'].includes(r.cur?.type ?? '')),
  },
  methods: {
    Read: m(T.bool, (r: CsXmlReader, _a, c) => {
      checkColl(c.rt, 0);
      if (r.i < r.events.length) r.i++;
      return r.i < r.events.length;
    }, { max: 0 }),
    MoveToContent: m({ n: 'XmlNodeType' }, (r: CsXmlReader) => {
      if (r.i < 0) r.i = 0;
      while (r.i < r.events.length && !isContent((r.events[r.i] as { type: string }).type)) r.i++;
      return nodeType(r);
    }, { max: 0 }),
    IsStartElement: m(T.bool, (r: CsXmlReader, a) => {
      if (r.i < 0) r.i = 0;
      while (r.i < r.events.length && !isContent((r.events[r.i] as { type: string }).type)) r.i++;
      const ev = r.cur;
      return !!ev && ev.type === 'Element' && (a.length === 0 || ev.name === String(a[0]));
    }, { max: 1 }),
    ReadElementContentAsString: m(T.string, (r: CsXmlReader) => readerElementText(r), { max: 2 }),
    ReadElementString: m(T.string, (r: CsXmlReader) => readerElementText(r), { max: 1 }),
    ReadString: m(T.string, (r: CsXmlReader) => {
      const ev = r.cur;
      if (ev && ev.type === 'Element') return readerElementText(r);
      let out = '';
      while (r.cur && (r.cur.type === 'Text' || r.cur.type === 'CDATA' || r.cur.type === 'Whitespace')) {
        out += r.cur.value;
        r.i++;
      }
      return out;
    }, { max: 0 }),
    GetAttribute: m(T.string, (r: CsXmlReader, a) => r.cur?.elem?.attrs.find((x) => x.name.qname === String(a[0]))?.value ?? null, { min: 1, max: 2 }),
    Skip: m(T.void, (r: CsXmlReader) => {
      if (r.cur?.type === 'Element') readerElementText(r);
      else r.i++;
    }, { max: 0 }),
    Close: m(T.void, () => undefined, { max: 0 }),
    Dispose: m(T.void, () => undefined, { max: 0 }),
  },
  smethods: {
    Create: m({ n: 'XmlReader' }, (_s, a, c) => {
      const src = a[0];
      if (!(src instanceof CsStringReader)) throw new CsException('NotSupportedException', 'XmlReader.Create only reads in-memory text: pass new StringReader(text).');
      const text = src.text.slice(src.pos);
      checkStr(c.rt, text);
      return new CsXmlReader(text);
    }, { min: 1, max: 2 }),
  },
});

export { iterate, XmlName };
