/**
 * The expression engine (src/expressions): a table of APIM policy expressions with their C# results, runtime
 * errors and load-time errors (with exact positions), then a few API-level tests (reads, limits, context mutation).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, createHmac, createPrivateKey, sign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  compileExpression, createExpressionContext, DEFAULT_LIMITS, ExpressionError, JObject, JArray, AuthorizationInfo, GroupInfo,
  ResponseInfo, formatResult, type ExpressionContext, type ExpressionContextInit,
} from '../src/expressions/index.js';

function b64url(s: string): string {
  return Buffer.from(s).toString('base64url');
}
function jwt(payload: Record<string, unknown>, header: Record<string, unknown> = { alg: 'RS256', typ: 'JWT' }): string {
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}.c2lnbmF0dXJl`;
}

const TOKEN = jwt({ sub: 'user-1', iss: 'https://issuer.example/', aud: ['api://a', 'api://b'], exp: 1700000000, iat: 1699990000, nbf: 1699990000, jti: 'id-9', roles: ['reader', 'writer'], tid: 'tenant', admin: true, n: 3 });
const AES_KEY = Buffer.alloc(32, 7);
const AES_IV = Buffer.alloc(16, 3);
const CIPHER = (() => {
  const c = createCipheriv('aes-256-cbc', AES_KEY, AES_IV);
  return Buffer.concat([c.update('secret text'), c.final()]).toString('base64');
})();

// compiled to dist/test/: the fixtures stay in the source tree
const FIX = fileURLToPath(new URL('../../test/fixtures/expressions/', import.meta.url));
const PFX_LEGACY = readFileSync(FIX + 'legacy-pw.pfx').toString('base64');
const PFX_MODERN = readFileSync(FIX + 'modern-empty.pfx').toString('base64');
const CERT = new X509Certificate(readFileSync(FIX + 'cert.pem'));
const SIG = sign('sha256', Buffer.from('hello'), createPrivateKey(readFileSync(FIX + 'key.pem'))).toString('base64');
const THUMB = CERT.fingerprint.replace(/:/g, '');

function baseInit(): ExpressionContextInit {
  return {
    request: {
      method: 'POST',
      url: 'https://api.example.com:8443/mcp/tools?x=1&x=2&name=J%C3%B6rg',
      originalUrl: 'https://public.example.com/weather/mcp?x=1',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', 'X-Multi': ['a', 'b'], Cookie: 'sid=abc; theme=dark' },
      body: '{"model":"gpt-4o","stream":false,"n":2,"ratio":0.5,"tags":["x","y"],"nested":{"a":{"b":"deep"}},"nothing":null}',
      ipAddress: '203.0.113.7',
      matchedParameters: { id: '42' },
    },
    response: { statusCode: 429, statusReason: 'Too Many Requests', headers: { 'Retry-After': '10' }, body: '[1,2,3]' },
    variables: {
      str: 'hello',
      num: 5,
      dbl: 2.5,
      flag: true,
      nothing: null,
      big: 9000000000,
      csv: 'a,b,,c',
      token: TOKEN,
      auth: new AuthorizationInfo('access-123', { scope: 'read' }),
      resp: new ResponseInfo({ statusCode: 201, body: '{"id":"r1"}', headers: { Location: '/x/1' } }),
      pfxLegacy: PFX_LEGACY,
      pfxModern: PFX_MODERN,
      certDer: CERT.raw.toString('base64'),
    },
    api: { id: 'weather-api', name: 'Weather', path: 'weather', version: 'v1' },
    operation: { id: 'get-forecast', method: 'GET', name: 'Get forecast', urlTemplate: '/forecast/{id}' },
    subscription: { id: 'sub-1', key: 'k-1', name: 'Gold' },
    user: { id: 'u-1', email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' },
    deployment: { region: 'West Europe', serviceName: 'gatehouse' },
    lastError: { source: 'validate-jwt', reason: 'TokenExpired', message: 'expired', scope: 'api', section: 'inbound', path: 'choose[1]', policyId: 'p1' },
    requestId: '0f8fad5b-d9cb-469f-a165-70867728950e',
    timestamp: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
    mcp: { method: 'tools/call', toolName: 'get_weather', sessionId: 's-1', protocolVersion: '2025-11-25', arguments: { city: 'Lisbon', days: 3, units: ['C'] } },
  };
}

function ctxOf(extra?: (c: ExpressionContext) => void): ExpressionContext {
  const c = createExpressionContext(baseInit());
  c.variables.set('jobj', new JObject());
  c.variables.set('list', new JArray());
  extra?.(c);
  return c;
}

interface Case {
  code: string;
  kind?: 'expression' | 'block';
  ctx?: (c: ExpressionContext) => void;
  expect?: unknown;
  /** compare the C# string form of the result */
  str?: string;
  throws?: { code: ExpressionError['code']; line?: number; col?: number; msg?: RegExp; type?: string };
  check?: (v: unknown) => void;
}

const CASES: Case[] = [
  // ---------------------------------------------------------------- literals
  { code: '42', expect: 42 },
  { code: '0x1F', expect: 31 },
  { code: '1_000_000', expect: 1000000 },
  { code: '3000000000', expect: 3000000000 },
  { code: '10L * 3', expect: 30 },
  { code: '1.5', expect: 1.5 },
  { code: '2.5f + 1', expect: 3.5 },
  { code: '1e3', expect: 1000 },
  { code: '1.25m * 2', expect: 2.5 },
  { code: '"tab\\there"', expect: 'tab\there' },
  { code: '"quote \\" and \\\\ backslash"', expect: 'quote " and \\ backslash' },
  { code: '"\\u0041\\x42"', expect: 'AB' },
  { code: '@"C:\\path\\""quoted"""', expect: 'C:\\path\\"quoted"' },
  { code: '@"two\nlines"', expect: 'two\nlines' },
  { code: "'x'", expect: 'x' },
  { code: "'\\n' == '\\n'", expect: true },
  { code: 'true', expect: true },
  { code: 'null', expect: null },
  { code: '$"a{1 + 2}b"', expect: 'a3b' },
  { code: '$"{{literal}} {"x"}"', expect: '{literal} x' },
  { code: '$"[{42,5}][{"ab",-4}]"', expect: '[   42][ab  ]' },
  { code: '$"{3.14159:F2} {42:D5} {255:X} {1234567.891:N2}"', expect: '3.14 00042 FF 1,234,567.89' },
  { code: '$@"C:\\{"dir"}\\file"', expect: 'C:\\dir\\file' },
  { code: '@$"say ""{1}"""', expect: 'say "1"' },
  { code: '$"outer {$"inner {1 + 1}"} done"', expect: 'outer inner 2 done' },
  { code: '$"{(true ? "yes" : "no")}"', expect: 'yes' },
  { code: '$"{context.Timestamp:yyyy-MM-ddTHH:mm:ss.fffZ}"', expect: '2024-01-02T03:04:05.678Z' },

  // ---------------------------------------------------------------- arithmetic and precedence
  { code: '1 + 2 * 3', expect: 7 },
  { code: '(1 + 2) * 3', expect: 9 },
  { code: '7 / 2', expect: 3 },
  { code: '-7 / 2', expect: -3 },
  { code: '7 % 3', expect: 1 },
  { code: '-7 % 3', expect: -1 },
  { code: '7.0 / 2', expect: 3.5 },
  { code: '7 / 2.0', expect: 3.5 },
  { code: '(double)7 / 2', expect: 3.5 },
  { code: '1 / 2 * 2', expect: 0 },
  { code: 'int.MaxValue + 1', expect: -2147483648 },
  { code: '2147483647L + 1', expect: 2147483648 },
  { code: '-(-5)', expect: 5 },
  { code: '10 - 2 - 3', expect: 5 },
  { code: '1 << 4 | 1', expect: 17 },
  { code: '0xF0 & 0x3C ^ 0x01', expect: 0x31 },
  { code: '~0', expect: -1 },
  { code: '5 / 0', throws: { code: 'EXPR_SYNTAX', msg: /division by constant zero/ } },
  { code: 'var z = 0; return 5 / z;', kind: 'block', throws: { code: 'EXPR_RUNTIME', type: 'DivideByZeroException', line: 1, col: 21 } },
  { code: '1.0 / 0', check: (v) => assert.equal(v, Infinity) },
  { code: "'a' + 1", expect: 98 },
  { code: "(char)('a' + 1)", expect: 'b' },
  { code: '(int)3.99', expect: 3 },
  { code: '(int)-3.99', expect: -3 },
  { code: '(long)1e10', expect: 10000000000 },
  { code: '(byte)300', expect: 44 },

  // ---------------------------------------------------------------- strings and C# ToString
  { code: 'null + "a"', expect: 'a' },
  { code: '"a" + null', expect: 'a' },
  { code: '"a" + 1 + 2', expect: 'a12' },
  { code: '1 + 2 + "a"', expect: '3a' },
  { code: '"v=" + true', expect: 'v=True' },
  { code: 'false.ToString()', expect: 'False' },
  { code: '"d=" + 1.0', expect: 'd=1' },
  { code: '(0.1 + 0.2).ToString()', expect: '0.30000000000000004' },
  { code: '1e21.ToString()', expect: '1E+21' },
  { code: '0.00001.ToString()', expect: '1E-05' },
  { code: '123456789012345.0.ToString()', expect: '123456789012345' },
  { code: "\"x\" + 'y'", expect: 'xy' },
  { code: '"n=" + context.Variables["num"]', expect: 'n=5' },
  { code: '"a" == "a"', expect: true },
  { code: '"a" == "A"', expect: false },
  { code: '"abc" != null', expect: true },
  { code: '(string)null == null', expect: true },
  { code: 'context.Variables["str"] == "hello"', expect: true },
  { code: '"Hello".Length', expect: 5 },
  { code: '"Hello"[1]', expect: 'e' },
  { code: '"Hello".Substring(1)', expect: 'ello' },
  { code: '"Hello".Substring(1, 3)', expect: 'ell' },
  { code: '"Hello".Substring(3, 5)', throws: { code: 'EXPR_RUNTIME', type: 'ArgumentOutOfRangeException', col: 9 } },
  { code: '"Hello".IndexOf("l")', expect: 2 },
  { code: "\"Hello\".IndexOf('l', 3)", expect: 3 },
  { code: '"Hello".LastIndexOf("l")', expect: 3 },
  { code: '"Hello".IndexOf("z")', expect: -1 },
  { code: '"Hello".Contains("ell")', expect: true },
  { code: '"Hello".Contains("ELL")', expect: false },
  { code: '"Hello".StartsWith("He")', expect: true },
  { code: '"Hello".StartsWith("he", StringComparison.OrdinalIgnoreCase)', expect: true },
  { code: '"Hello".EndsWith("lo")', expect: true },
  { code: '"a;b;c".Split(\';\').Length', expect: 3 },
  { code: '"a;b, c".Split(\';\', \',\')[2]', expect: ' c' },
  { code: '"a,,b".Split(new[] { \',\' }, StringSplitOptions.RemoveEmptyEntries).Length', expect: 2 },
  { code: '"model/x/y".Split(new[] { "model/" }, 2, StringSplitOptions.None)[1]', expect: 'x/y' },
  { code: '"k=v=w".Split(new char[] { \'=\' }, 2)[1]', expect: 'v=w' },
  { code: '"a b  c".Split(null).Length', expect: 4 },
  { code: 'string.Join("|", "x y".Split(\' \'))', expect: 'x|y' },
  { code: '"  pad  ".Trim()', expect: 'pad' },
  { code: '"//x//".TrimStart(\'/\')', expect: 'x//' },
  { code: '"abc===".TrimEnd(\'=\')', expect: 'abc' },
  { code: '"MiXeD".ToLower() + "MiXeD".ToUpperInvariant()', expect: 'mixedMIXED' },
  { code: '"a-b-c".Replace("-", "+")', expect: 'a+b+c' },
  { code: "\"a-b\".Replace('-', '_')", expect: 'a_b' },
  { code: '"a-b".Replace("-", null)', expect: 'ab' },
  { code: '"7".PadLeft(3, \'0\') + "|" + "7".PadRight(3) + "|"', expect: '007|7  |' },
  { code: '"abc".Equals("ABC", StringComparison.OrdinalIgnoreCase)', expect: true },
  { code: 'string.Equals("a", "A")', expect: false },
  { code: 'string.IsNullOrEmpty("") && string.IsNullOrEmpty(null) && !string.IsNullOrEmpty(" ")', expect: true },
  { code: 'string.IsNullOrWhiteSpace("  \\t")', expect: true },
  { code: 'string.Join(",", new[] { 1, 2, 3 })', expect: '1,2,3' },
  { code: 'string.Join("-", "a", "b", "c")', expect: 'a-b-c' },
  { code: 'string.Format("{0}-{1:D3}-{0}", "x", 7)', expect: 'x-007-x' },
  { code: 'String.Format("[{0,4}]", 12)', expect: '[  12]' },
  { code: 'string.Format("{2}", 1)', throws: { code: 'EXPR_RUNTIME', type: 'FormatException' } },
  { code: 'string.Concat("a", 1, true)', expect: 'a1True' },
  { code: 'string.Compare("a", "b") < 0', expect: true },
  { code: 'String.Empty.Length', expect: 0 },
  { code: 'new string(\'x\', 3)', expect: 'xxx' },
  { code: '"abc".ToCharArray().Length', expect: 3 },
  { code: '"abcdef".Insert(3, "-").Remove(0, 1)', expect: 'bc-def' },
  { code: '"hello world".Substring(6).ToUpper()', expect: 'WORLD' },

  // ---------------------------------------------------------------- logic, conditional, null handling
  { code: 'true && !false', expect: true },
  { code: 'false && ((string)null).Length > 0', expect: false },
  { code: 'true || ((string)null).Length > 0', expect: true },
  { code: '3 > 2 ? "yes" : "no"', expect: 'yes' },
  { code: '(string)context.Variables["nothing"] ?? "fallback"', expect: 'fallback' },
  { code: 'context.Variables.GetValueOrDefault<string>("missing") ?? "dflt"', expect: 'dflt' },
  { code: '((string)null)?.Length', expect: null },
  { code: '((string)null)?.Length ?? -1', expect: -1 },
  { code: '"abc"?.ToUpper()', expect: 'ABC' },
  { code: '((string)null)?.Trim().ToUpper()', expect: null },
  { code: '((string[])null)?[0]', expect: null },
  { code: 'new[] { "a", "b" }?[1]', expect: 'b' },
  { code: '((string)null).Length', throws: { code: 'EXPR_RUNTIME', type: 'NullReferenceException', line: 1, col: 16 } },
  { code: 'context.Product.Name', ctx: (c) => (c.product = null), throws: { code: 'EXPR_RUNTIME', type: 'NullReferenceException', col: 17 } },
  { code: 'context.Product?.Name ?? "none"', ctx: (c) => (c.product = null), expect: 'none' },
  { code: 'var s = (string)null; s ??= "set"; return s;', kind: 'block', expect: 'set' },
  { code: 'int? maybe = null; return maybe.HasValue ? maybe.Value : -1;', kind: 'block', expect: -1 },
  { code: 'int? maybe = 5; return (maybe ?? 0) + maybe.Value + maybe.GetValueOrDefault();', kind: 'block', expect: 15 },
  { code: 'context.Variables.GetValueOrDefault<int?>("missing") == null', expect: true },
  { code: 'int? none = null; return none.Value;', kind: 'block', throws: { code: 'EXPR_RUNTIME', type: 'InvalidOperationException', col: 31 } },
  { code: 'context.User.Groups.Select(g => g.Id).Contains("admins")', ctx: (c) => { if (c.user) c.user.groups = [new GroupInfo('admins', 'Admins')]; }, expect: true },

  // ---------------------------------------------------------------- casts, is, as
  { code: '(string)context.Variables["str"]', expect: 'hello' },
  { code: '(int)context.Variables["num"] * 2', expect: 10 },
  { code: '(double)context.Variables["dbl"]', expect: 2.5 },
  { code: '(long)context.Variables["big"]', expect: 9000000000 },
  { code: '(bool)context.Variables["flag"]', expect: true },
  { code: '(int)context.Variables["str"]', throws: { code: 'EXPR_RUNTIME', type: 'InvalidCastException', col: 1 } },
  { code: '(int)context.Variables["dbl"]', throws: { code: 'EXPR_RUNTIME', type: 'InvalidCastException' } },
  { code: '(string)context.Variables["num"]', throws: { code: 'EXPR_RUNTIME', type: 'InvalidCastException' } },
  { code: '(int)context.Variables["nothing"]', throws: { code: 'EXPR_RUNTIME', type: 'NullReferenceException' } },
  { code: '((Authorization)context.Variables["auth"]).AccessToken', expect: 'access-123' },
  { code: '((Authorization)context.Variables.GetValueOrDefault("missing"))?.AccessToken', expect: null },
  { code: '((IResponse)context.Variables["resp"]).StatusCode', expect: 201 },
  { code: '((IResponse)context.Variables["resp"]).Body.As<JObject>()["id"].ToString()', expect: 'r1' },
  { code: '((IResponse)context.Variables["resp"]).Headers.GetValueOrDefault("location")', expect: '/x/1' },
  { code: '(JObject)context.Variables["str"]', throws: { code: 'EXPR_RUNTIME', type: 'InvalidCastException', msg: /System.String.*JObject/ } },
  { code: 'context.Variables["str"] is string', expect: true },
  { code: 'context.Variables["num"] is int', expect: true },
  { code: 'context.Variables["str"] is int', expect: false },
  { code: 'context.Variables["nothing"] is null', expect: true },
  { code: 'context.Variables["str"] is not null', expect: true },
  { code: '(context.Variables["str"] as string)?.Length', expect: 5 },
  { code: 'context.Variables["num"] as string', expect: null },
  { code: 'if (context.Variables["str"] is string s) { return s.ToUpper(); } return "";', kind: 'block', expect: 'HELLO' },
  { code: '(string[])new[] { "x" }', check: (v) => assert.deepEqual(v, ['x']) },
  { code: '((IEnumerable<string>)"a,b".Split(\',\')).Count()', expect: 2 },

  // ---------------------------------------------------------------- statements
  { code: 'var x = 1; x += 2; x *= 3; x -= 1; x /= 2; x %= 3; return x;', kind: 'block', expect: 1 },
  { code: 'int i = 0; i++; ++i; i--; return i;', kind: 'block', expect: 1 },
  { code: 'var i = 5; var j = i++; return j * 10 + i;', kind: 'block', expect: 56 },
  { code: 'string s = "a"; s += "b"; s += 1; return s;', kind: 'block', expect: 'ab1' },
  { code: 'int flags = 1; flags |= 4; flags &= 5; flags ^= 1; return flags;', kind: 'block', expect: 4 },
  { code: 'if (context.Request.Method == "GET") { return 1; } else if (context.Request.Method == "POST") { return 2; } else { return 3; }', kind: 'block', expect: 2 },
  { code: 'if (true) return "a"; return "b";', kind: 'block', expect: 'a' },
  { code: 'var sum = 0; for (int i = 1; i <= 10; i++) { if (i % 2 == 0) continue; sum += i; } return sum;', kind: 'block', expect: 25 },
  { code: 'var n = 0; while (true) { n++; if (n == 7) break; } return n;', kind: 'block', expect: 7 },
  { code: 'var n = 0; do { n += 2; } while (n < 5); return n;', kind: 'block', expect: 6 },
  { code: 'var parts = new List<string>(); foreach (var p in "a,b,c".Split(\',\')) { parts.Add(p.ToUpper()); } return string.Join("", parts);', kind: 'block', expect: 'ABC' },
  { code: 'var s = ""; foreach (var h in context.Request.Headers) { if (h.Key.StartsWith("X-")) s += h.Key + "=" + string.Join("+", h.Value); } return s;', kind: 'block', expect: 'X-Multi=a+b' },
  { code: 'var keys = ""; foreach (var p in context.Request.Body.As<JObject>(true).Properties()) { keys += p.Name[0]; } return keys;', kind: 'block', expect: 'msnrtnn' },
  { code: 'var total = 0; foreach (JToken t in context.Request.Body.As<JObject>(true)["tags"]) { total += t.ToString().Length; } return total;', kind: 'block', expect: 2 },
  { code: 'switch (context.Request.Method) { case "GET": return "read"; case "POST": case "PUT": return "write"; default: return "other"; }', kind: 'block', expect: 'write' },
  { code: 'var r = ""; switch (3) { case 1: r = "one"; break; default: r = "many"; break; } return r;', kind: 'block', expect: 'many' },
  { code: 'try { return int.Parse("x"); } catch (FormatException) { return -1; }', kind: 'block', expect: -1 },
  { code: 'try { return JObject.Parse("{bad").ToString(); } catch (Exception ex) { return ex.Message.Substring(0, 7); }', kind: 'block', expect: 'Invalid' },
  { code: 'try { throw new InvalidOperationException("boom"); } catch (ArgumentException) { return "arg"; } catch (Exception e) { return e.Message; }', kind: 'block', expect: 'boom' },
  { code: 'var log = ""; try { log += "t"; } finally { log += "f"; } return log;', kind: 'block', expect: 'tf' },
  { code: 'try { var x = 1; } catch { return 0; } return 1;', kind: 'block', expect: 1 },
  { code: 'throw new Exception("custom failure");', kind: 'block', throws: { code: 'EXPR_RUNTIME', type: 'Exception', msg: /custom failure/, col: 1 } },
  { code: 'var v = (string)context.Variables["nothing"] ?? throw new ArgumentException("v missing"); return v;', kind: 'block', throws: { code: 'EXPR_RUNTIME', type: 'ArgumentException' } },
  { code: 'int Twice(int x) { return x * 2; } return Twice(21);', kind: 'block', expect: 42 },
  { code: 'int Fact(int n) => n <= 1 ? 1 : n * Fact(n - 1); return Fact(10);', kind: 'block', expect: 3628800 },
  { code: 'var count = 0; void Bump() { count++; } Bump(); Bump(); return count;', kind: 'block', expect: 2 },
  { code: 'using (var sha = SHA256.Create()) { return sha.ComputeHash(Encoding.UTF8.GetBytes("a")).Length; }', kind: 'block', expect: 32 },
  { code: 'const int Limit = 60 * 20; return Limit;', kind: 'block', expect: 1200 },
  { code: 'byte[] a, b; a = new byte[2]; b = new byte[3]; return a.Length + b.Length;', kind: 'block', expect: 5 },
  { code: 'unchecked { var b = (byte)(258); return b; }', kind: 'block', expect: 2 },

  // ---------------------------------------------------------------- LINQ and collections
  { code: 'new[] { 1, 2, 3 }.Any(x => x > 2)', expect: true },
  { code: 'new[] { 1, 2, 3 }.All(x => x > 2)', expect: false },
  { code: 'new int[0].Any()', expect: false },
  { code: 'string.Join(",", new[] { 1, 2, 3, 4 }.Where(x => x % 2 == 0))', expect: '2,4' },
  { code: 'string.Join(",", new[] { "a", "b" }.Select(s => s.ToUpper()))', expect: 'A,B' },
  { code: 'string.Join(",", new[] { "a", "b" }.Select((s, i) => s + i))', expect: 'a0,b1' },
  { code: 'new[] { "a", "bb" }.FirstOrDefault(s => s.Length > 1)', expect: 'bb' },
  { code: 'new[] { "a", "bb" }.FirstOrDefault(s => s.Length > 5)', expect: null },
  { code: 'new[] { 1, 2 }.FirstOrDefault(x => x > 5)', expect: 0 },
  { code: 'new[] { 1, 2 }.First(x => x > 5)', throws: { code: 'EXPR_RUNTIME', type: 'InvalidOperationException', msg: /no matching element/ } },
  { code: 'new string[0].First()', throws: { code: 'EXPR_RUNTIME', type: 'InvalidOperationException', msg: /no elements/ } },
  { code: 'new[] { 3, 1, 2 }.Last()', expect: 2 },
  { code: 'new[] { 1, 2, 3 }.Count(x => x != 2)', expect: 2 },
  { code: 'new[] { "x", "y" }.Contains("y")', expect: true },
  { code: 'new[] { "post", "put" }.Contains("POST", StringComparer.OrdinalIgnoreCase)', expect: true },
  { code: 'new[] { 1, 2 }.Concat(new[] { 3 }).ToArray().Length', expect: 3 },
  { code: 'string.Join("", new[] { "b", "c", "a" }.OrderBy(s => s))', expect: 'abc' },
  { code: 'string.Join("", new[] { "b", "c", "a" }.OrderByDescending(s => s))', expect: 'cba' },
  { code: 'new[] { 1, 1, 2, 2, 3 }.Distinct().Count()', expect: 3 },
  { code: 'new[] { 1, 2, 3 }.Sum()', expect: 6 },
  { code: 'new[] { "a", "bbb" }.Sum(s => s.Length)', expect: 4 },
  { code: 'new[] { 4, 9, 2 }.Max() - new[] { 4, 9, 2 }.Min()', expect: 7 },
  { code: 'new[] { 1, 2, 3, 4 }.Skip(1).Take(2).Sum()', expect: 5 },
  { code: 'new[] { "a" }.SingleOrDefault(s => s == "z") ?? "none"', expect: 'none' },
  { code: 'new[] { 1, 2, 3 }.Aggregate((a, b) => a * b)', expect: 6 },
  { code: 'string.Join(",", new[] { "bb", "a", "ab", "b" }.OrderBy(s => s.Length).ThenByDescending(s => s))', expect: 'b,a,bb,ab' },
  { code: 'string.Join(";", new[] { "apple", "avocado", "banana" }.GroupBy(s => s[0]).Select(g => g.Key + "=" + g.Count()))', expect: 'a=2;b=1' },
  { code: 'new[] { 1, 2 }.ThenBy(x => x)', throws: { code: 'EXPR_RUNTIME', type: 'InvalidOperationException' } },
  { code: 'new[] { 1, 2, 3 }.ToList().Count', expect: 3 },
  { code: 'var l = new List<int> { 3, 1 }; l.Add(2); l.Sort(); return string.Join(",", l);', kind: 'block', expect: '1,2,3' },
  { code: 'var l = new List<string>(); l.Add("x"); l.Insert(0, "w"); l.Remove("x"); return l.Count + l[0];', kind: 'block', expect: '1w' },
  { code: 'var d = new Dictionary<string, int> { { "a", 1 }, { "b", 2 } }; d["c"] = 3; return d.Count + d["b"];', kind: 'block', expect: 5 },
  { code: 'var d = new Dictionary<string, string>(); return d["missing"];', kind: 'block', throws: { code: 'EXPR_RUNTIME', type: 'KeyNotFoundException', col: 51 } },
  { code: 'var d = new Dictionary<string, string> { ["k"] = "v" }; return d.TryGetValue("k", out var v) ? v : "none";', kind: 'block', expect: 'v' },
  { code: 'var d = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { { "Key", "v" } }; return d.ContainsKey("KEY");', kind: 'block', expect: true },
  { code: 'var d = new Dictionary<string, int> { { "a", 1 } }; var s = 0; foreach (var kv in d) { s += kv.Value; } return s + d.Keys.Count;', kind: 'block', expect: 2 },
  { code: 'new Dictionary<string, string>().GetValueOrDefault("x", "d")', expect: 'd' },
  { code: 'var a = new int[3]; a[1] = 5; return a[1] + a.Length;', kind: 'block', expect: 8 },
  { code: 'new[] { 1 }[3]', throws: { code: 'EXPR_RUNTIME', type: 'IndexOutOfRangeException' } },
  { code: 'Array.Exists(new[] { "a", "b" }, e => e == "b")', expect: true },
  { code: 'var src = new byte[] { 1, 2, 3 }; var dst = new byte[5]; Array.Copy(src, 0, dst, 2, 3); return dst[4];', kind: 'block', expect: 3 },
  { code: 'string.Concat(Enumerable.Range(1, 3))', expect: '123' },
  { code: 'new[] { "x", null }.Where(s => s != null).Count()', expect: 1 },

  // ---------------------------------------------------------------- new
  { code: 'new JObject(new JProperty("a", 1), new JProperty("b", "x")).ToString(Formatting.None)', expect: '{"a":1,"b":"x"}' },
  { code: 'new JObject { ["a"] = "x", ["n"] = 1.5 }.ToString(Newtonsoft.Json.Formatting.None)', expect: '{"a":"x","n":1.5}' },
  { code: 'new JObject() { { "name", "n" }, { "ok", false }, { "w", 2 } }.ToString(Formatting.None)', expect: '{"name":"n","ok":false,"w":2}' },
  { code: 'new JObject(new JProperty("t", Math.Round(21.04, 1))).ToString(Formatting.None)', expect: '{"t":21.0}' },
  { code: 'new JArray(new[] { "a", "b" }).ToString(Formatting.None)', expect: '["a","b"]' },
  { code: 'new JArray(1, "two", true, null).ToString(Formatting.None)', expect: '[1,"two",true,null]' },
  { code: 'new JProperty("list", new[] { 1, 2 }).Value.ToString(Formatting.None)', expect: '[1,2]' },
  { code: 'new string[] { "a", "b" }.Length', expect: 2 },
  { code: 'new[] { 1, 2.5 }[0]', expect: 1 },
  { code: 'new DateTime(2024, 2, 29).AddYears(1).ToString("yyyy-MM-dd")', expect: '2025-02-28' },
  { code: 'new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc).ToString("o")', expect: '2024-01-02T03:04:05.0000000Z' },
  { code: 'new TimeSpan(1, 2, 3).TotalSeconds', expect: 3723 },
  { code: 'new TimeSpan(2, 1, 0, 0).ToString()', expect: '2.01:00:00' },
  { code: 'new Uri("https://Example.com:8443/a/b?q=1#f").Host', expect: 'example.com' },
  { code: 'new Uri("https://example.com/a/b?q=1").AbsolutePath + new Uri("https://example.com/a/b?q=1").Query', expect: '/a/b?q=1' },
  { code: 'new Uri("https://example.com").Port', expect: 443 },
  { code: 'new Uri("not a uri")', throws: { code: 'EXPR_RUNTIME', type: 'UriFormatException' } },
  { code: 'JsonConvert.SerializeObject(new { resource = "r", n = 1, list = new[] { "a" }, inner = new { ok = true } })', expect: '{"resource":"r","n":1,"list":["a"],"inner":{"ok":true}}' },
  { code: 'var exp = 5L; var name = "x"; return JsonConvert.SerializeObject(new { exp, name });', kind: 'block', expect: '{"exp":5,"name":"x"}' },
  { code: 'new { a = 1, b = "x" }.b', expect: 'x' },
  { code: 'new StringBuilder().Append("a").Append(1).AppendLine().Append(true).ToString()', expect: 'a1\nTrue' },

  // ---------------------------------------------------------------- context
  { code: 'context.Request.Method', expect: 'POST' },
  { code: 'context.Request.Url.Host', expect: 'api.example.com' },
  { code: 'context.Request.Url.Port', expect: 8443 },
  { code: 'context.Request.Url.Path', expect: '/mcp/tools' },
  { code: 'context.Request.Url.Scheme', expect: 'https' },
  { code: 'context.Request.Url.QueryString', expect: '?x=1&x=2&name=J%C3%B6rg' },
  { code: 'context.Request.Url.Query.GetValueOrDefault("x", "")', expect: '1,2' },
  { code: 'context.Request.Url.Query.GetValueOrDefault("name", "")', expect: 'Jörg' },
  { code: 'context.Request.Url.Query.GetValueOrDefault("missing", "dflt")', expect: 'dflt' },
  { code: 'context.Request.Url.ToString()', expect: 'https://api.example.com:8443/mcp/tools?x=1&x=2&name=J%C3%B6rg' },
  { code: 'context.Request.OriginalUrl.Host + context.Request.OriginalUrl.Path', expect: 'public.example.com/weather/mcp' },
  { code: 'context.Request.Headers.GetValueOrDefault("content-type", "")', expect: 'application/json' },
  { code: 'context.Request.Headers.GetValueOrDefault("X-MULTI")', expect: 'a,b' },
  { code: 'context.Request.Headers.GetValueOrDefault("Missing")', expect: null },
  { code: 'context.Request.Headers.GetValueOrDefault("Missing", "none")', expect: 'none' },
  { code: 'context.Request.Headers.ContainsKey("authorization")', expect: true },
  { code: 'context.Request.Headers["X-Multi"][1]', expect: 'b' },
  { code: 'context.Request.Headers["Nope"][0]', throws: { code: 'EXPR_RUNTIME', type: 'KeyNotFoundException', col: 24 } },
  { code: 'string[] v; return context.Request.Headers.TryGetValue("X-Multi", out v) ? v.Length : 0;', kind: 'block', expect: 2 },
  { code: 'context.Request.Headers.Count', expect: 4 },
  { code: 'context.Request.IpAddress', expect: '203.0.113.7' },
  { code: 'context.Request.MatchedParameters["id"]', expect: '42' },
  { code: 'context.Request.MatchedParameters.GetValueOrDefault("nope", "d")', expect: 'd' },
  { code: 'context.Request.Body.As<string>(preserveContent: true).Length > 10', expect: true },
  { code: 'context.Request.Body.As<JObject>(preserveContent: true)["model"].ToString()', expect: 'gpt-4o' },
  { code: '(string)context.Request.Body.As<JObject>(true)["nested"]["a"]["b"]', expect: 'deep' },
  { code: 'context.Request.Body.As<JObject>(true)["missing"] == null', expect: true },
  { code: 'context.Request.Body.As<JObject>(true)["nothing"] == null', expect: false },
  { code: 'context.Request.Body.As<JObject>(true)["nothing"].Type == JTokenType.Null', expect: true },
  { code: 'context.Request.Body.As<JObject>(true)["missing"]?.ToString() ?? "none"', expect: 'none' },
  { code: 'var first = context.Request.Body.As<string>(); var second = context.Request.Body.As<string>(); return first.Length + ":" + second.Length;', kind: 'block', expect: '111:0' },
  { code: 'var a = context.Request.Body.As<JObject>(preserveContent: true); var b = context.Request.Body.As<JObject>(preserveContent: true); return b["n"].Value<int>();', kind: 'block', expect: 2 },
  { code: 'context.Request.Body.As<JArray>()', throws: { code: 'EXPR_RUNTIME', type: 'JsonReaderException' } },
  { code: 'context.Request.Body.As<byte[]>(true).Length', expect: 111 },
  { code: 'context.Request.Body?.As<JObject>(true)', ctx: (c) => (c.request.body = null), expect: null },
  { code: 'context.Response.StatusCode == 429 || context.Response.StatusCode >= 500', expect: true },
  { code: 'context.Response.StatusReason', expect: 'Too Many Requests' },
  { code: 'context.Response.Headers.GetValueOrDefault("Retry-After", "0")', expect: '10' },
  { code: 'context.Response.Body.As<JArray>(preserveContent: true).Count', expect: 3 },
  { code: 'context.Variables.ContainsKey("str")', expect: true },
  { code: 'context.Variables["missing"]', throws: { code: 'EXPR_RUNTIME', type: 'KeyNotFoundException', col: 18 } },
  { code: 'context.Variables.GetValueOrDefault<string>("str")', expect: 'hello' },
  { code: 'context.Variables.GetValueOrDefault<int>("missing")', expect: 0 },
  { code: 'context.Variables.GetValueOrDefault<int>("missing", 7)', expect: 7 },
  { code: 'context.Variables.GetValueOrDefault<int>("str")', throws: { code: 'EXPR_RUNTIME', type: 'InvalidCastException' } },
  { code: 'context.Variables.GetValueOrDefault("missing")', expect: null },
  { code: 'context.Variables.GetValueOrDefault("missing", "x").Length', expect: 1 },
  { code: 'context.Variables.GetValueOrDefault<bool>("flag")', expect: true },
  { code: 'object o; return context.Variables.TryGetValue("num", out o) ? o : null;', kind: 'block', expect: 5 },
  { code: 'context.Api.Name + "/" + context.Api.Path + "/" + context.Api.Id', expect: 'Weather/weather/weather-api' },
  { code: 'context.Operation.Method + " " + context.Operation.UrlTemplate', expect: 'GET /forecast/{id}' },
  { code: 'context.Subscription.Id + context.Subscription.Name', expect: 'sub-1Gold' },
  { code: 'context.User.Email', expect: 'ada@example.com' },
  { code: 'context.Deployment.Region.Equals("west europe", StringComparison.InvariantCultureIgnoreCase)', expect: true },
  { code: 'context.LastError.Source + ":" + context.LastError.Reason + ":" + context.LastError.Path + ":" + context.LastError.PolicyId', expect: 'validate-jwt:TokenExpired:choose[1]:p1' },
  { code: 'context.RequestId.ToString()', expect: '0f8fad5b-d9cb-469f-a165-70867728950e' },
  { code: 'context.Timestamp.ToString("o")', expect: '2024-01-02T03:04:05.6780000Z' },
  { code: 'context.Elapsed.TotalMilliseconds >= 0', expect: true },
  { code: 'context.Mcp.ToolName + "@" + context.Mcp.Method', expect: 'get_weather@tools/call' },
  { code: 'context.Mcp.Arguments["city"].ToString() + context.Mcp.Arguments.Value<int>("days")', expect: 'Lisbon3' },
  { code: 'context.Mcp.SessionId + context.Mcp.ProtocolVersion', expect: 's-12025-11-25' },
  { code: 'context.Trace("hello"); return context.Tracing;', kind: 'block', expect: false },

  // ---------------------------------------------------------------- JWT and basic
  { code: 'context.Request.Headers.GetValueOrDefault("Authorization", "").AsJwt()?.Subject', expect: 'user-1' },
  { code: '((string)context.Variables["token"]).AsJwt().Issuer', expect: 'https://issuer.example/' },
  { code: 'string.Join(" ", ((string)context.Variables["token"]).AsJwt().Audiences)', expect: 'api://a api://b' },
  { code: '((string)context.Variables["token"]).AsJwt().Claims.GetValueOrDefault("roles", "")', expect: 'reader,writer' },
  { code: '((string)context.Variables["token"]).AsJwt().Claims["roles"][1]', expect: 'writer' },
  { code: '((string)context.Variables["token"]).AsJwt().Claims.GetValueOrDefault("missing", "none")', expect: 'none' },
  { code: '((string)context.Variables["token"]).AsJwt().Claims.GetValueOrDefault("tid", new string[] { "" })[0]', expect: 'tenant' },
  { code: '((string)context.Variables["token"]).AsJwt().Claims.GetValueOrDefault("admin", "")', expect: 'true' },
  { code: '((string)context.Variables["token"]).AsJwt().Claims.ContainsKey("n")', expect: true },
  { code: '((string)context.Variables["token"]).AsJwt().ExpirationTime.Value.ToString("o")', expect: '2023-11-14T22:13:20.0000000Z' },
  { code: '((string)context.Variables["token"]).AsJwt().Algorithm + ((string)context.Variables["token"]).AsJwt().Type + ((string)context.Variables["token"]).AsJwt().Id', expect: 'RS256JWTid-9' },
  { code: '"not-a-jwt".AsJwt() == null', expect: true },
  { code: 'Jwt jwt; return ((string)context.Variables["token"]).TryParseJwt(out jwt) ? jwt.Subject : "bad";', kind: 'block', expect: 'user-1' },
  { code: 'return "x.y".TryParseJwt(out var j) ? "ok" : "bad:" + (j == null);', kind: 'block', expect: 'bad:True' },
  { code: 'if (context.Request.Headers.GetValueOrDefault("Authorization", "").TryParseJwt(out Jwt t)) { return t.Claims.GetValueOrDefault("n", "?"); } return "none";', kind: 'block', expect: '3' },
  { code: '"Basic dXNlcjpwYXNz".AsBasic().UserId + ":" + "Basic dXNlcjpwYXNz".AsBasic().Password', expect: 'user:pass' },
  { code: 'context.Request.Headers.GetValueOrDefault("Nope").AsBasic() == null', expect: true },
  { code: 'BasicCredentials b; return "Basic Zm9vOmJhcg==".TryParseBasic(out b) ? b.Password : "";', kind: 'block', expect: 'bar' },

  // ---------------------------------------------------------------- JSON
  { code: 'JObject.Parse("{\\"a\\":{\\"b\\":[1,2]}}")["a"]["b"][1].Value<int>()', expect: 2 },
  { code: 'JObject.Parse("{\\"a\\":1}").ToString()', expect: '{\n  "a": 1\n}' },
  { code: 'JObject.Parse("{\\"a\\":[],\\"b\\":{}}").ToString()', expect: '{\n  "a": [],\n  "b": {}\n}' },
  { code: 'JToken.Parse("[1.0, 2.50, \\"s\\"]").ToString(Formatting.None)', expect: '[1.0,2.5,"s"]' },
  { code: 'JObject.Parse("{\\"s\\":\\"line\\\\nbreak \\\\\\"q\\\\\\" <tag>\\"}").ToString(Formatting.None)', expect: '{"s":"line\\nbreak \\"q\\" <tag>"}' },
  { code: 'JObject.Parse("[1]")', throws: { code: 'EXPR_RUNTIME', type: 'JsonReaderException', msg: /not an object/ } },
  { code: 'JObject.Parse("{\\"a\\":1}").Value<string>("a")', expect: '1' },
  { code: 'JObject.Parse("{\\"a\\":\\"5\\"}").Value<int>("a")', expect: 5 },
  { code: 'JObject.Parse("{}").Value<int>("missing")', expect: 0 },
  { code: '(string)JObject.Parse("{\\"a\\":true}")["a"]', expect: 'True' },
  { code: '(int)JObject.Parse("{\\"a\\":\\"x\\"}")["a"]', throws: { code: 'EXPR_RUNTIME', type: 'FormatException' } },
  { code: '(string)JObject.Parse("{\\"a\\":{}}")["a"]', throws: { code: 'EXPR_RUNTIME', type: 'ArgumentException', msg: /Can not convert Object to String/ } },
  { code: '(bool)JObject.Parse("{\\"a\\":false}")["a"]', expect: false },
  { code: '(string)JObject.Parse("{\\"a\\":null}")["a"]', expect: null },
  { code: 'var o = new JObject(); o["a"] = "x"; o["b"] = 2; o["c"] = null; o["a"] = "y"; return o.ToString(Formatting.None);', kind: 'block', expect: '{"a":"y","b":2,"c":null}' },
  { code: 'var o = new JObject(); o.Add("a", 1); o.Add("a", 2); return 0;', kind: 'block', throws: { code: 'EXPR_RUNTIME', type: 'ArgumentException', msg: /same name already exists/ } },
  { code: 'var src = JObject.Parse("{\\"x\\":[1]}"); var dst = new JObject(); dst["copy"] = src["x"]; ((JArray)dst["copy"]).Add(2); return src.ToString(Formatting.None) + dst.ToString(Formatting.None);', kind: 'block', expect: '{"x":[1]}{"copy":[1,2]}' },
  { code: 'var o = JObject.Parse("{\\"a\\":1,\\"b\\":2}"); o.Property("a").Remove(); o.Remove("zz"); return o.ToString(Formatting.None) + o.Count;', kind: 'block', expect: '{"b":2}1' },
  { code: 'var o = JObject.Parse("{\\"a\\":1}"); return o.ContainsKey("a") && !o.ContainsKey("b");', kind: 'block', expect: true },
  { code: 'JObject.Parse("{\\"a\\":{\\"b\\":[{\\"c\\":7}]}}").SelectToken("a.b[0].c").ToString()', expect: '7' },
  { code: 'JObject.Parse("{\\"a\\":1}").SelectToken("$.missing") == null', expect: true },
  { code: 'JObject.Parse("{\\"a\\":[1,2,3]}")["a"].Children().Count()', expect: 3 },
  { code: 'JObject.Parse("{\\"a\\":[1,2,3]}")["a"].Values<int>().Sum()', expect: 6 },
  { code: 'JObject.Parse("{\\"a\\":[\\"x\\",\\"y\\"]}")["a"].ToObject<string[]>()[1]', expect: 'y' },
  { code: 'JObject.Parse("{\\"a\\":[]}")["a"]?.ToObject<JArray>().Count', expect: 0 },
  { code: 'JObject.Parse("{\\"a\\":[]}")["a"].HasValues', expect: false },
  { code: 'JObject.Parse("{\\"m\\":[{\\"c\\":\\"x\\"},{\\"c\\":\\"y\\"}]}")["m"].Select(m => m.Value<string>("c")).ToArray().Length', expect: 2 },
  { code: '((JArray)JObject.Parse("{\\"cats\\":[{\\"k\\":\\"Hate\\",\\"s\\":4}]}")["cats"]).FirstOrDefault(c => (string)c["k"] == "Hate")["s"].Value<int>()', expect: 4 },
  { code: 'JObject.Parse("{\\"a\\":1}")["a"]["b"]', throws: { code: 'EXPR_RUNTIME', type: 'InvalidOperationException', msg: /JValue/ } },
  { code: 'JsonConvert.SerializeObject("a\\"b")', expect: '"a\\"b"' },
  { code: 'JsonConvert.SerializeObject(new JArray(1, 2))', expect: '[1,2]' },
  { code: 'JsonConvert.SerializeObject(new { d = 2.0 })', expect: '{"d":2.0}' },
  { code: 'JsonConvert.SerializeObject(new { a = 1 }, Formatting.Indented)', expect: '{\n  "a": 1\n}' },
  { code: '((JObject)JsonConvert.DeserializeObject("{\\"a\\":\\"b\\"}"))["a"].ToString()', expect: 'b' },
  { code: 'JsonConvert.DeserializeObject<JObject>("{\\"a\\":[1]}")["a"].Count()', expect: 1 },
  { code: 'JObject.FromObject(new Dictionary<string, string> { { "k", "v" } }).ToString(Formatting.None)', expect: '{"k":"v"}' },
  { code: 'var arr = new JArray(); arr.Add("x"); arr.Add(new JObject()); return arr.Count + arr[0].ToString();', kind: 'block', expect: '2x' },
  { code: 'var arr = JArray.Parse("[\\"a\\",\\"b\\"]"); foreach (var item in arr) { if (item.ToString() == "b") return true; } return false;', kind: 'block', expect: true },
  { code: 'context.Variables.GetValueOrDefault<JObject>("jobj").Count', expect: 0 },

  // ---------------------------------------------------------------- date and time
  { code: 'DateTime.UtcNow.Kind == DateTimeKind.Utc', expect: true },
  { code: '(DateTime.UtcNow - DateTime.UtcNow.AddMinutes(-5)).TotalMinutes > 4.9', expect: true },
  { code: 'DateTime.Parse("2024-03-04T05:06:07Z").ToString("yyyy-MM-ddTHH:mm:ssZ")', expect: '2024-03-04T05:06:07Z' },
  { code: 'DateTime.Parse("2024-03-04T05:06:07Z").ToString()', expect: '3/4/2024 5:06:07 AM' },
  { code: 'new DateTime(2024, 3, 4, 15, 6, 7).ToString()', expect: '3/4/2024 3:06:07 PM' },
  { code: 'new DateTime(2024, 3, 4, 15, 6, 7).ToString("R")', expect: 'Mon, 04 Mar 2024 15:06:07 GMT' },
  { code: 'new DateTime(2024, 3, 4, 15, 6, 7).ToString("s")', expect: '2024-03-04T15:06:07' },
  { code: 'new DateTime(2024, 3, 4, 15, 6, 7).ToString("u")', expect: '2024-03-04 15:06:07Z' },
  { code: 'new DateTime(2024, 3, 4, 15, 6, 7).ToString("yyyyMMddTHHmmssZ")', expect: '20240304T150607Z' },
  { code: 'new DateTime(2024, 3, 4, 15, 6, 7).ToString("dddd, MMMM d, yyyy h:mm tt")', expect: 'Monday, March 4, 2024 3:06 PM' },
  { code: 'new DateTime(2024, 1, 31).AddMonths(1).Day', expect: 29 },
  { code: 'new DateTime(2024, 1, 1).AddDays(1.5).Hour', expect: 12 },
  { code: 'new DateTime(2024, 1, 1) < new DateTime(2024, 1, 2)', expect: true },
  { code: 'new DateTime(2024, 1, 1) == new DateTime(2024, 1, 1)', expect: true },
  { code: '(new DateTime(2024, 1, 2) - new DateTime(2024, 1, 1)).TotalHours', expect: 24 },
  { code: 'new DateTime(2024, 1, 1).DayOfWeek.ToString()', expect: 'Monday' },
  { code: 'DateTime.Parse("not a date")', throws: { code: 'EXPR_RUNTIME', type: 'FormatException' } },
  { code: 'DateTime.MinValue.Year', expect: 1 },
  { code: 'DateTimeOffset.FromUnixTimeSeconds(1700000000).ToString("R")', expect: 'Tue, 14 Nov 2023 22:13:20 GMT' },
  { code: 'DateTimeOffset.FromUnixTimeMilliseconds(1700000000123).ToUnixTimeSeconds()', expect: 1700000000 },
  { code: 'new DateTimeOffset(new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc)).ToUnixTimeSeconds()', expect: 1704067200 },
  { code: 'DateTimeOffset.UtcNow.AddSeconds(60).ToUnixTimeSeconds() - DateTimeOffset.UtcNow.ToUnixTimeSeconds() >= 59', expect: true },
  { code: 'DateTimeOffset.UtcNow > DateTimeOffset.FromUnixTimeSeconds(0)', expect: true },
  { code: 'TimeSpan.FromMinutes(1.5).TotalSeconds', expect: 90 },
  { code: 'TimeSpan.FromSeconds(3725).ToString()', expect: '01:02:05' },
  { code: 'TimeSpan.FromHours(26).Days + TimeSpan.FromHours(26).Hours', expect: 3 },
  { code: '(int)TimeSpan.FromDays(1).TotalSeconds + 1', expect: 86401 },
  { code: 'TimeSpan.Parse("01:30:00").TotalMinutes', expect: 90 },

  // ---------------------------------------------------------------- Guid, Convert, Encoding, Math, parsing
  { code: 'Guid.NewGuid().ToString().Length', expect: 36 },
  { code: 'Guid.NewGuid().ToString("N").Length', expect: 32 },
  { code: 'Guid.NewGuid() != Guid.NewGuid()', expect: true },
  { code: 'Guid.Parse("0F8FAD5B-D9CB-469F-A165-70867728950E").ToString()', expect: '0f8fad5b-d9cb-469f-a165-70867728950e' },
  { code: 'Guid.Parse("nope")', throws: { code: 'EXPR_RUNTIME', type: 'FormatException' } },
  { code: 'Guid.Empty.ToString("N")', expect: '00000000000000000000000000000000' },
  { code: 'new Guid(Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e").ToByteArray()).ToString()', expect: '0f8fad5b-d9cb-469f-a165-70867728950e' },
  { code: 'Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e").ToByteArray()[0]', expect: 0x5b },
  { code: 'Convert.ToBase64String(Encoding.UTF8.GetBytes("hi ✓"))', expect: Buffer.from('hi ✓').toString('base64') },
  { code: 'Encoding.UTF8.GetString(Convert.FromBase64String("aGVsbG8="))', expect: 'hello' },
  { code: 'Convert.FromBase64String("***")', throws: { code: 'EXPR_RUNTIME', type: 'FormatException' } },
  { code: 'Encoding.ASCII.GetString(Encoding.ASCII.GetBytes("é"))', expect: '?' },
  { code: 'Convert.ToInt32("42") + Convert.ToInt32(2.5) + Convert.ToInt32(3.5)', expect: 48 },
  { code: 'Convert.ToInt32(null)', expect: 0 },
  { code: 'Convert.ToString(12)', expect: '12' },
  { code: 'Convert.ToBoolean("True")', expect: true },
  { code: 'int.Parse("-12")', expect: -12 },
  { code: 'int.Parse("12x")', throws: { code: 'EXPR_RUNTIME', type: 'FormatException', col: 5 } },
  { code: 'int.Parse("99999999999")', throws: { code: 'EXPR_RUNTIME', type: 'OverflowException' } },
  { code: 'int n; return int.TryParse("77", out n) ? n : -1;', kind: 'block', expect: 77 },
  { code: 'return int.TryParse("7x", out var n) ? n : -1;', kind: 'block', expect: -1 },
  { code: 'long.Parse("9000000000")', expect: 9000000000 },
  { code: 'bool.Parse("false")', expect: false },
  { code: 'double.Parse("2.5") * 2', expect: 5 },
  { code: 'Math.Max(3, 7) + Math.Min(3, 7)', expect: 10 },
  { code: 'Math.Abs(-4.5)', expect: 4.5 },
  { code: 'Math.Floor(2.7) + Math.Ceiling(2.1)', expect: 5 },
  { code: 'Math.Round(2.5) + Math.Round(3.5)', expect: 6 },
  { code: 'Math.Round(2.345, 2)', expect: 2.35 },
  { code: 'Math.Round(2.5, MidpointRounding.AwayFromZero)', expect: 3 },
  { code: 'Math.Pow(2, 10)', expect: 1024 },
  { code: 'Math.Sqrt(16)', expect: 4 },
  { code: 'new Random(42).Next(1, 10) == new Random(42).Next(1, 10)', expect: true },
  { code: 'new Random().Next(5) < 5', expect: true },

  // ---------------------------------------------------------------- Regex, Uri, WebUtility
  { code: 'Regex.IsMatch("abc123", @"^[a-z]+\\d+$")', expect: true },
  { code: 'System.Text.RegularExpressions.Regex.IsMatch("ABC", "abc", RegexOptions.IgnoreCase)', expect: true },
  { code: 'Regex.Match("key=value", @"(\\w+)=(\\w+)").Groups[2].Value', expect: 'value' },
  { code: 'Regex.Match("v1.2", @"v(?<major>\\d+)\\.(?<minor>\\d+)").Groups["minor"].Value', expect: '2' },
  { code: 'Regex.Match("none", @"\\d+").Success', expect: false },
  { code: 'Regex.Match("a1b22c333", @"\\d+").Value', expect: '1' },
  { code: 'Regex.Matches("a1b22c333", @"\\d+").Count', expect: 3 },
  { code: 'Regex.Replace("2024-01-02", @"(\\d+)-(\\d+)-(\\d+)", "$3/$2/$1")', expect: '02/01/2024' },
  { code: 'Regex.Replace("a  b   c", @"\\s+", " ")', expect: 'a b c' },
  { code: 'Regex.Replace("abc", "b", m => m.Value.ToUpper())', expect: 'aBc' },
  { code: 'string.Join("|", Regex.Split("a1b2c", @"\\d"))', expect: 'a|b|c' },
  { code: 'Regex.Match("x:2024-01-02T03:04:05Z", @":\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$").Index', expect: 1 },
  { code: 'Regex.IsMatch("aaa", "a{2,}?")', expect: true },
  { code: 'Regex.IsMatch("x", "(?=x)")', throws: { code: 'EXPR_RUNTIME', type: 'NotSupportedException', msg: /lookaround/ } },
  { code: 'Regex.IsMatch("x", "(")', throws: { code: 'EXPR_RUNTIME', type: 'ArgumentException' } },
  { code: 'Uri.EscapeDataString("a b&c/d?é!*")', expect: 'a%20b%26c%2Fd%3F%C3%A9%21%2A' },
  { code: 'Uri.UnescapeDataString("a%20b%2Bc%zz")', expect: 'a b+c%zz' },
  { code: 'System.Net.WebUtility.UrlEncode("a b&c=d/é")', expect: 'a+b%26c%3Dd%2F%C3%A9' },
  { code: 'WebUtility.UrlDecode("a+b%26c")', expect: 'a b&c' },
  { code: 'WebUtility.HtmlEncode("<a href=\'x\'>\\"&\\"</a>")', expect: '&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;' },
  { code: 'WebUtility.UrlEncode(null) == null', expect: true },
  { code: 'WebUtility.UrlEncode("".PadLeft(300000, \'a\')).Length + Encoding.UTF8.GetBytes("".PadLeft(600000, \'b\')).Length', expect: 900000 },

  // ---------------------------------------------------------------- crypto
  { code: 'BitConverter.ToString(SHA256.Create().ComputeHash(Encoding.UTF8.GetBytes("abc"))).Replace("-", "").ToLowerInvariant()', expect: createHash('sha256').update('abc').digest('hex') },
  { code: 'Convert.ToBase64String(new HMACSHA256(Encoding.UTF8.GetBytes("key")).ComputeHash(Encoding.UTF8.GetBytes("msg")))', expect: createHmac('sha256', 'key').update('msg').digest('base64') },
  { code: 'var h = new System.Security.Cryptography.HMACSHA256 { Key = Encoding.UTF8.GetBytes("key") }; return Convert.ToBase64String(h.ComputeHash(Encoding.UTF8.GetBytes("msg")));', kind: 'block', expect: createHmac('sha256', 'key').update('msg').digest('base64') },
  { code: 'Convert.ToBase64String(System.Security.Cryptography.SHA1.Create().ComputeHash(new byte[0]))', expect: createHash('sha1').update('').digest('base64') },
  { code: `Encoding.UTF8.GetString(Convert.FromBase64String("${CIPHER}").Decrypt("Aes", Convert.FromBase64String("${AES_KEY.toString('base64')}"), Convert.FromBase64String("${AES_IV.toString('base64')}")))`, expect: 'secret text' },
  { code: `Convert.ToBase64String(Encoding.UTF8.GetBytes("secret text").Encrypt("Aes", Convert.FromBase64String("${AES_KEY.toString('base64')}"), Convert.FromBase64String("${AES_IV.toString('base64')}")))`, expect: CIPHER },
  { code: 'new byte[] { 1, 2 }.Decrypt("Aes", new byte[32], new byte[16])', throws: { code: 'EXPR_RUNTIME', type: 'CryptographicException' } },
  { code: 'BitConverter.ToInt32(new byte[] { 1, 0, 0, 0 }, 0)', expect: 1 },
  { code: 'var c = new X509Certificate2(Convert.FromBase64String((string)context.Variables["pfxLegacy"]), "s3cret"); RSACng rsa = c.GetRSAPrivateKey() as RSACng; return Convert.ToBase64String(rsa.SignData(Encoding.UTF8.GetBytes("hello"), HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1));', kind: 'block', expect: SIG },
  { code: 'X509Certificate2 c = new X509Certificate2(Convert.FromBase64String((string)context.Variables["pfxModern"]), (string)null); return c.Thumbprint + "|" + c.HasPrivateKey + "|" + c.Subject + "|" + c.GetCertHash().Length;', kind: 'block', expect: `${THUMB}|True|O=Example, CN=gatehouse-test|20` },
  { code: 'var c = new X509Certificate2(Convert.FromBase64String((string)context.Variables["pfxLegacy"]), "s3cret"); var data = Encoding.UTF8.GetBytes("x"); var sig = c.GetRSAPrivateKey().SignData(data, HashAlgorithmName.SHA512, RSASignaturePadding.Pss); return c.GetRSAPublicKey().VerifyData(data, sig, HashAlgorithmName.SHA512, RSASignaturePadding.Pss) && !c.GetRSAPublicKey().VerifyData(Encoding.UTF8.GetBytes("y"), sig, HashAlgorithmName.SHA512, RSASignaturePadding.Pss);', kind: 'block', expect: true },
  { code: 'new X509Certificate2(Convert.FromBase64String((string)context.Variables["pfxLegacy"]), "wrong")', throws: { code: 'EXPR_RUNTIME', type: 'CryptographicException', msg: /password/ } },
  { code: 'new X509Certificate2(Convert.FromBase64String((string)context.Variables["certDer"])).HasPrivateKey', expect: false },
  { code: 'new X509Certificate2(Convert.FromBase64String((string)context.Variables["certDer"])).GetRSAPrivateKey() == null', expect: true },
  { code: 'new X509Certificate2(new byte[] { 1, 2, 3 })', throws: { code: 'EXPR_RUNTIME', type: 'CryptographicException' } },
  { code: 'context.Request.Certificate == null', expect: true },

  // ---------------------------------------------------------------- XML (in-memory only)
  { code: 'XDocument.Parse("<r><a>1</a><b x=\\"y\\">2</b></r>").Root.Elements().Count()', expect: 2 },
  { code: 'XDocument.Parse("<r><a>1</a><b>2</b></r>").Descendants().Where(e => e.Name.LocalName == "b").First().Value', expect: '2' },
  { code: '(string)XElement.Parse("<b x=\\"y\\">2</b>").Attribute("x")', expect: 'y' },
  { code: '(int)XElement.Parse("<n>42</n>") + 1', expect: 43 },
  { code: 'XElement.Parse("<r xmlns=\\"urn:x\\"><a/></r>").Elements().First().Name.NamespaceName', expect: 'urn:x' },
  { code: 'XElement.Parse("<a/>").Name == "a"', expect: true },
  { code: 'new XElement("o", new XAttribute("id", 1), new XElement("i", "a<b")).ToString()', expect: '<o id="1">\n  <i>a&lt;b</i>\n</o>' },
  { code: 'var x = new XmlDocument(); x.LoadXml("<K><Oid>o-1</Oid><V a=\\"1\\">v</V></K>"); return x.DocumentElement.SelectSingleNode("/K/Oid").InnerText + x.SelectSingleNode("//V[@a=\'1\']").InnerText + x.SelectNodes("/K/*").Count;', kind: 'block', expect: 'o-1v2' },
  { code: 'var x = new XmlDocument(); x.LoadXml("<K/>"); return x.SelectSingleNode("/K/Missing") == null;', kind: 'block', expect: true },
  { code: 'var r = XmlReader.Create(new StringReader("<a><b>t</b></a>")); r.MoveToContent(); r.Read(); return r.Name + ":" + (XNode.ReadFrom(r) as XElement).Value + ":" + r.Name;', kind: 'block', expect: 'b:t:a' },
  { code: 'context.Request.Body.As<XDocument>(true)', throws: { code: 'EXPR_RUNTIME', type: 'XmlException' } },
  { code: 'XDocument.Parse("<!DOCTYPE x [<!ENTITY e SYSTEM \\"file:///etc/passwd\\">]><x>&e;</x>")', throws: { code: 'EXPR_RUNTIME', type: 'XmlException', msg: /DTD is prohibited/ } },
  { code: 'XDocument.Parse("<x>&e;</x>")', throws: { code: 'EXPR_RUNTIME', type: 'XmlException', msg: /undeclared entity/ } },
  { code: 'XmlReader.Create("file:///etc/passwd")', throws: { code: 'EXPR_RUNTIME', type: 'NotSupportedException' } },
  { code: 'XDocument.Load("/etc/passwd")', throws: { code: 'EXPR_RUNTIME', type: 'NotSupportedException' } },
  { code: 'XDocument.Parse("<a><b></a>")', throws: { code: 'EXPR_RUNTIME', type: 'XmlException', msg: /does not match/ } },

  // ---------------------------------------------------------------- load-time errors with positions
  { code: 'context.Foo.Bar', throws: { code: 'EXPR_UNSUPPORTED', line: 1, col: 9, msg: /unknown member 'Foo' of context/ } },
  { code: 'context.Request.Headerz', throws: { code: 'EXPR_UNSUPPORTED', line: 1, col: 17, msg: /unknown member 'Headerz' of IRequest/ } },
  { code: '"abc".Frobnicate()', throws: { code: 'EXPR_UNSUPPORTED', col: 7, msg: /unknown or unsupported method 'Frobnicate' of string/ } },
  { code: 'Foo.Bar()', throws: { code: 'EXPR_UNSUPPORTED', col: 1, msg: /unknown or unsupported type or name 'Foo'/ } },
  { code: 'undefinedVar + 1', throws: { code: 'EXPR_UNSUPPORTED', col: 1, msg: /does not exist/ } },
  { code: 'var x = 1;\nvar y = 2;\nreturn x + ) y;', kind: 'block', throws: { code: 'EXPR_SYNTAX', line: 3, col: 12 } },
  { code: 'var x = 1;\n  var y = x.Nope;\nreturn y;', kind: 'block', throws: { code: 'EXPR_UNSUPPORTED', line: 2, col: 13, msg: /unknown member 'Nope' of int/ } },
  { code: '"unterminated', throws: { code: 'EXPR_SYNTAX', col: 1, msg: /unterminated string/ } },
  { code: 'var x = 1\nreturn x;', kind: 'block', throws: { code: 'EXPR_SYNTAX', line: 2, col: 1, msg: /';' expected/ } },
  { code: '(1 + 2', throws: { code: 'EXPR_SYNTAX', col: 7, msg: /'\)' expected/ } },
  { code: '1 +', throws: { code: 'EXPR_SYNTAX', col: 4 } },
  { code: '1 2', throws: { code: 'EXPR_SYNTAX', col: 3 } },
  { code: 'typeof(string)', throws: { code: 'EXPR_UNSUPPORTED', col: 1, msg: /typeof/ } },
  { code: 'goto end;', kind: 'block', throws: { code: 'EXPR_UNSUPPORTED', col: 1, msg: /goto/ } },
  { code: 'lock (x) { }', kind: 'block', throws: { code: 'EXPR_UNSUPPORTED', msg: /lock/ } },
  { code: 'context.Request.Method switch { "GET" => 1, _ => 2 }', throws: { code: 'EXPR_UNSUPPORTED', col: 24, msg: /switch expressions/ } },
  { code: 'this.ToString()', throws: { code: 'EXPR_UNSUPPORTED', col: 1 } },
  { code: 'await Foo()', throws: { code: 'EXPR_UNSUPPORTED', col: 1, msg: /await/ } },
  { code: 'new System.Net.Http.HttpClient()', throws: { code: 'EXPR_UNSUPPORTED', col: 5, msg: /network is not reachable/ } },
  { code: 'System.IO.File.ReadAllText("/etc/passwd")', throws: { code: 'EXPR_UNSUPPORTED', msg: /file system is not reachable/ } },
  { code: 'new X509Certificate2("cert.pfx")', throws: { code: 'EXPR_RUNTIME', type: 'NotSupportedException', msg: /file system/ } },
  { code: 'RSA.Create()', throws: { code: 'EXPR_UNSUPPORTED', col: 5, msg: /unknown or unsupported static method 'RSA.Create'/ } },
  { code: 'ECDsa.Create()', throws: { code: 'EXPR_UNSUPPORTED', col: 1, msg: /ECDsa signing is not supported/ } },
  { code: 'var d = new XmlSerializer(); return "";', kind: 'block', throws: { code: 'EXPR_UNSUPPORTED', col: 13, msg: /XmlSerializer/ } },
  { code: 'context.Request.Body.As<Uri>()', throws: { code: 'EXPR_UNSUPPORTED', col: 22, msg: /supports string, byte\[\], JObject/ } },
  { code: 'context.Variables["x"] = 1; return 1;', kind: 'block', throws: { code: 'EXPR_SYNTAX', col: 18, msg: /read-only/ } },
  { code: 'if (context.Request.Method == "GET") { return 1; }', kind: 'block', throws: { code: 'EXPR_SYNTAX', msg: /not all code paths return a value/ } },
  { code: 'if (true) { return 1; }', kind: 'block', expect: 1 },
  { code: 'int x = "a"; return x;', kind: 'block', throws: { code: 'EXPR_SYNTAX', col: 9, msg: /cannot implicitly convert type string to int/ } },
  { code: 'var x = null; return x;', kind: 'block', throws: { code: 'EXPR_SYNTAX', col: 9, msg: /implicitly-typed/ } },
  { code: 'break;', kind: 'block', throws: { code: 'EXPR_SYNTAX', col: 1, msg: /no enclosing loop/ } },
  { code: 'var x = 1; var x = 2; return x;', kind: 'block', throws: { code: 'EXPR_SYNTAX', col: 16, msg: /already defined/ } },
  { code: '"a" < "b"', throws: { code: 'EXPR_SYNTAX', col: 5, msg: /operator '<' cannot be applied/ } },
  { code: '1 == "1"', throws: { code: 'EXPR_SYNTAX', msg: /operator '==' cannot be applied/ } },
  { code: 'JObject.Parse("{\\"a\\":\\"x\\"}")["a"] == "x"', expect: false },
  { code: '(string)JObject.Parse("{\\"a\\":\\"x\\"}")["a"] == "x"', expect: true },
  { code: '(int)"5"', throws: { code: 'EXPR_SYNTAX', msg: /cannot convert type string to int/ } },
  { code: 'context.Request.Method.Length()', throws: { code: 'EXPR_SYNTAX', col: 24, msg: /property/ } },
  { code: 'x => x', throws: { code: 'EXPR_SYNTAX', msg: /lambda/ } },
  { code: 'int.Parse("1", "2", "3", "4")', throws: { code: 'EXPR_SYNTAX', msg: /no overload of 'Parse' takes 4/ } },
  { code: 'context.Variables.GetValueOrDefault<string, int>("x")', throws: { code: 'EXPR_SYNTAX', msg: /type argument/ } },
  { code: 'context.constructor', throws: { code: 'EXPR_UNSUPPORTED', col: 9 } },
  { code: '"@(" + \'\\q\'', throws: { code: 'EXPR_SYNTAX', col: 9, msg: /escape/ } },
];

// the table checks semantics, not limits (expressions-hostile.test.ts does): no wall-clock flakiness on a busy machine
const TABLE_LIMITS = { ...DEFAULT_LIMITS, maxMillis: 5000 };

for (const [i, c] of CASES.entries()) {
  test(`expr #${i + 1}: ${c.code.replace(/\n/g, '⏎').slice(0, 100)}`, () => {
    let v: unknown;
    try {
      const compiled = compileExpression(c.code, c.kind ?? 'expression', { line: 1, col: 1 });
      v = compiled.evaluate(ctxOf(c.ctx), TABLE_LIMITS);
    } catch (e) {
      if (!c.throws) throw e;
      assert.ok(e instanceof ExpressionError, `expected ExpressionError, got ${String(e)}`);
      assert.equal(e.code, c.throws.code, e.message);
      if (c.throws.line !== undefined) assert.equal(e.line, c.throws.line, `line: ${e.message}`);
      if (c.throws.col !== undefined) assert.equal(e.col, c.throws.col, `col: ${e.message}`);
      if (c.throws.msg) assert.match(e.message, c.throws.msg);
      if (c.throws.type) assert.equal(e.exceptionType, c.throws.type, e.message);
      return;
    }
    if (c.throws) assert.fail(`expected ${c.throws.code} but got ${formatResult(v)}`);
    if (c.check) c.check(v);
    else if (c.str !== undefined) assert.equal(formatResult(v), c.str);
    else assert.deepEqual(v, c.expect);
  });
}

test('the table covers at least 200 cases', () => {
  assert.ok(CASES.length >= 200, String(CASES.length));
});

// ---------------------------------------------------------------- API-level behaviour

test('positions are relative to the file: code starting at line 10 col 20 spanning lines', () => {
  try {
    compileExpression('\n  var a = 1;\n  return a.Bogus;\n', 'block', { file: 'p.xml', line: 10, col: 20 });
    assert.fail('expected an error');
  } catch (e) {
    assert.ok(e instanceof ExpressionError);
    assert.equal(e.file, 'p.xml');
    assert.equal(e.line, 12);
    assert.equal(e.col, 12);
    assert.match(e.message, /^p\.xml:12:12: /);
  }
  try {
    compileExpression('context.Nope', 'expression', { line: 3, col: 40 });
    assert.fail('expected an error');
  } catch (e) {
    assert.ok(e instanceof ExpressionError);
    assert.deepEqual([e.line, e.col], [3, 48]);
  }
});

test('runtime errors carry the position of the failing node', () => {
  const c = compileExpression('var s = "x";\nvar n = (string)null;\nreturn s + n.Trim();', 'block', { line: 5, col: 3 });
  try {
    c.evaluate(ctxOf());
    assert.fail('expected an error');
  } catch (e) {
    assert.ok(e instanceof ExpressionError);
    assert.equal(e.code, 'EXPR_RUNTIME');
    assert.equal(e.exceptionType, 'NullReferenceException');
    assert.deepEqual([e.line, e.col], [7, 14]);
  }
});

test('reads: request body, response body and variables are found statically', () => {
  const r = (code: string, kind: 'expression' | 'block' = 'expression') => compileExpression(code, kind, { line: 1, col: 1 }).reads;
  assert.deepEqual(r('context.Request.Method'), { requestBody: false, responseBody: false, variables: false });
  assert.deepEqual(r('context.Request.Body.As<string>(true)'), { requestBody: true, responseBody: false, variables: false });
  assert.deepEqual(r('context.Response.Body.As<JObject>(true)["a"]'), { requestBody: false, responseBody: true, variables: false });
  assert.deepEqual(r('var r = context.Response; return r.Body.As<string>();', 'block'), { requestBody: false, responseBody: true, variables: false });
  assert.deepEqual(r('((IResponse)context.Variables["x"]).Body.As<string>()'), { requestBody: false, responseBody: false, variables: true });
  assert.deepEqual(r('context.Variables.ContainsKey("a")'), { requestBody: false, responseBody: false, variables: true });
});

test('the context is shared and mutable: later evaluations see changes made by the gateway', () => {
  const ctx = ctxOf();
  const e = compileExpression('context.Request.Headers.GetValueOrDefault("X-New", "none") + "/" + context.Variables.GetValueOrDefault<string>("v", "unset")', 'expression', { line: 1, col: 1 });
  assert.equal(e.evaluate(ctx), 'none/unset');
  ctx.request.headers.set('x-new', 'set');
  ctx.variables.set('v', 'value');
  assert.equal(e.evaluate(ctx), 'set/value');
  ctx.request.headers.append('X-New', 'again');
  ctx.request.headers.delete('x-new');
  assert.equal(e.evaluate(ctx), 'none/value');
});

test('Trace collects messages and calls the hook', () => {
  const seen: string[] = [];
  const ctx = createExpressionContext({ onTrace: (m) => seen.push(m) });
  compileExpression('context.Trace($"n={1 + 1}"); return true;', 'block', { line: 1, col: 1 }).evaluate(ctx);
  assert.deepEqual(seen, ['n=2']);
  assert.deepEqual(ctx.traces, [{ message: 'n=2' }]);
});

test('createExpressionContext has empty defaults', () => {
  const ctx = createExpressionContext();
  const v = compileExpression('context.Request.Method + context.Request.Headers.Count + context.Variables.Count + (context.Request.Body == null) + (context.User == null) + context.Api.Name', 'expression', { line: 1, col: 1 }).evaluate(ctx);
  assert.equal(v, 'GET00TrueTrue');
});

test('compile once, evaluate many times; results do not leak between evaluations', () => {
  const e = compileExpression('var l = new List<int>(); l.Add(context.Variables.GetValueOrDefault<int>("num")); return l.Count;', 'block', { line: 1, col: 1 });
  for (let i = 0; i < 5; i++) assert.equal(e.evaluate(ctxOf()), 1);
  assert.equal(e.source.includes('List<int>'), true);
  assert.equal(e.kind, 'block');
});

test('formatResult renders results the C# way', () => {
  assert.equal(formatResult(true), 'True');
  assert.equal(formatResult(null), '');
  assert.equal(formatResult(2.0), '2');
  assert.equal(formatResult(compileExpression('new JObject(new JProperty("a", 1))', 'expression', { line: 1, col: 1 }).evaluate(ctxOf())), '{\n  "a": 1\n}');
});

test('DEFAULT_LIMITS', () => {
  assert.deepEqual(
    { ...DEFAULT_LIMITS },
    { maxSteps: 100_000, maxMillis: 250, maxStringLength: 1024 * 1024, maxDepth: 64, maxCollectionSize: 100_000 },
  );
});
