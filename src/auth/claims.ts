/**
 * `<required-claims>` (validate-jwt, validate-azure-ad-token): every listed claim must be present;
 * `match="all"` (default) needs every listed value in the claim, `match="any"` at least one;
 * `separator` splits a multi-valued string claim ("a b c" with separator " "). A claim listed
 * without values only has to be present. Array claims are multi-valued as they are.
 */
import { TokenError } from './token-error.js';
import { clip } from './verify-token.js';

export interface RequiredClaim {
  readonly name: string;
  readonly match: 'all' | 'any';
  readonly separator: string | undefined;
  readonly values: readonly string[];
}

/** the values of a claim as strings, or undefined when the claim holds something else (object, null) */
export function claimValues(v: unknown, separator: string | undefined): string[] | undefined {
  const one = (x: unknown): string | undefined => (typeof x === 'string' ? x : typeof x === 'number' || typeof x === 'boolean' ? String(x) : undefined);
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const x of v) {
      const s = one(x);
      if (s === undefined) return undefined;
      out.push(s);
    }
    return out;
  }
  const s = one(v);
  if (s === undefined) return undefined;
  return separator && typeof v === 'string' ? s.split(separator).map((x) => x.trim()).filter((x) => x !== '') : [s];
}

export function checkRequiredClaims(payload: Record<string, unknown>, claims: readonly RequiredClaim[]): void {
  const missing = claims.filter((c) => !Object.prototype.hasOwnProperty.call(payload, c.name)).map((c) => c.name);
  if (missing.length > 0) throw new TokenError('TokenClaimNotFound', `JWT token is missing the following claims: ${missing.map((m) => clip(m)).join(', ')}. Access denied.`);
  for (const c of claims) {
    if (c.values.length === 0) continue;
    const raw = payload[c.name];
    const have = claimValues(raw, c.separator);
    const ok = have !== undefined && (c.match === 'any' ? c.values.some((v) => have.includes(v)) : c.values.every((v) => have.includes(v)));
    if (!ok) {
      const shown = have === undefined ? `(a ${raw === null ? 'null' : Array.isArray(raw) ? 'array' : typeof raw})` : have.join(c.separator ?? ', ');
      throw new TokenError('TokenClaimValueNotAllowed', `Claim ${clip(c.name)} value of ${clip(shown)} is not allowed. Access denied.`);
    }
  }
}
