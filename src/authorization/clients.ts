/**
 * OAuth clients of the facade:
 * - Dynamic Client Registration (RFC 7591): public clients only (`token_endpoint_auth_method`
 *   `none`, no secret), kept in the store (collection `as-client`) so every replica knows them;
 * - Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, MCP 2025-11-25): a
 *   `client_id` that is an https URL with a path is fetched (SSRF rules, no redirects, 5 s,
 *   ≤ 64 KiB); its `client_id` must equal the URL exactly; cached per its Cache-Control.
 *
 * Redirect URIs must be https, or http on a loopback host (RFC 8252 §7.3); anything else
 * (`javascript:`, `data:`, `file:`, custom schemes, fragments) is refused.
 */
import { randomBytes } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import type { Store } from '../store/types.js';
import { OutboundError, sendOutbound } from '../policies/http/client.js';
import { OAuthError } from './http.js';

export const CLIENT_COLLECTION = 'as-client';

export interface OAuthClient {
  readonly client_id: string;
  readonly client_name?: string;
  readonly redirect_uris: readonly string[];
  readonly grant_types: readonly string[];
  readonly response_types: readonly string[];
  readonly token_endpoint_auth_method: 'none';
  readonly scope?: string;
  readonly client_uri?: string;
  readonly logo_uri?: string;
  readonly application_type?: string;
  readonly software_id?: string;
  readonly software_version?: string;
  readonly client_id_issued_at?: number;
  /** how the client is known */
  readonly kind: 'dynamic' | 'metadata-document';
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** why a redirect URI is refused, or undefined when acceptable */
export function redirectUriProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return 'a redirect URI must be a non-empty string';
  if (value.length > 2000) return 'a redirect URI is longer than 2000 characters';
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return 'a redirect URI must be an absolute URL';
  }
  if (value.includes('#')) return 'a redirect URI must not contain a fragment';
  if (u.username || u.password) return 'a redirect URI must not contain credentials';
  if (u.protocol === 'https:' && u.hostname !== '') return undefined;
  if (u.protocol === 'http:' && isLoopbackHost(u.hostname)) return undefined;
  if (u.protocol === 'http:') return 'an http redirect URI must use a loopback host (localhost, 127.0.0.1, [::1]); use https otherwise';
  return `the redirect URI scheme "${u.protocol.replace(/:$/, '')}" is not allowed (https, or http on loopback)`;
}

const str = (v: unknown, max = 2000): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= max ? v : undefined);

/** the accepted metadata of a registration request or metadata document (throws OAuthError) */
function clientMetadata(doc: Record<string, unknown>, errorCode: string): Omit<OAuthClient, 'client_id' | 'kind'> {
  const uris = doc.redirect_uris;
  if (!Array.isArray(uris) || uris.length === 0) throw new OAuthError('invalid_redirect_uri', 'redirect_uris must be a non-empty array');
  if (uris.length > 20) throw new OAuthError('invalid_redirect_uri', 'at most 20 redirect_uris');
  for (const u of uris) {
    const why = redirectUriProblem(u);
    if (why) throw new OAuthError('invalid_redirect_uri', why);
  }
  const method = doc.token_endpoint_auth_method;
  if (method !== undefined && method !== 'none' && errorCode === 'invalid_client') {
    throw new OAuthError('invalid_client', 'the client metadata document must use token_endpoint_auth_method "none" (the only method this server supports)');
  }
  const grants = doc.grant_types;
  if (grants !== undefined) {
    if (!Array.isArray(grants) || !grants.every((g) => typeof g === 'string')) throw new OAuthError(errorCode, 'grant_types must be an array of strings');
    if (!grants.includes('authorization_code')) throw new OAuthError(errorCode, 'grant_types must include authorization_code');
  }
  const responses = doc.response_types;
  if (responses !== undefined && (!Array.isArray(responses) || !responses.includes('code'))) throw new OAuthError(errorCode, 'response_types must include code');
  const out: Record<string, unknown> = {
    redirect_uris: [...(uris as string[])],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // RFC 7591 §3.2.1: the server may replace requested metadata; public clients only
    token_endpoint_auth_method: 'none',
  };
  const name = str(doc.client_name, 200);
  if (name) out.client_name = name;
  for (const k of ['client_uri', 'logo_uri'] as const) {
    const v = str(doc[k]);
    if (v && /^https:\/\//i.test(v)) out[k] = v;
  }
  for (const k of ['scope', 'application_type', 'software_id', 'software_version'] as const) {
    const v = str(doc[k], 1000);
    if (v) out[k] = v;
  }
  return out as unknown as Omit<OAuthClient, 'client_id' | 'kind'>;
}

export interface ClientRegistryOptions {
  readonly dynamic: boolean;
  readonly metadataDocuments: boolean;
  /** tests: accept http://127.0.0.1 metadata documents (and reach loopback) — only when GATEHOUSE_SSRF_BLOCK_PRIVATE is off */
  readonly allowLoopbackMetadataDocuments: boolean;
  /** extra trusted CA certificates (PEM) for metadata-document fetches, besides the system's */
  readonly ca?: readonly string[];
  readonly now: () => number;
}

const CIMD_MAX_BYTES = 64 * 1024;
const CIMD_TIMEOUT_MS = 5_000;
const CIMD_DEFAULT_TTL_MS = 5 * 60_000;
const CIMD_MAX_TTL_MS = 24 * 3600_000;
const CIMD_CACHE_SIZE = 1000;

export class ClientRegistry {
  readonly #cimd = new Map<string, { client: OAuthClient; expiresAt: number }>();

  constructor(
    private readonly store: Store,
    readonly opts: ClientRegistryOptions,
  ) {}

  /** RFC 7591 registration; returns the registration response */
  async register(body: unknown): Promise<OAuthClient> {
    if (!this.opts.dynamic) throw new OAuthError('access_denied', 'dynamic client registration is disabled', 403);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new OAuthError('invalid_client_metadata', 'the registration request must be a JSON object');
    const meta = clientMetadata(body as Record<string, unknown>, 'invalid_client_metadata');
    const client: OAuthClient = { ...meta, client_id: `ghc_${randomBytes(18).toString('base64url')}`, client_id_issued_at: Math.floor(this.opts.now() / 1000), kind: 'dynamic' };
    await this.store.put(CLIENT_COLLECTION, client.client_id, client);
    return client;
  }

  /** is this client_id a metadata-document URL this server would fetch */
  isMetadataDocumentId(clientId: string): boolean {
    if (!this.opts.metadataDocuments) return false;
    let u: URL;
    try {
      u = new URL(clientId);
    } catch {
      return false;
    }
    const scheme = u.protocol === 'https:' || (this.opts.allowLoopbackMetadataDocuments && u.protocol === 'http:' && isLoopbackHost(u.hostname));
    return scheme && u.pathname !== '/' && u.pathname !== '' && !u.hash && !u.username && !u.password;
  }

  /** the client, or undefined when unknown (a metadata document that cannot be used throws OAuthError) */
  async find(clientId: string): Promise<OAuthClient | undefined> {
    if (clientId === '' || clientId.length > 2000) return undefined;
    if (/^https?:\/\//i.test(clientId)) return this.isMetadataDocumentId(clientId) ? this.#metadataDocument(clientId) : undefined;
    return (await this.store.get<OAuthClient>(CLIENT_COLLECTION, clientId))?.value;
  }

  async #metadataDocument(url: string): Promise<OAuthClient> {
    const now = this.opts.now();
    const hit = this.#cimd.get(url);
    if (hit && hit.expiresAt > now) return hit.client;
    let res;
    try {
      res = await sendOutbound({
        url,
        method: 'GET',
        headers: { accept: 'application/json' },
        body: null,
        timeoutMs: CIMD_TIMEOUT_MS,
        maxResponseBytes: CIMD_MAX_BYTES,
        ssrf: { blockPrivate: !this.opts.allowLoopbackMetadataDocuments },
        ...(this.opts.ca && this.opts.ca.length > 0 ? { ca: [...rootCertificates, ...this.opts.ca] } : {}),
      });
    } catch (err) {
      const why = err instanceof OutboundError ? err.message : 'the request failed';
      throw new OAuthError('invalid_client', `the client metadata document could not be fetched: ${why}`);
    }
    if (res.statusCode !== 200) throw new OAuthError('invalid_client', `the client metadata document answered HTTP ${res.statusCode}`);
    let doc: unknown;
    try {
      doc = JSON.parse(res.body?.peekText() ?? '');
    } catch {
      throw new OAuthError('invalid_client', 'the client metadata document is not valid JSON');
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new OAuthError('invalid_client', 'the client metadata document is not a JSON object');
    const d = doc as Record<string, unknown>;
    if (d.client_id !== url) throw new OAuthError('invalid_client', 'the client metadata document\'s client_id does not equal its URL');
    if (typeof d.client_name !== 'string' || d.client_name === '') throw new OAuthError('invalid_client', 'the client metadata document has no client_name');
    for (const k of ['client_secret', 'client_secret_expires_at']) if (k in d) throw new OAuthError('invalid_client', `a client metadata document must not contain ${k}`);
    const client: OAuthClient = { ...clientMetadata(d, 'invalid_client'), client_id: url, kind: 'metadata-document' };
    const ttl = ttlOf(res.headers.getJoined('cache-control'));
    if (ttl > 0) {
      if (this.#cimd.size >= CIMD_CACHE_SIZE) this.#cimd.delete(this.#cimd.keys().next().value as string);
      this.#cimd.set(url, { client, expiresAt: now + ttl });
    }
    return client;
  }
}

function ttlOf(cacheControl: string | undefined): number {
  const cc = (cacheControl ?? '').toLowerCase();
  if (/\bno-store\b|\bno-cache\b/.test(cc)) return 0;
  const m = /\bmax-age=(\d+)/.exec(cc);
  if (!m) return CIMD_DEFAULT_TTL_MS;
  return Math.min(Math.max(Number(m[1]) * 1000, 60_000), CIMD_MAX_TTL_MS);
}
