/**
 * The validation shared by validate-jwt and validate-azure-ad-token: decryption (JWE), signature,
 * lifetime, audience and issuer, in IdentityModel's order, each failure with APIM's reason. All
 * cryptography is jose's; this file only chooses keys and algorithms and checks claims.
 *
 * Keys never cross families: an RSA key verifies only RS256..PS512 signatures, a symmetric key only
 * HS256..HS512, so "HS256 signed with the RSA public key as the secret" finds no key that accepts it.
 */
import { compactDecrypt, compactVerify, decodeProtectedHeader } from 'jose';
import type { KeyObject } from 'node:crypto';
import { algorithmsFor, keyManagementFor, type PolicyKey } from './keys.js';
import type { OpenIdConfigCache, OpenIdSnapshot } from './openid-config.js';
import { TokenError, denied } from './token-error.js';
import { sameIdentifier } from './resource-id.js';

export { sameIdentifier };

/** a longer token is refused before any parsing (Node's own header limit is 16 KiB) */
export const MAX_TOKEN_LENGTH = 32 * 1024;

export interface VerifyInput {
  readonly token: string;
  readonly keys: readonly PolicyKey[];
  readonly openid: { readonly cache: OpenIdConfigCache; readonly urls: readonly string[] } | undefined;
  readonly decryptionKeys: readonly PolicyKey[];
  /** explicit issuers (`<issuers>`); the openid configurations' issuers are added */
  readonly issuers: readonly string[];
  /** allowed audiences; undefined = no audience check */
  readonly audiences: readonly string[] | undefined;
  readonly requireExpirationTime: boolean;
  readonly requireSignedTokens: boolean;
  readonly clockSkewSeconds: number;
  readonly now: number;
}

export interface VerifiedToken {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
  /** the compact JWS (or unsecured JWT) the claims came from: the inner token of a JWE */
  readonly compact: string;
}

const CONTENT_ENCRYPTION = ['A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512', 'A128GCM', 'A192GCM', 'A256GCM'];
const dec = new TextDecoder('utf-8', { fatal: true });
const MALFORMED = 'The token is malformed: it is not a compact JWS or JWE';

export async function verifyToken(input: VerifyInput): Promise<VerifiedToken> {
  let token = input.token;
  if (token.length > MAX_TOKEN_LENGTH) throw new TokenError('JwtInvalid', `The token is too large (${token.length} characters; at most ${MAX_TOKEN_LENGTH})`);
  if (!/^[A-Za-z0-9_\-.]+$/.test(token)) throw new TokenError('JwtInvalid', MALFORMED);
  let parts = token.split('.');
  let unsignedPayload: Record<string, unknown> | undefined;
  if (parts.length === 5) {
    const plain = await decrypt(token, input.decryptionKeys);
    const inner = plain.trim();
    if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(inner)) {
      token = inner;
      parts = token.split('.');
    } else {
      unsignedPayload = parsePayload(inner);
      if (input.requireSignedTokens) throw denied('TokenSignatureInvalid', 'The decrypted token is not signed');
    }
  } else if (parts.length !== 3) {
    throw new TokenError('JwtInvalid', MALFORMED);
  }

  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  let compact = token;
  if (unsignedPayload) {
    header = { alg: 'none' };
    payload = unsignedPayload;
    compact = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}.`;
  } else {
    try {
      header = decodeProtectedHeader(token) as Record<string, unknown>;
    } catch {
      throw new TokenError('JwtInvalid', 'The token is malformed: its header is not valid Base64url JSON');
    }
    const alg = header.alg;
    if (typeof alg !== 'string' || alg === '') throw new TokenError('JwtInvalid', 'The token is malformed: its header has no "alg"');
    if (alg.toLowerCase() === 'none' || parts[2] === '') {
      if (input.requireSignedTokens) throw denied('TokenSignatureInvalid', 'The token is not signed');
      payload = parsePayload(fromB64(parts[1]!));
    } else {
      payload = parsePayload(await verifySignature(token, header, alg, input));
    }
  }
  checkClaimTypes(payload);
  checkLifetime(payload, input);
  if (input.audiences !== undefined) checkAudience(payload, input.audiences);
  await checkIssuer(payload, input);
  return { header, payload, compact };
}

async function decrypt(token: string, keys: readonly PolicyKey[]): Promise<string> {
  if (keys.length === 0) throw new TokenError('JwtInvalid', 'The token is encrypted (JWE) but the policy has no decryption-keys');
  let kid: unknown;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    throw new TokenError('JwtInvalid', 'The token is malformed: its JWE header is not valid Base64url JSON');
  }
  for (const k of keys) {
    if (typeof kid === 'string' && k.kid !== undefined && k.kid !== kid) continue;
    try {
      const { plaintext } = await compactDecrypt(token, k.key, { keyManagementAlgorithms: keyManagementFor(k.key), contentEncryptionAlgorithms: CONTENT_ENCRYPTION });
      return dec.decode(plaintext);
    } catch {
      // next key (rollover)
    }
  }
  throw new TokenError('JwtInvalid', 'The token could not be decrypted with any of the decryption keys');
}

/**
 * Signatures already checked: exact token text → the key that verified it and the payload. Only the
 * signature is remembered; lifetime, audience, issuer and claims are checked on every request, and
 * an entry counts only while its key is still one of the token's candidate keys (a key removed
 * from the JWKS or the policy invalidates it). Bounded; the oldest entry goes first.
 */
const VERIFIED_MAX = 4096;
const verified = new Map<string, { readonly key: KeyObject; readonly payload: string }>();

interface Candidate {
  readonly key: KeyObject;
  readonly kid: string | undefined;
  readonly alg: string | undefined;
}

async function snapshots(input: VerifyInput, refresh: boolean): Promise<(OpenIdSnapshot | undefined)[]> {
  if (!input.openid) return [];
  const { cache, urls } = input.openid;
  return Promise.all(urls.map((u) => (refresh ? cache.refresh(u) : cache.get(u))));
}

function candidatesOf(input: VerifyInput, snaps: readonly (OpenIdSnapshot | undefined)[]): Candidate[] {
  const out: Candidate[] = input.keys.map((k) => ({ key: k.key, kid: k.kid, alg: undefined }));
  for (const s of snaps) if (s) out.push(...s.keys);
  return out;
}

async function verifySignature(token: string, header: Record<string, unknown>, alg: string, input: VerifyInput): Promise<string> {
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  let snaps = await snapshots(input, false);
  let pool = candidatesOf(input, snaps);
  if (input.openid && (kid !== undefined ? !pool.some((c) => c.kid === kid) : pool.length === 0)) {
    // a kid the cached keys don't know (rotation) or no keys at all: pull again (bounded by the cache)
    snaps = await snapshots(input, true);
    pool = candidatesOf(input, snaps);
  }
  const matching = kid === undefined ? pool : pool.filter((c) => c.kid === undefined || c.kid === kid);
  if (matching.length === 0) {
    const failed = input.openid?.urls.filter((_, i) => !snaps[i]) ?? [];
    if (failed.length > 0 && pool.length === 0) throw denied('TokenSignatureKeyNotFound', 'The signing keys could not be retrieved from the OpenID configuration');
    throw denied('TokenSignatureKeyNotFound', kid === undefined ? 'No signing key is configured' : `No signing key matches the token's key id (kid "${clip(kid)}")`);
  }
  // a token verified before with a key that is still a candidate needs no second signature check
  const hit = verified.get(token);
  if (hit && matching.some((c) => c.key === hit.key)) return hit.payload;
  let fitting = 0;
  for (const c of matching) {
    if (!algorithmsFor(c.key, c.alg).includes(alg)) continue;
    fitting++;
    try {
      const { payload } = await compactVerify(token, c.key, { algorithms: [alg] });
      const text = dec.decode(payload);
      if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value as string);
      verified.set(token, { key: c.key, payload: text });
      return text;
    } catch {
      // next key (rollover)
    }
  }
  if (fitting === 0) throw denied('TokenSignatureInvalid', `The token's signature algorithm "${clip(alg)}" is not accepted for the signing keys`);
  throw denied('TokenSignatureInvalid', 'The signature is invalid');
}

function parsePayload(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new TokenError('JwtInvalid', 'The token is malformed: its payload is not JSON');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TokenError('JwtInvalid', 'The token is malformed: its payload is not a JSON object');
  return v as Record<string, unknown>;
}

function fromB64(s: string): string {
  try {
    return dec.decode(Buffer.from(s, 'base64url'));
  } catch {
    throw new TokenError('JwtInvalid', 'The token is malformed: its payload is not UTF-8');
  }
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');

function checkClaimTypes(p: Record<string, unknown>): void {
  for (const n of ['exp', 'nbf', 'iat']) {
    const v = p[n];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) throw new TokenError('JwtInvalid', `The token's "${n}" claim must be a number`);
  }
  for (const n of ['iss', 'sub']) {
    const v = p[n];
    if (v !== undefined && typeof v !== 'string') throw new TokenError('JwtInvalid', `The token's "${n}" claim must be a string`);
  }
  const aud = p.aud;
  if (aud !== undefined && typeof aud !== 'string' && !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))) {
    throw new TokenError('JwtInvalid', `The token's "aud" claim must be a string or an array of strings`);
  }
}

const iso = (sec: number): string => {
  const d = new Date(sec * 1000);
  return Number.isNaN(d.getTime()) ? String(sec) : d.toISOString();
};

function checkLifetime(p: Record<string, unknown>, input: VerifyInput): void {
  const now = input.now / 1000;
  const skew = input.clockSkewSeconds;
  const exp = p.exp as number | undefined;
  if (exp === undefined) {
    if (input.requireExpirationTime) throw new TokenError('JwtInvalid', 'The token has no expiration time ("exp")');
  } else if (exp + skew <= now) {
    throw denied('TokenExpired', `The token expired at ${iso(exp)}`);
  }
  const nbf = p.nbf as number | undefined;
  if (nbf !== undefined && nbf - skew > now) throw new TokenError('JwtInvalid', `The token is not valid before ${iso(nbf)}`);
}

function checkAudience(p: Record<string, unknown>, allowed: readonly string[]): void {
  const aud = p.aud === undefined ? [] : Array.isArray(p.aud) ? (p.aud as string[]) : [p.aud as string];
  if (aud.length === 0) throw denied('TokenAudienceNotAllowed', 'The token has no audience ("aud")');
  if (!aud.some((a) => allowed.some((x) => sameIdentifier(a, x)))) {
    throw denied('TokenAudienceNotAllowed', `Audience validation failed: the token's audience "${clip(aud.join(', '))}" is not allowed`);
  }
}

async function checkIssuer(p: Record<string, unknown>, input: VerifyInput): Promise<void> {
  const allowed = [...input.issuers];
  for (const s of await snapshots(input, false)) if (s) allowed.push(s.issuer);
  if (allowed.length === 0) return;
  const iss = p.iss as string | undefined;
  if (iss === undefined) throw denied('TokenIssuerNotAllowed', 'The token has no issuer ("iss")');
  const tid = typeof p.tid === 'string' ? p.tid : undefined;
  // multi-tenant Entra metadata publishes a template issuer: https://login.microsoftonline.com/{tenantid}/v2.0
  const ok = allowed.some((a) => sameIdentifier(iss, a) || (tid !== undefined && /\{tenantid\}/i.test(a) && sameIdentifier(iss, a.replace(/\{tenantid\}/gi, tid))));
  if (!ok) throw denied('TokenIssuerNotAllowed', `Issuer validation failed: the issuer "${clip(iss)}" is not allowed`);
}

/** a value from the token shown in a message: bounded, without quotes or control characters */
export function clip(s: string, max = 120): string {
  // eslint-disable-next-line no-control-regex
  const t = s.replace(/["\\\u0000-\u001f\u007f]/g, '?');
  return t.length > max ? `${t.slice(0, max)}…` : t;
}
