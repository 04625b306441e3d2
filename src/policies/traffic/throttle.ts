/**
 * What rate-limit/rate-limit-by-key and quota/quota-by-key share at load time (header and variable
 * names, the `<api>`/`<operation>` limits of the per-caller policies) and at run time (reporting
 * the outcome as APIM does: variables, response headers, the failure).
 */
import type { CompileContext, SourceRef } from '../../pipeline/types.js';
import type { PipelineContext } from '../../pipeline/context.js';
import type { PolicyElement } from '../../policy/document.js';
import { PolicyFailure } from '../../pipeline/errors.js';
import { addResponseHeader } from './hooks.js';
import { keyPart, scopeKey, secondsUntil, timeSpanText, type Share } from './counters.js';
import { callerKey } from './ip.js';

export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** the largest `calls` accepted (also keeps counters far from float precision limits) */
export const MAX_CALLS = 1_000_000_000;
/** APIM: "Maximum allowed value: 300 seconds" for rate-limit and rate-limit-by-key */
export const MAX_RATE_PERIOD = 300;

export interface ThrottleNames {
  readonly retryAfterHeader: string;
  readonly retryAfterVariable: string | undefined;
  readonly remainingHeader: string | undefined;
  readonly remainingVariable: string | undefined;
  readonly totalHeader: string | undefined;
}

export const THROTTLE_NAME_ATTRIBUTES = {
  'retry-after-header-name': { expressions: false },
  'retry-after-variable-name': { expressions: false },
  'remaining-calls-header-name': { expressions: false },
  'remaining-calls-variable-name': { expressions: false },
  'total-calls-header-name': { expressions: false },
} as const;

/** the header/variable name attributes (literal names; header names must be valid tokens) */
export function throttleNames(el: PolicyElement, cc: CompileContext): ThrottleNames {
  const header = (name: string): string | undefined => {
    const a = el.attributes.get(name);
    if (!a) return undefined;
    const v = a.raw.trim();
    if (!HEADER_NAME.test(v)) cc.problem({ line: a.line, col: a.col }, `attribute "${name}" of <${el.name}> must be a valid header name, got "${a.raw}"`);
    return v;
  };
  const variable = (name: string): string | undefined => {
    const a = el.attributes.get(name);
    if (!a) return undefined;
    const v = a.raw.trim();
    if (v === '') cc.problem({ line: a.line, col: a.col }, `attribute "${name}" of <${el.name}> must not be empty`);
    return v;
  };
  return {
    retryAfterHeader: header('retry-after-header-name') ?? 'Retry-After',
    retryAfterVariable: variable('retry-after-variable-name'),
    remainingHeader: header('remaining-calls-header-name'),
    remainingVariable: variable('remaining-calls-variable-name'),
    totalHeader: header('total-calls-header-name'),
  };
}

/** a counter decision to report: the limit it was held against and the request's share */
export interface Decision {
  readonly limit: number;
  readonly share: Share;
}

const remainingOf = (d: Decision): number => Math.max(0, d.limit - d.share.value);

/**
 * Report a rate-limit decision as APIM: remaining calls into the variable (and on success into the
 * response header, with the total); on rejection Retry-After (header and variable) and a 429
 * RateLimitExceeded failure. `decisions` are every limit that applied; `rejected` the one that failed.
 */
export function reportRate(ctx: PipelineContext, source: string, names: ThrottleNames, total: number, decisions: readonly Decision[], rejected: Decision | undefined): void {
  const tightest = rejected ?? decisions.reduce<Decision | undefined>((a, d) => (a === undefined || remainingOf(d) < remainingOf(a) ? d : a), undefined);
  const remaining = tightest ? remainingOf(tightest) : total;
  if (names.remainingVariable) ctx.variables.set(names.remainingVariable, remaining);
  if (!rejected) {
    if (names.remainingHeader) addResponseHeader(ctx, names.remainingHeader, String(remaining));
    if (names.totalHeader) addResponseHeader(ctx, names.totalHeader, String(total));
    return;
  }
  const retry = secondsUntil(rejected.share.window.resetAt);
  if (names.retryAfterVariable) ctx.variables.set(names.retryAfterVariable, retry);
  const headers: Record<string, string> = { [names.retryAfterHeader]: String(retry) };
  if (names.remainingHeader) headers[names.remainingHeader] = String(remaining);
  if (names.totalHeader) headers[names.totalHeader] = String(total);
  throw new PolicyFailure({ source, reason: 'RateLimitExceeded', message: `Rate limit is exceeded. Try again in ${retry} seconds.`, status: 429, headers });
}

/** APIM's 403 for a quota: "Out of call volume quota. Quota will be replenished in hh:mm:ss." with Retry-After */
export function quotaExceeded(source: string, resetAt: number): PolicyFailure {
  if (resetAt === Infinity) {
    return new PolicyFailure({ source, reason: 'QuotaExceeded', message: 'Out of call volume quota. The quota does not renew.', status: 403 });
  }
  const seconds = secondsUntil(resetAt);
  return new PolicyFailure({
    source,
    reason: 'QuotaExceeded',
    message: `Out of call volume quota. Quota will be replenished in ${timeSpanText(seconds)}.`,
    status: 403,
    headers: { 'Retry-After': String(seconds) },
  });
}

/** `bandwidth` is refused at load: see quota.ts */
export function refuseBandwidth(el: PolicyElement, cc: CompileContext): void {
  const a = el.attributes.get('bandwidth');
  if (!a) return;
  cc.problem(
    { line: a.nameLine, col: a.nameCol },
    `bandwidth quotas are not supported: Gatehouse relays backend answers (SSE streams included) without measuring them, so it cannot count kilobytes; use calls`,
  );
}

/** `<api>`/`<operation>` of rate-limit and quota: a limit applying to one server (api) or one tool (operation) */
export interface ScopedLimit {
  readonly kind: 'api' | 'operation';
  /** matched against context.Api.Id / context.Operation.Id when `by` is 'id', else against the Name */
  readonly by: 'id' | 'name';
  readonly value: string;
  /** the api this operation belongs to (operations are matched within it) */
  readonly api: ScopedLimit | undefined;
  readonly calls: number;
  /** seconds; 0 = endless (quota only) */
  readonly period: number;
  /** a stable part of the counter key */
  readonly tag: string;
}

export interface ScopedLimitRules {
  /** renewal-period bounds */
  readonly minPeriod: number;
  readonly maxPeriod: number;
  /** quota: bandwidth is an attribute (refused) */
  readonly quota: boolean;
}

/**
 * Parse the `<api name|id calls renewal-period>` children (each may hold `<operation …>`), checking
 * their attributes here because the compiler checks only the policy element's own.
 */
export function scopedLimits(el: PolicyElement, cc: CompileContext, rules: ScopedLimitRules): ScopedLimit[] {
  const out: ScopedLimit[] = [];
  const known = new Set(['name', 'id', 'calls', 'renewal-period', ...(rules.quota ? ['bandwidth'] : [])]);
  const one = (c: PolicyElement, kind: 'api' | 'operation', api: ScopedLimit | undefined): ScopedLimit | undefined => {
    const at: SourceRef = { line: c.line, col: c.col };
    let ok = true;
    for (const [name, a] of c.attributes) {
      if (!known.has(name)) {
        cc.problem({ line: a.nameLine, col: a.nameCol }, `unknown attribute "${name}" on <${kind}>`);
        ok = false;
      } else if (a.expression) {
        cc.problem({ line: a.line, col: a.col }, `attribute "${name}" of <${kind}> does not accept policy expressions`);
        ok = false;
      }
    }
    if (rules.quota) refuseBandwidth(c, cc);
    const id = c.attributes.get('id')?.raw.trim();
    const name = c.attributes.get('name')?.raw.trim();
    if (!id && !name) {
      cc.problem(at, `<${kind}> needs a "name" or an "id" attribute`);
      ok = false;
    }
    if (!c.attributes.has('calls')) {
      cc.problem(at, `<${kind}> requires the attribute "calls"`);
      ok = false;
    }
    if (!c.attributes.has('renewal-period')) {
      cc.problem(at, `<${kind}> requires the attribute "renewal-period"`);
      ok = false;
    }
    if (!ok) return undefined;
    const calls = cc.int(c, 'calls', { min: 0, max: MAX_CALLS });
    const period = cc.int(c, 'renewal-period', { min: rules.minPeriod, max: rules.maxPeriod });
    if (!calls || !period) return undefined;
    // both literal (checked above), so the getters need no request
    const none = undefined as unknown as PipelineContext;
    const by = id ? 'id' : 'name';
    const value = (id ?? name)!;
    return { kind, by, value, api, calls: calls(none), period: period(none), tag: `${api ? `${api.tag}/` : ''}${kind}:${by}:${value}` };
  };
  for (const c of el.children) {
    if (c.type !== 'element') continue;
    if (c.name !== 'api') {
      cc.problem({ line: c.line, col: c.col }, `<${el.name}> cannot contain <${c.name}> (allowed: api)`);
      continue;
    }
    const api = one(c, 'api', undefined);
    if (api) out.push(api);
    for (const o of c.children) {
      if (o.type !== 'element') {
        if (o.raw.trim() !== '') cc.problem({ line: o.line, col: o.col }, '<api> cannot contain text');
        continue;
      }
      if (o.name !== 'operation') {
        cc.problem({ line: o.line, col: o.col }, `<api> cannot contain <${o.name}> (allowed: operation)`);
        continue;
      }
      for (const x of o.children) cc.problem({ line: x.line, col: x.col }, '<operation> cannot contain anything');
      if (!api) continue;
      const op = one(o, 'operation', api);
      if (op) out.push(op);
    }
  }
  return out;
}

/** does a scoped limit apply to this request (api = the server, operation = the tool / MCP method)? */
export function limitApplies(l: ScopedLimit, ctx: PipelineContext): boolean {
  const matches = (x: ScopedLimit, id: string, name: string) => (x.by === 'id' ? x.value === id : x.value === name);
  const api = l.kind === 'api' ? l : l.api!;
  if (!matches(api, ctx.expr.api.id, ctx.expr.api.name)) return false;
  return l.kind === 'api' || matches(l, ctx.expr.operation.id, ctx.expr.operation.name);
}

export interface CounterCheck {
  readonly base: string;
  readonly limit: number;
  readonly periodMs: number;
}

/**
 * The counters one rate-limit / quota request checks: the policy's own (per instance, scope and
 * caller) plus one per `<api>`/`<operation>` limit that applies to this request.
 */
export function counterChecks(prefix: string, id: string, scope: string, ctx: PipelineContext, calls: number, periodS: number, limits: readonly ScopedLimit[]): CounterCheck[] {
  // APIM counts per subscription; a request without one counts per client IP
  const sub = ctx.expr.subscription;
  const caller = sub ? `sub=${sub.id}` : callerKey(ctx.request.ipAddress);
  const base = `${prefix}:${id}:${scopeKey(scope, ctx)}${keyPart(caller)}`;
  const checks: CounterCheck[] = [{ base, limit: calls, periodMs: periodS * 1000 }];
  for (const l of limits) if (limitApplies(l, ctx)) checks.push({ base: `${base}:${keyPart(l.tag)}`, limit: l.calls, periodMs: l.period * 1000 });
  return checks;
}
