/**
 * Request/reply over the cluster's IPC channel, for a worker asking its primary: each call gets an
 * id, its reply settles it, and a primary that does not answer within the deadline (or a channel
 * that cannot send) fails the call with GW_ERR_UNAVAILABLE — a 503 for the request that needed it.
 */
import { GatewayError } from '../errors/gateway-error.js';

interface Pending<R> {
  resolve(reply: R): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class IpcCalls<M, R extends { readonly id: number }> {
  #next = 1;
  readonly #pending = new Map<number, Pending<R>>();

  constructor(
    private readonly send: (message: M) => void,
    private readonly deadlineMs: number,
    /** what the caller was waiting for, for the error message ("the shared cache") */
    private readonly what: string,
  ) {}

  /** send the request `build` makes for its id, and wait for the reply */
  call(build: (id: number) => M): Promise<R> {
    const id = this.#next++;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new GatewayError('GW_ERR_UNAVAILABLE', `Service Unavailable: ${this.what} did not answer`));
      }, this.deadlineMs);
      this.#pending.set(id, { resolve, reject, timer });
      try {
        this.send(build(id));
      } catch (err) {
        this.#pending.delete(id);
        clearTimeout(timer);
        reject(new GatewayError('GW_ERR_UNAVAILABLE', `Service Unavailable: ${this.what} is unreachable`, { cause: err }));
      }
    });
  }

  /** a reply arrived (one for no pending call — late, after its deadline — is dropped) */
  settle(reply: R): void {
    const p = this.#pending.get(reply.id);
    if (!p) return;
    this.#pending.delete(reply.id);
    clearTimeout(p.timer);
    p.resolve(reply);
  }

  /** fail every pending call (the channel is being closed) */
  rejectAll(err: Error): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#pending.clear();
  }
}
