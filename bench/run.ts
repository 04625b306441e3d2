/**
 * `npm run bench` — performance contract of PRODUCT.md §8.
 *
 * One run on one machine measures MCP `tools/call` (echo) through:
 *   direct      client → backend
 *   gatehouse   client → Gatehouse (no policies) → backend
 *   node-floor  client → the cheapest Node.js proxy (bench/floor-proxy.ts) → backend (reference)
 *   nginx       client → nginx (as many workers as Gatehouse, upstream keep-alive) → backend
 *   gatehouse+policies  the same with bench/profiles/policies.yaml (validate-jwt RS256 with a cached JWKS
 *                       + set-header + rate-limit-by-key + choose with expressions; --policies FILE replaces it)
 * at concurrency 1 and 32, prints a table and writes bench/results.json.
 *
 * Flags: --duration S (default 5), --warmup S (default 1), --quick (2 s + 1 s warm-up),
 *        --concurrency 1,32, --loadgen auto|wrk|node, --wrk-threads N, --policies FILE,
 *        --policies-header 'Name: value' (repeatable), --workers N|auto (gateway.workers, default 1;
 *        nginx and node-floor get the same count), --nginx-workers N, --no-floor, --no-nginx,
 *        --no-install, --out FILE, --keep-tmp, --strict (exit 1 when a target is missed or a profile failed).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import YAML from 'yaml';
import {
  ECHO_TEXT,
  callEcho,
  closeClient,
  closeSession,
  mcpHandshake,
  runNodeLoadInChild,
  runWrk,
  scriptPathFor,
  type LoadOptions,
  type LoadResult,
} from './loadgen.js';
import { startBenchIssuer, type BenchIssuer } from './issuer.js';
import { ensureDebianPackage, isAlive, nginxVersion, processTree, startNginx, type NginxHandle } from './nginx.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const ROOT = resolve(HERE, '..', '..');
const BENCH_SRC_DIR = join(ROOT, 'bench');

// ---------------------------------------------------------------------------------------------
// profiles (data-driven)
// ---------------------------------------------------------------------------------------------

/**
 * A Gatehouse profile: a config template. `${BENCH_LISTEN}`, `${BENCH_BACKEND_URL}` and
 * `${BENCH_OPENID_URL}` (the bench's token issuer) are replaced by the harness, and `${BENCH_TOKEN}`
 * in a header value by a token of that issuer for the server's resource; a template without them is parsed and gets `gateway.listen` and the
 * backend URL of its `bench` server (or first passthrough server) overridden.
 */
export interface GatehouseProfile {
  name: string;
  configYaml: string;
  /** where the generated config file is written (so relative paths in it resolve); default: temp dir */
  configDir?: string;
  /** extra request headers for every request of this profile (e.g. Authorization for validate-jwt) */
  headers?: Record<string, string>;
}

export const DEFAULT_GATEHOUSE_YAML = `gateway: { listen: \${BENCH_LISTEN} }
servers:
  - name: bench
    type: passthrough
    backend: { url: \${BENCH_BACKEND_URL} }
`;

export const NO_POLICY_PROFILE: GatehouseProfile = { name: 'gatehouse', configYaml: DEFAULT_GATEHOUSE_YAML };
export const POLICIES_PROFILE_NAME = 'gatehouse+policies';
/** the cheapest Node.js proxy (bench/floor-proxy.ts): the floor any Node gateway is held to */
export const FLOOR_PROFILE_NAME = 'node-floor';

export interface BenchOptions {
  durationS: number;
  /** `gateway.workers` of the Gatehouse profiles (1 = the key is not written) */
  workers: number | 'auto';
  /** nginx `worker_processes`; default: the resolved `workers` */
  nginxWorkers?: number;
  /** run the node-floor reference profile */
  floor: boolean;
  warmupS: number;
  concurrency: number[];
  loadgen: 'auto' | 'wrk' | 'node';
  wrkThreads: number;
  install: boolean;
  nginx: boolean;
  out: string;
  keepTmp: boolean;
  strict: boolean;
  /** the Gatehouse profiles to run (default: no-policy, plus gatehouse+policies when given) */
  gatehouseProfiles: GatehouseProfile[];
  log: (s: string) => void;
}

/** the default policy profile: set-header + rate-limit-by-key + choose with expressions */
export const DEFAULT_POLICIES_FILE = fileURLToPath(new URL('../../bench/profiles/policies.yaml', import.meta.url));

/** the default policy profile's validate-jwt reads this header */
export const BENCH_AUTH_HEADERS: Record<string, string> = { authorization: 'Bearer ${BENCH_TOKEN}' };

export function policiesProfileFromFile(file: string, headers: Record<string, string> = {}): GatehouseProfile {
  const abs = resolve(file);
  return { name: POLICIES_PROFILE_NAME, configYaml: readFileSync(abs, 'utf8'), configDir: dirname(abs), headers };
}

export function defaultOptions(): BenchOptions {
  return {
    durationS: 5,
    warmupS: 1,
    workers: 1,
    floor: true,
    concurrency: [1, 32],
    loadgen: 'auto',
    wrkThreads: 1,
    install: true,
    nginx: true,
    out: join(BENCH_SRC_DIR, 'results.json'),
    keepTmp: false,
    strict: false,
    gatehouseProfiles: [NO_POLICY_PROFILE, policiesProfileFromFile(DEFAULT_POLICIES_FILE, BENCH_AUTH_HEADERS)],
    log: (s) => process.stderr.write(`[bench] ${s}\n`),
  };
}

// ---------------------------------------------------------------------------------------------
// child process bookkeeping: everything we start is stopped on exit, error and SIGINT
// ---------------------------------------------------------------------------------------------

interface Tracked {
  cp: ChildProcess;
  name: string;
  killSync?: () => void;
}
const tracked = new Set<Tracked>();
/** set on SIGINT/SIGTERM: the run stops starting anything new */
let aborting = false;

class AbortedError extends Error {
  constructor() {
    super('interrupted');
  }
}

function checkAbort(): void {
  if (aborting) throw new AbortedError();
}

function track(cp: ChildProcess, name: string, killSync?: () => void): Tracked {
  const t: Tracked = { cp, name, ...(killSync ? { killSync } : {}) };
  tracked.add(t);
  cp.once('exit', () => tracked.delete(t));
  if (aborting) {
    // started while we are shutting down: stop it right away
    if (killSync) killSync();
    else cp.kill('SIGKILL');
  }
  return t;
}

function exited(cp: ChildProcess): boolean {
  return cp.exitCode !== null || cp.signalCode !== null;
}

async function stopChild(cp: ChildProcess, graceMs: number): Promise<number | string | null> {
  if (exited(cp)) return cp.exitCode ?? cp.signalCode;
  const done = new Promise<number | string | null>((r) => cp.once('exit', (code, sig) => r(code ?? sig)));
  cp.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (!exited(cp)) cp.kill('SIGKILL');
  }, graceMs);
  const result = await done;
  clearTimeout(timer);
  return result;
}

async function stopAll(): Promise<void> {
  await Promise.all(
    [...tracked].map(async (t) => {
      if (t.killSync) t.killSync();
      await stopChild(t.cp, 3_000);
    }),
  );
}

function killAllSync(): void {
  for (const t of tracked) {
    try {
      if (t.killSync) t.killSync();
      else if (!exited(t.cp)) t.cp.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

// ---------------------------------------------------------------------------------------------
// small utilities
// ---------------------------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = addr && typeof addr === 'object' ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function httpStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise((res) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (r) => {
      r.resume();
      res(r.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => res(0));
  });
}

function fileTail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function readStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(s);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

let clkTck = 0;
function cpuSeconds(pids: number[]): number {
  if (!clkTck) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    clkTck = Number(r.stdout?.trim()) || 100;
  }
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(rest[11]) + Number(rest[12]); // utime + stime
    } catch {
      // gone
    }
  }
  return ticks / clkTck;
}

/** Samples summed VmRSS of a set of pids every 100 ms. */
class RssSampler {
  peakKb = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly pids: number[]) {}
  sample(): void {
    let sum = 0;
    for (const pid of this.pids) sum += readStatusKb(pid, 'VmRSS');
    if (sum > this.peakKb) this.peakKb = sum;
  }
  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
    return this;
  }
  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    return this.peakKb;
  }
}

/** [busy, total] jiffies of the whole machine (all cpus) from /proc/stat. */
function machineJiffies(): [number, number] {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return [total - idle, total];
  } catch {
    return [0, 0];
  }
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------------
// processes under test
// ---------------------------------------------------------------------------------------------

interface Backend {
  port: number;
  pid: number;
  url: string;
  child: ChildProcess;
}

async function startBackend(): Promise<Backend> {
  const child = spawn(process.execPath, [join(HERE, 'backend.js'), '--port', '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  track(child, 'backend');
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const line = await new Promise<string>((res, rej) => {
    let buf = '';
    const timer = setTimeout(() => rej(new Error(`backend did not start within 10 s: ${err}`)), 10_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl !== -1) {
        clearTimeout(timer);
        res(buf.slice(0, nl));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`backend exited (${code}): ${err}`));
    });
  });
  const info = JSON.parse(line) as { port: number };
  return { port: info.port, pid: child.pid!, url: `http://127.0.0.1:${info.port}/mcp`, child };
}

/** A running proxy (or none, for direct). */
interface Target {
  name: string;
  kind: ProfileKind;
  url: string;
  headers: Record<string, string>;
  /** pids whose RSS/CPU is "the proxy" (empty for direct) */
  pids(): number[];
  stop(): Promise<{ exit?: number | string | null }>;
  idleRssKb?: number;
  configYaml?: string;
  configPath?: string;
  /** configured worker count (gateway.workers / worker_processes / floor --workers) */
  workers?: unknown;
  workersFromFile?: boolean;
  /** processes in the tree once ready */
  processes?: number;
}

export type ProfileKind = 'direct' | 'gatehouse' | 'floor' | 'nginx';

/** header values with `${BENCH_TOKEN}` replaced by a token of the bench issuer for `audience` */
async function withToken(headers: Record<string, string>, issuer: BenchIssuer, audience: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = v.includes('${BENCH_TOKEN}') ? v.replaceAll('${BENCH_TOKEN}', await issuer.token(audience)) : v;
  return out;
}

class StartError extends Error {
  constructor(
    message: string,
    readonly tail: string,
  ) {
    super(message);
  }
}

/** the number of processes `workers` stands for ('auto' = the CPUs this process may run on, ≤ 64, as Gatehouse counts them) */
export function resolveWorkers(w: number | 'auto'): number {
  return w === 'auto' ? Math.min(64, Math.max(1, os.availableParallelism())) : Math.max(1, Math.floor(w));
}

interface MaterializedConfig {
  yaml: string;
  serverName: string;
  /** `gateway.workers` in effect: the file's own value, else the bench's `workers` (1 = not written) */
  workers: unknown;
  workersFromFile: boolean;
}

/**
 * The config file a Gatehouse profile runs with. `workers` becomes `gateway.workers` unless the
 * template sets that key itself; 1 (Gatehouse's default) writes no key at all.
 */
export function materializeConfig(
  p: GatehouseProfile,
  listen: string,
  backendUrl: string,
  openidUrl: string,
  workers: number | 'auto' = 1,
): MaterializedConfig {
  let text = p.configYaml.replaceAll('${BENCH_OPENID_URL}', openidUrl);
  const writeWorkers = workers !== 1;
  if (text.includes('${BENCH_LISTEN}') || text.includes('${BENCH_BACKEND_URL}')) {
    text = text.replaceAll('${BENCH_LISTEN}', listen).replaceAll('${BENCH_BACKEND_URL}', backendUrl);
    const doc = YAML.parse(text) as { gateway?: Record<string, unknown>; servers?: Array<{ name?: string; type?: string }> } | null;
    const srv = doc?.servers?.find((s) => s.name === 'bench') ?? doc?.servers?.find((s) => s.type === 'passthrough');
    const own = doc?.gateway && typeof doc.gateway === 'object' ? doc.gateway['workers'] : undefined;
    if (own !== undefined) return { yaml: text, serverName: srv?.name ?? 'bench', workers: own, workersFromFile: true };
    if (writeWorkers) {
      // edit the document rather than re-serialize the parsed value: comments, block scalars
      // (policies) and flow style stay as the author wrote them
      const d = YAML.parseDocument(text);
      d.setIn(['gateway', 'workers'], workers);
      text = d.toString();
    }
    return { yaml: text, serverName: srv?.name ?? 'bench', workers, workersFromFile: false };
  }
  const doc = (YAML.parse(text) ?? {}) as {
    gateway?: Record<string, unknown>;
    servers?: Array<{ name?: string; type?: string; backend?: Record<string, unknown> }>;
  };
  const own = doc.gateway?.['workers'];
  doc.gateway = { ...(doc.gateway ?? {}), listen, ...(own === undefined && writeWorkers ? { workers } : {}) };
  const srv = doc.servers?.find((s) => s.name === 'bench') ?? doc.servers?.find((s) => s.type === 'passthrough');
  if (!srv?.name) throw new Error(`profile ${p.name}: the config has no 'bench' (or passthrough) server`);
  srv.backend = { ...(srv.backend ?? {}), url: backendUrl };
  return { yaml: YAML.stringify(doc), serverName: srv.name, workers: own ?? workers, workersFromFile: own !== undefined };
}

/**
 * After the first answer of a multi-process server: wait (≤ 10 s) until its process tree has
 * `expected` processes and has stayed so for 0.5 s, so that a run never starts while workers are
 * still booting. Returns the count seen.
 */
async function settleProcessTree(pid: number, expected: number, alive: () => boolean): Promise<number> {
  let n = processTree(pid).length;
  if (expected <= 1) return n;
  const deadline = Date.now() + 10_000;
  let stableSince = 0;
  while (Date.now() < deadline && alive()) {
    n = processTree(pid).length;
    if (n >= expected) {
      if (!stableSince) stableSince = Date.now();
      else if (Date.now() - stableSince >= 500) break;
    } else stableSince = 0;
    await sleep(100);
  }
  return n;
}

/**
 * Track a proxy that may fork workers (node:cluster): `remember()` reads its process tree now and
 * keeps every worker pid seen; on exit the primary is asked to stop (like nginx's master) and the
 * workers it had are killed should they outlive it.
 */
function trackTree(child: ChildProcess, name: string): { seen: Set<number>; remember: () => number[] } {
  const seen = new Set<number>();
  const remember = (): number[] => {
    const tree = exited(child) || child.pid === undefined ? [] : processTree(child.pid);
    for (const q of tree.slice(1)) seen.add(q);
    return tree;
  };
  track(child, name, () => {
    remember();
    if (!exited(child)) child.kill('SIGTERM');
    killLeftovers(seen);
  });
  return { seen, remember };
}

/** SIGKILLs the given pids that are still alive (workers left behind by a primary that is gone). */
function killLeftovers(pids: Iterable<number>): void {
  for (const p of pids) {
    try {
      if (isAlive(p)) process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

async function startGatehouse(p: GatehouseProfile, backend: Backend, tmp: string, issuer: BenchIssuer, workers: number | 'auto'): Promise<Target> {
  const dir = join(tmp, `gatehouse-${p.name.replace(/[^A-Za-z0-9_.-]+/g, '_')}`);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const mat = materializeConfig(p, `127.0.0.1:${port}`, backend.url, issuer.discoveryUrl, workers);
  const { yaml, serverName } = mat;
  const configPath = p.configDir
    ? join(p.configDir, `.gatehouse-bench-${process.pid}-${basename(dir)}.yaml`)
    : join(dir, 'gatehouse.yaml');
  writeFileSync(configPath, yaml);
  const removeConfig = (): void => {
    if (p.configDir) rmSync(configPath, { force: true });
  };
  const outPath = join(dir, 'gatehouse.stdout.log');
  const errPath = join(dir, 'gatehouse.stderr.log');
  const outFd = openSync(outPath, 'w');
  const errFd = openSync(errPath, 'w');
  const bin = join(ROOT, 'bin', 'gatehouse.js');
  const child = spawn(process.execPath, [bin, 'start', '-c', configPath], { cwd: dir, stdio: ['ignore', outFd, errFd] });
  closeSync(outFd);
  closeSync(errFd);
  // the primary stops its cluster workers; the pids seen are SIGKILLed should it die first
  const { seen, remember } = trackTree(child, p.name);
  const tails = (): string =>
    [`--- stderr (${errPath})`, fileTail(errPath), `--- stdout (${outPath})`, fileTail(outPath, 10)].join('\n');
  let spawnErr: Error | undefined;
  child.once('error', (e) => (spawnErr = e));

  const base = `http://127.0.0.1:${port}`;
  let ready = false;
  for (let attempt = 0; attempt < 150 && !ready; attempt++) {
    if (spawnErr) break;
    if (exited(child)) break;
    if ((await httpStatus(`${base}/healthz`, 500)) === 200) ready = true;
    else await sleep(100);
  }
  if (!ready) {
    const how = spawnErr
      ? `spawn failed: ${spawnErr.message}`
      : exited(child)
        ? `exited with ${child.exitCode ?? child.signalCode} before GET /healthz answered 200`
        : 'GET /healthz did not answer 200 within 150 attempts';
    await stopChild(child, 3_000);
    removeConfig();
    throw new StartError(`gatehouse (${p.name}) failed to start: ${how}`, tails());
  }
  const pid = child.pid!;
  const expected = typeof mat.workers === 'number' || mat.workers === 'auto' ? resolveWorkers(mat.workers) : 1;
  const processes = await settleProcessTree(pid, expected > 1 ? expected + 1 : 1, () => !exited(child));
  const target: Target = {
    name: p.name,
    kind: 'gatehouse',
    url: `${base}/${serverName}/mcp`,
    headers: await withToken(p.headers ?? {}, issuer, `${base}/${serverName}/mcp`),
    pids: remember,
    stop: async () => {
      remember();
      const exit = await stopChild(child, 10_000);
      await waitGone(seen, 3_000);
      killLeftovers(seen);
      removeConfig();
      return { exit };
    },
    idleRssKb: remember().reduce((sum, q) => sum + readStatusKb(q, 'VmRSS'), 0),
    configYaml: yaml,
    configPath,
    workers: mat.workers,
    workersFromFile: mat.workersFromFile,
    processes,
  };
  return target;
}

async function waitGone(pids: Set<number>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && [...pids].some(isAlive)) await sleep(50);
}

/** the node-floor reference proxy (bench/floor-proxy.ts) in its own process */
async function startFloor(backend: Backend, tmp: string, workers: number): Promise<Target> {
  const dir = join(tmp, 'node-floor');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const errPath = join(dir, 'floor.stderr.log');
  const errFd = openSync(errPath, 'w');
  const child = spawn(
    process.execPath,
    [join(HERE, 'floor-proxy.js'), '--port', String(port), '--backend', backend.url, '--workers', String(workers)],
    { stdio: ['pipe', 'pipe', errFd] },
  );
  closeSync(errFd);
  const { seen, remember } = trackTree(child, 'node-floor');
  try {
    await new Promise<void>((res, rej) => {
      let buf = '';
      const timer = setTimeout(() => rej(new Error('node-floor did not start within 15 s')), 15_000);
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        if (buf.includes('\n')) {
          clearTimeout(timer);
          res();
        }
      });
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        rej(new Error(`node-floor exited (${code ?? sig}) at start`));
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        rej(e);
      });
    });
  } catch (e) {
    await stopChild(child, 3_000);
    killLeftovers(seen);
    throw new StartError(errorMessage(e), [`--- stderr (${errPath})`, fileTail(errPath)].join('\n'));
  }
  child.stdout!.resume();
  const processes = await settleProcessTree(child.pid!, workers > 1 ? workers + 1 : 1, () => !exited(child));
  return {
    name: 'node-floor',
    kind: 'floor',
    url: `http://127.0.0.1:${port}/mcp`,
    headers: {},
    pids: remember,
    stop: async () => {
      remember();
      const exit = await stopChild(child, 5_000);
      await waitGone(seen, 3_000);
      killLeftovers(seen);
      return { exit };
    },
    idleRssKb: remember().reduce((sum, q) => sum + readStatusKb(q, 'VmRSS'), 0),
    workers,
    processes,
  };
}

// ---------------------------------------------------------------------------------------------
// measurement
// ---------------------------------------------------------------------------------------------

export interface RunRecord {
  concurrency: number;
  status: 'ok' | 'flagged' | 'failed';
  error?: string;
  loadgen?: 'wrk' | 'node';
  requests?: number;
  durationS?: number;
  rps?: number;
  latencyMs?: LoadResult['latencyMs'];
  errors?: LoadResult['errors'];
  nonOkResponses?: number;
  socketErrors?: number;
  checkedResponses?: number;
  badResponses?: number;
  badSample?: string;
  warmup?: { requests: number; rps: number; checked: number; bad: number; errors: number };
  verifiedBefore?: boolean;
  verifiedAfter?: boolean;
  verifyError?: string;
  protocolVersion?: string;
  sessionId?: string | null;
  peakRssKb?: number | null;
  /** processes whose RSS/CPU were summed (the proxy's process tree at the start of the run) */
  proxyProcesses?: number;
  proxyCpuPercent?: number | null;
  backendCpuPercent?: number | null;
  backendPeakRssKb?: number;
  /** whole machine busy share during the measured run (100 = every core busy) */
  machineCpuBusyPercent?: number | null;
  addedP50Ms?: number | null;
  addedP99Ms?: number | null;
  throughputVsNginx?: number | null;
  flags: string[];
}

export interface ProfileRecord {
  name: string;
  kind: ProfileKind;
  status: 'ok' | 'flagged' | 'failed' | 'unavailable';
  error?: string;
  stderrTail?: string;
  url?: string;
  /** configured worker count: gateway.workers (as written; 1 = key absent), nginx worker_processes, node-floor workers */
  workers?: unknown;
  /** gateway.workers came from the profile's own config file, not from --workers */
  workersFromFile?: boolean;
  /** processes in the proxy's tree once ready (primary + workers) */
  processes?: number;
  idleRssKb?: number;
  peakRssKb?: number | null;
  shutdownExit?: number | string | null;
  configYaml?: string;
  runs: RunRecord[];
}

interface LoadCtx {
  opts: BenchOptions;
  tool: 'wrk' | 'node';
  wrkBin?: string;
  tmp: string;
}

async function load(ctx: LoadCtx, lo: LoadOptions, label: string): Promise<LoadResult> {
  checkAbort();
  if (ctx.tool === 'wrk' && ctx.wrkBin) {
    return runWrk({
      ...lo,
      threads: ctx.opts.wrkThreads,
      wrkBin: ctx.wrkBin,
      scriptPath: scriptPathFor(join(ctx.tmp, 'wrk'), label),
      track: (cp, n) => void track(cp, n),
    });
  }
  return runNodeLoadInChild({ ...lo, track: (cp, n) => void track(cp, n) });
}

async function measure(ctx: LoadCtx, target: Target, backend: Backend, concurrency: number): Promise<RunRecord> {
  const rec: RunRecord = { concurrency, status: 'ok', flags: [], loadgen: ctx.tool };
  let session;
  try {
    session = await mcpHandshake(target.url, target.headers);
    rec.protocolVersion = session.protocolVersion;
    rec.sessionId = session.sessionId ?? null;
    if (!session.sessionId) rec.flags.push('no Mcp-Session-Id on initialize');
    await callEcho(target.url, session, 'verify-before');
    rec.verifiedBefore = true;
  } catch (e) {
    return { ...rec, status: 'failed', error: `handshake/verification: ${errorMessage(e)}` };
  }
  const lo: LoadOptions = {
    url: target.url,
    headers: session.headers,
    concurrency,
    durationS: ctx.opts.warmupS,
    expectText: ECHO_TEXT,
    check: true,
  };
  const label = `${target.name}-c${concurrency}`;
  try {
    if (ctx.opts.warmupS > 0) {
      const w = await load(ctx, lo, `${label}-warmup`);
      const werr = w.errors.connect + w.errors.read + w.errors.write + w.errors.timeout + w.errors.status;
      rec.warmup = { requests: w.requests, rps: round(w.rps, 1), checked: w.checked, bad: w.bad, errors: werr };
      if (w.bad > 0) {
        rec.flags.push(`${w.bad}/${w.checked} warm-up responses lacked the echo text`);
        rec.badSample = w.badSample;
      }
      if (werr > 0) rec.flags.push(`${werr} warm-up errors`);
    }
    const pids = target.pids();
    const sampler = new RssSampler(pids).start();
    const backendSampler = new RssSampler([backend.pid]).start();
    const cpu0 = cpuSeconds(pids);
    const bcpu0 = cpuSeconds([backend.pid]);
    const m0 = machineJiffies();
    const t0 = process.hrtime.bigint();
    const r = await load(ctx, { ...lo, durationS: ctx.opts.durationS, check: false }, label);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu1 = cpuSeconds(pids);
    const m1 = machineJiffies();
    rec.machineCpuBusyPercent = m1[1] > m0[1] ? round(((m1[0] - m0[0]) / (m1[1] - m0[1])) * 100, 1) : null;
    const bcpu1 = cpuSeconds([backend.pid]);
    const peak = sampler.stop();
    rec.backendPeakRssKb = backendSampler.stop();
    rec.requests = r.requests;
    rec.durationS = round(r.durationS, 3);
    rec.rps = round(r.rps, 1);
    rec.latencyMs = {
      p50: round(r.latencyMs.p50, 3),
      p90: round(r.latencyMs.p90, 3),
      p99: round(r.latencyMs.p99, 3),
      mean: round(r.latencyMs.mean, 3),
      max: round(r.latencyMs.max, 3),
    };
    rec.errors = r.errors;
    rec.nonOkResponses = r.errors.status;
    rec.socketErrors = r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout;
    rec.checkedResponses = (rec.warmup?.checked ?? 0) + r.checked;
    rec.badResponses = (rec.warmup?.bad ?? 0) + r.bad;
    if (r.bad > 0) {
      rec.flags.push(`${r.bad}/${r.checked} responses lacked the echo text`);
      rec.badSample ??= r.badSample;
    }
    rec.peakRssKb = pids.length ? peak : null;
    if (pids.length) rec.proxyProcesses = pids.length;
    rec.proxyCpuPercent = pids.length ? round(((cpu1 - cpu0) / wall) * 100, 1) : null;
    rec.backendCpuPercent = round(((bcpu1 - bcpu0) / wall) * 100, 1);
    if (r.requests === 0) rec.flags.push('no request completed');
    if (rec.nonOkResponses > 0) rec.flags.push(`${rec.nonOkResponses} non-2xx responses`);
    if (rec.socketErrors > 0) rec.flags.push(`${rec.socketErrors} socket errors/timeouts`);
  } catch (e) {
    return { ...rec, status: 'failed', error: `load: ${errorMessage(e)}` };
  }
  try {
    await callEcho(target.url, session, 'verify-after');
    rec.verifiedAfter = true;
  } catch (e) {
    rec.verifiedAfter = false;
    rec.verifyError = errorMessage(e);
    rec.flags.push('verification after the run failed');
  }
  await closeSession(target.url, session);
  if (rec.flags.some((f) => f !== 'no Mcp-Session-Id on initialize')) rec.status = 'flagged';
  return rec;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

// ---------------------------------------------------------------------------------------------
// reporting
// ---------------------------------------------------------------------------------------------

export interface TargetResult {
  id: string;
  /** reported for information only: never MET/NOT MET, not checked by --strict */
  informational?: boolean;
  description: string;
  threshold: string;
  value: number | null;
  unit: string;
  met: boolean | null;
  note?: string;
}

function evaluateTargets(profiles: ProfileRecord[], concurrencies: number[]): TargetResult[] {
  const run = (name: string, c: number): RunRecord | undefined =>
    profiles.find((p) => p.name === name)?.runs.find((r) => r.concurrency === c);
  const gh1 = run('gatehouse', 1);
  const gh32 = run('gatehouse', 32);
  const t1: TargetResult = {
    id: 'added-p50-latency-c1',
    description: 'Gatehouse (no policies) added p50 latency vs direct at concurrency 1',
    threshold: '<= 0.5 ms',
    value: null,
    unit: 'ms',
    met: null,
  };
  if (!concurrencies.includes(1)) t1.note = 'concurrency 1 not measured';
  else if (!gh1 || gh1.status === 'failed' || gh1.addedP50Ms == null)
    t1.note = `not measured (${gh1?.error ?? profiles.find((p) => p.name === 'gatehouse')?.error ?? 'gatehouse or direct run missing'})`;
  else {
    t1.value = gh1.addedP50Ms;
    t1.met = gh1.addedP50Ms <= 0.5 && gh1.status === 'ok';
    if (gh1.status !== 'ok') t1.note = `run flagged: ${gh1.flags.join('; ')}`;
  }
  const t2: TargetResult = {
    id: 'throughput-vs-nginx-c32',
    description: 'Gatehouse (no policies) requests/s relative to nginx at concurrency 32',
    threshold: '>= 60%',
    value: null,
    unit: '%',
    met: null,
  };
  const ng = profiles.find((p) => p.name === 'nginx');
  if (!concurrencies.includes(32)) t2.note = 'concurrency 32 not measured';
  else if (!ng || ng.status === 'unavailable' || ng.status === 'failed') t2.note = `nginx ${ng?.status ?? 'not run'}${ng?.error ? `: ${ng.error}` : ''}`;
  else if (!gh32 || gh32.status === 'failed' || gh32.throughputVsNginx == null)
    t2.note = `not measured (${gh32?.error ?? profiles.find((p) => p.name === 'gatehouse')?.error ?? 'run missing'})`;
  else {
    t2.value = round(gh32.throughputVsNginx * 100, 1);
    t2.met = gh32.throughputVsNginx >= 0.6 && gh32.status === 'ok';
    if (gh32.status !== 'ok') t2.note = `run flagged: ${gh32.flags.join('; ')}`;
  }
  const fl32 = run(FLOOR_PROFILE_NAME, 32);
  const fl = profiles.find((p) => p.name === FLOOR_PROFILE_NAME);
  const t3: TargetResult = {
    id: 'throughput-vs-node-floor-c32',
    informational: true,
    description: 'Gatehouse (no policies) requests/s relative to the Node.js floor (node-floor) at concurrency 32',
    threshold: 'informational',
    value: null,
    unit: '%',
    met: null,
  };
  if (!concurrencies.includes(32)) t3.note = 'concurrency 32 not measured';
  else if (!fl) t3.note = 'node-floor not run (--no-floor)';
  else if (!fl32 || fl32.status === 'failed' || !fl32.rps) t3.note = `node-floor ${fl.status}${fl.error ? `: ${firstLine(fl.error)}` : ''}`;
  else if (!gh32 || gh32.status === 'failed' || gh32.rps == null) t3.note = 'gatehouse run missing';
  else {
    t3.value = round((gh32.rps / fl32.rps) * 100, 1);
    const flagged = [gh32, fl32].filter((r) => r.status !== 'ok');
    if (flagged.length) t3.note = `run flagged: ${flagged.flatMap((r) => r.flags).join('; ')}`;
  }
  return [t1, t2, t3];
}

function addComparisons(profiles: ProfileRecord[]): void {
  const direct = profiles.find((p) => p.name === 'direct');
  const nginx = profiles.find((p) => p.name === 'nginx');
  for (const p of profiles) {
    for (const r of p.runs) {
      if (r.status === 'failed' || !r.latencyMs) continue;
      const d = direct?.runs.find((x) => x.concurrency === r.concurrency && x.latencyMs && x.status !== 'failed');
      const n = nginx?.runs.find((x) => x.concurrency === r.concurrency && x.rps && x.status !== 'failed');
      r.addedP50Ms = d?.latencyMs && p.name !== 'direct' ? round(r.latencyMs.p50 - d.latencyMs.p50, 3) : null;
      r.addedP99Ms = d?.latencyMs && p.name !== 'direct' ? round(r.latencyMs.p99 - d.latencyMs.p99, 3) : null;
      r.throughputVsNginx = n?.rps && r.rps != null ? round(r.rps / n.rps, 4) : null;
    }
  }
}

function fmt(n: number | null | undefined, digits: number, sign = false): string {
  if (n == null || Number.isNaN(n)) return '-';
  const s = n.toFixed(digits);
  return sign && n >= 0 ? `+${s}` : s;
}

function renderTable(profiles: ProfileRecord[]): string {
  const head = ['profile', 'conc', 'req/s', 'p50 ms', 'p99 ms', '+p50 ms', '+p99 ms', 'vs nginx', 'peak RSS MB', 'proxy CPU', 'backend CPU', 'box busy', 'status'];
  const rows: string[][] = [];
  for (const p of profiles) {
    if (p.status === 'unavailable' || (p.status === 'failed' && p.runs.length === 0)) {
      rows.push([p.name, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', `${p.status.toUpperCase()}: ${firstLine(p.error)}`]);
      continue;
    }
    for (const r of p.runs) {
      if (r.status === 'failed') {
        rows.push([p.name, String(r.concurrency), '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', `FAILED: ${firstLine(r.error)}`]);
        continue;
      }
      rows.push([
        p.name,
        String(r.concurrency),
        fmt(r.rps, 0),
        fmt(r.latencyMs?.p50, 3),
        fmt(r.latencyMs?.p99, 3),
        fmt(r.addedP50Ms, 3, true),
        fmt(r.addedP99Ms, 3, true),
        r.throughputVsNginx == null ? '-' : `${(r.throughputVsNginx * 100).toFixed(0)}%`,
        r.peakRssKb == null ? '-' : (r.peakRssKb / 1024).toFixed(1),
        r.proxyCpuPercent == null ? '-' : `${r.proxyCpuPercent.toFixed(0)}%`,
        r.backendCpuPercent == null ? '-' : `${r.backendCpuPercent.toFixed(0)}%`,
        r.machineCpuBusyPercent == null ? '-' : `${r.machineCpuBusyPercent.toFixed(0)}%`,
        r.status === 'ok' ? 'ok' : `FLAGGED: ${r.flags.join('; ')}`,
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === head.length - 1 ? 0 : r[i]!.length))));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function firstLine(s: string | undefined): string {
  const l = (s ?? '').split('\n')[0] ?? '';
  return l.length > 140 ? l.slice(0, 140) + '…' : l;
}

function machineInfo(wrkBin: string | undefined, nginxVer: string | null): Record<string, unknown> {
  let wrkVersion: string | null = null;
  if (wrkBin) {
    const r = spawnSync(wrkBin, ['-v'], { encoding: 'utf8', timeout: 5_000 });
    wrkVersion = (/wrk\s+(\S+)/.exec(`${r.stdout}${r.stderr}`)?.[1]) ?? null;
  }
  let gatehouseVersion: string | null = null;
  try {
    gatehouseVersion = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? null;
  } catch {
    // ignore
  }
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    nginx: nginxVer,
    wrk: wrkVersion,
    gatehouse: gatehouseVersion,
  };
}

// ---------------------------------------------------------------------------------------------
// the run
// ---------------------------------------------------------------------------------------------

export interface BenchResults {
  schemaVersion: 1;
  date: string;
  machine: Record<string, unknown>;
  settings: Record<string, unknown>;
  profiles: ProfileRecord[];
  targets: TargetResult[];
}

/** nginx's pids once master + `workers` workers are up (≤ 5 s) */
async function settleNginx(handle: NginxHandle, workers: number): Promise<number[]> {
  const deadline = Date.now() + 5_000;
  let pids = handle.pids();
  while (pids.length < workers + 1 && Date.now() < deadline) {
    await sleep(100);
    pids = handle.pids();
  }
  return pids;
}

function cleanStaleTmp(base: string): void {
  if (!existsSync(base)) return;
  for (const e of readdirSync(base)) {
    const m = /^run-(\d+)$/.exec(e);
    if (m && !isAlive(Number(m[1]))) rmSync(join(base, e), { recursive: true, force: true });
  }
}

export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const log = opts.log;
  const tmpBase = join(BENCH_SRC_DIR, '.tmp');
  cleanStaleTmp(tmpBase);
  const tmp = join(tmpBase, `run-${process.pid}`);
  mkdirSync(join(tmp, 'wrk'), { recursive: true });

  // tools
  let tool: 'wrk' | 'node' = 'node';
  let wrkBin: string | undefined;
  let loadgenNote: string | undefined;
  if (opts.loadgen !== 'node') {
    const w = ensureDebianPackage('wrk', 'wrk', opts.install, log);
    if (w.bin) {
      tool = 'wrk';
      wrkBin = w.bin;
    } else {
      loadgenNote = `wrk unavailable (${w.reason}); using the Node load generator (undici Pool)`;
      log(loadgenNote);
    }
  }
  let nginxBin: string | undefined;
  let nginxVer: string | null = null;
  let nginxUnavailable: string | undefined;
  if (opts.nginx) {
    const n = ensureDebianPackage('nginx', 'nginx', opts.install, log);
    if (n.bin) {
      nginxBin = n.bin;
      nginxVer = nginxVersion(n.bin);
    } else nginxUnavailable = n.reason ?? 'nginx not found';
  } else nginxUnavailable = 'disabled with --no-nginx';

  const ctx: LoadCtx = { opts, tool, wrkBin, tmp };
  const gatehouseWorkers = resolveWorkers(opts.workers);
  const nginxWorkers = opts.nginxWorkers ?? gatehouseWorkers;
  const floorWorkers = gatehouseWorkers;
  log(`workers: Gatehouse gateway.workers ${opts.workers === 'auto' ? `auto (= ${gatehouseWorkers})` : gatehouseWorkers}${opts.workers === 1 ? ' (key not written)' : ''}, node-floor ${opts.floor ? floorWorkers : 'skipped'}, nginx worker_processes ${nginxWorkers}${opts.nginxWorkers !== undefined ? ' (--nginx-workers)' : ''}`);
  const profiles: ProfileRecord[] = [];
  log(`load generator: ${tool}${wrkBin ? ` (${wrkBin}, ${opts.wrkThreads} thread)` : ''}; ${opts.warmupS}s warm-up + ${opts.durationS}s per run; concurrency ${opts.concurrency.join(', ')}`);

  const backend = await startBackend();
  log(`backend: pid ${backend.pid} at ${backend.url}`);
  const issuer = await startBenchIssuer();

  const runProfile = async (rec: ProfileRecord, target: Target): Promise<void> => {
    rec.url = target.url;
    if (target.workers !== undefined) rec.workers = target.workers;
    if (target.workersFromFile) rec.workersFromFile = true;
    if (target.processes !== undefined) rec.processes = target.processes;
    if (target.idleRssKb) rec.idleRssKb = target.idleRssKb;
    if (target.configYaml) rec.configYaml = target.configYaml;
    for (const c of opts.concurrency) {
      checkAbort();
      log(`${rec.name}: concurrency ${c} …`);
      const r = await measure(ctx, target, backend, c);
      checkAbort();
      rec.runs.push(r);
      if (r.status === 'failed') log(`${rec.name} c${c}: FAILED: ${r.error}`);
      else log(`${rec.name} c${c}: ${fmt(r.rps, 0)} req/s, p50 ${fmt(r.latencyMs?.p50, 3)} ms, p99 ${fmt(r.latencyMs?.p99, 3)} ms${r.flags.length ? ` [${r.flags.join('; ')}]` : ''}`);
    }
    const peaks = rec.runs.map((r) => r.peakRssKb).filter((x): x is number => typeof x === 'number');
    rec.peakRssKb = peaks.length ? Math.max(...peaks) : null;
    if (rec.runs.every((r) => r.status === 'failed')) {
      rec.status = 'failed';
      rec.error = rec.runs[0]?.error;
    } else if (rec.runs.some((r) => r.status !== 'ok')) rec.status = 'flagged';
  };

  // 1. direct
  {
    const rec: ProfileRecord = { name: 'direct', kind: 'direct', status: 'ok', runs: [] };
    profiles.push(rec);
    await runProfile(rec, {
      name: 'direct',
      kind: 'direct',
      url: backend.url,
      headers: {},
      pids: () => [],
      stop: async () => ({}),
    });
  }

  // 2. gatehouse profiles
  for (const gp of opts.gatehouseProfiles) {
    const rec: ProfileRecord = { name: gp.name, kind: 'gatehouse', status: 'ok', runs: [] };
    profiles.push(rec);
    let target: Target | undefined;
    try {
      checkAbort();
      log(`${gp.name}: starting node bin/gatehouse.js start -c … `);
      target = await startGatehouse(gp, backend, tmp, issuer, opts.workers);
      log(`${gp.name}: ready at ${target.url} (gateway.workers ${target.workers === 1 ? '1 (not written)' : String(target.workers)}${target.workersFromFile ? ' from the config file' : ''}; ${target.processes} process(es); idle RSS ${((target.idleRssKb ?? 0) / 1024).toFixed(1)} MB)`);
      await runProfile(rec, target);
    } catch (e) {
      if (e instanceof AbortedError) throw e;
      rec.status = 'failed';
      rec.error = errorMessage(e);
      if (e instanceof StartError) rec.stderrTail = e.tail;
      log(`${gp.name}: FAILED: ${rec.error}${rec.stderrTail ? `\n${rec.stderrTail}` : ''}`);
    } finally {
      if (target) {
        const { exit } = await target.stop();
        rec.shutdownExit = exit ?? null;
        if (exit !== 0 && !aborting) log(`${gp.name}: exit status after SIGTERM was ${String(exit)} (contract: 0)`);
      }
    }
  }

  // 3. node-floor: the cheapest Node.js proxy, with as many workers as Gatehouse
  if (opts.floor) {
    const rec: ProfileRecord = { name: FLOOR_PROFILE_NAME, kind: 'floor', status: 'ok', runs: [], workers: floorWorkers };
    profiles.push(rec);
    let target: Target | undefined;
    try {
      checkAbort();
      target = await startFloor(backend, tmp, floorWorkers);
      log(`node-floor: ready at ${target.url} (${floorWorkers} worker(s); ${target.processes} process(es); idle RSS ${((target.idleRssKb ?? 0) / 1024).toFixed(1)} MB)`);
      await runProfile(rec, target);
    } catch (e) {
      if (e instanceof AbortedError) throw e;
      rec.status = 'failed';
      rec.error = errorMessage(e);
      if (e instanceof StartError) rec.stderrTail = e.tail;
      log(`node-floor: FAILED: ${rec.error}${rec.stderrTail ? `\n${rec.stderrTail}` : ''}`);
    } finally {
      if (target) rec.shutdownExit = (await target.stop()).exit ?? null;
    }
  }

  // 4. nginx
  {
    const rec: ProfileRecord = { name: 'nginx', kind: 'nginx', status: 'ok', runs: [], workers: nginxWorkers };
    profiles.push(rec);
    if (!nginxBin) {
      rec.status = 'unavailable';
      rec.error = nginxUnavailable;
      log(`nginx: unavailable: ${nginxUnavailable}`);
    } else {
      let ng: NginxHandle | undefined;
      try {
        checkAbort();
        ng = await startNginx({
          bin: nginxBin,
          dir: join(tmp, 'nginx'),
          listenPort: await freePort(),
          workers: nginxWorkers,
          backendHost: '127.0.0.1',
          backendPort: backend.port,
          track: (cp, n, k) => void track(cp, n, k),
        });
        const handle = ng;
        const ngPids = await settleNginx(handle, nginxWorkers);
        log(`nginx ${nginxVer}: worker_processes ${nginxWorkers}; pids ${ngPids.join(', ')} on port ${handle.port}`);
        rec.processes = ngPids.length;
        rec.idleRssKb = ngPids.reduce((s, pid) => s + readStatusKb(pid, 'VmRSS'), 0);
        await runProfile(rec, {
          name: 'nginx',
          kind: 'nginx',
          url: `http://127.0.0.1:${handle.port}/mcp`,
          headers: {},
          pids: () => handle.pids(),
          stop: async () => ({}),
        });
      } catch (e) {
        if (e instanceof AbortedError) throw e;
        rec.status = 'failed';
        rec.error = errorMessage(e);
        log(`nginx: FAILED: ${rec.error}`);
      } finally {
        await ng?.stop();
      }
    }
  }

  await stopChild(backend.child, 3_000);
  await issuer.close();
  await closeClient();

  addComparisons(profiles);
  const targets = evaluateTargets(profiles, opts.concurrency);
  const results: BenchResults = {
    schemaVersion: 1,
    date: new Date().toISOString(),
    machine: machineInfo(wrkBin, nginxVer),
    settings: {
      durationS: opts.durationS,
      warmupS: opts.warmupS,
      concurrency: opts.concurrency,
      loadgen: tool,
      ...(loadgenNote ? { loadgenNote } : {}),
      wrkThreads: tool === 'wrk' ? opts.wrkThreads : null,
      request: 'MCP tools/call of echo (JSON-RPC POST, unique ids), after initialize + notifications/initialized',
      echoText: ECHO_TEXT,
      nginx: `worker_processes ${nginxWorkers}, upstream keepalive 64, proxy_http_version 1.1, proxy_buffering off, access_log on`,
      gatehouseWorkers: opts.workers,
      gatehouseWorkersResolved: gatehouseWorkers,
      nginxWorkers,
      nginxWorkersOverridden: opts.nginxWorkers !== undefined,
      floorWorkers: opts.floor ? floorWorkers : null,
      floor: opts.floor
        ? 'bench/floor-proxy.ts: node:http + undici Pool.dispatch, body read and JSON.parse for the method, MCP headers copied, JSON answer with content-length'
        : 'disabled with --no-floor',
      gatehouseProfiles: opts.gatehouseProfiles.map((g) => g.name),
    },
    profiles,
    targets,
  };

  const anyFailure = profiles.some((p) => p.status === 'failed');
  if (!opts.keepTmp && !anyFailure) rmSync(tmp, { recursive: true, force: true });
  else log(`logs kept in ${tmp}`);
  return results;
}

export function printReport(results: BenchResults): void {
  const m = results.machine;
  const s = results.settings;
  const lines: string[] = [];
  lines.push('');
  lines.push(`Gatehouse bench — ${results.date}`);
  lines.push(`${String(m['cpuModel'])} (${String(m['cpus'])} cpus), node ${String(m['node'])}, nginx ${String(m['nginx'] ?? 'n/a')}, load generator ${String(s['loadgen'])}`);
  lines.push(`MCP tools/call echo, ${String(s['warmupS'])}s warm-up + ${String(s['durationS'])}s per run; +p50/+p99 vs direct at the same concurrency`);
  const gw = s['gatehouseWorkers'];
  const gwr = s['gatehouseWorkersResolved'];
  lines.push(
    `workers: Gatehouse gateway.workers ${gw === 'auto' ? `auto (= ${String(gwr)})` : String(gw ?? 1)}` +
      `, node-floor ${s['floorWorkers'] == null ? 'not run' : String(s['floorWorkers'])}` +
      `, nginx worker_processes ${String(s['nginxWorkers'] ?? 1)}${s['nginxWorkersOverridden'] ? ' (--nginx-workers)' : ''}`,
  );
  const own = results.profiles.filter((p) => p.workersFromFile);
  for (const p of own) lines.push(`  (${p.name}: gateway.workers ${String(p.workers)} from its config file)`);
  lines.push(`nginx: ${String(s['nginx'])}`);
  lines.push('');
  lines.push(renderTable(results.profiles));
  lines.push('(proxy/backend CPU: % of one core during the measured run, summed over the proxy\'s process tree; box busy: % of all cores; RSS: proxy process tree — Gatehouse and node-floor = primary + cluster workers, nginx = master + workers)');
  const failed = results.profiles.filter((p) => p.status === 'failed' && p.stderrTail);
  for (const p of failed) {
    lines.push('');
    lines.push(`${p.name} failed: ${p.error ?? ''}`);
    lines.push(p.stderrTail!.split('\n').map((l) => `  ${l}`).join('\n'));
  }
  lines.push('');
  lines.push('Targets (PRODUCT.md §8):');
  for (const t of results.targets) {
    const val = t.value === null ? '-' : `${t.unit === 'ms' ? fmt(t.value, 3, true) : t.value.toFixed(1)} ${t.unit}`;
    if (t.informational) {
      lines.push(`  ${'INFO'.padEnd(12)} ${t.description}: ${val} (informational, not a target)${t.note ? ` — ${t.note}` : ''}`);
      continue;
    }
    const verdict = t.met === null ? 'NOT MEASURED' : t.met ? 'MET' : 'NOT MET';
    lines.push(`  ${verdict.padEnd(12)} ${t.description}: ${val} (target ${t.threshold})${t.note ? ` — ${t.note}` : ''}`);
  }
  lines.push('');
  process.stdout.write(lines.join('\n') + '\n');
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

const USAGE = `usage: node dist/bench/run.js [options]   (npm run bench -- [options])
  --duration S            measured seconds per run (default 5, whole seconds)
  --warmup S              warm-up seconds per run (default 1; 0 = none)
  --quick                 --duration 2 --warmup 1
  --concurrency LIST      comma-separated (default 1,32)
  --loadgen auto|wrk|node load generator (default auto: wrk, else Node/undici)
  --wrk-threads N         wrk threads (default 1)
  --policies FILE         also run profile "gatehouse+policies" with this gatehouse.yaml
  --policies-header 'K: V'  extra request header for that profile (repeatable)
  --workers N|auto        gateway.workers of the Gatehouse profiles (default 1 = key not written;
                          auto = number of CPUs); nginx and node-floor run the same number of workers
  --nginx-workers N       nginx worker_processes (default: the --workers count)
  --no-floor              skip the node-floor reference (cheapest Node.js proxy)
  --no-nginx              skip nginx
  --no-install            never apt-get install nginx/wrk
  --out FILE              results file (default bench/results.json)
  --keep-tmp              keep bench/.tmp/run-PID (configs, logs, wrk scripts)
  --strict                exit 1 when a target is missed or a profile failed
`;

export function parseArgs(argv: string[]): BenchOptions {
  const o = defaultOptions();
  let policiesFile: string | undefined;
  const policiesHeaders: Record<string, string> = {};
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} needs a number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--duration':
        o.durationS = Math.max(1, Math.round(num(flag, val())));
        break;
      case '--warmup':
        o.warmupS = Math.round(num(flag, val()));
        break;
      case '--quick':
        o.durationS = 2;
        o.warmupS = 1;
        break;
      case '--concurrency': {
        const list = (val() ?? '').split(',').map((x) => Math.round(Number(x)));
        if (!list.length || list.some((n) => !Number.isFinite(n) || n < 1 || n > 1024)) throw new UsageError('--concurrency needs e.g. 1,32');
        o.concurrency = list;
        break;
      }
      case '--loadgen': {
        const v = val();
        if (v !== 'auto' && v !== 'wrk' && v !== 'node') throw new UsageError('--loadgen auto|wrk|node');
        o.loadgen = v;
        break;
      }
      case '--wrk-threads':
        o.wrkThreads = Math.max(1, Math.round(num(flag, val())));
        break;
      case '--policies':
        policiesFile = val();
        if (!policiesFile) throw new UsageError('--policies needs a file');
        break;
      case '--policies-header': {
        const h = val() ?? '';
        const c = h.indexOf(':');
        if (c <= 0) throw new UsageError("--policies-header needs 'Name: value'");
        policiesHeaders[h.slice(0, c).trim()] = h.slice(c + 1).trim();
        break;
      }
      case '--workers': {
        const v = val();
        if (v === 'auto') o.workers = 'auto';
        else {
          const n = Number(v);
          if (v === undefined || !Number.isInteger(n) || n < 1 || n > 64) throw new UsageError('--workers needs an integer 1-64 or auto');
          o.workers = n;
        }
        break;
      }
      case '--nginx-workers': {
        const v = val();
        const n = Number(v);
        if (v === undefined || !Number.isInteger(n) || n < 1 || n > 64) throw new UsageError('--nginx-workers needs an integer 1-64');
        o.nginxWorkers = n;
        break;
      }
      case '--no-floor':
        o.floor = false;
        break;
      case '--no-nginx':
        o.nginx = false;
        break;
      case '--no-install':
        o.install = false;
        break;
      case '--out':
        o.out = resolve(val() ?? o.out);
        break;
      case '--keep-tmp':
        o.keepTmp = true;
        break;
      case '--strict':
        o.strict = true;
        break;
      case '-h':
      case '--help':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown option ${a}`);
    }
  }
  if (policiesFile) o.gatehouseProfiles = [NO_POLICY_PROFILE, policiesProfileFromFile(policiesFile, policiesHeaders)];
  return o;
}

class UsageError extends Error {}

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message) process.stderr.write(`${e.message}\n`);
      process.stderr.write(USAGE);
      return e.message ? 2 : 0;
    }
    throw e;
  }
  const results = await runBench(opts);
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, JSON.stringify(results, null, 2) + '\n');
  printReport(results);
  process.stdout.write(`results written to ${opts.out}\n`);
  if (opts.strict) {
    const bad = results.targets.some((t) => !t.informational && t.met !== true) || results.profiles.some((p) => p.status === 'failed');
    if (bad) return 1;
  }
  return 0;
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    aborting = true;
    process.stderr.write(`\n[bench] ${sig}: stopping child processes …\n`);
    const hard = setTimeout(() => {
      killAllSync();
      process.exit(130);
    }, 8_000);
    void stopAll().finally(() => {
      clearTimeout(hard);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('exit', killAllSync);
  main().then(
    async (code) => {
      await stopAll();
      process.exit(code);
    },
    async (err: unknown) => {
      if (err instanceof AbortedError) return; // the signal handler exits
      process.stderr.write(`[bench] error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      await stopAll();
      process.exit(1);
    },
  );
}

