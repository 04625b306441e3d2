/**
 * The official MCP SDK client through Gatehouse to SDK servers, for every pair of client and backend
 * transports: initialize, tools, progress, sampling, elicitation, logging, cancellation, resources,
 * prompts, completions.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { startEverythingServer, type EverythingServer } from './fixtures/everything-server.js';
import { startGateway, type RunningGateway } from './helpers/gateway.js';

type ClientKind = 'streamable-http' | 'sse';
type BackendKind = 'streamable-http' | 'sse';

const textOf = (r: unknown): string => ((r as { content: { type: string; text?: string }[] }).content.find((c) => c.type === 'text')?.text ?? '');

describe('MCP passthrough through Gatehouse', () => {
  const backends: Partial<Record<BackendKind, EverythingServer>> = {};
  let gw: RunningGateway;

  before(async () => {
    backends['streamable-http'] = await startEverythingServer({ transport: 'streamable-http' });
    backends.sse = await startEverythingServer({ transport: 'sse' });
    gw = await startGateway({
      servers: [
        { name: 'hb', type: 'passthrough', backend: { url: backends['streamable-http'].url, transport: 'streamable-http' } },
        { name: 'sb', type: 'passthrough', backend: { url: backends.sse.url, transport: 'sse' } },
      ],
    });
  });

  after(async () => {
    await gw?.close();
    await backends['streamable-http']?.close();
    await backends.sse?.close();
  });

  async function connect(client: ClientKind, backend: BackendKind, opts: { onLog?: (m: string) => void } = {}): Promise<Client> {
    const c = new Client({ name: 'gatehouse-test', version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: { form: {} } } });
    c.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      const first = req.params.messages[0]?.content;
      const prompt = first && !Array.isArray(first) && first.type === 'text' ? first.text : '?';
      return { role: 'assistant', content: { type: 'text', text: `echo:${prompt}` }, model: 'test-model', stopReason: 'endTurn' };
    });
    c.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { username: 'ada', email: 'ada@example.com' } }));
    if (opts.onLog) {
      const onLog = opts.onLog;
      c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => onLog(String(n.params.data)));
    }
    const name = backend === 'sse' ? 'sb' : 'hb';
    const transport = client === 'sse' ? new SSEClientTransport(new URL(`${gw.url}/${name}/sse`)) : new StreamableHTTPClientTransport(new URL(`${gw.url}/${name}/mcp`));
    await c.connect(transport);
    return c;
  }

  for (const client of ['streamable-http', 'sse'] as const) {
    for (const backend of ['streamable-http', 'sse'] as const) {
      describe(`${client} client → ${backend} backend`, () => {
        let c: Client;
        before(async () => {
          c = await connect(client, backend);
        });
        after(async () => {
          await c?.close();
        });

        it('initializes with the backend identity and capabilities', () => {
          assert.equal(c.getServerVersion()?.name, 'gatehouse-everything-fixture');
          assert.ok(c.getServerCapabilities()?.tools);
        });

        it('lists and calls tools', async () => {
          const { tools } = await c.listTools();
          const names = tools.map((t) => t.name);
          for (const n of ['test_simple_text', 'echo', 'test_sampling']) assert.ok(names.includes(n), n);
          assert.equal(textOf(await c.callTool({ name: 'echo', arguments: { text: 'héllo "gateway"' } })), 'héllo "gateway"');
          const err = await c.callTool({ name: 'test_error_handling', arguments: {} });
          assert.equal(err.isError, true);
        });

        it('relays progress notifications of a tool call', async () => {
          const seen: number[] = [];
          const r = await c.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, { onprogress: (p) => seen.push(p.progress) });
          assert.ok(r.content);
          assert.deepEqual(seen, [0, 50, 100]);
        });

        it('round-trips sampling and elicitation (server → client requests)', async () => {
          assert.equal(textOf(await c.callTool({ name: 'test_sampling', arguments: { prompt: 'hi' } })), 'LLM response: echo:hi');
          const e = textOf(await c.callTool({ name: 'test_elicitation', arguments: { message: 'who?' } }));
          assert.equal(e, 'User response: action=accept, content={"username":"ada","email":"ada@example.com"}');
        });

        it('relays log notifications and logging/setLevel', async () => {
          const logs: string[] = [];
          const c2 = await connect(client, backend, { onLog: (m) => logs.push(m) });
          try {
            await c2.setLoggingLevel('debug');
            await c2.callTool({ name: 'test_tool_with_logging', arguments: {} });
            assert.ok(logs.length >= 3, `got ${logs.length} log messages`);
          } finally {
            await c2.close();
          }
        });

        it('reads resources, templates and subscriptions', async () => {
          const { resources } = await c.listResources();
          assert.ok(resources.some((r) => r.uri === 'test://static-text'));
          const text = await c.readResource({ uri: 'test://static-text' });
          assert.equal(typeof (text.contents[0] as { text?: string }).text, 'string');
          const bin = await c.readResource({ uri: 'test://static-binary' });
          assert.equal(typeof (bin.contents[0] as { blob?: string }).blob, 'string');
          const tpl = await c.readResource({ uri: 'test://template/42/data' });
          assert.match(JSON.stringify(tpl.contents), /42/);
          const { resourceTemplates } = await c.listResourceTemplates();
          assert.ok(resourceTemplates.some((t) => t.uriTemplate === 'test://template/{id}/data'));
          const updated = new Promise<string>((resolve) => c.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => resolve(n.params.uri)));
          await c.subscribeResource({ uri: 'test://watched-resource' });
          await c.callTool({ name: 'update_watched_resource', arguments: { content: 'v2' } });
          assert.equal(await updated, 'test://watched-resource');
          await c.unsubscribeResource({ uri: 'test://watched-resource' });
        });

        it('gets prompts and completions', async () => {
          const { prompts } = await c.listPrompts();
          assert.ok(prompts.some((p) => p.name === 'test_prompt_with_arguments'));
          const p = await c.getPrompt({ name: 'test_prompt_with_arguments', arguments: { arg1: 'A', arg2: 'B' } });
          assert.match(JSON.stringify(p.messages), /A/);
          const done = await c.complete({ ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' }, argument: { name: 'arg1', value: '' } });
          assert.ok(Array.isArray(done.completion.values));
          await c.ping();
        });

        it('forwards notifications/cancelled so the backend aborts the tool', async () => {
          const ac = new AbortController();
          const fixture = backends[backend]!;
          const before = fixture.toolCalls.length;
          const call = c.callTool({ name: 'slow', arguments: { ms: 30_000 } }, undefined, { signal: ac.signal });
          // wait until the backend has the call, then cancel it
          while (fixture.toolCalls.length === before) await new Promise((r) => setImmediate(r));
          ac.abort('test cancels');
          await assert.rejects(call);
          const rec = fixture.toolCalls[fixture.toolCalls.length - 1]!;
          assert.equal(rec.name, 'slow');
          for (let i = 0; i < 200 && !rec.aborted; i++) await new Promise((r) => setTimeout(r, 10));
          assert.equal(rec.aborted, true, 'the backend saw the cancellation');
        });
      });
    }
  }
});
