/**
 * The OAuth 2.1 authorization-server facade (PRODUCT §1.5, MCP 2025-11-25 §Authorization and
 * Security Best Practices §Confused deputy): MCP clients register (DCR or Client ID Metadata
 * Documents), authorize with PKCE S256 and a resource indicator, approve a gateway-owned consent
 * page per client, log in at the upstream OpenID provider (the gateway's static client id, its own
 * PKCE, state and nonce), and receive gateway-signed JWT access tokens (aud = the MCP server's
 * resource) plus rotating refresh tokens. Upstream tokens stay server-side, sealed.
 *
 * Endpoints (relative to publicUrl): /.well-known/oauth-authorization-server,
 * /.well-known/openid-configuration, /jwks, /register, /authorize, /consent, /oauth/callback,
 * /token, /revoke.
 *
 * State lives in the Store so it survives restarts and is shared by replicas:
 *   as-signing-key  the RS256 key pairs (private keys sealed; rotation: signing-keys.ts)
 *   as-client       dynamically registered clients
 *   as-request      pending authorization requests awaiting consent (10 min)
 *   as-state        upstream login states, single use (10 min), created only after consent
 *   as-consent      consent registry: per upstream user per client_id
 *   as-code         authorization codes (hash as id), single use, 60 s
 *   as-refresh      refresh-token families (rotation, reuse detection)
 *   as-upstream     upstream token responses (sealed)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayConfig } from '../config/types.js';
import type { Cache } from '../cache/types.js';
import type { Store } from '../store/types.js';
import type { Logger } from '../observability/logger.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { ssrfFromEnv } from '../policies/http/ssrf.js';
import { ClientRegistry } from './clients.js';
import { SigningKeys } from './signing-keys.js';
import { Upstream } from './upstream.js';
import { OAuthError, corsHeaders, methodNotAllowed, RateLimiter, sendOAuthError, sendPreflight } from './http.js';
import type { FacadeContext } from './context.js';
import { canonicalResource } from './resources.js';
import { serverMetadata } from './metadata.js';
import { register } from './register.js';
import { authorize } from './authorize.js';
import { consent } from './consent.js';
import { callback } from './callback.js';
import { token } from './token.js';
import { revoke } from './revoke.js';

export { canonicalResource } from './resources.js';

export interface AuthorizationFacadeOptions {
  readonly store: Store;
  /** shares the registration and authorization rate limits with other workers and replicas */
  readonly cache?: Cache;
  readonly box: SecretBox;
  readonly logger?: Logger;
  /** clock (tests) */
  readonly now?: () => number;
  /**
   * accept Client ID Metadata Documents at http loopback URLs (tests). Honoured only when
   * GATEHOUSE_SSRF_BLOCK_PRIVATE is off; otherwise loopback and private addresses are refused.
   */
  readonly allowLoopbackMetadataDocuments?: boolean;
  /**
   * extra CA certificates (PEM) trusted, besides the system's, when fetching Client ID Metadata
   * Documents (tests: a metadata document served over https with a self-signed certificate)
   */
  readonly metadataDocumentCa?: string | readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

export const DEFAULT_ACCESS_TTL_S = 3600;
const DEFAULT_REFRESH_TTL_S = 30 * 24 * 3600;

export class AuthorizationFacade {
  readonly issuer: string;
  readonly #basePath: string;
  readonly #ctx: FacadeContext;
  readonly #metadata: string;
  readonly #metadataPaths: ReadonlySet<string>;

  private constructor(config: GatewayConfig, keys: SigningKeys, opts: AuthorizationFacadeOptions) {
    const a = config.raw.authorization;
    if (!a) throw new Error('the authorization server facade needs `authorization` in the config');
    const publicUrl = config.gateway.publicUrl.replace(/\/$/, '');
    const basePath = new URL(publicUrl).pathname.replace(/\/$/, '');
    this.#basePath = basePath;
    this.issuer = (a.issuer ?? publicUrl).replace(/\/$/, '');
    const now = opts.now ?? Date.now;
    const env = opts.env ?? process.env;
    const dynamic = a.registration?.dynamic ?? true;
    const cimd = a.registration?.clientIdMetadataDocuments ?? true;
    const clients = new ClientRegistry(opts.store, {
      dynamic,
      metadataDocuments: cimd,
      allowLoopbackMetadataDocuments: (opts.allowLoopbackMetadataDocuments ?? false) && !ssrfFromEnv(env).blockPrivate,
      ...(opts.metadataDocumentCa !== undefined ? { ca: typeof opts.metadataDocumentCa === 'string' ? [opts.metadataDocumentCa] : [...opts.metadataDocumentCa] } : {}),
      now,
    });
    const secret = a.upstream.clientSecret;
    const upstream = new Upstream({
      issuer: a.upstream.issuer,
      clientId: a.upstream.clientId,
      clientSecret: typeof secret === 'string' ? secret : secret ? env[secret.env] : undefined,
      scopes: a.upstream.scopes ?? ['openid', 'profile'],
      redirectUri: `${publicUrl}/oauth/callback`,
    });
    const resources = new Map<string, string>();
    resources.set(canonicalResource(publicUrl)!, publicUrl);
    const scopeSet = new Set<string>();
    for (const s of config.servers) {
      const id = `${publicUrl}/${s.name}/mcp`;
      resources.set(canonicalResource(id)!, id);
      for (const sc of s.resourceMetadata?.scopes ?? []) scopeSet.add(sc);
      for (const t of s.tools) for (const sc of t.scopes) scopeSet.add(sc);
    }
    const scopes = [...scopeSet];
    this.#ctx = {
      issuer: this.issuer,
      publicUrl,
      basePath,
      store: opts.store,
      box: opts.box,
      logger: opts.logger,
      now,
      keys,
      clients,
      upstream,
      resources,
      scopes,
      accessTtl: a.tokens?.accessTokenTtl ?? DEFAULT_ACCESS_TTL_S,
      refreshTtl: a.tokens?.refreshTokenTtl ?? DEFAULT_REFRESH_TTL_S,
      cookies: { secure: publicUrl.startsWith('https:') },
      trustProxy: config.gateway.trustProxy,
      registerLimit: new RateLimiter('register', 20, 60 * 60_000, now, opts.cache),
      authorizeLimit: new RateLimiter('authorize', 60, 60_000, now, opts.cache),
    };
    const metadata = serverMetadata({ issuer: this.issuer, publicUrl, basePath, dynamic, cimd, scopes });
    this.#metadata = metadata.json;
    this.#metadataPaths = metadata.paths;
  }

  static async create(config: GatewayConfig, opts: AuthorizationFacadeOptions): Promise<AuthorizationFacade> {
    const keys = await SigningKeys.load(opts.store, opts.box, opts.now ? { now: opts.now } : {});
    return new AuthorizationFacade(config, keys, opts);
  }

  /** serve a facade path; false when `path` is not one */
  async handle(req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<boolean> {
    const rel = this.#basePath && path.startsWith(this.#basePath) ? path.slice(this.#basePath.length) : path;
    if (this.#metadataPaths.has(path)) {
      this.#serveStatic(req, res, this.#metadata, 'public, max-age=3600');
      return true;
    }
    switch (rel) {
      case '/jwks':
        // max-age 300: with the 10-minute activation delay of a rotation, no cached copy without a new key outlives its first use
        this.#serveStatic(req, res, JSON.stringify(await this.#ctx.keys.jwks()), 'public, max-age=300');
        return true;
      case '/register':
        await this.#oauthEndpoint(req, res, () => register(this.#ctx, req, res));
        return true;
      case '/token':
        await this.#oauthEndpoint(req, res, () => token(this.#ctx, req, res));
        return true;
      case '/revoke':
        await this.#oauthEndpoint(req, res, () => revoke(this.#ctx, req, res));
        return true;
      case '/authorize':
        await authorize(this.#ctx, req, res, new URLSearchParams(query));
        return true;
      case '/consent':
        await consent(this.#ctx, req, res);
        return true;
      case '/oauth/callback':
        await callback(this.#ctx, req, res, query);
        return true;
      default:
        return false;
    }
  }

  #serveStatic(req: IncomingMessage, res: ServerResponse, body: string, cacheControl: string): void {
    if (req.method === 'OPTIONS') return sendPreflight(res, 'GET');
    corsHeaders(res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET');
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': cacheControl, 'content-length': String(Buffer.byteLength(body)) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** POST endpoints called by clients (CORS `*`, OAuth JSON errors) */
  async #oauthEndpoint(req: IncomingMessage, res: ServerResponse, run: () => Promise<void>): Promise<void> {
    if (req.method === 'OPTIONS') return sendPreflight(res, 'POST');
    corsHeaders(res);
    if (req.method !== 'POST') {
      req.resume();
      return methodNotAllowed(res, 'POST');
    }
    try {
      await run();
    } catch (err) {
      if (err instanceof OAuthError) return sendOAuthError(res, err);
      if ((err as { code?: string }).code === 'GW_ERR_BODY_TOO_LARGE') return sendOAuthError(res, new OAuthError('invalid_request', 'the request body is too large', 413));
      throw err;
    }
  }
}
