/**
 * Fast MCP backend for `npm run bench`.
 *
 * Raw node:http, no SDK on the hot path, so that the backend is never the bottleneck of a
 * measurement. Speaks just enough of Streamable HTTP at `/mcp`:
 *   - `initialize`                 → InitializeResult + `Mcp-Session-Id` header
 *   - `notifications/*`            → 202 Accepted, empty body
 *   - `ping`                       → `{}`
 *   - `tools/list`                 → two tools (`echo`, `add`)
 *   - `tools/call` `echo`          → `{"content":[{"type":"text","text":<arguments.text>}]}`
 *   - GET /mcp                     → 405 (no server-initiated SSE stream offered)
 *   - DELETE /mcp                  → 200 (session terminated)
 * Every JSON-RPC answer is a single `application/json` body.
 *
 * Run as its own process: `node dist/bench/backend.js [--port N] [--host H]`; it prints one line
 * `{"event":"listening","host":…,"port":…}` on stdout once it accepts connections and exits on
 * SIGTERM/SIGINT or when its parent closes its stdin (so it never outlives the harness).
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

export const SUPPORTED_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'] as const;
export const LATEST_PROTOCOL_VERSION = '2025-11-25';

const TOOLS = [
  {
    name: 'echo',
    title: 'Echo',
    description: 'Returns the given text unchanged.',
    inputSchema: {
      type: 'object',
      properties: { text: { type: 'string', description: 'Text to echo back' } },
      required: ['text'],
    },
  },
  {
    name: 'add',
    title: 'Add',
    description: 'Adds two numbers.',
    inputSchema: {
      type: 'object',
      properties: { a: { type: 'number' }, b: { type: 'number' } },
      required: ['a', 'b'],
    },
  },
];

type JsonRpcId = string | number | null;
interface JsonRpcMessage {
  jsonrpc?: unknown;
  id?: JsonRpcId;
  method?: unknown;
  params?: unknown;
}

/** Answer for one JSON-RPC message, or undefined for a notification / response. */
function handleMessage(msg: JsonRpcMessage, ctx: { newSession: boolean }): unknown {
  const hasId = msg.id !== undefined && msg.id !== null;
  if (typeof msg.method !== 'string') return undefined; // a response from the client: accept silently
  if (!hasId) return undefined; // notification
  const id = msg.id as JsonRpcId;
  const params = (msg.params && typeof msg.params === 'object' ? msg.params : {}) as Record<string, unknown>;
  switch (msg.method) {
    case 'initialize': {
      const requested = params['protocolVersion'];
      const protocolVersion =
        typeof requested === 'string' && (SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(requested)
          ? requested
          : LATEST_PROTOCOL_VERSION;
      ctx.newSession = true;
      return {
        jsonrpc: '2.0',
        id,
        result: {
          protocolVersion,
          capabilities: { tools: { listChanged: false } },
          serverInfo: { name: 'gatehouse-bench-backend', title: 'Gatehouse bench backend', version: '1.0.0' },
          instructions: 'Benchmark backend: call echo with {"text": "..."}',
        },
      };
    }
    case 'ping':
      return { jsonrpc: '2.0', id, result: {} };
    case 'tools/list':
      return { jsonrpc: '2.0', id, result: { tools: TOOLS } };
    case 'tools/call': {
      const name = params['name'];
      const args = (params['arguments'] && typeof params['arguments'] === 'object'
        ? params['arguments']
        : {}) as Record<string, unknown>;
      if (name === 'echo') {
        const text = typeof args['text'] === 'string' ? args['text'] : String(args['text'] ?? '');
        return { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text }] } };
      }
      if (name === 'add') {
        const sum = Number(args['a']) + Number(args['b']);
        return { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: String(sum) }] } };
      }
      return {
        jsonrpc: '2.0',
        id,
        result: { content: [{ type: 'text', text: `Unknown tool: ${String(name)}` }], isError: true },
      };
    }
    default:
      return { jsonrpc: '2.0', id, error: { code: -32601, message: `Method not found: ${msg.method}` } };
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, extra?: Record<string, string>): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  };
  if (extra) Object.assign(headers, extra);
  res.writeHead(status, headers);
  res.end(text);
}

export function createBackendServer(): http.Server {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
      res.end('ok');
      return;
    }
    if (path !== '/mcp') {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    if (req.method === 'GET') {
      res.writeHead(405, { allow: 'POST, DELETE', 'content-length': 0 });
      res.end();
      return;
    }
    if (req.method === 'DELETE') {
      res.writeHead(200, { 'content-length': 0 });
      res.end();
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'GET, POST, DELETE', 'content-length': 0 });
      res.end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
      } catch {
        sendJson(res, 400, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
        return;
      }
      const ctx = { newSession: false };
      let answer: unknown;
      if (Array.isArray(parsed)) {
        const answers = parsed
          .map((m) => handleMessage((m ?? {}) as JsonRpcMessage, ctx))
          .filter((a) => a !== undefined);
        answer = answers.length > 0 ? answers : undefined;
      } else if (parsed && typeof parsed === 'object') {
        answer = handleMessage(parsed as JsonRpcMessage, ctx);
      } else {
        sendJson(res, 400, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } });
        return;
      }
      if (answer === undefined) {
        res.writeHead(202, { 'content-length': 0 });
        res.end();
        return;
      }
      sendJson(res, 200, answer, ctx.newSession ? { 'mcp-session-id': randomUUID() } : undefined);
    });
    req.on('error', () => res.destroy());
  });
  // Longer than any proxy's upstream keep-alive timeout (nginx: 60 s, undici: 4 s), so that a
  // proxy never reuses a connection the backend is closing (a POST is not retried → 502).
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  server.maxRequestsPerSocket = 0;
  return server;
}

async function main(argv: string[]): Promise<void> {
  let port = 0;
  let host = '127.0.0.1';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') port = Number(argv[++i]);
    else if (argv[i] === '--host') host = String(argv[++i]);
  }
  const server = createBackendServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const actualPort = addr && typeof addr === 'object' ? addr.port : port;
  process.stdout.write(JSON.stringify({ event: 'listening', host, port: actualPort, pid: process.pid }) + '\n');
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The harness keeps our stdin open; when it goes away (even via SIGKILL), we go too.
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exit(1);
  });
}
