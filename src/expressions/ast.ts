// AST of the C# subset. Every node carries `pos`: the offset (inside the expression code) used in error messages.
import type { NumType } from './lexer.js';

export interface TypeNode {
  /** dotted name as written, e.g. 'string', 'JObject', 'System.Collections.Generic.List' */
  name: string;
  args: TypeNode[];
  /** number of [] suffixes */
  rank: number;
  nullable: boolean;
  pos: number;
}

export type LitType = NumType | 'string' | 'char' | 'bool' | 'null';

export interface Arg {
  name?: string;
  value: Expr;
  refKind?: 'out' | 'ref' | 'in';
  /** `out var x` / `out T x` / `out _` */
  outDecl?: { type: TypeNode | null; name: string; pos: number };
  pos: number;
}

export type InitItem =
  | { kind: 'expr'; value: Expr; pos: number }
  | { kind: 'tuple'; values: Expr[]; pos: number }
  | { kind: 'index'; keys: Expr[]; value: Expr | Initializer; pos: number }
  | { kind: 'member'; name: string; value: Expr | Initializer; pos: number };

export interface Initializer {
  k: 'init';
  items: InitItem[];
  pos: number;
}

export type Pattern =
  | { kind: 'null'; not: boolean }
  | { kind: 'type'; type: TypeNode; name?: string; namePos?: number; not: boolean }
  | { kind: 'const'; value: Expr; not: boolean };

export type Expr =
  | { k: 'lit'; value: unknown; type: LitType; pos: number }
  | { k: 'interp'; parts: Array<string | { expr: Expr; align?: Expr; format?: string }>; pos: number }
  | { k: 'name'; name: string; pos: number; typeArgs?: TypeNode[] }
  | { k: 'member'; obj: Expr; name: string; nullCond: boolean; typeArgs?: TypeNode[]; pos: number }
  | { k: 'call'; callee: Expr; args: Arg[]; pos: number }
  | { k: 'index'; obj: Expr; args: Expr[]; nullCond: boolean; pos: number }
  | { k: 'unary'; op: '-' | '+' | '!' | '~'; operand: Expr; pos: number }
  | { k: 'incdec'; op: '++' | '--'; prefix: boolean; target: Expr; pos: number }
  | { k: 'binary'; op: string; left: Expr; right: Expr; pos: number }
  | { k: 'cond'; test: Expr; then: Expr; else: Expr; pos: number }
  | { k: 'assign'; op: string; target: Expr; value: Expr; pos: number }
  | { k: 'cast'; type: TypeNode; expr: Expr; pos: number }
  | { k: 'is'; expr: Expr; pattern: Pattern; pos: number }
  | { k: 'as'; expr: Expr; type: TypeNode; pos: number }
  | { k: 'lambda'; params: Array<{ name: string; type?: TypeNode; pos: number }>; body: Expr | Block; pos: number }
  | { k: 'new'; type: TypeNode; args: Arg[]; init?: Initializer; pos: number }
  | { k: 'newarray'; elemType?: TypeNode; size?: Expr; items?: Expr[]; pos: number }
  | { k: 'anon'; members: Array<{ name: string; value: Expr; pos: number }>; pos: number }
  | { k: 'default'; type?: TypeNode; pos: number }
  | { k: 'typeof'; type: TypeNode; pos: number }
  | { k: 'nameof'; name: string; pos: number }
  | { k: 'throw'; value: Expr; pos: number }
  | { k: 'typeexpr'; type: TypeNode; pos: number };

export interface Block {
  k: 'block';
  body: Stmt[];
  pos: number;
}

export interface VarDecl {
  k: 'decl';
  /** null = var */
  type: TypeNode | null;
  isConst: boolean;
  decls: Array<{ name: string; init?: Expr; pos: number }>;
  pos: number;
}

export interface LocalFunc {
  k: 'func';
  retType: TypeNode | null; // null = void
  name: string;
  params: Array<{ name: string; type: TypeNode; pos: number }>;
  body: Block | Expr;
  pos: number;
}

export type Stmt =
  | Block
  | VarDecl
  | LocalFunc
  | { k: 'expr'; expr: Expr; pos: number }
  | { k: 'if'; test: Expr; then: Stmt; else?: Stmt; pos: number }
  | { k: 'while'; test: Expr; body: Stmt; pos: number }
  | { k: 'do'; test: Expr; body: Stmt; pos: number }
  | { k: 'for'; init: Stmt[]; test?: Expr; update: Expr[]; body: Stmt; pos: number }
  | { k: 'foreach'; varType: TypeNode | null; name: string; namePos: number; iter: Expr; body: Stmt; pos: number }
  | { k: 'break'; pos: number }
  | { k: 'continue'; pos: number }
  | { k: 'return'; value?: Expr; pos: number }
  | { k: 'throw'; value?: Expr; pos: number }
  | {
      k: 'try';
      block: Block;
      catches: Array<{ type?: TypeNode; name?: string; namePos?: number; filter?: Expr; body: Block; pos: number }>;
      finally?: Block;
      pos: number;
    }
  | { k: 'using'; decl?: VarDecl; expr?: Expr; body: Stmt; pos: number }
  | { k: 'switch'; value: Expr; sections: Array<{ labels: Array<Expr | null>; body: Stmt[]; pos: number }>; pos: number }
  | { k: 'empty'; pos: number };
