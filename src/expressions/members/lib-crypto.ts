// Hashes and HMACs (SHA256.Create().ComputeHash, new HMACSHA256(key)), APIM's byte[].Encrypt/Decrypt, random
// bytes — all on node:crypto, reachable only through these entries.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { CsException } from '../errors.js';
import { T, checkColl, checkLen } from '../types.js';
import type { Ty } from '../types.js';
import { define } from './registry.js';
import { m, p } from './lib-core.js';
import { CsHash } from '../runtime/values.js';

const HASHES: Record<string, string> = {
  SHA1: 'sha1', SHA256: 'sha256', SHA384: 'sha384', SHA512: 'sha512', MD5: 'md5',
  SHA1Managed: 'sha1', SHA256Managed: 'sha256', SHA384Managed: 'sha384', SHA512Managed: 'sha512',
  SHA1CryptoServiceProvider: 'sha1', SHA256CryptoServiceProvider: 'sha256', SHA512CryptoServiceProvider: 'sha512', MD5CryptoServiceProvider: 'md5',
};
const HMACS: Record<string, string> = { HMACSHA1: 'sha1', HMACSHA256: 'sha256', HMACSHA384: 'sha384', HMACSHA512: 'sha512', HMACMD5: 'md5' };

const HA: Ty = { n: 'HashAlgorithm' };

function bytesArg(v: unknown, name: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new CsException('ArgumentNullException', `Value cannot be null. (Parameter '${name}')`);
  return v;
}

function digest(h: CsHash, data: Uint8Array): Uint8Array {
  if (h.hmac) return new Uint8Array(createHmac(h.alg, h.key ?? new Uint8Array(0)).update(data).digest());
  return new Uint8Array(createHash(h.alg).update(data).digest());
}

define('HashAlgorithm', {
  props: {
    Key: {
      ty: T.bytes,
      get: (h: CsHash) => {
        if (!h.hmac) throw new CsException('NotSupportedException', 'Specified method is not supported.');
        return h.key ? h.key.slice() : null;
      },
      set(h: CsHash, v) {
        if (!h.hmac) throw new CsException('NotSupportedException', 'Specified method is not supported.');
        h.key = bytesArg(v, 'value').slice();
      },
    },
    HashSize: p(T.int, (h: CsHash) => ({ sha1: 160, sha256: 256, sha384: 384, sha512: 512, md5: 128 })[h.alg] ?? 0),
  },
  methods: {
    ComputeHash: m(T.bytes, (h: CsHash, a, c) => {
      const data = bytesArg(a[0], 'buffer');
      const slice = a.length === 3 ? data.subarray(a[1] as number, (a[1] as number) + (a[2] as number)) : data;
      checkColl(c.rt, slice.length >> 4);
      return digest(h, slice);
    }, { min: 1, max: 3 }),
    Dispose: m(T.void, () => undefined, { max: 0 }),
    Clear: m(T.void, () => undefined, { max: 0 }),
    Initialize: m(T.void, () => undefined, { max: 0 }),
  },
});

for (const [name, alg] of Object.entries(HASHES)) {
  define(name, {
    smethods: {
      Create: m(HA, () => new CsHash(alg, null, false), { max: 1 }),
      HashData: m(T.bytes, (_s, a) => digest(new CsHash(alg, null, false), bytesArg(a[0], 'source')), { min: 1, max: 1 }),
    },
    ctor: { call: () => new CsHash(alg, null, false), max: 0, ty: () => HA },
  });
}
for (const [name, alg] of Object.entries(HMACS)) {
  define(name, {
    smethods: {
      HashData: m(T.bytes, (_s, a) => digest(new CsHash(alg, bytesArg(a[0], 'key'), true), bytesArg(a[1], 'source')), { min: 2, max: 2 }),
    },
    ctor: {
      call: (a) => new CsHash(alg, a.length ? bytesArg(a[0], 'key').slice() : new Uint8Array(randomBytes(64)), true),
      max: 1,
      ty: () => HA,
    },
  });
}

define('RandomNumberGenerator', {
  smethods: {
    Create: m({ n: 'RandomNumberGenerator' }, () => ({ rng: true }), { max: 0 }),
    GetBytes: m(T.bytes, (_s, a, c) => {
      const n = a[0] as number;
      checkColl(c.rt, n);
      return new Uint8Array(randomBytes(Math.max(0, n)));
    }, { min: 1, max: 1 }),
    GetInt32: m(T.int, (_s, a) => {
      const [lo, hi] = a.length === 1 ? [0, a[0] as number] : [a[0] as number, a[1] as number];
      if (hi <= lo) throw new CsException('ArgumentException', 'Range of random number does not contain at least one possibility.');
      return lo + Math.floor((randomBytes(4).readUInt32BE(0) / 2 ** 32) * (hi - lo));
    }, { min: 1, max: 2 }),
  },
});

// APIM: byte[].Encrypt(string alg, byte[] key, byte[] iv) / Decrypt(...) with CBC and PKCS7 padding
function cipherName(alg: string, keyLen: number): string {
  const a = alg.toLowerCase();
  if (a === 'aes' || a === 'rijndael' || a === 'aesmanaged' || a === 'rijndaelmanaged' || a === 'aescryptoserviceprovider') {
    if (keyLen !== 16 && keyLen !== 24 && keyLen !== 32) throw new CsException('CryptographicException', 'Specified key is not a valid size for this algorithm.');
    return `aes-${keyLen * 8}-cbc`;
  }
  if (a === 'tripledes' || a === '3des') {
    if (keyLen !== 24 && keyLen !== 16) throw new CsException('CryptographicException', 'Specified key is not a valid size for this algorithm.');
    return keyLen === 16 ? 'des-ede-cbc' : 'des-ede3-cbc';
  }
  throw new CsException('NotSupportedException', `Symmetric algorithm '${alg}' is not supported (use "Aes" or "TripleDES").`);
}

function crypt(encrypt: boolean, data: Uint8Array, alg: unknown, key: unknown, iv: unknown): Uint8Array {
  if (typeof alg !== 'string') throw new CsException('NotSupportedException', 'Encrypt/Decrypt with a SymmetricAlgorithm object is not supported; pass the algorithm name ("Aes"), key and IV.');
  const k = bytesArg(key, 'key');
  const v = bytesArg(iv, 'iv');
  const name = cipherName(alg, k.length);
  const ivLen = name.startsWith('aes') ? 16 : 8;
  if (v.length !== ivLen) throw new CsException('CryptographicException', 'Specified initialization vector (IV) does not match the block size for this algorithm.');
  try {
    const c = encrypt ? createCipheriv(name, k, v) : createDecipheriv(name, k, v);
    return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
  } catch (e) {
    if (e instanceof CsException) throw e;
    throw new CsException('CryptographicException', encrypt ? 'Encryption failed.' : 'Padding is invalid and cannot be removed.');
  }
}

define('Array', {
  methods: {
    Encrypt: m(T.bytes, (self: Uint8Array, a, c) => {
      checkLen(c.rt, self.length);
      return crypt(true, bytesArg(self, 'input'), a[0], a[1], a[2]);
    }, { min: 3, max: 3, check: (self) => (self.a?.[0]?.n === 'byte' || self.a?.[0]?.n === 'dynamic' ? null : 'Encrypt is only available on byte[]') }),
    Decrypt: m(T.bytes, (self: Uint8Array, a, c) => {
      checkLen(c.rt, self.length);
      return crypt(false, bytesArg(self, 'input'), a[0], a[1], a[2]);
    }, { min: 3, max: 3, check: (self) => (self.a?.[0]?.n === 'byte' || self.a?.[0]?.n === 'dynamic' ? null : 'Decrypt is only available on byte[]') }),
  },
});

/** .NET types a policy may name that Gatehouse does not provide, with the reason given at load time */
export const UNSUPPORTED_TYPES: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, {
  RSAParameters: 'RSAParameters (raw key components) are not supported; load keys from an X509Certificate2',
  ECDsa: 'ECDsa signing is not supported in policy expressions yet',
  Aes: 'SymmetricAlgorithm objects are not supported; use byte[].Encrypt("Aes", key, iv) / Decrypt',
  AesManaged: 'SymmetricAlgorithm objects are not supported; use byte[].Encrypt("Aes", key, iv) / Decrypt',
  SymmetricAlgorithm: 'SymmetricAlgorithm objects are not supported; use byte[].Encrypt("Aes", key, iv) / Decrypt',
  StreamReader: 'readers and streams are not available in policy expressions',
  MemoryStream: 'readers and streams are not available in policy expressions',
  Stream: 'readers and streams are not available in policy expressions',
  File: 'the file system is not reachable from policy expressions',
  Directory: 'the file system is not reachable from policy expressions',
  Path: 'the file system is not reachable from policy expressions',
  Process: 'processes are not reachable from policy expressions',
  Environment: 'the environment is not reachable from policy expressions',
  HttpClient: 'the network is not reachable from policy expressions (use send-request)',
  WebClient: 'the network is not reachable from policy expressions (use send-request)',
  HttpWebRequest: 'the network is not reachable from policy expressions (use send-request)',
  Thread: 'threads are not available in policy expressions',
  Task: 'tasks are not available in policy expressions',
  Activator: 'reflection is not available in policy expressions',
  Assembly: 'reflection is not available in policy expressions',
  AppDomain: 'reflection is not available in policy expressions',
  Console: 'the console is not available in policy expressions',
  GC: 'the garbage collector is not available in policy expressions',
  HttpUtility: 'System.Web.HttpUtility is not available in APIM expressions; use System.Net.WebUtility',
  HashSet: 'HashSet<T> is not supported; use List<T> with Contains/Distinct',
  Tuple: 'tuples are not supported',
  ValueTuple: 'tuples are not supported',
  dynamic: "'dynamic' is not supported",
  XmlConvert: 'XML APIs (System.Xml) are not supported in policy expressions',
  AuthenticationHeaderValue: 'System.Net.Http.Headers types are not supported',
});
