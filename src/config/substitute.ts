/**
 * Named values and environment references in the configuration document (before schema
 * validation, so that e.g. `url: "{{orders-url}}"` is validated after substitution).
 *
 * - `namedValues` entries resolve to `{ value, secret }` (`{ env: VAR }` from the environment,
 *   with `default` when the variable is unset).
 * - `{{name}}` inside any string value of the config is replaced, except inside `namedValues`
 *   and inside inline policy XML (the policy engine substitutes named values in policies).
 * - `{ env: VAR }` at a secret-bearing field (`secretString` in the schema) becomes the variable's value.
 *
 * Every path whose value carries secret material is recorded in `secretPaths` so that problem
 * messages about it never show the value.
 */
import { namedValue as namedValueSchema } from './schema.js';
import { formatPath, type Path, type PathSegment } from './positions.js';
import type { RawProblem } from './issues.js';
import type { NamedValue } from './types.js';

/** `{{name}}`: the characters allowed in a named value's name. */
export const NAMED_VALUE_REF = /\{\{([A-Za-z0-9._-]+)\}\}/g;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Paths of policy references (file path or inline XML). */
export function isPolicyRefPath(path: Path): boolean {
  const [a, b, c, d, e] = path;
  switch (path.length) {
    case 1: return a === 'policies';
    case 2: return a === 'fragments' && typeof b === 'string';
    case 3: return (a === 'servers' || a === 'products') && typeof b === 'number' && c === 'policies';
    case 5: return a === 'servers' && typeof b === 'number' && c === 'tools' && typeof d === 'number' && e === 'policies';
    default: return false;
  }
}

/** Paths of secret-bearing fields (`secretString` in schema.ts): `{ env: VAR }` is accepted there. */
export function isSecretStringPath(path: Path): boolean {
  const [a, b, c, d] = path;
  if (path.length === 3) {
    return (a === 'gateway' && b === 'admin' && c === 'token') || (a === 'authorization' && b === 'upstream' && c === 'clientSecret') ||
      (a === 'certificates' && typeof b === 'string' && (c === 'key' || c === 'passphrase'));
  }
  return path.length === 4 && a === 'credentials' && b === 'providers' && typeof c === 'number' && d === 'clientSecret';
}

/** `{ env: VAR }` or `{ env: VAR, secret: bool }` exactly; anything else is left to the schema. */
function envRef(v: unknown): string | undefined {
  if (!isPlainObject(v)) return undefined;
  const keys = Object.keys(v);
  if (!keys.every((k) => k === 'env' || k === 'secret')) return undefined;
  if (typeof v.env !== 'string' || v.env === '') return undefined;
  if (v.secret !== undefined && typeof v.secret !== 'boolean') return undefined;
  return v.env;
}

export interface NamedValues {
  /** the named values that resolved */
  readonly values: Map<string, NamedValue>;
  /** every name declared (also those that failed to resolve: no "unknown named value" for them) */
  readonly declared: Set<string>;
}

export function resolveNamedValues(raw: unknown, env: NodeJS.ProcessEnv, problems: RawProblem[]): NamedValues {
  const values = new Map<string, NamedValue>();
  const declared = new Set<string>();
  if (!isPlainObject(raw)) return { values, declared };
  for (const [name, entry] of Object.entries(raw)) {
    declared.add(name);
    const parsed = namedValueSchema.safeParse(entry);
    if (!parsed.success) continue; // reported by the schema validation
    const v = parsed.data;
    if (typeof v === 'string') {
      values.set(name, { value: v, secret: false });
    } else if ('env' in v) {
      const fromEnv = env[v.env];
      const value = fromEnv ?? v.default;
      if (value === undefined) {
        problems.push({
          path: ['namedValues', name],
          anchor: 'value',
          message: `environment variable "${v.env}" is not set (and no default is given)`,
          safe: true,
        });
        continue;
      }
      values.set(name, { value, secret: v.secret ?? false });
    } else {
      values.set(name, { value: v.value, secret: v.secret ?? false });
    }
  }
  return { values, declared };
}

export interface Substituted {
  readonly document: unknown;
  /** formatted paths (formatPath) of values that carry secret material */
  readonly secretPaths: Set<string>;
  /** the secret strings themselves (to scrub from messages as a last line of defence) */
  readonly secrets: Set<string>;
  /** formatted paths of strings still holding a `{{name}}` that did not resolve (already reported) */
  readonly unresolved: Set<string>;
}

/** Returns a substituted copy of `doc` (the input is not modified). */
export function substitute(doc: unknown, named: NamedValues, env: NodeJS.ProcessEnv, problems: RawProblem[]): Substituted {
  const secretPaths = new Set<string>();
  const secrets = new Set<string>();
  const unresolved = new Set<string>();
  for (const nv of named.values.values()) if (nv.secret && nv.value !== '') secrets.add(nv.value);

  const replaceRefs = (s: string, path: Path): string => {
    const unknown = new Set<string>();
    let tainted = false;
    const result = s.replace(NAMED_VALUE_REF, (whole, name: string) => {
      const nv = named.values.get(name);
      if (nv) {
        if (nv.secret) tainted = true;
        return nv.value;
      }
      if (!named.declared.has(name)) unknown.add(name);
      unresolved.add(formatPath(path));
      return whole;
    });
    for (const name of unknown) {
      problems.push({ path, anchor: 'value', message: `unknown named value "${name}" (not defined in namedValues)`, safe: true });
    }
    if (tainted) secretPaths.add(formatPath(path));
    return result;
  };

  const walk = (v: unknown, path: PathSegment[]): unknown => {
    if (typeof v === 'string') {
      if (isPolicyRefPath(path) && v.trimStart().startsWith('<')) return v; // inline XML: the policy engine's job
      const result = replaceRefs(v, path);
      if (isSecretStringPath(path)) {
        secretPaths.add(formatPath(path));
        if (result !== '') secrets.add(result);
      }
      return result;
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...path, i]));
    if (isPlainObject(v)) {
      if (isSecretStringPath(path)) {
        secretPaths.add(formatPath(path));
        const name = envRef(v);
        if (name !== undefined) {
          const value = env[name];
          if (value === undefined) {
            problems.push({ path, anchor: 'value', message: `environment variable "${name}" is not set`, safe: true });
            return v;
          }
          if (value !== '') secrets.add(value);
          return value;
        }
        return v;
      }
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(v)) {
        // namedValues are not themselves substituted
        const value = path.length === 0 && key === 'namedValues' ? item : walk(item, [...path, key]);
        // defineProperty: a YAML key "__proto__" stays a plain key
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return v;
  };

  return { document: walk(doc, []), secretPaths, secrets, unresolved };
}
