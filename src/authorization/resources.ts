/** Resource indicators (RFC 8707): their canonical form, and the MCP servers of this gateway they name. */
import type { FacadeContext } from './context.js';
import { canonicalResource } from '../auth/resource-id.js';

export { canonicalResource } from '../auth/resource-id.js';

export function resourceOf(ctx: FacadeContext, value: string): string | undefined {
  const c = canonicalResource(value);
  return c === undefined ? undefined : ctx.resources.get(c);
}
