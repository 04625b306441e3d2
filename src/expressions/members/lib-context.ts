// The `context` object graph, Jwt, BasicCredentials, Authorization, and APIM's string extensions.
import { CsException } from '../errors.js';
import { T, checkStr, dictOf, enumOf, listOf } from '../types.js';
import type { Ty } from '../types.js';
import { define } from './registry.js';
import { m, p, percentDecode } from './lib-core.js';
import {
  ApiInfo, AuthorizationInfo, DeploymentInfo, ExpressionContext, GroupInfo, LastErrorInfo, McpInfo, MessageBody, OperationInfo,
  ProductInfo, RequestInfo, ResponseInfo, SubscriptionInfo, UrlInfo, UserInfo,
} from '../context.js';
import { JArray, JObject, JToken, JValue, jvalueText, parseJson, serializeToken } from '../runtime/json.js';
import { CsDateTime } from '../runtime/time.js';
import { BasicCredentials, CsDictionary, CsList, Jwt, OutBox, StringListMap } from '../runtime/values.js';
import { budget } from './lib-json.js';
import { parseXml, type XElem } from '../runtime/xml.js';

const S = T.string;
const mk = (n: string): Ty => ({ n });
const IUrl = mk('IUrl');
const IGroup = mk('IGroup');

define('IContext', {
  props: {
    Request: p(mk('IRequest'), (c: ExpressionContext) => c.request),
    Response: p({ n: 'IResponse', tag: 'ctxResponse' }, (c: ExpressionContext) => c.response),
    Variables: p(mk('IVariables'), (c: ExpressionContext) => c.variables, { reads: 'variables' }),
    Api: p(mk('IApi'), (c: ExpressionContext) => c.api),
    Operation: p(mk('IOperation'), (c: ExpressionContext) => c.operation),
    Product: p(mk('IProduct'), (c: ExpressionContext) => c.product),
    Subscription: p(mk('ISubscription'), (c: ExpressionContext) => c.subscription),
    User: p(mk('IUser'), (c: ExpressionContext) => c.user),
    Deployment: p(mk('IDeployment'), (c: ExpressionContext) => c.deployment),
    LastError: p(mk('ILastError'), (c: ExpressionContext) => c.lastError),
    RequestId: p(T.Guid, (c: ExpressionContext) => c.requestId),
    Timestamp: p(T.DateTime, (c: ExpressionContext) => c.timestamp),
    Elapsed: p(T.TimeSpan, (c: ExpressionContext) => c.elapsed),
    Tracing: p(T.bool, (c: ExpressionContext) => c.tracing),
    Mcp: p(mk('IMcp'), (c: ExpressionContext) => c.mcp),
  },
  methods: {
    Trace: m(T.void, (c: ExpressionContext, a, cc) => {
      const msg = a[0] === null || a[0] === undefined ? '' : String(a[0]);
      checkStr(cc.rt, msg);
      if (c.traces.length < 1000) c.traces.push({ message: msg });
      c.onTrace?.(msg);
    }, { min: 1, max: 1 }),
  },
});

define('IRequest', {
  props: {
    Method: p(S, (r: RequestInfo) => r.method),
    Url: p(IUrl, (r: RequestInfo) => r.url),
    OriginalUrl: p(IUrl, (r: RequestInfo) => r.originalUrl),
    Headers: p(T.StringListMap, (r: RequestInfo) => r.headers),
    Body: p(mk('IMessageBody'), (r: RequestInfo) => r.body, { reads: 'requestBody' }),
    IpAddress: p(S, (r: RequestInfo) => r.ipAddress),
    MatchedParameters: p(dictOf(S, S), (r: RequestInfo) => r.matchedParameters),
    Certificate: p(mk('X509Certificate2'), () => null),
  },
});

define('X509Certificate2', {
  props: {
    Thumbprint: p(S, () => null),
    Subject: p(S, () => null),
    Issuer: p(S, () => null),
    SerialNumber: p(S, () => null),
    NotAfter: p(T.DateTime, () => null),
    NotBefore: p(T.DateTime, () => null),
  },
});

define('IResponse', {
  props: {
    StatusCode: p(T.int, (r: ResponseInfo) => r.statusCode),
    StatusReason: p(S, (r: ResponseInfo) => r.statusReason),
    Headers: p(T.StringListMap, (r: ResponseInfo) => r.headers),
    Body: p(mk('IMessageBody'), (r: ResponseInfo) => r.body, { reads: 'body' }),
  },
});

define('IUrl', {
  props: {
    Scheme: p(S, (u: UrlInfo) => u.scheme),
    Host: p(S, (u: UrlInfo) => u.host),
    Port: p(T.int, (u: UrlInfo) => u.port),
    Path: p(S, (u: UrlInfo) => u.path),
    Query: p(T.StringListMap, (u: UrlInfo) => u.query),
    QueryString: p(S, (u: UrlInfo) => u.queryString),
  },
  methods: {
    ToString: m(S, (u: UrlInfo) => u.toString(), { max: 0 }),
  },
});

const BODY_TYPES = new Set(['string', 'JObject', 'JArray', 'JToken', 'XDocument', 'XElement', 'XNode']);

define('IMessageBody', {
  methods: {
    As: m((_s, _a, gen) => gen[0] ?? T.dynamic, (b: MessageBody, a, c) => {
      const t = c.gen[0] as Ty;
      const preserve = a[0] === true;
      const { text, bytes } = b.read(preserve);
      if (t.n === 'Array') return bytes;
      if (t.n === 'string') return checkStr(c.rt, text);
      if (text.trim() === '') return null;
      checkStr(c.rt, text);
      if (t.n === 'XDocument') return parseXml(text);
      if (t.n === 'XElement' || t.n === 'XNode') {
        const root = parseXml(text).root as XElem;
        root.parent = null;
        return root;
      }
      const tok = parseJson(text);
      if (t.n === 'JObject' && !(tok instanceof JObject))
        throw new CsException('JsonReaderException', `Error reading JObject from JsonReader. Current JsonReader item is not an object: ${tok instanceof JArray ? 'StartArray' : tok.tokenType}. Path '', line 1, position 1.`);
      if (t.n === 'JArray' && !(tok instanceof JArray))
        throw new CsException('JsonReaderException', `Error reading JArray from JsonReader. Current JsonReader item is not an array: ${tok instanceof JObject ? 'StartObject' : tok.tokenType}. Path '', line 1, position 1.`);
      return tok;
    }, {
      max: 1,
      names: ['preserveContent'],
      gen: [1, 1],
      check: (_s, _a, gen) => {
        const t = gen[0];
        if (!t) return 'As<T>() needs a type argument';
        if (BODY_TYPES.has(t.n) || (t.n === 'Array' && t.a?.[0]?.n === 'byte')) return null;
        return `Body.As<T>() supports string, byte[], JObject, JArray, JToken, XDocument, XElement and XNode, not ${t.n}`;
      },
    }),
    AsFormUrlEncodedContent: m(mk('StringListMap'), (b: MessageBody, a) => {
      const { text } = b.read(a[0] === true);
      const map = new StringListMap(false);
      for (const pair of text.split('&')) {
        if (pair === '') continue;
        const i = pair.indexOf('=');
        const k = percentDecode(i < 0 ? pair : pair.slice(0, i), true);
        const v = i < 0 ? '' : percentDecode(pair.slice(i + 1), true);
        map.append(k, v);
      }
      return map;
    }, { max: 1, names: ['preserveContent'] }),
  },
});

define('IApi', {
  props: {
    Id: p(S, (x: ApiInfo) => x.id),
    Name: p(S, (x: ApiInfo) => x.name),
    Path: p(S, (x: ApiInfo) => x.path),
    Revision: p(S, (x: ApiInfo) => x.revision),
    ServiceUrl: p(IUrl, (x: ApiInfo) => x.serviceUrl),
    Version: p(S, (x: ApiInfo) => x.version),
    IsCurrentRevision: p(T.bool, (x: ApiInfo) => x.isCurrentRevision),
  },
});

define('IOperation', {
  props: {
    Id: p(S, (x: OperationInfo) => x.id),
    Method: p(S, (x: OperationInfo) => x.method),
    Name: p(S, (x: OperationInfo) => x.name),
    UrlTemplate: p(S, (x: OperationInfo) => x.urlTemplate),
  },
});

define('IProduct', {
  props: {
    Id: p(S, (x: ProductInfo) => x.id),
    Name: p(S, (x: ProductInfo) => x.name),
    ApprovalRequired: p(T.bool, (x: ProductInfo) => x.approvalRequired),
    SubscriptionRequired: p(T.bool, (x: ProductInfo) => x.subscriptionRequired),
    SubscriptionsLimit: p({ n: 'int', nullable: true } as Ty, (x: ProductInfo) => x.subscriptionsLimit),
    State: p(S, (x: ProductInfo) => x.state),
    Groups: p(enumOf(IGroup), (x: ProductInfo) => x.groups.slice()),
    Apis: p(enumOf(mk('IApi')), () => []),
  },
});

define('ISubscription', {
  props: {
    Id: p(S, (x: SubscriptionInfo) => x.id),
    Key: p(S, (x: SubscriptionInfo) => x.key),
    Name: p(S, (x: SubscriptionInfo) => x.name),
    PrimaryKey: p(S, (x: SubscriptionInfo) => x.primaryKey),
    SecondaryKey: p(S, (x: SubscriptionInfo) => x.secondaryKey),
    CreatedTime: p(T.DateTime, (x: SubscriptionInfo) => x.createdTime),
    StartDate: p({ n: 'DateTime', nullable: true } as Ty, (x: SubscriptionInfo) => x.startDate),
    EndDate: p({ n: 'DateTime', nullable: true } as Ty, (x: SubscriptionInfo) => x.endDate),
  },
});

define('IUser', {
  props: {
    Id: p(S, (x: UserInfo) => x.id),
    Email: p(S, (x: UserInfo) => x.email),
    FirstName: p(S, (x: UserInfo) => x.firstName),
    LastName: p(S, (x: UserInfo) => x.lastName),
    Note: p(S, (x: UserInfo) => x.note),
    RegistrationDate: p(T.DateTime, (x: UserInfo) => x.registrationDate),
    Groups: p(enumOf(IGroup), (x: UserInfo) => x.groups.slice()),
    Identities: p(enumOf(T.object), () => []),
  },
});

define('IGroup', {
  props: {
    Id: p(S, (x: GroupInfo) => x.id),
    Name: p(S, (x: GroupInfo) => x.name),
  },
});

define('IDeployment', {
  props: {
    Region: p(S, (x: DeploymentInfo) => x.region),
    ServiceName: p(S, (x: DeploymentInfo) => x.serviceName),
    ServiceId: p(S, (x: DeploymentInfo) => x.serviceId),
    GatewayId: p(S, (x: DeploymentInfo) => x.gatewayId),
    Certificates: p(dictOf(S, mk('X509Certificate2')), () => new CsDictionary(false, true)),
  },
});

define('ILastError', {
  props: {
    Source: p(S, (x: LastErrorInfo) => x.source),
    Reason: p(S, (x: LastErrorInfo) => x.reason),
    Message: p(S, (x: LastErrorInfo) => x.message),
    Scope: p(S, (x: LastErrorInfo) => x.scope),
    Section: p(S, (x: LastErrorInfo) => x.section),
    Path: p(S, (x: LastErrorInfo) => x.path),
    PolicyId: p(S, (x: LastErrorInfo) => x.policyId),
  },
});

define('IMcp', {
  props: {
    Method: p(S, (x: McpInfo) => x.method),
    ToolName: p(S, (x: McpInfo) => x.toolName),
    SessionId: p(S, (x: McpInfo) => x.sessionId),
    ProtocolVersion: p(S, (x: McpInfo) => x.protocolVersion),
    Arguments: p(T.JObject, (x: McpInfo) => x.arguments),
  },
});

define('Authorization', {
  props: {
    AccessToken: p(S, (x: AuthorizationInfo) => x.accessToken),
    Claims: p(dictOf(S, T.object), (x: AuthorizationInfo) => x.claims),
  },
});

// ------------------------------------------------------------------ Jwt

function b64urlDecode(s: string): string | null {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(s)) return null;
  try {
    return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
  } catch {
    return null;
  }
}

/** decodes (without validating) a JWT as APIM's AsJwt(): accepts an optional "Bearer " prefix; null when not a JWT */
export function parseJwt(token: string | null | undefined): Jwt | null {
  if (token === null || token === undefined) return null;
  let t = token.trim();
  const m0 = /^bearer\s+/i.exec(t);
  if (m0) t = t.slice(m0[0].length).trim();
  const parts = t.split('.');
  if (parts.length !== 3 || t.length > 1_000_000) return null;
  const h = b64urlDecode(parts[0] as string);
  const pl = b64urlDecode(parts[1] as string);
  if (h === null || pl === null) return null;
  try {
    const header = parseJson(h);
    const payload = parseJson(pl);
    if (!(header instanceof JObject) || !(payload instanceof JObject)) return null;
    return new Jwt(new Map([...header.props.values()].map((x) => [x.name, x.value])), new Map([...payload.props.values()].map((x) => [x.name, x.value])), t);
  } catch {
    return null;
  }
}

function claimText(v: JToken): string {
  if (v instanceof JValue) {
    if (v.vtype === 'Boolean') return v.value ? 'true' : 'false';
    return jvalueText(v);
  }
  return serializeToken(v, false);
}

function claimString(j: Jwt, name: string): string | null {
  const v = j.payload.get(name);
  if (v === undefined || v === null) return null;
  if (v instanceof JArray) return v.items.map((x) => claimText(x)).join(',');
  return claimText(v as JToken);
}

function claimTime(j: Jwt, name: string): CsDateTime | null {
  const v = j.payload.get(name);
  if (!(v instanceof JValue) || (v.vtype !== 'Integer' && v.vtype !== 'Float')) return null;
  return new CsDateTime((v.value as number) * 1000, 'Utc');
}

function headerString(j: Jwt, name: string): string | null {
  const v = j.header.get(name);
  return v instanceof JValue && v.vtype !== 'Null' ? jvalueText(v) : null;
}

define('Jwt', {
  props: {
    Algorithm: p(S, (j: Jwt) => headerString(j, 'alg')),
    Type: p(S, (j: Jwt) => headerString(j, 'typ')),
    Id: p(S, (j: Jwt) => claimString(j, 'jti')),
    Issuer: p(S, (j: Jwt) => claimString(j, 'iss')),
    Subject: p(S, (j: Jwt) => claimString(j, 'sub')),
    Audiences: p(enumOf(S), (j: Jwt) => {
      const v = j.payload.get('aud');
      if (v === undefined) return [];
      if (v instanceof JArray) return v.items.map((x) => claimText(x));
      return [claimText(v as JToken)];
    }),
    ExpirationTime: p({ n: 'DateTime', nullable: true } as Ty, (j: Jwt) => claimTime(j, 'exp')),
    NotBefore: p({ n: 'DateTime', nullable: true } as Ty, (j: Jwt) => claimTime(j, 'nbf')),
    IssuedAt: p({ n: 'DateTime', nullable: true } as Ty, (j: Jwt) => claimTime(j, 'iat')),
    Claims: p(T.StringListMap, (j: Jwt) => {
      const map = new StringListMap(false);
      for (const [k, v] of j.payload) {
        if (v instanceof JArray) map.set(k, v.items.map((x) => claimText(x)));
        else map.set(k, [claimText(v as JToken)]);
      }
      return map;
    }),
  },
  methods: {
    ToString: m(S, (j: Jwt) => j.raw, { max: 0 }),
  },
});

function parseBasic(s: string | null | undefined): BasicCredentials | null {
  if (s === null || s === undefined) return null;
  let t = s.trim();
  const m0 = /^basic\s+/i.exec(t);
  if (m0) t = t.slice(m0[0].length).trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || t.length % 4 !== 0) return null;
  const text = Buffer.from(t, 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return null;
  return new BasicCredentials(text.slice(0, i), text.slice(i + 1));
}

define('BasicCredentials', {
  props: {
    UserId: p(S, (b: BasicCredentials) => b.userId),
    Password: p(S, (b: BasicCredentials) => b.password),
  },
});

// APIM's string extension methods (replace the placeholders registered with the string type)
define('string', {
  methods: {
    AsJwt: m(T.Jwt, (s: string) => parseJwt(s), { max: 0 }),
    TryParseJwt: m(T.bool, (s: string, a) => {
      const j = parseJwt(s);
      (a[0] as OutBox).value = j;
      return j !== null;
    }, { min: 1, max: 1, out: (_s, i) => (i === 0 ? T.Jwt : null) }),
    AsBasic: m(mk('BasicCredentials'), (s: string) => parseBasic(s), { max: 0 }),
    TryParseBasic: m(T.bool, (s: string, a) => {
      const b = parseBasic(s);
      (a[0] as OutBox).value = b;
      return b !== null;
    }, { min: 1, max: 1, out: (_s, i) => (i === 0 ? mk('BasicCredentials') : null) }),
  },
});

export { listOf, CsList, budget };
