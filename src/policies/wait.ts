/**
 * wait (APIM): run the immediate children — send-request, cache-lookup-value, choose — concurrently
 * and finish when all of them did (`for="all"`, default) or when the first one did (`for="any"`).
 *
 * - all: every child runs to its end; then the first error in document order (if any) is raised,
 *   with LastError naming the policy that failed.
 * - any: the first child to finish decides (its error, if it failed); the others are cancelled —
 *   their send-request calls are aborted and neither send-request nor cache-lookup-value writes its
 *   variable afterwards (a losing choose branch stops at its next such policy).
 */
import type { CompiledPolicy, PolicyDefinition } from '../pipeline/types.js';
import type { PolicyElement } from '../policy/document.js';
import type { PipelineContext } from '../pipeline/context.js';
import { runPolicies } from '../pipeline/run.js';
import { choiceOrExpression } from './http/attrs.js';
import { markOrigin, originOf, withCancellation } from './http/cancel.js';

const ALLOWED = ['send-request', 'cache-lookup-value', 'choose'];

export const wait: PolicyDefinition = {
  name: 'wait',
  sections: ['inbound', 'backend', 'outbound'],
  attributes: { for: {} },
  children: ALLOWED,
  compile(el, cc) {
    const mode = choiceOrExpression(el, cc, 'for', ['all', 'any'] as const, 'all');
    const kids = el.children.filter((k): k is PolicyElement => k.type === 'element');
    if (kids.length === 0) cc.problem(el, '<wait> needs at least one child policy');
    const body = cc.policies(kids, cc.path);
    const start = (pol: CompiledPolicy, ctx: PipelineContext): Promise<void> =>
      runPolicies([pol], ctx).catch((err: unknown) => {
        markOrigin(err, { name: pol.name, id: pol.id, scope: pol.scope, path: pol.path });
        throw err;
      });
    return {
      async run(ctx) {
        const m = mode(ctx);
        const ac = new AbortController();
        await withCancellation(ctx, ac.signal, async () => {
          if (m === 'all') {
            const results = await Promise.allSettled(body.map((p) => start(p, ctx)));
            const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
            if (failed) {
              ctx.current = originOf(failed.reason) ?? ctx.current;
              throw failed.reason;
            }
            return;
          }
          const running = body.map((p) => start(p, ctx));
          for (const p of running) p.catch(() => undefined); // the losers' outcome is discarded
          try {
            await Promise.race(running);
          } catch (err) {
            ctx.current = originOf(err) ?? ctx.current;
            throw err;
          } finally {
            ac.abort();
          }
        });
      },
    };
  },
};
