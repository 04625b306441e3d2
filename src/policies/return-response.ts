/**
 * return-response (APIM): stop the pipeline and answer with a response built by its children
 * (set-status, set-header, set-body), starting from `response-variable-name`'s response (e.g. one
 * from send-request) or an empty 200.
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import type { PolicyElement } from '../policy/document.js';
import { RETURN } from '../pipeline/errors.js';
import { runPolicies } from '../pipeline/run.js';
import { newResponse } from '../pipeline/context.js';
import { HeaderMap, ResponseInfo } from '../expressions/context.js';

function copyResponse(v: unknown): ResponseInfo | undefined {
  if (!(v instanceof ResponseInfo)) return undefined;
  const headers = new HeaderMap();
  for (const name of v.headers.names()) headers.set(name, [...(v.headers.get(name) ?? [])]);
  return new ResponseInfo({ statusCode: v.statusCode, statusReason: v.statusReason, headers, body: v.body ? v.body.peekText() : null });
}

export const returnResponse: PolicyDefinition = {
  name: 'return-response',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: { 'response-variable-name': { expressions: false } },
  children: ['set-status', 'set-header', 'set-body'],
  compile(el, cc) {
    const varName = el.attributes.get('response-variable-name')?.raw;
    const kids = el.children.filter((k): k is PolicyElement => k.type === 'element');
    const body = cc.policies(kids, cc.path);
    return {
      async run(ctx) {
        let res: ResponseInfo | undefined;
        if (varName !== undefined) {
          res = copyResponse(ctx.variables.get(varName));
          if (!res) throw new Error(`variable "${varName}" does not hold a response`);
        }
        ctx.target = res ?? newResponse();
        try {
          await runPolicies(body, ctx);
          ctx.setResponse(ctx.target);
        } finally {
          ctx.target = undefined;
        }
        throw RETURN;
      },
    };
  },
};
