/**
 * Prometheus metrics (served at /metrics). One registry per gateway instance so tests can run
 * several gateways in one process. Tool names come from clients, so the tool label is bounded.
 */
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';

const MAX_TOOL_LABELS = 200;

export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'server' | 'method' | 'tool' | 'status'>;
  readonly duration: Histogram<'server' | 'method'>;
  readonly errors: Counter<'server' | 'kind'>;
  readonly sessions: Gauge<'server'>;
  readonly #tools = new Set<string>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'gatehouse_requests_total',
      help: 'MCP requests handled, by server, JSON-RPC method, tool (tools/call) and HTTP status',
      labelNames: ['server', 'method', 'tool', 'status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'gatehouse_request_duration_seconds',
      help: 'Time to the first response byte for MCP requests, by server and JSON-RPC method',
      labelNames: ['server', 'method'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.errors = new Counter({
      name: 'gatehouse_errors_total',
      help: 'Errors by server and kind (stable error code, e.g. GW_ERR_UPSTREAM_CONNECT)',
      labelNames: ['server', 'kind'],
      registers,
    });
    this.sessions = new Gauge({
      name: 'gatehouse_mcp_sessions_active',
      help: 'MCP sessions open on this replica',
      labelNames: ['server'],
      registers,
    });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
  }

  /** a bounded label value for a client-supplied tool name */
  toolLabel(tool: string | undefined): string {
    if (tool === undefined) return '';
    if (this.#tools.has(tool)) return tool;
    if (this.#tools.size >= MAX_TOOL_LABELS || tool.length > 64) return '_other';
    this.#tools.add(tool);
    return tool;
  }
}
