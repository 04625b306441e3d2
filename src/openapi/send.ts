/** Sending a request to a REST backend (`sendRest`): no redirects, one deadline, a byte bound. */
import { request, type Dispatcher } from 'undici';
import type { RestRequest } from './types.js';
import { BAD_HEADER_VALUE, HEADER_NAME } from './header-syntax.js';

export interface RestResponse {
  status: number;
  /** lower-case names; repeated headers joined with ", " */
  headers: Record<string, string>;
  /** the content-type header ('' when absent) */
  contentType: string;
  body: Buffer;
  /** the backend sent more than maxBytes: body holds the first maxBytes */
  truncated: boolean;
}

export interface SendRestOptions {
  /** one deadline for the response headers and the whole body */
  timeoutMs: number;
  /** default 4 MiB */
  maxBytes?: number;
  dispatcher?: Dispatcher;
  /** headers set by policies, merged over the request's (case-insensitive); null deletes */
  headers?: Record<string, string | null>;
  signal?: AbortSignal;
}

export type RestErrorCode = 'GW_REST_UNREACHABLE' | 'GW_REST_TIMEOUT' | 'GW_REST_ABORTED' | 'GW_REST_INVALID_REQUEST';

/** a failed backend call; the message names the backend host only */
export class RestCallError extends Error {
  constructor(
    readonly code: RestErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RestCallError';
  }
}

export const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

function safeHost(baseUrl: string): string {
  try {
    return new URL(baseUrl).host;
  } catch {
    return '(invalid URL)';
  }
}

function networkReason(e: unknown): string {
  const err = e as { code?: unknown; cause?: { code?: unknown } };
  const code = typeof err?.code === 'string' ? err.code : typeof err?.cause?.code === 'string' ? err.cause.code : undefined;
  return code && /^[A-Z0-9_]{1,40}$/.test(code) ? ` (${code})` : '';
}

/**
 * Sends a request to `baseUrl + req.pathAndQuery`. Never follows redirects. Resolves with any HTTP
 * status; rejects with a `RestCallError` (code GW_REST_UNREACHABLE, GW_REST_TIMEOUT, GW_REST_ABORTED
 * when opts.signal aborted, GW_REST_INVALID_REQUEST for a header value policies made invalid).
 */
export async function sendRest(baseUrl: string, req: RestRequest, opts: SendRestOptions): Promise<RestResponse> {
  const host = safeHost(baseUrl);
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_RESPONSE_BYTES;

  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
  for (const [k, v] of Object.entries(opts.headers ?? {})) {
    const name = k.toLowerCase();
    if (v === null) delete headers[name];
    else headers[name] = v;
  }
  for (const [k, v] of Object.entries(headers)) {
    if (!HEADER_NAME.test(k) || BAD_HEADER_VALUE.test(v))
      throw new RestCallError('GW_REST_INVALID_REQUEST', `invalid request header "${k.slice(0, 100)}" for ${host}`);
  }

  let url: URL;
  try {
    url = new URL(baseUrl + req.pathAndQuery);
  } catch {
    throw new RestCallError('GW_REST_INVALID_REQUEST', `invalid backend URL for ${host}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new RestCallError('GW_REST_INVALID_REQUEST', `unsupported backend URL scheme ${url.protocol}`);

  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('timeout'));
  }, Math.max(1, opts.timeoutMs));
  const onAbort = (): void => controller.abort(opts.signal?.reason);
  if (opts.signal) {
    if (opts.signal.aborted) onAbort();
    else opts.signal.addEventListener('abort', onAbort, { once: true });
  }

  const fail = (e: unknown): RestCallError => {
    if (e instanceof RestCallError) return e;
    if (timedOut) return new RestCallError('GW_REST_TIMEOUT', `REST backend ${host} did not answer within ${opts.timeoutMs} ms`);
    if (opts.signal?.aborted) return new RestCallError('GW_REST_ABORTED', `the call to REST backend ${host} was cancelled`);
    return new RestCallError('GW_REST_UNREACHABLE', `REST backend ${host} is unreachable${networkReason(e)}`);
  };

  try {
    if (controller.signal.aborted) throw new Error('aborted');
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: req.body,
        signal: controller.signal,
        ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
      });
    } catch (e) {
      throw fail(e);
    }

    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    try {
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        if (size + buf.length > maxBytes) {
          chunks.push(buf.subarray(0, maxBytes - size));
          size = maxBytes;
          truncated = true;
          break;
        }
        chunks.push(buf);
        size += buf.length;
      }
    } catch (e) {
      throw fail(e);
    } finally {
      // stop reading (a break already destroyed the stream; this also covers errors)
      if (!res.body.destroyed && !res.body.readableEnded) res.body.destroy();
    }

    const outHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) {
      if (v === undefined) continue;
      outHeaders[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
    }
    return {
      status: res.statusCode,
      headers: outHeaders,
      contentType: outHeaders['content-type'] ?? '',
      body: Buffer.concat(chunks, size),
      truncated,
    };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
