/** Resource indicators (RFC 8707): their canonical form, and the MCP servers of this gateway they name. */
import type { FacadeContext } from './context.js';

/** `https://GW/x/mcp/` → `https://gw/x/mcp` (case of scheme/host, one trailing slash); undefined when not a resource indicator */
export function canonicalResource(value: string): string | undefined {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return undefined;
  }
  if (u.hash || value.includes('#') || (u.protocol !== 'https:' && u.protocol !== 'http:')) return undefined;
  const href = `${u.protocol}//${u.host}${u.pathname}${u.search}`;
  return u.search === '' && href.endsWith('/') ? href.slice(0, -1) : href;
}

export function resourceOf(ctx: FacadeContext, value: string): string | undefined {
  const c = canonicalResource(value);
  return c === undefined ? undefined : ctx.resources.get(c);
}
