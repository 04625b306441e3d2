/**
 * The `node-floor` reference profile of `npm run bench`: the cheapest Node.js proxy that still does
 * what any MCP-aware gateway must do per request — so that its throughput is the floor a Node
 * gateway is held to on this machine (Node's HTTP server + an undici client, nothing else).
 *
 * Per request: node:http server → read the whole body → JSON.parse it to find the JSON-RPC method
 * (an MCP-aware proxy has to look at it) → undici `Pool.dispatch` to the backend with the body and
 * the `content-type`, `accept`, `Mcp-Session-Id` and `MCP-Protocol-Version` headers → the backend's
 * answer collected and written back in one piece with `content-length` (and its `content-type` and
 * `Mcp-Session-Id`). No routing table, no policies, no logging, no metrics. `GET /healthz` is
 * answered locally. A body that is not JSON gets a JSON-RPC parse error (400).
 *
 * With `--workers N` (N > 1) the process is a node:cluster primary that forks N workers sharing the
 * listening port (cluster's default scheduling, as Gatehouse's `gateway.workers` uses); the primary
 * only supervises.
 *
 * Run as its own process: `node dist/bench/floor-proxy.js --backend http://127.0.0.1:PORT [--port N]
 * [--host H] [--workers N]`; it prints one line `{"event":"listening","port":…,"pid":…,"workers":[…]}`
 * on stdout once every worker accepts connections, and exits on SIGTERM/SIGINT or when its parent
 * closes its stdin (so it never outlives the harness).
 */
import cluster from 'node:cluster';
import http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { pathToFileURL } from 'node:url';
import { Pool, type Dispatcher } from 'undici';

interface FloorArgs {
  port: number;
  host: string;
  backend: string;
  workers: number;
}

function parseFloorArgs(argv: string[]): FloorArgs {
  const a: FloorArgs = { port: 0, host: '127.0.0.1', backend: '', workers: 1 };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const v = argv[++i];
    if (f === '--port') a.port = Number(v);
    else if (f === '--host') a.host = String(v);
    else if (f === '--backend') a.backend = String(v);
    else if (f === '--workers') a.workers = Math.max(1, Math.floor(Number(v)) || 1);
    else throw new Error(`unknown option ${String(f)}`);
  }
  if (!a.backend) throw new Error('--backend URL is required');
  return a;
}

const FORWARDED = ['content-type', 'accept', 'mcp-session-id', 'mcp-protocol-version'] as const;

/** The JSON-RPC method of a message (or of the first message of a batch). */
function rpcMethod(parsed: unknown): string | undefined {
  const msg = Array.isArray(parsed) ? (parsed[0] as unknown) : parsed;
  const m = msg && typeof msg === 'object' ? (msg as { method?: unknown }).method : undefined;
  return typeof m === 'string' ? m : undefined;
}

class FloorHandler implements Dispatcher.DispatchHandler {
  #status = 0;
  #type: string | undefined;
  #session: string | undefined;
  #chunks: Buffer[] = [];
  #size = 0;

  constructor(private readonly res: http.ServerResponse) {}

  onRequestStart(): void {}

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.#status = statusCode;
    const t = headers['content-type'];
    const s = headers['mcp-session-id'];
    this.#type = Array.isArray(t) ? t[0] : t;
    this.#session = Array.isArray(s) ? s[0] : s;
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
  }

  onResponseEnd(): void {
    const body = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#size);
    const headers: Record<string, string> = { 'content-length': String(body.length) };
    if (this.#type) headers['content-type'] = this.#type;
    if (this.#session) headers['mcp-session-id'] = this.#session;
    this.res.writeHead(this.#status, headers);
    this.res.end(body);
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.res.headersSent || this.res.destroyed) {
      this.res.destroy();
      return;
    }
    const text = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32603, message: `backend: ${err.message}` } });
    this.res.writeHead(502, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
    this.res.end(text);
  }
}

export function createFloorServer(backendUrl: string): { server: http.Server; pool: Pool } {
  const backend = new URL(backendUrl);
  const backendPath = `${backend.pathname}${backend.search}`;
  // as Gatehouse's upstream pools: keep-alive, no pipelining
  const pool = new Pool(backend.origin, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 });
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      const headers: Record<string, string> = {};
      for (const h of FORWARDED) {
        const v = req.headers[h];
        if (typeof v === 'string') headers[h] = v;
      }
      if (req.method === 'POST') {
        let method: string | undefined;
        try {
          method = rpcMethod(JSON.parse(body.toString('utf8')));
        } catch {
          const text = '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}';
          res.writeHead(400, { 'content-type': 'application/json', 'content-length': String(text.length) });
          res.end(text);
          return;
        }
        // what an MCP-aware proxy does with it (route, authorize, log) is not the floor's business;
        // a client response (no method) passes through as well
        void method;
      }
      pool.dispatch(
        {
          path: backendPath,
          method: (req.method ?? 'POST') as Dispatcher.HttpMethod,
          headers,
          body: size > 0 ? body : null,
          headersTimeout: 60_000,
          bodyTimeout: 0,
        },
        new FloorHandler(res),
      );
    });
  });
  // like nginx's keepalive_timeout: the load generator's connections are never closed under it
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  server.maxRequestsPerSocket = 0;
  return { server, pool };
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address();
      resolve(addr && typeof addr === 'object' ? addr.port : port);
    });
  });
}

function exitWithParent(stop: () => void): void {
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The harness keeps our stdin open; when it goes away (even via SIGKILL), we go too.
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}

async function main(argv: string[]): Promise<void> {
  if (cluster.isWorker) {
    // a worker: same server; cluster shares the primary's port; the primary's env carries the args
    const a = JSON.parse(process.env['FLOOR_PROXY_ARGS'] ?? '{}') as FloorArgs;
    const { server } = createFloorServer(a.backend);
    await listen(server, a.port, a.host);
    // workers exit when the primary goes (cluster disconnects the IPC channel)
    return;
  }
  const a = parseFloorArgs(argv);
  if (a.workers <= 1) {
    const { server, pool } = createFloorServer(a.backend);
    const port = await listen(server, a.port, a.host);
    process.stdout.write(JSON.stringify({ event: 'listening', host: a.host, port, pid: process.pid, workers: [] }) + '\n');
    exitWithParent(() => {
      server.close();
      server.closeAllConnections();
      void pool.destroy();
      process.exit(0);
    });
    return;
  }
  // primary: bind the port here first (port 0 → a real port), then fork the workers on it
  if (a.port === 0) {
    const probe = http.createServer();
    a.port = await listen(probe, 0, a.host);
    await new Promise<void>((r) => probe.close(() => r()));
  }
  const pids: number[] = [];
  let listening = 0;
  let stopping = false;
  const stop = (): void => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    process.exit(0);
  };
  cluster.setupPrimary({ args: [] });
  for (let i = 0; i < a.workers; i++) {
    const w = cluster.fork({ FLOOR_PROXY_ARGS: JSON.stringify(a) });
    pids.push(w.process.pid ?? -1);
  }
  cluster.on('listening', () => {
    if (++listening === a.workers) {
      process.stdout.write(JSON.stringify({ event: 'listening', host: a.host, port: a.port, pid: process.pid, workers: pids }) + '\n');
    }
  });
  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    process.stderr.write(`floor-proxy: worker ${w.process.pid} exited (${code ?? signal}); stopping\n`);
    stop();
  });
  exitWithParent(stop);
}

if (cluster.isWorker || (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exit(1);
  });
}
