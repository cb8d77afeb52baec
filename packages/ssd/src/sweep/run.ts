/**
 * Running a sweep's points on worker threads (one per core by default), each point's JSON written
 * as soon as it finishes, the summary at the end. One worker (or one point) runs in this thread.
 */
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SsdError } from '../errors.ts';
import { runScenario } from '../scenario/run.ts';
import type { ScenarioReport } from '../scenario/run.ts';
import type { SweepPlan, SweepPoint } from './plan.ts';
import { pointResult, writePoint, writeSummary } from './results.ts';
import type { PointResult } from './results.ts';

export interface SweepRunOptions {
  /** Worker threads (default: the machine's available parallelism). */
  workers?: number;
  /** Called after each point: points done, points in this run. */
  onProgress?: (done: number, total: number) => void;
}

export function defaultWorkers(): number {
  return availableParallelism();
}

/**
 * Runs `points` (all of the plan's, or a shard's) and writes their files under `outDir`. The
 * folder gets its points/ even when the shard is empty (more shards than points, as a batch
 * array sized for a bigger sweep gives), so `ssdsim merge sweep-*` takes every shard's folder.
 */
export async function runSweep(plan: SweepPlan, points: readonly SweepPoint[], outDir: string, options: SweepRunOptions = {}): Promise<PointResult[]> {
  const workers = Math.max(1, Math.min(options.workers ?? defaultWorkers(), points.length));
  if (!Number.isInteger(workers)) throw new SsdError('INVALID_CONFIG', `workers must be a positive integer, got ${options.workers}`);
  try {
    mkdirSync(join(outDir, 'points'), { recursive: true });
  } catch (e) {
    throw new SsdError('INVALID_CONFIG', `${outDir}: cannot create the sweep folder (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const results: PointResult[] = [];
  const finish = (point: SweepPoint, report: ScenarioReport | null, error: string | null, wall: number) => {
    const r = pointResult(plan, point, report, error, wall);
    writePoint(outDir, r);
    results.push(r);
    options.onProgress?.(results.length, points.length);
  };
  if (workers === 1) {
    for (const point of points) {
      const started = performance.now();
      try {
        finish(point, runScenario(point.scenario), null, (performance.now() - started) / 1000);
      } catch (e) {
        finish(point, null, e instanceof Error ? e.message : String(e), (performance.now() - started) / 1000);
      }
    }
  } else {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let running = 0;
      const pool: Worker[] = [];
      const stop = (e?: Error) => {
        for (const w of pool) void w.terminate();
        if (e) reject(e);
        else resolve();
      };
      const feed = (w: Worker) => {
        if (next >= points.length) {
          if (running === 0) stop();
          return;
        }
        const point = points[next++]!;
        running++;
        w.postMessage({ index: point.index, scenario: point.scenario });
      };
      const byIndex = new Map(points.map((p) => [p.index, p]));
      for (let i = 0; i < workers; i++) {
        const w = new Worker(new URL('./worker-entry.js', import.meta.url));
        pool.push(w);
        w.on('message', (m: { index: number; report: ScenarioReport | null; error: string | null; wallSeconds: number }) => {
          running--;
          try {
            finish(byIndex.get(m.index)!, m.report, m.error, m.wallSeconds);
          } catch (e) {
            stop(e as Error);
            return;
          }
          feed(w);
        });
        w.on('error', (e) => stop(new SsdError('INVALID_CONFIG', `sweep worker failed: ${e.message}`)));
        feed(w);
      }
    });
  }
  results.sort((a, b) => a.index - b.index);
  writeSummary(outDir, results, plan.axes.map((a) => a.name));
  return results;
}
