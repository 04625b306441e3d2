/** set-status (APIM): <set-status code="401" reason="Unauthorized" /> on the response being built. */
import type { PolicyDefinition } from '../pipeline/types.js';
import { responseOf } from './target.js';

export const setStatus: PolicyDefinition = {
  name: 'set-status',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: { code: { required: true }, reason: {} },
  compile(el, cc) {
    const code = cc.int(el, 'code', { min: 100, max: 599 });
    const reason = cc.string(el, 'reason');
    return {
      run(ctx) {
        const res = responseOf(ctx);
        if (code) res.statusCode = code(ctx);
        if (reason) {
          const r = reason(ctx);
          if (/[\r\n]/.test(r)) throw new Error('status reason contains a line break');
          res.statusReason = r;
        }
      },
    };
  },
};
