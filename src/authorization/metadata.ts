/** The authorization server metadata (RFC 8414, OpenID Connect Discovery) and the paths it is served at. */

export interface ServerMetadata {
  /** the metadata document, serialized */
  readonly json: string;
  readonly paths: ReadonlySet<string>;
}

export function serverMetadata(m: {
  readonly issuer: string;
  readonly publicUrl: string;
  readonly basePath: string;
  readonly dynamic: boolean;
  readonly cimd: boolean;
  readonly scopes: readonly string[];
}): ServerMetadata {
  const doc: Record<string, unknown> = {
    issuer: m.issuer,
    authorization_endpoint: `${m.publicUrl}/authorize`,
    token_endpoint: `${m.publicUrl}/token`,
    ...(m.dynamic ? { registration_endpoint: `${m.publicUrl}/register` } : {}),
    revocation_endpoint: `${m.publicUrl}/revoke`,
    jwks_uri: `${m.publicUrl}/jwks`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
    revocation_endpoint_auth_methods_supported: ['none'],
    client_id_metadata_document_supported: m.cimd,
    authorization_response_iss_parameter_supported: true,
    ...(m.scopes.length > 0 ? { scopes_supported: [...m.scopes] } : {}),
    // OpenID Connect Discovery requires these; the facade issues access tokens only
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
  };
  // RFC 8414 §3 path insertion, OIDC Discovery path appending, for the issuer's path and the gateway's
  const paths = new Set<string>();
  for (const p of new Set([new URL(m.issuer).pathname.replace(/\/$/, ''), m.basePath])) {
    paths.add(`/.well-known/oauth-authorization-server${p}`);
    paths.add(`/.well-known/openid-configuration${p}`);
    paths.add(`${p}/.well-known/openid-configuration`);
    paths.add(`${p}/.well-known/oauth-authorization-server`);
  }
  return { json: JSON.stringify(doc), paths };
}
