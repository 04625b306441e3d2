// Errors of the expression engine, and the mapping from offsets inside an expression's code to file positions.

export type ExpressionErrorCode = 'EXPR_SYNTAX' | 'EXPR_UNSUPPORTED' | 'EXPR_RUNTIME' | 'EXPR_LIMIT';

export interface SourcePos {
  file?: string;
  /** 1-based line of the first character of the code */
  line: number;
  /** 1-based column of the first character of the code */
  col: number;
}

export class ExpressionError extends Error {
  readonly code: ExpressionErrorCode;
  readonly line: number;
  readonly col: number;
  readonly file?: string;
  /** for EXPR_RUNTIME: the .NET exception type the failure corresponds to (e.g. 'NullReferenceException') */
  readonly exceptionType?: string;
  /** the message without the position prefix */
  readonly detail: string;

  constructor(code: ExpressionErrorCode, detail: string, at: { line: number; col: number; file?: string }, exceptionType?: string) {
    const where = `${at.file ? `${at.file}:` : ''}${at.line}:${at.col}`;
    super(`${where}: ${detail}`);
    this.name = 'ExpressionError';
    this.code = code;
    this.line = at.line;
    this.col = at.col;
    if (at.file !== undefined) this.file = at.file;
    if (exceptionType !== undefined) this.exceptionType = exceptionType;
    this.detail = detail;
  }
}

/** Thrown inside the compiler with an offset into the code; converted to ExpressionError by compileExpression. */
export class CompileError extends Error {
  constructor(
    readonly code: 'EXPR_SYNTAX' | 'EXPR_UNSUPPORTED' | 'EXPR_LIMIT',
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/**
 * A C# exception raised while evaluating (catchable by try/catch inside the expression).
 * Converted to ExpressionError('EXPR_RUNTIME') when it escapes the expression.
 */
export class CsException extends Error {
  constructor(
    readonly csType: string,
    message: string,
  ) {
    super(message);
  }
}

/** A limit breach: never catchable by the expression's own try/catch. */
export class LimitError extends Error {}

/** Maps offsets inside `code` to 1-based line/column in the file the code came from. */
export class PositionMap {
  private readonly lineStarts: number[] = [0];
  constructor(
    code: string,
    private readonly base: SourcePos,
  ) {
    for (let i = 0; i < code.length; i++) {
      const c = code.charCodeAt(i);
      if (c === 10) this.lineStarts.push(i + 1);
      else if (c === 13 && code.charCodeAt(i + 1) !== 10) this.lineStarts.push(i + 1);
    }
  }
  at(offset: number): { line: number; col: number; file?: string } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    const start = this.lineStarts[lo] ?? 0;
    const line = this.base.line + lo;
    const col = lo === 0 ? this.base.col + offset : offset - start + 1;
    return this.base.file !== undefined ? { line, col, file: this.base.file } : { line, col };
  }
}
