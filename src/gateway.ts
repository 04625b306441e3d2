/**
 * createGateway(config): wires the validated configuration to the store, the cache, the servers'
 * endpoints and one node:http listener. Everything is built here once; requests only look up a
 * route and run the prepared handler.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import type { GatewayConfig } from './config/types.js';
import type { Cache } from './cache/types.js';
import type { Store } from './store/types.js';
import { openCache } from './cache/open.js';
import { openStore } from './store/open.js';
import { GatewayError, isGatewayError } from './errors/gateway-error.js';
import { createLogger, type Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { UpstreamPools } from './proxy/upstream-pool.js';
import { SessionStore } from './mcp/sessions.js';
import { PassthroughBackend } from './mcp/passthrough-backend.js';
import { StreamableEndpoint, sendMcpError, type RequestContext } from './mcp/streamable-endpoint.js';
import { LegacySseEndpoint } from './mcp/legacy-sse-endpoint.js';
import { OpenApiEndpoint } from './mcp/openapi-endpoint.js';
import { compileToolFilter } from './mcp/tool-filter.js';
import { authServicesOf, backendsOf, compileServerPolicies } from './mcp/server-policies.js';
import { ResourceMetadata } from './auth/resource-metadata.js';
import { SubscriptionGate } from './subscriptions/gate.js';
import { Subscriptions } from './subscriptions/subscriptions.js';
import { compileAuthorization } from './mcp/tool-access.js';
import type { OpenIdCacheOptions } from './auth/openid-config.js';
import { CredentialError, CredentialManager } from './credentials/manager.js';
import { providerOf } from './credentials/providers.js';
import { secretBoxFromEnv, type SecretBox } from './secrets/secret-box.js';
import { createRegistry } from './policies/registry.js';
import { sendError, sendJson } from './server/http-util.js';
import { checkHost, checkOrigin } from './server/origin.js';
import { AuthorizationFacade, type AuthorizationFacadeOptions } from './authorization/facade.js';
import type { Peers } from './cluster/peers.js';

export interface GatewayOptions {
  readonly logger?: Logger;
  /** pre-opened store/cache (tests, embedding); otherwise opened from config */
  readonly store?: Store;
  readonly cache?: Cache;
  /** OpenID configuration caching (tests: a clock, shorter intervals) */
  readonly openid?: OpenIdCacheOptions;
  /** the key that seals stored tokens (tests); default from GATEHOUSE_SECRET_KEY */
  readonly secretBox?: SecretBox;
  /** environment for GATEHOUSE_SECRET_KEY (default process.env) */
  readonly env?: NodeJS.ProcessEnv;
  /** the quickstart: a missing GATEHOUSE_SECRET_KEY is generated into this file */
  readonly quickstartKeyFile?: string;
  /** the authorization-server facade (tests: a clock, loopback client metadata documents) */
  readonly authorization?: Pick<AuthorizationFacadeOptions, 'now' | 'allowLoopbackMetadataDocuments' | 'metadataDocumentCa'>;
  /** a worker of a multi-process gateway: relays requests for sessions held by another worker */
  readonly peers?: Peers;
  /** a worker of a multi-process gateway: /metrics answers with every worker's metrics */
  readonly metricsText?: () => Promise<string>;
}

/** the AS facade of a config with `authorization` (its keys and upstream tokens sealed with GATEHOUSE_SECRET_KEY) */
async function authorizationFacadeOf(config: GatewayConfig, store: Store, cache: Cache, logger: Logger, opts: GatewayOptions): Promise<AuthorizationFacade | undefined> {
  if (!config.raw.authorization) return undefined;
  let box = opts.secretBox;
  if (!box) {
    const found = await secretBoxFromEnv(opts.env ?? process.env, opts.quickstartKeyFile ? { quickstartKeyFile: opts.quickstartKeyFile } : {});
    if (!found) throw new Error('authorization needs GATEHOUSE_SECRET_KEY, the key that encrypts its signing key and upstream tokens: create one with `gatehouse keys generate`');
    box = found.box;
  }
  return AuthorizationFacade.create(config, { store, cache, box, logger, ...(opts.env ? { env: opts.env } : {}), ...opts.authorization });
}

/** the credential manager of a config with `credentials` (its tokens sealed with GATEHOUSE_SECRET_KEY) */
async function credentialManagerOf(config: GatewayConfig, store: Store, logger: Logger, opts: GatewayOptions): Promise<CredentialManager | undefined> {
  const raw = config.raw.credentials?.providers ?? [];
  if (raw.length === 0) return undefined;
  let box = opts.secretBox;
  if (!box) {
    const found = await secretBoxFromEnv(opts.env ?? process.env, opts.quickstartKeyFile ? { quickstartKeyFile: opts.quickstartKeyFile } : {});
    if (!found) throw new Error('credentials need GATEHOUSE_SECRET_KEY, the key that encrypts stored tokens: create one with `gatehouse keys generate`');
    if (found.generated) logger.warn({ file: opts.quickstartKeyFile }, 'no GATEHOUSE_SECRET_KEY: generated a local key for the quickstart; set GATEHOUSE_SECRET_KEY in production');
    box = found.box;
  }
  return new CredentialManager(raw.map(providerOf), store, box, { publicUrl: config.gateway.publicUrl, logger });
}

interface ServerRoute {
  readonly name: string;
  /** passthrough servers: the backend MCP server's connection */
  readonly backend: PassthroughBackend | undefined;
  readonly streamable: StreamableEndpoint | OpenApiEndpoint;
  /** the legacy HTTP+SSE transport (passthrough servers only) */
  readonly legacy: LegacySseEndpoint | undefined;
}

export interface Gateway {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** start listening; resolves with the bound address */
  listen(port?: number, host?: string): Promise<{ url: string; port: number; host: string }>;
  /** stop accepting, let in-flight requests finish (up to drainTimeout), close everything */
  close(): Promise<void>;
  readonly httpServer: Server;
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

export async function createGateway(config: GatewayConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const logger = opts.logger ?? createLogger();
  const metrics = new Metrics();
  const cache = opts.cache ?? (await openCache(config.cache));
  const backends = backendsOf(config);
  // every policy document is parsed and compiled here, once; a PolicyError stops the start with every problem
  let policies;
  let opened: Store | undefined;
  let credentials: CredentialManager | undefined;
  let authorization: AuthorizationFacade | undefined;
  try {
    opened = opts.store ?? (await openStore(config.store));
    credentials = await credentialManagerOf(config, opened, logger, opts);
    authorization = await authorizationFacadeOf(config, opened, cache, logger, opts);
    policies = compileServerPolicies(config, createRegistry(), { cache, logger, backends, auth: authServicesOf(config, { logger, ...opts.openid }), ...(credentials ? { credentials } : {}) });
  } catch (err) {
    if (!opts.cache) await cache.close();
    if (opened && !opts.store) await opened.close();
    throw err;
  }
  const store: Store = opened;
  const sessions = new SessionStore(cache, config.gateway.sessionTtlMs);
  const gate = new SubscriptionGate(config, new Subscriptions(store));
  const pools = new UpstreamPools();
  const basePath = new URL(config.gateway.publicUrl).pathname.replace(/\/$/, '');

  const metadata = new ResourceMetadata(config, policies, logger);
  const routes = new Map<string, ServerRoute>();
  for (const server of config.servers) {
    const filter = compileToolFilter(server.allowTools, server.denyTools);
    const auth = compileAuthorization(server, metadata.resourceOf(server.name));
    if (server.type === 'openapi') {
      const endpoint = new OpenApiEndpoint({ server, tools: server.openapi?.tools ?? [], sessions, filter, maxBodyBytes: config.gateway.maxBodyBytes, policies: policies.get(server.name), publicUrl: config.gateway.publicUrl, auth });
      routes.set(server.name, { name: server.name, backend: undefined, streamable: endpoint, legacy: undefined });
      continue;
    }
    const backend = new PassthroughBackend(server, pools, sessions, logger.child({ server: server.name }), (delta) => metrics.sessions.inc([server.name], delta));
    const deps = { backend, sessions, filter, maxBodyBytes: config.gateway.maxBodyBytes, policies: policies.get(server.name), publicUrl: config.gateway.publicUrl, auth };
    routes.set(server.name, {
      name: server.name,
      backend,
      streamable: new StreamableEndpoint(deps),
      legacy: new LegacySseEndpoint(deps, `${basePath}/${server.name}/messages`),
    });
  }

  const admit = async (req: IncomingMessage, server: string) => {
    try {
      return await gate.admit(req, server);
    } catch (err) {
      if (isGatewayError(err)) throw err;
      throw new GatewayError('GW_ERR_UNAVAILABLE', 'Service Unavailable: the subscription store is unreachable', { cause: err });
    }
  };

  /** the consent flow of authorization-code connections: login link → provider → callback → back */
  async function credentialRoute(req: IncomingMessage, res: ServerResponse, rel: string, query: string): Promise<void> {
    if (req.method !== 'GET') throw new GatewayError('GW_ERR_METHOD_NOT_ALLOWED', 'Method not allowed');
    if (!credentials) throw new GatewayError('GW_ERR_NOT_FOUND', 'Not Found');
    const params = new URLSearchParams(query);
    if (rel === '/credentials/done') {
      // where a login link without its own redirect lands
      const error = params.get('error');
      const text = error ? `The connection could not be made (${error.replace(/[^A-Za-z0-9_.-]/g, '')}). Try the login link again.` : 'The connection is ready. You can close this page.';
      const html = `<!doctype html><meta charset="utf-8"><title>Gatehouse</title><p>${text}</p>`;
      res.writeHead(error ? 400 : 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'; frame-ancestors 'none'", 'x-frame-options': 'DENY' });
      res.end(html);
      return;
    }
    let location: string;
    try {
      if (rel === '/credentials/callback') location = await credentials.finishLogin(params);
      else {
        const m = /^\/credentials\/([^/]+)\/([^/]+)\/login$/.exec(rel);
        if (!m) throw new GatewayError('GW_ERR_NOT_FOUND', 'Not Found');
        location = await credentials.startLogin(decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), params.get('grant'), params.get('redirect'));
      }
    } catch (err) {
      if (err instanceof CredentialError) throw new GatewayError('GW_ERR_BAD_REQUEST', `Bad Request: ${err.message}`, { status: err.code === 'AccessDenied' ? 403 : err.code.endsWith('NotFound') ? 404 : 400 });
      throw err;
    }
    res.writeHead(302, { location, 'cache-control': 'no-store' }).end();
  }

  const accessLog = logger.isLevelEnabled('info');
  let draining = false;
  const inflight = new Set<ServerResponse>();
  /** resolves the drain wait when the last in-flight response closes */
  let drained: (() => void) | undefined;
  const sockets = new Set<Socket>();

  async function route(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, server: { name: string } | undefined): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const rel = basePath && path.startsWith(basePath) ? path.slice(basePath.length) : path;
    if (rel === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (rel.startsWith('/credentials/')) return credentialRoute(req, res, rel, q === -1 ? '' : url.slice(q + 1));
    // the authorization-server facade (`authorization`): metadata, JWKS, register, authorize, consent, callback, token, revoke
    if (authorization && (await authorization.handle(req, res, path, q === -1 ? '' : url.slice(q + 1)))) return;
    // RFC 9728 metadata of the protected servers (public: any origin may read it)
    if (metadata.handle(path, req, res)) return;
    if (rel === '/readyz') {
      const [s, c] = await Promise.all([store.ping().catch(() => false), cache.ping().catch(() => false)]);
      const ok = s && c && !draining;
      return sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'unavailable', store: s ? 'ok' : 'down', cache: c ? 'ok' : 'down', draining });
    }
    if (rel === '/metrics') {
      const body = opts.metricsText ? await opts.metricsText() : await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(body);
      return;
    }
    // /NAME/mcp, /NAME/sse, /NAME/messages
    const slash = rel.indexOf('/', 1);
    if (slash > 1) {
      const r = routes.get(rel.slice(1, slash));
      const tail = rel.slice(slash);
      if (r && (tail === '/mcp' || tail === '/sse' || tail === '/messages')) {
        (server as { name: string }).name = r.name;
        const origin = req.headers.origin;
        if (origin !== undefined && !checkOrigin(origin, config.gateway)) {
          throw new GatewayError('GW_ERR_ORIGIN_FORBIDDEN', 'Forbidden: Origin not allowed');
        }
        if (draining) throw new GatewayError('GW_ERR_SHUTTING_DOWN', 'Service Unavailable: the gateway is shutting down');
        // a session held in another worker's memory (legacy SSE stream, SSE backend) is served by that worker
        if (opts.peers && tail !== '/sse') {
          const sid = tail === '/messages' ? new URLSearchParams(q === -1 ? '' : url.slice(q + 1)).get('sessionId') : r.backend && !r.backend.streamable ? req.headers['mcp-session-id'] : undefined;
          if (typeof sid === 'string' && (await opts.peers.relay(sid, req, res))) return;
        }
        // subscription keys are checked (and removed) before anything else sees the request
        if (gate.active(r.name)) ctx.admission = await admit(req, r.name);
        if (tail === '/mcp') return r.streamable.handle(req, res, ctx);
        if (!r.legacy) throw new GatewayError('GW_ERR_NOT_FOUND', 'Not Found: this server speaks Streamable HTTP only (use /mcp)');
        if (tail === '/sse') return r.legacy.open(req, res, ctx);
        return r.legacy.message(req, res, ctx, new URLSearchParams(q === -1 ? '' : url.slice(q + 1)));
      }
    }
    throw new GatewayError('GW_ERR_NOT_FOUND', 'Not Found');
  }

  const httpServer = createServer({ noDelay: true, keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 30_000 }, (req, res) => {
    const start = performance.now();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID_RE.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', requestId);
    const ctx: RequestContext = { requestId };
    const server = { name: '' };
    inflight.add(res);
    res.on('close', () => {
      inflight.delete(res);
      if (inflight.size === 0) drained?.();
      if (!server.name) return;
      const status = res.statusCode;
      const method = ctx.method ?? req.method ?? '';
      const ms = performance.now() - start;
      metrics.requests.inc([server.name, method, metrics.toolLabel(ctx.tool), String(status)]);
      metrics.duration.observe([server.name, method], ms / 1000);
      if (ctx.errorCode) metrics.errors.inc([server.name, ctx.errorCode]);
      if (ctx.internalError !== undefined) logger.error({ requestId, server: server.name, err: ctx.internalError }, 'unexpected error inside a policy pipeline');
      if (accessLog) logger.info({ requestId, server: server.name, httpMethod: req.method, method: ctx.method, tool: ctx.tool, status, ms: Math.round(ms * 1000) / 1000, error: ctx.errorCode }, 'request');
    });
    // DNS-rebinding defence (MCP transport security): when bound to loopback only loopback Host names are served
    if (!checkHost(req.headers.host, config.gateway)) {
      ctx.errorCode = 'GW_ERR_HOST_FORBIDDEN';
      req.resume();
      sendError(res, new GatewayError('GW_ERR_HOST_FORBIDDEN', 'Forbidden: Host not allowed'));
      return;
    }
    route(req, res, ctx, server).catch((err: unknown) => {
      const e = isGatewayError(err) ? err : new GatewayError('GW_ERR_INTERNAL', 'Internal Server Error', { cause: err });
      ctx.errorCode = e.code;
      if (e.code === 'GW_ERR_INTERNAL') logger.error({ requestId, err }, 'unexpected error');
      else if (e.status >= 500) logger.warn({ requestId, server: server.name || undefined, code: e.code, detail: e.detail }, e.message);
      if (!req.complete) req.resume();
      if (server.name) sendMcpError(res, e);
      else sendError(res, e);
    });
  });
  httpServer.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  httpServer.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // headers over Node's limit (e.g. a huge bearer token): 431, as Node itself would answer
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    else socket.destroy();
    void err;
  });

  return {
    config,
    logger,
    metrics,
    httpServer,
    listen(port = config.gateway.port, host = config.gateway.host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          const addr = httpServer.address() as AddressInfo;
          const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
          resolve({ url: `http://${h}:${addr.port}`, port: addr.port, host: addr.address });
        });
      });
    },
    async close() {
      draining = true;
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      // long-lived streams (GET and legacy SSE) don't finish by themselves: end them now
      for (const r of routes.values()) r.legacy?.closeAll();
      // standalone GET streams never end by themselves; a POST's stream ends with its answer, which drains
      for (const res of inflight) {
        if (res.req.method === 'GET' && res.headersSent) res.end();
      }
      httpServer.closeIdleConnections();
      if (inflight.size > 0) {
        // wait for the last in-flight response, at most drainTimeout
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, config.gateway.drainTimeoutMs);
          drained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      for (const s of sockets) s.destroy();
      await closed;
      for (const r of routes.values()) r.backend?.close();
      await pools.close();
      if (!opts.cache) await cache.close();
      if (!opts.store) await store.close();
    },
  };
}

