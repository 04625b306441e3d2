/**
 * check-header (APIM): the request must carry header `name` (and, when <value>s are given, one of
 * them); otherwise the pipeline fails with `failed-check-httpcode` and `failed-check-error-message`
 * (on-error runs; LastError.Reason HeaderNotFound or HeaderValueNotAllowed).
 */
import type { PolicyDefinition } from '../pipeline/types.js';
import { PolicyFailure } from '../pipeline/errors.js';

export const checkHeader: PolicyDefinition = {
  name: 'check-header',
  sections: ['inbound'],
  attributes: { name: { required: true }, 'failed-check-httpcode': { required: true }, 'failed-check-error-message': { required: true }, 'ignore-case': {} },
  children: ['value'],
  compile(el, cc) {
    const name = cc.string(el, 'name')!;
    const code = cc.int(el, 'failed-check-httpcode', { min: 100, max: 599 });
    const message = cc.string(el, 'failed-check-error-message')!;
    const ignoreCase = cc.bool(el, 'ignore-case', false);
    const values = el.children.filter((c) => c.type === 'element').map((c) => cc.text(c as never) ?? (() => ''));
    return {
      run(ctx) {
        const n = name(ctx);
        const got = ctx.request.headers.get(n);
        const fail = (reason: string) => {
          throw new PolicyFailure({ source: 'check-header', reason, message: message(ctx), status: code ? code(ctx) : 400 });
        };
        if (!got || got.length === 0) return fail('HeaderNotFound');
        if (values.length === 0) return;
        const ic = ignoreCase(ctx);
        const allowed = values.map((v) => (ic ? v(ctx).toLowerCase() : v(ctx)));
        const actual = got.flatMap((g) => g.split(',')).map((g) => (ic ? g.trim().toLowerCase() : g.trim()));
        if (!actual.some((a) => allowed.includes(a))) fail('HeaderValueNotAllowed');
      },
    };
  },
};
