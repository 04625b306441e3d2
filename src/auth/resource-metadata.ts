/**
 * Protected Resource Metadata (RFC 9728) for every protected server, and the root fallback.
 *
 * A server is protected when its config has `resourceMetadata`, when one of its pipelines validates
 * tokens (validate-jwt / validate-azure-ad-token), or when it declares tool scopes or tool-access
 * rules. Its resource identifier is `{publicUrl}/NAME/mcp`; its document is served at
 * `/.well-known/oauth-protected-resource{path}/NAME/mcp` (and, as APIM's samples do, at
 * `{path}/NAME/mcp/.well-known/oauth-protected-resource`). `authorization_servers` comes from
 * `resourceMetadata.authorizationServers`, else from the issuers the server's token policies name,
 * else from the gateway's own authorization server (`authorization`); with none, no document is
 * served and the start logs why. The root `/.well-known/oauth-protected-resource` describes the
 * gateway as a whole (resource = publicUrl) for clients that fall back to it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayConfig, PassthroughServerConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { metadataUrlOf, type ProtectedResource } from './challenge.js';

export interface ServerProtection {
  readonly validatesTokens: boolean;
  readonly issuers: readonly string[];
}

interface Doc {
  readonly resource: ProtectedResource;
  readonly body: string;
}

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

export class ResourceMetadata {
  readonly #byServer = new Map<string, Doc>();
  readonly #byPath = new Map<string, Doc>();
  readonly #resources = new Map<string, ProtectedResource>();
  #root: string | undefined;

  constructor(config: GatewayConfig, protection: ReadonlyMap<string, ServerProtection>, logger?: Logger) {
    const publicUrl = config.gateway.publicUrl;
    const basePath = new URL(publicUrl).pathname.replace(/\/$/, '');
    const facade = config.raw.authorization ? [(config.raw.authorization.issuer ?? publicUrl).replace(/\/$/, '')] : [];
    const allAs = new Set<string>();
    const allScopes = new Set<string>();
    for (const s of config.servers) {
      const p = protection.get(s.name);
      if (!isProtected(s, p)) continue;
      const rm = s.resourceMetadata;
      const id = `${publicUrl}/${s.name}/mcp`;
      const as = rm?.authorizationServers.length ? [...rm.authorizationServers] : p?.issuers.length ? [...p.issuers] : facade;
      const scopes = rm?.scopes ?? [];
      if (as.length === 0) {
        logger?.warn({ server: s.name }, `server "${s.name}" validates tokens but no authorization server is known for its Protected Resource Metadata: set servers[].resourceMetadata.authorizationServers`);
        this.#resources.set(s.name, { id, metadataUrl: undefined, scopes });
        continue;
      }
      const resource: ProtectedResource = { id, metadataUrl: metadataUrlOf(id), scopes };
      const doc: Record<string, unknown> = { resource: id, authorization_servers: as };
      if (scopes.length > 0) doc.scopes_supported = [...scopes];
      doc.bearer_methods_supported = ['header'];
      if (rm?.resourceName) doc.resource_name = rm.resourceName;
      if (rm?.resourceDocumentation) doc.resource_documentation = rm.resourceDocumentation;
      const entry = { resource, body: JSON.stringify(doc) };
      this.#byServer.set(s.name, entry);
      this.#resources.set(s.name, resource);
      this.#byPath.set(`${WELL_KNOWN}${basePath}/${s.name}/mcp`, entry);
      this.#byPath.set(`${basePath}/${s.name}/mcp${WELL_KNOWN}`, entry);
      for (const a of as) allAs.add(a);
      for (const sc of scopes) allScopes.add(sc);
    }
    if (allAs.size > 0) {
      const root: Record<string, unknown> = { resource: publicUrl, authorization_servers: [...allAs] };
      if (allScopes.size > 0) root.scopes_supported = [...allScopes];
      root.bearer_methods_supported = ['header'];
      this.#root = JSON.stringify(root);
      if (basePath) this.#byPath.set(`${WELL_KNOWN}${basePath}`, { resource: { id: publicUrl, metadataUrl: metadataUrlOf(publicUrl), scopes: [...allScopes] }, body: this.#root });
    }
  }

  /** the protected resource of a server (undefined: the server is not protected) */
  resourceOf(server: string): ProtectedResource | undefined {
    return this.#resources.get(server);
  }

  /** serve a metadata request; false when the path is not a metadata path */
  handle(path: string, req: IncomingMessage, res: ServerResponse): boolean {
    if (!path.startsWith(WELL_KNOWN) && !path.endsWith(WELL_KNOWN)) return false;
    const body = path === WELL_KNOWN ? this.#root : this.#byPath.get(path)?.body;
    if (body === undefined) return false;
    res.setHeader('access-control-allow-origin', '*');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': 'GET, OPTIONS', 'access-control-allow-headers': 'mcp-protocol-version, content-type, authorization', 'access-control-max-age': '86400' });
      res.end();
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, OPTIONS', 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'method_not_allowed' }));
      return true;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600', 'content-length': String(Buffer.byteLength(body)) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
}

function isProtected(s: PassthroughServerConfig, p: ServerProtection | undefined): boolean {
  return s.resourceMetadata !== undefined || (p?.validatesTokens ?? false) || s.tools.some((t) => t.scopes.length > 0) || s.toolAccess.length > 0;
}
