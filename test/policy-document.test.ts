/**
 * The policy DOCUMENT layer (src/policy/): lenient-XML pre-pass, document parse with original
 * positions, named values, scope composition with <base/>, fragments — and the whole APIM corpus.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SaxesParser } from 'saxes';
import { findExpressions, prepass, decodeXmlText, LineTable, type FoundExpression } from '../src/policy/prepass.js';
import { parsePolicyDocument, elementChildren, type PolicyDocument, type PolicyElement } from '../src/policy/document.js';
import { substituteNamedValues, type NamedValue } from '../src/policy/named-values.js';
import { composeScopes, expandFragments, type EffectiveEntry, type EffectivePolicy } from '../src/policy/compose.js';
import { PolicyError, type PolicyProblem } from '../src/policy/errors.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/policy/', import.meta.url));
const CORPUS = fileURLToPath(new URL('../../../shared/apim-corpus/', import.meta.url));

// ------------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------------

/** the single expression of `xml` */
function one(xml: string): FoundExpression {
  const found = findExpressions(xml);
  assert.equal(found.length, 1, `expected one expression in ${xml}, found ${found.length}`);
  return found[0]!;
}

/** an attribute-value expression: <a v="EXPR"/> */
const attr = (expr: string, q = '"'): string => `<a v=${q}${expr}${q}/>`;

/** the problems of a document that must fail */
function problemsOf(text: string, file?: string): PolicyProblem[] {
  try {
    parsePolicyDocument(text, file);
  } catch (e) {
    assert.ok(e instanceof PolicyError, `expected PolicyError, got ${String(e)}`);
    assert.ok(e.problems.length > 0);
    return e.problems;
  }
  assert.fail('expected the document to fail');
}

const brief = (ps: PolicyProblem[]): string[] => ps.map((p) => `${p.line}:${p.col}: ${p.message}`);

/** the XML must now be acceptable to a strict parser */
function assertWellFormed(xml: string): void {
  const p = new SaxesParser({ position: true });
  const errors: string[] = [];
  p.on('error', (e) => errors.push(e.message));
  p.write(xml).close();
  assert.deepEqual(errors, [], xml);
}

const names = (list: EffectiveEntry[]): string[] =>
  list.map((e) => `${e.scope}:${e.element.name}${e.element.attributes.get('name') ? `(${e.element.attributes.get('name')!.raw})` : ''}`);

const fixture = (rel: string): string => readFileSync(path.join(FIXTURES, rel), 'utf8');

// ------------------------------------------------------------------------------------------------
// pre-pass
// ------------------------------------------------------------------------------------------------

describe('pre-pass: finding expressions', () => {
  const cases: Array<[string, string, string, 'expression' | 'block']> = [
    ['plain call', attr('@(context.Request.Method)'), 'context.Request.Method', 'expression'],
    ['nested parens', attr('@(((string)(x)).Length + (1 * (2)))'), '((string)(x)).Length + (1 * (2))', 'expression'],
    ['")" inside a string', attr('@(x == ")" ? "(" : "))")'), 'x == ")" ? "(" : "))"', 'expression'],
    ['escaped quote inside a string', attr('@("a\\")b" + x)'), '"a\\")b" + x', 'expression'],
    ['backslash at string end', attr('@("a\\\\" + ")")'), '"a\\\\" + ")"', 'expression'],
    ['verbatim string with ""', attr('@(@"a"")b\\" + x)'), '@"a"")b\\" + x', 'expression'],
    ['interpolated string, code in holes', attr('@($"{(a ? ")" : "}")}x{y}")'), '$"{(a ? ")" : "}")}x{y}"', 'expression'],
    ['interpolated {{ }} are literal', attr('@($"{{)}}" + $"{{{z}}}")'), '$"{{)}}" + $"{{{z}}}"', 'expression'],
    ['interpolation format and alignment', attr('@($"{d:yyyy-MM-dd)}|{n,5}")'), '$"{d:yyyy-MM-dd)}|{n,5}"', 'expression'],
    ['$@ verbatim interpolated', attr('@($@"{a}"")" + @$"("")")'), '$@"{a}"")" + @$"("")"', 'expression'],
    ['char literals', attr("@(c == ')' || c == '\"' || c == '\\'' || c == '\\\\')", "'"), "c == ')' || c == '\"' || c == '\\'' || c == '\\\\'", 'expression'],
    ['unicode char literal', attr("@(c == '\\u0029')"), "c == '\\u0029'", 'expression'],
    ['block with comments', '<a v="@{ // no } here\n var x = 1; /* ) } */ return x; }"/>', ' // no } here\n var x = 1; /* ) } */ return x; ', 'block'],
    ['block with nested braces', '<a v="@{ if (a) { return "}"; } else { return "{"; } }"/>', ' if (a) { return "}"; } else { return "{"; } ', 'block'],
    ['block, string with //', '<a v="@{ return "http://x/}"; }"/>', ' return "http://x/}"; ', 'block'],
    ['raw < > && in element text', '<v>@(a < b && c > d)</v>', 'a < b && c > d', 'expression'],
    ['generic method in text', '<v>@(context.Request.Body.As<JObject>(preserveContent: true)["x"])</v>', 'context.Request.Body.As<JObject>(preserveContent: true)["x"]', 'expression'],
  ];
  for (const [name, xml, code, kind] of cases) {
    test(name, () => {
      const e = one(xml);
      assert.equal(e.code, code);
      assert.equal(e.kind, kind);
      assertWellFormed(prepass(xml).xml);
    });
  }

  test("single-quoted attribute: raw ' in a char literal is escaped as &apos;", () => {
    const xml = "<a v='@(c == 'x' && s == \"y\")'/>";
    const r = prepass(xml);
    assert.equal(r.expressions[0]!.code, `c == 'x' && s == "y"`);
    assert.equal(r.xml, "<a v='@(c == &apos;x&apos; &amp;&amp; s == \"y\")'/>");
    assertWellFormed(r.xml);
  });

  test('double-quoted attribute: raw " escaped, author-written &quot; kept and decoded', () => {
    const xml = '<a v="@(x == &quot;)&quot; && y == ")")"/>';
    const r = prepass(xml);
    // the &quot; pair is a string holding ")": it must not close the expression
    assert.equal(r.expressions[0]!.code, 'x == ")" && y == ")"');
    assert.equal(r.xml, '<a v="@(x == &quot;)&quot; &amp;&amp; y == &quot;)&quot;)"/>');
    assertWellFormed(r.xml);
  });

  test('author-written &lt; &amp;&amp; and character references decode into the code', () => {
    assert.equal(one('<v>@(a &lt; b &amp;&amp; c &#62; d &#x3E; e)</v>').code, 'a < b && c > d > e');
  });

  test('@ that is not an expression: e-mail, @@, mixed text, outside the root, comments, CDATA, PIs', () => {
    assert.deepEqual(findExpressions('<a v="a@b.c" w="x@(y)"><v>mail me: a@b.c</v><v>@@(x)</v><v>Hello @(x)</v></a>'), []);
    assert.deepEqual(findExpressions('<a><!-- @(x < y) --><?pi @(x)?><![CDATA[ @(a < b) ]]></a>'), []);
    assert.deepEqual(findExpressions('@(x)<a/>'), []);
    assert.deepEqual(findExpressions('<a v="@ (x)" w="@x"/>'), []);
  });

  test('leading whitespace before the expression is allowed; the expression must come first', () => {
    const xml = '<a v="  @(x)  "><set-url>\n   @{ return "u"; }\n </set-url></a>';
    const found = findExpressions(xml);
    assert.deepEqual(found.map((e) => e.code), ['x', ' return "u"; ']);
  });

  test('offsets, line and column of the first code character (original text)', () => {
    const xml = '<policies>\n  <x v="@(a + b)"/>\n  <y>\n    @{\n      return 1;\n    }\n  </y>\n</policies>';
    const [a, b] = findExpressions(xml);
    assert.equal(xml.slice(a!.start, a!.end), '@(a + b)');
    assert.deepEqual([a!.line, a!.col], [2, 11]);
    assert.equal(xml.slice(b!.start, b!.end), '@{\n      return 1;\n    }');
    assert.deepEqual([b!.line, b!.col], [4, 7]); // the newline right after '@{'
    const ret = b!.code.indexOf('return');
    assert.deepEqual([b!.locate(ret).line, b!.locate(ret).col], [5, 7]);
  });

  test('locate() accounts for decoded entities', () => {
    const xml = '<a v="@(x == &quot;q&quot; &amp;&amp; zz)"/>';
    const e = one(xml);
    assert.equal(e.code, 'x == "q" && zz');
    const z = e.locate(e.code.indexOf('zz'));
    assert.equal(xml.slice(z.offset, z.offset + 2), 'zz');
    assert.equal(z.col, xml.indexOf('zz') + 1);
  });

  test('multi-line @{ } block in an attribute keeps its line breaks (no attribute-value normalization)', () => {
    const doc = parsePolicyDocument(
      '<policies><inbound><set-variable name="v" value="@{\n  // a comment: \'quote\' ) }\n  var s = "<b>";\n  return s;\n}" /></inbound></policies>',
    );
    const v = elementChildren(doc.sections.inbound!)[0]!.attributes.get('value')!;
    assert.equal(v.expression?.code, '\n  // a comment: \'quote\' ) }\n  var s = "<b>";\n  return s;\n');
    assert.equal(v.raw, `@{${v.expression!.code}}`);
  });

  test('CRLF + BOM: columns as editors count them, tabs count 1, code has LF line ends', () => {
    const text = fixture('crlf-bom.xml');
    assert.equal(text.charCodeAt(0), 0xfeff);
    const [block, expr] = findExpressions(text);
    assert.equal(block!.kind, 'block');
    assert.deepEqual([block!.line, block!.col], [3, 35]);
    assert.ok(!block!.code.includes('\r'));
    assert.equal(block!.code, '\n\t\t\tvar s = "a<b" + "&&";\n\t\t\treturn s.Length > 2 ? "x" : "y";\n\t\t');
    const ret = block!.locate(block!.code.indexOf('return'));
    assert.deepEqual([ret.line, ret.col], [5, 4]);
    assert.equal(text.slice(ret.offset, ret.offset + 6), 'return');
    assert.deepEqual([expr!.line, expr!.col], [7, 33]);
    const doc = parsePolicyDocument(text, 'crlf-bom.xml');
    const [sv, sh] = elementChildren(doc.sections.inbound!);
    assert.deepEqual([sv!.line, sv!.col], [3, 3]);
    assert.deepEqual([sv!.attributes.get('value')!.line, sv!.attributes.get('value')!.col], [3, 33]);
    assert.deepEqual([sv!.attributes.get('value')!.nameLine, sv!.attributes.get('value')!.nameCol], [3, 26]);
    const value = elementChildren(sh!)[0]!;
    assert.equal(value.text?.expression?.code, 'context.Request.Headers.GetValueOrDefault("x", "") == "<"');
  });

  test('position mapping on a real XML error after rewritten expressions (CRLF + BOM)', () => {
    // line 8: \t\t<trace source="t">a < b</trace> — the '<' is at column 23
    assert.deepEqual(brief(problemsOf(fixture('crlf-bom-error.xml'))), [
      '8:23: unescaped "<" (write &lt; in text and attribute values; a tag name must follow "<")',
    ]);
  });

  test('position mapping on the same line as an escaped expression', () => {
    // after the expression, the rewritten line is longer (&quot; &lt; &amp;&amp;): the error column must not shift
    const text = '<policies>\n<inbound><set-variable name="a" value="@(x < "y" && z)" bad attr="1"/></inbound>\n</policies>';
    const col = text.split('\n')[1]!.indexOf('bad') + 1;
    assert.equal(col, 57);
    assert.deepEqual(brief(problemsOf(text)), ['2:57: attribute "bad" has no value']);
  });

  test('unterminated expression / string: a positioned problem, the rest still parsed', () => {
    const ps = problemsOf('<policies>\n  <inbound>\n    <set-variable name="a" value="@(foo(1)" />\n    <x y="@(&quot;abc)"/>\n  </inbound>\n</policies>');
    assert.deepEqual(brief(ps), [
      "3:35: unterminated expression: no matching ')' for '@(' before the end of the attribute value",
      "4:11: unterminated expression: no matching ')' for '@('",
    ]);
  });

  test('newline inside a regular C# string is rejected; verbatim strings may span lines', () => {
    assert.deepEqual(brief(problemsOf('<policies><inbound><a v="@("x\ny")"/></inbound></policies>')), [
      '1:28: newline in C# string literal (a regular string cannot span lines; use @"..." for that)',
    ]);
    assert.equal(one('<a v="@(@"x\ny")"/>').code, '@"x\ny"');
  });

  test('LineTable: LF, CRLF, lone CR, BOM', () => {
    const t = new LineTable('\uFEFFab\r\ncd\ref\ngh');
    assert.deepEqual(t.position(1), { offset: 1, line: 1, col: 1 });
    assert.deepEqual(t.position(5), { offset: 5, line: 2, col: 1 });
    assert.deepEqual(t.position(8), { offset: 8, line: 3, col: 1 });
    assert.deepEqual(t.position(11), { offset: 11, line: 4, col: 1 });
  });

  test('decodeXmlText', () => {
    const s = 'a&lt;&amp;b&#65;&bogus;\r\nc';
    assert.equal(decodeXmlText(s, 0, s.length), 'a<&bA&bogus;\nc');
  });
});

// ------------------------------------------------------------------------------------------------
// document parse
// ------------------------------------------------------------------------------------------------

describe('document: tree and values', () => {
  const text = [
    '<!-- leading comment -->', // 1
    '<policies>', // 2
    '  <inbound>', // 3
    '    <base />', // 4
    '    <choose>', // 5
    '      <when condition="@(context.Request.Method == "POST" && context.Request.Url.Path.Contains("<"))">', // 6
    '        <set-header name="x" exists-action="override">', // 7
    '          <value>@(context.Variables.GetValueOrDefault<string>("v"))</value>', // 8
    '          <value>plain &amp; simple</value>', // 9
    '          <value> </value>', // 10
    '        </set-header>', // 11
    '      </when>', // 12
    '    </choose>', // 13
    '    <set-variable name="mixed" value="Hello @(x)" />', // 14
    '  </inbound>', // 15
    '  <outbound>', // 16
    '    <set-body template="liquid">', // 17
    '      {% if body.x %}<root a="1">{{body.x}}</root>{% endif %}', // 18
    '    </set-body>', // 19
    '    <set-body>@{ return "<x/>"; }</set-body>', // 20
    '    <set-body>{"a": "b &amp; c"}</set-body>', // 21
    '  </outbound>', // 22
    '</policies>', // 23
  ].join('\n');
  const doc = parsePolicyDocument(text, 'p.xml');

  test('root, sections and positions', () => {
    assert.equal(doc.kind, 'policies');
    assert.equal(doc.root.name, 'policies');
    assert.deepEqual([doc.root.line, doc.root.col, doc.root.file], [2, 1, 'p.xml']);
    assert.deepEqual(Object.keys(doc.sections), ['inbound', 'outbound']);
    const inbound = elementChildren(doc.sections.inbound!);
    assert.deepEqual(inbound.map((e) => e.name), ['base', 'choose', 'set-variable']);
    assert.deepEqual([inbound[1]!.line, inbound[1]!.col], [5, 5]);
  });

  test('attribute with a raw-quote expression', () => {
    const when = elementChildren(elementChildren(doc.sections.inbound!)[1]!)[0]!;
    const cond = when.attributes.get('condition')!;
    assert.equal(cond.expression?.code, 'context.Request.Method == "POST" && context.Request.Url.Path.Contains("<")');
    assert.equal(cond.raw, `@(${cond.expression!.code})`);
    assert.deepEqual([cond.line, cond.col], [6, 24]);
    assert.deepEqual([cond.expression!.line, cond.expression!.col, cond.expression!.file], [6, 26, 'p.xml']);
  });

  test('element text: expression, plain text with entities, whitespace kept in <value>', () => {
    const setHeader = elementChildren(elementChildren(elementChildren(doc.sections.inbound!)[1]!)[0]!)[0]!;
    const [v1, v2, v3] = elementChildren(setHeader);
    assert.equal(v1!.text?.expression?.code, 'context.Variables.GetValueOrDefault<string>("v")');
    assert.deepEqual([v1!.text!.line, v1!.text!.col], [8, 18]);
    assert.equal(v2!.text?.raw, 'plain & simple');
    assert.equal(v2!.text?.expression, undefined);
    assert.equal(v3!.text?.raw, ' ');
    // whitespace between elements is dropped elsewhere
    assert.ok(setHeader.children.every((c) => c.type === 'element'));
  });

  test('an expression mixed with text is not an expression (APIM does not evaluate it)', () => {
    const v = elementChildren(doc.sections.inbound!)[2]!.attributes.get('value')!;
    assert.equal(v.raw, 'Hello @(x)');
    assert.deepEqual(v.expressions, []);
    assert.equal(v.expression, undefined);
  });

  test('set-body: markup kept verbatim, expression body, JSON body', () => {
    const [liquid, expr, json] = elementChildren(doc.sections.outbound!);
    assert.equal(liquid!.text?.verbatim, true);
    assert.equal(liquid!.text?.raw, '\n      {% if body.x %}<root a="1">{{body.x}}</root>{% endif %}\n    ');
    assert.equal(liquid!.innerXml, liquid!.text?.raw);
    assert.deepEqual(liquid!.children, []);
    assert.equal(liquid!.attributes.get('template')!.raw, 'liquid');
    assert.equal(expr!.text?.expression?.code, ' return "<x/>"; ');
    assert.equal(expr!.text?.expression?.kind, 'block');
    assert.equal(json!.text?.raw, '{"a": "b & c"}');
    assert.equal(json!.innerXml, '{"a": "b &amp; c"}');
  });

  test('expressions list in document order', () => {
    assert.equal(doc.expressions.length, 3);
    assert.ok(doc.expressions.every((e, i) => i === 0 || e.start > doc.expressions[i - 1]!.start));
  });

  test('fragment root', () => {
    const f = parsePolicyDocument('<fragment>\n  <set-variable name="a" value="@(1 < 2)" />\n  <trace source="x"><message>m</message></trace>\n</fragment>');
    assert.equal(f.kind, 'fragment');
    assert.deepEqual(f.policies.map((p) => p.name), ['set-variable', 'trace']);
    assert.deepEqual(f.sections, {});
  });

  test('CDATA text holding an expression', () => {
    const d = parsePolicyDocument('<policies><inbound><set-header name="h"><value><![CDATA[@(a < b && "]" != ")")]]></value></set-header></inbound></policies>');
    const value = elementChildren(elementChildren(d.sections.inbound!)[0]!)[0]!;
    assert.equal(value.text?.expression?.code, 'a < b && "]" != ")"');
    assert.equal(d.expressions.length, 1);
  });

  test('XML declaration and comments before the root are fine', () => {
    const d = parsePolicyDocument('<?xml version="1.0" encoding="utf-8"?>\n<!-- c -->\n<policies><inbound><base/></inbound></policies>\n<!-- trailing -->\n');
    assert.deepEqual([d.root.line, d.root.col], [3, 1]);
  });
});

describe('document: errors with exact positions', () => {
  const cases: Array<[string, string, string[]]> = [
    [
      'unclosed element (closed by an outer closing tag)',
      '<policies>\n  <inbound>\n    <choose>\n      <when condition="@(true)">\n      </when>\n  </inbound>\n</policies>',
      ['6:3: unclosed element "choose" opened at 3:5 (found </inbound>)'],
    ],
    [
      'unclosed elements at the end of the document',
      '<policies>\n  <inbound>\n    <base />\n',
      ['4:1: unclosed element "inbound" opened at 2:3 (also unclosed: "policies" opened at 1:1)'],
    ],
    [
      'several unclosed elements closed by an outer closing tag',
      '<policies>\n  <inbound>\n    <choose>\n      <when condition="@(true)">\n  </inbound>\n</policies>',
      ['5:3: unclosed element "when" opened at 4:7 (also unclosed: "choose" opened at 3:5) (found </inbound>)'],
    ],
    [
      'mismatched (unknown) closing tag',
      '<policies>\n  <inbound>\n    <base />\n  </inbond>\n</policies>',
      ['4:3: unexpected closing tag </inbond> (the open element is "inbound" opened at 2:3)'],
    ],
    ['bad root', '<policy>\n  <inbound/>\n</policy>', ['1:1: root must be <policies> or <fragment> (found <policy>)']],
    [
      'duplicate section',
      '<policies>\n  <inbound><base/></inbound>\n  <outbound/>\n  <inbound/>\n</policies>',
      ['4:3: duplicate section "inbound" (first at 2:3)'],
    ],
    [
      'unknown element in <policies>',
      '<policies>\n  <inbound/>\n  <set-header name="x"/>\n</policies>',
      ['3:3: unexpected element <set-header> in <policies>: only the sections inbound, backend, outbound and on-error are allowed'],
    ],
    ['garbage after the root (text)', '<policies>\n  <inbound/>\n</policies>\nxyz\n', ['4:1: text outside the root element']],
    ['garbage after the root (second root)', '<policies/>\n  <fragment/>', ['2:3: content after the root element: a document has exactly one root element']],
    ['an invalid character', '<policies>\n  <inbound>\u0001</inbound>\n</policies>', ['2:12: invalid character U+0001 (not allowed in XML)']],
    ['undefined entity', '<policies>\n  <inbound a="x &nbsp; y"/>\n</policies>', ['2:22: undefined entity']],
    ['bare & outside an expression', '<policies>\n  <inbound a="x & y"/>\n  <outbound>a && b</outbound>\n</policies>', ['2:17: unescaped "&" (write &amp;)', '3:13: unexpected text in <outbound>: a section holds policies only', '3:15: unescaped "&" (write &amp;)', '3:16: unescaped "&" (write &amp;)']],
    [
      'duplicate <base/>',
      '<policies>\n  <inbound>\n    <base />\n    <base />\n  </inbound>\n</policies>',
      ['4:5: duplicate <base/> in section "inbound" (first at 3:5): <base/> may appear at most once per section'],
    ],
    [
      '<base/> inside choose',
      '<policies>\n  <inbound>\n    <choose>\n      <when condition="@(true)"><base /></when>\n    </choose>\n  </inbound>\n</policies>',
      ['4:33: <base/> is only allowed directly inside a section (found inside <when>)'],
    ],
    ['<base/> in a fragment', '<fragment>\n  <base />\n</fragment>', ['2:3: a fragment cannot contain <base/>']],
    ['a section in a fragment', '<fragment>\n  <inbound/>\n</fragment>', ['2:3: a fragment cannot contain a policy section (<inbound>)']],
    [
      'text after an expression (attribute and element text)',
      '<policies>\n  <inbound>\n    <set-variable name="a" value="@("Hello") world!" />\n    <trace source="t"><message>@(1)\n      tail</message></trace>\n  </inbound>\n</policies>',
      [
        '3:46: text after the expression that starts at 3:35: an expression must be the whole value (APIM does not evaluate an expression mixed with text)',
        '5:7: text after the expression that starts at 4:32: an expression must be the whole value (APIM does not evaluate an expression mixed with text)',
      ],
    ],
    ['empty document', '  \n', ['2:1: empty document: no root element (expected <policies> or <fragment>)']],
    [
      'several problems collected',
      '<policies>\n  <inbound>\n    <a v="@(x"/>\n  </inbound>\n  <inbound/>\n  <foo/>\n</policies>',
      [
        "3:11: unterminated expression: no matching ')' for '@(' before the end of the attribute value",
        '5:3: duplicate section "inbound" (first at 2:3)',
        '6:3: unexpected element <foo> in <policies>: only the sections inbound, backend, outbound and on-error are allowed',
      ],
    ],
  ];
  for (const [name, text, expected] of cases) {
    test(name, () => {
      const ps = problemsOf(text, 'f.xml');
      assert.deepEqual(brief(ps), expected);
      assert.ok(ps.every((p) => p.file === 'f.xml'));
    });
  }

  test('PolicyError message is FILE:LINE:COL: message, one per line', () => {
    try {
      parsePolicyDocument('<policies>\n  <inbound/>\n  <inbound/>\n</policies>', 'dir/api.xml');
      assert.fail('must throw');
    } catch (e) {
      assert.ok(e instanceof PolicyError);
      assert.equal(e.message, 'dir/api.xml:3:3: duplicate section "inbound" (first at 2:3)');
    }
  });
});

// ------------------------------------------------------------------------------------------------
// the corpus
// ------------------------------------------------------------------------------------------------

describe('APIM corpus', () => {
  /** broken upstream (MANIFEST.md): must fail, with a positioned error */
  const BROKEN: Record<string, { reason: string; at: [number, number] }> = {
    'general/api-management-policy-snippets__examples__Call out to an HTTP endpoint and cache the response.policy.xml': {
      reason: 'the rewrite-uri @{...} block was mangled upstream ("latlong=""\\n lat=""…): a regular C# string spans lines',
      at: [41, 73],
    },
    'general/api-management-policy-snippets__examples__Filter response content based on product name.policy.xml': {
      reason: 'an XML comment is opened inside another comment ("--" inside a comment)',
      at: [2, 3],
    },
  };
  const manifest = readFileSync(path.join(CORPUS, 'MANIFEST.md'), 'utf8');
  const files: string[] = [];
  for (const dir of ['mcp-security', 'general']) {
    for (const f of readdirSync(path.join(CORPUS, dir)).sort()) files.push(`${dir}/${f}`);
  }

  test('141 documents, every one parses except the two broken upstream; expression counts match MANIFEST', () => {
    assert.equal(files.length, 141);
    let parsed = 0;
    let total = 0;
    let blocks = 0;
    let docsWithExpr = 0;
    const failures: string[] = [];
    for (const rel of files) {
      const text = readFileSync(path.join(CORPUS, rel), 'utf8');
      const broken = BROKEN[rel];
      let doc: PolicyDocument;
      try {
        doc = parsePolicyDocument(text, rel);
      } catch (e) {
        if (broken && e instanceof PolicyError) {
          const p = e.problems[0]!;
          assert.deepEqual([p.file, p.line, p.col], [rel, ...broken.at], `${rel}: ${broken.reason}\n${e.message}`);
          continue;
        }
        failures.push(`${rel}\n${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      if (broken) {
        failures.push(`${rel} parsed but is broken upstream (${broken.reason})`);
        continue;
      }
      parsed++;
      assert.ok(doc.kind === 'policies' || doc.kind === 'fragment');
      // MANIFEST gives "expr: N @(...)/M @{...}" per document (absent = none)
      const row = manifest.split('\n').find((l) => l.startsWith(`| \`${rel}\``));
      assert.ok(row, `${rel} not in MANIFEST`);
      const m = /expr: (\d+) @\(\.\.\.\)\/(\d+) @\{/.exec(row);
      const want = m ? [Number(m[1]), Number(m[2])] : [0, 0];
      const b = doc.expressions.filter((e) => e.kind === 'block').length;
      assert.deepEqual([doc.expressions.length - b, b], want, `${rel}: expression counts`);
      total += doc.expressions.length;
      blocks += b;
      if (doc.expressions.length > 0) docsWithExpr++;
      // every expression maps back onto the original text exactly, character by character
      const lines = new LineTable(text);
      for (const e of doc.expressions) {
        assert.equal(text[e.start], '@', rel);
        assert.equal(decodeXmlText(text, e.start + 2, e.end - 1), e.code, `${rel}:${e.line}:${e.col}`);
        const p = lines.position(e.start + 2);
        assert.deepEqual([e.line, e.col], [p.line, p.col], rel);
        for (let i = 0; i < e.code.length; i++) {
          const at = e.locate(i);
          const ch = e.code[i]!;
          const orig = text[at.offset]!;
          assert.ok(orig === ch || orig === '&' || (ch === '\n' && orig === '\r'), `${rel}: code[${i}]=${JSON.stringify(ch)} at ${at.line}:${at.col} is ${JSON.stringify(orig)}`);
        }
      }
    }
    assert.deepEqual(failures, []);
    assert.equal(parsed, 139);
    // eslint-disable-next-line no-console
    console.log(`corpus: ${parsed}/141 parse (2 broken upstream fail as expected); ${total} expressions (${total - blocks} @(...), ${blocks} @{...}) in ${docsWithExpr} documents`);
    assert.ok(total > 800 && total < 900, `total ${total}`);
  });

  test('both halves are present and include CRLF, BOM and fragment documents', () => {
    const texts = files.map((f) => readFileSync(path.join(CORPUS, f), 'utf8'));
    assert.ok(texts.some((t) => t.charCodeAt(0) === 0xfeff));
    assert.ok(texts.some((t) => t.includes('\r\n')));
    const fragments = files.filter((f, i) => !BROKEN[f] && parsePolicyDocument(texts[i]!, f).kind === 'fragment');
    assert.equal(fragments.length, 5);
  });
});

// ------------------------------------------------------------------------------------------------
// named values
// ------------------------------------------------------------------------------------------------

describe('named values', () => {
  const values = new Map<string, NamedValue>([
    ['Host', { value: 'api.example.com', secret: false }],
    ['Key', { value: 's3cr3t', secret: true }],
    ['Expr', { value: '@(context.Request.Method == "GET")', secret: false }],
    ['Long', { value: 'a-much-longer-value-than-the-placeholder', secret: false }],
    ['Nested', { value: '{{Host}}', secret: false }],
  ]);
  const lookup = (n: string): NamedValue | undefined => values.get(n);

  test('substitutes in attributes, text and expression string literals; reports unknown names', () => {
    const text = '<a h="https://{{Host}}/x" k="{{Key}}">\n  <v>@($"{{Host}}/{{Missing}}")</v>\n  <!-- {{AlsoMissing}} -->\n  {{ spaced }} {{Nested}}\n</a>';
    const r = substituteNamedValues(text, lookup);
    assert.equal(
      r.text,
      '<a h="https://api.example.com/x" k="s3cr3t">\n  <v>@($"api.example.com/{{Missing}}")</v>\n  <!-- {{AlsoMissing}} -->\n  {{ spaced }} {{Host}}\n</a>',
    );
    assert.deepEqual(r.problems, [{ name: 'Missing', line: 2, col: 19 }]);
    assert.equal(r.secretsUsed, true);
    assert.deepEqual(r.used, ['Host', 'Key', 'Nested']);
  });

  test('positions after a substitution map to the original text', () => {
    const text = '<policies>\n  <inbound>\n    <set-header name="{{Long}}" exists-action="override"><value>@(x == "{{Host}}" && y)</value></set-header>\n    <set-variable name="v" value="@({{Host}}.Length < 3)" name="dup" />\n  </inbound>\n</policies>';
    const doc = (() => {
      try {
        return parsePolicyDocument(text, 'nv.xml', { namedValues: lookup });
      } catch (e) {
        return e as PolicyError;
      }
    })();
    assert.ok(doc instanceof PolicyError);
    // the error in line 4 (a second "name") is reported at its original column
    const line4 = text.split('\n')[3]!;
    assert.deepEqual(brief(doc.problems), [`4:${line4.indexOf('name="dup"') + 1}: duplicate attribute "name"`]);
  });

  test('expressions after substitution: code substituted, positions original', () => {
    const text = '<policies>\n  <inbound>\n    <set-header name="{{Long}}" exists-action="override"><value>@(x == "{{Host}}" && y)</value></set-header>\n  </inbound>\n</policies>';
    const doc = parsePolicyDocument(text, 'nv.xml', { namedValues: lookup });
    const sh = elementChildren(doc.sections.inbound!)[0]!;
    assert.equal(sh.attributes.get('name')!.raw, 'a-much-longer-value-than-the-placeholder');
    const e = elementChildren(sh)[0]!.text!.expression!;
    assert.equal(e.code, 'x == "api.example.com" && y');
    const line3 = text.split('\n')[2]!;
    assert.deepEqual([e.line, e.col], [3, line3.indexOf('@(') + 3]);
    assert.equal(e.start, text.indexOf('@(x'));
    assert.equal(e.end, text.indexOf(')</value>') + 1);
    const y = e.locate(e.code.indexOf('&& y') + 3);
    assert.deepEqual([y.line, y.col], [3, line3.indexOf('&& y') + 4]);
    // inside the inserted value: the placeholder's position
    const inside = e.locate(e.code.indexOf('example'));
    assert.deepEqual([inside.line, inside.col], [3, line3.indexOf('{{Host}}') + 1]);
    assert.deepEqual(doc.namedValuesUsed, ['Long', 'Host']);
    assert.equal(doc.secretsUsed, false);
  });

  test('a named value holding an expression is found by the pre-pass', () => {
    const text = '<policies>\n  <inbound>\n    <choose><when condition="{{Expr}}"><base-x/></when></choose>\n  </inbound>\n</policies>';
    const doc = parsePolicyDocument(text, undefined, { namedValues: lookup });
    const when = elementChildren(elementChildren(doc.sections.inbound!)[0]!)[0]!;
    const cond = when.attributes.get('condition')!;
    assert.equal(cond.expression?.code, 'context.Request.Method == "GET"');
    assert.deepEqual([cond.expression!.line, cond.expression!.col], [3, text.split('\n')[2]!.indexOf('{{Expr}}') + 1]);
  });

  test('unknown named values are load-time errors with positions; secrets flagged', () => {
    const ps = (() => {
      try {
        parsePolicyDocument('<policies>\n  <inbound>\n    <set-header name="a"><value>{{Key}}-{{Nope}}</value></set-header>\n  </inbound>\n</policies>', 'x.xml', { namedValues: lookup });
      } catch (e) {
        return (e as PolicyError).problems;
      }
      return [];
    })();
    assert.deepEqual(brief(ps), ['3:41: unknown named value "{{Nope}}"']);
    const ok = parsePolicyDocument('<policies><inbound><set-header name="a"><value>{{Key}}</value></set-header></inbound></policies>', 'x.xml', { namedValues: lookup });
    assert.equal(ok.secretsUsed, true);
  });

  test('values with XML-special characters come out exactly (attribute, text, inside expression code)', () => {
    const special = new Map<string, NamedValue>([
      ['Pw', { value: `p&ss<w>"o'rd`, secret: true }],
      ['InCode', { value: `a&&b<c>'d`, secret: false }],
    ]);
    const text = '<policies><inbound><set-header name="{{Pw}}"><value>{{Pw}}</value></set-header><set-variable name="v" value="@("{{InCode}}".Length)"/></inbound></policies>';
    const doc = parsePolicyDocument(text, undefined, { namedValues: (n) => special.get(n) });
    const [sh, sv] = elementChildren(doc.sections.inbound!);
    assert.equal(sh!.attributes.get('name')!.raw, `p&ss<w>"o'rd`);
    assert.equal(elementChildren(sh!)[0]!.text?.raw, `p&ss<w>"o'rd`);
    assert.equal(sv!.attributes.get('value')!.expression?.code, `"a&&b<c>'d".Length`);
    assert.equal(doc.secretsUsed, true);
  });

  test('Liquid bodies: unknown {{x}} left alone, known names substituted', () => {
    const text = '<policies><outbound><set-body template="liquid">{{body.name}} at {{Host}}</set-body></outbound></policies>';
    const doc = parsePolicyDocument(text, undefined, { namedValues: lookup });
    assert.equal(elementChildren(doc.sections.outbound!)[0]!.text?.raw, '{{body.name}} at api.example.com');
  });
});

// ------------------------------------------------------------------------------------------------
// composition
// ------------------------------------------------------------------------------------------------

describe('scopes, <base/> and fragments', () => {
  const P = (body: string, file?: string): PolicyDocument => parsePolicyDocument(`<policies>${body}</policies>`, file);

  test('apim.md §12.2 example: cross-domain, then the broader scope, then find-and-replace', () => {
    const global = P('<inbound><ip-filter action="allow"><address>1.2.3.4</address></ip-filter></inbound>', 'global.xml');
    const api = P('<inbound>\n<cross-domain />\n<base />\n<find-and-replace from="xyz" to="abc" />\n</inbound>', 'api.xml');
    const eff = composeScopes([
      { scope: 'global', doc: global },
      { scope: 'api', doc: api },
    ]);
    assert.deepEqual(names(eff.inbound), ['api:cross-domain', 'global:ip-filter', 'api:find-and-replace']);
  });

  test('a section without <base/> cuts inheritance; an omitted section inherits; missing documents inherit', () => {
    const global = P('<inbound><g1/></inbound><outbound><g2/></outbound><on-error><g3/></on-error>');
    const product = P('<inbound><p1/></inbound>'); // no base: cuts global inbound
    const eff = composeScopes([
      { scope: 'global', doc: global },
      { scope: 'product', doc: product },
      { scope: 'api', doc: undefined },
      { scope: 'operation', doc: P('') },
    ]);
    assert.deepEqual(names(eff.inbound), ['product:p1']);
    assert.deepEqual(names(eff.outbound), ['global:g2']);
    assert.deepEqual(names(eff['on-error']), ['global:g3']);
  });

  test('<base/> at global scope is a no-op', () => {
    const eff = composeScopes([{ scope: 'global', doc: P('<inbound><base/><a/></inbound>') }]);
    assert.deepEqual(names(eff.inbound), ['global:a']);
  });

  test('three scopes: the flat order', () => {
    const eff = composeScopes([
      { scope: 'global', doc: P('<inbound><g/></inbound><outbound><g-out/></outbound>') },
      { scope: 'product', doc: P('<inbound><p-before/><base/><p-after/></inbound><outbound><base/><p-out/></outbound>') },
      { scope: 'api', doc: P('<inbound><a-before/><base/><a-after/></inbound><outbound><a-out/><base/></outbound>') },
    ]);
    assert.deepEqual(names(eff.inbound), ['api:a-before', 'product:p-before', 'global:g', 'product:p-after', 'api:a-after']);
    assert.deepEqual(names(eff.outbound), ['api:a-out', 'global:g-out', 'product:p-out']);
  });

  test('four scopes from fixture files, with fragments expanded first', () => {
    const load = (f: string): PolicyDocument => parsePolicyDocument(fixture(`scopes/${f}`), `scopes/${f}`);
    const fragments = new Map([
      ['auth', load('fragment-auth.xml')],
      ['log', load('fragment-log.xml')],
    ]);
    const eff: EffectivePolicy = composeScopes([
      { scope: 'global', doc: expandFragments(load('global.xml'), fragments) },
      { scope: 'product', doc: expandFragments(load('product.xml'), fragments) },
      { scope: 'api', doc: expandFragments(load('api.xml'), fragments) },
      { scope: 'operation', doc: expandFragments(load('operation.xml'), fragments) },
    ]);
    assert.deepEqual(names(eff.inbound), [
      'operation:set-variable(op-first)',
      'product:rate-limit',
      'global:set-header(x-global)',
      'product:set-variable(product)',
      'api:check-header(Authorization)',
      'api:trace',
      'api:set-variable(api)',
      'operation:set-variable(op-last)',
    ]);
    // the fragment's elements keep their own file and position
    const trace = eff.inbound[5]!.element;
    assert.deepEqual([trace.file, trace.line, trace.col], ['scopes/fragment-log.xml', 2, 5]);
    assert.equal(elementChildren(trace)[0]!.text?.expression?.code, '$"called {context.Operation.Name}"');
    assert.deepEqual(names(eff.backend), ['operation:retry']);
    assert.deepEqual(names(eff.outbound), ['api:set-header(x-api-out)', 'global:set-header(x-global-out)', 'product:set-header(x-product-out)']);
    assert.deepEqual(names(eff['on-error']), ['api:set-header(x-api-err)']);
    assert.ok(Object.values(eff).flat().every((e) => e.section !== undefined));
  });

  test('backend: implicit forward-request when no scope supplies a backend section', () => {
    const eff = composeScopes([
      { scope: 'global', doc: P('<inbound/>') },
      { scope: 'api', doc: undefined },
    ]);
    assert.equal(eff.backend.length, 1);
    assert.equal(eff.backend[0]!.element.name, 'forward-request');
    assert.equal(eff.backend[0]!.implicit, true);
    assert.equal(eff.backend[0]!.scope, 'global');
    assert.deepEqual(names(composeScopes([]).backend), ['global:forward-request']);
    // <backend><base/></backend> everywhere: still the built-in forward-request
    const based = composeScopes([
      { scope: 'global', doc: P('<backend><base/></backend>') },
      { scope: 'api', doc: P('<backend><base/></backend>') },
    ]);
    assert.equal(based.backend[0]!.implicit, true);
    // an explicit empty backend cuts it
    assert.deepEqual(composeScopes([{ scope: 'api', doc: P('<backend></backend>') }]).backend, []);
  });

  test('backend: one element per scope (<base/> counts as one)', () => {
    const ok = composeScopes([
      { scope: 'global', doc: P('<backend><forward-request timeout="10"/></backend>') },
      { scope: 'api', doc: P('<backend><base/></backend>') },
    ]);
    assert.deepEqual(names(ok.backend), ['global:forward-request']);
    assert.throws(
      () => composeScopes([{ scope: 'api', doc: P('<backend>\n  <base/>\n  <forward-request/>\n</backend>', 'api.xml') }]),
      (e: unknown) => {
        assert.ok(e instanceof PolicyError);
        assert.deepEqual(brief(e.problems), ['3:3: the backend section can contain only one policy element (found <forward-request> after <base> at 2:3)']);
        assert.equal(e.problems[0]!.file, 'api.xml');
        return true;
      },
    );
  });

  test('scopes must be ordered broad to narrow', () => {
    assert.throws(() => composeScopes([{ scope: 'api', doc: undefined }, { scope: 'global', doc: undefined }]), PolicyError);
  });

  test('fragments: expansion at any depth, unknown id, recursion', () => {
    const frag = (body: string, file: string): PolicyDocument => parsePolicyDocument(`<fragment>${body}</fragment>`, file);
    const fragments = new Map([
      ['a', frag('<a1/><include-fragment fragment-id="b"/>', 'a.xml')],
      ['b', frag('<b1/>', 'b.xml')],
      ['loop1', frag('<l1/><include-fragment fragment-id="loop2"/>', 'loop1.xml')],
      ['loop2', frag('\n<include-fragment fragment-id="loop1"/>', 'loop2.xml')],
    ]);
    const doc = P('<inbound><choose><when condition="@(true)"><include-fragment fragment-id="a"/></when></choose><include-fragment fragment-id="b"/></inbound>');
    const out = expandFragments(doc, fragments);
    const inbound = elementChildren(out.sections.inbound!);
    assert.deepEqual(inbound.map((e) => e.name), ['choose', 'b1']);
    assert.deepEqual(elementChildren(elementChildren(inbound[0]!)[0]!).map((e) => e.name), ['a1', 'b1']);
    // the input is untouched
    assert.equal(elementChildren(doc.sections.inbound!)[1]!.name, 'include-fragment');

    assert.throws(
      () => expandFragments(P('<inbound>\n  <include-fragment fragment-id="nope"/>\n</inbound>', 'p.xml'), fragments),
      (e: unknown) => e instanceof PolicyError && brief(e.problems).join() === '2:3: unknown policy fragment "nope"' && e.problems[0]!.file === 'p.xml',
    );
    assert.throws(
      () => expandFragments(P('<inbound><include-fragment fragment-id="loop1"/></inbound>'), fragments),
      (e: unknown) => {
        assert.ok(e instanceof PolicyError);
        assert.deepEqual(brief(e.problems), ['2:1: fragment recursion: "loop1" → "loop2" → "loop1"']);
        assert.equal(e.problems[0]!.file, 'loop2.xml');
        return true;
      },
    );
    assert.throws(() => expandFragments(P('<inbound><include-fragment/></inbound>'), fragments), /requires a fragment-id/);
  });

  test('the corpus oauth-proxy documents expand with their fragments', () => {
    const dir = path.join(CORPUS, 'mcp-security');
    const prefix = 'api-management-policy-snippets__examples__oauth-proxy__';
    const load = (f: string): PolicyDocument => parsePolicyDocument(readFileSync(path.join(dir, prefix + f + '.xml'), 'utf8'), f);
    const fragments = new Map<string, PolicyDocument>();
    for (const id of ['construct-authorization-redirect', 'session', 'slide-session', 'token-endpoint', 'validate-token']) {
      const f = `oauth-proxy-${id}-fragment`;
      fragments.set(f, load(f));
    }
    const includes = (el: PolicyElement): string[] =>
      el.name === 'include-fragment' ? [el.attributes.get('fragment-id')!.raw] : elementChildren(el).flatMap(includes);
    for (const [name, id] of [
      ['oauth-proxy-callback', 'oauth-proxy-token-endpoint-fragment'],
      ['oauth-proxy-sign-in', 'oauth-proxy-construct-authorization-redirect-fragment'],
    ] as const) {
      const doc = load(name);
      assert.deepEqual(includes(doc.root), [id]);
      const out = expandFragments(doc, fragments);
      assert.deepEqual(includes(out.root), []);
      const fromFragment = (el: PolicyElement): number => (el.file === id ? 1 : 0) + elementChildren(el).reduce((n, c) => n + fromFragment(c), 0);
      assert.ok(fromFragment(out.root) >= fragments.get(id)!.policies.length, name);
      assert.throws(() => expandFragments(doc, new Map()), new RegExp(`unknown policy fragment "${id}"`));
    }
  });
});
