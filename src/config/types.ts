/**
 * The runtime form of the configuration: defaulted, resolved and frozen. Produced once by
 * `loadConfig` (config/load.ts) from gatehouse.yaml; nothing else reads the raw YAML.
 */
import type { RawConfig } from './schema.js';
import type { OpenApiTool } from '../openapi/types.js';

export interface NamedValue {
  readonly value: string;
  readonly secret: boolean;
}

export interface BackendConfig {
  /** Backend URL (for MCP backends: the MCP endpoint or, for sse, the SSE endpoint). */
  readonly url: string;
  readonly transport: 'streamable-http' | 'sse';
  readonly timeoutMs: number;
}

export interface ToolConfig {
  /** the MCP tool name (openapi servers: the configured name, or the operation until the import names it) */
  readonly name: string;
  readonly policies?: PolicySource;
  readonly scopes: readonly string[];
  /** openapi servers: the operation (operationId or "METHOD /path") */
  readonly operation?: string;
  /** openapi servers: a description replacing the document's */
  readonly description?: string;
}

/** Where a policy document came from: a file (path absolute) or inline XML in the config. */
export interface PolicySource {
  readonly file?: string;
  readonly xml: string;
}

/**
 * A server: a passthrough MCP server, or (type openapi) a REST API whose operations the gateway
 * serves as MCP tools. Both share this shape so routing, policies and security treat them alike; for
 * an openapi server `backend.url` is the REST base URL (empty until the document's server is
 * resolved at start) and `openapi` says where the document is.
 */
export interface PassthroughServerConfig {
  readonly name: string;
  readonly type: 'passthrough' | 'openapi';
  /** openapi servers: the document (absolute file path or URL) and whether `tools` selects (else: every operation) */
  readonly openapi?: { readonly source: string; readonly selected: boolean; readonly tools: readonly OpenApiTool[] };
  readonly backend: BackendConfig;
  /** lower-cased header names that may be copied from the client to the backend */
  readonly forwardHeaders: readonly string[];
  readonly allowTools: readonly string[] | undefined;
  readonly denyTools: readonly string[];
  readonly tools: readonly ToolConfig[];
  readonly policies?: PolicySource;
  /** per-caller tool access rules on token claims */
  readonly toolAccess: readonly ToolAccessRule[];
  readonly resourceMetadata?: {
    readonly authorizationServers: readonly string[];
    readonly scopes: readonly string[];
    readonly resourceName?: string;
    readonly resourceDocumentation?: string;
  };
}

export type ServerConfig = PassthroughServerConfig;

/** a tool matching `tools` is listed and callable only for callers whose `claim` holds one of `values` */
export interface ToolAccessRule {
  readonly tools: readonly string[];
  readonly claim: string;
  readonly values: readonly string[];
}

/** a certificate of `certificates` (PEM text, files read at load) */
export interface CertificateConfig {
  readonly cert: string;
  readonly key?: string;
  readonly passphrase?: string;
}

/** An APIM product: a bundle of servers that subscriptions grant. */
export interface ProductConfig {
  readonly name: string;
  /** server names (all servers, also those of types the runtime does not serve yet) */
  readonly servers: readonly string[];
  /** default true */
  readonly subscriptionRequired: boolean;
  readonly policies?: PolicySource;
}

export interface GatewaySettings {
  readonly host: string;
  readonly port: number;
  /** canonical base URL without a trailing slash */
  readonly publicUrl: string;
  /** exact origins ("https://app.example.com") allowed in the Origin header; loopback origins are always allowed when bound to loopback */
  readonly allowedOrigins: readonly string[];
  /** Host header values accepted (host or host:port, lower case); empty = any (not bound to loopback) */
  readonly allowedHosts: readonly string[];
  readonly trustProxy: boolean;
  readonly maxBodyBytes: number;
  readonly drainTimeoutMs: number;
  readonly sessionTtlMs: number;
  /** Entra ID authority for validate-azure-ad-token, without a trailing slash */
  readonly entraAuthority: string;
  /** worker processes sharing the listener (`gateway.workers`; "auto" resolved to the CPU count) */
  readonly workers: number;
}

export interface GatewayConfig {
  /** absolute path of the config file, or undefined for the built-in quickstart */
  readonly file: string | undefined;
  /** folder relative paths resolve against */
  readonly baseDir: string;
  readonly gateway: GatewaySettings;
  readonly store: string;
  readonly cache: string;
  readonly namedValues: ReadonlyMap<string, NamedValue>;
  readonly servers: readonly ServerConfig[];
  /** global-scope policy document (`policies` at the top level); set by loadConfig */
  readonly policies?: PolicySource;
  /** policy fragments by id (`fragments`); always set by loadConfig (optional for hand-built configs) */
  readonly fragments?: ReadonlyMap<string, PolicySource>;
  /** certificates by id (`certificates`); always set by loadConfig (optional for hand-built configs) */
  readonly certificates?: ReadonlyMap<string, CertificateConfig>;
  /** products (`products`); always set by loadConfig (optional for hand-built configs) */
  readonly products?: readonly ProductConfig[];
  /** the validated raw document (after env/named-value substitution); keys not yet used by the runtime live here */
  readonly raw: RawConfig;
}

/** One problem found in a config or policy file, printed as FILE:LINE:COL: message. */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

export const DEFAULTS = {
  listen: '127.0.0.1:8080',
  store: 'sqlite:./.gatehouse/gatehouse.db',
  cache: 'memory',
  maxBodyBytes: 4 * 1024 * 1024,
  backendTimeoutSeconds: 30,
  drainTimeoutSeconds: 10,
  sessionTtlSeconds: 3600,
  entraAuthority: 'https://login.microsoftonline.com',
} as const;
