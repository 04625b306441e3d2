/**
 * DNS-rebinding defences (MCP 2025-11-25 §Security Warning): a present Origin must be allowed
 * (403 otherwise), and a loopback-bound gateway serves only loopback Host names.
 */
import type { GatewaySettings } from '../config/types.js';

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** hostname (with brackets for IPv6) and host:port forms of a Host header */
function hostForms(host: string): [string, string] {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return [h.slice(0, end + 1), h];
  }
  const colon = h.lastIndexOf(':');
  return [colon === -1 ? h : h.slice(0, colon), h];
}

export function checkHost(host: string | undefined, gw: GatewaySettings): boolean {
  if (gw.allowedHosts.length === 0) return true;
  if (!host) return false;
  const [name, full] = hostForms(host);
  return gw.allowedHosts.includes(name) || gw.allowedHosts.includes(full);
}

const originCache = new WeakMap<GatewaySettings, { self: string; loopback: boolean; allowed: Set<string> }>();

export function checkOrigin(origin: string, gw: GatewaySettings): boolean {
  let c = originCache.get(gw);
  if (!c) {
    c = { self: new URL(gw.publicUrl).origin, loopback: isLoopbackHost(gw.host), allowed: new Set(gw.allowedOrigins.map((o) => o.toLowerCase())) };
    originCache.set(gw, c);
  }
  const o = origin.trim().toLowerCase();
  if (c.allowed.has(o) || c.allowed.has('*')) return true;
  let url: URL;
  try {
    url = new URL(o);
  } catch {
    return false; // "null" and garbage are never allowed
  }
  if (url.origin === c.self) return true;
  return c.loopback && (url.protocol === 'http:' || url.protocol === 'https:') && isLoopbackHost(url.hostname);
}
