/**
 * `/NAME/mcp` of an OpenAPI server: the gateway itself is the MCP server (Streamable HTTP, JSON
 * answers, tools only — as APIM's REST-as-MCP). initialize opens a gateway session; tools/list lists
 * the imported operations (curated and filtered per caller like a passthrough server's);
 * tools/call validates the arguments against the tool's input schema, builds the REST request and
 * sends it as the `forward-request` of the tool's effective pipeline (global → product → server →
 * tool), so set-header, set-backend-service, set-query-parameter, rate limits and the rest apply to
 * the REST call. The REST answer becomes the tool result (structuredContent for JSON); HTTP errors,
 * timeouts and unreachable backends are tool errors (`isError: true`), never a broken session.
 * A policy that replaces the request body replaces the JSON-RPC message (so it can rewrite arguments).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, JSONRPC } from '../errors/gateway-error.js';
import { classify, errorResponse, invalidRequest, type JsonRpcMessageInfo } from './jsonrpc.js';
import { LATEST_VERSION, STREAMABLE_VERSIONS } from './protocol.js';
import { checkVersionHeader, readJsonPost, requireSession } from './request-checks.js';
import type { SessionRecord } from './sessions.js';
import type { ActionMode, ActionResult, PolicyOverrides } from './policy-bridge.js';
import { withServerPolicies, type Action, type RequestContext, type ServerEndpointDeps } from './streamable-endpoint.js';
import { newResponse } from '../pipeline/context.js';
import { checkSubject, checkToolScopes, filterFor } from './tool-access.js';
import type { PassthroughServerConfig } from '../config/types.js';
import type { OpenApiTool, ToolResult } from '../openapi/types.js';
import { ArgumentError } from '../openapi/types.js';
import { buildRequest, compileArguments, errorResult, sendRest, toToolResult } from '../openapi/invoke.js';
import { VERSION } from '../version.js';

export interface OpenApiEndpointDeps extends ServerEndpointDeps {
  readonly server: PassthroughServerConfig;
  readonly tools: readonly OpenApiTool[];
}

function jsonReply(res: ServerResponse, status: number, message: unknown, headers?: Record<string, string>): void {
  const body = JSON.stringify(message);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function jsonResult(status: number, message: unknown, headers?: Record<string, string>): ActionResult {
  const r = newResponse(status, '', JSON.stringify(message));
  r.headers.set('content-type', 'application/json');
  for (const [k, v] of Object.entries(headers ?? {})) r.headers.set(k, v);
  return { response: r };
}

/** answer directly, or hand the answer back to outbound policies */
function reply(res: ServerResponse, mode: ActionMode, status: number, message: unknown, headers?: Record<string, string>): ActionResult | void {
  if (mode === 'direct') return jsonReply(res, status, message, headers);
  return jsonResult(status, message, headers);
}

export class OpenApiEndpoint {
  readonly #byName: ReadonlyMap<string, OpenApiTool>;
  readonly #validators = new Map<string, (args: unknown) => void>();

  constructor(private readonly deps: OpenApiEndpointDeps) {
    this.#byName = new Map(deps.tools.map((t) => [t.name, t]));
    // argument validators compiled once, at start
    for (const t of deps.tools) this.#validators.set(t.name, compileArguments(t));
  }

  async handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    switch (req.method) {
      case 'POST':
        return this.#post(req, res, ctx);
      case 'DELETE':
        return this.#delete(req, res, ctx);
      case 'GET':
        // this server sends nothing unsolicited: no standalone stream (MCP allows 405)
        res.setHeader('allow', 'POST, DELETE');
        throw new GatewayError('GW_ERR_METHOD_NOT_ALLOWED', 'Method Not Allowed: this server offers no standalone stream');
      default:
        res.setHeader('allow', 'POST, DELETE');
        throw new GatewayError('GW_ERR_METHOD_NOT_ALLOWED', 'Method not allowed');
    }
  }

  async #post(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const read = await readJsonPost(req, res, this.deps.maxBodyBytes, ctx);
    if (!read) return;
    const { value, body } = read;
    if (Array.isArray(value)) throw new GatewayError('GW_ERR_INVALID_REQUEST', 'Invalid Request: JSON-RPC batches are not supported by this server');
    const info = classify(value);
    if (!info) {
      ctx.errorCode = 'GW_ERR_INVALID_REQUEST';
      jsonReply(res, 400, invalidRequest('Invalid Request: not a JSON-RPC 2.0 message'));
      return;
    }
    ctx.method = info.method ?? 'response';
    ctx.tool = info.toolName;
    if (info.method === 'initialize') {
      if (info.kind !== 'request') throw new GatewayError('GW_ERR_INVALID_REQUEST', 'Invalid Request: initialize must be a request');
      return this.#withPolicies(req, res, ctx, body, info, undefined, (ov, mode) => this.#initialize(res, info, ov, mode));
    }
    const session = await requireSession(req, this.deps.sessions, this.deps.server.name);
    return this.#withPolicies(req, res, ctx, body, info, session, (ov, mode) => this.#message(req, res, ctx, session, info, ov, mode));
  }

  #withPolicies(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, body: Buffer | undefined, info: JsonRpcMessageInfo | undefined, session: { id: string; record: SessionRecord } | undefined, action: Action): Promise<void> {
    const d = this.deps;
    return withServerPolicies({ policies: d.policies, server: d.server, publicUrl: d.publicUrl, resource: d.auth.resource }, { req, res, ctx, body, info, session: session && { id: session.id, protocolVersion: session.record.protocolVersion }, canHandBack: info?.kind === 'request', action });
  }

  async #initialize(res: ServerResponse, info: JsonRpcMessageInfo, ov: PolicyOverrides | undefined, mode: ActionMode): Promise<ActionResult | void> {
    const message = ov?.body !== undefined ? (safeJson(ov.body) as Record<string, unknown>) : info.message;
    const params = (message.params as Record<string, unknown> | undefined) ?? {};
    const asked = params.protocolVersion;
    const version = typeof asked === 'string' && STREAMABLE_VERSIONS.has(asked) ? asked : LATEST_VERSION;
    const record: SessionRecord = { server: this.deps.server.name, subject: ov?.principal?.subject ?? null, protocolVersion: version, initParams: params, downstream: 'streamable-http', createdAt: Date.now() };
    const id = await this.deps.sessions.create(record);
    const result = {
      protocolVersion: version,
      capabilities: { tools: { listChanged: false } },
      serverInfo: { name: this.deps.server.name, version: VERSION, title: `${this.deps.server.name} (REST API via Gatehouse)` },
    };
    return reply(res, mode, 200, { jsonrpc: '2.0', id: info.id, result }, { 'mcp-session-id': id });
  }

  async #message(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, session: { id: string; record: SessionRecord }, original: JsonRpcMessageInfo, ov: PolicyOverrides | undefined, mode: ActionMode): Promise<ActionResult | void> {
    checkSubject(session.record, ov?.principal);
    // a policy may have rewritten the message (set-body): the rewritten one is what is served
    const info = ov?.body !== undefined ? classify(safeJson(ov.body)) ?? original : original;
    if (info.kind !== 'request') {
      if (mode === 'direct') {
        res.writeHead(202).end();
        return;
      }
      return { response: newResponse(202, 'Accepted') };
    }
    const filter = filterFor(this.deps.filter, this.deps.auth, ov?.principal);
    switch (info.method) {
      case 'ping':
        return reply(res, mode, 200, { jsonrpc: '2.0', id: info.id, result: {} });
      case 'tools/list':
        return reply(res, mode, 200, { jsonrpc: '2.0', id: info.id, result: { tools: this.deps.tools.filter((t) => filter.allows(t.name)).map(listed) } });
      case 'tools/call': {
        const name = info.toolName;
        const tool = name === undefined ? undefined : this.#byName.get(name);
        if (!tool || !filter.allows(tool.name)) {
          ctx.errorCode = 'GW_ERR_TOOL_NOT_ALLOWED';
          return reply(res, mode, 200, errorResponse(info.id, JSONRPC.INVALID_PARAMS, `Unknown tool: ${name ?? ''}`));
        }
        checkToolScopes(this.deps.auth, tool.name, ov?.principal);
        const args = (info.message.params as { arguments?: unknown } | undefined)?.arguments ?? {};
        const result = await this.#call(req, tool, args, ov);
        if (result.isError) ctx.errorCode ??= 'GW_TOOL_ERROR';
        return reply(res, mode, 200, { jsonrpc: '2.0', id: info.id, result });
      }
      default:
        return reply(res, mode, 200, errorResponse(info.id, JSONRPC.METHOD_NOT_FOUND, `Method not found: ${info.method ?? ''}`));
    }
  }

  /** one REST call: validate, build, send through the policies' overrides, map the answer */
  async #call(req: IncomingMessage, tool: OpenApiTool, args: unknown, ov: PolicyOverrides | undefined): Promise<ToolResult> {
    let rest;
    try {
      this.#validators.get(tool.name)!(args);
      rest = buildRequest(tool, args as Record<string, unknown>);
    } catch (err) {
      if (err instanceof ArgumentError) return errorResult(`Invalid arguments for tool ${tool.name}: ${err.message}`);
      throw err;
    }
    const server = this.deps.server;
    // a policy's backend (set-backend-service, rewrite-uri, set-query-parameter) replaces the base; the operation's path and query follow it
    let base = server.backend.url;
    let extraQuery = '';
    if (ov?.target) {
      extraQuery = ov.target.search.slice(1);
      base = `${ov.target.origin}${ov.target.pathname}`.replace(/\/+$/, '');
    }
    let pathAndQuery = rest.pathAndQuery;
    if (extraQuery) pathAndQuery += (pathAndQuery.includes('?') ? '&' : '?') + extraQuery;
    const headers: Record<string, string | null> = {};
    for (const h of server.forwardHeaders) {
      const v = req.headers[h];
      if (v !== undefined) headers[h] = Array.isArray(v) ? v.join(', ') : v;
    }
    for (const [k, v] of Object.entries(ov?.headers ?? {})) headers[k] = v;
    try {
      const res = await sendRest(base, { ...rest, pathAndQuery }, { timeoutMs: ov?.timeoutMs ?? server.backend.timeoutMs, headers });
      return toToolResult(tool, res);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'GW_REST_TIMEOUT') return errorResult(`The REST backend did not answer within ${Math.round((ov?.timeoutMs ?? server.backend.timeoutMs) / 1000)} s`);
      if (code === 'GW_REST_UNREACHABLE') return errorResult(`The REST backend is unreachable: ${(err as Error).message}`);
      throw err;
    }
  }

  async #delete(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    ctx.method = 'DELETE';
    checkVersionHeader(req);
    const session = await requireSession(req, this.deps.sessions, this.deps.server.name);
    return this.#withPolicies(req, res, ctx, undefined, undefined, session, async (ov) => {
      checkSubject(session.record, ov?.principal);
      await this.deps.sessions.delete(session.id);
      res.writeHead(200).end();
    });
  }
}

/** the tools/list entry of a tool (no internal binding) */
function listed(t: OpenApiTool): Record<string, unknown> {
  return {
    name: t.name,
    ...(t.title ? { title: t.title } : {}),
    ...(t.description ? { description: t.description } : {}),
    inputSchema: t.inputSchema,
    ...(t.outputSchema ? { outputSchema: t.outputSchema } : {}),
    annotations: t.annotations,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new GatewayError('GW_ERR_INVALID_REQUEST', 'Invalid Request: a policy replaced the body with invalid JSON', { status: 500 });
  }
}
