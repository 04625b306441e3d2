/**
 * Secrets at rest (src/secrets/secret-box.ts) and `gatehouse keys generate|rotate`: key format,
 * AES-256-GCM seal/open bound to an AAD, tampering, wrong AAD, wrong key (named by key id), previous
 * keys and rotation over a real SQLite store (nested sealed fields; the raw db and WAL never hold a
 * plaintext), the quickstart key file (0600, reused), and the CLI end to end.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { main, type CliIo } from '../src/cli/main.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/types.js';
import {
  PREVIOUS_KEY_ENV,
  SEALED_COLLECTIONS,
  SECRET_KEY_ENV,
  SecretBox,
  SecretKeyError,
  aadOf,
  generateKey,
  isSealed,
  keyIdOf,
  parseKey,
  pathOf,
  rotateSecrets,
  secretBoxFromEnv,
} from '../src/secrets/secret-box.js';

const boxOf = (current: string, ...previous: string[]) => new SecretBox({ current: parseKey(current), previous: previous.map(parseKey) });

/** asserts `fn` throws a SecretKeyError with `code`, returns it */
function throwsCode(fn: () => unknown, code: string): SecretKeyError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SecretKeyError, String(err));
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe('secret keys', () => {
  it('generateKey: ghk1_ + 43 base64url chars, 32 random bytes, distinct each time', () => {
    const a = generateKey();
    const b = generateKey();
    assert.match(a, /^ghk1_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, b);
    assert.equal(parseKey(a).length, 32);
    assert.deepEqual(parseKey(a), Buffer.from(a.slice(5), 'base64url'));
  });

  it('parseKey accepts plain base64 / base64url of 32 bytes and surrounding whitespace', () => {
    const raw = Buffer.alloc(32, 0xfb);
    assert.deepEqual(parseKey(raw.toString('base64')), raw);
    assert.deepEqual(parseKey(raw.toString('base64url')), raw);
    assert.deepEqual(parseKey(`  ghk1_${raw.toString('base64url')}\n`), raw);
  });

  it('parseKey refuses anything else, saying what is expected and never echoing the value', () => {
    const bad = [
      'hunter2-secret-password',
      'ghk1_' + Buffer.alloc(31, 7).toString('base64url'),
      Buffer.alloc(16, 1).toString('base64'),
      Buffer.alloc(33, 1).toString('base64'),
      'ghk1_' + 'A'.repeat(42) + '!',
      'ab'.repeat(32), // hex
      '',
    ];
    for (const text of bad) {
      const err = throwsCode(() => parseKey(text), 'GW_SECRET_KEY_INVALID');
      assert.match(err.message, /gatehouse keys generate/);
      assert.match(err.message, /32 bytes/);
      if (text.length > 0) assert.ok(!err.message.includes(text), err.message);
    }
  });

  it('keyId is 8 hex digits of SHA-256 and the box never shows key material', () => {
    const k = generateKey();
    const box = boxOf(k);
    assert.match(box.keyId, /^[0-9a-f]{8}$/);
    assert.equal(box.keyId, keyIdOf(parseKey(k)));
    const shown = inspect(box) + JSON.stringify(box) + String(box);
    assert.ok(!shown.includes(k.slice(5)), shown);
    assert.ok(!shown.includes(parseKey(k).toString('base64')), shown);
    assert.ok(!shown.includes(parseKey(k).toString('hex')), shown);
  });
});

describe('SecretBox', () => {
  const k1 = generateKey();
  const k2 = generateKey();
  const aad = aadOf('credential-connection', 'c1', pathOf('tokens', 'access'));

  it('aadOf / pathOf follow the documented convention', () => {
    assert.equal(aad, 'credential-connection/c1/tokens.access');
    assert.equal(pathOf('a', 0, 'b'), 'a.0.b');
    assert.equal(aadOf('x', 'y', ''), 'x/y/');
  });

  it('seal/open round trip; v1.<keyId>.<iv>.<ct> with a random IV', () => {
    const box = boxOf(k1);
    for (const plain of ['s3cr3t-token', '', 'ünïcødé ✓ '.repeat(50)]) {
      const sealed = box.seal(plain, aad);
      const parts = sealed.split('.');
      assert.equal(parts.length, 4);
      assert.equal(parts[0], 'v1');
      assert.equal(parts[1], box.keyId);
      assert.equal(Buffer.from(parts[2]!, 'base64url').length, 12);
      assert.ok(isSealed(sealed));
      assert.ok(!sealed.includes(plain) || plain === '');
      assert.equal(box.open(sealed, aad), plain);
    }
    assert.notEqual(box.seal('x', aad), box.seal('x', aad));
    assert.ok(!isSealed('v1.2.3.4'));
    assert.ok(!isSealed('plain'));
  });

  it('a flipped byte anywhere → GW_SECRET_CORRUPT (no plaintext in the message)', () => {
    const box = boxOf(k1);
    const sealed = box.seal('tamper-me-plaintext', aad);
    const [v, id, iv, body] = sealed.split('.') as [string, string, string, string];
    const flip = (text: string, at: number): string => {
      const b = Buffer.from(text, 'base64url');
      b[at] = b[at]! ^ 0x01;
      return b.toString('base64url');
    };
    const body0 = Buffer.from(body, 'base64url');
    for (const t of [
      [v, id, flip(iv, 0), body],
      [v, id, iv, flip(body, 0)],
      [v, id, iv, flip(body, body0.length - 1)], // the tag
      [v, id, iv, Buffer.from(body, 'base64url').subarray(0, body0.length - 1).toString('base64url')],
    ]) {
      const err = throwsCode(() => box.open(t.join('.'), aad), 'GW_SECRET_CORRUPT');
      assert.ok(!err.message.includes('tamper-me'), err.message);
    }
    throwsCode(() => box.open('not sealed at all', aad), 'GW_SECRET_CORRUPT');
  });

  it('a value sealed for another record or field does not open there', () => {
    const box = boxOf(k1);
    const sealed = box.seal('moved-secret', aad);
    throwsCode(() => box.open(sealed, aadOf('credential-connection', 'c2', 'tokens.access')), 'GW_SECRET_CORRUPT');
    throwsCode(() => box.open(sealed, aadOf('credential-connection', 'c1', 'tokens.refresh')), 'GW_SECRET_CORRUPT');
  });

  it('a wrong key → GW_SECRET_KEY_MISMATCH naming both key ids, nothing secret', () => {
    const sealed = boxOf(k1).seal('mismatch-plaintext', aad);
    const other = boxOf(k2);
    const err = throwsCode(() => other.open(sealed, aad), 'GW_SECRET_KEY_MISMATCH');
    const id1 = keyIdOf(parseKey(k1));
    assert.equal(
      err.message,
      `cannot decrypt a stored secret: it was sealed with key ${id1}, which is neither ${SECRET_KEY_ENV} (${other.keyId}) nor ${PREVIOUS_KEY_ENV} (not set)`,
    );
    for (const s of ['mismatch-plaintext', k1.slice(5), k2.slice(5)]) assert.ok(!err.message.includes(s));
  });

  it('a previous key still opens; needsRotation says so; sealing uses the current key', () => {
    const old = boxOf(k1);
    const sealedOld = old.seal('old-secret', aad);
    const box = boxOf(k2, k1);
    assert.deepEqual(box.previousKeyIds, [old.keyId]);
    assert.equal(box.open(sealedOld, aad), 'old-secret');
    assert.equal(box.needsRotation(sealedOld), true);
    const sealedNew = box.seal('new-secret', aad);
    assert.equal(box.needsRotation(sealedNew), false);
    assert.equal(sealedNew.split('.')[1], box.keyId);
    assert.equal(box.needsRotation('garbage'), false);
  });
});

describe('secretBoxFromEnv', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-secrets-env-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('GATEHOUSE_SECRET_KEY (+ comma-separated PREVIOUS)', async () => {
    const [a, b, c] = [generateKey(), generateKey(), generateKey()];
    const r = await secretBoxFromEnv({ [SECRET_KEY_ENV]: a, [PREVIOUS_KEY_ENV]: ` ${b} , ${c},` }, { quickstartKeyFile: join(dir, 'unused', 'key') });
    assert.ok(r);
    assert.equal(r.generated, false);
    assert.equal(r.box.keyId, keyIdOf(parseKey(a)));
    assert.deepEqual(r.box.previousKeyIds, [keyIdOf(parseKey(b)), keyIdOf(parseKey(c))]);
    assert.ok(!existsSync(join(dir, 'unused')));
  });

  it('missing key without a quickstart file → undefined; invalid → error naming the variable, not the value', async () => {
    assert.equal(await secretBoxFromEnv({}, {}), undefined);
    assert.equal(await secretBoxFromEnv({ [SECRET_KEY_ENV]: '  ' }), undefined);
    await assert.rejects(secretBoxFromEnv({ [SECRET_KEY_ENV]: 'my-password-123' }), (err: Error) => {
      assert.ok(err instanceof SecretKeyError);
      assert.match(err.message, /^GATEHOUSE_SECRET_KEY is not a valid key/);
      assert.ok(!err.message.includes('my-password-123'));
      return true;
    });
    await assert.rejects(secretBoxFromEnv({ [SECRET_KEY_ENV]: generateKey(), [PREVIOUS_KEY_ENV]: `${generateKey()},nope-secret` }), (err: Error) => {
      assert.match(err.message, /GATEHOUSE_SECRET_KEY_PREVIOUS \(entry 2\)/);
      assert.ok(!err.message.includes('nope-secret'));
      return true;
    });
  });

  it('quickstart: creates the key file (0600, folders 0700) once, then reuses it', async () => {
    const file = join(dir, 'qs', '.gatehouse', 'secret.key');
    const first = await secretBoxFromEnv({}, { quickstartKeyFile: file });
    assert.ok(first);
    assert.equal(first.generated, true);
    if (process.platform !== 'win32') {
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, 'qs', '.gatehouse')).mode & 0o777, 0o700);
    }
    const text = readFileSync(file, 'utf8').trim();
    assert.match(text, /^ghk1_/);
    assert.equal(first.box.keyId, keyIdOf(parseKey(text)));
    const sealed = first.box.seal('qs-secret', 'a/b/c');
    const second = await secretBoxFromEnv({}, { quickstartKeyFile: file });
    assert.ok(second);
    assert.equal(second.generated, false);
    assert.equal(second.box.keyId, first.box.keyId);
    assert.equal(second.box.open(sealed, 'a/b/c'), 'qs-secret');
    // an env key wins over the file
    const k = generateKey();
    const third = await secretBoxFromEnv({ [SECRET_KEY_ENV]: k }, { quickstartKeyFile: file });
    assert.equal(third?.box.keyId, keyIdOf(parseKey(k)));
    // a corrupt file is refused, naming the file
    const badFile = join(dir, 'bad.key');
    writeFileSync(badFile, 'garbage-content\n');
    await assert.rejects(secretBoxFromEnv({}, { quickstartKeyFile: badFile }), (err: Error) => err.message.includes(badFile) && !err.message.includes('garbage-content'));
  });
});

/** every plaintext the rotation tests store (sealed): none may appear in the raw db */
const PLAIN = {
  access: 'PLAIN-access-token-7f3a',
  refresh: 'PLAIN-refresh-token-91bc',
  clientSecret: 'PLAIN-client-secret-d00d',
  listed: 'PLAIN-listed-entry-4242',
  state: 'PLAIN-state-verifier-abab',
};

/** seeds sealed records in SEALED_COLLECTIONS with `box`: nested objects, arrays and a whole-value secret */
async function seed(store: Store, box: SecretBox): Promise<void> {
  const c = 'credential-connection';
  await store.put(c, 'conn-1', {
    provider: 'github',
    user: 'alice',
    tokens: { access: box.seal(PLAIN.access, aadOf(c, 'conn-1', 'tokens.access')), refresh: box.seal(PLAIN.refresh, aadOf(c, 'conn-1', 'tokens.refresh')), expiresAt: 123 },
    history: [{ token: box.seal(PLAIN.listed, aadOf(c, 'conn-1', pathOf('history', 0, 'token'))) }, { note: 'v1.2.3.4' }],
  });
  await store.put('credential-provider', 'github', { clientId: 'public-id', clientSecret: box.seal(PLAIN.clientSecret, aadOf('credential-provider', 'github', 'clientSecret')) });
  await store.put('credential-state', 's1', box.seal(PLAIN.state, aadOf('credential-state', 's1', '')));
  await store.put('credential-state', 's2', { nothing: 'sealed', n: null });
  await store.put('unrelated', 'x', { other: box.seal('not-rotated', aadOf('unrelated', 'x', 'other')) });
}

async function openAll(store: Store, box: SecretBox): Promise<Record<string, string>> {
  const c1 = (await store.get<{ tokens: { access: string; refresh: string }; history: [{ token: string }, { note: string }] }>('credential-connection', 'conn-1'))!.value;
  const p = (await store.get<{ clientSecret: string }>('credential-provider', 'github'))!.value;
  const s = (await store.get<string>('credential-state', 's1'))!.value;
  assert.equal(c1.history[1].note, 'v1.2.3.4');
  return {
    access: box.open(c1.tokens.access, 'credential-connection/conn-1/tokens.access'),
    refresh: box.open(c1.tokens.refresh, 'credential-connection/conn-1/tokens.refresh'),
    listed: box.open(c1.history[0].token, 'credential-connection/conn-1/history.0.token'),
    clientSecret: box.open(p.clientSecret, 'credential-provider/github/clientSecret'),
    state: box.open(s, 'credential-state/s1/'),
  };
}

function assertNoPlaintext(dbFile: string): void {
  for (const f of [dbFile, `${dbFile}-wal`]) {
    if (!existsSync(f)) continue;
    const raw = readFileSync(f).toString('latin1');
    for (const p of Object.values(PLAIN)) assert.ok(!raw.includes(p), `${f} holds a plaintext`);
  }
}

describe('rotateSecrets', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-secrets-rot-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('re-seals nested values with the new key over SQLite; then only the new key is needed', async () => {
    const dbFile = join(dir, 'rot.db');
    const store = await openStore('sqlite:' + dbFile);
    try {
      const oldKey = generateKey();
      const newKey = generateKey();
      await seed(store, boxOf(oldKey));
      assertNoPlaintext(dbFile);

      const box = boxOf(newKey, oldKey);
      const r = await rotateSecrets(store, box, SEALED_COLLECTIONS);
      assert.deepEqual(r, { records: 4, resealed: 5 });
      assert.deepEqual(await openAll(store, boxOf(newKey)), PLAIN);
      const rotated = (await store.get<{ tokens: { access: string } }>('credential-connection', 'conn-1'))!.value.tokens.access;
      throwsCode(() => boxOf(oldKey).open(rotated, 'credential-connection/conn-1/tokens.access'), 'GW_SECRET_KEY_MISMATCH');
      // untouched collection keeps the old key
      const u = (await store.get<{ other: string }>('unrelated', 'x'))!.value;
      assert.equal(boxOf(oldKey).open(u.other, 'unrelated/x/other'), 'not-rotated');
      // idempotent
      const v = (await store.get('credential-connection', 'conn-1'))!.version;
      assert.deepEqual(await rotateSecrets(store, box, SEALED_COLLECTIONS), { records: 4, resealed: 0 });
      assert.equal((await store.get('credential-connection', 'conn-1'))!.version, v);
      assertNoPlaintext(dbFile);
    } finally {
      await store.close();
    }
    assertNoPlaintext(dbFile);
  });

  it('retries on a concurrent write (compareAndPut conflict) without losing it', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      const [oldKey, newKey] = [generateKey(), generateKey()];
      const old = boxOf(oldKey);
      await store.put('credential-provider', 'p', { secret: old.seal('p-secret', 'credential-provider/p/secret'), label: 'one' });
      let raced = false;
      const racy: Store = {
        kind: store.kind,
        get: (c, id) => store.get(c, id),
        put: (c, id, v) => store.put(c, id, v),
        delete: (c, id) => store.delete(c, id),
        list: (c, prefix) => store.list(c, prefix),
        ping: () => store.ping(),
        close: () => store.close(),
        compareAndPut: async (c, id, v, ver) => {
          if (!raced) {
            raced = true; // another writer gets in between the read and the write
            const cur = (await store.get<Record<string, unknown>>(c, id))!;
            await store.put(c, id, { ...cur.value, label: 'two' });
          }
          return store.compareAndPut(c, id, v, ver);
        },
      };
      assert.deepEqual(await rotateSecrets(racy, boxOf(newKey, oldKey), ['credential-provider']), { records: 1, resealed: 1 });
      const rec = (await store.get<{ secret: string; label: string }>('credential-provider', 'p'))!;
      assert.equal(rec.value.label, 'two');
      assert.equal(boxOf(newKey).open(rec.value.secret, 'credential-provider/p/secret'), 'p-secret');
    } finally {
      await store.close();
    }
  });

  it('a value sealed with an unknown key → GW_SECRET_KEY_MISMATCH naming the record, not the value', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      const stranger = boxOf(generateKey());
      await store.put('credential-connection', 'odd', { a: { b: stranger.seal('stranger-plain', 'credential-connection/odd/a.b') } });
      await assert.rejects(rotateSecrets(store, boxOf(generateKey(), generateKey()), SEALED_COLLECTIONS), (err: Error) => {
        assert.ok(err instanceof SecretKeyError);
        assert.equal(err.code, 'GW_SECRET_KEY_MISMATCH');
        assert.equal(err.record, 'credential-connection/odd');
        assert.match(err.message, /^credential-connection\/odd \(field a\.b\): cannot decrypt a stored secret: it was sealed with key [0-9a-f]{8}/);
        assert.ok(!err.message.includes('stranger-plain'));
        return true;
      });
    } finally {
      await store.close();
    }
  });
});

describe('gatehouse keys', () => {
  let dir: string;
  let cfg: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-keys-cli-'));
    cfg = join(dir, 'gatehouse.yaml');
    writeFileSync(
      cfg,
      `store: sqlite:./gh.db
servers:
  - name: weather
    type: passthrough
    backend: { url: "http://127.0.0.1:9/mcp" }
`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    let stdout = '';
    let stderr = '';
    const io: CliIo = { stdout: (s) => (stdout += s.endsWith('\n') ? s : s + '\n'), stderr: (s) => (stderr += s.endsWith('\n') ? s : s + '\n'), cwd: dir, env };
    const code = await main(args, io);
    return { code, stdout, stderr };
  };

  it('generate prints one key line on stdout, hints on stderr', async () => {
    const r = await run(['keys', 'generate']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1);
    assert.equal(parseKey(lines[0]!).length, 32);
    assert.match(r.stderr, /export GATEHOUSE_SECRET_KEY=/);
    assert.match(r.stderr, /GATEHOUSE_SECRET_KEY_PREVIOUS/);
    assert.ok(!r.stderr.includes(lines[0]!));
    assert.equal((await run(['keys', 'generate', '--bogus'])).code, 2);
    assert.equal((await run(['keys', 'frobnicate'])).code, 2);
    assert.equal((await run(['keys'])).code, 2);
    assert.match((await run(['--help'])).stdout, /gatehouse keys generate/);
  });

  it('rotate -c re-seals the store with GATEHOUSE_SECRET_KEY end to end', async () => {
    const oldKey = (await run(['keys', 'generate'])).stdout.trim();
    const newKey = (await run(['keys', 'generate'])).stdout.trim();
    const dbFile = join(dir, 'gh.db');
    let store = await openStore('sqlite:' + dbFile);
    await seed(store, boxOf(oldKey));
    await store.close();

    // missing key → 2; invalid key → 2 without echo; missing -c → 2
    let r = await run(['keys', 'rotate', '-c', 'gatehouse.yaml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /GATEHOUSE_SECRET_KEY is not set/);
    r = await run(['keys', 'rotate', '-c', 'gatehouse.yaml'], { [SECRET_KEY_ENV]: 'swordfish-12345' });
    assert.equal(r.code, 2);
    assert.ok(!r.stderr.includes('swordfish'));
    assert.equal((await run(['keys', 'rotate'], { [SECRET_KEY_ENV]: newKey })).code, 2);

    // without the old key: exit 1 naming a record, never a value nor a key
    r = await run(['keys', 'rotate', '-c', 'gatehouse.yaml'], { [SECRET_KEY_ENV]: newKey });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /credential-(connection|provider|state)\/\S+/);
    assert.match(r.stderr, new RegExp(`sealed with key ${keyIdOf(parseKey(oldKey))}`));
    for (const s of [...Object.values(PLAIN), oldKey.slice(5), newKey.slice(5)]) assert.ok(!(r.stdout + r.stderr).includes(s));

    r = await run(['keys', 'rotate', '-c', 'gatehouse.yaml'], { [SECRET_KEY_ENV]: newKey, [PREVIOUS_KEY_ENV]: oldKey });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /re-sealed 5 secrets with key [0-9a-f]{8} \(4 records checked/);
    for (const s of [...Object.values(PLAIN), oldKey.slice(5), newKey.slice(5)]) assert.ok(!(r.stdout + r.stderr).includes(s));

    store = await openStore('sqlite:' + dbFile);
    try {
      assert.deepEqual(await openAll(store, boxOf(newKey)), PLAIN);
    } finally {
      await store.close();
    }
    assertNoPlaintext(dbFile);
  });
});
