/**
 * The Cache on Redis (ioredis): what makes MCP sessions, rate-limit counters and the other short-lived
 * state shared by every replica of a gateway.
 *
 * URL: `redis://[[user:]password@]host[:port][/db][?prefix=P]`, `rediss://…` for TLS. A lone
 * `redis://secret@host` is taken as a password (the pre-ACL form). Every key is stored under a
 * prefix (default `gatehouse:`) so several gateways can share one Redis; the URL and its
 * credentials never appear in an error message (and error causes are rebuilt from the message only,
 * so ioredis' `command.args`, which can carry an AUTH password, are never attached).
 *
 * Failure behaviour: short connect and command timeouts, no offline queue (a command while the
 * connection is down fails at once instead of waiting), in-flight commands are failed — not resent —
 * when the connection drops (a resent INCR could count twice). Every failure is a
 * GW_ERR_UNAVAILABLE (503); `ping()` answers false instead. Reconnection runs in the background
 * forever (bounded back-off) so the gateway recovers when Redis comes back.
 *
 * Near cache: `mcp:session:` keys (read on every MCP request) are kept locally after a `get`, with
 * the key's remaining TTL (fetched atomically with the value by a Lua script), bounded to 20 000
 * entries. Every change of such a key through any RedisCache PUBLISHes the key on
 * `{prefix}invalidate`; every RedisCache SUBSCRIBEs on a second connection and drops the key when it
 * hears it. A read in flight when the key changes (or when the subscription is lost or re-established)
 * is not kept. While the subscriber connection is down (or misses its heartbeat) the near cache is
 * emptied and bypassed, so a stale session can never be served. Other keys are never near-cached.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Redis, type RedisOptions } from 'ioredis';
import { GatewayError } from '../errors/gateway-error.js';
import type { Cache } from './types.js';

/** keys kept in the near cache */
export const NEAR_CACHE_PREFIX = 'mcp:session:';
export const DEFAULT_KEY_PREFIX = 'gatehouse:';
const DEFAULT_NEAR_MAX = 20_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 2_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;
const DEFAULT_HEARTBEAT_MS = 5_000;
/** reconnection back-off: 100 ms, 200 ms, … capped at 2 s, forever */
const retryStrategy = (attempt: number): number => Math.min(attempt * 100, 2_000);

export interface RedisCacheOptions {
  /** key prefix (the invalidation channel is `{prefix}invalidate`); default: the URL's `?prefix=`, else `gatehouse:` */
  readonly prefix?: string;
  /** near cache bound (entries); 0 disables the near cache; default 20 000 */
  readonly nearMax?: number;
  /** default 2 000 */
  readonly connectTimeoutMs?: number;
  /** default 2 000 */
  readonly commandTimeoutMs?: number;
  /** how often the subscriber connection is pinged; default 5 000 (0: never) */
  readonly heartbeatMs?: number;
  /** told about connection errors (messages never carry the URL's credentials) */
  readonly onError?: (message: string) => void;
}

interface ParsedUrl {
  readonly options: RedisOptions;
  readonly prefix: string | undefined;
  /** host:port, for messages */
  readonly target: string;
  /** strings redacted from any message */
  readonly secrets: readonly string[];
}

const invalid = (why: string): GatewayError => new GatewayError('GW_ERR_CONFIG_INVALID', `cache URL: ${why}`);

/** the connection options of a redis:// or rediss:// URL (errors never echo it) */
export function parseRedisUrl(url: string): ParsedUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid('not a valid redis:// URL');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw invalid('must start with redis:// or rediss://');
  const host = u.hostname.startsWith('[') && u.hostname.endsWith(']') ? u.hostname.slice(1, -1) : u.hostname;
  if (host === '') throw invalid('needs a host');
  const port = u.port === '' ? 6379 : Number(u.port);
  let username: string;
  let password: string;
  try {
    username = decodeURIComponent(u.username);
    password = decodeURIComponent(u.password);
  } catch {
    throw invalid('its user or password is not valid percent-encoding');
  }
  if (password === '' && username !== '') {
    // redis://secret@host: the pre-ACL form, a password for the default user
    password = username;
    username = '';
  }
  let db = 0;
  const path = u.pathname.replace(/^\/+/, '');
  if (path !== '') {
    if (!/^\d{1,5}$/.test(path)) throw invalid('the path must be a database number (/0, /1, …)');
    db = Number(path);
  }
  let prefix: string | undefined;
  for (const [name, value] of u.searchParams) {
    if (name === 'prefix') prefix = value;
    else if (name === 'db') {
      if (!/^\d{1,5}$/.test(value)) throw invalid('db must be a database number');
      db = Number(value);
    } else throw invalid(`unknown parameter "${name.slice(0, 40).replace(/[^\w.-]/g, '?')}"`);
  }
  const options: RedisOptions = { host, port, db };
  if (username !== '') options.username = username;
  if (password !== '') options.password = password;
  if (u.protocol === 'rediss:') options.tls = isIP(host) === 0 ? { servername: host } : {};
  const secrets = [password, username, u.password, u.username].filter((s) => s.length > 0);
  return { options, prefix, target: `${isIP(host) === 6 ? `[${host}]` : host}:${port}`, secrets };
}

type ScriptedRedis = Redis & {
  /** [value | null, pttl] in one atomic step */
  ghGetTtl(key: string): Promise<[string | null, number]>;
  /** INCRBYFLOAT that sets the TTL only when it creates the key; publishes ARGV[4] on ARGV[3] unless ARGV[3] is '' */
  ghIncr(key: string, by: string, ttlMs: string, channel: string, message: string): Promise<string>;
};

const GET_TTL_LUA = `return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}`;
const INCR_LUA = `
local existed = redis.call('EXISTS', KEYS[1])
local r = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if existed == 0 and ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return r`;

interface NearEntry {
  readonly v: string;
  /** performance.now() deadline; 0 = no TTL */
  readonly exp: number;
}

const isNearKey = (key: string): boolean => key.startsWith(NEAR_CACHE_PREFIX);
const px = (ttlMs: number): number => Math.max(1, Math.ceil(ttlMs));
const hasTtl = (ttlMs: number | undefined): ttlMs is number => ttlMs !== undefined && ttlMs > 0;
const closedError = (): GatewayError => new GatewayError('GW_ERR_UNAVAILABLE', 'cache is closed');

export class RedisCache implements Cache {
  readonly kind = 'redis' as const;
  readonly prefix: string;
  /** the invalidation channel */
  readonly channel: string;
  readonly #client: ScriptedRedis;
  readonly #sub: Redis;
  readonly #target: string;
  readonly #secrets: readonly string[];
  readonly #nearMax: number;
  readonly #onError: ((message: string) => void) | undefined;
  readonly #near = new Map<string, NearEntry>();
  /** near-cacheable key → token of its newest read in flight; a change removes it, so that read is not kept */
  readonly #reading = new Map<string, number>();
  #token = 0;
  /** bumped whenever the near cache is switched on or off; a read started in another epoch is not kept */
  #epoch = 0;
  #nearOn = false;
  #subscribing: Promise<void> | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #lastError: string | undefined;
  #closed = false;

  /** starts connecting in the background; `connect()` waits until both connections are ready */
  constructor(url: string, opts: RedisCacheOptions = {}) {
    const parsed = parseRedisUrl(url);
    this.prefix = opts.prefix ?? parsed.prefix ?? DEFAULT_KEY_PREFIX;
    this.channel = `${this.prefix}invalidate`;
    this.#target = parsed.target;
    this.#secrets = parsed.secrets;
    this.#nearMax = opts.nearMax ?? DEFAULT_NEAR_MAX;
    this.#onError = opts.onError;
    const common: RedisOptions = {
      ...parsed.options,
      connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      commandTimeout: opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      // a command sent while the connection is down fails at once (no unbounded offline queue) …
      enableOfflineQueue: false,
      // … and commands in flight when it drops fail instead of being resent after a reconnect
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy,
      keepAlive: 10_000,
      // close(): a server that does not answer the FIN is cut after this long
      disconnectTimeout: 500,
      lazyConnect: true,
    };
    // CLIENT LIST shows which gateway a connection belongs to (a hash of the prefix, never the prefix itself)
    const tag = createHash('sha256').update(this.prefix).digest('hex').slice(0, 12);
    this.#client = new Redis({
      ...common,
      // no data for this long while a reply is awaited: the socket is dead, reconnect
      socketTimeout: (opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS) + 1_000,
      connectionName: `gatehouse-cache-${tag}`,
    }) as ScriptedRedis;
    this.#client.defineCommand('ghGetTtl', { numberOfKeys: 1, lua: GET_TTL_LUA });
    this.#client.defineCommand('ghIncr', { numberOfKeys: 1, lua: INCR_LUA });
    this.#sub = new Redis({ ...common, autoResubscribe: false, connectionName: `gatehouse-cache-sub-${tag}` });

    this.#client.on('error', (err: Error) => this.#noteError(err));
    this.#sub.on('error', (err: Error) => this.#noteError(err));
    this.#sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.#invalidate(message);
    });
    this.#sub.on('ready', () => {
      this.#subscribing = this.#subscribe();
    });
    this.#sub.on('close', () => this.#setNear(false));
    this.#sub.on('end', () => this.#setNear(false));

    const heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    if (heartbeatMs > 0 && this.#nearMax > 0) {
      this.#heartbeat = setInterval(() => this.#checkSubscriber(), heartbeatMs);
      this.#heartbeat.unref();
    }
    this.#client.connect().catch(() => undefined);
    this.#sub.connect().catch(() => undefined);
  }

  /** host:port of the Redis server (no credentials) */
  get target(): string {
    return this.#target;
  }

  /** whether `mcp:session:` reads are served locally right now (the subscription is live) */
  get nearCacheActive(): boolean {
    return this.#nearOn;
  }

  /** how many keys the near cache holds */
  get nearSize(): number {
    return this.#near.size;
  }

  /**
   * Waits until the command and the subscriber connections are ready (and subscribed), failing on
   * the first connection error or after the connect timeout, with a message naming no secret.
   */
  async connect(): Promise<void> {
    if (this.#closed) throw closedError();
    const ms = (this.#client.options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS) + 500;
    try {
      await Promise.all([whenReady(this.#client, ms), whenReady(this.#sub, ms).then(() => this.#subscribing)]);
      if (this.#nearMax > 0 && !this.#nearOn) throw new Error('the invalidation channel could not be subscribed');
    } catch (err) {
      const reason = this.#redact(err instanceof Error ? err.message : String(err));
      throw new GatewayError('GW_ERR_UNAVAILABLE', `cannot connect to the Redis cache at ${this.#target}: ${reason}`, { cause: this.#safeCause(err) });
    }
  }

  async get(key: string): Promise<string | undefined> {
    if (this.#closed) throw closedError();
    const k = this.prefix + key;
    // other keys, and every key while the subscription is down, are read from Redis each time
    if (!this.#nearOn || !isNearKey(key)) return (await this.#run(() => this.#client.get(k))) ?? undefined;
    const hit = this.#near.get(key);
    if (hit !== undefined) {
      if (hit.exp === 0 || hit.exp > performance.now()) return hit.v;
      this.#near.delete(key);
    }
    const token = ++this.#token;
    const epoch = this.#epoch;
    this.#reading.set(key, token);
    try {
      const [v, pttl] = await this.#run(() => this.#client.ghGetTtl(k));
      if (v === null) return undefined;
      if (this.#nearOn && epoch === this.#epoch && this.#reading.get(key) === token && pttl !== -2) {
        if (this.#near.size >= this.#nearMax) {
          const oldest = this.#near.keys().next();
          if (oldest.done !== true) this.#near.delete(oldest.value);
        }
        this.#near.set(key, { v, exp: pttl > 0 ? performance.now() + pttl : 0 });
      }
      return v;
    } finally {
      if (this.#reading.get(key) === token) this.#reading.delete(key);
    }
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    const k = this.prefix + key;
    const args: (string | number)[] = hasTtl(ttlMs) ? [k, value, 'PX', px(ttlMs)] : [k, value];
    await this.#write(key, 'set', args);
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const k = this.prefix + key;
    const args: (string | number)[] = hasTtl(ttlMs) ? [k, value, 'NX', 'PX', px(ttlMs)] : [k, value, 'NX'];
    return (await this.#write(key, 'set', args)) === 'OK';
  }

  async delete(key: string): Promise<boolean> {
    return Number(await this.#write(key, 'del', [this.prefix + key])) > 0;
  }

  async increment(key: string, by: number, ttlMs: number): Promise<number> {
    if (this.#closed) throw closedError();
    if (!Number.isFinite(by)) throw new GatewayError('GW_ERR_INTERNAL', 'cache increment must be a finite number');
    const near = this.#changed(key);
    const ttl = hasTtl(ttlMs) ? String(px(ttlMs)) : '0';
    const r = await this.#run(() => this.#client.ghIncr(this.prefix + key, String(by), ttl, near ? this.channel : '', key));
    return Number(r);
  }

  async touch(key: string, ttlMs: number): Promise<boolean> {
    const k = this.prefix + key;
    if (hasTtl(ttlMs)) return Number(await this.#write(key, 'pexpire', [k, px(ttlMs)])) === 1;
    // ttl <= 0: keep it until deleted (PERSIST alone answers 0 for a key without a TTL)
    const [exists] = await this.#writeMany(key, [['exists', [k]], ['persist', [k]]]);
    return Number(exists) === 1;
  }

  async ping(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      return (await this.#client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#setNear(false);
    await Promise.all([shutdown(this.#client), shutdown(this.#sub)]);
  }

  /** one write command; for a near-cacheable key, followed by the invalidation in the same round trip */
  async #write(key: string, command: string, args: (string | number)[]): Promise<unknown> {
    return (await this.#writeMany(key, [[command, args]]))[0];
  }

  async #writeMany(key: string, commands: [string, (string | number)[]][]): Promise<unknown[]> {
    if (this.#closed) throw closedError();
    const near = this.#changed(key);
    if (!near && commands.length === 1) {
      const [command, args] = commands[0]!;
      return [await this.#run(() => this.#client.call(command, ...args))];
    }
    const results = await this.#run(async () => {
      const p = this.#client.pipeline();
      for (const [command, args] of commands) p.call(command, ...args);
      if (near) p.publish(this.channel, key);
      const out = await p.exec();
      if (out === null) throw new Error('pipeline was not executed');
      for (const [err] of out) if (err) throw err;
      return out.map(([, v]) => v);
    });
    return results.slice(0, commands.length);
  }

  /** this instance changes the key: its own copy goes and reads in flight are not kept; true for a near-cacheable key */
  #changed(key: string): boolean {
    // published whatever this instance's own near cache does: the other replicas may keep the key
    if (!isNearKey(key)) return false;
    this.#invalidate(key);
    return true;
  }

  #invalidate(key: string): void {
    this.#near.delete(key);
    this.#reading.delete(key);
  }

  #setNear(on: boolean): void {
    this.#epoch++;
    this.#near.clear();
    this.#reading.clear();
    this.#nearOn = on && !this.#closed && this.#nearMax > 0;
  }

  async #subscribe(): Promise<void> {
    try {
      await this.#sub.subscribe(this.channel);
      // only now are changes heard: what was read before is not trusted
      if (this.#sub.status === 'ready') this.#setNear(true);
    } catch (err) {
      this.#noteError(err);
      this.#setNear(false);
      if (!this.#closed && this.#sub.status === 'ready') this.#sub.disconnect(true);
    }
  }

  /** the subscriber must answer a PING; when it does not, stop trusting the near cache and reconnect */
  #checkSubscriber(): void {
    if (this.#closed || this.#sub.status !== 'ready') return;
    this.#sub.ping().catch((err: unknown) => {
      this.#noteError(err);
      this.#setNear(false);
      if (!this.#closed && this.#sub.status === 'ready') this.#sub.disconnect(true);
    });
  }

  async #run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw this.#failure(err);
    }
  }

  #failure(err: unknown): GatewayError {
    if (err instanceof GatewayError) return err;
    if (err instanceof Error && err.name === 'ReplyError' && /not a valid float/i.test(err.message)) {
      return new GatewayError('GW_ERR_INTERNAL', 'cache value is not a number');
    }
    return new GatewayError('GW_ERR_UNAVAILABLE', 'Service Unavailable: the cache is unreachable', { cause: this.#safeCause(err) });
  }

  /** a copy of the error with its message (redacted) and code only: no `command.args`, no options */
  #safeCause(err: unknown): Error {
    const e = new Error(this.#redact(err instanceof Error ? err.message : String(err)));
    if (err instanceof Error) {
      e.name = err.name;
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string') Object.assign(e, { code });
    }
    return e;
  }

  #redact(message: string): string {
    let m = message;
    for (const s of this.#secrets) m = m.split(s).join('***');
    return m;
  }

  #noteError(err: unknown): void {
    const message = this.#redact(err instanceof Error ? err.message : String(err));
    this.#lastError = message;
    try {
      this.#onError?.(message);
    } catch {
      // a failing listener must not turn into an unhandled 'error'
    }
  }

  /** the last connection error seen (redacted), for diagnostics */
  get lastError(): string | undefined {
    return this.#lastError;
  }
}

/** resolves when the connection is ready; rejects on its first error, its end, or after `ms` */
function whenReady(r: Redis, ms: number): Promise<void> {
  if (r.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      r.off('ready', onReady);
      r.off('error', onError);
      r.off('end', onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onReady = (): void => done();
    const onError = (err: Error): void => done(err);
    const onEnd = (): void => done(new Error('the connection was closed'));
    const timer = setTimeout(() => done(new Error(`no answer within ${ms} ms`)), ms);
    r.on('ready', onReady);
    r.on('error', onError);
    r.on('end', onEnd);
  });
}

async function shutdown(r: Redis): Promise<void> {
  try {
    if (r.status === 'ready') await r.quit();
  } catch {
    // closing anyway
  } finally {
    r.disconnect();
  }
}
