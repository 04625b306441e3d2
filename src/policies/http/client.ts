/**
 * The outbound HTTP client of send-request and send-one-way-request: undici, with
 * - the SSRF rules of ./ssrf.ts (checked before sending and again on every resolved address),
 * - no redirects followed (a 3xx is the response),
 * - one deadline for connect + headers + body (`timeoutMs`),
 * - a response size limit (`maxResponseBytes`, default 8 MiB),
 * - an optional HTTP proxy (APIM <proxy>: http://host:port, basic credentials, CONNECT tunnel),
 * - an optional TLS client certificate (authentication-certificate) and extra trusted CAs.
 * Connections are pooled per distinct TLS/proxy configuration (a small bounded set of agents).
 */
import { STATUS_CODES } from 'node:http';
import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';
import { HeaderMap, MessageBody, ResponseInfo } from '../../expressions/context.js';
import { checkResolvedHost, checkUrl, guardedLookup, SSRF_CODE, SsrfError, type SsrfOptions } from './ssrf.js';
import { tlsOptions, type ClientCertificate } from './certificate.js';

export const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export interface ProxySpec {
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

export interface OutboundRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body: string | Uint8Array | null;
  readonly timeoutMs: number;
  readonly ssrf: SsrfOptions;
  readonly maxResponseBytes?: number;
  readonly proxy?: ProxySpec | undefined;
  readonly cert?: ClientCertificate | undefined;
  /** extra trusted CA certificates (PEM) for https targets */
  readonly ca?: string | readonly string[] | undefined;
  /** aborts the request (e.g. the losing branches of <wait for="any">) */
  readonly signal?: AbortSignal | undefined;
}

export type OutboundErrorKind = 'blocked' | 'timeout' | 'failure' | 'too-large' | 'aborted';

/** A failed outbound request. `message` is safe for clients and logs: host only, never path, query, headers or body. */
export class OutboundError extends Error {
  constructor(
    readonly kind: OutboundErrorKind,
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
    this.name = 'OutboundError';
  }
}

/** headers never sent as given: framing and hop-by-hop headers (undici sets its own) */
const DROP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-connection', 'proxy-authorization', 'content-length', 'expect', 'http2-settings']);

const MAX_AGENTS = 32;
const agents = new Map<string, Dispatcher>();

function dispatcherFor(req: OutboundRequest, proxyUrl: URL | undefined): Dispatcher {
  const ca = req.ca === undefined ? undefined : typeof req.ca === 'string' ? [req.ca] : [...req.ca];
  const key = JSON.stringify([req.ssrf.blockPrivate, req.cert?.id ?? null, ca ?? null, proxyUrl?.href ?? null, req.proxy?.username ?? null, req.proxy?.password ?? null]);
  const hit = agents.get(key);
  if (hit) {
    agents.delete(key);
    agents.set(key, hit); // most recently used last
    return hit;
  }
  const tls = { ...(req.cert ? tlsOptions(req.cert) : {}), ...(ca ? { ca } : {}) };
  const common = { keepAliveTimeout: 4_000, keepAliveMaxTimeout: 30_000, connections: 64 };
  let d: Dispatcher;
  if (proxyUrl) {
    const token = req.proxy?.username !== undefined ? `Basic ${Buffer.from(`${req.proxy.username}:${req.proxy.password ?? ''}`).toString('base64')}` : undefined;
    d = new ProxyAgent({
      ...common,
      uri: proxyUrl.href,
      ...(token ? { token } : {}),
      proxyTls: { lookup: guardedLookup(req.ssrf) } as never,
      requestTls: tls as never,
      connect: { lookup: guardedLookup(req.ssrf) } as never,
    });
  } else {
    d = new Agent({ ...common, connect: { ...tls, lookup: guardedLookup(req.ssrf) } as never });
  }
  agents.set(key, d);
  if (agents.size > MAX_AGENTS) {
    const [oldKey, old] = agents.entries().next().value as [string, Dispatcher];
    agents.delete(oldKey);
    void old.close().catch(() => undefined);
  }
  return d;
}

function isSsrf(err: unknown): SsrfError | undefined {
  for (let e: unknown = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof SsrfError || (e as { code?: unknown }).code === SSRF_CODE) return e as SsrfError;
  }
  return undefined;
}

function headerRecord(h: Readonly<Record<string, string | string[]>>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    const name = k.toLowerCase();
    if (DROP.has(name)) continue;
    out[name] = v;
  }
  return out;
}

/** Send one request and return the response as an IResponse (body buffered, bounded). */
export async function sendOutbound(req: OutboundRequest): Promise<ResponseInfo> {
  let url: URL;
  try {
    url = checkUrl(req.url, req.ssrf);
  } catch (err) {
    throw new OutboundError('blocked', `destination refused: ${(err as Error).message}`, { cause: err });
  }
  let proxyUrl: URL | undefined;
  if (req.proxy) {
    try {
      proxyUrl = checkUrl(req.proxy.url, req.ssrf, 'proxy URL');
      if (proxyUrl.protocol !== 'http:') throw new SsrfError('the proxy URL must use http (as in APIM)');
      // the proxy resolves the target: check what it would resolve to ourselves
      await checkResolvedHost(url, req.ssrf);
    } catch (err) {
      if (err instanceof SsrfError) throw new OutboundError('blocked', `destination refused: ${err.message}`, { cause: err });
      throw new OutboundError('failure', `request to ${url.host} failed: ${(err as Error).message}`, { cause: err });
    }
  }
  const limit = req.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const timer = new AbortController();
  const t = setTimeout(() => timer.abort(), req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([timer.signal, req.signal]) : timer.signal;
  const fail = (err: unknown): OutboundError => {
    if (err instanceof OutboundError) return err;
    const blocked = isSsrf(err);
    if (blocked) return new OutboundError('blocked', `destination refused: ${blocked.message}`, { cause: err });
    if (req.signal?.aborted && !timer.signal.aborted) return new OutboundError('aborted', `request to ${url.host} was cancelled`, { cause: err });
    const code = (err as { code?: string } | undefined)?.code ?? '';
    if (timer.signal.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new OutboundError('timeout', `request to ${url.host} timed out after ${req.timeoutMs / 1000} s`, { cause: err });
    }
    const why = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'host not found' : code.startsWith('ERR_TLS') || code.includes('CERT') ? 'TLS handshake failed' : 'connection failed';
    return new OutboundError('failure', `request to ${url.host} failed: ${why}`, { cause: err });
  };
  try {
    const res = await request(url, {
      method: req.method as Dispatcher.HttpMethod,
      headers: headerRecord(req.headers),
      body: req.body === null ? null : typeof req.body === 'string' ? req.body : Buffer.from(req.body),
      signal,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
      dispatcher: dispatcherFor(req, proxyUrl),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        res.body.destroy();
        throw new OutboundError('too-large', `response from ${url.host} is larger than ${limit} bytes`);
      }
      chunks.push(chunk);
    }
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.append(k, v);
    return new ResponseInfo({ statusCode: res.statusCode, statusReason: STATUS_CODES[res.statusCode] ?? '', headers, body: new MessageBody(new Uint8Array(Buffer.concat(chunks, size))) });
  } catch (err) {
    throw fail(err);
  } finally {
    clearTimeout(t);
  }
}

/** close every pooled connection (tests, shutdown) */
export async function closeOutboundAgents(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close().catch(() => undefined)));
}
