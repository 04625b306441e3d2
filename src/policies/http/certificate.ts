/**
 * Client certificates for authentication-certificate (APIM): `body` holds the certificate — a PFX
 * (PKCS#12) as byte[] or base64, or PEM text with the certificate and its private key — and
 * `password` unlocks it. Gatehouse has no certificate store, so `thumbprint` and `certificate-id`
 * are load-time errors. Errors never contain the password or the key material.
 *
 * Where a parsed certificate goes:
 * - inside send-request / send-one-way-request it is used for that request's TLS connection;
 * - as a policy of the inbound section it is kept for the backend request of this pipeline run:
 *   `getBackendClientCertificate(ctx)` returns it (the forward path must pass `tlsOptions(cert)` to
 *   its TLS connection to the backend).
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { PipelineContext } from '../../pipeline/context.js';
import type { CompileContext, ValueGetter } from '../../pipeline/types.js';
import type { PolicyElement } from '../../policy/document.js';

export interface ClientCertificate {
  readonly kind: 'pfx' | 'pem';
  readonly pfx?: Buffer;
  /** PEM certificate chain */
  readonly cert?: string;
  /** PEM private key */
  readonly key?: string;
  readonly passphrase?: string;
  /** sha-256 over material and password: a cache key for TLS agents; never shown */
  readonly id: string;
  /** subject of the leaf certificate when known (PEM), for diagnostics */
  readonly subject?: string;
}

/** A certificate that can't be used. The message is safe for clients and logs. */
export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

function fromPem(text: string, passphrase: string | undefined, id: string): ClientCertificate {
  const certs: string[] = [];
  let key: string | undefined;
  for (const m of text.matchAll(PEM_BLOCK)) {
    const label = m[1]!;
    if (label === 'CERTIFICATE') certs.push(m[0]);
    else if (label.endsWith('PRIVATE KEY')) {
      if (key !== undefined) throw new CertificateError('the certificate body holds more than one private key');
      key = m[0];
    }
  }
  if (certs.length === 0) throw new CertificateError('the PEM certificate body holds no CERTIFICATE block');
  if (key === undefined) throw new CertificateError('the PEM certificate body holds no PRIVATE KEY block (a client certificate needs its key)');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certs[0]!);
  } catch {
    throw new CertificateError('the PEM certificate is not a valid X.509 certificate');
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(passphrase === undefined ? { key } : { key, passphrase });
  } catch {
    throw new CertificateError(passphrase === undefined ? 'the private key is invalid or encrypted (give its password)' : 'the private key is invalid or the password is wrong');
  }
  if (!x509.checkPrivateKey(privateKey)) throw new CertificateError('the private key does not belong to the certificate');
  return { kind: 'pem', cert: certs.join('\n'), key, ...(passphrase !== undefined ? { passphrase } : {}), id, subject: x509.subject };
}

function fromPfx(bytes: Buffer, passphrase: string | undefined, id: string): ClientCertificate {
  try {
    createSecureContext(passphrase === undefined ? { pfx: bytes } : { pfx: bytes, passphrase });
  } catch {
    throw new CertificateError('the certificate body is not a valid PFX (PKCS#12) file, or its password is wrong');
  }
  return { kind: 'pfx', pfx: bytes, ...(passphrase !== undefined ? { passphrase } : {}), id };
}

/**
 * Parse and check a certificate body: byte[] (Uint8Array) or a string holding PEM text or base64
 * (of a PFX or of PEM text). Throws CertificateError.
 */
export function parseClientCertificate(body: unknown, password: string | undefined): ClientCertificate {
  let bytes: Buffer;
  if (body instanceof Uint8Array) bytes = Buffer.from(body);
  else if (typeof body === 'string') {
    const t = body.trim();
    if (t === '') throw new CertificateError('the certificate body is empty');
    if (t.startsWith('-----BEGIN')) bytes = Buffer.from(t, 'utf8');
    else {
      if (!BASE64.test(t)) throw new CertificateError('the certificate body must be byte[], base64 or PEM text');
      bytes = Buffer.from(t, 'base64');
    }
  } else if (body === null || body === undefined) throw new CertificateError('the certificate body is null');
  else throw new CertificateError('the certificate body must be byte[], base64 or PEM text');
  if (bytes.length === 0) throw new CertificateError('the certificate body is empty');
  if (bytes.length > 1024 * 1024) throw new CertificateError('the certificate body is larger than 1 MiB');
  const pass = password === undefined || password === '' ? undefined : password;
  const id = createHash('sha256').update(bytes).update('\0').update(pass ?? '').digest('hex');
  const known = parsed.get(id);
  if (known) return known;
  const head = bytes.subarray(0, 64).toString('latin1').trimStart();
  const cert = head.startsWith('-----BEGIN') ? fromPem(bytes.toString('utf8'), pass, id) : fromPfx(bytes, pass, id);
  parsed.set(id, cert);
  if (parsed.size > 32) parsed.delete(parsed.keys().next().value as string);
  return cert;
}

/** certificates already parsed and checked, by id (bodies from expressions repeat per request) */
const parsed = new Map<string, ClientCertificate>();

/** the TLS options that present a client certificate (tls.connect / undici `connect`) */
export function tlsOptions(cert: ClientCertificate): { pfx?: Buffer; cert?: string; key?: string; passphrase?: string } {
  const o: { pfx?: Buffer; cert?: string; key?: string; passphrase?: string } = {};
  if (cert.pfx) o.pfx = cert.pfx;
  if (cert.cert) o.cert = cert.cert;
  if (cert.key) o.key = cert.key;
  if (cert.passphrase !== undefined) o.passphrase = cert.passphrase;
  return o;
}

const backendCertificates = new WeakMap<PipelineContext, ClientCertificate>();

/** the client certificate authentication-certificate chose for this run's backend request */
export function getBackendClientCertificate(ctx: PipelineContext): ClientCertificate | undefined {
  return backendCertificates.get(ctx);
}

export function setBackendClientCertificate(ctx: PipelineContext, cert: ClientCertificate): void {
  backendCertificates.set(ctx, cert);
}

const NO_STORE = 'no certificate store configured: Gatehouse cannot resolve a certificate by thumbprint or certificate-id; give it in "body" (byte[], base64 PFX or PEM with its key) with "password"';

/**
 * Compile an <authentication-certificate thumbprint|certificate-id|body|password> element into a
 * getter of the parsed certificate. `thumbprint`/`certificate-id` are load-time errors (no store);
 * a literal body is parsed at load (its problem reported at the attribute), an expression body when
 * the policy runs (CertificateError).
 */
export function compileCertificate(el: PolicyElement, cc: CompileContext): ValueGetter<ClientCertificate> | undefined {
  let ok = true;
  for (const name of ['thumbprint', 'certificate-id']) {
    const a = el.attributes.get(name);
    if (a) {
      cc.problem({ line: a.line, col: a.col }, `<${el.name}> ${name}: ${NO_STORE}`);
      ok = false;
    }
  }
  const bodyAttr = el.attributes.get('body');
  if (!bodyAttr) {
    if (ok) cc.problem(el, `<${el.name}> needs "body" (${NO_STORE})`);
    return undefined;
  }
  const body = cc.rawValue(el, 'body');
  const passAttr = el.attributes.get('password');
  const password = cc.string(el, 'password');
  if (!ok || !body) return undefined;
  if (!bodyAttr.expression && (!passAttr || !passAttr.expression)) {
    try {
      const cert = parseClientCertificate(bodyAttr.raw, passAttr?.raw);
      return () => cert;
    } catch (err) {
      cc.problem({ line: bodyAttr.line, col: bodyAttr.col }, `<${el.name}> body: ${(err as Error).message}`);
      return undefined;
    }
  }
  return (ctx) => parseClientCertificate(body(ctx), password ? password(ctx) : undefined);
}
