/**
 * rewrite-uri (APIM): the path (and query) the backend request uses, relative to the backend's base
 * URL. `{name}` placeholders take the request's matched parameters. A template must stay a relative
 * path: a scheme, a host or `..` segments that climb above the base are refused (the target stays
 * the configured backend).
 */
import type { PolicyDefinition } from '../pipeline/types.js';

export function safeRelativePath(p: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(p) || p.startsWith('//') || /[\r\n\0\\]/.test(p)) throw new Error(`rewrite-uri: "${p}" is not a relative path`);
  const [path, query] = p.split('?', 2) as [string, string | undefined];
  const out: string[] = [];
  for (const seg of path.split('/')) {
    let decoded = seg;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      // keep as is
    }
    if (decoded === '..') {
      if (out.length === 0) throw new Error(`rewrite-uri: "${p}" climbs above the backend base path`);
      out.pop();
    } else if (decoded !== '.' && seg !== '') out.push(seg);
  }
  return '/' + out.join('/') + (path.endsWith('/') && out.length > 0 ? '/' : '') + (query !== undefined ? `?${query}` : '');
}

export const rewriteUri: PolicyDefinition = {
  name: 'rewrite-uri',
  sections: ['inbound'],
  attributes: { template: { required: true }, 'copy-unmatched-params': { expressions: false } },
  compile(el, cc) {
    const template = cc.string(el, 'template')!;
    cc.bool(el, 'copy-unmatched-params', true);
    return {
      run(ctx) {
        ctx.backend.path = safeRelativePath(template(ctx));
      },
    };
  },
};
