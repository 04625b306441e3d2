/**
 * How cache-store-value / cache-lookup-value keep values in the Cache (strings only; Redis later):
 * JSON with the value's C# type, so a looked-up value has the type it was stored with —
 * string, number, bool, null, JObject/JArray/JValue (as JSON), byte[] (base64), Guid, DateTime,
 * DateTimeOffset, TimeSpan. Other values (IResponse, Jwt …) can't be cached: storing one is an error.
 *
 * Keys: user keys are hashed (sha-256) under a `gh:cv:` prefix, so keys built from tokens (a common
 * APIM idiom, e.g. key="@(context.Request.Headers.GetValueOrDefault("Authorization"))") are not
 * kept in clear in a shared cache, and never collide with the gateway's own keys.
 */
import { createHash } from 'node:crypto';
import { JToken, parseJson, tokenToString } from '../../expressions/runtime/json.js';
import { CsGuid } from '../../expressions/runtime/values.js';
import { CsDateTime, CsDateTimeOffset, CsTimeSpan } from '../../expressions/runtime/time.js';
import { runtimeTypeName } from '../../expressions/types.js';

export const MAX_CACHED_VALUE_BYTES = 4 * 1024 * 1024;

export function valueKey(key: string): string {
  return `gh:cv:${createHash('sha256').update(key, 'utf8').digest('base64url')}`;
}

type Encoded =
  | { t: 's'; v: string }
  | { t: 'n'; v: number }
  | { t: 'b'; v: boolean }
  | { t: 'z' }
  | { t: 'j'; v: string }
  | { t: 'y'; v: string }
  | { t: 'g'; v: string }
  | { t: 'dt'; v: number; k: string }
  | { t: 'do'; v: number; o: number }
  | { t: 'ts'; v: number };

/** encode a value, or throw (with the value's kind, never its content) when it can't be cached */
export function encodeValue(v: unknown): string {
  let e: Encoded;
  if (v === null || v === undefined) e = { t: 'z' };
  else if (typeof v === 'string') e = { t: 's', v };
  else if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('a non-finite number cannot be cached');
    e = { t: 'n', v };
  } else if (typeof v === 'boolean') e = { t: 'b', v };
  else if (v instanceof JToken) e = { t: 'j', v: tokenToString(v, false) };
  else if (v instanceof Uint8Array) e = { t: 'y', v: Buffer.from(v).toString('base64') };
  else if (v instanceof CsGuid) e = { t: 'g', v: v.hex };
  else if (v instanceof CsDateTime) e = { t: 'dt', v: v.ms, k: v.kind };
  else if (v instanceof CsDateTimeOffset) e = { t: 'do', v: v.utcMs, o: v.offsetMin };
  else if (v instanceof CsTimeSpan) e = { t: 'ts', v: v.ms };
  else throw new Error(`a value of type ${runtimeTypeName(v)} cannot be cached (cache strings, numbers, booleans, JSON, byte[], Guid or dates)`);
  return JSON.stringify(e);
}

/** decode a stored value; undefined when the stored text isn't ours (treated as a miss) */
export function decodeValue(text: string): { value: unknown } | undefined {
  let e: Encoded;
  try {
    e = JSON.parse(text) as Encoded;
  } catch {
    return undefined;
  }
  switch (e?.t) {
    case 's':
    case 'n':
    case 'b':
      return { value: e.v };
    case 'z':
      return { value: null };
    case 'j':
      return { value: parseJson(e.v) };
    case 'y':
      return { value: new Uint8Array(Buffer.from(e.v, 'base64')) };
    case 'g':
      return { value: new CsGuid(e.v) };
    case 'dt':
      return { value: new CsDateTime(e.v, e.k as ConstructorParameters<typeof CsDateTime>[1]) };
    case 'do':
      return { value: new CsDateTimeOffset(e.v, e.o) };
    case 'ts':
      return { value: new CsTimeSpan(e.v) };
    default:
      return undefined;
  }
}
