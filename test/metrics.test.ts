/**
 * The gateway's own metric series: bounded in number, and what lands past the bound is still
 * counted (in one `_overflow` series) rather than lost.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FastCounter, FastHistogram, Metrics } from '../src/observability/metrics.js';

describe('metric series bound', () => {
  it('a counter keeps at most 10 000 series plus one _overflow that counts every later label set', async () => {
    const c = new FastCounter('t_total', 'test', ['a', 'b']);
    for (let i = 0; i < 10_000; i++) c.inc([`x${i}`, 'y']);
    for (let i = 0; i < 7; i++) c.inc([`late${i}`, 'y'], 2);
    const { values } = await c.get();
    assert.equal(values.length, 10_001);
    const overflow = values.filter((v) => v.labels.a === '_overflow');
    assert.equal(overflow.length, 1);
    assert.equal(overflow[0]!.value, 14);
    // known series still count in their own place
    c.inc(['x5', 'y']);
    assert.equal(c.value(['x5', 'y']), 2);
  });

  it('a histogram past the bound observes into its _overflow series', async () => {
    const h = new FastHistogram('t_seconds', 'test', ['s'], [0.1, 1]);
    for (let i = 0; i < 10_000; i++) h.observe([`s${i}`], 0.05);
    for (let i = 0; i < 3; i++) h.observe([`late${i}`], 0.5);
    const { values } = await h.get();
    const count = values.find((v) => v.metricName === 't_seconds_count' && v.labels.s === '_overflow');
    assert.equal(count?.value, 3);
  });

  it('tool labels are bounded: long or late tool names become _other', () => {
    const m = new Metrics({ defaultMetrics: false });
    assert.equal(m.toolLabel(undefined), '');
    assert.equal(m.toolLabel('x'.repeat(65)), '_other');
    for (let i = 0; i < 200; i++) assert.equal(m.toolLabel(`t${i}`), `t${i}`);
    assert.equal(m.toolLabel('one-more'), '_other');
    assert.equal(m.toolLabel('t3'), 't3');
  });
});
