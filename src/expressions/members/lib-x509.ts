// X509Certificate2 (from DER/PEM or PFX bytes held in memory) and RSA signing / verification on node:crypto.
import { createHash, createPublicKey, sign, verify, constants, publicEncrypt, privateDecrypt } from 'node:crypto';
import { CsException } from '../errors.js';
import { T, checkColl, tick } from '../types.js';
import type { Ty } from '../types.js';
import { define } from './registry.js';
import { m, p, defineEnum } from './lib-core.js';
import { loadCertificate } from '../runtime/pkcs12.js';
import { CsDateTime } from '../runtime/time.js';
import { CsEnum, CsRsa, CsX509 } from '../runtime/values.js';


const RSA: Ty = { n: 'RSA' };
const X509: Ty = { n: 'X509Certificate2' };

defineEnum('HashAlgorithmName', { MD5: 0, SHA1: 1, SHA256: 2, SHA384: 3, SHA512: 4 });
defineEnum('RSASignaturePadding', { Pkcs1: 0, Pss: 1 });
defineEnum('RSAEncryptionPadding', { Pkcs1: 0, OaepSHA1: 1, OaepSHA256: 2, OaepSHA384: 3, OaepSHA512: 4 });
defineEnum('X509KeyStorageFlags', { DefaultKeySet: 0, UserKeySet: 1, MachineKeySet: 2, Exportable: 4, UserProtected: 8, PersistKeySet: 16, EphemeralKeySet: 32 });

function hashName(v: unknown): string {
  if (v instanceof CsEnum && v.type === 'HashAlgorithmName') return v.name.toLowerCase();
  if (typeof v === 'string') return v.toLowerCase().replace('-', '');
  throw new CsException('ArgumentException', 'A hash algorithm name is required.');
}

function padding(v: unknown): number {
  if (v instanceof CsEnum && v.type === 'RSASignaturePadding') return v.value === 1 ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING;
  throw new CsException('ArgumentException', 'A signature padding is required.');
}

function needBytes(v: unknown, name: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new CsException('ArgumentNullException', `Value cannot be null. (Parameter '${name}')`);
  return v;
}

function parseCertDate(s: string): CsDateTime {
  const ms = Date.parse(s);
  return new CsDateTime(Number.isNaN(ms) ? 0 : ms, 'Local');
}

/** "CN=x, O=y" from node's "CN=x\nO=y" (reversed to .NET's most-specific-first order) */
function dn(s: string): string {
  return s.split('\n').filter(Boolean).reverse().join(', ');
}

define('X509Certificate2', {
  props: {
    Thumbprint: p(T.string, (c: CsX509) => createHash('sha1').update(c.der).digest('hex').toUpperCase()),
    Subject: p(T.string, (c: CsX509) => dn(c.cert.subject)),
    Issuer: p(T.string, (c: CsX509) => dn(c.cert.issuer)),
    SerialNumber: p(T.string, (c: CsX509) => c.cert.serialNumber.toUpperCase()),
    NotBefore: p(T.DateTime, (c: CsX509) => parseCertDate(c.cert.validFrom)),
    NotAfter: p(T.DateTime, (c: CsX509) => parseCertDate(c.cert.validTo)),
    HasPrivateKey: p(T.bool, (c: CsX509) => c.key !== null),
    RawData: p(T.bytes, (c: CsX509) => c.der.slice()),
  },
  methods: {
    GetCertHash: m(T.bytes, (c: CsX509, a) => {
      const alg = a.length ? hashName(a[0]) : 'sha1';
      return new Uint8Array(createHash(alg).update(c.der).digest());
    }, { max: 1 }),
    GetCertHashString: m(T.string, (c: CsX509) => createHash('sha1').update(c.der).digest('hex').toUpperCase(), { max: 1 }),
    GetRSAPrivateKey: m(RSA, (c: CsX509) => (c.key && c.key.asymmetricKeyType === 'rsa' ? new CsRsa(c.key, true) : null), { max: 0 }),
    GetRSAPublicKey: m(RSA, (c: CsX509) => (c.cert.publicKey.asymmetricKeyType === 'rsa' ? new CsRsa(c.cert.publicKey, false) : null), { max: 0 }),
    Export: m(T.bytes, (c: CsX509) => c.der.slice(), { min: 1, max: 2 }),
    GetRawCertData: m(T.bytes, (c: CsX509) => c.der.slice(), { max: 0 }),
    Dispose: m(T.void, () => undefined, { max: 0 }),
    ToString: m(T.string, (c: CsX509) => `[Subject]\n  ${dn(c.cert.subject)}\n\n[Issuer]\n  ${dn(c.cert.issuer)}`, { max: 1 }),
  },
  ctor: {
    call(a, c) {
      const raw = a[0] instanceof Uint8Array ? a[0] : typeof a[0] === 'string' ? null : null;
      if (!raw) throw new CsException('NotSupportedException', 'X509Certificate2 can only be built from bytes (a file name would read the file system).');
      const pw = typeof a[1] === 'string' ? a[1] : null;
      checkColl(c.rt, raw.length >> 6);
      const loaded = loadCertificate(raw, pw, (k) => tick(c.rt, k));
      return new CsX509(loaded.cert, loaded.der, loaded.key);
    },
    min: 1,
    max: 3,
  },
});

define('RSA', {
  props: {
    KeySize: p(T.int, (r: CsRsa) => r.key.asymmetricKeyDetails?.modulusLength ?? 0),
  },
  methods: {
    SignData: m(T.bytes, (r: CsRsa, a, c) => {
      if (!r.isPrivate) throw new CsException('CryptographicException', 'The key does not contain a private key.');
      const data = needBytes(a[0], 'data');
      const off: [number, number] | null = a.length === 5 ? [a[1] as number, a[2] as number] : null;
      const [alg, pad] = a.length === 5 ? [a[3], a[4]] : [a[1], a[2]];
      tick(c.rt, 16 + (data.length >> 8));
      const input = off ? data.subarray(off[0], off[0] + off[1]) : data;
      return new Uint8Array(sign(hashName(alg), input, { key: r.key, padding: padding(pad), saltLength: constants.RSA_PSS_SALTLEN_DIGEST }));
    }, { min: 3, max: 5 }),
    SignHash: m(T.bytes, (r: CsRsa, a, c) => {
      if (!r.isPrivate) throw new CsException('CryptographicException', 'The key does not contain a private key.');
      tick(c.rt, 16);
      // the hash is already computed: sign the DigestInfo without hashing again
      const h = needBytes(a[0], 'hash');
      const alg = hashName(a[1]);
      const prefixes: Record<string, string> = {
        sha1: '3021300906052b0e03021a05000414',
        sha256: '3031300d060960864801650304020105000420',
        sha384: '3041300d060960864801650304020205000430',
        sha512: '3051300d060960864801650304020305000440',
      };
      const prefix = prefixes[alg];
      if (!prefix || padding(a[2]) !== constants.RSA_PKCS1_PADDING) throw new CsException('NotSupportedException', 'SignHash supports PKCS#1 v1.5 with SHA-1/256/384/512.');
      return new Uint8Array(sign(null, Buffer.concat([Buffer.from(prefix, 'hex'), h]), { key: r.key, padding: constants.RSA_PKCS1_PADDING }));
    }, { min: 3, max: 3 }),
    VerifyData: m(T.bool, (r: CsRsa, a, c) => {
      tick(c.rt, 16);
      const pub = r.isPrivate ? createPublicKey(r.key) : r.key;
      return verify(hashName(a[2]), needBytes(a[0], 'data'), { key: pub, padding: padding(a[3]), saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, needBytes(a[1], 'signature'));
    }, { min: 4, max: 4 }),
    Encrypt: m(T.bytes, (r: CsRsa, a, c) => {
      tick(c.rt, 16);
      const pad = a[1] instanceof CsEnum && a[1].value === 0 ? constants.RSA_PKCS1_PADDING : constants.RSA_PKCS1_OAEP_PADDING;
      const oaepHash = a[1] instanceof CsEnum && a[1].value > 1 ? `sha${[0, 1, 256, 384, 512][a[1].value]}` : 'sha1';
      return new Uint8Array(publicEncrypt({ key: r.isPrivate ? createPublicKey(r.key) : r.key, padding: pad, oaepHash }, needBytes(a[0], 'data')));
    }, { min: 2, max: 2 }),
    Decrypt: m(T.bytes, (r: CsRsa, a, c) => {
      if (!r.isPrivate) throw new CsException('CryptographicException', 'The key does not contain a private key.');
      tick(c.rt, 16);
      const pad = a[1] instanceof CsEnum && a[1].value === 0 ? constants.RSA_PKCS1_PADDING : constants.RSA_PKCS1_OAEP_PADDING;
      const oaepHash = a[1] instanceof CsEnum && a[1].value > 1 ? `sha${[0, 1, 256, 384, 512][a[1].value]}` : 'sha1';
      try {
        return new Uint8Array(privateDecrypt({ key: r.key, padding: pad, oaepHash }, needBytes(a[0], 'data')));
      } catch {
        throw new CsException('CryptographicException', 'The parameter is incorrect.');
      }
    }, { min: 2, max: 2 }),
    Dispose: m(T.void, () => undefined, { max: 0 }),
  },
});

export { X509 };
