/**
 * The data a Liquid template renders against, built per request from the pipeline context, with
 * APIM's names (C# style):
 *
 *   body                          the parsed body of the message set-body replaces (JSON, or XML as
 *                                 Newtonsoft converts it: {"root": {"@attr": …, "child": …, "#text": …}})
 *   context.Request               Method, OriginalMethod, Url, OriginalUrl, IpAddress, Headers,
 *                                 MatchedParameters, HasBody, ClientCertificates, Body (text)
 *   context.Response              StatusCode, StatusReason, Headers, Body (text) — nil before a response exists
 *   context.Variables             the policy variables
 *   context.User / Subscription / Product / Api / Operation / Deployment / LastError / Mcp,
 *   context.RequestId, context.Timestamp, context.Elapsed, context.Tracing
 *
 * A URL has Scheme, Host, Port, Path, Query, QueryString, ToUri, ToString and renders as the URL.
 * A dictionary (Headers, Query, MatchedParameters, Variables) is a list of {Key, Value} pairs, so
 * `{% for h in context.Request.Headers %}{{ h.Key }}` works as in DotLiquid, that can also be indexed
 * by name: `context.Request.Headers["Content-Type"]` (a header's values joined with ","). Names of
 * headers, query parameters and route parameters are case-insensitive in APIM; here they answer to
 * the spelling received, lower case, Canonical-Case and every spelling the template itself uses.
 *
 * Everything is plain data made for this render (no live object, no function): a template can read
 * it, never reach the gateway through it.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import type { PipelineContext } from '../../pipeline/context.js';
import {
  CsDictionary,
  CsGuid,
  JArray,
  JObject,
  JToken,
  JValue,
  RequestInfo,
  ResponseInfo,
  StringListMap,
  UrlInfo,
  type MessageBody,
} from '../../expressions/context.js';
import { CsDateTime, CsDateTimeOffset, CsTimeSpan, formatTimeSpan } from '../../expressions/runtime/time.js';
import { CsAnon, CsKeyValuePair, CsList } from '../../expressions/runtime/values.js';
import { toCSharpString } from '../../expressions/index.js';
import { dateValue, newObject, put, textObject, type DateData } from './values.js';

export interface LiquidDataOptions {
  /** the template mentions `body`: parse the message body */
  readonly body: boolean;
  /** the template mentions `Body`: give context.Request.Body / context.Response.Body as text */
  readonly rawBody: boolean;
  /** parse-date: ISO 8601 and /Date(ms)/ strings of a JSON body become DateTime values */
  readonly parseDate: boolean;
  /** xsi-nil: an XML element with xsi:nil="true" is "" (blank) or nil (null) */
  readonly xsiNil: 'blank' | 'null';
  /** lower-case name → the spellings the template uses for it */
  readonly spellings: ReadonlyMap<string, readonly string[]>;
}

/** most values (nodes) one render may convert, and the deepest nesting */
const MAX_NODES = 1_000_000;
const MAX_DEPTH = 128;

class Budget {
  nodes = 0;
  take(n = 1): void {
    this.nodes += n;
    if (this.nodes > MAX_NODES) throw new Error(`template data exceeds ${MAX_NODES} values`);
  }
}

// ------------------------------------------------------------------ dictionaries

const canonical = (name: string): string => name.split('-').map((p) => (p ? p[0]!.toUpperCase() + p.slice(1).toLowerCase() : p)).join('-');

function spellingsOf(name: string, ignoreCase: boolean, spellings: ReadonlyMap<string, readonly string[]>): string[] {
  if (!ignoreCase) return [name];
  const lower = name.toLowerCase();
  const out = new Set<string>([name, lower, canonical(name)]);
  for (const s of spellings.get(lower) ?? []) out.add(s);
  return [...out];
}

/** a dictionary: [{Key, Value}, …] that can also be indexed by key */
function dictionary(entries: Iterable<[string, unknown]>, ignoreCase: boolean, opts: LiquidDataOptions, budget: Budget): unknown[] {
  const list: unknown[] = [];
  const named = list as unknown as Record<string, unknown>;
  for (const [key, value] of entries) {
    budget.take();
    const pair = newObject();
    pair.Key = key;
    pair.Value = value;
    list.push(pair);
    for (const k of spellingsOf(key, ignoreCase, opts.spellings)) {
      // an array index or "length" cannot be a name here: such a key is reached by iterating
      if (k === 'length' || /^\d+$/.test(k)) continue;
      if (!Object.prototype.hasOwnProperty.call(named, k) || k === key) put(named, k, value);
    }
  }
  return list;
}

function headers(h: StringListMap, opts: LiquidDataOptions, budget: Budget): unknown[] {
  return dictionary(
    h.entries().map(([k, v]): [string, unknown] => [k, v.join(',')]),
    true,
    opts,
    budget,
  );
}

function url(u: UrlInfo, opts: LiquidDataOptions, budget: Budget): Record<string, unknown> {
  const text = u.toString();
  const query = dictionary(
    u.query.entries().map(([k, v]): [string, unknown] => [k, v.join(',')]),
    true,
    opts,
    budget,
  );
  return textObject(text, { Scheme: u.scheme, Host: u.host, Port: u.port, Path: u.path, Query: query, QueryString: u.queryString, ToUri: text, ToString: text });
}

// ------------------------------------------------------------------ values of variables

const dateOfCs = (d: CsDateTime): unknown => dateValue({ ms: d.ms, kind: d.kind, offsetMin: null });

/** a C# value (a policy variable) as template data */
function fromCs(v: unknown, opts: LiquidDataOptions, budget: Budget, depth = 0): unknown {
  budget.take();
  if (depth > MAX_DEPTH) throw new Error('variable nested too deeply for a template');
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return v;
    case 'bigint':
      return Number(v);
    case 'object':
      break;
    default:
      return null;
  }
  if (v instanceof JToken) return fromJToken(v, opts, budget, depth);
  if (v instanceof CsDateTime) return dateOfCs(v);
  if (v instanceof CsDateTimeOffset) return dateValue({ ms: v.utcMs + v.offsetMin * 60_000, kind: 'Unspecified', offsetMin: v.offsetMin });
  if (v instanceof CsTimeSpan) return formatTimeSpan(v, null);
  if (v instanceof CsGuid) return v.format('D');
  if (v instanceof UrlInfo) return url(v, opts, budget);
  if (Array.isArray(v)) return v.map((x) => fromCs(x, opts, budget, depth + 1));
  if (v instanceof CsList) return v.items.map((x) => fromCs(x, opts, budget, depth + 1));
  if (v instanceof CsDictionary) {
    const entries: Array<[string, unknown]> = [];
    for (const [k, x] of v.map.values()) entries.push([toCSharpString(k), fromCs(x, opts, budget, depth + 1)]);
    return dictionary(entries, v.ignoreCase, opts, budget);
  }
  if (v instanceof StringListMap) return headers(v, opts, budget);
  if (v instanceof CsKeyValuePair) {
    const o = newObject();
    o.Key = fromCs(v.key, opts, budget, depth + 1);
    o.Value = fromCs(v.value, opts, budget, depth + 1);
    return o;
  }
  if (v instanceof CsAnon) {
    const o = newObject();
    for (const [k, x] of v.fields) put(o, k, fromCs(x, opts, budget, depth + 1));
    return o;
  }
  if (v instanceof ResponseInfo) return responseData(v, opts, budget, true);
  if (v instanceof RequestInfo) return requestData(v, opts, budget);
  if (v instanceof Uint8Array) return null;
  try {
    return toCSharpString(v);
  } catch {
    return null;
  }
}

function fromJToken(t: JToken, opts: LiquidDataOptions, budget: Budget, depth: number): unknown {
  budget.take();
  if (depth > MAX_DEPTH) throw new Error('JSON nested too deeply for a template');
  if (t instanceof JObject) {
    const o = newObject();
    for (const [k, p] of t.props) put(o, k, fromJToken(p.value, opts, budget, depth + 1));
    return o;
  }
  if (t instanceof JArray) return t.items.map((x) => fromJToken(x, opts, budget, depth + 1));
  if (t instanceof JValue) {
    switch (t.vtype) {
      case 'Null':
      case 'Undefined':
        return null;
      case 'String':
      case 'Boolean':
        return t.value;
      case 'Integer':
      case 'Float':
        return typeof t.value === 'number' ? t.value : Number(t.value);
      default:
        return fromCs(t.value, opts, budget, depth + 1);
    }
  }
  return toCSharpString(t);
}

// ------------------------------------------------------------------ bodies

const MEDIA = (ct: string | undefined): string => (ct ?? '').split(';')[0]!.trim().toLowerCase();
const isJsonType = (mt: string): boolean => mt === 'application/json' || mt === 'text/json' || mt.endsWith('+json');
const isXmlType = (mt: string): boolean => mt === 'application/xml' || mt === 'text/xml' || mt.endsWith('+xml');

/** Newtonsoft's DateParseHandling.DateTime: ISO 8601 date-times and Microsoft /Date(ms)/ strings */
export function jsonDate(s: string): DateData | undefined {
  if (s.length >= 19 && s.length <= 40 && s.charCodeAt(10) === 84 /* T */) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(s);
    if (!m) return undefined;
    let base: number;
    try {
      base = CsDateTime.fromParts(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!).ms;
    } catch {
      return undefined;
    }
    const ms = base + (m[7] ? Number('0.' + m[7]) * 1000 : 0);
    const zone = m[8];
    if (zone === undefined) return { ms, kind: 'Unspecified', offsetMin: null };
    if (zone === 'Z') return { ms, kind: 'Utc', offsetMin: null };
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    const off = (z[1] === '-' ? -1 : 1) * (+z[2]! * 60 + +(z[3] ?? 0));
    // converted to local time (the gateway's local time zone is UTC)
    return { ms: ms - off * 60_000, kind: 'Local', offsetMin: null };
  }
  if (s.startsWith('/Date(')) {
    const m = /^\/Date\((-?\d{1,15})([+-]\d{4})?\)\/$/.exec(s);
    if (!m) return undefined;
    return { ms: Number(m[1]), kind: m[2] ? 'Local' : 'Utc', offsetMin: null };
  }
  return undefined;
}

/** (a body is bounded by the gateway's body limit: its values are not counted against the budget) */
function parseJsonBody(text: string, opts: LiquidDataOptions): unknown {
  return JSON.parse(text, (_k, v: unknown) => {
    if (opts.parseDate && typeof v === 'string') {
      const d = jsonDate(v);
      if (d) return dateValue(d);
    }
    return v;
  });
}

interface XNode {
  name: string;
  attrs: Array<[string, string]>;
  children: Array<XNode | { text: string; cdata: boolean }>;
  selfClosing: boolean;
}

/** an XML body as Newtonsoft's SerializeXmlNode shapes it */
function parseXmlBody(text: string, opts: LiquidDataOptions): unknown {
  const parser = new SaxesParser({ xmlns: false });
  const stack: XNode[] = [];
  let root: XNode | undefined;
  let decl: Array<[string, string]> | undefined;
  let failed = false;
  parser.on('error', () => {
    failed = true;
  });
  parser.on('xmldecl', (d) => {
    decl = [];
    if (d.version !== undefined) decl.push(['@version', d.version]);
    if (d.encoding !== undefined) decl.push(['@encoding', d.encoding]);
    if (d.standalone !== undefined) decl.push(['@standalone', d.standalone]);
  });
  parser.on('opentag', (tag: SaxesTagPlain) => {
    if (stack.length >= MAX_DEPTH) throw new Error('XML nested too deeply for a template');
    const node: XNode = { name: tag.name, attrs: Object.entries(tag.attributes).map(([k, v]) => [k, String(v)]), children: [], selfClosing: tag.isSelfClosing };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(node);
    else root ??= node;
    stack.push(node);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.on('text', (t: string) => {
    stack[stack.length - 1]?.children.push({ text: t, cdata: false });
  });
  parser.on('cdata', (t: string) => {
    stack[stack.length - 1]?.children.push({ text: t, cdata: true });
  });
  try {
    parser.write(text).close();
  } catch {
    return null;
  }
  if (failed || !root) return null;
  const out = newObject();
  if (decl) {
    const d = newObject();
    for (const [k, v] of decl) put(d, k, v);
    out['?xml'] = d;
  }
  put(out, root.name, xmlValue(root, opts));
  return out;
}

function xmlValue(n: XNode, opts: LiquidDataOptions): unknown {
  const nil = n.attrs.some(([k, v]) => (k === 'nil' || k.endsWith(':nil')) && v.trim() === 'true');
  if (nil) return opts.xsiNil === 'null' ? null : '';
  const elements = n.children.filter((c): c is XNode => 'name' in c);
  const texts = n.children.filter((c): c is { text: string; cdata: boolean } => !('name' in c));
  const significant = elements.length > 0 ? texts.filter((t) => t.cdata || t.text.trim() !== '') : texts;
  if (n.attrs.length === 0 && elements.length === 0) {
    if (significant.length === 0) return n.selfClosing ? null : '';
    if (significant.every((t) => !t.cdata)) return significant.map((t) => t.text).join('');
  }
  const o = newObject();
  for (const [k, v] of n.attrs) put(o, '@' + k, v);
  const grouped = new Map<string, unknown[]>();
  for (const c of elements) {
    const list = grouped.get(c.name) ?? [];
    list.push(xmlValue(c, opts));
    grouped.set(c.name, list);
  }
  for (const [k, list] of grouped) put(o, k, list.length === 1 ? list[0] : list);
  const plain = significant.filter((t) => !t.cdata).map((t) => t.text);
  const cdata = significant.filter((t) => t.cdata).map((t) => t.text);
  if (plain.length) put(o, '#text', plain.length === 1 ? plain[0] : plain);
  if (cdata.length) put(o, '#cdata-section', cdata.length === 1 ? cdata[0] : cdata);
  return o;
}

/** `body`: the message body parsed by its Content-Type (JSON or XML; a body without a type is sniffed) */
function parseBody(body: MessageBody | null, contentType: string | undefined, opts: LiquidDataOptions): unknown {
  if (!body) return null;
  const text = body.peekText();
  if (text.trim() === '') return null;
  const mt = MEDIA(contentType);
  const sniff = mt === '';
  try {
    if (isJsonType(mt) || (sniff && /^\s*[[{]/.test(text))) return parseJsonBody(text, opts);
    if (isXmlType(mt) || (sniff && /^\s*</.test(text))) return parseXmlBody(text, opts);
  } catch (err) {
    if (err instanceof SyntaxError) return null;
    throw err;
  }
  return null;
}

// ------------------------------------------------------------------ context

function requestData(r: RequestInfo, opts: LiquidDataOptions, budget: Budget): Record<string, unknown> {
  const o = newObject();
  o.Method = r.method;
  o.OriginalMethod = r.method;
  o.Url = url(r.url, opts, budget);
  o.OriginalUrl = url(r.originalUrl, opts, budget);
  o.IpAddress = r.ipAddress;
  o.Headers = headers(r.headers, opts, budget);
  const params: Array<[string, unknown]> = [];
  for (const [k, v] of r.matchedParameters.map.values()) params.push([toCSharpString(k), fromCs(v, opts, budget)]);
  o.MatchedParameters = dictionary(params, true, opts, budget);
  o.HasBody = r.body !== null && !r.body.consumed;
  o.ClientCertificates = [];
  if (opts.rawBody) o.Body = r.body ? r.body.peekText() : null;
  return o;
}

function responseData(r: ResponseInfo, opts: LiquidDataOptions, budget: Budget, withBody: boolean): Record<string, unknown> {
  const o = newObject();
  o.StatusCode = r.statusCode;
  o.StatusReason = r.statusReason;
  o.Headers = headers(r.headers, opts, budget);
  if (withBody && opts.rawBody) o.Body = r.body ? r.body.peekText() : null;
  return o;
}

function groups(list: ReadonlyArray<{ id: string; name: string }>): unknown[] {
  return list.map((g) => {
    const o = newObject();
    o.Id = g.id;
    o.Name = g.name;
    return o;
  });
}

function contextData(ctx: PipelineContext, opts: LiquidDataOptions, budget: Budget): Record<string, unknown> {
  const e = ctx.expr;
  const c = newObject();
  c.Request = requestData(e.request, opts, budget);
  c.Response = ctx.hasResponse ? responseData(e.response, opts, budget, true) : null;
  c.Variables = dictionary(
    e.variables.entries().map(([k, v]): [string, unknown] => [k, fromCs(v, opts, budget)]),
    false,
    opts,
    budget,
  );
  c.RequestId = e.requestId.format('D');
  c.Timestamp = dateOfCs(e.timestamp);
  c.Elapsed = formatTimeSpan(e.elapsed, null);
  c.Tracing = e.tracing;
  const api = newObject();
  api.Id = e.api.id;
  api.Name = e.api.name;
  api.Path = e.api.path;
  api.Revision = e.api.revision;
  api.Version = e.api.version;
  api.IsCurrentRevision = e.api.isCurrentRevision;
  api.ServiceUrl = e.api.serviceUrl ? url(e.api.serviceUrl, opts, budget) : null;
  c.Api = api;
  const op = newObject();
  op.Id = e.operation.id;
  op.Method = e.operation.method;
  op.Name = e.operation.name;
  op.UrlTemplate = e.operation.urlTemplate;
  c.Operation = op;
  if (e.product) {
    const p = newObject();
    p.Id = e.product.id;
    p.Name = e.product.name;
    p.ApprovalRequired = e.product.approvalRequired;
    p.SubscriptionRequired = e.product.subscriptionRequired;
    p.SubscriptionsLimit = e.product.subscriptionsLimit;
    p.State = e.product.state;
    p.Groups = groups(e.product.groups);
    c.Product = p;
  } else c.Product = null;
  if (e.subscription) {
    // the keys stay out of templates: a template's output goes to backends and clients
    const s = newObject();
    s.Id = e.subscription.id;
    s.Name = e.subscription.name;
    s.CreatedDate = dateOfCs(e.subscription.createdTime);
    s.StartDate = e.subscription.startDate ? dateOfCs(e.subscription.startDate) : null;
    s.EndDate = e.subscription.endDate ? dateOfCs(e.subscription.endDate) : null;
    c.Subscription = s;
  } else c.Subscription = null;
  if (e.user) {
    const u = newObject();
    u.Id = e.user.id;
    u.Email = e.user.email;
    u.FirstName = e.user.firstName;
    u.LastName = e.user.lastName;
    u.Note = e.user.note;
    u.RegistrationDate = dateOfCs(e.user.registrationDate);
    u.Groups = groups(e.user.groups);
    c.User = u;
  } else c.User = null;
  const d = newObject();
  d.Region = e.deployment.region;
  d.ServiceName = e.deployment.serviceName;
  d.ServiceId = e.deployment.serviceId;
  d.GatewayId = e.deployment.gatewayId;
  c.Deployment = d;
  if (e.lastError) {
    const l = newObject();
    l.Source = e.lastError.source;
    l.Reason = e.lastError.reason;
    l.Message = e.lastError.message;
    l.Scope = e.lastError.scope;
    l.Section = e.lastError.section;
    l.Path = e.lastError.path;
    l.PolicyId = e.lastError.policyId;
    c.LastError = l;
  } else c.LastError = null;
  const m = newObject();
  m.Method = e.mcp.method;
  m.ToolName = e.mcp.toolName;
  m.SessionId = e.mcp.sessionId;
  m.ProtocolVersion = e.mcp.protocolVersion;
  m.Arguments = fromJToken(e.mcp.arguments, opts, budget, 0);
  c.Mcp = m;
  return c;
}

/**
 * The scope of one render. `message` is the message whose body `body` is (the one set-body
 * replaces: the request inbound, the response outbound, return-response's own response).
 */
export function buildLiquidData(ctx: PipelineContext, message: RequestInfo | ResponseInfo, opts: LiquidDataOptions): Record<string, unknown> {
  const budget = new Budget();
  const scope = Object.create(null) as Record<string, unknown>;
  scope.context = contextData(ctx, opts, budget);
  scope.body = opts.body ? parseBody(message.body, message.headers.getJoined('content-type'), opts) : null;
  return scope;
}
