/**
 * The cache interface: short-lived shared state (MCP session records, rate-limit counters, cached
 * values). `memory` now; a Redis implementation must make the same calls shared across replicas.
 * Values are strings (callers JSON-encode); every TTL is in milliseconds.
 */
export interface Cache {
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<string | undefined>;
  /** set with a TTL (ms); ttlMs <= 0 or undefined keeps it until deleted */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** set only when absent; true when this call stored the value */
  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  /** atomic increment; creates the key at 0 with the TTL when absent (the TTL is not extended later). Returns the new value. */
  increment(key: string, by: number, ttlMs: number): Promise<number>;
  /** refresh the TTL of an existing key; false when absent */
  touch(key: string, ttlMs: number): Promise<boolean>;
  /** true when the cache answers */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
