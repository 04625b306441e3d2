/**
 * The OpenAPI documents of `type: openapi` servers, imported while the config loads (so `start`
 * and `validate` report an unreadable or invalid document, an unknown operation or a duplicate
 * tool name as a config problem at its place). A document given by URL is fetched through the
 * outbound client's SSRF rules.
 */
import type { RawConfig } from './schema.js';
import type { RawProblem } from './issues.js';
import { loadOpenApi } from '../openapi/load.js';
import { selectTools } from '../openapi/tools.js';
import { OpenApiError, type OpenApiTool, type ToolSelection } from '../openapi/types.js';
import { sendOutbound } from '../policies/http/client.js';
import { ssrfFromEnv } from '../policies/http/ssrf.js';

export interface ImportedServer {
  readonly tools: readonly OpenApiTool[];
  /** the REST base URL: backend.url, else the document's first absolute server URL */
  readonly baseUrl: string;
}

async function fetchDocument(url: string): Promise<string> {
  const res = await sendOutbound({ url, method: 'GET', headers: { accept: 'application/json, application/yaml, text/yaml, */*' }, body: null, timeoutMs: 10_000, ssrf: ssrfFromEnv(), maxResponseBytes: 10 * 1024 * 1024 });
  if (res.statusCode !== 200) throw new Error(`GET ${new URL(url).host} answered HTTP ${res.statusCode}`);
  return res.body?.peekText() ?? '';
}

/** imports by server index; problems for those that fail */
export async function importOpenApis(r: RawConfig, baseDir: string, problems: RawProblem[]): Promise<Map<number, ImportedServer>> {
  const out = new Map<number, ImportedServer>();
  const servers = r.servers ?? [];
  await Promise.all(servers.map(async (s, i) => {
    if (s.type !== 'openapi') return;
    let api;
    try {
      api = await loadOpenApi(s.openapi, { baseDir, fetchUrl: fetchDocument });
    } catch (err) {
      problems.push({ path: ['servers', i, 'openapi'], anchor: 'value', safe: true, message: `cannot import the OpenAPI document: ${(err as Error).message}` });
      return;
    }
    const selection: ToolSelection[] | undefined = s.tools?.map((t) => ({ operation: t.operation, name: t.name, description: t.description }));
    let tools: readonly OpenApiTool[];
    try {
      tools = selectTools(api, selection);
    } catch (err) {
      const msg = err instanceof OpenApiError || err instanceof Error ? err.message : String(err);
      // point at the tool entry the problem names, when it names one
      const j = s.tools?.findIndex((t) => msg.includes(`"${t.operation}"`) || (t.name !== undefined && msg.includes(`"${t.name}"`))) ?? -1;
      problems.push({ path: j >= 0 ? ['servers', i, 'tools', j, 'operation'] : ['servers', i, 'tools'], anchor: 'value', safe: true, message: msg });
      return;
    }
    const baseUrl = (s.backend?.url ?? api.servers.find((u) => /^https?:\/\//i.test(u)) ?? '').replace(/\/+$/, '');
    if (!baseUrl) {
      problems.push({ path: ['servers', i], anchor: 'value', safe: true, message: 'no backend.url and the OpenAPI document names no absolute server URL: set backend.url' });
      return;
    }
    out.set(i, { tools, baseUrl });
  }));
  return out;
}
