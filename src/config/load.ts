/**
 * Loads gatehouse.yaml into the frozen runtime `GatewayConfig` (types.ts), or throws a
 * `ConfigError` (errors.ts) carrying EVERY problem found. Never prints anything.
 *
 * Steps: parse YAML (document API + LineCounter, for positions) → resolve `namedValues` →
 * substitute `{{name}}` and `{ env: VAR }` (substitute.ts) → validate against the zod schema
 * (schema.ts; issues turned into readable text by issues.ts) → cross-field checks and policy
 * documents (checks.ts) → normalize with defaults (DEFAULTS) → deep-freeze.
 *
 * Problem format (one consistent format everywhere): `FILE:LINE:COL: PATH: MESSAGE`
 *   FILE      absolute path of the config file; `<inline>` for text given without a file name;
 *             `<object>` for configFromObject without a file name.
 *   LINE:COL  1-based. At the offending value; at the key for an unknown or invalid key; at the
 *             enclosing object for a missing required key. Always 1:1 for configFromObject.
 *   PATH      JS-style path of the value concerned, e.g. `servers[0].backend.url`; for a problem
 *             about a key (unknown, missing, invalid) the path of the object holding it. Left out
 *             (with its `: `) for the top level and for YAML syntax problems.
 *   MESSAGE   lower-case text, e.g. `unknown key "foo"`, `expected string, got number`,
 *             `must be one of streamable-http, sse`, `invalid URL "notaurl"`. A value that carries
 *             secret material (a `secret: true` named value, a `{ env }` or any value of a
 *             secret-bearing field such as clientSecret) is shown as `(secret value)`.
 * Example: `gatehouse.yaml:7:12: servers[0].backend.url: invalid URL "notaurl"`.
 */
import { readFile } from 'node:fs/promises';
import * as net from 'node:net';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { LineCounter, isMap, isSeq, parseDocument } from 'yaml';
import { config as configSchema, type RawConfig, type RawPassthroughServer, type RawServer } from './schema.js';
import { ConfigError } from './errors.js';
import { issuesToProblems, typeName, type RawProblem } from './issues.js';
import { formatPath, objectLocator, YamlLocator, type Locator, type Path } from './positions.js';
import { resolveNamedValues, substitute } from './substitute.js';
import { importOpenApis, type ImportedServer } from './openapi-imports.js';
import { fsErrorText, readCertificates, readPolicies, semanticChecks, splitListen, toOrigin } from './checks.js';
import {
  DEFAULTS,
  type CertificateConfig,
  type GatewayConfig,
  type GatewaySettings,
  type NamedValue,
  type PassthroughServerConfig,
  type PolicySource,
  type Problem,
  type ProductConfig,
} from './types.js';

export { ConfigError, formatProblem } from './errors.js';

/** Shown instead of any value derived from a secret. */
export const SECRET_PLACEHOLDER = '(secret value)';

export interface LoadOptions {
  /** config file path (relative to `cwd`); also the name problems are reported under when `text` is given */
  file?: string;
  /** YAML text to parse instead of reading `file` */
  text?: string;
  /** environment for `{ env: VAR }`; default process.env */
  env?: NodeJS.ProcessEnv;
  /** folder `file` is relative to, and the base folder for inline text; default process.cwd() */
  cwd?: string;
}

/** Reads and validates a gatehouse.yaml. Throws ConfigError with every problem found. */
export async function loadConfig(opts: LoadOptions): Promise<GatewayConfig> {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const file = opts.file === undefined ? undefined : path.resolve(cwd, opts.file);
  const name = file ?? '<inline>';
  let text = opts.text;
  if (text === undefined) {
    if (file === undefined) throw new TypeError('loadConfig: either file or text is required');
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new ConfigError([{ file: name, line: 1, col: 1, message: `cannot read config file: ${fsErrorText(e)}` }]);
    }
  }

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  const locator = new YamlLocator(doc, lineCounter);
  const problems: Problem[] = [];
  let fatal = false;
  for (const err of doc.errors) {
    const pos = locator.at(err.pos[0]);
    if (err.code === 'DUPLICATE_KEY') {
      const key = locator.keyPathAt(err.pos[0]);
      const where = key ? formatPath(key.path.slice(0, -1)) : '';
      const what = key ? `duplicate key ${JSON.stringify(key.key)}` : 'duplicate key';
      problems.push({ file: name, ...pos, message: where ? `${where}: ${what}` : what });
    } else {
      fatal = true;
      problems.push({ file: name, ...pos, message: `invalid YAML: ${firstLine(err.message)}` });
    }
  }
  if (!fatal) {
    const root = doc.contents;
    if (root === null || root === undefined) {
      fatal = true;
      problems.push({ file: name, line: 1, col: 1, message: 'the config is empty: expected a mapping of settings (gateway, servers, ...)' });
    } else if (!isMap(root)) {
      fatal = true;
      const pos = locator.at(root.range?.[0] ?? 0);
      problems.push({ file: name, ...pos, message: `expected a mapping of settings at the top level, got ${isSeq(root) ? 'array' : 'a scalar'}` });
    }
  }
  if (fatal) throw new ConfigError(sortProblems(problems));

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError([{ file: name, line: 1, col: 1, message: `invalid YAML: ${firstLine(e instanceof Error ? e.message : String(e))}` }]);
  }
  return finish(data, { name, file, baseDir: file ? path.dirname(file) : cwd, env, locator, problems });
}

/**
 * Validates and normalizes a config given as a JS object (the built-in quickstart, tests).
 * Problems are reported under `opts.file` (default `<object>`) at 1:1, with the path in the message.
 */
export async function configFromObject(
  raw: unknown,
  opts: { file?: string; baseDir: string; env?: NodeJS.ProcessEnv },
): Promise<GatewayConfig> {
  const baseDir = path.resolve(opts.baseDir);
  const file = opts.file === undefined ? undefined : path.resolve(baseDir, opts.file);
  const name = file ?? '<object>';
  const problems: Problem[] = [];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push({ file: name, line: 1, col: 1, message: `expected a mapping of settings at the top level, got ${typeName(raw)}` });
    throw new ConfigError(problems);
  }
  return finish(raw, { name, file, baseDir, env: opts.env ?? process.env, locator: objectLocator, problems });
}

interface FinishContext {
  /** the name problems are reported under */
  name: string;
  /** absolute config file path, if any */
  file: string | undefined;
  baseDir: string;
  env: NodeJS.ProcessEnv;
  locator: Locator;
  /** problems found so far (YAML-level, non-fatal) */
  problems: Problem[];
}

async function finish(data: unknown, ctx: FinishContext): Promise<GatewayConfig> {
  const raw: RawProblem[] = [];
  const dataObj = data as Record<string, unknown>;
  const named = resolveNamedValues(dataObj.namedValues, ctx.env, raw);
  const sub = substitute(data, named, ctx.env, raw);
  const parsed = configSchema.safeParse(sub.document);
  const later: RawProblem[] = [];
  if (!parsed.success) later.push(...issuesToProblems(parsed.error.issues, sub.document));
  later.push(...semanticChecks(sub.document));
  const policies = await readPolicies(sub.document, ctx.baseDir, later);
  const certificates = await readCertificates(sub.document, ctx.baseDir, later);
  // OpenAPI documents only when the config is otherwise sound (their problems would be noise)
  const imports = parsed.success && later.length === 0 && raw.length === 0 ? await importOpenApis(parsed.data, ctx.baseDir, later) : new Map<number, ImportedServer>();
  // a string whose {{name}} did not resolve has its problem already; what the schema says about
  // the unsubstituted text ("invalid URL "{{x}}"") would only be noise
  raw.push(...later.filter((p) => !(p.anchor === 'value' && sub.unresolved.has(formatPath(p.path)))));

  const isSecretPath = (p: Path): boolean => {
    const f = formatPath(p);
    if (sub.secretPaths.has(f)) return true;
    for (const s of sub.secretPaths) if (f === '' || s.startsWith(`${f}.`) || s.startsWith(`${f}[`)) return true;
    return false;
  };
  const longSecrets = [...sub.secrets].filter((s) => s.length >= 6).sort((a, b) => b.length - a.length);
  const problems = [...ctx.problems];
  const seen = new Set(problems.map((p) => `${p.line}:${p.col}:${p.message}`));
  for (const p of raw) {
    let message = p.message;
    if (!p.safe && p.anchor === 'value' && isSecretPath(p.path)) {
      message = message.replace(/"(?:[^"\\]|\\.)*"/g, SECRET_PLACEHOLDER);
    }
    for (const s of longSecrets) message = message.split(s).join(SECRET_PLACEHOLDER);
    const subject = p.anchor === 'value' ? p.path : p.path.slice(0, -1);
    const where = formatPath(subject);
    const pos = ctx.locator.locate(p.path, p.anchor);
    const problem: Problem = { file: ctx.name, line: pos.line, col: pos.col, message: where ? `${where}: ${message}` : message };
    const key = `${problem.line}:${problem.col}:${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(sortProblems(problems));

  return deepFreeze(build(parsed.data, named.values, policies, certificates, imports, ctx));
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? s;
  return line.replace(/ at line \d+, column \d+:?$/, '').trim();
}

function sortProblems(problems: readonly Problem[]): Problem[] {
  // stable: problems at the same position keep the order they were found in
  return [...problems].sort((a, b) => (a.file === b.file ? 0 : a.file < b.file ? -1 : 1) || a.line - b.line || a.col - b.col);
}

// ---------------------------------------------------------------------------------------------
// normalization (only runs on a document without problems)

function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) {
    if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return !!mapped && (mapped[1] ?? '').startsWith('127.');
  }
  return false;
}

function normalizePublicUrl(s: string): string {
  const url = new URL(s);
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

function buildGateway(r: RawConfig): GatewaySettings {
  const g = r.gateway ?? {};
  const listen = splitListen(g.listen ?? DEFAULTS.listen);
  if (!listen) throw new Error(`unreachable: listen ${String(g.listen)} passed the schema`);
  const { host, port } = listen;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const publicUrl = g.publicUrl !== undefined ? normalizePublicUrl(g.publicUrl) : `http://${urlHost}:${port}`;
  let allowedHosts: string[];
  if (g.allowedHosts !== undefined) {
    allowedHosts = g.allowedHosts.map((h) => h.toLowerCase());
  } else if (isLoopbackHost(host)) {
    allowedHosts = ['localhost', '127.0.0.1', '[::1]'];
    const publicHost = new URL(publicUrl).hostname.toLowerCase();
    if (!allowedHosts.includes(publicHost)) allowedHosts.push(publicHost);
  } else {
    allowedHosts = [];
  }
  return {
    host,
    port,
    publicUrl,
    allowedOrigins: [...new Set((g.allowedOrigins ?? []).map((o) => toOrigin(o) ?? o))],
    allowedHosts,
    trustProxy: g.trustProxy ?? false,
    maxBodyBytes: g.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
    drainTimeoutMs: Math.round((g.drainTimeout ?? DEFAULTS.drainTimeoutSeconds) * 1000),
    sessionTtlMs: Math.round((g.sessionTtl ?? DEFAULTS.sessionTtlSeconds) * 1000),
    entraAuthority: (g.entraAuthority ?? DEFAULTS.entraAuthority).replace(/\/+$/, ''),
    workers: g.workers === 'auto' ? Math.min(64, Math.max(1, availableParallelism())) : (g.workers ?? 1),
  };
}

function buildStore(store: string, baseDir: string): string {
  if (!store.startsWith('sqlite:')) return store;
  const p = store.slice('sqlite:'.length).trim();
  if (p === ':memory:') return store;
  return `sqlite:${path.resolve(baseDir, p)}`;
}

function withPolicies<T extends object>(obj: T, source: PolicySource | undefined): T & { policies?: PolicySource } {
  return source === undefined ? obj : { ...obj, policies: source };
}

function buildServer(s: RawPassthroughServer, i: number, policies: Map<string, PolicySource>): PassthroughServerConfig {
  const server: PassthroughServerConfig = {
    name: s.name,
    type: 'passthrough',
    backend: {
      url: s.backend.url,
      transport: s.backend.transport ?? 'streamable-http',
      timeoutMs: Math.round((s.backend.timeout ?? DEFAULTS.backendTimeoutSeconds) * 1000),
    },
    forwardHeaders: [...new Set((s.forwardHeaders ?? []).map((h) => h.toLowerCase()))],
    allowTools: s.allowTools === undefined ? undefined : [...s.allowTools],
    denyTools: [...(s.denyTools ?? [])],
    toolAccess: (s.toolAccess ?? []).map((r) => ({ tools: [...r.tools], claim: r.claim, values: [...r.values] })),
    tools: (s.tools ?? []).map((t, j) => withPolicies(
      { name: t.name, scopes: [...(t.scopes ?? [])] },
      policies.get(formatPath(['servers', i, 'tools', j, 'policies'])),
    )),
  };
  const withP = withPolicies(server, policies.get(formatPath(['servers', i, 'policies'])));
  return withResourceMetadata(withP, s.resourceMetadata);
}

function withResourceMetadata(server: PassthroughServerConfig, rm: RawPassthroughServer['resourceMetadata']): PassthroughServerConfig {
  if (rm === undefined) return server;
  return {
    ...server,
    resourceMetadata: {
      authorizationServers: [...(rm.authorizationServers ?? [])],
      scopes: [...(rm.scopes ?? [])],
      ...(rm.resourceName === undefined ? {} : { resourceName: rm.resourceName }),
      ...(rm.resourceDocumentation === undefined ? {} : { resourceDocumentation: rm.resourceDocumentation }),
    },
  };
}

type RawOpenApiServer = Extract<RawServer, { type: 'openapi' }>;

function buildOpenApiServer(s: RawOpenApiServer, i: number, policies: Map<string, PolicySource>, baseDir: string, imported: ImportedServer | undefined): PassthroughServerConfig {
  const src = s.openapi.trim();
  const tools = imported?.tools ?? [];
  const server: PassthroughServerConfig = {
    name: s.name,
    type: 'openapi',
    openapi: { source: /^https?:\/\//i.test(src) ? src : path.resolve(baseDir, src), selected: s.tools !== undefined, tools },
    backend: {
      url: imported?.baseUrl ?? s.backend?.url ?? '',
      transport: 'streamable-http',
      timeoutMs: Math.round((s.backend?.timeout ?? DEFAULTS.backendTimeoutSeconds) * 1000),
    },
    forwardHeaders: [...new Set((s.forwardHeaders ?? []).map((h) => h.toLowerCase()))],
    allowTools: s.allowTools === undefined ? undefined : [...s.allowTools],
    denyTools: [...(s.denyTools ?? [])],
    toolAccess: (s.toolAccess ?? []).map((r) => ({ tools: [...r.tools], claim: r.claim, values: [...r.values] })),
    // the selection, in order, named as the import named it (per-tool policies and scopes by tool name)
    tools: (s.tools ?? []).map((t, j) => withPolicies(
      {
        name: tools[j]?.name ?? t.name ?? t.operation,
        operation: t.operation,
        scopes: [...(t.scopes ?? [])],
        ...(t.description === undefined ? {} : { description: t.description }),
      },
      policies.get(formatPath(['servers', i, 'tools', j, 'policies'])),
    )),
  };
  return withResourceMetadata(withPolicies(server, policies.get(formatPath(['servers', i, 'policies']))), s.resourceMetadata);
}

function build(
  r: RawConfig,
  namedValues: Map<string, NamedValue>,
  policies: Map<string, PolicySource>,
  certificates: Map<string, CertificateConfig>,
  imports: Map<number, ImportedServer>,
  ctx: FinishContext,
): GatewayConfig {
  const servers: PassthroughServerConfig[] = [];
  (r.servers ?? []).forEach((s, i) => {
    servers.push(s.type === 'passthrough' ? buildServer(s, i, policies) : buildOpenApiServer(s, i, policies, ctx.baseDir, imports.get(i)));
  });
  const products: ProductConfig[] = (r.products ?? []).map((p, i) => withPolicies(
    { name: p.name, servers: [...p.servers], subscriptionRequired: p.subscriptionRequired ?? true },
    policies.get(formatPath(['products', i, 'policies'])),
  ));
  const fragments = new Map<string, PolicySource>();
  for (const id of Object.keys(r.fragments ?? {})) {
    const source = policies.get(formatPath(['fragments', id]));
    if (source) fragments.set(id, source);
  }
  const global = policies.get(formatPath(['policies']));
  return {
    file: ctx.file,
    baseDir: ctx.baseDir,
    gateway: buildGateway(r),
    store: buildStore(r.store ?? DEFAULTS.store, ctx.baseDir),
    cache: r.cache ?? DEFAULTS.cache,
    namedValues: new Map(namedValues),
    servers,
    ...(global === undefined ? {} : { policies: global }),
    fragments,
    products,
    certificates,
    raw: r,
  };
}

// ---------------------------------------------------------------------------------------------

function refuseMutation(): never {
  throw new TypeError('the configuration is frozen');
}

/** Freezes `value` and everything reachable from it; Maps and Sets also refuse set/add/delete/clear. */
export function deepFreeze<T>(value: T, seen = new WeakSet<object>()): T {
  if (value === null || typeof value !== 'object' || seen.has(value)) return value;
  seen.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) { deepFreeze(k, seen); deepFreeze(v, seen); }
    for (const m of ['set', 'delete', 'clear'] as const) Object.defineProperty(value, m, { value: refuseMutation });
  } else if (value instanceof Set) {
    for (const v of value) deepFreeze(v, seen);
    for (const m of ['add', 'delete', 'clear'] as const) Object.defineProperty(value, m, { value: refuseMutation });
  } else {
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key], seen);
  }
  return Object.freeze(value);
}
