// A linear-time regular expression engine (Pike VM, leftmost-first like .NET's backtracker) for the .NET regex
// syntax minus backreferences and lookaround. No input can make it backtrack: work is O(pattern × input) and is
// charged to the evaluation's step budget.
import { CsException } from '../errors.js';

export interface RegexOptions {
  ignoreCase: boolean;
  multiline: boolean;
  singleline: boolean;
  explicitCapture: boolean;
  ignoreWhitespace: boolean;
}

export const MAX_PATTERN_LENGTH = 4096;
const MAX_PROGRAM = 20_000;
const MAX_REPEAT = 1000;

type Node =
  | { t: 'char'; c: string }
  | { t: 'any' }
  | { t: 'set'; test: (c: string) => boolean }
  | { t: 'assert'; a: 'bol' | 'eol' | 'start' | 'end' | 'endZ' | 'wb' | 'nwb' }
  | { t: 'group'; n: number | null; body: Node }
  | { t: 'cat'; items: Node[] }
  | { t: 'alt'; alts: Node[] }
  | { t: 'rep'; body: Node; min: number; max: number; lazy: boolean };

type Inst =
  | { op: 'char'; c: string }
  | { op: 'any' }
  | { op: 'set'; test: (c: string) => boolean }
  | { op: 'assert'; a: 'bol' | 'eol' | 'start' | 'end' | 'endZ' | 'wb' | 'nwb' }
  | { op: 'split'; x: number; y: number }
  | { op: 'jmp'; x: number }
  | { op: 'save'; n: number }
  | { op: 'match' };

export interface CompiledRegex {
  prog: Inst[];
  groupCount: number;
  /** group names by number ('0', '1', or the name) */
  names: string[];
  opts: RegexOptions;
}

const WORD = /[\p{L}\p{Mn}\p{Nd}\p{Pc}]/u;
const DIGIT = /\p{Nd}/u;
const SPACE = /[\f\n\r\t\v\x85\p{Z}]/u;

function fail(msg: string, pattern: string): never {
  throw new CsException('ArgumentException', `Invalid pattern '${pattern}': ${msg}`);
}

class RegexParser {
  private i = 0;
  private groupNo = 0;
  readonly names: string[] = ['0'];
  private readonly named: Array<{ name: string; node: { n: number | null } }> = [];
  constructor(
    private readonly p: string,
    private readonly opts: RegexOptions,
  ) {}

  parse(): Node {
    const n = this.alt();
    if (this.i < this.p.length) fail(`too many )'s at offset ${this.i}`, this.p);
    // .NET numbers named groups after the unnamed ones
    for (const g of this.named) {
      g.node.n = ++this.groupNo;
      this.names[g.node.n] = g.name;
    }
    return n;
  }
  get groups(): number {
    return this.groupNo;
  }

  private alt(): Node {
    const alts: Node[] = [this.cat()];
    while (this.p[this.i] === '|') {
      this.i++;
      alts.push(this.cat());
    }
    return alts.length === 1 ? (alts[0] as Node) : { t: 'alt', alts };
  }

  private cat(): Node {
    const items: Node[] = [];
    while (this.i < this.p.length && this.p[this.i] !== '|' && this.p[this.i] !== ')') {
      if (this.opts.ignoreWhitespace) {
        const c = this.p[this.i] as string;
        if (/\s/.test(c)) {
          this.i++;
          continue;
        }
        if (c === '#') {
          while (this.i < this.p.length && this.p[this.i] !== '\n') this.i++;
          continue;
        }
      }
      const atom = this.atom();
      items.push(this.quant(atom));
    }
    return items.length === 1 ? (items[0] as Node) : { t: 'cat', items };
  }

  private quant(atom: Node): Node {
    let cur = atom;
    for (;;) {
      const c = this.p[this.i];
      let min: number;
      let max: number;
      if (c === '*') {
        min = 0;
        max = Infinity;
        this.i++;
      } else if (c === '+') {
        min = 1;
        max = Infinity;
        this.i++;
      } else if (c === '?') {
        min = 0;
        max = 1;
        this.i++;
      } else if (c === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.p.slice(this.i));
        if (!m) return cur;
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        if (max < min) fail('illegal {x,y} with x > y', this.p);
        if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) fail(`repetition count above ${MAX_REPEAT} is not supported`, this.p);
        this.i += m[0].length;
      } else return cur;
      if (cur.t === 'assert') fail('quantifier following nothing', this.p);
      let lazy = false;
      if (this.p[this.i] === '?') {
        lazy = true;
        this.i++;
      }
      if (cur.t === 'rep') fail('nested quantifier', this.p);
      cur = { t: 'rep', body: cur, min, max, lazy };
    }
  }

  private atom(): Node {
    const p = this.p;
    const c = p[this.i] as string;
    switch (c) {
      case '(':
        return this.group();
      case '[':
        return this.set();
      case '.':
        this.i++;
        return this.opts.singleline ? { t: 'set', test: () => true } : { t: 'any' };
      case '^':
        this.i++;
        return { t: 'assert', a: this.opts.multiline ? 'bol' : 'start' };
      case '$':
        this.i++;
        return { t: 'assert', a: this.opts.multiline ? 'eol' : 'endZ' };
      case '\\':
        return this.escape();
      case '*':
      case '+':
      case '?':
        fail(`quantifier {x,y} following nothing at offset ${this.i}`, p);
      // falls through (never)
      case '{':
        if (/^\{\d+(,\d*)?\}/.test(p.slice(this.i))) fail(`quantifier following nothing at offset ${this.i}`, p);
        this.i++;
        return this.lit(c);
      default:
        this.i++;
        return this.lit(c);
    }
  }

  private lit(c: string): Node {
    if (this.opts.ignoreCase && c.toLowerCase() !== c.toUpperCase()) {
      const l = c.toLowerCase();
      return { t: 'set', test: (x) => x.toLowerCase() === l };
    }
    return { t: 'char', c };
  }

  private group(): Node {
    const p = this.p;
    this.i++; // (
    let capture: boolean = !this.opts.explicitCapture;
    let name: string | null = null;
    if (p[this.i] === '?') {
      const rest = p.slice(this.i + 1);
      if (rest.startsWith(':')) {
        capture = false;
        this.i += 2;
      } else if (/^<[A-Za-z_]\w*>/.test(rest) || /^'[A-Za-z_]\w*'/.test(rest) || /^P<[A-Za-z_]\w*>/.test(rest)) {
        const m = /^P?[<']([A-Za-z_]\w*)[>']/.exec(rest) as RegExpExecArray;
        name = m[1] as string;
        capture = true;
        this.i += 1 + m[0].length;
      } else if (/^<\d+>/.test(rest)) {
        fail('numbered named groups are not supported', p);
      } else if (rest.startsWith('=') || rest.startsWith('!') || rest.startsWith('<=') || rest.startsWith('<!')) {
        throw new CsException('NotSupportedException', `Regex lookaround assertions are not supported by the gateway's regex engine: '${p}'`);
      } else if (rest.startsWith('>')) {
        throw new CsException('NotSupportedException', `Regex atomic groups are not supported by the gateway's regex engine: '${p}'`);
      } else if (/^[imnsx-]+\)/.test(rest)) {
        // inline options for the rest of the enclosing group
        const m = /^([imnsx-]+)\)/.exec(rest) as RegExpExecArray;
        let on = true;
        for (const ch of m[1] as string) {
          if (ch === '-') on = false;
          else if (ch === 'i') this.opts.ignoreCase = on;
          else if (ch === 'm') this.opts.multiline = on;
          else if (ch === 's') this.opts.singleline = on;
          else if (ch === 'n') this.opts.explicitCapture = on;
          else if (ch === 'x') this.opts.ignoreWhitespace = on;
        }
        this.i += 1 + m[0].length;
        return { t: 'cat', items: [] };
      } else if (/^[imnsx-]+:/.test(rest)) {
        const m = /^([imnsx-]+):/.exec(rest) as RegExpExecArray;
        const saved = { ...this.opts };
        let on = true;
        for (const ch of m[1] as string) {
          if (ch === '-') on = false;
          else if (ch === 'i') this.opts.ignoreCase = on;
          else if (ch === 'm') this.opts.multiline = on;
          else if (ch === 's') this.opts.singleline = on;
          else if (ch === 'n') this.opts.explicitCapture = on;
          else if (ch === 'x') this.opts.ignoreWhitespace = on;
        }
        this.i += 1 + m[0].length;
        const body = this.alt();
        if (p[this.i] !== ')') fail('not enough )\'s', p);
        this.i++;
        Object.assign(this.opts, saved);
        return { t: 'group', n: null, body };
      } else fail(`unrecognized grouping construct at offset ${this.i}`, p);
    }
    const node: { t: 'group'; n: number | null; body: Node } = { t: 'group', n: null, body: { t: 'cat', items: [] } };
    if (capture && name === null) {
      node.n = ++this.groupNo;
      this.names[node.n] = String(node.n);
    } else if (name !== null) this.named.push({ name, node });
    node.body = this.alt();
    if (p[this.i] !== ')') fail("not enough )'s", p);
    this.i++;
    return node;
  }

  private classEscape(): ((c: string) => boolean) | string {
    const p = this.p;
    const e = p[this.i + 1];
    if (e === undefined) fail('illegal \\ at end of pattern', p);
    this.i += 2;
    switch (e) {
      case 'd': return (c) => DIGIT.test(c);
      case 'D': return (c) => !DIGIT.test(c);
      case 'w': return (c) => WORD.test(c);
      case 'W': return (c) => !WORD.test(c);
      case 's': return (c) => SPACE.test(c);
      case 'S': return (c) => !SPACE.test(c);
      case 'p':
      case 'P': {
        const m = /^\{([A-Za-z_]+)\}/.exec(p.slice(this.i));
        if (!m) fail('incomplete \\p{X} character escape', p);
        this.i += m[0].length;
        let re: RegExp;
        try {
          re = new RegExp(`^\\p{${m[1]}}$`, 'u');
        } catch {
          fail(`unknown property '${m[1]}'`, p);
        }
        return e === 'p' ? (c) => re.test(c) : (c) => !re.test(c);
      }
      case 't': return '\t';
      case 'n': return '\n';
      case 'r': return '\r';
      case 'f': return '\f';
      case 'v': return '\v';
      case 'a': return '\x07';
      case 'e': return '\x1b';
      case 'b': return '\b';
      case '0': {
        const m = /^[0-7]{0,2}/.exec(p.slice(this.i)) as RegExpExecArray;
        this.i += m[0].length;
        return String.fromCharCode(parseInt('0' + m[0], 8));
      }
      case 'x': {
        const h = p.slice(this.i, this.i + 2);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) fail('insufficient hex digits', p);
        this.i += 2;
        return String.fromCharCode(parseInt(h, 16));
      }
      case 'u': {
        const h = p.slice(this.i, this.i + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('insufficient hex digits', p);
        this.i += 4;
        return String.fromCharCode(parseInt(h, 16));
      }
      case 'c': {
        const ch = p[this.i];
        if (!ch || !/[A-Za-z]/.test(ch)) fail('missing control character', p);
        this.i++;
        return String.fromCharCode(ch.toUpperCase().charCodeAt(0) - 64);
      }
      default:
        if (/[A-Za-z0-9]/.test(e)) {
          if (/[1-9k]/.test(e)) throw new CsException('NotSupportedException', `Regex backreferences are not supported by the gateway's regex engine: '${p}'`);
          fail(`unrecognized escape sequence \\${e}`, p);
        }
        return e;
    }
  }

  private escape(): Node {
    const p = this.p;
    const e = p[this.i + 1];
    switch (e) {
      case 'A':
        this.i += 2;
        return { t: 'assert', a: 'start' };
      case 'z':
        this.i += 2;
        return { t: 'assert', a: 'end' };
      case 'Z':
        this.i += 2;
        return { t: 'assert', a: 'endZ' };
      case 'b':
        this.i += 2;
        return { t: 'assert', a: 'wb' };
      case 'B':
        this.i += 2;
        return { t: 'assert', a: 'nwb' };
      case 'G':
        throw new CsException('NotSupportedException', `Regex \\G is not supported by the gateway's regex engine: '${p}'`);
      default: {
        const r = this.classEscape();
        if (typeof r === 'string') return this.lit(r);
        return { t: 'set', test: r };
      }
    }
  }

  private set(): Node {
    const p = this.p;
    this.i++; // [
    let neg = false;
    if (p[this.i] === '^') {
      neg = true;
      this.i++;
    }
    const tests: Array<(c: string) => boolean> = [];
    let first = true;
    for (;;) {
      if (this.i >= p.length) fail('unterminated [] set', p);
      const c = p[this.i] as string;
      if (c === ']' && !first) {
        this.i++;
        break;
      }
      first = false;
      if (c === '[' && p[this.i + 1] === ':') {
        // POSIX-like classes are literal in .NET; treat '[' as a literal
      }
      let lo: string | ((c: string) => boolean);
      if (c === '\\') lo = this.classEscape();
      else {
        lo = c;
        this.i++;
      }
      if (typeof lo === 'string' && p[this.i] === '-' && p[this.i + 1] !== ']' && this.i + 1 < p.length) {
        if (p[this.i + 1] === '[') {
          throw new CsException('NotSupportedException', `Regex character class subtraction is not supported: '${p}'`);
        }
        this.i++;
        let hi: string | ((c: string) => boolean);
        if (p[this.i] === '\\') hi = this.classEscape();
        else hi = p[this.i++] as string;
        if (typeof hi !== 'string') fail('cannot include class in character range', p);
        const a = lo.charCodeAt(0);
        const b = hi.charCodeAt(0);
        if (b < a) fail('[x-y] range in reverse order', p);
        if (this.opts.ignoreCase)
          tests.push((x) => {
            const l = x.toLowerCase().charCodeAt(0);
            const u = x.toUpperCase().charCodeAt(0);
            return (l >= a && l <= b) || (u >= a && u <= b);
          });
        else tests.push((x) => x.charCodeAt(0) >= a && x.charCodeAt(0) <= b);
      } else if (typeof lo === 'string') {
        const ch = lo;
        if (this.opts.ignoreCase) {
          const l = ch.toLowerCase();
          tests.push((x) => x.toLowerCase() === l);
        } else tests.push((x) => x === ch);
      } else tests.push(lo);
    }
    const test = (x: string): boolean => tests.some((t) => t(x)) !== neg;
    return { t: 'set', test };
  }
}

class Emitter {
  readonly prog: Inst[] = [];
  private emit(i: Inst): number {
    if (this.prog.length >= MAX_PROGRAM) throw new CsException('ArgumentException', 'Regular expression is too complex for the gateway (too many states).');
    this.prog.push(i);
    return this.prog.length - 1;
  }
  gen(n: Node): void {
    switch (n.t) {
      case 'char':
        this.emit({ op: 'char', c: n.c });
        return;
      case 'any':
        this.emit({ op: 'any' });
        return;
      case 'set':
        this.emit({ op: 'set', test: n.test });
        return;
      case 'assert':
        this.emit({ op: 'assert', a: n.a });
        return;
      case 'group':
        if (n.n !== null) this.emit({ op: 'save', n: n.n * 2 });
        this.gen(n.body);
        if (n.n !== null) this.emit({ op: 'save', n: n.n * 2 + 1 });
        return;
      case 'cat':
        for (const it of n.items) this.gen(it);
        return;
      case 'alt': {
        const jumps: number[] = [];
        n.alts.forEach((a, k) => {
          if (k < n.alts.length - 1) {
            const split = this.emit({ op: 'split', x: 0, y: 0 });
            (this.prog[split] as { x: number }).x = this.prog.length;
            this.gen(a);
            jumps.push(this.emit({ op: 'jmp', x: 0 }));
            (this.prog[split] as { y: number }).y = this.prog.length;
          } else this.gen(a);
        });
        for (const j of jumps) (this.prog[j] as { x: number }).x = this.prog.length;
        return;
      }
      case 'rep': {
        for (let k = 0; k < n.min; k++) this.gen(n.body);
        if (n.max === Infinity) {
          const split = this.emit({ op: 'split', x: 0, y: 0 });
          const bodyStart = this.prog.length;
          this.gen(n.body);
          this.emit({ op: 'jmp', x: split });
          const after = this.prog.length;
          const s = this.prog[split] as { x: number; y: number };
          if (n.lazy) {
            s.x = after;
            s.y = bodyStart;
          } else {
            s.x = bodyStart;
            s.y = after;
          }
          return;
        }
        const splits: number[] = [];
        for (let k = n.min; k < n.max; k++) {
          const split = this.emit({ op: 'split', x: 0, y: 0 });
          splits.push(split);
          const bodyStart = this.prog.length;
          this.gen(n.body);
          const s = this.prog[split] as { x: number; y: number };
          if (n.lazy) s.y = bodyStart;
          else s.x = bodyStart;
        }
        const after = this.prog.length;
        for (const sp of splits) {
          const s = this.prog[sp] as { x: number; y: number };
          if (n.lazy) s.x = after;
          else s.y = after;
        }
        return;
      }
    }
  }
}

const cache = new Map<string, CompiledRegex>();

export function compileRegex(pattern: string, opts: RegexOptions): CompiledRegex {
  if (pattern.length > MAX_PATTERN_LENGTH)
    throw new CsException('ArgumentException', `Regular expression patterns longer than ${MAX_PATTERN_LENGTH} characters are not allowed.`);
  const key = `${opts.ignoreCase ? 'i' : ''}${opts.multiline ? 'm' : ''}${opts.singleline ? 's' : ''}${opts.explicitCapture ? 'n' : ''}${opts.ignoreWhitespace ? 'x' : ''}/${pattern}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const parser = new RegexParser(pattern, { ...opts });
  const ast = parser.parse();
  const em = new Emitter();
  em.gen({ t: 'group', n: 0, body: ast });
  (em.prog as Inst[]).push({ op: 'match' });
  const r: CompiledRegex = { prog: em.prog, groupCount: parser.groups, names: parser.names, opts };
  if (cache.size > 256) cache.delete(cache.keys().next().value as string);
  cache.set(key, r);
  return r;
}

function isWordAt(s: string, i: number): boolean {
  return i >= 0 && i < s.length && WORD.test(s[i] as string);
}

function assertOk(a: string, s: string, i: number): boolean {
  switch (a) {
    case 'start':
      return i === 0;
    case 'end':
      return i === s.length;
    case 'endZ':
      return i === s.length || (i === s.length - 1 && s[i] === '\n');
    case 'bol':
      return i === 0 || s[i - 1] === '\n';
    case 'eol':
      return i === s.length || s[i] === '\n';
    case 'wb':
      return isWordAt(s, i - 1) !== isWordAt(s, i);
    case 'nwb':
      return isWordAt(s, i - 1) === isWordAt(s, i);
    default:
      return false;
  }
}

/**
 * Finds the leftmost-first match at or after `start`. Returns capture offsets (2 per group, -1 = unset) or null.
 * `charge(n)` is called with the work done so it can be bounded by the caller.
 */
export function execRegex(re: CompiledRegex, s: string, start: number, charge: (n: number) => void): number[] | null {
  const prog = re.prog;
  const nslots = (re.groupCount + 1) * 2;
  const n = prog.length;
  let clist: Array<{ pc: number; caps: number[] }> = [];
  let nlist: Array<{ pc: number; caps: number[] }> = [];
  const mark = new Int32Array(n).fill(-1);
  let gen = 0;
  let matched: number[] | null = null;
  const stack: Array<{ pc: number; caps: number[] }> = [];

  const add = (list: Array<{ pc: number; caps: number[] }>, pc0: number, caps0: number[], i: number): void => {
    stack.push({ pc: pc0, caps: caps0 });
    while (stack.length) {
      const { pc, caps } = stack.pop() as { pc: number; caps: number[] };
      if (mark[pc] === gen) continue;
      mark[pc] = gen;
      const ins = prog[pc] as Inst;
      switch (ins.op) {
        case 'jmp':
          stack.push({ pc: ins.x, caps });
          break;
        case 'split':
          stack.push({ pc: ins.y, caps });
          stack.push({ pc: ins.x, caps });
          break;
        case 'save': {
          const c = caps.slice();
          c[ins.n] = i;
          stack.push({ pc: pc + 1, caps: c });
          break;
        }
        case 'assert':
          if (assertOk(ins.a, s, i)) stack.push({ pc: pc + 1, caps });
          break;
        default:
          list.push({ pc, caps });
      }
    }
  };

  const empty = new Array<number>(nslots).fill(-1);
  let work = 0;
  for (let i = start; i <= s.length; i++) {
    gen++;
    if (matched === null) add(clist, 0, empty, i);
    if (clist.length === 0) {
      if (matched !== null) break;
      continue;
    }
    gen++;
    const ch = s[i];
    for (let k = 0; k < clist.length; k++) {
      const th = clist[k] as { pc: number; caps: number[] };
      const ins = prog[th.pc] as Inst;
      let ok = false;
      switch (ins.op) {
        case 'match':
          matched = th.caps;
          k = clist.length; // cut lower-priority threads
          continue;
        case 'char':
          ok = ch === ins.c;
          break;
        case 'any':
          ok = ch !== undefined && ch !== '\n';
          break;
        case 'set':
          ok = ch !== undefined && ins.test(ch);
          break;
        default:
          break;
      }
      if (ok) add(nlist, th.pc + 1, th.caps, i + 1);
    }
    work += clist.length + 1;
    if (work > 4096) {
      charge(work);
      work = 0;
    }
    const t = clist;
    clist = nlist;
    nlist = t;
    nlist.length = 0;
  }
  charge(work);
  return matched;
}

export function parseOptions(flags: number): RegexOptions {
  if (flags & 64) throw new CsException('NotSupportedException', 'RegexOptions.RightToLeft is not supported.');
  return {
    ignoreCase: (flags & 1) !== 0,
    multiline: (flags & 2) !== 0,
    explicitCapture: (flags & 4) !== 0,
    singleline: (flags & 16) !== 0,
    ignoreWhitespace: (flags & 32) !== 0,
  };
}

export const REGEX_OPTION_VALUES: Record<string, number> = {
  None: 0, IgnoreCase: 1, Multiline: 2, ExplicitCapture: 4, Compiled: 8, Singleline: 16, IgnorePatternWhitespace: 32,
  RightToLeft: 64, ECMAScript: 256, CultureInvariant: 512, NonBacktracking: 1024,
};
