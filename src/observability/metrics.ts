/**
 * Prometheus metrics (served at /metrics). One registry per gateway instance so tests can run
 * several gateways in one process. The per-request series are kept in plain maps keyed by a label
 * string the caller builds once (prom-client hashes the label object on every call, which was
 * measurable on the proxy's hot path) and exposed to the prom-client registry as custom metrics;
 * process metrics come from prom-client itself. Tool names come from clients, so that label is bounded.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

const MAX_TOOL_LABELS = 200;
const MAX_SERIES = 10_000;

type Labels = Record<string, string>;
interface MetricValue { labels: Labels; value: number; metricName?: string }

interface CustomMetric {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: 'sum' }>;
  reset(): void;
}

abstract class SeriesMetric<S> implements CustomMetric {
  readonly aggregator = 'sum' as const;
  protected readonly series = new Map<string, { labels: Labels; s: S }>();
  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'gauge' | 'histogram', private readonly labelNames: readonly string[]) {}

  /** the series for these label values (in labelNames order); created on first use */
  protected at(values: readonly string[]): S {
    const key = values.join('\u0001');
    let e = this.series.get(key);
    if (!e) {
      // past the bound, every new label set counts in one shared `_overflow` series
      if (this.series.size >= MAX_SERIES) {
        values = values.map(() => '_overflow');
        e = this.series.get(values.join('\u0001'));
        if (e) return e.s;
      }
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]!));
      e = { labels, s: this.create() };
      this.series.set(values.join('\u0001'), e);
    }
    return e.s;
  }
  protected abstract create(): S;
  protected abstract values(): MetricValue[];
  async get() {
    return { name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: this.aggregator };
  }
  reset(): void {
    this.series.clear();
  }
}

export class FastCounter extends SeriesMetric<{ v: number }> {
  constructor(name: string, help: string, labelNames: readonly string[], type: 'counter' | 'gauge' = 'counter') {
    super(name, help, type, labelNames);
  }
  protected create() { return { v: 0 }; }
  inc(values: readonly string[], by = 1): void {
    this.at(values).v += by;
  }
  value(values: readonly string[]): number {
    return this.at(values).v;
  }
  protected values(): MetricValue[] {
    return [...this.series.values()].map((e) => ({ labels: e.labels, value: e.s.v }));
  }
}

export class FastHistogram extends SeriesMetric<{ counts: Float64Array; sum: number; count: number }> {
  constructor(name: string, help: string, labelNames: readonly string[], private readonly buckets: readonly number[]) {
    super(name, help, 'histogram', labelNames);
  }
  protected create() { return { counts: new Float64Array(this.buckets.length), sum: 0, count: 0 }; }
  observe(values: readonly string[], v: number): void {
    const s = this.at(values);
    s.sum += v;
    s.count++;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) if (v <= b[i]!) { s.counts[i]!++; break; }
  }
  protected values(): MetricValue[] {
    const out: MetricValue[] = [];
    for (const { labels, s } of this.series.values()) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += s.counts[i]!;
        out.push({ metricName: `${this.name}_bucket`, labels: { le: String(le), ...labels }, value: acc });
      });
      out.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: s.count });
      out.push({ metricName: `${this.name}_sum`, labels, value: s.sum });
      out.push({ metricName: `${this.name}_count`, labels, value: s.count });
    }
    return out;
  }
}

export class Metrics {
  readonly registry = new Registry();
  /** labels: server, method, tool, status */
  readonly requests = new FastCounter('gatehouse_requests_total', 'MCP requests handled, by server, JSON-RPC method, tool (tools/call) and HTTP status', ['server', 'method', 'tool', 'status']);
  /** labels: server, method */
  readonly duration = new FastHistogram('gatehouse_request_duration_seconds', 'Time until the response is complete (streams: until the stream ends), by server and JSON-RPC method', ['server', 'method'], [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
  /** labels: server, kind (stable error code) */
  readonly errors = new FastCounter('gatehouse_errors_total', 'Errors by server and kind (stable error code, e.g. GW_ERR_UPSTREAM_CONNECT)', ['server', 'kind']);
  /** labels: server */
  readonly sessions = new FastCounter('gatehouse_mcp_sessions_active', 'MCP sessions opened through this replica and not yet ended', ['server'], 'gauge');
  readonly #tools = new Set<string>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    for (const m of [this.requests, this.duration, this.errors, this.sessions]) this.registry.registerMetric(m as never);
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
