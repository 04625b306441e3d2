/** Reading the untyped values of a parsed OpenAPI / Swagger document. */
import type { ImportedApi } from './types.js';

export type Obj = Record<string, unknown>;
export type Kind = ImportedApi['kind'];

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const nonEmpty = (v: unknown): string | undefined => {
  const s = str(v)?.trim();
  return s ? s : undefined;
};
