/** Start a real gateway on 127.0.0.1:0 from a config object, as `gatehouse start` would. */
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import { configFromObject } from '../../src/config/load.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway.js';

export interface RunningGateway {
  readonly url: string;
  readonly gateway: Gateway;
  /** every JSON log line the gateway wrote */
  readonly logs: string[];
  close(): Promise<void>;
}

/**
 * `raw.gateway.listen` may name a port (e.g. one reserved with `freePort()` so that `publicUrl` can
 * be the gateway's real URL); `opts.openid` tunes the OpenID key cache (a test clock).
 */
export async function startGateway(raw: Record<string, unknown>, opts: { env?: NodeJS.ProcessEnv; openid?: GatewayOptions['openid'] } = {}): Promise<RunningGateway> {
  const config = await configFromObject(
    { store: 'sqlite::memory:', cache: 'memory', ...raw, gateway: { listen: '127.0.0.1:0', ...(raw.gateway as object | undefined) } },
    { baseDir: process.cwd(), env: opts.env ?? process.env },
  );
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination });
  const gateway = await createGateway(config, { logger, ...(opts.openid ? { openid: opts.openid } : {}) });
  const { url } = await gateway.listen(config.gateway.port, '127.0.0.1');
  return { url, gateway, logs, close: () => gateway.close() };
}

/** a free loopback port (to know a gateway's URL before it starts) */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
