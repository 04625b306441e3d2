/**
 * Control flow and failures inside a pipeline, with APIM's semantics:
 * - `ReturnResponse` (return-response, mock-response, a policy's own rejection) ends the pipeline
 *   and sends `ctx.response` as it is — no further section runs;
 * - `PolicyFailure` is an error: the rest of the section and the following sections are skipped and
 *   `on-error` runs with `context.LastError` describing it.
 */
export class ReturnResponse {
  readonly kind = 'return-response' as const;
}

export const RETURN = new ReturnResponse();

export interface FailureInit {
  /** LastError.Source: the policy name, or a built-in step like "configuration" */
  readonly source: string;
  /** LastError.Reason: APIM's stable reason code, e.g. "TokenExpired", "RateLimitExceeded" */
  readonly reason: string;
  /** LastError.Message: human readable, safe for the client */
  readonly message: string;
  /** HTTP status the client gets when no on-error handles it */
  readonly status: number;
  /** extra response headers for the default error response (e.g. Retry-After, WWW-Authenticate) */
  readonly headers?: Readonly<Record<string, string>>;
  /** the message of the default error response when it differs from LastError.Message (failed-validation-error-message) */
  readonly clientMessage?: string;
}

export class PolicyFailure extends Error {
  readonly source: string;
  readonly reason: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>> | undefined;
  readonly clientMessage: string | undefined;

  constructor(init: FailureInit, opts?: { cause?: unknown }) {
    super(init.message, opts);
    this.name = 'PolicyFailure';
    this.source = init.source;
    this.reason = init.reason;
    this.status = init.status;
    this.headers = init.headers;
    this.clientMessage = init.clientMessage;
  }
}

export const isPolicyFailure = (e: unknown): e is PolicyFailure => e instanceof PolicyFailure;
