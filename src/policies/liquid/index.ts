/**
 * Liquid templates for `<set-body template="liquid">`, as APIM runs them (DotLiquid in "C# mode"),
 * on liquidjs.
 *
 * - Parsed once, at load: a syntax error, an unknown tag or filter is a load-time problem at its
 *   FILE:LINE:COL. Rendered per request against plain data (./data.ts).
 * - Tags: assign, capture, case/when, comment, cycle, decrement, for (limit, offset, reversed, ranges,
 *   else, break, continue), if/elsif/else, increment, raw, tablerow, unless. Operators: == != <> < > <= >=
 *   contains and or, plus DotLiquid's startswith, endswith, haskey, hasvalue.
 * - Filters: APIM's list with C#-style names (./filters.ts); Shopify's snake_case names are refused
 *   with the APIM name as a hint.
 * - Sandbox: no file system (include, render, layout and block are refused at load, and the engine's
 *   file system is a stub that fails), template data without functions or prototypes reachable
 *   (ownPropertyOnly), and every render bounded: wall-clock time, allocations and output size
 *   (LIQUID_LIMITS). A render that exceeds a limit fails the policy (on-error).
 */
import { CaptureTag, Context, Liquid, Tag, defaultOperators, toValueSync, type Emitter, type FS, type Operators, type Template, type TagToken, type TopLevelToken } from 'liquidjs';
import type { PolicyElement } from '../../policy/document.js';
import type { PipelineContext } from '../../pipeline/context.js';
import type { RequestInfo, ResponseInfo } from '../../expressions/context.js';
import { APIM_FILTERS, apimFilterName } from './filters.js';
import { buildLiquidData } from './data.js';
import { liquidSource, type LiquidSource } from './source.js';
import { isPlainObject, own, toText } from './values.js';

export const LIQUID_LIMITS = Object.freeze({
  /** longest template, in characters */
  templateChars: 1_000_000,
  /** wall-clock budget of one render, in ms (checked before every tag, output and text node) */
  renderMillis: 500,
  /** allocations of one render: characters written or built by filters, items of built arrays and ranges */
  memory: 32_000_000,
  /** longest output of one render, in characters */
  outputChars: 16 * 1024 * 1024,
});

const NO_FILES = "Gatehouse's Liquid templates cannot read files: put the markup in the template itself";
const REFUSED_TAGS: Readonly<Record<string, string>> = {
  include: `{% include %} is not supported: ${NO_FILES}`,
  render: `{% render %} is not supported: ${NO_FILES}`,
  layout: `{% layout %} is not supported: ${NO_FILES}`,
  block: `{% block %} is not supported: it belongs to layouts, and ${NO_FILES}`,
  echo: "{% echo %} is not part of APIM's Liquid (DotLiquid): use {{ … }}",
  liquid: "{% liquid %} is not part of APIM's Liquid (DotLiquid)",
  '#': "{% # %} comments are not part of APIM's Liquid (DotLiquid): use {% comment %}…{% endcomment %}",
};

function refusedTag(message: string): new (token: TagToken, remain: TopLevelToken[], liquid: Liquid) => Tag {
  return class Refused extends Tag {
    constructor(token: TagToken, remain: TopLevelToken[], liquid: Liquid) {
      super(token, remain, liquid);
      throw new Error(message);
    }
    render(): void {}
  };
}

function noFiles(): never {
  throw new Error(NO_FILES);
}

/** the engine's file system: every access fails */
const NO_FS: FS = {
  exists: async () => false,
  existsSync: () => false,
  readFile: async () => noFiles(),
  readFileSync: () => noFiles(),
  resolve: () => noFiles(),
  contains: async () => false,
  containsSync: () => false,
  sep: '/',
  dirname: () => noFiles(),
};

const str = (v: unknown): string => toText(v);

/** DotLiquid's extra condition operators */
const OPERATORS: Operators = {
  ...defaultOperators,
  '<>': defaultOperators['!=']!,
  startswith: (l: unknown, r: unknown) => l !== null && l !== undefined && str(l).startsWith(str(r)),
  endswith: (l: unknown, r: unknown) => l !== null && l !== undefined && str(l).endsWith(str(r)),
  haskey: (l: unknown, r: unknown) => hasKey(l, str(r)),
  hasKey: (l: unknown, r: unknown) => hasKey(l, str(r)),
  hasvalue: (l: unknown, r: unknown) => hasValue(l, r),
  hasValue: (l: unknown, r: unknown) => hasValue(l, r),
};

function hasKey(l: unknown, key: string): boolean {
  if (Array.isArray(l) || isPlainObject(l)) return own(l, key) && !(Array.isArray(l) && (key === 'length' || /^\d+$/.test(key)));
  return false;
}

function hasValue(l: unknown, v: unknown): boolean {
  const values = Array.isArray(l) ? l.map((p) => (isPlainObject(p) && own(p, 'Value') ? p.Value : p)) : isPlainObject(l) ? Object.values(l) : [];
  return values.some((x) => x === v || (typeof x !== 'object' && str(x) === str(v)));
}

let engine: Liquid | undefined;

function liquid(): Liquid {
  if (engine) return engine;
  const e = new Liquid({
    strictFilters: true,
    strictVariables: false,
    ownPropertyOnly: true,
    jsTruthy: false,
    dynamicPartials: false,
    relativeReference: false,
    root: [],
    partials: [],
    layouts: [],
    fs: NO_FS,
    cache: false,
    outputEscape: (v: unknown) => toText(v),
    operators: OPERATORS,
    parseLimit: LIQUID_LIMITS.templateChars,
    renderLimit: LIQUID_LIMITS.renderMillis,
    memoryLimit: LIQUID_LIMITS.memory,
  });
  for (const name of Object.keys(e.filters)) e.unregisterFilter(name);
  for (const [name, handler] of Object.entries(APIM_FILTERS)) e.registerFilter(name, handler);
  for (const [name, message] of Object.entries(REFUSED_TAGS)) e.registerTag(name, refusedTag(message));
  e.registerTag('capture', BoundedCapture);
  engine = e;
  return e;
}

/**
 * Collects rendered text. Every write is charged to the render's allocation limit (so captures are
 * bounded too), and the output itself fails the render once it grows past its own limit.
 */
class BoundedEmitter implements Emitter {
  buffer = '';
  constructor(
    private readonly ctx: Context,
    private readonly cap: number,
  ) {}
  write(html: unknown): void {
    const s = typeof html === 'string' ? html : toText(html);
    this.ctx.memoryLimit.use(s.length);
    if (this.buffer.length + s.length > this.cap) throw new Error(`output exceeds ${this.cap} characters`);
    this.buffer += s;
  }
}

/** {% capture %} that writes through a BoundedEmitter (liquidjs' own buffers without a bound) */
class BoundedCapture extends CaptureTag {
  override *render(ctx: Context): Generator<unknown, void, string> {
    const emitter = new BoundedEmitter(ctx, LIQUID_LIMITS.outputChars);
    yield this.liquid.renderer.renderTemplates(this.templates, ctx, emitter);
    ctx.bottom()[this.variable] = emitter.buffer;
  }
}

export interface LiquidRenderOptions {
  readonly parseDate: boolean;
  readonly xsiNil: 'blank' | 'null';
}

export interface CompiledLiquid {
  /** renders against the pipeline context; `message` is the message whose body `body` is */
  render(ctx: PipelineContext, message: RequestInfo | ResponseInfo, opts: LiquidRenderOptions): string;
}

/** a Liquid failure at render time, with the file position of the tag or output that failed */
export class LiquidRenderError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly col: number,
  ) {
    super(message);
    this.name = 'LiquidRenderError';
  }
}

interface LiquidErrorLike {
  message: string;
  name?: string;
  token?: { begin?: number };
  originalError?: { message?: string };
  errors?: LiquidErrorLike[];
}

/** liquidjs appends ", line:L, col:C" (and the file) to its messages: the position is reported our way */
const bare = (m: string): string => m.replace(/(, file:[^,]*)?, line:\d+, col:\d+$/, '');

function describe(err: LiquidErrorLike): string {
  const raw = bare(err.originalError?.message ?? err.message);
  let m = /^undefined filter: (.+)$/.exec(raw);
  if (m) {
    const hint = apimFilterName(m[1]!);
    return `unknown Liquid filter "${m[1]}"${hint ? ` (APIM's Liquid uses C#-style filter names: ${hint})` : ''}`;
  }
  m = /^tag "(.+)" not found$/.exec(raw);
  if (m) return `unknown Liquid tag {% ${m[1]} %}`;
  if (raw === 'template render limit exceeded') return `the render exceeded its time limit (${LIQUID_LIMITS.renderMillis} ms)`;
  if (raw === 'memory alloc limit exceeded') return `the render exceeded its allocation limit (${LIQUID_LIMITS.memory} characters or items)`;
  if (raw === 'parse length limit exceeded') return `template longer than ${LIQUID_LIMITS.templateChars} characters`;
  return raw;
}

function offsetOf(err: LiquidErrorLike): number {
  const first = err.errors?.[0] ?? err;
  return typeof first.token?.begin === 'number' ? first.token.begin : 0;
}

/** names a template spells out (words and quoted strings), by lower case: the spellings case-insensitive keys answer to */
function spellingsOf(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (w: string): void => {
    if (w.length === 0 || w.length > 200 || out.size > 10_000) return;
    const lower = w.toLowerCase();
    if (lower === w) return;
    const list = out.get(lower) ?? [];
    if (!list.includes(w)) list.push(w);
    out.set(lower, list);
  };
  for (const m of text.matchAll(/"([^"\n]*)"|'([^'\n]*)'|[A-Za-z0-9_.-]+/g)) add(m[1] ?? m[2] ?? m[0]);
  return out;
}

/**
 * Parses the template of a `<set-body template="liquid">` element. Problems (with their file
 * positions) go to `problem`; undefined when there was one.
 */
export function compileLiquidBody(el: PolicyElement, problem: (at: { line: number; col: number }, message: string) => void): CompiledLiquid | undefined {
  const src = liquidSource(el);
  return compileLiquid(src, problem);
}

export function compileLiquid(src: LiquidSource, problem: (at: { line: number; col: number }, message: string) => void): CompiledLiquid | undefined {
  const engine = liquid();
  let templates: Template[];
  try {
    if (src.text.length > LIQUID_LIMITS.templateChars) throw new Error(`template longer than ${LIQUID_LIMITS.templateChars} characters`);
    templates = engine.parse(src.text);
  } catch (err) {
    const e = err as LiquidErrorLike;
    problem(src.at(offsetOf(e)), `Liquid template: ${describe(e)}`);
    return undefined;
  }
  const reads = { body: /\bbody\b/.test(src.text), rawBody: /\bBody\b/.test(src.text) };
  const spellings = spellingsOf(src.text);
  return {
    render(ctx, message, opts) {
      let output: string;
      try {
        const data = buildLiquidData(ctx, message, { body: reads.body, rawBody: reads.rawBody, parseDate: opts.parseDate, xsiNil: opts.xsiNil, spellings });
        const context = new Context(data, engine.options, { sync: true }, { liquid: engine });
        const emitter = new BoundedEmitter(context, LIQUID_LIMITS.outputChars);
        toValueSync(engine.renderer.renderTemplates(templates, context, emitter));
        output = emitter.buffer;
      } catch (err) {
        const e = err as LiquidErrorLike;
        const at = src.at(offsetOf(e));
        throw new LiquidRenderError(describe(e), at.line, at.col);
      }
      return output;
    },
  };
}
