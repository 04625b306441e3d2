/**
 * The Streamable HTTP request checks every `/NAME/mcp` endpoint shares (MCP 2025-11-25 §Transports):
 * the protocol-version header, the session header, and a POST's Accept / Content-Type / JSON body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors/gateway-error.js';
import { acceptsBoth, isJsonContentType, readBody } from '../server/http-util.js';
import { parseError } from './jsonrpc.js';
import { STREAMABLE_VERSIONS } from './protocol.js';
import type { SessionRecord, SessionStore } from './sessions.js';

/** MCP-Protocol-Version must be one we speak when present (checklist 47). */
export function checkVersionHeader(req: IncomingMessage): void {
  const v = req.headers['mcp-protocol-version'];
  if (v !== undefined && (Array.isArray(v) || !STREAMABLE_VERSIONS.has(v))) {
    throw new GatewayError('GW_ERR_PROTOCOL_VERSION', `Bad Request: unsupported MCP-Protocol-Version (supported: ${[...STREAMABLE_VERSIONS].join(', ')})`);
  }
}

/** the request's session: 400 without the header, 404 when unknown or another server's (or transport's) */
export async function requireSession(req: IncomingMessage, sessions: SessionStore, server: string, downstream?: SessionRecord['downstream']): Promise<{ id: string; record: SessionRecord }> {
  const raw = req.headers['mcp-session-id'];
  if (raw === undefined) throw new GatewayError('GW_ERR_SESSION_REQUIRED', 'Bad Request: Mcp-Session-Id header is required');
  if (Array.isArray(raw)) throw new GatewayError('GW_ERR_BAD_REQUEST', 'Bad Request: Mcp-Session-Id header must be a single value');
  const record = await sessions.get(raw);
  // a session of another server, or of the other transport, is as unknown as a made-up one
  if (!record || record.server !== server || (downstream !== undefined && record.downstream !== downstream)) {
    throw new GatewayError('GW_ERR_SESSION_NOT_FOUND', 'Session not found', { jsonRpcCode: -32001 });
  }
  return { id: raw, record };
}

/**
 * A POST's preamble: Accept lists both media types (406), the body is JSON (415), the version
 * header is known (400), the body fits (413) and parses — a parse error is answered here (400
 * JSON-RPC -32700) and gives undefined.
 */
export async function readJsonPost(req: IncomingMessage, res: ServerResponse, maxBodyBytes: number, ctx: { errorCode?: string }): Promise<{ value: unknown; body: Buffer } | undefined> {
  if (!acceptsBoth(req.headers.accept)) {
    throw new GatewayError('GW_ERR_NOT_ACCEPTABLE', 'Not Acceptable: Client must accept both application/json and text/event-stream');
  }
  if (!isJsonContentType(req.headers['content-type'])) {
    throw new GatewayError('GW_ERR_UNSUPPORTED_MEDIA_TYPE', 'Unsupported Media Type: Content-Type must be application/json');
  }
  checkVersionHeader(req);
  const body = await readBody(req, maxBodyBytes);
  try {
    return { value: JSON.parse(body.toString('utf8')), body };
  } catch {
    ctx.errorCode = 'GW_ERR_PARSE';
    const text = JSON.stringify(parseError());
    res.writeHead(400, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
    res.end(text);
    return undefined;
  }
}
