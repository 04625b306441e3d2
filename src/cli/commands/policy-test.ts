/**
 * `gatehouse policy test -c FILE --server NAME [--tool NAME] [--product NAME] --request REQ.json [--json]`: run one
 * request through a server's effective pipeline offline — the backend is answered by REQ.json's
 * `backendResponse` — and print the trace: each policy with its scope, section, position, outcome,
 * the variables it set, the request the backend would have received, and the final response.
 *
 * REQ.json: { "method"?: "POST", "headers"?: {…}, "body"?: <JSON-RPC message or string>,
 *             "ipAddress"?: "…", "sessionId"?: "…",
 *             "backendResponse"?: { "status"?: 200, "headers"?: {…}, "body"?: <JSON or string> } }
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/load.js';
import { ConfigError, formatProblem } from '../../config/errors.js';
import { compileServerPolicies, pipelineFor, backendsOf } from '../../mcp/server-policies.js';
import { ResourceMetadata } from '../../auth/resource-metadata.js';
import { createRegistry } from '../../policies/registry.js';
import { PolicyError } from '../../policy/errors.js';
import { PipelineContext, newResponse } from '../../pipeline/context.js';
import { runPipeline } from '../../pipeline/run.js';
import { createRequestContext } from '../../mcp/policy-bridge.js';
import { classify } from '../../mcp/jsonrpc.js';
import { MemoryCache } from '../../cache/memory.js';
import { LATEST_VERSION } from '../../mcp/protocol.js';
import type { CliIo } from '../main.js';
import { redactHeaders } from '../../observability/logger.js';

interface RequestFile {
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: unknown;
  ipAddress?: string;
  sessionId?: string;
  backendResponse?: { status?: number; headers?: Record<string, string | string[]>; body?: unknown };
}

const text = (v: unknown): string | undefined => (v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v));

export async function runPolicyTest(argv: string[], io: CliIo): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, server: { type: 'string' }, tool: { type: 'string' }, product: { type: 'string' }, request: { type: 'string' }, json: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    io.stderr(`gatehouse policy test: ${(err as Error).message}`);
    return 2;
  }
  const { config: file, server: serverName, tool, product, request, json } = args.values;
  if (!file || !serverName || !request) {
    io.stderr('usage: gatehouse policy test -c FILE --server NAME [--tool NAME] [--product NAME] --request REQ.json [--json]');
    return 2;
  }
  let req: RequestFile;
  try {
    req = JSON.parse(readFileSync(resolve(io.cwd, request), 'utf8')) as RequestFile;
    if (typeof req !== 'object' || req === null || Array.isArray(req)) throw new Error('the request file must hold a JSON object');
  } catch (err) {
    io.stderr(`${request}: ${(err as Error).message}`);
    return 2;
  }
  let config;
  try {
    config = await loadConfig({ file: resolve(io.cwd, file), env: io.env, cwd: io.cwd });
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(err.problems.map((p) => formatProblem(p, { cwd: io.cwd })).join('\n'));
      return 2;
    }
    throw err;
  }
  const server = config.servers.find((s) => s.name === serverName);
  if (!server) {
    io.stderr(`no server "${serverName}" in ${file} (servers: ${config.servers.map((s) => s.name).join(', ') || 'none'})`);
    return 2;
  }
  const cache = new MemoryCache();
  let policies;
  try {
    policies = compileServerPolicies(config, createRegistry(), { cache, backends: backendsOf(config) });
  } catch (err) {
    if (err instanceof PolicyError) {
      io.stderr(err.problems.map((p) => formatProblem({ file: p.file ?? '<policy>', line: p.line, col: p.col, message: p.message }, { cwd: io.cwd })).join('\n'));
      await cache.close();
      return 2;
    }
    throw err;
  }
  const body = text(req.body);
  let parsed: unknown;
  try {
    parsed = body === undefined ? undefined : JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const info = classify(parsed);
  const toolName = tool ?? info?.toolName;
  const productConfig = product === undefined ? undefined : config.products?.find((x) => x.name === product);
  if (product !== undefined && (!productConfig || !productConfig.servers.includes(server.name))) {
    io.stderr(`no product "${product}" holding server "${server.name}" in ${file} (products: ${(config.products ?? []).filter((x) => x.servers.includes(server.name)).map((x) => x.name).join(', ') || 'none'})`);
    await cache.close();
    return 2;
  }
  const p = pipelineFor(policies.get(server.name)!, toolName, product);
  const method = req.method ?? 'POST';
  const expr = createRequestContext({
    method,
    url: `${config.gateway.publicUrl}/${server.name}/mcp`,
    path: `${new URL(config.gateway.publicUrl).pathname.replace(/\/$/, '')}/${server.name}/mcp`,
    headers: { 'content-type': 'application/json', ...(req.headers ?? {}) },
    body,
    ipAddress: req.ipAddress ?? '127.0.0.1',
    server,
    info,
    sessionId: req.sessionId,
    protocolVersion: LATEST_VERSION,
    requestId: crypto.randomUUID(),
    product: productConfig,
  });
  let backendRequest: Record<string, unknown> | undefined;
  const ctx = new PipelineContext(
    expr,
    { baseUrl: server.backend.url, path: '', timeoutMs: server.backend.timeoutMs },
    async (c, opts) => {
      const headers: Record<string, string> = {};
      for (const n of [...server.forwardHeaders, ...c.touchedRequestHeaders]) {
        const v = c.request.headers.get(n);
        if (v !== undefined) headers[n] = v.join(', ');
      }
      const url = new URL(c.backend.baseUrl + c.backend.path);
      if (c.backendQuery) for (const [k, v] of c.backendQuery) url.searchParams.append(k, v);
      // credentials a policy set (authentication-basic, set-header Authorization) are shown redacted
      backendRequest = { method: c.request.method, url: url.href, headers: redactHeaders(headers), body: c.request.body?.peekText(), timeoutMs: opts.timeoutMs ?? c.backend.timeoutMs };
      const br = req.backendResponse ?? {};
      const r = newResponse(br.status ?? 200, 'OK', text(br.body) ?? '');
      for (const [k, v] of Object.entries(br.headers ?? { 'content-type': 'application/json' })) r.headers.set(k, v);
      c.setResponse(r);
    },
    { trace: true },
  );
  // as on the gateway: token policies default to this server's resource and add its challenge
  ctx.resource = new ResourceMetadata(config, policies).resourceOf(server.name);
  await runPipeline(p, ctx);
  await cache.close();
  const res = ctx.response;
  const headers: Record<string, string[]> = {};
  for (const n of res.headers.names()) headers[n] = res.headers.get(n) ?? [];
  const out = {
    server: server.name,
    tool: toolName ?? null,
    trace: ctx.trace,
    traceMessages: ctx.traceMessages,
    lastError: ctx.expr.lastError ? { ...ctx.expr.lastError } : null,
    backendRequest: backendRequest ?? null,
    variables: Object.fromEntries(ctx.variables.entries().map(([k, v]) => [k, typeof v === 'object' && v !== null ? String(v) : v])),
    response: { status: res.statusCode, reason: res.statusReason, headers, body: res.body?.peekText() ?? '' },
  };
  if (json) {
    io.stdout(JSON.stringify(out, null, 2));
    return 0;
  }
  const lines: string[] = [`policy test: server "${server.name}"${toolName ? `, tool "${toolName}"` : ''}`, ''];
  for (const t of ctx.trace ?? []) {
    const where = `${t.line}:${t.col}`;
    const vars = t.variables ? `  vars ${JSON.stringify(t.variables, (_k, v) => (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) !== Object.prototype ? String(v) : v))}` : '';
    lines.push(`${t.section.padEnd(9)} ${t.scope.padEnd(9)} ${t.path.padEnd(32)} ${where.padEnd(8)} ${t.outcome}${t.detail ? ` (${t.detail})` : ''}${vars}`);
  }
  for (const m of ctx.traceMessages) lines.push(`trace     [${m.severity}] ${m.source}: ${m.message}`);
  if (out.lastError) lines.push('', `LastError: ${JSON.stringify(out.lastError)}`);
  lines.push('', backendRequest ? `backend request: ${JSON.stringify(backendRequest)}` : 'backend request: (not sent)');
  lines.push(`response: ${res.statusCode} ${JSON.stringify(headers)}`, out.response.body);
  io.stdout(lines.join('\n'));
  return 0;
}
