/**
 * What every Store implementation shares: records are JSON text, ids are ordered by code point
 * (SQLite BINARY on UTF-8 = PostgreSQL COLLATE "C"), and a prefix listing is a key range.
 */
import { GatewayError } from '../errors/gateway-error.js';

/** smallest string (in code point order) greater than every string starting with `prefix`; undefined when there is none */
export function prefixUpperBound(prefix: string): string | undefined {
  const cps = Array.from(prefix, (c) => c.codePointAt(0) ?? 0);
  while (cps.length > 0) {
    let last = (cps.pop() ?? 0) + 1;
    if (last === 0xd800) last = 0xe000; // skip the surrogate range
    if (last <= 0x10ffff) {
      cps.push(last);
      return String.fromCodePoint(...cps);
    }
  }
  return undefined;
}

/** a record's value as stored: JSON text (anything JSON cannot represent is refused) */
export function toJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new GatewayError('GW_ERR_INTERNAL', 'store values must be JSON-serialisable');
  return json;
}

/** a driver error's code (SQLite's SQLITE_*, PostgreSQL's SQLSTATE, Node's E*) */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown error';
}
