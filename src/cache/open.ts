/**
 * Opens the configured cache from its URL:
 * - `memory` → MemoryCache (single replica)
 * - `redis://…` / `rediss://…` → not available in this version
 * Error messages never echo the URL (it may carry credentials).
 */
import { GatewayError } from '../errors/gateway-error.js';
import { MemoryCache } from './memory.js';
import type { Cache } from './types.js';

export async function openCache(url: string): Promise<Cache> {
  if (url === 'memory') return new MemoryCache();
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    throw new GatewayError('GW_ERR_CONFIG_INVALID', 'Redis cache is not available in this version');
  }
  throw new GatewayError('GW_ERR_CONFIG_INVALID', 'cache must be "memory" or redis://...');
}
