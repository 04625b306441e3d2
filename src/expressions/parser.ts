// Recursive-descent parser for the C# subset. Produces the AST of ast.ts; positions are offsets into the code.
import type { Arg, Block, Expr, Initializer, InitItem, LocalFunc, Pattern, Stmt, TypeNode, VarDecl } from './ast.js';
import { CompileError } from './errors.js';
import { Lexer, type Token } from './lexer.js';

const PREDEFINED = new Set([
  'bool', 'byte', 'sbyte', 'char', 'decimal', 'double', 'float', 'int', 'uint', 'long', 'ulong', 'object', 'short',
  'ushort', 'string',
]);

const ASSIGN_OPS = new Set(['=', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '<<=', '>>=', '??=']);

const BIN_PREC: Record<string, number> = {
  '||': 1, '&&': 2, '|': 3, '^': 4, '&': 5, '==': 6, '!=': 6, '<': 7, '>': 7, '<=': 7, '>=': 7, is: 7, as: 7,
  '<<': 8, '>>': 8, '+': 9, '-': 9, '*': 10, '/': 10, '%': 10,
};

/** tokens that may follow a type-argument list for it to be one (C# spec §6.2.5, plus '[' and '{') */
const AFTER_TYPEARGS = new Set(['(', ')', ']', '}', ':', ';', ',', '.', '?', '==', '!=', '|', '^', '&&', '||', '&', '[', '?.']);

const MAX_NESTING = 200;

export class Parser {
  private readonly toks: Token[];
  private p = 0;
  private depth = 0;

  constructor(
    private readonly src: string,
    start = 0,
    end = src.length,
  ) {
    this.toks = new Lexer(src, start, end).tokenize();
  }

  // ---------------------------------------------------------------- token helpers
  private peek(n = 0): Token {
    return this.toks[Math.min(this.p + n, this.toks.length - 1)] as Token;
  }
  private at(i: number): Token {
    return this.toks[Math.min(i, this.toks.length - 1)] as Token;
  }
  private next(): Token {
    const t = this.peek();
    if (this.p < this.toks.length - 1) this.p++;
    return t;
  }
  private isP(v: string, n = 0): boolean {
    const t = this.peek(n);
    return t.kind === 'punct' && t.value === v;
  }
  private isK(v: string, n = 0): boolean {
    const t = this.peek(n);
    return t.kind === 'keyword' && t.value === v;
  }
  private isIdent(n = 0, name?: string): boolean {
    const t = this.peek(n);
    return t.kind === 'ident' && (name === undefined || t.value === name);
  }
  private eatP(v: string): boolean {
    if (this.isP(v)) {
      this.next();
      return true;
    }
    return false;
  }
  private expectP(v: string): Token {
    const t = this.peek();
    if (t.kind === 'punct' && t.value === v) return this.next();
    this.fail(`'${v}' expected${t.kind === 'eof' ? ' but the expression ended' : ` but found '${this.describe(t)}'`}`, t.start);
  }
  private expectIdent(): Token {
    const t = this.peek();
    if (t.kind === 'ident') return this.next();
    this.fail(`identifier expected but found '${this.describe(t)}'`, t.start);
  }
  private describe(t: Token): string {
    if (t.kind === 'eof') return 'end of expression';
    return this.src.slice(t.start, Math.min(t.end, t.start + 30));
  }
  private fail(msg: string, at: number): never {
    throw new CompileError('EXPR_SYNTAX', msg, at);
  }
  private unsupported(msg: string, at: number): never {
    throw new CompileError('EXPR_UNSUPPORTED', msg, at);
  }
  private enter(at: number): void {
    if (++this.depth > MAX_NESTING) throw new CompileError('EXPR_LIMIT', `expression nesting deeper than ${MAX_NESTING} levels`, at);
  }
  private leave(): void {
    this.depth--;
  }

  // ---------------------------------------------------------------- entry points
  parseExpression(): Expr {
    if (this.peek().kind === 'eof') this.fail('empty expression', 0);
    const e = this.expr();
    const t = this.peek();
    if (t.kind !== 'eof') this.fail(`unexpected '${this.describe(t)}' after the end of the expression`, t.start);
    return e;
  }

  parseBlock(): Block {
    const body: Stmt[] = [];
    while (this.peek().kind !== 'eof') {
      if (this.isP('}')) this.fail("unexpected '}'", this.peek().start);
      body.push(this.statement());
    }
    return { k: 'block', body, pos: 0 };
  }

  // ---------------------------------------------------------------- types
  /** tries to parse a type at token index i without consuming; returns the type and the index after it */
  private tryType(i: number, allowVoid = false): { type: TypeNode; next: number } | null {
    const t = this.at(i);
    let name: string;
    let j = i;
    const args: TypeNode[] = [];
    if (t.kind === 'keyword' && (PREDEFINED.has(t.value) || (allowVoid && t.value === 'void'))) {
      name = t.value;
      j++;
    } else if (t.kind === 'ident') {
      name = t.value;
      j++;
      for (;;) {
        const a = this.at(j);
        if (a.kind === 'punct' && a.value === '<') {
          const r = this.tryTypeArgs(j);
          if (!r) break;
          args.push(...r.args);
          j = r.next;
          // a generic type may be followed by .Nested only in rare cases; stop here
          break;
        }
        const dot = this.at(j);
        const id = this.at(j + 1);
        if (dot.kind === 'punct' && dot.value === '.' && id.kind === 'ident') {
          name += '.' + id.value;
          j += 2;
          continue;
        }
        break;
      }
    } else return null;
    let nullable = false;
    const q = this.at(j);
    if (q.kind === 'punct' && q.value === '?') {
      const after = this.at(j + 1);
      if (after.kind === 'ident' || (after.kind === 'punct' && [')', '>', ',', '[', ']'].includes(after.value))) {
        nullable = true;
        j++;
      }
    }
    let rank = 0;
    for (;;) {
      const a = this.at(j);
      const b = this.at(j + 1);
      if (a.kind === 'punct' && a.value === '[' && b.kind === 'punct' && b.value === ']') {
        rank++;
        j += 2;
      } else break;
    }
    return { type: { name, args, rank, nullable, pos: t.start }, next: j };
  }

  private tryTypeArgs(i: number): { args: TypeNode[]; next: number } | null {
    // at '<'
    let j = i + 1;
    const args: TypeNode[] = [];
    for (;;) {
      const r = this.tryType(j);
      if (!r) return null;
      args.push(r.type);
      j = r.next;
      const t = this.at(j);
      if (t.kind === 'punct' && t.value === ',') {
        j++;
        continue;
      }
      if (t.kind === 'punct' && t.value === '>') return { args, next: j + 1 };
      return null;
    }
  }

  private parseType(allowVoid = false): TypeNode {
    const r = this.tryType(this.p, allowVoid);
    if (!r) this.fail(`type expected but found '${this.describe(this.peek())}'`, this.peek().start);
    this.p = r.next;
    return r.type;
  }

  // ---------------------------------------------------------------- expressions
  private expr(): Expr {
    const t = this.peek();
    this.enter(t.start);
    try {
      // lambdas
      if (t.kind === 'ident' && this.isP('=>', 1)) return this.lambda();
      if (t.kind === 'punct' && t.value === '(' && this.looksLikeLambdaParams()) return this.lambda();
      if (t.kind === 'keyword' && t.value === 'throw') {
        this.next();
        return { k: 'throw', value: this.expr(), pos: t.start };
      }
      const left = this.conditional();
      const op = this.peek();
      if (op.kind === 'punct' && ASSIGN_OPS.has(op.value)) {
        this.next();
        this.checkAssignable(left);
        const value = this.expr();
        return { k: 'assign', op: op.value, target: left, value, pos: op.start };
      }
      // >>= is lexed as '>' '>='
      if (op.kind === 'punct' && op.value === '>' && this.isP('>=', 1) && this.peek(1).start === op.end) {
        this.next();
        this.next();
        this.checkAssignable(left);
        const value = this.expr();
        return { k: 'assign', op: '>>=', target: left, value, pos: op.start };
      }
      return left;
    } finally {
      this.leave();
    }
  }

  private checkAssignable(e: Expr): void {
    if (e.k === 'name' || e.k === 'member' || e.k === 'index') {
      if ((e.k === 'member' || e.k === 'index') && e.nullCond)
        this.fail('the left-hand side of an assignment cannot contain a null-conditional operator', e.pos);
      return;
    }
    this.fail('the left-hand side of an assignment must be a variable, property or indexer', e.pos);
  }

  /** at '(': is this a parenthesized lambda parameter list followed by '=>'? (bounded look-ahead) */
  private looksLikeLambdaParams(): boolean {
    for (let j = this.p + 1; j < this.p + 64; j++) {
      const t = this.at(j);
      if (t.kind === 'ident' || (t.kind === 'keyword' && PREDEFINED.has(t.value))) continue;
      if (t.kind === 'punct' && [',', '.', '<', '>', '[', ']', '?'].includes(t.value)) continue;
      if (t.kind === 'punct' && t.value === ')') {
        const after = this.at(j + 1);
        return after.kind === 'punct' && after.value === '=>';
      }
      return false;
    }
    return false;
  }

  /** index of the ')' matching the '(' at token index i, or -1 */
  private matchParen(i: number): number {
    let depth = 0;
    for (let j = i; j < this.toks.length; j++) {
      const t = this.toks[j] as Token;
      if (t.kind === 'eof') return -1;
      if (t.kind !== 'punct') continue;
      if (t.value === '(' || t.value === '[' || t.value === '{') depth++;
      else if (t.value === ')' || t.value === ']' || t.value === '}') {
        depth--;
        if (depth === 0) return t.value === ')' ? j : -1;
        if (depth < 0) return -1;
      }
    }
    return -1;
  }

  private lambda(): Expr {
    const start = this.peek().start;
    const params: Array<{ name: string; type?: TypeNode; pos: number }> = [];
    if (this.peek().kind === 'ident') {
      const id = this.next();
      params.push({ name: id.value, pos: id.start });
    } else {
      this.expectP('(');
      if (!this.isP(')')) {
        for (;;) {
          if (this.isK('ref') || this.isK('out') || this.isK('in')) this.unsupported('ref/out lambda parameters are not supported', this.peek().start);
          if (this.isIdent() && (this.isP(',', 1) || this.isP(')', 1))) {
            const id = this.next();
            params.push({ name: id.value, pos: id.start });
          } else {
            const type = this.parseType();
            const id = this.expectIdent();
            params.push({ name: id.value, type, pos: id.start });
          }
          if (this.eatP(',')) continue;
          break;
        }
      }
      this.expectP(')');
    }
    this.expectP('=>');
    const body = this.isP('{') ? this.block() : this.expr();
    return { k: 'lambda', params, body, pos: start };
  }

  private conditional(): Expr {
    const test = this.nullCoalesce();
    const q = this.peek();
    if (q.kind === 'punct' && q.value === '?') {
      this.next();
      const then = this.expr();
      this.expectP(':');
      const els = this.expr();
      return { k: 'cond', test, then, else: els, pos: q.start };
    }
    return test;
  }

  private nullCoalesce(): Expr {
    const left = this.binary(1);
    const op = this.peek();
    if (op.kind === 'punct' && op.value === '??') {
      this.next();
      let right: Expr;
      if (this.isK('throw')) {
        const t = this.next();
        right = { k: 'throw', value: this.nullCoalesce(), pos: t.start };
      } else right = this.nullCoalesce();
      return { k: 'binary', op: '??', left, right, pos: op.start };
    }
    return left;
  }

  /** reads the binary operator at the cursor (combining '>' '>' into '>>'); returns [op, tokenCount] */
  private binOp(): [string, number] | null {
    const t = this.peek();
    if (t.kind === 'keyword' && (t.value === 'is' || t.value === 'as')) return [t.value, 1];
    if (t.kind !== 'punct') return null;
    if (t.value === '>') {
      const n = this.peek(1);
      if (n.kind === 'punct' && n.start === t.end) {
        if (n.value === '>') {
          const n2 = this.peek(2);
          if (n2.kind === 'punct' && n2.start === n.end && (n2.value === '>' || n2.value === '>=' || n2.value === '='))
            return null; // >>> or >>= handled elsewhere
          return ['>>', 2];
        }
        if (n.value === '>=') return null; // >>=
      }
    }
    return t.value in BIN_PREC ? [t.value, 1] : null;
  }

  private binary(minPrec: number): Expr {
    let left = this.unary();
    for (;;) {
      const r = this.binOp();
      if (!r) return left;
      const [op, n] = r;
      const prec = BIN_PREC[op] as number;
      if (prec < minPrec) return left;
      const opTok = this.peek();
      for (let i = 0; i < n; i++) this.next();
      if (op === 'is') {
        left = { k: 'is', expr: left, pattern: this.pattern(), pos: opTok.start };
        continue;
      }
      if (op === 'as') {
        left = { k: 'as', expr: left, type: this.parseType(), pos: opTok.start };
        continue;
      }
      const right = this.binary(prec + 1);
      left = { k: 'binary', op, left, right, pos: opTok.start };
    }
  }

  private pattern(): Pattern {
    let not = false;
    if (this.isIdent(0, 'not')) {
      this.next();
      not = true;
    }
    const t = this.peek();
    if (t.kind === 'keyword' && t.value === 'null') {
      this.next();
      return { kind: 'null', not };
    }
    if (t.kind === 'number' || t.kind === 'string' || t.kind === 'char' || (t.kind === 'keyword' && (t.value === 'true' || t.value === 'false'))) {
      return { kind: 'const', value: this.unary(), not };
    }
    if (this.isIdent(0, 'var')) this.unsupported("'var' patterns are not supported", t.start);
    if (this.isP('{') || this.isP('[') || this.isP('(') || this.isP('<') || this.isP('>') || this.isP('<=') || this.isP('>='))
      this.unsupported('this pattern form is not supported (use is T, is T name, is null, is not null or a constant)', t.start);
    const type = this.parseType();
    if (this.isIdent() && !['and', 'or', 'when'].includes(this.peek().value)) {
      const id = this.next();
      return { kind: 'type', type, name: id.value, namePos: id.start, not };
    }
    if (this.isIdent(0, 'and') || this.isIdent(0, 'or')) this.unsupported("'and'/'or' patterns are not supported", this.peek().start);
    return { kind: 'type', type, not };
  }

  private unary(): Expr {
    const t = this.peek();
    this.enter(t.start);
    try {
      if (t.kind === 'punct') {
        if (t.value === '-' || t.value === '+' || t.value === '!' || t.value === '~') {
          this.next();
          const operand = this.unary();
          // fold negative literals so that int.MinValue-style literals keep their type
          if (t.value === '-' && operand.k === 'lit' && typeof operand.value === 'number' && operand.type !== 'char')
            return { k: 'lit', value: -operand.value, type: operand.type, pos: t.start };
          return { k: 'unary', op: t.value, operand, pos: t.start };
        }
        if (t.value === '++' || t.value === '--') {
          this.next();
          const target = this.unary();
          this.checkAssignable(target);
          return { k: 'incdec', op: t.value, prefix: true, target, pos: t.start };
        }
        if (t.value === '&' || t.value === '*') this.unsupported('pointer operations are not supported', t.start);
        if (t.value === '^' || t.value === '..') this.unsupported('index/range operators are not supported', t.start);
        if (t.value === '(') {
          const cast = this.tryCast();
          if (cast) return cast;
        }
      }
      if (t.kind === 'ident' && t.value === 'await') this.unsupported("'await' is not supported", t.start);
      return this.postfix(this.primary());
    } finally {
      this.leave();
    }
  }

  private tryCast(): Expr | null {
    const open = this.peek();
    const r = this.tryType(this.p + 1);
    if (!r) return null;
    const close = this.at(r.next);
    if (close.kind !== 'punct' || close.value !== ')') return null;
    const after = this.at(r.next + 1);
    const ty = r.type;
    const predefined = PREDEFINED.has(ty.name) && ty.args.length === 0;
    const obviouslyType = predefined || ty.rank > 0 || ty.args.length > 0 || ty.nullable;
    let isCast: boolean;
    if (after.kind === 'eof') isCast = false;
    else if (obviouslyType) {
      isCast = !(after.kind === 'punct' && [')', ']', '}', ',', ';', ':', '?', '=', '==', '!=', '.', '?.'].includes(after.value));
      if (predefined && after.kind === 'punct' && after.value === '.') isCast = false; // (int).x is not valid anyway
    } else {
      isCast =
        after.kind === 'ident' ||
        after.kind === 'number' ||
        after.kind === 'string' ||
        after.kind === 'char' ||
        after.kind === 'interp' ||
        (after.kind === 'keyword' && after.value !== 'as' && after.value !== 'is') ||
        (after.kind === 'punct' && (after.value === '(' || after.value === '!' || after.value === '~'));
    }
    if (!isCast) return null;
    this.p = r.next + 1;
    const expr = this.unary();
    return { k: 'cast', type: ty, expr, pos: open.start };
  }

  private primary(): Expr {
    const t = this.peek();
    switch (t.kind) {
      case 'number':
        this.next();
        return { k: 'lit', value: t.num, type: t.numType ?? 'int', pos: t.start };
      case 'string':
        this.next();
        return { k: 'lit', value: t.value, type: 'string', pos: t.start };
      case 'char':
        this.next();
        return { k: 'lit', value: t.value, type: 'char', pos: t.start };
      case 'interp':
        this.next();
        return this.interp(t);
      case 'ident': {
        this.next();
        if (this.isP('<')) {
          const r = this.tryTypeArgs(this.p);
          if (r && AFTER_TYPEARGS.has(this.describeP(r.next))) {
            this.p = r.next;
            return { k: 'name', name: t.value, typeArgs: r.args, pos: t.start };
          }
        }
        if (t.value === 'nameof' && this.isP('(')) {
          this.next();
          const e = this.expr();
          this.expectP(')');
          const name = e.k === 'name' ? e.name : e.k === 'member' ? e.name : null;
          if (name === null) this.fail('nameof needs a simple or member name', e.pos);
          return { k: 'nameof', name, pos: t.start };
        }
        return { k: 'name', name: t.value, pos: t.start };
      }
      case 'keyword':
        return this.keywordPrimary(t);
      case 'punct':
        if (t.value === '(') {
          this.next();
          const e = this.expr();
          if (this.isP(',')) this.unsupported('tuples are not supported', this.peek().start);
          this.expectP(')');
          return e;
        }
        if (t.value === '[') this.unsupported('collection expressions are not supported', t.start);
        this.fail(`unexpected '${this.describe(t)}'`, t.start);
      // falls through (never)
      case 'eof':
        this.fail('unexpected end of expression', t.start);
    }
    this.fail(`unexpected '${this.describe(t)}'`, t.start);
  }

  private describeP(i: number): string {
    const t = this.at(i);
    return t.kind === 'punct' ? t.value : '';
  }

  private keywordPrimary(t: Token): Expr {
    switch (t.value) {
      case 'true':
      case 'false':
        this.next();
        return { k: 'lit', value: t.value === 'true', type: 'bool', pos: t.start };
      case 'null':
        this.next();
        return { k: 'lit', value: null, type: 'null', pos: t.start };
      case 'new':
        return this.newExpr();
      case 'typeof': {
        this.next();
        this.expectP('(');
        const type = this.parseType(true);
        this.expectP(')');
        return { k: 'typeof', type, pos: t.start };
      }
      case 'default': {
        this.next();
        if (this.eatP('(')) {
          const type = this.parseType();
          this.expectP(')');
          return { k: 'default', type, pos: t.start };
        }
        return { k: 'default', pos: t.start };
      }
      case 'checked':
      case 'unchecked': {
        this.next();
        this.expectP('(');
        const e = this.expr();
        this.expectP(')');
        return e;
      }
      case 'this':
      case 'base':
        this.unsupported(`'${t.value}' is not available in policy expressions`, t.start);
      // falls through (never)
      case 'delegate':
        this.unsupported('anonymous methods are not supported (use a lambda)', t.start);
      // falls through (never)
      case 'stackalloc':
      case 'sizeof':
        this.unsupported(`'${t.value}' is not supported`, t.start);
      // falls through (never)
      default:
        if (PREDEFINED.has(t.value)) {
          this.next();
          // e.g. string.IsNullOrEmpty, int.Parse: a type used as an expression
          return { k: 'typeexpr', type: { name: t.value, args: [], rank: 0, nullable: false, pos: t.start }, pos: t.start };
        }
        this.fail(`unexpected keyword '${t.value}'`, t.start);
    }
  }

  private interp(t: Token): Expr {
    const parts: Array<string | { expr: Expr; align?: Expr; format?: string }> = [];
    for (const part of t.parts ?? []) {
      if (typeof part === 'string') {
        parts.push(part);
        continue;
      }
      const sub = new Parser(this.src, part.start, part.end);
      sub.depth = this.depth + 1;
      const expr = sub.expr();
      if (sub.peek().kind !== 'eof') sub.fail(`unexpected '${sub.describe(sub.peek())}' in interpolation hole`, sub.peek().start);
      const hole: { expr: Expr; align?: Expr; format?: string } = { expr };
      if (part.align) {
        const sa = new Parser(this.src, part.align.start, part.align.end);
        hole.align = sa.expr();
        if (sa.peek().kind !== 'eof') sa.fail('invalid alignment in interpolation hole', sa.peek().start);
      }
      if (part.format !== undefined) hole.format = part.format;
      parts.push(hole);
    }
    return { k: 'interp', parts, pos: t.start };
  }

  private newExpr(): Expr {
    const t = this.next(); // new
    // new[] { ... }
    if (this.isP('[')) {
      this.next();
      if (this.isP(',')) this.unsupported('multi-dimensional arrays are not supported', this.peek().start);
      this.expectP(']');
      const items = this.arrayItems();
      return { k: 'newarray', items, pos: t.start };
    }
    // new { a = 1 }
    if (this.isP('{')) {
      this.next();
      const members: Array<{ name: string; value: Expr; pos: number }> = [];
      while (!this.isP('}')) {
        const s = this.peek();
        if (this.isIdent() && this.isP('=', 1)) {
          this.next();
          this.next();
          members.push({ name: s.value, value: this.expr(), pos: s.start });
        } else {
          const value = this.expr();
          const name = value.k === 'name' ? value.name : value.k === 'member' ? value.name : null;
          if (name === null) this.fail('invalid anonymous type member declarator', s.start);
          members.push({ name, value, pos: s.start });
        }
        if (!this.eatP(',')) break;
      }
      this.expectP('}');
      return { k: 'anon', members, pos: t.start };
    }
    const typeStart = this.peek();
    // parse the element/class type without array rank first
    const r = this.tryType(this.p);
    if (!r) this.fail(`type expected after 'new' but found '${this.describe(typeStart)}'`, typeStart.start);
    let type = r.type;
    this.p = r.next;
    if (type.rank > 0) {
      // new string[] { ... }
      const elemType = { ...type, rank: type.rank - 1 };
      const items = this.arrayItems();
      return { k: 'newarray', elemType, items, pos: t.start };
    }
    if (this.isP('[')) {
      this.next();
      const size = this.expr();
      if (this.isP(',')) this.unsupported('multi-dimensional arrays are not supported', this.peek().start);
      this.expectP(']');
      if (this.isP('[')) this.unsupported('jagged array creation with sizes is not supported', this.peek().start);
      let items: Expr[] | undefined;
      if (this.isP('{')) items = this.arrayItems();
      const res: Expr = { k: 'newarray', elemType: type, size, pos: t.start };
      if (items) res.items = items;
      return res;
    }
    let args: Arg[] = [];
    let hadParens = false;
    if (this.isP('(')) {
      args = this.arguments();
      hadParens = true;
    }
    let init: Initializer | undefined;
    if (this.isP('{')) init = this.initializer();
    if (!hadParens && !init) this.fail("'(' or '{' expected after the type in a 'new' expression", this.peek().start);
    type = { ...type };
    const res: Expr = { k: 'new', type, args, pos: t.start };
    if (init) res.init = init;
    return res;
  }

  private arrayItems(): Expr[] {
    this.expectP('{');
    const items: Expr[] = [];
    while (!this.isP('}')) {
      if (this.isP('{')) this.unsupported('nested array initializers are not supported', this.peek().start);
      items.push(this.expr());
      if (!this.eatP(',')) break;
    }
    this.expectP('}');
    return items;
  }

  private initializer(): Initializer {
    const open = this.expectP('{');
    const items: InitItem[] = [];
    while (!this.isP('}')) {
      const s = this.peek();
      if (this.isP('[')) {
        this.next();
        const keys: Expr[] = [this.expr()];
        while (this.eatP(',')) keys.push(this.expr());
        this.expectP(']');
        this.expectP('=');
        const value = this.isP('{') ? this.initializer() : this.expr();
        items.push({ kind: 'index', keys, value, pos: s.start });
      } else if (this.isIdent() && this.isP('=', 1)) {
        this.next();
        this.next();
        const value = this.isP('{') ? this.initializer() : this.expr();
        items.push({ kind: 'member', name: s.value, value, pos: s.start });
      } else if (this.isP('{')) {
        this.next();
        const values: Expr[] = [];
        while (!this.isP('}')) {
          values.push(this.expr());
          if (!this.eatP(',')) break;
        }
        this.expectP('}');
        items.push({ kind: 'tuple', values, pos: s.start });
      } else {
        items.push({ kind: 'expr', value: this.expr(), pos: s.start });
      }
      if (!this.eatP(',')) break;
    }
    this.expectP('}');
    return { k: 'init', items, pos: open.start };
  }

  private arguments(): Arg[] {
    this.expectP('(');
    const args: Arg[] = [];
    if (this.eatP(')')) return args;
    for (;;) {
      const s = this.peek();
      const arg: Arg = { value: undefined as unknown as Expr, pos: s.start };
      if (this.isIdent() && this.isP(':', 1)) {
        arg.name = s.value;
        this.next();
        this.next();
      }
      const rk = this.peek();
      if (rk.kind === 'keyword' && (rk.value === 'out' || rk.value === 'ref' || rk.value === 'in')) {
        this.next();
        arg.refKind = rk.value as 'out' | 'ref' | 'in';
        if (rk.value === 'out') {
          // out var x | out T x | out _ | out x
          if (this.isIdent(0, 'var') && this.isIdent(1)) {
            this.next();
            const id = this.next();
            arg.outDecl = { type: null, name: id.value, pos: id.start };
            arg.value = { k: 'name', name: id.value, pos: id.start };
          } else {
            const tr = this.tryType(this.p);
            const idAfter = tr ? this.at(tr.next) : null;
            if (tr && idAfter && idAfter.kind === 'ident') {
              this.p = tr.next + 1;
              arg.outDecl = { type: tr.type, name: idAfter.value, pos: idAfter.start };
              arg.value = { k: 'name', name: idAfter.value, pos: idAfter.start };
            } else arg.value = this.expr();
          }
        } else arg.value = this.expr();
      } else arg.value = this.expr();
      args.push(arg);
      if (this.eatP(',')) continue;
      this.expectP(')');
      return args;
    }
  }

  private postfix(e: Expr): Expr {
    let cur = e;
    let n = 0;
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'punct') {
        if (t.kind === 'keyword' && t.value === 'switch') this.unsupported('switch expressions are not supported', t.start);
        if (t.kind === 'ident' && t.value === 'with' && (this.isP('{', 1))) this.unsupported("'with' expressions are not supported", t.start);
        return cur;
      }
      if (++n > MAX_NESTING * 4) throw new CompileError('EXPR_LIMIT', 'member access chain too long', t.start);
      if (t.value === '.' || t.value === '?.') {
        this.next();
        const id = this.peek();
        if (id.kind !== 'ident') this.fail(`identifier expected after '${t.value}' but found '${this.describe(id)}'`, id.start);
        this.next();
        const m: Expr = { k: 'member', obj: cur, name: id.value, nullCond: t.value === '?.', pos: id.start };
        if (this.isP('<')) {
          const r = this.tryTypeArgs(this.p);
          if (r && AFTER_TYPEARGS.has(this.describeP(r.next))) {
            this.p = r.next;
            m.typeArgs = r.args;
          }
        }
        cur = m;
      } else if (t.value === '(') {
        const args = this.arguments();
        cur = { k: 'call', callee: cur, args, pos: cur.pos };
      } else if (t.value === '[') {
        this.next();
        const args: Expr[] = [this.expr()];
        while (this.eatP(',')) args.push(this.expr());
        this.expectP(']');
        cur = { k: 'index', obj: cur, args, nullCond: false, pos: t.start };
      } else if (t.value === '?' && this.isP('[', 1) && this.peek(1).start === t.end) {
        this.next();
        this.next();
        const args: Expr[] = [this.expr()];
        while (this.eatP(',')) args.push(this.expr());
        this.expectP(']');
        cur = { k: 'index', obj: cur, args, nullCond: true, pos: t.start };
      } else if (t.value === '++' || t.value === '--') {
        this.next();
        this.checkAssignable(cur);
        cur = { k: 'incdec', op: t.value, prefix: false, target: cur, pos: t.start };
      } else if (t.value === '!' && !this.peek(1).spaceBefore && !t.spaceBefore && !this.isP('=', 1)) {
        // null-forgiving operator: no runtime effect
        this.next();
      } else return cur;
    }
  }

  // ---------------------------------------------------------------- statements
  private block(): Block {
    const open = this.expectP('{');
    this.enter(open.start);
    try {
      const body: Stmt[] = [];
      while (!this.isP('}')) {
        if (this.peek().kind === 'eof') this.fail("'}' expected but the code ended", this.peek().start);
        body.push(this.statement());
      }
      this.next();
      return { k: 'block', body, pos: open.start };
    } finally {
      this.leave();
    }
  }

  private statement(): Stmt {
    const t = this.peek();
    this.enter(t.start);
    try {
      return this.statementInner(t);
    } finally {
      this.leave();
    }
  }

  private statementInner(t: Token): Stmt {
    if (t.kind === 'punct') {
      if (t.value === '{') return this.block();
      if (t.value === ';') {
        this.next();
        return { k: 'empty', pos: t.start };
      }
    }
    if (t.kind === 'keyword') {
      switch (t.value) {
        case 'if': {
          this.next();
          this.expectP('(');
          const test = this.expr();
          this.expectP(')');
          const then = this.embedded();
          if (this.isK('else')) {
            this.next();
            return { k: 'if', test, then, else: this.embedded(), pos: t.start };
          }
          return { k: 'if', test, then, pos: t.start };
        }
        case 'while': {
          this.next();
          this.expectP('(');
          const test = this.expr();
          this.expectP(')');
          return { k: 'while', test, body: this.embedded(), pos: t.start };
        }
        case 'do': {
          this.next();
          const body = this.embedded();
          if (!this.isK('while')) this.fail("'while' expected", this.peek().start);
          this.next();
          this.expectP('(');
          const test = this.expr();
          this.expectP(')');
          this.expectP(';');
          return { k: 'do', test, body, pos: t.start };
        }
        case 'for':
          return this.forStmt();
        case 'foreach':
          return this.foreachStmt();
        case 'break':
          this.next();
          this.expectP(';');
          return { k: 'break', pos: t.start };
        case 'continue':
          this.next();
          this.expectP(';');
          return { k: 'continue', pos: t.start };
        case 'return': {
          this.next();
          if (this.eatP(';')) return { k: 'return', pos: t.start };
          const value = this.expr();
          this.expectP(';');
          return { k: 'return', value, pos: t.start };
        }
        case 'throw': {
          this.next();
          if (this.eatP(';')) return { k: 'throw', pos: t.start };
          const value = this.expr();
          this.expectP(';');
          return { k: 'throw', value, pos: t.start };
        }
        case 'try':
          return this.tryStmt();
        case 'using':
          return this.usingStmt();
        case 'switch':
          return this.switchStmt();
        case 'checked':
        case 'unchecked':
          if (this.isP('{', 1)) {
            this.next();
            return this.block();
          }
          break;
        case 'const': {
          this.next();
          const d = this.declaration(this.parseType(), true);
          this.expectP(';');
          return d;
        }
        case 'static':
          if (this.isLocalFunctionAt(this.p + 1)) {
            this.next();
            return this.localFunction();
          }
          this.unsupported("'static' is only supported on local functions", t.start);
        // falls through (never)
        case 'goto':
        case 'lock':
        case 'fixed':
        case 'unsafe':
          this.unsupported(`'${t.value}' statements are not supported`, t.start);
        // falls through (never)
        case 'class':
        case 'struct':
        case 'interface':
        case 'enum':
        case 'namespace':
          this.unsupported(`type declarations ('${t.value}') are not supported`, t.start);
        // falls through (never)
        case 'else':
          this.fail("'else' without a matching 'if'", t.start);
        // falls through (never)
        case 'case':
        case 'default':
          if (t.value === 'case' || this.isP(':', 1)) this.fail(`'${t.value}' outside of a switch statement`, t.start);
          break;
        default:
          break;
      }
    }
    if (t.kind === 'ident' && t.value === 'yield' && (this.isK('return', 1) || this.isK('break', 1)))
      this.unsupported("'yield' is not supported", t.start);
    if (t.kind === 'ident' && this.isP(':', 1) && !this.isP('::', 1)) this.unsupported('labeled statements are not supported', t.start);
    // var declaration
    if (t.kind === 'ident' && t.value === 'var' && this.isIdent(1)) {
      this.next();
      const d = this.declaration(null, false);
      this.expectP(';');
      return d;
    }
    if (t.kind === 'ident' && t.value === 'var' && this.isP('(', 1)) this.unsupported('deconstruction is not supported', t.start);
    // local function or typed declaration
    if (this.isLocalFunctionAt(this.p)) return this.localFunction();
    const r = this.tryType(this.p);
    if (r) {
      const id = this.at(r.next);
      const after = this.at(r.next + 1);
      if (id.kind === 'ident' && after.kind === 'punct' && ['=', ';', ','].includes(after.value)) {
        this.p = r.next;
        const d = this.declaration(r.type, false);
        this.expectP(';');
        return d;
      }
    }
    const e = this.expr();
    this.expectP(';');
    this.checkStatementExpr(e);
    return { k: 'expr', expr: e, pos: e.pos };
  }

  private checkStatementExpr(e: Expr): void {
    if (e.k === 'assign' || e.k === 'call' || e.k === 'incdec' || e.k === 'new' || e.k === 'throw') return;
    this.fail('only assignment, call, increment, decrement and new object expressions can be used as a statement', e.pos);
  }

  /** an embedded statement (the body of if/while/for...) */
  private embedded(): Stmt {
    const t = this.peek();
    const s = this.statement();
    if (s.k === 'decl' || s.k === 'func') this.fail('a declaration is not allowed here; use a block { }', t.start);
    return s;
  }

  private isLocalFunctionAt(i: number): boolean {
    const r = this.tryType(i, true);
    if (!r) return false;
    const id = this.at(r.next);
    const open = this.at(r.next + 1);
    if (id.kind !== 'ident' || open.kind !== 'punct' || open.value !== '(') return false;
    const close = this.matchParen(r.next + 1);
    if (close < 0) return false;
    const after = this.at(close + 1);
    return after.kind === 'punct' && (after.value === '{' || after.value === '=>');
  }

  private localFunction(): LocalFunc {
    const start = this.peek().start;
    const rt = this.parseType(true);
    const id = this.expectIdent();
    this.expectP('(');
    const params: Array<{ name: string; type: TypeNode; pos: number }> = [];
    if (!this.isP(')')) {
      for (;;) {
        if (this.isK('ref') || this.isK('out') || this.isK('in') || this.isK('params'))
          this.unsupported(`'${this.peek().value}' parameters are not supported`, this.peek().start);
        const type = this.parseType();
        const pid = this.expectIdent();
        if (this.isP('=')) this.unsupported('optional parameters are not supported', this.peek().start);
        params.push({ name: pid.value, type, pos: pid.start });
        if (!this.eatP(',')) break;
      }
    }
    this.expectP(')');
    let body: Block | Expr;
    if (this.eatP('=>')) {
      body = this.expr();
      this.expectP(';');
    } else body = this.block();
    return { k: 'func', retType: rt.name === 'void' ? null : rt, name: id.value, params, body, pos: start };
  }

  private declaration(type: TypeNode | null, isConst: boolean): VarDecl {
    const start = this.peek().start;
    const decls: Array<{ name: string; init?: Expr; pos: number }> = [];
    for (;;) {
      const id = this.expectIdent();
      if (this.isP('[')) this.fail('array size cannot be specified in a variable declaration', this.peek().start);
      if (this.eatP('=')) {
        if (this.isP('{')) this.unsupported('array initializers without new are not supported (use new[] { ... })', this.peek().start);
        decls.push({ name: id.value, init: this.expr(), pos: id.start });
      } else {
        if (type === null) this.fail('implicitly-typed variables must be initialized', id.start);
        if (isConst) this.fail('a const field requires a value to be provided', id.start);
        decls.push({ name: id.value, pos: id.start });
      }
      if (type === null && this.isP(',')) this.fail('implicitly-typed variables cannot have multiple declarators', this.peek().start);
      if (!this.eatP(',')) break;
    }
    return { k: 'decl', type, isConst, decls, pos: type ? type.pos : start };
  }

  private forStmt(): Stmt {
    const t = this.next();
    this.expectP('(');
    const init: Stmt[] = [];
    if (!this.isP(';')) {
      let isDecl = false;
      if (this.isIdent(0, 'var') && this.isIdent(1)) isDecl = true;
      else {
        const r = this.tryType(this.p);
        if (r && this.at(r.next).kind === 'ident') {
          const after = this.at(r.next + 1);
          isDecl = after.kind === 'punct' && ['=', ';', ','].includes(after.value);
        }
      }
      if (isDecl) {
        let type: TypeNode | null = null;
        if (this.isIdent(0, 'var')) this.next();
        else type = this.parseType();
        init.push(this.declaration(type, false));
      } else {
        for (;;) {
          const e = this.expr();
          this.checkStatementExpr(e);
          init.push({ k: 'expr', expr: e, pos: e.pos });
          if (!this.eatP(',')) break;
        }
      }
    }
    this.expectP(';');
    let test: Expr | undefined;
    if (!this.isP(';')) test = this.expr();
    this.expectP(';');
    const update: Expr[] = [];
    if (!this.isP(')')) {
      for (;;) {
        const e = this.expr();
        this.checkStatementExpr(e);
        update.push(e);
        if (!this.eatP(',')) break;
      }
    }
    this.expectP(')');
    const body = this.embedded();
    const res: Stmt = { k: 'for', init, update, body, pos: t.start };
    if (test) res.test = test;
    return res;
  }

  private foreachStmt(): Stmt {
    const t = this.next();
    this.expectP('(');
    let varType: TypeNode | null = null;
    if (this.isIdent(0, 'var') && this.isIdent(1)) this.next();
    else if (this.isIdent(0, 'var') && this.isP('(', 1)) this.unsupported('deconstruction is not supported', this.peek().start);
    else varType = this.parseType();
    const id = this.expectIdent();
    if (!this.isK('in')) this.fail("'in' expected", this.peek().start);
    this.next();
    const iter = this.expr();
    this.expectP(')');
    const body = this.embedded();
    return { k: 'foreach', varType, name: id.value, namePos: id.start, iter, body, pos: t.start };
  }

  private tryStmt(): Stmt {
    const t = this.next();
    const block = this.block();
    const catches: Array<{ type?: TypeNode; name?: string; namePos?: number; filter?: Expr; body: Block; pos: number }> = [];
    while (this.isK('catch')) {
      const c = this.next();
      const clause: { type?: TypeNode; name?: string; namePos?: number; filter?: Expr; body: Block; pos: number } = {
        body: undefined as unknown as Block,
        pos: c.start,
      };
      if (this.eatP('(')) {
        clause.type = this.parseType();
        if (this.isIdent()) {
          const id = this.next();
          clause.name = id.value;
          clause.namePos = id.start;
        }
        this.expectP(')');
      }
      if (this.isIdent(0, 'when')) {
        this.next();
        this.expectP('(');
        clause.filter = this.expr();
        this.expectP(')');
      }
      clause.body = this.block();
      catches.push(clause);
    }
    let fin: Block | undefined;
    if (this.isK('finally')) {
      this.next();
      fin = this.block();
    }
    if (catches.length === 0 && !fin) this.fail("'catch' or 'finally' expected", this.peek().start);
    const res: Stmt = { k: 'try', block, catches, pos: t.start };
    if (fin) res.finally = fin;
    return res;
  }

  private usingStmt(): Stmt {
    const t = this.next();
    if (this.isP('(')) {
      this.next();
      let decl: VarDecl | undefined;
      let expr: Expr | undefined;
      if (this.isIdent(0, 'var') && this.isIdent(1)) {
        this.next();
        decl = this.declaration(null, false);
      } else {
        const r = this.tryType(this.p);
        if (r && this.at(r.next).kind === 'ident' && this.at(r.next + 1).kind === 'punct' && this.at(r.next + 1).value === '=') {
          this.p = r.next;
          decl = this.declaration(r.type, false);
        } else expr = this.expr();
      }
      this.expectP(')');
      const body = this.embedded();
      const res: Stmt = { k: 'using', body, pos: t.start };
      if (decl) res.decl = decl;
      if (expr) res.expr = expr;
      return res;
    }
    // using var x = ...;  (C# 8 declaration): scope is the rest of the block; modelled as a plain declaration
    let type: TypeNode | null = null;
    if (this.isIdent(0, 'var')) this.next();
    else type = this.parseType();
    const d = this.declaration(type, false);
    this.expectP(';');
    return d;
  }

  private switchStmt(): Stmt {
    const t = this.next();
    this.expectP('(');
    const value = this.expr();
    this.expectP(')');
    this.expectP('{');
    const sections: Array<{ labels: Array<Expr | null>; body: Stmt[]; pos: number }> = [];
    while (!this.isP('}')) {
      const s = this.peek();
      const labels: Array<Expr | null> = [];
      while (this.isK('case') || (this.isK('default') && this.isP(':', 1))) {
        const l = this.next();
        if (l.value === 'default') {
          this.expectP(':');
          labels.push(null);
          continue;
        }
        const e = this.expr();
        if (this.isIdent(0, 'when')) this.unsupported("'case ... when' is not supported", this.peek().start);
        if (this.isIdent()) this.unsupported('pattern case labels are not supported', this.peek().start);
        this.expectP(':');
        labels.push(e);
      }
      if (labels.length === 0) this.fail("'case' or 'default' expected", s.start);
      const body: Stmt[] = [];
      while (!this.isP('}') && !this.isK('case') && !(this.isK('default') && this.isP(':', 1))) {
        if (this.peek().kind === 'eof') this.fail("'}' expected", this.peek().start);
        body.push(this.statement());
      }
      sections.push({ labels, body, pos: s.start });
    }
    this.expectP('}');
    return { k: 'switch', value, sections, pos: t.start };
  }
}
