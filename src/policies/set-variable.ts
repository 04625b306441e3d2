/** set-variable (APIM): store a value in context.Variables. <set-variable name="x" value="literal or @(expr)" /> */
import type { PolicyDefinition } from '../pipeline/types.js';

export const setVariable: PolicyDefinition = {
  name: 'set-variable',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  attributes: { name: { required: true, expressions: false }, value: { required: true } },
  compile(el, cc) {
    const name = el.attributes.get('name')!.raw;
    if (name.trim() === '') cc.problem(el, 'set-variable needs a non-empty name');
    const attr = el.attributes.get('value')!;
    // an expression keeps its C# type (bool, int, JObject, Jwt …); a literal is a string
    const value = attr.expression ? cc.rawValue(el, 'value') : undefined;
    const literal = attr.raw;
    return {
      run(ctx) {
        ctx.variables.set(name, value ? value(ctx) : literal);
      },
    };
  },
};
