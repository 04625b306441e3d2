/**
 * authentication-managed-identity (APIM): a token for `resource` from the gateway's own identity
 * (the connection named by `identity` in the config, a client-credentials connection whose access
 * policies list `identity: managed`), cached like any credential-manager token. Without
 * `output-token-variable-name` it becomes `Authorization: Bearer …` on the backend request; with it,
 * the token string goes into that variable. `client-id` (a user-assigned identity in Azure) is
 * accepted and has no further meaning here. Failure → 500 unless `ignore-error="true"`.
 *
 * <authentication-managed-identity resource="https://management.azure.com/" output-token-variable-name="msi" ignore-error="false" />
 */
import type { CompileContext, PolicyDefinition } from '../pipeline/types.js';
import type { PolicyElement } from '../policy/document.js';
import type { PipelineContext } from '../pipeline/context.js';
import { PolicyFailure } from '../pipeline/errors.js';
import { CredentialError } from '../credentials/manager.js';

const NAME = 'authentication-managed-identity';

export const authenticationManagedIdentity: PolicyDefinition = {
  name: NAME,
  // APIM documents it for inbound; real documents use it in outbound too (a token for a send-request)
  sections: ['inbound', 'outbound', 'on-error'],
  attributes: { resource: { required: true }, 'client-id': {}, 'output-token-variable-name': { expressions: false }, 'ignore-error': {} },
  compile(el, cc) {
    const resource = cc.string(el, 'resource');
    const outVar = el.attributes.get('output-token-variable-name')?.raw.trim() || undefined;
    const ignore = cc.bool(el, 'ignore-error', false);
    const identity = cc.services.identity;
    const manager = cc.services.credentials;
    if (cc.services.credentialNames && !identity) cc.problem(el, '<authentication-managed-identity> needs the gateway identity: set `identity: { provider, connection }` in the config');
    return {
      async run(ctx) {
        try {
          if (!manager || !identity) throw new CredentialError('ConnectionError', 'the gateway has no identity (`identity` in the config)');
          const r = await manager.authorize(identity.provider, identity.connection, { kind: 'managed' }, { resource: resource!(ctx) });
          if (outVar) ctx.variables.set(outVar, r.accessToken);
          else {
            ctx.request.headers.set('authorization', `Bearer ${r.accessToken}`);
            ctx.touchedRequestHeaders.add('authorization');
          }
        } catch (err) {
          if (!(err instanceof CredentialError)) throw err;
          if (ignore(ctx)) return;
          throw new PolicyFailure({ source: NAME, reason: err.code, message: err.message, status: 500 });
        }
      },
    };
  },
};

/**
 * The same element as a child of send-request / send-one-way-request: the token for that request's
 * Authorization header (undefined with ignore-error when it cannot be had).
 */
export function compileManagedIdentity(el: PolicyElement, cc: CompileContext): (ctx: PipelineContext) => Promise<string | undefined> {
  for (const [n, a] of el.attributes) if (!['resource', 'client-id', 'ignore-error', 'id'].includes(n)) cc.problem({ line: a.nameLine, col: a.nameCol }, `unknown attribute "${n}" on <authentication-managed-identity>`);
  if (!el.attributes.has('resource')) cc.problem(el, '<authentication-managed-identity> requires the attribute "resource"');
  const resource = cc.string(el, 'resource');
  const ignore = cc.bool(el, 'ignore-error', false);
  const identity = cc.services.identity;
  const manager = cc.services.credentials;
  if (cc.services.credentialNames && !identity) cc.problem(el, '<authentication-managed-identity> needs the gateway identity: set `identity: { provider, connection }` in the config');
  return async (ctx) => {
    try {
      if (!manager || !identity) throw new CredentialError('ConnectionError', 'the gateway has no identity (`identity` in the config)');
      return (await manager.authorize(identity.provider, identity.connection, { kind: 'managed' }, { resource: resource ? resource(ctx) : '' })).accessToken;
    } catch (err) {
      if (!(err instanceof CredentialError)) throw err;
      if (ignore(ctx)) return undefined;
      throw new PolicyFailure({ source: NAME, reason: err.code, message: err.message, status: 500 });
    }
  };
}
