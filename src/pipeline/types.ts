/**
 * The policy pipeline's shapes. A policy module (src/policies/<name>.ts) exports one
 * `PolicyDefinition`: where the policy may appear, which attributes and child elements it knows, and
 * `compile()`, which validates everything at load time and returns a `CompiledPolicy` whose `run()`
 * is all that happens per request. Nothing is parsed per request.
 */
import type { PolicyElement, SectionName } from '../policy/document.js';
import type { Scope } from '../policy/compose.js';
import type { Cache } from '../cache/types.js';
import type { Logger } from '../observability/logger.js';
import type { PipelineContext } from './context.js';
import type { OpenIdConfigCache } from '../auth/openid-config.js';
import type { CredentialManager } from '../credentials/manager.js';

export type Section = SectionName;

export interface SourceRef {
  readonly file?: string | undefined;
  readonly line: number;
  readonly col: number;
}

/** A value that may be a literal or an `@(...)`/`@{...}` expression, resolved per request. */
export type ValueGetter<T> = (ctx: PipelineContext) => T;

export interface AttributeSpec {
  /** the attribute must be present */
  readonly required?: boolean;
  /** `@(...)` allowed (APIM: "Policy expressions are allowed") — default true */
  readonly expressions?: boolean;
}

/** a certificate of the config's `certificates` (PEM text), for `certificate-id` */
export interface CertificateMaterial {
  readonly cert: string;
  readonly key?: string | undefined;
  readonly passphrase?: string | undefined;
}

/** what the token-validation policies share across the gateway */
export interface AuthServices {
  /** discovery documents and key sets by URL (one cache per gateway) */
  readonly openid: OpenIdConfigCache;
  readonly certificates: ReadonlyMap<string, CertificateMaterial>;
  /** the Entra ID authority of validate-azure-ad-token (`gateway.entraAuthority`) */
  readonly entraAuthority: string;
  /** the gateway's own public URL: its discovery (the AS facade) is not prefetched at load — nothing listens yet */
  readonly publicUrl?: string;
}

export interface CompileServices {
  /** token validation; created from defaults when absent (validate, policy test) */
  readonly auth?: AuthServices;
  /** the credential manager (get-authorization-context, authentication-managed-identity); absent in offline checks */
  readonly credentials?: CredentialManager;
  /** providers and connections of the config (load-time checks of literal provider-id / authorization-id) */
  readonly credentialNames?: ReadonlyMap<string, ReadonlySet<string>>;
  /** the gateway's own identity (`identity` in the config) */
  readonly identity?: { readonly provider: string; readonly connection: string };
  readonly cache?: Cache;
  readonly logger?: Logger;
  /** named backends of the config (`backends:`) for set-backend-service backend-id */
  readonly backends: ReadonlyMap<string, { url: string; timeoutMs: number }>;
}

export interface CompileContext {
  readonly section: Section;
  readonly scope: Scope;
  /** `choose[1]/when[2]`-style path of the element being compiled (APIM LastError.Path) */
  readonly path: string;
  readonly services: CompileServices;
  /** record a load-time problem at a node (compilation goes on so every problem is reported) */
  problem(at: SourceRef, message: string): void;
  /** a string attribute: literal or expression */
  string(el: PolicyElement, name: string): ValueGetter<string> | undefined;
  /** an attribute's value with its expression result uncoerced (C# type kept); literals as strings */
  rawValue(el: PolicyElement, name: string): ValueGetter<unknown> | undefined;
  /** a text value (element text): literal or expression */
  text(el: PolicyElement): ValueGetter<string> | undefined;
  /** element text with its expression result uncoerced */
  rawText(el: PolicyElement): ValueGetter<unknown> | undefined;
  /** a boolean attribute: "true"/"false" or an expression; `def` when absent */
  bool(el: PolicyElement, name: string, def: boolean): ValueGetter<boolean>;
  /** an integer attribute (literal or expression) within [min, max] */
  int(el: PolicyElement, name: string, opts: { min?: number; max?: number }): ValueGetter<number> | undefined;
  /** one of the given words (no expressions) */
  choice<T extends string>(el: PolicyElement, name: string, values: readonly T[], def: T): T;
  /** compile child policies (control flow: when/otherwise bodies, retry, limit-concurrency) */
  policies(children: readonly PolicyElement[], pathPrefix: string): CompiledPolicy[];
}

export interface CompiledPolicy {
  readonly name: string;
  /** the element's optional `id` attribute (APIM LastError.PolicyId) */
  readonly id: string | undefined;
  readonly scope: Scope;
  readonly path: string;
  readonly at: SourceRef;
  run(ctx: PipelineContext): void | Promise<void>;
}

export interface PolicyDefinition {
  readonly name: string;
  readonly sections: readonly Section[];
  /** known attributes; any other attribute is a load-time error (`id` is always allowed) */
  readonly attributes: Readonly<Record<string, AttributeSpec>>;
  /** known child element names; undefined = no children allowed; '*' = any policy (control flow) */
  readonly children?: readonly string[] | '*';
  /** element text allowed */
  readonly text?: boolean;
  compile(el: PolicyElement, cc: CompileContext): Omit<CompiledPolicy, 'name' | 'id' | 'scope' | 'path' | 'at'>;
}
