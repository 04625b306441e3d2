/**
 * The client-facing Streamable HTTP endpoint `/NAME/mcp` (MCP 2025-11-25 §Transports) of one
 * passthrough server: POST (messages), GET (standalone stream), DELETE (end session).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, JSONRPC } from '../errors/gateway-error.js';
import { accepts, singleHeader } from '../server/http-util.js';
import { classify, errorResponse, invalidRequest, type JsonRpcMessageInfo } from './jsonrpc.js';
import { batchAllowed } from './protocol.js';
import { filterToolsListResponse, type ToolFilter } from './tool-filter.js';
import { headerValue, statusError, type PassthroughBackend } from './passthrough-backend.js';
import { readUpstreamText, upstreamMediaType, type UpstreamResponse } from './upstream-streamable.js';
import { RequestReplySink, StreamSink } from './downstream-sink.js';
import { SseParser, formatSse } from './sse.js';
import type { SessionRecord, SessionStore } from './sessions.js';
import { pipelineFor, type ServerPolicies } from './server-policies.js';
import { runWithPolicies, responseHeaders, type ActionMode, type ActionResult, type PolicyOverrides } from './policy-bridge.js';
import { newResponse, type PipelineContext } from '../pipeline/context.js';
import type { Overrides } from './passthrough-backend.js';
import { checkVersionHeader, readJsonPost, requireSession } from './request-checks.js';
import { checkSubject, checkToolScopes, filterFor, type ServerAuthorization } from './tool-access.js';
import type { Admission } from '../subscriptions/gate.js';
import type { PassthroughServerConfig } from '../config/types.js';

export interface RequestContext {
  readonly requestId: string;
  /** the subscription the request's key belongs to (checked before any policy runs) */
  admission?: Admission | undefined;
  /** set by the endpoint for metrics and logs */
  method?: string;
  tool?: string | undefined;
  errorCode?: string;
  /** an unexpected error a policy pipeline turned into a 500 (logged by the gateway, never sent) */
  internalError?: unknown;
}

/** what every MCP endpoint of a server is built from (passthrough and OpenAPI alike) */
export interface ServerEndpointDeps {
  readonly sessions: SessionStore;
  readonly filter: ToolFilter;
  readonly maxBodyBytes: number;
  /** the server's compiled policy pipelines (undefined or trivial: no pipeline runs) */
  readonly policies: ServerPolicies | undefined;
  /** the gateway's public base URL (context.Request.Url) */
  readonly publicUrl: string;
  /** the server as a protected resource: tool scopes, tool access, its challenges */
  readonly auth: ServerAuthorization;
}

export interface EndpointDeps extends ServerEndpointDeps {
  readonly backend: PassthroughBackend;
}

export type Action = (ov: PolicyOverrides | undefined, mode: ActionMode) => Promise<ActionResult | void>;

const MAX_FILTERED_BODY = 16 * 1024 * 1024;

/** Render an error on an MCP endpoint: the HTTP status plus a JSON-RPC error body (no id unless known). */
export function sendMcpError(res: ServerResponse, err: GatewayError, id: string | number | null = null): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // APIM's own answers (subscription keys) keep APIM's body, as validate-jwt's do
  const body = err.apimBody ? JSON.stringify({ statusCode: err.status, message: err.message }) : JSON.stringify(errorResponse(id, err.jsonRpcCode, err.message));
  res.writeHead(err.status, { ...err.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function jsonReply(res: ServerResponse, status: number, message: unknown, headers?: Record<string, string>): void {
  const body = JSON.stringify(message);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

export class StreamableEndpoint {
  constructor(private readonly deps: EndpointDeps) {}

  async handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    switch (req.method) {
      case 'POST': return this.#post(req, res, ctx);
      case 'GET': return this.#get(req, res, ctx);
      case 'DELETE': return this.#delete(req, res, ctx);
      // CORS preflight: the server's policies (cors) may answer; when none does, 405 as for any other method
      case 'OPTIONS':
        return this.#withPolicies(req, res, ctx, undefined, undefined, undefined, false, async () => {
          res.setHeader('allow', 'GET, POST, DELETE');
          throw new GatewayError('GW_ERR_METHOD_NOT_ALLOWED', 'Method not allowed');
        });
      default:
        res.setHeader('allow', 'GET, POST, DELETE');
        throw new GatewayError('GW_ERR_METHOD_NOT_ALLOWED', 'Method not allowed');
    }
  }

  async #session(req: IncomingMessage): Promise<{ id: string; record: SessionRecord }> {
    const session = await requireSession(req, this.deps.sessions, this.deps.backend.server.name, 'streamable-http');
    if (!this.deps.backend.streamable && !this.deps.backend.sseConnection(session.id)) {
      // the backend's SSE connection lives on one replica and is gone: the client must re-initialize
      await this.deps.sessions.delete(session.id);
      throw new GatewayError('GW_ERR_SESSION_NOT_FOUND', 'Session not found', { jsonRpcCode: -32001 });
    }
    return session;
  }

  async #post(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const read = await readJsonPost(req, res, this.deps.maxBodyBytes, ctx);
    if (!read) return;
    const { value, body } = read;
    if (Array.isArray(value)) return this.#batch(req, res, ctx, value, body);
    const info = classify(value);
    if (!info) {
      ctx.errorCode = 'GW_ERR_INVALID_REQUEST';
      jsonReply(res, 400, invalidRequest('Invalid Request: not a JSON-RPC 2.0 message', idOf(value)));
      return;
    }
    ctx.method = info.method ?? 'response';
    ctx.tool = info.toolName;
    if (info.method === 'initialize') {
      if (info.kind !== 'request') throw new GatewayError('GW_ERR_INVALID_REQUEST', 'Invalid Request: initialize must be a request');
      return this.#withPolicies(req, res, ctx, body, info, undefined, true, (ov, mode) => this.#initialize(req, res, info, ov, mode));
    }
    const session = await this.#session(req);
    return this.#withPolicies(req, res, ctx, body, info, session, info.kind === 'request', (ov, mode) => this.#forwardPost(req, res, ctx, session, body, info, ov, mode));
  }

  /**
   * Run the server's (or the called tool's) policy pipeline around an action; without policies the
   * action runs alone (the proxy's fast path).
   */
  #withPolicies(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, body: Buffer | undefined, info: JsonRpcMessageInfo | undefined, session: { id: string; record: SessionRecord } | undefined, canHandBack: boolean, action: Action): Promise<void> {
    const d = this.deps;
    return withServerPolicies({ policies: d.policies, server: d.backend.server, publicUrl: d.publicUrl, resource: d.auth.resource }, { req, res, ctx, body, info, session: session && { id: session.id, protocolVersion: session.record.protocolVersion }, canHandBack, action });
  }

  async #forwardPost(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, session: { id: string; record: SessionRecord }, body: Buffer, info: JsonRpcMessageInfo, ov: PolicyOverrides | undefined, mode: ActionMode): Promise<ActionResult | void> {
    checkSubject(session.record, ov?.principal);
    const filter = filterFor(this.deps.filter, this.deps.auth, ov?.principal);
    if (info.kind === 'request' && info.toolName !== undefined) {
      if (!filter.allows(info.toolName)) {
        // never reaches the backend (PRODUCT §6): an in-band JSON-RPC error, as for an unknown tool
        ctx.errorCode = 'GW_ERR_TOOL_NOT_ALLOWED';
        jsonReply(res, 200, errorResponse(info.id, JSONRPC.INVALID_PARAMS, `Unknown tool: ${info.toolName}`));
        return;
      }
      checkToolScopes(this.deps.auth, info.toolName, ov?.principal);
    }
    const payload = ov?.body !== undefined ? ov.body : body;
    const backend = this.deps.backend;
    if (!backend.streamable) {
      const message = ov?.body !== undefined ? classify(safeJson(ov.body)) ?? info : info;
      return this.#sendSse(session.id, res, [message], filter);
    }
    const overrides = toOverrides(ov);
    const filtering = info.method === 'tools/list' && filter.active;
    if (mode === 'direct') {
      if (filtering) {
        const up = await backend.post(session.id, session.record, payload, req.headers, undefined, overrides);
        return this.#relay(up, res, info, filter);
      }
      const out = await backend.relay(session.id, session.record, payload, req.headers, res, overrides);
      if (out) this.#fail(out.status, out.contentType, out.body.toString('utf8'), res);
      return;
    }
    const up = await backend.post(session.id, session.record, payload, req.headers, undefined, overrides);
    return this.#handBack(up, mode, filtering ? info : undefined, filter);
  }

  /** The backend's answer as a response for outbound policies (buffered only when it must be). */
  async #handBack(up: UpstreamResponse, mode: ActionMode, filterFor: JsonRpcMessageInfo | undefined, filter: ToolFilter): Promise<ActionResult> {
    const server = this.deps.backend.server.name;
    const status = up.status;
    if (status === 202) {
      await up.body.dump().catch(() => undefined);
      return { response: newResponse(202, 'Accepted') };
    }
    const type = upstreamMediaType(up);
    if (status < 200 || status > 299) {
      const text = type === 'application/json' ? await readUpstreamText(up, 1024 * 1024, server) : (await up.body.dump().catch(() => undefined), '');
      if (status >= 400 && status < 500 && status !== 401 && status !== 403 && status !== 404 && type === 'application/json') return { response: jsonResponse(status, text) };
      if (status === 404) throw new GatewayError('GW_ERR_SESSION_NOT_FOUND', 'Session not found', { jsonRpcCode: -32001 });
      throw statusError(status, server);
    }
    if (type === 'application/json') {
      const text = await readUpstreamText(up, MAX_FILTERED_BODY, server);
      return { response: jsonResponse(status, filterFor ? this.#filterJson(text, filterFor.id, filter) : text) };
    }
    if (type === 'text/event-stream') {
      if (mode === 'buffer' || filterFor) {
        let text = await readUpstreamText(up, MAX_FILTERED_BODY, server);
        if (filterFor) text = mapSseData(text, (d) => this.#filterJson(d, filterFor.id, filter));
        const r = newResponse(status, 'OK', text);
        r.headers.set('content-type', 'text/event-stream');
        return { response: r };
      }
      const r = newResponse(status, 'OK');
      r.headers.set('content-type', 'text/event-stream');
      return { response: r, stream: up.body };
    }
    await up.body.dump().catch(() => undefined);
    throw new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${server}" answered with an unexpected content type`);
  }

  /** A backend answer that isn't a 2xx JSON/SSE reply: relay what the client may see, map the rest. */
  #fail(status: number, contentType: string, text: string, res: ServerResponse): void {
    if (status >= 400 && status < 500 && status !== 401 && status !== 403 && status !== 404 && contentType === 'application/json') {
      // the backend's own JSON-RPC answer to a bad message (e.g. 400 invalid params) is the client's to see
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
      return;
    }
    if (status === 404) throw new GatewayError('GW_ERR_SESSION_NOT_FOUND', 'Session not found', { jsonRpcCode: -32001 });
    if (status >= 200 && status < 300) {
      throw new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${this.deps.backend.server.name}" answered with an unexpected content type`);
    }
    throw statusError(status, this.deps.backend.server.name);
  }

  async #initialize(req: IncomingMessage, res: ServerResponse, info: JsonRpcMessageInfo, ov: PolicyOverrides | undefined, mode: ActionMode = 'direct'): Promise<ActionResult | void> {
    const message = ov?.body !== undefined ? (safeJson(ov.body) as Record<string, unknown> | undefined) ?? info.message : info.message;
    const out = await this.deps.backend.initialize(message, req.headers, 'streamable-http', undefined, undefined, toOverrides(ov), ov?.principal?.subject ?? null);
    if (mode !== 'direct') {
      // outbound policies see the answer first; the session id header goes out with it (writePolicyResponse)
      const r = jsonResponse(200, JSON.stringify(out.response));
      if (!('error' in out.response)) r.headers.set('mcp-session-id', out.sessionId);
      return { response: r };
    }
    if ('error' in out.response) {
      jsonReply(res, 200, out.response);
      return;
    }
    jsonReply(res, 200, out.response, { 'mcp-session-id': out.sessionId });
  }

  async #batch(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, items: unknown[], body: Buffer): Promise<void> {
    ctx.method = 'batch';
    const session = await this.#session(req);
    if (!batchAllowed(session.record.protocolVersion)) {
      throw new GatewayError('GW_ERR_INVALID_REQUEST', `Invalid Request: JSON-RPC batches are not supported in protocol version ${session.record.protocolVersion}`);
    }
    if (items.length === 0) throw new GatewayError('GW_ERR_INVALID_REQUEST', 'Invalid Request: empty batch');
    const infos: JsonRpcMessageInfo[] = [];
    for (const item of items) {
      const info = classify(item);
      if (!info) throw new GatewayError('GW_ERR_INVALID_REQUEST', 'Invalid Request: a batch item is not a JSON-RPC 2.0 message');
      if (info.method === 'initialize') throw new GatewayError('GW_ERR_INVALID_REQUEST', 'Invalid Request: initialize cannot be part of a batch');
      if (info.kind === 'request' && info.toolName !== undefined && !this.deps.filter.allows(info.toolName)) {
        throw new GatewayError('GW_ERR_TOOL_NOT_ALLOWED', `Unknown tool: ${info.toolName}`, { status: 400, jsonRpcCode: JSONRPC.INVALID_PARAMS });
      }
      infos.push(info);
    }
    return this.#withPolicies(req, res, ctx, body, undefined, session, false, async (ov) => {
      checkSubject(session.record, ov?.principal);
      const filter = filterFor(this.deps.filter, this.deps.auth, ov?.principal);
      for (const info of infos) {
        if (info.kind !== 'request' || info.toolName === undefined) continue;
        if (!filter.allows(info.toolName)) throw new GatewayError('GW_ERR_TOOL_NOT_ALLOWED', `Unknown tool: ${info.toolName}`, { status: 400, jsonRpcCode: JSONRPC.INVALID_PARAMS });
        checkToolScopes(this.deps.auth, info.toolName, ov?.principal);
      }
      const payload = ov?.body !== undefined ? ov.body : body;
      if (this.deps.backend.streamable) {
        const up = await this.deps.backend.post(session.id, session.record, payload, req.headers, undefined, toOverrides(ov));
        return this.#relay(up, res, infos.find((i) => i.method === 'tools/list'), filter);
      }
      return this.#sendSse(session.id, res, infos, filter);
    });
  }

  /** Legacy-SSE backend: send each message; requests' replies come back through a reply sink. */
  async #sendSse(sessionId: string, res: ServerResponse, infos: JsonRpcMessageInfo[], filter: ToolFilter): Promise<void> {
    const conn = this.deps.backend.sseConnection(sessionId)!;
    const requests = infos.filter((i) => i.kind === 'request');
    if (requests.length === 0) {
      for (const i of infos) await conn.send(i.message, undefined);
      res.writeHead(202).end();
      return;
    }
    const toolsListIds = new Set(requests.filter((i) => i.method === 'tools/list').map((i) => i.id));
    const inner = new RequestReplySink(res, {}, new Set(requests.map((i) => i.id!)));
    const sink = filter.active && toolsListIds.size > 0
      ? { write: (m: Record<string, unknown>) => inner.write(toolsListIds.has(m.id as string | number) && 'result' in m ? filterToolsListResponse(m, filter) : m) }
      : inner;
    await Promise.all(infos.map((i) => conn.send(i.message, i.kind === 'request' ? sink : undefined)));
  }

  /** Relay a Streamable HTTP backend's answer: JSON and SSE bodies stream through unbuffered. */
  async #relay(up: UpstreamResponse, res: ServerResponse, request: JsonRpcMessageInfo | undefined, filter: ToolFilter = this.deps.filter): Promise<void> {
    const status = up.status;
    if (status === 202) {
      await up.body.dump().catch(() => undefined);
      res.writeHead(202).end();
      return;
    }
    if (status < 200 || status > 299) {
      const type = upstreamMediaType(up);
      const text = type === 'application/json' ? await readUpstreamText(up, 1024 * 1024, this.deps.backend.server.name) : (await up.body.dump().catch(() => undefined), '');
      return this.#fail(status, type, text, res);
    }
    const type = upstreamMediaType(up);
    const filtering = request?.method === 'tools/list' && filter.active;
    if (type === 'application/json') {
      if (filtering) {
        const text = await readUpstreamText(up, MAX_FILTERED_BODY, this.deps.backend.server.name);
        jsonReply(res, status, this.#filterJson(text, request!.id, filter));
        return;
      }
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      const len = headerValue(up, 'content-length');
      if (len !== undefined) headers['content-length'] = len;
      res.writeHead(status, headers);
      relayBody(up.body, res);
      return;
    }
    if (type === 'text/event-stream') {
      res.writeHead(status, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      if (!filtering) {
        relayBody(up.body, res);
        return;
      }
      const parser = new SseParser((e) => {
        let data = e.data;
        if (data !== '' && (e.event === undefined || e.event === 'message')) data = this.#filterJson(data, request!.id, filter);
        res.write(formatSse({ ...e, data }));
      }, MAX_FILTERED_BODY);
      up.body.setEncoding('utf8');
      up.body.on('data', (chunk: string) => parser.push(chunk));
      up.body.on('end', () => res.end());
      up.body.on('error', () => res.destroy());
      res.on('close', () => up.body.destroy());
      return;
    }
    await up.body.dump().catch(() => undefined);
    throw new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${this.deps.backend.server.name}" answered with an unexpected content type`);
  }

  /** Filter a tools/list answer (or leave any other message alone). */
  #filterJson(text: string, id: string | number | undefined, filter: ToolFilter): string {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new GatewayError('GW_ERR_UPSTREAM_PROTOCOL', `backend of server "${this.deps.backend.server.name}" sent invalid JSON`);
    }
    const filterOne = (m: unknown) => (typeof m === 'object' && m !== null && (m as { id?: unknown }).id === id && 'result' in m ? filterToolsListResponse(m as Record<string, unknown>, filter) : m);
    return JSON.stringify(Array.isArray(value) ? value.map(filterOne) : filterOne(value));
  }

  async #get(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    ctx.method = 'GET';
    if (!accepts(req.headers.accept, 'text/event-stream')) {
      throw new GatewayError('GW_ERR_NOT_ACCEPTABLE', 'Not Acceptable: Client must accept text/event-stream');
    }
    checkVersionHeader(req);
    const session = await this.#session(req);
    return this.#withPolicies(req, res, ctx, undefined, undefined, session, false, (ov) => {
      checkSubject(session.record, ov?.principal);
      return this.#openStream(req, res, session, toOverrides(ov));
    });
  }

  async #openStream(req: IncomingMessage, res: ServerResponse, session: { id: string; record: SessionRecord }, ov: Overrides | undefined): Promise<void> {
    const backend = this.deps.backend;
    if (backend.streamable) {
      const lastEventId = singleHeader(req.headers['last-event-id']);
      const extra: Record<string, string> = { accept: 'text/event-stream' };
      if (lastEventId !== undefined) extra['last-event-id'] = lastEventId;
      let up = await backend.streamable.get(backend.headers(req.headers, session.record, extra, ov?.headers), undefined, ov?.target);
      if (up.status === 404 && session.record.backendSessionId) {
        await up.body.dump().catch(() => undefined);
        await backend.reinitialize(session.id, session.record, req.headers, ov);
        up = await backend.streamable.get(backend.headers(req.headers, session.record, extra, ov?.headers), undefined, ov?.target);
      }
      if (up.status === 405) {
        await up.body.dump().catch(() => undefined);
        res.setHeader('allow', 'POST, DELETE');
        throw new GatewayError('GW_ERR_METHOD_NOT_ALLOWED', 'Method Not Allowed: the server offers no standalone stream');
      }
      if (up.status === 409) {
        await up.body.dump().catch(() => undefined);
        throw new GatewayError('GW_ERR_BAD_REQUEST', 'Conflict: only one standalone SSE stream is allowed per session', { status: 409 });
      }
      return this.#relay(up, res, undefined);
    }
    const conn = backend.sseConnection(session.id)!;
    const sink = new StreamSink(res);
    if (!conn.attachStandalone(sink)) {
      throw new GatewayError('GW_ERR_BAD_REQUEST', 'Conflict: only one standalone SSE stream is allowed per session', { status: 409 });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    res.on('close', () => conn.detachStandalone(sink));
  }

  async #delete(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    ctx.method = 'DELETE';
    checkVersionHeader(req);
    const session = await this.#session(req);
    return this.#withPolicies(req, res, ctx, undefined, undefined, session, false, async (ov) => {
      checkSubject(session.record, ov?.principal);
      await this.deps.backend.terminate(session.id, session.record, toOverrides(ov));
      res.writeHead(200).end();
    });
  }
}

function toOverrides(ov: PolicyOverrides | undefined): Overrides | undefined {
  if (!ov) return undefined;
  return { headers: ov.headers, target: { url: ov.target, method: ov.method, timeoutMs: ov.timeoutMs, tls: ov.tls } };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new GatewayError('GW_ERR_INVALID_REQUEST', 'Invalid Request: a policy replaced the body with invalid JSON', { status: 500 });
  }
}

function jsonResponse(status: number, text: string) {
  const r = newResponse(status, '', text);
  r.headers.set('content-type', 'application/json');
  return r;
}

/** rewrite the data of every message event of a buffered SSE text */
function mapSseData(text: string, fn: (data: string) => string): string {
  let out = '';
  const parser = new SseParser((e) => {
    out += formatSse(e.data !== '' && (e.event === undefined || e.event === 'message') ? { ...e, data: fn(e.data) } : e);
  });
  parser.push(text.endsWith('\n\n') ? text : text + '\n\n');
  return out;
}

/** Write the pipeline's final answer: a policy's own response, or the backend's as outbound policies left it. */
export function writePolicyResponse(ctx: PipelineContext, result: ActionResult | undefined, res: ServerResponse): void {
  const r = ctx.response;
  const headers = responseHeaders(ctx, result !== undefined);
  // the gateway's own session id (initialize) travels with the backend's answer, never from a policy
  const sid = result?.response.headers.get('mcp-session-id')?.[0];
  if (sid !== undefined) headers['mcp-session-id'] = sid;
  if (result?.stream) {
    res.writeHead(r.statusCode, { ...headers, 'cache-control': 'no-cache' });
    res.flushHeaders();
    relayBody(result.stream as UpstreamResponse['body'], res);
    return;
  }
  const noBody = r.statusCode === 202 || r.statusCode === 204 || r.statusCode === 304;
  const text = noBody || !r.body ? '' : r.body.peekText();
  res.writeHead(r.statusCode, { ...headers, 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function idOf(value: unknown): string | number | null {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

/**
 * Stream a backend body to the client with backpressure; either side closing tears down the other.
 * (Not stream.pipeline: on Node 20 it allocates an AbortController and a DOMException per call,
 * which was ~10% of the proxy's CPU.)
 */
function relayBody(body: UpstreamResponse['body'], res: ServerResponse): void {
  body.pipe(res);
  body.once('error', () => res.destroy());
  res.once('close', () => {
    if (!body.readableEnded) body.destroy();
  });
}

/** record a pipeline's failure on the request (metrics, and the cause of an internal error for the log) */
export function noteFailure(ctx: RequestContext, failure: { reason: string; cause?: unknown }): void {
  ctx.errorCode = failure.reason;
  if (failure.reason === 'InternalError') ctx.internalError = failure.cause;
}

/** what a server contributes to running its pipelines */
export interface PolicyHost {
  readonly policies: ServerPolicies | undefined;
  readonly server: PassthroughServerConfig;
  readonly publicUrl: string;
  readonly resource: ServerAuthorization['resource'];
}

/**
 * Run the server's (or the called tool's, or the subscription's product's) effective pipeline
 * around an endpoint action; without policies the action runs alone (the proxy's fast path).
 */
export async function withServerPolicies(host: PolicyHost, r: { req: IncomingMessage; res: ServerResponse; ctx: RequestContext; body: Buffer | undefined; info: JsonRpcMessageInfo | undefined; session: { id: string; protocolVersion?: string | undefined } | undefined; canHandBack: boolean; action: Action }): Promise<void> {
  const { ctx, info, session } = r;
  const pipeline = host.policies ? pipelineFor(host.policies, info?.method === 'tools/call' ? info.toolName : undefined, ctx.admission?.product?.name) : undefined;
  if (!pipeline || pipeline.trivial) {
    await r.action(undefined, 'direct');
    return;
  }
  const pctx = await runWithPolicies({
    pipeline,
    req: r.req,
    res: r.res,
    body: r.body?.toString('utf8'),
    info,
    sessionId: session?.id,
    protocolVersion: session?.protocolVersion,
    server: host.server,
    publicUrl: host.publicUrl,
    resource: host.resource,
    admission: ctx.admission,
    requestId: ctx.requestId,
    canHandBack: r.canHandBack,
    action: r.action,
    write: (c, result) => writePolicyResponse(c, result, r.res),
  });
  if (pctx.failure) noteFailure(ctx, pctx.failure);
}
