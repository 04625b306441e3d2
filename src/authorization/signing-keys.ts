/**
 * The facade's token-signing keys: RS256 key pairs kept in the store (collection `as-signing-key`,
 * record `current`) with every private JWK sealed by the SecretBox, so every replica and every
 * restart signs with, and publishes, the same keys. Concurrent first starts race on an insert-only
 * write; the loser adopts the winner's key.
 *
 * Rotation without downtime (`gatehouse keys rotate-signing`, `rotateSigningKey`):
 *
 * 1. a new key is added as `next`, published in the JWKS at once but not used to sign before
 *    `activatesAt` (default: 10 minutes later). Validators that follow APIM's caching rules pull
 *    the key set again on an unknown `kid` at most once per 5 minutes, and the JWKS is served with
 *    `max-age=300`; with ≥ 10 minutes between publication and first use, every validator either
 *    already holds the new key or may pull it the moment it first sees it.
 * 2. from `activatesAt` on, every replica signs with the new key (replicas re-read the record on
 *    every use, so a rotation made by the CLI or another replica is picked up without a restart);
 * 3. the previous key stays published until `previousRetireAt` (activation + the access-token
 *    lifetime + 5 minutes), so tokens it signed validate until they expire, then it disappears.
 *
 * Nothing is written by the gateway when a key activates or retires: the published set and the
 * signing key are computed from the record and the clock. The next rotation folds an activated
 * `next` into `current` (its private key re-sealed for that field) and drops retired keys.
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import type { Store } from '../store/types.js';
import { aadOf, pathOf, type SecretBox } from '../secrets/secret-box.js';

export const SIGNING_KEY_COLLECTION = 'as-signing-key';
const ID = 'current';
const ALG = 'RS256';
/** default time between publishing a new key and signing with it */
export const DEFAULT_ACTIVATION_DELAY_MS = 10 * 60_000;
/** added to the access-token lifetime to keep a previous key published (clock skew, slow replicas) */
export const RETIRE_GRACE_MS = 5 * 60_000;

interface StoredKey {
  readonly kid: string;
  readonly alg: string;
  readonly publicJwk: JWK;
  /** sealed JSON of the private JWK */
  readonly privateJwk: string;
  readonly createdAt: number;
}

interface NextKey extends StoredKey {
  /** signs from this time on */
  readonly activatesAt: number;
  /** the key it replaces stays published until then */
  readonly previousRetireAt: number;
}

interface RetiringKey {
  readonly kid: string;
  readonly publicJwk: JWK;
  readonly retireAt: number;
}

interface StoredKeySet extends StoredKey {
  readonly next?: NextKey;
  /** previous keys: public part only, published until retireAt */
  readonly previous?: readonly RetiringKey[];
}

type PrivateKey = Awaited<ReturnType<typeof importJWK>>;

async function newKey(box: SecretBox, field: readonly string[]): Promise<StoredKey> {
  const { publicKey, privateKey } = await generateKeyPair(ALG, { extractable: true, modulusLength: 2048 });
  const kid = randomUUID();
  return {
    kid,
    alg: ALG,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' },
    privateJwk: box.seal(JSON.stringify(await exportJWK(privateKey)), aadOf(SIGNING_KEY_COLLECTION, ID, pathOf(...field))),
    createdAt: Date.now(),
  };
}

/** the key set as it stands at `now`: which key signs, which are published */
function effective(set: StoredKeySet, now: number): { signer: 'current' | 'next'; published: JWK[] } {
  const previous = (set.previous ?? []).filter((p) => p.retireAt > now).map((p) => p.publicJwk);
  const next = set.next;
  if (next && next.activatesAt <= now) {
    return { signer: 'next', published: [next.publicJwk, ...(next.previousRetireAt > now ? [set.publicJwk] : []), ...previous] };
  }
  return { signer: 'current', published: [set.publicJwk, ...(next ? [next.publicJwk] : []), ...previous] };
}

export interface SigningKeysOptions {
  /** clock (tests); defaults to Date.now */
  readonly now?: () => number;
}

export class SigningKeys {
  #version: number;
  #set: StoredKeySet;
  #current: PrivateKey;
  #next: PrivateKey | undefined;
  #reload: Promise<void> | undefined;

  private constructor(
    private readonly store: Store,
    private readonly box: SecretBox,
    private readonly now: () => number,
    version: number,
    set: StoredKeySet,
    current: PrivateKey,
    next: PrivateKey | undefined,
  ) {
    this.#version = version;
    this.#set = set;
    this.#current = current;
    this.#next = next;
  }

  static async load(store: Store, box: SecretBox, opts: SigningKeysOptions = {}): Promise<SigningKeys> {
    let rec = await store.get<StoredKeySet>(SIGNING_KEY_COLLECTION, ID);
    if (!rec) {
      await store.compareAndPut(SIGNING_KEY_COLLECTION, ID, await newKey(box, ['privateJwk']), 0);
      rec = await store.get<StoredKeySet>(SIGNING_KEY_COLLECTION, ID);
      if (!rec) throw new Error('the authorization server signing key could not be stored');
    }
    const { current, next } = await SigningKeys.#open(box, rec.value);
    return new SigningKeys(store, box, opts.now ?? Date.now, rec.version, rec.value, current, next);
  }

  static async #open(box: SecretBox, set: StoredKeySet): Promise<{ current: PrivateKey; next: PrivateKey | undefined }> {
    const open = (sealed: string, field: readonly string[], alg: string) =>
      importJWK(JSON.parse(box.open(sealed, aadOf(SIGNING_KEY_COLLECTION, ID, pathOf(...field)))) as JWK, alg);
    return {
      current: await open(set.privateJwk, ['privateJwk'], set.alg),
      next: set.next ? await open(set.next.privateJwk, ['next', 'privateJwk'], set.next.alg) : undefined,
    };
  }

  /** pick up a rotation made elsewhere (CLI, another replica): one store read per use */
  async #refresh(): Promise<void> {
    if (this.#reload) return this.#reload;
    this.#reload = (async () => {
      const rec = await this.store.get<StoredKeySet>(SIGNING_KEY_COLLECTION, ID);
      if (!rec || rec.version === this.#version) return;
      const { current, next } = await SigningKeys.#open(this.box, rec.value);
      this.#set = rec.value;
      this.#version = rec.version;
      this.#current = current;
      this.#next = next;
    })().finally(() => {
      this.#reload = undefined;
    });
    return this.#reload;
  }

  /** the kid new tokens are signed with (as of the last store read) */
  get kid(): string {
    const set = this.#set;
    return effective(set, this.now()).signer === 'next' ? set.next!.kid : set.kid;
  }

  /** the published key set: the signing key, a key about to sign, and previous keys not yet retired */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.#refresh();
    return { keys: effective(this.#set, this.now()).published };
  }

  /** a JWT access token (RFC 9068 `at+jwt`) */
  async sign(payload: JWTPayload): Promise<string> {
    await this.#refresh();
    const set = this.#set;
    const useNext = effective(set, this.now()).signer === 'next' && this.#next !== undefined;
    const kid = useNext ? set.next!.kid : set.kid;
    return new SignJWT(payload).setProtectedHeader({ alg: ALG, kid, typ: 'at+jwt' }).sign(useNext ? this.#next! : this.#current);
  }
}

export interface RotationOptions {
  /** time between publishing the new key and signing with it (default 10 min) */
  readonly activateAfterMs?: number;
  /** the facade's access-token lifetime in seconds: the replaced key stays published that long (+ 5 min) after activation */
  readonly accessTokenTtlSeconds: number;
  readonly now?: () => number;
}

export interface RotationResult {
  readonly kid: string;
  readonly activatesAt: number;
  readonly replacedKid: string;
  readonly previousRetireAt: number;
  /** every kid published right after the rotation */
  readonly published: readonly string[];
}

export class SigningKeyRotationError extends Error {
  override readonly name = 'SigningKeyRotationError';
}

/**
 * Add a new signing key (see the module comment). Refused while an earlier rotation's key is not
 * yet active. Creates the first key when none exists (it signs at once).
 */
export async function rotateSigningKey(store: Store, box: SecretBox, opts: RotationOptions): Promise<RotationResult> {
  const clock = opts.now ?? Date.now;
  const delay = Math.max(0, opts.activateAfterMs ?? DEFAULT_ACTIVATION_DELAY_MS);
  for (let attempt = 0; attempt < 5; attempt++) {
    const rec = await store.get<StoredKeySet>(SIGNING_KEY_COLLECTION, ID);
    const now = clock();
    if (!rec) {
      const first = await newKey(box, ['privateJwk']);
      if (await store.compareAndPut(SIGNING_KEY_COLLECTION, ID, first, 0)) return { kid: first.kid, activatesAt: now, replacedKid: first.kid, previousRetireAt: now, published: [first.kid] };
      continue;
    }
    let set = rec.value;
    if (set.next) {
      if (set.next.activatesAt > now) {
        throw new SigningKeyRotationError(`the signing key ${set.next.kid} of the previous rotation is not active yet (it signs from ${new Date(set.next.activatesAt).toISOString()}); rotate again after that`);
      }
      // fold the activated key into `current`, its private key re-sealed for that field
      const n = set.next;
      const plain = box.open(n.privateJwk, aadOf(SIGNING_KEY_COLLECTION, ID, pathOf('next', 'privateJwk')));
      set = {
        kid: n.kid,
        alg: n.alg,
        publicJwk: n.publicJwk,
        privateJwk: box.seal(plain, aadOf(SIGNING_KEY_COLLECTION, ID, pathOf('privateJwk'))),
        createdAt: n.createdAt,
        previous: [...(set.previous ?? []), { kid: set.kid, publicJwk: set.publicJwk, retireAt: n.previousRetireAt }],
      };
    }
    const fresh = await newKey(box, ['next', 'privateJwk']);
    const activatesAt = now + delay;
    const next: NextKey = { ...fresh, activatesAt, previousRetireAt: activatesAt + opts.accessTokenTtlSeconds * 1000 + RETIRE_GRACE_MS };
    const { next: _dropped, ...base } = set;
    void _dropped;
    const value: StoredKeySet = { ...base, previous: (set.previous ?? []).filter((p) => p.retireAt > now), next };
    if (await store.compareAndPut(SIGNING_KEY_COLLECTION, ID, value, rec.version)) {
      return { kid: next.kid, activatesAt, replacedKid: set.kid, previousRetireAt: next.previousRetireAt, published: effective(value, now).published.map((k) => String(k.kid)) };
    }
  }
  throw new SigningKeyRotationError('the signing key record kept changing during the rotation; run it again');
}
