/** Attribute helpers shared by the integration policies. */
import type { CompileContext, ValueGetter } from '../../pipeline/types.js';
import type { PolicyElement } from '../../policy/document.js';

/**
 * An integer attribute, as cc.int, with one leniency the compatibility corpus needs: a literal that
 * still holds a template placeholder (`count="{retry-count}"`, `duration="{{cachetime}]"` — text a
 * deployment script was meant to replace) can't be judged at load, as in APIM, so it fails when the
 * policy runs instead. Any other non-integer literal is a load-time error with its position.
 */
export function intAttribute(el: PolicyElement, cc: CompileContext, name: string, opts: { min?: number; max?: number }): ValueGetter<number> | undefined {
  const a = el.attributes.get(name);
  if (a && !a.expression && a.raw.includes('{')) {
    const raw = a.raw;
    return () => {
      throw new Error(`attribute "${name}" of <${el.name}> is "${raw}", not an integer (an unreplaced template placeholder?)`);
    };
  }
  return cc.int(el, name, opts);
}

/** report attributes of a child element (not compiled by the pipeline itself) other than `allowed` */
export function checkAttributes(el: PolicyElement, cc: CompileContext, allowed: readonly string[], required: readonly string[] = []): void {
  for (const [name, a] of el.attributes) {
    if (name === 'id' || allowed.includes(name)) continue;
    cc.problem({ line: a.nameLine, col: a.nameCol }, `unknown attribute "${name}" on <${el.name}>`);
  }
  for (const name of required) if (!el.attributes.has(name)) cc.problem(el, `<${el.name}> requires the attribute "${name}"`);
}

/** report element children of an element that takes none */
export function noChildren(el: PolicyElement, cc: CompileContext): void {
  for (const c of el.children) if (c.type === 'element') cc.problem(c, `<${el.name}> cannot contain <${c.name}>`);
}

/** a boolean condition: an expression, or the literal true/false */
export function conditionAttribute(el: PolicyElement, cc: CompileContext, name: string): ValueGetter<unknown> | undefined {
  const a = el.attributes.get(name);
  if (!a) return undefined;
  if (a.expression) return cc.rawValue(el, name);
  const v = a.raw.trim().toLowerCase();
  if (v !== 'true' && v !== 'false') {
    cc.problem({ line: a.line, col: a.col }, `attribute "${name}" of <${el.name}> must be a boolean expression @(...) or true/false, got "${a.raw}"`);
    return undefined;
  }
  const b = v === 'true';
  return () => b;
}

/** a choice attribute that also accepts an expression (checked when it runs) */
export function choiceOrExpression<T extends string>(el: PolicyElement, cc: CompileContext, name: string, values: readonly T[], def: T): ValueGetter<T> {
  const a = el.attributes.get(name);
  if (a?.expression) {
    const g = cc.string(el, name);
    return (ctx) => {
      const v = (g ? g(ctx) : def).trim().toLowerCase();
      const hit = values.find((x) => x === v);
      if (!hit) throw new Error(`attribute "${name}" of <${el.name}> evaluated to "${v}", expected one of ${values.join(', ')}`);
      return hit;
    };
  }
  const v = cc.choice(el, name, values, def);
  return () => v;
}
