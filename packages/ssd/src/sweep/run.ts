/**
 * Running a sweep's points on every core, each point's JSON written as soon as it finishes, the
 * summary at the end. With N workers, this thread is one of them and N − 1 worker threads are the
 * others: a worker thread needs seconds to start (it registers tsx, then loads and compiles the
 * simulator's modules and WebAssembly), and this thread runs points meanwhile instead of waiting,
 * so a sweep of a few points is not slower on 2 workers than on 1. A thread gets points only once
 * it says it is ready, then two at a time (the next one queued while it runs one, since this
 * thread answers its messages only between its own points). One worker runs everything here.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ensureDirectory } from '@flashdiff/cli-kit';
import { SsdError } from '../errors.ts';
import { runScenario } from '../scenario/run.ts';
import type { ScenarioReport } from '../scenario/run.ts';
import type { SweepPlan, SweepPoint } from './plan.ts';
import { pointResult, writePoint, writeSummary } from './results.ts';
import type { PointResult } from './results.ts';

/** Defined by bin/build.js in the compiled CLI: the compiled worker entry, relative to this file (else worker-entry.js, through tsx). */
declare const SSDSIM_SWEEP_WORKER_ENTRY: string | undefined;
const WORKER_ENTRY = typeof SSDSIM_SWEEP_WORKER_ENTRY === 'string' ? SSDSIM_SWEEP_WORKER_ENTRY : './worker-entry.js';

export interface SweepRunOptions {
  /** Points run at once: this thread and workers − 1 worker threads (default: the machine's available parallelism). */
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
    ensureDirectory(join(outDir, 'points'));
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
      let settled = false;
      const pool: Worker[] = [];
      const inFlight = new Map<Worker, number>();
      const byIndex = new Map(points.map((p) => [p.index, p]));
      const stop = (e?: Error) => {
        if (settled) return;
        settled = true;
        for (const w of pool) void w.terminate();
        if (e) reject(e);
        else resolve();
      };
      const checkDone = () => {
        if (results.length === points.length) stop();
      };
      /** Keeps a ready worker thread two points deep. */
      const feed = (w: Worker) => {
        while (!settled && (inFlight.get(w) ?? 0) < 2 && next < points.length) {
          const point = points[next++]!;
          inFlight.set(w, (inFlight.get(w) ?? 0) + 1);
          w.postMessage({ index: point.index, scenario: point.scenario });
        }
      };
      /** This thread's share: one point, then back to the event loop for the threads' messages. */
      const runHere = () => {
        if (settled) return;
        if (next >= points.length) return checkDone();
        const point = points[next++]!;
        const started = performance.now();
        let report: ScenarioReport | null = null;
        let error: string | null = null;
        try {
          report = runScenario(point.scenario);
        } catch (e) {
          error = e instanceof Error ? e.message : String(e);
        }
        try {
          finish(point, report, error, (performance.now() - started) / 1000);
        } catch (e) {
          return stop(e as Error);
        }
        setImmediate(runHere);
      };
      for (let i = 0; i < workers - 1; i++) {
        const w = new Worker(new URL(WORKER_ENTRY, import.meta.url));
        pool.push(w);
        w.on('message', (m: { ready: true } | { index: number; report: ScenarioReport | null; error: string | null; wallSeconds: number }) => {
          if (settled) return;
          if ('ready' in m) return feed(w);
          inFlight.set(w, inFlight.get(w)! - 1);
          try {
            finish(byIndex.get(m.index)!, m.report, m.error, m.wallSeconds);
          } catch (e) {
            return stop(e as Error);
          }
          feed(w);
          checkDone();
        });
        w.on('error', (e) => stop(new SsdError('INVALID_CONFIG', `sweep worker failed: ${e.message}`)));
      }
      setImmediate(runHere);
    });
  }
  results.sort((a, b) => a.index - b.index);
  writeSummary(outDir, results, plan.axes.map((a) => a.name));
  return results;
}
