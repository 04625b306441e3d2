#!/usr/bin/env node
// `npm test`: compile (src + tests) with tsc, then run every dist/test/**/*.test.js with node's test runner.
// Extra arguments select test files by substring, e.g. `npm test -- config passthrough`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, rmSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
// stale compiled tests of deleted sources must not run
if (existsSync(join(root, 'dist', 'test'))) rmSync(join(root, 'dist', 'test'), { recursive: true, force: true });
rmSync(join(root, 'dist', '.tsbuildinfo'), { force: true });
const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
const files = find(join(root, 'dist', 'test'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort()
  .map((f) => relative(root, f));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { cwd: root, stdio: 'inherit', env: { ...process.env, GATEHOUSE_LOG_LEVEL: process.env.GATEHOUSE_LOG_LEVEL ?? 'silent' } });
process.exit(res.status ?? 1);
