/**
 * The credential manager (APIM §8; PRODUCT §1.6): tokens for backends, obtained and kept by the
 * gateway, never the caller's.
 *
 * - client-credentials connections fetch a token on demand (no consent) and keep it in memory;
 * - authorization-code connections are connected by a login link (`/credentials/P/C/login?grant=…`
 *   → the provider's consent → `/credentials/callback`) and keep their tokens in the store,
 *   sealed (AES-256-GCM, GATEHOUSE_SECRET_KEY); `perUser` connections hold one token set per caller
 *   (keyed by the validated token's subject), created at the user's first login;
 * - access policies say who may use a connection: `managed` (the gateway itself: identity-type
 *   managed, authentication-managed-identity) or callers whose validated token carries a claim value;
 * - an access token is used until 3 minutes before it expires, then refreshed with the refresh token
 *   — once, however many requests need it at that moment (single flight); an invalid refresh token
 *   puts the connection in `error`;
 * - each connection may call its token endpoint at most 250 times a minute (APIM's limit), which
 *   protects the provider from a request storm.
 */
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { Store } from '../store/types.js';
import type { Logger } from '../observability/logger.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { aadOf, SecretKeyError } from '../secrets/secret-box.js';
import type { Principal } from '../auth/principal.js';
import { claimHasAny } from '../auth/principal.js';
import type { ConnectionConfig, ProviderConfig } from './providers.js';
import { requestToken, TokenEndpointError, type TokenSet } from './token-client.js';

export type CredentialErrorCode = 'ProviderNotFound' | 'ConnectionNotFound' | 'AccessDenied' | 'ConnectionNotConnected' | 'ConnectionError' | 'TokenRequestFailed' | 'BudgetExceeded';

export class CredentialError extends Error {
  constructor(
    readonly code: CredentialErrorCode,
    message: string,
    /** for a connection without tokens: where the caller can connect it */
    readonly loginUrl?: string,
  ) {
    super(message);
    this.name = 'CredentialError';
  }
}

export type Requester = { readonly kind: 'managed' } | { readonly kind: 'jwt'; readonly principal: Principal };

export interface AuthorizationResult {
  readonly accessToken: string;
  readonly claims: Record<string, unknown>;
}

export type ConnectionStatus = 'connected' | 'error' | 'pending';

interface StoredConnection {
  status: ConnectionStatus;
  error?: string;
  /** sealed */
  accessToken?: string;
  /** sealed */
  refreshToken?: string;
  expiresAt?: number;
  scope?: string;
  /** per-user connections: the caller's subject (not secret) */
  user?: string;
  updatedAt: number;
}

interface LoginState {
  provider: string;
  connection: string;
  user?: string;
  redirect: string;
  /** sealed */
  codeVerifier: string;
  createdAt: number;
}

const CONNECTIONS = 'credential-connection';
const STATES = 'credential-state';
const REFRESH_MARGIN_MS = 3 * 60 * 1000;
const STATE_TTL_MS = 10 * 60 * 1000;
const BUDGET_PER_MINUTE = 250;
const GRANT_TTL_MS = 60 * 60 * 1000;

const userKeyOf = (subject: string): string => createHash('sha256').update(subject).digest('hex').slice(0, 32);

export class CredentialManager {
  readonly #providers: ReadonlyMap<string, ProviderConfig>;
  readonly #cache = new Map<string, TokenSet>();
  readonly #inflight = new Map<string, Promise<TokenSet>>();
  readonly #budget = new Map<string, number[]>();
  readonly #now: () => number;

  constructor(
    providers: readonly ProviderConfig[],
    private readonly store: Store,
    private readonly box: SecretBox | undefined,
    private readonly opts: { readonly publicUrl: string; readonly logger?: Logger; readonly now?: () => number },
  ) {
    this.#providers = new Map(providers.map((p) => [p.name, p]));
    this.#now = opts.now ?? Date.now;
  }

  get providers(): ReadonlyMap<string, ProviderConfig> {
    return this.#providers;
  }

  #find(providerId: string, connectionId: string): { p: ProviderConfig; c: ConnectionConfig } {
    const p = this.#providers.get(providerId);
    if (!p) throw new CredentialError('ProviderNotFound', `credential provider "${providerId}" is not configured`);
    const c = p.connections.get(connectionId);
    if (!c) throw new CredentialError('ConnectionNotFound', `connection "${connectionId}" of provider "${providerId}" is not configured`);
    return { p, c };
  }

  #sealer(): SecretBox {
    if (!this.box) throw new CredentialError('ConnectionError', 'no GATEHOUSE_SECRET_KEY: tokens cannot be stored');
    return this.box;
  }

  /** the token of a connection for a requester (APIM get-authorization-context) */
  async authorize(providerId: string, connectionId: string, who: Requester, extra: { resource?: string } = {}): Promise<AuthorizationResult> {
    const { p, c } = this.#find(providerId, connectionId);
    const allowed = c.accessPolicies.some((a) => ('identity' in a ? who.kind === 'managed' : who.kind === 'jwt' && claimHasAny(who.principal, a.claim, [a.value])));
    if (!allowed) throw new CredentialError('AccessDenied', `the ${who.kind === 'managed' ? 'gateway identity' : 'caller'} may not use connection "${connectionId}" of provider "${providerId}"`);
    let id = `${p.name}/${c.name}`;
    let user: string | undefined;
    if (c.perUser) {
      if (who.kind !== 'jwt') throw new CredentialError('AccessDenied', `connection "${connectionId}" is per user: use identity-type="jwt" after validating the caller's token`);
      user = who.principal.subject;
      id += `/user/${userKeyOf(user)}`;
    }
    const key = extra.resource ? `${id}#${extra.resource}` : id;
    const cached = this.#cache.get(key);
    const now = this.#now();
    const token = cached && (cached.expiresAt === undefined || cached.expiresAt - REFRESH_MARGIN_MS > now) ? cached : await this.#singleFlight(key, () => this.#fetch(p, c, id, user, extra.resource));
    let claims: Record<string, unknown> = {};
    try {
      claims = decodeJwt(token.accessToken) as Record<string, unknown>;
    } catch {
      // an opaque token has no claims
    }
    return { accessToken: token.accessToken, claims };
  }

  #singleFlight(key: string, fn: () => Promise<TokenSet>): Promise<TokenSet> {
    let p = this.#inflight.get(key);
    if (!p) {
      p = fn()
        .then((t) => {
          this.#cache.set(key, t);
          return t;
        })
        .finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    return p;
  }

  #spend(id: string): void {
    const now = this.#now();
    const calls = (this.#budget.get(id) ?? []).filter((t) => now - t < 60_000);
    if (calls.length >= BUDGET_PER_MINUTE) throw new CredentialError('BudgetExceeded', `connection "${id}" reached its budget of ${BUDGET_PER_MINUTE} token requests a minute`);
    calls.push(now);
    this.#budget.set(id, calls);
  }

  async #fetch(p: ProviderConfig, c: ConnectionConfig, id: string, user: string | undefined, resource: string | undefined): Promise<TokenSet> {
    if (c.grant === 'client-credentials') {
      this.#spend(id);
      const scope = resource && p.type === 'entra' ? `${resource.replace(/\/+$/, '')}/.default` : p.scopes.join(' ') || undefined;
      try {
        return await requestToken(p, p.tokenUrl, { grant_type: 'client_credentials', scope, resource: resource ?? p.resource }, this.#now());
      } catch (err) {
        this.#logFailure(id, err);
        throw new CredentialError('TokenRequestFailed', (err as Error).message);
      }
    }
    const rec = await this.store.get<StoredConnection>(CONNECTIONS, id);
    if (!rec || rec.value.status === 'pending' || !rec.value.accessToken) {
      throw new CredentialError('ConnectionNotConnected', `connection "${c.name}" of provider "${p.name}" is not connected${user ? ' for this user' : ''}`, await this.loginUrl(p.name, c.name, undefined, user));
    }
    if (rec.value.status === 'error') throw new CredentialError('ConnectionError', `connection "${c.name}" of provider "${p.name}" is in error: ${rec.value.error ?? 'unknown'} (log in again)`, await this.loginUrl(p.name, c.name, undefined, user));
    const box = this.#sealer();
    let stored: TokenSet;
    try {
      stored = {
        accessToken: box.open(rec.value.accessToken, aadOf(CONNECTIONS, id, 'accessToken')),
        refreshToken: rec.value.refreshToken ? box.open(rec.value.refreshToken, aadOf(CONNECTIONS, id, 'refreshToken')) : undefined,
        expiresAt: rec.value.expiresAt,
        scope: rec.value.scope,
        tokenType: 'Bearer',
      };
    } catch (err) {
      // a wrong GATEHOUSE_SECRET_KEY: say so (the message names key ids only), change nothing
      if (err instanceof SecretKeyError) throw new CredentialError('ConnectionError', `connection "${c.name}" of provider "${p.name}": its stored tokens cannot be decrypted: ${err.message}`);
      throw err;
    }
    const now = this.#now();
    if (stored.expiresAt === undefined || stored.expiresAt - REFRESH_MARGIN_MS > now) return stored;
    if (!stored.refreshToken) {
      if (stored.expiresAt > now) return stored;
      await this.#markError(id, rec.value, 'the access token expired and there is no refresh token');
      throw new CredentialError('ConnectionError', `connection "${c.name}" of provider "${p.name}" has expired (log in again)`, await this.loginUrl(p.name, c.name, undefined, user));
    }
    this.#spend(id);
    let fresh: TokenSet;
    try {
      fresh = await requestToken(p, p.refreshUrl, { grant_type: 'refresh_token', refresh_token: stored.refreshToken }, now);
    } catch (err) {
      if (err instanceof TokenEndpointError && (err.oauthError === 'invalid_grant' || err.oauthError === 'invalid_token' || err.oauthError === 'unauthorized_client')) {
        // another replica may have refreshed first (rotating refresh tokens): use what it stored
        const again = await this.store.get<StoredConnection>(CONNECTIONS, id);
        if (again && again.version !== rec.version && again.value.status === 'connected' && again.value.accessToken && (again.value.expiresAt ?? Infinity) > now) {
          return {
            accessToken: box.open(again.value.accessToken, aadOf(CONNECTIONS, id, 'accessToken')),
            refreshToken: again.value.refreshToken ? box.open(again.value.refreshToken, aadOf(CONNECTIONS, id, 'refreshToken')) : undefined,
            expiresAt: again.value.expiresAt,
            scope: again.value.scope,
            tokenType: 'Bearer',
          };
        }
        await this.#markError(id, rec.value, `refresh refused by the provider: ${err.oauthError}`);
        throw new CredentialError('ConnectionError', `connection "${c.name}" of provider "${p.name}": the refresh token was refused (log in again)`, await this.loginUrl(p.name, c.name, undefined, user));
      }
      // a provider that is down: nothing is changed; the old token serves while it is still valid
      this.#logFailure(id, err);
      if (stored.expiresAt > now) return stored;
      throw new CredentialError('TokenRequestFailed', (err as Error).message);
    }
    await this.#save(id, { ...fresh, refreshToken: fresh.refreshToken ?? stored.refreshToken }, user);
    return fresh;
  }

  #logFailure(id: string, err: unknown): void {
    const detail = err instanceof TokenEndpointError ? err.detail : undefined;
    this.opts.logger?.warn({ connection: id, error: (err as Error).message, ...(detail ? { detail } : {}) }, 'token request failed');
  }

  async #markError(id: string, value: StoredConnection, error: string): Promise<void> {
    await this.store.put(CONNECTIONS, id, { ...value, status: 'error', error, updatedAt: this.#now() });
    for (const k of [...this.#cache.keys()]) if (k === id || k.startsWith(`${id}#`)) this.#cache.delete(k);
    this.opts.logger?.warn({ connection: id, error }, 'credential connection in error');
  }

  async #save(id: string, t: TokenSet, user: string | undefined): Promise<void> {
    const box = this.#sealer();
    const value: StoredConnection = {
      status: 'connected',
      accessToken: box.seal(t.accessToken, aadOf(CONNECTIONS, id, 'accessToken')),
      ...(t.refreshToken ? { refreshToken: box.seal(t.refreshToken, aadOf(CONNECTIONS, id, 'refreshToken')) } : {}),
      ...(t.expiresAt !== undefined ? { expiresAt: t.expiresAt } : {}),
      ...(t.scope ? { scope: t.scope } : {}),
      ...(user ? { user } : {}),
      updatedAt: this.#now(),
    };
    await this.store.put(CONNECTIONS, id, value);
    this.#cache.set(id, t);
  }

  /**
   * A login link for an authorization-code connection: `/credentials/P/C/login?grant=…`, the grant
   * sealed with the secret key (who it is for, until when, where to go back), so only links the
   * gateway minted (by the CLI, or in a policy's error for the very user) can connect a connection.
   */
  async loginUrl(providerId: string, connectionId: string, redirect: string | undefined, user?: string): Promise<string> {
    const { p, c } = this.#find(providerId, connectionId);
    if (c.grant !== 'authorization-code') throw new CredentialError('ConnectionError', `connection "${c.name}" uses client credentials: it needs no login`);
    const grant = this.#sealer().seal(JSON.stringify({ p: p.name, c: c.name, ...(user ? { u: user } : {}), ...(redirect ? { r: redirect } : {}), exp: this.#now() + GRANT_TTL_MS }), 'credential-login');
    return `${this.opts.publicUrl}/credentials/${encodeURIComponent(p.name)}/${encodeURIComponent(c.name)}/login?grant=${encodeURIComponent(grant)}`;
  }

  /** GET /credentials/P/C/login?grant=…[&redirect=URL]: where to send the browser (the provider's authorize URL) */
  async startLogin(providerId: string, connectionId: string, grant: string | null, redirect: string | null): Promise<string> {
    const { p, c } = this.#find(providerId, connectionId);
    if (c.grant !== 'authorization-code' || !p.authorizationUrl) throw new CredentialError('ConnectionError', `connection "${c.name}" cannot be logged in to`);
    if (!grant) throw new CredentialError('AccessDenied', 'the login link has no grant: create one with `gatehouse credentials login-link`');
    let g: { p: string; c: string; u?: string; r?: string; exp: number };
    try {
      g = JSON.parse(this.#sealer().open(grant, 'credential-login')) as typeof g;
    } catch {
      throw new CredentialError('AccessDenied', 'the login link is not valid');
    }
    if (g.p !== p.name || g.c !== c.name || g.exp < this.#now()) throw new CredentialError('AccessDenied', 'the login link is not valid for this connection or has expired');
    // where the browser goes back: the grant's redirect (minted with the link); a `redirect` parameter
    // may only repeat it, or, for a link minted without one, stay on this gateway (no open redirect)
    if (redirect !== null && g.r !== undefined && redirect !== g.r) throw new CredentialError('AccessDenied', 'redirect does not match the login link');
    if (redirect !== null && g.r === undefined && new URL(redirect, this.opts.publicUrl).origin !== new URL(this.opts.publicUrl).origin) throw new CredentialError('AccessDenied', 'redirect must stay on this gateway (mint the link with --redirect for another target)');
    const back = g.r ?? (redirect !== null ? new URL(redirect, this.opts.publicUrl).href : undefined);
    if (back !== undefined && !/^https?:\/\//i.test(back)) throw new CredentialError('AccessDenied', 'redirect must be an http(s) URL');
    const state = randomBytes(24).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    const box = this.#sealer();
    const rec: LoginState = { provider: p.name, connection: c.name, ...(g.u ? { user: g.u } : {}), redirect: back ?? `${this.opts.publicUrl}/credentials/done`, codeVerifier: box.seal(verifier, aadOf(STATES, state, 'codeVerifier')), createdAt: this.#now() };
    await this.store.put(STATES, state, rec);
    const url = new URL(p.authorizationUrl);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', p.clientId);
    url.searchParams.set('redirect_uri', `${this.opts.publicUrl}/credentials/callback`);
    if (p.scopes.length > 0) url.searchParams.set('scope', p.scopes.join(' '));
    url.searchParams.set('state', state);
    if (p.pkce) {
      url.searchParams.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'));
      url.searchParams.set('code_challenge_method', 'S256');
    }
    return url.href;
  }

  /** GET /credentials/callback?code&state: exchange, store, and where to send the browser back */
  async finishLogin(query: URLSearchParams): Promise<string> {
    const state = query.get('state');
    if (!state) throw new CredentialError('AccessDenied', 'the callback has no state');
    const rec = await this.store.get<LoginState>(STATES, state);
    // single use, also between concurrent callbacks and replicas: only the one that deletes it goes on
    if (!rec || !(await this.store.delete(STATES, state))) throw new CredentialError('AccessDenied', 'unknown or already used state');
    const s = rec.value;
    if (this.#now() - s.createdAt > STATE_TTL_MS) throw new CredentialError('AccessDenied', 'the login took too long (state expired)');
    const { p, c } = this.#find(s.provider, s.connection);
    const back = new URL(s.redirect);
    const id = `${p.name}/${c.name}${s.user ? `/user/${userKeyOf(s.user)}` : ''}`;
    const code = query.get('code');
    if (!code) {
      back.searchParams.set('error', query.get('error') ?? 'access_denied');
      return back.href;
    }
    let verifier: string;
    try {
      verifier = this.#sealer().open(s.codeVerifier, aadOf(STATES, state, 'codeVerifier'));
    } catch (err) {
      if (err instanceof SecretKeyError) throw new CredentialError('ConnectionError', `the login cannot be finished: ${err.message}`);
      throw err;
    }
    try {
      this.#spend(id);
      const t = await requestToken(p, p.tokenUrl, { grant_type: 'authorization_code', code, redirect_uri: `${this.opts.publicUrl}/credentials/callback`, code_verifier: p.pkce ? verifier : undefined }, this.#now());
      await this.#save(id, t, s.user);
      back.searchParams.set('status', 'connected');
    } catch (err) {
      this.opts.logger?.warn({ connection: id, error: (err as Error).message }, 'credential login failed');
      back.searchParams.set('error', err instanceof TokenEndpointError ? err.oauthError : 'server_error');
    }
    return back.href;
  }

  /** every connection with its status (never tokens) */
  async list(): Promise<{ provider: string; connection: string; grant: string; perUser: boolean; status: ConnectionStatus | 'ready'; users?: number; error?: string; expiresAt?: number }[]> {
    const out = [];
    const stored = await this.store.list<StoredConnection>(CONNECTIONS);
    for (const p of this.#providers.values()) {
      for (const c of p.connections.values()) {
        const id = `${p.name}/${c.name}`;
        if (c.grant === 'client-credentials') {
          out.push({ provider: p.name, connection: c.name, grant: c.grant, perUser: c.perUser, status: 'ready' as const });
          continue;
        }
        if (c.perUser) {
          const mine = stored.filter((r) => r.id.startsWith(`${id}/user/`));
          const status = mine.some((r) => r.value.status === 'connected') ? ('connected' as const) : mine.some((r) => r.value.status === 'error') ? ('error' as const) : ('pending' as const);
          const errors = mine.filter((r) => r.value.status === 'error').length;
          out.push({ provider: p.name, connection: c.name, grant: c.grant, perUser: true, status, users: mine.length, ...(errors > 0 ? { error: `${errors} user(s) in error` } : {}) });
          continue;
        }
        const r = stored.find((x) => x.id === id)?.value;
        out.push({ provider: p.name, connection: c.name, grant: c.grant, perUser: false, status: r?.status ?? 'pending', ...(r?.error ? { error: r.error } : {}), ...(r?.expiresAt ? { expiresAt: r.expiresAt } : {}) });
      }
    }
    return out;
  }

  /** forget a connection's tokens (all users' for a per-user connection) */
  async revoke(providerId: string, connectionId: string): Promise<number> {
    const { p, c } = this.#find(providerId, connectionId);
    const id = `${p.name}/${c.name}`;
    let n = 0;
    for (const r of await this.store.list(CONNECTIONS, id)) {
      if (r.id === id || r.id.startsWith(`${id}/`)) {
        await this.store.delete(CONNECTIONS, r.id);
        n++;
      }
    }
    for (const k of [...this.#cache.keys()]) if (k === id || k.startsWith(`${id}/`) || k.startsWith(`${id}#`)) this.#cache.delete(k);
    return n;
  }
}
