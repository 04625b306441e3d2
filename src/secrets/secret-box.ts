/**
 * Encryption at rest for the secrets the gateway stores (OAuth tokens, client secrets...).
 *
 * - A data-encryption key is 32 random bytes, written `ghk1_<43 base64url chars>` (`gatehouse keys
 *   generate`), taken from GATEHOUSE_SECRET_KEY. During a rotation the old key(s) go to
 *   GATEHOUSE_SECRET_KEY_PREVIOUS (comma-separated): they still open values, never seal new ones.
 * - A sealed value is `v1.<keyId>.<iv>.<ciphertext+tag>`: AES-256-GCM, a random 96-bit IV, both
 *   base64url. `keyId` is the first 8 hex digits of SHA-256(key): it names the key, reveals nothing.
 * - Every value is sealed with an "additional authenticated data" string that binds it to where it
 *   is stored, so a sealed value copied into another record or field does not open there.
 *
 * AAD convention for values stored in the Store (what `rotateSecrets` relies on):
 *   `aadOf(collection, id, path)` = `${collection}/${id}/${path}`, where `path` is the dotted path
 *   of the field inside the record's JSON value: object keys and array indexes joined by `.`
 *   (e.g. `tokens.0.refreshToken`; `''` when the whole value is the sealed string). Use `pathOf()`
 *   to build it. Field names that would be sealed must not contain `.`.
 *
 * Nothing here puts plaintext or key material in an error message, and a SecretBox does not show
 * its keys when logged or serialised.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { inspect } from 'node:util';
import type { Store, StoredRecord } from '../store/types.js';

export const SECRET_KEY_ENV = 'GATEHOUSE_SECRET_KEY';
export const PREVIOUS_KEY_ENV = 'GATEHOUSE_SECRET_KEY_PREVIOUS';

/** the store collections whose records may hold sealed values (re-sealed by `gatehouse keys rotate`) */
export const SEALED_COLLECTIONS: readonly string[] = ['credential-connection', 'credential-provider', 'credential-state', 'as-signing-key', 'as-state', 'as-upstream'];

const KEY_PREFIX = 'ghk1_';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SEALED_PREFIX = 'v1';

const KEY_EXPECTED = `expected a key made by \`gatehouse keys generate\` (${KEY_PREFIX} followed by 43 base64url characters) or the base64/base64url encoding of exactly ${KEY_BYTES} bytes`;

/** a sealed value: version, key id, IV (16 base64url chars = 12 bytes), ciphertext+tag (>= 16 bytes) */
const SEALED_RE = /^v1\.([0-9a-f]{8})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})$/;

export type SecretKeyErrorCode = 'GW_SECRET_KEY_MISMATCH' | 'GW_SECRET_CORRUPT' | 'GW_SECRET_KEY_INVALID';

/** a key is unusable, or a stored secret cannot be opened. The message never holds plaintext nor key material. */
export class SecretKeyError extends Error {
  override readonly name = 'SecretKeyError';
  constructor(
    readonly code: SecretKeyErrorCode,
    message: string,
    /** `collection/id` of the record holding the value, when known */
    readonly record?: string,
  ) {
    super(message);
  }
}

/** a new data-encryption key: `ghk1_` + 32 random bytes in base64url (43 chars) */
export function generateKey(): string {
  return KEY_PREFIX + randomBytes(KEY_BYTES).toString('base64url');
}

/**
 * The 32 key bytes of `ghk1_…`, or of plain base64/base64url text of exactly 32 bytes (surrounding
 * whitespace ignored). Throws SecretKeyError (GW_SECRET_KEY_INVALID) saying what is expected — never
 * echoing the text.
 */
export function parseKey(text: string): Buffer {
  if (typeof text !== 'string') throw new SecretKeyError('GW_SECRET_KEY_INVALID', `not a valid key: ${KEY_EXPECTED}`);
  const t = text.trim();
  const body = t.startsWith(KEY_PREFIX) ? t.slice(KEY_PREFIX.length) : t;
  const ok = t.startsWith(KEY_PREFIX) ? /^[A-Za-z0-9_-]{43}$/.test(body) : /^[A-Za-z0-9+/_-]{43}=?$/.test(body);
  const bytes = ok ? Buffer.from(body, 'base64') : undefined;
  if (bytes === undefined || bytes.length !== KEY_BYTES) {
    throw new SecretKeyError('GW_SECRET_KEY_INVALID', `not a valid key (${t.length} characters): ${KEY_EXPECTED}`);
  }
  return bytes;
}

/** first 8 hex digits of SHA-256(key): identifies a key without revealing it */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** the AAD a value stored at `path` (dotted, see the module comment) of record `collection/id` is sealed with */
export function aadOf(collection: string, id: string, path: string): string {
  return `${collection}/${id}/${path}`;
}

/** the dotted path of a field: object keys and array indexes joined by `.` */
export function pathOf(...segments: readonly (string | number)[]): string {
  return segments.map(String).join('.');
}

/** true when `value` has the shape of a sealed value (`v1.<keyId>.<iv>.<ciphertext+tag>`) */
export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && SEALED_RE.test(value);
}

/** key id of a sealed value, or undefined when `sealed` is not one */
export function sealedKeyId(sealed: string): string | undefined {
  return SEALED_RE.exec(sealed)?.[1];
}

interface Key {
  readonly id: string;
  readonly bytes: Buffer;
}

export class SecretBox {
  readonly #current: Key;
  readonly #previous: readonly Key[];

  constructor(keys: { current: Buffer; previous?: readonly Buffer[] }) {
    const check = (b: Buffer, what: string): Buffer => {
      if (!Buffer.isBuffer(b) || b.length !== KEY_BYTES) throw new SecretKeyError('GW_SECRET_KEY_INVALID', `SecretBox: the ${what} key must be ${KEY_BYTES} bytes`);
      return Buffer.from(b); // private copy
    };
    const current = check(keys.current, 'current');
    this.#current = { id: keyIdOf(current), bytes: current };
    const previous: Key[] = [];
    for (const b of keys.previous ?? []) {
      const bytes = check(b, 'previous');
      const id = keyIdOf(bytes);
      if (id !== this.#current.id && !previous.some((k) => k.id === id)) previous.push({ id, bytes });
    }
    this.#previous = previous;
  }

  /** id of the current key (first 8 hex of its SHA-256; not secret) */
  get keyId(): string {
    return this.#current.id;
  }

  /** ids of the previous keys (open only) */
  get previousKeyIds(): readonly string[] {
    return this.#previous.map((k) => k.id);
  }

  /** `v1.<keyId>.<iv>.<ciphertext+tag>` (AES-256-GCM, random 96-bit IV) bound to `aad` */
  seal(plaintext: string, aad: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#current.bytes, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${SEALED_PREFIX}.${this.#current.id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  /**
   * The plaintext of a value sealed with the current or a previous key under the same `aad`.
   * Throws SecretKeyError: GW_SECRET_KEY_MISMATCH (sealed with a key this box does not hold, named
   * by id) or GW_SECRET_CORRUPT (malformed, altered, or sealed for another place).
   */
  open(sealed: string, aad: string): string {
    const m = typeof sealed === 'string' ? SEALED_RE.exec(sealed) : null;
    if (!m) throw new SecretKeyError('GW_SECRET_CORRUPT', 'cannot decrypt a stored secret: it is not a sealed value (expected v1.<keyId>.<iv>.<ciphertext>)');
    const [, id, ivText, bodyText] = m as unknown as [string, string, string, string];
    const key = id === this.#current.id ? this.#current : this.#previous.find((k) => k.id === id);
    if (!key) {
      const prev = this.#previous.length > 0 ? ` (${this.#previous.map((k) => k.id).join(', ')})` : ' (not set)';
      throw new SecretKeyError(
        'GW_SECRET_KEY_MISMATCH',
        `cannot decrypt a stored secret: it was sealed with key ${id}, which is neither ${SECRET_KEY_ENV} (${this.#current.id}) nor ${PREVIOUS_KEY_ENV}${prev}`,
      );
    }
    const iv = Buffer.from(ivText, 'base64url');
    const body = Buffer.from(bodyText, 'base64url');
    if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw corrupt(id);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.bytes, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw corrupt(id);
    }
  }

  /** true when `sealed` was sealed with one of the previous keys (re-seal it with the current one) */
  needsRotation(sealed: string): boolean {
    const id = sealedKeyId(sealed);
    return id !== undefined && this.#previous.some((k) => k.id === id);
  }

  /** never shows key material */
  toJSON(): { keyId: string; previousKeyIds: readonly string[] } {
    return { keyId: this.keyId, previousKeyIds: this.previousKeyIds };
  }

  [inspect.custom](): string {
    return `SecretBox { keyId: '${this.keyId}', previousKeyIds: [${this.previousKeyIds.map((k) => `'${k}'`).join(', ')}] }`;
  }
}

const corrupt = (id: string): SecretKeyError =>
  new SecretKeyError('GW_SECRET_CORRUPT', `cannot decrypt a stored secret sealed with key ${id}: it was altered, truncated, or belongs to another record or field`);

function parseEnvKey(text: string, what: string): Buffer {
  try {
    return parseKey(text);
  } catch (err) {
    throw new SecretKeyError('GW_SECRET_KEY_INVALID', `${what} is ${(err as Error).message}`);
  }
}

/**
 * The SecretBox configured by the environment: GATEHOUSE_SECRET_KEY (current) and
 * GATEHOUSE_SECRET_KEY_PREVIOUS (optional, comma-separated). When GATEHOUSE_SECRET_KEY is missing
 * (or empty): with `quickstartKeyFile`, the key stored in that file — created (0600, parent folders
 * 0700) with a new key when absent, `generated: true` then, so the caller can warn; without it,
 * undefined (the caller refuses to start when it needs secrets). An invalid key throws
 * SecretKeyError (GW_SECRET_KEY_INVALID) naming the variable or file, never the value.
 */
export async function secretBoxFromEnv(
  env: NodeJS.ProcessEnv,
  opts: { quickstartKeyFile?: string } = {},
): Promise<{ box: SecretBox; generated: boolean } | undefined> {
  const previous = (env[PREVIOUS_KEY_ENV] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s, i, all) => parseEnvKey(s, all.length > 1 ? `${PREVIOUS_KEY_ENV} (entry ${i + 1})` : PREVIOUS_KEY_ENV));
  const currentText = env[SECRET_KEY_ENV]?.trim() ?? '';
  if (currentText !== '') {
    return { box: new SecretBox({ current: parseEnvKey(currentText, SECRET_KEY_ENV), previous }), generated: false };
  }
  const file = opts.quickstartKeyFile;
  if (file === undefined) return undefined;
  const read = async (): Promise<Buffer | undefined> => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return parseEnvKey(text, `the local key file ${file}`);
  };
  const existing = await read();
  if (existing) return { box: new SecretBox({ current: existing, previous }), generated: false };
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const key = generateKey();
  try {
    await writeFile(file, key + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // another process created it first: use theirs
    const theirs = await read();
    if (!theirs) throw err;
    return { box: new SecretBox({ current: theirs, previous }), generated: false };
  }
  await chmod(file, 0o600); // whatever the umask
  return { box: new SecretBox({ current: parseKey(key), previous }), generated: true };
}

const MAX_CAS_ATTEMPTS = 20;

/** re-seals, with the current key, every sealed string in `value` not already sealed with it; `count.n` counts them */
function reseal(box: SecretBox, collection: string, id: string, value: unknown, path: readonly (string | number)[], count: { n: number }): unknown {
  if (typeof value === 'string') {
    if (!isSealed(value) || sealedKeyId(value) === box.keyId) return value;
    const aad = aadOf(collection, id, pathOf(...path));
    let plain: string;
    try {
      plain = box.open(value, aad);
    } catch (err) {
      if (err instanceof SecretKeyError) {
        const where = `${collection}/${id}`;
        throw new SecretKeyError(err.code, `${where}${path.length > 0 ? ` (field ${pathOf(...path)})` : ''}: ${err.message}`, where);
      }
      throw err;
    }
    count.n++;
    return box.seal(plain, aad);
  }
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v, i) => {
      const r = reseal(box, collection, id, v, [...path, i], count);
      if (r !== v) changed = true;
      return r;
    });
    return changed ? out : value;
  }
  if (value !== null && typeof value === 'object') {
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = reseal(box, collection, id, v, [...path, k], count);
      if (r !== v) changed = true;
      out[k] = r;
    }
    return changed ? out : value;
  }
  return value;
}

/**
 * Re-seals with `box`'s current key every sealed string (at any depth) in every record of
 * `collections`, opening each with its AAD (`aadOf(collection, id, path)`) and the current or a
 * previous key. Records are written back with compareAndPut (re-read and redone on a conflict).
 * Values already sealed with the current key are left as they are, so running it twice is harmless.
 * Returns the records examined and the values re-sealed. A value that does not open throws
 * SecretKeyError naming the record (`collection/id`) and field, never the value.
 */
export async function rotateSecrets(store: Store, box: SecretBox, collections: readonly string[]): Promise<{ records: number; resealed: number }> {
  let records = 0;
  let resealed = 0;
  for (const collection of collections) {
    for (const listed of await store.list(collection)) {
      records++;
      let rec: StoredRecord | undefined = listed;
      for (let attempt = 1; rec !== undefined; attempt++) {
        const count = { n: 0 };
        const next = reseal(box, collection, rec.id, rec.value, [], count);
        if (next === rec.value) break;
        if (await store.compareAndPut(collection, rec.id, next, rec.version)) {
          resealed += count.n;
          break;
        }
        if (attempt >= MAX_CAS_ATTEMPTS) throw new Error(`${collection}/${rec.id}: kept changing while being re-sealed; run the rotation again`);
        rec = await store.get(collection, rec.id);
      }
    }
  }
  return { records, resealed };
}
