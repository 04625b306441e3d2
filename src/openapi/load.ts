/**
 * Loads an OpenAPI 3.0 / 3.1 or Swagger 2.0 document (JSON or YAML, detected by content; a file
 * path or an http(s) URL) and turns its operations into MCP tools (tools.ts).
 *
 * Steps:
 *  1. read the text (file relative to `baseDir`, or URL through `opts.fetchUrl` — default: undici,
 *     10 s, 10 MiB, up to 5 redirects) and parse it; syntax errors name line and column;
 *  2. check every internal `$ref` of the document resolves (error: the pointer of the `$ref`);
 *  3. bundle with swagger-parser (@apidevtools/json-schema-ref-parser): external files / URLs are
 *     pulled in and every `$ref` becomes internal; circular references stay `$ref`s, so nothing
 *     loops. Referenced URLs are read through the same fetcher; a URL document may not reference
 *     local files. A document without external references is only parsed (version checks);
 *  4. validate the bundled document against the official OpenAPI 2.0 / 3.0 / 3.1 JSON Schemas with
 *     swagger-parser's schema validator; the error names the JSON pointer of the offending part;
 *  5. build the tools (tools.ts `toolsOf`), which also rejects duplicate operationIds.
 * Every problem is an OpenApiError (with `pointer` when one is known).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Agent, interceptors, request } from 'undici';
import YAML from 'yaml';
import { escapePointer, kindOf, toolsOf } from './tools.js';
import { OpenApiError, type ImportedApi } from './types.js';

export interface LoadOpenApiOptions {
  /** folder relative file paths are resolved against (the config file's folder) */
  readonly baseDir: string;
  /** reads a URL (the gateway passes an SSRF-checked fetcher); default: undici GET, 10 s, 10 MiB */
  readonly fetchUrl?: (url: string) => Promise<string>;
}

export const FETCH_TIMEOUT_MS = 10_000;
export const FETCH_MAX_BYTES = 10 * 1024 * 1024;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

const require = createRequire(import.meta.url);
/** swagger-parser's validator against the official Swagger 2.0 / OpenAPI 3.0 / 3.1 JSON Schemas */
const validateSchema = require('@apidevtools/swagger-parser/lib/validators/schema.js') as (api: object) => void;

export async function loadOpenApi(source: string, opts: LoadOpenApiOptions): Promise<ImportedApi> {
  const isUrl = /^https?:\/\//i.test(source);
  let location: string;
  if (isUrl) {
    try {
      location = new URL(source).href;
    } catch {
      throw new OpenApiError(`invalid OpenAPI document URL "${source}"`);
    }
  } else if (/^file:/i.test(source)) {
    try {
      location = fileURLToPath(source);
    } catch {
      throw new OpenApiError(`invalid OpenAPI document file URL "${source}"`);
    }
  } else {
    location = path.resolve(opts.baseDir, source);
  }
  const fetchUrl = opts.fetchUrl ?? defaultFetchUrl;

  let text: string;
  try {
    text = isUrl ? await fetchUrl(location) : await readFile(location, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : errorMessage(e);
    throw new OpenApiError(`cannot read OpenAPI document ${source}: ${why}`);
  }
  const doc = parseText(text, source);
  if (!isObj(doc)) throw new OpenApiError(`${source} is not an OpenAPI document (not an object)`);
  if (doc.openapi === undefined && doc.swagger === undefined) {
    throw new OpenApiError(`${source} is not an OpenAPI document: it has no "openapi" (3.x) or "swagger" (2.0) field`);
  }
  const externalRefs = checkInternalRefs(doc);
  // swagger-parser rewrites relative servers of URL sources (and loses the port): keep the originals
  const originalServers = structuredClone(doc.servers);

  // bundle: external $refs pulled in, all $refs internal afterwards
  let bundled: Obj;
  try {
    const parser = new SwaggerParser();
    const options = {
      parse: {
        json: false,
        yaml: false,
        text: false,
        binary: false,
        gatehouse: {
          order: 1,
          allowEmpty: false,
          canParse: true,
          parse: (file: { url: string; data: unknown }) => parseText(toText(file.data), file.url),
        },
      },
      resolve: {
        external: true,
        http: false,
        ...(isUrl ? { file: false } : {}),
        gatehouse: {
          order: 1,
          canRead: /^https?:\/\//i,
          read: (file: { url: string }) => fetchUrl(file.url),
        },
      },
      dereference: { circular: 'ignore' },
    };
    // without external references the document is its own bundle: only swagger-parser's version
    // checks run (bundling re-resolves every $ref, which costs seconds on huge documents)
    bundled = externalRefs.length
      ? ((await parser.bundle(location, doc as never, options as never)) as unknown as Obj)
      : ((await parser.parse(location, doc as never, options as never)) as unknown as Obj);
  } catch (e) {
    if (e instanceof OpenApiError) throw e;
    throw bundleError(e, externalRefs, isUrl ? location : pathToFileURL(location).href);
  }
  const kind = kindOf(bundled);
  if (!kind) {
    throw new OpenApiError(`unsupported document version ${JSON.stringify(bundled.openapi ?? bundled.swagger)}: Gatehouse reads Swagger 2.0 and OpenAPI 3.0 / 3.1`);
  }

  try {
    validateSchema(bundled);
  } catch (e) {
    throw validationError(e, kind);
  }

  const tools = toolsOf(bundled, kind);
  const info = isObj(bundled.info) ? bundled.info : {};
  return {
    kind,
    title: typeof info.title === 'string' ? info.title : undefined,
    version: typeof info.version === 'string' ? info.version : undefined,
    servers: serversOf({ ...bundled, servers: originalServers }, isUrl ? location : undefined),
    tools,
  };
}

// -------------------------------------------------------------------------------------------
// reading

function toText(data: unknown): string {
  if (typeof data === 'string') return data;
  if (Buffer.isBuffer(data) || data instanceof Uint8Array) return Buffer.from(data).toString('utf8');
  return String(data);
}

/** JSON or YAML, by content (JSON is tried first when the text starts with { or [) */
export function parseText(text: string, source: string): unknown {
  const body = text.replace(/^\uFEFF/, '');
  const trimmed = body.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(body);
    } catch (e) {
      // maybe YAML flow style; report the JSON error if YAML does not read it either
      try {
        return YAML.parse(body, { maxAliasCount: 100 });
      } catch {
        throw new OpenApiError(`${source}: invalid JSON: ${errorMessage(e)}`);
      }
    }
  }
  try {
    return YAML.parse(body, { maxAliasCount: 100, prettyErrors: true });
  } catch (e) {
    const err = e as { linePos?: readonly { line: number; col: number }[]; message?: string };
    const pos = err.linePos?.[0];
    const first = (err.message ?? String(e)).split('\n')[0]!.replace(/ at line \d+, column \d+:?\s*$/, '');
    throw new OpenApiError(`${source}${pos ? `:${pos.line}:${pos.col}` : ''}: invalid YAML: ${first}`);
  }
}

async function defaultFetchUrl(url: string): Promise<string> {
  const agent = new Agent({ connect: { timeout: FETCH_TIMEOUT_MS } });
  const dispatcher = agent.compose(interceptors.redirect({ maxRedirections: 5 }));
  try {
    const res = await request(url, {
      method: 'GET',
      dispatcher,
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      headers: { accept: 'application/yaml, application/json;q=0.9, */*;q=0.5' },
    });
    if (res.statusCode < 200 || res.statusCode >= 300) {
      await res.body.dump().catch(() => undefined);
      throw new Error(`HTTP ${res.statusCode}`);
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > FETCH_MAX_BYTES) {
      res.body.destroy();
      throw new Error(`the document is larger than ${FETCH_MAX_BYTES} bytes`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      const b = chunk as Buffer;
      size += b.length;
      if (size > FETCH_MAX_BYTES) {
        res.body.destroy();
        throw new Error(`the document is larger than ${FETCH_MAX_BYTES} bytes`);
      }
      chunks.push(b);
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await agent.destroy().catch(() => undefined);
  }
}

// -------------------------------------------------------------------------------------------
// $ref checks and error mapping

interface ExternalRef {
  readonly ref: string;
  readonly pointer: string;
}

/**
 * Walks the document: every internal `$ref` must resolve (OpenApiError at the referencing object);
 * a recursive YAML alias is refused. Returns the external references (for error messages).
 */
function checkInternalRefs(doc: Obj): ExternalRef[] {
  const external: ExternalRef[] = [];
  const ancestors = new Set<object>();
  const resolves = (ref: string): boolean => {
    if (ref === '#') return true;
    let v: unknown = doc;
    for (const raw of ref.slice(2).split('/')) {
      let seg = raw;
      try {
        seg = decodeURIComponent(raw);
      } catch {
        /* as is */
      }
      seg = seg.replace(/~1/g, '/').replace(/~0/g, '~');
      if (Array.isArray(v)) v = /^\d+$/.test(seg) ? v[Number(seg)] : undefined;
      else if (isObj(v) && Object.prototype.hasOwnProperty.call(v, seg)) v = v[seg];
      else return false;
      if (v === undefined) return false;
    }
    return true;
  };
  const walk = (v: unknown, pointer: string): void => {
    if (typeof v !== 'object' || v === null) return;
    if (ancestors.has(v)) throw new OpenApiError('the document contains a recursive YAML alias', pointer || undefined);
    ancestors.add(v);
    if (Array.isArray(v)) v.forEach((c, i) => walk(c, `${pointer}/${i}`));
    else {
      const o = v as Obj;
      if (typeof o.$ref === 'string') {
        const ref = o.$ref;
        if (ref.startsWith('#/') || ref === '#') {
          if (!resolves(ref)) throw new OpenApiError(`unresolvable $ref "${ref}"`, pointer || '/');
        } else if (!ref.startsWith('#')) external.push({ ref, pointer: pointer || '/' });
      }
      for (const [k, c] of Object.entries(o)) {
        if (k === 'example') continue; // data, not part of the description
        walk(c, `${pointer}/${escapePointer(k)}`);
      }
    }
    ancestors.delete(v);
  };
  walk(doc, '');
  return external;
}

function bundleError(e: unknown, externalRefs: readonly ExternalRef[], base: string): OpenApiError {
  const err = e as { message?: string; source?: string; code?: string };
  const message = (err.message ?? String(e)).split('\n')[0]!.trim();
  // which $ref of the document led to the failing file?
  let pointer: string | undefined;
  if (typeof err.source === 'string') {
    const failing = err.source.split('#')[0];
    for (const r of externalRefs) {
      try {
        const target = new URL(r.ref.split('#')[0]!, base).href;
        if (failing && (target === failing || decodeURI(target) === decodeURI(failing) || target.endsWith(failing))) {
          pointer = r.pointer;
          break;
        }
      } catch {
        /* not a URL */
      }
    }
  }
  if (err.code === 'EMISSINGPOINTER' || err.code === 'EINVALIDPOINTER') return new OpenApiError(`unresolvable $ref: ${message}`, pointer);
  if (err.code === 'ERESOLVER' || err.code === 'EUNMATCHEDRESOLVER') return new OpenApiError(`cannot resolve an external $ref: ${message}`, pointer);
  if (err.code === 'EPARSER' || err.code === 'EUNMATCHEDPARSER') return new OpenApiError(`cannot parse a referenced document: ${message}`, pointer);
  return new OpenApiError(message, pointer);
}

interface AjvError {
  instancePath: string;
  schemaPath?: string;
  keyword: string;
  message?: string;
  params?: Record<string, unknown>;
}

const KEYWORD_RANK: Record<string, number> = {
  required: 0,
  additionalProperties: 1,
  unevaluatedProperties: 1,
  type: 2,
  enum: 3,
  const: 3,
  format: 4,
  pattern: 4,
  propertyNames: 5,
};

/** the most telling of swagger-parser's (ajv) validation errors → an OpenApiError with its pointer */
function validationError(e: unknown, kind: ImportedApi['kind']): OpenApiError {
  const label = kind === 'swagger-2.0' ? 'Swagger 2.0' : kind === 'openapi-3.1' ? 'OpenAPI 3.1' : 'OpenAPI 3.0';
  const details = (e as { details?: AjvError[] }).details;
  if (!Array.isArray(details) || !details.length) return new OpenApiError(`invalid ${label} document: ${errorMessage(e)}`);
  const generic = new Set(['oneOf', 'anyOf', 'if', 'not', 'then', 'else', '$ref', 'false schema']);
  const isRefAlternative = (d: AjvError): boolean => d.keyword === 'required' && d.params?.missingProperty === '$ref';
  let candidates = details.filter((d) => !generic.has(d.keyword) && !isRefAlternative(d));
  if (!candidates.length) candidates = details;
  const depth = (d: AjvError): number => (d.instancePath ? d.instancePath.split('/').length : 0);
  // deepest first; then errors outside oneOf/anyOf alternatives (definite) before those of one branch
  const branches = (d: AjvError): number => (d.schemaPath?.match(/\/(oneOf|anyOf)\//g) ?? []).length;
  candidates = [...candidates].sort(
    (a, b) => depth(b) - depth(a) || branches(a) - branches(b) || (KEYWORD_RANK[a.keyword] ?? 9) - (KEYWORD_RANK[b.keyword] ?? 9),
  );
  const best = candidates[0]!;
  let what = best.message ?? best.keyword;
  if (best.keyword === 'required' && typeof best.params?.missingProperty === 'string') what = `missing required property "${best.params.missingProperty}"`;
  else if ((best.keyword === 'additionalProperties' || best.keyword === 'unevaluatedProperties') && typeof best.params?.additionalProperty === 'string') {
    what = `unknown property "${best.params.additionalProperty}"`;
  } else if (best.keyword === 'enum' && Array.isArray(best.params?.allowedValues)) {
    what = `must be one of ${(best.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  }
  const others = new Set(details.map((d) => d.instancePath)).size - 1;
  const more = others > 0 ? ` (and problems at ${others} other location${others === 1 ? '' : 's'})` : '';
  return new OpenApiError(`invalid ${label} document: ${what}${more}`, best.instancePath || undefined);
}

// -------------------------------------------------------------------------------------------
// servers

function serversOf(doc: Obj, sourceUrl: string | undefined): string[] {
  const out: string[] = [];
  const add = (u: string): void => {
    let abs: string | undefined;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) abs = u;
    else if (sourceUrl) {
      try {
        abs = new URL(u, sourceUrl).href;
      } catch {
        abs = undefined;
      }
    }
    if (abs && !out.includes(abs)) out.push(abs);
  };
  if (doc.swagger !== undefined) {
    const src = sourceUrl ? new URL(sourceUrl) : undefined;
    const host = typeof doc.host === 'string' && doc.host ? doc.host : src?.host;
    if (!host) return out;
    const basePath = typeof doc.basePath === 'string' ? doc.basePath : '';
    const schemes = Array.isArray(doc.schemes) && doc.schemes.length ? doc.schemes.filter((s): s is string => typeof s === 'string') : [src ? src.protocol.replace(':', '') : 'https'];
    for (const s of schemes) add(`${s}://${host}${basePath === '/' ? '' : basePath}`);
    return out;
  }
  const servers = Array.isArray(doc.servers) && doc.servers.length ? doc.servers : [{ url: '/' }];
  for (const s of servers) {
    if (!isObj(s) || typeof s.url !== 'string') continue;
    const vars = isObj(s.variables) ? s.variables : {};
    const url = s.url.replace(/\{([^{}]+)\}/g, (m, name: string) => {
      const v = vars[name];
      return isObj(v) && typeof v.default === 'string' ? v.default : m;
    });
    add(url);
  }
  return out;
}
