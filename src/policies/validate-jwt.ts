/**
 * validate-jwt (APIM, apim.md §6): enforce the presence and validity of a JWT — signature (keys from
 * `openid-config` discovery or `issuer-signing-keys`), decryption (`decryption-keys`, JWE),
 * lifetime (`require-expiration-time`, `clock-skew`), `audiences`, `issuers`, `required-claims`.
 *
 * <validate-jwt header-name | query-parameter-name | token-value
 *     failed-validation-httpcode="401" failed-validation-error-message="..."
 *     require-expiration-time="true" require-scheme="Bearer" require-signed-tokens="true"
 *     clock-skew="0" output-token-variable-name="jwt">
 *   <openid-config url="..."/>  <issuer-signing-keys>  <decryption-keys>  <audiences>  <issuers>  <required-claims>
 * </validate-jwt>
 *
 * MCP resource-server rules on top of APIM's: without `<audiences>` the token must be issued for
 * this server (aud = its resource identifier `{publicUrl}/NAME/mcp`), so a token for another API is
 * never accepted; a 401 carries `WWW-Authenticate: Bearer error="invalid_token", resource_metadata=…`.
 * The accepted token becomes the request's principal (sessions, tool scopes); it is never forwarded.
 */
import type { CompileContext, PolicyDefinition } from '../pipeline/types.js';
import type { PolicyElement } from '../policy/document.js';
import type { PipelineContext } from '../pipeline/context.js';
import { TokenError } from '../auth/token-error.js';
import { verifyToken } from '../auth/verify-token.js';
import { checkRequiredClaims } from '../auth/claims.js';
import { principalOf } from '../auth/principal.js';
import type { PolicyKey } from '../auth/keys.js';
import { parseJwt } from '../expressions/index.js';
import { authServices, compileKeys, compileRequiredClaims, compileTextList, compileTokenSource, extractToken, resolveClaims, tokenFailure } from './auth/token-policy.js';

const NAME = 'validate-jwt';
const ORDER = ['openid-config', 'issuer-signing-keys', 'decryption-keys', 'audiences', 'issuers', 'required-claims'];

/** the child elements, each at most once (openid-config may repeat) */
export function childrenOf(el: PolicyElement, cc: CompileContext, allowed: readonly string[]): Map<string, PolicyElement[]> {
  const out = new Map<string, PolicyElement[]>();
  for (const c of el.children) {
    if (c.type !== 'element') continue;
    if (!allowed.includes(c.name)) continue; // the compiler reports unknown children
    const list = out.get(c.name) ?? [];
    if (list.length > 0 && c.name !== 'openid-config') cc.problem(c, `<${c.name}> may appear only once in <${el.name}>`);
    list.push(c);
    out.set(c.name, list);
  }
  return out;
}

export function compileOpenIdConfigs(list: readonly PolicyElement[], cc: CompileContext): string[] {
  const urls: string[] = [];
  for (const c of list) {
    for (const [n, a] of c.attributes) if (n !== 'url') cc.problem({ line: a.nameLine, col: a.nameCol }, `unknown attribute "${n}" on <openid-config>`);
    const u = c.attributes.get('url');
    if (!u || u.raw.trim() === '') {
      cc.problem(c, '<openid-config> requires the attribute "url"');
      continue;
    }
    if (u.expression) {
      cc.problem(u, 'attribute "url" of <openid-config> does not accept policy expressions (use a named value)');
      continue;
    }
    const url = u.raw.trim();
    if (!/^https?:\/\/[^/\s]+/i.test(url)) {
      cc.problem(u, `<openid-config> url must be an absolute http(s) URL, got "${url}"`);
      continue;
    }
    urls.push(url);
  }
  return urls;
}

export const validateJwt: PolicyDefinition = {
  name: NAME,
  sections: ['inbound'],
  attributes: {
    'header-name': {},
    'query-parameter-name': {},
    'token-value': {},
    'failed-validation-httpcode': {},
    'failed-validation-error-message': {},
    'require-expiration-time': {},
    'require-scheme': {},
    'require-signed-tokens': {},
    'clock-skew': {},
    'output-token-variable-name': { expressions: false },
  },
  children: ORDER,
  compile(el, cc) {
    const auth = authServices(cc);
    const scheme = cc.string(el, 'require-scheme');
    const source = compileTokenSource(el, cc, { scheme });
    const status = cc.int(el, 'failed-validation-httpcode', { min: 100, max: 599 });
    const message = cc.string(el, 'failed-validation-error-message');
    const requireExp = cc.bool(el, 'require-expiration-time', true);
    const requireSigned = cc.bool(el, 'require-signed-tokens', true);
    const skew = cc.int(el, 'clock-skew', { min: 0, max: 24 * 3600 });
    const outVar = el.attributes.get('output-token-variable-name')?.raw.trim() || undefined;

    const kids = childrenOf(el, cc, ORDER);
    const urls = compileOpenIdConfigs(kids.get('openid-config') ?? [], cc);
    const keys: PolicyKey[] = kids.get('issuer-signing-keys')?.flatMap((k) => compileKeys(k, cc, 'signing', auth)) ?? [];
    const decryption: PolicyKey[] = kids.get('decryption-keys')?.flatMap((k) => compileKeys(k, cc, 'decryption', auth)) ?? [];
    const audiencesEl = kids.get('audiences')?.[0];
    const audiences = audiencesEl ? compileTextList(audiencesEl, 'audience', cc) : undefined;
    const issuersEl = kids.get('issuers')?.[0];
    const issuers = issuersEl ? compileTextList(issuersEl, 'issuer', cc) : [];
    const claimsEl = kids.get('required-claims')?.[0];
    const claims = claimsEl ? compileRequiredClaims(claimsEl, cc) : [];
    if (urls.length === 0 && !kids.has('issuer-signing-keys') && !kids.has('decryption-keys')) {
      // APIM accepts this shape, but no signed token can ever pass it: only unsigned tokens with require-signed-tokens="false"
      const rs = el.attributes.get('require-signed-tokens');
      if (!rs || rs.raw.trim() !== 'false') cc.problem(el, '<validate-jwt> has no signing keys: add <openid-config url="..."/> or <issuer-signing-keys>');
    }
    // fetched at load so the first request does not wait — except the gateway's own (not listening yet)
    for (const u of urls) if (!auth.publicUrl || !u.startsWith(`${auth.publicUrl}/`)) auth.openid.prefetch(u);
    const openid = urls.length > 0 ? { cache: auth.openid, urls } : undefined;
    const failure = { source: NAME, status, message };

    return {
      async run(ctx: PipelineContext) {
        try {
          if (!source) throw new TokenError('TokenNotFound', 'JWT not present.');
          const token = extractToken(ctx, source);
          const verified = await verifyToken({
            token,
            keys,
            openid,
            decryptionKeys: decryption,
            issuers: issuers.map((g) => g(ctx)),
            audiences: audiences ? audiences.map((g) => g(ctx)) : ctx.resource ? [ctx.resource.id] : undefined,
            requireExpirationTime: requireExp(ctx),
            requireSignedTokens: requireSigned(ctx),
            clockSkewSeconds: skew ? skew(ctx) : 0,
            now: Date.now(),
          });
          checkRequiredClaims(verified.payload, resolveClaims(ctx, claims));
          ctx.principal = principalOf(verified.payload);
          if (outVar) ctx.variables.set(outVar, parseJwt(verified.compact));
        } catch (err) {
          if (err instanceof TokenError) throw tokenFailure(ctx, err, failure);
          throw err;
        }
      },
    };
  },
};

