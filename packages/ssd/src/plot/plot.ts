/**
 * `ssdsim plot`: reads a sweep's summary.csv or a report JSON (an `ssdsim run --json` report or
 * one sweep point) and writes its charts as SVG + PNG pairs into a folder:
 *   summary.csv → waf-vs-op (one per workload when several), with the Lambert-W curve;
 *   report      → interval-waf, free-blocks, erase-histogram, latency-cdf.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFilesAtomic } from '@flashdiff/cli-kit';
import { SsdError } from '../errors.ts';
import type { TimeSeriesPoint } from '../simulator.ts';
import { renderChart } from './render.ts';
import { cdfFromHistogram, eraseHistogramSpec, freeBlocksSpec, intervalWafSpec, latencyCdfSpec, wafVsOpSpec } from './specs.ts';
import type { VegaLiteSpec } from './specs.ts';

/** RFC 4180 CSV: quoted fields with "" escapes; returns rows of cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** The charts of a sweep summary: WAF vs OP per GC policy (one chart per workload). */
export function summaryCharts(csv: string, file = 'summary.csv'): Record<string, VegaLiteSpec> {
  const [header, ...rows] = parseCsv(csv).filter((r) => r.length > 1 || r[0] !== '');
  const col = (name: string) => {
    const i = header?.indexOf(name) ?? -1;
    if (i < 0) throw new SsdError('INVALID_CONFIG', `${file}: not a sweep summary (no '${name}' column)`);
    return i;
  };
  const [op, waf, gc, workload, error] = [col('op'), col('waf'), col('gc'), col('workload'), col('error')];
  const good = rows.filter((r) => r[error] === '' && r[waf] !== '');
  if (good.length === 0) throw new SsdError('INVALID_CONFIG', `${file}: no successful points to plot`);
  const workloads = [...new Set(good.map((r) => r[workload]!))];
  const charts: Record<string, VegaLiteSpec> = {};
  for (const w of workloads) {
    const data = good.filter((r) => r[workload] === w).map((r) => ({ op: Number(r[op]), waf: Number(r[waf]), gc: r[gc]! }));
    charts[workloads.length === 1 ? 'waf-vs-op' : `waf-vs-op-${w}`] = wafVsOpSpec(data, `WAF vs over-provisioning (${w} writes)`);
  }
  return charts;
}

interface ReportLike {
  timeSeries?: TimeSeriesPoint[];
  erase?: { histogram: { binStart: number; binWidth: number; counts: number[] } };
  latencyHistogram?: { bucketsPerOctave: number; buckets: [number, number][] };
  readLatencyHistogram?: { bucketsPerOctave: number; buckets: [number, number][] };
  writeLatencyHistogram?: { bucketsPerOctave: number; buckets: [number, number][] };
}

/** The charts of one report (or a sweep point's report). */
export function reportCharts(value: unknown, file = 'report.json'): Record<string, VegaLiteSpec> {
  const r = ((value as { report?: unknown }).report ?? value) as ReportLike;
  if (typeof r !== 'object' || r === null || !Array.isArray(r.timeSeries) || r.erase === undefined) {
    throw new SsdError('INVALID_CONFIG', `${file}: not an ssdsim report (no timeSeries / erase): write one with ssdsim run --json --out`);
  }
  const charts: Record<string, VegaLiteSpec> = {};
  if (r.timeSeries.length > 0) {
    charts['interval-waf'] = intervalWafSpec(r.timeSeries);
    charts['free-blocks'] = freeBlocksSpec(r.timeSeries);
  }
  charts['erase-histogram'] = eraseHistogramSpec(r.erase.histogram);
  // Separate read and write histograms when the report has them; else all host operations.
  type Histogram = NonNullable<ReportLike['latencyHistogram']>;
  const candidates: [string, Histogram | undefined][] = [
    ['reads', r.readLatencyHistogram],
    ['writes', r.writeLatencyHistogram],
  ];
  let series = candidates.filter((s): s is [string, Histogram] => s[1] !== undefined && s[1].buckets.length > 0);
  if (series.length === 0 && r.latencyHistogram && r.latencyHistogram.buckets.length > 0) series = [['host operations', r.latencyHistogram]];
  if (series.length > 0) charts['latency-cdf'] = latencyCdfSpec(series.map(([name, h]) => ({ name, points: cdfFromHistogram(h.buckets, h.bucketsPerOctave) })));
  return charts;
}

/** Reads `input` (summary.csv or a report JSON), writes `<chart>.svg` and `<chart>.png` into `outDir`; returns the files written. */
export async function plotFile(input: string, outDir: string, scale = 1): Promise<string[]> {
  let text: string;
  try {
    text = readFileSync(input, 'utf8');
  } catch (e) {
    throw new SsdError('INVALID_CONFIG', `${input}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let charts: Record<string, VegaLiteSpec>;
  if (input.toLowerCase().endsWith('.csv')) charts = summaryCharts(text, input);
  else {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new SsdError('INVALID_CONFIG', `${input}: not JSON (${(e as Error).message}); plot reads a sweep's summary.csv or a report .json`);
    }
    charts = reportCharts(value, basename(input));
  }
  return writeCharts(charts, outDir, scale);
}

/**
 * Renders charts into `outDir` as `<name>.svg` + `<name>.png`; returns the files written. All are
 * rendered first and then written as one atomic step: a failure (ENOSPC, a directory in the way)
 * or Ctrl-C leaves the folder's previous charts as they were, never a mix of old and new.
 */
export async function writeCharts(charts: Record<string, VegaLiteSpec>, outDir: string, scale = 1): Promise<string[]> {
  const files: Array<[string, Uint8Array | string]> = [];
  for (const [name, spec] of Object.entries(charts)) {
    const { svg, png } = await renderChart(spec, scale);
    files.push([join(outDir, `${name}.svg`), svg], [join(outDir, `${name}.png`), png]);
  }
  writeFilesAtomic(files);
  return files.map(([path]) => path);
}
