/** Small helpers for node:http requests and responses used by every endpoint. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors/gateway-error.js';

/** Read a request body up to `limit` bytes; 413 (GatewayError) beyond it, without buffering the excess. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    req.resume();
    return Promise.reject(new GatewayError('GW_ERR_BODY_TOO_LARGE', `request body exceeds ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        req.resume();
        reject(new GatewayError('GW_ERR_BODY_TOO_LARGE', `request body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (done) return;
      done = true;
      reject(new GatewayError('GW_ERR_BAD_REQUEST', 'request body could not be read', { cause: err }));
    });
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** APIM-shaped error body for non-MCP endpoints: {"statusCode": N, "message": "..."} */
export function sendError(res: ServerResponse, err: GatewayError, headers?: Record<string, string>): void {
  sendJson(res, err.status, { statusCode: err.status, message: err.message }, headers);
}

/** Media-type check that parses the header instead of substring matching (an Accept of "application/jsonx" is not JSON). */
export function mediaTypes(header: string | undefined): string[] {
  if (!header) return [];
  return header.split(',').map((part) => part.split(';', 1)[0]!.trim().toLowerCase()).filter(Boolean);
}

/** MCP 2025-11-25 §Streamable HTTP: a POST's Accept MUST list both application/json and text/event-stream. */
const acceptMemo = new Map<string, boolean>();
export function acceptsBoth(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let ok = acceptMemo.get(accept);
  if (ok === undefined) {
    const types = mediaTypes(accept);
    ok = types.includes('application/json') && types.includes('text/event-stream');
    if (acceptMemo.size < 256) acceptMemo.set(accept, ok);
  }
  return ok;
}

export function accepts(accept: string | undefined, type: string): boolean {
  const types = mediaTypes(accept);
  return types.includes(type) || types.includes('*/*') || types.includes(type.split('/')[0] + '/*');
}

/** the media type of a Content-Type header, lower case, without parameters ('' when absent) */
export const mediaTypeOf = (h: string | string[] | undefined): string => {
  // the two types MCP backends answer with, as they usually spell them: no parsing (the proxy's hot path)
  if (h === 'application/json' || h === 'text/event-stream') return h;
  return ((Array.isArray(h) ? h[0] : h) ?? '').split(';', 1)[0]!.trim().toLowerCase();
};

export function isJsonContentType(header: string | undefined): boolean {
  if (header === 'application/json') return true;
  return mediaTypes(header)[0] === 'application/json';
}

export const singleHeader = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
