/**
 * find-and-replace (APIM): replace every occurrence of `from` with `to` (plain text, case-sensitive,
 * not a regular expression) in the request body (inbound, backend) or the response body (outbound,
 * on-error). `to=""` removes the text; an empty `from` or a missing body changes nothing.
 * The gateway buffers the body for it (an SSE answer of the backend is buffered when outbound has it).
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { actsOnResponse } from './target.js';

export const findAndReplace: PolicyDefinition = {
  name: 'find-and-replace',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: { from: { required: true }, to: { required: true } },
  compile(el, cc) {
    const fromAttr = el.attributes.get('from');
    if (fromAttr && !fromAttr.expression && fromAttr.raw === '') cc.problem({ line: fromAttr.line, col: fromAttr.col }, 'attribute "from" of <find-and-replace> must not be empty');
    const from = cc.string(el, 'from');
    const to = cc.string(el, 'to');
    return {
      run(ctx) {
        const f = from ? from(ctx) : '';
        if (f === '') return;
        const onResponse = actsOnResponse(ctx);
        const owner = onResponse ? (ctx.hasResponse ? ctx.response : undefined) : ctx.request;
        const body = owner?.body;
        if (!body) return;
        const text = body.peekText();
        if (!text.includes(f)) return;
        body.setContent(text.split(f).join(to ? to(ctx) : ''));
        if (!onResponse) ctx.requestBodyChanged = true;
      },
    };
  },
};
