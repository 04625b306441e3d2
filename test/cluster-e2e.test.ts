/**
 * Multi-process mode (`gateway.workers` > 1) end to end: one real Gatehouse cluster child process
 * (a primary and two workers sharing the listener) in front of real MCP backends, on loopback.
 *
 * Every request that must be able to land on either worker goes on a NEW TCP connection (undici
 * `reset: true`: `connection: close`, the socket is closed after the answer), so node:cluster's
 * round-robin hands consecutive requests to different workers. The first test proves it: the
 * session ids minted by initialize end in both `.0` and `.1`.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { request } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';

const BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url));
const PROTOCOL = '2025-11-25';
const ACCEPT = 'application/json, text/event-stream';

// ------------------------------------------------------------------------------------------------
// the gatehouse child process

interface Proc {
  child: ChildProcess;
  /** stdout JSON log lines, parsed (non-JSON lines kept as { raw }) */
  logs: Record<string, unknown>[];
  stderr: string;
  exit: Promise<number | null>;
}

function run(args: string[], cwd: string): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, logs: [], stderr: '', exit: once(child, 'exit').then(([code]) => code as number | null) };
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines.filter(Boolean)) {
      try {
        p.logs.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        p.logs.push({ raw: l });
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (p.stderr += d));
  return p;
}

/** resolves with the first log line (from index `from` on) whose msg is `msg` */
async function waitForLog(p: Proc, msg: string, opts: { from?: number; timeoutMs?: number } = {}): Promise<Record<string, unknown>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  let exited = false;
  void p.exit.then(() => (exited = true));
  for (;;) {
    const found = p.logs.slice(opts.from ?? 0).find((l) => l.msg === msg);
    if (found) return found;
    if (exited || Date.now() > deadline) {
      throw new Error(`no "${msg}" log line (exited: ${exited}); stdout=${p.logs.map((l) => JSON.stringify(l)).join('\n')} stderr=${p.stderr}`);
    }
    await sleep(25);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** the pids of the processes whose parent is `ppid` */
function childrenOf(ppid: number): number[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(ppid)], { encoding: 'utf8' });
  } catch {
    // ps exits 1 when there is no such process
  }
  return out.split('\n').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
}

/** true while the process exists and is not a zombie */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** the primary's "gatehouse listening" line (every worker serves) */
const listening = (p: Proc) => waitForLog(p, 'gatehouse listening', { timeoutMs: 20_000 });

/** stop a cluster still running: the primary with `signal` (SIGTERM: drain, at most 10 s), then any worker left */
async function stopCluster(p: Proc, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const workers = childrenOf(p.child.pid!);
  p.child.kill(signal);
  if (signal === 'SIGTERM') await Promise.race([p.exit, sleep(10_000)]);
  for (const pid of workers) {
    try {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

// ------------------------------------------------------------------------------------------------
// HTTP on a fresh connection per request

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** one request on its own TCP connection (`reset: true`: connection: close, the socket is closed after) */
async function fresh(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const r = await request(url, { method: (opts.method ?? 'GET') as 'GET', headers: opts.headers ?? {}, body: opts.body ?? null, reset: true });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text };
}

function header(r: Reply, name: string): string | undefined {
  const v = r.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function mcpPost(url: string, message: unknown, sid?: string): Promise<Reply> {
  return fresh(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT, 'mcp-protocol-version': PROTOCOL, ...(sid ? { 'mcp-session-id': sid } : {}) },
    body: JSON.stringify(message),
  });
}

/** the last JSON-RPC message of a JSON or SSE answer */
function lastMessage(r: Reply): Record<string, unknown> {
  try {
    return JSON.parse(r.text) as Record<string, unknown>;
  } catch {
    const data = r.text.split('\n').filter((l) => l.startsWith('data: ') && l.length > 6);
    assert.ok(data.length > 0, `no JSON-RPC message in ${r.status} ${JSON.stringify(r.text.slice(0, 300))}`);
    return JSON.parse(data.at(-1)!.slice(6)) as Record<string, unknown>;
  }
}

const INIT = (id: number | string = 1) => ({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'cluster-e2e', version: '1' } } });
const echoCall = (id: number, text: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text } } });

/** initialize (+ notifications/initialized) on fresh connections; the session id */
async function openSession(url: string): Promise<string> {
  const r = await mcpPost(url, INIT());
  assert.equal(r.status, 200, r.text);
  const sid = header(r, 'mcp-session-id');
  assert.ok(sid, 'initialize answered with an Mcp-Session-Id');
  assert.ok(lastMessage(r).result, r.text);
  const n = await mcpPost(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, sid);
  assert.equal(n.status, 202, n.text);
  return sid;
}

/** a tools/call echo on a fresh connection; asserts a 200 with the echoed text */
async function echoOk(url: string, sid: string, id: number, text: string): Promise<void> {
  const r = await mcpPost(url, echoCall(id, text), sid);
  assert.equal(r.status, 200, `call ${id}: ${r.status} ${r.text}`);
  const m = lastMessage(r);
  assert.equal(m.id, id, r.text);
  assert.deepEqual((m.result as { content: unknown }).content, [{ type: 'text', text }], r.text);
}

// ------------------------------------------------------------------------------------------------
// a legacy SSE stream, read as it arrives

interface SseEvent {
  event: string;
  data: string;
}

class SseReader {
  readonly events: SseEvent[] = [];
  #buf = '';
  #done = false;
  #error: unknown;
  readonly #close: () => void;

  constructor(body: AsyncIterable<Buffer | string> & { destroy(): void }) {
    this.#close = () => body.destroy();
    void (async () => {
      try {
        for await (const chunk of body) this.#push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      } catch (err) {
        this.#error = err;
      } finally {
        this.#done = true;
      }
    })();
  }

  #push(s: string): void {
    this.#buf += s.replace(/\r\n/g, '\n');
    let end;
    while ((end = this.#buf.indexOf('\n\n')) !== -1) {
      const block = this.#buf.slice(0, end);
      this.#buf = this.#buf.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) this.events.push({ event, data: data.join('\n') });
    }
  }

  async waitFor<T>(pick: (events: SseEvent[]) => T | undefined, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = pick(this.events);
      if (v !== undefined) return v;
      if (this.#done) throw new Error(`the SSE stream ended (${String(this.#error ?? 'eof')}); events: ${JSON.stringify(this.events)}`);
      if (Date.now() > deadline) throw new Error(`timed out; events: ${JSON.stringify(this.events)}`);
      await sleep(10);
    }
  }

  close(): void {
    this.#close();
  }
}

// ------------------------------------------------------------------------------------------------
// metrics

/** the value of a Prometheus series with exactly these labels (any order), undefined when absent */
function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const found: Record<string, string> = {};
    for (const m of line.slice(name.length + 1, close).matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) found[m[1]!] = m[2]!;
    if (Object.keys(found).length !== Object.keys(labels).length) continue;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(line.slice(close + 1).trim());
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------------

/**
 * The rate limit of server `limited`, shared by the workers. The limit sits in a <choose> on
 * tools/call: a bare inbound <rate-limit> also counts initialize and notifications/initialized
 * (every POST runs the server's pipeline), which would leave 3 or 4 of the 5 calls for tools/call.
 */
const LIMITED_POLICY =
  '<policies><inbound><base/><choose><when condition="@(context.Mcp.Method == &quot;tools/call&quot;)"><rate-limit calls="5" renewal-period="60"/></when></choose></inbound>' +
  '<backend><base/></backend><outbound><base/></outbound><on-error><base/></on-error></policies>';

describe('multi-process gateway (gateway.workers: 2)', () => {
  let dir: string;
  let streamable: EverythingServer;
  let sse: EverythingServer;
  let gh: Proc;
  let url: string;
  /** a Streamable HTTP session of server `s` made early on (used again after a worker was killed) */
  let longLived: string;
  let nextId = 100;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-cluster-'));
    [streamable, sse] = await Promise.all([startEverythingServer({ transport: 'streamable-http' }), startEverythingServer({ transport: 'sse' })]);
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(
      file,
      [
        'gateway:',
        '  listen: "127.0.0.1:0"',
        '  workers: 2',
        '  drainTimeout: 5',
        'store: "sqlite:./state/g.db"',
        'servers:',
        '  - name: s',
        '    type: passthrough',
        `    backend: { url: ${JSON.stringify(streamable.url)} }`,
        '  - name: legacy',
        '    type: passthrough',
        `    backend: { url: ${JSON.stringify(sse.url)}, transport: sse }`,
        '  - name: limited',
        '    type: passthrough',
        `    backend: { url: ${JSON.stringify(streamable.url)} }`,
        `    policies: ${JSON.stringify(LIMITED_POLICY)}`,
        '',
      ].join('\n'),
    );
    gh = run(['start', '-c', file, '--port', '0'], dir);
    const ready = await listening(gh);
    url = ready.url as string;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(ready.workers, 2);
  });

  after(async () => {
    if (gh) await stopCluster(gh, 'SIGKILL');
    await Promise.all([streamable?.close(), sse?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('both workers serve: fresh-connection initializes mint session ids ending in .0 and .1', async () => {
    const suffixes = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const r = await mcpPost(`${url}/s/mcp`, INIT(i));
      assert.equal(r.status, 200, r.text);
      const sid = header(r, 'mcp-session-id');
      assert.ok(sid, 'a session id');
      const m = /^[A-Za-z0-9_-]{43}\.(\d+)$/.exec(sid);
      assert.ok(m, `session id ${sid} is 32 random bytes (base64url) + .INDEX`);
      suffixes.add(m[1]!);
    }
    assert.deepEqual([...suffixes].sort(), ['0', '1']);
  });

  it('a Streamable HTTP session works from any worker, and the SDK client works through the cluster', async () => {
    longLived = await openSession(`${url}/s/mcp`);
    const sid = await openSession(`${url}/s/mcp`);
    for (let i = 0; i < 12; i++) await echoOk(`${url}/s/mcp`, sid, nextId++, `fresh-${i}`);

    const client = new Client({ name: 'cluster-e2e', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(`${url}/s/mcp`));
    await client.connect(transport);
    try {
      assert.match(transport.sessionId ?? '', /\.[01]$/);
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'echo'), JSON.stringify(tools.map((t) => t.name)));
      const r = await client.callTool({ name: 'echo', arguments: { text: 'via the SDK' } });
      assert.deepEqual(r.content, [{ type: 'text', text: 'via the SDK' }]);
    } finally {
      await client.close();
    }
  });

  it('DELETE ends the session for every worker: later calls get 404', async () => {
    const sid = await openSession(`${url}/s/mcp`);
    // several calls: each worker reads the session more than once, so both hold it in their near cache
    for (let i = 0; i < 6; i++) await echoOk(`${url}/s/mcp`, sid, nextId++, `before delete ${i}`);
    const d = await fresh(`${url}/s/mcp`, { method: 'DELETE', headers: { 'mcp-session-id': sid, 'mcp-protocol-version': PROTOCOL } });
    assert.ok(d.status === 200 || d.status === 204, `DELETE: ${d.status} ${d.text}`);
    // the gateway itself knows the session is gone, whichever worker (and near cache) a call lands on:
    // nothing more reaches the backend
    const atBackend = streamable.requests.length;
    for (let i = 0; i < 6; i++) {
      const id = nextId++;
      const r = await mcpPost(`${url}/s/mcp`, echoCall(id, 'after delete'), sid);
      assert.equal(r.status, 404, `call ${i} after DELETE: ${r.status} ${r.text}`);
      const m = JSON.parse(r.text) as { id: unknown; error?: { code: number; message: string } };
      assert.equal(m.error?.code, -32001, r.text);
      assert.match(m.error?.message ?? '', /session not found/i);
    }
    assert.equal(streamable.requests.length, atBackend, 'no call after the DELETE reached the backend');
  });

  it('an SSE-only backend: requests of its session are relayed to the owning worker; unknown ids get 404', async () => {
    const sid = await openSession(`${url}/legacy/mcp`);
    assert.match(sid, /\.[01]$/);
    for (let i = 0; i < 10; i++) await echoOk(`${url}/legacy/mcp`, sid, nextId++, `legacy-${i}`);
    // the backend saw every call, on one session (the one owned by one worker)
    const legacyCalls = sse.toolCalls.filter((c) => c.name === 'echo' && String(c.arguments.text).startsWith('legacy-'));
    assert.equal(legacyCalls.length, 10);
    assert.equal(new Set(legacyCalls.map((c) => c.sessionId)).size, 1);

    const madeUp = 'A'.repeat(20) + 'b_-'.repeat(7) + 'Z2'; // 43 base64url characters
    assert.equal(madeUp.length, 43);
    for (const suffix of ['.0', '.1', '.7']) {
      for (let i = 0; i < 3; i++) {
        const r = await mcpPost(`${url}/legacy/mcp`, echoCall(nextId++, 'nobody'), madeUp + suffix);
        assert.equal(r.status, 404, `made-up id ${suffix} try ${i}: ${r.status} ${r.text}`);
      }
    }
  });

  it('a legacy SSE client: messages POSTed on fresh connections reach the stream held by one worker', async () => {
    const get = await request(`${url}/s/sse`, { method: 'GET', headers: { accept: 'text/event-stream' }, reset: true });
    assert.equal(get.statusCode, 200);
    assert.match(String(get.headers['content-type']), /^text\/event-stream/);
    const stream = new SseReader(get.body);
    try {
      const endpoint = await stream.waitFor((evs) => evs.find((e) => e.event === 'endpoint')?.data);
      assert.match(endpoint, /^\/s\/messages\?sessionId=[A-Za-z0-9_-]{43}\.[01]$/);
      const messages = new URL(endpoint, url).href;
      const postMsg = (m: unknown) => fresh(messages, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(m) });

      let r = await postMsg({ ...INIT(1), params: { ...INIT(1).params, protocolVersion: '2024-11-05' } });
      assert.equal(r.status, 202, r.text);
      const init = await stream.waitFor((evs) => evs.map((e) => (e.event === 'message' ? (JSON.parse(e.data) as Record<string, unknown>) : undefined)).find((m) => m?.id === 1));
      assert.ok(init.result, JSON.stringify(init));
      r = await postMsg({ jsonrpc: '2.0', method: 'notifications/initialized' });
      assert.equal(r.status, 202, r.text);
      const ids: number[] = [];
      for (let i = 0; i < 6; i++) {
        const id = 1000 + i;
        ids.push(id);
        r = await postMsg(echoCall(id, `over sse ${i}`));
        assert.equal(r.status, 202, `message ${i}: ${r.status} ${r.text}`);
      }
      for (const [i, id] of ids.entries()) {
        const m = await stream.waitFor((evs) => evs.map((e) => (e.event === 'message' ? (JSON.parse(e.data) as Record<string, unknown>) : undefined)).find((x) => x?.id === id));
        assert.deepEqual((m.result as { content: unknown }).content, [{ type: 'text', text: `over sse ${i}` }], JSON.stringify(m));
      }
    } finally {
      stream.close();
    }

    const client = new Client({ name: 'cluster-e2e-sse', version: '1' });
    await client.connect(new SSEClientTransport(new URL(`${url}/s/sse`)));
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'echo'));
      for (let i = 0; i < 3; i++) {
        const res = await client.callTool({ name: 'echo', arguments: { text: `sdk sse ${i}` } });
        assert.deepEqual(res.content, [{ type: 'text', text: `sdk sse ${i}` }]);
      }
    } finally {
      await client.close();
    }
  });

  it('a rate limit is shared by the workers: of 8 calls on fresh connections exactly 5 pass, 3 get 429', async () => {
    const sid = await openSession(`${url}/limited/mcp`);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await mcpPost(`${url}/limited/mcp`, echoCall(nextId++, `limited-${i}`), sid);
      statuses.push(r.status);
      if (r.status === 200) assert.deepEqual((lastMessage(r).result as { content: unknown }).content, [{ type: 'text', text: `limited-${i}` }]);
      else {
        assert.equal(r.status, 429, r.text);
        assert.ok(Number(header(r, 'retry-after')) >= 1, `Retry-After: ${header(r, 'retry-after')}`);
      }
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
  });

  it('/metrics on any worker reports the requests of all workers', async () => {
    const labels = { server: 's', method: 'tools/call', tool: 'echo', status: '200' };
    const scrape = async () => {
      const r = await fresh(`${url}/metrics`);
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.match(String(header(r, 'content-type')), /^text\/plain/);
      return r.text;
    };
    const before = metricValue(await scrape(), 'gatehouse_requests_total', labels) ?? 0;
    const sid = await openSession(`${url}/s/mcp`);
    const N = 10;
    for (let i = 0; i < N; i++) await echoOk(`${url}/s/mcp`, sid, nextId++, `metrics-${i}`);
    // the counter is incremented when the response closes: give the last one a moment
    await sleep(100);
    const a = metricValue(await scrape(), 'gatehouse_requests_total', labels);
    const b = metricValue(await scrape(), 'gatehouse_requests_total', labels);
    assert.ok(a !== undefined && b !== undefined, 'the series is there');
    assert.equal(a, b, 'both scrapes (on different workers) agree');
    assert.ok(a >= N, `${a} >= ${N}`);
    // the earlier tests' echo calls on s (12 + 1 + SDK 1 + ...) were served by both workers: all are counted
    assert.ok(a >= before + N, `${a} >= ${before} + ${N}`);
    assert.ok(a >= 12 + 1 + N, `the counts of every earlier test are in: ${a}`);
  });

  it('a worker killed with SIGKILL is replaced; Streamable HTTP sessions survive (they live in the primary)', async () => {
    const primary = gh.child.pid!;
    const workers = childrenOf(primary);
    assert.equal(workers.length, 2, `the primary's children: ${workers.join(', ')}`);
    const from = gh.logs.length;
    process.kill(workers[0]!, 'SIGKILL');
    const died = await waitForLog(gh, 'worker died; starting a new one', { from });
    assert.equal(died.signal, 'SIGKILL');
    const restarted = await waitForLog(gh, 'worker restarted', { from, timeoutMs: 15_000 });
    assert.equal(restarted.worker, died.worker);
    const now = childrenOf(primary);
    assert.equal(now.length, 2, `children after the restart: ${now.join(', ')}`);
    assert.ok(!now.includes(workers[0]!));
    assert.ok(now.includes(workers[1]!));
    for (let i = 0; i < 8; i++) await echoOk(`${url}/s/mcp`, longLived, nextId++, `after restart ${i}`);
  });

  it('SIGTERM to the primary: every worker drains and exits, the primary exits 0', async () => {
    const primary = gh.child.pid!;
    const workers = childrenOf(primary);
    assert.equal(workers.length, 2);
    gh.child.kill('SIGTERM');
    const code = await Promise.race([gh.exit, sleep(15_000).then(() => 'timeout' as const)]);
    assert.equal(code, 0, `primary exit: ${code}; stderr=${gh.stderr}`);
    // the workers are gone too
    const deadline = Date.now() + 2_000;
    while (workers.some(isAlive) && Date.now() < deadline) await sleep(50);
    assert.deepEqual(workers.filter(isAlive), [], 'no worker is left');
    assert.ok(gh.logs.some((l) => l.msg === 'stopped' && l.exitCode === 0), 'the primary logged stopped');
    await assert.rejects(fresh(`${url}/healthz`));
  });
});

describe('multi-process gateway: refused configurations', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-cluster-bad-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a broken policy: start exits 2 with FILE:LINE:COL problems on stderr', async () => {
    const file = join(dir, 'cluster-bad.yaml');
    writeFileSync(
      file,
      [
        'gateway:',
        '  listen: "127.0.0.1:0"',
        '  workers: 2',
        'store: "sqlite:./bad.db"',
        'servers:',
        '  - name: x',
        '    type: passthrough',
        '    backend: { url: "http://127.0.0.1:9/mcp" }',
        '    policies: "<policies><inbound><frobnicate /></inbound></policies>"',
        '',
      ].join('\n'),
    );
    const p = run(['start', '-c', file, '--port', '0'], dir);
    // worker 0 refuses the policy and returns 2; the primary must exit with that code
    const code = await Promise.race([p.exit, sleep(15_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      for (const pid of childrenOf(p.child.pid!)) process.kill(pid, 'SIGKILL');
      p.child.kill('SIGKILL');
    }
    assert.equal(code, 2, `exit ${code}; stderr=${p.stderr}`);
    assert.match(p.stderr, /cluster-bad\.yaml:\d+:\d+: .*unknown policy <frobnicate>/);
    assert.ok(!p.logs.some((l) => l.msg === 'gatehouse listening'));
  });

  it('validate refuses workers > 1 with an in-memory SQLite store (exit 2, mentions workers)', async () => {
    const file = join(dir, 'cluster-memory.yaml');
    writeFileSync(file, ['gateway:', '  listen: "127.0.0.1:0"', '  workers: 2', 'store: "sqlite::memory:"', 'servers: []', ''].join('\n'));
    const p = run(['validate', '-c', file], dir);
    assert.equal(await p.exit, 2, p.stderr);
    // validate prints its problems on stdout (src/cli/commands/validate.ts)
    const printed = p.logs.map((l) => (typeof l.raw === 'string' ? l.raw : JSON.stringify(l))).join('\n') + '\n' + p.stderr;
    assert.match(printed, /cluster-memory\.yaml:3:\d+: gateway\.workers: several workers need a shared store/);
  });
});

describe('multi-process gateway on Redis and PostgreSQL (workers use the shared cache directly)', () => {
  const tag = `e2e${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const prefix = `gh-${tag}:`;
  let dir: string;
  let backend: EverythingServer;
  let gh: Proc;
  let url: string;
  let nextId = 5000;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-cluster-shared-'));
    backend = await startEverythingServer({ transport: 'streamable-http' });
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(
      file,
      [
        'gateway:',
        '  listen: "127.0.0.1:0"',
        '  workers: 2',
        '  drainTimeout: 5',
        `store: "postgres://postgres@127.0.0.1:5432/test?schema=${tag}"`,
        `cache: "redis://127.0.0.1:6379/0?prefix=${prefix}"`,
        'servers:',
        '  - name: s',
        '    type: passthrough',
        `    backend: { url: ${JSON.stringify(backend.url)} }`,
        '  - name: limited',
        '    type: passthrough',
        `    backend: { url: ${JSON.stringify(backend.url)} }`,
        `    policies: ${JSON.stringify(LIMITED_POLICY)}`,
        '',
      ].join('\n'),
    );
    gh = run(['start', '-c', file, '--port', '0'], dir);
    url = (await listening(gh)).url as string;
  });

  after(async () => {
    if (gh) await stopCluster(gh, 'SIGTERM');
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
    // leave nothing behind in the shared services
    const { Redis } = await import('ioredis');
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redis.connect();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${tag}" CASCADE`);
    await client.end();
  });

  it('sessions live in Redis: both workers serve one session; a DELETE ends it for both', async () => {
    const owners = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await mcpPost(`${url}/s/mcp`, INIT(i));
      assert.equal(r.status, 200, r.text);
      owners.add(header(r, 'mcp-session-id')!.slice(-1));
    }
    assert.deepEqual([...owners].sort(), ['0', '1'], 'both workers minted sessions');
    const sid = await openSession(`${url}/s/mcp`);
    for (let i = 0; i < 8; i++) await echoOk(`${url}/s/mcp`, sid, nextId++, `shared-${i}`);
    // the record is in Redis under the configured prefix
    const { Redis } = await import('ioredis');
    const redis = new Redis({ host: '127.0.0.1', port: 6379 });
    try {
      assert.ok((await redis.exists(`${prefix}mcp:session:${sid}`)) === 1, 'the session record is in Redis');
    } finally {
      await redis.quit();
    }
    const del = await fresh(`${url}/s/mcp`, { method: 'DELETE', headers: { 'mcp-session-id': sid, 'mcp-protocol-version': PROTOCOL } });
    assert.equal(del.status, 200, del.text);
    await sleep(100); // the invalidation reaches the other worker's near cache
    for (let i = 0; i < 4; i++) {
      const r = await mcpPost(`${url}/s/mcp`, echoCall(nextId++, 'after delete'), sid);
      assert.equal(r.status, 404, r.text);
    }
  });

  it('the rate limit counts in Redis across the workers: exactly 5 of 8 pass', async () => {
    const sid = await openSession(`${url}/limited/mcp`);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await mcpPost(`${url}/limited/mcp`, echoCall(nextId++, `l-${i}`), sid)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
  });

  it('/readyz reports the shared store and cache', async () => {
    const r = await fresh(`${url}/readyz`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), { status: 'ready', store: 'ok', cache: 'ok', draining: false });
  });
});
