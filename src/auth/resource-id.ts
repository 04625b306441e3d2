/**
 * Resource identifiers (RFC 8707) and URL-shaped audiences/issuers compare in one canonical form:
 * scheme and host lower case (as WHATWG URL gives them), default port dropped, one trailing slash
 * removed, no fragment. Used by token validation (audiences, issuers) and by the authorization
 * server facade (the `resource` of authorization and token requests).
 */

/** `https://GW/x/mcp/` → `https://gw/x/mcp`; undefined when `value` is not an http(s) URL without a fragment */
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

/** equal as written, or equal in canonical form when both are URLs */
export function sameIdentifier(a: string, b: string): boolean {
  if (a === b) return true;
  const ca = canonicalResource(a);
  return ca !== undefined && ca === canonicalResource(b);
}
