/**
 * The gateway as a client of a legacy HTTP+SSE backend (MCP 2024-11-05): one long-lived GET stream
 * per client session, whose first `endpoint` event names the URL to POST messages to. Replies arrive
 * on that stream and are routed back to the client request they belong to.
 */
import type { PassthroughServerConfig } from '../config/types.js';
import type { UpstreamPools } from '../proxy/upstream-pool.js';
import { upstreamError } from '../proxy/upstream-errors.js';
import { GatewayError } from '../errors/gateway-error.js';
import { classify, type JsonRpcId } from './jsonrpc.js';
import { SseParser } from './sse.js';
import { mediaTypeOf } from '../server/http-util.js';

/** Where messages for one client request (or the client's standalone stream) are delivered. */
export interface MessageSink {
  write(message: Record<string, unknown>): void;
}

interface Pending {
  readonly sink: MessageSink;
  readonly progressToken: string | number | undefined;
  readonly resolve: () => void;
}

const idKey = (id: JsonRpcId): string => (typeof id === 'number' ? `n:${id}` : `s:${id}`);

export class SseUpstreamConnection {
  readonly #pending = new Map<string, Pending>();
  readonly #progress = new Map<string | number, string>();
  #standalone: MessageSink | undefined;
  #endpoint: URL | undefined;
  #closed = false;
  #abort = new AbortController();
  /** called once when the backend stream ends or fails */
  onclose: (() => void) | undefined;

  private constructor(private readonly server: PassthroughServerConfig, private readonly pools: UpstreamPools, private readonly headers: Record<string, string>) {}

  static async open(server: PassthroughServerConfig, pools: UpstreamPools, headers: Record<string, string>): Promise<SseUpstreamConnection> {
    const conn = new SseUpstreamConnection(server, pools, headers);
    await conn.#connect();
    return conn;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async #connect(): Promise<void> {
    const url = new URL(this.server.backend.url);
    let res;
    try {
      res = await this.pools.get(url.origin).request({
        path: url.pathname + url.search,
        method: 'GET',
        headers: { ...this.headers, accept: 'text/event-stream' },
        signal: this.#abort.signal,
        headersTimeout: this.server.backend.timeoutMs,
        bodyTimeout: 0,
      });
    } catch (err) {
      throw upstreamError(err, this.server.name);
    }
    const type = mediaTypeOf(res.headers['content-type']);
    if (res.statusCode !== 200 || type !== 'text/event-stream') {
      await res.body.dump().catch(() => undefined);
      throw new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${this.server.name}" did not open an SSE stream (HTTP ${res.statusCode})`);
    }
    const body = res.body;
    let gotEndpoint: (() => void) | undefined;
    let failEndpoint: ((e: Error) => void) | undefined;
    const endpointReady = new Promise<void>((resolve, reject) => { gotEndpoint = resolve; failEndpoint = reject; });
    const parser = new SseParser((e) => {
      if (e.event === 'endpoint') {
        if (this.#endpoint) return;
        let target: URL;
        try {
          target = new URL(e.data, url);
        } catch {
          failEndpoint?.(new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${this.server.name}" sent an invalid endpoint`));
          return;
        }
        // SSRF: the message endpoint must stay on the configured backend's origin
        if (target.origin !== url.origin) {
          failEndpoint?.(new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${this.server.name}" named a message endpoint on another origin`));
          return;
        }
        this.#endpoint = target;
        gotEndpoint?.();
        return;
      }
      if (e.event === undefined || e.event === 'message') this.#onMessage(e.data);
    });
    body.setEncoding('utf8');
    body.on('data', (chunk: string) => {
      try {
        parser.push(chunk);
      } catch {
        body.destroy();
      }
    });
    const finish = () => {
      failEndpoint?.(new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${this.server.name}" closed the SSE stream`));
      this.#shutdown();
    };
    body.on('end', finish);
    body.on('error', finish);
    body.on('close', finish);
    const timer = setTimeout(() => failEndpoint?.(new GatewayError('GW_ERR_UPSTREAM_TIMEOUT', `backend of server "${this.server.name}" sent no endpoint event in time`)), this.server.backend.timeoutMs);
    try {
      await endpointReady;
    } catch (err) {
      this.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  #onMessage(data: string): void {
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      return; // a backend's garbage never reaches the client
    }
    const info = classify(value);
    if (!info) return;
    if (info.kind === 'response' && info.id !== undefined) {
      const key = idKey(info.id);
      const p = this.#pending.get(key);
      if (p) {
        this.#pending.delete(key);
        if (p.progressToken !== undefined) this.#progress.delete(p.progressToken);
        p.sink.write(info.message);
        p.resolve();
        return;
      }
    }
    this.#route(info.method, info.message)?.write(info.message);
  }

  /** Which client stream a server→client message belongs on (MCP: the originating request's stream). */
  #route(method: string | undefined, message: Record<string, unknown>): MessageSink | undefined {
    if (method === 'notifications/progress') {
      const token = (message.params as { progressToken?: string | number } | undefined)?.progressToken;
      const key = token === undefined ? undefined : this.#progress.get(token);
      const p = key === undefined ? undefined : this.#pending.get(key);
      if (p) return p.sink;
    }
    if (this.#pending.size === 1) return this.#pending.values().next().value!.sink;
    if (this.#standalone) return this.#standalone;
    let last: Pending | undefined;
    for (const p of this.#pending.values()) last = p;
    return last?.sink;
  }

  /** The client's standalone (GET) stream; false when one is already attached. */
  attachStandalone(sink: MessageSink): boolean {
    if (this.#standalone) return false;
    this.#standalone = sink;
    return true;
  }

  detachStandalone(sink: MessageSink): void {
    if (this.#standalone === sink) this.#standalone = undefined;
  }

  /**
   * Send a client→server message. For a request, resolves when its response has been written to `sink`;
   * for notifications and responses, when the backend accepted the POST.
   */
  async send(message: Record<string, unknown>, sink: MessageSink | undefined): Promise<void> {
    if (this.#closed || !this.#endpoint) throw new GatewayError('GW_ERR_SESSION_NOT_FOUND', 'session ended: the backend closed its SSE stream');
    const info = classify(message);
    let done: Promise<void> | undefined;
    let key: string | undefined;
    if (info?.kind === 'request' && info.id !== undefined && sink) {
      key = idKey(info.id);
      const token = (info.message.params as { _meta?: { progressToken?: string | number } } | undefined)?._meta?.progressToken;
      done = new Promise<void>((resolve) => {
        this.#pending.set(key!, { sink, progressToken: token, resolve });
      });
      if (token !== undefined) this.#progress.set(token, key);
    }
    const endpoint = this.#endpoint;
    try {
      const res = await this.pools.get(endpoint.origin).request({
        path: endpoint.pathname + endpoint.search,
        method: 'POST',
        headers: { ...this.headers, 'content-type': 'application/json' },
        body: JSON.stringify(message),
        headersTimeout: this.server.backend.timeoutMs,
        bodyTimeout: this.server.backend.timeoutMs,
      });
      await res.body.dump().catch(() => undefined);
      if (res.statusCode < 200 || res.statusCode > 299) {
        throw new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${this.server.name}" refused a message (HTTP ${res.statusCode})`);
      }
    } catch (err) {
      if (key !== undefined) this.#forget(key);
      throw upstreamError(err, this.server.name);
    }
    if (done) await done;
  }

  #forget(key: string): void {
    const p = this.#pending.get(key);
    if (!p) return;
    this.#pending.delete(key);
    if (p.progressToken !== undefined) this.#progress.delete(p.progressToken);
  }

  #shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    // every request still waiting gets an error response so no client hangs
    for (const [key, p] of this.#pending) {
      const raw = key.slice(2);
      const id: JsonRpcId = key.startsWith('n:') ? Number(raw) : raw;
      p.sink.write({ jsonrpc: '2.0', id, error: { code: -32000, message: 'backend connection closed' } });
      p.resolve();
    }
    this.#pending.clear();
    this.#progress.clear();
    this.onclose?.();
  }

  close(): void {
    this.#abort.abort();
    this.#shutdown();
  }
}
