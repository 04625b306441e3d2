/**
 * Checks the schema cannot express (cross-field references, duplicates, forbidden headers, origin
 * forms) and the reading of policy documents. They run on the substituted document whether or not
 * it passed the schema, so one `validate` run reports everything; each check therefore looks at the
 * data defensively and skips what is not of the expected shape (the schema reports that).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { CertificateConfig } from './types.js';
import { readFile } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { formatPath, type Path, type PathSegment } from './positions.js';
import type { RawProblem } from './issues.js';
import type { PolicySource } from './types.js';

/** Client headers that are never forwarded to a backend, whatever `forwardHeaders` says. */
export const FORBIDDEN_FORWARD_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'cookie',
  'proxy-authorization',
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'mcp-session-id',
  'ocp-apim-subscription-key',
]);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** `host:port` → parts; the host without IPv6 brackets. */
export function splitListen(listen: string): { host: string; port: number } | undefined {
  const m = /^(\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):([0-9]{1,5})$/.exec(listen);
  if (!m) return undefined;
  return { host: (m[2] ?? m[3] ?? '').toLowerCase(), port: Number(m[4]) };
}

/** `scheme://host[:port]`, lower case, default port dropped; undefined when `s` is not an origin. */
export function toOrigin(s: string): string | undefined {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return undefined;
  }
  if (!url.host || url.username || url.password || url.search || url.hash || s.includes('?') || s.includes('#')) return undefined;
  if (url.pathname !== '' && url.pathname !== '/') return undefined;
  // for http(s) this is url.origin; for other schemes (app://, vscode-webview://) url.origin is "null"
  return `${url.protocol}//${url.host}`.toLowerCase();
}

function duplicates(
  items: readonly unknown[],
  itemPath: (i: number) => PathSegment[],
  key: string,
  what: string,
  problems: RawProblem[],
  suffix = '',
): Map<string, number> {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    if (!isObj(item)) return;
    const name = str(item[key]);
    if (name === undefined) return;
    const first = seen.get(name);
    if (first === undefined) {
      seen.set(name, i);
      return;
    }
    problems.push({
      path: [...itemPath(i), key],
      anchor: 'value',
      message: `duplicate ${what} "${name}"${suffix} (already defined at ${formatPath(itemPath(first))})`,
    });
  });
  return seen;
}

export function semanticChecks(doc: unknown): RawProblem[] {
  const problems: RawProblem[] = [];
  if (!isObj(doc)) return problems;

  // gateway
  const gateway = doc.gateway;
  if (isObj(gateway)) {
    const listen = str(gateway.listen);
    const parts = listen === undefined ? undefined : splitListen(listen);
    if (parts && listen !== undefined) {
      const bracketed = listen.startsWith('[');
      if (bracketed && net.isIPv6(parts.host) === false) {
        problems.push({ path: ['gateway', 'listen'], anchor: 'value', message: `invalid IPv6 address "${parts.host}"` });
      } else if (!bracketed && /^[0-9.]+$/.test(parts.host) && !net.isIPv4(parts.host)) {
        problems.push({ path: ['gateway', 'listen'], anchor: 'value', message: `invalid IPv4 address "${parts.host}"` });
      }
    }
    const publicUrl = str(gateway.publicUrl);
    if (publicUrl !== undefined && (publicUrl.includes('?') || publicUrl.includes('#'))) {
      problems.push({ path: ['gateway', 'publicUrl'], anchor: 'value', message: 'must not have a query or fragment' });
    }
    arr(gateway.allowedOrigins).forEach((o, i) => {
      if (typeof o === 'string' && toOrigin(o) === undefined) {
        problems.push({
          path: ['gateway', 'allowedOrigins', i],
          anchor: 'value',
          message: `${JSON.stringify(o)} is not an origin (scheme://host[:port], no path)`,
        });
      }
    });
  }

  // store
  const store = str(doc.store);
  if (store !== undefined && store.startsWith('sqlite:') && store.slice('sqlite:'.length).trim() === '') {
    problems.push({ path: ['store'], anchor: 'value', message: 'sqlite store needs a file path, e.g. sqlite:./.gatehouse/gatehouse.db' });
  }
  // several worker processes share state through the store file and the primary's cache
  const workers = isObj(doc.gateway) ? doc.gateway.workers : undefined;
  if ((workers === 'auto' || (typeof workers === 'number' && workers > 1)) && store !== undefined && store.startsWith('sqlite:') && store.slice('sqlite:'.length).trim() === ':memory:') {
    problems.push({ path: ['gateway', 'workers'], anchor: 'value', message: 'several workers need a shared store: use a sqlite file (sqlite:PATH) or postgres://, not sqlite::memory:' });
  }

  // servers
  const servers = arr(doc.servers);
  const serverNames = duplicates(servers, (i) => ['servers', i], 'name', 'server name', problems);
  servers.forEach((server, i) => {
    if (!isObj(server)) return;
    arr(server.forwardHeaders).forEach((h, j) => {
      if (typeof h === 'string' && FORBIDDEN_FORWARD_HEADERS.has(h.toLowerCase())) {
        problems.push({
          path: ['servers', i, 'forwardHeaders', j],
          anchor: 'value',
          message: `header "${h.toLowerCase()}" is never forwarded to a backend (remove it from forwardHeaders)`,
        });
      }
    });
    const serverName = str(server.name);
    duplicates(arr(server.tools), (j) => ['servers', i, 'tools', j], 'name', 'tool name', problems,
      serverName === undefined ? '' : ` in server "${serverName}"`);
  });

  // products
  const products = arr(doc.products);
  duplicates(products, (i) => ['products', i], 'name', 'product name', problems);
  products.forEach((product, i) => {
    if (!isObj(product)) return;
    arr(product.servers).forEach((s, j) => {
      if (typeof s === 'string' && !serverNames.has(s)) {
        problems.push({ path: ['products', i, 'servers', j], anchor: 'value', message: `unknown server "${s}"` });
      }
    });
  });

  // credentials and identity
  const credentials = doc.credentials;
  const providers = isObj(credentials) ? arr(credentials.providers) : [];
  const providerIndex = duplicates(providers, (i) => ['credentials', 'providers', i], 'name', 'credentials provider name', problems);
  providers.forEach((provider, i) => {
    if (!isObj(provider)) return;
    const providerName = str(provider.name);
    duplicates(arr(provider.connections), (j) => ['credentials', 'providers', i, 'connections', j], 'name', 'connection name', problems,
      providerName === undefined ? '' : ` in provider "${providerName}"`);
  });
  const identity = doc.identity;
  if (isObj(identity)) {
    const providerName = str(identity.provider);
    const connectionName = str(identity.connection);
    if (providerName !== undefined) {
      const index = providerIndex.get(providerName);
      const provider = index === undefined ? undefined : providers[index];
      if (!isObj(provider)) {
        problems.push({ path: ['identity', 'provider'], anchor: 'value', message: `unknown credentials provider "${providerName}"` });
      } else if (connectionName !== undefined) {
        const connection = arr(provider.connections).find((c) => isObj(c) && c.name === connectionName);
        if (!isObj(connection)) {
          problems.push({
            path: ['identity', 'connection'],
            anchor: 'value',
            message: `unknown connection "${connectionName}" of credentials provider "${providerName}"`,
          });
        } else if (connection.grant !== undefined && connection.grant !== 'client-credentials') {
          problems.push({
            path: ['identity', 'connection'],
            anchor: 'value',
            message: `connection "${connectionName}" must use grant client-credentials to serve as the gateway's identity`,
          });
        }
      }
    }
  }
  return problems;
}

/** Every policy reference in the document: [path, value]. */
export function policyRefs(doc: unknown): Array<[Path, string]> {
  const refs: Array<[Path, string]> = [];
  if (!isObj(doc)) return refs;
  const add = (p: Path, v: unknown): void => {
    if (typeof v === 'string' && v.trim() !== '') refs.push([p, v]);
  };
  add(['policies'], doc.policies);
  if (isObj(doc.fragments)) for (const [name, v] of Object.entries(doc.fragments)) add(['fragments', name], v);
  arr(doc.servers).forEach((s, i) => {
    if (!isObj(s)) return;
    add(['servers', i, 'policies'], s.policies);
    arr(s.tools).forEach((t, j) => { if (isObj(t)) add(['servers', i, 'tools', j, 'policies'], t.policies); });
  });
  arr(doc.products).forEach((p, i) => { if (isObj(p)) add(['products', i, 'policies'], p.policies); });
  return refs;
}

/** `ENOENT: no such file or directory` from a Node fs error (without the absolute path it names). */
export function fsErrorText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const msg = typeof err?.message === 'string' ? err.message : String(e);
  return msg.replace(/, \w+ '.*'$/s, '');
}

/**
 * Reads the policy documents: inline XML (a value starting with `<`) is taken as is, anything else
 * is a file path relative to `baseDir`. Returns sources keyed by formatPath(path).
 */
export async function readPolicies(doc: unknown, baseDir: string, problems: RawProblem[]): Promise<Map<string, PolicySource>> {
  const sources = new Map<string, PolicySource>();
  const results = await Promise.all(policyRefs(doc).map(async ([p, ref]): Promise<[Path, PolicySource | RawProblem]> => {
    const trimmed = ref.trim();
    if (trimmed.startsWith('<')) return [p, { xml: ref }];
    const file = path.resolve(baseDir, trimmed);
    try {
      return [p, { file, xml: await readFile(file, 'utf8') }];
    } catch (e) {
      return [p, { path: p, anchor: 'value', message: `cannot read policy file "${trimmed}": ${fsErrorText(e)}` }];
    }
  }));
  // in document order, whatever order the reads finished in
  for (const [p, r] of results) {
    if ('xml' in r) sources.set(formatPath(p), r);
    else problems.push(r);
  }
  return sources;
}

/**
 * `certificates`: each `cert` (and `key`) is PEM text or a PEM file path (relative to the config's
 * folder); the certificate must parse and the key must match it. Problems name the id, never key material.
 */
export async function readCertificates(doc: unknown, baseDir: string, problems: RawProblem[]): Promise<Map<string, CertificateConfig>> {
  const out = new Map<string, CertificateConfig>();
  if (!isObj(doc) || !isObj(doc.certificates)) return out;
  for (const [id, entry] of Object.entries(doc.certificates)) {
    if (!isObj(entry)) continue;
    const read = async (field: 'cert' | 'key'): Promise<string | undefined> => {
      const v = entry[field];
      if (typeof v !== 'string' || v.trim() === '') return undefined;
      if (v.includes('-----BEGIN')) return v;
      try {
        return await readFile(path.resolve(baseDir, v.trim()), 'utf8');
      } catch (e) {
        problems.push({ path: ['certificates', id, field], anchor: 'value', safe: field === 'cert', message: `cannot read ${field === 'cert' ? 'certificate' : 'key'} file${field === 'cert' ? ` "${v.trim()}"` : ''}: ${fsErrorText(e)}` });
        return undefined;
      }
    };
    const cert = await read('cert');
    const key = await read('key');
    if (cert === undefined) continue;
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(cert);
    } catch {
      problems.push({ path: ['certificates', id, 'cert'], anchor: 'value', safe: true, message: 'is not a PEM X.509 certificate' });
      continue;
    }
    const passphrase = typeof entry.passphrase === 'string' ? entry.passphrase : undefined;
    if (key !== undefined) {
      try {
        const k = createPrivateKey({ key, ...(passphrase !== undefined ? { passphrase } : {}) });
        if (!x509.checkPrivateKey(k)) throw new Error('mismatch');
      } catch (e) {
        const why = (e as Error).message === 'mismatch' ? 'does not belong to the certificate' : 'is not a PEM private key (or the passphrase is wrong)';
        problems.push({ path: ['certificates', id, 'key'], anchor: 'value', safe: true, message: `the private key ${why}` });
        continue;
      }
    }
    out.set(id, { cert, ...(key !== undefined ? { key } : {}), ...(passphrase !== undefined ? { passphrase } : {}) });
  }
  return out;
}
