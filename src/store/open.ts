/**
 * Opens the configured store from its URL:
 * - `sqlite:PATH` → SqliteStore (PATH relative to the process cwd unless absolute; `sqlite::memory:` in memory)
 * - `postgres://…` / `postgresql://…` → PostgresStore (optional `schema` query parameter, default
 *   `public`, created when missing; pending migrations applied)
 * Error messages never echo the URL (it may carry credentials).
 */
import { isAbsolute, resolve } from 'node:path';
import { GatewayError } from '../errors/gateway-error.js';
import { openPostgresStore } from './postgres.js';
import { openSqliteStore } from './sqlite.js';
import type { Store } from './types.js';

export async function openStore(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '') throw new GatewayError('GW_ERR_CONFIG_INVALID', 'store URL sqlite: needs a file path (or :memory:)');
    if (path === ':memory:') return openSqliteStore(':memory:');
    return openSqliteStore(isAbsolute(path) ? path : resolve(process.cwd(), path));
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return openPostgresStore(url);
  }
  throw new GatewayError('GW_ERR_CONFIG_INVALID', 'store must be sqlite:PATH or postgres://...');
}
