/**
 * Parameter values → path segments, query pairs, header values and cookie pairs, by OpenAPI style
 * (`simple`, `label`, `matrix`, `form`, `spaceDelimited`, `pipeDelimited`, `deepObject`) and explode.
 */
import { ArgumentError, type ParameterBinding } from './types.js';
import { entriesOf, isPlainObject, scalar } from './argument-values.js';

const enc = encodeURIComponent;

/** percent-encoding for allowReserved query values: RFC 3986 reserved characters stay, except & = # (and %) */
function encReserved(s: string): string {
  return encodeURIComponent(s).replace(/%(3A|2F|3F|5B|5D|40|24|27|28|29|2A|2B|2C|3B)/gi, (m) => decodeURIComponent(m));
}

function pathValue(p: ParameterBinding, v: unknown): string {
  const name = enc(p.name);
  if (Array.isArray(v)) {
    const items = v.map((x) => enc(scalar(x)));
    switch (p.style) {
      case 'label':
        return p.explode ? items.map((x) => `.${x}`).join('') : `.${items.join(',')}`;
      case 'matrix':
        return p.explode ? items.map((x) => `;${name}=${x}`).join('') : `;${name}=${items.join(',')}`;
      default:
        return items.join(',');
    }
  }
  if (isPlainObject(v)) {
    const kv = entriesOf(v).map(([k, x]) => [enc(k), enc(scalar(x))] as const);
    switch (p.style) {
      case 'label':
        return p.explode ? kv.map(([k, x]) => `.${k}=${x}`).join('') : `.${kv.map(([k, x]) => `${k},${x}`).join(',')}`;
      case 'matrix':
        return p.explode
          ? kv.map(([k, x]) => `;${k}=${x}`).join('')
          : `;${name}=${kv.map(([k, x]) => `${k},${x}`).join(',')}`;
      default:
        return p.explode ? kv.map(([k, x]) => `${k}=${x}`).join(',') : kv.map(([k, x]) => `${k},${x}`).join(',');
    }
  }
  const s = enc(scalar(v));
  switch (p.style) {
    case 'label':
      return `.${s}`;
    case 'matrix':
      return s === '' ? `;${name}` : `;${name}=${s}`;
    default:
      return s;
  }
}

export function buildPath(template: string, params: readonly ParameterBinding[], args: Record<string, unknown>): string {
  const byName = new Map<string, ParameterBinding>();
  for (const p of params) if (p.in === 'path') byName.set(p.name, p);
  const path = template.replace(/\{([^{}]+)\}/g, (_m, name: string) => {
    const p = byName.get(name);
    if (!p) throw new Error(`path parameter "${name}" of ${template} has no binding`);
    const v = args[p.arg];
    if (v === undefined || v === null) throw new ArgumentError(`missing required argument "${p.arg}"`);
    const s = pathValue(p, v);
    if (s === '') throw new ArgumentError(`argument "${p.arg}" must not be empty (it is a path segment)`);
    return s;
  });
  // URL parsers resolve `.` / `..` segments (also %2e forms): a value must never move the target
  for (const seg of path.split('/')) {
    if (/^(\.|%2e){1,2}$/i.test(seg)) throw new ArgumentError(`a path argument must not be "." or ".." (in ${template})`);
  }
  return path;
}

export function queryPairs(p: ParameterBinding, v: unknown): string[] {
  const e = p.allowReserved ? encReserved : enc;
  const name = enc(p.name);
  const pair = (k: string, x: string): string => `${k}=${x}`;
  if (p.style === 'deepObject') {
    if (!isPlainObject(v) && !Array.isArray(v)) return [pair(name, e(scalar(v)))];
    const out: string[] = [];
    const walk = (prefix: string, x: unknown): void => {
      if (x === undefined) return;
      if (Array.isArray(x)) for (const item of x) walk(`${prefix}[]`, item);
      else if (isPlainObject(x)) for (const [k, y] of entriesOf(x)) walk(`${prefix}[${enc(k)}]`, y);
      else out.push(pair(prefix, e(scalar(x))));
    };
    walk(name, v);
    return out;
  }
  const delimiter = p.style === 'spaceDelimited' ? '%20' : p.style === 'pipeDelimited' ? '|' : ',';
  if (Array.isArray(v)) {
    const items = v.map((x) => e(scalar(x)));
    if (p.explode) return items.map((x) => pair(name, x));
    return [pair(name, items.join(delimiter))];
  }
  if (isPlainObject(v)) {
    const kv = entriesOf(v);
    if (p.explode) return kv.map(([k, x]) => pair(enc(k), e(scalar(x))));
    return [pair(name, kv.map(([k, x]) => `${enc(k)}${delimiter}${e(scalar(x))}`).join(delimiter))];
  }
  return [pair(name, e(scalar(v)))];
}

export function headerValue(p: ParameterBinding, v: unknown): string {
  if (Array.isArray(v)) return v.map(scalar).join(',');
  if (isPlainObject(v)) {
    const kv = entriesOf(v);
    return p.explode ? kv.map(([k, x]) => `${k}=${scalar(x)}`).join(',') : kv.map(([k, x]) => `${k},${scalar(x)}`).join(',');
  }
  return scalar(v);
}

/** cookie-safe: encodeURIComponent encodes ; , space " \ and every control character */
export function cookiePairs(p: ParameterBinding, v: unknown): string[] {
  const name = enc(p.name);
  if (Array.isArray(v)) {
    const items = v.map((x) => enc(scalar(x)));
    return p.explode ? items.map((x) => `${name}=${x}`) : [`${name}=${items.join(',')}`];
  }
  if (isPlainObject(v)) {
    const kv = entriesOf(v);
    if (p.explode) return kv.map(([k, x]) => `${enc(k)}=${enc(scalar(x))}`);
    return [`${name}=${kv.map(([k, x]) => `${enc(k)},${enc(scalar(x))}`).join(',')}`];
  }
  return [`${name}=${enc(scalar(v))}`];
}
