/**
 * The store interface: durable state (subscriptions, credentials, OAuth clients, keys...).
 * SQLite (embedded, default) now; a PostgreSQL implementation later must satisfy the same contract
 * so callers never change. Records are JSON documents addressed by (collection, id).
 */
export interface StoredRecord<T = unknown> {
  readonly collection: string;
  readonly id: string;
  readonly value: T;
  /** monotonically increasing per record; starts at 1 */
  readonly version: number;
  readonly updatedAt: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  get<T = unknown>(collection: string, id: string): Promise<StoredRecord<T> | undefined>;
  /** insert or replace; returns the new version */
  put<T = unknown>(collection: string, id: string, value: T): Promise<number>;
  /** optimistic update: writes only when the current version equals `expectedVersion` (0 = must not exist). true on success */
  compareAndPut<T = unknown>(collection: string, id: string, value: T, expectedVersion: number): Promise<boolean>;
  delete(collection: string, id: string): Promise<boolean>;
  /** records of a collection whose id starts with `prefix` (all when omitted), ordered by id */
  list<T = unknown>(collection: string, prefix?: string): Promise<StoredRecord<T>[]>;
  /** true when the store answers (used by /readyz) */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
