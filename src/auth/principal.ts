/**
 * The caller as a validated token describes it: what sessions are bound to, what tool scopes and
 * tool-access rules are checked against. Set on the pipeline context by validate-jwt and
 * validate-azure-ad-token; nothing else creates one.
 */
import { claimValues } from './claims.js';

export interface Principal {
  /** stable caller identity: issuer + subject (`sub`, else `oid`, else the client id) */
  readonly subject: string;
  /** granted scopes: `scope` or `scp` (space-separated or an array) */
  readonly scopes: readonly string[];
  readonly claims: Readonly<Record<string, unknown>>;
}

export function principalOf(payload: Record<string, unknown>): Principal {
  const str = (n: string) => (typeof payload[n] === 'string' ? (payload[n] as string) : undefined);
  const who = str('sub') ?? str('oid') ?? str('azp') ?? str('appid') ?? str('client_id') ?? '';
  const scopes = new Set<string>();
  for (const n of ['scope', 'scp']) for (const s of claimValues(payload[n], ' ') ?? []) scopes.add(s);
  return { subject: `${str('iss') ?? ''} ${who}`, scopes: [...scopes], claims: payload };
}

/** does the principal's claim hold one of the values (multi-valued: arrays, or space-separated for scope/scp) */
export function claimHasAny(p: Principal, claim: string, values: readonly string[]): boolean {
  const have = claimValues(p.claims[claim], claim === 'scope' || claim === 'scp' ? ' ' : undefined);
  return have !== undefined && values.some((v) => have.includes(v));
}
