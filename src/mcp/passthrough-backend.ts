/**
 * One passthrough server's backend side: creates, re-creates and ends backend sessions for client
 * sessions, whatever the two transports are. The gateway owns the client session; the backend's own
 * session id stays inside the gateway (MCP security best practices: never leak it downstream).
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { RelayOutcome } from '../proxy/direct-relay.js';
import type { PassthroughServerConfig } from '../config/types.js';
import type { UpstreamPools } from '../proxy/upstream-pool.js';
import type { Logger } from '../observability/logger.js';
import { GatewayError } from '../errors/gateway-error.js';
import { StreamableUpstream, collectMessages, type UpstreamResponse, type TargetOptions } from './upstream-streamable.js';
import { SseUpstreamConnection, type MessageSink } from './upstream-sse.js';
import { SessionStore, newSessionId, type SessionRecord } from './sessions.js';
import { ALL_VERSIONS, LATEST_VERSION } from './protocol.js';

const MAX_INIT_RESPONSE = 4 * 1024 * 1024;
const PROTECTED_HEADERS = new Set(['mcp-session-id', 'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer']);

/** what policies changed about backend requests */
export interface Overrides {
  readonly headers?: Readonly<Record<string, string | null>>;
  readonly target?: TargetOptions;
}

export interface InitializeOutcome {
  readonly sessionId: string;
  readonly record: SessionRecord;
  /** the backend's answer to initialize, with the client's request id */
  readonly response: Record<string, unknown>;
}

export class PassthroughBackend {
  readonly streamable: StreamableUpstream | undefined;
  readonly #sse = new Map<string, SseUpstreamConnection>();
  readonly #forward: readonly string[];

  constructor(
    readonly server: PassthroughServerConfig,
    private readonly pools: UpstreamPools,
    private readonly sessions: SessionStore,
    private readonly log: Logger,
    private readonly onSessionsChanged: (delta: number) => void,
  ) {
    this.streamable = server.backend.transport === 'streamable-http' ? new StreamableUpstream(server, pools) : undefined;
    this.#forward = server.forwardHeaders;
  }

  /** Headers for a backend request: built from scratch; only forwardHeaders are copied from the client. */
  headers(client: IncomingHttpHeaders | undefined, record: SessionRecord | undefined, extra?: Record<string, string>, policy?: Readonly<Record<string, string | null>>): Record<string, string> {
    const h: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    if (record) {
      h['mcp-protocol-version'] = record.protocolVersion;
      if (record.backendSessionId) h['mcp-session-id'] = record.backendSessionId;
    }
    if (client) {
      for (const name of this.#forward) {
        const v = client[name];
        if (v !== undefined) h[name] = Array.isArray(v) ? v.join(', ') : v;
      }
    }
    if (extra) Object.assign(h, extra);
    if (policy) {
      // headers set by policies (set-header, authentication-*) reach the backend; the session and framing headers stay the gateway's
      for (const [k, v] of Object.entries(policy)) {
        if (PROTECTED_HEADERS.has(k)) continue;
        if (v === null) delete h[k];
        else h[k] = v;
      }
    }
    return h;
  }

  /** Initialize a backend session for a new client session and store the record. */
  async initialize(message: Record<string, unknown>, client: IncomingHttpHeaders, downstream: SessionRecord['downstream'], sessionId = newSessionId(), sink?: MessageSink, ov?: Overrides, subject: string | null = null): Promise<InitializeOutcome> {
    const params = { ...((message.params as Record<string, unknown> | undefined) ?? {}) };
    // MCP lifecycle: a server answers an unsupported version with its latest; make sure the backend
    // is never asked for a version the gateway itself can't speak
    if (typeof params.protocolVersion !== 'string' || !ALL_VERSIONS.has(params.protocolVersion)) params.protocolVersion = LATEST_VERSION;
    const initMessage = { ...message, params };
    const record: SessionRecord = {
      server: this.server.name,
      subject,
      protocolVersion: params.protocolVersion as string,
      initParams: params,
      downstream,
      createdAt: Date.now(),
    };
    let response: Record<string, unknown>;
    if (this.streamable) {
      const { response: r, backendSessionId } = await this.#initStreamable(initMessage, client, ov);
      response = r;
      record.backendSessionId = backendSessionId;
    } else {
      const conn = await SseUpstreamConnection.open(this.server, this.pools, this.headers(client, undefined, { accept: 'text/event-stream' }, ov?.headers));
      let answer: Record<string, unknown> | undefined;
      await conn.send(initMessage, { write: (m) => { if ('result' in m || 'error' in m) answer = m; else sink?.write(m); } });
      if (!answer) {
        conn.close();
        throw new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${this.server.name}" did not answer initialize`);
      }
      response = answer;
      if (!('error' in answer)) {
        this.#sse.set(sessionId, conn);
        this.onSessionsChanged(1);
        conn.onclose = () => {
          if (this.#sse.get(sessionId) === conn) {
            this.#sse.delete(sessionId);
            this.onSessionsChanged(-1);
            this.sessions.delete(sessionId).catch(() => undefined);
          }
        };
      } else conn.close();
    }
    if ('error' in response) return { sessionId: '', record, response };
    const negotiated = (response.result as { protocolVersion?: unknown } | undefined)?.protocolVersion;
    if (typeof negotiated === 'string' && ALL_VERSIONS.has(negotiated)) record.protocolVersion = negotiated;
    await this.sessions.create(record, sessionId);
    if (this.streamable) this.onSessionsChanged(1);
    return { sessionId, record, response };
  }

  async #initStreamable(initMessage: Record<string, unknown>, client: IncomingHttpHeaders | undefined, ov?: Overrides): Promise<{ response: Record<string, unknown>; backendSessionId: string | undefined }> {
    const up = await this.streamable!.post(JSON.stringify(initMessage), this.headers(client, undefined, undefined, ov?.headers), undefined, ov?.target);
    if (up.status !== 200) {
      await up.body.dump().catch(() => undefined);
      throw statusError(up.status, this.server.name);
    }
    const backendSessionId = headerValue(up, 'mcp-session-id');
    const messages = await collectMessages(up, initMessage.id as string | number, MAX_INIT_RESPONSE, this.server.name);
    const response = messages.find((m) => m.id === initMessage.id && ('result' in m || 'error' in m));
    if (!response) throw new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${this.server.name}" did not answer initialize`);
    return { response, backendSessionId };
  }

  /**
   * POST a client message to a Streamable HTTP backend. When the backend answers 404 for its session
   * (it restarted or expired the session), the gateway re-initializes the backend session with the
   * client's original parameters and retries once (checklist item 16).
   */
  async post(sessionId: string, record: SessionRecord, body: string | Buffer, client: IncomingHttpHeaders, signal: AbortSignal | undefined, ov?: Overrides): Promise<UpstreamResponse> {
    const up = await this.streamable!.post(body, this.headers(client, record, undefined, ov?.headers), signal, ov?.target);
    if (up.status !== 404 || !record.backendSessionId) return up;
    await up.body.dump().catch(() => undefined);
    await this.reinitialize(sessionId, record, client, ov);
    return this.streamable!.post(body, this.headers(client, record, undefined, ov?.headers), signal, ov?.target);
  }

  /** Like post(), but a 2xx answer is written straight to the client; anything else comes back. */
  async relay(sessionId: string, record: SessionRecord, body: string | Buffer, client: IncomingHttpHeaders, res: ServerResponse, ov?: Overrides): Promise<RelayOutcome | null> {
    const out = await this.streamable!.relay(body, this.headers(client, record, undefined, ov?.headers), res, ov?.target);
    if (out === null || out.status !== 404 || !record.backendSessionId) return out;
    await this.reinitialize(sessionId, record, client, ov);
    return this.streamable!.relay(body, this.headers(client, record, undefined, ov?.headers), res, ov?.target);
  }

  async reinitialize(sessionId: string, record: SessionRecord, client: IncomingHttpHeaders | undefined, ov?: Overrides): Promise<void> {
    this.log.info({ server: this.server.name }, 'backend session expired; re-initializing');
    const id = `gatehouse-reinit-${Date.now()}`;
    const { response, backendSessionId } = await this.#initStreamable({ jsonrpc: '2.0', id, method: 'initialize', params: record.initParams }, client, ov);
    if ('error' in response) throw new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${this.server.name}" refused to re-initialize`);
    record.backendSessionId = backendSessionId;
    const note = await this.streamable!.post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), this.headers(client, record, undefined, ov?.headers), undefined, ov?.target);
    await note.body.dump().catch(() => undefined);
    await this.sessions.update(sessionId, record);
  }

  sseConnection(sessionId: string): SseUpstreamConnection | undefined {
    return this.#sse.get(sessionId);
  }

  /** End a session: tell the backend (best effort) and forget the record. */
  async terminate(sessionId: string, record: SessionRecord | undefined, ov?: Overrides): Promise<void> {
    const conn = this.#sse.get(sessionId);
    if (conn) {
      this.#sse.delete(sessionId);
      this.onSessionsChanged(-1);
      conn.close();
    } else if (record && this.streamable) {
      this.onSessionsChanged(-1);
      if (record.backendSessionId) {
        try {
          const r = await this.streamable.delete(this.headers(undefined, record, undefined, ov?.headers), ov?.target);
          await r.body.dump().catch(() => undefined);
        } catch (err) {
          this.log.debug({ server: this.server.name, err: (err as Error).message }, 'backend session delete failed');
        }
      }
    }
    await this.sessions.delete(sessionId);
  }

  close(): void {
    for (const conn of this.#sse.values()) conn.close();
    this.#sse.clear();
  }
}

export function headerValue(up: UpstreamResponse, name: string): string | undefined {
  const v = up.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A backend HTTP status that the client must not see as-is. */
export function statusError(status: number, server: string): GatewayError {
  if (status === 401 || status === 403) {
    // never relay a backend's auth challenge: the client would start OAuth against the backend's
    // authorization server with the gateway's resource (confused deputy); it's the gateway's credentials that failed
    return new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${server}" refused the gateway's credentials (HTTP ${status})`, { detail: { backendStatus: status } });
  }
  return new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${server}" failed (HTTP ${status})`, { detail: { backendStatus: status } });
}
