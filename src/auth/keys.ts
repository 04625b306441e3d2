/**
 * Verification and decryption keys given in a policy (`issuer-signing-keys`, `decryption-keys`):
 * a Base64 symmetric key as the element's text, an RSA public key as `n`/`e` (Base64url), or
 * `certificate-id` naming a certificate of the config's `certificates`. `id` binds a key to a
 * token's `kid`. Built once at load into Node KeyObjects; jose uses them per request.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';

export interface PolicyKey {
  /** `id` attribute: matched against the token's `kid`; a key without id is tried for every token */
  readonly kid: string | undefined;
  readonly key: KeyObject;
}

/** JWS algorithms a key may verify: never a symmetric algorithm with an asymmetric key (and vice versa). */
export function algorithmsFor(key: KeyObject, declared?: string): string[] {
  let algs: string[];
  if (key.type === 'secret') algs = ['HS256', 'HS384', 'HS512'];
  else {
    switch (key.asymmetricKeyType) {
      case 'rsa':
        algs = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
        break;
      case 'rsa-pss':
        algs = ['PS256', 'PS384', 'PS512'];
        break;
      case 'ec': {
        const crv = key.asymmetricKeyDetails?.namedCurve;
        algs = crv === 'prime256v1' ? ['ES256'] : crv === 'secp384r1' ? ['ES384'] : crv === 'secp521r1' ? ['ES512'] : [];
        break;
      }
      case 'ed25519':
        algs = ['EdDSA', 'Ed25519'];
        break;
      default:
        algs = [];
    }
  }
  return declared ? algs.filter((a) => a === declared) : algs;
}

/** key-management algorithms a decryption key may unwrap with (no PBES2: its cost is the sender's to choose) */
export function keyManagementFor(key: KeyObject): string[] {
  if (key.type === 'secret') {
    const n = key.symmetricKeySize ?? 0;
    const out = ['dir'];
    if (n === 16) out.push('A128KW', 'A128GCMKW');
    if (n === 24) out.push('A192KW', 'A192GCMKW');
    if (n === 32) out.push('A256KW', 'A256GCMKW');
    return out;
  }
  if (key.asymmetricKeyType === 'rsa') return ['RSA-OAEP', 'RSA-OAEP-256', 'RSA-OAEP-384', 'RSA-OAEP-512'];
  if (key.asymmetricKeyType === 'ec' || key.asymmetricKeyType === 'x25519') return ['ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A192KW', 'ECDH-ES+A256KW'];
  return [];
}

const BASE64 = /^[A-Za-z0-9+/\-_]+={0,2}$/;

/** a Base64 (or Base64url) encoded symmetric key; throws with a message for the load error */
export function symmetricKey(text: string): KeyObject {
  const t = text.trim();
  if (!BASE64.test(t)) throw new Error('the key must be Base64 encoded');
  const bytes = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length < 16) throw new Error(`the key is ${bytes.length} bytes long; at least 16 bytes (128 bits) are required`);
  return createSecretKey(bytes);
}

const B64URL = /^[A-Za-z0-9_\-+/]+={0,2}$/;

/** an RSA public key from its modulus and exponent (Base64url, as in a JWK) */
export function rsaKey(n: string, e: string): KeyObject {
  if (!B64URL.test(n) || !B64URL.test(e)) throw new Error('"n" and "e" must be Base64url encoded');
  const norm = (s: string) => s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const key = createPublicKey({ key: { kty: 'RSA', n: norm(n), e: norm(e) }, format: 'jwk' });
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 1024) throw new Error(`the RSA modulus is ${bits} bits long; at least 1024 bits are required`);
  return key;
}
