/**
 * Paths into the configuration document and their source positions.
 *
 * A `Path` is the JS path of a value (`['servers', 0, 'backend', 'url']`), printed by `formatPath`
 * as `servers[0].backend.url`. A `Locator` turns a path into a 1-based line/column: `YamlLocator`
 * walks the parsed YAML document (positions through a `LineCounter`), `objectLocator` answers 1:1
 * for configs built from JS objects.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Pair } from 'yaml';

export type PathSegment = string | number;
export type Path = readonly PathSegment[];

/**
 * Where a problem points:
 * - `value`: at the value found at the path (for an empty value, at its key);
 * - `key`: at the key of the last path segment (unknown keys, bad record keys);
 * - `parent`: at the object holding the last path segment (missing required keys).
 */
export type Anchor = 'value' | 'key' | 'parent';

export interface Position {
  readonly line: number;
  readonly col: number;
}

export interface Locator {
  locate(path: Path, anchor: Anchor): Position;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `servers[0].backend.url`, `namedValues.tenant-id`, `namedValues["my.value"]`; '' for the root. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENT.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Positions for configs that have no source text (quickstart, tests): always 1:1. */
export const objectLocator: Locator = {
  locate: () => ({ line: 1, col: 1 }),
};

type YamlNode = NonNullable<Document.Parsed['contents']>;

function keyString(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

function startOf(node: unknown): number | undefined {
  if (node && typeof node === 'object' && 'range' in node) {
    const range = (node as { range?: [number, number, number] | null }).range;
    if (range) return range[0];
  }
  return undefined;
}

/** True for a node that has no source text of its own (`key:` with nothing after it). */
function isEmptyNode(node: unknown): boolean {
  if (node === null || node === undefined) return true;
  const range = (node as { range?: [number, number, number] | null }).range;
  return isScalar(node) && node.value === null && !!range && range[0] === range[1];
}

export class YamlLocator implements Locator {
  constructor(
    private readonly doc: Document.Parsed,
    private readonly lineCounter: LineCounter,
  ) {}

  /** 1-based line and column of a source offset. */
  at(offset: number): Position {
    const { line, col } = this.lineCounter.linePos(offset);
    return { line, col };
  }

  private deref(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  locate(path: Path, anchor: Anchor): Position {
    const target = anchor === 'parent' ? path.slice(0, -1) : path;
    let node: unknown = this.doc.contents;
    let pair: Pair | undefined;
    let best = startOf(node) ?? 0;
    let complete = true;
    for (const seg of target) {
      node = this.deref(node);
      let next: unknown;
      let nextPair: Pair | undefined;
      if (isMap(node)) {
        nextPair = node.items.find((p) => keyString(p.key) === String(seg));
        if (!nextPair) { complete = false; break; }
        next = nextPair.value;
      } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        next = node.items[seg];
        if (isPair(next)) { nextPair = next; next = next.value; }
      } else {
        complete = false;
        break;
      }
      pair = nextPair;
      node = next;
      const start = isEmptyNode(node) ? startOf(pair?.key) : startOf(node);
      if (start !== undefined) best = start;
    }
    if (complete && anchor === 'key' && pair) {
      const keyStart = startOf(pair.key);
      if (keyStart !== undefined) best = keyStart;
    }
    return this.at(best);
  }

  /** The path of the mapping key that starts at `offset` (for YAML errors such as duplicate keys). */
  keyPathAt(offset: number): { path: PathSegment[]; key: string } | undefined {
    const walk = (node: unknown, path: PathSegment[]): { path: PathSegment[]; key: string } | undefined => {
      if (isMap(node)) {
        for (const p of node.items) {
          const key = keyString(p.key);
          if (startOf(p.key) === offset) return { path: [...path, key], key };
          const found = walk(p.value, [...path, key]);
          if (found) return found;
        }
      } else if (isSeq(node)) {
        for (let i = 0; i < node.items.length; i++) {
          const found = walk(node.items[i], [...path, i]);
          if (found) return found;
        }
      }
      return undefined;
    };
    return walk(this.doc.contents as YamlNode | null, []);
  }
}
