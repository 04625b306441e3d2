/** set-query-parameter (APIM): add, replace, skip or delete a query parameter of the backend request. */
import type { PolicyDefinition, ValueGetter } from '../pipeline/types.js';

export const setQueryParameter: PolicyDefinition = {
  name: 'set-query-parameter',
  sections: ['inbound', 'backend'],
  attributes: { name: { required: true }, 'exists-action': { expressions: false } },
  children: ['value'],
  compile(el, cc) {
    const name = cc.string(el, 'name')!;
    const action = cc.choice(el, 'exists-action', ['override', 'skip', 'append', 'delete'] as const, 'override');
    const values: ValueGetter<string>[] = [];
    for (const c of el.children) if (c.type === 'element') values.push(cc.text(c) ?? (() => ''));
    if (action !== 'delete' && values.length === 0) cc.problem(el, '<set-query-parameter> needs at least one <value> unless exists-action="delete"');
    return {
      run(ctx) {
        const q = (ctx.backendQuery ??= new URLSearchParams());
        const n = name(ctx);
        const query = ctx.request.url.query;
        if (action === 'delete') {
          q.delete(n);
          query.delete(n);
          return;
        }
        if (action === 'skip' && (q.has(n) || query.has(n))) return;
        if (action !== 'append') q.delete(n);
        const vs = values.map((v) => v(ctx));
        for (const v of vs) q.append(n, v);
        if (action === 'append') query.append(n, vs);
        else query.set(n, vs);
      },
    };
  },
};
