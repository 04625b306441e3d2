/**
 * choose (APIM): the first <when condition="@(...)"> whose condition is true runs its policies;
 * otherwise <otherwise>. Conditions must be boolean expressions (a literal "true"/"false" is allowed).
 */
import type { PolicyDefinition, ValueGetter, CompiledPolicy } from '../pipeline/types.js';
import type { PolicyElement } from '../policy/document.js';
import { runPolicies } from '../pipeline/run.js';

export const choose: PolicyDefinition = {
  name: 'choose',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: {},
  children: ['when', 'otherwise'],
  compile(el, cc) {
    const branches: { cond: ValueGetter<unknown>; body: CompiledPolicy[] }[] = [];
    let otherwise: CompiledPolicy[] | undefined;
    let whenN = 0;
    for (const c of el.children) {
      if (c.type !== 'element') continue;
      for (const [name, a] of c.attributes) {
        if (!(c.name === 'when' && name === 'condition')) cc.problem({ line: a.nameLine, col: a.nameCol }, `unknown attribute "${name}" on <${c.name}>`);
      }
      const kids = c.children.filter((k): k is PolicyElement => k.type === 'element');
      if (c.name === 'when') {
        whenN++;
        if (otherwise) cc.problem(c, '<when> must come before <otherwise>');
        const a = c.attributes.get('condition');
        if (!a) {
          cc.problem(c, '<when> requires the attribute "condition"');
          continue;
        }
        let cond: ValueGetter<unknown>;
        if (a.expression) cond = cc.rawValue(c, 'condition') ?? (() => false);
        else if (/^(true|false)$/i.test(a.raw.trim())) {
          const b = a.raw.trim().toLowerCase() === 'true';
          cond = () => b;
        } else {
          cc.problem({ line: a.line, col: a.col }, `condition must be a boolean expression @(...), got "${a.raw}"`);
          continue;
        }
        branches.push({ cond, body: cc.policies(kids, `${cc.path}/when[${whenN}]`) });
      } else {
        if (otherwise) cc.problem(c, '<choose> can have only one <otherwise>');
        otherwise = cc.policies(kids, `${cc.path}/otherwise[1]`);
      }
    }
    if (whenN === 0) cc.problem(el, '<choose> needs at least one <when>');
    return {
      async run(ctx) {
        for (const b of branches) {
          const v = b.cond(ctx);
          if (typeof v !== 'boolean') throw new Error(`a <when> condition evaluated to ${v === null ? 'null' : typeof v}, not a boolean`);
          if (v) return runPolicies(b.body, ctx);
        }
        if (otherwise) return runPolicies(otherwise, ctx);
      },
    };
  },
};
