/**
 * set-body (APIM): replace the request body (inbound, backend) or the response body (outbound,
 * on-error; inside return-response, the returned response's). The content is a literal, an
 * expression, or — with template="liquid" — a Liquid template (./liquid/), parsed at load and
 * rendered per request against `body` (the parsed body being replaced) and `context`.
 * parse-date and xsi-nil shape how a Liquid template sees a JSON / XML body. XSLT is not supported.
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { actsOnResponse, responseOf } from './target.js';
import { asString } from '../pipeline/compile.js';
import { PolicyFailure } from '../pipeline/errors.js';
import { MessageBody } from '../expressions/context.js';
import { compileLiquidBody, LiquidRenderError } from './liquid/index.js';

export const setBody: PolicyDefinition = {
  name: 'set-body',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: { template: { expressions: false }, 'xsi-nil': { expressions: false }, 'parse-date': { expressions: false } },
  children: [],
  text: true,
  compile(el, cc) {
    const template = cc.choice(el, 'template', ['none', 'liquid'] as const, 'none');
    const nil = cc.choice(el, 'xsi-nil', ['blank', 'null'] as const, 'blank');
    const parseDate = cc.bool(el, 'parse-date', true);
    if (template === 'liquid') {
      const liquid = compileLiquidBody(el, (at, message) => cc.problem({ file: el.file, line: at.line, col: at.col }, message));
      return {
        run(ctx) {
          if (!liquid) return;
          const owner = actsOnResponse(ctx) ? responseOf(ctx) : ctx.request;
          let text: string;
          try {
            text = liquid.render(ctx, owner, { parseDate: parseDate(ctx), xsiNil: nil });
          } catch (err) {
            const where = err instanceof LiquidRenderError ? ` at ${err.line}:${err.col}` : '';
            throw new PolicyFailure(
              { source: 'set-body', reason: 'LiquidTemplateRenderFailure', message: `set-body: the Liquid template failed${where}: ${(err as Error).message}`, status: 500 },
              { cause: err },
            );
          }
          if (owner.body) owner.body.setContent(text);
          else owner.body = new MessageBody(text);
          if (owner === ctx.request) ctx.requestBodyChanged = true;
        },
      };
    }
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
