/** Argument values as strings and key/value pairs (for parameters and bodies). */

export function scalar(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** the object's [key, value] pairs, without undefined values */
export function entriesOf(v: Record<string, unknown>): [string, unknown][] {
  return Object.entries(v).filter(([, x]) => x !== undefined);
}
