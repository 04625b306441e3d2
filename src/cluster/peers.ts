/**
 * Session affinity between the workers of a multi-process gateway. Most MCP state is shared (the
 * session records in the primary's cache), so any worker serves any request. Two kinds of state
 * live in one worker's memory: a legacy HTTP+SSE client's stream (`/NAME/sse`, whose messages
 * arrive at `/NAME/messages?sessionId=…`) and the gateway's connection to an SSE-only backend. A
 * request for such a session that lands on another worker is relayed, unchanged and streaming, to
 * the worker that minted the session id (its `.INDEX`) over that worker's private loopback
 * listener, which accepts only requests carrying the cluster's secret.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { GatewayError } from '../errors/gateway-error.js';
import { ownerOf } from './role.js';

export const PEER_SECRET_HEADER = 'x-gatehouse-peer';
export const PEER_CLIENT_HEADER = 'x-gatehouse-peer-client';

/** requests relayed by another worker carry the original client's address here */
const CLIENT_ADDRESS = Symbol('gatehouse.peer.client');

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', PEER_SECRET_HEADER, PEER_CLIENT_HEADER]);

/** the client's address: the TCP peer, or for a request relayed by another worker, the original client's */
export function clientAddress(req: IncomingMessage): string {
  const relayed = (req as unknown as Record<symbol, string | undefined>)[CLIENT_ADDRESS];
  return relayed ?? req.socket.remoteAddress ?? '';
}

/** true when another worker relayed this request (it is never relayed again) */
export function isRelayed(req: IncomingMessage): boolean {
  return (req as unknown as Record<symbol, string | undefined>)[CLIENT_ADDRESS] !== undefined;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export class Peers {
  #ports: readonly number[] = [];
  readonly #pools = new Map<number, Pool>();
  readonly #secretDigest: Buffer;
  #listener: Server | undefined;

  constructor(readonly index: number, private readonly secret: string) {
    this.#secretDigest = digest(secret);
  }

  /** every worker's peer port by index, from the primary (0: not serving) */
  setPorts(ports: readonly number[]): void {
    this.#ports = ports;
  }

  /**
   * Relay the request to the worker that owns the session when that is another worker; false when
   * this worker should serve it (its own session, an untagged id, or a request already relayed).
   */
  async relay(sessionId: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (isRelayed(req)) return false;
    const owner = ownerOf(sessionId);
    if (owner === undefined || owner === this.index) return false;
    const port = this.#ports[owner];
    // the owner is gone (restarting): its in-memory session went with it
    if (!port) return false;
    try {
      await this.#send(port, req, res);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return true;
      }
      // the owner is unreachable: its in-memory session is as good as gone, the client starts anew
      throw new GatewayError('GW_ERR_SESSION_NOT_FOUND', 'Session not found', { jsonRpcCode: -32001, cause: err });
    }
    return true;
  }

  async #send(port: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let pool = this.#pools.get(port);
    if (!pool) {
      pool = new Pool(`http://127.0.0.1:${port}`, { connections: 64, keepAliveTimeout: 10_000 });
      this.#pools.set(port, pool);
    }
    // raw headers keep repeated headers (e.g. two Authorization headers, which policies refuse)
    const headers: string[] = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
    }
    headers.push(PEER_SECRET_HEADER, this.secret, PEER_CLIENT_HEADER, req.socket.remoteAddress ?? '');
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'DELETE';
    const up = await pool.request({
      path: req.url ?? '/',
      method: req.method as 'POST',
      headers,
      body: hasBody ? req : null,
      signal: abort.signal,
      headersTimeout: 60_000,
      bodyTimeout: 0,
    });
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
    res.writeHead(up.statusCode, out);
    res.flushHeaders();
    up.body.on('error', () => res.destroy());
    up.body.pipe(res);
  }

  /**
   * This worker's private listener on 127.0.0.1 (not shared through the cluster): requests with the
   * cluster's secret are handed to `handle` as if they had arrived directly; anything else gets 403.
   */
  listen(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
    const server = createServer({ noDelay: true, requestTimeout: 0 }, (req, res) => {
      const given = req.headers[PEER_SECRET_HEADER];
      if (typeof given !== 'string' || !timingSafeEqual(digest(given), this.#secretDigest)) {
        req.resume();
        res.writeHead(403, { 'content-type': 'application/json' }).end('{"statusCode":403,"message":"Forbidden"}');
        return;
      }
      const client = req.headers[PEER_CLIENT_HEADER];
      delete req.headers[PEER_SECRET_HEADER];
      delete req.headers[PEER_CLIENT_HEADER];
      // nothing downstream may see the secret, not even in the raw headers
      const raw = req.rawHeaders;
      for (let i = raw.length - 2; i >= 0; i -= 2) {
        const k = raw[i]!.toLowerCase();
        if (k === PEER_SECRET_HEADER || k === PEER_CLIENT_HEADER) raw.splice(i, 2);
      }
      (req as unknown as Record<symbol, string>)[CLIENT_ADDRESS] = typeof client === 'string' ? client : '';
      handle(req, res);
    });
    this.#listener = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      // exclusive: a worker's own port, not one shared by the cluster's primary
      server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => resolve((server.address() as AddressInfo).port));
    });
  }

  async close(): Promise<void> {
    const l = this.#listener;
    if (l) {
      l.closeAllConnections();
      await new Promise<void>((resolve) => l.close(() => resolve()));
    }
    await Promise.allSettled([...this.#pools.values()].map((p) => p.destroy()));
    this.#pools.clear();
  }
}
