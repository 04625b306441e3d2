/**
 * Hostile expressions: sandbox escapes and resource exhaustion. Each must fail cleanly — a load-time
 * EXPR_UNSUPPORTED/EXPR_SYNTAX, or EXPR_LIMIT (or a clean EXPR_RUNTIME) at evaluation — never hang, never crash
 * the process, and fast.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileExpression, createExpressionContext, DEFAULT_LIMITS, ExpressionError, type Limits } from '../src/expressions/index.js';

const FAST_MS = 200;

type Outcome = 'load' | 'limit' | 'runtime' | 'value';

function run(code: string, kind: 'expression' | 'block', limits?: Limits): { outcome: Outcome; err?: ExpressionError; value?: unknown; ms: number } {
  const t0 = performance.now();
  try {
    let compiled;
    try {
      compiled = compileExpression(code, kind, { line: 1, col: 1 });
    } catch (e) {
      assert.ok(e instanceof ExpressionError, `load failure must be an ExpressionError, got ${String(e)}`);
      return { outcome: 'load', err: e, ms: performance.now() - t0 };
    }
    const ctx = createExpressionContext({ request: { body: '{"a":1}' } });
    try {
      const value = compiled.evaluate(ctx, limits);
      return { outcome: 'value', value, ms: performance.now() - t0 };
    } catch (e) {
      assert.ok(e instanceof ExpressionError, `evaluation failure must be an ExpressionError, got ${String(e)}`);
      return { outcome: e.code === 'EXPR_LIMIT' ? 'limit' : 'runtime', err: e, ms: performance.now() - t0 };
    }
  } finally {
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype must not be polluted');
  }
}

interface Hostile {
  name: string;
  code: string;
  kind?: 'expression' | 'block';
  limits?: Limits;
  /** allowed outcomes */
  expect: Outcome[];
  /** for load failures: the error code */
  loadCode?: Array<ExpressionError['code']>;
  msg?: RegExp;
}

const CASES: Hostile[] = [
  // ------------------------------------------------------------ reaching JS internals / the host
  { name: 'context.constructor', code: 'context.constructor', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: '"".constructor', code: '"".constructor', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'constructor of a constructor', code: '"".constructor.constructor("return process")()', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: '__proto__ on context', code: 'context.__proto__', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: '__proto__ on a JObject', code: 'new JObject().__proto__', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'prototype', code: 'context.Request.prototype', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'toString.call', code: 'toString.call(context)', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'hasOwnProperty', code: 'context.Request.hasOwnProperty("method")', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'valueOf', code: '"x".valueOf()', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'JS field names of the host objects', code: 'context.request.method', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'process', code: 'process.exit(1)', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'globalThis', code: 'globalThis.process', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'require', code: 'require("fs")', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'eval', code: 'eval("1")', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'import', code: 'import("fs")', expect: ['load'], loadCode: ['EXPR_SYNTAX', 'EXPR_UNSUPPORTED'] },
  { name: 'System.Environment', code: 'System.Environment.GetEnvironmentVariable("HOME")', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'], msg: /environment/ },
  { name: 'System.Diagnostics.Process', code: 'System.Diagnostics.Process.Start("sh")', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'System.IO.File', code: 'System.IO.File.ReadAllText("/etc/passwd")', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'HttpClient', code: 'new HttpClient().GetStringAsync("http://169.254.169.254/")', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'reflection via GetType', code: '"".GetType().Assembly', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'reflection via Type.GetType', code: 'Type.GetType("System.IO.File")', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'typeof', code: 'typeof(System.IO.File)', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'Activator', code: 'Activator.CreateInstance(null)', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'dynamic', code: 'dynamic d = context; return d.request;', kind: 'block', expect: ['load'], loadCode: ['EXPR_UNSUPPORTED'] },
  { name: 'indexing the context', code: 'context["request"]', expect: ['load'], loadCode: ['EXPR_SYNTAX', 'EXPR_UNSUPPORTED'] },
  { name: 'assigning Variables', code: 'context.Variables["x"] = "y"; return 1;', kind: 'block', expect: ['load'], loadCode: ['EXPR_SYNTAX'] },
  { name: '__proto__ header name is just a missing key', code: 'context.Request.Headers["__proto__"]', expect: ['runtime'] },
  { name: '__proto__ variable is just a missing key', code: 'context.Variables["constructor"]', expect: ['runtime'] },
  { name: '__proto__ JSON key stays data', code: 'JObject.Parse("{\\"__proto__\\":{\\"polluted\\":1}}")["__proto__"]["polluted"].ToString()', expect: ['value'] },
  { name: 'JSON keys named constructor', code: 'new JObject { ["constructor"] = 1, ["__proto__"] = 2 }.ToString(Formatting.None)', expect: ['value'] },
  { name: 'dictionary keys named __proto__', code: 'var d = new Dictionary<string, string> { { "__proto__", "x" } }; return d["__proto__"] + d.ContainsKey("constructor");', kind: 'block', expect: ['value'] },
  { name: 'anonymous member named constructor', code: 'new { constructor = 1 }.constructor', expect: ['value', 'load'] },
  // ------------------------------------------------------------ unbounded work
  { name: 'while(true)', code: 'while (true) { }', kind: 'block', expect: ['limit'], msg: /steps/ },
  { name: 'for(;;) with a body', code: 'var i = 0; for (;;) { i++; }', kind: 'block', expect: ['limit'] },
  { name: 'do-while true', code: 'do { } while (true);', kind: 'block', expect: ['limit'] },
  { name: 'try/catch cannot swallow a limit', code: 'while (true) { try { while (true) { } } catch (Exception) { } catch { } }', kind: 'block', expect: ['limit'] },
  { name: 'finally cannot swallow a limit', code: 'var n = 0; try { while (true) { n++; } } finally { n = 0; } return n;', kind: 'block', expect: ['limit'] },
  { name: 'huge foreach (range)', code: 'var n = 0; foreach (var i in Enumerable.Range(0, 100000000)) { n++; } return n;', kind: 'block', expect: ['limit'] },
  { name: 'nested foreach', code: 'var n = 0; foreach (var a in new int[90000]) { foreach (var b in new int[90000]) { n++; } } return n;', kind: 'block', expect: ['limit'] },
  { name: 'LINQ over a huge range', code: 'Enumerable.Range(0, 99999).Select(x => Enumerable.Range(0, 99999).Count()).Sum()', expect: ['limit'] },
  { name: 'wall clock with a generous step budget', code: 'var s = 0; while (true) { s++; }', kind: 'block', limits: { ...DEFAULT_LIMITS, maxSteps: 1e12, maxMillis: 30 }, expect: ['limit'], msg: /time/ },
  { name: 'hashing megabytes in a loop', code: 'var b = new byte[90000]; var h = SHA256.Create(); while (true) { h.ComputeHash(b); }', kind: 'block', expect: ['limit'] },
  // ------------------------------------------------------------ memory
  { name: 'exponential string doubling', code: 'var s = "a"; for (int i = 0; i < 100; i++) { s = s + s; } return s.Length;', kind: 'block', expect: ['limit'], msg: /string longer/ },
  { name: 'string += in a loop', code: 'var s = ""; while (true) { s += "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; }', kind: 'block', expect: ['limit'] },
  { name: '10 MB string via PadLeft', code: '"".PadLeft(10000000).Length', expect: ['limit'], msg: /string longer/ },
  { name: '10 MB string via new string', code: 'new string(\'x\', 10000000)', expect: ['limit'] },
  { name: 'Replace amplification', code: 'var s = "".PadLeft(100000, \'a\'); return s.Replace("a", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb").Length;', kind: 'block', expect: ['limit'] },
  { name: 'interpolation amplification', code: 'var s = "".PadLeft(600000); return $"{s}{s}";', kind: 'block', expect: ['limit'] },
  { name: 'string.Join amplification', code: 'string.Join("".PadLeft(100000), Enumerable.Range(0, 50))', expect: ['limit'] },
  { name: 'StringBuilder growth', code: 'var sb = new StringBuilder(); while (true) { sb.Append("".PadLeft(1000)); }', kind: 'block', expect: ['limit'] },
  { name: 'many large strings kept alive', code: 'var l = new List<string>(); while (true) { l.Add("".PadLeft(1000000)); }', kind: 'block', expect: ['limit'], msg: /allocated more than/ },
  { name: 'many large arrays kept alive', code: 'var l = new List<int[]>(); while (true) { l.Add(new int[90000]); }', kind: 'block', expect: ['limit'] },
  { name: 'huge array', code: 'new int[100000000].Length', expect: ['limit'] },
  { name: 'huge byte array', code: 'new byte[1000000000].Length', expect: ['limit'] },
  { name: 'list growth', code: 'var l = new List<int>(); while (true) { l.Add(1); }', kind: 'block', expect: ['limit'] },
  { name: 'JArray growth', code: 'var a = new JArray(); while (true) { a.Add(1); }', kind: 'block', expect: ['limit'] },
  { name: 'Enumerable.Repeat', code: 'Enumerable.Repeat("x", 100000000).Count()', expect: ['limit'] },
  { name: 'split into millions of pieces', code: '"".PadLeft(900000, \',\').Split(\',\').Length', expect: ['limit'] },
  { name: 'JSON serialization growth', code: 'var o = new JObject(); var s = "".PadLeft(200000); for (int i = 0; i < 20; i++) { o["k" + i] = s; } return o.ToString();', kind: 'block', expect: ['limit'] },
  // ------------------------------------------------------------ recursion and nesting
  { name: 'deep parenthesis nesting', code: '('.repeat(20000) + '1' + ')'.repeat(20000), expect: ['load'], loadCode: ['EXPR_LIMIT'] },
  { name: 'deep unary nesting', code: '!'.repeat(50000) + 'true', expect: ['load'], loadCode: ['EXPR_LIMIT'] },
  { name: 'deep block nesting', code: '{'.repeat(20000) + '}'.repeat(20000) + ' return 1;', kind: 'block', expect: ['load'], loadCode: ['EXPR_LIMIT'] },
  { name: 'long binary chain', code: Array.from({ length: 20000 }, () => '1').join(' + '), expect: ['value', 'load'] },
  { name: 'long member chain', code: '"x"' + '.Trim()'.repeat(5000), expect: ['value', 'load'] },
  { name: 'deep interpolation nesting', code: '$"{'.repeat(400) + '1' + '}"'.repeat(400), expect: ['load'], loadCode: ['EXPR_LIMIT', 'EXPR_SYNTAX'] },
  { name: 'unbounded local function recursion', code: 'int F(int n) { return F(n + 1); } return F(0);', kind: 'block', expect: ['limit'], msg: /depth/ },
  { name: 'mutual recursion', code: 'int A(int n) => B(n); int B(int n) => A(n); return A(1);', kind: 'block', expect: ['limit'] },
  { name: 'nested lambdas', code: 'Enumerable.Range(0, 10).Select(a => Enumerable.Range(0, 10).Select(b => Enumerable.Range(0, 10).Select(c => a + b + c).Sum()).Sum()).Sum()', expect: ['value'] },
  { name: 'deeply nested JSON input', code: 'JToken.Parse("' + '['.repeat(100000) + ']'.repeat(100000) + '").ToString()', expect: ['runtime', 'limit'], msg: /MaxDepth|longer|steps/ },
  { name: 'deep JSON built by code', code: 'JToken a = new JArray(); for (int i = 0; i < 5000; i++) { var b = new JArray(); b.Add(a); a = b; } return a.ToString();', kind: 'block', expect: ['limit', 'runtime'] },
  // ------------------------------------------------------------ regular expressions
  { name: 'catastrophic regex (a+)+$', code: 'Regex.IsMatch("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "(a+)+$")', expect: ['value'] },
  { name: 'catastrophic regex on a long input', code: 'Regex.IsMatch("".PadLeft(50000, \'a\') + "!", "(a+)+$")', expect: ['value', 'limit'] },
  { name: 'catastrophic regex (a|aa)*b', code: 'Regex.Match("".PadLeft(5000, \'a\'), "(a|aa)*b").Success', expect: ['value', 'limit'] },
  { name: 'nested counted repetition', code: 'Regex.IsMatch("a", "((a{1000}){1000}){1000}")', expect: ['runtime', 'load'] },
  { name: 'huge regex pattern', code: 'Regex.IsMatch("a", "".PadLeft(100000, \'a\'))', expect: ['runtime'] },
  { name: 'backreference', code: 'Regex.IsMatch("aa", @"(a)\\1")', expect: ['runtime'], msg: /backreferences/ },
  { name: 'regex replace in a loop', code: 'var s = "".PadLeft(20000, \'a\'); while (true) { s = Regex.Replace(s, "a", "a"); }', kind: 'block', expect: ['limit'] },
];

for (const c of CASES) {
  test(`hostile: ${c.name}`, () => {
    const r = run(c.code, c.kind ?? 'expression', c.limits);
    assert.ok(c.expect.includes(r.outcome), `outcome ${r.outcome} (${r.err?.message ?? String(r.value)}) not in ${c.expect.join('/')}`);
    if (r.outcome === 'load' && c.loadCode) assert.ok(c.loadCode.includes(r.err?.code as ExpressionError['code']), `load error ${r.err?.code}: ${r.err?.message}`);
    if (c.msg && r.err) assert.match(r.err.message, c.msg);
    assert.ok(r.ms < FAST_MS, `took ${r.ms.toFixed(1)} ms`);
  });
}

test('hostile: the process and its prototypes are intact after all of the above', () => {
  assert.equal(typeof process.exit, 'function');
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal((Object.prototype as Record<string, unknown>).constructor, Object);
});

test('hostile: a breach inside one evaluation does not affect the next one', () => {
  const e = compileExpression('var n = 0; while (n < context.Variables.GetValueOrDefault<int>("max")) { n++; } return n;', 'block', { line: 1, col: 1 });
  const big = createExpressionContext({ variables: { max: 10_000_000 } });
  assert.throws(() => e.evaluate(big), (err: unknown) => err instanceof ExpressionError && err.code === 'EXPR_LIMIT');
  assert.equal(e.evaluate(createExpressionContext({ variables: { max: 10 } })), 10);
});

test('hostile: limits are configurable per evaluation', () => {
  const e = compileExpression('var s = 0; for (int i = 0; i < 1000; i++) { s += i; } return s;', 'block', { line: 1, col: 1 });
  assert.equal(e.evaluate(createExpressionContext()), 499500);
  assert.throws(() => e.evaluate(createExpressionContext(), { ...DEFAULT_LIMITS, maxSteps: 100 }), /steps/);
  const s = compileExpression('"".PadLeft(2000)', 'expression', { line: 1, col: 1 });
  assert.throws(() => s.evaluate(createExpressionContext(), { ...DEFAULT_LIMITS, maxStringLength: 1000 }), /string longer/);
  const d = compileExpression('int F(int n) => n == 0 ? 0 : 1 + F(n - 1); return F(30);', 'block', { line: 1, col: 1 });
  assert.equal(d.evaluate(createExpressionContext()), 30);
  assert.throws(() => d.evaluate(createExpressionContext(), { ...DEFAULT_LIMITS, maxDepth: 10 }), /depth/);
  const c = compileExpression('new int[5000].Length', 'expression', { line: 1, col: 1 });
  assert.throws(() => c.evaluate(createExpressionContext(), { ...DEFAULT_LIMITS, maxCollectionSize: 1000 }), /collection larger/);
});
