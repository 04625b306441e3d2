/**
 * Tool curation of a passthrough server (PRODUCT §3 allowTools/denyTools): compiled once at load.
 * Deny wins over allow; with no allow list every tool not denied is allowed.
 */
export function globToRegExp(glob: string): RegExp {
  let src = '^';
  for (const ch of glob) {
    if (ch === '*') src += '.*';
    else if (ch === '?') src += '.';
    else src += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(src + '$');
}

export interface ToolFilter {
  /** true when the server has any curation (a tools/list answer must then be filtered) */
  readonly active: boolean;
  allows(toolName: string): boolean;
}

export function compileToolFilter(allow: readonly string[] | undefined, deny: readonly string[]): ToolFilter {
  const allowRe = allow?.map(globToRegExp);
  const denyRe = deny.map(globToRegExp);
  const active = allowRe !== undefined || denyRe.length > 0;
  return {
    active,
    allows(name: string): boolean {
      for (const re of denyRe) if (re.test(name)) return false;
      if (allowRe === undefined) return true;
      for (const re of allowRe) if (re.test(name)) return true;
      return false;
    },
  };
}

/** Filter a tools/list JSON-RPC response message in place-safe fashion (returns a new message). */
export function filterToolsListResponse(message: Record<string, unknown>, filter: ToolFilter): Record<string, unknown> {
  const result = message.result as Record<string, unknown> | undefined;
  if (!result || !Array.isArray(result.tools)) return message;
  const tools = (result.tools as unknown[]).filter(
    (t) => typeof t === 'object' && t !== null && typeof (t as { name?: unknown }).name === 'string' && filter.allows((t as { name: string }).name),
  );
  return { ...message, result: { ...result, tools } };
}
