/** The success response of an operation whose JSON schema becomes the tool's outputSchema. */
import { isObj, type Kind, type Obj } from './document-values.js';
import { derefSchema, escapePointer, type RefDoc } from './refs.js';
import { isJsonMedia } from './media-types.js';
import type { OperationPlan } from './operations.js';

/** success response codes in preference order: specific 2xx ascending, then 2XX; `default` when none */
function successCodes(responses: Obj): string[] {
  const keys = Object.keys(responses);
  const specific = keys.filter((k) => /^2\d\d$/.test(k)).sort((a, b) => Number(a) - Number(b));
  const range = keys.filter((k) => /^2xx$/i.test(k));
  const ok = [...specific, ...range];
  if (ok.length) return ok;
  return keys.includes('default') ? ['default'] : [];
}

/** the success response's JSON schema: the first 2xx (lowest code first) with one; `default` when no 2xx */
export function outputPlan(doc: RefDoc, kind: Kind, spec: Obj, op: Obj, pointer: string): OperationPlan['output'] {
  const responses = op.responses;
  if (!isObj(responses)) return undefined;
  for (const code of successCodes(responses)) {
    const where = `${pointer}/responses/${escapePointer(code)}`;
    const res = doc.deref(responses[code], where);
    if (!isObj(res)) continue;
    if (kind === 'swagger-2.0') {
      const produces = (Array.isArray(op.produces) ? op.produces : Array.isArray(spec.produces) ? spec.produces : []).filter(
        (c): c is string => typeof c === 'string',
      );
      const json = produces.length ? produces.find(isJsonMedia) : 'application/json';
      const resolved = derefSchema(doc, res.schema);
      if (json && res.schema !== undefined && !(isObj(resolved) && resolved.type === 'file')) {
        return { schema: res.schema, contentType: json, pointer: where };
      }
    } else if (isObj(res.content)) {
      const types = Object.keys(res.content);
      const json = types.find((t) => t.split(';')[0]!.trim().toLowerCase() === 'application/json') ?? types.find(isJsonMedia);
      if (json) {
        const media = doc.deref(res.content[json], `${where}/content/${escapePointer(json)}`);
        if (isObj(media) && media.schema !== undefined) return { schema: media.schema, contentType: json, pointer: where };
      }
    }
  }
  return undefined;
}
