/**
 * cors (APIM): answer CORS preflight requests and add CORS headers to actual cross-origin requests.
 *
 * <cors allow-credentials="false" terminate-unmatched-request="false">
 *   <allowed-origins><origin>https://app.example.com</origin></allowed-origins>   (or a single "*")
 *   <allowed-methods preflight-result-max-age="300"><method>POST</method></allowed-methods>  (default GET, POST; "*" = any)
 *   <allowed-headers><header>content-type</header><header>mcp-session-id</header></allowed-headers>  ("*" = any)
 *   <expose-headers><header>mcp-session-id</header></expose-headers>
 * </cors>
 *
 * - Preflight (OPTIONS with Origin and Access-Control-Request-Method) whose origin, method and
 *   headers all match: 200 with Access-Control-Allow-Origin/-Credentials/-Methods/-Headers/-Max-Age
 *   and Vary: Origin; the pipeline stops there (the backend never sees it).
 * - Unmatched preflight: with terminate-unmatched-request="true" an empty 200 right away; with
 *   "false" (the default) later cors policies get their turn, and if none answers the preflight
 *   still ends in an empty 200 instead of reaching the backend (APIM: "If no cors policies are
 *   found, terminate the request with an empty 200 OK response").
 * - Actual request with a matching origin (and method): Access-Control-Allow-Origin (+ -Credentials,
 *   -Expose-Headers, Vary: Origin) on the response. Unmatched: no CORS headers; a GET or HEAD is
 *   answered with an empty 200 when terminate-unmatched-request is true (APIM), other methods
 *   proceed.
 * - "*" origins answer `*` (never echoed with credentials): allow-credentials="true" with "*" is
 *   refused at load (browsers reject that combination; echoing any origin with credentials would
 *   open the API to every site). Origins compare by scheme, host and port (default ports filled in).
 *
 * Gatehouse specifics:
 * - The gateway checks Origin itself BEFORE any policy runs (DNS-rebinding defence, MCP transport
 *   security): a request whose Origin is not in `gateway.allowedOrigins` (nor the gateway's own or,
 *   on a loopback listener, a loopback origin) gets 403 and never reaches this policy. Every origin
 *   listed here must therefore also be in `gateway.allowedOrigins`.
 * - The Streamable HTTP endpoint runs the server's pipeline for OPTIONS (405 with Allow when no
 *   policy answers). Unlike APIM, which evaluates only cors on a preflight, the policies before
 *   cors in inbound run too: put cors first (APIM advises the same).
 * - Headers for actual requests reach the client as described in traffic/hooks.ts.
 * - Inbound only; APIM's "once per section" rule is not enforced.
 */
import type { CompileContext, PolicyDefinition, ValueGetter } from '../pipeline/types.js';
import type { PolicyElement } from '../policy/document.js';
import type { PipelineContext } from '../pipeline/context.js';
import { newResponse } from '../pipeline/context.js';
import { RETURN } from '../pipeline/errors.js';
import { addResponseHeader, interceptForward } from './traffic/hooks.js';
import { HEADER_NAME } from './traffic/throttle.js';

const NAME = 'cors';
const DEFAULT_METHODS = ['GET', 'POST'];
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** scheme://host:port, lower case, default ports filled in; undefined for "null" and non-URLs */
export function originOf(text: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text.trim());
  } catch {
    return undefined;
  }
  if (u.host === '') return undefined;
  const port = u.port || (u.protocol === 'http:' ? '80' : u.protocol === 'https:' ? '443' : '');
  return `${u.protocol}//${u.hostname}${port ? `:${port}` : ''}`.toLowerCase();
}

const first = (v: readonly string[] | undefined): string | undefined => (v && v.length > 0 ? v[0] : undefined);

interface Lists {
  anyOrigin: boolean;
  origins: Set<string>;
  /** undefined: no <allowed-methods> (GET, POST) */
  methods: ValueGetter<string>[] | undefined;
  maxAge: ValueGetter<number> | undefined;
  anyHeader: boolean;
  headers: string[];
  expose: string[];
}

/** the <header> names of allowed-headers / expose-headers */
function headerNames(c: PolicyElement, cc: CompileContext): string[] {
  const out: string[] = [];
  for (const [name, a] of c.attributes) cc.problem({ line: a.nameLine, col: a.nameCol }, `unknown attribute "${name}" on <${c.name}>`);
  for (const h of c.children) {
    if (h.type !== 'element') {
      cc.problem(h, `<${c.name}> cannot contain text`);
      continue;
    }
    if (h.name !== 'header') {
      cc.problem(h, `<${c.name}> cannot contain <${h.name}> (allowed: header)`);
      continue;
    }
    for (const [name, a] of h.attributes) cc.problem({ line: a.nameLine, col: a.nameCol }, `unknown attribute "${name}" on <header>`);
    const v = h.text?.raw.trim() ?? '';
    if (h.text?.expression) cc.problem(h.text, `<header> of <${c.name}> does not accept policy expressions`);
    else if (v !== '*' && !HEADER_NAME.test(v)) cc.problem(h.text ?? h, `"${v}" is not a valid header name`);
    else out.push(v);
  }
  if (c.children.length === 0) cc.problem(c, `<${c.name}> needs at least one <header>`);
  return out;
}

function lists(el: PolicyElement, cc: CompileContext): Lists {
  const l: Lists = { anyOrigin: false, origins: new Set(), methods: undefined, maxAge: undefined, anyHeader: false, headers: [], expose: [] };
  const seen = new Set<string>();
  for (const c of el.children) {
    if (c.type !== 'element') continue;
    if (seen.has(c.name)) cc.problem(c, `<cors> can have only one <${c.name}>`);
    seen.add(c.name);
    if (c.name === 'allowed-origins') {
      for (const [name, a] of c.attributes) cc.problem({ line: a.nameLine, col: a.nameCol }, `unknown attribute "${name}" on <allowed-origins>`);
      for (const o of c.children) {
        if (o.type !== 'element') {
          cc.problem(o, '<allowed-origins> cannot contain text');
          continue;
        }
        if (o.name !== 'origin') {
          cc.problem(o, `<allowed-origins> cannot contain <${o.name}> (allowed: origin)`);
          continue;
        }
        for (const [name, a] of o.attributes) cc.problem({ line: a.nameLine, col: a.nameCol }, `unknown attribute "${name}" on <origin>`);
        const v = o.text?.raw.trim() ?? '';
        if (o.text?.expression) cc.problem(o.text, '<origin> does not accept policy expressions');
        else if (v === '*') l.anyOrigin = true;
        else {
          const origin = originOf(v);
          if (origin === undefined) cc.problem(o.text ?? o, `<origin> must be "*" or a URI with scheme and host (e.g. https://app.example.com), got "${v}"`);
          else l.origins.add(origin);
        }
      }
      if (c.children.length === 0) cc.problem(c, '<allowed-origins> needs at least one <origin>');
    } else if (c.name === 'allowed-methods') {
      for (const [name, a] of c.attributes) if (name !== 'preflight-result-max-age') cc.problem({ line: a.nameLine, col: a.nameCol }, `unknown attribute "${name}" on <allowed-methods>`);
      if (c.attributes.has('preflight-result-max-age')) l.maxAge = cc.int(c, 'preflight-result-max-age', { min: 0, max: 2_147_483_647 });
      l.methods = [];
      for (const m of c.children) {
        if (m.type !== 'element') {
          cc.problem(m, '<allowed-methods> cannot contain text');
          continue;
        }
        if (m.name !== 'method') {
          cc.problem(m, `<allowed-methods> cannot contain <${m.name}> (allowed: method)`);
          continue;
        }
        for (const [name, a] of m.attributes) cc.problem({ line: a.nameLine, col: a.nameCol }, `unknown attribute "${name}" on <method>`);
        const v = m.text?.raw.trim() ?? '';
        if (!m.text?.expression && v !== '*' && !METHOD.test(v)) {
          cc.problem(m.text ?? m, `"${v}" is not an HTTP method`);
          continue;
        }
        const g = cc.text(m);
        if (g) l.methods.push(g);
      }
      if (c.children.length === 0) cc.problem(c, '<allowed-methods> needs at least one <method>');
    } else if (c.name === 'allowed-headers') {
      const hs = headerNames(c, cc);
      l.anyHeader = hs.includes('*');
      l.headers = hs.filter((h) => h !== '*');
    } else if (c.name === 'expose-headers') {
      l.expose = headerNames(c, cc);
    }
  }
  if (!seen.has('allowed-origins')) cc.problem(el, '<cors> requires <allowed-origins>');
  return l;
}

/** a preflight answer or a terminated request: an empty 200 */
function answer(ctx: PipelineContext, headers: Record<string, string> = {}): never {
  const res = newResponse(200, 'OK');
  for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
  ctx.setResponse(res);
  throw RETURN;
}

const preflightIntercepted = new WeakSet<PipelineContext>();

export const cors: PolicyDefinition = {
  name: NAME,
  sections: ['inbound'],
  attributes: { 'allow-credentials': {}, 'terminate-unmatched-request': {} },
  children: ['allowed-origins', 'allowed-methods', 'allowed-headers', 'expose-headers'],
  compile(el, cc) {
    const credentials = cc.bool(el, 'allow-credentials', false);
    const terminate = cc.bool(el, 'terminate-unmatched-request', false);
    const l = lists(el, cc);
    const credAttr = el.attributes.get('allow-credentials');
    if (l.anyOrigin && credAttr && !credAttr.expression && credAttr.raw.trim().toLowerCase() === 'true') {
      cc.problem({ line: credAttr.line, col: credAttr.col }, 'allow-credentials="true" cannot be combined with the origin "*" (browsers refuse credentials for any origin); list the origins');
    }
    const allowedHeaders = new Set(l.headers.map((h) => h.toLowerCase()));
    const methodsOf = (ctx: PipelineContext): string[] | 'any' => {
      if (!l.methods) return DEFAULT_METHODS;
      const ms = l.methods.map((g) => g(ctx).trim().toUpperCase());
      return ms.includes('*') ? 'any' : ms;
    };
    return {
      run(ctx) {
        const originHeader = first(ctx.request.headers.get('origin'))?.trim();
        if (originHeader === undefined || originHeader === '') return;
        const origin = originOf(originHeader);
        const originOk = origin !== undefined && (l.anyOrigin || l.origins.has(origin));
        // never "*" with credentials: a "*" policy whose allow-credentials expression says true answers without credentials
        const creds = credentials(ctx) && !l.anyOrigin;
        const allowOrigin = l.anyOrigin ? '*' : originHeader;
        const method = ctx.request.method.toUpperCase();
        const methods = methodsOf(ctx);
        const requested = first(ctx.request.headers.get('access-control-request-method'))?.trim();

        if (method === 'OPTIONS' && requested !== undefined) {
          const wantMethod = requested.toUpperCase();
          const wantHeaders = (ctx.request.headers.get('access-control-request-headers') ?? [])
            .flatMap((v) => v.split(','))
            .map((h) => h.trim().toLowerCase())
            .filter((h) => h !== '');
          const methodOk = methods === 'any' || methods.includes(wantMethod);
          const headersOk = l.anyHeader || wantHeaders.every((h) => allowedHeaders.has(h));
          if (originOk && methodOk && headersOk) {
            const h: Record<string, string> = { 'Access-Control-Allow-Origin': allowOrigin };
            if (creds) h['Access-Control-Allow-Credentials'] = 'true';
            h['Access-Control-Allow-Methods'] = methods === 'any' ? wantMethod : methods.join(', ');
            if (wantHeaders.length > 0) h['Access-Control-Allow-Headers'] = l.anyHeader ? wantHeaders.join(', ') : l.headers.join(', ');
            if (l.maxAge) h['Access-Control-Max-Age'] = String(l.maxAge(ctx));
            if (!l.anyOrigin) h['Vary'] = 'Origin';
            answer(ctx, h);
          }
          if (terminate(ctx)) answer(ctx);
          // a later cors policy may still match; if none does, the preflight ends in an empty 200
          if (!preflightIntercepted.has(ctx)) {
            preflightIntercepted.add(ctx);
            interceptForward(ctx, (c) => {
              c.setResponse(newResponse(200, 'OK'));
              return true;
            });
          }
          return;
        }

        if (originOk && (methods === 'any' || methods.includes(method))) {
          addResponseHeader(ctx, 'Access-Control-Allow-Origin', allowOrigin);
          if (creds) addResponseHeader(ctx, 'Access-Control-Allow-Credentials', 'true');
          if (l.expose.length > 0) addResponseHeader(ctx, 'Access-Control-Expose-Headers', l.expose.join(', '));
          if (!l.anyOrigin) addResponseHeader(ctx, 'Vary', 'Origin');
          return;
        }
        if ((method === 'GET' || method === 'HEAD') && terminate(ctx)) answer(ctx);
      },
    };
  },
};
