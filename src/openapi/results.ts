/** An HTTP response → the MCP tool result (`toToolResult`); `errorResult`. */
import { STATUS_CODES } from 'node:http';
import { TextDecoder } from 'node:util';
import type { OpenApiTool, ToolResult } from './types.js';
import type { RestResponse } from './send.js';
import { isJsonType, mediaType } from './media-types.js';
import { isPlainObject } from './argument-values.js';

const ERROR_EXCERPT_BYTES = 2048;
/** JSON bodies up to this size are pretty-printed in the text content (larger ones as sent) */
const PRETTY_JSON_BYTES = 64 * 1024;

/** an MCP tool error result with one text item */
export function errorResult(message: string): ToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

function charsetOf(contentType: string): string {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  return m?.[1] ?? 'utf-8';
}

function decodeText(buf: Buffer, contentType: string, partial: boolean): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charsetOf(contentType));
  } catch {
    decoder = new TextDecoder('utf-8');
  }
  let s = decoder.decode(buf);
  // a cut multi-byte character at the end of a partial body
  if (partial) s = s.replace(/\uFFFD+$/, '');
  return s;
}

function isTextType(mt: string): boolean {
  return (
    mt.startsWith('text/') ||
    mt === 'application/xml' ||
    mt.endsWith('+xml') ||
    mt === 'application/yaml' ||
    mt === 'application/x-yaml' ||
    mt === 'application/javascript' ||
    mt === 'application/ecmascript' ||
    mt === 'application/x-www-form-urlencoded' ||
    mt === 'application/graphql' ||
    mt === 'application/problem+xml'
  );
}

/** UTF-8 without control characters other than whitespace: probably text */
function looksLikeText(buf: Buffer): boolean {
  const sample = buf.subarray(0, 4096);
  let s: string;
  try {
    s = new TextDecoder('utf-8', { fatal: true }).decode(sample);
  } catch {
    // a multi-byte character cut at the sample's end is fine
    if (sample.length < buf.length) s = new TextDecoder('utf-8').decode(sample).replace(/\uFFFD+$/, '');
    else return false;
    if (s.includes('\uFFFD')) return false;
  }
  return !/[\x00-\x08\x0e-\x1f\x7f]/.test(s);
}

function truncationNote(n: number): Record<string, unknown> {
  return { type: 'text', text: `(response truncated at ${n} bytes)` };
}

function statusLine(status: number): string {
  const reason = STATUS_CODES[status];
  return reason ? `HTTP ${status} ${reason}` : `HTTP ${status}`;
}

function errorExcerpt(res: RestResponse, mt: string): string {
  if (res.body.length === 0) return '';
  const textual = isJsonType(mt) || isTextType(mt) || (mt === '' && looksLikeText(res.body));
  if (!textual) return `(${res.body.length}${res.truncated ? '+' : ''} bytes of ${mt || 'binary data'})`;
  const cut = res.body.length > ERROR_EXCERPT_BYTES;
  const s = decodeText(res.body.subarray(0, ERROR_EXCERPT_BYTES), res.contentType, cut).trim();
  return cut || res.truncated ? `${s}…` : s;
}

function syntheticUri(tool: OpenApiTool, res: RestResponse): string {
  const cd = res.headers['content-disposition'];
  const m = cd ? /filename\s*=\s*"?([^";]+)"?/i.exec(cd) : null;
  const file = m?.[1] ? `/${encodeURIComponent(m[1].trim())}` : '';
  return `openapi://${encodeURIComponent(tool.name)}/response${file}`;
}

/** The MCP tool result of an HTTP response (see the module comment for the mapping). */
export function toToolResult(tool: OpenApiTool, res: RestResponse): ToolResult {
  const mt = mediaType(res.contentType);

  if (res.status < 200 || res.status > 299) {
    let text = statusLine(res.status);
    if (res.status >= 300 && res.status < 400 && res.headers.location) {
      text += ` (redirect to ${res.headers.location.slice(0, 500)} not followed)`;
    }
    const excerpt = errorExcerpt(res, mt);
    if (excerpt) text += `: ${excerpt}`;
    return errorResult(text);
  }

  if (res.body.length === 0) return { content: [{ type: 'text', text: '(no content)' }] };

  const content: Record<string, unknown>[] = [];
  const note = res.truncated ? [truncationNote(res.body.length)] : [];

  if (isJsonType(mt)) {
    const text = decodeText(res.body, res.contentType, res.truncated);
    if (!res.truncated) {
      let value: unknown;
      let parsed = false;
      try {
        value = JSON.parse(text);
        parsed = true;
      } catch {
        // not JSON after all: returned as text
      }
      if (parsed) {
        const shown = res.body.length <= PRETTY_JSON_BYTES ? JSON.stringify(value, null, 2) : text;
        const result: { content: Record<string, unknown>[]; structuredContent?: Record<string, unknown> } = {
          content: [{ type: 'text', text: shown }],
        };
        if (tool.outputSchema) {
          if (tool.outputWrapped) result.structuredContent = { result: value };
          else if (isPlainObject(value)) result.structuredContent = value;
        }
        return result;
      }
    }
    content.push({ type: 'text', text });
    return { content: [...content, ...note] };
  }

  if (isTextType(mt) || (mt === '' && looksLikeText(res.body))) {
    content.push({ type: 'text', text: decodeText(res.body, res.contentType, res.truncated) });
    return { content: [...content, ...note] };
  }

  if (res.truncated) {
    // a cut image or file is garbage: say what it was instead
    return {
      content: [
        { type: 'text', text: `(${mt || 'binary'} response of more than ${res.body.length} bytes not returned)` },
        truncationNote(res.body.length),
      ],
    };
  }

  const data = res.body.toString('base64');
  if (mt.startsWith('image/')) return { content: [{ type: 'image', data, mimeType: mt }] };
  return {
    content: [
      { type: 'resource', resource: { uri: syntheticUri(tool, res), mimeType: mt || 'application/octet-stream', blob: data } },
    ],
  };
}
