/**
 * nginx as the reference proxy for `npm run bench`, plus small process/package helpers.
 *
 * nginx runs in the foreground (`daemon off`) as a child of the harness, with a generated config
 * in a temp dir: as many workers as Gatehouse has processes serving requests (`--workers`, default
 * 1 — the like-for-like comparison; `--nginx-workers` overrides), upstream keep-alive, HTTP/1.1 to
 * the upstream, no response buffering.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { delimiter, join } from 'node:path';

// ---------------------------------------------------------------------------------------------
// helpers shared with run.ts
// ---------------------------------------------------------------------------------------------

/** Finds an executable on PATH or in the sbin directories (not always on a user's PATH). */
export function findBinary(name: string): string | undefined {
  const dirs = [
    ...(process.env['PATH'] ?? '').split(delimiter),
    '/usr/sbin',
    '/usr/local/sbin',
    '/sbin',
    '/usr/local/nginx/sbin',
    '/usr/bin',
    '/usr/local/bin',
  ].filter(Boolean);
  for (const d of dirs) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export interface EnsureResult {
  bin?: string;
  installed: boolean;
  reason?: string;
}

/**
 * Returns the binary, installing the Debian package with apt-get when it is missing (root only,
 * bounded in time). Never throws.
 */
export function ensureDebianPackage(binName: string, pkg: string, allowInstall: boolean, log: (s: string) => void): EnsureResult {
  const found = findBinary(binName);
  if (found) return { bin: found, installed: false };
  if (!allowInstall) return { installed: false, reason: `${binName} not found (installation disabled)` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { installed: false, reason: `${binName} not found and not root (run: sudo apt-get install -y ${pkg})` };
  }
  if (!findBinary('apt-get')) return { installed: false, reason: `${binName} not found and apt-get unavailable` };
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): ReturnType<typeof spawnSync> =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], { env, timeout: 300_000, encoding: 'utf8' });
  log(`${binName} not found: apt-get install -y ${pkg} …`);
  let r = install();
  if (r.status !== 0) {
    log(`apt-get install failed (status ${r.status}); apt-get update and retry …`);
    spawnSync('apt-get', ['update'], { env, timeout: 300_000, encoding: 'utf8' });
    r = install();
  }
  const bin = findBinary(binName);
  if (bin) return { bin, installed: true };
  const tail = String(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
  return { installed: false, reason: `apt-get install ${pkg} failed: ${tail || `status ${r.status}`}` };
}

export function nginxVersion(bin: string): string {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 10_000 });
  const text = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim();
  const m = /nginx\/(\S+)/.exec(text);
  return m ? m[1]! : text || 'unknown';
}

/**
 * Direct children of a pid (from /proc). `/proc/PID/task/TID/children` lists the children forked by
 * that one thread, so every thread's list is read (a Node process may fork from any of them, e.g.
 * node:cluster workers); the /proc scan by parent pid is the fallback.
 */
export function childPids(pid: number): number[] {
  try {
    const found = new Set<number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let list = '';
      try {
        list = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      } catch {
        continue; // thread gone
      }
      if (list) for (const c of list.split(/\s+/)) found.add(Number(c));
    }
    if (found.size > 0) return [...found];
    if (existsSync(`/proc/${pid}/task/${pid}/children`)) return [];
  } catch {
    // fall through to the /proc scan
  }
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) === pid) out.push(Number(e));
    } catch {
      // process gone
    }
  }
  return out;
}

/** pid and all its descendants. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length && all.length < 256; i++) all.push(...childPids(all[i]!));
  return all;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// nginx
// ---------------------------------------------------------------------------------------------

export interface NginxConfigOptions {
  dir: string;
  /** worker_processes (default 1) */
  workers?: number;
  listenPort: number;
  backendHost: string;
  backendPort: number;
}

export function renderNginxConfig(o: NginxConfigOptions): string {
  const d = o.dir;
  // Running as root, nginx would switch the worker to `nobody`; all files it writes are opened by
  // the master, and bodies are tiny (no temp files), so that is fine.
  return `# generated by bench/nginx.ts
daemon off;
master_process on;
worker_processes ${Math.max(1, Math.floor(o.workers ?? 1))};
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;

events {
  worker_connections 4096;
}

http {
  access_log ${d}/access.log;
  client_body_temp_path ${d}/client_body;
  proxy_temp_path ${d}/proxy;
  fastcgi_temp_path ${d}/fastcgi;
  uwsgi_temp_path ${d}/uwsgi;
  scgi_temp_path ${d}/scgi;

  keepalive_timeout 65s;
  keepalive_requests 1000000;

  upstream mcp_backend {
    server ${o.backendHost}:${o.backendPort};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }

  server {
    listen 127.0.0.1:${o.listenPort};
    location / {
      proxy_pass http://mcp_backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`;
}

export interface NginxHandle {
  pid: number;
  port: number;
  child: ChildProcess;
  dir: string;
  /** master + workers */
  pids(): number[];
  stop(): Promise<void>;
  /** synchronous last-resort kill (process 'exit' handler) */
  killSync(): void;
  errorLogTail(): string;
}

function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function httpGetStatus(port: number, path: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

export async function startNginx(
  o: NginxConfigOptions & { bin: string; track?: (cp: ChildProcess, name: string, killSync?: () => void) => void },
): Promise<NginxHandle> {
  mkdirSync(o.dir, { recursive: true });
  const conf = join(o.dir, 'nginx.conf');
  writeFileSync(conf, renderNginxConfig(o));
  const child = spawn(o.bin, ['-p', o.dir + '/', '-e', join(o.dir, 'error.log'), '-c', conf], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 10_000) stderr += d;
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  let failure: Error | undefined;
  void spawnError.then((e) => (failure = e));

  let workers: number[] = [];
  const handle: NginxHandle = {
    pid: child.pid ?? -1,
    port: o.listenPort,
    child,
    dir: o.dir,
    pids: () => {
      if (child.pid === undefined || exited) return [];
      const tree = processTree(child.pid);
      workers = tree.slice(1);
      return tree;
    },
    stop: async () => {
      if (!exited && child.pid !== undefined) {
        child.kill('SIGTERM'); // fast shutdown: master stops its workers
        const done = await Promise.race([
          new Promise<boolean>((r) => child.once('exit', () => r(true))),
          new Promise<boolean>((r) => setTimeout(() => r(false), 5_000)),
        ]);
        if (!done) child.kill('SIGKILL');
      }
      for (const w of workers) if (isAlive(w)) process.kill(w, 'SIGKILL');
    },
    killSync: () => {
      // SIGTERM lets the master stop its worker even after we are gone; kill the workers too.
      if (!exited && child.pid !== undefined) workers = [...new Set([...workers, ...processTree(child.pid).slice(1)])];
      if (!exited) child.kill('SIGTERM');
      for (const w of workers) {
        try {
          process.kill(w, 'SIGKILL');
        } catch {
          // gone
        }
      }
    },
    errorLogTail: () => [stderr.trim(), tail(join(o.dir, 'error.log'))].filter(Boolean).join('\n'),
  };

  o.track?.(child, 'nginx', () => handle.killSync());

  for (let attempt = 0; attempt < 100; attempt++) {
    if (failure) throw new Error(`nginx failed to start: ${failure.message}`);
    if (exited) throw new Error(`nginx exited at start:\n${handle.errorLogTail()}`);
    const status = await httpGetStatus(o.listenPort, '/healthz', 500);
    if (status === 200) {
      handle.pids(); // learn the worker pids
      return handle;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await handle.stop();
  throw new Error(`nginx did not answer GET /healthz within 10 s:\n${handle.errorLogTail()}`);
}
