/**
 * Server-Sent Events framing (WHATWG HTML §9.2): an incremental parser that yields each event as
 * soon as its blank line arrives (no buffering of the whole stream), and a serializer.
 */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
  retry?: number;
}

const LF = 10;
const CR = 13;

export class SseParser {
  #buf = '';
  #data: string[] = [];
  #event: string | undefined;
  #id: string | undefined;
  #retry: number | undefined;
  #hasField = false;
  #bytes = 0;

  /** maxEventBytes bounds one event so a hostile backend can't grow memory without limit */
  constructor(private readonly onEvent: (e: SseEvent) => void, private readonly maxEventBytes = 16 * 1024 * 1024) {}

  push(chunk: string): void {
    this.#buf += chunk;
    this.#bytes += chunk.length;
    if (this.#bytes > this.maxEventBytes) throw new Error('SSE event exceeds the size limit');
    let start = 0;
    const buf = this.#buf;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      // a CR at the very end might be the first half of CRLF: wait for more
      if (c === CR && i === buf.length - 1) break;
      this.#line(buf.slice(start, i));
      if (c === CR && buf.charCodeAt(i + 1) === LF) i++;
      start = i + 1;
    }
    this.#buf = buf.slice(start);
  }

  #line(line: string): void {
    if (line === '') {
      if (this.#hasField) {
        const e: SseEvent = { data: this.#data.join('\n') };
        if (this.#event !== undefined) e.event = this.#event;
        if (this.#id !== undefined) e.id = this.#id;
        if (this.#retry !== undefined) e.retry = this.#retry;
        this.#data = [];
        this.#event = undefined;
        this.#id = undefined;
        this.#retry = undefined;
        this.#hasField = false;
        this.#bytes = this.#buf.length;
        this.onEvent(e);
      }
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data': this.#data.push(value); this.#hasField = true; break;
      case 'event': this.#event = value; this.#hasField = true; break;
      case 'id': if (!value.includes('\0')) { this.#id = value; this.#hasField = true; } break;
      case 'retry': if (/^\d+$/.test(value)) { this.#retry = Number(value); this.#hasField = true; } break;
      default: break;
    }
  }
}

/** Serialize one event. Multi-line data becomes several data: lines; ids/events can't hold newlines. */
export function formatSse(e: SseEvent): string {
  let out = '';
  if (e.event !== undefined) out += `event: ${e.event.replace(/[\r\n]/g, '')}\n`;
  if (e.id !== undefined) out += `id: ${e.id.replace(/[\r\n]/g, '')}\n`;
  if (e.retry !== undefined) out += `retry: ${e.retry}\n`;
  const data = e.data;
  if (data.indexOf('\n') === -1 && data.indexOf('\r') === -1) out += `data: ${data}\n`;
  else for (const line of data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return out + '\n';
}

export const formatMessageEvent = (message: unknown, id?: string): string =>
  formatSse(id === undefined ? { event: 'message', data: JSON.stringify(message) } : { event: 'message', id, data: JSON.stringify(message) });
