/**
 * Load-time problems of the policy document layer (pre-pass, XML parse, document structure,
 * named values, scope composition, fragments). Every problem carries the ORIGINAL position
 * (1-based line and column in the text the author wrote, before any rewriting).
 */
export interface PolicyProblem {
  file?: string;
  line: number;
  col: number;
  message: string;
}

/** `FILE:LINE:COL: message` (or `LINE:COL: message` without a file). */
export function formatPolicyProblem(p: PolicyProblem): string {
  return `${p.file !== undefined && p.file !== '' ? `${p.file}:` : ''}${p.line}:${p.col}: ${p.message}`;
}

/** Orders problems by file, then line, then column (stable for equal positions). */
export function sortPolicyProblems(problems: PolicyProblem[]): PolicyProblem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => {
      const fa = a.p.file ?? '';
      const fb = b.p.file ?? '';
      if (fa !== fb) return fa < fb ? -1 : 1;
      return a.p.line - b.p.line || a.p.col - b.p.col || a.i - b.i;
    })
    .map((x) => x.p);
}

export class PolicyError extends Error {
  readonly problems: PolicyProblem[];

  constructor(problems: PolicyProblem | PolicyProblem[]) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(list.length === 0 ? 'invalid policy' : list.map(formatPolicyProblem).join('\n'));
    this.name = 'PolicyError';
    this.problems = list;
  }
}
