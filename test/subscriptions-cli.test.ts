/**
 * `gatehouse subscriptions ...` driven through `main([...], io)` against a config in a temp folder
 * (store: SQLite file next to it). The keys the CLI prints are checked with the service's `check()`
 * on the same SQLite file: create, list (no key nor hash), regenerate, suspend/activate/cancel,
 * expiry, bad inputs (exit 2), --json — and the store's raw bytes never hold a key in clear.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type CliIo } from '../src/cli/main.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/types.js';
import { Subscriptions, type Subscription } from '../src/subscriptions/subscriptions.js';

const CONFIG = `store: sqlite:./gh.db
servers:
  - name: weather
    type: passthrough
    backend: { url: "http://127.0.0.1:9/mcp" }
products:
  - name: starter
    servers: [weather]
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

describe('gatehouse subscriptions', () => {
  let dir: string;
  let cfg: string;
  let store: Store;
  let subs: Subscriptions;
  /** every key the CLI printed */
  const printed: string[] = [];

  const run = async (...args: string[]): Promise<Run> => {
    let stdout = '';
    let stderr = '';
    const io: CliIo = { stdout: (s) => (stdout += s.endsWith('\n') ? s : s + '\n'), stderr: (s) => (stderr += s.endsWith('\n') ? s : s + '\n'), cwd: dir, env: {} };
    const code = await main(['subscriptions', ...args], io);
    for (const m of stdout.matchAll(/\b[0-9a-f]{64}\b/g)) printed.push(m[0]);
    return { code, stdout, stderr };
  };
  const keysOf = (out: string): { primary: string; secondary: string } => {
    const primary = /primary key:\s+(\S+)/.exec(out)?.[1];
    const secondary = /secondary key:\s+(\S+)/.exec(out)?.[1];
    assert.ok(primary && secondary, out);
    return { primary, secondary };
  };
  const check = (key: string) => subs.check(key, () => true);
  const why = async (key: string): Promise<string> => {
    const r = await check(key);
    return r.ok ? `ok:${r.which}` : r.why;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-subs-'));
    cfg = join(dir, 'gatehouse.yaml');
    writeFileSync(cfg, CONFIG);
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('create prints two distinct 64-hex keys once; check() accepts both and refuses a wrong one', async () => {
    const r = await run('create', '-c', 'gatehouse.yaml', '--product', 'starter', '--name', 'alice');
    assert.equal(r.code, 0, r.stderr);
    const { primary, secondary } = keysOf(r.stdout);
    assert.match(primary, HEX64);
    assert.match(secondary, HEX64);
    assert.notEqual(primary, secondary);
    assert.match(r.stdout, /alice/);
    assert.match(r.stdout, /sub_[0-9a-f]+/);
    assert.match(r.stdout, /product:starter/);
    assert.match(r.stdout, /active/);

    store = await openStore(`sqlite:${join(dir, 'gh.db')}`);
    subs = new Subscriptions(store);
    assert.equal(await why(primary), 'ok:primary');
    assert.equal(await why(secondary), 'ok:secondary');
    assert.equal(await why('0'.repeat(64)), 'unknown');
    assert.equal(await why(primary.slice(0, 63) + (primary.endsWith('0') ? '1' : '0')), 'unknown');
    const s = (await subs.find('alice'))!;
    assert.deepEqual(s.scope, { type: 'product', name: 'starter' });

    // list: name, id, scope, state — never a key nor a hash
    const l = await run('list', '-c', cfg);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /alice/);
    assert.ok(l.stdout.includes(s.id));
    assert.match(l.stdout, /product:starter/);
    assert.match(l.stdout, /active/);
    for (const secret of [primary, secondary, s.primaryHash, s.secondaryHash]) assert.ok(!l.stdout.includes(secret), 'list leaks a key or hash');
    assert.doesNotMatch(l.stdout, /[0-9a-f]{64}/);
    const lj = await run('list', '-c', cfg, '--json');
    assert.equal(lj.code, 0, lj.stderr);
    const arr = JSON.parse(lj.stdout) as Record<string, unknown>[];
    assert.equal(arr.length, 1);
    assert.equal(arr[0]!.name, 'alice');
    assert.doesNotMatch(lj.stdout, /[0-9a-f]{64}|Hash|Key/);

    // regenerate primary: old primary refused at once, new one accepted, secondary untouched
    const g = await run('regenerate', '-c', cfg, '--name', 'alice', '--key', 'primary');
    assert.equal(g.code, 0, g.stderr);
    const newPrimary = /primary key:\s+([0-9a-f]{64})/.exec(g.stdout)?.[1];
    assert.ok(newPrimary, g.stdout);
    assert.doesNotMatch(g.stdout, /secondary key:/);
    assert.notEqual(newPrimary, primary);
    assert.equal(await why(primary), 'unknown');
    assert.equal(await why(newPrimary), 'ok:primary');
    assert.equal(await why(secondary), 'ok:secondary');

    // suspend → activate → cancel; a cancelled subscription cannot be activated
    const su = await run('suspend', '-c', cfg, '--name', 'alice');
    assert.equal(su.code, 0, su.stderr);
    assert.match(su.stdout, /suspended/);
    assert.equal(await why(newPrimary), 'suspended');
    const ac = await run('activate', '-c', cfg, '--name', 'alice');
    assert.equal(ac.code, 0, ac.stderr);
    assert.match(ac.stdout, /active/);
    assert.equal(await why(secondary), 'ok:secondary');
    const ca = await run('cancel', '-c', cfg, '--name', 'alice');
    assert.equal(ca.code, 0, ca.stderr);
    assert.match(ca.stdout, /cancelled/);
    assert.equal(await why(newPrimary), 'cancelled');
    const again = await run('activate', '-c', cfg, '--name', 'alice');
    assert.equal(again.code, 2);
    assert.match(again.stderr, /cancelled/);
    assert.equal(await why(newPrimary), 'cancelled');
  });

  it('--expires in the past: the keys are refused as expired, and list says so; --json parses', async () => {
    const r = await run('create', '-c', cfg, '--server', 'weather', '--name', 'old', '--starts', '1999-01-01', '--expires', '2000-01-01T00:00:00Z', '--user', 'u-1', '--json');
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { id: string; name: string; scope: unknown; state: string; startDate: string; endDate: string; primaryKey: string; secondaryKey: string };
    assert.equal(j.name, 'old');
    assert.match(j.id, /^sub_/);
    assert.deepEqual(j.scope, { type: 'server', name: 'weather' });
    assert.equal(j.state, 'active');
    assert.equal(j.startDate, '1999-01-01T00:00:00.000Z');
    assert.equal(j.endDate, '2000-01-01T00:00:00.000Z');
    assert.match(j.primaryKey, HEX64);
    assert.match(j.secondaryKey, HEX64);
    assert.notEqual(j.primaryKey, j.secondaryKey);
    assert.equal(await why(j.primaryKey), 'expired');
    assert.equal(await why(j.secondaryKey), 'expired');
    assert.equal(((await subs.find('old')) as Subscription).userId, 'u-1');
    const l = await run('list', '-c', cfg);
    const line = l.stdout.split('\n').find((x) => x.startsWith('old'));
    assert.ok(line, l.stdout);
    assert.match(line, /expired/);

    const all = await run('create', '-c', cfg, '--all', '--name', 'everything', '--json');
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual((JSON.parse(all.stdout) as { scope: unknown }).scope, { type: 'all' });
  });

  it('invalid input exits 2: unknown product/server/name, duplicate name, missing -c, unknown option, bad date', async () => {
    const unknownProduct = await run('create', '-c', cfg, '--product', 'gold', '--name', 'x');
    assert.equal(unknownProduct.code, 2);
    assert.match(unknownProduct.stderr, /gold/);
    assert.match(unknownProduct.stderr, /starter/);
    const unknownServer = await run('create', '-c', cfg, '--server', 'nope', '--name', 'x');
    assert.equal(unknownServer.code, 2);
    assert.match(unknownServer.stderr, /weather/);
    assert.equal((await run('create', '-c', cfg, '--name', 'x')).code, 2, 'no scope');
    assert.equal((await run('create', '-c', cfg, '--name', 'x', '--all', '--product', 'starter')).code, 2, 'two scopes');
    const dup = await run('create', '-c', cfg, '--product', 'starter', '--name', 'alice');
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /exists/);
    const noC = await run('list');
    assert.equal(noC.code, 2);
    assert.match(noC.stderr, /usage/);
    const unknownOpt = await run('list', '-c', cfg, '--frobnicate');
    assert.equal(unknownOpt.code, 2);
    assert.match(unknownOpt.stderr, /usage/);
    assert.equal((await run('suspend', '-c', cfg, '--name', 'ghost')).code, 2);
    assert.equal((await run('regenerate', '-c', cfg, '--name', 'alice', '--key', 'tertiary')).code, 2);
    assert.equal((await run('create', '-c', cfg, '--all', '--name', 'x', '--expires', 'someday')).code, 2);
    assert.equal((await run('frobnicate', '-c', cfg)).code, 2);
    assert.equal((await run()).code, 2);
    assert.equal((await subs.find('x')), undefined);

    // config problems: FILE:LINE:COL, exit 2
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `${CONFIG}bogus: 1\n`);
    const b = await run('list', '-c', 'bad.yaml');
    assert.equal(b.code, 2);
    assert.match(b.stderr, /bad\.yaml:\d+:\d+: /);
  });

  it('a store that cannot be opened exits 1', async () => {
    const sub = join(dir, 'nodir');
    writeFileSync(sub, 'a file, not a folder');
    const f = join(dir, 'broken.yaml');
    writeFileSync(f, CONFIG.replace('sqlite:./gh.db', 'sqlite:./nodir/gh.db'));
    const r = await run('list', '-c', f);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /store/);
  });

  it('the store never holds a key in clear (SQLite file and WAL, hex and base64)', async () => {
    const r = await run('regenerate', '-c', cfg, '--name', 'old');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(keysOf(r.stdout).primary.length, 64);
    const keys = [...new Set(printed)];
    assert.ok(keys.length >= 9, `only ${keys.length} keys printed`);
    const snapshot = (): Buffer[] => ['gh.db', 'gh.db-wal', 'gh.db-journal'].map((f) => join(dir, f)).filter((f) => existsSync(f)).map((f) => readFileSync(f));
    const before = snapshot(); // with the WAL our open connection keeps
    await store.close(); // the last connection: checkpoints the WAL into the file
    const blob = Buffer.concat([...before, ...snapshot()]);
    store = await openStore(`sqlite:${join(dir, 'gh.db')}`);
    subs = new Subscriptions(store);
    assert.ok(blob.length > 0);
    for (const key of keys) {
      const raw = Buffer.from(key, 'hex');
      const forms: Buffer[] = [
        Buffer.from(key),
        Buffer.from(key.toUpperCase()),
        raw,
        Buffer.from(raw.toString('base64')),
        Buffer.from(raw.toString('base64url')),
        Buffer.from(Buffer.from(key).toString('base64')),
        Buffer.from(key, 'utf16le'),
      ];
      for (const form of forms) assert.equal(blob.indexOf(form), -1, `a key is stored in clear (${form.length} bytes form)`);
    }
    // sanity: the records themselves are in the file (the hashes are)
    const s = (await subs.find('alice'))!;
    assert.notEqual(blob.indexOf(Buffer.from(s.secondaryHash)), -1);
  });
});
