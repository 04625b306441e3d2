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
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayConfig } from '../config/types.js';
import type { Store } from '../store/types.js';
import type { Logger } from '../observability/logger.js';
import { aadOf, pathOf, type SecretBox } from '../secrets/secret-box.js';
import { ssrfFromEnv } from '../policies/http/ssrf.js';
import { ClientRegistry, type OAuthClient } from './clients.js';
import { SigningKeys } from './signing-keys.js';
import { Upstream } from './upstream.js';
import {
  OAuthError,
  appendSetCookie,
  clearCookie,
  clientIp,
  cookieName,
  corsHeaders,
  escapeHtml,
  methodNotAllowed,
  parseCookies,
  readForm,
  readJson,
  RateLimiter,
  redirect,
  sendErrorPage,
  sendJsonNoStore,
  sendOAuthError,
  sendPage,
  sendPreflight,
  setCookie,
  type CookieJarPolicy,
} from './http.js';

export interface AuthorizationFacadeOptions {
  readonly store: Store;
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

const REQUEST_TTL_MS = 10 * 60_000;
const STATE_TTL_MS = 10 * 60_000;
const CODE_TTL_MS = 60_000;
const CONSENT_COOKIE_TTL_S = 30 * 24 * 3600;
export const DEFAULT_ACCESS_TTL_S = 3600;
const DEFAULT_REFRESH_TTL_S = 30 * 24 * 3600;
const MAX_PREVIOUS_REFRESH = 50;

interface AuthRequest {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly resource: string;
  readonly scope: readonly string[];
  /** the client's state, returned as given */
  readonly state: string | undefined;
}

interface PendingRequest extends AuthRequest {
  readonly csrf: string;
  readonly expiresAt: number;
}

interface UpstreamState {
  readonly request: AuthRequest;
  readonly codeVerifier: string;
  readonly nonce: string;
  readonly expiresAt: number;
}

interface ConsentRecord {
  readonly sub: string;
  readonly clientId: string;
  readonly scope: readonly string[];
  readonly updatedAt: number;
}

interface CodeRecord extends AuthRequest {
  readonly sub: string;
  readonly grantId: string;
  readonly expiresAt: number;
  readonly used: boolean;
  /** the refresh family issued from this code (revoked when the code is replayed) */
  readonly familyId?: string;
}

interface RefreshFamily {
  readonly clientId: string;
  readonly sub: string;
  readonly scope: readonly string[];
  readonly resource: string;
  readonly grantId: string;
  /** hash of the live refresh token */
  readonly current: string;
  /** hashes of rotated-out tokens: presenting one again revokes the family */
  readonly previous: readonly string[];
  readonly expiresAt: number;
  readonly revoked: boolean;
  readonly revokedReason?: string;
}

const C = {
  request: 'as-request',
  state: 'as-state',
  consent: 'as-consent',
  code: 'as-code',
  refresh: 'as-refresh',
  upstream: 'as-upstream',
} as const;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('base64url');
const random = (bytes = 32): string => randomBytes(bytes).toString('base64url');

function safeEqual(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `https://GW/x/mcp/` → `https://gw/x/mcp` (case of scheme/host, one trailing slash); undefined when not a resource indicator */
export function canonicalResource(value: string): string | undefined {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return undefined;
  }
  if (u.hash || value.includes('#') || (u.protocol !== 'https:' && u.protocol !== 'http:')) return undefined;
  const href = `${u.protocol}//${u.host}${u.pathname}${u.search}`;
  return u.search === '' && href.endsWith('/') ? href.slice(0, -1) : href;
}

const CODE_CHALLENGE_RE = /^[A-Za-z0-9._~-]{43,128}$/;

export class AuthorizationFacade {
  readonly issuer: string;
  readonly #publicUrl: string;
  readonly #basePath: string;
  readonly #store: Store;
  readonly #box: SecretBox;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #keys: SigningKeys;
  readonly #clients: ClientRegistry;
  readonly #upstream: Upstream;
  /** canonical form → configured resource identifier */
  readonly #resources = new Map<string, string>();
  readonly #scopes: readonly string[];
  readonly #accessTtl: number;
  readonly #refreshTtl: number;
  readonly #cookies: CookieJarPolicy;
  readonly #trustProxy: boolean;
  readonly #metadata: string;
  readonly #metadataPaths: ReadonlySet<string>;
  readonly #registerLimit: RateLimiter;
  readonly #authorizeLimit: RateLimiter;

  private constructor(config: GatewayConfig, keys: SigningKeys, opts: AuthorizationFacadeOptions) {
    const a = config.raw.authorization;
    if (!a) throw new Error('the authorization server facade needs `authorization` in the config');
    this.#publicUrl = config.gateway.publicUrl.replace(/\/$/, '');
    this.#basePath = new URL(this.#publicUrl).pathname.replace(/\/$/, '');
    this.issuer = (a.issuer ?? this.#publicUrl).replace(/\/$/, '');
    this.#store = opts.store;
    this.#box = opts.box;
    this.#logger = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.#keys = keys;
    this.#trustProxy = config.gateway.trustProxy;
    this.#cookies = { secure: this.#publicUrl.startsWith('https:') };
    this.#accessTtl = a.tokens?.accessTokenTtl ?? DEFAULT_ACCESS_TTL_S;
    this.#refreshTtl = a.tokens?.refreshTokenTtl ?? DEFAULT_REFRESH_TTL_S;
    const env = opts.env ?? process.env;
    const dynamic = a.registration?.dynamic ?? true;
    const cimd = a.registration?.clientIdMetadataDocuments ?? true;
    this.#clients = new ClientRegistry(opts.store, {
      dynamic,
      metadataDocuments: cimd,
      allowLoopbackMetadataDocuments: (opts.allowLoopbackMetadataDocuments ?? false) && !ssrfFromEnv(env).blockPrivate,
      ...(opts.metadataDocumentCa !== undefined ? { ca: typeof opts.metadataDocumentCa === 'string' ? [opts.metadataDocumentCa] : [...opts.metadataDocumentCa] } : {}),
      now: this.#now,
    });
    const secret = a.upstream.clientSecret;
    this.#upstream = new Upstream({
      issuer: a.upstream.issuer,
      clientId: a.upstream.clientId,
      clientSecret: typeof secret === 'string' ? secret : secret ? env[secret.env] : undefined,
      scopes: a.upstream.scopes ?? ['openid', 'profile'],
      redirectUri: `${this.#publicUrl}/oauth/callback`,
    });
    this.#resources.set(canonicalResource(this.#publicUrl)!, this.#publicUrl);
    const scopes = new Set<string>();
    for (const s of config.servers) {
      const id = `${this.#publicUrl}/${s.name}/mcp`;
      this.#resources.set(canonicalResource(id)!, id);
      for (const sc of s.resourceMetadata?.scopes ?? []) scopes.add(sc);
      for (const t of s.tools) for (const sc of t.scopes) scopes.add(sc);
    }
    this.#scopes = [...scopes];
    this.#registerLimit = new RateLimiter(20, 60 * 60_000, this.#now);
    this.#authorizeLimit = new RateLimiter(60, 60_000, this.#now);

    const doc: Record<string, unknown> = {
      issuer: this.issuer,
      authorization_endpoint: `${this.#publicUrl}/authorize`,
      token_endpoint: `${this.#publicUrl}/token`,
      ...(dynamic ? { registration_endpoint: `${this.#publicUrl}/register` } : {}),
      revocation_endpoint: `${this.#publicUrl}/revoke`,
      jwks_uri: `${this.#publicUrl}/jwks`,
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none'],
      revocation_endpoint_auth_methods_supported: ['none'],
      client_id_metadata_document_supported: cimd,
      authorization_response_iss_parameter_supported: true,
      ...(this.#scopes.length > 0 ? { scopes_supported: [...this.#scopes] } : {}),
      // OpenID Connect Discovery requires these; the facade issues access tokens only
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    };
    this.#metadata = JSON.stringify(doc);
    // RFC 8414 §3 path insertion, OIDC Discovery path appending, for the issuer's path and the gateway's
    const paths = new Set<string>();
    for (const p of new Set([new URL(this.issuer).pathname.replace(/\/$/, ''), this.#basePath])) {
      paths.add(`/.well-known/oauth-authorization-server${p}`);
      paths.add(`/.well-known/openid-configuration${p}`);
      paths.add(`${p}/.well-known/openid-configuration`);
      paths.add(`${p}/.well-known/oauth-authorization-server`);
    }
    this.#metadataPaths = paths;
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
        this.#serveStatic(req, res, JSON.stringify(await this.#keys.jwks()), 'public, max-age=300');
        return true;
      case '/register':
        await this.#oauthEndpoint(req, res, () => this.#register(req, res));
        return true;
      case '/token':
        await this.#oauthEndpoint(req, res, () => this.#token(req, res));
        return true;
      case '/revoke':
        await this.#oauthEndpoint(req, res, () => this.#revoke(req, res));
        return true;
      case '/authorize':
        await this.#authorize(req, res, new URLSearchParams(query));
        return true;
      case '/consent':
        await this.#consent(req, res);
        return true;
      case '/oauth/callback':
        await this.#callback(req, res, query);
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

  // ---- /register (RFC 7591) ------------------------------------------------------------------

  async #register(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.#registerLimit.take(clientIp(req, this.#trustProxy))) {
      req.resume();
      return sendJsonNoStore(res, 429, { error: 'invalid_request', error_description: 'too many client registrations from this address; try again later' }, { 'retry-after': '3600' });
    }
    const client = await this.#clients.register(await readJson(req));
    const { kind: _kind, ...body } = client;
    void _kind;
    this.#logger?.info({ clientId: client.client_id, clientName: client.client_name, redirectUris: client.redirect_uris }, 'oauth client registered');
    sendJsonNoStore(res, 201, body);
  }

  // ---- /authorize ----------------------------------------------------------------------------

  #resourceOf(value: string): string | undefined {
    const c = canonicalResource(value);
    return c === undefined ? undefined : this.#resources.get(c);
  }

  /** redirect an authorization error to the client (its redirect URI was verified) */
  #errorRedirect(res: ServerResponse, redirectUri: string, error: string, description: string, state: string | undefined): void {
    const u = new URL(redirectUri);
    u.searchParams.set('error', error);
    u.searchParams.set('error_description', description);
    if (state !== undefined) u.searchParams.set('state', state);
    u.searchParams.set('iss', this.issuer);
    redirect(res, u.href);
  }

  async #authorize(req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      req.resume();
      return sendErrorPage(res, 405, 'Use GET for the authorization endpoint.');
    }
    if (!this.#authorizeLimit.take(clientIp(req, this.#trustProxy))) return sendErrorPage(res, 429, 'Too many authorization requests; try again later.');
    for (const k of new Set(q.keys())) if (q.getAll(k).length > 1 && k !== 'resource') return sendErrorPage(res, 400, `The parameter "${k}" is repeated.`);
    const clientId = q.get('client_id') ?? '';
    if (!clientId) return sendErrorPage(res, 400, 'The request has no client_id.');
    let client: OAuthClient | undefined;
    try {
      client = await this.#clients.find(clientId);
    } catch (err) {
      if (err instanceof OAuthError) return sendErrorPage(res, 400, `The client cannot be used: ${err.description}`);
      throw err;
    }
    if (!client) return sendErrorPage(res, 400, 'Unknown client_id: register the client first.');
    const asked = q.get('redirect_uri');
    const redirectUri = asked ?? (client.redirect_uris.length === 1 ? client.redirect_uris[0]! : undefined);
    // exact string match against the registered URIs; never redirect to an unverified URI
    if (redirectUri === undefined || !client.redirect_uris.includes(redirectUri)) {
      return sendErrorPage(res, 400, asked === null ? 'The request has no redirect_uri.' : 'The redirect_uri is not registered for this client.');
    }
    const state = q.get('state') ?? undefined;
    const fail = (error: string, description: string) => this.#errorRedirect(res, redirectUri, error, description, state);
    if (state !== undefined && state.length > 2048) return fail('invalid_request', 'state is too long');
    if (q.get('response_type') !== 'code') return fail('unsupported_response_type', 'response_type must be code');
    const challenge = q.get('code_challenge');
    const method = q.get('code_challenge_method');
    if (!challenge) return fail('invalid_request', 'PKCE is required: code_challenge is missing');
    if (method !== 'S256') return fail('invalid_request', 'PKCE code_challenge_method must be S256');
    if (!CODE_CHALLENGE_RE.test(challenge)) return fail('invalid_request', 'code_challenge is malformed');
    const resources = q.getAll('resource');
    if (resources.length > 1) return fail('invalid_target', 'request one resource per authorization');
    const resource = resources.length === 1 ? this.#resourceOf(resources[0]!) : this.#publicUrl;
    if (!resource) return fail('invalid_target', 'the resource is not an MCP server of this gateway');
    const requested = (q.get('scope') ?? '').split(' ').filter(Boolean);
    const scope = [...new Set(requested.filter((s) => this.#scopes.includes(s)))];
    const request: AuthRequest = { clientId, redirectUri, codeChallenge: challenge, resource, scope, state };

    // consent already given by this (upstream) user to this client: straight to the upstream login
    if (await this.#hasConsent(req, clientId, scope)) return this.#startUpstream(res, request);

    const csrf = random();
    const requestId = random();
    const pending: PendingRequest = { ...request, csrf, expiresAt: this.#now() + REQUEST_TTL_MS };
    await this.#store.put(C.request, requestId, pending);
    appendSetCookie(res, setCookie(this.#cookies, 'gh_csrf', csrf, REQUEST_TTL_MS / 1000));
    this.#consentPage(res, client, pending, requestId);
  }

  #consentPage(res: ServerResponse, client: OAuthClient, r: PendingRequest, requestId: string): void {
    const host = new URL(r.redirectUri).host;
    const name = client.client_name ?? client.client_id;
    const loopback = /^(localhost|127\.|\[::1\])/.test(new URL(r.redirectUri).hostname);
    const scopes = r.scope.length > 0 ? r.scope.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('') : '<li>(no specific scope)</li>';
    const upstream = this.#upstream.settings.scopes.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('');
    const body = `<h1>Authorize ${escapeHtml(name)}</h1>
<p><strong>${escapeHtml(name)}</strong>${client.kind === 'metadata-document' ? ` (<code>${escapeHtml(client.client_id)}</code>)` : ''} asks to access <code>${escapeHtml(r.resource)}</code> on your behalf.</p>
<p>After you approve, you sign in at <code>${escapeHtml(new URL(this.#upstream.settings.issuer).host)}</code> and access is sent to <strong>${escapeHtml(host)}</strong>:</p>
<p><code>${escapeHtml(r.redirectUri)}</code></p>
${loopback ? '<p class="warn">This redirect address is on your own computer (localhost). Approve only if you started this application yourself.</p>' : ''}
<p>Requested permissions:</p><ul>${scopes}</ul>
<p>Permissions requested from the identity provider:</p><ul>${upstream}</ul>
<form method="post" action="${escapeHtml(`${this.#basePath}/consent`)}">
<input type="hidden" name="request" value="${escapeHtml(requestId)}">
<input type="hidden" name="csrf" value="${escapeHtml(r.csrf)}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`;
    sendPage(res, 200, `Authorize ${name}`, body);
  }

  /** consent cookie (sealed: client, upstream subject) + the server-side registry entry for that subject and client */
  async #hasConsent(req: IncomingMessage, clientId: string, scope: readonly string[]): Promise<boolean> {
    const raw = parseCookies(req).get(cookieName(this.#cookies, this.#consentCookie(clientId)));
    if (!raw) return false;
    let v: { cid?: string; sub?: string; exp?: number };
    try {
      v = JSON.parse(this.#box.open(decodeURIComponent(raw), 'as-consent-cookie')) as typeof v;
    } catch {
      return false;
    }
    if (v.cid !== clientId || typeof v.sub !== 'string' || typeof v.exp !== 'number' || v.exp < this.#now()) return false;
    const rec = await this.#store.get<ConsentRecord>(C.consent, this.#consentId(v.sub, clientId));
    return rec !== undefined && scope.every((s) => rec.value.scope.includes(s));
  }

  #consentCookie(clientId: string): string {
    return `gh_consent_${sha256(clientId).slice(0, 16)}`;
  }

  #consentId(sub: string, clientId: string): string {
    return `${sha256(sub)}:${sha256(clientId)}`;
  }

  // ---- /consent ------------------------------------------------------------------------------

  async #consent(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      req.resume();
      return sendErrorPage(res, 405, 'Use the consent form.');
    }
    let form: URLSearchParams;
    try {
      form = await readForm(req);
    } catch {
      return sendErrorPage(res, 400, 'The consent form could not be read.');
    }
    const requestId = form.get('request') ?? '';
    const rec = requestId ? await this.#store.get<PendingRequest>(C.request, requestId) : undefined;
    if (!rec) return sendErrorPage(res, 400, 'This authorization request is unknown or has already been answered. Start again from the application.');
    const pending = rec.value;
    const cookie = parseCookies(req).get(cookieName(this.#cookies, 'gh_csrf'));
    const token = form.get('csrf') ?? undefined;
    if (!safeEqual(token, pending.csrf) || !safeEqual(cookie, pending.csrf)) {
      return sendErrorPage(res, 403, 'The consent form is missing its CSRF token or the token does not match. Start again from the application.');
    }
    // single use: the first answer wins
    if (!(await this.#store.delete(C.request, requestId))) return sendErrorPage(res, 400, 'This authorization request has already been answered.');
    appendSetCookie(res, clearCookie(this.#cookies, 'gh_csrf'));
    if (pending.expiresAt < this.#now()) return sendErrorPage(res, 400, 'This authorization request has expired. Start again from the application.');
    const { csrf: _c, expiresAt: _e, ...request } = pending;
    void _c;
    void _e;
    const decision = form.get('decision');
    if (decision === 'approve') return this.#startUpstream(res, request);
    this.#logger?.info({ clientId: request.clientId }, 'oauth consent denied');
    return this.#errorRedirect(res, request.redirectUri, 'access_denied', 'the user denied the request', request.state);
  }

  /** after consent: a single-use state (stored, and in a cookie), then the upstream provider's login */
  async #startUpstream(res: ServerResponse, request: AuthRequest): Promise<void> {
    const state = random();
    let login;
    try {
      login = await this.#upstream.loginUrl(state);
    } catch (err) {
      this.#logger?.warn({ err: (err as Error).message }, 'the upstream identity provider is unreachable');
      return this.#errorRedirect(res, request.redirectUri, 'temporarily_unavailable', 'the identity provider is unreachable', request.state);
    }
    const value: UpstreamState = { request, codeVerifier: login.codeVerifier, nonce: login.nonce, expiresAt: this.#now() + STATE_TTL_MS };
    await this.#store.put(C.state, sha256(state), { ...value, codeVerifier: this.#box.seal(login.codeVerifier, aadOf(C.state, sha256(state), pathOf('codeVerifier'))) });
    appendSetCookie(res, setCookie(this.#cookies, 'gh_state', state, STATE_TTL_MS / 1000));
    redirect(res, login.url);
  }

  // ---- /oauth/callback -----------------------------------------------------------------------

  async #callback(req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
    if (req.method !== 'GET') {
      req.resume();
      return sendErrorPage(res, 405, 'Use GET.');
    }
    const q = new URLSearchParams(query);
    const state = q.get('state');
    if (!state) return sendErrorPage(res, 400, 'The login response has no state.');
    const cookie = parseCookies(req).get(cookieName(this.#cookies, 'gh_state'));
    if (!safeEqual(cookie, state)) return sendErrorPage(res, 400, 'The login response does not belong to this browser session (state mismatch). Start again from the application.');
    const id = sha256(state);
    const rec = await this.#store.get<UpstreamState>(C.state, id);
    // single use: whoever deletes it owns it
    if (!rec || !(await this.#store.delete(C.state, id))) return sendErrorPage(res, 400, 'The login response is unknown or was already used. Start again from the application.');
    appendSetCookie(res, clearCookie(this.#cookies, 'gh_state'));
    const s = rec.value;
    if (s.expiresAt < this.#now()) return sendErrorPage(res, 400, 'The login took too long (more than 10 minutes). Start again from the application.');
    const request = s.request;
    const upstreamError = q.get('error');
    if (upstreamError) {
      const error = upstreamError === 'access_denied' || upstreamError === 'temporarily_unavailable' ? upstreamError : 'access_denied';
      return this.#errorRedirect(res, request.redirectUri, error, 'the sign-in at the identity provider did not succeed', request.state);
    }
    let result;
    try {
      const codeVerifier = this.#box.open(s.codeVerifier, aadOf(C.state, id, pathOf('codeVerifier')));
      result = await this.#upstream.finish(new URL(`${this.#publicUrl}/oauth/callback?${query}`), { state, codeVerifier, nonce: s.nonce });
    } catch (err) {
      this.#logger?.warn({ err: (err as Error).message, clientId: request.clientId }, 'the upstream login could not be completed');
      return this.#errorRedirect(res, request.redirectUri, 'server_error', 'the sign-in at the identity provider could not be completed', request.state);
    }
    const now = this.#now();
    const grantId = randomUUID();
    await this.#store.put(C.upstream, grantId, {
      issuer: result.issuer,
      sub: result.sub,
      clientId: request.clientId,
      createdAt: now,
      tokens: this.#box.seal(JSON.stringify(result.tokens), aadOf(C.upstream, grantId, pathOf('tokens'))),
    });
    // the consent registry: this user approved this client (for these scopes)
    const consentId = this.#consentId(result.sub, request.clientId);
    const prev = await this.#store.get<ConsentRecord>(C.consent, consentId);
    const scope = [...new Set([...(prev?.value.scope ?? []), ...request.scope])];
    await this.#store.put<ConsentRecord>(C.consent, consentId, { sub: result.sub, clientId: request.clientId, scope, updatedAt: now });
    const cookieValue = this.#box.seal(JSON.stringify({ cid: request.clientId, sub: result.sub, exp: now + CONSENT_COOKIE_TTL_S * 1000 }), 'as-consent-cookie');
    appendSetCookie(res, setCookie(this.#cookies, this.#consentCookie(request.clientId), cookieValue, CONSENT_COOKIE_TTL_S));

    const code = random();
    const codeRecord: CodeRecord = { ...request, sub: result.sub, grantId, expiresAt: now + CODE_TTL_MS, used: false };
    await this.#store.put(C.code, sha256(code), codeRecord);
    this.#logger?.info({ clientId: request.clientId, resource: request.resource }, 'oauth authorization code issued');
    const u = new URL(request.redirectUri);
    u.searchParams.set('code', code);
    if (request.state !== undefined) u.searchParams.set('state', request.state);
    u.searchParams.set('iss', this.issuer);
    redirect(res, u.href);
  }

  // ---- /token --------------------------------------------------------------------------------

  async #clientOf(req: IncomingMessage, form: URLSearchParams): Promise<OAuthClient> {
    let clientId = form.get('client_id') ?? undefined;
    const auth = req.headers.authorization;
    if (auth && /^basic /i.test(auth)) {
      const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
      const user = decodeURIComponent(decoded.slice(0, Math.max(decoded.indexOf(':'), 0)) || decoded);
      if (clientId !== undefined && clientId !== user) throw new OAuthError('invalid_request', 'client_id differs from the Authorization header', 400);
      clientId = user;
    }
    if (!clientId) throw new OAuthError('invalid_client', 'client_id is required', 401);
    let client: OAuthClient | undefined;
    try {
      client = await this.#clients.find(clientId);
    } catch (err) {
      if (err instanceof OAuthError) throw new OAuthError('invalid_client', err.description, 401);
      throw err;
    }
    if (!client) throw new OAuthError('invalid_client', 'unknown client', 401);
    return client;
  }

  async #token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req);
    const client = await this.#clientOf(req, form);
    const grant = form.get('grant_type');
    let out: Record<string, unknown>;
    if (grant === 'authorization_code') out = await this.#codeGrant(client, form);
    else if (grant === 'refresh_token') out = await this.#refreshGrant(client, form);
    else throw new OAuthError('unsupported_grant_type', 'grant_type must be authorization_code or refresh_token');
    sendJsonNoStore(res, 200, out);
  }

  async #revokeFamily(familyId: string, reason: string): Promise<void> {
    for (let i = 0; i < 5; i++) {
      const rec = await this.#store.get<RefreshFamily>(C.refresh, familyId);
      if (!rec || rec.value.revoked) return;
      if (await this.#store.compareAndPut(C.refresh, familyId, { ...rec.value, revoked: true, revokedReason: reason }, rec.version)) {
        this.#logger?.warn({ clientId: rec.value.clientId, reason }, 'oauth refresh-token family revoked');
        return;
      }
    }
  }

  async #codeGrant(client: OAuthClient, form: URLSearchParams): Promise<Record<string, unknown>> {
    const code = form.get('code');
    if (!code) throw new OAuthError('invalid_request', 'code is required');
    const id = sha256(code);
    const rec = await this.#store.get<CodeRecord>(C.code, id);
    if (!rec) throw new OAuthError('invalid_grant', 'the authorization code is invalid');
    const c = rec.value;
    if (c.used) {
      // a replayed code: whatever it produced is revoked (RFC 6749 §4.1.2, OAuth 2.1 §4.1.3)
      if (c.familyId) await this.#revokeFamily(c.familyId, 'authorization code replayed');
      throw new OAuthError('invalid_grant', 'the authorization code was already used');
    }
    // consume first: any attempt (even a failed one) spends the code
    if (!(await this.#store.compareAndPut(C.code, id, { ...c, used: true }, rec.version))) {
      throw new OAuthError('invalid_grant', 'the authorization code was already used');
    }
    if (c.expiresAt < this.#now()) throw new OAuthError('invalid_grant', 'the authorization code has expired');
    if (c.clientId !== client.client_id) throw new OAuthError('invalid_grant', 'the authorization code was issued to another client');
    if (form.get('redirect_uri') !== c.redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
    const verifier = form.get('code_verifier');
    if (!verifier || !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) throw new OAuthError('invalid_grant', 'code_verifier is missing or malformed');
    if (!safeEqual(createHash('sha256').update(verifier).digest('base64url'), c.codeChallenge)) throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
    const resource = this.#requestedResource(form, c.resource);
    const familyId = random(18);
    const out = await this.#issue({ clientId: c.clientId, sub: c.sub, scope: c.scope, resource, grantId: c.grantId }, familyId, undefined);
    const now = await this.#store.get<CodeRecord>(C.code, id);
    if (now) await this.#store.compareAndPut(C.code, id, { ...now.value, familyId }, now.version);
    return out;
  }

  /** the token request's `resource` must be the one granted (one resource per grant) */
  #requestedResource(form: URLSearchParams, granted: string): string {
    const asked = form.getAll('resource');
    if (asked.length === 0) return granted;
    if (asked.length > 1) throw new OAuthError('invalid_target', 'request one resource per token');
    const r = this.#resourceOf(asked[0]!);
    if (!r || r !== granted) throw new OAuthError('invalid_target', 'the resource was not granted by this authorization');
    return r;
  }

  async #refreshGrant(client: OAuthClient, form: URLSearchParams): Promise<Record<string, unknown>> {
    const token = form.get('refresh_token');
    if (!token) throw new OAuthError('invalid_request', 'refresh_token is required');
    const dot = token.indexOf('.');
    const familyId = dot > 0 ? token.slice(0, dot) : '';
    const rec = familyId ? await this.#store.get<RefreshFamily>(C.refresh, familyId) : undefined;
    if (!rec) throw new OAuthError('invalid_grant', 'the refresh token is invalid');
    const f = rec.value;
    const hash = sha256(token);
    if (f.clientId !== client.client_id) throw new OAuthError('invalid_grant', 'the refresh token was issued to another client');
    if (f.revoked) throw new OAuthError('invalid_grant', 'the refresh token has been revoked');
    if (hash !== f.current) {
      if (f.previous.includes(hash)) {
        await this.#revokeFamily(familyId, 'refresh token reused');
        throw new OAuthError('invalid_grant', 'the refresh token was already used; every token of this grant is revoked');
      }
      throw new OAuthError('invalid_grant', 'the refresh token is invalid');
    }
    if (f.expiresAt < this.#now()) throw new OAuthError('invalid_grant', 'the refresh token has expired');
    const resource = this.#requestedResource(form, f.resource);
    const asked = form.get('scope');
    let scope = f.scope;
    if (asked !== null) {
      const wanted = asked.split(' ').filter(Boolean);
      if (!wanted.every((s) => f.scope.includes(s))) throw new OAuthError('invalid_scope', 'a refresh cannot add scopes');
      scope = wanted;
    }
    return this.#issue({ clientId: f.clientId, sub: f.sub, scope, resource, grantId: f.grantId }, familyId, rec);
  }

  /** a signed access token and a new refresh token (family created, or rotated with a version check) */
  async #issue(
    g: { clientId: string; sub: string; scope: readonly string[]; resource: string; grantId: string },
    familyId: string,
    existing: { value: RefreshFamily; version: number } | undefined,
  ): Promise<Record<string, unknown>> {
    const now = this.#now();
    const refresh = `${familyId}.${random()}`;
    const hash = sha256(refresh);
    if (existing) {
      const f = existing.value;
      const next: RefreshFamily = { ...f, scope: f.scope, current: hash, previous: [...f.previous, f.current].slice(-MAX_PREVIOUS_REFRESH), expiresAt: now + this.#refreshTtl * 1000 };
      if (!(await this.#store.compareAndPut(C.refresh, familyId, next, existing.version))) {
        // a concurrent use of the same refresh token: treat as reuse
        await this.#revokeFamily(familyId, 'refresh token used concurrently');
        throw new OAuthError('invalid_grant', 'the refresh token was already used; every token of this grant is revoked');
      }
    } else {
      const family: RefreshFamily = { clientId: g.clientId, sub: g.sub, scope: [...g.scope], resource: g.resource, grantId: g.grantId, current: hash, previous: [], expiresAt: now + this.#refreshTtl * 1000, revoked: false };
      await this.#store.put(C.refresh, familyId, family);
    }
    const iat = Math.floor(now / 1000);
    const accessToken = await this.#keys.sign({
      iss: this.issuer,
      sub: g.sub,
      aud: g.resource,
      client_id: g.clientId,
      ...(g.scope.length > 0 ? { scope: g.scope.join(' ') } : {}),
      jti: randomUUID(),
      iat,
      nbf: iat,
      exp: iat + this.#accessTtl,
    });
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: this.#accessTtl,
      refresh_token: refresh,
      scope: g.scope.join(' '),
    };
  }

  // ---- /revoke (RFC 7009) --------------------------------------------------------------------

  async #revoke(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req);
    const client = await this.#clientOf(req, form);
    const token = form.get('token');
    if (!token) throw new OAuthError('invalid_request', 'token is required');
    const dot = token.indexOf('.');
    // refresh tokens are `<family>.<secret>`; JWT access tokens (three parts) expire by themselves
    if (dot > 0 && token.split('.').length === 2) {
      const familyId = token.slice(0, dot);
      const rec = await this.#store.get<RefreshFamily>(C.refresh, familyId);
      const hash = sha256(token);
      if (rec && rec.value.clientId === client.client_id && (rec.value.current === hash || rec.value.previous.includes(hash))) {
        await this.#revokeFamily(familyId, 'revoked by the client');
      }
    }
    // RFC 7009 §2.2: 200 whether or not the token was valid
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '0' });
    res.end();
  }
}
