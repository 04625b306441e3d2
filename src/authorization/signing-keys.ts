/**
 * The facade's token-signing key: an RS256 key pair generated on first start and kept in the store
 * (collection `as-signing-key`, record `current`) with the private JWK sealed by the SecretBox, so
 * every replica and every restart signs with, and publishes, the same key. Concurrent first starts
 * race on an insert-only write; the loser adopts the winner's key.
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import type { Store } from '../store/types.js';
import { aadOf, pathOf, type SecretBox } from '../secrets/secret-box.js';

export const SIGNING_KEY_COLLECTION = 'as-signing-key';
const ID = 'current';
const ALG = 'RS256';

interface StoredKey {
  readonly kid: string;
  readonly alg: string;
  readonly publicJwk: JWK;
  /** sealed JSON of the private JWK */
  readonly privateJwk: string;
  readonly createdAt: number;
}

export class SigningKeys {
  private constructor(
    readonly kid: string,
    private readonly publicJwk: JWK,
    private readonly privateKey: Awaited<ReturnType<typeof importJWK>>,
  ) {}

  static async load(store: Store, box: SecretBox): Promise<SigningKeys> {
    const aad = aadOf(SIGNING_KEY_COLLECTION, ID, pathOf('privateJwk'));
    let rec = await store.get<StoredKey>(SIGNING_KEY_COLLECTION, ID);
    if (!rec) {
      const { publicKey, privateKey } = await generateKeyPair(ALG, { extractable: true, modulusLength: 2048 });
      const kid = randomUUID();
      const value: StoredKey = {
        kid,
        alg: ALG,
        publicJwk: { ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' },
        privateJwk: box.seal(JSON.stringify(await exportJWK(privateKey)), aad),
        createdAt: Date.now(),
      };
      await store.compareAndPut(SIGNING_KEY_COLLECTION, ID, value, 0);
      rec = await store.get<StoredKey>(SIGNING_KEY_COLLECTION, ID);
      if (!rec) throw new Error('the authorization server signing key could not be stored');
    }
    const priv = JSON.parse(box.open(rec.value.privateJwk, aad)) as JWK;
    const key = await importJWK(priv, rec.value.alg);
    return new SigningKeys(rec.value.kid, rec.value.publicJwk, key);
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  /** a JWT access token (RFC 9068 `at+jwt`) */
  sign(payload: JWTPayload): Promise<string> {
    return new SignJWT(payload).setProtectedHeader({ alg: ALG, kid: this.kid, typ: 'at+jwt' }).sign(this.privateKey);
  }
}
