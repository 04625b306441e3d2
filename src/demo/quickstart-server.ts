/**
 * Built-in demo MCP server that `gatehouse start` serves (behind the gateway) when no config file
 * exists: a small, genuinely useful SDK `McpServer` ("gatehouse-demo") over stateful Streamable HTTP
 * on a loopback port.
 *
 * Tools: echo, add, current_time (optional IANA time zone), random_uuid, word_count.
 * Resource: demo://readme. Prompt: summarize(text).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

export const DEMO_SERVER_NAME = 'gatehouse-demo';
export const DEMO_SERVER_VERSION = '1.0.0';

export interface DemoMcpServerOptions {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 0 = ephemeral). */
  port?: number;
  /** Sessions idle longer than this are closed (default 30 minutes). */
  sessionIdleMs?: number;
}

export interface DemoMcpServer {
  /** `http://HOST:PORT/mcp` */
  url: string;
  close(): Promise<void>;
}

const README = `# Gatehouse demo MCP server

This server ships with Gatehouse, a self-hosted MCP gateway that speaks the Azure API Management
policy language. \`gatehouse start\` without a config file runs it behind the gateway so you can try
the gateway right away.

## Connect

Point any MCP client that supports Streamable HTTP at the MCP URL that \`gatehouse start\` prints,
for example with the MCP Inspector:

    npx @modelcontextprotocol/inspector --cli <MCP URL> --transport http --method tools/list

## What is here

- Tools: \`echo\`, \`add\`, \`current_time\`, \`random_uuid\`, \`word_count\`
- Resource: \`demo://readme\` (this text)
- Prompt: \`summarize\` (argument \`text\`)

## Next steps

Write a \`gatehouse.yaml\` to proxy your own MCP servers or turn an OpenAPI document into MCP tools,
then add APIM policies (rate-limit-by-key, validate-jwt, set-header, …) globally, per server or per
tool. \`gatehouse validate\` checks the file; \`gatehouse policy test\` runs one request offline.
`;

function toolError(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

/**
 * Returns the zone name to report, or undefined if `zone` is not a time zone this runtime knows.
 * ICU maps some current names to legacy ones (Asia/Kolkata → Asia/Calcutta), so the caller's name
 * is kept unless ICU's differs only by letter case.
 */
function resolveTimeZone(zone: string): string | undefined {
  try {
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
    return resolved.toLowerCase() === zone.toLowerCase() ? resolved : zone;
  } catch {
    return undefined;
  }
}

function formatInZone(date: Date, timeZone: string): { local: string; offset: string } {
  const local = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  })
    .format(date)
    .replace(', ', 'T');
  const offsetPart = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' })
    .formatToParts(date)
    .find((p) => p.type === 'timeZoneName')?.value;
  const offset = offsetPart === 'GMT' || offsetPart === undefined ? '+00:00' : offsetPart.replace('GMT', '');
  return { local, offset };
}

/** Builds a fresh demo McpServer (one per session). */
export function createDemoMcpServer(): McpServer {
  const server = new McpServer(
    { name: DEMO_SERVER_NAME, version: DEMO_SERVER_VERSION, title: 'Gatehouse demo' },
    {
      instructions:
        'Demo MCP server bundled with Gatehouse. Use its tools to try the gateway: echo text, add numbers, ' +
        'get the current time in a time zone, generate UUIDs and count words. Read demo://readme for details.',
    },
  );

  server.registerTool(
    'echo',
    {
      title: 'Echo',
      description: 'Returns the given text unchanged. Handy to check that calls flow through the gateway.',
      inputSchema: { text: z.string().max(100_000).describe('Text to send back') },
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );

  server.registerTool(
    'add',
    {
      title: 'Add numbers',
      description: 'Adds two numbers and returns the sum.',
      inputSchema: {
        a: z.number().describe('First addend'),
        b: z.number().describe('Second addend'),
      },
      outputSchema: { sum: z.number().describe('a + b') },
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ a, b }) => {
      const sum = a + b;
      if (!Number.isFinite(sum)) return toolError(`The sum of ${a} and ${b} is not a finite number.`);
      return { content: [{ type: 'text', text: String(sum) }], structuredContent: { sum } };
    },
  );

  server.registerTool(
    'current_time',
    {
      title: 'Current time',
      description:
        'Returns the current date and time, in UTC or in the given IANA time zone (for example "Europe/Paris" or "America/New_York").',
      inputSchema: {
        timezone: z
          .string()
          .min(1)
          .max(64)
          .optional()
          .describe('IANA time zone name; defaults to UTC'),
      },
      outputSchema: {
        iso: z.string().describe('Current instant, ISO 8601 in UTC'),
        timezone: z.string().describe('Time zone used'),
        local: z.string().describe('Local date-time in that zone, YYYY-MM-DDTHH:mm:ss'),
        offset: z.string().describe('UTC offset of that zone at this instant, e.g. +02:00'),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ timezone }) => {
      const zone = resolveTimeZone(timezone ?? 'UTC');
      if (!zone) {
        return toolError(`Unknown time zone "${timezone}". Use an IANA name such as "Europe/Paris" or "UTC".`);
      }
      const now = new Date();
      const { local, offset } = formatInZone(now, zone);
      const result = { iso: now.toISOString(), timezone: zone, local, offset };
      return {
        content: [{ type: 'text', text: `${local}${offset} (${zone}); UTC ${result.iso}` }],
        structuredContent: result,
      };
    },
  );

  server.registerTool(
    'random_uuid',
    {
      title: 'Random UUID',
      description: 'Generates random (version 4) UUIDs.',
      inputSchema: {
        count: z.number().int().min(1).max(100).optional().describe('How many UUIDs to generate (1-100, default 1)'),
      },
      outputSchema: { uuids: z.array(z.string()).describe('The generated UUIDs') },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ count }) => {
      const uuids = Array.from({ length: count ?? 1 }, () => randomUUID());
      return { content: [{ type: 'text', text: uuids.join('\n') }], structuredContent: { uuids } };
    },
  );

  server.registerTool(
    'word_count',
    {
      title: 'Word count',
      description: 'Counts the words, characters and lines of a text.',
      inputSchema: { text: z.string().max(1_000_000).describe('Text to analyse') },
      outputSchema: {
        words: z.number().int(),
        characters: z.number().int(),
        lines: z.number().int(),
      },
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ text }) => {
      const trimmed = text.trim();
      const words = trimmed === '' ? 0 : trimmed.split(/\s+/u).length;
      const characters = [...text].length;
      const lines = text === '' ? 0 : text.split(/\r\n|\r|\n/).length;
      const counts = { words, characters, lines };
      return {
        content: [{ type: 'text', text: `${words} words, ${characters} characters, ${lines} lines` }],
        structuredContent: counts,
      };
    },
  );

  server.registerResource(
    'readme',
    'demo://readme',
    {
      title: 'About this demo',
      description: 'What Gatehouse is and how to connect an MCP client to this demo server',
      mimeType: 'text/markdown',
    },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/markdown', text: README }] }),
  );

  server.registerPrompt(
    'summarize',
    {
      title: 'Summarize text',
      description: 'Asks the model for a short summary of the given text',
      argsSchema: { text: z.string().min(1).describe('The text to summarize') },
    },
    async ({ text }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text: `Summarize the following text in three sentences or fewer. Keep names, numbers and dates exact.\n\n${text}`,
          },
        },
      ],
    }),
  );

  return server;
}

// ------------------------------------------------------------------ HTTP plumbing

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const MAX_BODY_BYTES = 4 * 1024 * 1024;

function hostnameOf(hostHeader: string): string {
  const value = hostHeader.trim().toLowerCase();
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    return end > 0 ? value.slice(0, end + 1) : value;
  }
  const colon = value.indexOf(':');
  return colon >= 0 ? value.slice(0, colon) : value;
}

/** DNS-rebinding protection for loopback binds: Host and (if sent) Origin must name the loopback. */
function rebindingProblem(headers: IncomingHttpHeaders, allowed: Set<string>): string | undefined {
  if (!headers.host || !allowed.has(hostnameOf(headers.host))) return `Invalid Host header: ${headers.host ?? '(missing)'}`;
  if (headers.origin !== undefined) {
    let host: string;
    try {
      host = new URL(headers.origin).hostname.toLowerCase();
    } catch {
      return `Invalid Origin header: ${headers.origin}`;
    }
    if (!allowed.has(host)) return `Invalid Origin header: ${headers.origin}`;
  }
  return undefined;
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

async function readJsonBody(req: IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false; status: number; message: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) return { ok: false, status: 413, message: 'Request body too large' };
    chunks.push(buf);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { ok: false, status: 400, message: 'Parse error: body is not valid JSON' };
  }
}

function isLoopbackBind(host: string): boolean {
  return LOOPBACK.has(host.toLowerCase()) || host.startsWith('127.');
}

/**
 * Starts the demo server on `http://HOST:PORT/mcp` (stateful Streamable HTTP: POST, GET stream, DELETE).
 */
export async function startDemoMcpServer(opts: DemoMcpServerOptions = {}): Promise<DemoMcpServer> {
  const host = opts.host ?? '127.0.0.1';
  const idleMs = opts.sessionIdleMs ?? 30 * 60_000;
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const checkHost = isLoopbackBind(host);
  const allowed = new Set([...LOOPBACK, hostnameOf(urlHost)]);

  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; lastSeen: number }>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://demo.invalid').pathname;
    if (path !== '/mcp') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
      return;
    }
    if (checkHost) {
      const problem = rebindingProblem(req.headers, allowed);
      if (problem) {
        jsonRpcError(res, 403, -32000, `Forbidden: ${problem}`);
        return;
      }
    }
    if (req.method !== 'POST' && req.method !== 'GET' && req.method !== 'DELETE') {
      res.writeHead(405, { allow: 'GET, POST, DELETE', 'content-type': 'text/plain' }).end('Method not allowed');
      return;
    }

    let body: unknown;
    if (req.method === 'POST') {
      const parsed = await readJsonBody(req);
      if (!parsed.ok) {
        jsonRpcError(res, parsed.status, parsed.status === 400 ? -32700 : -32000, parsed.message);
        return;
      }
      body = parsed.value;
    }

    const header = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(header) ? header[0] : header;
    if (sessionId !== undefined) {
      const session = sessions.get(sessionId);
      if (!session) {
        jsonRpcError(res, 404, -32001, 'Session not found');
        return;
      }
      session.lastSeen = Date.now();
      await session.transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      jsonRpcError(res, 400, -32000, 'Bad Request: send an initialize request first, then use its Mcp-Session-Id');
      return;
    }

    const server = createDemoMcpServer();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, lastSeen: Date.now() });
      },
    });
    let closed = false;
    transport.onclose = () => {
      if (closed) return;
      closed = true;
      if (transport.sessionId) sessions.delete(transport.sessionId);
      void server.close().catch(() => undefined);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    if (!transport.sessionId) await transport.close().catch(() => undefined);
  }

  const httpServer = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      jsonRpcError(res, 500, -32603, `Internal error: ${err instanceof Error ? err.message : String(err)}`);
    });
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(opts.port ?? 0, host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });

  const sweeper = setInterval(() => {
    const cutoff = Date.now() - idleMs;
    for (const { transport, lastSeen } of sessions.values()) {
      if (lastSeen < cutoff) void transport.close().catch(() => undefined);
    }
  }, Math.min(60_000, Math.max(1_000, Math.floor(idleMs / 2))));
  sweeper.unref();

  const { port } = httpServer.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}/mcp`,
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        await Promise.all([...sessions.values()].map(({ transport }) => transport.close().catch(() => undefined)));
        httpServer.closeAllConnections();
        await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      })();
      return closing;
    },
  };
}
