/**
 * Load every policy document of the configuration once and compile, per passthrough server, the
 * effective pipelines: global → server (API scope) for the server's requests, and global → server →
 * tool (operation scope) for each configured tool's tools/call. All problems of all documents are
 * reported together with FILE:LINE:COL.
 */
import type { GatewayConfig, PolicySource, PassthroughServerConfig } from '../config/types.js';
import { parsePolicyDocument, type PolicyDocument } from '../policy/document.js';
import { composeScopes, expandFragments } from '../policy/compose.js';
import { PolicyError, sortPolicyProblems, type PolicyProblem } from '../policy/errors.js';
import type { NamedValueLookup } from '../policy/named-values.js';
import { compilePipeline, type PolicyRegistry } from '../pipeline/compile.js';
import type { CompiledPipeline } from '../pipeline/run.js';
import type { CompileServices } from '../pipeline/types.js';

export interface ServerPolicies {
  /** global → server: every request of the server that isn't a configured tool's call */
  readonly server: CompiledPipeline;
  /** global → server → tool, by tool name */
  readonly tools: ReadonlyMap<string, CompiledPipeline>;
}

/** the config's named backends (for set-backend-service backend-id) */
export function backendsOf(config: GatewayConfig): Map<string, { url: string; timeoutMs: number }> {
  const m = new Map<string, { url: string; timeoutMs: number }>();
  for (const [name, b] of Object.entries(config.raw.backends ?? {})) m.set(name, { url: b.url, timeoutMs: (b.timeout ?? 30) * 1000 });
  return m;
}

export function pipelineFor(p: ServerPolicies, toolName: string | undefined): CompiledPipeline {
  if (toolName !== undefined) {
    const t = p.tools.get(toolName);
    if (t) return t;
  }
  return p.server;
}

function collect<T>(problems: PolicyProblem[], fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PolicyError) problems.push(...err.problems);
    else throw err;
    return undefined;
  }
}

export function compileServerPolicies(config: GatewayConfig, registry: PolicyRegistry, services: CompileServices): Map<string, ServerPolicies> {
  const problems: PolicyProblem[] = [];
  const lookup: NamedValueLookup = (name) => config.namedValues.get(name);
  const where = (src: PolicySource) => src.file ?? config.file ?? '<config>';
  const parse = (src: PolicySource | undefined): PolicyDocument | undefined =>
    src ? collect(problems, () => parsePolicyDocument(src.xml, where(src), { namedValues: lookup })) : undefined;

  const fragments = new Map<string, PolicyDocument>();
  for (const [name, src] of config.fragments ?? new Map<string, PolicySource>()) {
    const doc = parse(src);
    if (!doc) continue;
    if (doc.kind !== 'fragment') {
      problems.push({ file: doc.file, line: doc.root.line, col: doc.root.col, message: `fragment "${name}" must be a <fragment> document` });
      continue;
    }
    fragments.set(name, doc);
  }
  const expand = (doc: PolicyDocument | undefined) => (doc ? collect(problems, () => expandFragments(doc, fragments)) : undefined);

  const global = expand(parse(config.policies));
  const out = new Map<string, ServerPolicies>();
  const compile = (docs: { scope: 'global' | 'api' | 'operation'; doc: PolicyDocument | undefined }[]) =>
    collect(problems, () => compilePipeline(composeScopes(docs), registry, services));

  const servers: readonly PassthroughServerConfig[] = config.servers;
  for (const s of servers) {
    const serverDoc = expand(parse(s.policies));
    const server = compile([{ scope: 'global', doc: global }, { scope: 'api', doc: serverDoc }]);
    const tools = new Map<string, CompiledPipeline>();
    for (const t of s.tools) {
      if (!t.policies) continue;
      const toolDoc = expand(parse(t.policies));
      const p = compile([{ scope: 'global', doc: global }, { scope: 'api', doc: serverDoc }, { scope: 'operation', doc: toolDoc }]);
      if (p) tools.set(t.name, p);
    }
    if (server) out.set(s.name, { server, tools });
  }
  if (problems.length > 0) throw new PolicyError(sortPolicyProblems(dedupe(problems)));
  return out;
}

/** a document shared by several pipelines (global, a server's) reports each problem once */
function dedupe(problems: PolicyProblem[]): PolicyProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.file}:${p.line}:${p.col}:${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
