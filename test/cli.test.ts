/**
 * `gatehouse` as a user runs it: a child process of bin/gatehouse.js. start with a config, the
 * quickstart, JSON logs, SIGTERM draining, exit codes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';

const BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url));

interface Proc {
  child: ChildProcess;
  stdout: string[];
  stderr: string;
  exit: Promise<number | null>;
}

function run(args: string[], cwd: string): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, GATEHOUSE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, stdout: [], stderr: '', exit: once(child, 'exit').then(([code]) => code as number | null) };
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    p.stdout.push(...lines.filter(Boolean));
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (p.stderr += d));
  return p;
}

/** resolves with the first JSON log line whose msg matches */
function waitForLog(p: Proc, msg: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${msg}" log line; stdout=${p.stdout.join('\n')} stderr=${p.stderr}`)), timeoutMs);
    const check = () => {
      for (const l of p.stdout) {
        const j = JSON.parse(l) as Record<string, unknown>;
        if (j.msg === msg) {
          clearTimeout(timer);
          p.child.stdout!.off('data', check);
          resolve(j);
          return;
        }
      }
    };
    p.child.stdout!.on('data', () => setImmediate(check));
    check();
  });
}

describe('gatehouse CLI', () => {
  let dir: string;
  let fixture: EverythingServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
    fixture = await startEverythingServer({ transport: 'streamable-http' });
  });
  after(async () => {
    await fixture?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('start -c serves the configured server, logs JSON lines, and SIGTERM drains in-flight requests then exits 0', async () => {
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(file, `gateway: { listen: "127.0.0.1:0" }\nstore: "sqlite:./state/g.db"\nservers:\n  - name: fx\n    type: passthrough\n    backend: { url: "${fixture.url}" }\n`);
    const p = run(['start', '-c', file], dir);
    const ready = await waitForLog(p, 'gatehouse listening');
    const url = ready.url as string;
    assert.deepEqual((ready.servers as { mcp: string }[])[0]!.mcp, `${url}/fx/mcp`);
    const client = new Client({ name: 'cli-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/fx/mcp`)));
    const slow = client.callTool({ name: 'slow', arguments: { ms: 400 } });
    // the call is in flight at the backend before the signal
    while (!fixture.toolCalls.some((c) => c.name === 'slow')) await new Promise((r) => setImmediate(r));
    p.child.kill('SIGTERM');
    const result = await slow;
    assert.deepEqual(result.content, [{ type: 'text', text: 'done' }]);
    assert.equal(await p.exit, 0);
    for (const line of p.stdout) assert.doesNotThrow(() => JSON.parse(line), line);
    assert.ok(p.stdout.some((l) => JSON.parse(l).msg === 'draining'));
    assert.ok(p.stdout.some((l) => JSON.parse(l).msg === 'request' && JSON.parse(l).tool === 'slow'));
    // after the drain, nothing listens any more
    await assert.rejects(fetch(`${url}/healthz`));
  });

  it('start with no config runs the quickstart demo server and prints how to connect', async () => {
    const empty = mkdtempSync(join(dir, 'qs-'));
    const p = run(['start', '--port', '0'], empty);
    const ready = await waitForLog(p, 'gatehouse listening');
    const url = ready.url as string;
    assert.equal(ready.config, 'quickstart');
    if (!p.stderr.includes('/demo/mcp')) await new Promise<void>((resolve) => p.child.stderr!.on('data', () => p.stderr.includes('/demo/mcp') && resolve()));
    assert.ok(p.stderr.includes(`${url}/demo/mcp`), p.stderr);
    const client = new Client({ name: 'cli-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/demo/mcp`)));
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'echo'));
    const r = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
    assert.match(JSON.stringify(r.content), /42/);
    await client.close();
    // the demo REST API, its OpenAPI operations as tools
    assert.ok(p.stderr.includes(`${url}/books/mcp`), p.stderr);
    const books = new Client({ name: 'cli-test', version: '1' });
    await books.connect(new StreamableHTTPClientTransport(new URL(`${url}/books/mcp`)));
    const names = (await books.listTools()).tools.map((t) => t.name);
    assert.deepEqual(names, ['listBooks', 'addBook', 'getBook', 'deleteBook', 'getBookCover']);
    const book = await books.callTool({ name: 'getBook', arguments: { id: 3 } });
    assert.equal((book.structuredContent as { title: string }).title, 'Piranesi');
    await books.close();
    p.child.kill('SIGTERM');
    assert.equal(await p.exit, 0);
  });

  it('start with an invalid config exits 2 with positioned problems and starts nothing', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'gateway:\n  listen: nope\nservers:\n  - name: Bad Name\n    type: passthrough\n    backend: { url: "ftp://x" }\n');
    const p = run(['start', '-c', file], dir);
    assert.equal(await p.exit, 2);
    assert.match(p.stderr, /bad\.yaml:2:11: /);
    assert.match(p.stderr, /bad\.yaml:4:11: /);
    assert.match(p.stderr, /bad\.yaml:6:21: /);
  });

  it('bad arguments exit 2; a port in use exits 1', async () => {
    assert.equal(await run(['start', '--port', 'abc'], dir).exit, 2);
    assert.equal(await run(['start', '--bogus'], dir).exit, 2);
    assert.equal(await run(['frobnicate'], dir).exit, 2);
    const v = run(['--version'], dir);
    assert.equal(await v.exit, 0);
    const busy = new URL(fixture.url).port;
    const file = join(dir, 'busy.yaml');
    writeFileSync(file, `gateway: { listen: "127.0.0.1:${busy}" }\nstore: "sqlite::memory:"\nservers: []\n`);
    const p = run(['start', '-c', file], dir);
    assert.equal(await p.exit, 1);
    assert.match(p.stderr, /EADDRINUSE/);
  });
});
