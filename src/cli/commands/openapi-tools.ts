/**
 * `gatehouse openapi tools SPEC [--operations a,b]` — prints the MCP tools an OpenAPI document
 * yields, as the `tools/list` result shape `{"tools":[{name,title,description,inputSchema,
 * outputSchema?,annotations}]}` (pretty JSON, no internal binding). SPEC is a file path (relative
 * to the working folder) or an http(s) URL; `--operations` selects operations by operationId or
 * "METHOD /path" (comma-separated), in that order.
 * Exit status: 0 ok, 2 invalid input (bad options, unreadable or invalid document, unknown
 * operation, duplicate tool names), 1 unexpected failure.
 */
import { parseArgs } from 'node:util';
import { loadOpenApi } from '../../openapi/load.js';
import { selectTools } from '../../openapi/tools.js';
import { OpenApiError, type OpenApiTool, type ToolSelection } from '../../openapi/types.js';
import type { CliIo } from '../main.js';

export const OPENAPI_TOOLS_USAGE = 'usage: gatehouse openapi tools SPEC [--operations a,b]   (SPEC: file path or http(s) URL)\n';

/** a tool as MCP `tools/list` lists it */
export function listedTool(t: OpenApiTool): Record<string, unknown> {
  const out: Record<string, unknown> = { name: t.name };
  if (t.title !== undefined) out.title = t.title;
  if (t.description !== undefined) out.description = t.description;
  out.inputSchema = t.inputSchema;
  if (t.outputSchema !== undefined) out.outputSchema = t.outputSchema;
  out.annotations = t.annotations;
  return out;
}

export async function runOpenApiTools(args: string[], io: CliIo): Promise<number> {
  let spec: string | undefined;
  let operations: string | undefined;
  try {
    const { values, positionals } = parseArgs({
      args,
      options: {
        operations: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
    if (values.help) {
      io.stdout(OPENAPI_TOOLS_USAGE);
      return 0;
    }
    if (positionals.length !== 1) throw new Error(positionals.length ? `one SPEC expected, got ${positionals.length}` : 'SPEC missing');
    spec = positionals[0]!;
    operations = values.operations;
  } catch (e) {
    io.stderr(`gatehouse openapi tools: ${e instanceof Error ? e.message : String(e)}\n${OPENAPI_TOOLS_USAGE}`);
    return 2;
  }

  let selection: ToolSelection[] | undefined;
  if (operations !== undefined) {
    selection = operations
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
      .map((operation) => ({ operation }));
    if (!selection.length) {
      io.stderr(`gatehouse openapi tools: --operations names no operation\n${OPENAPI_TOOLS_USAGE}`);
      return 2;
    }
  }

  try {
    const api = await loadOpenApi(spec, { baseDir: io.cwd });
    const tools = selectTools(api, selection);
    io.stdout(JSON.stringify({ tools: tools.map(listedTool) }, null, 2) + '\n');
    return 0;
  } catch (e) {
    if (e instanceof OpenApiError) {
      io.stderr(`gatehouse openapi tools: ${spec}: ${e.message}\n`);
      return 2;
    }
    io.stderr(`gatehouse openapi tools: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
