/**
 * Runs a server's policy pipeline around one MCP endpoint action. The endpoint's own action (POST a
 * message, open a stream, end a session …) is the `forward-request` of the pipeline; what policies
 * changed (method, backend URL, headers they set, body) goes into it as overrides.
 *
 * Streaming: with no outbound policies the action writes straight to the client, as without
 * policies. With outbound policies a Streamable HTTP POST hands its answer back first: a JSON answer
 * buffered, an SSE answer buffered only when a policy reads or replaces the response body (APIM's
 * caveat), otherwise still streamed once the outbound policies have set status and headers.
 */
import { clientAddress } from '../cluster/peers.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { createExpressionContext, HeaderMap, type ExpressionContext, type ExpressionContextInit, type ResponseInfo } from '../expressions/context.js';
import { PipelineContext } from '../pipeline/context.js';
import { runPipeline, type CompiledPipeline } from '../pipeline/run.js';
import type { PassthroughServerConfig, ProductConfig } from '../config/types.js';
import type { JsonRpcMessageInfo } from './jsonrpc.js';
import type { ClientTls } from '../proxy/upstream-pool.js';
import { getBackendClientCertificate, tlsOptions } from '../policies/http/certificate.js';
import type { ProtectedResource } from '../auth/challenge.js';
import type { Principal } from '../auth/principal.js';
import type { Admission } from '../subscriptions/gate.js';
import { CsDateTime } from '../expressions/runtime/time.js';

export interface PolicyOverrides {
  readonly method: string;
  /** the backend URL when a policy changed it (set-backend-service, rewrite-uri, set-query-parameter); undefined = configured */
  readonly target: URL | undefined;
  readonly timeoutMs: number;
  /** request headers policies set (value) or deleted (null) */
  readonly headers: Readonly<Record<string, string | null>>;
  /** the request body (policies may have replaced it) */
  readonly body: string | undefined;
  /** client certificate for the backend connection (authentication-certificate) */
  readonly tls: ClientTls | undefined;
  /** the caller a token policy validated (sessions, tool scopes, tool access) */
  readonly principal: Principal | undefined;
}

export type ActionMode = 'direct' | 'headers-first' | 'buffer';

/** what an action hands back when it did not write to the client itself */
export interface ActionResult {
  readonly response: ResponseInfo;
  /** a body still streaming from the backend (SSE), relayed after the outbound policies */
  readonly stream?: Readable;
}

export interface BridgeInput {
  readonly pipeline: CompiledPipeline;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly body: string | undefined;
  readonly info: JsonRpcMessageInfo | undefined;
  readonly sessionId: string | undefined;
  readonly protocolVersion: string | undefined;
  readonly server: PassthroughServerConfig;
  readonly publicUrl: string;
  readonly requestId: string;
  /** the server as a protected resource (token policies' default audience and challenges) */
  readonly resource?: ProtectedResource | undefined;
  /** the request's subscription (context.Subscription, Product, User) */
  readonly admission?: Admission | undefined;
  /** true when the action can hand its answer back (Streamable HTTP POSTs); others always write directly */
  readonly canHandBack: boolean;
  readonly action: (ov: PolicyOverrides, mode: ActionMode) => Promise<ActionResult | void>;
  /** the final answer (a backend one or a policy's) to the client; undefined = write as is */
  readonly write: (ctx: PipelineContext, result: ActionResult | undefined) => void;
  readonly trace?: boolean;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ExprInput {
  readonly method: string;
  readonly url: string;
  /** the path of `url` (APIM's Operation.UrlTemplate for an MCP endpoint) */
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string | undefined;
  readonly ipAddress: string;
  readonly server: PassthroughServerConfig;
  readonly info: JsonRpcMessageInfo | undefined;
  readonly sessionId: string | undefined;
  readonly protocolVersion: string | undefined;
  readonly requestId: string;
  readonly admission?: Admission | undefined;
  /** the product without a subscription (gatehouse policy test --product) */
  readonly product?: ProductConfig | undefined;
}

/** The C# `context` of one MCP request (context.Request, Api, Operation, Mcp …). */
export function createRequestContext(i: ExprInput): ExpressionContext {
  const info = i.info;
  const args = info?.toolName !== undefined ? (info.message.params as { arguments?: unknown } | undefined)?.arguments : undefined;
  const op = info?.toolName ?? info?.method ?? i.method;
  return createExpressionContext({
    request: { method: i.method, url: i.url, headers: new HeaderMap(i.headers), body: i.body ?? null, ipAddress: i.ipAddress },
    api: { id: i.server.name, name: i.server.name, path: i.server.name },
    operation: { id: op, name: op, method: i.method, urlTemplate: i.path },
    deployment: { region: process.env.GATEHOUSE_REGION ?? '', serviceName: 'gatehouse' },
    ...(GUID.test(i.requestId) ? { requestId: i.requestId } : {}),
    ...subscriptionContext(i.admission),
    ...(!i.admission && i.product ? { product: { id: i.product.name, name: i.product.name, subscriptionRequired: i.product.subscriptionRequired } } : {}),
    mcp: {
      method: info?.method ?? '',
      toolName: info?.toolName ?? null,
      sessionId: i.sessionId ?? null,
      protocolVersion: i.protocolVersion ?? null,
      ...(args && typeof args === 'object' && !Array.isArray(args) ? { arguments: args as Record<string, unknown> } : {}),
    },
  });
}

/** context.Subscription, context.Product and context.User of a request with a subscription */
function subscriptionContext(a: Admission | undefined): Pick<ExpressionContextInit, 'subscription' | 'product' | 'user'> {
  if (!a) return {};
  const s = a.subscription;
  const date = (iso: string | null) => (iso ? new CsDateTime(Date.parse(iso), 'Utc') : null);
  return {
    subscription: {
      id: s.id,
      name: s.name,
      key: a.key,
      // only the key presented is known: the store keeps hashes
      primaryKey: a.which === 'primary' ? a.key : '',
      secondaryKey: a.which === 'secondary' ? a.key : '',
      createdTime: new CsDateTime(Date.parse(s.createdTime), 'Utc'),
      startDate: date(s.startDate),
      endDate: date(s.endDate),
    },
    product: a.product ? { id: a.product.name, name: a.product.name, subscriptionRequired: a.product.subscriptionRequired } : null,
    user: s.userId ? { id: s.userId } : null,
  };
}

/** the request's path as the client addressed it (public base path included, query excluded) */
function pathOf(publicUrl: string, reqUrl: string | undefined): string {
  const raw = reqUrl ?? '/';
  const q = raw.indexOf('?');
  const base = publicUrl.replace(/^[a-z]+:\/\/[^/]+/i, '');
  return base + (q === -1 ? raw : raw.slice(0, q));
}

export async function runWithPolicies(input: BridgeInput): Promise<PipelineContext> {
  const { req, server } = input;
  const expr = createRequestContext({
    method: req.method ?? 'POST',
    url: `${input.publicUrl}${req.url ?? '/'}`,
    path: pathOf(input.publicUrl, req.url),
    headers: requestHeaders(req),
    body: input.body,
    ipAddress: clientAddress(req),
    server,
    info: input.info,
    sessionId: input.sessionId,
    protocolVersion: input.protocolVersion,
    requestId: input.requestId,
    admission: input.admission,
  });

  let result: ActionResult | undefined;
  let written = false;
  // a retry in the backend section must see the backend's status (e.g. 429), so the answer comes back to the pipeline
  const direct = !input.canHandBack || (input.pipeline.outbound.length === 0 && !input.pipeline.backend.some((p) => p.name === 'retry'));
  const mode: ActionMode = direct ? 'direct' : input.pipeline.reads.responseBody ? 'buffer' : 'headers-first';
  const forward = async (ctx: PipelineContext, opts: { timeoutMs?: number; bufferResponse: boolean }): Promise<void> => {
    const headers: Record<string, string | null> = {};
    for (const name of ctx.touchedRequestHeaders) {
      let v = ctx.request.headers.get(name);
      // a policy appended to a header the client sent: the client's own values reach the backend
      // only when forwardHeaders lists the header (never the client's Authorization)
      const kept = ctx.appendedToClient.get(name);
      if (v !== undefined && kept !== undefined && !server.forwardHeaders.includes(name)) v = v.slice(kept);
      headers[name] = v === undefined || v.length === 0 ? null : v.join(', ');
    }
    let target: URL | undefined;
    if (ctx.backend.baseUrl !== server.backend.url || ctx.backend.path !== '' || ctx.backendQuery) {
      target = new URL(ctx.backend.baseUrl + ctx.backend.path);
      if (ctx.backendQuery) for (const [k, v] of ctx.backendQuery) target.searchParams.append(k, v);
    }
    const ov: PolicyOverrides = {
      method: ctx.request.method,
      target,
      timeoutMs: opts.timeoutMs ?? ctx.backend.timeoutMs,
      headers,
      body: ctx.request.body ? ctx.request.body.peekText() : undefined,
      tls: clientTls(ctx),
      principal: ctx.principal,
    };
    // response headers policies set before the backend answered (cors, rate-limit remaining calls …)
    const early: [string, string[]][] = [];
    if (!ctx.hasResponse) {
      for (const name of ctx.touchedResponseHeaders) {
        const v = ctx.response.headers.get(name);
        if (v !== undefined && v.length > 0 && !NOT_FROM_POLICIES.has(name)) early.push([name, [...v]]);
      }
    }
    if (mode === 'direct') for (const [name, v] of early) if (!input.res.headersSent) input.res.setHeader(name, v);
    const r = await input.action(ov, mode);
    if (r) {
      // forward ran again (retry): the previous answer's stream is not used
      if (result?.stream && result.stream !== r.stream) discard(result.stream);
      for (const [name, v] of early) if (!r.response.headers.has(name)) r.response.headers.set(name, v);
      result = r;
      ctx.setResponse(r.response);
    } else {
      written = true;
      ctx.hasResponse = true;
      ctx.response.statusCode = input.res.statusCode;
    }
  };
  const ctx = new PipelineContext(expr, { baseUrl: server.backend.url, path: '', timeoutMs: server.backend.timeoutMs }, forward, input.trace ? { trace: true } : {});
  ctx.resource = input.resource;
  try {
    await runPipeline(input.pipeline, ctx);
  } catch (err) {
    if (result?.stream) discard(result.stream);
    throw err;
  }
  keepChallenge(ctx);
  if (written) return ctx;
  // a policy answered instead of the backend (or replaced its answer): the stream is not used
  const fromBackend = result !== undefined && ctx.response === result.response;
  if (!fromBackend && result?.stream) discard(result.stream);
  input.write(ctx, fromBackend ? result : undefined);
  return ctx;
}

/**
 * A 401/403 of a token policy or of the tool-scope check carries its Bearer challenge even when
 * on-error built the answer itself (return-response without WWW-Authenticate): MCP clients find the
 * Protected Resource Metadata through it.
 */
function keepChallenge(ctx: PipelineContext): void {
  const challenge = ctx.failure?.headers?.['www-authenticate'];
  if (challenge === undefined || !ctx.hasResponse) return;
  const r = ctx.response;
  if (r.statusCode === ctx.failure!.status && !r.headers.has('www-authenticate')) r.headers.set('www-authenticate', challenge);
}

/**
 * The client's headers as policies see them. Node keeps only the first of several Authorization
 * headers; a token policy must see them all to refuse the ambiguity (checklist 12).
 */
function requestHeaders(req: IncomingMessage): IncomingMessage['headers'] {
  const raw = req.rawHeaders;
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 13 && raw[i]!.toLowerCase() === 'authorization') n++;
  if (n < 2) return req.headers;
  const all: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'authorization') all.push(raw[i + 1]!);
  return { ...req.headers, authorization: all as unknown as string };
}

/** drop a backend body nobody will read (undici reports the abort as an error event: swallow it) */
function discard(stream: Readable): void {
  stream.on('error', () => undefined);
  stream.destroy();
}

function clientTls(ctx: PipelineContext): ClientTls | undefined {
  const cert = getBackendClientCertificate(ctx);
  return cert ? { id: cert.id, options: tlsOptions(cert) } : undefined;
}

const SEPARATE_LINES = new Set(['set-cookie', 'www-authenticate', 'proxy-authenticate']);

const NOT_FROM_POLICIES = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'mcp-session-id']);

/**
 * The headers the client gets: for the backend's answer, its content type plus the headers outbound
 * policies set; for an answer a policy built, every header it set (never framing headers).
 */
export function responseHeaders(ctx: PipelineContext, fromBackend: boolean): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = {};
  const r = ctx.response;
  const names = fromBackend ? ['content-type', ...ctx.touchedResponseHeaders] : r.headers.names();
  for (const name of names) {
    const k = name.toLowerCase();
    if (NOT_FROM_POLICIES.has(k)) continue;
    const v = r.headers.get(name);
    // several values make one comma-separated header (APIM §10), except the headers that can't be
    // comma-joined (Set-Cookie, WWW-Authenticate hold commas themselves): those go out as separate lines
    if (v !== undefined && v.length > 0) h[k] = v.length === 1 ? v[0]! : SEPARATE_LINES.has(k) ? [...v] : v.join(', ');
  }
  return h;
}
