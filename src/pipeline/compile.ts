/**
 * Compile an effective policy (scopes composed, fragments expanded) into a CompiledPipeline, once,
 * at load. Every problem — unknown policy, policy in a section APIM forbids, unknown or missing
 * attribute, bad value, expression syntax or unsupported construct — is collected with its
 * FILE:LINE:COL and thrown together as one PolicyError.
 */
import type { EffectivePolicy, EffectiveEntry, Scope } from '../policy/compose.js';
import type { AttrValue, PolicyElement, TextValue } from '../policy/document.js';
import { PolicyError, sortPolicyProblems, type PolicyProblem } from '../policy/errors.js';
import { compileExpression, toCSharpString, type CompiledExpression } from '../expressions/index.js';
import type { CompileContext, CompileServices, CompiledPolicy, PolicyDefinition, Section, SourceRef, ValueGetter } from './types.js';
import type { CompiledPipeline } from './run.js';
import type { PipelineContext } from './context.js';

export type PolicyRegistry = ReadonlyMap<string, PolicyDefinition>;

/** Policies that belong to other capabilities (their own issues) and LLM policies Gatehouse does not offer. */
const NOT_YET: Record<string, string> = {
};

interface Reads { requestBody: boolean; responseBody: boolean }

/** outbound policies that read or replace the response body: the backend's answer must be buffered for them */
const RESPONSE_BODY_POLICIES = new Set(['set-body', 'find-and-replace', 'cache-store', 'json-to-xml', 'xml-to-json', 'xsl-transform']);
/** inbound policies that read or replace the request body */
const REQUEST_BODY_POLICIES = new Set(['set-body', 'find-and-replace', 'validate-content']);

/** Turn an expression's value into the string an attribute needs (C# ToString rules, from the engine). */
export function asString(v: unknown): string {
  return toCSharpString(v);
}

function compileValue(v: AttrValue | TextValue, file: string | undefined, problems: PolicyProblem[], reads: Reads): ValueGetter<unknown> | undefined {
  const ex = v.expression;
  if (!ex) {
    const raw = v.raw;
    return () => raw;
  }
  let compiled: CompiledExpression;
  try {
    compiled = compileExpression(ex.code, ex.kind, { file, line: ex.line, col: ex.col });
  } catch (err) {
    const e = err as { line?: number; col?: number; message: string; detail?: string };
    problems.push({ file, line: e.line ?? ex.line, col: e.col ?? ex.col, message: e.detail ?? e.message });
    return undefined;
  }
  if (compiled.reads.requestBody) reads.requestBody = true;
  if (compiled.reads.responseBody) reads.responseBody = true;
  return (ctx: PipelineContext) => compiled.evaluate(ctx.expr as never);
}

export function compilePipeline(effective: EffectivePolicy, registry: PolicyRegistry, services: CompileServices): CompiledPipeline {
  const problems: PolicyProblem[] = [];
  const reads: Reads = { requestBody: false, responseBody: false };

  const compileList = (entries: readonly { element: PolicyElement; scope: Scope }[], section: Section, prefix: string): CompiledPolicy[] => {
    const out: CompiledPolicy[] = [];
    const counts = new Map<string, number>();
    for (const { element: el, scope } of entries) {
      const n = (counts.get(el.name) ?? 0) + 1;
      counts.set(el.name, n);
      const path = `${prefix}${prefix ? '/' : ''}${el.name}[${n}]`;
      const c = compileOne(el, scope, section, path);
      if (c) out.push(c);
    }
    return out;
  };

  const compileOne = (el: PolicyElement, scope: Scope, section: Section, path: string): CompiledPolicy | undefined => {
    const file = el.file;
    const at: SourceRef = { file, line: el.line, col: el.col };
    const problem = (ref: SourceRef, message: string) => problems.push({ file: ref.file ?? file, line: ref.line, col: ref.col, message });
    const def = registry.get(el.name);
    if (!def) {
      const later = NOT_YET[el.name];
      problem(at, later ? `policy <${el.name}> is not available yet (it arrives with ${later})` : `unknown policy <${el.name}>`);
      return undefined;
    }
    if (section === 'outbound' && RESPONSE_BODY_POLICIES.has(el.name)) reads.responseBody = true;
    if ((section === 'inbound' || section === 'backend') && REQUEST_BODY_POLICIES.has(el.name)) reads.requestBody = true;
    if (!def.sections.includes(section)) {
      problem(at, `policy <${el.name}> is not allowed in the ${section} section (allowed: ${def.sections.join(', ')})`);
      return undefined;
    }
    const before = problems.length;
    for (const [name, attr] of el.attributes) {
      if (name === 'id') continue;
      const spec = def.attributes[name];
      if (!spec) problem({ line: attr.nameLine, col: attr.nameCol }, `unknown attribute "${name}" on <${el.name}>`);
      else if (spec.expressions === false && attr.expression) problem({ line: attr.line, col: attr.col }, `attribute "${name}" of <${el.name}> does not accept policy expressions`);
    }
    for (const [name, spec] of Object.entries(def.attributes)) {
      if (spec.required && !el.attributes.has(name)) problem(at, `<${el.name}> requires the attribute "${name}"`);
    }
    const childEls = el.children.filter((c): c is PolicyElement => c.type === 'element');
    if (def.children === undefined) {
      for (const c of childEls) problem({ line: c.line, col: c.col }, `<${el.name}> cannot contain <${c.name}>`);
    } else if (def.children !== '*') {
      for (const c of childEls) if (!def.children.includes(c.name)) problem({ line: c.line, col: c.col }, `<${el.name}> cannot contain <${c.name}> (allowed: ${def.children.join(', ') || 'nothing'})`);
    }
    if (!def.text && childEls.length === 0 && el.text && el.text.raw.trim() !== '') problem({ line: el.text.line, col: el.text.col }, `<${el.name}> cannot contain text`);
    if (problems.length > before) return undefined;

    const cc: CompileContext = {
      section,
      scope,
      path,
      services,
      problem,
      string(e, name) {
        const a = e.attributes.get(name);
        if (!a) return undefined;
        const g = compileValue(a, e.file ?? file, problems, reads);
        if (!g) return undefined;
        if (!a.expression) {
          const raw = a.raw;
          return () => raw;
        }
        return (ctx) => asString(g(ctx));
      },
      rawValue(e, name) {
        const a = e.attributes.get(name);
        return a ? compileValue(a, e.file ?? file, problems, reads) : undefined;
      },
      rawText(e) {
        return e.text ? compileValue(e.text, e.file ?? file, problems, reads) : undefined;
      },
      text(e) {
        if (!e.text) return undefined;
        const g = compileValue(e.text, e.file ?? file, problems, reads);
        if (!g) return undefined;
        if (!e.text.expression) {
          const raw = e.text.raw;
          return () => raw;
        }
        return (ctx) => asString(g(ctx));
      },
      bool(e, name, def) {
        const a = e.attributes.get(name);
        if (!a) return () => def;
        if (a.expression) {
          const g = compileValue(a, e.file ?? file, problems, reads);
          return (ctx) => {
            const v = g ? g(ctx) : def;
            return v === true || (typeof v === 'string' && v.toLowerCase() === 'true');
          };
        }
        const v = a.raw.trim().toLowerCase();
        if (v !== 'true' && v !== 'false') {
          problem({ line: a.line, col: a.col }, `attribute "${name}" of <${e.name}> must be true or false, got "${a.raw}"`);
          return () => def;
        }
        const b = v === 'true';
        return () => b;
      },
      int(e, name, opts) {
        const a = e.attributes.get(name);
        if (!a) return undefined;
        const min = opts.min ?? Number.MIN_SAFE_INTEGER;
        const max = opts.max ?? Number.MAX_SAFE_INTEGER;
        if (a.expression) {
          const g = compileValue(a, e.file ?? file, problems, reads);
          return (ctx) => {
            const v = Number(g ? g(ctx) : NaN);
            if (!Number.isInteger(v) || v < min || v > max) throw new Error(`attribute "${name}" of <${e.name}> evaluated to ${String(v)}, expected an integer between ${min} and ${max}`);
            return v;
          };
        }
        const v = Number(a.raw.trim());
        if (a.raw.trim() === '' || !Number.isInteger(v) || v < min || v > max) {
          problem({ line: a.line, col: a.col }, `attribute "${name}" of <${e.name}> must be an integer between ${min} and ${max}, got "${a.raw}"`);
          return undefined;
        }
        return () => v;
      },
      choice(e, name, values, def) {
        const a = e.attributes.get(name);
        if (!a) return def;
        const v = a.raw.trim();
        const hit = values.find((x) => x.toLowerCase() === v.toLowerCase());
        if (!hit) {
          problem({ line: a.line, col: a.col }, `attribute "${name}" of <${e.name}> must be one of ${values.join(', ')}, got "${a.raw}"`);
          return def;
        }
        return hit;
      },
      policies(children, pathPrefix) {
        return compileList(children.map((element) => ({ element, scope })), section, pathPrefix);
      },
    };
    let body: Omit<CompiledPolicy, 'name' | 'id' | 'scope' | 'path' | 'at'>;
    try {
      body = def.compile(el, cc);
    } catch (err) {
      problem(at, (err as Error).message);
      return undefined;
    }
    const id = el.attributes.get('id')?.raw;
    return { name: el.name, id, scope, path, at, run: body.run };
  };

  const sec = (s: Section, list: readonly EffectiveEntry[]) => compileList(list, s, '');
  const inbound = sec('inbound', effective.inbound);
  const backend = sec('backend', effective.backend);
  const outbound = sec('outbound', effective.outbound);
  const onError = sec('on-error', effective['on-error']);
  if (problems.length > 0) throw new PolicyError(sortPolicyProblems(problems));
  const trivial = inbound.length === 0 && outbound.length === 0 && onError.length === 0 && effective.backend.length === 1 && effective.backend[0]!.implicit === true;
  return { inbound, backend, outbound, onError, reads, trivial };
}
