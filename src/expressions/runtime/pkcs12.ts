// A minimal PKCS#12 (PFX) reader for X509Certificate2(byte[] pfx, password): DER parsing, the PKCS#12 key
// derivation (RFC 7292 B.2), RC2-CBC (RFC 2268, which OpenSSL 3 no longer offers by default), 3DES and PBES2/AES
// through node:crypto. Work is bounded: iteration counts are capped and charged through `charge`.
import { X509Certificate, createDecipheriv, createHash, createPrivateKey, pbkdf2Sync, type KeyObject } from 'node:crypto';
import { CsException } from '../errors.js';

const MAX_ITERATIONS = 200_000;
const MAX_DEPTH = 32;

function fail(msg: string): never {
  throw new CsException('CryptographicException', msg);
}

// ------------------------------------------------------------------ DER

interface Tlv {
  tag: number;
  constructed: boolean;
  start: number;
  end: number;
  buf: Uint8Array;
}

function readTlv(buf: Uint8Array, pos: number, limit: number): Tlv & { next: number } {
  if (pos + 2 > limit) fail('ASN1 corrupted data.');
  const tag = buf[pos] as number;
  let len = buf[pos + 1] as number;
  let p = pos + 2;
  if (len === 0x80) fail('ASN1 indefinite-length encoding is not supported.');
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 4 || p + n > limit) fail('ASN1 corrupted data.');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[p + i] as number);
    p += n;
  }
  if (p + len > limit) fail('ASN1 corrupted data.');
  return { tag, constructed: (tag & 0x20) !== 0, start: p, end: p + len, buf, next: p + len };
}

function kids(t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = t.start;
  while (p < t.end) {
    const c = readTlv(t.buf, p, t.end);
    out.push(c);
    p = c.next;
    if (out.length > 10_000) fail('ASN1 structure too large.');
  }
  return out;
}

function root(buf: Uint8Array): Tlv {
  return readTlv(buf, 0, buf.length);
}

function bytes(t: Tlv): Uint8Array {
  return t.buf.subarray(t.start, t.end);
}

function whole(t: Tlv): Uint8Array {
  // the full TLV including the header
  let h = t.start - 2;
  while (h > 0 && !(t.buf[h] === t.tag && readTlvSafe(t.buf, h)?.end === t.end)) h--;
  return t.buf.subarray(h, t.end);
}

function readTlvSafe(buf: Uint8Array, pos: number): Tlv | null {
  try {
    return readTlv(buf, pos, buf.length);
  } catch {
    return null;
  }
}

/** contents of an OCTET STRING, primitive or constructed (concatenated) */
function octets(t: Tlv, depth = 0): Uint8Array {
  if (depth > MAX_DEPTH) fail('ASN1 nesting too deep.');
  if ((t.tag & 0x1f) !== 0x04 && t.tag !== 0x80 && t.tag !== 0xa0) fail('ASN1 unexpected tag.');
  if (!t.constructed) return bytes(t);
  return Uint8Array.from(Buffer.concat(kids(t).map((k) => Buffer.from(octets(k, depth + 1)))));
}

function oid(t: Tlv): string {
  if (t.tag !== 0x06) fail('ASN1 OID expected.');
  const b = bytes(t);
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < b.length; i++) {
    v = v * 128 + ((b[i] as number) & 0x7f);
    if (((b[i] as number) & 0x80) === 0) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

function int(t: Tlv): number {
  if (t.tag !== 0x02) fail('ASN1 INTEGER expected.');
  let v = 0;
  for (const x of bytes(t)) v = v * 256 + x;
  return v;
}

// ------------------------------------------------------------------ RC2 (RFC 2268)

const PITABLE = Uint8Array.from([
  0xd9, 0x78, 0xf9, 0xc4, 0x19, 0xdd, 0xb5, 0xed, 0x28, 0xe9, 0xfd, 0x79, 0x4a, 0xa0, 0xd8, 0x9d, 0xc6, 0x7e, 0x37, 0x83, 0x2b, 0x76, 0x53, 0x8e,
  0x62, 0x4c, 0x64, 0x88, 0x44, 0x8b, 0xfb, 0xa2, 0x17, 0x9a, 0x59, 0xf5, 0x87, 0xb3, 0x4f, 0x13, 0x61, 0x45, 0x6d, 0x8d, 0x09, 0x81, 0x7d, 0x32,
  0xbd, 0x8f, 0x40, 0xeb, 0x86, 0xb7, 0x7b, 0x0b, 0xf0, 0x95, 0x21, 0x22, 0x5c, 0x6b, 0x4e, 0x82, 0x54, 0xd6, 0x65, 0x93, 0xce, 0x60, 0xb2, 0x1c,
  0x73, 0x56, 0xc0, 0x14, 0xa7, 0x8c, 0xf1, 0xdc, 0x12, 0x75, 0xca, 0x1f, 0x3b, 0xbe, 0xe4, 0xd1, 0x42, 0x3d, 0xd4, 0x30, 0xa3, 0x3c, 0xb6, 0x26,
  0x6f, 0xbf, 0x0e, 0xda, 0x46, 0x69, 0x07, 0x57, 0x27, 0xf2, 0x1d, 0x9b, 0xbc, 0x94, 0x43, 0x03, 0xf8, 0x11, 0xc7, 0xf6, 0x90, 0xef, 0x3e, 0xe7,
  0x06, 0xc3, 0xd5, 0x2f, 0xc8, 0x66, 0x1e, 0xd7, 0x08, 0xe8, 0xea, 0xde, 0x80, 0x52, 0xee, 0xf7, 0x84, 0xaa, 0x72, 0xac, 0x35, 0x4d, 0x6a, 0x2a,
  0x96, 0x1a, 0xd2, 0x71, 0x5a, 0x15, 0x49, 0x74, 0x4b, 0x9f, 0xd0, 0x5e, 0x04, 0x18, 0xa4, 0xec, 0xc2, 0xe0, 0x41, 0x6e, 0x0f, 0x51, 0xcb, 0xcc,
  0x24, 0x91, 0xaf, 0x50, 0xa1, 0xf4, 0x70, 0x39, 0x99, 0x7c, 0x3a, 0x85, 0x23, 0xb8, 0xb4, 0x7a, 0xfc, 0x02, 0x36, 0x5b, 0x25, 0x55, 0x97, 0x31,
  0x2d, 0x5d, 0xfa, 0x98, 0xe3, 0x8a, 0x92, 0xae, 0x05, 0xdf, 0x29, 0x10, 0x67, 0x6c, 0xba, 0xc9, 0xd3, 0x00, 0xe6, 0xcf, 0xe1, 0x9e, 0xa8, 0x2c,
  0x63, 0x16, 0x01, 0x3f, 0x58, 0xe2, 0x89, 0xa9, 0x0d, 0x38, 0x34, 0x1b, 0xab, 0x33, 0xff, 0xb0, 0xbb, 0x48, 0x0c, 0x5f, 0xb9, 0xb1, 0xcd, 0x2e,
  0xc5, 0xf3, 0xdb, 0x47, 0xe5, 0xa5, 0x9c, 0x77, 0x0a, 0xa6, 0x20, 0x68, 0xfe, 0x7f, 0xc1, 0xad,
]);

function rc2Expand(key: Uint8Array, effectiveBits: number): Uint16Array {
  const L = new Uint8Array(128);
  L.set(key);
  const T = key.length;
  for (let i = T; i < 128; i++) L[i] = PITABLE[((L[i - 1] as number) + (L[i - T] as number)) & 0xff] as number;
  const T8 = Math.ceil(effectiveBits / 8);
  const TM = 0xff % 2 ** (8 + effectiveBits - 8 * T8);
  L[128 - T8] = PITABLE[(L[128 - T8] as number) & TM] as number;
  for (let i = 127 - T8; i >= 0; i--) L[i] = PITABLE[(L[i + 1] as number) ^ (L[i + T8] as number)] as number;
  const K = new Uint16Array(64);
  for (let i = 0; i < 64; i++) K[i] = (L[2 * i] as number) | ((L[2 * i + 1] as number) << 8);
  return K;
}

function rc2DecryptBlock(K: Uint16Array, b: Uint8Array, o: number): void {
  const R = [0, 0, 0, 0].map((_x, i) => (b[o + 2 * i] as number) | ((b[o + 2 * i + 1] as number) << 8));
  const rmix = (i: number, j: number): void => {
    const s = [1, 2, 3, 5][i] as number;
    let r = R[i] as number;
    r = ((r >>> s) | (r << (16 - s))) & 0xffff;
    r = (r - (K[j] as number) - ((R[(i + 3) & 3] as number) & (R[(i + 2) & 3] as number)) - (~(R[(i + 3) & 3] as number) & (R[(i + 1) & 3] as number))) & 0xffff;
    R[i] = r;
  };
  const rmash = (i: number): void => {
    R[i] = ((R[i] as number) - (K[(R[(i + 3) & 3] as number) & 63] as number)) & 0xffff;
  };
  let j = 63;
  const rmixRound = (): void => {
    for (let i = 3; i >= 0; i--) rmix(i, j--);
  };
  for (let k = 0; k < 5; k++) rmixRound();
  for (let i = 3; i >= 0; i--) rmash(i);
  for (let k = 0; k < 6; k++) rmixRound();
  for (let i = 3; i >= 0; i--) rmash(i);
  for (let k = 0; k < 5; k++) rmixRound();
  for (let i = 0; i < 4; i++) {
    b[o + 2 * i] = (R[i] as number) & 0xff;
    b[o + 2 * i + 1] = ((R[i] as number) >> 8) & 0xff;
  }
}

function rc2CbcDecrypt(key: Uint8Array, bits: number, iv: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length % 8 !== 0 || data.length === 0) fail('Bad data length.');
  const K = rc2Expand(key, bits);
  const out = Uint8Array.from(data);
  let prev = iv;
  for (let o = 0; o < out.length; o += 8) {
    const cipherBlock = data.subarray(o, o + 8);
    rc2DecryptBlock(K, out, o);
    for (let i = 0; i < 8; i++) out[o + i] = (out[o + i] as number) ^ (prev[i] as number);
    prev = cipherBlock;
  }
  return unpad(out);
}

function unpad(b: Uint8Array): Uint8Array {
  const n = b[b.length - 1] as number;
  if (n < 1 || n > 8 || n > b.length) fail('Padding is invalid and cannot be removed.');
  for (let i = b.length - n; i < b.length; i++) if (b[i] !== n) fail('Padding is invalid and cannot be removed.');
  return b.subarray(0, b.length - n);
}

// ------------------------------------------------------------------ key derivation and decryption

/** RFC 7292 appendix B.2 with SHA-1 */
function p12kdf(password: Uint8Array, salt: Uint8Array, id: number, iterations: number, n: number, charge: (k: number) => void): Uint8Array {
  if (iterations < 1 || iterations > MAX_ITERATIONS) fail(`PKCS#12 iteration count ${iterations} is out of range.`);
  const u = 20;
  const v = 64;
  const D = new Uint8Array(v).fill(id);
  const fill = (src: Uint8Array): Uint8Array => {
    if (src.length === 0) return new Uint8Array(0);
    const len = v * Math.ceil(src.length / v);
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) out[i] = src[i % src.length] as number;
    return out;
  };
  const I = Uint8Array.from([...fill(salt), ...fill(password)]);
  const out: number[] = [];
  const c = Math.ceil(n / u);
  for (let i = 0; i < c; i++) {
    let A: Uint8Array = createHash('sha1').update(Buffer.concat([D, I])).digest();
    for (let r = 1; r < iterations; r++) {
      A = sha1of20(A);
      if ((r & 255) === 255) charge(64);
    }
    out.push(...A);
    const B = new Uint8Array(v);
    for (let k = 0; k < v; k++) B[k] = A[k % u] as number;
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const x = (I[j + k] as number) + (B[k] as number) + carry;
        I[j + k] = x & 0xff;
        carry = x >> 8;
      }
    }
  }
  return Uint8Array.from(out.slice(0, n));
}

/** SHA-1 of a 20-byte message (one padded block): the hot loop of the PKCS#12 KDF */
const W = new Uint32Array(80);
function sha1of20(m: Uint8Array): Uint8Array {
  for (let t = 0; t < 5; t++) W[t] = (((m[4 * t] as number) << 24) | ((m[4 * t + 1] as number) << 16) | ((m[4 * t + 2] as number) << 8) | (m[4 * t + 3] as number)) >>> 0;
  W[5] = 0x80000000;
  for (let t = 6; t < 15; t++) W[t] = 0;
  W[15] = 160;
  for (let t = 16; t < 80; t++) {
    const x = (W[t - 3] as number) ^ (W[t - 8] as number) ^ (W[t - 14] as number) ^ (W[t - 16] as number);
    W[t] = ((x << 1) | (x >>> 31)) >>> 0;
  }
  let a = 0x67452301;
  let b = 0xefcdab89;
  let c = 0x98badcfe;
  let d = 0x10325476;
  let e = 0xc3d2e1f0;
  for (let t = 0; t < 80; t++) {
    let f: number;
    let k: number;
    if (t < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (t < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6;
    }
    const tmp = (((a << 5) | (a >>> 27)) + f + e + k + (W[t] as number)) >>> 0;
    e = d;
    d = c;
    c = ((b << 30) | (b >>> 2)) >>> 0;
    b = a;
    a = tmp;
  }
  const h = [(0x67452301 + a) >>> 0, (0xefcdab89 + b) >>> 0, (0x98badcfe + c) >>> 0, (0x10325476 + d) >>> 0, (0xc3d2e1f0 + e) >>> 0];
  const out = new Uint8Array(20);
  h.forEach((v, i) => {
    out[4 * i] = v >>> 24;
    out[4 * i + 1] = (v >>> 16) & 0xff;
    out[4 * i + 2] = (v >>> 8) & 0xff;
    out[4 * i + 3] = v & 0xff;
  });
  return out;
}

function bmp(password: string | null): Uint8Array {
  if (password === null) return new Uint8Array(0);
  const b = new Uint8Array(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) {
    b[2 * i] = password.charCodeAt(i) >> 8;
    b[2 * i + 1] = password.charCodeAt(i) & 0xff;
  }
  return b;
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  pbeSha3Des: '1.2.840.113549.1.12.1.3',
  pbeSha2Des: '1.2.840.113549.1.12.1.4',
  pbeShaRc2_128: '1.2.840.113549.1.12.1.5',
  pbeShaRc2_40: '1.2.840.113549.1.12.1.6',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
};

const PBES2_CIPHERS: Record<string, [string, number]> = {
  '2.16.840.1.101.3.4.1.2': ['aes-128-cbc', 16],
  '2.16.840.1.101.3.4.1.22': ['aes-192-cbc', 24],
  '2.16.840.1.101.3.4.1.42': ['aes-256-cbc', 32],
  '1.2.840.113549.3.7': ['des-ede3-cbc', 24],
};
const PRFS: Record<string, string> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};

function decrypt(alg: Tlv, data: Uint8Array, password: string | null, charge: (k: number) => void): Uint8Array {
  const [algOid, params] = kids(alg);
  const id = oid(algOid as Tlv);
  if (id === OID.pbes2) {
    const [kdf, scheme] = kids(params as Tlv);
    const [kdfOid, kdfParams] = kids(kdf as Tlv);
    if (oid(kdfOid as Tlv) !== OID.pbkdf2) fail('Unsupported PBES2 key derivation.');
    const kp = kids(kdfParams as Tlv);
    const salt = bytes(kp[0] as Tlv);
    const iterations = int(kp[1] as Tlv);
    let prf = 'sha1';
    for (const extra of kp.slice(2)) if (extra.tag === 0x30) prf = PRFS[oid(kids(extra)[0] as Tlv)] ?? fail('Unsupported PBKDF2 PRF.');
    const [encOid, ivT] = kids(scheme as Tlv);
    const cipher = PBES2_CIPHERS[oid(encOid as Tlv)] ?? fail('Unsupported PBES2 cipher.');
    if (iterations < 1 || iterations > MAX_ITERATIONS) fail(`PBKDF2 iteration count ${iterations} is out of range.`);
    charge(iterations >> 2);
    const key = pbkdf2Sync(Buffer.from(password ?? '', 'utf8'), salt, iterations, cipher[1], prf);
    const d = createDecipheriv(cipher[0], key, bytes(ivT as Tlv));
    return new Uint8Array(Buffer.concat([d.update(data), d.final()]));
  }
  const [saltT, iterT] = kids(params as Tlv);
  const salt = bytes(saltT as Tlv);
  const iterations = int(iterT as Tlv);
  const pw = bmp(password);
  if (id === OID.pbeSha3Des || id === OID.pbeSha2Des) {
    const key = p12kdf(pw, salt, 1, iterations, 24, charge);
    const iv = p12kdf(pw, salt, 2, iterations, 8, charge);
    const k = id === OID.pbeSha2Des ? Buffer.concat([key.subarray(0, 16), key.subarray(0, 8)]) : Buffer.from(key);
    const d = createDecipheriv('des-ede3-cbc', k, iv);
    return new Uint8Array(Buffer.concat([d.update(data), d.final()]));
  }
  if (id === OID.pbeShaRc2_40 || id === OID.pbeShaRc2_128) {
    const n = id === OID.pbeShaRc2_40 ? 5 : 16;
    const key = p12kdf(pw, salt, 1, iterations, n, charge);
    const iv = p12kdf(pw, salt, 2, iterations, 8, charge);
    return rc2CbcDecrypt(key, n * 8, iv, data);
  }
  fail(`Unsupported PKCS#12 encryption algorithm ${id}.`);
}

export interface LoadedCert {
  cert: X509Certificate;
  der: Uint8Array;
  key: KeyObject | null;
}

function isPfx(buf: Uint8Array): boolean {
  try {
    const r = root(buf);
    const k = kids(r);
    return r.tag === 0x30 && (k[0] as Tlv).tag === 0x02 && int(k[0] as Tlv) === 3 && (k[1] as Tlv).tag === 0x30;
  } catch {
    return false;
  }
}

/** X509Certificate2(rawData[, password]): a DER/PEM certificate or a PFX with its private key */
export function loadCertificate(raw: Uint8Array, password: string | null, charge: (k: number) => void): LoadedCert {
  if (raw.length > 1_000_000) fail('Certificate data too large.');
  if (!isPfx(raw)) {
    try {
      const cert = new X509Certificate(Buffer.from(raw));
      return { cert, der: new Uint8Array(cert.raw), key: null };
    } catch {
      fail('Cannot find the requested object.');
    }
  }
  const passwords: Array<string | null> = password === null || password === '' ? [null, ''] : [password];
  let lastErr: unknown;
  for (const pw of passwords) {
    try {
      return loadPfx(raw, pw, charge);
    } catch (e) {
      if (!(e instanceof CsException)) throw e; // limits and internal errors are not a wrong password
      lastErr = e;
    }
  }
  if (lastErr instanceof CsException && /iteration|too large|nesting/.test(lastErr.message)) throw lastErr;
  fail('The specified network password is not correct.');
}

function loadPfx(raw: Uint8Array, password: string | null, charge: (k: number) => void): LoadedCert {
  const pfx = kids(root(raw));
  const authSafe = kids(pfx[1] as Tlv);
  if (oid(authSafe[0] as Tlv) !== OID.data) fail('Unsupported PFX (public-key integrity mode).');
  const safes = kids(root(octets(kids(authSafe[1] as Tlv)[0] as Tlv)));
  const certs: Array<{ der: Uint8Array; keyId: string | null }> = [];
  const keys: Array<{ der: Uint8Array; keyId: string | null }> = [];
  for (const ci of safes) {
    const [ct, content] = kids(ci);
    const type = oid(ct as Tlv);
    let safeContents: Uint8Array;
    if (type === OID.data) safeContents = octets(kids(content as Tlv)[0] as Tlv);
    else if (type === OID.encryptedData) {
      const ed = kids(kids(content as Tlv)[0] as Tlv);
      const eci = kids(ed[1] as Tlv);
      safeContents = decrypt(eci[1] as Tlv, octets(eci[2] as Tlv), password, charge);
    } else continue;
    for (const bag of kids(root(safeContents))) {
      const parts = kids(bag);
      const bagId = oid(parts[0] as Tlv);
      const value = kids(parts[1] as Tlv)[0] as Tlv;
      let keyId: string | null = null;
      if (parts[2]) {
        for (const attr of kids(parts[2])) {
          const [aOid, aVals] = kids(attr);
          if (oid(aOid as Tlv) === OID.localKeyId) keyId = Buffer.from(bytes(kids(aVals as Tlv)[0] as Tlv)).toString('hex');
        }
      }
      if (bagId === OID.certBag) {
        const cb = kids(value);
        if (oid(cb[0] as Tlv) === OID.x509Certificate) certs.push({ der: octets(kids(cb[1] as Tlv)[0] as Tlv), keyId });
      } else if (bagId === OID.keyBag) keys.push({ der: whole(value), keyId });
      else if (bagId === OID.shroudedKeyBag) {
        const epki = kids(value);
        keys.push({ der: decrypt(epki[0] as Tlv, bytes(epki[1] as Tlv), password, charge), keyId });
      }
    }
  }
  if (certs.length === 0) fail('The PFX contains no certificate.');
  const keyObjs = keys.map((k) => ({ key: createPrivateKey({ key: Buffer.from(k.der), format: 'der', type: 'pkcs8' }), keyId: k.keyId }));
  let chosen = certs[0] as { der: Uint8Array; keyId: string | null };
  let key: KeyObject | null = null;
  for (const c of certs) {
    const match = keyObjs.find((k) => k.keyId !== null && k.keyId === c.keyId);
    if (match) {
      chosen = c;
      key = match.key;
      break;
    }
  }
  const cert = new X509Certificate(Buffer.from(chosen.der));
  if (!key) {
    for (const c of certs) {
      const x = new X509Certificate(Buffer.from(c.der));
      const k = keyObjs.find((ko) => x.checkPrivateKey(ko.key));
      if (k) return { cert: x, der: c.der, key: k.key };
    }
  }
  return { cert, der: chosen.der, key };
}
