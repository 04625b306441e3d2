/**
 * runPipeline: inbound → backend → outbound, and on-error when anything fails (APIM §12.1). This is
 * the only place that catches policy errors. On return, `ctx.response` is what the client gets.
 */
import { PolicyFailure, ReturnResponse } from './errors.js';
import { newResponse, type PipelineContext } from './context.js';
import { LastErrorInfo, type ResponseInfo } from '../expressions/context.js';
import type { CompiledPolicy, Section } from './types.js';
import { isGatewayError } from '../errors/gateway-error.js';

export interface CompiledPipeline {
  readonly inbound: readonly CompiledPolicy[];
  readonly backend: readonly CompiledPolicy[];
  readonly outbound: readonly CompiledPolicy[];
  readonly onError: readonly CompiledPolicy[];
  /** what the pipeline's expressions and policies read, so the gateway buffers only what is needed */
  readonly reads: { readonly requestBody: boolean; readonly responseBody: boolean };
  /** true when nothing but the implicit forward-request would run: the gateway may skip the pipeline */
  readonly trivial: boolean;
}

/** Run a list of policies in order (a section, or a control-flow body such as `when`). */
export async function runPolicies(list: readonly CompiledPolicy[], ctx: PipelineContext): Promise<void> {
  for (let i = 0; i < list.length; i++) {
    const pol = list[i]!;
    ctx.current = pol;
    if (ctx.trace) {
      await runTraced(pol, ctx);
      continue;
    }
    const r = pol.run(ctx);
    if (r !== undefined) await r;
  }
}

async function runTraced(pol: CompiledPolicy, ctx: PipelineContext): Promise<void> {
  const before = new Map(ctx.variables.entries());
  const event = { policy: pol.name, scope: pol.scope, section: ctx.section, path: pol.path, line: pol.at.line, col: pol.at.col, outcome: 'ok' as 'ok' | 'return' | 'error' };
  const entry: NonNullable<PipelineContext['trace']>[number] = { ...event };
  ctx.trace!.push(entry);
  const t0 = performance.now();
  try {
    await pol.run(ctx);
  } catch (err) {
    entry.outcome = err instanceof ReturnResponse ? 'return' : 'error';
    if (!(err instanceof ReturnResponse)) entry.detail = (err as Error).message;
    throw err;
  } finally {
    entry.ms = Math.round((performance.now() - t0) * 1000) / 1000;
    const changed: Record<string, unknown> = {};
    for (const [k, v] of ctx.variables.entries()) if (!before.has(k) || before.get(k) !== v) changed[k] = v;
    if (Object.keys(changed).length > 0) entry.variables = changed;
  }
}

async function runSection(section: Section, list: readonly CompiledPolicy[], ctx: PipelineContext): Promise<void> {
  ctx.section = section;
  if (list.length > 0) await runPolicies(list, ctx);
}

/** LastError.Reason of the gateway's own errors inside a pipeline (APIM's words where APIM has one) */
const GATEWAY_REASONS: Partial<Record<string, string>> = {
  GW_ERR_UPSTREAM_TIMEOUT: 'Timeout',
  GW_ERR_UPSTREAM_CONNECT: 'BackendConnectionFailure',
  GW_ERR_UNAUTHORIZED: 'Unauthorized',
  GW_ERR_INSUFFICIENT_SCOPE: 'InsufficientScope',
};

export function toFailure(err: unknown, ctx: PipelineContext): PolicyFailure {
  if (err instanceof PolicyFailure) return err;
  if (isGatewayError(err)) {
    const reason = GATEWAY_REASONS[err.code] ?? err.code;
    return new PolicyFailure({ source: ctx.current?.name ?? 'gateway', reason, message: err.message, status: err.status, ...(err.headers ? { headers: err.headers } : {}) }, { cause: err });
  }
  const e = err as { code?: unknown; message?: unknown; detail?: unknown };
  if (typeof e?.code === 'string' && e.code.startsWith('EXPR_')) {
    // `detail` is the message without the policy file's path
    const text = typeof e.detail === 'string' ? e.detail : String(e.message);
    return new PolicyFailure(
      { source: ctx.current?.name ?? 'expression', reason: 'ExpressionValueEvaluationFailure', message: `Expression evaluation failed. ${text}`, status: 500 },
      { cause: err },
    );
  }
  if (err instanceof Error && err.constructor === Error) {
    // a policy's own check failed at run time (its messages are written for users: no secrets, no paths)
    return new PolicyFailure({ source: ctx.current?.name ?? 'gateway', reason: 'PolicyEvaluationFailure', message: err.message, status: 500 }, { cause: err });
  }
  return new PolicyFailure({ source: ctx.current?.name ?? 'gateway', reason: 'InternalError', message: 'Internal server error', status: 500 }, { cause: err });
}

/** APIM's answer to an unhandled error: its status and {"statusCode": N, "message": "..."}. */
export function errorResponse(f: PolicyFailure): ResponseInfo {
  const res = newResponse(f.status, '', JSON.stringify({ statusCode: f.status, message: f.clientMessage ?? f.message }));
  res.headers.set('content-type', 'application/json');
  if (f.headers) for (const [k, v] of Object.entries(f.headers)) res.headers.set(k, v);
  return res;
}

export async function runPipeline(p: CompiledPipeline, ctx: PipelineContext): Promise<void> {
  try {
    await runSection('inbound', p.inbound, ctx);
    await runSection('backend', p.backend, ctx);
    await runSection('outbound', p.outbound, ctx);
    return;
  } catch (err) {
    if (err instanceof ReturnResponse) return;
    const failure = toFailure(err, ctx);
    const cur = ctx.current;
    ctx.expr.lastError = Object.assign(new LastErrorInfo(), {
      source: failure.source,
      reason: failure.reason,
      message: failure.message,
      scope: cur?.scope ?? '',
      section: ctx.section,
      path: cur?.path ?? '',
      policyId: cur?.id ?? '',
    });
    ctx.failure = failure;
    ctx.setResponse(errorResponse(failure));
  }
  if (p.onError.length === 0) return;
  try {
    await runSection('on-error', p.onError, ctx);
  } catch (err) {
    if (err instanceof ReturnResponse) return;
    // an error inside on-error: APIM answers with that error, on-error does not run again
    ctx.failure = toFailure(err, ctx);
    ctx.setResponse(errorResponse(ctx.failure));
  }
}
