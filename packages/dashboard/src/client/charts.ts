/**
 * The page's charts as data: each builds the Vega-Lite spec with @flashdiff/ssd's own spec
 * functions (the ones `ssdsim plot` renders to SVG and PNG), the data table of the same numbers,
 * and the hover readout. The training loss curve, which has no CLI chart, gets its spec here in
 * the same style.
 */
import { cdfFromHistogram, eraseHistogramSpec, freeBlocksSpec, intervalWafSpec, latencyCdfSpec, SERIES_COLOUR } from '@flashdiff/ssd/plot/specs';
import type { SparseHistogram, SsdFrame, SsdSeries } from '../shared/protocol.ts';
import { intervalWafPoints } from '../shared/series.ts';
import type { ChartData, VegaLiteSpec } from './widgets/chart.ts';
import { formatCell, nearest } from './widgets/chart.ts';

/** Sets an axis title of a single-view spec (the dashboard names what it plots where the CLI's words differ). */
function axisTitle(spec: VegaLiteSpec, channel: 'x' | 'y', title: string): VegaLiteSpec {
  const encoding = spec.encoding as Record<string, Record<string, unknown>>;
  return { ...spec, encoding: { ...encoding, [channel]: { ...encoding[channel], title } } };
}

/** Interval WAF (short intervals merged, shared/series.ts) and cumulative WAF over the measured host writes. */
export function intervalWafChart(series: SsdSeries): ChartData | undefined {
  const points = intervalWafPoints(series.host, series.nand);
  if (points.length === 0) return undefined;
  const xs = points.map((p) => p.hostPageWrites);
  return {
    spec: intervalWafSpec(points),
    table: { columns: ['host page writes (pages)', 'interval WAF', 'cumulative WAF'], rows: points.map((p) => [p.hostPageWrites, p.intervalWaf, p.waf]) },
    describe: (x) => {
      const p = points[nearest(xs, x)]!;
      return `${formatCell(p.hostPageWrites)} host page writes: interval WAF ${formatCell(p.intervalWaf)}, cumulative WAF ${formatCell(p.waf)}`;
    },
  };
}

/** Free blocks over the measured host writes. */
export function freeBlocksChart(series: SsdSeries): ChartData | undefined {
  if (series.host.length === 0) return undefined;
  const points = series.host.map((host, i) => ({ hostPageWrites: host, freeUnits: series.free[i]! }));
  return {
    // The page counts free blocks (the CLI's chart plots free GC units).
    spec: axisTitle(freeBlocksSpec(points), 'y', 'free blocks'),
    table: { columns: ['host page writes (pages)', 'free blocks'], rows: points.map((p) => [p.hostPageWrites, p.freeUnits]) },
    describe: (x) => {
      // A step chart: the value holding at x is the last sample at or before it.
      let i = nearest(series.host, x);
      if (series.host[i]! > x && i > 0) i--;
      return `${formatCell(series.host[i]!)} host page writes: ${series.free[i]} free blocks`;
    },
  };
}

/** Erase-count histogram over the good blocks. */
export function eraseHistogramChart(histogram: SsdFrame['eraseHistogram']): ChartData | undefined {
  if (histogram.counts.length === 0) return undefined;
  const bins = histogram.counts.map((count, i) => ({ from: histogram.binStart + i * histogram.binWidth, to: histogram.binStart + (i + 1) * histogram.binWidth, count }));
  const range = (b: { from: number; to: number }): string => (b.to - b.from === 1 ? String(b.from) : `${b.from}–${b.to - 1}`);
  return {
    spec: eraseHistogramSpec(histogram),
    table: { columns: ['erase count', 'blocks'], rows: bins.map((b) => [range(b), b.count]) },
    describe: (x) => {
      const b = bins.find((bin) => x >= bin.from && x < bin.to) ?? (x < bins[0]!.from ? bins[0]! : bins.at(-1)!);
      return `erase count ${range(b)}: ${b.count} block${b.count === 1 ? '' : 's'}`;
    },
  };
}

/** Read and write latency CDFs (log latency axis); only the kinds that have operations. */
export function latencyCdfChart(reads: SparseHistogram, writes: SparseHistogram): ChartData | undefined {
  const series = (
    [
      ['reads', reads],
      ['writes', writes],
    ] as const
  )
    .filter(([, histogram]) => histogram.buckets.length > 0)
    .map(([name, histogram]) => ({ name, points: cdfFromHistogram(histogram.buckets, histogram.bucketsPerOctave) }));
  if (series.length === 0) return undefined;
  return {
    spec: latencyCdfSpec(series),
    table: {
      columns: ['operations', 'latency ≤ (µs)', 'fraction of operations'],
      rows: series.flatMap((s) => s.points.map((p) => [s.name, p.us, p.fraction])),
    },
    describe: (x) =>
      series
        .map((s) => {
          // The CDF at x: the fraction of the last bucket edge at or below x.
          let fraction = 0;
          for (const p of s.points) if (p.us <= x) fraction = p.fraction;
          return `${s.name}: ${formatCell(fraction * 100)} % ≤ ${formatCell(x)} µs`;
        })
        .join(' · '),
  };
}

/** The diffusion training loss per step (L_simple: the MSE of the predicted noise). */
export function lossCurveChart(steps: readonly number[], losses: readonly number[], totalSteps: number): ChartData | undefined {
  if (steps.length === 0) return undefined;
  const values = steps.map((step, i) => ({ step, loss: losses[i]! }));
  const spec: VegaLiteSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    config: { font: 'DejaVu Sans' },
    title: 'training loss per step',
    data: { values },
    mark: { type: 'line', strokeWidth: 1.5, color: SERIES_COLOUR },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'training step (batches)', scale: { domain: [0, Math.max(1, totalSteps)] } },
      y: { field: 'loss', type: 'quantitative', title: 'loss (MSE of the predicted noise)', scale: { zero: false } },
    },
  };
  return {
    spec,
    table: { columns: ['training step', 'loss'], rows: values.map((v) => [v.step, v.loss]) },
    describe: (x) => {
      const i = nearest(steps, x);
      return `step ${steps[i]}: loss ${formatCell(losses[i]!)}`;
    },
  };
}
