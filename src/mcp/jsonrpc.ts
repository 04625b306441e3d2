/**
 * JSON-RPC 2.0 envelopes as MCP uses them: classify once per request so the rest of the gateway
 * reads `kind`, `method`, `id` and the tool name without re-parsing.
 */
import { JSONRPC } from '../errors/gateway-error.js';

export type JsonRpcId = string | number;

export interface JsonRpcMessageInfo {
  readonly kind: 'request' | 'notification' | 'response';
  readonly id: JsonRpcId | undefined;
  readonly method: string | undefined;
  /** `params.name` of a tools/call request */
  readonly toolName: string | undefined;
  readonly message: Record<string, unknown>;
}

const isId = (v: unknown): v is JsonRpcId => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

/** Classify one parsed JSON value; undefined when it is not a valid JSON-RPC 2.0 message. */
export function classify(value: unknown): JsonRpcMessageInfo | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return undefined;
  if (typeof m.method === 'string') {
    if (m.params !== undefined && (typeof m.params !== 'object' || m.params === null)) return undefined;
    if ('id' in m) {
      if (!isId(m.id)) return undefined;
      let toolName: string | undefined;
      if (m.method === 'tools/call') {
        const name = (m.params as Record<string, unknown> | undefined)?.name;
        if (typeof name !== 'string') return undefined;
        toolName = name;
      }
      return { kind: 'request', id: m.id, method: m.method, toolName, message: m };
    }
    return { kind: 'notification', id: undefined, method: m.method, toolName: undefined, message: m };
  }
  if ('result' in m || 'error' in m) {
    if (!isId(m.id) && m.id !== null) return undefined;
    return { kind: 'response', id: (m.id ?? undefined) as JsonRpcId | undefined, method: undefined, toolName: undefined, message: m };
  }
  return undefined;
}

export function errorResponse(id: JsonRpcId | null | undefined, code: number, message: string, data?: unknown): Record<string, unknown> {
  const error: Record<string, unknown> = { code, message };
  if (data !== undefined) error.data = data;
  return { jsonrpc: '2.0', id: id ?? null, error };
}

export const parseError = (message = 'Parse error: invalid JSON') => errorResponse(null, JSONRPC.PARSE_ERROR, message);
export const invalidRequest = (message: string, id: JsonRpcId | null = null) => errorResponse(id, JSONRPC.INVALID_REQUEST, message);
