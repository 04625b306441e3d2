/**
 * validate-azure-ad-token (APIM, apim.md §7): validate a Microsoft Entra ID token of a tenant —
 * keys and issuers from the tenant's v2.0 and v1 OpenID configurations (so v2 tokens with issuer
 * `{authority}/{tid}/v2.0` and v1 tokens with issuer `https://sts.windows.net/{tid}/` both pass),
 * the calling app (`client-application-ids` against `azp`, or `appid` in v1 tokens), the audience
 * (`audiences`, `backend-application-ids` as `GUID` or `api://GUID`), `required-claims`,
 * `decryption-keys`. The token is read from "Authorization: Bearer <token>" unless `header-name`,
 * `query-parameter-name` or `token-value` says otherwise (a custom header holds the bare token).
 *
 * The authority is `authentication-endpoint` (sovereign clouds), else the config's
 * `gateway.entraAuthority`, else https://login.microsoftonline.com. As with validate-jwt, a token
 * with no audience configured must be issued for this MCP server's resource identifier.
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import type { PipelineContext } from '../pipeline/context.js';
import { TokenError, denied } from '../auth/token-error.js';
import { verifyToken, clip } from '../auth/verify-token.js';
import { checkRequiredClaims } from '../auth/claims.js';
import { principalOf } from '../auth/principal.js';
import type { PolicyKey } from '../auth/keys.js';
import { parseJwt } from '../expressions/index.js';
import { childrenOf } from './validate-jwt.js';
import { authServices, compileKeys, compileRequiredClaims, compileTextList, compileTokenSource, extractToken, resolveClaims, tokenFailure } from './auth/token-policy.js';

const NAME = 'validate-azure-ad-token';
const CHILDREN = ['client-application-ids', 'backend-application-ids', 'audiences', 'required-claims', 'decryption-keys'];
/** a tenant: GUID, domain name, or the multi-tenant aliases */
const TENANT = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;

export const validateAzureAdToken: PolicyDefinition = {
  name: NAME,
  sections: ['inbound'],
  attributes: {
    'tenant-id': { required: true },
    'header-name': {},
    'query-parameter-name': {},
    'token-value': {},
    'failed-validation-httpcode': {},
    'failed-validation-error-message': {},
    'output-token-variable-name': { expressions: false },
    'authentication-endpoint': {},
  },
  children: CHILDREN,
  compile(el, cc) {
    const auth = authServices(cc);
    const tenantAttr = el.attributes.get('tenant-id');
    const tenant = cc.string(el, 'tenant-id');
    // APIM accepts any tenant-id text at load (a placeholder fails only when a request comes): so do we
    const endpoint = cc.string(el, 'authentication-endpoint');
    const source = compileTokenSource(el, cc, { defaultHeader: 'Authorization', scheme: () => 'Bearer' });
    const status = cc.int(el, 'failed-validation-httpcode', { min: 100, max: 599 });
    const message = cc.string(el, 'failed-validation-error-message');
    const outVar = el.attributes.get('output-token-variable-name')?.raw.trim() || undefined;

    const kids = childrenOf(el, cc, CHILDREN);
    const list = (name: string, item: string) => {
      const e = kids.get(name)?.[0];
      return e ? compileTextList(e, item, cc) : undefined;
    };
    const clientIds = list('client-application-ids', 'application-id');
    const backendIds = list('backend-application-ids', 'application-id');
    const audiences = list('audiences', 'audience');
    const claimsEl = kids.get('required-claims')?.[0];
    const claims = claimsEl ? compileRequiredClaims(claimsEl, cc) : [];
    const decryption: PolicyKey[] = kids.get('decryption-keys')?.flatMap((k) => compileKeys(k, cc, 'decryption', auth)) ?? [];

    const authorityOf = (ctx: PipelineContext): string => (endpoint ? endpoint(ctx) : auth.entraAuthority).replace(/\/+$/, '');
    const urlsOf = (ctx: PipelineContext): string[] => {
      const t = tenant ? tenant(ctx).trim() : '';
      if (!TENANT.test(t)) throw new TokenError('JwtInvalid', 'The tenant-id is not a tenant ID or domain name');
      const a = authorityOf(ctx);
      return [`${a}/${t}/v2.0/.well-known/openid-configuration`, `${a}/${t}/.well-known/openid-configuration`];
    };
    const endAttr = el.attributes.get('authentication-endpoint');
    if (tenantAttr && !tenantAttr.expression && !endAttr?.expression && TENANT.test(tenantAttr.raw.trim())) {
      // fetch the tenant's keys at load, so the first request does not wait for them
      const a = (endAttr?.raw.trim() || auth.entraAuthority).replace(/\/+$/, '');
      const t = tenantAttr.raw.trim();
      auth.openid.prefetch(`${a}/${t}/v2.0/.well-known/openid-configuration`);
      auth.openid.prefetch(`${a}/${t}/.well-known/openid-configuration`);
    }
    const failure = { source: NAME, status, message };

    return {
      async run(ctx: PipelineContext) {
        try {
          if (!source) throw new TokenError('TokenNotFound', 'JWT not present.');
          const token = extractToken(ctx, source);
          const aud: string[] = [];
          for (const g of audiences ?? []) aud.push(g(ctx));
          for (const g of backendIds ?? []) {
            const id = g(ctx);
            aud.push(id, `api://${id}`);
          }
          const verified = await verifyToken({
            token,
            keys: [],
            openid: { cache: auth.openid, urls: urlsOf(ctx) },
            decryptionKeys: decryption,
            issuers: [],
            audiences: aud.length > 0 ? aud : ctx.resource ? [ctx.resource.id] : undefined,
            requireExpirationTime: true,
            requireSignedTokens: true,
            clockSkewSeconds: 0,
            now: Date.now(),
          });
          const p = verified.payload;
          if (clientIds) {
            const app = typeof p.azp === 'string' ? p.azp : typeof p.appid === 'string' ? p.appid : undefined;
            const allowed = clientIds.map((g) => g(ctx).toLowerCase());
            if (app === undefined) throw new TokenError('TokenClaimNotFound', 'JWT token is missing the following claims: azp (or appid). Access denied.');
            if (!allowed.includes(app.toLowerCase())) throw denied('TokenClaimValueNotAllowed', `The client application "${clip(app)}" is not allowed`);
          }
          checkRequiredClaims(p, resolveClaims(ctx, claims));
          ctx.principal = principalOf(p);
          if (outVar) ctx.variables.set(outVar, parseJwt(verified.compact));
        } catch (err) {
          if (err instanceof TokenError) throw tokenFailure(ctx, err, failure);
          throw err;
        }
      },
    };
  },
};
