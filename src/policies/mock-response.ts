/** mock-response (APIM): answer without calling the backend: <mock-response status-code="200" content-type="application/json" />. */
import type { PolicyDefinition } from '../pipeline/types.js';
import { RETURN } from '../pipeline/errors.js';
import { newResponse } from '../pipeline/context.js';

export const mockResponse: PolicyDefinition = {
  name: 'mock-response',
  sections: ['inbound', 'outbound', 'on-error'],
  attributes: { 'status-code': { expressions: false }, 'content-type': { expressions: false }, index: { expressions: false } },
  compile(el, cc) {
    const status = cc.int(el, 'status-code', { min: 100, max: 599 });
    const type = el.attributes.get('content-type')?.raw ?? 'application/json';
    return {
      run(ctx) {
        // no OpenAPI examples for passthrough MCP servers: an empty body of that type
        const res = newResponse(status ? status(ctx) : 200, '', type.includes('json') ? '{}' : '');
        res.headers.set('content-type', type);
        ctx.setResponse(res);
        throw RETURN;
      },
    };
  },
};
