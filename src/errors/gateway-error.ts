/**
 * One error type for everything the gateway answers with. `code` is stable (tests and docs use it),
 * `status` is the HTTP status when rendered at HTTP level, `message` is safe to send to a client
 * (never a secret, token or header value), `detail` goes to logs only.
 */
export type GatewayErrorCode =
  | 'GW_ERR_CONFIG_INVALID'
  | 'GW_ERR_BAD_REQUEST'
  | 'GW_ERR_PARSE'
  | 'GW_ERR_INVALID_REQUEST'
  | 'GW_ERR_NOT_ACCEPTABLE'
  | 'GW_ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'GW_ERR_BODY_TOO_LARGE'
  | 'GW_ERR_METHOD_NOT_ALLOWED'
  | 'GW_ERR_NOT_FOUND'
  | 'GW_ERR_SESSION_REQUIRED'
  | 'GW_ERR_SESSION_NOT_FOUND'
  | 'GW_ERR_PROTOCOL_VERSION'
  | 'GW_ERR_ORIGIN_FORBIDDEN'
  | 'GW_ERR_HOST_FORBIDDEN'
  | 'GW_ERR_TOOL_NOT_ALLOWED'
  | 'GW_ERR_UNAUTHORIZED'
  | 'GW_ERR_INSUFFICIENT_SCOPE'
  | 'GW_ERR_SUBSCRIPTION_KEY_NOT_FOUND'
  | 'GW_ERR_SUBSCRIPTION_KEY_INVALID'
  | 'GW_ERR_UPSTREAM_CONNECT'
  | 'GW_ERR_UPSTREAM_TIMEOUT'
  | 'GW_ERR_UPSTREAM_PROTOCOL'
  | 'GW_ERR_UNAVAILABLE'
  | 'GW_ERR_SHUTTING_DOWN'
  | 'GW_ERR_INTERNAL';

/** JSON-RPC 2.0 error codes used on the wire. */
export const JSONRPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** implementation-defined server errors (-32000..-32099) */
  SERVER_ERROR: -32000,
} as const;

const DEFAULT_STATUS: Record<GatewayErrorCode, number> = {
  GW_ERR_CONFIG_INVALID: 500,
  GW_ERR_BAD_REQUEST: 400,
  GW_ERR_PARSE: 400,
  GW_ERR_INVALID_REQUEST: 400,
  GW_ERR_NOT_ACCEPTABLE: 406,
  GW_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  GW_ERR_BODY_TOO_LARGE: 413,
  GW_ERR_METHOD_NOT_ALLOWED: 405,
  GW_ERR_NOT_FOUND: 404,
  GW_ERR_SESSION_REQUIRED: 400,
  GW_ERR_SESSION_NOT_FOUND: 404,
  GW_ERR_PROTOCOL_VERSION: 400,
  GW_ERR_ORIGIN_FORBIDDEN: 403,
  GW_ERR_HOST_FORBIDDEN: 403,
  GW_ERR_TOOL_NOT_ALLOWED: 403,
  GW_ERR_UNAUTHORIZED: 401,
  GW_ERR_INSUFFICIENT_SCOPE: 403,
  GW_ERR_SUBSCRIPTION_KEY_NOT_FOUND: 401,
  GW_ERR_SUBSCRIPTION_KEY_INVALID: 401,
  GW_ERR_UPSTREAM_CONNECT: 502,
  GW_ERR_UPSTREAM_TIMEOUT: 504,
  GW_ERR_UPSTREAM_PROTOCOL: 502,
  GW_ERR_UNAVAILABLE: 503,
  GW_ERR_SHUTTING_DOWN: 503,
  GW_ERR_INTERNAL: 500,
};

export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  readonly status: number;
  readonly jsonRpcCode: number;
  readonly detail: Readonly<Record<string, unknown>> | undefined;
  /** response headers that belong to the error (WWW-Authenticate of a 401/403) */
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** an answer APIM itself gives (subscription keys): APIM's `{statusCode, message}` body, also on MCP endpoints */
  readonly apimBody: boolean;

  constructor(
    code: GatewayErrorCode,
    message: string,
    opts: { status?: number; jsonRpcCode?: number; detail?: Record<string, unknown>; cause?: unknown; headers?: Record<string, string>; apimBody?: boolean } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = opts.status ?? DEFAULT_STATUS[code];
    this.jsonRpcCode = opts.jsonRpcCode ?? (code === 'GW_ERR_PARSE' ? JSONRPC.PARSE_ERROR : code === 'GW_ERR_INVALID_REQUEST' ? JSONRPC.INVALID_REQUEST : code === 'GW_ERR_INTERNAL' ? JSONRPC.INTERNAL_ERROR : JSONRPC.SERVER_ERROR);
    this.detail = opts.detail;
    this.headers = opts.headers;
    this.apimBody = opts.apimBody ?? false;
  }
}

export const isGatewayError = (e: unknown): e is GatewayError =>
  typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' && (e as { code: string }).code.startsWith('GW_ERR_');
