/**
 * send-request (APIM): send a request built by the children (set-url, set-method, set-header,
 * set-body, authentication-certificate, proxy) and store the response — an IResponse (ResponseInfo)
 * — in `response-variable-name`, so expressions read `((IResponse)context.Variables["x"]).Body.As<JObject>()`
 * and `<return-response response-variable-name="x">` answers with it.
 *
 * <send-request mode="new|copy" response-variable-name="x" timeout="60" ignore-error="false">
 *
 * - timeout in seconds (default 60) for connect + headers + body; responses above 8 MiB fail;
 * - SSRF rules (./http/ssrf.ts): http/https only, no credentials in the URL, no redirects followed,
 *   link-local/metadata addresses never, loopback/private only unless GATEHOUSE_SSRF_BLOCK_PRIVATE=1;
 * - any HTTP status is a response (a 500 from the target is not an error of the policy);
 * - a failure (timeout, refused, blocked, too large, bad certificate) with ignore-error="false" goes
 *   to on-error: LastError.Source "send-request", Reason "Timeout" (504) / "DestinationBlocked" /
 *   "SendRequestFailure" (500); with ignore-error="true" the variable is set to null instead.
 * Messages name the target host only — never the path, query, headers or body.
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { compileOutbound, outboundFailure } from './http/outbound-request.js';
import { OutboundError, sendOutbound, type OutboundRequest } from './http/client.js';
import { CertificateError } from './http/certificate.js';
import { cancellationOf, markOrigin } from './http/cancel.js';
import type { ResponseInfo } from '../expressions/context.js';

const VAR_NAME = /^[^\s]{1,256}$/;

export const sendRequest: PolicyDefinition = {
  name: 'send-request',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: {
    mode: {},
    'response-variable-name': { required: true },
    timeout: {},
    'ignore-error': { expressions: false },
  },
  children: ['set-url', 'set-method', 'set-header', 'set-body', 'authentication-certificate', 'authentication-managed-identity', 'proxy'],
  compile(el, cc) {
    const out = compileOutbound(el, cc);
    const varAttr = el.attributes.get('response-variable-name');
    if (varAttr && !varAttr.expression && !VAR_NAME.test(varAttr.raw)) cc.problem({ line: varAttr.line, col: varAttr.col }, `response-variable-name "${varAttr.raw}" is not a valid variable name`);
    const varName = cc.string(el, 'response-variable-name');
    const ignoreError = cc.bool(el, 'ignore-error', false);
    const self = { name: 'send-request', id: el.attributes.get('id')?.raw, scope: cc.scope, path: cc.path };
    const logger = cc.services.logger;
    return {
      async run(ctx) {
        const cancel = cancellationOf(ctx);
        const name = varName ? varName(ctx) : '';
        if (!VAR_NAME.test(name)) throw new Error(`send-request: response-variable-name "${name}" is not a valid variable name`);
        const ignore = ignoreError(ctx);
        let res: ResponseInfo | null;
        try {
          let req: OutboundRequest;
          try {
            req = out.build(ctx);
          } catch (err) {
            if (err instanceof CertificateError) throw err;
            markOrigin(err, self);
            throw err; // expression or configuration errors are the policy's own
          }
          if (out.managedIdentity) {
            const token = await out.managedIdentity(ctx);
            if (token) req = { ...req, headers: { ...req.headers, authorization: `Bearer ${token}` } };
          }
          res = await sendOutbound(cancel ? { ...req, signal: cancel } : req);
        } catch (err) {
          if (cancel?.aborted) return; // a losing branch of <wait for="any">: leave nothing behind
          if (!(err instanceof OutboundError) && !(err instanceof CertificateError)) throw err;
          if (!ignore) {
            const f = outboundFailure('send-request', err);
            markOrigin(f, self);
            ctx.current = self;
            throw f;
          }
          if (logger?.isLevelEnabled('debug')) logger.debug({ requestId: String(ctx.expr.requestId), policy: 'send-request', path: cc.path, reason: err instanceof OutboundError ? err.kind : 'certificate', message: err.message }, 'send-request failed (ignore-error)');
          res = null;
        }
        if (cancel?.aborted) return;
        ctx.variables.set(name, res);
      },
    };
  },
};
