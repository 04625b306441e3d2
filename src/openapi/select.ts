/** The `tools:` selection of a config (`selectTools`): operations by id, "METHOD /path" or tool name. */
import { OpenApiError, type ImportedApi, type OpenApiTool, type ToolSelection } from './types.js';
import { TOOL_NAME_PATTERN } from './naming.js';

function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (!a.length) return b.length;
  if (!b.length) return a.length;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function labelOf(t: OpenApiTool): string {
  return t.operation.operationId ?? `${t.operation.method} ${t.operation.path}`;
}

/** up to 5 operations whose id, "METHOD /path" or tool name is close to `wanted` */
export function closeOperations(tools: readonly OpenApiTool[], wanted: string): string[] {
  const w = wanted.toLowerCase();
  const scored: { label: string; score: number }[] = [];
  for (const t of tools) {
    const forms = [t.operation.operationId, `${t.operation.method} ${t.operation.path}`, t.name].filter((f): f is string => !!f);
    let best = Infinity;
    for (const f of forms) {
      const fl = f.toLowerCase();
      let d = levenshtein(w, fl);
      if (fl.includes(w) || w.includes(fl)) d = Math.min(d, Math.abs(fl.length - w.length) / 4);
      best = Math.min(best, d);
    }
    const limit = Math.max(2, Math.floor(w.length * 0.4));
    if (best <= limit) scored.push({ label: labelOf(t), score: best });
  }
  scored.sort((a, b) => a.score - b.score || a.label.localeCompare(b.label));
  return [...new Set(scored.map((s) => s.label))].slice(0, 5);
}

function findOperation(tools: readonly OpenApiTool[], wanted: string): OpenApiTool {
  const w = wanted.trim();
  let matches = tools.filter((t) => t.operation.operationId === w);
  if (!matches.length) {
    const m = /^([A-Za-z]+)\s+(\S.*)$/.exec(w);
    if (m) {
      const method = m[1]!.toUpperCase();
      const path = m[2]!.trim();
      matches = tools.filter((t) => t.operation.method === method && t.operation.path === path);
    }
  }
  if (!matches.length) matches = tools.filter((t) => t.name === w);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new OpenApiError(`operation "${wanted}" is ambiguous: ${matches.map((t) => `${t.operation.method} ${t.operation.path}`).join(', ')}`);
  }
  const close = closeOperations(tools, w);
  const hint = close.length ? ` (did you mean ${close.map((c) => `"${c}"`).join(', ')}?)` : tools.length ? ` (the document has ${tools.length} operations)` : ' (the document has no operations)';
  throw new OpenApiError(`unknown operation "${wanted}"${hint}`);
}

function checkUnique(tools: readonly OpenApiTool[]): void {
  const seen = new Map<string, OpenApiTool>();
  for (const t of tools) {
    const first = seen.get(t.name);
    if (first) {
      const a = `${first.operation.method} ${first.operation.path}`;
      const b = `${t.operation.method} ${t.operation.path}`;
      const detail = a === b ? `selected twice (operation ${a})` : `operations ${a} and ${b}`;
      throw new OpenApiError(`duplicate tool name "${t.name}": ${detail}; give one of them another name in the tools selection`);
    }
    seen.set(t.name, t);
  }
}

/**
 * The tools an openapi server exposes: all operations when `selection` is undefined, otherwise the
 * selected ones in selection order, with their `name` / `description` overrides. An operation is
 * matched by operationId, then "METHOD /path" (method case-insensitive), then generated tool name.
 * Throws an OpenApiError for an unknown operation (naming close matches), an invalid tool name or a
 * duplicate tool name.
 */
export function selectTools(api: ImportedApi, selection: readonly ToolSelection[] | undefined): OpenApiTool[] {
  if (selection === undefined) {
    const all = [...api.tools];
    checkUnique(all);
    return all;
  }
  const out: OpenApiTool[] = [];
  for (const sel of selection) {
    const tool = findOperation(api.tools, sel.operation);
    let t = tool;
    if (sel.name !== undefined) {
      if (!TOOL_NAME_PATTERN.test(sel.name)) {
        throw new OpenApiError(`invalid tool name "${sel.name}" for operation "${sel.operation}": it must match ${TOOL_NAME_PATTERN.source}`);
      }
      t = { ...t, name: sel.name };
    }
    if (sel.description !== undefined) t = { ...t, description: sel.description };
    out.push(t);
  }
  checkUnique(out);
  return out;
}
