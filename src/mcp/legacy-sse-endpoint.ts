/**
 * The client-facing legacy HTTP+SSE transport (MCP 2024-11-05): `GET /NAME/sse` opens the stream and
 * announces `/NAME/messages?sessionId=…`; every message the client POSTs there is answered with 202
 * and its replies travel on the stream. Works in front of either backend transport.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, JSONRPC } from '../errors/gateway-error.js';
import { accepts, isJsonContentType, readBody } from '../server/http-util.js';
import { classify, errorResponse, type JsonRpcMessageInfo } from './jsonrpc.js';
import { filterToolsListResponse, type ToolFilter } from './tool-filter.js';
import { checkToolScopes, filterFor } from './tool-access.js';
import { collectMessages, upstreamMediaType } from './upstream-streamable.js';
import { StreamSink } from './downstream-sink.js';
import { SseParser, formatSse } from './sse.js';
import { newSessionId, type SessionRecord } from './sessions.js';
import { withServerPolicies, type EndpointDeps, type RequestContext } from './streamable-endpoint.js';
import type { PolicyOverrides } from './policy-bridge.js';
import { statusError, type Overrides } from './passthrough-backend.js';
import type { MessageSink } from './upstream-sse.js';

interface LegacyStream {
  readonly sink: MessageSink;
  readonly res: ServerResponse;
  initialized: boolean;
  /** the validated caller that opened the stream: every POST to it must be the same caller */
  readonly subject: string | null;
  /** the backend's standalone stream (Streamable HTTP backends), relayed onto the client's stream */
  backendStream?: AbortController;
}

const MAX_REPLY = 16 * 1024 * 1024;

export class LegacySseEndpoint {
  readonly #streams = new Map<string, LegacyStream>();

  constructor(private readonly deps: EndpointDeps, private readonly messagesPath: string, private readonly keepAliveMs = 15_000) {}

  /** GET /NAME/sse */
  async open(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    ctx.method = 'sse';
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      throw new GatewayError('GW_ERR_METHOD_NOT_ALLOWED', 'Method not allowed');
    }
    if (!accepts(req.headers.accept, 'text/event-stream')) {
      throw new GatewayError('GW_ERR_NOT_ACCEPTABLE', 'Not Acceptable: Client must accept text/event-stream');
    }
    await this.#withPolicies(req, res, ctx, undefined, undefined, undefined, async (ov) => this.#openStream(res, ov?.principal?.subject ?? null));
  }

  #openStream(res: ServerResponse, subject: string | null): void {
    const id = newSessionId();
    const stream: LegacyStream = { sink: new StreamSink(res), res, initialized: false, subject };
    this.#streams.set(id, stream);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(formatSse({ event: 'endpoint', data: `${this.messagesPath}?sessionId=${id}` }));
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), this.keepAliveMs);
    keepAlive.unref();
    res.on('close', () => {
      clearInterval(keepAlive);
      this.#streams.delete(id);
      stream.backendStream?.abort();
      void this.deps.sessions.get(id).then((record) => this.deps.backend.terminate(id, record)).catch(() => undefined);
    });
  }

  /** POST /NAME/messages?sessionId=… */
  async message(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, query: URLSearchParams): Promise<void> {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      throw new GatewayError('GW_ERR_METHOD_NOT_ALLOWED', 'Method not allowed');
    }
    const id = query.get('sessionId');
    if (!id) throw new GatewayError('GW_ERR_SESSION_REQUIRED', 'Bad Request: sessionId query parameter is required');
    const stream = this.#streams.get(id);
    if (!stream) throw new GatewayError('GW_ERR_SESSION_NOT_FOUND', 'Session not found', { jsonRpcCode: -32001 });
    if (!isJsonContentType(req.headers['content-type'])) {
      throw new GatewayError('GW_ERR_UNSUPPORTED_MEDIA_TYPE', 'Unsupported Media Type: Content-Type must be application/json');
    }
    const body = await readBody(req, this.deps.maxBodyBytes);
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      ctx.errorCode = 'GW_ERR_PARSE';
      throw new GatewayError('GW_ERR_PARSE', 'Parse error: invalid JSON');
    }
    const items = Array.isArray(value) ? value : [value];
    if (items.length === 0) throw new GatewayError('GW_ERR_INVALID_REQUEST', 'Invalid Request: empty batch');
    const infos: JsonRpcMessageInfo[] = [];
    for (const item of items) {
      const info = classify(item);
      if (!info) throw new GatewayError('GW_ERR_INVALID_REQUEST', 'Invalid Request: not a JSON-RPC 2.0 message');
      infos.push(info);
    }
    ctx.method = infos.length === 1 ? infos[0]!.method ?? 'response' : 'batch';
    ctx.tool = infos.length === 1 ? infos[0]!.toolName : undefined;
    const init = infos.find((i) => i.method === 'initialize');
    if (init && (infos.length > 1 || init.kind !== 'request')) throw new GatewayError('GW_ERR_INVALID_REQUEST', 'Invalid Request: initialize must be a lone request');
    if (!init && !stream.initialized) throw new GatewayError('GW_ERR_BAD_REQUEST', 'Bad Request: session is not initialized');
    if (init && stream.initialized) throw new GatewayError('GW_ERR_INVALID_REQUEST', 'Invalid Request: session already initialized');

    const single = infos.length === 1 ? infos[0] : undefined;
    await this.#withPolicies(req, res, ctx, body, single, id, async (ov) => {
      // the stream belongs to the caller that opened it (checklist 58); another caller finds no session
      if ((ov?.principal?.subject ?? null) !== stream.subject) throw new GatewayError('GW_ERR_SESSION_NOT_FOUND', 'Session not found', { jsonRpcCode: -32001 });
      const filter = filterFor(this.deps.filter, this.deps.auth, ov?.principal);
      for (const i of infos) if (i.kind === 'request' && i.toolName !== undefined && filter.allows(i.toolName)) checkToolScopes(this.deps.auth, i.toolName, ov?.principal);
      let items = infos;
      if (ov?.body !== undefined) {
        // a policy replaced the message
        let v: unknown;
        try {
          v = JSON.parse(ov.body);
        } catch {
          throw new GatewayError('GW_ERR_INVALID_REQUEST', 'Invalid Request: a policy replaced the body with invalid JSON', { status: 500 });
        }
        items = (Array.isArray(v) ? v : [v]).map((x) => classify(x)).filter((x): x is JsonRpcMessageInfo => x !== undefined);
      }
      // the legacy transport answers every accepted POST with 202; the replies go on the stream
      res.writeHead(202, { 'content-type': 'text/plain' }).end('Accepted');
      const overrides: Overrides | undefined = ov ? { headers: ov.headers, target: { url: ov.target, method: ov.method, timeoutMs: ov.timeoutMs, tls: ov.tls } } : undefined;
      void this.#deliver(id, stream, items, init, req, overrides, filter).catch((err: unknown) => {
        const e = err instanceof GatewayError ? err : new GatewayError('GW_ERR_INTERNAL', 'internal error');
        for (const i of items) if (i.kind === 'request') stream.sink.write(errorResponse(i.id, JSONRPC.INTERNAL_ERROR, e.message));
      });
    });
  }

  #withPolicies(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, body: Buffer | undefined, info: JsonRpcMessageInfo | undefined, sessionId: string | undefined, action: (ov: PolicyOverrides | undefined) => Promise<void>): Promise<void> {
    const d = this.deps;
    // the legacy transport answers on its stream: the action always writes (no hand-back)
    const session = sessionId === undefined ? undefined : { id: sessionId };
    return withServerPolicies({ policies: d.policies, server: d.backend.server, publicUrl: d.publicUrl, resource: d.auth.resource }, { req, res, ctx, body, info, session, canHandBack: false, action: (ov) => action(ov) });
  }

  async #deliver(id: string, stream: LegacyStream, infos: JsonRpcMessageInfo[], init: JsonRpcMessageInfo | undefined, req: IncomingMessage, ov: Overrides | undefined, filter: ToolFilter): Promise<void> {
    const backend = this.deps.backend;
    const sink: MessageSink = filter.active
      ? { write: (m) => stream.sink.write(isToolsListReply(m, infos) ? filterToolsListResponse(m, filter) : m) }
      : stream.sink;
    if (init) {
      const out = await backend.initialize(init.message, req.headers, 'sse', id, sink, ov, stream.subject);
      stream.initialized = !('error' in out.response);
      sink.write(out.response);
      if (stream.initialized && backend.streamable) this.#openBackendStream(stream, out.record, req);
      return;
    }
    // tool curation: refused calls never reach the backend
    const allowed: JsonRpcMessageInfo[] = [];
    for (const i of infos) {
      if (i.kind === 'request' && i.toolName !== undefined && !filter.allows(i.toolName)) {
        sink.write(errorResponse(i.id, JSONRPC.INVALID_PARAMS, `Unknown tool: ${i.toolName}`));
      } else allowed.push(i);
    }
    if (allowed.length === 0) return;
    const record = await this.deps.sessions.get(id);
    if (!record) {
      for (const i of allowed) if (i.kind === 'request') sink.write(errorResponse(i.id, -32001, 'Session not found'));
      return;
    }
    if (backend.streamable) {
      const payload = allowed.length === 1 ? allowed[0]!.message : allowed.map((i) => i.message);
      const up = await backend.post(id, record, JSON.stringify(payload), req.headers, undefined, ov);
      if (up.status === 202) {
        await up.body.dump().catch(() => undefined);
        return;
      }
      if (up.status < 200 || up.status > 299) {
        await up.body.dump().catch(() => undefined);
        throw statusError(up.status, backend.server.name);
      }
      // each message reaches the client's stream as soon as the backend sends it
      await relayMessages(up, sink, backend.server.name);
      return;
    }
    const conn = backend.sseConnection(id);
    if (!conn) throw new GatewayError('GW_ERR_SESSION_NOT_FOUND', 'Session not found');
    await Promise.all(allowed.map((i) => conn.send(i.message, i.kind === 'request' ? sink : undefined)));
  }

  /** Open the backend's standalone GET stream (if it has one) and relay it onto the client's stream. */
  #openBackendStream(stream: LegacyStream, record: SessionRecord, req: IncomingMessage): void {
    const backend = this.deps.backend;
    const ac = new AbortController();
    stream.backendStream = ac;
    void (async () => {
      const up = await backend.streamable!.get(backend.headers(req.headers, record, { accept: 'text/event-stream' }), ac.signal);
      if (up.status !== 200) {
        await up.body.dump().catch(() => undefined);
        return;
      }
      await relayMessages(up, stream.sink, backend.server.name);
    })().catch(() => undefined);
  }

  closeAll(): void {
    for (const s of this.#streams.values()) s.res.end();
  }
}

function isToolsListReply(m: Record<string, unknown>, infos: JsonRpcMessageInfo[]): boolean {
  return 'result' in m && infos.some((i) => i.method === 'tools/list' && i.id === m.id);
}

/** Write every JSON-RPC message of a JSON or SSE backend answer to a sink, as it arrives. */
async function relayMessages(up: Parameters<typeof collectMessages>[0], sink: MessageSink, server: string): Promise<void> {
  const type = upstreamMediaType(up);
  if (type === 'application/json') {
    for (const m of await collectMessages(up, undefined, MAX_REPLY, server)) sink.write(m);
    return;
  }
  if (type !== 'text/event-stream') {
    await up.body.dump().catch(() => undefined);
    throw new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${server}" answered with an unexpected content type`);
  }
  const parser = new SseParser((e) => {
    if (e.data === '' || (e.event !== undefined && e.event !== 'message')) return;
    try {
      sink.write(JSON.parse(e.data) as Record<string, unknown>);
    } catch {
      // a backend's malformed event never reaches the client
    }
  }, MAX_REPLY);
  up.body.setEncoding('utf8');
  for await (const chunk of up.body as AsyncIterable<string>) parser.push(chunk);
}
