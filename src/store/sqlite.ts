/**
 * SQLite implementation of the Store (embedded, the default). better-sqlite3 is synchronous, so
 * every statement runs to completion before another one starts in this process; single statements
 * are atomic across processes too (WAL + busy_timeout). compareAndPut is one conditional statement.
 */
import { closeSync, chmodSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { GatewayError } from '../errors/gateway-error.js';
import { errorCode, prefixUpperBound, toJson } from './records.js';
import type { Store, StoredRecord } from './types.js';

export interface SqliteMigration {
  /** strictly increasing, starting at 1; never renumber or edit an applied migration, only append */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Append new migrations (new tables, indexes) at the end; each runs once, in its own transaction. */
export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'records',
    sql: `CREATE TABLE IF NOT EXISTS records (
      collection TEXT NOT NULL,
      id TEXT NOT NULL,
      value TEXT NOT NULL,
      version INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (collection, id)
    ) WITHOUT ROWID`,
  },
];

const BUSY_TIMEOUT_MS = 5000;

interface RecordRow {
  id: string;
  value: string;
  version: number;
  updated_at: number;
}

function describeOpenError(err: unknown): string {
  switch (errorCode(err)) {
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return 'the file is not a valid SQLite database';
    case 'SQLITE_READONLY':
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return 'the file or its folder is not writable';
    case 'SQLITE_CANTOPEN':
      return 'the file cannot be opened or created';
    case 'ENOTDIR':
    case 'EEXIST':
      return 'a parent of the path is not a directory';
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return 'the database is locked by another process';
    default:
      return `open failed (${errorCode(err)})`;
  }
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  /** the path as given (or `:memory:`) */
  readonly path: string;
  private readonly db: Database.Database;
  private closed = false;

  private readonly stGet: Database.Statement<[string, string], RecordRow>;
  private readonly stPut: Database.Statement<[string, string, string, number], { version: number }>;
  private readonly stInsertIfAbsent: Database.Statement<[string, string, string, number]>;
  private readonly stUpdateIfVersion: Database.Statement<[string, number, string, string, number]>;
  private readonly stDelete: Database.Statement<[string, string]>;
  private readonly stListAll: Database.Statement<[string], RecordRow>;
  private readonly stListFrom: Database.Statement<[string, string], RecordRow>;
  private readonly stListRange: Database.Statement<[string, string, string], RecordRow>;
  private readonly stPing: Database.Statement<[], { ok: number }>;

  /** Use openSqliteStore(); the constructor expects an opened, migrated database. */
  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.db = db;
    const cols = 'id, value, version, updated_at';
    this.stGet = db.prepare(`SELECT ${cols} FROM records WHERE collection = ? AND id = ?`);
    this.stPut = db.prepare(
      `INSERT INTO records (collection, id, value, version, updated_at) VALUES (?, ?, ?, 1, ?)
       ON CONFLICT (collection, id) DO UPDATE SET value = excluded.value, version = records.version + 1, updated_at = excluded.updated_at
       RETURNING version`,
    );
    this.stInsertIfAbsent = db.prepare(
      `INSERT INTO records (collection, id, value, version, updated_at) VALUES (?, ?, ?, 1, ?) ON CONFLICT (collection, id) DO NOTHING`,
    );
    this.stUpdateIfVersion = db.prepare(
      `UPDATE records SET value = ?, version = version + 1, updated_at = ? WHERE collection = ? AND id = ? AND version = ?`,
    );
    this.stDelete = db.prepare(`DELETE FROM records WHERE collection = ? AND id = ?`);
    this.stListAll = db.prepare(`SELECT ${cols} FROM records WHERE collection = ? ORDER BY id`);
    this.stListFrom = db.prepare(`SELECT ${cols} FROM records WHERE collection = ? AND id >= ? ORDER BY id`);
    this.stListRange = db.prepare(`SELECT ${cols} FROM records WHERE collection = ? AND id >= ? AND id < ? ORDER BY id`);
    this.stPing = db.prepare('SELECT 1 AS ok');
  }

  /** @internal used by openSqliteStore */
  static create(path: string, db: Database.Database): SqliteStore {
    return new SqliteStore(path, db);
  }

  /** applies pending migrations; returns how many were applied (0 when the schema is current) */
  migrate(): number {
    this.assertOpen();
    return migrate(this.db);
  }

  /** the highest applied migration version */
  schemaVersion(): number {
    this.assertOpen();
    return schemaVersion(this.db);
  }

  async get<T = unknown>(collection: string, id: string): Promise<StoredRecord<T> | undefined> {
    this.assertOpen();
    const row = this.stGet.get(collection, id);
    return row === undefined ? undefined : toRecord<T>(collection, row);
  }

  async put<T = unknown>(collection: string, id: string, value: T): Promise<number> {
    this.assertOpen();
    const row = this.stPut.get(collection, id, toJson(value), Date.now());
    if (row === undefined) throw new GatewayError('GW_ERR_INTERNAL', 'store write returned no version');
    return row.version;
  }

  async compareAndPut<T = unknown>(collection: string, id: string, value: T, expectedVersion: number): Promise<boolean> {
    this.assertOpen();
    const json = toJson(value);
    if (expectedVersion === 0) return this.stInsertIfAbsent.run(collection, id, json, Date.now()).changes === 1;
    if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0) return false;
    return this.stUpdateIfVersion.run(json, Date.now(), collection, id, expectedVersion).changes === 1;
  }

  async delete(collection: string, id: string): Promise<boolean> {
    this.assertOpen();
    return this.stDelete.run(collection, id).changes > 0;
  }

  async list<T = unknown>(collection: string, prefix?: string): Promise<StoredRecord<T>[]> {
    this.assertOpen();
    let rows: RecordRow[];
    if (prefix === undefined || prefix === '') rows = this.stListAll.all(collection);
    else {
      const upper = prefixUpperBound(prefix);
      rows = upper === undefined ? this.stListFrom.all(collection, prefix) : this.stListRange.all(collection, prefix, upper);
    }
    return rows.map((row) => toRecord<T>(collection, row));
  }

  async ping(): Promise<boolean> {
    if (this.closed) return false;
    try {
      return this.stPing.get()?.ok === 1;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new GatewayError('GW_ERR_UNAVAILABLE', 'store is closed');
  }
}

function toRecord<T>(collection: string, row: RecordRow): StoredRecord<T> {
  return { collection, id: row.id, value: JSON.parse(row.value) as T, version: row.version, updatedAt: row.updated_at };
}

function schemaVersion(db: Database.Database): number {
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null } | undefined;
  return row?.v ?? 0;
}

function migrate(db: Database.Database): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  const isApplied = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?');
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  let applied = 0;
  for (const m of SQLITE_MIGRATIONS) {
    // IMMEDIATE takes the write lock first, so two processes starting together cannot both apply it
    const step = db.transaction(() => {
      if (isApplied.get(m.version) !== undefined) return false;
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
      return true;
    });
    if (step.immediate()) applied++;
  }
  return applied;
}

/**
 * Opens (creating when needed) a SQLite store at `path` (or `:memory:`): parent folders are
 * created with mode 0700 and a new file with mode 0600; WAL journal; pending migrations applied.
 * Fails with GW_ERR_UNAVAILABLE when the file is corrupt, unwritable or cannot be created.
 */
export async function openSqliteStore(path: string): Promise<SqliteStore> {
  const memory = path === ':memory:';
  let db: Database.Database | undefined;
  try {
    if (!memory) {
      const full = resolve(path);
      mkdirSync(dirname(full), { recursive: true, mode: 0o700 });
      if (!existsSync(full)) {
        closeSync(openSync(full, 'a', 0o600));
        chmodSync(full, 0o600); // independent of the umask
      }
    }
    db = new Database(path);
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (!memory) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    migrate(db);
    // SQLite silently opens a write-protected file read-only; a no-op write surfaces that now
    db.exec('DELETE FROM schema_migrations WHERE 0');
    return SqliteStore.create(path, db);
  } catch (err) {
    try {
      db?.close();
    } catch {
      /* already failing */
    }
    if (err instanceof GatewayError) throw err;
    throw new GatewayError('GW_ERR_UNAVAILABLE', `cannot open the SQLite store at ${path}: ${describeOpenError(err)}`, {
      cause: err,
      detail: { path, code: errorCode(err) },
    });
  }
}
