import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { GatewayError } from '../src/errors/gateway-error.js';
import { openStore } from '../src/store/open.js';
import { openSqliteStore, SQLITE_MIGRATIONS, SqliteStore } from '../src/store/sqlite.js';
import { storeContract } from './helpers/store-contract.js';

const root = mkdtempSync(join(tmpdir(), 'gatehouse-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshPath = (): string => join(root, `db-${++n}`, 'gatehouse.db');

const isUnavailable = (path: string, fragment?: string) => (err: unknown): boolean => {
  assert.ok(err instanceof GatewayError, 'a GatewayError');
  assert.equal(err.code, 'GW_ERR_UNAVAILABLE');
  assert.equal(err.status, 503);
  assert.ok(err.message.includes(path), `message names the path: ${err.message}`);
  if (fragment !== undefined) assert.ok(err.message.includes(fragment), `message says "${fragment}": ${err.message}`);
  return true;
};

storeContract('SqliteStore (file)', () => openSqliteStore(freshPath()));
storeContract('SqliteStore (:memory:)', () => openSqliteStore(':memory:'));
storeContract('openStore(sqlite:PATH)', () => openStore(`sqlite:${freshPath()}`));

describe('SqliteStore', () => {
  it('creates the folder with mode 0700 and the file with mode 0600', async () => {
    const dir = join(root, 'perm', 'nested');
    const path = join(dir, 'g.db');
    const store = await openSqliteStore(path);
    try {
      await store.put('c', 'a', 1);
      assert.equal(statSync(join(root, 'perm')).mode & 0o777, 0o700);
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      for (const side of [`${path}-wal`, `${path}-shm`]) {
        if (existsSync(side)) assert.equal(statSync(side).mode & 0o077, 0, `${side} is private`);
      }
    } finally {
      await store.close();
    }
  });

  it('uses WAL and a busy timeout', async () => {
    const path = freshPath();
    const store = await openSqliteStore(path);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  });

  it('keeps data across reopen', async () => {
    const path = freshPath();
    const a = await openSqliteStore(path);
    await a.put('subs', 'x', { key: 'v' });
    await a.put('subs', 'x', { key: 'v2' });
    await a.put('subs', 'y', [1, 2]);
    await a.close();
    const b = await openSqliteStore(path);
    try {
      const rec = await b.get(`subs`, 'x');
      assert.deepEqual(rec?.value, { key: 'v2' });
      assert.equal(rec?.version, 2);
      assert.deepEqual((await b.list('subs')).map((r) => r.id), ['x', 'y']);
      assert.equal(await b.put('subs', 'x', 3), 3);
    } finally {
      await b.close();
    }
  });

  it('applies migrations once (idempotent across migrate() calls and reopen)', async () => {
    const path = freshPath();
    const a = await openSqliteStore(path);
    assert.ok(SQLITE_MIGRATIONS.length >= 1);
    assert.equal(a.schemaVersion(), SQLITE_MIGRATIONS.at(-1)?.version);
    assert.equal(a.migrate(), 0);
    assert.equal(a.migrate(), 0);
    await a.put('c', 'kept', true);
    await a.close();
    const b = await openSqliteStore(path);
    assert.equal(b.migrate(), 0);
    assert.equal(b.schemaVersion(), SQLITE_MIGRATIONS.at(-1)?.version);
    assert.equal((await b.get('c', 'kept'))?.value, true);
    await b.close();
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as { version: number; name: string }[];
      assert.deepEqual(rows, SQLITE_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
      assert.deepEqual(tables.map((t) => t.name), ['records', 'schema_migrations']);
    } finally {
      db.close();
    }
  });

  it('migration versions are strictly increasing from 1', () => {
    SQLITE_MIGRATIONS.forEach((m, i) => assert.equal(m.version, i + 1));
  });

  it('two stores on one file see each other\'s writes and CAS stays exclusive', async () => {
    const path = freshPath();
    const a = await openSqliteStore(path);
    const b = await openSqliteStore(path);
    try {
      await a.put('c', 'k', 'from-a');
      assert.equal((await b.get('c', 'k'))?.value, 'from-a');
      const results = await Promise.all([a.compareAndPut('c', 'k', 'a', 1), b.compareAndPut('c', 'k', 'b', 1)]);
      assert.equal(results.filter(Boolean).length, 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a corrupt file fails with GW_ERR_UNAVAILABLE naming the path', async () => {
    const dir = join(root, 'corrupt');
    mkdirSync(dir);
    const path = join(dir, 'bad.db');
    writeFileSync(path, 'this is not a sqlite database at all, '.repeat(200));
    await assert.rejects(openSqliteStore(path), isUnavailable(path, 'not a valid SQLite database'));
    await assert.rejects(openStore(`sqlite:${path}`), isUnavailable(path));
  });

  it('a write-protected file fails with GW_ERR_UNAVAILABLE', async () => {
    const path = freshPath();
    const s = await openSqliteStore(path);
    await s.close();
    chmodSync(path, 0o444);
    if (process.getuid?.() !== 0) {
      await assert.rejects(openSqliteStore(path), isUnavailable(path, 'not writable'));
      return;
    }
    // root ignores file modes: open it as the unprivileged user "nobody" in a child process
    chmodSync(root, 0o755);
    chmodSync(join(path, '..'), 0o755);
    const sqliteModule = new URL('../src/store/sqlite.js', import.meta.url).href;
    const script = `import(${JSON.stringify(sqliteModule)}).then((m) => m.openSqliteStore(${JSON.stringify(path)})).then(() => { console.log('OPENED'); }, (e) => { console.log(e.code + ' ' + e.message); });`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, encoding: 'utf8' });
    assert.match(out, /^GW_ERR_UNAVAILABLE cannot open the SQLite store at .*gatehouse\.db: .*(not writable|READONLY)/);
  });

  it('a path inside a non-directory fails with GW_ERR_UNAVAILABLE', async () => {
    const file = join(root, 'plain-file');
    writeFileSync(file, 'x');
    const path = join(file, 'sub', 'g.db');
    await assert.rejects(openSqliteStore(path), isUnavailable(path, 'not a directory'));
  });

  it('is a SqliteStore of kind sqlite', async () => {
    const s = await openSqliteStore(':memory:');
    assert.ok(s instanceof SqliteStore);
    assert.equal(s.kind, 'sqlite');
    assert.equal(s.path, ':memory:');
    await s.close();
  });
});

describe('openStore', () => {
  it('sqlite::memory: opens an in-memory SQLite store', async () => {
    const s = await openStore('sqlite::memory:');
    try {
      assert.equal(s.kind, 'sqlite');
      assert.ok(s instanceof SqliteStore);
      assert.equal((s as SqliteStore).path, ':memory:');
      assert.equal(await s.ping(), true);
    } finally {
      await s.close();
    }
  });

  it('sqlite:PATH resolves a relative PATH against the process cwd', async () => {
    const target = join(root, 'relative', 'rel.db');
    const rel = relative(process.cwd(), target);
    assert.ok(!rel.startsWith('/'));
    const s = await openStore(`sqlite:${rel}`);
    try {
      assert.equal((s as SqliteStore).path, target);
      assert.ok(existsSync(target));
    } finally {
      await s.close();
    }
  });

  it('postgres:// and postgresql:// open PostgreSQL; an unreachable server is a 503-class error that does not echo the URL', async () => {
    for (const url of ['postgres://user:s3cret@127.0.0.1:1/gatehouse', 'postgresql://user:s3cret@127.0.0.1:1/gh']) {
      await assert.rejects(openStore(url), (err: unknown) => {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.code, 'GW_ERR_UNAVAILABLE');
        assert.doesNotMatch(err.message, /s3cret|user:/);
        return true;
      });
    }
  });

  it('rejects other URLs with GW_ERR_CONFIG_INVALID without echoing them', async () => {
    for (const url of ['mysql://root:s3cret@x/db', 'sqlite:', '', 'memory']) {
      await assert.rejects(openStore(url), (err: unknown) => {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.code, 'GW_ERR_CONFIG_INVALID');
        assert.ok(!err.message.includes('s3cret'));
        return true;
      });
    }
  });

  it('a sqlite path inside a non-directory fails with GW_ERR_UNAVAILABLE', async () => {
    const file = join(root, 'not-a-dir');
    writeFileSync(file, 'x');
    const path = join(file, 'g.db');
    await assert.rejects(openStore(`sqlite:${path}`), isUnavailable(path, 'not a directory'));
  });
});
