/**
 * `gatehouse start [-c FILE] [--port N] [--host H]`: load and validate the config, open the
 * listener, log JSON lines to stdout; SIGTERM/SIGINT drain in-flight requests and exit 0.
 * Without -c: ./gatehouse.yaml if present, else the built-in quickstart (a demo MCP server behind
 * the gateway on the embedded defaults).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, configFromObject } from '../../config/load.js';
import { ConfigError, formatProblem } from '../../config/errors.js';
import type { GatewayConfig } from '../../config/types.js';
import { PolicyError } from '../../policy/errors.js';
import { createGateway } from '../../gateway.js';
import { createLogger } from '../../observability/logger.js';
import { closeOutboundAgents } from '../../policies/http/client.js';
import { startDemoMcpServer } from '../../demo/quickstart-server.js';
import { startDemoRestApi } from '../../demo/rest-api.js';
import type { CliIo } from '../main.js';
import cluster from 'node:cluster';
import process from 'node:process';
import { runPrimary } from '../../cluster/primary.js';
import { startWorker } from '../../cluster/worker.js';
import { isGatehouseWorker, WORKER_ENV } from '../../cluster/role.js';
import type { Logger } from '../../observability/logger.js';

function serverUrls(config: GatewayConfig, base: string): Array<{ name: string; mcp: string; sse: string }> {
  return config.servers.map((s) => ({ name: s.name, mcp: `${base}/${s.name}/mcp`, sse: `${base}/${s.name}/sse` }));
}

/** a gateway that could not start: policy problems with their positions (exit 2), anything else (exit 1) */
function startFailed(err: unknown, io: CliIo): number {
  if (err instanceof PolicyError) {
    io.stderr(err.problems.map((p) => formatProblem({ file: p.file ?? '<policy>', line: p.line, col: p.col, message: p.message }, { cwd: io.cwd })).join('\n'));
    return 2;
  }
  io.stderr(`gatehouse start: ${(err as Error).message}`);
  return 1;
}

/**
 * Serve until SIGTERM/SIGINT (or whatever `alsoStopOn` hooks up): then close (drain in-flight
 * requests), let go of idle outbound connections and resolve with the exit code.
 */
function untilStopped(logger: Logger, close: () => Promise<void>, alsoStopOn?: (stop: (why: string) => void) => void): Promise<number> {
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ why }, 'draining');
      close()
        // idle keep-alive connections of send-request would hold the process for seconds
        .then(() => closeOutboundAgents())
        .then(
          () => {
            logger.info('stopped');
            return 0;
          },
          (err: unknown) => {
            logger.error({ err }, 'shutdown failed');
            return 1;
          },
        )
        .then((code) => {
          logger.flush();
          resolveExit(code);
        });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    alsoStopOn?.(stop);
  });
}

/** one worker of a multi-process gateway: serve until SIGTERM/SIGINT or until the primary is gone */
async function runAsWorker(config: GatewayConfig, logger: Logger, io: CliIo, port: number | undefined, host: string | undefined): Promise<number> {
  let worker;
  try {
    worker = await startWorker(config, logger.child({ worker: Number(process.env[WORKER_ENV.index]) }), { env: io.env }, { port: port ?? config.gateway.port, host: host ?? config.gateway.host });
  } catch (err) {
    return startFailed(err, io);
  }
  const started = worker;
  // bin/gatehouse.js then lets go of the primary's IPC channel (which would keep the process alive)
  return untilStopped(logger, () => started.close(), (stop) => process.once('disconnect', () => stop('primary gone')));
}

export async function runStart(argv: string[], io: CliIo): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, port: { type: 'string' }, host: { type: 'string' } },
      allowPositionals: false,
      strict: true,
    });
  } catch (err) {
    io.stderr(`gatehouse start: ${(err as Error).message}`);
    return 2;
  }
  const port = args.values.port === undefined ? undefined : Number(args.values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    io.stderr(`gatehouse start: --port must be an integer between 0 and 65535`);
    return 2;
  }
  const logger = createLogger();
  let demo: { url: string; close(): Promise<void> } | undefined;
  let config: GatewayConfig;
  const file = args.values.config ?? (existsSync(resolve(io.cwd, 'gatehouse.yaml')) ? 'gatehouse.yaml' : undefined);
  try {
    if (file !== undefined) {
      config = await loadConfig({ file: resolve(io.cwd, file), env: io.env, cwd: io.cwd });
    } else {
      const started = await startDemoMcpServer();
      const rest = await startDemoRestApi().catch(async (err: unknown) => {
        await started.close();
        throw err;
      });
      demo = { url: started.url, close: async () => { await started.close(); await rest.close(); } };
      config = await configFromObject(
        {
          gateway: { listen: `${args.values.host ?? '127.0.0.1'}:${port ?? 8080}` },
          store: 'sqlite:./.gatehouse/gatehouse.db',
          cache: 'memory',
          servers: [
            { name: 'demo', type: 'passthrough', description: 'built-in demo MCP server', backend: { url: started.url } },
            { name: 'books', type: 'openapi', description: 'built-in demo REST API, its OpenAPI operations as MCP tools', openapi: rest.openapiUrl, backend: { url: rest.url } },
          ],
        },
        { baseDir: io.cwd, env: io.env },
      );
    }
  } catch (err) {
    await demo?.close();
    if (err instanceof ConfigError) {
      io.stderr(err.problems.map((pr) => formatProblem(pr, { cwd: io.cwd })).join('\n'));
      return 2;
    }
    throw err;
  }

  // several workers: this process is the primary (it forks the workers and serves no request), or one of them
  if (cluster.isWorker && isGatehouseWorker()) return runAsWorker(config, logger, io, port, args.values.host);
  if (config.gateway.workers > 1 && config.file !== undefined) {
    return runPrimary({
      workers: config.gateway.workers,
      logger,
      onListening: (url) => logger.info({ url, config: config.file, workers: config.gateway.workers, servers: serverUrls(config, port !== undefined || config.gateway.port === 0 ? url : config.gateway.publicUrl) }, 'gatehouse listening'),
    });
  }

  let gateway;
  let url: string;
  try {
    gateway = await createGateway(config, { logger, env: io.env, ...(config.file === undefined ? { quickstartKeyFile: resolve(io.cwd, '.gatehouse', 'secret.key') } : {}) });
    ({ url } = await gateway.listen(port ?? config.gateway.port, args.values.host ?? config.gateway.host));
  } catch (err) {
    await demo?.close();
    return startFailed(err, io);
  }
  // the public URL stays the configured one; when it was derived from listen, it follows the bound port
  const base = config.file === undefined || port !== undefined || config.gateway.port === 0 ? url : config.gateway.publicUrl;
  const servers = serverUrls(config, base);
  logger.info({ url, config: config.file ?? 'quickstart', servers }, 'gatehouse listening');
  if (!config.file) {
    io.stderr(
      [
        '',
        `Gatehouse quickstart: a demo MCP server and a demo REST API are running behind the gateway.`,
        `  MCP endpoint (Streamable HTTP): ${base}/demo/mcp`,
        `  legacy SSE endpoint:            ${base}/demo/sse`,
        `  REST API as MCP tools:          ${base}/books/mcp   (its OpenAPI operations: listBooks, getBook, addBook, …)`,
        `  health / metrics:               ${base}/healthz  ${base}/metrics`,
        `Connect a client, e.g. VS Code .vscode/mcp.json: { "servers": { "demo": { "type": "http", "url": "${base}/demo/mcp" } } }`,
        `Write a gatehouse.yaml (see README) to put your own MCP servers behind the gateway.`,
        '',
      ].join('\n'),
    );
  }

  return untilStopped(logger, async () => {
    await gateway.close();
    await demo?.close();
  });
}
