/**
 * One worker of a multi-process gateway (`gateway.workers` > 1): the same gateway as a single
 * process, with the primary's shared cache (src/cluster/cluster-cache.ts), a private listener for
 * requests relayed by other workers (src/cluster/peers.ts) and /metrics aggregated over all
 * workers. The public listener is shared through node:cluster (the primary accepts connections and
 * hands them to the workers in turn).
 */
import process from 'node:process';
import { AggregatorRegistry } from 'prom-client';
import type { GatewayConfig } from '../config/types.js';
import { createGateway, type Gateway, type GatewayOptions } from '../gateway.js';
import type { Logger } from '../observability/logger.js';
import { openCache } from '../cache/open.js';
import { ClusterCache } from './cluster-cache.js';
import { isGatehouseMessage, type MetricsReply, type ToPrimary, type ToWorker } from './messages.js';
import { Peers } from './peers.js';
import { IpcCalls } from './ipc-calls.js';
import { setWorkerIdentity, WORKER_ENV } from './role.js';

export interface StartedWorker {
  readonly gateway: Gateway;
  readonly url: string;
  close(): Promise<void>;
}

function send(m: ToPrimary): void {
  process.send?.(m);
}

/** build and start this worker's gateway; tells the primary when it serves */
export async function startWorker(config: GatewayConfig, logger: Logger, opts: Omit<GatewayOptions, 'cache' | 'peers' | 'metricsText' | 'logger'>, listen: { port: number; host: string }): Promise<StartedWorker> {
  const env = process.env;
  const index = Number(env[WORKER_ENV.index]);
  const count = Number(env[WORKER_ENV.count]);
  const secret = env[WORKER_ENV.secret] ?? '';
  if (!Number.isInteger(index) || !Number.isInteger(count) || secret.length < 32) throw new Error('a gatehouse worker must be started by its primary');
  // the secret is this process's alone from here on (nothing it starts inherits it)
  delete env[WORKER_ENV.secret];
  setWorkerIdentity({ index, count });

  const listeners: Array<(m: ToWorker) => void> = [];
  process.on('message', (m: unknown) => {
    if (!isGatehouseMessage(m)) return;
    for (const l of listeners) l(m as ToWorker);
  });
  // the primary's cache, unless the config names a shared one (Redis), which every worker opens itself
  const cache = config.cache === 'memory' ? new ClusterCache({ send, onMessage: (l) => listeners.push(l) }) : await openCache(config.cache);
  const peers = new Peers(index, secret);
  const metrics = new IpcCalls<ToPrimary, MetricsReply>(send, 5_000, 'the primary (metrics)');
  listeners.push((m) => {
    if (m.gh === 'peers') peers.setPorts(m.ports);
    else if (m.gh === 'metrics-r') metrics.settle(m);
  });
  const metricsText = async (): Promise<string> => {
    const r = await metrics.call((id) => ({ gh: 'metrics', id }));
    if (r.text === undefined) throw new Error(r.error ?? 'metrics unavailable');
    return r.text;
  };

  const gateway = await createGateway(config, { ...opts, logger, cache, peers, metricsText });
  // answer the primary's metric collection with this worker's registry
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([gateway.metrics.registry]);
  const peerPort = await peers.listen((req, res) => gateway.httpServer.emit('request', req, res));
  const { url } = await gateway.listen(listen.port, listen.host);
  send({ gh: 'ready', index, peerPort, url });
  return {
    gateway,
    url,
    async close() {
      await gateway.close();
      await peers.close();
      await cache.close();
    },
  };
}
