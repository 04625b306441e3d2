/** set-method (APIM): <set-method>POST</set-method> — the HTTP method of the backend request (or of send-request's request). */
import type { PolicyDefinition } from '../pipeline/types.js';

const METHOD = /^[A-Z]{1,16}$/;

export const setMethod: PolicyDefinition = {
  name: 'set-method',
  sections: ['inbound', 'on-error'],
  attributes: {},
  text: true,
  compile(el, cc) {
    const t = el.text;
    if (!t || t.raw.trim() === '') cc.problem(el, '<set-method> needs a method, e.g. <set-method>POST</set-method>');
    else if (!t.expression && !METHOD.test(t.raw.trim())) cc.problem(t, `"${t.raw.trim()}" is not an HTTP method`);
    const m = cc.text(el);
    return {
      run(ctx) {
        const v = (m ? m(ctx) : '').trim().toUpperCase();
        if (!METHOD.test(v)) throw new Error(`set-method: "${v}" is not an HTTP method`);
        ctx.request.method = v;
      },
    };
  },
};
