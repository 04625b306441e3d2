/**
 * The call path of an imported OpenAPI operation: validate a tool call's arguments against the
 * tool's input schema (`compileArguments`), turn them into an HTTP request (`buildRequest`), send
 * it to the backend (`sendRest`) and turn the HTTP response into an MCP tool result (`toToolResult`).
 *
 * Security notes:
 *  - every value substituted into the path is percent-encoded with encodeURIComponent, and a path
 *    segment that would end up as `.` or `..` is refused: an argument can never change the target path
 *    (URL parsers resolve dot segments, even `%2e%2e`);
 *  - query values never carry a raw `&`, `=`, `#` or `%` (not even with allowReserved);
 *  - header/cookie values with CR, LF or other control characters are refused (no header injection);
 *  - redirects are never followed; responses are read up to a byte bound; one deadline covers headers
 *    and body; network error messages name the backend host only (never the path or query).
 */
import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { TextDecoder } from 'node:util';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { request, type Dispatcher } from 'undici';
import {
  ArgumentError,
  type BodyBinding,
  type JsonSchema,
  type OpenApiTool,
  type ParameterBinding,
  type RestRequest,
  type ToolResult,
} from './types.js';

// ---------------------------------------------------------------------------------------------
// argument validation

const MAX_LISTED_PROBLEMS = 10;

let ajvInstance: InstanceType<typeof Ajv2020> | undefined;
function ajv(): InstanceType<typeof Ajv2020> {
  if (!ajvInstance) {
    ajvInstance = new Ajv2020({
      strict: false,
      allErrors: true,
      useDefaults: true,
      coerceTypes: false,
      // schemas with an $id must not be registered (two tools may carry the same $id)
      addUsedSchema: false,
      validateSchema: false,
      logger: false,
    });
    // ajv-formats is CommonJS: its default import is module.exports (the plugin, with .default too)
    const addFormats = (addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule;
    (addFormats as (a: InstanceType<typeof Ajv2020>) => unknown)(ajvInstance);
  }
  return ajvInstance;
}

const validators = new WeakMap<OpenApiTool, (args: unknown) => void>();

/**
 * The validator of a tool's arguments (compiled once per tool object). It applies schema defaults
 * to the object it is given and throws an `ArgumentError` naming every problem (at most 10 listed).
 * `undefined` arguments are validated as `{}`.
 */
export function compileArguments(tool: OpenApiTool): (args: unknown) => void {
  const cached = validators.get(tool);
  if (cached) return cached;
  const schema: JsonSchema = { ...tool.inputSchema };
  // the meta-schema of an imported document is irrelevant here (and Ajv2020 knows only 2020-12)
  delete schema.$schema;
  let validate: ValidateFunction;
  try {
    validate = ajv().compile(schema);
  } catch (e) {
    throw new Error(`the input schema of tool "${tool.name}" cannot be compiled: ${(e as Error).message}`);
  }
  const fn = (args: unknown): void => {
    const value = args === undefined ? {} : args;
    if (validate(value)) return;
    throw new ArgumentError(describeErrors(validate.errors ?? []));
  };
  validators.set(tool, fn);
  return fn;
}

function describeErrors(errors: readonly ErrorObject[]): string {
  const problems: string[] = [];
  for (const err of errors) {
    const p = describeError(err);
    if (!problems.includes(p)) problems.push(p);
  }
  if (problems.length === 0) return 'invalid arguments';
  if (problems.length <= MAX_LISTED_PROBLEMS) return problems.join('; ');
  const more = problems.length - MAX_LISTED_PROBLEMS;
  return `${problems.slice(0, MAX_LISTED_PROBLEMS).join('; ')}; … and ${more} more problem${more === 1 ? '' : 's'}`;
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `/tags/0/name` → `tags[0].name` */
function fieldName(segments: readonly string[]): string {
  let out = '';
  for (const s of segments) {
    if (/^(0|[1-9][0-9]*)$/.test(s) && out !== '') out += `[${s}]`;
    else out += out === '' ? s : `.${s}`;
  }
  return out.length > 200 ? `${out.slice(0, 200)}…` : out;
}

function describeValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function describeError(err: ErrorObject): string {
  const at = pointerSegments(err.instancePath);
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
    case 'dependentRequired':
    case 'dependencies':
      if (typeof params.missingProperty === 'string')
        return `missing required argument "${fieldName([...at, params.missingProperty])}"`;
      break;
    case 'additionalProperties':
      if (typeof params.additionalProperty === 'string')
        return `unknown argument "${fieldName([...at, params.additionalProperty])}"`;
      break;
    case 'unevaluatedProperties':
      if (typeof params.unevaluatedProperty === 'string')
        return `unknown argument "${fieldName([...at, params.unevaluatedProperty])}"`;
      break;
    case 'type': {
      const t = Array.isArray(params.type) ? params.type.join(' or ') : String(params.type);
      return at.length === 0 ? `arguments must be ${t}` : `argument "${fieldName(at)}" must be ${t}`;
    }
    case 'enum':
      if (Array.isArray(params.allowedValues)) {
        const allowed = params.allowedValues.slice(0, 20).map(describeValue).join(', ');
        const tail = params.allowedValues.length > 20 ? ', …' : '';
        return `argument "${fieldName(at)}" must be one of: ${allowed}${tail}`;
      }
      break;
    case 'const':
      return `argument "${fieldName(at)}" must be ${describeValue(params.allowedValue)}`;
    default:
      break;
  }
  const msg = err.message ?? 'is invalid';
  return at.length === 0 ? `arguments ${msg}` : `argument "${fieldName(at)}" ${msg}`;
}

// ---------------------------------------------------------------------------------------------
// request building

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
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** what undici (and HTTP) accepts in a header value */
const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

function scalar(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** the object's [key, value] pairs, without undefined values */
function entriesOf(v: Record<string, unknown>): [string, unknown][] {
  return Object.entries(v).filter(([, x]) => x !== undefined);
}

const enc = encodeURIComponent;

/** percent-encoding for allowReserved query values: RFC 3986 reserved characters stay, except & = # (and %) */
function encReserved(s: string): string {
  return encodeURIComponent(s).replace(/%(3A|2F|3F|5B|5D|40|24|27|28|29|2A|2B|2C|3B)/gi, (m) => decodeURIComponent(m));
}

function pathValue(p: ParameterBinding, v: unknown): string {
  const name = enc(p.name);
  if (Array.isArray(v)) {
    const items = v.map((x) => enc(scalar(x)));
    switch (p.style) {
      case 'label':
        return p.explode ? items.map((x) => `.${x}`).join('') : `.${items.join(',')}`;
      case 'matrix':
        return p.explode ? items.map((x) => `;${name}=${x}`).join('') : `;${name}=${items.join(',')}`;
      default:
        return items.join(',');
    }
  }
  if (isPlainObject(v)) {
    const kv = entriesOf(v).map(([k, x]) => [enc(k), enc(scalar(x))] as const);
    switch (p.style) {
      case 'label':
        return p.explode ? kv.map(([k, x]) => `.${k}=${x}`).join('') : `.${kv.map(([k, x]) => `${k},${x}`).join(',')}`;
      case 'matrix':
        return p.explode
          ? kv.map(([k, x]) => `;${k}=${x}`).join('')
          : `;${name}=${kv.map(([k, x]) => `${k},${x}`).join(',')}`;
      default:
        return p.explode ? kv.map(([k, x]) => `${k}=${x}`).join(',') : kv.map(([k, x]) => `${k},${x}`).join(',');
    }
  }
  const s = enc(scalar(v));
  switch (p.style) {
    case 'label':
      return `.${s}`;
    case 'matrix':
      return s === '' ? `;${name}` : `;${name}=${s}`;
    default:
      return s;
  }
}

function buildPath(template: string, params: readonly ParameterBinding[], args: Record<string, unknown>): string {
  const byName = new Map<string, ParameterBinding>();
  for (const p of params) if (p.in === 'path') byName.set(p.name, p);
  const path = template.replace(/\{([^{}]+)\}/g, (_m, name: string) => {
    const p = byName.get(name);
    if (!p) throw new Error(`path parameter "${name}" of ${template} has no binding`);
    const v = args[p.arg];
    if (v === undefined || v === null) throw new ArgumentError(`missing required argument "${p.arg}"`);
    const s = pathValue(p, v);
    if (s === '') throw new ArgumentError(`argument "${p.arg}" must not be empty (it is a path segment)`);
    return s;
  });
  // URL parsers resolve `.` / `..` segments (also %2e forms): a value must never move the target
  for (const seg of path.split('/')) {
    if (/^(\.|%2e){1,2}$/i.test(seg)) throw new ArgumentError(`a path argument must not be "." or ".." (in ${template})`);
  }
  return path;
}

function queryPairs(p: ParameterBinding, v: unknown): string[] {
  const e = p.allowReserved ? encReserved : enc;
  const name = enc(p.name);
  const pair = (k: string, x: string): string => `${k}=${x}`;
  if (p.style === 'deepObject') {
    if (!isPlainObject(v) && !Array.isArray(v)) return [pair(name, e(scalar(v)))];
    const out: string[] = [];
    const walk = (prefix: string, x: unknown): void => {
      if (x === undefined) return;
      if (Array.isArray(x)) for (const item of x) walk(`${prefix}[]`, item);
      else if (isPlainObject(x)) for (const [k, y] of entriesOf(x)) walk(`${prefix}[${enc(k)}]`, y);
      else out.push(pair(prefix, e(scalar(x))));
    };
    walk(name, v);
    return out;
  }
  const delimiter = p.style === 'spaceDelimited' ? '%20' : p.style === 'pipeDelimited' ? '|' : ',';
  if (Array.isArray(v)) {
    const items = v.map((x) => e(scalar(x)));
    if (p.explode) return items.map((x) => pair(name, x));
    return [pair(name, items.join(delimiter))];
  }
  if (isPlainObject(v)) {
    const kv = entriesOf(v);
    if (p.explode) return kv.map(([k, x]) => pair(enc(k), e(scalar(x))));
    return [pair(name, kv.map(([k, x]) => `${enc(k)}${delimiter}${e(scalar(x))}`).join(delimiter))];
  }
  return [pair(name, e(scalar(v)))];
}

function headerValue(p: ParameterBinding, v: unknown): string {
  if (Array.isArray(v)) return v.map(scalar).join(',');
  if (isPlainObject(v)) {
    const kv = entriesOf(v);
    return p.explode ? kv.map(([k, x]) => `${k}=${scalar(x)}`).join(',') : kv.map(([k, x]) => `${k},${scalar(x)}`).join(',');
  }
  return scalar(v);
}

/** cookie-safe: encodeURIComponent encodes ; , space " \ and every control character */
function cookiePairs(p: ParameterBinding, v: unknown): string[] {
  const name = enc(p.name);
  if (Array.isArray(v)) {
    const items = v.map((x) => enc(scalar(x)));
    return p.explode ? items.map((x) => `${name}=${x}`) : [`${name}=${items.join(',')}`];
  }
  if (isPlainObject(v)) {
    const kv = entriesOf(v);
    if (p.explode) return kv.map(([k, x]) => `${enc(k)}=${enc(scalar(x))}`);
    return [`${name}=${kv.map(([k, x]) => `${enc(k)},${enc(scalar(x))}`).join(',')}`];
  }
  return [`${name}=${enc(scalar(v))}`];
}

function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

function isJsonType(mt: string): boolean {
  return mt === 'application/json' || mt.endsWith('+json') || mt === 'text/json';
}

function propertySchema(schema: JsonSchema, key: string): JsonSchema | undefined {
  const props = schema.properties;
  if (!isPlainObject(props)) return undefined;
  const s = props[key];
  return isPlainObject(s) ? s : undefined;
}

function isBase64Schema(schema: JsonSchema | undefined): boolean {
  return !!schema && (schema.contentEncoding === 'base64' || schema.format === 'byte');
}

function isBinarySchema(schema: JsonSchema | undefined): boolean {
  return !!schema && (schema.format === 'binary' || schema.format === 'byte' || typeof schema.contentEncoding === 'string' || typeof schema.contentMediaType === 'string');
}

/** the body value of a call, or undefined for no body */
function bodyValue(body: BodyBinding, args: Record<string, unknown>): unknown {
  if (body.mode === 'wrapped') return args[body.arg];
  const obj: Record<string, unknown> = {};
  let any = false;
  for (const k of body.properties) {
    if (args[k] !== undefined) {
      obj[k] = args[k];
      any = true;
    }
  }
  return any || body.required ? obj : undefined;
}

function multipartName(s: string): string {
  return s.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function multipartBody(value: unknown, schema: JsonSchema): { body: Buffer; boundary: string } {
  const boundary = `----GatehouseBoundary${randomBytes(16).toString('hex')}`;
  const chunks: Buffer[] = [];
  const part = (name: string, v: unknown, s: JsonSchema | undefined): void => {
    if (v === undefined) return;
    let headers = `Content-Disposition: form-data; name="${multipartName(name)}"`;
    let data: Buffer;
    if (isBinarySchema(s) && typeof v === 'string') {
      headers += `; filename="${multipartName(name)}"\r\nContent-Type: ${typeof s?.contentMediaType === 'string' && !/[\r\n]/.test(s.contentMediaType) ? s.contentMediaType : 'application/octet-stream'}`;
      data = isBase64Schema(s) ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8');
    } else if (typeof v === 'object' && v !== null) {
      headers += '\r\nContent-Type: application/json';
      data = Buffer.from(JSON.stringify(v), 'utf8');
    } else {
      data = Buffer.from(scalar(v), 'utf8');
    }
    chunks.push(Buffer.from(`--${boundary}\r\n${headers}\r\n\r\n`, 'utf8'), data, Buffer.from('\r\n', 'utf8'));
  };
  if (isPlainObject(value)) {
    for (const [k, v] of entriesOf(value)) {
      const s = propertySchema(schema, k);
      if (Array.isArray(v)) {
        const items = isPlainObject(s?.items) ? (s.items as JsonSchema) : undefined;
        for (const item of v) part(k, item, items);
      } else part(k, v, s);
    }
  } else {
    part('body', value, schema);
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'utf8'));
  return { body: Buffer.concat(chunks), boundary };
}

function formBody(value: unknown): string {
  if (!isPlainObject(value)) return scalar(value);
  const sp = new URLSearchParams();
  for (const [k, v] of entriesOf(value)) {
    if (Array.isArray(v)) for (const item of v) sp.append(k, scalar(item));
    else sp.append(k, scalar(v));
  }
  return sp.toString();
}

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

// ---------------------------------------------------------------------------------------------
// sending

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

// ---------------------------------------------------------------------------------------------
// results

const ERROR_EXCERPT_BYTES = 2048;
/** JSON bodies up to this size are pretty-printed in the text content (larger ones as sent) */
const PRETTY_JSON_BYTES = 64 * 1024;

/** an MCP tool error result with one text item */
export function errorResult(message: string): ToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

function charsetOf(contentType: string): string {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  return m?.[1] ?? 'utf-8';
}

function decodeText(buf: Buffer, contentType: string, partial: boolean): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charsetOf(contentType));
  } catch {
    decoder = new TextDecoder('utf-8');
  }
  let s = decoder.decode(buf);
  // a cut multi-byte character at the end of a partial body
  if (partial) s = s.replace(/\uFFFD+$/, '');
  return s;
}

function isTextType(mt: string): boolean {
  return (
    mt.startsWith('text/') ||
    mt === 'application/xml' ||
    mt.endsWith('+xml') ||
    mt === 'application/yaml' ||
    mt === 'application/x-yaml' ||
    mt === 'application/javascript' ||
    mt === 'application/ecmascript' ||
    mt === 'application/x-www-form-urlencoded' ||
    mt === 'application/graphql' ||
    mt === 'application/problem+xml'
  );
}

/** UTF-8 without control characters other than whitespace: probably text */
function looksLikeText(buf: Buffer): boolean {
  const sample = buf.subarray(0, 4096);
  let s: string;
  try {
    s = new TextDecoder('utf-8', { fatal: true }).decode(sample);
  } catch {
    // a multi-byte character cut at the sample's end is fine
    if (sample.length < buf.length) s = new TextDecoder('utf-8').decode(sample).replace(/\uFFFD+$/, '');
    else return false;
    if (s.includes('\uFFFD')) return false;
  }
  return !/[\x00-\x08\x0e-\x1f\x7f]/.test(s);
}

function truncationNote(n: number): Record<string, unknown> {
  return { type: 'text', text: `(response truncated at ${n} bytes)` };
}

function statusLine(status: number): string {
  const reason = STATUS_CODES[status];
  return reason ? `HTTP ${status} ${reason}` : `HTTP ${status}`;
}

function errorExcerpt(res: RestResponse, mt: string): string {
  if (res.body.length === 0) return '';
  const textual = isJsonType(mt) || isTextType(mt) || (mt === '' && looksLikeText(res.body));
  if (!textual) return `(${res.body.length}${res.truncated ? '+' : ''} bytes of ${mt || 'binary data'})`;
  const cut = res.body.length > ERROR_EXCERPT_BYTES;
  const s = decodeText(res.body.subarray(0, ERROR_EXCERPT_BYTES), res.contentType, cut).trim();
  return cut || res.truncated ? `${s}…` : s;
}

function syntheticUri(tool: OpenApiTool, res: RestResponse): string {
  const cd = res.headers['content-disposition'];
  const m = cd ? /filename\s*=\s*"?([^";]+)"?/i.exec(cd) : null;
  const file = m?.[1] ? `/${encodeURIComponent(m[1].trim())}` : '';
  return `openapi://${encodeURIComponent(tool.name)}/response${file}`;
}

/** The MCP tool result of an HTTP response (see the module comment for the mapping). */
export function toToolResult(tool: OpenApiTool, res: RestResponse): ToolResult {
  const mt = mediaType(res.contentType);

  if (res.status < 200 || res.status > 299) {
    let text = statusLine(res.status);
    if (res.status >= 300 && res.status < 400 && res.headers.location) {
      text += ` (redirect to ${res.headers.location.slice(0, 500)} not followed)`;
    }
    const excerpt = errorExcerpt(res, mt);
    if (excerpt) text += `: ${excerpt}`;
    return errorResult(text);
  }

  if (res.body.length === 0) return { content: [{ type: 'text', text: '(no content)' }] };

  const content: Record<string, unknown>[] = [];
  const note = res.truncated ? [truncationNote(res.body.length)] : [];

  if (isJsonType(mt)) {
    const text = decodeText(res.body, res.contentType, res.truncated);
    if (!res.truncated) {
      let value: unknown;
      let parsed = false;
      try {
        value = JSON.parse(text);
        parsed = true;
      } catch {
        // not JSON after all: returned as text
      }
      if (parsed) {
        const shown = res.body.length <= PRETTY_JSON_BYTES ? JSON.stringify(value, null, 2) : text;
        const result: { content: Record<string, unknown>[]; structuredContent?: Record<string, unknown> } = {
          content: [{ type: 'text', text: shown }],
        };
        if (tool.outputSchema) {
          if (tool.outputWrapped) result.structuredContent = { result: value };
          else if (isPlainObject(value)) result.structuredContent = value;
        }
        return result;
      }
    }
    content.push({ type: 'text', text });
    return { content: [...content, ...note] };
  }

  if (isTextType(mt) || (mt === '' && looksLikeText(res.body))) {
    content.push({ type: 'text', text: decodeText(res.body, res.contentType, res.truncated) });
    return { content: [...content, ...note] };
  }

  if (res.truncated) {
    // a cut image or file is garbage: say what it was instead
    return {
      content: [
        { type: 'text', text: `(${mt || 'binary'} response of more than ${res.body.length} bytes not returned)` },
        truncationNote(res.body.length),
      ],
    };
  }

  const data = res.body.toString('base64');
  if (mt.startsWith('image/')) return { content: [{ type: 'image', data, mimeType: mt }] };
  return {
    content: [
      { type: 'resource', resource: { uri: syntheticUri(tool, res), mimeType: mt || 'application/octet-stream', blob: data } },
    ],
  };
}
