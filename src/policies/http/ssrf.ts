/**
 * SSRF rules for every URL a policy makes the gateway fetch (send-request, send-one-way-request and
 * their proxy):
 *
 * - only `http:` and `https:`; no credentials in the URL (`https://user:pass@host`);
 * - never followed redirects (the client does not follow them; a 3xx is the response);
 * - ALWAYS blocked: link-local (169.254.0.0/16, fe80::/10, which hold the cloud metadata services),
 *   other known metadata addresses (Azure wire server 168.63.129.16, Alibaba 100.100.100.200,
 *   Oracle 192.0.0.192, AWS fd00:ec2::254, metadata.google.internal), unspecified (0.0.0.0/8, ::),
 *   multicast and reserved ranges;
 * - loopback and private ranges (127/8, ::1, 10/8, 172.16/12, 192.168/16, 100.64/10, 198.18/15,
 *   fc00::/7) are allowed, because a gateway usually calls services next to it; an operator who
 *   wants them blocked sets `GATEHOUSE_SSRF_BLOCK_PRIVATE=1` (read when the policies are compiled),
 *   or the embedding code passes `outboundHttp.blockPrivateNetworks` in the compile services.
 *
 * Addresses are checked after DNS resolution, inside the connection's own `lookup`, so the address
 * that was checked is the one connected to (no DNS rebinding between check and use). IPv4-mapped,
 * IPv4-compatible, NAT64 and 6to4 IPv6 forms are checked as the IPv4 address they carry; the WHATWG
 * URL parser has already normalised octal/hex/short IPv4 spellings.
 */
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';

export interface SsrfOptions {
  /** block loopback and private ranges too (link-local and metadata addresses are always blocked) */
  readonly blockPrivate: boolean;
}

export const SSRF_CODE = 'GATEHOUSE_SSRF_BLOCKED';

/** A destination the SSRF rules refuse. The message names the rule, never the full URL. */
export class SsrfError extends Error {
  readonly code = SSRF_CODE;
  constructor(message: string) {
    super(message);
    this.name = 'SsrfError';
  }
}

/** the rule in force from the environment (policies read it once, when compiled) */
export function ssrfFromEnv(env: NodeJS.ProcessEnv = process.env): SsrfOptions {
  const v = (env.GATEHOUSE_SSRF_BLOCK_PRIVATE ?? '').trim().toLowerCase();
  return { blockPrivate: v === '1' || v === 'true' || v === 'yes' };
}

const ALWAYS = new BlockList();
ALWAYS.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local: AWS/Azure/GCP metadata 169.254.169.254
ALWAYS.addSubnet('0.0.0.0', 8, 'ipv4'); // "this network" (0.0.0.0 reaches the local host)
ALWAYS.addSubnet('224.0.0.0', 4, 'ipv4'); // multicast
ALWAYS.addSubnet('240.0.0.0', 4, 'ipv4'); // reserved, broadcast
ALWAYS.addAddress('168.63.129.16', 'ipv4'); // Azure wire server / IMDS proxy
ALWAYS.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
ALWAYS.addAddress('192.0.0.192', 'ipv4'); // Oracle Cloud metadata
ALWAYS.addSubnet('fe80::', 10, 'ipv6'); // link-local
ALWAYS.addAddress('::', 'ipv6'); // unspecified
ALWAYS.addSubnet('ff00::', 8, 'ipv6'); // multicast
ALWAYS.addAddress('fd00:ec2::254', 'ipv6'); // AWS IMDS over IPv6

const PRIVATE = new BlockList();
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4'); // carrier-grade NAT
PRIVATE.addSubnet('198.18.0.0', 15, 'ipv4'); // benchmarking
PRIVATE.addAddress('::1', 'ipv6');
PRIVATE.addSubnet('fc00::', 7, 'ipv6'); // unique local

const BLOCKED_HOSTS = new Set(['metadata.google.internal', 'metadata.goog', 'metadata.azure.com']);

/** 16 bytes of an IPv6 address (with or without an embedded dotted quad), or undefined */
function ipv6Bytes(addr: string): number[] | undefined {
  let s = addr.toLowerCase();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  const maybeV4 = s.slice(lastColon + 1);
  if (maybeV4.includes('.')) {
    if (isIP(maybeV4) !== 4) return undefined;
    tail = maybeV4.split('.').map(Number);
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = 8 - head.length - rest.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const words = [...head, ...new Array<number>(fill).fill(0), ...rest];
  if (words.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffff)) return undefined;
  const bytes = words.flatMap((w) => [w >> 8, w & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** the IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any */
function embeddedV4(addr: string): string | undefined {
  const b = ipv6Bytes(addr);
  if (!b) return undefined;
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const v4 = (i: number) => `${b[i]}.${b[i + 1]}.${b[i + 2]}.${b[i + 3]}`;
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12); // ::ffff:a.b.c.d
  if (zero(0, 12) && !(b[12] === 0 && b[13] === 0 && b[14] === 0 && (b[15] === 0 || b[15] === 1))) return v4(12); // ::a.b.c.d
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return v4(12); // 64:ff9b::/96
  if (b[0] === 0x20 && b[1] === 0x02) return v4(2); // 2002::/16
  return undefined;
}

/** why an IP address is refused, or undefined when it may be reached */
export function checkAddress(address: string, opts: SsrfOptions): string | undefined {
  let ip = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  let family = isIP(ip);
  if (family === 0) return 'not an IP address';
  if (family === 6) {
    const v4 = embeddedV4(ip);
    if (v4) {
      ip = v4;
      family = 4;
    }
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (ALWAYS.check(ip, type)) return 'link-local, cloud metadata and reserved addresses are never reachable from policies';
  if (opts.blockPrivate && PRIVATE.check(ip, type)) return 'loopback and private addresses are blocked (GATEHOUSE_SSRF_BLOCK_PRIVATE)';
  return undefined;
}

/**
 * Static checks of a URL before anything is sent: scheme, credentials, blocked host names and IP
 * literals. Returns the parsed URL. Throws SsrfError (its message never contains the URL).
 */
export function checkUrl(raw: string | URL, opts: SsrfOptions, what = 'URL'): URL {
  let url: URL;
  try {
    url = typeof raw === 'string' ? new URL(raw) : raw;
  } catch {
    throw new SsrfError(`the ${what} is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SsrfError(`the ${what} must use http or https, not ${url.protocol.replace(/:$/, '')}`);
  if (url.username !== '' || url.password !== '') throw new SsrfError(`the ${what} must not contain credentials (use a header instead)`);
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  if (host === '') throw new SsrfError(`the ${what} has no host`);
  if (BLOCKED_HOSTS.has(host)) throw new SsrfError(`${host} is a cloud metadata host and is never reachable from policies`);
  const literal = host.startsWith('[') ? host.slice(1, -1) : host;
  if (isIP(literal)) {
    const why = checkAddress(literal, opts);
    if (why) throw new SsrfError(`${url.host}: ${why}`);
  } else if (opts.blockPrivate && (host === 'localhost' || host.endsWith('.localhost'))) {
    throw new SsrfError(`${url.host}: loopback and private addresses are blocked (GATEHOUSE_SSRF_BLOCK_PRIVATE)`);
  }
  return url;
}

/**
 * A `lookup` for net/tls.connect that resolves, refuses the whole answer when any address is blocked,
 * and hands the checked addresses to the socket (so the checked address is the one connected to).
 */
export function guardedLookup(opts: SsrfOptions): LookupFunction {
  return ((hostname: string, options: { all?: boolean; family?: number | string; hints?: number } | number, callback: (...args: unknown[]) => void) => {
    const o = typeof options === 'number' ? { family: options } : (options ?? {});
    dnsLookup(hostname, { family: o.family as 0 | 4 | 6 | undefined, hints: o.hints, all: true }, (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
      if (err) return callback(err);
      if (addresses.length === 0) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }));
      for (const a of addresses) {
        const why = checkAddress(a.address, opts);
        if (why) return callback(new SsrfError(`${hostname} resolves to a blocked address: ${why}`));
      }
      if (o.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  }) as LookupFunction;
}

/** resolve and check a host without connecting (used when a proxy connects for us) */
export async function checkResolvedHost(url: URL, opts: SsrfOptions): Promise<void> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return; // literals were checked by checkUrl
  const lookup = guardedLookup(opts);
  await new Promise<void>((resolve, reject) => {
    (lookup as unknown as (h: string, o: object, cb: (err: Error | null) => void) => void)(host, { all: true }, (err) => (err ? reject(err) : resolve()));
  });
}
