/**
 * The gateway as a client of a Streamable HTTP backend: plain HTTP requests on a pooled undici
 * connection. Headers are built from scratch for every request, so nothing the client sent reaches
 * the backend unless the server's forwardHeaders names it (no Authorization, no cookies, no
 * hop-by-hop headers).
 */
import type { Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import type { PassthroughServerConfig } from '../config/types.js';
import type { ClientTls, UpstreamPools } from '../proxy/upstream-pool.js';
import { upstreamError } from '../proxy/upstream-errors.js';
import { GatewayError } from '../errors/gateway-error.js';
import { SseParser } from './sse.js';
import { mediaTypeOf } from '../server/http-util.js';
import { relay, type RelayOutcome } from '../proxy/direct-relay.js';
import type { ServerResponse } from 'node:http';

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable & { text(): Promise<string>; dump(opts?: { limit?: number }): Promise<void> };
}

/** what policies changed about the backend request (set-backend-service, rewrite-uri, set-method, forward-request timeout) */
export interface TargetOptions {
  readonly url?: URL | undefined;
  readonly method?: string;
  readonly timeoutMs?: number;
  /** client certificate for the backend connection (authentication-certificate) */
  readonly tls?: ClientTls | undefined;
}

export class StreamableUpstream {
  readonly #origin: string;
  readonly #path: string;

  constructor(private readonly server: PassthroughServerConfig, private readonly pools: UpstreamPools) {
    const url = new URL(server.backend.url);
    this.#origin = url.origin;
    this.#path = url.pathname + url.search;
  }

  async #request(method: string, headers: Record<string, string>, body: string | Buffer | undefined, signal: AbortSignal | undefined, streaming: boolean, target?: TargetOptions): Promise<UpstreamResponse> {
    const timeout = target?.timeoutMs ?? this.server.backend.timeoutMs;
    const origin = target?.url ? target.url.origin : this.#origin;
    const path = target?.url ? target.url.pathname + target.url.search : this.#path;
    try {
      const res = await this.pools.get(origin, target?.tls).request({
        path,
        method: (target?.method ?? method) as 'POST',
        headers,
        body: body ?? null,
        signal: signal ?? null,
        headersTimeout: timeout,
        // SSE streams legitimately idle between events; JSON bodies must finish in time
        bodyTimeout: streaming ? 0 : timeout,
      });
      return { status: res.statusCode, headers: res.headers as IncomingHttpHeaders, body: res.body as unknown as UpstreamResponse['body'] };
    } catch (err) {
      throw upstreamError(err, this.server.name);
    }
  }

  /** POST and write a 2xx answer straight to the client (the hot path); other answers come back */
  relay(body: string | Buffer, headers: Record<string, string>, res: ServerResponse, target?: TargetOptions): Promise<RelayOutcome | null> {
    const pool = this.pools.get(target?.url ? target.url.origin : this.#origin, target?.tls);
    const path = target?.url ? target.url.pathname + target.url.search : this.#path;
    return relay(pool, { path, method: target?.method ?? 'POST', headers, body, headersTimeout: target?.timeoutMs ?? this.server.backend.timeoutMs, bodyTimeout: 0 }, res, this.server.name);
  }

  post(body: string | Buffer, headers: Record<string, string>, signal?: AbortSignal, target?: TargetOptions): Promise<UpstreamResponse> {
    return this.#request('POST', headers, body, signal, true, target);
  }

  get(headers: Record<string, string>, signal?: AbortSignal, target?: TargetOptions): Promise<UpstreamResponse> {
    // the stream's own method stays GET whatever set-method says (it applies to messages)
    return this.#request('GET', headers, undefined, signal, true, target ? { ...target, method: 'GET' } : undefined);
  }

  delete(headers: Record<string, string>, target?: TargetOptions): Promise<UpstreamResponse> {
    return this.#request('DELETE', headers, undefined, undefined, false, target ? { ...target, method: 'DELETE' } : undefined);
  }
}

/** Read an upstream body as text, bounded. */
export async function readUpstreamText(res: UpstreamResponse, limit: number, server: string): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        res.body.destroy();
        throw new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${server}" sent a response larger than ${limit} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    throw upstreamError(err, server);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

export const upstreamMediaType = (res: UpstreamResponse): string => mediaTypeOf(res.headers['content-type']);

/**
 * Consume a JSON or SSE body and return every JSON-RPC message in it (used where the gateway
 * itself needs the answer, e.g. initialize). Stops at the response whose id is `untilId`.
 */
export async function collectMessages(res: UpstreamResponse, untilId: string | number | undefined, limit: number, server: string): Promise<Record<string, unknown>[]> {
  const type = upstreamMediaType(res);
  if (type === 'application/json') {
    const text = await readUpstreamText(res, limit, server);
    const value = safeParse(text, server);
    return Array.isArray(value) ? (value as Record<string, unknown>[]) : [value as Record<string, unknown>];
  }
  if (type !== 'text/event-stream') {
    res.body.destroy();
    throw new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${server}" answered with an unexpected content type`);
  }
  const out: Record<string, unknown>[] = [];
  let done = false;
  const parser = new SseParser((e) => {
    if (done || (e.event !== undefined && e.event !== 'message') || e.data === '') return;
    const msg = safeParse(e.data, server) as Record<string, unknown>;
    out.push(msg);
    if (untilId !== undefined && msg.id === untilId && ('result' in msg || 'error' in msg)) done = true;
  }, limit);
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      parser.push(chunk.toString('utf8'));
      if (done) break;
    }
  } catch (err) {
    throw upstreamError(err, server);
  } finally {
    if (!res.body.destroyed) res.body.destroy();
  }
  return out;
}

function safeParse(text: string, server: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${server}" sent invalid JSON`);
  }
}
