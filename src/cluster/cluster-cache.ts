/**
 * A worker's Cache in a multi-process gateway: every operation goes to the primary's shared
 * MemoryCache over the cluster IPC channel (src/cluster/cache-host.ts), so sessions and counters
 * are the same whichever worker a request lands on.
 *
 * Reads are kept in a near cache (bounded, with the value's remaining TTL) so the hot path — the
 * session record of every MCP request — costs no IPC after the first read. The primary tells this
 * worker when another worker changes a key it has read; a read that was in flight while anything
 * changed is not kept (the generation check), so a stale answer can never overwrite a newer state.
 * Counters are never served from the near cache by `increment`; only `get` uses it.
 *
 * The primary not answering within the deadline is a GW_ERR_UNAVAILABLE (the request gets 503).
 */
import { GatewayError } from '../errors/gateway-error.js';
import type { Cache } from '../cache/types.js';
import type { CacheOp, CacheReply, CacheRequest, ToWorker } from './messages.js';
import { isGatehouseMessage } from './messages.js';
import { IpcCalls } from './ipc-calls.js';

export interface IpcChannel {
  send(message: CacheRequest): void;
  /** subscribe to messages from the primary */
  onMessage(listener: (message: ToWorker) => void): void;
}

const NEAR_MAX = 20_000;
const DEFAULT_DEADLINE_MS = 5_000;

export class ClusterCache implements Cache {
  readonly kind = 'memory' as const;
  readonly #calls: IpcCalls<CacheRequest, CacheReply>;
  /** key → value and its deadline (Date.now() ms; 0 = none) */
  readonly #near = new Map<string, { v: string; exp: number }>();
  /** bumped on every change seen; a read started in an older generation is not kept */
  #generation = 0;
  #closed = false;

  constructor(channel: IpcChannel, deadlineMs = DEFAULT_DEADLINE_MS) {
    this.#calls = new IpcCalls((m: CacheRequest) => channel.send(m), deadlineMs, 'the shared cache');
    channel.onMessage((m) => {
      if (!isGatehouseMessage(m)) return;
      if (m.gh === 'cache-r') this.#calls.settle(m);
      else if (m.gh === 'cache-inv') {
        this.#generation++;
        if (m.key === undefined) this.#near.clear();
        else this.#near.delete(m.key);
      }
    });
  }

  /** how many keys the near cache holds (tests) */
  get nearSize(): number {
    return this.#near.size;
  }

  async get(key: string): Promise<string | undefined> {
    const hit = this.#near.get(key);
    if (hit !== undefined) {
      if (hit.exp === 0 || hit.exp > Date.now()) return hit.v;
      this.#near.delete(key);
    }
    const generation = this.#generation;
    const r = await this.#call('get', { key });
    if (typeof r.v !== 'string') return undefined;
    if (generation === this.#generation) {
      if (this.#near.size >= NEAR_MAX) this.#near.clear();
      this.#near.set(key, { v: r.v, exp: r.ttlMs ? Date.now() + r.ttlMs : 0 });
    }
    return r.v;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.#changed(key);
    await this.#call('set', ttlMs === undefined ? { key, value } : { key, value, ttlMs });
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    this.#changed(key);
    return (await this.#call('setIfAbsent', ttlMs === undefined ? { key, value } : { key, value, ttlMs })).v === true;
  }

  async delete(key: string): Promise<boolean> {
    this.#changed(key);
    return (await this.#call('delete', { key })).v === true;
  }

  async increment(key: string, by: number, ttlMs: number): Promise<number> {
    if (!Number.isFinite(by)) throw new GatewayError('GW_ERR_INTERNAL', 'cache increment must be a finite number');
    this.#changed(key);
    const r = await this.#call('increment', { key, by, ttlMs });
    return r.v as number;
  }

  async touch(key: string, ttlMs: number): Promise<boolean> {
    this.#changed(key);
    return (await this.#call('touch', { key, ttlMs })).v === true;
  }

  async ping(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      return (await this.#call('ping', {})).v === true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#near.clear();
    this.#calls.rejectAll(new GatewayError('GW_ERR_UNAVAILABLE', 'cache is closed'));
  }

  /** this worker changes the key: its own copy goes, and reads in flight are not kept */
  #changed(key: string): void {
    this.#generation++;
    this.#near.delete(key);
  }

  async #call(op: CacheOp, args: Omit<CacheRequest, 'gh' | 'id' | 'op'>): Promise<CacheReply> {
    if (this.#closed) throw new GatewayError('GW_ERR_UNAVAILABLE', 'cache is closed');
    const r = await this.#calls.call((id) => ({ gh: 'cache', id, op, ...args }));
    if (!r.ok) throw new GatewayError('GW_ERR_INTERNAL', `cache: ${r.error ?? 'failed'}`);
    return r;
  }

}
