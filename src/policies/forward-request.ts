/**
 * forward-request (APIM): send the request to the backend and take its response. `timeout` is in
 * seconds (APIM default 300; Gatehouse's default is the server's backend.timeout), `timeout-ms` in
 * milliseconds. `buffer-response="false"` keeps a streamed (SSE) answer streaming even when later
 * policies exist. Other APIM attributes are accepted where they make sense for an HTTP/1.1 proxy.
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { PolicyFailure } from '../pipeline/errors.js';

export const forwardRequest: PolicyDefinition = {
  name: 'forward-request',
  sections: ['backend'],
  attributes: {
    timeout: {},
    'timeout-ms': {},
    'follow-redirects': { expressions: false },
    'buffer-request-body': { expressions: false },
    'buffer-response': { expressions: false },
    'fail-on-error-status-code': { expressions: false },
    'http-version': { expressions: false },
  },
  compile(el, cc) {
    const seconds = cc.int(el, 'timeout', { min: 0, max: 240_000 });
    const ms = cc.int(el, 'timeout-ms', { min: 0, max: 240_000_000 });
    if (seconds && ms) cc.problem(el, 'use either timeout or timeout-ms, not both');
    const follow = cc.choice(el, 'follow-redirects', ['false', 'true'] as const, 'false');
    if (follow === 'true') cc.problem(el.attributes.get('follow-redirects')!, 'follow-redirects="true" is not supported: a gateway must not follow backend redirects (SSRF)');
    cc.choice(el, 'http-version', ['1', '2or1', '2'] as const, '1');
    const failOnError = cc.choice(el, 'fail-on-error-status-code', ['false', 'true'] as const, 'false') === 'true';
    const buffer = cc.choice(el, 'buffer-response', ['true', 'false'] as const, 'true') === 'true';
    return {
      async run(ctx) {
        const timeoutMs = ms ? ms(ctx) : seconds ? seconds(ctx) * 1000 : undefined;
        await ctx.forward(ctx, timeoutMs === undefined ? { bufferResponse: buffer } : { timeoutMs, bufferResponse: buffer });
        if (failOnError && ctx.response && ctx.response.statusCode >= 400) {
          throw new PolicyFailure({ source: 'forward-request', reason: 'BackendErrorStatusCode', message: `backend answered ${ctx.response.statusCode}`, status: ctx.response.statusCode });
        }
      },
    };
  },
};
