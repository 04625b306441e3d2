/**
 * Shared parts of the cache policies: the Cache of the compile services, and response caching for
 * MCP (cache-lookup / cache-store).
 *
 * APIM caches answers to GET requests. An MCP client POSTs JSON-RPC messages, so Gatehouse caches
 * the answers to these JSON-RPC requests instead, keyed on what determines the answer:
 * - cacheable methods: tools/call, tools/list, resources/read, resources/list,
 *   resources/templates/list, prompts/get, prompts/list (never initialize, notifications, batches,
 *   subscriptions or anything else);
 * - the key: the server (context.Api.Id), the method, its params as canonical JSON (object keys
 *   sorted; `params._meta` left out — it carries per-request progress tokens), the values of each
 *   vary-by-header and vary-by-query-parameter, and with vary-by-developer(-groups) the caller's
 *   user id / groups. The JSON-RPC `id` is NOT part of the key: a hit is answered with the current
 *   request's id.
 * - only a successful result is stored: HTTP 200 (any 2xx with cache-response="true"), a JSON or SSE
 *   body holding the JSON-RPC response to this request with a `result` — never an `error`, never a
 *   tool result with `isError: true`, never a response carrying Mcp-Session-Id or Set-Cookie;
 * - requests carrying Authorization are neither looked up nor stored unless
 *   allow-private-response-caching is true (APIM); with OAuth clients set it and vary by
 *   Authorization (or the developer) so users never see each other's answers.
 * A hit is answered as application/json, without calling the backend.
 */
import { createHash } from 'node:crypto';
import type { Cache } from '../../cache/types.js';
import type { PipelineContext } from '../../pipeline/context.js';
import { PolicyFailure } from '../../pipeline/errors.js';
import { SseParser } from '../../mcp/sse.js';

export const CACHING_TYPES = ['prefer-external', 'external', 'internal'] as const;

/** the gateway's cache, or a run-time failure when the policy runs without one (e.g. `gatehouse validate`) */
export function cacheOf(cache: Cache | undefined, policy: string): Cache {
  if (!cache) throw new PolicyFailure({ source: policy, reason: 'CacheUnavailable', message: `${policy}: no cache is configured`, status: 500 });
  return cache;
}

const CACHEABLE = new Set(['tools/call', 'tools/list', 'resources/read', 'resources/list', 'resources/templates/list', 'prompts/get', 'prompts/list']);

export interface CacheableRequest {
  readonly method: string;
  readonly id: string | number;
  readonly params: unknown;
}

/** the JSON-RPC request of this pipeline run when its answer may be cached */
export function cacheableRequest(ctx: PipelineContext): CacheableRequest | undefined {
  if (ctx.request.method !== 'POST' || !ctx.request.body) return undefined;
  let msg: unknown;
  try {
    msg = JSON.parse(ctx.request.body.peekText());
  } catch {
    return undefined;
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return undefined;
  const m = msg as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
  if (m.jsonrpc !== '2.0' || typeof m.method !== 'string' || !CACHEABLE.has(m.method)) return undefined;
  if (typeof m.id !== 'string' && typeof m.id !== 'number') return undefined;
  return { method: m.method, id: m.id, params: m.params ?? null };
}

/** JSON with object keys sorted (at every level) */
export function canonicalJson(v: unknown, depth = 0): string {
  if (depth > 64) throw new Error('params nested too deeply to cache');
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x, depth + 1)).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k], depth + 1)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function paramsForKey(params: unknown): unknown {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return params;
  const { _meta: _ignored, ...rest } = params as Record<string, unknown>;
  return rest;
}

export function responseCacheKey(parts: readonly unknown[]): string {
  return `gh:rc:${createHash('sha256').update(canonicalJson(parts)).digest('base64url')}`;
}

export interface LookupState {
  readonly key: string;
  readonly id: string | number;
  readonly downstream: 'none' | 'private' | 'public';
  readonly mustRevalidate: boolean;
}

const states = new WeakMap<PipelineContext, LookupState>();

/** cache-lookup missed: what cache-store needs to store this run's answer */
export function setLookupState(ctx: PipelineContext, s: LookupState): void {
  states.set(ctx, s);
}

export function lookupStateOf(ctx: PipelineContext): LookupState | undefined {
  return states.get(ctx);
}

/** a stored answer: the result's JSON and when it expires (epoch ms) */
export interface CachedAnswer {
  readonly r: string;
  readonly exp: number;
}

/** the `result` (as JSON text) of the JSON-RPC response to `id` in a JSON or SSE body, when it is cacheable */
export function cacheableResult(contentType: string, text: string, id: string | number): string | undefined {
  const messages: unknown[] = [];
  if (contentType === 'text/event-stream') {
    const parser = new SseParser((e) => {
      if (e.data === '' || (e.event !== undefined && e.event !== 'message')) return;
      try {
        messages.push(JSON.parse(e.data));
      } catch {
        // not JSON: not ours to cache
      }
    });
    parser.push(text.endsWith('\n\n') ? text : text + '\n\n');
  } else if (contentType === 'application/json') {
    try {
      messages.push(JSON.parse(text));
    } catch {
      return undefined;
    }
  } else return undefined;
  for (const m of messages) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) continue;
    const msg = m as { id?: unknown; result?: unknown; error?: unknown };
    if (msg.id !== id) continue;
    if (msg.error !== undefined || msg.result === undefined) return undefined;
    const r = msg.result as { isError?: unknown } | null;
    if (typeof r === 'object' && r !== null && r.isError === true) return undefined;
    return JSON.stringify(msg.result);
  }
  return undefined;
}

/** the Cache-Control header for downstream caching, or undefined for downstream-caching-type="none" */
export function cacheControl(s: Pick<LookupState, 'downstream' | 'mustRevalidate'>, maxAgeSeconds: number): string | undefined {
  if (s.downstream === 'none') return undefined;
  return `${s.downstream}, max-age=${Math.max(0, Math.floor(maxAgeSeconds))}${s.mustRevalidate ? ', must-revalidate' : ''}`;
}
