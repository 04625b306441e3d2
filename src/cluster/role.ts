/**
 * Which process this is when `gateway.workers` > 1: a worker knows its index among the workers.
 * Session ids minted by a worker end in `.INDEX`, so a request for state that lives in one
 * worker's memory (a legacy SSE stream, a connection to an SSE backend) can be sent to its owner.
 * In a single process (the default) nothing is appended and ids are exactly as before.
 */
/** how the primary tells a worker who it is (environment of the forked process) */
export const WORKER_ENV = { index: 'GATEHOUSE_WORKER_INDEX', count: 'GATEHOUSE_WORKER_COUNT', secret: 'GATEHOUSE_PEER_SECRET' } as const;

/** true in a worker of a multi-process gateway (before its identity is set, too) */
export const isGatehouseWorker = (): boolean => process.env[WORKER_ENV.index] !== undefined;

export interface WorkerIdentity {
  readonly index: number;
  readonly count: number;
}

let identity: WorkerIdentity | undefined;
let suffix = '';

export function setWorkerIdentity(id: WorkerIdentity | undefined): void {
  identity = id;
  suffix = id ? `.${id.index}` : '';
}

export function workerIdentity(): WorkerIdentity | undefined {
  return identity;
}

/** what a new session id ends with: `.INDEX` in a worker, nothing in a single process */
export function sessionIdSuffix(): string {
  return suffix;
}

/** the worker that minted a session id (undefined: a single process, no tag or not a worker's) */
export function ownerOf(sessionId: string): number | undefined {
  if (!identity) return undefined;
  const dot = sessionId.lastIndexOf('.');
  if (dot === -1 || sessionId.length - dot > 4) return undefined;
  const tail = sessionId.slice(dot + 1);
  if (!/^\d{1,2}$/.test(tail)) return undefined;
  const n = Number(tail);
  return n < identity.count ? n : undefined;
}
