// The C#-shaped `context` object of policy expressions. The gateway constructs these objects once per request and
// mutates them as the pipeline runs (set-header changes request headers, set-variable sets variables, ...); later
// expressions read the same objects. Fields are plain camelCase TypeScript; the C# member names expressions use
// (context.Request.Headers, Url.Query.GetValueOrDefault(...), ...) are mapped in src/expressions/members.ts.
import { CsException } from './errors.js';
import { JObject, JToken, JValue, JArray, parseJArray, parseJObject, parseJson, tokenToString } from './runtime/json.js';
import { CsDateTime, CsTimeSpan } from './runtime/time.js';
import { CsDictionary, CsGuid, Jwt, StringListMap } from './runtime/values.js';

export { StringListMap, CsDictionary, CsGuid, Jwt, CsDateTime, CsTimeSpan };

/** Request/response headers: case-insensitive name → values. */
export class HeaderMap extends StringListMap {
  constructor(init?: Record<string, string | string[] | undefined> | Iterable<[string, string | string[]]>) {
    super(true);
    if (init) {
      const entries: Iterable<[string, string | string[] | undefined]> =
        Symbol.iterator in (init as object) ? (init as Iterable<[string, string | string[]]>) : Object.entries(init);
      for (const [k, v] of entries) if (v !== undefined) this.append(k, v);
    }
  }
}

/** A URL as expressions see it (IUrl). Query names are case-insensitive. */
export class UrlInfo {
  scheme: string;
  host: string;
  port: number;
  /** path starting with '/' (not URL-decoded) */
  path: string;
  readonly query: StringListMap;

  constructor(init: { scheme?: string; host?: string; port?: number; path?: string; query?: Record<string, string | string[]> | StringListMap } = {}) {
    this.scheme = init.scheme ?? 'https';
    this.host = init.host ?? 'localhost';
    this.port = init.port ?? (this.scheme === 'http' ? 80 : 443);
    this.path = init.path ?? '/';
    if (init.query instanceof StringListMap) this.query = init.query;
    else {
      this.query = new StringListMap(true);
      for (const [k, v] of Object.entries(init.query ?? {})) this.query.append(k, v);
    }
  }

  /** parses an absolute URL (e.g. "https://host:8443/a/b?x=1&x=2") */
  static parse(url: string): UrlInfo {
    const u = new URL(url);
    const scheme = u.protocol.replace(/:$/, '');
    const info = new UrlInfo({ scheme, host: u.hostname, port: u.port ? Number(u.port) : scheme === 'http' ? 80 : 443, path: u.pathname || '/' });
    for (const [k, v] of u.searchParams) info.query.append(k, v);
    return info;
  }

  /** "?a=1&b=2" or "" (values URL-encoded) */
  get queryString(): string {
    const parts: string[] = [];
    for (const [k, vs] of this.query.entries()) for (const v of vs) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
    return parts.length ? '?' + parts.join('&') : '';
  }

  toString(): string {
    const defaultPort = (this.scheme === 'http' && this.port === 80) || (this.scheme === 'https' && this.port === 443);
    return `${this.scheme}://${this.host}${defaultPort ? '' : `:${this.port}`}${this.path}${this.queryString}`;
  }

  clone(): UrlInfo {
    const q = new StringListMap(true);
    for (const [k, v] of this.query.entries()) q.set(k, v);
    return new UrlInfo({ scheme: this.scheme, host: this.host, port: this.port, path: this.path, query: q });
  }
}

/**
 * A buffered message body (IMessageBody). `As<T>()` without `preserveContent: true` consumes the body as APIM
 * does: later reads see an empty body ("" / null JSON / empty byte[]), and `consumed` tells the gateway that the
 * message must be forwarded without a body unless a policy sets a new one.
 */
export class MessageBody {
  private content: Uint8Array | string;
  consumed = false;

  constructor(content: string | Uint8Array) {
    this.content = content;
  }

  /** replaces the content (set-body); resets `consumed` */
  setContent(content: string | Uint8Array): void {
    this.content = content;
    this.consumed = false;
  }

  /** the current content as text, without consuming it (for the gateway) */
  peekText(): string {
    if (this.consumed) return '';
    return typeof this.content === 'string' ? this.content : Buffer.from(this.content).toString('utf8');
  }

  peekBytes(): Uint8Array {
    if (this.consumed) return new Uint8Array(0);
    return typeof this.content === 'string' ? new Uint8Array(Buffer.from(this.content, 'utf8')) : this.content;
  }

  /** reads the content for an expression; consumes it unless preserveContent is true */
  read(preserveContent: boolean): { text: string; bytes: Uint8Array; empty: boolean } {
    const empty = this.consumed;
    const text = this.peekText();
    const bytes = this.peekBytes();
    if (!preserveContent) this.consumed = true;
    return { text, bytes, empty };
  }
}

/** context.Request (IRequest) */
export class RequestInfo {
  method: string;
  url: UrlInfo;
  originalUrl: UrlInfo;
  headers: HeaderMap;
  /** null when the request has no body */
  body: MessageBody | null;
  ipAddress: string;
  /** route template parameters (IReadOnlyDictionary<string, string>) */
  readonly matchedParameters: CsDictionary;

  constructor(init: {
    method?: string;
    url?: UrlInfo | string;
    originalUrl?: UrlInfo | string;
    headers?: HeaderMap | Record<string, string | string[]>;
    body?: string | Uint8Array | MessageBody | null;
    ipAddress?: string;
    matchedParameters?: Record<string, string>;
  } = {}) {
    this.method = init.method ?? 'GET';
    this.url = typeof init.url === 'string' ? UrlInfo.parse(init.url) : (init.url ?? new UrlInfo());
    this.originalUrl = typeof init.originalUrl === 'string' ? UrlInfo.parse(init.originalUrl) : (init.originalUrl ?? this.url.clone());
    this.headers = init.headers instanceof HeaderMap ? init.headers : new HeaderMap(init.headers ?? {});
    this.body = init.body === undefined || init.body === null ? null : init.body instanceof MessageBody ? init.body : new MessageBody(init.body);
    this.ipAddress = init.ipAddress ?? '127.0.0.1';
    this.matchedParameters = new CsDictionary(true, true);
    for (const [k, v] of Object.entries(init.matchedParameters ?? {})) this.matchedParameters.set(k, v);
  }
}

/** context.Response, and the IResponse stored by send-request (response-variable-name) */
export class ResponseInfo {
  statusCode: number;
  statusReason: string;
  headers: HeaderMap;
  body: MessageBody | null;

  constructor(init: { statusCode?: number; statusReason?: string; headers?: HeaderMap | Record<string, string | string[]>; body?: string | Uint8Array | MessageBody | null } = {}) {
    this.statusCode = init.statusCode ?? 200;
    this.statusReason = init.statusReason ?? 'OK';
    this.headers = init.headers instanceof HeaderMap ? init.headers : new HeaderMap(init.headers ?? {});
    this.body = init.body === undefined || init.body === null ? null : init.body instanceof MessageBody ? init.body : new MessageBody(init.body);
  }
}

/** context.Variables (IReadOnlyDictionary<string, object>); the gateway writes with set/delete */
export class VariablesMap {
  private readonly m = new Map<string, unknown>();
  constructor(init?: Record<string, unknown>) {
    for (const [k, v] of Object.entries(init ?? {})) this.m.set(k, v);
  }
  has(name: string): boolean {
    return this.m.has(name);
  }
  get(name: string): unknown {
    return this.m.get(name);
  }
  set(name: string, value: unknown): void {
    this.m.set(name, value === undefined ? null : value);
  }
  delete(name: string): boolean {
    return this.m.delete(name);
  }
  entries(): Array<[string, unknown]> {
    return [...this.m.entries()];
  }
  get size(): number {
    return this.m.size;
  }
}

export class ApiInfo {
  id = '';
  name = '';
  path = '';
  revision = '1';
  serviceUrl: UrlInfo | null = null;
  version = '';
  isCurrentRevision = true;
}

export class OperationInfo {
  id = '';
  method = '';
  name = '';
  urlTemplate = '';
}

export class ProductInfo {
  id = '';
  name = '';
  approvalRequired = false;
  subscriptionRequired = false;
  subscriptionsLimit: number | null = null;
  state = 'Published';
  groups: GroupInfo[] = [];
}

export class SubscriptionInfo {
  id = '';
  key = '';
  name = '';
  primaryKey = '';
  secondaryKey = '';
  createdTime: CsDateTime = new CsDateTime(0, 'Utc');
  startDate: CsDateTime | null = null;
  endDate: CsDateTime | null = null;
}

export class GroupInfo {
  constructor(
    public id = '',
    public name = '',
  ) {}
}

export class UserInfo {
  id = '';
  email = '';
  firstName = '';
  lastName = '';
  note = '';
  registrationDate: CsDateTime = new CsDateTime(0, 'Utc');
  groups: GroupInfo[] = [];
}

export class DeploymentInfo {
  region = '';
  serviceName = '';
  serviceId = '';
  gatewayId = '';
}

/** context.LastError; null outside on-error */
export class LastErrorInfo {
  source = '';
  reason = '';
  message = '';
  scope = '';
  section = '';
  path = '';
  policyId = '';
}

/** context.Mcp: our MCP extension */
export class McpInfo {
  method = '';
  toolName: string | null = null;
  sessionId: string | null = null;
  protocolVersion: string | null = null;
  /** the arguments of a tools/call */
  arguments: JObject = new JObject();
}

/** the object get-authorization-context stores (Authorization) */
export class AuthorizationInfo {
  readonly claims: CsDictionary;
  constructor(
    public accessToken: string,
    claims: Record<string, unknown> = {},
  ) {
    this.claims = new CsDictionary(false, true);
    for (const [k, v] of Object.entries(claims)) this.claims.set(k, v);
  }
}

export interface TraceEntry {
  message: string;
}

export class ExpressionContext {
  request: RequestInfo;
  response: ResponseInfo;
  variables: VariablesMap;
  api: ApiInfo;
  operation: OperationInfo;
  product: ProductInfo | null;
  subscription: SubscriptionInfo | null;
  user: UserInfo | null;
  deployment: DeploymentInfo;
  lastError: LastErrorInfo | null;
  requestId: CsGuid;
  timestamp: CsDateTime;
  /** wall-clock ms at which the request started; Elapsed is measured from here */
  startedAt: number;
  tracing: boolean;
  mcp: McpInfo;
  readonly traces: TraceEntry[] = [];
  onTrace: ((message: string) => void) | null = null;

  constructor(init: ExpressionContextInit = {}) {
    this.request = init.request instanceof RequestInfo ? init.request : new RequestInfo(init.request ?? {});
    this.response = init.response instanceof ResponseInfo ? init.response : new ResponseInfo(init.response ?? {});
    this.variables = init.variables instanceof VariablesMap ? init.variables : new VariablesMap(init.variables ?? {});
    this.api = Object.assign(new ApiInfo(), init.api ?? {});
    this.operation = Object.assign(new OperationInfo(), init.operation ?? {});
    this.product = init.product === null ? null : init.product ? Object.assign(new ProductInfo(), init.product) : null;
    this.subscription = init.subscription === null ? null : init.subscription ? Object.assign(new SubscriptionInfo(), init.subscription) : null;
    this.user = init.user === null ? null : init.user ? Object.assign(new UserInfo(), init.user) : null;
    this.deployment = Object.assign(new DeploymentInfo(), init.deployment ?? {});
    this.lastError = init.lastError ? Object.assign(new LastErrorInfo(), init.lastError) : null;
    this.requestId = init.requestId ? (CsGuid.tryParse(init.requestId) ?? CsGuid.newGuid()) : CsGuid.newGuid();
    this.startedAt = init.startedAt ?? Date.now();
    this.timestamp = new CsDateTime(init.timestamp ?? this.startedAt, 'Utc');
    this.tracing = init.tracing ?? false;
    this.mcp = new McpInfo();
    if (init.mcp) {
      const { arguments: args, ...rest } = init.mcp;
      Object.assign(this.mcp, rest);
      if (args !== undefined) this.mcp.arguments = args instanceof JObject ? args : toJObject(args);
    }
    if (init.onTrace) this.onTrace = init.onTrace;
  }

  /** context.Elapsed */
  get elapsed(): CsTimeSpan {
    return new CsTimeSpan(Math.max(0, Date.now() - this.startedAt));
  }
}

export interface ExpressionContextInit {
  request?: RequestInfo | ConstructorParameters<typeof RequestInfo>[0];
  response?: ResponseInfo | ConstructorParameters<typeof ResponseInfo>[0];
  variables?: VariablesMap | Record<string, unknown>;
  api?: Partial<ApiInfo>;
  operation?: Partial<OperationInfo>;
  product?: Partial<ProductInfo> | null;
  subscription?: Partial<SubscriptionInfo> | null;
  user?: Partial<UserInfo> | null;
  deployment?: Partial<DeploymentInfo>;
  lastError?: Partial<LastErrorInfo> | null;
  /** a GUID string; a new one by default */
  requestId?: string;
  /** ms since the epoch (context.Timestamp); defaults to startedAt */
  timestamp?: number;
  startedAt?: number;
  tracing?: boolean;
  mcp?: Partial<Omit<McpInfo, 'arguments'>> & { arguments?: JObject | Record<string, unknown> };
  onTrace?: (message: string) => void;
}

/** builds a context from plain data, with empty defaults for everything not given */
export function createExpressionContext(init: ExpressionContextInit = {}): ExpressionContext {
  return new ExpressionContext(init);
}

// ------------------------------------------------------------------ JSON helpers for the gateway

/** converts plain JSON data (as from JSON.parse) into a JToken */
export function toJToken(v: unknown, depth = 0): JToken {
  if (depth > 256) throw new CsException('JsonReaderException', 'JSON nesting too deep');
  if (v === null || v === undefined) return JValue.null();
  if (typeof v === 'string') return JValue.str(v);
  if (typeof v === 'number') return Number.isInteger(v) ? JValue.int(v) : JValue.float(v);
  if (typeof v === 'boolean') return JValue.bool(v);
  if (v instanceof JToken) return v;
  if (Array.isArray(v)) {
    const a = new JArray();
    for (const it of v) a.add(toJToken(it, depth + 1));
    return a;
  }
  if (typeof v === 'object') {
    const o = new JObject();
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) o.set(k, toJToken(val, depth + 1));
    return o;
  }
  return JValue.str(String(v));
}

export function toJObject(v: Record<string, unknown>): JObject {
  const t = toJToken(v);
  if (!(t instanceof JObject)) throw new CsException('ArgumentException', 'not a JSON object');
  return t;
}

/** converts a JToken back into plain JSON data */
export function fromJToken(t: JToken | null): unknown {
  return t === null ? null : JSON.parse(tokenToString(t, false)) as unknown;
}

export { JObject, JArray, JValue, JToken, parseJson, parseJObject, parseJArray };
