/**
 * A sweep's files: one JSON per point (`points/<id>.json`: the sweep's id and axes, the point's
 * values, the scenario and its report, or its error) and `summary.csv` with one row per point in
 * index order. Everything is written to a temporary name and renamed, so an interrupted sweep
 * leaves whole files only. `ssdsim merge` reads the points of several shard folders back.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@flashdiff/cli-kit';
import { SsdError } from '../errors.ts';
import type { ScenarioReport } from '../scenario/run.ts';
import type { Scenario } from '../scenario/schema.ts';
import type { SweepPlan, SweepPoint } from './plan.ts';

export interface PointResult {
  sweep: { id: string; axes: { name: string; key: string; values: unknown[] }[]; points: number };
  index: number;
  id: string;
  values: Record<string, unknown>;
  scenario: Scenario;
  report: ScenarioReport | null;
  error: string | null;
  /** Wall-clock seconds this point took (the only field that differs between identical runs). */
  wallSeconds: number;
}

export function pointResult(plan: SweepPlan, point: SweepPoint, report: ScenarioReport | null, error: string | null, wallSeconds: number): PointResult {
  return {
    sweep: { id: plan.id, axes: plan.axes.map((a) => ({ name: a.name, key: a.key, values: [...a.values] })), points: plan.points.length },
    index: point.index,
    id: point.id,
    values: { ...point.values },
    scenario: point.scenario,
    report,
    error,
    wallSeconds,
  };
}

export function writePoint(dir: string, r: PointResult): void {
  writeFileAtomic(join(dir, 'points', `${r.id}.json`), JSON.stringify(r) + '\n');
}

/** The summary's fixed columns after the axes: what plots and spreadsheets need. */
const COLUMNS: [string, (r: PointResult) => unknown][] = [
  ['op', (r) => r.scenario.device.ftl.overProvisioning],
  ['gc', (r) => r.scenario.device.ftl.gcPolicy],
  ['workload', (r) => r.scenario.workload.kind],
  ['userPages', (r) => (r.report?.config as { userPages?: number } | undefined)?.userPages],
  ['waf', (r) => r.report?.waf],
  ['hostPageWrites', (r) => r.report?.hostPageWrites],
  ['nandPageWrites', (r) => r.report?.nandPageWrites],
  ['gcRuns', (r) => r.report?.gcRuns],
  ['gcMovedPages', (r) => r.report?.gcMovedPages],
  ['erases', (r) => r.report?.erases],
  ['eraseMin', (r) => r.report?.erase.min],
  ['eraseMax', (r) => r.report?.erase.max],
  ['eraseMean', (r) => r.report?.erase.mean],
  ['trimmedPages', (r) => r.report?.counters.hostTrimmedPages],
  ['latencyP50Us', (r) => r.report?.latencyUs.p50],
  ['latencyP99Us', (r) => r.report?.latencyUs.p99],
  ['latencyP999Us', (r) => r.report?.latencyUs.p999],
  ['hostWriteMBps', (r) => r.report?.throughput.hostWriteMBps],
  ['simulatedSeconds', (r) => r.report?.throughput.simulatedSeconds],
  ['preconditionWaf', (r) => r.report?.precondition?.waf],
  ['error', (r) => r.error],
];

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * summary.csv for these results (sorted by index; axis columns first, named as typed). `axes`
 * names the columns when there are no results to take them from (an empty shard).
 */
export function summaryCsv(results: readonly PointResult[], axes: readonly string[] = results[0]?.sweep.axes.map((a) => a.name) ?? []): string {
  const sorted = [...results].sort((a, b) => a.index - b.index);
  const header = ['index', 'id', ...axes.map((a) => `vary:${a}`), ...COLUMNS.map(([c]) => c)];
  const rows = sorted.map((r) => [r.index, r.id, ...axes.map((a) => r.values[a]), ...COLUMNS.map(([, f]) => f(r))].map(csvCell).join(','));
  return [header.join(','), ...rows].join('\n') + '\n';
}

export function writeSummary(dir: string, results: readonly PointResult[], axes?: readonly string[]): void {
  writeFileAtomic(join(dir, 'summary.csv'), summaryCsv(results, axes));
}

/** Reads every point of a sweep folder (none for an empty shard's). */
export function readPoints(dir: string): PointResult[] {
  let files: string[];
  try {
    files = readdirSync(join(dir, 'points')).filter((f) => f.endsWith('.json'));
  } catch (e) {
    throw new SsdError('INVALID_CONFIG', `${dir}: not a sweep folder (no points/: ${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return files.map((f) => {
    const path = join(dir, 'points', f);
    try {
      const r = JSON.parse(readFileSync(path, 'utf8')) as PointResult;
      if (typeof r.sweep?.id !== 'string' || typeof r.index !== 'number') throw new Error('not a sweep point');
      return r;
    } catch (e) {
      throw new SsdError('INVALID_CONFIG', `${path}: not a sweep point file (${(e as Error).message})`);
    }
  });
}

/**
 * Joins the points of several folders (shards of one sweep) into `outDir`: every point must
 * belong to the same sweep; a point found twice must be the same result; every point of the sweep
 * must be present unless `allowPartial`. Returns the merged results.
 */
export function mergeSweeps(dirs: readonly string[], outDir: string, allowPartial = false): PointResult[] {
  const byIndex = new Map<number, PointResult>();
  let sweepId: string | null = null;
  let total = 0;
  for (const dir of dirs) {
    for (const r of readPoints(dir)) {
      if (sweepId === null) {
        sweepId = r.sweep.id;
        total = r.sweep.points;
      } else if (r.sweep.id !== sweepId) {
        throw new SsdError('INVALID_CONFIG', `${dir}: point ${r.id} belongs to sweep ${r.sweep.id}, not ${sweepId} (another scenario or other --vary axes)`);
      }
      const seen = byIndex.get(r.index);
      if (seen && JSON.stringify({ ...seen, wallSeconds: 0 }) !== JSON.stringify({ ...r, wallSeconds: 0 })) {
        throw new SsdError('INVALID_CONFIG', `${dir}: point ${r.id} differs from the copy already merged`);
      }
      byIndex.set(r.index, r);
    }
  }
  if (sweepId === null) throw new SsdError('INVALID_CONFIG', `no sweep points in ${dirs.join(', ')}`);
  const missing = Array.from({ length: total }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0 && !allowPartial) {
    throw new SsdError('INVALID_CONFIG', `${missing.length} of ${total} points missing (indices ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}); run their shards or pass --allow-partial`);
  }
  const results = [...byIndex.values()].sort((a, b) => a.index - b.index);
  for (const r of results) writePoint(outDir, r);
  writeSummary(outDir, results);
  return results;
}
