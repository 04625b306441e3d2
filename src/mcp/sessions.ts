/**
 * MCP session records, kept in the cache interface so any replica that shares the cache can serve
 * a session (Streamable HTTP backends are reached statelessly with the stored backend session id).
 * MCP 2025-11-25 §Session Management: ids are cryptographically secure and visible ASCII; we use
 * 256 random bits, base64url.
 */
import { randomBytes } from 'node:crypto';
import type { Cache } from '../cache/types.js';
import { sessionIdSuffix } from '../cluster/role.js';

export interface SessionRecord {
  readonly server: string;
  /** the authenticated subject that created the session (null when the server is unauthenticated) */
  readonly subject: string | null;
  /** the backend's own session id (Streamable HTTP backends); never sent downstream */
  backendSessionId?: string | undefined;
  /** protocol version negotiated with the client */
  protocolVersion: string;
  /** the client's initialize params, replayed when the backend session must be re-created */
  readonly initParams: Record<string, unknown>;
  /** how the client is connected: Streamable HTTP or the legacy HTTP+SSE transport */
  readonly downstream: 'streamable-http' | 'sse';
  readonly createdAt: number;
}

const PREFIX = 'mcp:session:';

/** 256 random bits; a worker of a multi-process gateway appends `.INDEX` (src/cluster/role.ts) */
export const newSessionId = (): string => randomBytes(32).toString('base64url') + sessionIdSuffix();

/** parsed records by id, reused while the cache returns the same text (bounded) */
const MEMO_MAX = 10_000;

export class SessionStore {
  readonly #memo = new Map<string, { text: string; record: SessionRecord; touchedAt: number }>();

  constructor(private readonly cache: Cache, private readonly ttlMs: number) {}

  async create(record: SessionRecord, id = newSessionId()): Promise<string> {
    await this.cache.set(PREFIX + id, JSON.stringify(record), this.ttlMs);
    return id;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    // MCP-Session-Id is visible ASCII; anything else (or absurd length) can't be ours
    if (id.length > 128) return undefined;
    const text = await this.cache.get(PREFIX + id);
    if (text === undefined) {
      this.#memo.delete(id);
      return undefined;
    }
    const now = Date.now();
    let m = this.#memo.get(id);
    if (!m || m.text !== text) {
      if (this.#memo.size >= MEMO_MAX) this.#memo.clear();
      m = { text, record: JSON.parse(text) as SessionRecord, touchedAt: 0 };
      this.#memo.set(id, m);
    }
    // sliding expiry, refreshed at most every tenth of the TTL
    if (now - m.touchedAt > this.ttlMs / 10) {
      m.touchedAt = now;
      // best effort: a cache that fails now fails the next request that needs it
      this.cache.touch(PREFIX + id, this.ttlMs).catch(() => undefined);
    }
    return m.record;
  }

  async update(id: string, record: SessionRecord): Promise<void> {
    await this.cache.set(PREFIX + id, JSON.stringify(record), this.ttlMs);
  }

  async delete(id: string): Promise<boolean> {
    this.#memo.delete(id);
    return this.cache.delete(PREFIX + id);
  }
}
