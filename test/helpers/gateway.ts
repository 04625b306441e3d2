/** Start a real gateway on 127.0.0.1:0 from a config object, as `gatehouse start` would. */
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import { configFromObject } from '../../src/config/load.js';
import { createGateway, type Gateway } from '../../src/gateway.js';

export interface RunningGateway {
  readonly url: string;
  readonly gateway: Gateway;
  /** every JSON log line the gateway wrote */
  readonly logs: string[];
  close(): Promise<void>;
}

export async function startGateway(raw: Record<string, unknown>, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<RunningGateway> {
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
  const gateway = await createGateway(config, { logger });
  const { url } = await gateway.listen(0, '127.0.0.1');
  return { url, gateway, logs, close: () => gateway.close() };
}
