/**
 * IP addresses for ip-filter and the per-caller counters of rate-limit/quota: IPv4 and IPv6 (with
 * `::` compression, an embedded IPv4 tail, brackets and a zone id), compared as integers. An
 * IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack socket reports for an IPv4
 * client) is the IPv4 address it maps, so `<address>10.0.0.1</address>` matches it.
 */

export interface IpAddress {
  readonly v6: boolean;
  readonly n: bigint;
}

function parseV4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

function parseV6(input: string): bigint | undefined {
  let s = input;
  // an embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) becomes two hex groups
  const lastColon = s.lastIndexOf(':');
  if (lastColon === -1) return undefined;
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseV4(tail);
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${Math.floor(v4 / 65536).toString(16)}:${(v4 % 65536).toString(16)}`;
  }
  const dbl = s.indexOf('::');
  let groups: string[];
  if (dbl !== -1) {
    if (s.indexOf('::', dbl + 1) !== -1) return undefined;
    const head = s.slice(0, dbl) === '' ? [] : s.slice(0, dbl).split(':');
    const rest = s.slice(dbl + 2) === '' ? [] : s.slice(dbl + 2).split(':');
    if (head.length + rest.length > 7) return undefined;
    groups = [...head, ...new Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  } else {
    groups = s.split(':');
    if (groups.length !== 8) return undefined;
  }
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  return n;
}

/** parse an IPv4 or IPv6 address; undefined when it is neither */
export function parseIp(text: string): IpAddress | undefined {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  if (s === '') return undefined;
  if (!s.includes(':')) {
    const v4 = parseV4(s);
    return v4 === undefined ? undefined : { v6: false, n: BigInt(v4) };
  }
  const n = parseV6(s);
  if (n === undefined) return undefined;
  if (n >> 32n === 0xffffn) return { v6: false, n: n & 0xffffffffn };
  return { v6: true, n };
}

/** a canonical text form (IPv4 dotted quad; IPv6 as 8 lower-case hex groups, uncompressed) — a stable counter key */
export function formatIp(ip: IpAddress): string {
  if (!ip.v6) {
    const n = Number(ip.n);
    return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((ip.n >> BigInt(i * 16)) & 0xffffn).toString(16));
  return groups.join(':');
}

/** the caller's address as a counter key: canonical when it parses, else the text as given */
export function callerKey(ipAddress: string): string {
  const ip = parseIp(ipAddress);
  return ip ? formatIp(ip) : ipAddress;
}
