/**
 * Token endpoint requests of the credential manager (RFC 6749 §4.1.3, §4.4, §6): client
 * credentials, authorization code (with PKCE), refresh. Client authentication by HTTP Basic or in
 * the body, as the provider says. Through the outbound client: SSRF rules, no redirects, a deadline,
 * a size cap. Errors carry the provider's OAuth error code, never a secret or a token.
 */
import { sendOutbound } from '../policies/http/client.js';
import { ssrfFromEnv } from '../policies/http/ssrf.js';
import type { ProviderConfig } from './providers.js';

export interface TokenSet {
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  /** epoch ms; undefined when the provider gave no lifetime */
  readonly expiresAt: number | undefined;
  readonly scope: string | undefined;
  readonly tokenType: string;
}

export class TokenEndpointError extends Error {
  constructor(
    message: string,
    /** the provider's `error` (invalid_grant, invalid_client …) or 'unreachable' / 'bad_response' */
    readonly oauthError: string,
    /** for the logs: what went wrong on the wire (host, errno) */
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'TokenEndpointError';
  }
}

const form = (p: Record<string, string | undefined>): string => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(p)) if (v !== undefined && v !== '') u.set(k, v);
  return u.toString();
};

export async function requestToken(provider: ProviderConfig, url: string, params: Record<string, string | undefined>, now: number = Date.now()): Promise<TokenSet> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const body: Record<string, string | undefined> = { ...params };
  if (provider.clientAuth === 'basic' && provider.clientSecret !== undefined) {
    // RFC 6749 §2.3.1: form-urlencoded id and secret in Basic
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(provider.clientId)}:${encodeURIComponent(provider.clientSecret)}`).toString('base64')}`;
  } else {
    body.client_id = provider.clientId;
    if (provider.clientSecret !== undefined) body.client_secret = provider.clientSecret;
  }
  let res;
  try {
    res = await sendOutbound({ url, method: 'POST', headers, body: form(body), timeoutMs: 10_000, ssrf: ssrfFromEnv(), maxResponseBytes: 1024 * 1024 });
  } catch (err) {
    // the caller sees that the provider is unreachable; where it lives (host, port) goes to the logs only
    throw new TokenEndpointError(`the token endpoint of provider "${provider.name}" is unreachable`, 'unreachable', (err as Error).message);
  }
  const text = res.body?.peekText() ?? '';
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // GitHub without Accept: form encoding
    if (/=/.test(text)) json = Object.fromEntries(new URLSearchParams(text));
  }
  if (res.statusCode !== 200 || typeof json.error === 'string') {
    const code = typeof json.error === 'string' ? json.error : `http_${res.statusCode}`;
    throw new TokenEndpointError(`provider "${provider.name}" refused the token request: ${code}`, code);
  }
  const access = json.access_token;
  if (typeof access !== 'string' || access === '') throw new TokenEndpointError(`provider "${provider.name}" answered without an access_token`, 'bad_response');
  const expiresIn = typeof json.expires_in === 'number' ? json.expires_in : typeof json.expires_in === 'string' ? Number(json.expires_in) : undefined;
  return {
    accessToken: access,
    refreshToken: typeof json.refresh_token === 'string' ? json.refresh_token : undefined,
    expiresAt: expiresIn !== undefined && Number.isFinite(expiresIn) ? now + expiresIn * 1000 : undefined,
    scope: typeof json.scope === 'string' ? json.scope : undefined,
    tokenType: typeof json.token_type === 'string' ? json.token_type : 'Bearer',
  };
}
