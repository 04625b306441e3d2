// The binder/compiler: resolves every name, member and method against the whitelisted tables with static C#
// types, reports unsupported constructs with their position, and turns the AST into closures. Evaluation never
// re-parses and never touches a JS object by a user-chosen property name.
import type { Arg, Block, Expr, Initializer, LocalFunc, Pattern, Stmt, TypeNode, VarDecl } from './ast.js';
import { CompileError, CsException, LimitError } from './errors.js';
import {
  ALL_MEMBER_NAMES, EXCEPTION_TYPE_SET, TYPES, UNSUPPORTED_TYPES, castValue, defaultOf, enumFromValue, exceptionMatches, findIndexer,
  findMethod, findProp, iterate, own, resolveTy, tyOfValue, type CallCtx, type IndexerDef, type MethodDef, type PropDef, type TypeDef,
} from './members/index.js';
import {
  T, arrayOf, checkColl, checkLen, csCompare, csEquals, csObjectEquals, csToString, elemType, formatWith, funcOf, isDyn, isInstance,
  isNumeric, nullRef, sameType, tick, toJTokenValue, tyName, INTEGRAL, VALUE_TYPES, convertToken, type Runtime, type Ty,
} from './types.js';
import { CsAnon, CsEnum, OutBox } from './runtime/values.js';
import { CsDateTime, CsDateTimeOffset, CsTimeSpan } from './runtime/time.js';
import { JToken } from './runtime/json.js';
import { XAttr, XElem, XmlName, textOf } from './runtime/xml.js';

// ------------------------------------------------------------------ runtime structures

export interface Frame {
  s: unknown[];
  up: Frame | null;
  rt: Runtime;
  ret: unknown;
}

type Code = (f: Frame) => unknown;
/** statement code: 0 = normal, 1 = break, 2 = continue, 3 = return (value in f.ret) */
type SCode = (f: Frame) => number;

/** value of a null-conditional chain that short-circuited */
const SHORT: unique symbol = Symbol('short');

function frameAt(f: Frame, hops: number): Frame {
  let x = f;
  for (let i = 0; i < hops; i++) x = x.up as Frame;
  return x;
}

function enter(rt: Runtime): void {
  if (++rt.depth > rt.maxDepth) throw new LimitError(`call depth exceeded ${rt.maxDepth}`);
}

// ------------------------------------------------------------------ compile-time structures

interface CVal {
  k: 'val';
  ty: Ty;
  code: Code;
  pos: number;
  /** the code may return SHORT (inside a ?. chain) */
  mayShort?: boolean;
  constant?: { v: unknown };
  /** a lambda not yet compiled (needs parameter types from the call) */
  lambda?: Extract<Expr, { k: 'lambda' }>;
}
interface CType {
  k: 'type';
  ty: Ty;
  def: TypeDef;
  name: string;
  pos: number;
}
interface CNs {
  k: 'ns';
  name: string;
  pos: number;
}
type Operand = CVal | CType | CNs;

class FnScope {
  nslots = 0;
  returnTys: Ty[] = [];
  constructor(
    readonly parent: FnScope | null,
    /** declared return type (local functions), null for lambdas/top level (inferred / any) */
    readonly declaredRet: Ty | null,
    readonly kind: 'top' | 'lambda' | 'func',
  ) {}
  alloc(): number {
    return this.nslots++;
  }
}

interface VarInfo {
  kind: 'var';
  name: string;
  slot: number;
  ty: Ty;
  fn: FnScope;
  isConst: boolean;
  constVal?: unknown;
}

interface FuncInfo {
  kind: 'func';
  name: string;
  fn: FnScope; // the scope that declares the function
  params: Ty[];
  ret: Ty;
  impl: { body: SCode | null; nslots: number; paramSlots: number[] };
  pos: number;
}

class BlockScope {
  readonly names = new Map<string, VarInfo | FuncInfo>();
  constructor(
    readonly parent: BlockScope | null,
    readonly fn: FnScope,
  ) {}
}

const NAMESPACES = new Set([
  'System', 'System.Text', 'System.Net', 'System.Linq', 'System.Collections', 'System.Collections.Generic', 'System.Security',
  'System.Security.Cryptography', 'System.Text.RegularExpressions', 'System.Globalization', 'Newtonsoft', 'Newtonsoft.Json',
  'Newtonsoft.Json.Linq', 'System.Xml', 'System.Xml.Linq', 'System.IO', 'System.Net.Http', 'System.Net.Http.Headers',
  'System.Security.Cryptography.X509Certificates', 'System.Web', 'System.Threading', 'System.Threading.Tasks', 'System.Diagnostics',
  'System.Reflection', 'System.Runtime', 'Microsoft', 'Microsoft.CSharp',
]);

/** written type name → internal type name */
const TYPE_ALIASES: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, {
  string: 'string', String: 'string', int: 'int', Int32: 'int', long: 'long', Int64: 'long', short: 'short', Int16: 'short',
  byte: 'byte', Byte: 'byte', sbyte: 'byte', SByte: 'byte', ushort: 'int', UInt16: 'int', uint: 'long', UInt32: 'long',
  ulong: 'long', UInt64: 'long', double: 'double', Double: 'double', float: 'double', Single: 'double', decimal: 'double',
  Decimal: 'double', bool: 'bool', Boolean: 'bool', char: 'char', Char: 'char', object: 'object', Object: 'object',
  List: 'List', IList: 'List', ICollection: 'List', IEnumerable: 'IEnumerable', IReadOnlyList: 'IEnumerable',
  IReadOnlyCollection: 'IEnumerable', IOrderedEnumerable: 'IEnumerable', Dictionary: 'Dictionary', IDictionary: 'Dictionary',
  IReadOnlyDictionary: 'Dictionary', KeyValuePair: 'KeyValuePair',
});

/** type names whose instances use another table (all hash algorithms are HashAlgorithm instances) */
const INSTANCE_TYPE: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, {
  HMAC: 'HashAlgorithm', KeyedHashAlgorithm: 'HashAlgorithm', SHA256: 'HashAlgorithm', SHA1: 'HashAlgorithm', SHA384: 'HashAlgorithm',
  SHA512: 'HashAlgorithm', MD5: 'HashAlgorithm', HMACSHA1: 'HashAlgorithm', HMACSHA256: 'HashAlgorithm', HMACSHA384: 'HashAlgorithm',
  HMACSHA512: 'HashAlgorithm', HMACMD5: 'HashAlgorithm', SHA256Managed: 'HashAlgorithm', SHA1Managed: 'HashAlgorithm',
  SHA384Managed: 'HashAlgorithm', SHA512Managed: 'HashAlgorithm', SHA256CryptoServiceProvider: 'HashAlgorithm',
  SHA1CryptoServiceProvider: 'HashAlgorithm', SHA512CryptoServiceProvider: 'HashAlgorithm', MD5CryptoServiceProvider: 'HashAlgorithm',
  Jwt: 'Jwt', IResponse: 'IResponse', IRequest: 'IRequest', IUrl: 'IUrl', IMessageBody: 'IMessageBody', Authorization: 'Authorization',
  XmlElement: 'XmlNode', XmlAttribute: 'XmlNode', XmlText: 'XmlNode', TextReader: 'StringReader',
  RSACng: 'RSA', RSACryptoServiceProvider: 'RSA', RSAOpenSsl: 'RSA', X509Certificate: 'X509Certificate2',
});

/** type names an expression may write (static receivers, casts, declarations, new) */
const NAMEABLE_TYPES = new Set([
  'JObject', 'JArray', 'JToken', 'JValue', 'JProperty', 'JContainer', 'JsonConvert', 'Formatting', 'JTokenType', 'DateTime',
  'DateTimeOffset', 'TimeSpan', 'Guid', 'Uri', 'UriKind', 'Random', 'StringBuilder', 'Regex', 'Match', 'Group', 'GroupCollection',
  'MatchCollection', 'RegexOptions', 'Convert', 'Math', 'BitConverter', 'Encoding', 'WebUtility', 'Array', 'Enumerable',
  'StringComparison', 'StringComparer', 'StringSplitOptions', 'CultureInfo', 'NumberStyles', 'DateTimeKind', 'DateTimeStyles',
  'MidpointRounding', 'DayOfWeek', 'Jwt', 'Authorization', 'BasicCredentials', 'IResponse', 'IRequest', 'IUrl', 'IMessageBody',
  'HashAlgorithm', 'RandomNumberGenerator', 'XDocument', 'XElement', 'XAttribute', 'XName', 'XNode', 'XText', 'XmlDocument', 'XmlNode',
  'XmlNodeList', 'XmlReader', 'StringReader', 'XmlNodeType', 'X509Certificate2', 'RSA', 'HashAlgorithmName', 'RSASignaturePadding',
  'RSAEncryptionPadding', 'X509KeyStorageFlags', ...Object.keys(INSTANCE_TYPE), ...EXCEPTION_TYPE_SET,
]);

const SUBTYPES: Record<string, string[]> = {
  JToken: ['JObject', 'JArray', 'JValue', 'JProperty', 'JContainer'],
  JContainer: ['JObject', 'JArray', 'JProperty'],
  Exception: [...EXCEPTION_TYPE_SET],
  IEnumerable: ['Array', 'List', 'Dictionary', 'string', 'JToken', 'JObject', 'JArray', 'JValue', 'JProperty', 'JContainer', 'StringListMap', 'IVariables', 'MatchCollection', 'GroupCollection'],
  SystemException: [...EXCEPTION_TYPE_SET].filter((x) => x !== 'ApplicationException' && !x.startsWith('Json')),
  ArgumentException: ['ArgumentNullException', 'ArgumentOutOfRangeException'],
  XNode: ['XElement', 'XDocument', 'XText'],
  XContainer: ['XElement', 'XDocument'],
};

function isSubtype(from: Ty, to: Ty): boolean {
  if (isDyn(to)) return true;
  if (from.n === to.n) return true;
  return (SUBTYPES[to.n] ?? []).includes(from.n);
}

function isValueType(t: Ty): boolean {
  return VALUE_TYPES.has(t.n) || t.n === 'Enum' || !!TYPES.get(t.n)?.enumValues;
}

function nullableOf(t: Ty): Ty {
  if (isValueType(t) && !t.nullable) return { ...t, nullable: true };
  return t;
}

const IMPLICIT_NUMERIC: Record<string, string[]> = {
  byte: ['short', 'int', 'long', 'double'],
  short: ['int', 'long', 'double'],
  char: ['int', 'long', 'double'],
  int: ['long', 'double'],
  long: ['double'],
  double: [],
};

const NUM_RANK: Record<string, number> = { byte: 1, short: 2, char: 2, int: 3, long: 4, double: 5 };

function promote(a: Ty, b: Ty): Ty {
  const ra = NUM_RANK[a.n] ?? 3;
  const rb = NUM_RANK[b.n] ?? 3;
  const r = Math.max(ra, rb, 3);
  return r === 5 ? T.double : r === 4 ? T.long : T.int;
}

function toNum(v: unknown): number {
  return typeof v === 'string' ? v.charCodeAt(0) : (v as number);
}

/** numeric conversion code from → to (C# unchecked semantics) */
function numConv(from: string, to: string): ((v: unknown) => unknown) | null {
  if (from === to) return null;
  if (from === 'char') {
    const inner = numConv('int', to);
    return inner ? (v) => inner((v as string).charCodeAt(0)) : (v) => (v as string).charCodeAt(0);
  }
  switch (to) {
    case 'char':
      return (v) => String.fromCharCode(Math.trunc(v as number) & 0xffff);
    case 'byte':
      return (v) => Math.trunc(v as number) & 0xff;
    case 'short':
      return (v) => ((Math.trunc(v as number) << 16) >> 16);
    case 'int':
      if (from === 'double') return (v) => {
        const t = Math.trunc(v as number);
        return t >= -2147483648 && t <= 2147483647 ? t : -2147483648;
      };
      if (from === 'long') return (v) => Number(BigInt.asIntN(32, BigInt(Math.trunc(v as number))));
      return null;
    case 'long':
      if (from === 'double') return (v) => {
        const t = Math.trunc(v as number);
        return Number.isFinite(t) ? t : -9223372036854775808;
      };
      return null;
    default:
      return null;
  }
}

// ------------------------------------------------------------------ the compiler

export interface CompileOutput {
  run: (f: Frame) => unknown;
  nslots: number;
  reads: { requestBody: boolean; responseBody: boolean; variables: boolean };
}

export class Compiler {
  readonly reads = { requestBody: false, responseBody: false, variables: false };
  private fn: FnScope;
  private scope: BlockScope;
  private loopDepth = 0;
  private switchDepth = 0;
  private catchDepth = 0;
  private catchSlots: number[] = [];
  private depth = 0;

  constructor() {
    this.fn = new FnScope(null, null, 'top');
    this.scope = new BlockScope(null, this.fn);
  }

  private err(msg: string, pos: number): never {
    throw new CompileError('EXPR_SYNTAX', msg, pos);
  }
  private unsup(msg: string, pos: number): never {
    throw new CompileError('EXPR_UNSUPPORTED', msg, pos);
  }
  private guard(pos: number): void {
    if (++this.depth > 400) throw new CompileError('EXPR_LIMIT', 'expression nesting too deep', pos);
  }

  // ---------------------------------------------------------------- entry points

  compileExpression(e: Expr): CompileOutput {
    const v = this.root(e);
    if (v.ty.n === 'void') this.err('the expression has no value (a void method call)', e.pos);
    return { run: v.code, nslots: this.fn.nslots, reads: this.reads };
  }

  compileBlock(b: Block, endPos: number): CompileOutput {
    const body = this.block(b.body, b.pos);
    if (this.reachable(b)) this.err('not all code paths return a value: the block must end with a return statement', endPos);
    const run = (f: Frame): unknown => {
      const r = body(f);
      if (r === 3) return f.ret;
      throw new CsException('InvalidOperationException', 'the block ended without returning a value');
    };
    return { run, nslots: this.fn.nslots, reads: this.reads };
  }

  // ---------------------------------------------------------------- types

  /** resolves a written type to a static type */
  resolveType(tn: TypeNode): Ty {
    let name = this.stripNamespace(tn.name, tn.pos);
    let base: Ty;
    const alias = TYPE_ALIASES[name];
    if (name === 'var') this.err("'var' is not allowed here", tn.pos);
    if (name === 'void') this.err("'void' is not a valid type here", tn.pos);
    if (alias) {
      name = alias;
      const def = TYPES.get(name);
      const arity = def?.arity ?? 0;
      if (tn.args.length !== arity && !(arity === 0 && tn.args.length === 0)) {
        if (name === 'List' || name === 'IEnumerable') {
          if (tn.args.length !== 1) this.err(`using the generic type '${tn.name}' requires 1 type argument`, tn.pos);
        } else if (name === 'Dictionary' || name === 'KeyValuePair') {
          if (tn.args.length !== 2) this.err(`using the generic type '${tn.name}' requires 2 type arguments`, tn.pos);
        } else this.err(`the type '${tn.name}' does not take type arguments`, tn.pos);
      }
      base = tn.args.length ? { n: name, a: tn.args.map((a) => this.resolveType(a)) } : { n: name };
    } else {
      if (tn.args.length) {
        if (name === 'Func' || name === 'Action' || name === 'Predicate') this.unsup('delegate types (Func/Action) are not supported; use lambdas directly in LINQ calls', tn.pos);
        if (UNSUPPORTED_TYPES[name]) this.unsup(`${name}: ${UNSUPPORTED_TYPES[name]}`, tn.pos);
        this.unsup(`unknown or unsupported generic type '${tn.name}'`, tn.pos);
      }
      if (UNSUPPORTED_TYPES[name]) this.unsup(`${name}: ${UNSUPPORTED_TYPES[name]}`, tn.pos);
      if (!NAMEABLE_TYPES.has(name) || !TYPES.has(INSTANCE_TYPE[name] ?? name)) {
        if (name === 'Exception' || EXCEPTION_TYPE_SET.has(name)) base = { n: name };
        else this.unsup(`unknown or unsupported type '${tn.name}'`, tn.pos);
      } else base = { n: INSTANCE_TYPE[name] ?? name };
    }
    for (let i = 0; i < tn.rank; i++) base = arrayOf(base);
    if (tn.nullable) {
      if (isValueType(base)) base = { ...base, nullable: true };
    }
    return base;
  }

  private stripNamespace(name: string, pos: number): string {
    const i = name.lastIndexOf('.');
    if (i < 0) return name;
    const ns = name.slice(0, i);
    if (!NAMESPACES.has(ns)) this.unsup(`unknown namespace or type '${ns}'`, pos);
    return name.slice(i + 1);
  }

  /** a type named as a static receiver (Convert, JObject, int, ...) */
  private staticType(name: string, pos: number): CType | null {
    const alias = TYPE_ALIASES[name];
    if (alias) {
      const def = TYPES.get(alias);
      if (!def) return null;
      return { k: 'type', ty: { n: alias }, def, name, pos };
    }
    if (UNSUPPORTED_TYPES[name]) this.unsup(`${name}: ${UNSUPPORTED_TYPES[name]}`, pos);
    if (!NAMEABLE_TYPES.has(name)) return null;
    const def = TYPES.get(name) ?? TYPES.get(INSTANCE_TYPE[name] ?? name);
    if (!def) return null;
    return { k: 'type', ty: { n: INSTANCE_TYPE[name] ?? name }, def, name, pos };
  }

  // ---------------------------------------------------------------- scopes

  private lookup(name: string): { info: VarInfo | FuncInfo; hops: number } | null {
    for (let s: BlockScope | null = this.scope; s; s = s.parent) {
      const info = s.names.get(name);
      if (info) {
        let hops = 0;
        for (let f: FnScope | null = this.fn; f && f !== info.fn; f = f.parent) hops++;
        return { info, hops };
      }
    }
    return null;
  }

  private declare(name: string, ty: Ty, pos: number, isConst = false, constVal?: unknown): VarInfo {
    if (name === 'context') this.err("'context' cannot be redeclared", pos);
    for (let s: BlockScope | null = this.scope; s && s.fn === this.fn; s = s.parent) {
      if (s.names.has(name)) this.err(`a local variable or function named '${name}' is already defined in this scope`, pos);
    }
    const info: VarInfo = { kind: 'var', name, slot: this.fn.alloc(), ty, fn: this.fn, isConst };
    if (isConst) info.constVal = constVal;
    this.scope.names.set(name, info);
    return info;
  }

  private pushScope(): BlockScope {
    const prev = this.scope;
    this.scope = new BlockScope(prev, this.fn);
    return prev;
  }

  private varGet(v: VarInfo, hops: number): Code {
    const slot = v.slot;
    if (hops === 0) return (f) => f.s[slot];
    if (hops === 1) return (f) => (f.up as Frame).s[slot];
    return (f) => frameAt(f, hops).s[slot];
  }

  private varSet(v: VarInfo, hops: number): (f: Frame, x: unknown) => void {
    const slot = v.slot;
    if (hops === 0)
      return (f, x) => {
        f.s[slot] = x;
      };
    return (f, x) => {
      frameAt(f, hops).s[slot] = x;
    };
  }

  // ---------------------------------------------------------------- expressions

  /** compiles a value expression at the root of a ?. chain (SHORT becomes null) */
  root(e: Expr): CVal {
    const v = this.val(e, true);
    return this.unchain(v);
  }

  private unchain(v: CVal): CVal {
    if (!v.mayShort) return v;
    const code = v.code;
    return { k: 'val', ty: nullableOf(v.ty), pos: v.pos, code: (f) => {
      const r = code(f);
      return r === SHORT ? null : r;
    } };
  }

  /** a value (not a type or namespace); chain=true keeps SHORT for an enclosing ?. chain */
  val(e: Expr, chain = false): CVal {
    const o = this.operand(e, chain);
    if (o.k === 'type') this.err(`'${o.name}' is a type, which is not valid in the given context`, o.pos);
    if (o.k === 'ns') this.err(`'${o.name}' is a namespace, which is not valid in the given context`, o.pos);
    if (o.lambda) this.err('a lambda expression is not valid here', o.pos);
    return chain ? o : this.unchain(o);
  }

  private operand(e: Expr, chain: boolean): Operand {
    this.guard(e.pos);
    try {
      return this.operandInner(e, chain);
    } finally {
      this.depth--;
    }
  }

  private operandInner(e: Expr, chain: boolean): Operand {
    switch (e.k) {
      case 'lit':
        return this.literal(e);
      case 'interp':
        return this.interp(e);
      case 'name':
        return this.name(e);
      case 'member':
        return this.member(e);
      case 'call':
        return this.call(e);
      case 'index':
        return this.index(e);
      case 'unary':
        return this.unary(e);
      case 'incdec':
        return this.incdec(e);
      case 'binary':
        return this.binary(e);
      case 'cond':
        return this.conditional(e);
      case 'assign':
        return this.assign(e);
      case 'cast': {
        const to = this.resolveType(e.type);
        const v = this.root(e.expr);
        return this.convert(v, to, true, e.pos);
      }
      case 'is':
        return this.isExpr(e);
      case 'as':
        return this.asExpr(e);
      case 'lambda':
        return { k: 'val', ty: { n: 'Func' }, code: () => null, pos: e.pos, lambda: e };
      case 'new':
        return this.newExpr(e);
      case 'newarray':
        return this.newArray(e);
      case 'anon':
        return this.anon(e);
      case 'default': {
        if (!e.type) return { k: 'val', ty: T.null, code: () => null, pos: e.pos, constant: { v: null } };
        const ty = this.resolveType(e.type);
        const v = defaultOf(ty);
        return { k: 'val', ty, code: () => (v instanceof Object ? defaultOf(ty) : v), pos: e.pos };
      }
      case 'typeof':
        return this.unsup('typeof (reflection) is not supported', e.pos);
      case 'nameof':
        return { k: 'val', ty: T.string, code: () => e.name, pos: e.pos, constant: { v: e.name } };
      case 'throw': {
        const v = this.root(e.value);
        const code = v.code;
        return { k: 'val', ty: T.dynamic, pos: e.pos, code: (f) => {
          const x = code(f);
          f.rt.at = e.pos;
          throwValue(x);
        } };
      }
      case 'typeexpr': {
        const t = this.staticType(e.type.name, e.pos);
        if (!t) this.unsup(`unknown type '${e.type.name}'`, e.pos);
        return t;
      }
    }
  }

  private literal(e: Extract<Expr, { k: 'lit' }>): CVal {
    const v = e.value;
    let ty: Ty;
    switch (e.type) {
      case 'int':
        ty = T.int;
        break;
      case 'uint':
      case 'long':
      case 'ulong':
        ty = T.long;
        break;
      case 'double':
      case 'float':
      case 'decimal':
        ty = T.double;
        break;
      case 'string':
        ty = T.string;
        break;
      case 'char':
        ty = T.char;
        break;
      case 'bool':
        ty = T.bool;
        break;
      default:
        ty = T.null;
    }
    return { k: 'val', ty, code: () => v, pos: e.pos, constant: { v } };
  }

  private interp(e: Extract<Expr, { k: 'interp' }>): CVal {
    const parts: Array<string | ((f: Frame) => string)> = e.parts.map((p) => {
      if (typeof p === 'string') return p;
      const v = this.root(p.expr);
      if (v.ty.n === 'void') this.err('a void method call has no value', p.expr.pos);
      const code = v.code;
      const ty = v.ty;
      const fmt = p.format;
      let align: CVal | null = null;
      if (p.align) {
        align = this.convert(this.root(p.align), T.int, false, p.align.pos);
        if (!align.constant) this.err('the alignment of an interpolation hole must be a constant', p.align.pos);
      }
      const width = align ? (align.constant?.v as number) : 0;
      return (f: Frame) => {
        const s = formatWith(code(f), fmt, ty);
        if (!width) return s;
        checkLen(f.rt, Math.abs(width));
        return width > 0 ? s.padStart(width) : s.padEnd(-width);
      };
    });
    return { k: 'val', ty: T.string, pos: e.pos, code: (f) => {
      let out = '';
      for (const p of parts) {
        out += typeof p === 'string' ? p : p(f);
        if (out.length > f.rt.maxStr) checkLen(f.rt, out.length);
      }
      return out;
    } };
  }

  private name(e: Extract<Expr, { k: 'name' }>): Operand {
    if (e.typeArgs) this.unsup(`generic name '${e.name}<...>' is not supported here`, e.pos);
    const found = this.lookup(e.name);
    if (found) {
      if (found.info.kind === 'func') this.err(`'${e.name}' is a local function; call it with (...)`, e.pos);
      const v = found.info;
      if (v.isConst) {
        const c = v.constVal;
        return { k: 'val', ty: v.ty, code: () => c, pos: e.pos, constant: { v: c } };
      }
      return { k: 'val', ty: v.ty, code: this.varGet(v, found.hops), pos: e.pos };
    }
    if (e.name === 'context') return { k: 'val', ty: { n: 'IContext' }, code: (f) => f.rt.ctx, pos: e.pos };
    const t = this.staticType(e.name, e.pos);
    if (t) return t;
    if (NAMESPACES.has(e.name)) return { k: 'ns', name: e.name, pos: e.pos };
    if (e.name === '_') this.err("'_' (discard) can only be used as an out argument", e.pos);
    if (/^[A-Z]/.test(e.name)) this.unsup(`unknown or unsupported type or name '${e.name}'`, e.pos);
    this.unsup(`the name '${e.name}' does not exist in the current context`, e.pos);
  }

  private member(e: Extract<Expr, { k: 'member' }>): Operand {
    const o = this.operand(e.obj, true);
    if (o.k === 'ns') {
      const full = `${o.name}.${e.name}`;
      if (NAMESPACES.has(full)) return { k: 'ns', name: full, pos: e.pos };
      const t = this.staticType(e.name, e.pos);
      if (t) return t;
      this.unsup(`unknown or unsupported type '${full}'`, e.pos);
    }
    if (o.k === 'type') return this.staticMember(o, e.name, e.pos);
    if (o.lambda) this.err('a lambda expression has no members', e.pos);
    return this.instanceMember(o, e.name, e.nullCond, e.pos);
  }

  private staticMember(t: CType, name: string, pos: number): CVal {
    const ev = t.def.enumValues;
    if (ev && Object.prototype.hasOwnProperty.call(ev, name)) {
      const value = new CsEnum(t.def.name, name, ev[name] as number);
      return { k: 'val', ty: { n: t.def.name }, code: () => value, pos, constant: { v: value } };
    }
    const prop = own(t.def.sprops, name);
    if (prop) {
      const ty = resolveTy(prop.ty, t.ty);
      return { k: 'val', ty, pos, code: (f) => {
        f.rt.at = pos;
        return prop.get(null, f.rt);
      } };
    }
    if (own(t.def.smethods, name)) this.err(`'${t.name}.${name}' is a method; call it with (...)`, pos);
    this.unsup(`unknown or unsupported static member '${name}' of type ${t.name}`, pos);
  }

  private trackReads(prop: PropDef, selfTy: Ty): void {
    if (prop.reads === 'requestBody') this.reads.requestBody = true;
    else if (prop.reads === 'variables') this.reads.variables = true;
    else if (prop.reads === 'body' && selfTy.tag === 'ctxResponse') this.reads.responseBody = true;
  }

  private instanceMember(o: CVal, name: string, nullCond: boolean, pos: number): CVal {
    const recv = o.code;
    const mayShort = nullCond || !!o.mayShort;
    if (o.ty.n === 'Anon' && o.ty.f) {
      const fty = o.ty.f.get(name);
      if (!fty) this.unsup(`unknown member '${name}' of the anonymous type`, pos);
      return { k: 'val', ty: nullCond ? nullableOf(fty) : fty, mayShort, pos, code: (f) => {
        const r = recv(f);
        if (r === SHORT) return SHORT;
        if (r === null || r === undefined) {
          if (nullCond) return SHORT;
          f.rt.at = pos;
          nullRef();
        }
        return (r as CsAnon).fields.get(name);
      } };
    }
    if (o.ty.nullable && isValueType(o.ty) && (name === 'Value' || name === 'HasValue')) {
      const inner: Ty = { ...o.ty, nullable: false };
      const isValue = name === 'Value';
      return { k: 'val', ty: isValue ? inner : T.bool, mayShort, pos, code: (f) => {
        const r = recv(f);
        if (r === SHORT) return SHORT;
        const has = r !== null && r !== undefined;
        if (!isValue) return has;
        if (!has) {
          f.rt.at = pos;
          throw new CsException('InvalidOperationException', 'Nullable object must have a value.');
        }
        return r;
      } };
    }
    if (isDyn(o.ty)) {
      if (!ALL_MEMBER_NAMES.has(name)) this.unsup(`unknown member '${name}'`, pos);
      if (name === 'Body') {
        this.reads.requestBody = true;
        this.reads.responseBody = true;
      }
      if (name === 'Variables') this.reads.variables = true;
      return { k: 'val', ty: T.dynamic, mayShort, pos, code: (f) => {
        const r = recv(f);
        if (r === SHORT) return SHORT;
        const rt = f.rt;
        if (r === null || r === undefined) {
          if (nullCond) return SHORT;
          rt.at = pos;
          nullRef();
        }
        rt.at = pos;
        tick(rt);
        if (r instanceof CsAnon) {
          if (!r.fields.has(name)) throw new CsException('RuntimeBinderException', `the anonymous object has no member '${name}'`);
          return r.fields.get(name);
        }
        const p = findProp(tyOfValue(r), name);
        if (!p) throw new CsException('RuntimeBinderException', `'${tyName(tyOfValue(r))}' does not contain a definition for '${name}'`);
        return p.get(r, rt);
      } };
    }
    const prop = findProp(o.ty, name);
    if (!prop) {
      if (findMethod(o.ty, name)) this.err(`'${name}' is a method of ${tyName(o.ty)}; call it with (...)`, pos);
      this.unsup(`unknown member '${name}' of ${tyName(o.ty)}`, pos);
    }
    this.trackReads(prop, o.ty);
    const ty = resolveTy(prop.ty, o.ty);
    return { k: 'val', ty: nullCond ? nullableOf(ty) : ty, mayShort, pos, code: (f) => {
      const r = recv(f);
      if (r === SHORT) return SHORT;
      const rt = f.rt;
      if (r === null || r === undefined) {
        if (nullCond) return SHORT;
        rt.at = pos;
        nullRef();
      }
      rt.at = pos;
      tick(rt);
      return prop.get(r, rt);
    } };
  }

  private index(e: Extract<Expr, { k: 'index' }>): CVal {
    const o = this.val(e.obj, true);
    const keys = e.args.map((a) => this.root(a));
    const recv = o.code;
    const keyCodes = keys.map((k) => (k.ty.n === 'char' && o.ty.n !== 'Dictionary' ? this.convert(k, T.int, false, k.pos).code : k.code));
    const nullCond = e.nullCond;
    const mayShort = nullCond || !!o.mayShort;
    const pos = e.pos;
    let ix: IndexerDef | undefined;
    let ty: Ty;
    if (isDyn(o.ty)) {
      ty = T.dynamic;
    } else {
      ix = findIndexer(o.ty);
      if (!ix) this.err(`cannot apply indexing with [] to an expression of type ${tyName(o.ty)}`, pos);
      ty = resolveTy(ix.ty, o.ty, keys.map((k) => k.ty));
      if (o.ty.n === 'Array' && keys.length !== 1) this.err('wrong number of indices inside []; expected 1', pos);
      if (o.ty.n === 'Array' || o.ty.n === 'List' || o.ty.n === 'string' || o.ty.n === 'JArray') {
        const k0 = keys[0] as CVal;
        if (!isDyn(k0.ty) && !INTEGRAL.has(k0.ty.n) && k0.ty.n !== 'char') this.err(`cannot convert ${tyName(k0.ty)} to int for an index`, k0.pos);
      }
    }
    const fixed = ix;
    return { k: 'val', ty: nullCond ? nullableOf(ty) : ty, mayShort, pos, code: (f) => {
      const r = recv(f);
      if (r === SHORT) return SHORT;
      const rt = f.rt;
      if (r === null || r === undefined) {
        if (nullCond) return SHORT;
        rt.at = pos;
        nullRef();
      }
      const ks = keyCodes.map((c) => c(f));
      rt.at = pos;
      tick(rt);
      const d = fixed ?? findIndexer(tyOfValue(r));
      if (!d) throw new CsException('RuntimeBinderException', `cannot apply indexing with [] to a value of type '${tyName(tyOfValue(r))}'`);
      return d.get(r, ks, rt);
    } };
  }

  // ---------------------------------------------------------------- calls

  private call(e: Extract<Expr, { k: 'call' }>): CVal {
    const callee = e.callee;
    if (callee.k === 'name') {
      const found = this.lookup(callee.name);
      if (found && found.info.kind === 'func') return this.callLocalFunc(found.info, found.hops, e.args, e.pos);
      if (found) this.err(`'${callee.name}' is a variable, not a method`, callee.pos);
      if (callee.name === 'nameof') this.err('invalid nameof', callee.pos);
      this.unsup(`unknown method '${callee.name}'`, callee.pos);
    }
    if (callee.k !== 'member') this.unsup('only methods can be called (delegates are not supported)', e.pos);
    const o = this.operand(callee.obj, true);
    const gen = (callee.typeArgs ?? []).map((t) => this.resolveType(t));
    if (o.k === 'ns') this.unsup(`unknown method '${o.name}.${callee.name}'`, callee.pos);
    if (o.k === 'type') {
      const def = own(o.def.smethods, callee.name);
      if (!def) {
        if (own(o.def.sprops, callee.name)) this.err(`'${o.name}.${callee.name}' is a property, not a method`, callee.pos);
        this.unsup(`unknown or unsupported static method '${o.name}.${callee.name}'`, callee.pos);
      }
      return this.invoke(def, null, o.ty, callee.name, e.args, gen, callee.pos, false);
    }
    if (o.lambda) this.err('a lambda expression cannot be called', e.pos);
    if (o.ty.nullable && isValueType(o.ty) && (callee.name === 'GetValueOrDefault' || callee.name === 'ToString') && e.args.length <= 1) {
      // Nullable<T>: x.GetValueOrDefault([default]) and x.ToString() ("" when there is no value)
      const inner: Ty = { ...o.ty, nullable: false };
      const recv = o.code;
      const def0 = e.args[0] ? this.convert(this.root(e.args[0].value), inner, false, e.args[0].pos).code : null;
      const isStr = callee.name === 'ToString';
      if (isStr && e.args.length) this.unsup('ToString(format) on a nullable value: use .Value.ToString(format)', callee.pos);
      return { k: 'val', ty: isStr ? T.string : inner, pos: callee.pos, mayShort: callee.nullCond || !!o.mayShort, code: (f) => {
        const r = recv(f);
        if (r === SHORT) return SHORT;
        if (r === null || r === undefined) {
          if (callee.nullCond) return SHORT;
          return isStr ? '' : def0 ? def0(f) : defaultOf(inner);
        }
        return isStr ? formatWith(r, null, inner) : r;
      } };
    }
    if (isDyn(o.ty)) {
      if (!ALL_MEMBER_NAMES.has(callee.name)) this.unsup(`unknown method '${callee.name}'`, callee.pos);
      return this.invoke(null, o, o.ty, callee.name, e.args, gen, callee.pos, callee.nullCond);
    }
    const def = findMethod(o.ty, callee.name);
    if (!def) {
      if (findProp(o.ty, callee.name)) this.err(`'${callee.name}' is a property of ${tyName(o.ty)}, not a method`, callee.pos);
      this.unsup(`unknown or unsupported method '${callee.name}' of ${tyName(o.ty)}`, callee.pos);
    }
    return this.invoke(def, o, o.ty, callee.name, e.args, gen, callee.pos, callee.nullCond);
  }

  /** orders arguments (named → positional) */
  private orderArgs(args: Arg[], names: string[] | undefined, what: string): Arg[] {
    if (!args.some((a) => a.name)) return args;
    const out: Arg[] = [];
    let positional = true;
    for (const a of args) {
      if (!a.name) {
        if (!positional) this.err('named arguments must come after positional arguments', a.pos);
        out.push(a);
        continue;
      }
      positional = false;
      const i = names ? names.indexOf(a.name) : -1;
      if (i < 0) this.err(`${what} has no parameter named '${a.name}'`, a.pos);
      if (out[i] !== undefined) this.err(`the parameter '${a.name}' is given twice`, a.pos);
      out[i] = a;
    }
    for (let i = 0; i < out.length; i++) if (out[i] === undefined) this.unsup('skipping optional parameters with named arguments is not supported', args[0]?.pos ?? 0);
    return out;
  }

  /** compiles one argument; returns the compiled value, and for out arguments the target writer */
  private compileArgs(
    args: Arg[],
    lambdaTys: (i: number, tys: Ty[]) => Ty[] | null,
    outTy: (i: number, tys: Ty[], count: number) => Ty | null,
    coerce: (i: number, tys: Ty[], count: number) => Ty | null,
  ): { vals: CVal[]; outs: Array<{ i: number; write: (f: Frame, v: unknown) => void }> } {
    const vals: CVal[] = [];
    const tys: Ty[] = [];
    const outs: Array<{ i: number; write: (f: Frame, v: unknown) => void }> = [];
    args.forEach((a, i) => {
      if (a.refKind === 'ref' || a.refKind === 'in') this.unsup(`'${a.refKind}' arguments are not supported`, a.pos);
      if (a.refKind === 'out') {
        const t = outTy(i, tys, args.length);
        if (!t) this.err(`argument ${i + 1} may not be passed with the 'out' keyword`, a.pos);
        let write: (f: Frame, v: unknown) => void;
        if (a.outDecl) {
          if (a.outDecl.name === '_' ) write = () => undefined;
          else {
            const declTy = a.outDecl.type ? this.resolveType(a.outDecl.type) : t;
            const info = this.declare(a.outDecl.name, declTy, a.outDecl.pos);
            const set = this.varSet(info, 0);
            const conv = declTy.n === t.n || isDyn(declTy) ? null : declTy;
            write = conv ? (f, v) => set(f, castValue(v, conv)) : set;
          }
        } else if (a.value.k === 'name' && a.value.name === '_') write = () => undefined;
        else {
          const lv = this.lvalue(a.value);
          const target = lv.ty;
          write = isDyn(target) || target.n === t.n ? (f, v) => lv.set(f, v) : (f, v) => lv.set(f, castValue(v, target));
        }
        outs.push({ i, write });
        vals.push({ k: 'val', ty: t, pos: a.pos, code: () => new OutBox() });
        tys.push(t);
        return;
      }
      if (a.value.k === 'lambda') {
        const ptys = lambdaTys(i, tys);
        if (!ptys) this.err('a lambda expression is not valid as this argument', a.value.pos);
        const lv = this.lambda(a.value, ptys);
        vals.push(lv);
        tys.push(lv.ty);
        return;
      }
      let v = this.root(a.value);
      if (v.ty.n === 'void') this.err('a void method call has no value', a.value.pos);
      const c = coerce(i, tys, args.length);
      if (c) v = this.convert(v, c, false, a.value.pos);
      vals.push(v);
      tys.push(v.ty);
    });
    return { vals, outs };
  }

  private invoke(def: MethodDef | null, recv: CVal | null, selfTy: Ty, name: string, rawArgs: Arg[], gen: Ty[], pos: number, nullCond: boolean): CVal {
    const args = this.orderArgs(rawArgs, def?.names, `method '${name}'`);
    if (def) {
      const [gmin, gmax] = def.gen ?? [0, 0];
      if (gen.length < gmin || gen.length > gmax) {
        if (gmax === 0) this.err(`the method '${name}' does not take type arguments`, pos);
        this.err(`the method '${name}' needs ${gmin === gmax ? gmin : `${gmin}-${gmax}`} type argument(s)`, pos);
      }
      const min = def.min ?? 0;
      const max = def.max ?? Infinity;
      if (args.length < min || args.length > max) this.err(`no overload of '${name}' takes ${args.length} argument(s)`, pos);
    }
    const { vals, outs } = this.compileArgs(
      args,
      (i, tys) => (def ? (def.lambda ? def.lambda(selfTy, i, tys) : null) : rawArgs[i]?.value.k === 'lambda' ? lambdaParamsDyn(rawArgs[i]?.value) : null),
      (i, tys, n) => (def ? (def.out ? def.out(selfTy, i, tys, gen, n) : null) : T.dynamic),
      (i, tys, n) => (def?.coerce ? def.coerce(selfTy, i, tys, n) : null),
    );
    const argTys = vals.map((v) => v.ty);
    if (def?.check) {
      const msg = def.check(selfTy, argTys, gen);
      if (msg) this.unsup(msg, pos);
    }
    const retTy = def ? resolveTy(def.ret, selfTy, argTys, gen) : T.dynamic;
    const codes = vals.map((v) => v.code);
    const n = codes.length;
    const nullSelf = name === 'AsJwt' || name === 'TryParseJwt' || name === 'AsBasic' || name === 'TryParseBasic';
    const recvCode = recv?.code;
    const mayShort = nullCond || !!recv?.mayShort;
    const fixed = def;
    const dynName = name;
    const code: Code = (f) => {
      let self: unknown = null;
      const rt = f.rt;
      if (recvCode) {
        self = recvCode(f);
        if (self === SHORT) return SHORT;
        if (self === null || self === undefined) {
          if (nullCond) return SHORT;
          if (!nullSelf) {
            rt.at = pos;
            nullRef();
          }
          self = null;
        }
      }
      const a = new Array<unknown>(n);
      for (let i = 0; i < n; i++) a[i] = (codes[i] as Code)(f);
      rt.at = pos;
      tick(rt);
      let d = fixed;
      let sty = selfTy;
      if (!d) {
        sty = tyOfValue(self);
        d = findMethod(sty, dynName) ?? null;
        if (!d) throw new CsException('RuntimeBinderException', `'${tyName(sty)}' does not contain a definition for '${dynName}'`);
      }
      const ctx: CallCtx = { rt, gen, argTys, selfTy: sty };
      const r = d.call(self, a, ctx);
      for (const o of outs) o.write(f, (a[o.i] as OutBox).value);
      return r;
    };
    return { k: 'val', ty: nullCond && retTy.n !== 'void' ? nullableOf(retTy) : retTy, code, pos, mayShort };
  }

  private callLocalFunc(info: FuncInfo, hops: number, rawArgs: Arg[], pos: number): CVal {
    if (rawArgs.length !== info.params.length) this.err(`the local function '${info.name}' takes ${info.params.length} argument(s)`, pos);
    const codes = rawArgs.map((a, i) => {
      if (a.name) this.unsup('named arguments to local functions are not supported', a.pos);
      if (a.refKind) this.unsup(`'${a.refKind}' arguments are not supported`, a.pos);
      if (a.value.k === 'lambda') this.err('a lambda expression is not valid as this argument', a.pos);
      return this.convert(this.root(a.value), info.params[i] as Ty, false, a.value.pos).code;
    });
    const impl = info.impl;
    return { k: 'val', ty: info.ret, pos, code: (f) => {
      const args = codes.map((c) => c(f));
      const rt = f.rt;
      rt.at = pos;
      tick(rt);
      const nf: Frame = { s: new Array(impl.nslots), up: frameAt(f, hops), rt, ret: undefined };
      impl.paramSlots.forEach((slot, i) => {
        nf.s[slot] = args[i];
      });
      enter(rt);
      try {
        (impl.body as SCode)(nf);
      } finally {
        rt.depth--;
      }
      return nf.ret;
    } };
  }

  private lambda(e: Extract<Expr, { k: 'lambda' }>, ptys: Ty[]): CVal {
    if (e.params.length > ptys.length) this.err(`this lambda must take ${ptys.length === 1 ? 'one parameter' : `at most ${ptys.length} parameters`}`, e.pos);
    const outerFn = this.fn;
    const outerScope = this.scope;
    const outerLoop = this.loopDepth;
    const outerSwitch = this.switchDepth;
    const fn = new FnScope(outerFn, null, 'lambda');
    this.fn = fn;
    this.scope = new BlockScope(outerScope, fn);
    this.loopDepth = 0;
    this.switchDepth = 0;
    try {
      const usedTys: Ty[] = [];
      const slots = e.params.map((p, i) => {
        const ty = p.type ? this.resolveType(p.type) : (ptys[i] as Ty);
        usedTys.push(ty);
        return this.declare(p.name, ty, p.pos).slot;
      });
      let body: (f: Frame) => unknown;
      let retTy: Ty;
      if (e.body.k === 'block') {
        const sc = this.block(e.body.body, e.body.pos);
        retTy = fn.returnTys.length ? commonType(fn.returnTys) : T.void;
        if (retTy.n !== 'void' && this.reachable(e.body)) this.err('not all code paths of the lambda return a value', e.body.pos);
        body = (f) => {
          sc(f);
          return f.ret;
        };
      } else {
        const v = this.root(e.body);
        retTy = v.ty;
        body = v.code;
      }
      const nslots = () => fn.nslots;
      const code: Code = (f) => {
        const rt = f.rt;
        return (...args: unknown[]) => {
          const nf: Frame = { s: new Array(nslots()), up: f, rt, ret: undefined };
          for (let i = 0; i < slots.length; i++) nf.s[slots[i] as number] = args[i];
          enter(rt);
          try {
            tick(rt);
            return body(nf);
          } finally {
            rt.depth--;
          }
        };
      };
      return { k: 'val', ty: funcOf(usedTys, retTy), code, pos: e.pos };
    } finally {
      this.fn = outerFn;
      this.scope = outerScope;
      this.loopDepth = outerLoop;
      this.switchDepth = outerSwitch;
    }
  }

  // ---------------------------------------------------------------- operators

  private unary(e: Extract<Expr, { k: 'unary' }>): CVal {
    const v = this.root(e.operand);
    return this.fold(this.unaryOp(e, v), [v]);
  }

  private unaryOp(e: Extract<Expr, { k: 'unary' }>, v: CVal): CVal {
    const code = v.code;
    const pos = e.pos;
    switch (e.op) {
      case '!':
        if (!isDyn(v.ty) && v.ty.n !== 'bool') this.err(`operator '!' cannot be applied to an operand of type ${tyName(v.ty)}`, pos);
        return { k: 'val', ty: T.bool, pos, code: (f) => {
          const x = code(f);
          if (x === null && v.ty.nullable) return null;
          if (typeof x !== 'boolean') throw new CsException('InvalidCastException', "operator '!' needs a bool");
          return !x;
        } };
      case '-':
      case '+': {
        if (!isDyn(v.ty) && !isNumeric(v.ty) && v.ty.n !== 'char' && v.ty.n !== 'TimeSpan') this.err(`operator '${e.op}' cannot be applied to an operand of type ${tyName(v.ty)}`, pos);
        if (v.ty.n === 'TimeSpan') return { k: 'val', ty: T.TimeSpan, pos, code: (f) => (e.op === '-' ? new CsTimeSpan(-(code(f) as CsTimeSpan).ms) : code(f)) };
        const ty = isDyn(v.ty) ? T.dynamic : promote(v.ty, T.int);
        const isInt = ty.n === 'int';
        if (e.op === '+') return { k: 'val', ty, pos, code: (f) => toNum(code(f)) };
        return { k: 'val', ty, pos, code: (f) => {
          const x = code(f);
          if (x === null) return null;
          const n = toNum(x);
          return isInt ? -n | 0 : -n;
        } };
      }
      case '~': {
        if (!isDyn(v.ty) && !INTEGRAL.has(v.ty.n) && v.ty.n !== 'char') this.err(`operator '~' cannot be applied to an operand of type ${tyName(v.ty)}`, pos);
        const ty = isDyn(v.ty) ? T.int : promote(v.ty, T.int);
        if (ty.n === 'long') return { k: 'val', ty, pos, code: (f) => Number(BigInt.asIntN(64, ~BigInt(Math.trunc(toNum(code(f)))))) };
        return { k: 'val', ty, pos, code: (f) => ~toNum(code(f)) };
      }
    }
  }

  private binary(e: Extract<Expr, { k: 'binary' }>): CVal {
    const op = e.op;
    const pos = e.pos;
    if (op === '&&' || op === '||') {
      const l = this.root(e.left);
      const r = this.root(e.right);
      for (const x of [l, r]) if (!isDyn(x.ty) && x.ty.n !== 'bool') this.err(`operator '${op}' cannot be applied to an operand of type ${tyName(x.ty)}`, x.pos);
      const lc = l.code;
      const rc = r.code;
      if (op === '&&') return { k: 'val', ty: T.bool, pos, code: (f) => boolOf(lc(f), pos, f) && boolOf(rc(f), pos, f) };
      return { k: 'val', ty: T.bool, pos, code: (f) => boolOf(lc(f), pos, f) || boolOf(rc(f), pos, f) };
    }
    if (op === '??') {
      const l = this.root(e.left);
      const r = e.right.k === 'throw' ? (this.operand(e.right, false) as CVal) : this.root(e.right);
      if (!isDyn(l.ty) && isValueType(l.ty) && !l.ty.nullable) this.err(`operator '??' cannot be applied to operands of type ${tyName(l.ty)}`, pos);
      const ty = isDyn(l.ty) || l.ty.n === 'null' ? r.ty : r.ty.nullable || !isValueType(r.ty) ? l.ty : { ...l.ty, nullable: false };
      const lc = l.code;
      const rc = (l.ty.n === 'JToken' || isSubtype(l.ty, T.JToken)) && r.ty.n !== 'null' && !isDyn(r.ty) && !isSubtype(r.ty, T.JToken) ? this.convert(r, l.ty, false, r.pos).code : r.code;
      return { k: 'val', ty, pos, code: (f) => {
        const v = lc(f);
        return v === null || v === undefined ? rc(f) : v;
      } };
    }
    const l = this.root(e.left);
    const r = this.root(e.right);
    return this.fold(this.binaryOp(op, l, r, pos), [l, r]);
  }

  /** constant folding: an operation on constants is a constant (C# constant expressions) */
  private fold(v: CVal, parts: CVal[]): CVal {
    if (v.constant || !parts.every((x) => x.constant)) return v;
    if (!['int', 'long', 'double', 'bool', 'string', 'char', 'byte', 'short'].includes(v.ty.n)) return v;
    const rt: Runtime = {
      steps: 0, maxSteps: 1000, nextCheck: 0, deadline: Infinity, maxStr: 1 << 20, maxColl: 1000, maxDepth: 8, depth: 0, at: v.pos, alloc: 0,
      ctx: null as unknown as Runtime['ctx'],
    };
    try {
      const x = v.code({ s: [], up: null, rt, ret: undefined });
      return { ...v, code: () => x, constant: { v: x } };
    } catch (e) {
      if (e instanceof CsException && e.csType === 'DivideByZeroException') this.err('division by constant zero', v.pos);
      return v;
    }
  }

  binaryOp(op: string, l: CVal, r: CVal, pos: number): CVal {
    const lt = l.ty;
    const rt0 = r.ty;
    const lc = l.code;
    const rc = r.code;
    const dyn = isDyn(lt) || isDyn(rt0);
    for (const x of [l, r]) if (x.ty.n === 'void') this.err('a void method call has no value', x.pos);
    switch (op) {
      case '+': {
        if (lt.n === 'string' || rt0.n === 'string') {
          const ls = strOf(lt);
          const rs = strOf(rt0);
          return { k: 'val', ty: T.string, pos, code: (f) => {
            const a = ls(lc(f));
            const b = rs(rc(f));
            if (a.length + b.length > 65536) checkLen(f.rt, a.length + b.length);
            return a + b;
          } };
        }
        if (lt.n === 'null' && rt0.n === 'null') this.err("operator '+' is ambiguous on operands of type <null>", pos);
        break;
      }
      case '==':
      case '!=':
        return this.equality(op, l, r, pos);
      default:
        break;
    }
    if (dyn) return this.dynBinary(op, l, r, pos);
    // date/time arithmetic and comparisons
    const timeTys = ['DateTime', 'DateTimeOffset', 'TimeSpan'];
    if (timeTys.includes(lt.n) || timeTys.includes(rt0.n)) return this.timeBinary(op, l, r, pos);
    if (['<', '>', '<=', '>='].includes(op)) {
      if (!(isNumeric(lt) || lt.n === 'char') || !(isNumeric(rt0) || rt0.n === 'char')) {
        if (lt.n === 'Enum' || TYPES.get(lt.n)?.enumValues) return this.cmp(op, l, r, pos, (a, b) => (a as CsEnum).value - (b as CsEnum).value);
        this.err(`operator '${op}' cannot be applied to operands of type ${tyName(lt)} and ${tyName(rt0)}`, pos);
      }
      return this.cmp(op, l, r, pos, (a, b) => toNum(a) - toNum(b));
    }
    if ((op === '&' || op === '|' || op === '^') && lt.n === 'bool' && rt0.n === 'bool') {
      return { k: 'val', ty: T.bool, pos, code: (f) => {
        const a = lc(f) as boolean;
        const b = rc(f) as boolean;
        return op === '&' ? a && b : op === '|' ? a || b : a !== b;
      } };
    }
    const lEnum = TYPES.get(lt.n)?.enumValues;
    if ((op === '&' || op === '|' || op === '^') && lEnum && lt.n === rt0.n) {
      const type = lt.n;
      return { k: 'val', ty: lt, pos, code: (f) => {
        const a = (lc(f) as CsEnum).value;
        const b = (rc(f) as CsEnum).value;
        return enumFromValue(type, op === '&' ? a & b : op === '|' ? a | b : a ^ b);
      } };
    }
    if (!(isNumeric(lt) || lt.n === 'char') || !(isNumeric(rt0) || rt0.n === 'char'))
      this.err(`operator '${op}' cannot be applied to operands of type ${tyName(lt)} and ${tyName(rt0)}`, pos);
    if (op === '<<' || op === '>>') {
      const ty = promote(lt, T.int);
      if (ty.n === 'double') this.err(`operator '${op}' cannot be applied to operands of type double`, pos);
      if (ty.n === 'long')
        return { k: 'val', ty, pos, code: (f) => {
          const a = BigInt(Math.trunc(toNum(lc(f))));
          const b = BigInt(toNum(rc(f)) & 63);
          return Number(BigInt.asIntN(64, op === '<<' ? a << b : a >> b));
        } };
      return { k: 'val', ty, pos, code: (f) => (op === '<<' ? toNum(lc(f)) << (toNum(rc(f)) & 31) : toNum(lc(f)) >> (toNum(rc(f)) & 31)) };
    }
    const ty = promote(lt, rt0);
    return { k: 'val', ty, pos, code: numericOp(op, ty.n, lc, rc, pos, lt.nullable || rt0.nullable) };
  }

  private cmp(op: string, l: CVal, r: CVal, pos: number, diff: (a: unknown, b: unknown) => number): CVal {
    const lc = l.code;
    const rc = r.code;
    return { k: 'val', ty: T.bool, pos, code: (f) => {
      const a = lc(f);
      const b = rc(f);
      if (a === null || a === undefined || b === null || b === undefined) return false;
      const d = diff(a, b);
      return op === '<' ? d < 0 : op === '>' ? d > 0 : op === '<=' ? d <= 0 : d >= 0;
    } };
  }

  private timeBinary(op: string, l: CVal, r: CVal, pos: number): CVal {
    const lt = l.ty.n;
    const rt0 = r.ty.n;
    const lc = l.code;
    const rc = r.code;
    if (['<', '>', '<=', '>='].includes(op)) {
      const ok = (lt === rt0) || (lt === 'DateTimeOffset' && rt0 === 'DateTime') || (lt === 'DateTime' && rt0 === 'DateTimeOffset');
      if (!ok) this.err(`operator '${op}' cannot be applied to operands of type ${lt} and ${rt0}`, pos);
      return this.cmp(op, l, r, pos, (a, b) => csCompare(toInstant(a), toInstant(b)));
    }
    if (op === '-' && lt === 'DateTime' && rt0 === 'DateTime')
      return { k: 'val', ty: T.TimeSpan, pos, code: (f) => new CsTimeSpan((lc(f) as CsDateTime).ms - (rc(f) as CsDateTime).ms) };
    if (op === '-' && (lt === 'DateTimeOffset' || lt === 'DateTime') && (rt0 === 'DateTimeOffset' || rt0 === 'DateTime'))
      return { k: 'val', ty: T.TimeSpan, pos, code: (f) => new CsTimeSpan(toInstant(lc(f)) - toInstant(rc(f))) };
    if ((op === '+' || op === '-') && (lt === 'DateTime' || lt === 'DateTimeOffset') && rt0 === 'TimeSpan') {
      const sign = op === '+' ? 1 : -1;
      return { k: 'val', ty: l.ty, pos, code: (f) => {
        const d = lc(f) as CsDateTime | CsDateTimeOffset;
        f.rt.at = pos;
        return d.addMs(sign * (rc(f) as CsTimeSpan).ms);
      } };
    }
    if (op === '+' && lt === 'TimeSpan' && (rt0 === 'DateTime' || rt0 === 'DateTimeOffset'))
      return { k: 'val', ty: r.ty, pos, code: (f) => (rc(f) as CsDateTime).addMs((lc(f) as CsTimeSpan).ms) };
    if ((op === '+' || op === '-') && lt === 'TimeSpan' && rt0 === 'TimeSpan') {
      const sign = op === '+' ? 1 : -1;
      return { k: 'val', ty: T.TimeSpan, pos, code: (f) => new CsTimeSpan((lc(f) as CsTimeSpan).ms + sign * (rc(f) as CsTimeSpan).ms) };
    }
    if ((op === '*' || op === '/') && lt === 'TimeSpan' && isNumeric(r.ty))
      return { k: 'val', ty: T.TimeSpan, pos, code: (f) => new CsTimeSpan(op === '*' ? (lc(f) as CsTimeSpan).ms * (rc(f) as number) : (lc(f) as CsTimeSpan).ms / (rc(f) as number)) };
    this.err(`operator '${op}' cannot be applied to operands of type ${tyName(l.ty)} and ${tyName(r.ty)}`, pos);
  }

  private dynBinary(op: string, l: CVal, r: CVal, pos: number): CVal {
    const lc = l.code;
    const rc = r.code;
    const lty = l.ty;
    const rty = r.ty;
    if (['<', '>', '<=', '>='].includes(op)) {
      return this.cmp(op, l, r, pos, (a, b) => {
        if ((typeof a === 'number' || typeof a === 'string') && (typeof b === 'number' || typeof b === 'string') && typeof a !== typeof b)
          return toNum(a) - toNum(b);
        if (typeof a === 'string' && typeof b === 'string' && (lty.n !== 'char' || rty.n !== 'char') && (a.length !== 1 || b.length !== 1))
          throw new CsException('RuntimeBinderException', `operator '${op}' cannot be applied to operands of type 'string' and 'string'`);
        return csCompare(toInstantOr(a), toInstantOr(b));
      });
    }
    return { k: 'val', ty: T.dynamic, pos, code: (f) => {
      const a = lc(f);
      const b = rc(f);
      f.rt.at = pos;
      if (op === '+' && (typeof a === 'string' && lty.n !== 'char' || typeof b === 'string' && rty.n !== 'char')) {
        const s = csToString(a, lty) + csToString(b, rty);
        checkLen(f.rt, s.length);
        return s;
      }
      if (a === null || a === undefined || b === null || b === undefined) return null;
      if (typeof a === 'boolean' && typeof b === 'boolean' && (op === '&' || op === '|' || op === '^'))
        return op === '&' ? a && b : op === '|' ? a || b : a !== b;
      if (a instanceof CsDateTime || a instanceof CsDateTimeOffset || a instanceof CsTimeSpan || b instanceof CsTimeSpan) {
        if (op === '-' && (a instanceof CsDateTime || a instanceof CsDateTimeOffset) && (b instanceof CsDateTime || b instanceof CsDateTimeOffset))
          return new CsTimeSpan(toInstant(a) - toInstant(b));
        if ((op === '+' || op === '-') && b instanceof CsTimeSpan) {
          const sign = op === '+' ? 1 : -1;
          if (a instanceof CsTimeSpan) return new CsTimeSpan(a.ms + sign * b.ms);
          return (a as CsDateTime).addMs(sign * b.ms);
        }
        throw new CsException('RuntimeBinderException', `operator '${op}' cannot be applied to these operands`);
      }
      if (a instanceof CsEnum && b instanceof CsEnum) return enumFromValue(a.type, op === '&' ? a.value & b.value : op === '|' ? a.value | b.value : a.value ^ b.value);
      const x = toNum(a);
      const y = toNum(b);
      if (typeof x !== 'number' || typeof y !== 'number') throw new CsException('RuntimeBinderException', `operator '${op}' cannot be applied to operands of type '${tyName(tyOfValue(a))}' and '${tyName(tyOfValue(b))}'`);
      const isInt = Number.isInteger(x) && Number.isInteger(y) && lty.n !== 'double' && rty.n !== 'double';
      return (numericOp(op, isInt ? (Math.abs(x) > 2147483647 || Math.abs(y) > 2147483647 ? 'long' : 'int') : 'double', () => x, () => y, pos, false) as Code)(f);
    } };
  }

  private equality(op: string, l: CVal, r: CVal, pos: number): CVal {
    let lc = l.code;
    let rc = r.code;
    const neg = op === '!=';
    const lt = l.ty;
    const rt0 = r.ty;
    // char compared with a number: compare codes
    if ((lt.n === 'char' && isNumeric(rt0)) || (rt0.n === 'char' && isNumeric(lt))) {
      if (lt.n === 'char') lc = this.convert(l, T.int, false, pos).code;
      if (rt0.n === 'char') rc = this.convert(r, T.int, false, pos).code;
    } else if (!isDyn(lt) && !isDyn(rt0) && lt.n !== 'null' && rt0.n !== 'null') {
      const compatible =
        lt.n === rt0.n ||
        (lt.n === 'XName' && rt0.n === 'string') ||
        (rt0.n === 'XName' && lt.n === 'string') ||
        (isNumeric(lt) && isNumeric(rt0)) ||
        isSubtype(lt, rt0) ||
        isSubtype(rt0, lt) ||
        (['DateTime', 'DateTimeOffset'].includes(lt.n) && ['DateTime', 'DateTimeOffset'].includes(rt0.n)) ||
        (!isValueType(lt) && !isValueType(rt0) && (this.implicitOk(l, rt0) || this.implicitOk(r, lt)));
      if (!compatible) this.err(`operator '${op}' cannot be applied to operands of type ${tyName(lt)} and ${tyName(rt0)}`, pos);
    } else if ((lt.n === 'null' && isValueType(rt0) && !rt0.nullable) || (rt0.n === 'null' && isValueType(lt) && !lt.nullable)) {
      // C# allows it (always false with a warning)
    }
    if (lt.n === 'string' && rt0.n === 'string') return { k: 'val', ty: T.bool, pos, code: neg ? (f) => lc(f) !== rc(f) : (f) => lc(f) === rc(f) };
    if ((lt.n === 'XName' && (rt0.n === 'string' || rt0.n === 'XName')) || (rt0.n === 'XName' && lt.n === 'string'))
      return { k: 'val', ty: T.bool, pos, code: (f) => {
        const a = lc(f);
        const b = rc(f);
        if (a === null || a === undefined || b === null || b === undefined) return ((a ?? null) === (b ?? null)) !== neg;
        return (csToString(a) === csToString(b)) !== neg;
      } };
    if (isNumeric(lt) && isNumeric(rt0)) return { k: 'val', ty: T.bool, pos, code: neg ? (f) => lc(f) !== rc(f) : (f) => lc(f) === rc(f) };
    const mixDt = (lt.n === 'DateTime' && rt0.n === 'DateTimeOffset') || (lt.n === 'DateTimeOffset' && rt0.n === 'DateTime');
    if (mixDt) return { k: 'val', ty: T.bool, pos, code: (f) => (toInstant(lc(f)) === toInstant(rc(f))) !== neg };
    return { k: 'val', ty: T.bool, pos, code: (f) => csEquals(lc(f), rc(f)) !== neg };
  }

  private conditional(e: Extract<Expr, { k: 'cond' }>): CVal {
    const t = this.root(e.test);
    if (!isDyn(t.ty) && t.ty.n !== 'bool') this.err(`cannot implicitly convert type ${tyName(t.ty)} to bool`, e.test.pos);
    let a = e.then.k === 'throw' ? (this.operand(e.then, false) as CVal) : this.root(e.then);
    let b = e.else.k === 'throw' ? (this.operand(e.else, false) as CVal) : this.root(e.else);
    let ty: Ty;
    if (e.then.k === 'throw') ty = b.ty;
    else if (e.else.k === 'throw') ty = a.ty;
    else if (sameType(a.ty, b.ty)) ty = a.ty.nullable ? a.ty : b.ty;
    else if (a.ty.n === 'null') ty = nullableOf(b.ty);
    else if (b.ty.n === 'null') ty = nullableOf(a.ty);
    else if (isDyn(a.ty) || isDyn(b.ty)) ty = T.dynamic;
    else if (a.ty.n === b.ty.n) ty = a.ty;
    else if ((isNumeric(a.ty) || a.ty.n === 'char') && (isNumeric(b.ty) || b.ty.n === 'char') && this.implicitOk(a, b.ty)) {
      ty = b.ty;
      a = this.convert(a, ty, false, a.pos);
    } else if ((isNumeric(a.ty) || a.ty.n === 'char') && (isNumeric(b.ty) || b.ty.n === 'char') && this.implicitOk(b, a.ty)) {
      ty = a.ty;
      b = this.convert(b, ty, false, b.pos);
    } else if (isSubtype(a.ty, b.ty)) ty = b.ty;
    else if (isSubtype(b.ty, a.ty)) ty = a.ty;
    else if (this.implicitOk(b, a.ty)) {
      ty = a.ty;
      b = this.convert(b, ty, false, b.pos);
    } else if (this.implicitOk(a, b.ty)) {
      ty = b.ty;
      a = this.convert(a, ty, false, a.pos);
    } else this.err(`type of conditional expression cannot be determined: there is no implicit conversion between ${tyName(a.ty)} and ${tyName(b.ty)}`, e.pos);
    const tc = t.code;
    const ac = a.code;
    const bc = b.code;
    return { k: 'val', ty, pos: e.pos, code: (f) => (boolOf(tc(f), e.pos, f) ? ac(f) : bc(f)) };
  }

  private isExpr(e: Extract<Expr, { k: 'is' }>): CVal {
    const v = this.root(e.expr);
    const code = v.code;
    const p: Pattern = e.pattern;
    const not = p.not;
    if (p.kind === 'null') return { k: 'val', ty: T.bool, pos: e.pos, code: (f) => ((code(f) ?? null) === null) !== not };
    if (p.kind === 'const') {
      const c = this.root(p.value);
      const cc = c.code;
      return { k: 'val', ty: T.bool, pos: e.pos, code: (f) => csObjectEquals(code(f), cc(f)) !== not };
    }
    const ty = this.resolveType(p.type);
    if (p.name) {
      if (not) this.unsup("'is not T name' is not supported", e.pos);
      const info = this.declare(p.name, ty, p.namePos ?? e.pos);
      const set = this.varSet(info, 0);
      return { k: 'val', ty: T.bool, pos: e.pos, code: (f) => {
        const x = code(f);
        if (isInstance(x, ty)) {
          set(f, x);
          return true;
        }
        return false;
      } };
    }
    return { k: 'val', ty: T.bool, pos: e.pos, code: (f) => isInstance(code(f), ty) !== not };
  }

  private asExpr(e: Extract<Expr, { k: 'as' }>): CVal {
    const v = this.root(e.expr);
    const ty = this.resolveType(e.type);
    if (isValueType(ty) && !ty.nullable) this.err(`the as operator must be used with a reference type or nullable type ('${tyName(ty)}' is a non-nullable value type)`, e.pos);
    const code = v.code;
    return { k: 'val', ty, pos: e.pos, code: (f) => {
      const x = code(f);
      return isInstance(x, ty) ? x : null;
    } };
  }

  // ---------------------------------------------------------------- assignment

  private lvalue(e: Expr): { ty: Ty; get: Code; set: (f: Frame, v: unknown) => void; bind?: (f: Frame) => { get(): unknown; set(v: unknown): void } } {
    if (e.k === 'name') {
      const found = this.lookup(e.name);
      if (!found) {
        if (e.name === 'context') this.err("'context' cannot be assigned to", e.pos);
        this.err(`the name '${e.name}' does not exist in the current context`, e.pos);
      }
      if (found.info.kind === 'func') this.err(`cannot assign to '${e.name}' because it is a local function`, e.pos);
      if (found.info.isConst) this.err(`cannot assign to '${e.name}' because it is a constant`, e.pos);
      return { ty: found.info.ty, get: this.varGet(found.info, found.hops), set: this.varSet(found.info, found.hops) };
    }
    if (e.k === 'member') {
      const o = this.val(e.obj);
      if (isDyn(o.ty)) this.unsup('assigning members of values of unknown type is not supported; cast the value first', e.pos);
      const prop = findProp(o.ty, e.name);
      if (!prop) this.unsup(`unknown member '${e.name}' of ${tyName(o.ty)}`, e.pos);
      if (!prop.set) this.err(`property '${e.name}' of ${tyName(o.ty)} cannot be assigned to -- it is read only`, e.pos);
      const setter = prop.set;
      const recv = o.code;
      const pos = e.pos;
      const ty = resolveTy(prop.ty, o.ty);
      const bind = (f: Frame) => {
        const r = recv(f);
        if (r === null || r === undefined) {
          f.rt.at = pos;
          nullRef();
        }
        return { get: () => prop.get(r, f.rt), set: (v: unknown) => setter(r, v, f.rt) };
      };
      return { ty, get: (f) => bind(f).get(), set: (f, v) => bind(f).set(v), bind };
    }
    if (e.k === 'index') {
      const o = this.val(e.obj);
      const keys = e.args.map((a) => this.root(a).code);
      const pos = e.pos;
      let ix: IndexerDef | undefined;
      let ty: Ty = T.dynamic;
      if (!isDyn(o.ty)) {
        ix = findIndexer(o.ty);
        if (!ix) this.err(`cannot apply indexing with [] to an expression of type ${tyName(o.ty)}`, pos);
        if (!ix.set) {
          if (o.ty.n === 'IVariables') this.err('context.Variables is read-only in expressions; use the set-variable policy', pos);
          this.err(`the indexer of ${tyName(o.ty)} is read only`, pos);
        }
        ty = ix.valueTy ? ix.valueTy(o.ty) : resolveTy(ix.ty, o.ty, []);
      }
      const fixed = ix;
      const recv = o.code;
      const bind = (f: Frame) => {
        const r = recv(f);
        const rt = f.rt;
        if (r === null || r === undefined) {
          rt.at = pos;
          nullRef();
        }
        const ks = keys.map((k) => k(f));
        const d = fixed ?? findIndexer(tyOfValue(r));
        if (!d || !d.set) throw new CsException('RuntimeBinderException', 'the value cannot be assigned through an indexer');
        return {
          get: () => {
            rt.at = pos;
            return d.get(r, ks, rt);
          },
          set: (v: unknown) => {
            rt.at = pos;
            tick(rt);
            (d.set as NonNullable<IndexerDef['set']>)(r, ks, v, rt);
          },
        };
      };
      return { ty, get: (f) => bind(f).get(), set: (f, v) => bind(f).set(v), bind };
    }
    this.err('the left-hand side of an assignment must be a variable, property or indexer', e.pos);
  }

  private assign(e: Extract<Expr, { k: 'assign' }>): CVal {
    const lv = this.lvalue(e.target);
    const pos = e.pos;
    if (e.op === '=') {
      const v = e.value.k === 'lambda' ? this.err('cannot assign a lambda expression', e.value.pos) : this.convert(this.root(e.value), lv.ty, false, e.value.pos);
      const vc = v.code;
      const set = lv.set;
      return { k: 'val', ty: lv.ty, pos, code: (f) => {
        const x = vc(f);
        set(f, x);
        return x;
      } };
    }
    const binop = e.op.slice(0, -1);
    const cur: CVal = { k: 'val', ty: lv.ty, pos, code: () => undefined };
    const rhs = this.root(e.value);
    if (binop === '??') {
      const rc = this.convert(rhs, lv.ty, false, rhs.pos).code;
      const bind = lv.bind;
      return { k: 'val', ty: lv.ty, pos, code: (f) => {
        if (bind) {
          const b = bind(f);
          const x = b.get();
          if (x !== null && x !== undefined) return x;
          const y = rc(f);
          b.set(y);
          return y;
        }
        const x = lv.get(f);
        if (x !== null && x !== undefined) return x;
        const y = rc(f);
        lv.set(f, y);
        return y;
      } };
    }
    // compute current op rhs with a placeholder for the current value
    let slotVal: unknown;
    cur.code = () => slotVal;
    let res = this.binaryOp(binop, cur, rhs, pos);
    if (!sameType(res.ty, lv.ty) && !isDyn(lv.ty)) res = this.convert(res, lv.ty, true, pos);
    const rc = res.code;
    const bind = lv.bind;
    return { k: 'val', ty: lv.ty, pos, code: (f) => {
      if (bind) {
        const b = bind(f);
        slotVal = b.get();
        const y = rc(f);
        b.set(y);
        return y;
      }
      slotVal = lv.get(f);
      const y = rc(f);
      lv.set(f, y);
      return y;
    } };
  }

  private incdec(e: Extract<Expr, { k: 'incdec' }>): CVal {
    const lv = this.lvalue(e.target);
    if (!isDyn(lv.ty) && !isNumeric(lv.ty) && lv.ty.n !== 'char') this.err(`operator '${e.op}' cannot be applied to an operand of type ${tyName(lv.ty)}`, e.pos);
    const delta = e.op === '++' ? 1 : -1;
    const prefix = e.prefix;
    const ty = lv.ty;
    const step = (x: unknown): unknown => {
      if (ty.n === 'char') return String.fromCharCode(((x as string).charCodeAt(0) + delta) & 0xffff);
      if (ty.n === 'int') return ((x as number) + delta) | 0;
      if (ty.n === 'byte') return ((x as number) + delta) & 0xff;
      return (x as number) + delta;
    };
    const bind = lv.bind;
    return { k: 'val', ty, pos: e.pos, code: (f) => {
      if (bind) {
        const b = bind(f);
        const old = b.get();
        const nv = step(old);
        b.set(nv);
        return prefix ? nv : old;
      }
      const old = lv.get(f);
      const nv = step(old);
      lv.set(f, nv);
      return prefix ? nv : old;
    } };
  }

  // ---------------------------------------------------------------- conversions

  private implicitOk(v: CVal, to: Ty): boolean {
    try {
      this.convert(v, to, false, v.pos);
      return true;
    } catch (e) {
      if (e instanceof CompileError) return false;
      throw e;
    }
  }

  /** C# conversion of a compiled value to a type (implicit or explicit) */
  convert(v: CVal, to: Ty, explicit: boolean, pos: number): CVal {
    const from = v.ty;
    const code = v.code;
    const wrap = (fn: (x: unknown) => unknown, nullPasses = true): CVal => ({
      k: 'val', ty: to, pos: v.pos, code: (f) => {
        const x = code(f);
        if (nullPasses && (x === null || x === undefined)) return x ?? null;
        f.rt.at = pos;
        return fn(x);
      },
    });
    if (v.lambda) this.err('a lambda expression cannot be converted to a value here', v.pos);
    if (from.n === 'void') this.err('a void method call has no value', v.pos);
    if (to.n === 'void') return v;
    if (isDyn(to)) return { ...v, ty: to };
    if (from.n === 'null') {
      if (isValueType(to) && !to.nullable) this.err(`cannot convert null to '${tyName(to)}' because it is a non-nullable value type`, v.pos);
      return { ...v, ty: to };
    }
    if (isDyn(from)) {
      return { k: 'val', ty: to, pos: v.pos, code: (f) => {
        const x = code(f);
        f.rt.at = pos;
        return castValue(x, to);
      } };
    }
    if (from.n === to.n) {
      if (from.nullable && !to.nullable && isValueType(to))
        return { k: 'val', ty: to, pos: v.pos, code: (f) => {
          const x = code(f);
          if (x === null || x === undefined) {
            f.rt.at = pos;
            throw new CsException('InvalidOperationException', 'Nullable object must have a value.');
          }
          return x;
        } };
      return { ...v, ty: to };
    }
    // numeric
    const fromNum = isNumeric(from) || from.n === 'char';
    const toNumT = isNumeric(to) || to.n === 'char';
    if (fromNum && toNumT) {
      const implicit = (IMPLICIT_NUMERIC[from.n] ?? []).includes(to.n);
      let constOk = false;
      if (!implicit && v.constant && typeof v.constant.v === 'number' && Number.isInteger(v.constant.v) && from.n === 'int') {
        const c = v.constant.v;
        const ranges: Record<string, [number, number]> = { byte: [0, 255], short: [-32768, 32767], long: [-Infinity, Infinity] };
        const r = ranges[to.n];
        constOk = !!r && c >= r[0] && c <= r[1];
      }
      if (!implicit && !constOk && !explicit) this.err(`cannot implicitly convert type ${tyName(from)} to ${tyName(to)} (an explicit conversion exists)`, v.pos);
      const conv = numConv(from.n, to.n);
      if (!conv) return { ...v, ty: to };
      const r = wrap(conv);
      if (v.constant) r.constant = { v: v.constant.v === null ? null : conv(v.constant.v) };
      return r;
    }
    // enums <-> integers
    const toEnum = TYPES.get(to.n)?.enumValues;
    const fromEnum = TYPES.get(from.n)?.enumValues;
    if (explicit && toEnum && INTEGRAL.has(from.n)) {
      const type = to.n;
      return wrap((x) => enumFromValue(type, x as number));
    }
    if (explicit && fromEnum && (INTEGRAL.has(to.n) || to.n === 'double')) return wrap((x) => (x as CsEnum).value);
    // JSON conversions (Newtonsoft implicit/explicit operators)
    const jsonTy = ['JToken', 'JObject', 'JArray', 'JValue', 'JProperty', 'JContainer'];
    const toJson = jsonTy.includes(to.n);
    const fromJson = jsonTy.includes(from.n);
    if (toJson && !fromJson) {
      const scalar = ['string', 'bool', 'int', 'long', 'double', 'byte', 'short', 'char', 'DateTime', 'DateTimeOffset', 'Guid', 'Uri', 'TimeSpan'].includes(from.n) ||
        (from.n === 'Array' && from.a?.[0]?.n === 'byte');
      if (scalar && (to.n === 'JToken' || to.n === 'JValue')) {
        const fty = from;
        return { k: 'val', ty: to, pos: v.pos, code: (f) => {
          const x = code(f);
          if (x === null || x === undefined) return to.n === 'JValue' ? toJTokenValue(null) : null;
          return toJTokenValue(x, fty);
        } };
      }
      this.err(`cannot ${explicit ? '' : 'implicitly '}convert type ${tyName(from)} to ${tyName(to)}`, v.pos);
    }
    if (fromJson && !toJson) {
      const targets = ['string', 'bool', 'int', 'long', 'double', 'byte', 'short', 'char', 'DateTime', 'DateTimeOffset', 'Guid', 'Uri', 'TimeSpan'];
      if (explicit && (targets.includes(to.n) || (to.n === 'Array' && to.a?.[0]?.n === 'byte'))) {
        const target = to.n === 'Array' ? 'byte[]' : to.n;
        const nullable = !!to.nullable;
        return { k: 'val', ty: to, pos: v.pos, code: (f) => {
          const x = code(f);
          f.rt.at = pos;
          return convertToken((x ?? null) as JToken | null, target, nullable);
        } };
      }
      if (isSubtype(from, to)) return { ...v, ty: to };
      if (to.n === 'IEnumerable') return { ...v, ty: to };
      this.err(`cannot ${explicit ? '' : 'implicitly '}convert type ${tyName(from)} to ${tyName(to)}`, v.pos);
    }
    if (fromJson && toJson) {
      if (isSubtype(from, to)) return { ...v, ty: to };
      if (explicit && isSubtype(to, from)) return wrap((x) => castValue(x, to));
      this.err(`cannot ${explicit ? '' : 'implicitly '}convert type ${tyName(from)} to ${tyName(to)}`, v.pos);
    }
    // LINQ to XML conversions: string → XName (implicit); (string)/(int)/... of XElement / XAttribute (explicit)
    if (to.n === 'XName' && from.n === 'string') return wrap((x) => XmlName.parse(x as string));
    if ((from.n === 'XElement' || from.n === 'XAttribute') && explicit && ['string', 'int', 'long', 'double', 'bool', 'DateTime', 'Guid'].includes(to.n)) {
      const target = to.n;
      return { k: 'val', ty: to, pos: v.pos, code: (f) => {
        const x = code(f);
        if (x === null || x === undefined) {
          if (target === 'string' || to.nullable) return null;
          f.rt.at = pos;
          throw new CsException('ArgumentNullException', "Value cannot be null. (Parameter 'element')");
        }
        f.rt.at = pos;
        return convertToken(toJTokenValue(x instanceof XAttr ? x.value : textOf(x as XElem)), target);
      } };
    }
    if (from.n === 'DateTime' && to.n === 'DateTimeOffset') return wrap((x) => CsDateTimeOffset.fromDateTime(x as CsDateTime, (x as CsDateTime).kind === 'Utc' ? 0 : undefined));
    if (from.n === 'DateTimeOffset' && to.n === 'DateTime' && explicit) this.err('cannot convert type DateTimeOffset to DateTime (use .DateTime or .UtcDateTime)', v.pos);
    // collections
    if (to.n === 'IEnumerable' && elemType(from)) return { ...v, ty: to };
    if (from.n === 'Array' && to.n === 'Array') {
      const fe = (from.a?.[0] ?? T.object) as Ty;
      const te = (to.a?.[0] ?? T.object) as Ty;
      if (sameType(fe, te) || isDyn(te) || (!isValueType(fe) && isSubtype(fe, te))) return { ...v, ty: to };
      if (explicit) return wrap((x) => castValue(x, to));
      this.err(`cannot implicitly convert type ${tyName(from)} to ${tyName(to)}`, v.pos);
    }
    if (from.n === 'List' && to.n === 'List') return { ...v, ty: to };
    if (from.n === 'Dictionary' && to.n === 'Dictionary') return { ...v, ty: to };
    if (from.n === 'IEnumerable' && (to.n === 'Array' || to.n === 'List')) {
      if (explicit) return wrap((x) => castValue(x, to));
      this.err(`cannot implicitly convert type ${tyName(from)} to ${tyName(to)} (use ToArray()/ToList())`, v.pos);
    }
    if (isSubtype(from, to)) return { ...v, ty: to };
    if (explicit && isSubtype(to, from)) return wrap((x) => castValue(x, to));
    if (from.nullable && to.n === from.n) return v;
    this.err(`cannot ${explicit ? '' : 'implicitly '}convert type ${tyName(from)} to ${tyName(to)}`, v.pos);
  }

  // ---------------------------------------------------------------- object creation

  private newExpr(e: Extract<Expr, { k: 'new' }>): CVal {
    const tn = e.type;
    const bare = this.stripNamespace(tn.name, tn.pos);
    if (UNSUPPORTED_TYPES[bare]) this.unsup(`${bare}: ${UNSUPPORTED_TYPES[bare]}`, tn.pos);
    const alias = TYPE_ALIASES[bare] ?? bare;
    const def = TYPES.get(alias);
    if (!def || (!TYPE_ALIASES[bare] && !NAMEABLE_TYPES.has(bare))) this.unsup(`unknown or unsupported type '${tn.name}'`, tn.pos);
    if (!def.ctor) this.unsup(`instances of ${bare} cannot be created with new`, tn.pos);
    const ctor = def.ctor;
    const gen = tn.args.map((a) => this.resolveType(a));
    const [gmin, gmax] = ctor.gen ?? [0, 0];
    if (gen.length < gmin || gen.length > gmax) this.err(`the type '${bare}' needs ${gmin} type argument(s)`, tn.pos);
    if (e.args.length < (ctor.min ?? 0) || e.args.length > (ctor.max ?? Infinity)) this.err(`no constructor of ${bare} takes ${e.args.length} argument(s)`, e.pos);
    const args = this.orderArgs(e.args, undefined, `the constructor of ${bare}`);
    const { vals } = this.compileArgs(
      args,
      (i, tys) => (ctor.lambda ? ctor.lambda(i, tys) : null),
      () => null,
      (i, tys, n) => (ctor.coerce ? ctor.coerce(i, tys, n) : null),
    );
    const ty: Ty = ctor.ty ? ctor.ty(gen) : gen.length ? { n: alias, a: gen } : { n: INSTANCE_TYPE[bare] ?? alias };
    const argTys = vals.map((v) => v.ty);
    const codes = vals.map((v) => v.code);
    const pos = e.pos;
    const init = e.init ? this.initializer(e.init, ty) : null;
    return { k: 'val', ty, pos, code: (f) => {
      const a = codes.map((c) => c(f));
      const rt = f.rt;
      rt.at = pos;
      tick(rt);
      const obj = ctor.call(a, { rt, gen, argTys, selfTy: ty });
      if (init) init(f, obj);
      return obj;
    } };
  }

  private initializer(init: Initializer, ty: Ty): (f: Frame, obj: unknown) => void {
    const ops: Array<(f: Frame, obj: unknown) => void> = init.items.map((it) => {
      const pos = it.pos;
      if (it.kind === 'member') {
        if (it.value.k === 'init') this.unsup('nested object initializers are not supported', it.pos);
        const prop = findProp(ty, it.name);
        if (!prop) this.unsup(`unknown member '${it.name}' of ${tyName(ty)}`, pos);
        if (!prop.set) this.err(`property '${it.name}' of ${tyName(ty)} is read only`, pos);
        const set = prop.set;
        const v = this.convert(this.root(it.value), resolveTy(prop.ty, ty), false, it.value.pos).code;
        return (f, obj) => {
          f.rt.at = pos;
          set(obj, v(f), f.rt);
        };
      }
      if (it.kind === 'index') {
        if (it.value.k === 'init') this.unsup('nested object initializers are not supported', it.pos);
        const ix = findIndexer(ty);
        if (!ix || !ix.set) this.err(`${tyName(ty)} has no settable indexer`, pos);
        const set = ix.set;
        const keys = it.keys.map((k) => this.root(k).code);
        const v = this.convert(this.root(it.value), ix.valueTy ? ix.valueTy(ty) : resolveTy(ix.ty, ty, []), false, it.value.pos).code;
        return (f, obj) => {
          const ks = keys.map((k) => k(f));
          const x = v(f);
          f.rt.at = pos;
          tick(f.rt);
          set(obj, ks, x, f.rt);
        };
      }
      // collection initializer: Add(x) / Add(a, b)
      const add = findMethod(ty, 'Add');
      if (!add) this.err(`${tyName(ty)} does not support collection initializers (no Add method)`, pos);
      const items = it.kind === 'expr' ? [it.value] : it.values;
      const fakeArgs: Arg[] = items.map((x) => ({ value: x, pos: x.pos }));
      if (fakeArgs.length < (add.min ?? 0) || fakeArgs.length > (add.max ?? Infinity)) this.err(`no overload of 'Add' takes ${fakeArgs.length} argument(s)`, pos);
      const { vals } = this.compileArgs(fakeArgs, () => null, () => null, (i, tys, n) => (add.coerce ? add.coerce(ty, i, tys, n) : null));
      const codes = vals.map((v) => v.code);
      const argTys = vals.map((v) => v.ty);
      return (f, obj) => {
        const a = codes.map((c) => c(f));
        f.rt.at = pos;
        tick(f.rt);
        add.call(obj, a, { rt: f.rt, gen: [], argTys, selfTy: ty });
      };
    });
    return (f, obj) => {
      for (const op of ops) op(f, obj);
    };
  }

  private newArray(e: Extract<Expr, { k: 'newarray' }>): CVal {
    const pos = e.pos;
    let elem: Ty;
    let items: CVal[] = [];
    if (e.items) items = e.items.map((x) => this.root(x));
    if (e.elemType) {
      elem = this.resolveType(e.elemType);
      items = items.map((v) => this.convert(v, elem, false, v.pos));
    } else {
      if (items.length === 0) this.err('no best type found for the implicitly-typed array', pos);
      elem = commonType(items.map((v) => v.ty));
      if (elem.n === 'null') this.err('no best type found for the implicitly-typed array', pos);
      items = items.map((v) => (isNumeric(elem) && isNumeric(v.ty) ? this.convert(v, elem, false, v.pos) : v));
    }
    const ty = arrayOf(elem);
    const isBytes = elem.n === 'byte';
    const codes = items.map((v) => v.code);
    if (e.size) {
      const size = this.convert(this.root(e.size), T.int, false, e.size.pos);
      const sc = size.code;
      const n0 = codes.length;
      const dflt = defaultOf(elem);
      return { k: 'val', ty, pos, code: (f) => {
        const n = sc(f) as number;
        const rt = f.rt;
        rt.at = pos;
        if (n < 0) throw new CsException('OverflowException', 'Arithmetic operation resulted in an overflow.');
        checkColl(rt, n);
        if (n0 && n0 !== n) throw new CsException('ArgumentException', 'An array initializer of the wrong length was given.');
        if (isBytes) return n0 ? Uint8Array.from(codes.map((c) => (c(f) as number) & 0xff)) : new Uint8Array(n);
        if (n0) return codes.map((c) => c(f));
        return Array.from({ length: n }, () => (dflt instanceof Object ? defaultOf(elem) : dflt));
      } };
    }
    return { k: 'val', ty, pos, code: (f) => {
      const arr = codes.map((c) => c(f));
      checkColl(f.rt, arr.length);
      return isBytes ? Uint8Array.from(arr as number[], (x) => x & 0xff) : arr;
    } };
  }

  private anon(e: Extract<Expr, { k: 'anon' }>): CVal {
    const fields = new Map<string, Ty>();
    const codes: Array<[string, Code]> = [];
    for (const m of e.members) {
      if (fields.has(m.name)) this.err(`an anonymous type cannot have multiple properties with the same name ('${m.name}')`, m.pos);
      const v = this.root(m.value);
      if (v.ty.n === 'null') this.err(`cannot assign <null> to anonymous type property '${m.name}'`, m.pos);
      if (v.ty.n === 'void') this.err('a void method call has no value', m.pos);
      fields.set(m.name, v.ty);
      codes.push([m.name, v.code]);
    }
    return { k: 'val', ty: { n: 'Anon', f: fields }, pos: e.pos, code: (f) => {
      tick(f.rt);
      return new CsAnon(new Map(codes.map(([k, c]) => [k, c(f)])), fields);
    } };
  }

  // ---------------------------------------------------------------- statements

  private block(stmts: Stmt[], _pos: number): SCode {
    const prev = this.pushScope();
    try {
      // local functions can be called before their declaration
      for (const s of stmts) if (s.k === 'func') this.declareFunc(s);
      const codes = stmts.map((s) => this.stmt(s));
      const n = codes.length;
      if (n === 1) return codes[0] as SCode;
      return (f) => {
        for (let i = 0; i < n; i++) {
          const r = (codes[i] as SCode)(f);
          if (r) return r;
        }
        return 0;
      };
    } finally {
      this.scope = prev;
    }
  }

  private declareFunc(s: LocalFunc): void {
    if (this.scope.names.has(s.name)) this.err(`a local function named '${s.name}' is already defined in this scope`, s.pos);
    const info: FuncInfo = {
      kind: 'func',
      name: s.name,
      fn: this.fn,
      params: s.params.map((p) => this.resolveType(p.type)),
      ret: s.retType ? this.resolveType(s.retType) : T.void,
      impl: { body: null, nslots: 0, paramSlots: [] },
      pos: s.pos,
    };
    this.scope.names.set(s.name, info);
  }

  private funcBody(s: LocalFunc): SCode {
    const info = this.scope.names.get(s.name) as FuncInfo;
    const outerFn = this.fn;
    const outerScope = this.scope;
    const outerLoop = this.loopDepth;
    const outerSwitch = this.switchDepth;
    const fn = new FnScope(outerFn, info.ret, 'func');
    this.fn = fn;
    this.scope = new BlockScope(outerScope, fn);
    this.loopDepth = 0;
    this.switchDepth = 0;
    try {
      info.impl.paramSlots = s.params.map((p, i) => this.declare(p.name, info.params[i] as Ty, p.pos).slot);
      if (s.body.k === 'block') {
        const body = this.block(s.body.body, s.body.pos);
        if (info.ret.n !== 'void' && this.reachable(s.body)) this.err(`not all code paths of '${s.name}' return a value`, s.pos);
        info.impl.body = body;
      } else {
        const v = this.root(s.body);
        const code = info.ret.n === 'void' ? v.code : this.convert(v, info.ret, false, v.pos).code;
        info.impl.body = (f) => {
          f.ret = code(f);
          return 3;
        };
      }
      info.impl.nslots = fn.nslots;
    } finally {
      this.fn = outerFn;
      this.scope = outerScope;
      this.loopDepth = outerLoop;
      this.switchDepth = outerSwitch;
    }
    return () => 0;
  }

  private stmt(s: Stmt): SCode {
    this.guard(s.pos);
    try {
      return this.stmtInner(s);
    } finally {
      this.depth--;
    }
  }

  private stmtInner(s: Stmt): SCode {
    switch (s.k) {
      case 'block':
        return this.block(s.body, s.pos);
      case 'empty':
        return () => 0;
      case 'func':
        return this.funcBody(s);
      case 'decl':
        return this.decl(s);
      case 'expr': {
        const v = this.operand(s.expr, false);
        if (v.k !== 'val') this.err('only assignment, call, increment, decrement and new object expressions can be used as a statement', s.pos);
        const code = v.mayShort ? this.unchain(v).code : v.code;
        return (f) => {
          tick(f.rt);
          code(f);
          return 0;
        };
      }
      case 'if': {
        const t = this.root(s.test);
        if (!isDyn(t.ty) && t.ty.n !== 'bool') this.err(`cannot implicitly convert type ${tyName(t.ty)} to bool`, s.test.pos);
        const tc = t.code;
        const th = this.scoped(s.then);
        const el = s.else ? this.scoped(s.else) : null;
        const pos = s.pos;
        return (f) => {
          tick(f.rt);
          if (boolOf(tc(f), pos, f)) return th(f);
          return el ? el(f) : 0;
        };
      }
      case 'while':
      case 'do': {
        const t = this.root(s.test);
        if (!isDyn(t.ty) && t.ty.n !== 'bool') this.err(`cannot implicitly convert type ${tyName(t.ty)} to bool`, s.test.pos);
        const tc = t.code;
        this.loopDepth++;
        const body = this.scoped(s.body);
        this.loopDepth--;
        const pos = s.pos;
        const isDo = s.k === 'do';
        return (f) => {
          let first = isDo;
          for (;;) {
            tick(f.rt);
            if (!first && !boolOf(tc(f), pos, f)) return 0;
            first = false;
            const r = body(f);
            if (r === 1) return 0;
            if (r === 3) return 3;
          }
        };
      }
      case 'for': {
        const prev = this.pushScope();
        try {
          const init = s.init.map((x) => this.stmt(x));
          let tc: Code | null = null;
          if (s.test) {
            const t = this.root(s.test);
            if (!isDyn(t.ty) && t.ty.n !== 'bool') this.err(`cannot implicitly convert type ${tyName(t.ty)} to bool`, s.test.pos);
            tc = t.code;
          }
          const upd = s.update.map((u) => this.root(u).code);
          this.loopDepth++;
          const body = this.scoped(s.body);
          this.loopDepth--;
          const pos = s.pos;
          return (f) => {
            for (const i of init) i(f);
            for (;;) {
              tick(f.rt);
              if (tc && !boolOf(tc(f), pos, f)) return 0;
              const r = body(f);
              if (r === 1) return 0;
              if (r === 3) return 3;
              for (const u of upd) u(f);
            }
          };
        } finally {
          this.scope = prev;
        }
      }
      case 'foreach': {
        const it = this.root(s.iter);
        const et = elemType(it.ty);
        if (!et) this.err(`foreach cannot operate on a value of type ${tyName(it.ty)}`, s.iter.pos);
        const prev = this.pushScope();
        try {
          const declTy = s.varType ? this.resolveType(s.varType) : et;
          const info = this.declare(s.name, declTy, s.namePos);
          let conv: ((f: Frame, x: unknown) => unknown) | null = null;
          if (s.varType && !sameType(declTy, et) && !isDyn(declTy)) {
            const c = this.convert({ k: 'val', ty: et, pos: s.namePos, code: (f) => f.ret }, declTy, true, s.namePos).code;
            conv = (f, x) => {
              const saved = f.ret;
              f.ret = x;
              const r = c(f);
              f.ret = saved;
              return r;
            };
          }
          this.loopDepth++;
          const body = this.stmt(s.body);
          this.loopDepth--;
          const slot = info.slot;
          const ic = it.code;
          const ity = it.ty;
          const pos = s.pos;
          return (f) => {
            const coll = ic(f);
            const rt = f.rt;
            rt.at = pos;
            if (coll === null || coll === undefined) nullRef();
            const items = iterate(coll, rt, ity);
            for (const x of items) {
              tick(rt);
              f.s[slot] = conv ? conv(f, x) : x;
              const r = body(f);
              if (r === 1) return 0;
              if (r === 3) return 3;
            }
            return 0;
          };
        } finally {
          this.scope = prev;
        }
      }
      case 'break':
        if (this.loopDepth === 0 && this.switchDepth === 0) this.err('no enclosing loop or switch out of which to break', s.pos);
        return () => 1;
      case 'continue':
        if (this.loopDepth === 0) this.err('no enclosing loop out of which to continue', s.pos);
        return () => 2;
      case 'return': {
        const fn = this.fn;
        if (!s.value) {
          if (fn.kind === 'top') this.err('the block must return a value', s.pos);
          if (fn.kind === 'func' && fn.declaredRet && fn.declaredRet.n !== 'void') this.err('an object of a type convertible to the return type is required', s.pos);
          return () => 3;
        }
        let v = this.root(s.value);
        if (v.ty.n === 'void') this.err('a void method call has no value', s.value.pos);
        if (fn.kind === 'func') {
          if (!fn.declaredRet || fn.declaredRet.n === 'void') this.err('a void local function cannot return a value', s.pos);
          v = this.convert(v, fn.declaredRet, false, s.value.pos);
        }
        fn.returnTys.push(v.ty);
        const c = v.code;
        return (f) => {
          f.ret = c(f);
          return 3;
        };
      }
      case 'throw': {
        if (!s.value) {
          if (this.catchDepth === 0) this.err("a throw statement with no arguments is not allowed outside of a catch clause", s.pos);
          const slot = this.catchSlots[this.catchSlots.length - 1] as number;
          return (f) => {
            throw f.s[slot] as Error;
          };
        }
        const v = this.root(s.value);
        if (!isDyn(v.ty) && !isSubtype(v.ty, T.Exception) && !EXCEPTION_TYPE_SET.has(v.ty.n)) this.err('the type thrown must be an exception', s.value.pos);
        const c = v.code;
        const pos = s.pos;
        return (f) => {
          const x = c(f);
          f.rt.at = pos;
          throwValue(x);
        };
      }
      case 'try':
        return this.tryStmt(s);
      case 'using': {
        const prev = this.pushScope();
        try {
          const pre = s.decl ? this.decl(s.decl) : s.expr ? this.stmtExpr(s.expr) : () => 0;
          const body = this.stmt(s.body);
          return (f) => {
            pre(f);
            return body(f);
          };
        } finally {
          this.scope = prev;
        }
      }
      case 'switch':
        return this.switchStmt(s);
    }
  }

  private stmtExpr(e: Expr): SCode {
    const c = this.root(e).code;
    return (f) => {
      c(f);
      return 0;
    };
  }

  /** an embedded statement gets its own scope (for pattern / out variables) */
  private scoped(s: Stmt): SCode {
    const prev = this.pushScope();
    try {
      return this.stmt(s);
    } finally {
      this.scope = prev;
    }
  }

  private decl(d: VarDecl): SCode {
    const codes: SCode[] = [];
    for (const x of d.decls) {
      if (d.type === null) {
        const init = x.init as Expr;
        if (init.k === 'lambda') this.err('cannot assign a lambda expression to an implicitly-typed variable', init.pos);
        const v = this.root(init);
        if (v.ty.n === 'null') this.err('cannot assign <null> to an implicitly-typed variable', init.pos);
        if (v.ty.n === 'void') this.err('cannot assign void to an implicitly-typed variable', init.pos);
        const ty = v.ty.n === 'Func' ? T.dynamic : v.ty;
        const info = this.declare(x.name, ty, x.pos);
        const slot = info.slot;
        const c = v.code;
        codes.push((f) => {
          f.s[slot] = c(f);
          return 0;
        });
        continue;
      }
      const ty = this.resolveType(d.type);
      if (d.isConst) {
        const v = this.convert(this.root(x.init as Expr), ty, false, (x.init as Expr).pos);
        if (!v.constant) this.err(`the expression assigned to '${x.name}' must be constant`, (x.init as Expr).pos);
        this.declare(x.name, ty, x.pos, true, v.constant.v);
        continue;
      }
      let init: Code;
      if (x.init) {
        if (x.init.k === 'lambda') this.unsup('delegate-typed variables are not supported', x.init.pos);
        init = this.convert(this.root(x.init), ty, false, x.init.pos).code;
      } else {
        const dv = defaultOf(ty);
        init = dv instanceof Object ? () => defaultOf(ty) : () => dv;
      }
      const info = this.declare(x.name, ty, x.pos);
      const slot = info.slot;
      codes.push((f) => {
        f.s[slot] = init(f);
        return 0;
      });
    }
    if (codes.length === 1) {
      const c = codes[0] as SCode;
      return (f) => {
        tick(f.rt);
        return c(f);
      };
    }
    return (f) => {
      tick(f.rt);
      for (const c of codes) c(f);
      return 0;
    };
  }

  private tryStmt(s: Extract<Stmt, { k: 'try' }>): SCode {
    const block = this.scoped(s.block);
    const catches = s.catches.map((c) => {
      const prev = this.pushScope();
      try {
        let type = 'Exception';
        if (c.type) {
          const name = this.stripNamespace(c.type.name, c.type.pos);
          if (name !== 'Exception' && !EXCEPTION_TYPE_SET.has(name)) this.unsup(`unknown exception type '${c.type.name}'`, c.type.pos);
          type = name;
        }
        const hidden = this.fn.alloc();
        let slot = -1;
        if (c.name) slot = this.declare(c.name, { n: type }, c.namePos ?? c.pos).slot;
        const filter = c.filter ? this.root(c.filter).code : null;
        this.catchDepth++;
        this.catchSlots.push(hidden);
        const body = this.block(c.body.body, c.body.pos);
        this.catchSlots.pop();
        this.catchDepth--;
        return { type, slot, hidden, filter, body, pos: c.pos };
      } finally {
        this.scope = prev;
      }
    });
    const fin = s.finally ? this.scoped(s.finally) : null;
    if (fin && this.containsReturn(s.finally as Block)) this.err('control cannot leave the body of a finally clause', (s.finally as Block).pos);
    return (f) => {
      try {
        return block(f);
      } catch (err) {
        if (!(err instanceof CsException) || catches.length === 0) throw err;
        for (const c of catches) {
          if (!exceptionMatches(err.csType, c.type)) continue;
          f.s[c.hidden] = err;
          if (c.slot >= 0) f.s[c.slot] = err;
          if (c.filter && !boolOf(c.filter(f), c.pos, f)) continue;
          return c.body(f);
        }
        throw err;
      } finally {
        if (fin) fin(f);
      }
    };
  }

  private containsReturn(b: Block): boolean {
    const walk = (s: Stmt): boolean => {
      switch (s.k) {
        case 'return':
          return true;
        case 'block':
          return s.body.some(walk);
        case 'if':
          return walk(s.then) || (!!s.else && walk(s.else));
        case 'while':
        case 'do':
        case 'for':
        case 'foreach':
          return walk(s.body);
        case 'try':
          return walk(s.block) || s.catches.some((c) => walk(c.body)) || (!!s.finally && walk(s.finally));
        case 'using':
          return walk(s.body);
        case 'switch':
          return s.sections.some((x) => x.body.some(walk));
        default:
          return false;
      }
    };
    return b.body.some(walk);
  }

  private switchStmt(s: Extract<Stmt, { k: 'switch' }>): SCode {
    const v = this.root(s.value);
    const vc = v.code;
    const prev = this.pushScope();
    try {
      let defaultIdx = -1;
      const labels: Array<{ code: Code; section: number }> = [];
      const seen = new Set<unknown>();
      s.sections.forEach((sec, i) => {
        for (const l of sec.labels) {
          if (l === null) {
            if (defaultIdx >= 0) this.err("the switch statement contains multiple 'default' labels", sec.pos);
            defaultIdx = i;
            continue;
          }
          let lv = this.root(l);
          if (!lv.constant && !(lv.ty.n !== 'dynamic' && TYPES.get(lv.ty.n)?.enumValues)) this.err('a constant value is expected in a case label', l.pos);
          if (!isDyn(v.ty) && lv.ty.n !== 'null') lv = this.convert(lv, v.ty, false, l.pos);
          const key = lv.constant ? (lv.constant.v instanceof CsEnum ? `${lv.constant.v.type}.${lv.constant.v.value}` : lv.constant.v) : undefined;
          if (key !== undefined && seen.has(key)) this.err('the switch statement contains multiple cases with the same label value', l.pos);
          seen.add(key);
          labels.push({ code: lv.code, section: i });
        }
      });
      this.switchDepth++;
      const bodies = s.sections.map((sec) => {
        const codes = sec.body.map((x) => this.stmt(x));
        if (this.reachableList(sec.body)) this.err('control cannot fall through from one case label to another; end the section with break or return', sec.pos);
        return codes;
      });
      this.switchDepth--;
      return (f) => {
        const x = vc(f);
        tick(f.rt);
        let idx = defaultIdx;
        for (const l of labels) {
          if (csEquals(x, l.code(f))) {
            idx = l.section;
            break;
          }
        }
        if (idx < 0) return 0;
        for (const c of bodies[idx] as SCode[]) {
          const r = c(f);
          if (r === 1) return 0;
          if (r) return r;
        }
        return 0;
      };
    } finally {
      this.scope = prev;
    }
  }

  // ---------------------------------------------------------------- reachability (every path must return)

  reachable(s: Stmt): boolean {
    switch (s.k) {
      case 'return':
      case 'throw':
      case 'break':
      case 'continue':
        return false;
      case 'block':
        return this.reachableList(s.body);
      case 'if':
        if (isConstTrue(s.test)) return this.reachable(s.then);
        return !s.else || this.reachable(s.then) || this.reachable(s.else);
      case 'while':
        return !isConstTrue(s.test) || hasBreak(s.body);
      case 'do':
        return (this.reachable(s.body) && !isConstTrue(s.test)) || hasBreak(s.body) || (!isConstTrue(s.test) && hasContinue(s.body));
      case 'for':
        return (s.test !== undefined && !isConstTrue(s.test)) || hasBreak(s.body);
      case 'foreach':
        return true;
      case 'try': {
        const inner = this.reachable(s.block) || s.catches.some((c) => this.reachable(c.body));
        if (s.finally && !this.reachable(s.finally)) return false;
        return inner;
      }
      case 'using':
        return this.reachable(s.body);
      case 'switch': {
        const hasDefault = s.sections.some((x) => x.labels.includes(null));
        if (!hasDefault) return true;
        return s.sections.some((x) => x.body.some((b) => hasBreak(b, true)));
      }
      default:
        return true;
    }
  }

  private reachableList(list: Stmt[]): boolean {
    for (const x of list) if (!this.reachable(x)) return false;
    return true;
  }
}

// ------------------------------------------------------------------ helpers

function isConstTrue(e: Expr): boolean {
  return e.k === 'lit' && e.value === true;
}

/** does the statement contain a break that leaves it (not one inside a nested loop/switch)? */
function hasBreak(s: Stmt, inSwitch = false): boolean {
  switch (s.k) {
    case 'break':
      return true;
    case 'block':
      return s.body.some((x) => hasBreak(x, inSwitch));
    case 'if':
      return hasBreak(s.then, inSwitch) || (!!s.else && hasBreak(s.else, inSwitch));
    case 'try':
      return hasBreak(s.block, inSwitch) || s.catches.some((c) => hasBreak(c.body, inSwitch)) || (!!s.finally && hasBreak(s.finally, inSwitch));
    case 'using':
      return hasBreak(s.body, inSwitch);
    default:
      return false;
  }
}

function hasContinue(s: Stmt): boolean {
  switch (s.k) {
    case 'continue':
      return true;
    case 'block':
      return s.body.some(hasContinue);
    case 'if':
      return hasContinue(s.then) || (!!s.else && hasContinue(s.else));
    case 'try':
      return hasContinue(s.block) || s.catches.some((c) => hasContinue(c.body));
    default:
      return false;
  }
}

function lambdaParamsDyn(e: Expr | undefined): Ty[] | null {
  if (!e || e.k !== 'lambda') return null;
  return e.params.map(() => T.dynamic);
}

/** the best common type of several expressions (implicitly-typed arrays, lambda returns) */
function commonType(tys: Ty[]): Ty {
  const real = tys.filter((t) => t.n !== 'null');
  if (real.length === 0) return T.null;
  if (real.some(isDyn)) return T.dynamic;
  const first = real[0] as Ty;
  if (real.every((t) => sameType(t, first))) return tys.some((t) => t.n === 'null') ? nullableOf(first) : first;
  if (real.every((t) => isNumeric(t) || t.n === 'char')) return real.reduce((a, b) => promote(a, b));
  if (real.every((t) => isSubtype(t, T.JToken))) return T.JToken;
  if (real.every((t) => t.n === first.n)) return first;
  return T.object;
}

function boolOf(v: unknown, pos: number, f: Frame): boolean {
  if (typeof v === 'boolean') return v;
  f.rt.at = pos;
  if (v === null || v === undefined) throw new CsException('NullReferenceException', 'Nullable object must have a value.');
  throw new CsException('InvalidCastException', `Cannot implicitly convert type '${tyName(tyOfValue(v))}' to 'bool'`);
}

function strOf(t: Ty): (v: unknown) => string {
  if (t.n === 'string') return (v) => (v === null || v === undefined ? '' : (v as string));
  return (v) => csToString(v, t);
}

function toInstant(v: unknown): number {
  if (v instanceof CsDateTimeOffset) return v.utcMs;
  if (v instanceof CsDateTime) return v.ms;
  if (v instanceof CsTimeSpan) return v.ms;
  return NaN;
}

function toInstantOr(v: unknown): unknown {
  if (v instanceof CsDateTimeOffset || v instanceof CsDateTime) return toInstant(v);
  return v;
}

function throwValue(x: unknown): never {
  if (x instanceof CsException) throw x;
  if (x === null || x === undefined) throw new CsException('NullReferenceException', 'Object reference not set to an instance of an object.');
  throw new CsException('InvalidCastException', 'the value thrown is not an exception');
}

function numericOp(op: string, kind: string, lc: Code, rc: Code, pos: number, lifted: boolean | undefined): Code {
  const isInt = kind === 'int';
  const isLong = kind === 'long';
  const integral = isInt || isLong;
  const get2 = (f: Frame): [number, number] | null => {
    const a = lc(f);
    const b = rc(f);
    if (lifted && (a === null || a === undefined || b === null || b === undefined)) return null;
    return [toNum(a), toNum(b)];
  };
  const divZero = (f: Frame): never => {
    f.rt.at = pos;
    throw new CsException('DivideByZeroException', 'Attempted to divide by zero.');
  };
  switch (op) {
    case '+':
      return (f) => {
        const p = get2(f);
        if (!p) return null;
        return isInt ? (p[0] + p[1]) | 0 : p[0] + p[1];
      };
    case '-':
      return (f) => {
        const p = get2(f);
        if (!p) return null;
        return isInt ? (p[0] - p[1]) | 0 : p[0] - p[1];
      };
    case '*':
      return (f) => {
        const p = get2(f);
        if (!p) return null;
        return isInt ? Math.imul(p[0], p[1]) : p[0] * p[1];
      };
    case '/':
      return (f) => {
        const p = get2(f);
        if (!p) return null;
        if (integral) {
          if (p[1] === 0) divZero(f);
          const q = Math.trunc(p[0] / p[1]);
          return isInt ? q | 0 : q;
        }
        return p[0] / p[1];
      };
    case '%':
      return (f) => {
        const p = get2(f);
        if (!p) return null;
        if (integral && p[1] === 0) divZero(f);
        return p[0] % p[1];
      };
    case '&':
    case '|':
    case '^':
      if (isLong)
        return (f) => {
          const p = get2(f);
          if (!p) return null;
          const a = BigInt(Math.trunc(p[0]));
          const b = BigInt(Math.trunc(p[1]));
          return Number(BigInt.asIntN(64, op === '&' ? a & b : op === '|' ? a | b : a ^ b));
        };
      return (f) => {
        const p = get2(f);
        if (!p) return null;
        return op === '&' ? p[0] & p[1] : op === '|' ? p[0] | p[1] : p[0] ^ p[1];
      };
    case '<<':
    case '>>':
      return (f) => {
        const p = get2(f);
        if (!p) return null;
        return op === '<<' ? p[0] << (p[1] & 31) : p[0] >> (p[1] & 31);
      };
    default:
      return () => {
        throw new CsException('InvalidOperationException', `unsupported operator ${op}`);
      };
  }
}

export { SHORT };
