/**
 * What validate-jwt and validate-azure-ad-token share: where the token is read from, the key,
 * audience, issuer and required-claims elements, and how a refusal becomes APIM's error (LastError
 * reason, failed-validation-httpcode/-error-message) plus, on an MCP endpoint, the Bearer challenge.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { PolicyElement } from '../../policy/document.js';
import type { AuthServices, CompileContext, SourceRef, ValueGetter } from '../../pipeline/types.js';
import type { PipelineContext } from '../../pipeline/context.js';
import { PolicyFailure } from '../../pipeline/errors.js';
import { rsaKey, symmetricKey, type PolicyKey } from '../../auth/keys.js';
import { TokenError } from '../../auth/token-error.js';
import type { RequiredClaim } from '../../auth/claims.js';
import { bearerChallenge } from '../../auth/challenge.js';
import { OpenIdConfigCache } from '../../auth/openid-config.js';
import { ssrfFromEnv } from '../http/ssrf.js';

export const DEFAULT_ENTRA_AUTHORITY = 'https://login.microsoftonline.com';

let fallback: AuthServices | undefined;
/** the services a compile without a gateway (validate, policy test) uses */
export function authServices(cc: CompileContext): AuthServices {
  if (cc.services.auth) return cc.services.auth;
  fallback ??= { openid: new OpenIdConfigCache({ ssrf: ssrfFromEnv() }), certificates: new Map(), entraAuthority: DEFAULT_ENTRA_AUTHORITY };
  return fallback;
}

export type TokenSource =
  | { readonly kind: 'header'; readonly name: ValueGetter<string>; readonly scheme: ValueGetter<string> | undefined }
  | { readonly kind: 'query'; readonly name: ValueGetter<string> }
  | { readonly kind: 'value'; readonly value: ValueGetter<string> };

const NOT_PRESENT = 'JWT not present.';

/** read the token; TokenNotFound when absent, JwtInvalid when ambiguous (two headers) */
export function extractToken(ctx: PipelineContext, src: TokenSource): string {
  if (src.kind === 'value') {
    const v = src.value(ctx);
    if (v === null || v === undefined || v.trim() === '') throw new TokenError('TokenNotFound', NOT_PRESENT);
    return v.trim();
  }
  const name = src.name(ctx);
  const values = src.kind === 'header' ? ctx.request.headers.get(name) : ctx.request.url.query.get(name);
  const present = values?.filter((v) => v.trim() !== '') ?? [];
  if (present.length === 0) throw new TokenError('TokenNotFound', NOT_PRESENT);
  if (present.length > 1) throw new TokenError('JwtInvalid', `The request carries more than one ${src.kind === 'header' ? `"${name}" header` : `"${name}" query parameter`}`);
  const value = present[0]!.trim();
  // APIM: require-scheme applies to the Authorization header only; a custom header holds the bare token
  if (src.kind === 'query' || name.toLowerCase() !== 'authorization') return value;
  const m = /^(\S+)\s+(\S+)$/.exec(value);
  const scheme = src.scheme?.(ctx);
  if (scheme) {
    if (!m || m[1]!.toLowerCase() !== scheme.toLowerCase()) throw new TokenError('TokenNotFound', `${NOT_PRESENT} The Authorization header must use the "${scheme}" scheme.`);
    return m[2]!;
  }
  return m ? m[2]! : value;
}

/**
 * header-name / query-parameter-name / token-value: at most one. Without any, validate-jwt is a
 * load error and validate-azure-ad-token reads "Authorization: Bearer <token>" (`defaultHeader`).
 */
export function compileTokenSource(el: PolicyElement, cc: CompileContext, opts: { defaultHeader?: string; scheme?: ValueGetter<string> | undefined }): TokenSource | undefined {
  const given = ['header-name', 'query-parameter-name', 'token-value'].filter((n) => el.attributes.has(n));
  if (given.length > 1) {
    cc.problem(el, `<${el.name}> takes only one of "header-name", "query-parameter-name" and "token-value" (got ${given.join(', ')})`);
    return undefined;
  }
  const which = given[0];
  if (which === 'token-value') {
    const value = cc.string(el, 'token-value');
    return value ? { kind: 'value', value } : undefined;
  }
  if (which === 'query-parameter-name') {
    const name = cc.string(el, 'query-parameter-name');
    return name ? { kind: 'query', name } : undefined;
  }
  if (which === 'header-name') {
    const name = cc.string(el, 'header-name');
    return name ? { kind: 'header', name, scheme: opts.scheme } : undefined;
  }
  if (!opts.defaultHeader) {
    cc.problem(el, `<${el.name}> needs one of "header-name", "query-parameter-name" or "token-value"`);
    return undefined;
  }
  const d = opts.defaultHeader;
  return { kind: 'header', name: () => d, scheme: opts.scheme ?? (() => 'Bearer') };
}

/** the child elements in a list (`<audiences><audience>…`), each a text value (literal or expression) */
export function compileTextList(parent: PolicyElement, item: string, cc: CompileContext): ValueGetter<string>[] {
  const out: ValueGetter<string>[] = [];
  for (const a of parent.attributes.values()) cc.problem({ line: a.nameLine, col: a.nameCol }, `<${parent.name}> has no attributes`);
  for (const c of parent.children) {
    if (c.type !== 'element') continue;
    if (c.name !== item) {
      cc.problem(c, `<${parent.name}> may only contain <${item}> elements, not <${c.name}>`);
      continue;
    }
    for (const a of c.attributes.values()) cc.problem({ line: a.nameLine, col: a.nameCol }, `<${item}> has no attributes`);
    if (!c.text || c.text.raw.trim() === '') {
      cc.problem(c, `<${item}> must not be empty`);
      continue;
    }
    const g = c.text.expression ? cc.text(c) : ((t: string) => () => t)(c.text.raw.trim());
    if (g) out.push(g);
  }
  if (out.length === 0 && !parent.children.some((c) => c.type === 'element')) cc.problem(parent, `at least one <${item}> must be specified in <${parent.name}>`);
  return out;
}

interface CompiledClaim {
  readonly name: string;
  readonly match: 'all' | 'any';
  readonly separator: string | undefined;
  readonly values: readonly ValueGetter<string>[];
}

export function compileRequiredClaims(parent: PolicyElement, cc: CompileContext): CompiledClaim[] {
  const out: CompiledClaim[] = [];
  for (const c of parent.children) {
    if (c.type !== 'element') continue;
    if (c.name !== 'claim') {
      cc.problem(c, `<required-claims> may only contain <claim> elements, not <${c.name}>`);
      continue;
    }
    for (const [n, a] of c.attributes) if (n !== 'name' && n !== 'match' && n !== 'separator') cc.problem({ line: a.nameLine, col: a.nameCol }, `unknown attribute "${n}" on <claim>`);
    const nameAttr = c.attributes.get('name');
    if (!nameAttr || nameAttr.raw.trim() === '') {
      cc.problem(c, '<claim> requires the attribute "name"');
      continue;
    }
    if (nameAttr.expression) cc.problem(nameAttr, 'attribute "name" of <claim> does not accept policy expressions');
    const m = c.attributes.get('match');
    let match: 'all' | 'any' = 'all';
    if (m) {
      const v = m.raw.trim();
      if (v === 'all' || v === 'any') match = v;
      else cc.problem(m, `attribute "match" of <claim> must be "all" or "any", got "${v}"`);
    }
    const sep = c.attributes.get('separator');
    if (sep && sep.raw === '') cc.problem(sep, 'attribute "separator" of <claim> must not be empty');
    const values: ValueGetter<string>[] = [];
    for (const v of c.children) {
      if (v.type !== 'element') continue;
      if (v.name !== 'value') {
        cc.problem(v, `<claim> may only contain <value> elements, not <${v.name}>`);
        continue;
      }
      const text = v.text;
      if (!text) {
        values.push(() => '');
        continue;
      }
      const g = text.expression ? cc.text(v) : ((t: string) => () => t)(text.raw.trim());
      if (g) values.push(g);
    }
    out.push({ name: nameAttr.raw.trim(), match, separator: sep?.raw || undefined, values });
  }
  return out;
}

export function resolveClaims(ctx: PipelineContext, claims: readonly CompiledClaim[]): RequiredClaim[] {
  return claims.map((c) => ({ name: c.name, match: c.match, separator: c.separator, values: c.values.map((v) => v(ctx)) }));
}

/** `<issuer-signing-keys>` / `<decryption-keys>`: `<key [id] [certificate-id | n e]>Base64</key>` */
export function compileKeys(parent: PolicyElement, cc: CompileContext, purpose: 'signing' | 'decryption', auth: AuthServices): PolicyKey[] {
  const out: PolicyKey[] = [];
  for (const a of parent.attributes.values()) cc.problem({ line: a.nameLine, col: a.nameCol }, `<${parent.name}> has no attributes`);
  for (const k of parent.children) {
    if (k.type !== 'element') continue;
    if (k.name !== 'key') {
      cc.problem(k, `<${parent.name}> may only contain <key> elements, not <${k.name}>`);
      continue;
    }
    const at: SourceRef = { file: k.file, line: k.line, col: k.col };
    for (const [n, a] of k.attributes) {
      if (!['id', 'certificate-id', 'n', 'e'].includes(n)) cc.problem({ line: a.nameLine, col: a.nameCol }, `unknown attribute "${n}" on <key>`);
      else if (a.expression) cc.problem(a, `attribute "${n}" of <key> does not accept policy expressions`);
    }
    const id = k.attributes.get('id')?.raw.trim() || undefined;
    const certId = k.attributes.get('certificate-id')?.raw.trim();
    const n = k.attributes.get('n')?.raw.trim();
    const e = k.attributes.get('e')?.raw.trim();
    const text = k.text?.raw.trim() ?? '';
    if (k.text?.expression) {
      cc.problem(k.text, '<key> does not accept policy expressions (use a named value)');
      continue;
    }
    const forms = [text !== '', certId !== undefined, n !== undefined || e !== undefined].filter(Boolean).length;
    if (forms !== 1) {
      cc.problem(at, '<key> needs exactly one of: a Base64 key as its text, "certificate-id", or "n" and "e"');
      continue;
    }
    try {
      let key: KeyObject;
      if (text !== '') key = symmetricKey(text);
      else if (certId !== undefined) key = certificateKey(certId, purpose, auth);
      else {
        if (purpose === 'decryption') throw new Error('"n" and "e" give a public key, which cannot decrypt: use a Base64 key or "certificate-id"');
        if (n === undefined || e === undefined) throw new Error('an RSA key needs both "n" and "e"');
        key = rsaKey(n, e);
      }
      out.push({ kid: id, key });
    } catch (err) {
      cc.problem(at, `<key>: ${(err as Error).message}`);
    }
  }
  if (out.length === 0 && !parent.children.some((c) => c.type === 'element')) cc.problem(parent, `at least one <key> must be specified in <${parent.name}>`);
  return out;
}

function certificateKey(id: string, purpose: 'signing' | 'decryption', auth: AuthServices): KeyObject {
  const c = auth.certificates.get(id);
  if (!c) {
    const known = [...auth.certificates.keys()];
    throw new Error(`certificate "${id}" is not declared in the config's "certificates"${known.length ? ` (declared: ${known.join(', ')})` : ''}`);
  }
  if (purpose === 'signing') return createPublicKey(new X509Certificate(c.cert).publicKey.export({ type: 'spki', format: 'pem' }));
  if (!c.key) throw new Error(`certificate "${id}" has no private key ("key"), which decryption needs`);
  return createPrivateKey({ key: c.key, ...(c.passphrase !== undefined ? { passphrase: c.passphrase } : {}) });
}

export interface FailureOptions {
  readonly source: string;
  readonly status: ValueGetter<number> | undefined;
  readonly message: ValueGetter<string> | undefined;
}

/** a refused token as APIM's error: LastError {Source, Reason, Message}; status and body message from the policy */
export function tokenFailure(ctx: PipelineContext, err: TokenError, opts: FailureOptions): PolicyFailure {
  const status = opts.status ? opts.status(ctx) : 401;
  const custom = opts.message ? opts.message(ctx) : undefined;
  const headers: Record<string, string> = {};
  if (status === 401) {
    // the detail goes into error_description unless the policy chose its own message (to hide details)
    const description = custom ? undefined : err.message.replace(/\s*Access denied\.$/, '');
    headers['www-authenticate'] = bearerChallenge(ctx.resource, err.reason === 'TokenNotFound' ? {} : { error: 'invalid_token', ...(description ? { description } : {}) });
  }
  return new PolicyFailure({ source: opts.source, reason: err.reason, message: err.message, status, headers, ...(custom ? { clientMessage: custom } : {}) });
}
