/**
 * Small MCP-over-HTTP helpers the gateway tests share: raw Streamable HTTP POSTs (no SDK client),
 * an `initialize` that opens a session, and parsing of a JSON or SSE answer into its JSON-RPC
 * messages.
 */
import assert from 'node:assert/strict';

/** the Accept header a Streamable HTTP client must send */
export const ACCEPT = 'application/json, text/event-stream';

/** an `initialize` request for protocol 2025-11-25 */
export const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } };

export interface Reply {
  status: number;
  headers: Headers;
  /** the whole body as text */
  text: string;
  /** the body parsed as JSON, undefined when it is not JSON (an SSE stream, an empty body, …) */
  json: unknown;
  /** milliseconds from sending the request to the end of the body */
  ms: number;
}

export interface PostOptions {
  /** abort the request (and the body read) */
  signal?: AbortSignal;
  /** fetch's redirect mode; the default follows redirects */
  redirect?: RequestInit['redirect'];
}

/** any request; the body is read whole */
export async function send(url: string, init: RequestInit): Promise<Reply> {
  const t0 = performance.now();
  const res = await fetch(url, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, ms: performance.now() - t0 };
}

/**
 * POST a JSON-RPC body with `content-type: application/json` and the MCP Accept header (both can be
 * overridden by `headers`). A string body is sent as it is (for malformed bodies); anything else is
 * JSON-encoded.
 */
export function post(url: string, body: unknown, headers: Record<string, string> = {}, opts: PostOptions = {}): Promise<Reply> {
  return send(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.redirect ? { redirect: opts.redirect } : {}),
  });
}

/** `initialize` (asserting a 200 with a session id) and return the Mcp-Session-Id */
export async function session(url: string, headers: Record<string, string> = {}, opts: PostOptions = {}): Promise<string> {
  const r = await post(url, INIT, headers, opts);
  assert.equal(r.status, 200, r.text);
  const sid = r.headers.get('mcp-session-id');
  assert.ok(sid, 'initialize answered with an Mcp-Session-Id');
  return sid;
}

/** the `data:` messages of an SSE body */
function sseMessages(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: ') && l.length > 6)
    .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
}

/** the JSON-RPC messages of a reply: its JSON body, or every message of its SSE stream */
export function messages(r: Reply): Record<string, unknown>[] {
  if (r.headers.get('content-type')?.startsWith('application/json')) return [r.json as Record<string, unknown>];
  return sseMessages(r.text);
}

/** the last JSON-RPC message of a JSON or SSE answer (the text itself when it is JSON) */
export function lastMessage(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    const data = text.split('\n').filter((l) => l.startsWith('data: ') && l.length > 6);
    assert.ok(data.length > 0, `no JSON-RPC message in ${JSON.stringify(text.slice(0, 300))}`);
    return JSON.parse(data.at(-1)!.slice(6)) as Record<string, unknown>;
  }
}

/** the text of the first content item of a tools/call result */
export function toolText(r: Reply): string {
  const m = lastMessage(r.text);
  assert.ok(m.result, `a tool result, got ${r.status} ${r.text.slice(0, 300)}`);
  return (m.result as { content: { text: string }[] }).content[0]!.text;
}
