/**
 * undici connection pools, one per backend origin, shared by every server that uses the origin.
 * Pools keep connections alive between requests (the proxy's hot path must not reconnect).
 */
import { Pool } from 'undici';

/** a TLS client certificate for backend connections; `id` identifies the material (never shown) */
export interface ClientTls {
  readonly id: string;
  readonly options: { pfx?: Buffer; cert?: string; key?: string; passphrase?: string };
}

export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();

  /** the pool for an origin; with a client certificate (authentication-certificate), a pool of its own */
  get(origin: string, tls?: ClientTls): Pool {
    const key = tls ? `${origin}|${tls.id}` : origin;
    let pool = this.#pools.get(key);
    if (!pool) {
      pool = new Pool(origin, {
        connections: 256,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connectTimeout: 10_000,
        ...(tls ? { connect: { ...tls.options } } : {}),
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.allSettled(pools.map((p) => p.destroy()));
  }
}
