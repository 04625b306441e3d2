/**
 * undici connection pools, one per backend origin, shared by every server that uses the origin.
 * Pools keep connections alive between requests (the proxy's hot path must not reconnect).
 */
import { Pool } from 'undici';

export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();

  get(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: 256,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connectTimeout: 10_000,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.allSettled(pools.map((p) => p.destroy()));
  }
}
