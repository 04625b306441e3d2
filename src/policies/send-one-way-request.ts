/**
 * send-one-way-request (APIM): send a request built like send-request's (mode new|copy, timeout,
 * the same children) without waiting for it. The request is built when the policy runs (so its
 * expressions see the context as it is then) and sent in the background: it never delays the
 * response, and its outcome — any status, a timeout, a refused connection, an SSRF block — is only
 * logged (warn; host and reason, never the URL path, query, headers or body). Expression errors while
 * building it are the policy's own errors, as for any policy.
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { compileOutbound } from './http/outbound-request.js';
import { OutboundError, sendOutbound, type OutboundRequest } from './http/client.js';
import { CertificateError } from './http/certificate.js';

export const sendOneWayRequest: PolicyDefinition = {
  name: 'send-one-way-request',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: { mode: {}, timeout: {} },
  children: ['set-url', 'set-method', 'set-header', 'set-body', 'authentication-certificate', 'authentication-managed-identity', 'proxy'],
  compile(el, cc) {
    const out = compileOutbound(el, cc);
    const logger = cc.services.logger;
    return {
      run(ctx) {
        const requestId = String(ctx.expr.requestId);
        const log = (reason: string, message: string) => logger?.warn({ requestId, policy: 'send-one-way-request', path: cc.path, reason }, `send-one-way-request failed: ${message}`);
        let req: OutboundRequest;
        try {
          req = out.build(ctx);
        } catch (err) {
          if (err instanceof CertificateError) {
            log('certificate', err.message);
            return;
          }
          throw err;
        }
        const token = out.managedIdentity ? out.managedIdentity(ctx).catch(() => undefined) : Promise.resolve(undefined);
        void token.then((t) => sendOutbound(t ? { ...req, headers: { ...req.headers, authorization: `Bearer ${t}` } } : req)).then(
          (res) => {
            if (logger?.isLevelEnabled('debug')) logger.debug({ requestId, policy: 'send-one-way-request', path: cc.path, status: res.statusCode }, 'send-one-way-request sent');
          },
          (err: unknown) => {
            if (err instanceof OutboundError) log(err.kind, err.message);
            else log('error', 'unexpected error');
          },
        );
      },
    };
  },
};
