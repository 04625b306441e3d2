/**
 * The MCP resource-server face of a protected server (MCP 2025-11-25 §Authorization, RFC 9728,
 * RFC 6750 §3): its canonical resource identifier, where its Protected Resource Metadata lives, and
 * the `WWW-Authenticate: Bearer ...` challenges of 401 and 403 answers.
 */
export interface ProtectedResource {
  /** canonical resource identifier: `{publicUrl}/NAME/mcp` */
  readonly id: string;
  /** URL of its RFC 9728 document: `{origin}/.well-known/oauth-protected-resource{path of id}` (undefined: not served) */
  readonly metadataUrl: string | undefined;
  /** baseline scopes (`scopes_supported`, the 401 challenge's `scope`) */
  readonly scopes: readonly string[];
}

/** `https://gw/x/mcp` → `https://gw/.well-known/oauth-protected-resource/x/mcp` (RFC 9728 §3.1) */
export function metadataUrlOf(resource: string): string {
  const u = new URL(resource);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  return `${u.origin}/.well-known/oauth-protected-resource${path}`;
}

/** quoted-string content: no quotes, backslashes or control characters */
const q = (s: string): string => s.replace(/["\\\u0000-\u001f\u007f]/g, '');

export interface ChallengeInit {
  /** omitted when the request carried no token at all (RFC 6750 §3.1) */
  readonly error?: 'invalid_token' | 'insufficient_scope' | 'invalid_request';
  readonly description?: string;
  /** scopes named in the challenge; default the resource's baseline */
  readonly scopes?: readonly string[];
}

export function bearerChallenge(resource: ProtectedResource | undefined, init: ChallengeInit = {}): string {
  const params: string[] = [];
  if (init.error) params.push(`error="${init.error}"`);
  if (init.description) params.push(`error_description="${q(init.description).slice(0, 200)}"`);
  if (resource?.metadataUrl) params.push(`resource_metadata="${q(resource.metadataUrl)}"`);
  const scopes = init.scopes ?? resource?.scopes ?? [];
  if (scopes.length > 0) params.push(`scope="${q(scopes.join(' '))}"`);
  return params.length > 0 ? `Bearer ${params.join(', ')}` : 'Bearer';
}
