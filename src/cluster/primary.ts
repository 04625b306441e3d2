/**
 * The primary of a multi-process gateway (`gateway.workers` > 1). It serves no requests: it forks
 * the workers (node:cluster; they share the listener), holds the cache they share
 * (src/cluster/cache-host.ts), tells them each other's private peer ports, aggregates their
 * metrics, restarts a worker that dies, and on SIGTERM/SIGINT lets every worker drain and exits.
 *
 * The first worker starts alone (it applies store migrations and creates what must exist once);
 * the others follow when it serves. A worker that fails before serving fails the start with its
 * exit code (2: the config or a policy was refused, its problems already printed).
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import process from 'node:process';
import { AggregatorRegistry } from 'prom-client';
import { MemoryCache } from '../cache/memory.js';
import type { Logger } from '../observability/logger.js';
import { CacheHost } from './cache-host.js';
import { isGatehouseMessage, type ToPrimary, type ToWorker } from './messages.js';
import { WORKER_ENV } from './role.js';

export interface PrimaryOptions {
  readonly workers: number;
  readonly logger: Logger;
  /** called once every worker serves (the gateway's URL) */
  readonly onListening?: (url: string) => void;
}

/** a worker that dies this soon after it started counts as a crash loop */
const QUICK_DEATH_MS = 5_000;
const MAX_QUICK_DEATHS = 5;

export function runPrimary(opts: PrimaryOptions): Promise<number> {
  const { logger, workers: n } = opts;
  const secret = randomBytes(32).toString('base64url');
  const byIndex: Array<Worker | undefined> = new Array(n).fill(undefined);
  const ports: number[] = new Array(n).fill(0);
  const started = new Map<number, number>();
  const sendTo = (id: number, m: ToWorker): void => {
    const w = cluster.workers?.[id];
    if (w?.isConnected()) w.send(m);
  };
  const alive = function* (): Iterable<number> {
    for (const w of byIndex) if (w) yield w.id;
  };
  const host = new CacheHost(new MemoryCache(), sendTo, alive);
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let quickDeaths = 0;
  let url = '';

  return new Promise<number>((resolveExit) => {
    let exitCode = 0;
    const finish = (): void => {
      if ([...byIndex].some((w) => w && !w.isDead())) return;
      void host.cache.close();
      logger.info({ exitCode }, 'stopped');
      logger.flush();
      resolveExit(exitCode);
    };
    const broadcastPorts = (): void => {
      for (const w of byIndex) if (w?.isConnected()) w.send({ gh: 'peers', ports } satisfies ToWorker);
    };
    let readyCount = 0;
    let listening = false;

    const fork = (index: number): void => {
      const w = cluster.fork({ [WORKER_ENV.index]: String(index), [WORKER_ENV.count]: String(n), [WORKER_ENV.secret]: secret });
      byIndex[index] = w;
      started.set(index, Date.now());
      w.on('message', (m: unknown) => {
        if (!isGatehouseMessage(m)) return;
        const msg = m as ToPrimary;
        if (msg.gh === 'cache') void host.handle(w.id, msg);
        else if (msg.gh === 'metrics') {
          aggregator.clusterMetrics().then(
            (text) => sendTo(w.id, { gh: 'metrics-r', id: msg.id, text }),
            (err: unknown) => sendTo(w.id, { gh: 'metrics-r', id: msg.id, error: err instanceof Error ? err.message : String(err) }),
          );
        } else if (msg.gh === 'ready') {
          ports[index] = msg.peerPort;
          url = msg.url;
          broadcastPorts();
          if (!listening) {
            readyCount++;
            if (index === 0) for (let i = 1; i < n; i++) fork(i);
            if (readyCount === n) {
              listening = true;
              logger.info({ workers: n, url }, 'gatehouse workers serving');
              opts.onListening?.(url);
            }
          } else logger.info({ worker: index }, 'worker restarted');
        }
      });
      w.on('exit', (code, signal) => {
        host.forget(w.id);
        if (byIndex[index] === w) {
          byIndex[index] = undefined;
          ports[index] = 0;
          broadcastPorts();
        }
        if (stopping) {
          if (code !== 0 && code !== null) exitCode = exitCode || 1;
          finish();
          return;
        }
        if (!listening) {
          // a worker failed while the gateway was starting: the start fails (its problems are on stderr)
          stop(code === 2 ? 2 : 1, `worker ${index} exited during start (${signal ?? code})`);
          return;
        }
        const lived = Date.now() - (started.get(index) ?? 0);
        if (lived < QUICK_DEATH_MS && ++quickDeaths > MAX_QUICK_DEATHS) {
          stop(1, `workers keep dying within ${QUICK_DEATH_MS / 1000} s of starting; giving up`);
          return;
        }
        logger.error({ worker: index, code, signal }, 'worker died; starting a new one');
        fork(index);
      });
    };

    const stop = (code: number, why: string): void => {
      if (stopping) return;
      stopping = true;
      exitCode = code;
      if (code === 0) logger.info({ why }, 'draining');
      else logger.error({ why }, 'stopping');
      // each worker drains its in-flight requests and exits (it may already have the signal itself)
      for (const w of byIndex) if (w && !w.isDead()) w.process.kill('SIGTERM');
      finish();
    };
    process.once('SIGTERM', () => stop(0, 'SIGTERM'));
    process.once('SIGINT', () => stop(0, 'SIGINT'));
    fork(0);
  });
}
