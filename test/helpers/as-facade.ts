/**
 * Shared by the authorization-server facade tests (test/authorization*.test.ts): a minimal user
 * agent (cookie jar per origin, manual redirects, consent form submission), the MCP SDK client's
 * OAuthClientProvider driven headlessly (mcp-spec §5.4), and raw OAuth request helpers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

// ---- a minimal user agent: cookie jar per origin, manual redirects --------------------------------

export type Jar = Map<string, Map<string, string>>;

export function cookieHeader(jar: Jar, url: URL): Record<string, string> {
  const c = jar.get(url.origin);
  return c && c.size > 0 ? { cookie: [...c].map(([k, v]) => `${k}=${v}`).join('; ') } : {};
}

export function storeCookies(jar: Jar, url: URL, res: Response): void {
  for (const sc of res.headers.getSetCookie()) {
    const [pair, ...attrs] = sc.split(';');
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq).trim();
    const value = pair!.slice(eq + 1).trim();
    let c = jar.get(url.origin);
    if (!c) jar.set(url.origin, (c = new Map()));
    const gone = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || attrs.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now());
    if (gone || value === '') c.delete(name);
    else c.set(name, value);
  }
}

export const get = (url: URL | string, jar: Jar): Promise<Response> => {
  const u = new URL(url);
  return fetch(u, { redirect: 'manual', headers: cookieHeader(jar, u) }).then((r) => {
    storeCookies(jar, u, r);
    return r;
  });
};

export function formField(html: string, name: string): string | undefined {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
}

export async function submitConsent(page: Response, pageUrl: URL, jar: Jar, decision: 'approve' | 'deny', opts: { csrf?: string | null } = {}): Promise<Response> {
  const html = await page.text();
  const action = new URL(/<form method="post" action="([^"]+)"/.exec(html)![1]!.replace(/&amp;/g, '&'), pageUrl);
  const body = new URLSearchParams({ request: formField(html, 'request')!, decision });
  const csrf = opts.csrf === undefined ? formField(html, 'csrf')! : opts.csrf;
  if (csrf !== null) body.set('csrf', csrf);
  const res = await fetch(action, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...cookieHeader(jar, action) }, body });
  storeCookies(jar, action, res);
  return res;
}

export interface Trace {
  consentPages: number;
  /** the scopes listed on each consent page shown */
  consentScopes?: string[][];
  callbackUrl?: URL;
}

/** follow an authorization from its URL to the client's redirect URI (consent approved); returns that URL */
export async function browse(start: URL, redirectUri: string, jar: Jar, trace: Trace = { consentPages: 0 }, decision: 'approve' | 'deny' = 'approve'): Promise<URL> {
  let next = start;
  for (let hop = 0; hop < 20; hop++) {
    let res = await get(next, jar);
    if (res.status === 200 && next.pathname.endsWith('/authorize')) {
      trace.consentPages++;
      const html = await res.clone().text();
      (trace.consentScopes ??= []).push([...html.split('Requested permissions:')[1]!.split('</ul>')[0]!.matchAll(/<code>([^<]*)<\/code>/g)].map((m) => m[1]!));
      res = await submitConsent(res, next, jar, decision);
    }
    const loc = res.headers.get('location');
    if (!loc) throw new Error(`no redirect at hop ${hop} (${next.href}): ${res.status} ${await res.text()}`);
    if (next.pathname.endsWith('/oauth/callback')) trace.callbackUrl = next;
    next = new URL(loc, next);
    if (next.href.startsWith(redirectUri)) return next;
  }
  throw new Error('too many redirects');
}

// ---- the SDK client's provider, driven headlessly (mcp-spec §5.4) -------------------------------

/** the 401/403 answers the transports saw (diagnostics) */
export const denials: string[] = [];

export class HeadlessProvider implements OAuthClientProvider {
  info?: OAuthClientInformationMixed;
  toks?: OAuthTokens;
  verifier?: string;
  readonly expectedState = randomBytes(16).toString('base64url');
  code?: string;
  redirects = 0;
  /** the authorization URLs the SDK sent the user to */
  readonly authorizationUrls: URL[] = [];
  /** every URL the SDK fetched through this provider's transports (incl. discovery, registration, token) */
  readonly requests: string[] = [];
  readonly jar: Jar = new Map();
  readonly trace: Trace = { consentPages: 0 };
  readonly clientMetadataUrl?: string;
  /**
   * drop the refresh token when a 403 insufficient_scope asks for scopes the access token lacks, so
   * the SDK re-authorizes instead of refreshing (SDK 1.32.x refreshes first and then gives up:
   * modelcontextprotocol/typescript-sdk#2255, fixed upstream by the SEP-2350 step-up in #2356)
   */
  readonly stepUpWithoutRefresh: boolean;
  constructor(
    readonly redirectUrl: string,
    opts: { clientMetadataUrl?: string; stepUpWithoutRefresh?: boolean } = {},
  ) {
    if (opts.clientMetadataUrl !== undefined) this.clientMetadataUrl = opts.clientMetadataUrl;
    this.stepUpWithoutRefresh = opts.stepUpWithoutRefresh ?? false;
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'Headless Test Client', redirect_uris: [this.redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  state() {
    return this.expectedState;
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(i: OAuthClientInformationMixed) {
    this.info = i;
  }
  tokens() {
    return this.toks;
  }
  saveTokens(t: OAuthTokens) {
    this.toks = t;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error('no verifier');
    return this.verifier;
  }
  async redirectToAuthorization(url: URL) {
    this.redirects++;
    this.authorizationUrls.push(url);
    const back = await browse(url, this.redirectUrl, this.jar, this.trace);
    if (back.searchParams.get('state') !== this.expectedState) throw new Error('state mismatch');
    this.code = back.searchParams.get('code') ?? undefined;
    if (!this.code) throw new Error(`authorization error: ${back.searchParams.get('error')} ${back.searchParams.get('error_description')}`);
  }

  /** the fetch the transports use: records requests and denials; see stepUpWithoutRefresh */
  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    this.requests.push(`${init?.method ?? 'GET'} ${input instanceof Request ? input.url : String(input)}`);
    const r = await fetch(input, init);
    if (r.status === 401 || r.status === 403) denials.push(`${r.status} ${r.headers.get('www-authenticate')} ${r.headers.get('x-reason')}`);
    const challenge = r.headers.get('www-authenticate') ?? '';
    if (this.stepUpWithoutRefresh && r.status === 403 && /error="insufficient_scope"/.test(challenge) && this.toks?.refresh_token) {
      const asked = (/scope="([^"]*)"/.exec(challenge)?.[1] ?? '').split(' ').filter(Boolean);
      const held = (this.toks.scope ?? '').split(' ');
      if (asked.some((s) => !held.includes(s))) {
        const { refresh_token: _dropped, ...rest } = this.toks;
        void _dropped;
        this.toks = rest;
      }
    }
    return r;
  };
}

export function transportFor(url: URL, provider: HeadlessProvider): StreamableHTTPClientTransport {
  return new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: provider.fetch });
}

/** connect, authorizing headlessly when the server answers 401; returns the client and its transport */
export async function connectWithOAuthTransport(url: URL, provider: HeadlessProvider): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const first = transportFor(url, provider);
  const client = new Client({ name: 'gw-test', version: '1.0.0' });
  try {
    await client.connect(first);
    return { client, transport: first };
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
    await first.finishAuth(provider.code!);
    const c2 = new Client({ name: 'gw-test', version: '1.0.0' });
    const second = transportFor(url, provider);
    try {
      await c2.connect(second);
    } catch (err) {
      throw new Error(`${(err as Error).message}; denials: ${denials.join(' | ')}`);
    }
    return { client: c2, transport: second };
  }
}

export async function connectWithOAuth(url: URL, provider: HeadlessProvider): Promise<Client> {
  return (await connectWithOAuthTransport(url, provider)).client;
}

// ---- helpers for raw OAuth requests --------------------------------------------------------------

export const s256 = (v: string) => createHash('sha256').update(v).digest('base64url');
export const verifierOf = () => randomBytes(40).toString('base64url');

export async function postForm(url: string, params: Record<string, string>): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params) });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}
