/**
 * The primary's side of the shared cache of a multi-process gateway: one MemoryCache that every
 * worker reaches over IPC (sessions, rate-limit and quota counters, cached values), so the workers
 * behave as one gateway. Workers keep what they read in a near cache; the host remembers who read
 * each key and, when another worker changes it, tells those readers to drop it.
 */
import { MemoryCache } from '../cache/memory.js';
import type { CacheReply, CacheRequest, ToWorker } from './messages.js';

/** bound on the reader bookkeeping; past it every worker is told to drop its whole near cache */
const MAX_TRACKED_KEYS = 200_000;

export class CacheHost {
  readonly #readers = new Map<string, Set<number>>();

  constructor(
    readonly cache: MemoryCache,
    /** send to a worker by its cluster id (a worker that is gone is ignored) */
    private readonly send: (workerId: number, message: ToWorker) => void,
    /** the ids of the workers alive now */
    private readonly workerIds: () => Iterable<number>,
  ) {}

  async handle(workerId: number, m: CacheRequest): Promise<void> {
    let reply: CacheReply;
    try {
      reply = await this.#apply(workerId, m);
    } catch (err) {
      reply = { gh: 'cache-r', id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    this.send(workerId, reply);
  }

  /** a worker is gone: it reads nothing any more */
  forget(workerId: number): void {
    for (const [key, set] of this.#readers) {
      set.delete(workerId);
      if (set.size === 0) this.#readers.delete(key);
    }
  }

  async #apply(workerId: number, m: CacheRequest): Promise<CacheReply> {
    const c = this.cache;
    const key = m.key ?? '';
    switch (m.op) {
      case 'ping':
        return { gh: 'cache-r', id: m.id, ok: true, v: await c.ping() };
      case 'get': {
        const hit = c.getWithTtl(key);
        if (hit === undefined) return { gh: 'cache-r', id: m.id, ok: true, v: null };
        this.#addReader(key, workerId);
        return { gh: 'cache-r', id: m.id, ok: true, v: hit.value, ttlMs: hit.ttlMs };
      }
      case 'set':
        await c.set(key, m.value ?? '', m.ttlMs);
        this.#changed(key, workerId);
        return { gh: 'cache-r', id: m.id, ok: true, v: null };
      case 'setIfAbsent': {
        const stored = await c.setIfAbsent(key, m.value ?? '', m.ttlMs);
        if (stored) this.#changed(key, workerId);
        return { gh: 'cache-r', id: m.id, ok: true, v: stored };
      }
      case 'delete': {
        const had = await c.delete(key);
        this.#changed(key, workerId);
        return { gh: 'cache-r', id: m.id, ok: true, v: had };
      }
      case 'increment': {
        const n = await c.increment(key, m.by ?? 0, m.ttlMs ?? 0);
        this.#changed(key, workerId);
        return { gh: 'cache-r', id: m.id, ok: true, v: n };
      }
      case 'touch': {
        const found = await c.touch(key, m.ttlMs ?? 0);
        if (found) this.#changed(key, workerId);
        return { gh: 'cache-r', id: m.id, ok: true, v: found };
      }
      default:
        return { gh: 'cache-r', id: m.id, ok: false, error: 'unknown cache operation' };
    }
  }

  #addReader(key: string, workerId: number): void {
    let set = this.#readers.get(key);
    if (!set) {
      if (this.#readers.size >= MAX_TRACKED_KEYS) {
        this.#readers.clear();
        for (const id of this.workerIds()) this.send(id, { gh: 'cache-inv' });
      }
      set = new Set();
      this.#readers.set(key, set);
    }
    set.add(workerId);
  }

  /** the key changed: every other worker that may hold it drops it (the writer already did) */
  #changed(key: string, writer: number): void {
    const set = this.#readers.get(key);
    if (!set) return;
    this.#readers.delete(key);
    for (const id of set) if (id !== writer) this.send(id, { gh: 'cache-inv', key });
  }
}
