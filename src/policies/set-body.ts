/**
 * set-body (APIM): replace the request body (inbound, backend) or the response body (outbound,
 * on-error; inside return-response, the returned response's). The content is a literal or an
 * expression. template="liquid" and XSLT are not supported (a load-time error says so).
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { actsOnResponse, responseOf } from './target.js';
import { asString } from '../pipeline/compile.js';
import { MessageBody } from '../expressions/context.js';

export const setBody: PolicyDefinition = {
  name: 'set-body',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: { template: { expressions: false }, 'xsi-nil': { expressions: false }, 'parse-date': { expressions: false } },
  children: [],
  text: true,
  compile(el, cc) {
    const template = cc.choice(el, 'template', ['none', 'liquid'] as const, 'none');
    if (template === 'liquid') cc.problem(el.attributes.get('template')!, 'set-body template="liquid" is not supported by Gatehouse; use an expression @{ ... } instead');
    const nil = cc.choice(el, 'xsi-nil', ['blank', 'null'] as const, 'blank');
    const body = el.text?.verbatim ? ((raw: string) => () => raw)(el.innerXml ?? el.text.raw) : cc.rawText(el);
    return {
      run(ctx) {
        const v = body ? body(ctx) : '';
        const text = v === null || v === undefined ? (nil === 'null' ? undefined : '') : typeof v === 'object' && typeof (v as { toString?: unknown }).toString === 'function' ? String(v) : asString(v);
        const owner = actsOnResponse(ctx) ? responseOf(ctx) : ctx.request;
        if (text === undefined) owner.body = null;
        else if (owner.body) owner.body.setContent(text);
        else owner.body = new MessageBody(text);
        if (owner === ctx.request) ctx.requestBodyChanged = true;
      },
    };
  },
};
