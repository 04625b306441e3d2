// Runtime representations of .NET values other than strings, numbers, booleans, arrays, byte[] and JSON tokens.
import { randomBytes, randomUUID, type KeyObject, type X509Certificate } from 'node:crypto';
import { CsException } from '../errors.js';
import { CsDateTime } from './time.js';

/** List<T> */
export class CsList {
  constructor(public items: unknown[] = []) {}
}

/** Dictionary<TKey, TValue>; string keys may be compared case-insensitively */
export class CsDictionary {
  readonly map = new Map<unknown, [unknown, unknown]>();
  constructor(
    readonly ignoreCase = false,
    readonly readOnly = false,
  ) {}
  private norm(k: unknown): unknown {
    if (k === null || k === undefined) throw new CsException('ArgumentNullException', "Value cannot be null. (Parameter 'key')");
    return typeof k === 'string' && this.ignoreCase ? k.toLowerCase() : k;
  }
  has(k: unknown): boolean {
    return this.map.has(this.norm(k));
  }
  get(k: unknown): unknown {
    return this.map.get(this.norm(k))?.[1];
  }
  getOrThrow(k: unknown): unknown {
    const e = this.map.get(this.norm(k));
    if (!e) throw new CsException('KeyNotFoundException', `The given key '${String(k)}' was not present in the dictionary.`);
    return e[1];
  }
  set(k: unknown, v: unknown): void {
    const n = this.norm(k);
    const e = this.map.get(n);
    if (e) e[1] = v;
    else this.map.set(n, [k, v]);
  }
  add(k: unknown, v: unknown): void {
    const n = this.norm(k);
    if (this.map.has(n)) throw new CsException('ArgumentException', `An item with the same key has already been added. Key: ${String(k)}`);
    this.map.set(n, [k, v]);
  }
  delete(k: unknown): boolean {
    return this.map.delete(this.norm(k));
  }
  get size(): number {
    return this.map.size;
  }
  entries(): Array<[unknown, unknown]> {
    return [...this.map.values()].map(([k, v]) => [k, v]);
  }
}

/** an ordered name → string[] map (headers, query parameters, JWT claims, form fields) */
export class StringListMap {
  protected readonly m = new Map<string, { name: string; values: string[] }>();
  constructor(readonly caseInsensitive = true) {}
  protected key(name: string): string {
    return this.caseInsensitive ? name.toLowerCase() : name;
  }
  /** the values of a name, or undefined */
  get(name: string): string[] | undefined {
    return this.m.get(this.key(name))?.values;
  }
  /** the values joined with ',' (as APIM's GetValueOrDefault), or undefined */
  getJoined(name: string): string | undefined {
    const v = this.get(name);
    return v === undefined ? undefined : v.join(',');
  }
  has(name: string): boolean {
    return this.m.has(this.key(name));
  }
  set(name: string, values: string | string[]): void {
    const vs = Array.isArray(values) ? [...values] : [values];
    const k = this.key(name);
    const e = this.m.get(k);
    if (e) e.values = vs;
    else this.m.set(k, { name, values: vs });
  }
  append(name: string, value: string | string[]): void {
    const vs = Array.isArray(value) ? value : [value];
    const k = this.key(name);
    const e = this.m.get(k);
    if (e) e.values.push(...vs);
    else this.m.set(k, { name, values: [...vs] });
  }
  delete(name: string): boolean {
    return this.m.delete(this.key(name));
  }
  clear(): void {
    this.m.clear();
  }
  names(): string[] {
    return [...this.m.values()].map((e) => e.name);
  }
  entries(): Array<[string, string[]]> {
    return [...this.m.values()].map((e) => [e.name, e.values]);
  }
  get size(): number {
    return this.m.size;
  }
}

/** IGrouping<TKey, TElement> (GroupBy) */
export class CsGrouping {
  constructor(
    readonly key: unknown,
    readonly items: unknown[],
  ) {}
}

/** KeyValuePair<TKey, TValue> */
export class CsKeyValuePair {
  constructor(
    readonly key: unknown,
    readonly value: unknown,
  ) {}
}

/** an instance of an anonymous type: new { a = 1, b = "x" } */
export class CsAnon {
  constructor(
    readonly fields: Map<string, unknown>,
    /** static types of the fields (so 2.0 serializes as a float) */
    readonly types?: ReadonlyMap<string, { n: string }>,
  ) {}
}

/** a value of an enum type (StringComparison, StringSplitOptions, RegexOptions, Formatting, JTokenType, ...) */
export class CsEnum {
  constructor(
    readonly type: string,
    readonly name: string,
    readonly value: number,
  ) {}
}

export class CsGuid {
  /** 32 lowercase hex digits in the textual order */
  constructor(readonly hex: string) {}
  static newGuid(): CsGuid {
    return new CsGuid(randomUUID().replace(/-/g, ''));
  }
  static empty(): CsGuid {
    return new CsGuid('0'.repeat(32));
  }
  static tryParse(s: string): CsGuid | null {
    const t = s.trim();
    let m = /^[{(]?([0-9a-fA-F]{8})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{12})[})]?$/.exec(t);
    if (m) {
      const open = t[0];
      const close = t[t.length - 1];
      if ((open === '{' && close !== '}') || (open === '(' && close !== ')') || (open !== '{' && open !== '(' && (close === '}' || close === ')')))
        return null;
      return new CsGuid((m[1]! + m[2]! + m[3]! + m[4]! + m[5]!).toLowerCase());
    }
    m = /^([0-9a-fA-F]{32})$/.exec(t);
    if (m) return new CsGuid((m[1] as string).toLowerCase());
    return null;
  }
  static fromBytes(b: Uint8Array): CsGuid {
    if (b.length !== 16) throw new CsException('ArgumentException', "Byte array for Guid must be exactly 16 bytes long. (Parameter 'b')");
    const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    return new CsGuid(order.map((i) => (b[i] as number).toString(16).padStart(2, '0')).join(''));
  }
  toByteArray(): Uint8Array {
    const raw = Buffer.from(this.hex, 'hex');
    const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    return Uint8Array.from(order.map((i) => raw[i] as number));
  }
  format(f?: string | null): string {
    const h = this.hex;
    const d = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    switch (f ?? 'D') {
      case '':
      case 'D':
      case 'd':
        return d;
      case 'N':
      case 'n':
        return h;
      case 'B':
      case 'b':
        return `{${d}}`;
      case 'P':
      case 'p':
        return `(${d})`;
      default:
        throw new CsException('FormatException', 'Format string can be only "D", "d", "N", "n", "P", "p", "B", "b", "X" or "x".');
    }
  }
  toString(): string {
    return this.format('D');
  }
}

export class CsUri {
  readonly url: URL;
  constructor(readonly original: string, base?: CsUri) {
    try {
      this.url = base ? new URL(original, base.url) : new URL(original);
    } catch {
      throw new CsException('UriFormatException', 'Invalid URI: The format of the URI could not be determined.');
    }
    if (!/^[a-z][a-z0-9+.-]*:/i.test(original) && !base)
      throw new CsException('UriFormatException', 'Invalid URI: The format of the URI could not be determined.');
  }
  get port(): number {
    if (this.url.port) return Number(this.url.port);
    const defaults: Record<string, number> = { 'http:': 80, 'https:': 443, 'ws:': 80, 'wss:': 443, 'ftp:': 21 };
    return defaults[this.url.protocol] ?? -1;
  }
  get absoluteUri(): string {
    return this.url.href;
  }
  toString(): string {
    try {
      return decodeURI(this.url.href);
    } catch {
      return this.url.href;
    }
  }
}

/** System.Random: seeded instances are deterministic (mulberry32), unseeded ones use the crypto RNG */
export class CsRandom {
  private state: number | null;
  constructor(seed?: number) {
    this.state = seed === undefined ? null : seed | 0;
  }
  nextDouble(): number {
    if (this.state === null) return randomBytes(6).readUIntBE(0, 6) / 2 ** 48;
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  next(min: number, max: number): number {
    if (min > max) throw new CsException('ArgumentOutOfRangeException', `'minValue' cannot be greater than maxValue.`);
    return min + Math.floor(this.nextDouble() * (max - min));
  }
}

export class CsStringBuilder {
  parts: string[] = [];
  length = 0;
}

export class CsGroup {
  constructor(
    readonly success: boolean,
    readonly value: string,
    readonly index: number,
    readonly length: number,
    readonly name: string,
  ) {}
}

export class CsMatch {
  constructor(
    readonly groups: CsGroup[],
    /** for NextMatch(): continue after this match */
    readonly next: (() => CsMatch) | null,
  ) {}
  get success(): boolean {
    return (this.groups[0] as CsGroup).success;
  }
  get value(): string {
    return (this.groups[0] as CsGroup).value;
  }
  get index(): number {
    return (this.groups[0] as CsGroup).index;
  }
  get length(): number {
    return (this.groups[0] as CsGroup).length;
  }
  static empty(groupNames: string[]): CsMatch {
    return new CsMatch(
      groupNames.map((name) => new CsGroup(false, '', 0, 0, name)),
      null,
    );
  }
}

/** the Groups property of a Match */
export class CsGroupCollection {
  constructor(readonly match: CsMatch) {}
}

export class CsMatchCollection {
  constructor(readonly matches: CsMatch[]) {}
}

/** HashAlgorithm / HMAC instances (SHA256.Create(), new HMACSHA256(key)) */
export class CsHash {
  constructor(
    /** node:crypto algorithm name */
    readonly alg: string,
    public key: Uint8Array | null,
    readonly hmac: boolean,
  ) {}
}

/** Jwt as APIM's AsJwt() returns it (decoded, not validated) */
export class Jwt {
  constructor(
    readonly header: Map<string, unknown>,
    readonly payload: Map<string, unknown>,
    readonly raw: string,
  ) {}
}

/** result of AsBasic() / TryParseBasic() */
export class BasicCredentials {
  constructor(
    readonly userId: string,
    readonly password: string,
  ) {}
}

/** the value of `catch (Exception ex)` */
export class CsExceptionValue {
  constructor(
    readonly type: string,
    readonly message: string,
  ) {}
}

/** the result of GetType() */
export class CsTypeInfo {
  constructor(
    readonly name: string,
    readonly fullName: string,
  ) {}
}

/** X509Certificate2 */
export class CsX509 {
  constructor(
    readonly cert: X509Certificate,
    readonly der: Uint8Array,
    readonly key: KeyObject | null,
  ) {}
}

/** RSA (RSACng, RSACryptoServiceProvider): a node:crypto key */
export class CsRsa {
  constructor(
    readonly key: KeyObject,
    readonly isPrivate: boolean,
  ) {}
}

/** an out argument box */
export class OutBox {
  value: unknown = null;
}

export { CsDateTime };
