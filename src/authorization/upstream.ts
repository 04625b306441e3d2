/**
 * The facade's own OpenID client at the upstream identity provider (e.g. Entra ID), built on
 * openid-client: discovery (cached, retried after a failure), the authorization URL with the
 * gateway's static client id, its own PKCE pair, `state` and `nonce`, and no `resource` parameter
 * (Entra v2 rejects it), then the code exchange at the callback (ID token checked: issuer,
 * audience, nonce; RFC 9207 `iss` when the provider sends it).
 */
import * as oidc from 'openid-client';
import { isLoopbackHost } from './clients.js';

export interface UpstreamSettings {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  readonly scopes: readonly string[];
  /** `{publicUrl}/oauth/callback` */
  readonly redirectUri: string;
}

export interface UpstreamLogin {
  readonly url: string;
  readonly codeVerifier: string;
  readonly nonce: string;
}

export interface UpstreamResult {
  /** the upstream subject (`sub` of the ID token) */
  readonly sub: string;
  readonly issuer: string;
  readonly claims: Record<string, unknown>;
  /** the token response, kept server-side (sealed) for later outbound use */
  readonly tokens: Record<string, unknown>;
}

export class Upstream {
  #config: Promise<oidc.Configuration> | undefined;

  constructor(readonly settings: UpstreamSettings) {}

  #configuration(): Promise<oidc.Configuration> {
    if (!this.#config) {
      const url = new URL(this.settings.issuer);
      const insecure = url.protocol === 'http:' && isLoopbackHost(url.hostname);
      const auth = this.settings.clientSecret !== undefined ? oidc.ClientSecretPost(this.settings.clientSecret) : oidc.None();
      const p = oidc.discovery(url, this.settings.clientId, undefined, auth, { ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}), timeout: 10 });
      // a failed discovery is retried on the next login
      p.catch(() => {
        if (this.#config === p) this.#config = undefined;
      });
      this.#config = p;
    }
    return this.#config;
  }

  async loginUrl(state: string): Promise<UpstreamLogin> {
    const config = await this.#configuration();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUri,
      scope: this.settings.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, codeVerifier, nonce };
  }

  /** exchange the callback's code; `callbackUrl` is the URL the provider redirected to */
  async finish(callbackUrl: URL, check: { state: string; codeVerifier: string; nonce: string }): Promise<UpstreamResult> {
    const config = await this.#configuration();
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: check.codeVerifier, expectedState: check.state, expectedNonce: check.nonce, idTokenExpected: true });
    const claims = (tokens.claims() ?? {}) as Record<string, unknown>;
    const sub = typeof claims.sub === 'string' ? claims.sub : undefined;
    if (!sub) throw new Error('the upstream ID token has no subject');
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(tokens)) if (typeof v !== 'function') raw[k] = v;
    return { sub, issuer: config.serverMetadata().issuer, claims, tokens: raw };
  }
}
