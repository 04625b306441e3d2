/**
 * PostgresStore against the real PostgreSQL at 127.0.0.1:5432 (database `test`): the Store contract
 * on a random schema, two stores (two pools = two replicas) racing on one schema, migrations applied
 * once when 4 replicas open a new schema at the same time, exact round-trips and LIKE-proof prefix
 * lists, failures (closed port, silent server, server gone, terminated backends, a blocked
 * statement) that answer fast with GW_ERR_UNAVAILABLE and never echo the password, and the CLI and
 * a gateway sharing `store: postgres://…`. Every schema created here is dropped at the end.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { main, type CliIo } from '../src/cli/main.js';
import { loadConfig } from '../src/config/load.js';
import { GatewayError } from '../src/errors/gateway-error.js';
import { createGateway } from '../src/gateway.js';
import { createLogger } from '../src/observability/logger.js';
import { openStore } from '../src/store/open.js';
import { MIGRATIONS_TABLE, openPostgresStore, parsePostgresUrl, POSTGRES_MIGRATIONS, PostgresStore, RECORDS_TABLE } from '../src/store/postgres.js';
import type { Store } from '../src/store/types.js';
import { startEverythingServer } from './fixtures/everything-server.js';
import { storeContract } from './helpers/store-contract.js';
import { INIT, post } from './helpers/mcp-http.js';

const PG_HOST = '127.0.0.1';
const PG_PORT = 5432;
const BASE = `postgres://postgres@${PG_HOST}:${PG_PORT}/test`;
const RUN = randomBytes(4).toString('hex');
const created = new Set<string>();
/** a fresh schema name for this run (dropped at the end) */
const newSchema = (label: string): string => {
  const s = `gh_test_${RUN}_${label}`;
  created.add(s);
  return s;
};
const urlOf = (schema: string, extra = ''): string => `${BASE}?schema=${schema}${extra}`;

const admin = new pg.Pool({ connectionString: BASE, max: 3 });
admin.on('error', () => undefined);
after(async () => {
  for (const s of created) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await admin.end();
});

const SHARED = newSchema('shared');
/** a failure test that hangs fails instead of blocking the run */
const LIMIT = { timeout: 10_000 };

const isUnavailable = (err: unknown): boolean => {
  assert.ok(err instanceof GatewayError, `a GatewayError: ${String(err)}`);
  assert.equal(err.code, 'GW_ERR_UNAVAILABLE');
  assert.equal(err.status, 503);
  return true;
};

/** a loopback port nothing listens on */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** a TCP proxy to PostgreSQL that can be stopped (the server "goes away") and started again on the same port */
class PgProxy {
  port = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(PG_PORT, PG_HOST);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

storeContract('openStore(postgres://…) on a shared random schema', () => openStore(urlOf(SHARED)));

describe('PostgresStore', () => {
  it('openStore answers postgres:// and postgresql:// with an opened, migrated PostgresStore; ids are COLLATE "C"', async () => {
    for (const scheme of ['postgres', 'postgresql']) {
      const store = await openStore(`${scheme}://postgres@${PG_HOST}:${PG_PORT}/test?schema=${SHARED}`);
      try {
        assert.ok(store instanceof PostgresStore);
        assert.equal(store.kind, 'postgres');
        assert.equal(store.schema, SHARED);
        assert.equal(await store.schemaVersion(), POSTGRES_MIGRATIONS.at(-1)!.version);
        assert.equal(await store.migrate(), 0, 'nothing left to apply');
        assert.equal(await store.ping(), true);
      } finally {
        await store.close();
      }
    }
    const cols = await admin.query<{ column_name: string; collation_name: string | null; data_type: string }>(
      `SELECT column_name, collation_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
      [SHARED, RECORDS_TABLE],
    );
    assert.deepEqual(
      cols.rows.map((r) => [r.column_name, r.data_type, r.collation_name]),
      [
        ['collection', 'text', 'C'],
        ['id', 'text', 'C'],
        ['value', 'text', null],
        ['version', 'integer', null],
        ['updated_at', 'bigint', null],
      ],
    );
  });

  it('URL parsing: schema defaults to public and is taken out of the URL; other options (application_name) reach the server', async () => {
    // public itself is not opened here: the database is shared with other tests
    const p = parsePostgresUrl(`postgres://u:${'pw'}@db.example:6543/gh?sslmode=disable&application_name=x`);
    assert.equal(p.schema, 'public');
    assert.equal(p.where, 'db.example:6543/gh');
    const q = parsePostgresUrl(`postgresql://u:pw@db.example/gh?schema=Tenant_1&sslmode=disable`);
    assert.equal(q.schema, 'Tenant_1');
    assert.equal(q.where, 'db.example:5432/gh');
    assert.ok(!q.connectionString.includes('schema'), 'pg does not see our parameter');
    assert.match(q.connectionString, /sslmode=disable/);
    const app = `gh-app-${RUN}`;
    const store = await openStore(urlOf(SHARED, `&application_name=${app}`));
    try {
      const seen = await admin.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1`, [app]);
      assert.ok((seen.rowCount ?? 0) >= 1, 'the pool connected with the URL application_name');
    } finally {
      await store.close();
    }
    // a mixed-case schema is created and used as written (quoted identifier)
    const mixed = newSchema('Mixed');
    const m = await openStore(urlOf(mixed));
    try {
      await m.put('c', 'a', 1);
      const rows = await admin.query(`SELECT id FROM "${mixed}".${RECORDS_TABLE}`);
      assert.equal(rows.rowCount, 1);
    } finally {
      await m.close();
    }
  });

  describe('two replicas (two pools) on one schema', () => {
    let a: Store;
    let b: Store;
    before(async () => {
      [a, b] = await Promise.all([openStore(urlOf(SHARED, '&application_name=gh-replica-a')), openStore(urlOf(SHARED, '&application_name=gh-replica-b'))]);
    });
    after(async () => {
      await a?.close();
      await b?.close();
    });
    const col = (): string => `replicas-${randomBytes(6).toString('hex')}`;

    it('50 concurrent compareAndPut with the same expected version from both: exactly one wins each round', async () => {
      const c = col();
      // round 0 = create (expected 0)
      const creates = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).compareAndPut(c, 'k', { round: 0, by: i }, 0)));
      assert.equal(creates.filter(Boolean).length, 1);
      for (let round = 1; round <= 6; round++) {
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).compareAndPut(c, 'k', { round, by: i }, round)));
        assert.equal(results.filter(Boolean).length, 1, `round ${round}`);
        const fromA = await a.get<{ round: number; by: number }>(c, 'k');
        const fromB = await b.get<{ round: number; by: number }>(c, 'k');
        assert.deepEqual(fromA, fromB);
        assert.equal(fromA?.version, round + 1);
        assert.deepEqual(fromA?.value, { round, by: results.indexOf(true) });
      }
    });

    it('concurrent puts from both get strictly increasing, distinct versions', async () => {
      const c = col();
      const writes = Array.from({ length: 60 }, (_, i) => ({ store: i % 2 ? a : b, i }));
      const versions = await Promise.all(writes.map(({ store, i }) => store.put(c, 'hot', i)));
      assert.deepEqual([...versions].sort((x, y) => x - y), Array.from({ length: 60 }, (_, i) => i + 1));
      const last = await b.get<number>(c, 'hot');
      assert.equal(last?.version, 60);
      assert.equal(last?.value, writes[versions.indexOf(60)]!.i, 'the value is the one written with the highest version');
      // read-modify-write loops on both replicas lose nothing
      await a.put(c, 'counter', 0);
      const worker = async (store: Store): Promise<void> => {
        for (;;) {
          const rec = await store.get<number>(c, 'counter');
          assert.ok(rec);
          if (await store.compareAndPut(c, 'counter', rec.value + 1, rec.version)) return;
        }
      };
      await Promise.all(Array.from({ length: 20 }, (_, i) => worker(i % 2 ? a : b)));
      assert.deepEqual((await a.get(c, 'counter'))?.value, 20);
    });

    it('values written by one replica round-trip exactly on the other (unicode, nested, 1 MB)', async () => {
      const c = col();
      const nested = { a: { b: { c: { d: [1, { e: [null, true, -0.5, 'x'] }] } } }, empty: { arr: [], obj: {} } };
      const unicode = { s: 'é e\u0301 日本語 😀👩‍💻 مرحبا \u2028\u2029 "q" \\ \n\t', nul: 'a\u0000b', lone: '\ud800x' };
      const big = { blob: 'ü'.repeat(512 * 1024), items: Array.from({ length: 2000 }, (_, i) => ({ i, s: `☃-${i}` })) };
      assert.ok(Buffer.byteLength(JSON.stringify(big)) > 1_000_000, "over 1 MB");
      for (const [id, v] of Object.entries({ nested, unicode, big })) await a.put(c, id, v);
      assert.deepEqual((await b.get(c, 'nested'))?.value, nested);
      assert.deepEqual((await b.get(c, 'unicode'))?.value, unicode);
      assert.deepEqual((await b.get(c, 'big'))?.value, big);
      const listed = await b.list(c);
      assert.deepEqual(listed.map((r) => r.id), ['big', 'nested', 'unicode']);
      assert.deepEqual(listed[0]?.value, big);
    });

    it('ids with %, _, \\, quotes and unicode list by literal prefix (no LIKE), in code point order; "" lists all', async () => {
      const c = col();
      const ids = ['a%', 'a%b', 'ab', 'aXb', 'a_b', 'a_', 'a\\b', 'a\\\\b', "a'b", 'a"b', "a''", 'aé', 'a😀', 'a\uffff', 'b', 'A', '%', '_', '\\'];
      await Promise.all(ids.map((id, i) => (i % 2 ? a : b).put(c, id, id)));
      const byCodePoint = (x: string, y: string): number => {
        const p = Array.from(x, (ch) => ch.codePointAt(0)!);
        const q = Array.from(y, (ch) => ch.codePointAt(0)!);
        for (let i = 0; i < Math.min(p.length, q.length); i++) if (p[i] !== q[i]) return p[i]! - q[i]!;
        return p.length - q.length;
      };
      const expect = (prefix: string): string[] => ids.filter((id) => id.startsWith(prefix)).sort(byCodePoint);
      for (const prefix of ['a%', 'a_', 'a\\', 'a\\\\', "a'", 'a"', "a''", 'aé', 'a😀', 'a\uffff', '%', '_', '\\', 'a', 'A', 'nope']) {
        assert.deepEqual((await a.list(c, prefix)).map((r) => r.id), expect(prefix), `prefix ${JSON.stringify(prefix)}`);
      }
      assert.deepEqual((await b.list(c, '')).map((r) => r.id), [...ids].sort(byCodePoint));
      assert.deepEqual((await b.list(c)).map((r) => r.id), [...ids].sort(byCodePoint));
      // a prefix of U+10FFFF characters has no upper bound: the open-ended range still works
      await a.put(c, '\u{10ffff}\u{10ffff}z', 1);
      assert.deepEqual((await a.list(c, '\u{10ffff}')).map((r) => r.id), ['\u{10ffff}\u{10ffff}z']);
    });

    it('an id or collection with U+0000 (not storable in PostgreSQL text) is refused on write and absent on read', async () => {
      const c = col();
      await assert.rejects(a.put(c, 'a\u0000b', 1), (err: unknown) => err instanceof GatewayError && err.code === 'GW_ERR_BAD_REQUEST');
      await assert.rejects(a.compareAndPut(`${c}\u0000`, 'x', 1, 0), (err: unknown) => err instanceof GatewayError && err.code === 'GW_ERR_BAD_REQUEST');
      assert.equal(await a.get(c, 'a\u0000b'), undefined);
      assert.equal(await a.delete(c, 'a\u0000b'), false);
      await a.put(c, 'a', 1);
      assert.deepEqual(await a.list(c, 'a\u0000'), []);
      assert.equal(await a.compareAndPut(c, 'a', 2, 2 ** 31), false, 'an out-of-range expected version is simply not current');
      assert.equal(await a.compareAndPut(c, 'a', 2, -1), false);
    });
  });

  it('4 replicas opening a NEW schema at once apply each migration exactly once', async () => {
    const schema = newSchema('race');
    const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresStore(urlOf(schema))));
    try {
      const rows = await admin.query<{ version: number; n: string }>(`SELECT version, count(*) AS n FROM "${schema}".${MIGRATIONS_TABLE} GROUP BY version ORDER BY version`);
      assert.deepEqual(
        rows.rows.map((r) => [r.version, Number(r.n)]),
        POSTGRES_MIGRATIONS.map((m) => [m.version, 1]),
      );
      for (const s of stores) assert.equal(await s.schemaVersion(), POSTGRES_MIGRATIONS.at(-1)!.version);
      // all four work on the same table
      await Promise.all(stores.map((s, i) => s.put('c', `k${i}`, i)));
      assert.equal((await stores[0]!.list('c')).length, 4);
      assert.equal(await stores[3]!.migrate(), 0);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  describe('failures', () => {
    const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
    const noSecret = (err: unknown): void => {
      assert.ok(err instanceof Error);
      const all = [err.message, String(err.stack), JSON.stringify((err as GatewayError).detail ?? {}), String((err as { cause?: unknown }).cause)].join('\n');
      assert.ok(!all.includes(PASSWORD), 'the password is not in the error');
      assert.doesNotMatch(all, /postgres(ql)?:\/\/[^\s]*@/, 'the URL is not in the error');
    };

    it('opening against a closed port fails fast with a clear error naming no secret', LIMIT, async () => {
      const port = await closedPort();
      const t0 = Date.now();
      await assert.rejects(openStore(`postgres://gh:${PASSWORD}@127.0.0.1:${port}/test?schema=${SHARED}`), (err: unknown) => {
        isUnavailable(err);
        noSecret(err);
        assert.match((err as Error).message, new RegExp(`PostgreSQL store at 127\\.0\\.0\\.1:${port}/test .*connection refused`));
        return true;
      });
      assert.ok(Date.now() - t0 < 5000, `failed in ${Date.now() - t0} ms`);
    });

    it('a server that accepts but never answers: open fails after the connect timeout (< 5 s), not never', LIMIT, async () => {
      const held: Socket[] = [];
      const silent = createServer((s) => held.push(s.on('error', () => undefined)));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as { port: number }).port;
      try {
        const t0 = Date.now();
        await assert.rejects(openStore(`postgresql://gh:${PASSWORD}@127.0.0.1:${port}/test`), (err: unknown) => {
          isUnavailable(err);
          noSecret(err);
          assert.match((err as Error).message, /timed out/);
          return true;
        });
        const ms = Date.now() - t0;
        assert.ok(ms >= 2000 && ms < 5000, `failed in ${ms} ms`);
      } finally {
        for (const s of held) s.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });

    it('an unknown role or database, a malformed URL or schema: clear errors without the password', LIMIT, async () => {
      await assert.rejects(openStore(`postgres://nosuchrole_${RUN}:${PASSWORD}@${PG_HOST}:${PG_PORT}/test`), (err: unknown) => {
        isUnavailable(err);
        noSecret(err);
        assert.match((err as Error).message, /authentication failed/);
        assert.ok(!(err as Error).message.includes('nosuchrole'), 'not even the user name');
        return true;
      });
      await assert.rejects(openStore(`postgres://postgres:${PASSWORD}@${PG_HOST}:${PG_PORT}/nosuchdb_${RUN}`), (err: unknown) => {
        isUnavailable(err);
        noSecret(err);
        assert.match((err as Error).message, /database does not exist/);
        return true;
      });
      for (const bad of [`postgres://u:${PASSWORD}@host:notaport/db`, `postgres://u:${PASSWORD}@h/db?schema=a;drop`, `postgres://u:${PASSWORD}@h/db?schema=x&schema=y`, `postgres://u:${PASSWORD}@h/db?schema=`]) {
        await assert.rejects(openStore(bad), (err: unknown) => {
          assert.ok(err instanceof GatewayError);
          assert.equal(err.code, 'GW_ERR_CONFIG_INVALID');
          noSecret(err);
          return true;
        });
      }
    });

    it('the server goes away (port closed): ping is false, calls fail with GW_ERR_UNAVAILABLE; it recovers when the server is back', LIMIT, async () => {
      const proxy = new PgProxy();
      await proxy.start();
      const store = await openStore(`postgres://postgres:${PASSWORD}@127.0.0.1:${proxy.port}/test?schema=${SHARED}`);
      try {
        const c = `gone-${RUN}`;
        await store.put(c, 'k', 1);
        assert.equal(await store.ping(), true);
        await proxy.stop();
        const t0 = Date.now();
        assert.equal(await store.ping(), false);
        for (const call of [() => store.get(c, 'k'), () => store.put(c, 'k', 2), () => store.compareAndPut(c, 'k', 3, 1), () => store.list(c), () => store.delete(c, 'k')]) {
          await assert.rejects(call(), (err: unknown) => {
            isUnavailable(err);
            noSecret(err);
            assert.equal((err as Error).message, 'Service Unavailable: the store is unreachable');
            return true;
          });
        }
        assert.ok(Date.now() - t0 < 5000, `answered in ${Date.now() - t0} ms`);
        await proxy.start(); // same port
        assert.equal(await store.ping(), true);
        assert.deepEqual((await store.get(c, 'k'))?.value, 1);
        assert.equal(await store.put(c, 'k', 2), 2);
      } finally {
        await store.close();
        await proxy.stop();
      }
    });

    it('terminated backend connections: the next call succeeds after reconnecting or fails with GW_ERR_UNAVAILABLE, never unhandled', LIMIT, async () => {
      const app = `gh-term-${RUN}`;
      const store = await openStore(urlOf(SHARED, `&application_name=${app}`));
      const c = `term-${RUN}`;
      try {
        // several pooled connections, all idle afterwards
        await Promise.all(Array.from({ length: 5 }, (_, i) => store.put(c, `k${i}`, i)));
        for (let round = 0; round < 3; round++) {
          const killed = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [app]);
          assert.ok((killed.rowCount ?? 0) >= 1, 'its connections were found and terminated');
          const outcomes = await Promise.allSettled([store.get(c, 'k0'), store.put(c, 'k1', round), store.list(c), store.compareAndPut(c, 'k2', round, 999)]);
          for (const o of outcomes) if (o.status === 'rejected') isUnavailable(o.reason);
          // afterwards it works again
          assert.deepEqual((await store.get(c, 'k0'))?.value, 0);
          assert.equal((await store.list(c)).length, 5);
        }
        assert.equal(await store.ping(), true);
      } finally {
        await store.close();
      }
    });

    it('a statement blocked by a lock fails after statement_timeout with GW_ERR_UNAVAILABLE instead of hanging', LIMIT, async () => {
      const store = await openPostgresStore(urlOf(SHARED), { statementTimeoutMs: 800 });
      const c = `blocked-${RUN}`;
      await store.put(c, 'row', 1);
      const locker = await admin.connect();
      try {
        await locker.query('BEGIN');
        await locker.query(`SELECT 1 FROM "${SHARED}".${RECORDS_TABLE} WHERE collection = $1 AND id = $2 FOR UPDATE`, [c, 'row']);
        const t0 = Date.now();
        await assert.rejects(store.put(c, 'row', 2), isUnavailable);
        const ms = Date.now() - t0;
        assert.ok(ms >= 600 && ms < 3000, `failed after ${ms} ms`);
        assert.deepEqual((await store.get(c, 'row'))?.value, 1, 'reads are not blocked');
      } finally {
        await locker.query('ROLLBACK');
        locker.release();
      }
      assert.equal(await store.put(c, 'row', 3), 2);
      await store.close();
    });

    it('a closed store: ping false, calls reject, close is idempotent', LIMIT, async () => {
      const store = await openStore(urlOf(SHARED));
      await store.close();
      await store.close();
      assert.equal(await store.ping(), false);
      await assert.rejects(store.get('c', 'a'), isUnavailable);
      await assert.rejects(store.list('c'), isUnavailable);
    });
  });

  it('CLI and gateway share `store: postgres://…`: a key created by `gatehouse subscriptions create` is admitted by the gateway', async () => {
    const schema = newSchema('cli');
    const backend = await startEverythingServer({ transport: 'streamable-http' });
    const dir = mkdtempSync(join(tmpdir(), 'gh-pg-cli-'));
    const cfg = join(dir, 'gatehouse.yaml');
    writeFileSync(
      cfg,
      `store: "${urlOf(schema, '&application_name=gh-cli')}"
cache: memory
servers:
  - name: weather
    type: passthrough
    backend: { url: "${backend.url}" }
products:
  - name: starter
    servers: [weather]
`,
    );
    let gateway: Awaited<ReturnType<typeof createGateway>> | undefined;
    try {
      let stdout = '';
      let stderr = '';
      const io: CliIo = { stdout: (s) => (stdout += s + '\n'), stderr: (s) => (stderr += s + '\n'), cwd: dir, env: {} };
      const code = await main(['subscriptions', 'create', '-c', cfg, '--product', 'starter', '--name', 'alice'], io);
      assert.equal(code, 0, stderr);
      const key = /primary key:\s+([0-9a-f]{64})/.exec(stdout)?.[1];
      assert.ok(key, stdout);
      // it is in PostgreSQL (and only its hash: the key itself is not stored)
      const rows = await admin.query<{ value: string }>(`SELECT value FROM "${schema}".${RECORDS_TABLE}`);
      assert.ok((rows.rowCount ?? 0) >= 1, 'the subscription is stored in PostgreSQL');
      assert.ok(rows.rows.some((r) => r.value.includes('alice')));
      assert.ok(rows.rows.every((r) => !r.value.includes(key)), 'no key in clear');

      const config = await loadConfig({ file: cfg, env: {} });
      const logger = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
      gateway = await createGateway(config, { logger });
      const { url } = await gateway.listen(0, '127.0.0.1');
      const mcp = `${url}/weather/mcp`;
      const ok = await post(mcp, INIT, { 'ocp-apim-subscription-key': key });
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await post(mcp, INIT, { 'ocp-apim-subscription-key': 'f'.repeat(64) })).status, 401);
      assert.equal((await post(mcp, INIT)).status, 401);
      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 200);
      assert.equal(((await ready.json()) as { store: string }).store, 'ok');
      // suspended through the CLI: the gateway refuses the key at once (it reads the shared store)
      assert.equal(await main(['subscriptions', 'suspend', '-c', cfg, '--name', 'alice'], io), 0, stderr);
      assert.equal((await post(mcp, INIT, { 'ocp-apim-subscription-key': key })).status, 401, 'suspended by the CLI');
      assert.equal(await main(['subscriptions', 'activate', '-c', cfg, '--name', 'alice'], io), 0, stderr);
      assert.equal((await post(mcp, INIT, { 'ocp-apim-subscription-key': key })).status, 200, 'active again');
    } finally {
      await gateway?.close();
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
