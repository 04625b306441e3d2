/**
 * get-authorization-context (APIM, apim.md §8.4): the access token of a credential-manager
 * connection, as an `Authorization` {AccessToken, Claims} in `context.Variables[context-variable-name]`,
 * for set-header to put on the backend request — the docs' example runs unchanged:
 *
 * <get-authorization-context provider-id="github-01" authorization-id="auth-01"
 *     context-variable-name="auth-context" identity-type="managed" ignore-error="false" />
 * <set-header name="Authorization" exists-action="override">
 *   <value>@("Bearer " + ((Authorization)context.Variables.GetValueOrDefault("auth-context"))?.AccessToken)</value>
 * </set-header>
 *
 * `identity-type="managed"`: the gateway's own access (connections whose access policies list
 * `identity: managed`). `identity-type="jwt"`: the caller validated earlier in the pipeline by
 * validate-jwt / validate-azure-ad-token, matched against the connection's claim policies; a
 * per-user connection gives that caller's own token. (APIM's `identity` attribute carries the
 * caller's token; Gatehouse takes the caller from the validation that already ran, and refuses an
 * `identity` that names another subject.) Failure → 500 (LastError Source get-authorization-context)
 * unless `ignore-error="true"`, which sets the variable to null.
 */
import { decodeJwt } from 'jose';
import type { PolicyDefinition } from '../pipeline/types.js';
import { PolicyFailure } from '../pipeline/errors.js';
import { AuthorizationInfo } from '../expressions/context.js';
import { CredentialError, type Requester } from '../credentials/manager.js';
import { choiceOrExpression } from './http/attrs.js';

const NAME = 'get-authorization-context';

export const getAuthorizationContext: PolicyDefinition = {
  name: NAME,
  sections: ['inbound'],
  attributes: {
    'provider-id': { required: true },
    'authorization-id': { required: true },
    'context-variable-name': { required: true, expressions: false },
    'identity-type': {},
    identity: {},
    'ignore-error': {},
  },
  compile(el, cc) {
    const provider = cc.string(el, 'provider-id');
    const connection = cc.string(el, 'authorization-id');
    const variable = el.attributes.get('context-variable-name')?.raw.trim() ?? '';
    const identityType = choiceOrExpression(el, cc, 'identity-type', ['managed', 'jwt'] as const, 'managed');
    const identity = cc.string(el, 'identity');
    const ignore = cc.bool(el, 'ignore-error', false);
    // literal ids are checked at load against the config's credentials
    const names = cc.services.credentialNames;
    const pAttr = el.attributes.get('provider-id');
    const cAttr = el.attributes.get('authorization-id');
    if (names && pAttr && !pAttr.expression) {
      const conns = names.get(pAttr.raw.trim());
      if (!conns) cc.problem(pAttr, `credential provider "${pAttr.raw.trim()}" is not configured (credentials.providers${names.size ? `: ${[...names.keys()].join(', ')}` : ' is empty'})`);
      else if (cAttr && !cAttr.expression && !conns.has(cAttr.raw.trim())) cc.problem(cAttr, `provider "${pAttr.raw.trim()}" has no connection "${cAttr.raw.trim()}" (connections: ${[...conns].join(', ') || 'none'})`);
    }
    const manager = cc.services.credentials;
    return {
      async run(ctx) {
        try {
          if (!manager) throw new CredentialError('ConnectionError', 'the credential manager is not available here');
          let who: Requester = { kind: 'managed' };
          if (identityType(ctx) === 'jwt') {
            const principal = ctx.principal;
            if (!principal) throw new CredentialError('AccessDenied', 'identity-type="jwt" needs a caller validated by validate-jwt or validate-azure-ad-token earlier in the pipeline');
            const given = identity ? identity(ctx) : '';
            if (given) {
              let sub: unknown;
              try {
                const claims = decodeJwt(given.replace(/^Bearer\s+/i, ''));
                sub = claims.sub ?? claims.oid;
              } catch {
                throw new CredentialError('AccessDenied', 'identity is not a JWT');
              }
              if (typeof sub !== 'string' || !principal.subject.endsWith(` ${sub}`)) throw new CredentialError('AccessDenied', 'identity names another caller than the validated one');
            }
            who = { kind: 'jwt', principal };
          }
          const r = await manager.authorize(provider!(ctx), connection!(ctx), who);
          ctx.variables.set(variable, new AuthorizationInfo(r.accessToken, r.claims));
        } catch (err) {
          if (!(err instanceof CredentialError)) throw err;
          if (ignore(ctx)) {
            ctx.variables.set(variable, null);
            return;
          }
          const message = err.loginUrl ? `${err.message}. Connect it at ${err.loginUrl}` : err.message;
          throw new PolicyFailure({ source: NAME, reason: err.code, message, status: 500 });
        }
      },
    };
  },
};
