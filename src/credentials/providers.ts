/**
 * Credential providers (PRODUCT §3 `credentials.providers`): where a provider's authorization and
 * token endpoints are, and how the gateway authenticates to them.
 *
 * - `oauth2`: generic; `authorizationUrl`, `tokenUrl` (and `refreshUrl`, default tokenUrl) given.
 * - `github`: GitHub's endpoints (overridable for GitHub Enterprise with the same keys); JSON asked
 *   for explicitly, client secret in the body, no PKCE by default.
 * - `entra`: Microsoft Entra ID v2 endpoints of `tenantId` (default `common`) under `authority`
 *   (default https://login.microsoftonline.com; sovereign clouds and tests point it elsewhere).
 */
import type { RawConfig } from '../config/schema.js';

export interface ProviderConfig {
  readonly name: string;
  readonly type: 'oauth2' | 'github' | 'entra';
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  readonly authorizationUrl: string | undefined;
  readonly tokenUrl: string;
  readonly refreshUrl: string;
  readonly clientAuth: 'basic' | 'post';
  readonly pkce: boolean;
  readonly scopes: readonly string[];
  /** RFC 8707 resource (or Entra's v1-style resource) asked for with client credentials */
  readonly resource: string | undefined;
  readonly connections: ReadonlyMap<string, ConnectionConfig>;
}

export interface ConnectionConfig {
  readonly name: string;
  readonly grant: 'authorization-code' | 'client-credentials';
  /** who may use it: the gateway itself, or callers whose validated token has a claim value */
  readonly accessPolicies: readonly ({ readonly identity: 'managed' } | { readonly claim: string; readonly value: string })[];
  /** user-delegated: one connection (and token set) per caller */
  readonly perUser: boolean;
}

type RawProvider = NonNullable<NonNullable<RawConfig['credentials']>['providers']>[number];

export function providerOf(p: RawProvider): ProviderConfig {
  let authorizationUrl = p.authorizationUrl;
  let tokenUrl = p.tokenUrl;
  let clientAuth: 'basic' | 'post' = p.clientAuth ?? 'basic';
  let pkce = p.pkce ?? true;
  if (p.type === 'github') {
    authorizationUrl ??= 'https://github.com/login/oauth/authorize';
    tokenUrl ??= 'https://github.com/login/oauth/access_token';
    clientAuth = p.clientAuth ?? 'post';
    pkce = p.pkce ?? false;
  } else if (p.type === 'entra') {
    const base = `${(p.authority ?? 'https://login.microsoftonline.com').replace(/\/+$/, '')}/${p.tenantId ?? 'common'}/oauth2/v2.0`;
    authorizationUrl ??= `${base}/authorize`;
    tokenUrl ??= `${base}/token`;
    clientAuth = p.clientAuth ?? 'post';
  }
  if (!tokenUrl) throw new Error(`credential provider "${p.name}" needs a tokenUrl`);
  const clientSecret = typeof p.clientSecret === 'string' ? p.clientSecret : undefined;
  return {
    name: p.name,
    type: p.type,
    clientId: p.clientId,
    clientSecret,
    authorizationUrl,
    tokenUrl,
    refreshUrl: p.refreshUrl ?? tokenUrl,
    clientAuth,
    pkce,
    scopes: [...(p.scopes ?? [])],
    resource: p.resource,
    connections: new Map((p.connections ?? []).map((c) => [c.name, { name: c.name, grant: c.grant, accessPolicies: c.accessPolicies ?? [{ identity: 'managed' as const }], perUser: c.perUser ?? false }])),
  };
}
