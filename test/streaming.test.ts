/**
 * Proof that responses stream without buffering: the backend's tool sends a progress notification
 * and then waits until the CLIENT has received it. If the gateway held the SSE stream back until
 * the backend finished, the tool would never finish and the test would time out.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { startGateway, type RunningGateway } from './helpers/gateway.js';

describe('streaming without buffering', () => {
  let backend: Server;
  let gw: RunningGateway;
  let release: (() => void) | undefined;
  const transports = new Map<string, StreamableHTTPServerTransport>();

  before(async () => {
    backend = createServer(async (req, res) => {
      const sid = req.headers['mcp-session-id'] as string | undefined;
      let transport = sid ? transports.get(sid) : undefined;
      if (!transport) {
        const t = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, onsessioninitialized: (id) => void transports.set(id, t) });
        const server = new McpServer({ name: 'gate-backend', version: '1.0.0' });
        server.registerTool('gate', { description: 'progress, then wait for the client to confirm it saw it' }, async (extra) => {
          const token = extra._meta?.progressToken;
          const released = new Promise<void>((resolve) => {
            release = resolve;
          });
          if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 2 } });
          const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5000).unref());
          const outcome = await Promise.race([released.then(() => 'released' as const), timeout]);
          return { content: [{ type: 'text', text: outcome }] };
        });
        await server.connect(t);
        transport = t;
      }
      await transport.handleRequest(req, res);
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/mcp`;
    gw = await startGateway({
      servers: [
        { name: 'gate', type: 'passthrough', backend: { url } },
        // outbound policies that don't read the body must not buffer the stream (APIM's caveat)
        {
          name: 'gate-policies',
          type: 'passthrough',
          backend: { url },
          policies: '<policies><inbound><set-header name="x-in" exists-action="override"><value>1</value></set-header></inbound><outbound><set-header name="x-out" exists-action="override"><value>@(context.Response.StatusCode.ToString())</value></set-header></outbound></policies>',
        },
      ],
    });
  });

  after(async () => {
    await gw?.close();
    backend.closeAllConnections();
    await new Promise((r) => backend.close(r));
  });

  for (const [kind, server] of [['streamable-http', 'gate'], ['sse', 'gate'], ['streamable-http', 'gate-policies']] as const) {
    it(`a backend SSE event reaches a ${kind} client before the backend ends the stream (${server})`, async () => {
      const c = new Client({ name: 't', version: '1' });
      await c.connect(kind === 'sse' ? new SSEClientTransport(new URL(`${gw.url}/${server}/sse`)) : new StreamableHTTPClientTransport(new URL(`${gw.url}/${server}/mcp`)));
      try {
        const r = await c.callTool({ name: 'gate', arguments: {} }, undefined, {
          onprogress: () => release?.(),
        });
        assert.deepEqual(r.content, [{ type: 'text', text: 'released' }]);
      } finally {
        await c.close();
      }
    });
  }
});
