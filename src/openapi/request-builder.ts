/** A tool call's validated arguments → the HTTP request to send (`buildRequest`). */
import { ArgumentError, type OpenApiTool, type RestRequest } from './types.js';
import { BAD_HEADER_VALUE, HEADER_NAME } from './header-syntax.js';
import { buildPath, cookiePairs, headerValue, queryPairs } from './parameter-serialization.js';
import { isJsonType, mediaType } from './media-types.js';
import { bodyValue, formBody, isBase64Schema, multipartBody } from './request-body.js';

const DEFAULT_ACCEPT = 'application/json, */*;q=0.8';
/** header parameters OpenAPI says to ignore, and headers an operation must not set itself */
const IGNORED_HEADER_PARAMS = new Set([
  'accept',
  'content-type',
  'authorization',
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'proxy-authorization',
  'cookie',
]);

/**
 * The HTTP request of a call, from arguments the tool's validator accepted. Throws `ArgumentError`
 * for values that cannot be sent safely (a path segment `.`/`..`/empty, control characters in a header).
 */
export function buildRequest(tool: OpenApiTool, args: Record<string, unknown>): RestRequest {
  const op = tool.operation;
  const path = buildPath(op.path, op.parameters, args);

  const query: string[] = [];
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const p of op.parameters) {
    if (p.in === 'path') continue;
    const v = args[p.arg];
    if (v === undefined) continue;
    if (p.in === 'query') {
      query.push(...queryPairs(p, v));
    } else if (p.in === 'header') {
      const name = p.name.toLowerCase();
      if (IGNORED_HEADER_PARAMS.has(name)) continue;
      if (!HEADER_NAME.test(name)) throw new Error(`header parameter name "${p.name}" is not a valid HTTP header name`);
      const s = headerValue(p, v);
      if (BAD_HEADER_VALUE.test(s))
        throw new ArgumentError(`argument "${p.arg}" must not contain line breaks or control characters (it is an HTTP header)`);
      headers[name] = s;
    } else if (p.in === 'cookie') {
      cookies.push(...cookiePairs(p, v));
    }
  }
  if (cookies.length > 0) headers.cookie = cookies.join('; ');

  headers.accept = op.responseContentType && !BAD_HEADER_VALUE.test(op.responseContentType)
    ? `${op.responseContentType}, */*;q=0.8`
    : DEFAULT_ACCEPT;

  let body: string | Buffer | undefined;
  if (op.body) {
    const value = bodyValue(op.body, args);
    if (value !== undefined) {
      let ct = op.body.contentType;
      let mt = mediaType(ct);
      if (mt.includes('*') || mt === '') {
        ct = mt = typeof value === 'string' ? 'application/octet-stream' : 'application/json';
      }
      if (isJsonType(mt)) {
        body = JSON.stringify(value);
      } else if (mt === 'application/x-www-form-urlencoded') {
        body = formBody(value);
      } else if (mt === 'multipart/form-data') {
        const m = multipartBody(value, op.body.schema);
        body = m.body;
        ct = `multipart/form-data; boundary=${m.boundary}`;
      } else if (mt.startsWith('text/')) {
        body = typeof value === 'string' ? value : JSON.stringify(value);
        if (!/;\s*charset=/i.test(ct)) ct = `${ct}; charset=utf-8`;
      } else if (typeof value === 'string') {
        body = isBase64Schema(op.body.schema) ? Buffer.from(value, 'base64') : value;
      } else {
        body = JSON.stringify(value);
      }
      if (BAD_HEADER_VALUE.test(ct)) ct = 'application/octet-stream';
      headers['content-type'] = ct;
    }
  }

  const qs = query.join('&');
  const pathAndQuery = qs === '' ? path : `${path}${path.includes('?') ? '&' : '?'}${qs}`;
  return { method: op.method.toUpperCase(), pathAndQuery, headers, body };
}
