/**
 * Per-request state of a policy pipeline. The request, the response, the variables and LastError
 * live in the C#-shaped `context` object of the expression engine (src/expressions/context.ts), so
 * what a policy writes (set-header, set-variable …) is exactly what later expressions read.
 * Around it: the section being run, the backend target, the trace, and the gateway's hooks.
 */
import type { Section } from './types.js';
import type { Scope } from '../policy/compose.js';
import type { PolicyFailure } from './errors.js';
import { MessageBody, ResponseInfo, type ExpressionContext, type RequestInfo } from '../expressions/context.js';
import type { ProtectedResource } from '../auth/challenge.js';
import type { Principal } from '../auth/principal.js';

/** Where forward-request sends the request; set-backend-service and rewrite-uri change it. */
export interface BackendTarget {
  /** base URL of the backend (set-backend-service base-url), without a trailing slash */
  baseUrl: string;
  /** path (and query) appended to baseUrl (rewrite-uri); '' = the base itself */
  path: string;
  timeoutMs: number;
}

export interface TraceEvent {
  readonly policy: string;
  readonly scope: Scope;
  readonly section: Section;
  readonly path: string;
  readonly line: number;
  readonly col: number;
  outcome: 'ok' | 'return' | 'error';
  detail?: string;
  ms?: number;
  /** variables this policy set or changed */
  variables?: Record<string, unknown>;
}

export interface ForwardOptions {
  readonly timeoutMs?: number;
  /** the response body is needed by later policies (outbound reads or rewrites it) */
  readonly bufferResponse: boolean;
}

export type Forward = (ctx: PipelineContext, opts: ForwardOptions) => Promise<void>;

export class PipelineContext {
  section: Section = 'inbound';
  /** false until a backend answered or a policy built a response */
  hasResponse = false;
  /** set while a policy runs: for LastError and traces */
  current: { name: string; id: string | undefined; scope: Scope; path: string } | undefined;
  /** the response being built by return-response's children (set-status, set-header, set-body) */
  target: ResponseInfo | undefined;
  /** query parameters policies set for the backend request (set-query-parameter) */
  backendQuery: URLSearchParams | undefined;
  /** a policy replaced the request body */
  requestBodyChanged = false;
  /** request header names set, appended or deleted by policies: only these (and forwardHeaders) reach the backend */
  readonly touchedRequestHeaders = new Set<string>();
  /**
   * request headers a policy appended to while they still held only the client's values: how many
   * leading values are the client's (they reach the backend only when forwardHeaders lists the header)
   */
  readonly appendedToClient = new Map<string, number>();
  /** response header names set by policies: sent to the client with the backend's content type */
  readonly touchedResponseHeaders = new Set<string>();
  /** the error that sent the pipeline to on-error (logs, metrics, traces) */
  failure: PolicyFailure | undefined;
  /** messages of the trace policy */
  readonly traceMessages: { source: string; severity: string; message: string }[] = [];
  /** user-visible trace (gatehouse policy test) */
  readonly trace: TraceEvent[] | undefined;
  /** the gateway's own state for this request (e.g. the backend's streaming body) */
  state: unknown;
  /** the protected resource (MCP endpoint) the request addresses: default audience, challenges */
  resource: ProtectedResource | undefined;
  /** the caller, once validate-jwt / validate-azure-ad-token accepted a token */
  principal: Principal | undefined;

  constructor(
    readonly expr: ExpressionContext,
    readonly backend: BackendTarget,
    /** performs the backend call for forward-request: sets the response */
    forward: Forward,
    opts: { trace?: boolean } = {},
  ) {
    this.#forward = forward;
    this.trace = opts.trace ? [] : undefined;
  }

  #forward: Forward;

  /** the backend call forward-request makes (with every interceptor policies added around it) */
  get forward(): Forward {
    return this.#forward;
  }

  /**
   * Wrap the backend call for this request: a policy that must act around it (add headers to the
   * backend's answer, run after it, answer instead of it) adds an interceptor; the last one added
   * runs outermost.
   */
  interceptForward(wrap: (next: Forward) => Forward): void {
    this.#forward = wrap(this.#forward);
  }

  get request(): RequestInfo {
    return this.expr.request;
  }

  get response(): ResponseInfo {
    return this.expr.response;
  }

  /** replace the response (forward-request, return-response, errors) */
  setResponse(res: ResponseInfo): void {
    this.expr.response = res;
    this.hasResponse = true;
  }

  get variables(): ExpressionContext['variables'] {
    return this.expr.variables;
  }
}

export function newResponse(status = 200, reason = 'OK', body?: string): ResponseInfo {
  return new ResponseInfo({ statusCode: status, statusReason: reason, body: body === undefined ? null : new MessageBody(body) });
}
