/**
 * The IPC messages between the primary and its workers (node:cluster's channel, JSON). Every
 * message carries `gh` so other users of the channel (prom-client's metrics aggregation) are left
 * alone.
 */
export type CacheOp = 'get' | 'set' | 'setIfAbsent' | 'delete' | 'increment' | 'touch' | 'ping';

/** worker → primary: one cache operation */
export interface CacheRequest {
  readonly gh: 'cache';
  readonly id: number;
  readonly op: CacheOp;
  readonly key?: string;
  readonly value?: string;
  readonly ttlMs?: number;
  readonly by?: number;
}

/** primary → worker: its answer (`v`: the result; `ttlMs` with a `get`: the value's remaining life, 0 = none) */
export interface CacheReply {
  readonly gh: 'cache-r';
  readonly id: number;
  readonly ok: boolean;
  readonly v?: string | number | boolean | null;
  readonly ttlMs?: number;
  readonly error?: string;
}

/** primary → worker: a key the worker has read was changed by another worker (no key: drop them all) */
export interface CacheInvalidate {
  readonly gh: 'cache-inv';
  readonly key?: string;
}

/** worker → primary: its private peer listener (127.0.0.1:port) and that it is serving */
export interface WorkerReady {
  readonly gh: 'ready';
  readonly index: number;
  readonly peerPort: number;
  readonly url: string;
}

/** primary → workers: every worker's peer port by index (0 = not serving) */
export interface PeerPorts {
  readonly gh: 'peers';
  readonly ports: readonly number[];
}

/** worker → primary: the metrics of all workers, please; primary → worker: here they are */
export interface MetricsRequest {
  readonly gh: 'metrics';
  readonly id: number;
}
export interface MetricsReply {
  readonly gh: 'metrics-r';
  readonly id: number;
  readonly text?: string;
  readonly error?: string;
}

export type ToPrimary = CacheRequest | WorkerReady | MetricsRequest;
export type ToWorker = CacheReply | CacheInvalidate | PeerPorts | MetricsReply;

export function isGatehouseMessage(m: unknown): m is { gh: string } {
  return typeof m === 'object' && m !== null && typeof (m as { gh?: unknown }).gh === 'string';
}
