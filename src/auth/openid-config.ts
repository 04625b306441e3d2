/**
 * OpenID configurations (`<openid-config url>`): the discovery document's `issuer` and the keys of
 * its `jwks_uri`, shared by every policy of the gateway that names the same URL.
 *
 * APIM's caching rules (apim.md §6): keys are pulled every hour and cached; when a token names a
 * `kid` the cache does not hold, or when retrieval failed, the endpoint is pulled again at most
 * once per 5 minutes. A stale set is served while its hourly refresh runs in the background; only
 * a request that finds no usable keys waits for a fetch. Fetches go through the outbound client:
 * SSRF rules, no redirects, a deadline and a size limit.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { sendOutbound } from '../policies/http/client.js';
import type { SsrfOptions } from '../policies/http/ssrf.js';
import type { Logger } from '../observability/logger.js';

export interface JwksKey {
  readonly kid: string | undefined;
  readonly key: KeyObject;
  /** the JWK's own `alg`, when it declares one */
  readonly alg: string | undefined;
}

export interface OpenIdSnapshot {
  readonly issuer: string;
  readonly keys: readonly JwksKey[];
}

export interface OpenIdCacheOptions {
  /** how long a key set is used before it is pulled again (default 1 h) */
  readonly refreshMs?: number;
  /** the least time between two pulls on an unknown kid or after a failure (default 5 min) */
  readonly minRefetchMs?: number;
  /** deadline of one HTTP fetch (default 5 s) */
  readonly timeoutMs?: number;
  readonly ssrf?: SsrfOptions;
  readonly logger?: Logger;
  /** clock (tests) */
  readonly now?: () => number;
}

interface Entry {
  snapshot: OpenIdSnapshot | undefined;
  fetchedAt: number;
  attemptedAt: number;
  inflight: Promise<void> | undefined;
  lastError: string | undefined;
}

const MAX_BYTES = 1024 * 1024;
const MAX_KEYS = 100;
/** distinct OpenID configuration URLs kept (oldest dropped first) */
const MAX_CONFIGS = 256;

export class OpenIdConfigCache {
  readonly #entries = new Map<string, Entry>();
  readonly #refreshMs: number;
  readonly #minRefetchMs: number;
  readonly #timeoutMs: number;
  readonly #ssrf: SsrfOptions;
  readonly #now: () => number;
  readonly #logger: Logger | undefined;

  constructor(opts: OpenIdCacheOptions = {}) {
    this.#refreshMs = opts.refreshMs ?? 60 * 60 * 1000;
    this.#minRefetchMs = opts.minRefetchMs ?? 5 * 60 * 1000;
    this.#timeoutMs = opts.timeoutMs ?? 5_000;
    this.#ssrf = opts.ssrf ?? { blockPrivate: false };
    this.#now = opts.now ?? Date.now;
    this.#logger = opts.logger;
  }

  #entry(url: string): Entry {
    let e = this.#entries.get(url);
    if (!e) {
      // URLs built from requests (an expression tenant-id) must not grow the cache without bound
      if (this.#entries.size >= MAX_CONFIGS) {
        for (const [k, v] of this.#entries) {
          if (v.inflight) continue;
          this.#entries.delete(k);
          break;
        }
      }
      e = { snapshot: undefined, fetchedAt: 0, attemptedAt: -Infinity, inflight: undefined, lastError: undefined };
      this.#entries.set(url, e);
    }
    return e;
  }

  /** the last error of a URL's retrieval (for a clear failure message), if its keys are not usable */
  lastError(url: string): string | undefined {
    return this.#entries.get(url)?.lastError;
  }

  /** start fetching a configuration (at load, so the first request does not wait) */
  prefetch(url: string): void {
    void this.get(url);
  }

  /** the configuration's keys and issuer; undefined when they could not be retrieved */
  async get(url: string): Promise<OpenIdSnapshot | undefined> {
    const e = this.#entry(url);
    const now = this.#now();
    if (e.snapshot && now - e.fetchedAt < this.#refreshMs) return e.snapshot;
    const mayFetch = now - e.attemptedAt >= this.#minRefetchMs;
    if (e.snapshot) {
      // stale: refreshed in the background, the stale set serves meanwhile
      if (mayFetch) void this.#fetch(url, e);
      return e.snapshot;
    }
    if (e.inflight) await e.inflight;
    else if (mayFetch) await this.#fetch(url, e);
    return e.snapshot;
  }

  /** a token named a kid the cached set lacks: pull again, at most once per minRefetch */
  async refresh(url: string): Promise<OpenIdSnapshot | undefined> {
    const e = this.#entry(url);
    if (e.inflight) await e.inflight;
    else if (this.#now() - e.attemptedAt >= this.#minRefetchMs) await this.#fetch(url, e);
    return e.snapshot;
  }

  #fetch(url: string, e: Entry): Promise<void> {
    if (e.inflight) return e.inflight;
    e.attemptedAt = this.#now();
    const p = this.#load(url)
      .then((snap) => {
        e.snapshot = snap;
        e.fetchedAt = this.#now();
        e.lastError = undefined;
      })
      .catch((err: unknown) => {
        e.lastError = (err as Error).message;
        this.#logger?.warn({ openidConfig: url, error: e.lastError }, 'OpenID configuration could not be retrieved');
      })
      .finally(() => {
        e.inflight = undefined;
      });
    e.inflight = p;
    return p;
  }

  async #json(url: string, what: string): Promise<Record<string, unknown>> {
    const res = await sendOutbound({ url, method: 'GET', headers: { accept: 'application/json' }, body: null, timeoutMs: this.#timeoutMs, ssrf: this.#ssrf, maxResponseBytes: MAX_BYTES });
    if (res.statusCode !== 200) throw new Error(`${what} answered HTTP ${res.statusCode}`);
    let v: unknown;
    try {
      v = JSON.parse(res.body?.peekText() ?? '');
    } catch {
      throw new Error(`${what} is not valid JSON`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} is not a JSON object`);
    return v as Record<string, unknown>;
  }

  async #load(url: string): Promise<OpenIdSnapshot> {
    const doc = await this.#json(url, 'the OpenID configuration');
    const issuer = doc.issuer;
    const jwksUri = doc.jwks_uri;
    if (typeof issuer !== 'string' || issuer === '') throw new Error('the OpenID configuration has no "issuer"');
    if (typeof jwksUri !== 'string' || !/^https?:\/\//i.test(jwksUri)) throw new Error('the OpenID configuration has no valid "jwks_uri"');
    const jwks = await this.#json(jwksUri, 'the JWKS endpoint');
    if (!Array.isArray(jwks.keys)) throw new Error('the JWKS has no "keys" array');
    const keys: JwksKey[] = [];
    for (const k of jwks.keys.slice(0, MAX_KEYS) as unknown[]) {
      const key = importJwk(k);
      if (key) keys.push(key);
    }
    return { issuer, keys };
  }
}

/** a JWKS entry usable for signature verification, or undefined (encryption keys, symmetric, malformed) */
function importJwk(k: unknown): JwksKey | undefined {
  if (k === null || typeof k !== 'object') return undefined;
  const jwk = k as Record<string, unknown>;
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined;
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP') return undefined;
  try {
    // only the public members: a JWKS that (wrongly) publishes private parts must not make a private KeyObject
    const pub: Record<string, unknown> = { kty: jwk.kty };
    for (const m of ['n', 'e', 'crv', 'x', 'y']) if (jwk[m] !== undefined) pub[m] = jwk[m];
    const key = createPublicKey({ key: pub as never, format: 'jwk' });
    return { kid: typeof jwk.kid === 'string' ? jwk.kid : undefined, key, alg: typeof jwk.alg === 'string' ? jwk.alg : undefined };
  } catch {
    return undefined;
  }
}
