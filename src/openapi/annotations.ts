/** The MCP tool annotations of an operation, from its HTTP method. */
import type { ToolAnnotations } from './types.js';

export function annotationsFor(method: string, title: string | undefined): ToolAnnotations {
  const m = method.toUpperCase();
  const readOnly = m === 'GET' || m === 'HEAD' || m === 'OPTIONS';
  const a: { -readonly [K in keyof ToolAnnotations]: ToolAnnotations[K] } = {};
  if (title !== undefined) a.title = title;
  a.readOnlyHint = readOnly;
  if (m === 'DELETE') a.destructiveHint = true;
  else if (readOnly) a.destructiveHint = false;
  a.idempotentHint = readOnly || m === 'PUT' || m === 'DELETE';
  a.openWorldHint = true;
  return a;
}
