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
import type { AuthServices, CompileServices } from '../pipeline/types.js';
import type { EffectivePolicy } from '../policy/compose.js';
import type { PolicyElement } from '../policy/document.js';
import { OpenIdConfigCache, type OpenIdCacheOptions } from '../auth/openid-config.js';
import { ssrfFromEnv } from '../policies/http/ssrf.js';

export interface ServerPolicies {
  /** global → server: every request of the server that isn't a configured tool's call */
  readonly server: CompiledPipeline;
  /** global → server → tool, by tool name */
  readonly tools: ReadonlyMap<string, CompiledPipeline>;
  /** global → product → server (→ tool) for each product holding the server that has policies */
  readonly products: ReadonlyMap<string, { readonly server: CompiledPipeline; readonly tools: ReadonlyMap<string, CompiledPipeline> }>;
  /** some pipeline of the server validates tokens (validate-jwt / validate-azure-ad-token): it is a protected resource */
  readonly validatesTokens: boolean;
  /** authorization servers the token policies trust (their OpenID issuers), for the server's PRM when the config names none */
  readonly issuers: readonly string[];
}

const TOKEN_POLICIES = new Set(['validate-jwt', 'validate-azure-ad-token']);

/** token policies of an effective policy (inside control flow too) and the issuers they name */
function tokenPolicies(effective: EffectivePolicy, authority: string): { found: boolean; issuers: string[] } {
  let found = false;
  const issuers: string[] = [];
  const walk = (el: PolicyElement): void => {
    if (TOKEN_POLICIES.has(el.name)) {
      found = true;
      if (el.name === 'validate-jwt') {
        for (const c of el.children) {
          if (c.type !== 'element' || c.name !== 'openid-config') continue;
          const url = c.attributes.get('url');
          if (!url || url.expression) continue;
          const base = url.raw.trim().replace(/\/\.well-known\/(openid-configuration|oauth-authorization-server)\/?$/, '');
          if (/^https?:\/\//i.test(base)) issuers.push(base);
        }
      } else {
        const t = el.attributes.get('tenant-id');
        const a = el.attributes.get('authentication-endpoint');
        if (t && !t.expression && !a?.expression) issuers.push(`${(a?.raw.trim() || authority).replace(/\/+$/, '')}/${t.raw.trim()}/v2.0`);
      }
      return;
    }
    for (const c of el.children) if (c.type === 'element') walk(c);
  };
  for (const list of Object.values(effective)) for (const e of list) walk(e.element);
  return { found, issuers };
}

/** providers → connection names of the config (load-time checks of get-authorization-context) */
export function credentialNamesOf(config: GatewayConfig): Map<string, Set<string>> {
  return new Map((config.raw.credentials?.providers ?? []).map((p) => [p.name, new Set((p.connections ?? []).map((c) => c.name))]));
}

/** the token-validation services of a configuration: one OpenID cache, its certificates, the Entra authority */
export function authServicesOf(config: GatewayConfig, opts: OpenIdCacheOptions = {}): AuthServices {
  return {
    openid: new OpenIdConfigCache({ ssrf: ssrfFromEnv(), ...opts }),
    certificates: new Map(config.certificates ?? []),
    entraAuthority: config.gateway.entraAuthority ?? 'https://login.microsoftonline.com',
    publicUrl: config.gateway.publicUrl,
  };
}

/** the config's named backends (for set-backend-service backend-id) */
export function backendsOf(config: GatewayConfig): Map<string, { url: string; timeoutMs: number }> {
  const m = new Map<string, { url: string; timeoutMs: number }>();
  for (const [name, b] of Object.entries(config.raw.backends ?? {})) m.set(name, { url: b.url, timeoutMs: (b.timeout ?? 30) * 1000 });
  return m;
}

/** the effective pipeline of a request: its product's variant (when the product has policies), its tool's when configured */
export function pipelineFor(p: ServerPolicies, toolName: string | undefined, product?: string): CompiledPipeline {
  const set = product !== undefined ? (p.products.get(product) ?? p) : p;
  if (toolName !== undefined) {
    const t = set.tools.get(toolName);
    if (t) return t;
  }
  return set.server;
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

export function compileServerPolicies(config: GatewayConfig, registry: PolicyRegistry, given: CompileServices): Map<string, ServerPolicies> {
  const services: CompileServices = {
    ...given,
    auth: given.auth ?? authServicesOf(config),
    credentialNames: given.credentialNames ?? credentialNamesOf(config),
    ...(config.raw.identity ? { identity: config.raw.identity } : {}),
  };
  const authority = services.auth!.entraAuthority;
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
  let validates = false;
  let issuers: string[] = [];
  const compile = (docs: { scope: 'global' | 'product' | 'api' | 'operation'; doc: PolicyDocument | undefined }[]) =>
    collect(problems, () => {
      const effective = composeScopes(docs);
      const t = tokenPolicies(effective, authority);
      if (t.found) validates = true;
      issuers.push(...t.issuers);
      return compilePipeline(effective, registry, services);
    });

  const productDocs = new Map<string, PolicyDocument | undefined>();
  for (const p of config.products ?? []) if (p.policies) productDocs.set(p.name, expand(parse(p.policies)));
  const servers: readonly PassthroughServerConfig[] = config.servers;
  for (const s of servers) {
    validates = false;
    issuers = [];
    const serverDoc = expand(parse(s.policies));
    const server = compile([{ scope: 'global', doc: global }, { scope: 'api', doc: serverDoc }]);
    const tools = new Map<string, CompiledPipeline>();
    for (const t of s.tools) {
      if (!t.policies) continue;
      const toolDoc = expand(parse(t.policies));
      const p = compile([{ scope: 'global', doc: global }, { scope: 'api', doc: serverDoc }, { scope: 'operation', doc: toolDoc }]);
      if (p) tools.set(t.name, p);
    }
    // global → product → server → tool, for each product of this server that has its own policies
    const products = new Map<string, { server: CompiledPipeline; tools: Map<string, CompiledPipeline> }>();
    for (const p of config.products ?? []) {
      if (!p.servers.includes(s.name) || !productDocs.has(p.name)) continue;
      const productDoc = productDocs.get(p.name);
      const ps = compile([{ scope: 'global', doc: global }, { scope: 'product', doc: productDoc }, { scope: 'api', doc: serverDoc }]);
      const pt = new Map<string, CompiledPipeline>();
      for (const t of s.tools) {
        if (!t.policies) continue;
        const toolDoc = expand(parse(t.policies));
        const c = compile([{ scope: 'global', doc: global }, { scope: 'product', doc: productDoc }, { scope: 'api', doc: serverDoc }, { scope: 'operation', doc: toolDoc }]);
        if (c) pt.set(t.name, c);
      }
      if (ps) products.set(p.name, { server: ps, tools: pt });
    }
    if (server) out.set(s.name, { server, tools, products, validatesTokens: validates, issuers: [...new Set(issuers)] });
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
