/**
 * The request of send-request and send-one-way-request, compiled once from the policy's children
 * (APIM: set-url, set-method, set-header, set-body, authentication-certificate, proxy; and
 * authentication-managed-identity, which arrives with the credential manager).
 *
 * The children are NOT the pipeline's set-header/set-body policies: those act on context.Request,
 * while here they build a separate request — and their expressions must still read the real
 * context (context.Request is the client's request). They apply in document order.
 *
 * mode="copy" starts from the current request: its method, the backend URL it is going to, its
 * body (not in outbound/on-error, as APIM) and its headers — except framing/hop-by-hop headers,
 * Host, Accept-Encoding, and the client's credentials (Authorization, Cookie, Mcp-Session-Id,
 * Ocp-Apim-Subscription-Key) unless a policy set them, so a copy never leaks the client's token to
 * another service (the same rule as for the backend request).
 */
import type { CompileContext, ValueGetter } from '../../pipeline/types.js';
import type { PolicyElement } from '../../policy/document.js';
import type { PipelineContext } from '../../pipeline/context.js';
import { compileManagedIdentity } from '../authentication-managed-identity.js';
import { HeaderMap } from '../../expressions/context.js';
import { asString } from '../../pipeline/compile.js';
import { checkAttributes, choiceOrExpression, intAttribute } from './attrs.js';
import { CertificateError, compileCertificate, type ClientCertificate } from './certificate.js';
import { PolicyFailure } from '../../pipeline/errors.js';
import { checkUrl, ssrfFromEnv, type SsrfOptions } from './ssrf.js';
import { DEFAULT_MAX_RESPONSE_BYTES, OutboundError, type OutboundRequest, type ProxySpec } from './client.js';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const METHOD = /^[A-Z]{1,16}$/;
const COPY_DROP = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'proxy-authorization', 'proxy-connection', 'accept-encoding', 'expect']);
const CLIENT_CREDENTIALS = new Set(['authorization', 'cookie', 'mcp-session-id', 'ocp-apim-subscription-key']);

/** what the compile services may carry for outbound HTTP (optional; the lead may add it to CompileServices) */
export interface OutboundHttpServices {
  /** overrides GATEHOUSE_SSRF_BLOCK_PRIVATE */
  readonly blockPrivateNetworks?: boolean;
  /** default 8 MiB */
  readonly maxResponseBytes?: number;
  /** extra trusted CA certificates (PEM) for https targets */
  readonly ca?: string | readonly string[];
}

export interface BuiltRequest {
  url: string | undefined;
  method: string;
  headers: HeaderMap;
  body: string | Uint8Array | null;
  proxy?: ProxySpec;
  cert?: ClientCertificate;
}

export interface CompiledOutbound {
  /** evaluate the children: the request to send (synchronous: uses the context as it is now) */
  build(ctx: PipelineContext): OutboundRequest;
  readonly ssrf: SsrfOptions;
  /** <authentication-managed-identity> child: the gateway identity's token for the request (undefined: none / ignored error) */
  readonly managedIdentity?: (ctx: PipelineContext) => Promise<string | undefined>;
}

type Step = (ctx: PipelineContext, r: BuiltRequest) => void;

function bodyText(v: unknown): string | Uint8Array | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'object' && typeof (v as { toString?: unknown }).toString === 'function') return String(v);
  return asString(v);
}

export function compileOutbound(el: PolicyElement, cc: CompileContext): CompiledOutbound {
  const extra = (cc.services as { outboundHttp?: OutboundHttpServices }).outboundHttp;
  const ssrf: SsrfOptions = extra?.blockPrivateNetworks !== undefined ? { blockPrivate: extra.blockPrivateNetworks } : ssrfFromEnv();
  const maxResponseBytes = extra?.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const modeAttr = el.attributes.get('mode');
  const mode = choiceOrExpression(el, cc, 'mode', ['new', 'copy'] as const, 'new');
  const timeout = intAttribute(el, cc, 'timeout', { min: 1, max: 86_400 });

  const steps: Step[] = [];
  let managedIdentity: CompiledOutbound['managedIdentity'];
  const seen = new Map<string, number>();
  for (const c of el.children) {
    if (c.type !== 'element') continue;
    const n = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, n);
    if (n > 1 && c.name !== 'set-header') cc.problem(c, `<${el.name}> can have only one <${c.name}>`);
    switch (c.name) {
      case 'set-url': {
        checkAttributes(c, cc, []);
        const t = c.text;
        if (!t || t.raw.trim() === '') {
          cc.problem(c, '<set-url> needs a URL');
          break;
        }
        if (!t.expression) {
          try {
            checkUrl(t.raw.trim(), ssrf);
          } catch (err) {
            cc.problem(t, `<set-url>: ${(err as Error).message}`);
          }
        }
        const g = cc.text(c);
        if (g) steps.push((ctx, r) => (r.url = g(ctx).trim()));
        break;
      }
      case 'set-method': {
        checkAttributes(c, cc, []);
        const t = c.text;
        if (!t || t.raw.trim() === '') {
          cc.problem(c, '<set-method> needs a method, e.g. <set-method>POST</set-method>');
          break;
        }
        if (!t.expression && !METHOD.test(t.raw.trim())) cc.problem(t, `"${t.raw.trim()}" is not an HTTP method`);
        const g = cc.text(c);
        if (g) {
          steps.push((ctx, r) => {
            const m = g(ctx).trim().toUpperCase();
            if (!METHOD.test(m)) throw new Error(`<set-method>: "${m}" is not an HTTP method`);
            r.method = m;
          });
        }
        break;
      }
      case 'set-header': {
        checkAttributes(c, cc, ['name', 'exists-action'], ['name']);
        const nameAttr = c.attributes.get('name');
        if (!nameAttr) break;
        if (!nameAttr.expression && !HEADER_NAME.test(nameAttr.raw)) cc.problem({ line: nameAttr.line, col: nameAttr.col }, `"${nameAttr.raw}" is not a valid header name`);
        const name = cc.string(c, 'name')!;
        const action = cc.choice(c, 'exists-action', ['override', 'skip', 'append', 'delete'] as const, 'override');
        const values: ValueGetter<string>[] = [];
        for (const v of c.children) {
          if (v.type !== 'element') continue;
          if (v.name !== 'value') {
            cc.problem(v, `<set-header> cannot contain <${v.name}> (allowed: value)`);
            continue;
          }
          checkAttributes(v, cc, []);
          if (v.children.some((x) => x.type === 'element')) cc.problem(v, '<value> cannot contain elements');
          values.push(cc.text(v) ?? (() => ''));
        }
        if (action !== 'delete' && values.length === 0) cc.problem(c, '<set-header> needs at least one <value> unless exists-action="delete"');
        steps.push((ctx, r) => {
          const h = name(ctx);
          if (!HEADER_NAME.test(h)) throw new Error(`"${h}" is not a valid header name`);
          if (action === 'delete') {
            r.headers.delete(h);
            return;
          }
          if (action === 'skip' && r.headers.has(h)) return;
          const vs = values.map((v) => v(ctx));
          for (const v of vs) if (/[\r\n\0]/.test(v)) throw new Error(`header "${h}" value contains a line break or NUL`);
          if (action === 'append') for (const v of vs) r.headers.append(h, v);
          else r.headers.set(h, vs);
        });
        break;
      }
      case 'set-body': {
        checkAttributes(c, cc, ['template', 'xsi-nil', 'parse-date']);
        const template = cc.choice(c, 'template', ['none', 'liquid'] as const, 'none');
        if (template === 'liquid') cc.problem(c.attributes.get('template')!, 'set-body template="liquid" is not supported by Gatehouse; use an expression @{ ... } instead');
        const nil = cc.choice(c, 'xsi-nil', ['blank', 'null'] as const, 'blank');
        const body = c.text?.verbatim ? ((raw: string) => () => raw)(c.innerXml ?? c.text.raw) : cc.rawText(c);
        steps.push((ctx, r) => {
          const v = body ? bodyText(body(ctx)) : '';
          r.body = v === null ? (nil === 'null' ? null : '') : v;
        });
        break;
      }
      case 'authentication-certificate': {
        checkAttributes(c, cc, ['thumbprint', 'certificate-id', 'body', 'password']);
        const cert = compileCertificate(c, cc);
        if (cert) steps.push((ctx, r) => (r.cert = cert(ctx)));
        break;
      }
      case 'proxy': {
        checkAttributes(c, cc, ['url', 'username', 'password'], ['url']);
        const urlAttr = c.attributes.get('url');
        if (!urlAttr) break;
        if (!urlAttr.expression) {
          try {
            const u = checkUrl(urlAttr.raw.trim(), ssrf, 'proxy URL');
            if (u.protocol !== 'http:') cc.problem({ line: urlAttr.line, col: urlAttr.col }, '<proxy> url must be http://host:port (as in APIM, the gateway talks plain HTTP to the proxy)');
          } catch (err) {
            cc.problem({ line: urlAttr.line, col: urlAttr.col }, `<proxy>: ${(err as Error).message}`);
          }
        }
        const url = cc.string(c, 'url')!;
        const user = cc.string(c, 'username');
        const pass = cc.string(c, 'password');
        steps.push((ctx, r) => {
          r.proxy = { url: url(ctx).trim(), username: user ? user(ctx) : undefined, password: pass ? pass(ctx) : undefined };
        });
        break;
      }
      case 'authentication-managed-identity': {
        // the gateway identity's token becomes this request's Authorization header
        managedIdentity = compileManagedIdentity(c, cc);
        break;
      }
      default:
        break; // the pipeline compiler reports children outside the policy's list
    }
  }
  if (!modeAttr || (!modeAttr.expression && modeAttr.raw.trim().toLowerCase() === 'new')) {
    if (!seen.has('set-url')) cc.problem(el, `<${el.name}> needs <set-url> (required unless mode="copy")`);
    if (!seen.has('set-method')) cc.problem(el, `<${el.name}> needs <set-method> (required unless mode="copy")`);
  }

  const copyOf = (ctx: PipelineContext): BuiltRequest => {
    const headers = new HeaderMap();
    for (const [name, values] of ctx.request.headers.entries()) {
      const k = name.toLowerCase();
      if (COPY_DROP.has(k)) continue;
      if (CLIENT_CREDENTIALS.has(k) && !ctx.touchedRequestHeaders.has(k)) continue;
      headers.set(name, [...values]);
    }
    const inResponse = ctx.section === 'outbound' || ctx.section === 'on-error';
    let url = ctx.backend.baseUrl + ctx.backend.path;
    if (ctx.backendQuery) {
      const u = new URL(url);
      for (const [k, v] of ctx.backendQuery) u.searchParams.append(k, v);
      url = u.href;
    }
    return { url, method: ctx.request.method, headers, body: inResponse || !ctx.request.body ? null : ctx.request.body.peekBytes() };
  };

  return {
    ssrf,
    ...(managedIdentity ? { managedIdentity } : {}),
    build(ctx) {
      const m = mode(ctx);
      const r: BuiltRequest = m === 'copy' ? copyOf(ctx) : { url: undefined, method: 'GET', headers: new HeaderMap(), body: null };
      for (const s of steps) s(ctx, r);
      if (r.url === undefined || r.url === '') throw new Error(`<${el.name}> has no URL: add <set-url>`);
      const headers: Record<string, string | string[]> = {};
      for (const [name, values] of r.headers.entries()) headers[name] = values.length === 1 ? values[0]! : values;
      return {
        url: r.url,
        method: r.method,
        headers,
        body: r.method === 'GET' || r.method === 'HEAD' ? (r.body !== null && (typeof r.body === 'string' ? r.body.length : r.body.byteLength) > 0 ? r.body : null) : r.body,
        timeoutMs: (timeout ? timeout(ctx) : 60) * 1000,
        ssrf,
        maxResponseBytes,
        proxy: r.proxy,
        cert: r.cert,
        ca: extra?.ca,
      };
    },
  };
}

/** the LastError of a failed outbound request: Timeout (504), DestinationBlocked, CertificateInvalid or SendRequestFailure (500) */
export function outboundFailure(source: string, err: OutboundError | CertificateError): PolicyFailure {
  if (err instanceof CertificateError) return new PolicyFailure({ source, reason: 'CertificateInvalid', message: `${source}: client certificate: ${err.message}`, status: 500 }, { cause: err });
  const reason = err.kind === 'timeout' ? 'Timeout' : err.kind === 'blocked' ? 'DestinationBlocked' : 'SendRequestFailure';
  return new PolicyFailure({ source, reason, message: `${source}: ${err.message}`, status: err.kind === 'timeout' ? 504 : 500 }, { cause: err });
}
