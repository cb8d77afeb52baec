// Plots: the charts render to SVG and PNG without a browser, and the PNGs show the data (checked
// by pixels: each series' colour where its values put it).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { POLICY_COLOURS, SECOND_COLOUR, SERIES_COLOUR, THEORY_COLOUR, cdfFromHistogram, eraseHistogramSpec, plotFile, renderChart, reportCharts, wafVsOpSpec } from '../src/plot/index.ts';

function rgb(hex: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}
/** Pixels of a colour (within ±12 per channel), as [x, y]. */
function pixelsOf(png: Uint8Array, hex: string): { width: number; height: number; at: [number, number][] } {
  const img = PNG.sync.read(Buffer.from(png));
  const [r, g, b] = rgb(hex);
  const at: [number, number][] = [];
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const i = 4 * (y * img.width + x);
      if (Math.abs(img.data[i]! - r) <= 12 && Math.abs(img.data[i + 1]! - g) <= 12 && Math.abs(img.data[i + 2]! - b) <= 12) at.push([x, y]);
    }
  }
  return { width: img.width, height: img.height, at };
}
const meanY = (pts: [number, number][]) => pts.reduce((s, p) => s + p[1], 0) / pts.length;

describe('plots', () => {
  test('WAF vs OP: each policy drawn in its colour, falling with OP; FIFO above greedy; the Lambert-W curve', async () => {
    const rows = [0.1, 0.2, 0.3].flatMap((op) => [
      { op, gc: 'greedy', waf: 1 + 0.4 / op },
      { op, gc: 'fifo', waf: 1 + 0.6 / op },
    ]);
    const { svg, png } = await renderChart(wafVsOpSpec(rows));
    assert.match(svg, /^<svg/);
    assert.match(svg, /WAF vs over-provisioning/);
    const greedy = pixelsOf(png, POLICY_COLOURS.greedy!);
    const fifo = pixelsOf(png, POLICY_COLOURS.fifo!);
    const theory = pixelsOf(png, THEORY_COLOUR);
    const w = Number(/width="(\d+)"/.exec(svg)![1]);
    assert.equal(greedy.width, w);
    assert.ok(greedy.at.length > 200 && fifo.at.length > 200 && theory.at.length > 100, `${greedy.at.length} ${fifo.at.length} ${theory.at.length}`);
    // Falling: the left third of the line sits higher (smaller y) than the right third.
    const xs = greedy.at.map((p) => p[0]);
    const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
    const left = greedy.at.filter((p) => p[0] < lo + (hi - lo) / 3 && p[0] > lo + 5);
    const right = greedy.at.filter((p) => p[0] > hi - (hi - lo) / 3 && p[0] < hi - 5);
    assert.ok(meanY(left) < meanY(right) - 20, `${meanY(left)} ${meanY(right)}`);
    // FIFO's higher WAF is drawn above greedy's (legend swatches excluded: x inside the plot).
    const inPlot = (pts: [number, number][]) => pts.filter((p) => p[0] >= lo && p[0] <= hi);
    assert.ok(meanY(inPlot(fifo.at)) < meanY(inPlot(greedy.at)));
  });

  test('erase histogram: bar heights follow the counts', async () => {
    const { png } = await renderChart(eraseHistogramSpec({ binStart: 10, binWidth: 2, counts: [1, 4] }));
    const bars = pixelsOf(png, SERIES_COLOUR).at;
    const xs = bars.map((p) => p[0]);
    const mid = (Math.min(...xs) + Math.max(...xs)) / 2;
    const height = (pts: [number, number][]) => Math.max(...pts.map((p) => p[1])) - Math.min(...pts.map((p) => p[1])) + 1;
    const h1 = height(bars.filter((p) => p[0] < mid - 3));
    const h2 = height(bars.filter((p) => p[0] > mid + 3));
    assert.ok(Math.abs(h2 / h1 - 4) < 0.15, `${h1} ${h2}`);
  });

  test('latency CDFs: reads and writes apart when the report has both, the reads left of slower writes', async () => {
    const report = {
      timeSeries: [],
      erase: { histogram: { binStart: 0, binWidth: 1, counts: [1] } },
      latencyHistogram: { bucketsPerOctave: 8, buckets: [[100, 5], [140, 5]] },
      readLatencyHistogram: { bucketsPerOctave: 8, buckets: [[100, 5]] },
      writeLatencyHistogram: { bucketsPerOctave: 8, buckets: [[140, 5]] },
    };
    const spec = reportCharts(report)['latency-cdf']!;
    const { png } = await renderChart(spec);
    const reads = pixelsOf(png, SERIES_COLOUR).at;
    const writes = pixelsOf(png, SECOND_COLOUR).at;
    const meanX = (pts: [number, number][]) => pts.reduce((t, p) => t + p[0], 0) / pts.length;
    assert.ok(reads.length > 50 && writes.length > 50);
    assert.ok(meanX(reads) < meanX(writes) - 50, `${meanX(reads)} ${meanX(writes)}`);
  });

  test('latency CDF points from a histogram', () => {
    const cdf = cdfFromHistogram([[80, 1], [88, 3]], 8);
    assert.deepEqual(cdf.map((p) => p.fraction), [0, 0.25, 1]);
    assert.ok(Math.abs(cdf[1]!.us - 2 ** (81 / 8) / 1000) < 1e-12);
  });

  test('plotFile: a report gives four charts, a summary its WAF chart; bad input names the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssd-plot-'));
    try {
      const report = {
        timeSeries: [1, 2, 3, 4].map((i) => ({ hostPageWrites: i * 100, intervalWaf: 1 + i / 4, waf: 1 + i / 8, freeUnits: 10 - i })),
        erase: { histogram: { binStart: 0, binWidth: 1, counts: [3, 5, 2] } },
        latencyHistogram: { bucketsPerOctave: 8, buckets: [[100, 5], [120, 5]] },
      };
      writeFileSync(join(dir, 'r.json'), JSON.stringify(report));
      const files = await plotFile(join(dir, 'r.json'), join(dir, 'out'));
      assert.deepEqual(files.map((f) => f.slice(dir.length + 5)).sort(), [
        'erase-histogram.png', 'erase-histogram.svg', 'free-blocks.png', 'free-blocks.svg', 'interval-waf.png', 'interval-waf.svg', 'latency-cdf.png', 'latency-cdf.svg',
      ]);
      for (const f of files.filter((x) => x.endsWith('.png'))) assert.ok(pixelsOf(readFileSync(f), SERIES_COLOUR).at.length > 50, f);
      writeFileSync(join(dir, 's.csv'), 'index,id,vary:op,op,gc,workload,waf,error\n0,0_op=0.1,0.1,0.1,greedy,uniform,4.5,\n1,1_op=0.2,0.2,0.2,greedy,uniform,2.9,\n2,2_op=0.3,0.3,0.3,greedy,uniform,,"no space, sorry"\n');
      assert.deepEqual((await plotFile(join(dir, 's.csv'), join(dir, 'csv'))).map((f) => f.slice(dir.length + 5)), ['waf-vs-op.svg', 'waf-vs-op.png']);
      writeFileSync(join(dir, 'x.json'), '{"hello": 1}');
      await assert.rejects(plotFile(join(dir, 'x.json'), dir), /x\.json: not an ssdsim report/);
      writeFileSync(join(dir, 'x.csv'), 'a,b\n1,2\n');
      await assert.rejects(plotFile(join(dir, 'x.csv'), dir), /x\.csv: not a sweep summary \(no 'op' column\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
