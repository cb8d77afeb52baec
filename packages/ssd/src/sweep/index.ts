/** Sweeps: plan (cross product, shards), run on worker threads, files (points, summary), merge. */
export { parseVary, planSweep, parseShard, shardPoints } from './plan.ts';
export type { SweepAxis, SweepPoint, SweepPlan } from './plan.ts';
export { runSweep, defaultWorkers } from './run.ts';
export type { SweepRunOptions } from './run.ts';
export { mergeSweeps, readPoints, summaryCsv } from './results.ts';
export type { PointResult } from './results.ts';
export { sweepProgress } from './progress.ts';
export type { SweepProgressOptions } from './progress.ts';
