/**
 * HTTP helpers of the authorization-server facade: form bodies, cookies, CORS for the endpoints
 * browser-based MCP clients call (metadata, JWKS, register, token, revoke), OAuth JSON errors and
 * the small HTML pages (consent, direct errors) with anti-framing headers.
 */
import type { Cache } from '../cache/types.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../server/http-util.js';

/** the largest form/JSON body an AS endpoint reads */
export const MAX_FORM_BYTES = 64 * 1024;

export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  const body = await readBody(req, MAX_FORM_BYTES);
  if (type !== 'application/x-www-form-urlencoded') throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  const params = new URLSearchParams(body.toString('utf8'));
  // RFC 6749 §3.1/3.2: parameters must not be repeated
  const seen = new Set<string>();
  for (const k of params.keys()) {
    if (seen.has(k)) throw new OAuthError('invalid_request', `the parameter "${k}" is repeated`);
    seen.add(k);
  }
  return params;
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  const body = await readBody(req, MAX_FORM_BYTES);
  if (type !== 'application/json') throw new OAuthError('invalid_client_metadata', 'the body must be application/json');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new OAuthError('invalid_client_metadata', 'the body is not valid JSON');
  }
}

/** An OAuth error answered as JSON (RFC 6749 §5.2, RFC 7591 §3.2.2). */
export class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status = 400,
  ) {
    super(description);
    this.name = 'OAuthError';
  }
}

export function sendJsonNoStore(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache', 'content-length': String(Buffer.byteLength(text)), ...extra });
  res.end(text);
}

export function sendOAuthError(res: ServerResponse, err: OAuthError): void {
  const extra: Record<string, string> = {};
  if (err.status === 401) extra['www-authenticate'] = 'Basic realm="gatehouse"';
  sendJsonNoStore(res, err.status, { error: err.error, error_description: err.description }, extra);
}

/** CORS for endpoints any web origin may call (no credentials: cookies are never read there) */
export function corsHeaders(res: ServerResponse): void {
  res.setHeader('access-control-allow-origin', '*');
  res.setHeader('access-control-expose-headers', 'www-authenticate');
}

export function sendPreflight(res: ServerResponse, methods: string): void {
  res.writeHead(204, {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': `${methods}, OPTIONS`,
    'access-control-allow-headers': 'authorization, content-type, mcp-protocol-version',
    'access-control-max-age': '86400',
  });
  res.end();
}

export function methodNotAllowed(res: ServerResponse, allow: string): void {
  sendJsonNoStore(res, 405, { error: 'invalid_request', error_description: `method not allowed (use ${allow})` }, { allow });
}

// ---- cookies ---------------------------------------------------------------------------------

export function parseCookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  const header = req.headers.cookie;
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

export interface CookieJarPolicy {
  /** true when publicUrl is https: `__Host-` names and `Secure` */
  readonly secure: boolean;
}

export function cookieName(policy: CookieJarPolicy, name: string): string {
  return policy.secure ? `__Host-${name}` : name;
}

/** a Set-Cookie value: Path=/, HttpOnly, SameSite=Lax, Secure (https), Max-Age */
export function setCookie(policy: CookieJarPolicy, name: string, value: string, maxAgeSeconds: number): string {
  return `${cookieName(policy, name)}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${policy.secure ? '; Secure' : ''}`;
}

export function clearCookie(policy: CookieJarPolicy, name: string): string {
  return setCookie(policy, name, '', 0);
}

export function appendSetCookie(res: ServerResponse, value: string): void {
  const prev = res.getHeader('set-cookie');
  const list = prev === undefined ? [] : Array.isArray(prev) ? prev.map(String) : [String(prev)];
  res.setHeader('set-cookie', [...list, value]);
}

// ---- HTML --------------------------------------------------------------------------------------

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** headers of every HTML page of the facade: no framing (clickjacking), no caching, no scripts */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function sendPage(res: ServerResponse, status: number, title: string, bodyHtml: string, extra: Record<string, string> = {}): void {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}code{word-break:break-all}.warn{color:#a40}button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}</style></head>
<body>${bodyHtml}</body></html>`;
  res.writeHead(status, { ...PAGE_HEADERS, 'content-length': String(Buffer.byteLength(html)), ...extra });
  res.end(html);
}

export function sendErrorPage(res: ServerResponse, status: number, message: string): void {
  sendPage(res, status, 'Authorization error', `<h1>Authorization error</h1><p>${escapeHtml(message)}</p>`);
}

export function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location, 'cache-control': 'no-store' });
  res.end();
}

/** the client's IP address (X-Forwarded-For only when the gateway trusts its proxy) */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const xff = req.headers['x-forwarded-for'];
    const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
    if (first) return first;
  }
  return req.socket.remoteAddress ?? 'unknown';
}

/**
 * Fixed-window per-key counter (a brake on abuse, not an exact quota). With a cache the count is
 * shared by every worker and replica that shares it (windows aligned to the clock); should the
 * cache fail, this process keeps counting on its own rather than refusing or waving everyone in.
 */
export class RateLimiter {
  readonly #hits = new Map<string, { count: number; resetAt: number }>();
  constructor(
    private readonly name: string,
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly cache?: Cache,
  ) {}
  /** true when allowed */
  async take(key: string): Promise<boolean> {
    const t = this.now();
    if (this.cache) {
      const window = Math.floor(t / this.windowMs);
      try {
        const n = await this.cache.increment(`as:limit:${this.name}:${window}:${key}`, 1, this.windowMs + 1000);
        return n <= this.limit;
      } catch {
        // the shared count is unavailable: the local one still brakes
      }
    }
    let e = this.#hits.get(key);
    if (!e || e.resetAt <= t) {
      if (this.#hits.size > 10_000) for (const [k, v] of this.#hits) if (v.resetAt <= t) this.#hits.delete(k);
      e = { count: 0, resetAt: t + this.windowMs };
      this.#hits.set(key, e);
    }
    e.count++;
    return e.count <= this.limit;
  }
}
