/**
 * Turns zod issues into readable, positioned problems (paths, not yet line/column).
 *
 *   unknown key        → `unknown key "foo"` (one per key, at the key)
 *   missing key        → `missing required key "name"` (at the object)
 *   wrong type         → `expected string, got number`
 *   enum / literal     → `must be one of streamable-http, sse` / `must be "managed"`
 *   discriminator      → `must be one of passthrough, openapi`
 *   union              → the issues of the branch the value is closest to, or a summary such as
 *                        `must be a string or { env: VAR } or { value: ..., secret: true }`
 *   custom / regex     → the schema's own message
 */
import type { z } from 'zod';
import type { Anchor, Path, PathSegment } from './positions.js';

type Issue = z.core.$ZodIssue;

/** A problem before it gets a position: the message is without the path prefix. */
export interface RawProblem {
  readonly path: Path;
  readonly anchor: Anchor;
  readonly message: string;
  /** true when the message shows no part of the value (so it needs no secret redaction) */
  readonly safe?: boolean;
}

/** JSON-ish type name of a value: string, number, boolean, null, array, object. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

const MISSING = Symbol('missing');

function valueAt(root: unknown, path: Path): unknown {
  let v: unknown = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return MISSING;
    if (!Object.prototype.hasOwnProperty.call(v, seg)) return MISSING;
    v = (v as Record<PathSegment, unknown>)[seg];
    if (v === undefined) return MISSING;
  }
  return v;
}

function toPath(p: readonly PropertyKey[]): PathSegment[] {
  return p.filter((s): s is string | number => typeof s !== 'symbol');
}

/** Summaries for unions whose branches all rejected the value's type. */
function unionSummary(path: Path, issue: Extract<Issue, { code: 'invalid_union' }>, value: unknown): string {
  const last = path[path.length - 1];
  if (path[0] === 'namedValues' && path.length === 2) {
    return 'must be a string or { env: VAR } or { value: ..., secret: true }';
  }
  if (last === 'token' || last === 'clientSecret') return 'must be a string or { env: VAR }';
  if (path.includes('accessPolicies')) return 'must be { identity: managed } or { claim: ..., value: ... }';
  const expected = new Set<string>();
  for (const branch of issue.errors) {
    for (const i of branch) if (i.code === 'invalid_type' && i.path.length === 0) expected.add(i.expected === 'int' ? 'integer' : i.expected);
  }
  if (expected.size > 0) return `expected ${[...expected].join(' or ')}, got ${typeName(value)}`;
  return 'invalid value';
}

/** How far a union branch is from accepting the value (lower is closer); undefined = wrong type. */
function branchDistance(branch: readonly Issue[]): number | undefined {
  let unknownKeys = 0;
  for (const i of branch) {
    if (i.path.length === 0 && i.code === 'invalid_type') return undefined;
    if (i.code === 'unrecognized_keys' && i.path.length === 0) unknownKeys += i.keys.length;
  }
  return unknownKeys * 1000 + branch.length;
}

function plural(n: number | bigint, word: string): string {
  return `${n} ${word}${n === 1 || n === 1n ? '' : 's'}`;
}

function sizeMessage(issue: Extract<Issue, { code: 'too_small' | 'too_big' }>): string {
  const small = issue.code === 'too_small';
  const bound = small ? (issue as { minimum: number | bigint }).minimum : (issue as { maximum: number | bigint }).maximum;
  // a message given in the schema is used as is (zod's own start with "Too small"/"Too big")
  if (!/^Too (small|big)/.test(issue.message)) return issue.message;
  switch (issue.origin) {
    case 'array':
    case 'set':
      return small ? `must have at least ${plural(bound, 'item')}` : `must have at most ${plural(bound, 'item')}`;
    case 'string':
      return small ? `must be at least ${plural(bound, 'character')}` : `must be at most ${plural(bound, 'character')}`;
    default:
      if (issue.exact) return `must be ${bound}`;
      if (small) return issue.inclusive ? `must be at least ${bound}` : `must be greater than ${bound}`;
      return issue.inclusive ? `must be at most ${bound}` : `must be less than ${bound}`;
  }
}

function formatChoice(v: unknown): string {
  return typeof v === 'string' ? v : String(v);
}

/**
 * Converts zod issues (from parsing `data`) into problems. `base` prefixes issue paths (used for
 * union branches, whose issue paths are relative to the union).
 */
export function issuesToProblems(issues: readonly Issue[], data: unknown, base: Path = []): RawProblem[] {
  const out: RawProblem[] = [];
  for (const issue of issues) convert(issue, data, base, out);
  return out;
}

function convert(issue: Issue, data: unknown, base: Path, out: RawProblem[]): void {
  const path: PathSegment[] = [...base, ...toPath(issue.path)];
  const value = valueAt(data, path);

  // Any complaint about a value that is not there at all is a missing required key.
  if (value === MISSING && path.length > 0 && issue.code !== 'unrecognized_keys' && issue.code !== 'invalid_key') {
    const parent = valueAt(data, path.slice(0, -1));
    if (parent !== MISSING && parent !== null && typeof parent === 'object' && !Array.isArray(parent)) {
      const key = String(path[path.length - 1]);
      let extra = '';
      if (issue.code === 'invalid_union' && issue.discriminator && 'options' in issue && issue.options) {
        extra = ` (one of ${issue.options.map(formatChoice).join(', ')})`;
      }
      out.push({ path, anchor: 'parent', message: `missing required key "${key}"${extra}`, safe: true });
      return;
    }
  }

  switch (issue.code) {
    case 'unrecognized_keys':
      for (const key of issue.keys) out.push({ path: [...path, key], anchor: 'key', message: `unknown key "${key}"`, safe: true });
      return;
    case 'invalid_type': {
      const expected = issue.expected === 'int' ? 'integer' : issue.expected === 'record' ? 'object' : issue.expected === 'tuple' ? 'array' : issue.expected;
      const got = issue.expected === 'int' && typeof value === 'number' ? String(value) : typeName(value);
      out.push({ path, anchor: 'value', message: `expected ${expected}, got ${got}`, safe: true });
      return;
    }
    case 'invalid_value': {
      const msg = issue.values.length === 1
        ? `must be ${JSON.stringify(issue.values[0])}`
        : `must be one of ${issue.values.map(formatChoice).join(', ')}`;
      out.push({ path, anchor: 'value', message: msg, safe: true });
      return;
    }
    case 'invalid_union': {
      if (issue.discriminator && 'options' in issue && issue.options) {
        out.push({ path, anchor: 'value', message: `must be one of ${issue.options.map(formatChoice).join(', ')}`, safe: true });
        return;
      }
      // a union with its own message in the schema says it as it is
      if (issue.message && issue.message !== 'Invalid input') {
        out.push({ path, anchor: 'value', message: issue.message, safe: true });
        return;
      }
      // The branch the value is closest to: right type, fewest unknown keys, fewest issues. When
      // several branches fit the value's keys equally well (e.g. `{}`), a summary is clearer.
      let best: readonly Issue[] | undefined;
      let bestDistance = Infinity;
      let exactKeyFits = 0;
      for (const branch of issue.errors) {
        const d = branchDistance(branch);
        if (d === undefined) continue;
        if (d < 1000) exactKeyFits++;
        if (d < bestDistance) { best = branch; bestDistance = d; }
      }
      if (best && exactKeyFits <= 1) {
        for (const i of best) convert(i, data, path, out);
        return;
      }
      out.push({ path, anchor: 'value', message: unionSummary(path, issue, value), safe: true });
      return;
    }
    case 'invalid_key': {
      const key = path[path.length - 1];
      const inner = issue.issues.map((i) => i.message).join('; ');
      out.push({ path, anchor: 'key', message: `invalid key ${JSON.stringify(String(key))}: ${inner}`, safe: true });
      return;
    }
    case 'invalid_element':
      for (const i of issue.issues) convert(i, data, path, out);
      return;
    case 'too_small':
    case 'too_big':
      out.push({ path, anchor: 'value', message: sizeMessage(issue) });
      return;
    case 'invalid_format': {
      let msg = issue.message;
      if (/^Invalid/.test(msg)) msg = issue.pattern ? `must match ${issue.pattern}` : `must be a valid ${issue.format}`;
      out.push({ path, anchor: 'value', message: msg });
      return;
    }
    case 'not_multiple_of':
      out.push({ path, anchor: 'value', message: `must be a multiple of ${issue.divisor}`, safe: true });
      return;
    case 'custom':
    default:
      out.push({ path, anchor: 'value', message: issue.message });
  }
}
