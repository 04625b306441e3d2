// Public API of the expression engine: APIM policy expressions (@(...) and @{...}) in a C# subset.
//
// compileExpression parses and binds the code once, at load: syntax errors and every construct, type, member or
// method the engine does not support are reported as ExpressionError with the exact line/column. evaluate() runs
// the pre-compiled closures against a context with step, time, string-length, collection-size and depth limits.
import { Parser } from './parser.js';
import { Compiler, type Frame } from './compiler.js';
import { CompileError, CsException, ExpressionError, LimitError, PositionMap, type SourcePos } from './errors.js';
import type { ExpressionContext } from './context.js';
import type { Runtime } from './types.js';
import { csToString } from './types.js';

export { ExpressionError, type SourcePos, type ExpressionErrorCode } from './errors.js';
export * from './context.js';
export { parseJwt } from './members/index.js';
export { csToString as toCSharpString } from './types.js';

export interface Limits {
  /** evaluation steps (nodes, calls, loop iterations, work units of large operations) */
  maxSteps: number;
  /** wall-clock budget of one evaluation */
  maxMillis: number;
  /** longest string any operation may produce */
  maxStringLength: number;
  /** deepest nesting of lambda / local function calls */
  maxDepth: number;
  /** largest array, list, dictionary or JSON container an operation may produce (default 100 000) */
  maxCollectionSize?: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxSteps: 100_000,
  maxMillis: 250,
  maxStringLength: 1024 * 1024,
  maxDepth: 64,
  maxCollectionSize: 100_000,
});

export interface CompiledExpression {
  readonly source: string;
  readonly kind: 'expression' | 'block';
  /** what the expression touches, found statically, so the gateway knows what to buffer */
  readonly reads: { requestBody: boolean; responseBody: boolean; variables: boolean };
  evaluate(context: ExpressionContext, limits?: Limits): unknown;
}

/**
 * Compiles the code inside @( ... ) (kind 'expression') or inside @{ ... } (kind 'block'), named values already
 * substituted. `pos` is the file position of the first character of the code. Throws ExpressionError
 * (EXPR_SYNTAX / EXPR_UNSUPPORTED / EXPR_LIMIT) at load time.
 */
export function compileExpression(code: string, kind: 'expression' | 'block', pos: SourcePos): CompiledExpression {
  const map = new PositionMap(code, pos);
  let out: ReturnType<Compiler['compileExpression']>;
  try {
    const parser = new Parser(code);
    const compiler = new Compiler();
    if (kind === 'expression') out = compiler.compileExpression(parser.parseExpression());
    else out = compiler.compileBlock(parser.parseBlock(), code.length);
  } catch (e) {
    if (e instanceof CompileError) throw new ExpressionError(e.code, e.message, map.at(Math.min(e.offset, code.length)));
    if (e instanceof RangeError) throw new ExpressionError('EXPR_LIMIT', 'expression too deeply nested', map.at(0));
    throw e;
  }
  const { run, reads } = out;
  const nslots = out.nslots;
  return Object.freeze({
    source: code,
    kind,
    reads: Object.freeze({ ...reads }),
    evaluate(context: ExpressionContext, limits: Limits = DEFAULT_LIMITS): unknown {
      const start = performance.now();
      const rt: Runtime = {
        steps: 0,
        maxSteps: limits.maxSteps,
        nextCheck: 0,
        deadline: start + limits.maxMillis,
        maxStr: limits.maxStringLength,
        maxColl: limits.maxCollectionSize ?? DEFAULT_LIMITS.maxCollectionSize ?? 100_000,
        maxDepth: limits.maxDepth,
        depth: 0,
        at: 0,
        alloc: 0,
        ctx: context,
      };
      const frame: Frame = { s: new Array(nslots), up: null, rt, ret: undefined };
      try {
        const v = run(frame);
        if (typeof v === 'string' && v.length > rt.maxStr) throw new LimitError(`string longer than ${rt.maxStr} characters`);
        return v === undefined ? null : v;
      } catch (e) {
        const at = map.at(Math.min(rt.at, code.length));
        if (e instanceof LimitError) throw new ExpressionError('EXPR_LIMIT', e.message, at);
        if (e instanceof CsException) throw new ExpressionError('EXPR_RUNTIME', `${e.csType}: ${e.message}`, at, e.csType);
        if (e instanceof ExpressionError) throw e;
        if (e instanceof RangeError && /call stack|Invalid (string|array) length/i.test(e.message))
          throw new ExpressionError('EXPR_LIMIT', `evaluation exceeded a resource limit (${e.message})`, at);
        const msg = e instanceof Error ? e.message : String(e);
        throw new ExpressionError('EXPR_RUNTIME', `internal error: ${msg}`, at, 'Exception');
      }
    },
  });
}

/** C# string conversion of an expression result (as an attribute or header value uses it): true → "True", null → "" */
export function formatResult(v: unknown): string {
  return csToString(v);
}
