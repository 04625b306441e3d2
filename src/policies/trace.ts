/**
 * trace (APIM): add a message to the request's trace (shown by `gatehouse policy test`) and to the
 * debug log. <trace source="x" severity="verbose|information|error"><message>…</message><metadata name="" value=""/></trace>
 */
import type { PolicyDefinition, ValueGetter } from '../pipeline/types.js';

export const trace: PolicyDefinition = {
  name: 'trace',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: { source: { required: true }, severity: { expressions: false } },
  children: ['message', 'metadata'],
  // the older form carries the message as the element's text: <trace source="x">message</trace>
  text: true,
  compile(el, cc) {
    const source = cc.string(el, 'source')!;
    const severity = cc.choice(el, 'severity', ['verbose', 'information', 'error'] as const, 'verbose');
    let message: ValueGetter<string> | undefined;
    const meta: { name: ValueGetter<string>; value: ValueGetter<string> }[] = [];
    for (const c of el.children) {
      if (c.type !== 'element') continue;
      if (c.name === 'message') message = cc.text(c) ?? (() => '');
      else {
        const n = cc.string(c, 'name');
        const v = cc.string(c, 'value');
        if (!n || !v) cc.problem(c, '<metadata> needs name and value');
        else meta.push({ name: n, value: v });
      }
    }
    if (!message && el.text && el.text.raw.trim() !== '') message = cc.text(el);
    if (!message) cc.problem(el, '<trace> needs a <message>');
    const logger = cc.services.logger;
    return {
      run(ctx) {
        const m = message ? message(ctx) : '';
        const entry = { source: source(ctx), severity, message: m.length > 8192 ? m.slice(0, 8192) : m };
        ctx.traceMessages.push(entry);
        if (logger?.isLevelEnabled('debug')) {
          const md: Record<string, string> = {};
          for (const x of meta) md[x.name(ctx)] = x.value(ctx);
          logger.debug({ requestId: String(ctx.expr.requestId), trace: entry, metadata: md }, 'trace');
        }
      },
    };
  },
};
