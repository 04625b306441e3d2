/** JSON pointers, and the document internal `$ref`s resolve in. */
import { OpenApiError } from './types.js';
import { isObj } from './document-values.js';

export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function pointerOf(...segments: readonly (string | number)[]): string {
  return segments.map((s) => '/' + escapePointer(String(s))).join('');
}

export function decodeSegment(s: string): string {
  let d = s;
  try {
    d = decodeURIComponent(s);
  } catch {
    /* keep it as is */
  }
  return d.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** the document `$ref`s resolve in, with a cache of the pointers looked up */
export class RefDoc {
  private readonly cache = new Map<string, unknown>();
  constructor(readonly root: unknown) {}

  /** the value at an internal reference ("#/components/schemas/Pet"); undefined when missing */
  lookup(ref: string): unknown {
    if (this.cache.has(ref)) return this.cache.get(ref);
    let value: unknown;
    if (ref === '#' || ref === '') value = this.root;
    else if (ref.startsWith('#/')) {
      value = this.root;
      for (const raw of ref.slice(2).split('/')) {
        const seg = decodeSegment(raw);
        if (Array.isArray(value)) value = /^\d+$/.test(seg) ? value[Number(seg)] : undefined;
        else if (isObj(value) && Object.prototype.hasOwnProperty.call(value, seg)) value = value[seg];
        else value = undefined;
        if (value === undefined) break;
      }
    }
    this.cache.set(ref, value);
    return value;
  }

  /** follows a chain of `$ref` objects (Reference Objects) to the object they name */
  deref(value: unknown, where: string): unknown {
    let v = value;
    const seen = new Set<string>();
    while (isObj(v) && typeof v.$ref === 'string') {
      const ref = v.$ref;
      if (seen.has(ref)) throw new OpenApiError(`circular $ref "${ref}"`, where);
      seen.add(ref);
      const target = this.lookup(ref);
      if (target === undefined) throw new OpenApiError(`unresolvable $ref "${ref}"`, where);
      v = target;
    }
    return v;
  }
}

export function derefSchema(doc: RefDoc, s: unknown): unknown {
  let v = s;
  const seen = new Set<string>();
  while (isObj(v) && typeof v.$ref === 'string' && !seen.has(v.$ref)) {
    seen.add(v.$ref);
    v = doc.lookup(v.$ref);
  }
  return v;
}
