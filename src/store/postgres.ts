/**
 * PostgreSQL implementation of the Store, for several gateway replicas sharing one database.
 *
 * - One pg Pool per store (one per replica process). Every write is ONE statement, so it is atomic
 *   across replicas without explicit transactions: put is an upsert that bumps the version,
 *   compareAndPut is a conditional INSERT … ON CONFLICT DO NOTHING (expected 0) or UPDATE … WHERE
 *   version = $expected (READ COMMITTED re-checks the WHERE on the newest row after a concurrent
 *   update, so exactly one of several racing writers wins).
 * - ids and collections are `text COLLATE "C"`: byte order of UTF-8 = code point order, the same as
 *   SQLite's BINARY; list(prefix) is a range scan `id >= prefix AND id < upperBound(prefix)` on the
 *   primary key (no LIKE, so `%`, `_` and `\` in a prefix are plain characters).
 * - Migrations (an append-only list) run at open in ONE transaction that first takes
 *   pg_advisory_xact_lock for the schema, so replicas starting together apply each exactly once.
 * - Nothing hangs: connecting times out after ~3 s, statements after ~5 s (server-side
 *   statement_timeout and client-side query_timeout), idle-client errors of the pool are absorbed.
 *   Failures surface as GW_ERR_UNAVAILABLE (503). The URL (it may carry a password) is never echoed.
 *
 * URL: postgres://user:password@host:port/database?sslmode=…&application_name=…&schema=NAME
 * (`schema`, default `public`, is created when missing; every other query parameter goes to pg).
 */
import pg from 'pg';
import type { Pool, PoolClient, PoolConfig, QueryResultRow } from 'pg';
import { GatewayError } from '../errors/gateway-error.js';
import { errorCode, prefixUpperBound, toJson } from './records.js';
import type { Store, StoredRecord } from './types.js';

export interface PostgresMigration {
  /** strictly increasing, starting at 1; never renumber or edit an applied migration, only append */
  readonly version: number;
  readonly name: string;
  /** SQL for the schema `schema` (already quoted) */
  readonly sql: (schema: string) => string;
}

export const RECORDS_TABLE = 'gatehouse_records';
export const MIGRATIONS_TABLE = 'gatehouse_migrations';

/** Append new migrations (new tables, indexes) at the end; all pending ones run at open, in one locked transaction. */
export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'records',
    sql: (s) => `CREATE TABLE IF NOT EXISTS ${s}.${RECORDS_TABLE} (
      collection TEXT COLLATE "C" NOT NULL,
      id TEXT COLLATE "C" NOT NULL,
      value TEXT NOT NULL,
      version INTEGER NOT NULL,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (collection, id)
    )`,
  },
];

export const CONNECT_TIMEOUT_MS = 3000;
export const STATEMENT_TIMEOUT_MS = 5000;
const PING_TIMEOUT_MS = 2000;
/** migrations may wait for another replica's migrations (the advisory lock) and build indexes */
const MIGRATION_TIMEOUT_MS = 30_000;
/** first key of pg_advisory_xact_lock(int, int): "gh" */
const LOCK_CLASS = 0x6768;
const MAX_VERSION = 2_147_483_647;
const SCHEMA_RE = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

export interface PostgresStoreOptions {
  /** server-side statement_timeout and client-side query timeout (default 5000 ms) */
  readonly statementTimeoutMs?: number;
  /** connection timeout (default 3000 ms) */
  readonly connectTimeoutMs?: number;
  /** pool size per store (default 10) */
  readonly maxConnections?: number;
}

interface RecordRow {
  id: string;
  value: string;
  version: number;
  updated_at: string | number;
}

interface ParsedUrl {
  /** the URL handed to pg (without our own `schema` parameter) */
  readonly connectionString: string;
  readonly schema: string;
  /** host:port/database, for error messages (never the user or password) */
  readonly where: string;
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** PostgreSQL text cannot hold U+0000: such an id can never be stored */
const hasNul = (s: string): boolean => s.includes('\u0000');

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** the connection (not the statement) failed: safe to retry a read on a fresh connection */
function isConnectionError(err: unknown): boolean {
  const code = errorCode(err);
  if (/^(08|57P0|53300)/.test(code)) return true; // connection_exception, admin/crash shutdown, too_many_connections
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return true;
  const msg = errorMessage(err);
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(msg);
}

function describeOpenError(err: unknown): string {
  const code = errorCode(err);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection reset';
    case '28P01':
    case '28000':
      return 'authentication failed';
    case '3D000':
      return 'the database does not exist';
    case '42501':
      return 'permission denied (the user cannot create the schema or its tables)';
    case '57014':
      return 'a statement timed out';
    case '53300':
      return 'too many connections';
    case '57P03':
      return 'the server is starting up or shutting down';
    default:
      if (/timeout/i.test(errorMessage(err))) return 'connection timed out';
      if (/terminated/i.test(errorMessage(err))) return 'connection closed by the server';
      if (/SSL|TLS/i.test(errorMessage(err)) || /^ERR_TLS|^ERR_SSL|CERT|^DEPTH_ZERO/.test(code)) return 'TLS negotiation failed';
      return `open failed (${code})`;
  }
}

const unavailable = (cause: unknown): GatewayError =>
  cause instanceof GatewayError ? cause : new GatewayError('GW_ERR_UNAVAILABLE', 'Service Unavailable: the store is unreachable', { cause, detail: { code: errorCode(cause) } });

/** parses (without ever echoing) a postgres:// URL; takes our `schema` parameter out */
export function parsePostgresUrl(url: string): ParsedUrl {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new GatewayError('GW_ERR_CONFIG_INVALID', 'store URL must start with postgres:// or postgresql://');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new GatewayError('GW_ERR_CONFIG_INVALID', 'store URL is not a valid postgres:// URL (percent-encode special characters in the user name and password)');
  }
  const schemas = u.searchParams.getAll('schema');
  if (schemas.length > 1) throw new GatewayError('GW_ERR_CONFIG_INVALID', 'store URL: give the schema parameter once');
  const schema = schemas[0] ?? 'public';
  if (!SCHEMA_RE.test(schema)) {
    throw new GatewayError('GW_ERR_CONFIG_INVALID', 'store URL: schema must be a plain identifier (letters, digits, _ or $, not starting with a digit, at most 63 characters)');
  }
  let connectionString = url;
  if (schemas.length > 0) {
    u.searchParams.delete('schema');
    connectionString = u.toString();
  }
  const host = u.searchParams.get('host') ?? (u.hostname === '' ? 'localhost' : u.hostname);
  const port = u.port === '' ? '5432' : u.port;
  let database = '';
  try {
    database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  } catch {
    database = '?';
  }
  return { connectionString, schema, where: `${host}:${port}/${database}` };
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  /** the schema holding the tables */
  readonly schema: string;
  /** host:port/database (no credentials) */
  readonly where: string;
  private readonly pool: Pool;
  private readonly records: string;
  private readonly migrations: string;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** the last error an idle pooled connection reported (e.g. the server went away) */
  lastIdleError: Error | undefined;

  private readonly sqlGet: string;
  private readonly sqlPut: string;
  private readonly sqlInsertIfAbsent: string;
  private readonly sqlUpdateIfVersion: string;
  private readonly sqlDelete: string;
  private readonly sqlListAll: string;
  private readonly sqlListFrom: string;
  private readonly sqlListRange: string;

  /** Use openPostgresStore(); the constructor expects a pool whose schema is migrated. */
  private constructor(pool: Pool, schema: string, where: string) {
    this.pool = pool;
    this.schema = schema;
    this.where = where;
    const s = quoteIdent(schema);
    this.records = `${s}.${RECORDS_TABLE}`;
    this.migrations = `${s}.${MIGRATIONS_TABLE}`;
    const t = this.records;
    const cols = 'id, value, version, updated_at';
    this.sqlGet = `SELECT ${cols} FROM ${t} WHERE collection = $1 AND id = $2`;
    this.sqlPut = `INSERT INTO ${t} AS r (collection, id, value, version, updated_at) VALUES ($1, $2, $3, 1, $4)
       ON CONFLICT (collection, id) DO UPDATE SET value = EXCLUDED.value, version = r.version + 1, updated_at = EXCLUDED.updated_at
       RETURNING version`;
    this.sqlInsertIfAbsent = `INSERT INTO ${t} (collection, id, value, version, updated_at) VALUES ($1, $2, $3, 1, $4) ON CONFLICT (collection, id) DO NOTHING`;
    this.sqlUpdateIfVersion = `UPDATE ${t} SET value = $1, version = version + 1, updated_at = $2 WHERE collection = $3 AND id = $4 AND version = $5`;
    this.sqlDelete = `DELETE FROM ${t} WHERE collection = $1 AND id = $2`;
    this.sqlListAll = `SELECT ${cols} FROM ${t} WHERE collection = $1 ORDER BY id`;
    this.sqlListFrom = `SELECT ${cols} FROM ${t} WHERE collection = $1 AND id >= $2 ORDER BY id`;
    this.sqlListRange = `SELECT ${cols} FROM ${t} WHERE collection = $1 AND id >= $2 AND id < $3 ORDER BY id`;
  }

  /** @internal used by openPostgresStore */
  static create(pool: Pool, schema: string, where: string): PostgresStore {
    return new PostgresStore(pool, schema, where);
  }

  /** applies pending migrations; returns how many were applied (0 when the schema is current) */
  async migrate(): Promise<number> {
    this.assertOpen();
    return migrate(this.pool, this.schema);
  }

  /** the highest applied migration version */
  async schemaVersion(): Promise<number> {
    const r = await this.query<{ v: number | null }>(`SELECT MAX(version) AS v FROM ${this.migrations}`, [], true);
    return r.rows[0]?.v ?? 0;
  }

  async get<T = unknown>(collection: string, id: string): Promise<StoredRecord<T> | undefined> {
    this.assertOpen();
    if (hasNul(collection) || hasNul(id)) return undefined;
    const r = await this.query<RecordRow>(this.sqlGet, [collection, id], true);
    const row = r.rows[0];
    return row === undefined ? undefined : toRecord<T>(collection, row);
  }

  async put<T = unknown>(collection: string, id: string, value: T): Promise<number> {
    this.assertOpen();
    this.assertStorableKey(collection, id);
    const json = toJson(value);
    const r = await this.query<{ version: number }>(this.sqlPut, [collection, id, json, Date.now()], false);
    const version = r.rows[0]?.version;
    if (version === undefined) throw new GatewayError('GW_ERR_INTERNAL', 'store write returned no version');
    return version;
  }

  async compareAndPut<T = unknown>(collection: string, id: string, value: T, expectedVersion: number): Promise<boolean> {
    this.assertOpen();
    this.assertStorableKey(collection, id);
    const json = toJson(value);
    if (expectedVersion === 0) return (await this.query(this.sqlInsertIfAbsent, [collection, id, json, Date.now()], false)).rowCount === 1;
    if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0 || expectedVersion > MAX_VERSION) return false;
    return (await this.query(this.sqlUpdateIfVersion, [json, Date.now(), collection, id, expectedVersion], false)).rowCount === 1;
  }

  async delete(collection: string, id: string): Promise<boolean> {
    this.assertOpen();
    if (hasNul(collection) || hasNul(id)) return false;
    return ((await this.query(this.sqlDelete, [collection, id], false)).rowCount ?? 0) > 0;
  }

  async list<T = unknown>(collection: string, prefix?: string): Promise<StoredRecord<T>[]> {
    this.assertOpen();
    if (hasNul(collection) || (prefix !== undefined && hasNul(prefix))) return [];
    let rows: RecordRow[];
    if (prefix === undefined || prefix === '') rows = (await this.query<RecordRow>(this.sqlListAll, [collection], true)).rows;
    else {
      const upper = prefixUpperBound(prefix);
      rows =
        upper === undefined
          ? (await this.query<RecordRow>(this.sqlListFrom, [collection, prefix], true)).rows
          : (await this.query<RecordRow>(this.sqlListRange, [collection, prefix, upper], true)).rows;
    }
    return rows.map((row) => toRecord<T>(collection, row));
  }

  async ping(): Promise<boolean> {
    if (this.closed) return false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = this.pool.query<{ ok: number }>({ text: 'SELECT 1 AS ok', query_timeout: PING_TIMEOUT_MS } as pg.QueryConfig).then(
        (r) => r.rows[0]?.ok === 1,
        () => false,
      );
      // acquiring a connection may take up to the connect timeout: answer false sooner
      const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS + 500);
        timer.unref();
      });
      return await Promise.race([answer, late]);
    } catch {
      return false;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = this.pool.end().catch(() => undefined);
    return this.closing;
  }

  /** one statement on a pooled connection; failures become GW_ERR_UNAVAILABLE. Reads are retried once when the connection (not the statement) failed, e.g. after the server dropped idle connections. */
  private async query<R extends QueryResultRow = QueryResultRow>(text: string, values: unknown[], retryable: boolean): Promise<pg.QueryResult<R>> {
    this.assertOpen();
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      if (retryable && !this.closed && isConnectionError(err)) {
        try {
          return await this.pool.query<R>(text, values);
        } catch (again) {
          throw unavailable(again);
        }
      }
      if (this.closed) throw new GatewayError('GW_ERR_UNAVAILABLE', 'store is closed', { cause: err });
      throw unavailable(err);
    }
  }

  private assertStorableKey(collection: string, id: string): void {
    if (hasNul(collection) || hasNul(id)) throw new GatewayError('GW_ERR_BAD_REQUEST', 'store collections and ids cannot contain U+0000');
  }

  private assertOpen(): void {
    if (this.closed) throw new GatewayError('GW_ERR_UNAVAILABLE', 'store is closed');
  }
}

function toRecord<T>(collection: string, row: RecordRow): StoredRecord<T> {
  return { collection, id: row.id, value: JSON.parse(row.value) as T, version: row.version, updatedAt: Number(row.updated_at) };
}

/**
 * Applies pending migrations in one transaction holding an advisory lock keyed by the schema, so
 * replicas opening at once serialise here and each migration is applied (and recorded) once.
 */
async function migrate(pool: Pool, schema: string): Promise<number> {
  const s = quoteIdent(schema);
  const table = `${s}.${MIGRATIONS_TABLE}`;
  const client: PoolClient = await pool.connect();
  // an error while the client is checked out must not become an uncaught 'error' event
  const onError = (): void => undefined;
  client.on('error', onError);
  const q = (text: string, values: unknown[] = []) => client.query({ text, values, query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig);
  let failed: unknown;
  try {
    await q('BEGIN');
    await q(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
    await q('SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))', [LOCK_CLASS, schema]);
    // CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema exists: look first
    const exists = await q('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await q(`CREATE SCHEMA ${s}`);
    await q(`CREATE TABLE IF NOT EXISTS ${table} (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at BIGINT NOT NULL
    )`);
    const done = new Set((await q(`SELECT version FROM ${table}`)).rows.map((r: { version: number }) => r.version));
    let applied = 0;
    for (const m of POSTGRES_MIGRATIONS) {
      if (done.has(m.version)) continue;
      await q(m.sql(s));
      await q(`INSERT INTO ${table} (version, name, applied_at) VALUES ($1, $2, $3)`, [m.version, m.name, Date.now()]);
      applied++;
    }
    await q('COMMIT');
    return applied;
  } catch (err) {
    failed = err;
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.off('error', onError);
    // a connection that failed mid-transaction is discarded, not returned to the pool
    client.release(failed !== undefined && isConnectionError(failed) ? true : undefined);
  }
}

/**
 * Opens a PostgreSQL store from a postgres:// or postgresql:// URL and applies pending migrations.
 * Fails with GW_ERR_CONFIG_INVALID for a malformed URL and GW_ERR_UNAVAILABLE when the server
 * cannot be reached or refuses; messages name host:port/database, never the user or password.
 */
export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const parsed = parsePostgresUrl(url);
  const statementTimeout = opts.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS;
  const config: PoolConfig = {
    connectionString: parsed.connectionString,
    application_name: 'gatehouse',
    connectionTimeoutMillis: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    statement_timeout: statementTimeout,
    query_timeout: statementTimeout + 1000,
    idle_in_transaction_session_timeout: Math.max(statementTimeout * 2, MIGRATION_TIMEOUT_MS + 5000),
    keepAlive: true,
    max: opts.maxConnections ?? 10,
    idleTimeoutMillis: 30_000,
    allowExitOnIdle: true,
  };
  const pool = new pg.Pool(config);
  const store = PostgresStore.create(pool, parsed.schema, parsed.where);
  // an idle pooled connection that dies (server restart, pg_terminate_backend) is removed by the
  // pool; without a listener its 'error' event would crash the process
  pool.on('error', (err) => {
    store.lastIdleError = err;
  });
  try {
    await migrate(pool, parsed.schema);
    return store;
  } catch (err) {
    await store.close();
    if (err instanceof GatewayError) throw err;
    throw new GatewayError('GW_ERR_UNAVAILABLE', `cannot open the PostgreSQL store at ${parsed.where} (schema ${parsed.schema}): ${describeOpenError(err)}`, {
      cause: err,
      detail: { where: parsed.where, schema: parsed.schema, code: errorCode(err) },
    });
  }
}
