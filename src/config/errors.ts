/**
 * Configuration problems and the error that carries them.
 *
 * Every problem prints as `FILE:LINE:COL: message` (1-based line and column). FILE is the config
 * file's absolute path (`formatProblem(p, { cwd })` prints it relative to `cwd` when inside it),
 * or `<inline>` for YAML text given without a file name, or `<object>` for a config built from a JS
 * object (positions are then always 1:1). See load.ts for the message format.
 */
import * as path from 'node:path';
import type { Problem } from './types.js';

/** FILE as shown to a user: relative to `cwd` when the file is inside it, else unchanged. */
export function displayFile(file: string, cwd?: string): string {
  if (cwd === undefined || !path.isAbsolute(file)) return file;
  const rel = path.relative(cwd, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return file;
  return rel;
}

/** `FILE:LINE:COL: message` */
export function formatProblem(p: Problem, opts: { cwd?: string } = {}): string {
  return `${displayFile(p.file, opts.cwd)}:${p.line}:${p.col}: ${p.message}`;
}

/** Thrown by loadConfig/configFromObject with every problem found (never only the first). */
export class ConfigError extends Error {
  readonly problems: Problem[];

  constructor(problems: readonly Problem[]) {
    super(problems.map((p) => formatProblem(p)).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems.map((p) => Object.freeze({ ...p }));
  }
}

export const isConfigError = (e: unknown): e is ConfigError => e instanceof ConfigError;
