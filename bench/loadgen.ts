/**
 * Load generation for `npm run bench`.
 *
 * - `mcpHandshake` / `callEcho` / `closeSession`: the MCP client side (initialize →
 *   notifications/initialized → tools/call), done identically for every target.
 * - `runWrk`: drives `wrk` (C, epoll) with a generated Lua script: unique JSON-RPC ids per
 *   request, MCP session headers, and a JSON summary printed from `done()`. In `check` mode (used
 *   for the warm-up) every response body is checked for the expected text.
 * - `runNodeLoad`: fallback when wrk is not available: undici `Pool`, `concurrency` closed loops,
 *   latencies recorded and percentiles computed from them. Run it in its own process with
 *   `node dist/bench/loadgen.js '<json LoadOptions>'` so it does not share an event loop with the
 *   harness.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Agent, Pool, request } from 'undici';

export const ECHO_TEXT = 'gatehouse-bench-echo-4f1c';
export const CLIENT_PROTOCOL_VERSION = '2025-11-25';

export function echoBody(id: number | string, text = ECHO_TEXT): string {
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"tools/call","params":{"name":"echo","arguments":{"text":${JSON.stringify(text)}}}}`;
}

export interface LoadOptions {
  /** full URL of the MCP endpoint */
  url: string;
  /** request headers for every tools/call (content-type, accept, session, protocol version, extra) */
  headers: Record<string, string>;
  concurrency: number;
  /** measured duration, whole seconds (wrk only takes whole seconds) */
  durationS: number;
  /** text the echo tool is asked to return (checked in response bodies) */
  expectText: string;
  /** check every response body (slower; used for warm-ups) */
  check: boolean;
  /** upper bound on requests for the Node generator (keeps the loop bounded in count too) */
  maxRequests?: number;
  /** wrk threads (≤ concurrency) */
  threads?: number;
}

export interface LoadResult {
  tool: 'wrk' | 'node';
  concurrency: number;
  durationS: number;
  requests: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  /** socket-level errors and HTTP status errors (wrk: status ≥ 400; node: non-2xx) */
  errors: { connect: number; read: number; write: number; timeout: number; status: number };
  /** responses whose body was checked, and how many of those lacked the expected text */
  checked: number;
  bad: number;
  badSample?: string;
}

export type Track = (cp: ChildProcess, name: string) => void;

// ---------------------------------------------------------------------------------------------
// MCP client side of the handshake
// ---------------------------------------------------------------------------------------------

export interface McpSession {
  sessionId: string | undefined;
  protocolVersion: string;
  serverInfo: unknown;
  /** headers to send with every subsequent request */
  headers: Record<string, string>;
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const agent = new Agent({ keepAliveTimeout: 1_000, connections: 4 });

async function post(url: string, headers: Record<string, string>, body: string, timeoutMs = 10_000): Promise<HttpReply> {
  const res = await request(url, {
    method: 'POST',
    headers,
    body,
    dispatcher: agent,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text };
}

function headerValue(h: HttpReply['headers'], name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Parses a JSON-RPC message out of an application/json or text/event-stream body. */
export function parseRpcBody(reply: HttpReply, id: number | string): Record<string, unknown> | undefined {
  const ct = headerValue(reply.headers, 'content-type') ?? '';
  const candidates: string[] = [];
  if (ct.includes('text/event-stream')) {
    for (const event of reply.body.split(/\r?\n\r?\n/)) {
      const data = event
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data) candidates.push(data);
    }
  } else {
    candidates.push(reply.body);
  }
  for (const c of candidates) {
    try {
      const msg = JSON.parse(c) as unknown;
      const list = Array.isArray(msg) ? msg : [msg];
      for (const m of list) {
        if (m && typeof m === 'object' && (m as { id?: unknown }).id === id) return m as Record<string, unknown>;
      }
    } catch {
      // not JSON: keep looking
    }
  }
  return undefined;
}

function snippet(s: string, n = 300): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > n ? one.slice(0, n) + '…' : one;
}

/**
 * initialize → (Mcp-Session-Id) → notifications/initialized. Throws with a readable message on
 * any deviation, so a broken target is reported instead of being measured.
 */
export async function mcpHandshake(url: string, extraHeaders: Record<string, string> = {}): Promise<McpSession> {
  const base: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...lower(extraHeaders),
  };
  const init = await post(
    url,
    base,
    JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: CLIENT_PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: 'gatehouse-bench', version: '1.0.0' },
      },
    }),
  );
  if (init.status !== 200) {
    throw new Error(`initialize: HTTP ${init.status} (expected 200): ${snippet(init.body)}`);
  }
  const msg = parseRpcBody(init, 0);
  const result = msg?.['result'] as { protocolVersion?: unknown; serverInfo?: unknown } | undefined;
  if (!result || typeof result.protocolVersion !== 'string') {
    throw new Error(`initialize: no InitializeResult with protocolVersion in the reply: ${snippet(init.body)}`);
  }
  const sessionId = headerValue(init.headers, 'mcp-session-id');
  const headers: Record<string, string> = { ...base, 'mcp-protocol-version': result.protocolVersion };
  if (sessionId) headers['mcp-session-id'] = sessionId;
  const notif = await post(url, headers, '{"jsonrpc":"2.0","method":"notifications/initialized"}');
  if (notif.status < 200 || notif.status >= 300) {
    throw new Error(`notifications/initialized: HTTP ${notif.status} (expected 202): ${snippet(notif.body)}`);
  }
  return { sessionId, protocolVersion: result.protocolVersion, serverInfo: result.serverInfo, headers };
}

/** One tools/call of echo; throws unless the reply carries the expected text. */
export async function callEcho(url: string, session: McpSession, id: number | string, text = ECHO_TEXT): Promise<number> {
  const t0 = performance.now();
  const reply = await post(url, session.headers, echoBody(id, text));
  const ms = performance.now() - t0;
  if (reply.status !== 200) throw new Error(`tools/call echo: HTTP ${reply.status}: ${snippet(reply.body)}`);
  const msg = parseRpcBody(reply, id);
  const result = msg?.['result'] as { content?: Array<{ type?: unknown; text?: unknown }> } | undefined;
  const got = result?.content?.[0]?.text;
  if (got !== text) throw new Error(`tools/call echo: unexpected reply: ${snippet(reply.body)}`);
  return ms;
}

/** DELETE the session (best effort). */
export async function closeSession(url: string, session: McpSession): Promise<void> {
  if (!session.sessionId) return;
  try {
    const res = await request(url, {
      method: 'DELETE',
      headers: session.headers,
      dispatcher: agent,
      headersTimeout: 3_000,
      bodyTimeout: 3_000,
    });
    await res.body.dump();
  } catch {
    // ignore
  }
}

export async function closeClient(): Promise<void> {
  await agent.close().catch(() => undefined);
}

function lower(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}

// ---------------------------------------------------------------------------------------------
// wrk
// ---------------------------------------------------------------------------------------------

function luaString(s: string): string {
  let out = '"';
  for (const ch of Buffer.from(s, 'utf8')) {
    if (ch === 0x22) out += '\\"';
    else if (ch === 0x5c) out += '\\\\';
    else if (ch >= 0x20 && ch < 0x7f) out += String.fromCharCode(ch);
    else out += '\\' + String(ch).padStart(3, '0');
  }
  return out + '"';
}

export function wrkScript(opts: LoadOptions): string {
  const sample = echoBody(123456789, opts.expectText);
  const [prefix, suffix] = sample.split('123456789') as [string, string];
  const headerLines = Object.entries(opts.headers)
    .map(([k, v]) => `wrk.headers[${luaString(k)}] = ${luaString(v)}`)
    .join('\n');
  const responseFn = opts.check
    ? `
function response(status, headers, body)
  checked = checked + 1
  if status ~= 200 or body == nil or not string.find(body, expect, 1, true) then
    bad = bad + 1
    if bad_sample == "" then bad_sample = tostring(status) .. " " .. string.sub(body or "", 1, 300) end
  end
end
`
    : '';
  return `-- generated by bench/loadgen.ts
wrk.method = "POST"
${headerLines}
local prefix = ${luaString(prefix)}
local suffix = ${luaString(suffix)}
expect = ${luaString(opts.expectText)}

local threads = {}
local nthreads = 0
function setup(thread)
  nthreads = nthreads + 1
  thread:set("id_base", nthreads * 100000000)
  table.insert(threads, thread)
end

function init(args)
  counter = id_base or 0
  checked = 0
  bad = 0
  bad_sample = ""
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, prefix .. counter .. suffix)
end
${responseFn}
local function esc(s)
  s = string.gsub(s, '[%c"\\\\]', function(c) return string.format("\\\\u%04x", string.byte(c)) end)
  s = string.gsub(s, '[\\128-\\255]', "?")
  return s
end

function done(summary, latency, requests)
  local c, b, sample = 0, 0, ""
  for _, t in ipairs(threads) do
    c = c + (t:get("checked") or 0)
    b = b + (t:get("bad") or 0)
    local s = t:get("bad_sample") or ""
    if sample == "" and s ~= "" then sample = s end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,' ..
    '"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"mean_us":%.3f,"max_us":%.0f,"checked":%.0f,"bad":%.0f,"bad_sample":"%s"}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max,
    c, b, esc(sample)))
end
`;
}

interface WrkJson {
  requests: number;
  duration_us: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  mean_us: number;
  max_us: number;
  checked: number;
  bad: number;
  bad_sample: string;
}

export async function runWrk(
  opts: LoadOptions & { wrkBin: string; scriptPath: string; track?: Track },
): Promise<LoadResult> {
  writeFileSync(opts.scriptPath, wrkScript(opts));
  const duration = Math.max(1, Math.round(opts.durationS));
  const threads = Math.max(1, Math.min(opts.threads ?? 1, opts.concurrency));
  const args = [
    '-t', String(threads),
    '-c', String(opts.concurrency),
    '-d', `${duration}s`,
    '--timeout', '5s',
    '--latency',
    '-s', opts.scriptPath,
    opts.url,
  ];
  const child = spawn(opts.wrkBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  opts.track?.(child, 'wrk');
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), (duration + 20) * 1000);
    child.once('error', (e) => {
      clearTimeout(killer);
      reject(e);
    });
    child.once('exit', (c) => {
      clearTimeout(killer);
      resolve(c);
    });
  });
  const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (!line) throw new Error(`wrk exited ${code} without a summary: ${snippet(err || out, 600)}`);
  const j = JSON.parse(line.slice('BENCH_JSON '.length)) as WrkJson;
  const durationS = j.duration_us / 1e6;
  return {
    tool: 'wrk',
    concurrency: opts.concurrency,
    durationS,
    requests: j.requests,
    rps: durationS > 0 ? j.requests / durationS : 0,
    latencyMs: {
      p50: j.p50_us / 1000,
      p90: j.p90_us / 1000,
      p99: j.p99_us / 1000,
      mean: j.mean_us / 1000,
      max: j.max_us / 1000,
    },
    errors: { connect: j.connect, read: j.read, write: j.write, timeout: j.timeout, status: j.status },
    checked: j.checked,
    bad: j.bad,
    ...(j.bad_sample ? { badSample: j.bad_sample } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Node fallback (undici Pool)
// ---------------------------------------------------------------------------------------------

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export async function runNodeLoad(opts: LoadOptions): Promise<LoadResult> {
  const u = new URL(opts.url);
  const path = u.pathname + u.search;
  const pool = new Pool(u.origin, {
    connections: opts.concurrency,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
  });
  const maxRequests = opts.maxRequests ?? 5_000_000;
  let lat = new Float64Array(Math.min(maxRequests, 1 << 16));
  let n = 0;
  let issued = 0;
  const errors = { connect: 0, read: 0, write: 0, timeout: 0, status: 0 };
  let checked = 0;
  let bad = 0;
  let badSample: string | undefined;
  let nextId = 1;
  const start = performance.now();
  const deadline = start + opts.durationS * 1000;

  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && issued < maxRequests) {
      issued++;
      const id = nextId++;
      const t0 = performance.now();
      try {
        const res = await pool.request({ path, method: 'POST', headers: opts.headers, body: echoBody(id, opts.expectText) });
        const text = await res.body.text();
        const ms = performance.now() - t0;
        if (n === lat.length) {
          const bigger = new Float64Array(Math.min(maxRequests, lat.length * 2));
          bigger.set(lat);
          lat = bigger;
        }
        lat[n++] = ms;
        if (res.statusCode < 200 || res.statusCode >= 300) errors.status++;
        if (opts.check || (id & 1023) === 1) {
          checked++;
          if (res.statusCode !== 200 || !text.includes(opts.expectText)) {
            bad++;
            badSample ??= `${res.statusCode} ${snippet(text)}`;
          }
        }
      } catch (e) {
        const code = (e as { code?: string }).code ?? '';
        if (code.includes('TIMEOUT')) errors.timeout++;
        else if (code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT') errors.connect++;
        else errors.read++;
        // avoid a hot error loop when the target is down
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, () => worker()));
  const elapsedS = (performance.now() - start) / 1000;
  await pool.close().catch(() => undefined);

  const sorted = lat.slice(0, n).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return {
    tool: 'node',
    concurrency: opts.concurrency,
    durationS: elapsedS,
    requests: n,
    rps: elapsedS > 0 ? n / elapsedS : 0,
    latencyMs: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      mean: n ? sum / n : 0,
      max: n ? sorted[n - 1]! : 0,
    },
    errors,
    checked,
    bad,
    ...(badSample ? { badSample } : {}),
  };
}

/** Runs `runNodeLoad` in a child process (`node dist/bench/loadgen.js '<json>'`). */
export async function runNodeLoadInChild(opts: LoadOptions & { track?: Track }): Promise<LoadResult> {
  const { track, ...plain } = opts;
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [self, JSON.stringify(plain)], { stdio: ['ignore', 'pipe', 'pipe'] });
  track?.(child, 'node-loadgen');
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), (opts.durationS + 30) * 1000);
    child.once('error', (e) => {
      clearTimeout(killer);
      reject(e);
    });
    child.once('exit', (c) => {
      clearTimeout(killer);
      resolve(c);
    });
  });
  const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (!line) throw new Error(`node load generator exited ${code}: ${snippet(err || out, 600)}`);
  return JSON.parse(line.slice('BENCH_JSON '.length)) as LoadResult;
}

export function scriptPathFor(dir: string, name: string): string {
  return join(dir, name.replace(/[^A-Za-z0-9_.-]+/g, '_') + '.lua');
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const opts = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
  runNodeLoad(opts).then(
    (r) => {
      process.stdout.write('BENCH_JSON ' + JSON.stringify(r) + '\n');
      process.exit(0);
    },
    (e: unknown) => {
      console.error(e instanceof Error ? e.stack : String(e));
      process.exit(1);
    },
  );
}
