/**
 * Tool names: the operationId, else `method path` ("GET /pet/{petId}" → "get_pet_petId"), with every
 * run of characters outside [A-Za-z0-9_.-] turned into one "_" and cut to 128 characters. `toolsOf`
 * does not fail on colliding names: `selectTools` (which every consumer calls) does, so a selection
 * can resolve a collision with `name:`.
 */
import { createHash } from 'node:crypto';

export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

export function sanitizeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/_+/g, '_').replace(/^_+|_+$/g, '');
}

export function toolName(operationId: string | undefined, method: string, path: string): string {
  let name = sanitizeName(operationId ?? `${method.toLowerCase()} ${path}`);
  if (!name) name = sanitizeName(`${method.toLowerCase()} ${path}`) || method.toLowerCase();
  if (name.length > 128) {
    const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
    name = `${name.slice(0, 119)}_${hash}`;
  }
  return name;
}
