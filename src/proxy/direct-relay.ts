/**
 * The proxy's hot path: one backend request dispatched on a pooled undici connection whose answer
 * is written straight to the client's response as it arrives — no intermediate stream objects.
 * 2xx JSON → one write with Content-Length; 2xx SSE → each chunk as it comes (backpressure pauses
 * the backend); 202 → empty 202. Anything else is handed back to the caller, body bounded, so the
 * caller decides (retry after a lost backend session, error mapping).
 */
import type { ServerResponse, IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { upstreamError } from './upstream-errors.js';
import { mediaTypeOf } from '../server/http-util.js';

/** the backend request, dispatched as it is (bodyTimeout 0: SSE answers may idle between events) */
export interface RelayRequest {
  readonly path: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | Buffer;
  readonly headersTimeout: number;
  readonly bodyTimeout: 0;
}

/** a backend answer the relay did not write to the client */
export interface RelayOutcome {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly contentType: string;
  readonly body: Buffer;
}

const MAX_OUTCOME_BODY = 1024 * 1024;


class RelayHandler implements Dispatcher.DispatchHandler {
  #mode: 'pending' | 'accepted' | 'json' | 'sse' | 'outcome' = 'pending';
  #chunks: Buffer[] = [];
  #size = 0;
  #status = 0;
  #headers: IncomingHttpHeaders = {};
  #contentType = '';
  #controller: Dispatcher.DispatchController | undefined;
  #settled = false;
  readonly #onClientClose = () => {
    if (!this.#settled) this.#controller?.abort(new Error('client closed the connection'));
  };

  constructor(
    private readonly res: ServerResponse,
    private readonly server: string,
    private readonly resolve: (o: RelayOutcome | null) => void,
    private readonly reject: (e: unknown) => void,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // on() + off(): once() would wrap the listener in a new closure per request
    this.res.on('close', this.#onClientClose);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.#status = statusCode;
    this.#headers = headers;
    const type = mediaTypeOf(headers['content-type']);
    this.#contentType = type;
    const res = this.res;
    if (statusCode === 202) this.#mode = 'accepted';
    else if (statusCode >= 200 && statusCode < 300 && type === 'application/json') this.#mode = 'json';
    else if (statusCode >= 200 && statusCode < 300 && type === 'text/event-stream') {
      this.#mode = 'sse';
      res.writeHead(statusCode, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      res.on('drain', () => controller.resume());
    } else this.#mode = 'outcome';
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    switch (this.#mode) {
      case 'sse':
        if (!this.res.write(chunk)) controller.pause();
        return;
      case 'json':
        this.#chunks.push(chunk);
        this.#size += chunk.length;
        return;
      case 'outcome':
        if (this.#size + chunk.length <= MAX_OUTCOME_BODY) {
          this.#chunks.push(chunk);
          this.#size += chunk.length;
        }
        return;
      default:
        return;
    }
  }

  onResponseEnd(): void {
    this.#settled = true;
    this.res.off('close', this.#onClientClose);
    const res = this.res;
    switch (this.#mode) {
      case 'accepted':
        res.writeHead(202).end();
        break;
      case 'json': {
        const body = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#size);
        res.writeHead(this.#status, { 'content-type': 'application/json', 'content-length': String(body.length) });
        res.end(body);
        break;
      }
      case 'sse':
        res.end();
        break;
      default:
        this.resolve({ status: this.#status, headers: this.#headers, contentType: this.#contentType, body: Buffer.concat(this.#chunks, this.#size) });
        return;
    }
    this.resolve(null);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const wasSettled = this.#settled;
    this.#settled = true;
    this.res.off('close', this.#onClientClose);
    if (this.res.headersSent) {
      // mid-stream failure: the client sees the stream end abruptly rather than a half message
      this.res.destroy();
      if (!wasSettled) this.resolve(null);
      return;
    }
    if (this.res.destroyed) {
      this.resolve(null);
      return;
    }
    this.reject(upstreamError(err, this.server));
  }
}

export function relay(pool: Dispatcher, req: RelayRequest, res: ServerResponse, server: string): Promise<RelayOutcome | null> {
  return new Promise((resolve, reject) => {
    pool.dispatch(req as Dispatcher.DispatchOptions, new RelayHandler(res, server, resolve, reject));
  });
}
