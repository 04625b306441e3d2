/**
 * Writers for messages going to a client. A request's answer starts undecided: if the first message
 * is the final response it goes out as one application/json body, otherwise the response becomes an
 * SSE stream (MCP 2025-11-25 §Sending Messages to the Server, item 5).
 */
import type { ServerResponse } from 'node:http';
import type { MessageSink } from './upstream-sse.js';
import { formatMessageEvent } from './sse.js';

export class RequestReplySink implements MessageSink {
  #mode: 'undecided' | 'sse' | 'done' = 'undecided';

  constructor(private readonly res: ServerResponse, private readonly headers: Record<string, string>, private readonly finalIds: Set<string | number>) {}

  write(message: Record<string, unknown>): void {
    if (this.#mode === 'done' || this.res.destroyed) return;
    const isFinal = ('result' in message || 'error' in message) && this.finalIds.has(message.id as string | number);
    if (isFinal) this.finalIds.delete(message.id as string | number);
    const last = isFinal && this.finalIds.size === 0;
    if (this.#mode === 'undecided' && last) {
      const text = JSON.stringify(message);
      this.res.writeHead(200, { ...this.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      this.res.end(text);
      this.#mode = 'done';
      return;
    }
    if (this.#mode === 'undecided') {
      this.res.writeHead(200, { ...this.headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      this.#mode = 'sse';
    }
    this.res.write(formatMessageEvent(message));
    if (last) {
      this.res.end();
      this.#mode = 'done';
    }
  }

  get started(): boolean {
    return this.#mode !== 'undecided';
  }
}

/** A long-lived SSE stream (a GET stream, or the legacy transport's stream). */
export class StreamSink implements MessageSink {
  constructor(private readonly res: ServerResponse) {}
  write(message: Record<string, unknown>): void {
    if (!this.res.destroyed && !this.res.writableEnded) this.res.write(formatMessageEvent(message));
  }
}
