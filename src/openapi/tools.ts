/**
 * OpenAPI operations → MCP tools (`toolsOf`) and the `tools:` selection of a config (`selectTools`).
 *
 * Input: a parsed OpenAPI 3.0 / 3.1 or Swagger 2.0 document whose `$ref`s are internal (a *bundled*
 * document, as load.ts produces) — a fully dereferenced document (shared and even circular JS
 * objects) works too.
 *
 * Schema conversion: schema-convert.ts; parameters: parameters.ts; tool names: naming.ts; the
 * selection: select.ts.
 */
import { OpenApiError, type OpenApiTool } from './types.js';
import { isObj, nonEmpty, type Kind, type Obj } from './document-values.js';
import { pointerOf, RefDoc } from './refs.js';
import { OperationBuilder, type OperationPlan } from './operations.js';

export { escapePointer, pointerOf } from './refs.js';
export { TOOL_NAME_PATTERN, toolName } from './naming.js';
export { closeOperations, selectTools } from './select.js';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** the kind of a parsed document (undefined when it is none of the three) */
export function kindOf(spec: unknown): Kind | undefined {
  if (!isObj(spec)) return undefined;
  if (spec.swagger === '2.0') return 'swagger-2.0';
  if (typeof spec.openapi === 'string') {
    if (spec.openapi.startsWith('3.1')) return 'openapi-3.1';
    if (spec.openapi.startsWith('3.0')) return 'openapi-3.0';
  }
  return undefined;
}

/**
 * One tool per operation of the document, in document order (paths, then methods). Throws an
 * OpenApiError (with the JSON pointer) for duplicate operationIds, an unresolvable $ref, or a
 * Swagger 2.0 operation with several body parameters / body and formData parameters.
 */
export function toolsOf(spec: object, kind: Kind): OpenApiTool[] {
  const root = spec as Obj;
  const doc = new RefDoc(root);
  const builder = new OperationBuilder(doc, kind, root);
  const tools: OpenApiTool[] = [];
  const paths = root.paths;
  if (!isObj(paths)) return tools;
  const operationIds = new Map<string, string>();
  const plans: OperationPlan[] = [];
  for (const [path, rawItem] of Object.entries(paths)) {
    if (!path.startsWith('/')) continue; // x- extensions
    const itemPointer = pointerOf('paths', path);
    const item = doc.deref(rawItem, itemPointer);
    if (!isObj(item)) continue;
    for (const key of Object.keys(item)) {
      if (!(HTTP_METHODS as readonly string[]).includes(key)) continue;
      const op = item[key];
      if (!isObj(op)) continue;
      const pointer = `${itemPointer}/${key}`;
      const id = nonEmpty(op.operationId);
      if (id !== undefined) {
        const first = operationIds.get(id);
        if (first !== undefined) throw new OpenApiError(`duplicate operationId "${id}" (also at ${first})`, pointer + '/operationId');
        operationIds.set(id, pointer);
      }
      plans.push(builder.plan(path, key, item, op, pointer));
    }
  }
  for (const plan of plans) tools.push(builder.finish(plan));
  return tools;
}
