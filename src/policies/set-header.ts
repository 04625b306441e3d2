/**
 * set-header (APIM): set, append, skip or delete an HTTP header of the request (inbound, backend) or
 * the response (outbound, on-error; and inside return-response).
 * <set-header name="X" exists-action="override|skip|append|delete"><value>…</value>…</set-header>
 */
import type { PolicyDefinition, ValueGetter } from '../pipeline/types.js';
import type { PipelineContext } from '../pipeline/context.js';
import { actsOnResponse, responseOf } from './target.js';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const setHeader: PolicyDefinition = {
  name: 'set-header',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: { name: { required: true }, 'exists-action': { expressions: false } },
  children: ['value'],
  compile(el, cc) {
    const nameAttr = el.attributes.get('name')!;
    const name = cc.string(el, 'name')!;
    // APIM accepts any name when the document is saved (templates carry placeholders such as
    // "x-ms-meta-{name}"); a name that is not an HTTP token fails when the policy runs
    if (!nameAttr.expression && (nameAttr.raw.trim() === '' || /[\r\n\0]/.test(nameAttr.raw))) cc.problem({ line: nameAttr.line, col: nameAttr.col }, `"${nameAttr.raw}" is not a valid header name`);
    const action = cc.choice(el, 'exists-action', ['override', 'skip', 'append', 'delete'] as const, 'override');
    const values: ValueGetter<string>[] = [];
    for (const c of el.children) {
      if (c.type !== 'element') continue;
      if (c.children.some((x) => x.type === 'element')) cc.problem(c, '<value> cannot contain elements');
      values.push(cc.text(c) ?? (() => ''));
    }
    if (action !== 'delete' && values.length === 0) cc.problem(el, `<set-header> needs at least one <value> unless exists-action="delete"`);
    return {
      run(ctx: PipelineContext) {
        const onResponse = actsOnResponse(ctx);
        const headers = onResponse ? responseOf(ctx).headers : ctx.request.headers;
        const n = name(ctx);
        if (!HEADER_NAME.test(n)) throw new Error(`"${n}" is not a valid header name`);
        if (action === 'skip' && headers.has(n)) {
          // the existing value stays as it is: a request header the client sent still reaches the
          // backend only if it would anyway (forwardHeaders), never because a policy skipped it
          if (onResponse) ctx.touchedResponseHeaders.add(n.toLowerCase());
          return;
        }
        const key = n.toLowerCase();
        if (onResponse) ctx.touchedResponseHeaders.add(key);
        else {
          if (action === 'append' && !ctx.touchedRequestHeaders.has(key) && headers.has(n)) ctx.appendedToClient.set(key, headers.get(n)!.length);
          else if (action !== 'append') ctx.appendedToClient.delete(key);
          ctx.touchedRequestHeaders.add(key);
        }
        if (action === 'delete') {
          headers.delete(n);
          return;
        }
        const vs = values.map((v) => v(ctx));
        for (const v of vs) if (/[\r\n\0]/.test(v)) throw new Error(`header "${n}" value contains a line break or NUL`);
        if (action === 'append') for (const v of vs) headers.append(n, v);
        else headers.set(n, vs);
      },
    };
  },
};
