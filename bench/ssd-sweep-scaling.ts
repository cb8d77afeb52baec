// Core scaling of `ssdsim sweep` (issue 18): the same sweep run with 1, 2, … N worker threads,
// printing each run's wall time, its speed-up over 1 worker and its efficiency (speed-up / workers)
// side by side, with the 1-minute load average before and after each run, since on a shared
// machine other processes take cores and the figures mean little without it. Every run must give
// the same summary.csv (checked). "point s" is the sum of the points' own wall times: when it
// grows with the workers, the points are competing for cores (or memory bandwidth), not waiting.
// "overhead s" = wall − point s / workers: mostly each worker thread's start-up (it registers tsx
// and loads and compiles the simulator's modules and WebAssembly before its first point), which a
// sweep pays once per worker and which is what makes small sweeps scale badly.
// The points are equal work (the same scenario with different seeds), so the ideal speed-up is
// min(workers, points, free cores).
// Run: npx tsx bench/ssd-sweep-scaling.ts [--max-workers N] [--points P] [--writes 8x] [--blocks B] [--repeat R]
//   --max-workers: up to this many workers (default: the available cores, os.availableParallelism())
//   --points: sweep points (default 8); --writes: measured host page writes per point, a count or
//   Nx × user capacity (default 8x); --blocks: blocks per die of ssd-small (default 256, the
//   preset's); --repeat: runs per worker count, the fastest is reported (default 1).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyOverrides, defaultScenario, parseVary, planSweep, runSweep } from '@flashdiff/ssd';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}
function positive(name: string, fallback: number): number {
  const text = option(name, String(fallback));
  const v = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(v) || v < 1) {
    console.error(`ssd-sweep-scaling: --${name} must be a positive integer, got ${text}`);
    process.exit(2);
  }
  return v;
}
const maxWorkers = positive('max-workers', availableParallelism());
const pointCount = positive('points', 8);
const blocks = positive('blocks', 256);
const repeat = positive('repeat', 1);
const writesText = option('writes', '8x');
const writes = /^\d+$/.test(writesText) ? Number(writesText) : writesText;

let plan;
try {
  const base = applyOverrides(defaultScenario(), [{ device: { geometry: { blocksPerDie: blocks } }, workload: { writes } }]);
  plan = planSweep(base, [parseVary(`seed=${Array.from({ length: pointCount }, (_, i) => i + 1).join(',')}`)]);
} catch (e) {
  console.error(`ssd-sweep-scaling: ${(e as Error).message}`);
  process.exit(2);
}

const load = () => loadavg()[0]!.toFixed(2);
const dir = mkdtempSync(join(tmpdir(), 'ssd-sweep-scaling-'));
console.log(`sweep: ${pointCount} points (seed=1..${pointCount}) of ssd-small, ${blocks} blocks per die, ${writesText} host page writes each, greedy, OP 0.2`);
console.log(`machine: ${availableParallelism()} available cores; load average (1, 5, 15 min) at start: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
console.log('');
console.log('workers | wall s | speed-up | efficiency | point s | overhead s | load before → after');
let baseline = 0;
let reference: string | null = null;
try {
  for (let workers = 1; workers <= maxWorkers; workers++) {
    let best = Infinity;
    let bestPointSeconds = 0;
    let loads = '';
    for (let r = 0; r < repeat; r++) {
      const out = join(dir, `w${workers}-${r}`);
      const before = load();
      const started = performance.now();
      const results = await runSweep(plan, plan.points, out, { workers });
      const wall = (performance.now() - started) / 1000;
      const after = load();
      const failed = results.filter((p) => p.error !== null);
      if (failed.length > 0) throw new Error(`point ${failed[0]!.id} failed: ${failed[0]!.error}`);
      const summary = readFileSync(join(out, 'summary.csv'), 'utf8');
      if (reference === null) reference = summary;
      else if (summary !== reference) throw new Error(`${workers} workers gave another summary.csv than 1 worker`);
      rmSync(out, { recursive: true, force: true });
      if (wall < best) {
        best = wall;
        bestPointSeconds = results.reduce((s, p) => s + p.wallSeconds, 0);
        loads = `${before} → ${after}`;
      }
    }
    if (workers === 1) baseline = best;
    const speedUp = baseline / best;
    console.log(
      `${String(workers).padStart(7)} | ${best.toFixed(2).padStart(6)} | ${speedUp.toFixed(2).padStart(7)}× | ${((speedUp / workers) * 100).toFixed(0).padStart(9)} % | ${bestPointSeconds.toFixed(2).padStart(7)} | ${(best - bestPointSeconds / workers).toFixed(2).padStart(10)} | ${loads}`,
    );
  }
} catch (e) {
  console.error(`ssd-sweep-scaling: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log('');
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(', ')} (a load above the core count means the workers shared the cores with other processes)`);
console.log(`command: npx tsx bench/ssd-sweep-scaling.ts --max-workers ${maxWorkers} --points ${pointCount} --writes ${writesText} --blocks ${blocks} --repeat ${repeat}`);
