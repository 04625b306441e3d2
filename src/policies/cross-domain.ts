/**
 * cross-domain (APIM): makes the API reachable from Adobe Flash / Silverlight clients by answering
 * `GET …/crossdomain.xml` with the given `<cross-domain-policy>` document (or a default that allows
 * no domain). MCP endpoints are never that path, so for MCP requests the policy does nothing.
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { RETURN } from '../pipeline/errors.js';
import { newResponse } from '../pipeline/context.js';

const DEFAULT_POLICY = '<?xml version="1.0"?>\n<cross-domain-policy />';

export const crossDomain: PolicyDefinition = {
  name: 'cross-domain',
  sections: ['inbound'],
  attributes: {},
  children: ['cross-domain-policy'],
  compile(el) {
    const inner = el.children.find((c) => c.type === 'element');
    const xml = inner && 'innerXml' in inner && typeof inner.innerXml === 'string'
      ? `<?xml version="1.0"?>\n<cross-domain-policy>${inner.innerXml}</cross-domain-policy>`
      : inner ? `<?xml version="1.0"?>\n<cross-domain-policy />` : DEFAULT_POLICY;
    return {
      run(ctx) {
        if (ctx.request.method !== 'GET' || !ctx.request.url.path.toLowerCase().endsWith('/crossdomain.xml')) return;
        const res = newResponse(200, 'OK', xml);
        res.headers.set('content-type', 'text/xml');
        ctx.setResponse(res);
        throw RETURN;
      },
    };
  },
};
