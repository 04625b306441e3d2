/**
 * set-backend-service (APIM): send the request to another backend: `base-url` (an http(s) URL,
 * literal or expression) or `backend-id` (a named backend from the config's `backends`).
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { checkUrl as ssrfCheck, ssrfFromEnv } from './http/ssrf.js';

function checkUrl(u: string): string {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new Error(`set-backend-service: invalid base-url "${u}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`set-backend-service: base-url must be http or https`);
  if (url.username || url.password) throw new Error('set-backend-service: base-url must not contain credentials');
  return url.href.replace(/\/$/, '');
}

export const setBackendService: PolicyDefinition = {
  name: 'set-backend-service',
  sections: ['inbound', 'backend'],
  attributes: { 'base-url': {}, 'backend-id': {}, 'sf-resolve-condition': {}, 'sf-service-instance-name': {}, 'sf-partition-key': {}, 'sf-listener-name': {} },
  compile(el, cc) {
    for (const sf of ['sf-resolve-condition', 'sf-service-instance-name', 'sf-partition-key', 'sf-listener-name']) {
      const a = el.attributes.get(sf);
      if (a) cc.problem({ line: a.nameLine, col: a.nameCol }, `"${sf}" (Service Fabric) is not supported by Gatehouse`);
    }
    const base = cc.string(el, 'base-url');
    const id = cc.string(el, 'backend-id');
    if (!base && !id) cc.problem(el, '<set-backend-service> needs base-url or backend-id');
    if (base && id) cc.problem(el, '<set-backend-service> takes base-url or backend-id, not both');
    const idAttr = el.attributes.get('backend-id');
    if (idAttr && !idAttr.expression && !cc.services.backends.has(idAttr.raw)) cc.problem({ line: idAttr.line, col: idAttr.col }, `unknown backend-id "${idAttr.raw}" (not in the config's backends)`);
    const baseAttr = el.attributes.get('base-url');
    // an empty base-url is a template's placeholder ("add your address here"): it fails when it runs
    if (baseAttr && !baseAttr.expression && baseAttr.raw.trim() !== '') {
      try {
        checkUrl(baseAttr.raw);
      } catch (err) {
        cc.problem({ line: baseAttr.line, col: baseAttr.col }, (err as Error).message);
      }
    }
    const backends = cc.services.backends;
    const baseIsExpression = baseAttr?.expression !== undefined;
    const ssrf = ssrfFromEnv();
    return {
      run(ctx) {
        if (base) {
          const u = checkUrl(base(ctx));
          // a computed target obeys the outbound SSRF rules (link-local and cloud metadata addresses never)
          if (baseIsExpression) ssrfCheck(u, ssrf, 'base-url');
          ctx.backend.baseUrl = u;
          return;
        }
        const name = id!(ctx);
        const b = backends.get(name);
        if (!b) throw new Error(`set-backend-service: unknown backend-id "${name}"`);
        ctx.backend.baseUrl = b.url.replace(/\/$/, '');
        ctx.backend.timeoutMs = b.timeoutMs;
      },
    };
  },
};
