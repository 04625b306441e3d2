/**
 * The integration policies through a running gateway (send-request, send-one-way-request, retry,
 * wait, find-and-replace, cache-*-value, cache-lookup/cache-store, authentication-basic,
 * authentication-certificate): behaviour, defaults, failure reasons, SSRF rules, secrets kept out of
 * logs and error bodies, retry counts and cache hits observed at the backend, load-time errors with
 * positions. Plain node:http services stand in for send-request targets, a CONNECT proxy for <proxy>,
 * and a flaky reverse proxy in front of the MCP fixture for retry.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { startGateway, type RunningGateway } from './helpers/gateway.js';
import { INIT, lastMessage, post as mcpPost, session as mcpSession, toolText, type Reply } from './helpers/mcp-http.js';
import { PolicyError } from '../src/policy/errors.js';
import { ResponseInfo } from '../src/expressions/context.js';
import { checkAddress, checkUrl, guardedLookup, SsrfError } from '../src/policies/http/ssrf.js';
import { closeOutboundAgents, OutboundError, sendOutbound } from '../src/policies/http/client.js';
import { CertificateError, parseClientCertificate } from '../src/policies/http/certificate.js';
import { retryDelayMs } from '../src/policies/http/backoff.js';
import { decodeValue, encodeValue, valueKey } from '../src/policies/http/cache-codec.js';

// Test-only PKI (EC P-256, valid to 2126), made with openssl for this file: a CA, a server cert for
// localhost/127.0.0.1, and a client cert as PEM, as PEM with an encrypted key and as PFX.
const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBjzCCATWgAwIBAgIUKowXoJsosUMDUdDYsLrd0hQyti8wCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRR2F0ZWhvdXNlIFRlc3QgQ0EwIBcNMjYxMTI2MDgxNTIxWhgP
MjEyNjExMDIwODE1MjFaMBwxGjAYBgNVBAMMEUdhdGVob3VzZSBUZXN0IENBMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEOP7V4VRnVJHPGBF+VMvnXsCw5XQuUnY
/nN+qZwr5DYrUgkqh7F3z3hDxEBqQbshGYr3lInWGgf9afz84FkXL6NTMFEwHQYD
VR0OBBYEFLW9vl1XdNkgOyip6LoxtULDs3g1MB8GA1UdIwQYMBaAFLW9vl1XdNkg
Oyip6LoxtULDs3g1MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIg
EsbPhb8x5psZnlVFOqDPnL1hzbrcCHnFAVDnzpm0RgsCIQD2RWMFGRmsYThl5lWB
NQ4hJgg7iIWmH+DMYGu9AAPtJQ==
-----END CERTIFICATE-----
`;
const SERVER_CERT = `-----BEGIN CERTIFICATE-----
MIIBpzCCAU2gAwIBAgIUBxO6M5wL7PWQl26+1N3FjiNHsq0wCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRR2F0ZWhvdXNlIFRlc3QgQ0EwIBcNMjYxMTI2MDgxNTIxWhgP
MjEyNjExMDIwODE1MjFaMBQxEjAQBgNVBAMMCWxvY2FsaG9zdDBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABGgOcN+4zSeHKRL+Fy2vPFFbkZmqDVxq3rDwv/O2LXzq
L32yBNs49fDchXBiCdJyDL5mX90m7evvF6BSLbGftcOjczBxMBoGA1UdEQQTMBGC
CWxvY2FsaG9zdIcEfwAAATATBgNVHSUEDDAKBggrBgEFBQcDATAdBgNVHQ4EFgQU
ilTYFZIuVpgUlI53DxvEa2naiikwHwYDVR0jBBgwFoAUtb2+XVd02SA7KKnoujG1
QsOzeDUwCgYIKoZIzj0EAwIDSAAwRQIgAS84ZzguTIAoZpkbJNnnYepTGXBsjU4a
WiuXwOppd2ECIQDs+SSaHznlLTWMg+nhk/w6jI40aOBkiZ4Nxtt5ygxT9g==
-----END CERTIFICATE-----
`;
const SERVER_KEY = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIHY5gMNxG9jdehZKxLNlZuzay6c/S2be17i63E8Hi5QIoAoGCCqGSM49
AwEHoUQDQgAEaA5w37jNJ4cpEv4XLa88UVuRmaoNXGresPC/87YtfOovfbIE2zj1
8NyFcGIJ0nIMvmZf3Sbt6+8XoFItsZ+1ww==
-----END EC PRIVATE KEY-----
`;
const CLIENT_CERT = `-----BEGIN CERTIFICATE-----
MIIBlzCCAT2gAwIBAgIUBxO6M5wL7PWQl26+1N3FjiNHsq4wCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRR2F0ZWhvdXNlIFRlc3QgQ0EwIBcNMjYxMTI2MDgxNTIxWhgP
MjEyNjExMDIwODE1MjFaMCAxHjAcBgNVBAMMFWdhdGVob3VzZS10ZXN0LWNsaWVu
dDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNj8UK47k0zkBj0OSYFFl1fRnMCh
c5imYsf10NLynk8S1sRK0yvpKJbbzv7xOxI5qv4rDbKMdnfXrceAuq1hugqjVzBV
MBMGA1UdJQQMMAoGCCsGAQUFBwMCMB0GA1UdDgQWBBT7f5UJ6BD8JD0vQtcy0O4i
h+qSzjAfBgNVHSMEGDAWgBS1vb5dV3TZIDsoqei6MbVCw7N4NTAKBggqhkjOPQQD
AgNIADBFAiBV7J/CORJAOLBOSM7j8QI8P5Fq6kkut7TVKMx9vyB6ygIhAOVtVcg5
7yU89w9Wms1GmusogpQomun+xxRbsfZgQP8h
-----END CERTIFICATE-----
`;
const CLIENT_KEY = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIMsZLzM+NIWgxI3zexgsvtxsAPGO/zTA5sltTe0VUUKHoAoGCCqGSM49
AwEHoUQDQgAE2PxQrjuTTOQGPQ5JgUWXV9GcwKFzmKZix/XQ0vKeTxLWxErTK+ko
ltvO/vE7Ejmq/isNsox2d9etx4C6rWG6Cg==
-----END EC PRIVATE KEY-----
`;
const CLIENT_KEY_ENCRYPTED = `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAj1ATZ/ae6iBwICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEDXAhoctSXfUo7/95Ep7iWUEgZBE
uvjRryL3bGtXLOxVvBI8EZbQV9vHSAlTp9EQhTfCIjim6xa080pS8He073CFMxlc
DLhPhNaaZCRpidhjzxVx0VOqAxCkinu24MZvnyuAbHPi2UWJrOseB4Gyc5q+Mk/R
0L2Zqrrzm0+PURzv3nUyLY7Ga+niWelq/VDHS3zSxMiV68CoR0NXytlb0Emn99Y=
-----END ENCRYPTED PRIVATE KEY-----
`;
const CLIENT_KEY_PASSWORD = 'pem-pass';
const CLIENT_PFX_BASE64 = 'MIIELAIBAzCCA+IGCSqGSIb3DQEHAaCCA9MEggPPMIIDyzCCAoIGCSqGSIb3DQEHBqCCAnMwggJvAgEAMIICaAYJKoZIhvcNAQcBMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAiiOxclUYiJ+AICCAAwDAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEOhoE+qHz4CyzoLB4PybVMyAggIAUm9zQAKgy8O0Zh08b+mC8PRrBbIYSTPizODBzneYJF+ZZlqepcCden5bBT8jQ0Ffaz3xA/KbqddA1XvB0zBaSEDPQTjiilqkxSIKjWQF1znkRwsYpxObJR7YObpcApaTesGX/ftadvupgUJEYAMErkpcYZj4YA87HQR7rbx0W2babLzuIyb07Su1dEI5OAz8AUoVouqMGIdJqVH+tJls5DIUsEaqWdA8b7nNRKqTucePaBIvx+lWHVcK5tAflthUlL5VLcpnMt7wLN31rP/k2FlCl2nQe07kK+K2xmU8RGQ0Zrmj922FeTm4VeqNZ2NbxZOIrjwq7BrtOdLtobGdX6OEcmPcNN2jkBHHL0zcZGea2dHmYwstg+AzWOF7lHPzqUwFB5Iu9euLVDxFhcqWh7/Klv9lkOoKxbdlnqXGljA+1HKVxN6XZxk0H2a79ndsiNr1QF7uTRR/AfnOIi9VoIRD8KqRzrxd0B1nvhkd5hKbTSWgcfLmismbdtjzrWWPUD6um/rys+thPsPmPQjSXco78Pvz/s0qfZmVvFFjU4baZCPzu4XfGvPawEMqvSdedEcOhNcx0kAVWm8LhkVOIeqnvNQ1CQDGK9RXHE8gF9/RXVZQMvOM4ai1uC3QOgUvZhJQgn+KhMU54lpA88NBJSrlmNl3SxJMGN02MCyFVd4wggFBBgkqhkiG9w0BBwGgggEyBIIBLjCCASowggEmBgsqhkiG9w0BDAoBAqCB7zCB7DBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQIg2cS18KYSJwCAggAMAwGCCqGSIb3DQIJBQAwHQYJYIZIAWUDBAEqBBCK9+5OasRNyFEdPetGmruwBIGQtg6yJDGcbnGxiEoIKbJiKesffS4ifOZLOf2+g9g+Ukw9sb1l1IBrIhJ/PhXOPBJBE+4xtxVbJUD719ExVoDeLmXxYAPT4HYvF1Qg0XhHb+lFujUSAivh/cKBgQzCoLdVkUoLEimF8Was6MSCRhmDWz7F3Dd7aCm82bi0I/aO7bLC2xQv0TYQAVNBjVsfr5RGMSUwIwYJKoZIhvcNAQkVMRYEFCzHYKnsRWFHZzZ3y3KEaQS/+NDiMEEwMTANBglghkgBZQMEAgEFAAQgsTcPARZcHQa5VwMeRsfkWd9x5MnlZNWnjdAGtZGfGXoECKgJ2+eeSycaAgIIAA==';
const CLIENT_PFX_PASSWORD = 'pfx-pass';

/** this file's requests never follow redirects: a 3xx from the gateway is the answer under test */
const NO_REDIRECT = { redirect: 'manual' } as const;
const post = (url: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> => mcpPost(url, body, headers, NO_REDIRECT);
const session = (url: string, headers: Record<string, string> = {}): Promise<string> => mcpSession(url, headers, NO_REDIRECT);

let nextId = 100;
function call(url: string, sid: string, name: string, args: Record<string, unknown>, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): Promise<Reply> {
  return post(url, { jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name, arguments: args, ...extra } }, { 'mcp-session-id': sid, ...headers });
}

interface LastErr {
  source: string;
  reason: string;
  message: string;
  section: string;
  path: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}

// ------------------------------------------------------------------ a plain HTTP service for send-request

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  aborted: boolean;
  done: boolean;
}

interface Service {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

async function listen(server: http.Server | https.Server | net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function startService(): Promise<Service> {
  const seen: Seen[] = [];
  const sequences: Record<string, number[]> = { a: [202, 202, 200] };
  let url = '';
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Seen = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), aborted: false, done: false };
      seen.push(rec);
      res.on('close', () => {
        if (!res.writableFinished) rec.aborted = true;
      });
      const u = new URL(req.url ?? '/', 'http://x');
      const json = (status: number, v: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(v));
        rec.done = true;
      };
      if (u.pathname === '/json' || u.pathname === '/copy') return json(200, { active: true, n: 41, method: req.method, body: rec.body });
      if (u.pathname.startsWith('/status/')) return json(Number(u.pathname.slice(8)), { status: Number(u.pathname.slice(8)) });
      if (u.pathname === '/slow') {
        const t = setTimeout(() => json(200, { slow: u.searchParams.get('tag') ?? 'done' }), Number(u.searchParams.get('ms') ?? '1000'));
        res.on('close', () => clearTimeout(t));
        return;
      }
      if (u.pathname === '/redirect') {
        res.writeHead(302, { location: `${url}/landed` });
        res.end();
        return;
      }
      if (u.pathname === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(Buffer.alloc(9 * 1024 * 1024, 'x'));
        return;
      }
      if (u.pathname.startsWith('/seq/')) {
        const q = sequences[u.pathname.slice(5)] ?? [];
        return json(q.shift() ?? 200, { left: q.length });
      }
      return json(404, { error: 'not found' });
    });
  });
  const port = await listen(server);
  url = `http://127.0.0.1:${port}`;
  return { url, seen, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** an HTTP proxy that only speaks CONNECT (as undici's ProxyAgent does), recording what it was asked */
async function startProxy(): Promise<{ url: string; connects: { target: string; auth: string | undefined }[]; close(): Promise<void> }> {
  const connects: { target: string; auth: string | undefined }[] = [];
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    connects.push({ target: req.url ?? '', auth: req.headers['proxy-authorization'] });
    const [host, port] = (req.url ?? '').split(':');
    const up = net.connect(Number(port), host!, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, connects, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/**
 * A reverse proxy in front of the MCP fixture that answers 503 to the first N attempts of a
 * tools/call whose `text` argument is "fail<N>-<id>", counting attempts per id.
 */
async function startFlaky(target: string): Promise<{ url: string; attempts: Map<string, number>; close(): Promise<void> }> {
  const attempts = new Map<string, number>();
  const t = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let text: string | undefined;
      try {
        const m = JSON.parse(body.toString('utf8')) as { method?: string; params?: { arguments?: { text?: unknown } } };
        if (m.method === 'tools/call' && typeof m.params?.arguments?.text === 'string') text = m.params.arguments.text;
      } catch {
        // not JSON
      }
      const f = text ? /^fail(\d+)-(\S+)/.exec(text) : null;
      if (f) {
        const n = (attempts.get(f[2]!) ?? 0) + 1;
        attempts.set(f[2]!, n);
        if (n <= Number(f[1])) {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end('unavailable');
          return;
        }
      }
      const headers = { ...req.headers, host: t.host };
      const up = http.request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, attempts, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** a TCP port nothing listens on */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const ON_ERROR = `<on-error>
    <return-response>
      <set-status code="418" reason="Teapot" />
      <set-header name="content-type" exists-action="override"><value>application/json</value></set-header>
      <set-body>@{
        return new JObject(
          new JProperty("source", context.LastError.Source),
          new JProperty("reason", context.LastError.Reason),
          new JProperty("message", context.LastError.Message),
          new JProperty("section", context.LastError.Section),
          new JProperty("path", context.LastError.Path)
        ).ToString(Newtonsoft.Json.Formatting.None);
      }</set-body>
    </return-response>
  </on-error>`;

const when = (name: string, body: string) => `<when condition="@(context.Request.Headers.GetValueOrDefault(&quot;x-case&quot;, &quot;&quot;) == &quot;${name}&quot;)">${body}</when>`;

const RETURN_R = `<return-response response-variable-name="r" />`;

function integrationPolicies(closed: number): string {
  return `<policies>
  <inbound>
    <choose>
      ${when('return', `
        <send-request mode="new" response-variable-name="r" timeout="10">
          <set-url>{{svc}}/json</set-url>
          <set-method>POST</set-method>
          <set-header name="x-api-key" exists-action="override"><value>k1</value></set-header>
          <set-header name="content-type" exists-action="override"><value>application/json</value></set-header>
          <set-body>@("{\\"q\\":\\"" + context.Mcp.Method + "\\"}")</set-body>
        </send-request>
        ${RETURN_R}`)}
      ${when('expr', `
        <send-request mode="new" response-variable-name="r">
          <set-url>{{svc}}/json</set-url>
          <set-method>GET</set-method>
        </send-request>
        <set-header name="x-active" exists-action="override"><value>@(((IResponse)context.Variables["r"]).Body.As<JObject>(preserveContent: true)["active"].ToString())</value></set-header>
        <set-header name="x-n" exists-action="override"><value>@(((int)((IResponse)context.Variables["r"]).Body.As<JObject>(preserveContent: true)["n"] + 1).ToString())</value></set-header>
        <set-header name="x-status" exists-action="override"><value>@(((IResponse)context.Variables["r"]).StatusCode.ToString())</value></set-header>`)}
      ${when('timeout', `
        <send-request mode="new" response-variable-name="r" timeout="1" ignore-error="false">
          <set-url>{{svc}}/slow?ms=4000</set-url>
          <set-method>GET</set-method>
        </send-request>`)}
      ${when('ignore', `
        <send-request mode="new" response-variable-name="r" timeout="5" ignore-error="true">
          <set-url>http://127.0.0.1:${closed}/nothing</set-url>
          <set-method>GET</set-method>
        </send-request>
        <return-response>
          <set-header name="x-null" exists-action="override"><value>@(context.Variables["r"] == null ? "null" : "set")</value></set-header>
          <set-header name="x-has" exists-action="override"><value>@(context.Variables.ContainsKey("r") ? "yes" : "no")</value></set-header>
        </return-response>`)}
      ${when('refused', `
        <send-request mode="new" response-variable-name="r" timeout="5">
          <set-url>http://127.0.0.1:${closed}/nothing</set-url>
          <set-method>GET</set-method>
        </send-request>`)}
      ${when('metadata', `
        <send-request mode="new" response-variable-name="r" timeout="30">
          <set-url>@("http://169.254.169.254/latest/meta-data/iam")</set-url>
          <set-method>GET</set-method>
        </send-request>`)}
      ${when('mapped', `
        <send-request mode="new" response-variable-name="r" timeout="30">
          <set-url>@("http://[::ffff:169.254.169.254]/latest")</set-url>
          <set-method>GET</set-method>
        </send-request>`)}
      ${when('decimal', `
        <send-request mode="new" response-variable-name="r" timeout="30">
          <set-url>@("http://2852039166/latest")</set-url>
          <set-method>GET</set-method>
        </send-request>`)}
      ${when('creds', `
        <send-request mode="new" response-variable-name="r">
          <set-url>@("{{svc}}".Replace("http://", "http://admin:hunter2@") + "/json")</set-url>
          <set-method>GET</set-method>
        </send-request>`)}
      ${when('scheme', `
        <send-request mode="new" response-variable-name="r">
          <set-url>@("file:///etc/passwd")</set-url>
          <set-method>GET</set-method>
        </send-request>`)}
      ${when('redirect', `
        <send-request mode="new" response-variable-name="r">
          <set-url>{{svc}}/redirect</set-url>
          <set-method>GET</set-method>
        </send-request>
        ${RETURN_R}`)}
      ${when('big', `
        <send-request mode="new" response-variable-name="r">
          <set-url>{{svc}}/big</set-url>
          <set-method>GET</set-method>
        </send-request>`)}
      ${when('status500', `
        <send-request mode="new" response-variable-name="r">
          <set-url>{{svc}}/status/500</set-url>
          <set-method>GET</set-method>
        </send-request>
        ${RETURN_R}`)}
      ${when('copy', `
        <send-request mode="copy" response-variable-name="r">
          <set-url>{{svc}}/copy</set-url>
          <set-header name="x-added" exists-action="override"><value>added</value></set-header>
        </send-request>`)}
      ${when('proxy', `
        <send-request mode="new" response-variable-name="r">
          <set-url>{{svc}}/json</set-url>
          <set-method>GET</set-method>
          <proxy url="{{proxy}}" username="proxy-user" password="proxy-pw" />
        </send-request>
        ${RETURN_R}`)}
      ${when('retry-var', `
        <retry condition="@(((IResponse)context.Variables[&quot;r&quot;]).StatusCode == 202)" count="5" interval="0">
          <send-request mode="new" response-variable-name="r">
            <set-url>{{svc}}/seq/a</set-url>
            <set-method>GET</set-method>
          </send-request>
        </retry>
        ${RETURN_R}`)}
      ${when('wait-all', `
        <wait for="all">
          <send-request mode="new" response-variable-name="a">
            <set-url>{{svc}}/slow?ms=600&amp;tag=a</set-url>
            <set-method>GET</set-method>
          </send-request>
          <send-request mode="new" response-variable-name="b">
            <set-url>{{svc}}/slow?ms=600&amp;tag=b</set-url>
            <set-method>GET</set-method>
          </send-request>
          <choose>
            <when condition="@(true)">
              <cache-lookup-value key="wait-key" variable-name="c" default-value="from-default" />
            </when>
          </choose>
        </wait>
        <return-response>
          <set-header name="x-a" exists-action="override"><value>@(((IResponse)context.Variables["a"]).Body.As<JObject>()["slow"].ToString())</value></set-header>
          <set-header name="x-b" exists-action="override"><value>@(((IResponse)context.Variables["b"]).Body.As<JObject>()["slow"].ToString())</value></set-header>
          <set-header name="x-c" exists-action="override"><value>@((string)context.Variables["c"])</value></set-header>
        </return-response>`)}
      ${when('wait-all-fail', `
        <wait for="all">
          <send-request mode="new" response-variable-name="a">
            <set-url>{{svc}}/slow?ms=100&amp;tag=a</set-url>
            <set-method>GET</set-method>
          </send-request>
          <send-request mode="new" response-variable-name="b">
            <set-url>http://127.0.0.1:${closed}/x</set-url>
            <set-method>GET</set-method>
          </send-request>
        </wait>`)}
      ${when('wait-any', `
        <wait for="any">
          <send-request mode="new" response-variable-name="fast">
            <set-url>{{svc}}/slow?ms=50&amp;tag=fast</set-url>
            <set-method>GET</set-method>
          </send-request>
          <send-request mode="new" response-variable-name="slow">
            <set-url>{{svc}}/slow?ms=2500&amp;tag=slow</set-url>
            <set-method>GET</set-method>
          </send-request>
        </wait>
        <return-response>
          <set-header name="x-fast" exists-action="override"><value>@(context.Variables.ContainsKey("fast") ? "yes" : "no")</value></set-header>
          <set-header name="x-slow" exists-action="override"><value>@(context.Variables.ContainsKey("slow") ? "yes" : "no")</value></set-header>
        </return-response>`)}
      ${when('one-way', `
        <send-one-way-request mode="new" timeout="10">
          <set-url>{{svc}}/slow?ms=3000&amp;tag=oneway</set-url>
          <set-method>POST</set-method>
          <set-body>@(context.Mcp.Method)</set-body>
        </send-one-way-request>
        <return-response><set-status code="200" reason="OK" /><set-body>sent</set-body></return-response>`)}
      ${when('one-way-fail', `
        <send-one-way-request mode="new">
          <set-url>http://127.0.0.1:${closed}/secret-path?token=abc123</set-url>
          <set-method>POST</set-method>
        </send-one-way-request>
        <send-one-way-request mode="new">
          <set-url>@("http://169.254.169.254/one-way")</set-url>
          <set-method>POST</set-method>
        </send-one-way-request>
        <return-response><set-status code="200" reason="OK" /><set-body>sent</set-body></return-response>`)}
      ${when('fr-in', `<find-and-replace from="REPLACE_ME" to="replaced" />`)}
      ${when('cv-store', `
        <cache-store-value key="t-s" value="hello" duration="60" />
        <cache-store-value key="t-n" value="@(41)" duration="60" />
        <cache-store-value key="t-b" value="@(true)" duration="60" />
        <cache-store-value key="t-o" value="@(new JObject(new JProperty(&quot;a&quot;, 7)))" duration="60" />
        <cache-store-value key="t-short" value="gone soon" duration="1" />
        <return-response><set-status code="204" reason="No Content" /></return-response>`)}
      ${when('cv-lookup', `
        <cache-lookup-value key="t-s" variable-name="s" />
        <cache-lookup-value key="t-n" variable-name="n" />
        <cache-lookup-value key="t-b" variable-name="b" />
        <cache-lookup-value key="t-o" variable-name="o" />
        <cache-lookup-value key="t-short" variable-name="short" />
        <cache-lookup-value key="t-miss" variable-name="miss" />
        <cache-lookup-value key="t-miss" variable-name="m2" default-value="dflt" />
        <return-response>
          <set-header name="x-s" exists-action="override"><value>@(context.Variables.ContainsKey("s") ? (string)context.Variables["s"] : "unset")</value></set-header>
          <set-header name="x-n" exists-action="override"><value>@(context.Variables.ContainsKey("n") ? ((int)context.Variables["n"] + 1).ToString() : "unset")</value></set-header>
          <set-header name="x-b" exists-action="override"><value>@(context.Variables.ContainsKey("b") ? ((bool)context.Variables["b"] ? "yes" : "no") : "unset")</value></set-header>
          <set-header name="x-o" exists-action="override"><value>@(context.Variables.ContainsKey("o") ? ((JObject)context.Variables["o"])["a"].ToString() : "unset")</value></set-header>
          <set-header name="x-short" exists-action="override"><value>@(context.Variables.ContainsKey("short") ? (string)context.Variables["short"] : "unset")</value></set-header>
          <set-header name="x-miss" exists-action="override"><value>@(context.Variables.ContainsKey("miss") ? "set" : "unset")</value></set-header>
          <set-header name="x-m2" exists-action="override"><value>@((string)context.Variables["m2"])</value></set-header>
        </return-response>`)}
      ${when('cv-remove', `
        <cache-remove-value key="t-s" />
        <cache-remove-value key="never-stored" />
        <return-response><set-status code="204" reason="No Content" /></return-response>`)}
      ${when('cert-ok', `
        <set-variable name="cert" value="{{pfx}}" />
        <authentication-certificate body="@(Convert.FromBase64String((string)context.Variables[&quot;cert&quot;]))" password="{{pfx-pw}}" />
        <return-response><set-status code="204" reason="No Content" /></return-response>`)}
      ${when('cert-bad', `
        <authentication-certificate body="@(Convert.FromBase64String(&quot;{{pfx}}&quot;))" password="@(&quot;wrong-&quot; + &quot;{{pfx-pw}}&quot;)" />`)}
      ${when('cv-bad', `<cache-store-value key="t-r" value="@(context.Request)" duration="60" />`)}
    </choose>
  </inbound>
  <backend><forward-request /></backend>
  <outbound>
    <choose>
      ${when('fr-out', `<find-and-replace from="hello" to="bye" />`)}
    </choose>
  </outbound>
  ${ON_ERROR}
</policies>`;
}

const RETRY_503 = `<policies>
  <inbound><base /></inbound>
  <backend>
    <retry condition="@(context.Response.StatusCode == 503)" count="2" interval="0" first-fast-retry="true">
      <forward-request />
    </retry>
  </backend>
</policies>`;

const RETRY_503_OUTBOUND = `<policies>
  <backend>
    <retry condition="@(context.Response.StatusCode == 503)" count="3" interval="1" first-fast-retry="false">
      <forward-request />
    </retry>
  </backend>
  <outbound><set-header name="x-outbound" exists-action="override"><value>yes</value></set-header></outbound>
</policies>`;

const RETRY_ALWAYS = `<policies>
  <backend>
    <retry condition="@(true)" count="3" interval="0">
      <forward-request />
    </retry>
  </backend>
</policies>`;

const RETRY_429 = `<policies>
  <backend>
    <retry condition="@(context.Response.StatusCode == 429)" count="3" interval="0">
      <forward-request />
    </retry>
  </backend>
  ${ON_ERROR}
</policies>`;

const RESPONSE_CACHE = `<policies>
  <inbound>
    <base />
    <cache-lookup vary-by-developer="false" vary-by-developer-groups="false" downstream-caching-type="private" must-revalidate="true" caching-type="internal">
      <vary-by-header>x-tenant</vary-by-header>
    </cache-lookup>
  </inbound>
  <outbound>
    <base />
    <cache-store duration="60" />
  </outbound>
</policies>`;

const RESPONSE_CACHE_PRIVATE = `<policies>
  <inbound>
    <base />
    <cache-lookup vary-by-developer="false" vary-by-developer-groups="false" allow-private-response-caching="true">
      <vary-by-header>Authorization</vary-by-header>
    </cache-lookup>
  </inbound>
  <outbound>
    <base />
    <cache-store duration="60" />
  </outbound>
</policies>`;

const BASIC = `<policies>
  <inbound>
    <authentication-basic username="svc-user" password="{{basic-pw}}" />
    <choose>
      <when condition="@(context.Request.Headers.GetValueOrDefault(&quot;x-fail&quot;, &quot;&quot;) == &quot;yes&quot;)">
        <check-header name="x-never-sent" failed-check-httpcode="401" failed-check-error-message="missing x-never-sent" ignore-case="true" />
      </when>
    </choose>
  </inbound>
  <backend><forward-request /></backend>
</policies>`;

const BASIC_PASSWORD = 'S3cr3t-Basic-Pw!';

describe('integration policies through the gateway', () => {
  let fixture: EverythingServer;
  let svc: Service;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let flaky: Awaited<ReturnType<typeof startFlaky>>;
  let gw: RunningGateway;
  let closed: number;
  const u = (server: string) => `${gw.url}/${server}/mcp`;

  before(async () => {
    fixture = await startEverythingServer({ transport: 'streamable-http' });
    svc = await startService();
    proxy = await startProxy();
    flaky = await startFlaky(fixture.url);
    closed = await closedPort();
    const flakyUrl = `${flaky.url}${new URL(fixture.url).pathname}`;
    gw = await startGateway({
      namedValues: { svc: svc.url, proxy: proxy.url, 'basic-pw': { value: BASIC_PASSWORD, secret: true }, pfx: CLIENT_PFX_BASE64, 'pfx-pw': { value: CLIENT_PFX_PASSWORD, secret: true } },
      servers: [
        { name: 'int', type: 'passthrough', backend: { url: fixture.url }, policies: integrationPolicies(closed) },
        { name: 'rt', type: 'passthrough', backend: { url: flakyUrl }, policies: RETRY_503 },
        { name: 'rto', type: 'passthrough', backend: { url: flakyUrl }, policies: RETRY_503_OUTBOUND },
        { name: 'rt429', type: 'passthrough', backend: { url: flakyUrl }, policies: RETRY_429 },
        { name: 'rtall', type: 'passthrough', backend: { url: flakyUrl }, policies: RETRY_ALWAYS },
        {
          name: 'rc',
          type: 'passthrough',
          backend: { url: fixture.url },
          tools: [
            { name: 'echo', policies: RESPONSE_CACHE },
            { name: 'test_error_handling', policies: RESPONSE_CACHE },
            { name: 'test_simple_text', policies: RESPONSE_CACHE_PRIVATE },
          ],
        },
        { name: 'basic', type: 'passthrough', backend: { url: fixture.url }, policies: BASIC },
      ],
    });
  });

  after(async () => {
    await gw?.close();
    await closeOutboundAgents();
    await Promise.all([fixture?.close(), svc?.close(), proxy?.close(), flaky?.close()]);
  });

  describe('send-request', () => {
    it('sends the request its children build and stores an IResponse that return-response answers with', async () => {
      const r = await post(u('int'), INIT, { 'x-case': 'return' });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { active: true, n: 41, method: 'POST', body: '{"q":"initialize"}' });
      assert.equal(r.headers.get('content-type'), 'application/json');
      const seen = svc.seen.filter((s) => s.path === '/json' && s.method === 'POST').at(-1)!;
      assert.equal(seen.headers['x-api-key'], 'k1');
      assert.equal(seen.headers['content-type'], 'application/json');
    });

    it('expressions read the stored response: ((IResponse)context.Variables["r"]).Body.As<JObject>()', async () => {
      const sid = await session(u('int'));
      const r = await call(u('int'), sid, 'headers', {}, { 'x-case': 'expr' });
      assert.equal(r.status, 200, r.text);
      const backendSaw = JSON.parse(toolText(r)) as Record<string, string>;
      assert.equal(backendSaw['x-active'], 'True');
      assert.equal(backendSaw['x-n'], '42');
      assert.equal(backendSaw['x-status'], '200');
    });

    it('an error status of the target is a response, not a failure', async () => {
      const r = await post(u('int'), INIT, { 'x-case': 'status500' });
      assert.equal(r.status, 500);
      assert.deepEqual(r.json, { status: 500 });
    });

    it('times out after `timeout` seconds and goes to on-error with reason Timeout', async () => {
      const r = await post(u('int'), INIT, { 'x-case': 'timeout' });
      assert.equal(r.status, 418, r.text);
      const e = r.json as LastErr;
      assert.equal(e.source, 'send-request');
      assert.equal(e.reason, 'Timeout');
      assert.equal(e.section, 'inbound');
      assert.match(e.path, /^choose\[1\]\/when\[\d+\]\/send-request\[1\]$/);
      assert.match(e.message, /timed out after 1 s/);
      assert.ok(r.ms >= 900 && r.ms < 3000, `took ${r.ms} ms`);
    });

    it('a refused connection is SendRequestFailure; with ignore-error="true" the variable is null instead', async () => {
      const f = await post(u('int'), INIT, { 'x-case': 'refused' });
      assert.equal(f.status, 418);
      assert.equal((f.json as LastErr).reason, 'SendRequestFailure');
      assert.match((f.json as LastErr).message, /connection refused/);
      assert.doesNotMatch(f.text, /\/nothing/, 'the message names the host, not the path');
      const r = await post(u('int'), INIT, { 'x-case': 'ignore' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-null'), 'null');
      assert.equal(r.headers.get('x-has'), 'yes');
    });

    it('never reaches link-local / cloud metadata addresses, however spelled (no request is attempted)', async () => {
      for (const c of ['metadata', 'mapped', 'decimal']) {
        const r = await post(u('int'), INIT, { 'x-case': c });
        assert.equal(r.status, 418, `${c}: ${r.text}`);
        const e = r.json as LastErr;
        assert.equal(e.reason, 'DestinationBlocked', c);
        assert.match(e.message, /link-local, cloud metadata and reserved addresses are never reachable/, c);
        // refused before any connection attempt: a real attempt at 169.254.169.254 would hang until the 30 s timeout
        assert.ok(r.ms < 1000, `${c} took ${r.ms} ms`);
      }
    });

    it('refuses URLs with credentials or other schemes, without echoing them', async () => {
      const before = svc.seen.length;
      const r = await post(u('int'), INIT, { 'x-case': 'creds' });
      assert.equal(r.status, 418);
      assert.equal((r.json as LastErr).reason, 'DestinationBlocked');
      assert.match((r.json as LastErr).message, /must not contain credentials/);
      assert.doesNotMatch(r.text, /hunter2/);
      assert.ok(gw.logs.every((l) => !l.includes('hunter2')));
      const s = await post(u('int'), INIT, { 'x-case': 'scheme' });
      assert.equal((s.json as LastErr).reason, 'DestinationBlocked');
      assert.match((s.json as LastErr).message, /must use http or https, not file/);
      assert.equal(svc.seen.length, before);
    });

    it('does not follow redirects: the 3xx is the response', async () => {
      const r = await post(u('int'), INIT, { 'x-case': 'redirect' });
      assert.equal(r.status, 302);
      assert.equal(r.headers.get('location'), `${svc.url}/landed`);
      assert.ok(svc.seen.every((s) => s.path !== '/landed'));
    });

    it('fails when the response is larger than the limit', async () => {
      const r = await post(u('int'), INIT, { 'x-case': 'big' });
      assert.equal(r.status, 418);
      assert.equal((r.json as LastErr).reason, 'SendRequestFailure');
      assert.match((r.json as LastErr).message, /larger than 8388608 bytes/);
    });

    it('mode="copy" copies method, body and headers, but not the client credentials or session id', async () => {
      const sid = await session(u('int'));
      const r = await call(u('int'), sid, 'echo', { text: 'copied' }, { 'x-case': 'copy', 'x-custom': 'yes', authorization: 'Bearer client-secret-token', cookie: 'c=1' });
      assert.equal(r.status, 200, r.text);
      assert.equal(toolText(r), 'copied');
      const seen = svc.seen.filter((s) => s.path === '/copy').at(-1)!;
      assert.equal(seen.method, 'POST');
      assert.equal((JSON.parse(seen.body) as { params: { arguments: { text: string } } }).params.arguments.text, 'copied');
      assert.equal(seen.headers['x-custom'], 'yes');
      assert.equal(seen.headers['x-added'], 'added');
      assert.equal(seen.headers.authorization, undefined);
      assert.equal(seen.headers.cookie, undefined);
      assert.equal(seen.headers['mcp-session-id'], undefined);
      assert.equal(seen.headers.host, new URL(svc.url).host);
    });

    it('goes through a <proxy> (CONNECT, basic credentials)', async () => {
      const r = await post(u('int'), INIT, { 'x-case': 'proxy' });
      assert.equal(r.status, 200, r.text);
      assert.equal((r.json as { active: boolean }).active, true);
      const c = proxy.connects.at(-1)!;
      assert.equal(c.target, new URL(svc.url).host);
      assert.equal(c.auth, `Basic ${Buffer.from('proxy-user:proxy-pw').toString('base64')}`);
      assert.ok(gw.logs.every((l) => !l.includes('proxy-pw')));
    });
  });

  describe('send-one-way-request', () => {
    it('never delays the response; the request still arrives', async () => {
      const before = svc.seen.filter((s) => s.path.includes('tag=oneway')).length;
      const r = await post(u('int'), INIT, { 'x-case': 'one-way' });
      assert.equal(r.status, 200);
      assert.equal(r.text, 'sent');
      assert.ok(r.ms < 2000, `answered after ${r.ms} ms although the target takes 3 s`);
      await until(() => svc.seen.filter((s) => s.path.includes('tag=oneway')).length > before, 5000);
      const seen = svc.seen.filter((s) => s.path.includes('tag=oneway')).at(-1)!;
      assert.equal(seen.method, 'POST');
      assert.equal(seen.body, 'initialize');
    });

    it('failures are only logged (host and reason, never the path or query)', async () => {
      const r = await post(u('int'), INIT, { 'x-case': 'one-way-fail' });
      assert.equal(r.status, 200);
      await until(() => gw.logs.filter((l) => l.includes('send-one-way-request failed')).length >= 2);
      const lines = gw.logs.filter((l) => l.includes('send-one-way-request failed'));
      assert.ok(lines.some((l) => /"reason":"failure"/.test(l) && l.includes('connection refused')));
      assert.ok(lines.some((l) => /"reason":"blocked"/.test(l)));
      assert.ok(lines.every((l) => !l.includes('secret-path') && !l.includes('abc123')));
    });
  });

  describe('retry', () => {
    it('re-sends the request to the backend while the condition holds (503, 503, then 200)', async () => {
      const sid = await session(u('rt'));
      const r = await call(u('rt'), sid, 'echo', { text: 'fail2-a1' });
      assert.equal(r.status, 200, r.text);
      assert.equal(toolText(r), 'fail2-a1');
      assert.equal(flaky.attempts.get('a1'), 3);
    });

    it('stops after `count` retries and the backend error goes on as without retry', async () => {
      const sid = await session(u('rt'));
      const r = await call(u('rt'), sid, 'echo', { text: 'fail9-a2' });
      assert.equal(r.status, 502, r.text);
      assert.match(r.text, /failed \(HTTP 503\)/);
      assert.equal(flaky.attempts.get('a2'), 3, 'the first try and count=2 retries');
    });

    it('does not retry when the condition is false; on-error sees the forward-request failure', async () => {
      const sid = await session(u('rt429'));
      const r = await call(u('rt429'), sid, 'echo', { text: 'fail1-a3' });
      assert.equal(r.status, 418, r.text);
      assert.equal((r.json as LastErr).source, 'forward-request');
      assert.equal((r.json as LastErr).path, 'retry[1]/forward-request[1]');
      assert.equal(flaky.attempts.get('a3'), 1);
    });

    it('waits `interval` seconds between tries, also when outbound policies take the answer', async () => {
      const sid = await session(u('rto'));
      const r = await call(u('rto'), sid, 'echo', { text: 'fail1-a4' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-outbound'), 'yes');
      assert.equal(toolText(r), 'fail1-a4');
      assert.equal(flaky.attempts.get('a4'), 2);
      assert.ok(r.ms >= 950, `retried after ${r.ms} ms`);
    });

    it('a condition that stays true re-sends count more times and answers with the last response', async () => {
      // with a retry in the backend section the answer comes back to the pipeline (never streamed early),
      // so the condition decides: 1 try + count retries
      const sid = await session(u('rtall'));
      const r = await call(u('rtall'), sid, 'echo', { text: 'fail0-a5' });
      assert.equal(r.status, 200, r.text);
      assert.equal(toolText(r), 'fail0-a5');
      assert.equal(flaky.attempts.get('a5'), 4);
    });

    it('repeats send-request while its response says so (APIM polling pattern)', async () => {
      const before = svc.seen.filter((s) => s.path === '/seq/a').length;
      const r = await post(u('int'), INIT, { 'x-case': 'retry-var' });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { left: 0 });
      assert.equal(svc.seen.filter((s) => s.path === '/seq/a').length - before, 3);
    });

    it('computes APIM\'s fixed, linear and exponential waits', () => {
      assert.deepEqual([1, 2, 3].map((n) => retryDelayMs(n, { interval: 2, firstFastRetry: false })), [2000, 2000, 2000]);
      assert.deepEqual([1, 2, 3].map((n) => retryDelayMs(n, { interval: 1, delta: 2, firstFastRetry: false })), [1000, 3000, 5000]);
      const exp = [1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, { interval: 10, delta: 10, maxInterval: 100, firstFastRetry: false }, () => 0.5));
      assert.deepEqual(exp, [10_000, 20_000, 40_000, 80_000, 100_000, 100_000]);
      assert.equal(retryDelayMs(1, { interval: 10, firstFastRetry: true }), 0);
      assert.equal(retryDelayMs(2, { interval: 10, firstFastRetry: true }), 10_000);
      const lo = retryDelayMs(3, { interval: 0, delta: 10, maxInterval: 1000, firstFastRetry: false }, () => 0);
      const hi = retryDelayMs(3, { interval: 0, delta: 10, maxInterval: 1000, firstFastRetry: false }, () => 1);
      assert.deepEqual([lo, hi], [24_000, 36_000], 'random(0.8·delta, 1.2·delta)');
    });
  });

  describe('wait', () => {
    it('for="all" runs send-request, cache-lookup-value and choose children concurrently', async () => {
      const r = await post(u('int'), INIT, { 'x-case': 'wait-all' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-a'), 'a');
      assert.equal(r.headers.get('x-b'), 'b');
      assert.equal(r.headers.get('x-c'), 'from-default');
      assert.ok(r.ms < 1150, `two 600 ms calls took ${r.ms} ms (one after the other would take 1200 ms)`);
    });

    it('for="all" raises a child\'s error with that child\'s path', async () => {
      const r = await post(u('int'), INIT, { 'x-case': 'wait-all-fail' });
      assert.equal(r.status, 418, r.text);
      const e = r.json as LastErr;
      assert.equal(e.reason, 'SendRequestFailure');
      assert.match(e.path, /wait\[1\]\/send-request\[2\]$/);
    });

    it('for="any" finishes with the first child and cancels the others', async () => {
      const r = await post(u('int'), INIT, { 'x-case': 'wait-any' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-fast'), 'yes');
      assert.equal(r.headers.get('x-slow'), 'no');
      assert.ok(r.ms < 1500, `took ${r.ms} ms`);
      await until(() => svc.seen.some((s) => s.path.includes('tag=slow') && s.aborted));
    });
  });

  describe('find-and-replace', () => {
    it('rewrites the request body inbound and the response body outbound', async () => {
      const sid = await session(u('int'));
      const a = await call(u('int'), sid, 'echo', { text: 'REPLACE_ME and REPLACE_ME' }, { 'x-case': 'fr-in' });
      assert.equal(toolText(a), 'replaced and replaced');
      const b = await call(u('int'), sid, 'echo', { text: 'hello world, hello' }, { 'x-case': 'fr-out' });
      assert.equal(b.status, 200, b.text);
      assert.equal(toolText(b), 'bye world, bye');
      assert.deepEqual(fixture.toolCalls.filter((c) => c.name === 'echo').map((c) => c.arguments.text).slice(-2), ['replaced and replaced', 'hello world, hello']);
    });
  });

  describe('cache-lookup-value / cache-store-value / cache-remove-value', () => {
    it('values come back with their type; a miss sets default-value or nothing', async () => {
      const s = await post(u('int'), INIT, { 'x-case': 'cv-store' });
      assert.equal(s.status, 204, s.text);
      const r = await post(u('int'), INIT, { 'x-case': 'cv-lookup' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-s'), 'hello');
      assert.equal(r.headers.get('x-n'), '42');
      assert.equal(r.headers.get('x-b'), 'yes');
      assert.equal(r.headers.get('x-o'), '7');
      assert.equal(r.headers.get('x-short'), 'gone soon');
      assert.equal(r.headers.get('x-miss'), 'unset');
      assert.equal(r.headers.get('x-m2'), 'dflt');
    });

    it('cache-remove-value removes; duration expires', async () => {
      await post(u('int'), INIT, { 'x-case': 'cv-store' });
      const d = await post(u('int'), INIT, { 'x-case': 'cv-remove' });
      assert.equal(d.status, 204);
      await sleep(1100);
      const r = await post(u('int'), INIT, { 'x-case': 'cv-lookup' });
      assert.equal(r.headers.get('x-s'), 'unset');
      assert.equal(r.headers.get('x-short'), 'unset');
      assert.equal(r.headers.get('x-n'), '42');
    });

    it('keys are hashed in the cache and a value that cannot be cached is an error', async () => {
      assert.match(valueKey('t-s'), /^gh:cv:[A-Za-z0-9_-]{43}$/);
      const r = await post(u('int'), INIT, { 'x-case': 'cv-bad' });
      assert.equal(r.status, 418);
      assert.equal((r.json as LastErr).reason, 'CacheValueNotSupported');
      assert.match((r.json as LastErr).message, /a value of type IRequest cannot be cached/);
    });
  });

  describe('cache-lookup / cache-store (MCP response caching)', () => {
    const echoCalls = (text: string) => fixture.toolCalls.filter((c) => c.name === 'echo' && c.arguments.text === text).length;

    it('a hit answers from the cache with the current request id, without calling the backend', async () => {
      const s1 = await session(u('rc'));
      const a = await call(u('rc'), s1, 'echo', { text: 'cached-a' });
      assert.equal(a.status, 200, a.text);
      assert.equal(toolText(a), 'cached-a');
      assert.match(a.headers.get('cache-control') ?? '', /^private, max-age=60, must-revalidate$/);
      const s2 = await session(u('rc'));
      const b = await post(u('rc'), { jsonrpc: '2.0', id: 'second', method: 'tools/call', params: { arguments: { text: 'cached-a' }, name: 'echo', _meta: { progressToken: 'p-9' } } }, { 'mcp-session-id': s2 });
      assert.equal(b.status, 200, b.text);
      assert.equal(b.headers.get('content-type'), 'application/json');
      assert.deepEqual(lastMessage(b.text), { jsonrpc: '2.0', id: 'second', result: lastMessage(a.text).result });
      assert.match(b.headers.get('cache-control') ?? '', /^private, max-age=(59|60), must-revalidate$/);
      assert.equal(echoCalls('cached-a'), 1, 'one backend call for two requests');
    });

    it('misses for other arguments and for other values of a vary-by-header', async () => {
      const sid = await session(u('rc'));
      await call(u('rc'), sid, 'echo', { text: 'cached-b' });
      await call(u('rc'), sid, 'echo', { text: 'cached-c' });
      await call(u('rc'), sid, 'echo', { text: 'cached-b' }, { 'x-tenant': 't1' });
      await call(u('rc'), sid, 'echo', { text: 'cached-b' }, { 'x-tenant': 't1' });
      await call(u('rc'), sid, 'echo', { text: 'cached-b' });
      assert.equal(echoCalls('cached-b'), 2, 'once without x-tenant, once with x-tenant: t1');
      assert.equal(echoCalls('cached-c'), 1);
    });

    it('never caches errors, or requests with Authorization unless allow-private-response-caching', async () => {
      const sid = await session(u('rc'));
      const before = fixture.toolCalls.filter((c) => c.name === 'test_error_handling').length;
      const e1 = await call(u('rc'), sid, 'test_error_handling', {});
      const e2 = await call(u('rc'), sid, 'test_error_handling', {});
      assert.equal((lastMessage(e1.text).result as { isError: boolean }).isError, true);
      assert.equal((lastMessage(e2.text).result as { isError: boolean }).isError, true);
      assert.equal(fixture.toolCalls.filter((c) => c.name === 'test_error_handling').length - before, 2);

      await call(u('rc'), sid, 'echo', { text: 'with-auth' }, { authorization: 'Bearer t' });
      await call(u('rc'), sid, 'echo', { text: 'with-auth' }, { authorization: 'Bearer t' });
      assert.equal(echoCalls('with-auth'), 2);

      const simple = () => fixture.toolCalls.filter((c) => c.name === 'test_simple_text').length;
      const s0 = simple();
      await call(u('rc'), sid, 'test_simple_text', {}, { authorization: 'Bearer u1' });
      await call(u('rc'), sid, 'test_simple_text', {}, { authorization: 'Bearer u1' });
      await call(u('rc'), sid, 'test_simple_text', {}, { authorization: 'Bearer u2' });
      assert.equal(simple() - s0, 2, 'cached per Authorization value');
    });
  });

  describe('authentication-certificate', () => {
    it('accepts a byte[] PFX body with its password at run time; a bad one fails with CertificateInvalid, no secret shown', async () => {
      const ok = await post(u('int'), INIT, { 'x-case': 'cert-ok' });
      assert.equal(ok.status, 204, ok.text);
      const bad = await post(u('int'), INIT, { 'x-case': 'cert-bad' });
      assert.equal(bad.status, 418, bad.text);
      const e = bad.json as LastErr;
      assert.equal(e.source, 'authentication-certificate');
      assert.equal(e.reason, 'CertificateInvalid');
      assert.match(e.message, /not a valid PFX \(PKCS#12\) file, or its password is wrong/);
      assert.ok(!bad.text.includes(CLIENT_PFX_PASSWORD));
      assert.ok(gw.logs.every((l) => !l.includes(CLIENT_PFX_PASSWORD)));
    });
  });

  describe('authentication-basic', () => {
    it('sets the backend Authorization header; the password appears in no log line or error body', async () => {
      const sid = await session(u('basic'), { authorization: 'Bearer client-token' });
      const r = await call(u('basic'), sid, 'headers', {}, { authorization: 'Bearer client-token' });
      assert.equal(r.status, 200, r.text);
      const expected = `Basic ${Buffer.from(`svc-user:${BASIC_PASSWORD}`).toString('base64')}`;
      assert.equal((JSON.parse(toolText(r)) as Record<string, string>).authorization, expected);
      const f = await call(u('basic'), sid, 'headers', {}, { 'x-fail': 'yes' });
      assert.equal(f.status, 401);
      for (const secret of [BASIC_PASSWORD, expected.slice(6)]) {
        assert.ok(!f.text.includes(secret));
        assert.ok(gw.logs.every((l) => !l.includes(secret)), 'no log line holds the password or the encoded credentials');
      }
    });
  });
});

describe('SSRF with GATEHOUSE_SSRF_BLOCK_PRIVATE=1', () => {
  let svc: Service;
  let gw: RunningGateway;
  const POL = (url: string) => `<policies><inbound>
    <send-request mode="new" response-variable-name="r"><set-url>${url}</set-url><set-method>GET</set-method></send-request>
    <return-response response-variable-name="r" />
  </inbound>${ON_ERROR}</policies>`;

  before(async () => {
    svc = await startService();
    const prev = process.env.GATEHOUSE_SSRF_BLOCK_PRIVATE;
    process.env.GATEHOUSE_SSRF_BLOCK_PRIVATE = '1';
    try {
      gw = await startGateway({
        namedValues: { svc: svc.url },
        servers: [
          { name: 'ip', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: POL('@("{{svc}}/json")') },
          { name: 'name', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: POL('@("{{svc}}/json".Replace("127.0.0.1", "localhost"))') },
        ],
      });
    } finally {
      if (prev === undefined) delete process.env.GATEHOUSE_SSRF_BLOCK_PRIVATE;
      else process.env.GATEHOUSE_SSRF_BLOCK_PRIVATE = prev;
    }
  });
  after(async () => {
    await gw?.close();
    await svc?.close();
  });

  it('blocks loopback targets by address and by name; nothing reaches them', async () => {
    for (const server of ['ip', 'name']) {
      const r = await post(`${gw.url}/${server}/mcp`, INIT);
      assert.equal(r.status, 418, r.text);
      assert.equal((r.json as LastErr).reason, 'DestinationBlocked');
      assert.match((r.json as LastErr).message, /loopback and private addresses are blocked/);
    }
    assert.equal(svc.seen.length, 0);
  });

  it('a literal private URL is a load-time error then', async () => {
    const prev = process.env.GATEHOUSE_SSRF_BLOCK_PRIVATE;
    process.env.GATEHOUSE_SSRF_BLOCK_PRIVATE = '1';
    try {
      await assert.rejects(
        startGateway({ servers: [{ name: 'x', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: POL('http://10.1.2.3/x') }] }),
        /2:66: <set-url>: 10\.1\.2\.3: loopback and private addresses are blocked/,
      );
    } finally {
      if (prev === undefined) delete process.env.GATEHOUSE_SSRF_BLOCK_PRIVATE;
      else process.env.GATEHOUSE_SSRF_BLOCK_PRIVATE = prev;
    }
  });
});

describe('SSRF address rules', () => {
  const open = { blockPrivate: false };
  const strict = { blockPrivate: true };
  it('classifies addresses', () => {
    const always = ['169.254.169.254', '169.254.0.1', 'fe80::1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '64:ff9b::a9fe:a9fe', '2002:a9fe:a9fe::1', 'fd00:ec2::254', '168.63.129.16', '100.100.100.200', '0.0.0.0', '::', '224.0.0.1', '255.255.255.255'];
    for (const a of always) {
      assert.ok(checkAddress(a, open), `${a} is always blocked`);
      assert.ok(checkAddress(a, strict), `${a} is always blocked`);
    }
    for (const a of ['127.0.0.1', '10.0.0.5', '172.16.3.4', '192.168.1.1', '::1', 'fd12::1', '::ffff:127.0.0.1', '100.64.0.1']) {
      assert.equal(checkAddress(a, open), undefined, `${a} is allowed by default`);
      assert.ok(checkAddress(a, strict), `${a} is blocked with GATEHOUSE_SSRF_BLOCK_PRIVATE`);
    }
    for (const a of ['8.8.8.8', '2606:4700::1111', '172.32.0.1']) {
      assert.equal(checkAddress(a, strict), undefined, `${a} is public`);
    }
  });

  it('normalises URL spellings before checking', () => {
    for (const url of ['http://0251.0376.0251.0376/', 'http://0xa9fea9fe/', 'http://2852039166/', 'http://169.254.169.254./', 'http://[::ffff:169.254.169.254]/', 'http://metadata.google.internal/computeMetadata/v1/']) {
      assert.throws(() => checkUrl(url, open), SsrfError, url);
    }
    assert.throws(() => checkUrl('ftp://example.com/', open), /must use http or https/);
    assert.throws(() => checkUrl('https://u:p@example.com/', open), /must not contain credentials/);
    assert.equal(checkUrl('https://example.com/a?b=1', strict).host, 'example.com');
  });

  it('checks every resolved address in the connection lookup', async () => {
    const lookup = guardedLookup(strict) as unknown as (h: string, o: object, cb: (err: Error | null, a?: unknown) => void) => void;
    const err = await new Promise<Error | null>((resolve) => lookup('localhost', { all: true }, (e) => resolve(e)));
    assert.ok(err instanceof SsrfError, String(err));
    const ok = await new Promise<unknown>((resolve, reject) => (guardedLookup(open) as unknown as typeof lookup)('localhost', { all: true }, (e, a) => (e ? reject(e) : resolve(a))));
    assert.ok(Array.isArray(ok) && ok.length > 0);
  });
});

describe('client certificates', () => {
  let server: https.Server;
  let url: string;
  before(async () => {
    server = https.createServer({ cert: SERVER_CERT, key: SERVER_KEY, ca: CA_PEM, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ cn: peer.subject?.CN }));
    });
    url = `https://127.0.0.1:${await listen(server)}/whoami`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const send = (cert?: ReturnType<typeof parseClientCertificate>) =>
    sendOutbound({ url, method: 'GET', headers: {}, body: null, timeoutMs: 5000, ssrf: { blockPrivate: false }, ca: CA_PEM, ...(cert ? { cert } : {}) });

  it('presents a PFX (base64, password) or PEM (encrypted key, password) certificate over mTLS', async () => {
    for (const cert of [parseClientCertificate(CLIENT_PFX_BASE64, CLIENT_PFX_PASSWORD), parseClientCertificate(CLIENT_CERT + CLIENT_KEY_ENCRYPTED, CLIENT_KEY_PASSWORD), parseClientCertificate(new Uint8Array(Buffer.from(CLIENT_CERT + CLIENT_KEY)), undefined)]) {
      const res = await send(cert);
      assert.equal(res.statusCode, 200);
      assert.deepEqual(JSON.parse(res.body!.peekText()), { cn: 'gatehouse-test-client' });
    }
  });

  it('without a certificate the handshake fails', async () => {
    await assert.rejects(send(), (err: unknown) => err instanceof OutboundError && err.kind === 'failure');
  });

  it('rejects bad bodies and wrong passwords with messages that hold no secret', () => {
    assert.throws(() => parseClientCertificate(CLIENT_PFX_BASE64, 'wrong-pfx-password'), (e: unknown) => e instanceof CertificateError && /password is wrong/.test(e.message) && !e.message.includes('wrong-pfx-password'));
    assert.throws(() => parseClientCertificate(CLIENT_CERT + CLIENT_KEY_ENCRYPTED, 'nope-pass'), (e: unknown) => e instanceof CertificateError && /password is wrong/.test(e.message) && !e.message.includes('nope-pass'));
    assert.throws(() => parseClientCertificate(CLIENT_CERT, undefined), /no PRIVATE KEY block/);
    assert.throws(() => parseClientCertificate(CA_PEM + CLIENT_KEY, undefined), /does not belong to the certificate/);
    assert.throws(() => parseClientCertificate('not a cert!', undefined), /byte\[\], base64 or PEM/);
    assert.throws(() => parseClientCertificate(null, undefined), /null/);
  });
});

describe('integration policy load errors', () => {
  const inbound = (xml: string) => `<policies><inbound>${xml}</inbound></policies>`;
  const cases: { name: string; xml: string; expect: RegExp; not?: RegExp }[] = [
    { name: 'send-request without response-variable-name', xml: inbound('<send-request><set-url>http://a.example/</set-url><set-method>GET</set-method></send-request>'), expect: /1:20: <send-request> requires the attribute "response-variable-name"/ },
    { name: 'send-request new without set-url / set-method', xml: inbound('<send-request response-variable-name="r" />'), expect: /needs <set-url>[\s\S]*needs <set-method>/ },
    { name: 'send-request literal metadata URL', xml: inbound('<send-request response-variable-name="r"><set-url>http://169.254.169.254/latest</set-url><set-method>GET</set-method></send-request>'), expect: /1:70: <set-url>: 169\.254\.169\.254: link-local, cloud metadata/ },
    { name: 'send-request literal URL with credentials', xml: inbound('<send-request response-variable-name="r"><set-url>https://bob:pa55word@a.example/</set-url><set-method>GET</set-method></send-request>'), expect: /must not contain credentials/, not: /pa55word/ },
    { name: 'send-request file URL', xml: inbound('<send-request response-variable-name="r"><set-url>file:///etc/passwd</set-url><set-method>GET</set-method></send-request>'), expect: /must use http or https, not file/ },
    { name: 'send-request bad method', xml: inbound('<send-request response-variable-name="r"><set-url>http://a.example/</set-url><set-method>get it</set-method></send-request>'), expect: /"get it" is not an HTTP method/ },
    { name: 'send-request unknown child attribute', xml: inbound('<send-request response-variable-name="r"><set-url>http://a.example/</set-url><set-method>GET</set-method><set-header name="a" colour="red"><value>1</value></set-header></send-request>'), expect: /1:146: unknown attribute "colour" on <set-header>/ },
    { name: 'send-request unknown child', xml: inbound('<send-request response-variable-name="r"><set-variable name="a" value="1" /></send-request>'), expect: /cannot contain <set-variable>/ },
    { name: 'send-request bad timeout', xml: inbound('<send-request response-variable-name="r" timeout="soon"><set-url>http://a.example/</set-url><set-method>GET</set-method></send-request>'), expect: /timeout.*must be an integer between 1 and 86400/ },
    { name: 'send-request bad mode', xml: inbound('<send-request mode="clone" response-variable-name="r"><set-url>http://a.example/</set-url><set-method>GET</set-method></send-request>'), expect: /mode.*must be one of new, copy/ },
    { name: 'proxy with https url', xml: inbound('<send-request response-variable-name="r"><set-url>http://a.example/</set-url><set-method>GET</set-method><proxy url="https://p.example:8443" /></send-request>'), expect: /<proxy> url must be http/ },
    { name: 'send-one-way-request without set-url', xml: inbound('<send-one-way-request mode="new"><set-method>POST</set-method></send-one-way-request>'), expect: /<send-one-way-request> needs <set-url>/ },
    { name: 'retry count out of range', xml: inbound('<retry condition="@(true)" count="0" interval="0"><set-variable name="a" value="1" /></retry>'), expect: /"count" of <retry> must be an integer between 1 and 50/ },
    { name: 'retry without interval', xml: inbound('<retry condition="@(true)" count="1"><set-variable name="a" value="1" /></retry>'), expect: /<retry> requires the attribute "interval"/ },
    { name: 'retry literal condition', xml: inbound('<retry condition="maybe" count="1" interval="0"><set-variable name="a" value="1" /></retry>'), expect: /must be a boolean expression/ },
    { name: 'retry containing wait', xml: inbound('<retry condition="@(true)" count="1" interval="0"><wait><choose><when condition="@(true)"></when></choose></wait></retry>'), expect: /<retry> cannot contain <wait>/ },
    { name: 'wait with a forbidden child', xml: inbound('<wait for="all"><set-variable name="a" value="1" /></wait>'), expect: /<wait> cannot contain <set-variable> \(allowed: send-request, cache-lookup-value, choose\)/ },
    { name: 'wait in on-error', xml: '<policies><on-error><wait><choose><when condition="@(true)"></when></choose></wait></on-error></policies>', expect: /policy <wait> is not allowed in the on-error section/ },
    { name: 'wait bad for', xml: inbound('<wait for="some"><choose><when condition="@(true)"></when></choose></wait>'), expect: /"for" of <wait> must be one of all, any/ },
    { name: 'find-and-replace without to', xml: inbound('<find-and-replace from="a" />'), expect: /<find-and-replace> requires the attribute "to"/ },
    { name: 'cache-lookup-value without variable-name', xml: inbound('<cache-lookup-value key="k" />'), expect: /requires the attribute "variable-name"/ },
    { name: 'cache-store-value bad duration', xml: inbound('<cache-store-value key="k" value="v" duration="forever" />'), expect: /"duration" of <cache-store-value> must be an integer/ },
    { name: 'cache-store-value bad caching-type', xml: inbound('<cache-store-value key="k" value="v" duration="1" caching-type="remote" />'), expect: /caching-type.*must be one of prefer-external, external, internal/ },
    { name: 'cache-lookup without vary-by-developer', xml: inbound('<cache-lookup vary-by-developer-groups="false" />'), expect: /<cache-lookup> requires the attribute "vary-by-developer"/ },
    { name: 'cache-lookup bad child', xml: inbound('<cache-lookup vary-by-developer="false" vary-by-developer-groups="false"><vary-by-cookie>a</vary-by-cookie></cache-lookup>'), expect: /cannot contain <vary-by-cookie>/ },
    { name: 'cache-store in inbound', xml: inbound('<cache-store duration="10" />'), expect: /policy <cache-store> is not allowed in the inbound section/ },
    { name: 'authentication-basic username with colon', xml: inbound('<authentication-basic username="a:b" password="pw-never-shown" />'), expect: /1:52: the username of <authentication-basic> must not contain ":"/, not: /pw-never-shown/ },
    { name: 'authentication-basic without password', xml: inbound('<authentication-basic username="a" />'), expect: /requires the attribute "password"/ },
    { name: 'authentication-basic in outbound', xml: '<policies><outbound><authentication-basic username="a" password="b" /></outbound></policies>', expect: /policy <authentication-basic> is not allowed in the outbound section/ },
    { name: 'authentication-certificate thumbprint', xml: inbound('<authentication-certificate thumbprint="CA06F56B258B7A0D4F2B05470939478651151984" />'), expect: /1:60: <authentication-certificate> thumbprint: no certificate store configured/ },
    { name: 'authentication-certificate certificate-id', xml: inbound('<authentication-certificate certificate-id="544fe9ddf3b8f30fb490d90f" />'), expect: /1:64: <authentication-certificate> certificate-id: no certificate store configured/ },
    { name: 'authentication-certificate nothing', xml: inbound('<authentication-certificate />'), expect: /needs "body"/ },
    { name: 'authentication-certificate bad body', xml: inbound('<authentication-certificate body="bm90IGEgY2VydGlmaWNhdGU=" />'), expect: /1:54: <authentication-certificate> body: the certificate body is not a valid PFX/ },
    { name: 'authentication-certificate wrong password', xml: inbound(`<authentication-certificate body="${CLIENT_PFX_BASE64}" password="not-the-password" />`), expect: /password is wrong/, not: /not-the-password/ },
    { name: 'authentication-certificate inside send-request with thumbprint', xml: inbound('<send-request response-variable-name="r"><set-url>http://a.example/</set-url><set-method>GET</set-method><authentication-certificate thumbprint="AB" /></send-request>'), expect: /no certificate store configured/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await assert.rejects(startGateway({ servers: [{ name: 'x', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: c.xml }] }), (err: unknown) => {
        assert.ok(err instanceof PolicyError, String(err));
        assert.match(err.message, c.expect);
        if (c.not) assert.doesNotMatch(err.message, c.not);
        return true;
      });
    });
  }

  it('documents in APIM style load: expressions, copy mode, placeholders left for deployment scripts', async () => {
    const xml = `<policies><inbound>
      <authentication-certificate body="${CLIENT_PFX_BASE64}" password="${CLIENT_PFX_PASSWORD}" />
      <authentication-certificate body="@(Convert.FromBase64String((string)context.Variables[&quot;cert&quot;]))" />
      <send-request mode="copy" response-variable-name="r" timeout="@(5)" ignore-error="true"><set-url>@("http://a.example/" + context.Mcp.Method)</set-url></send-request>
      <cache-store-value key="k" value="v" duration="{{cachetime}]" />
      <wait for="@("any")"><send-request response-variable-name="w"><set-url>http://a.example/</set-url><set-method>GET</set-method></send-request></wait>
      <cache-lookup vary-by-developer="@(false)" vary-by-developer-groups="false" downstream-caching-type="@("public")"><vary-by-query-parameter>a;b</vary-by-query-parameter></cache-lookup>
    </inbound>
    <backend><retry count="{retry-count}" interval="0" first-fast-retry="true" condition="@(context.Response.StatusCode == 429)"><forward-request /></retry></backend>
    <outbound><cache-store duration="@(30)" cache-response="true" /><find-and-replace from="@(context.Api.Name)" to="" /></outbound>
    </policies>`;
    const g = await startGateway({ servers: [{ name: 'x', type: 'passthrough', backend: { url: 'http://127.0.0.1:9/mcp' }, policies: xml }] });
    await g.close();
  });
});

describe('cached value encoding', () => {
  it('round-trips the types expressions use', () => {
    for (const v of ['s', 41, 2.5, true, false, null, new Uint8Array([1, 2, 3])]) assert.deepEqual(decodeValue(encodeValue(v))!.value, v);
    assert.throws(() => encodeValue(new ResponseInfo()), /IResponse cannot be cached/);
    assert.equal(decodeValue('garbage'), undefined);
  });
});
