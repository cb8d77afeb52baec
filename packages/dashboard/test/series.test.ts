/**
 * The numbers behind the page's plots: interval WAF from cumulative samples (short intervals
 * merged, no false drop at the end), the bounded series' thinning, and the chart data built with
 * @flashdiff/ssd's own spec functions — rendered here by the CLI's renderer (`ssdsim plot`'s
 * renderSvg) to show the page draws the same charts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderSvg } from '@flashdiff/ssd/plot';
import { BoundedSeries, intervalWafPoints } from '../src/shared/series.ts';
import { eraseHistogramChart, intervalWafChart, latencyCdfChart, lossCurveChart } from '../src/client/charts.ts';
import { nearest } from '../src/client/widgets/chart.ts';

test('interval WAF: ΔNAND / Δhost per interval; a short last interval is merged into the one before', () => {
  const host = [0, 100, 200, 300, 310];
  const nand = [0, 100, 250, 400, 410];
  const points = intervalWafPoints(host, nand);
  // Without the merge the last point would be 10 / 10 = 1.0: a false drop from 1.5.
  assert.deepEqual(points.map((p) => p.hostPageWrites), [100, 200, 310]);
  assert.deepEqual(points.map((p) => p.intervalWaf), [1, 1.5, 160 / 110]);
  assert.deepEqual(points.map((p) => p.waf), [1, 1.25, 410 / 310]);
});

test('interval WAF: a short interval in the middle (a slice of reads) is merged into the next', () => {
  const points = intervalWafPoints([0, 100, 105, 105, 200], [0, 200, 205, 205, 400]);
  assert.deepEqual(points, [
    { hostPageWrites: 100, intervalWaf: 2, waf: 2 },
    { hostPageWrites: 200, intervalWaf: 2, waf: 2 },
  ]);
  assert.deepEqual(intervalWafPoints([0], [0]), []);
  assert.deepEqual(intervalWafPoints([0, 0], [0, 0]), []);
  // The measurement may start after preconditioning: host[0] > 0.
  assert.deepEqual(intervalWafPoints([50, 150], [60, 260]), [{ hostPageWrites: 150, intervalWaf: 2, waf: 260 / 150 }]);
});

test('a bounded series thins its older half and keeps the first and the latest samples', () => {
  const series = new BoundedSeries(['host', 'nand'] as const, 100);
  for (let i = 0; i <= 1000; i++) series.push({ host: i * 10, nand: i * 13 });
  assert.ok(series.length <= 101 && series.length > 50, `${series.length} samples`);
  assert.equal(series.columns.host[0], 0);
  assert.equal(series.last('host'), 10_000);
  // Cumulative samples stay exact: every kept pair still gives WAF 1.3 over its interval.
  for (const p of intervalWafPoints(series.columns.host, series.columns.nand)) assert.ok(Math.abs(p.intervalWaf - 1.3) < 1e-12);
  assert.ok(series.columns.host.every((h, i, all) => i === 0 || h > all[i - 1]!));
});

test('chart data: tables hold the plotted numbers; readouts name the values under the pointer', () => {
  const waf = intervalWafChart({ host: [0, 100, 200], nand: [0, 100, 300], free: [9, 5, 4] })!;
  assert.deepEqual(waf.table.rows, [
    [100, 1, 1],
    [200, 2, 1.5],
  ]);
  assert.equal(waf.describe(180), '200 host page writes: interval WAF 2, cumulative WAF 1.5');
  const erase = eraseHistogramChart({ binStart: 3, binWidth: 2, counts: [4, 0, 1] })!;
  assert.deepEqual(erase.table.rows, [
    ['3–4', 4],
    ['5–6', 0],
    ['7–8', 1],
  ]);
  assert.equal(erase.describe(7.5), 'erase count 7–8: 1 block');
  // Buckets 80 and 88 (8 per octave): 2^10 ns = 1.024 µs and 2^11 ns.
  const latency = latencyCdfChart({ bucketsPerOctave: 8, buckets: [] }, { bucketsPerOctave: 8, buckets: [[80, 3], [88, 1]] })!;
  assert.deepEqual(latency.table.rows.map((r) => r[0]), ['writes', 'writes', 'writes']);
  assert.deepEqual(latency.table.rows.map((r) => r[2]), [0, 0.75, 1]);
  assert.match(latency.describe(3), /^writes: 100 % ≤ 3 µs$/);
  assert.equal(latencyCdfChart({ bucketsPerOctave: 8, buckets: [] }, { bucketsPerOctave: 8, buckets: [] }), undefined);
  assert.equal(nearest([1, 5, 9], 6.9), 1);
  assert.equal(nearest([1, 5, 9], 7.1), 2);
});

test('the page’s specs render with the CLI’s renderer, axis titles and units included', async () => {
  const charts = [
    intervalWafChart({ host: [0, 100, 200], nand: [0, 100, 300], free: [9, 5, 4] })!,
    eraseHistogramChart({ binStart: 0, binWidth: 1, counts: [2, 3] })!,
    latencyCdfChart({ bucketsPerOctave: 8, buckets: [[80, 1]] }, { bucketsPerOctave: 8, buckets: [[88, 1]] })!,
    lossCurveChart([1, 2, 3], [0.9, 0.5, 0.4], 10)!,
  ];
  const titles = [
    ['host page writes (measured)', 'write amplification'],
    ['erase count', 'blocks'],
    ['latency (µs, log scale)', 'fraction of operations ≤ latency'],
    ['training step (batches)', 'loss (MSE of the predicted noise)'],
  ];
  for (const [i, chart] of charts.entries()) {
    const svg = await renderSvg(chart.spec);
    for (const title of titles[i]!) assert.ok(svg.includes(`>${title}<`), `chart ${i}: axis title '${title}'`);
  }
});
