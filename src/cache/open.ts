/**
 * Opens the configured cache from its URL:
 * - `memory` → MemoryCache (single replica)
 * - `redis://…` / `rediss://…` → RedisCache (shared by every replica), connected before it is
 *   returned: an unreachable Redis fails the start with an error naming host and port only
 * Error messages never echo the URL (it may carry credentials).
 */
import { GatewayError } from '../errors/gateway-error.js';
import { MemoryCache } from './memory.js';
import { RedisCache } from './redis.js';
import type { Cache } from './types.js';

export async function openCache(url: string): Promise<Cache> {
  if (url === 'memory') return new MemoryCache();
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    const cache = new RedisCache(url);
    try {
      await cache.connect();
    } catch (err) {
      await cache.close();
      throw err;
    }
    return cache;
  }
  throw new GatewayError('GW_ERR_CONFIG_INVALID', 'cache must be "memory" or redis://...');
}
