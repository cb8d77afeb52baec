/**
 * The simulator's charts as Vega-Lite specifications (vega.github.io/vega-lite): plain JSON built
 * from report and sweep data, so the same spec renders here (render.ts: Vega's SVG renderer, no
 * browser) and in a browser with Vega (the dashboard's live plots, via @flashdiff/ssd/plot/specs). Colours are fixed per
 * GC policy so the same policy looks the same on every chart (and pixel tests can find it).
 */
import { lambertWaf } from '../theory.ts';

export type VegaLiteSpec = Record<string, unknown>;

export const POLICY_COLOURS: Readonly<Record<string, string>> = { greedy: '#1f77b4', 'cost-benefit': '#2ca02c', fifo: '#d62728', random: '#9467bd' };
export const THEORY_COLOUR = '#8c564b';
export const SERIES_COLOUR = '#ff7f0e';
export const SECOND_COLOUR = '#1f77b4';

const BASE = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: 560, height: 340, background: 'white', config: { font: 'DejaVu Sans', legend: { labelLimit: 0 } } };

/**
 * WAF vs OP, one line per GC policy, with the Lambert-W curve (FIFO under uniform random
 * writes, theory.ts lambertWaf) over the same OP range.
 */
export function wafVsOpSpec(rows: readonly { op: number; waf: number; gc: string }[], title = 'WAF vs over-provisioning'): VegaLiteSpec {
  const ops = rows.map((r) => r.op);
  const lo = Math.min(...ops);
  const hi = Math.max(...ops);
  const curve = Array.from({ length: 61 }, (_, i) => lo + ((hi - lo) * i) / 60).map((op) => ({ op, waf: lambertWaf(op), gc: 'Lambert-W (FIFO, uniform)' }));
  const policies = [...new Set(rows.map((r) => r.gc))].sort();
  const domain = [...policies, 'Lambert-W (FIFO, uniform)'];
  const range = [...policies.map((p) => POLICY_COLOURS[p] ?? '#7f7f7f'), THEORY_COLOUR];
  const colour = { field: 'gc', type: 'nominal', title: 'GC policy', scale: { domain, range } };
  const x = { field: 'op', type: 'quantitative', title: 'OP = (physical − user) / user', scale: { zero: false } };
  const y = { field: 'waf', type: 'quantitative', title: 'write amplification', scale: { zero: false } };
  return {
    ...BASE,
    title,
    layer: [
      { data: { values: curve }, mark: { type: 'line', strokeDash: [6, 4], strokeWidth: 2 }, encoding: { x, y, color: colour } },
      { data: { values: [...rows].sort((a, b) => a.op - b.op) }, mark: { type: 'line', point: true, strokeWidth: 2 }, encoding: { x, y, color: colour } },
    ],
  };
}

/** Interval WAF (and cumulative WAF) over the measured host writes. */
export function intervalWafSpec(points: readonly { hostPageWrites: number; intervalWaf: number; waf: number }[]): VegaLiteSpec {
  const values = points.flatMap((p) => [
    { writes: p.hostPageWrites, value: p.intervalWaf, series: 'interval WAF' },
    { writes: p.hostPageWrites, value: p.waf, series: 'cumulative WAF' },
  ]);
  return {
    ...BASE,
    title: 'WAF over time',
    data: { values },
    mark: { type: 'line', strokeWidth: 2 },
    encoding: {
      x: { field: 'writes', type: 'quantitative', title: 'host page writes (measured)' },
      y: { field: 'value', type: 'quantitative', title: 'write amplification', scale: { zero: false } },
      color: { field: 'series', type: 'nominal', title: null, scale: { domain: ['interval WAF', 'cumulative WAF'], range: [SERIES_COLOUR, SECOND_COLOUR] } },
    },
  };
}

/** Free units (blocks, or superblocks) over the measured host writes. */
export function freeBlocksSpec(points: readonly { hostPageWrites: number; freeUnits: number }[]): VegaLiteSpec {
  return {
    ...BASE,
    title: 'free blocks over time',
    data: { values: points.map((p) => ({ writes: p.hostPageWrites, free: p.freeUnits })) },
    mark: { type: 'line', strokeWidth: 2, color: SERIES_COLOUR, interpolate: 'step-after' },
    encoding: {
      x: { field: 'writes', type: 'quantitative', title: 'host page writes (measured)' },
      y: { field: 'free', type: 'quantitative', title: 'free units' },
    },
  };
}

/** Erase-count histogram (metrics.ts EraseStats.histogram). */
export function eraseHistogramSpec(h: { binStart: number; binWidth: number; counts: readonly number[] }): VegaLiteSpec {
  const values = h.counts.map((count, i) => ({ from: h.binStart + i * h.binWidth, to: h.binStart + (i + 1) * h.binWidth, count }));
  return {
    ...BASE,
    title: 'erase-count histogram',
    data: { values },
    mark: { type: 'bar', color: SERIES_COLOUR, stroke: 'white', strokeWidth: 0.5 },
    encoding: {
      x: { field: 'from', type: 'quantitative', bin: { binned: true }, title: 'erase count' },
      x2: { field: 'to' },
      y: { field: 'count', type: 'quantitative', title: 'blocks' },
    },
  };
}

/**
 * Latency CDFs on a log-scaled latency axis, one line per series (the points are each
 * histogram bucket's upper edge and the fraction at or below it).
 */
export function latencyCdfSpec(series: readonly { name: string; points: readonly { us: number; fraction: number }[] }[]): VegaLiteSpec {
  const colours = [SERIES_COLOUR, SECOND_COLOUR, '#2ca02c', '#d62728'];
  return {
    ...BASE,
    title: 'latency CDF',
    data: { values: series.flatMap((s) => s.points.map((p) => ({ ...p, series: s.name }))) },
    mark: { type: 'line', strokeWidth: 2, interpolate: 'step-after' },
    encoding: {
      x: { field: 'us', type: 'quantitative', title: 'latency (µs, log scale)', scale: { type: 'log' } },
      y: { field: 'fraction', type: 'quantitative', title: 'fraction of operations ≤ latency', scale: { domain: [0, 1] } },
      color: { field: 'series', type: 'nominal', title: null, scale: { domain: series.map((s) => s.name), range: colours.slice(0, series.length) } },
    },
  };
}

/** CDF points from a sparse latency histogram ([bucket, count], bucket b = [2^(b/k), 2^((b+1)/k)) ns). */
export function cdfFromHistogram(buckets: readonly (readonly [number, number])[], bucketsPerOctave = 8): { us: number; fraction: number }[] {
  const total = buckets.reduce((n, [, c]) => n + c, 0);
  if (total === 0) return [];
  let seen = 0;
  const out = [{ us: 2 ** (buckets[0]![0] / bucketsPerOctave) / 1000, fraction: 0 }];
  for (const [b, c] of buckets) {
    seen += c;
    out.push({ us: 2 ** ((b + 1) / bucketsPerOctave) / 1000, fraction: seen / total });
  }
  return out;
}
