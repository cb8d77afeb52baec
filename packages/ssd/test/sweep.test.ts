// Sweeps: the cross product, 2 worker threads equal to the points run one by one, shards + merge
// equal to the whole sweep.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyOverrides } from '../src/scenario/overrides.ts';
import { defaultScenario } from '../src/scenario/schema.ts';
import { runScenario } from '../src/scenario/run.ts';
import { mergeSweeps, parseShard, parseVary, planSweep, runSweep, shardPoints } from '../src/sweep/index.ts';
import type { PointResult } from '../src/sweep/index.ts';

// A tiny device: 2 dies × 16 blocks × 16 pages.
const base = applyOverrides(defaultScenario(), [
  { device: { geometry: { channels: 2, diesPerChannel: 1, blocksPerDie: 16, pagesPerBlock: 16 } }, workload: { writes: '3x' } },
]);
const axes = () => [parseVary('op=0.15,0.3'), parseVary('gc=greedy,fifo,random')];

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'ssd-sweep-'));
}
/** A result without its wall-clock fields (the only ones that differ between identical runs). */
function stable(r: PointResult): unknown {
  const report = r.report ? { ...r.report, precondition: r.report.precondition ? { ...r.report.precondition, wallSeconds: 0 } : null } : null;
  return { ...r, wallSeconds: 0, report };
}

describe('sweep', () => {
  test('the cross product: first axis slowest, typed values, ids, validation', () => {
    const plan = planSweep(base, axes());
    assert.equal(plan.points.length, 6);
    assert.deepEqual(plan.points.map((p) => p.values), [
      { op: 0.15, gc: 'greedy' }, { op: 0.15, gc: 'fifo' }, { op: 0.15, gc: 'random' },
      { op: 0.3, gc: 'greedy' }, { op: 0.3, gc: 'fifo' }, { op: 0.3, gc: 'random' },
    ]);
    assert.equal(plan.points[4]!.id, '4_op=0.3_gc=fifo');
    assert.equal(plan.points[4]!.scenario.device.ftl.gcPolicy, 'fifo');
    assert.equal(plan.points[4]!.scenario.device.geometry.blocksPerDie, 16);
    assert.throws(() => planSweep(base, [parseVary('gc=greedy,lru')]), /--vary gc: device\.ftl\.gcPolicy: 'lru'/);
    assert.throws(() => parseVary('op'), /name=value1/);
    assert.throws(() => parseVary('colour=red'), /not a scenario key/);
    assert.equal(planSweep(base, axes()).id, plan.id);
    assert.notEqual(planSweep(base, [parseVary('op=0.15,0.3')]).id, plan.id);
  });

  test('shards: i/N takes every N-th point; together they are the whole', () => {
    const plan = planSweep(base, axes());
    assert.deepEqual(shardPoints(plan.points, parseShard('2/4')).map((p) => p.index), [1, 5]);
    const all = [1, 2, 3, 4].flatMap((i) => shardPoints(plan.points, { index: i, count: 4 }).map((p) => p.index)).sort();
    assert.deepEqual(all, [0, 1, 2, 3, 4, 5]);
    for (const bad of ['0/4', '5/4', '1/0', 'x', '1-4']) assert.throws(() => parseShard(bad), /--shard/);
  });

  test('2 worker threads give the same points as running them one by one', async () => {
    const dir = tempDir();
    try {
      const plan = planSweep(base, axes());
      const progress: number[] = [];
      const results = await runSweep(plan, plan.points, dir, { workers: 2, onProgress: (d) => progress.push(d) });
      assert.deepEqual(progress, [1, 2, 3, 4, 5, 6]);
      assert.equal(readdirSync(join(dir, 'points')).length, 6);
      for (const r of results) {
        assert.equal(r.error, null);
        const alone = runScenario(plan.points[r.index]!.scenario);
        assert.deepEqual(stable({ ...r, report: JSON.parse(JSON.stringify(alone)) }), stable(r), r.id);
      }
      // Policies differ, and more OP means less WAF for each policy.
      const waf = (op: number, gc: string) => results.find((r) => r.values.op === op && r.values.gc === gc)!.report!.waf;
      for (const gc of ['greedy', 'fifo', 'random']) assert.ok(waf(0.3, gc) < waf(0.15, gc), gc);
      const csv = readFileSync(join(dir, 'summary.csv'), 'utf8').trim().split('\n');
      assert.equal(csv.length, 7);
      assert.match(csv[0]!, /^index,id,vary:op,vary:gc,op,gc,workload,userPages,waf,/);
      assert.ok(csv[5]!.startsWith('4,4_op=0.3_gc=fifo,0.3,fifo,0.3,fifo,uniform,'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a failing point is recorded with its error; the others run', async () => {
    const dir = tempDir();
    try {
      const good = fileURLToPath(new URL('./fixtures/traces/flashdiff-sample.trace', import.meta.url));
      const traceBase = applyOverrides(base, [{ workload: { kind: 'trace', path: good } }]);
      const plan = planSweep(traceBase, [parseVary(`workload.path=${good},${join(dir, 'missing.trace')}`)]);
      const results = await runSweep(plan, plan.points, dir, { workers: 2 });
      assert.equal(results[0]!.error, null);
      assert.equal(results[0]!.report!.hostPageWrites, 17);
      assert.equal(results[1]!.report, null);
      assert.match(results[1]!.error!, /missing\.trace: cannot read the trace \(ENOENT\)/);
      const csv = readFileSync(join(dir, 'summary.csv'), 'utf8').trim().split('\n');
      assert.ok(csv[2]!.endsWith('(ENOENT)"') || csv[2]!.endsWith('(ENOENT)'), csv[2]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('shards run apart and merged equal the whole sweep; merge refuses other sweeps and gaps', async () => {
    const dirs = [tempDir(), tempDir(), tempDir(), tempDir()];
    try {
      const plan = planSweep(base, axes());
      const whole = await runSweep(plan, plan.points, dirs[0]!, { workers: 1 });
      await runSweep(plan, shardPoints(plan.points, parseShard('1/2')), dirs[1]!, { workers: 1 });
      await runSweep(plan, shardPoints(plan.points, parseShard('2/2')), dirs[2]!, { workers: 1 });
      const merged = mergeSweeps([dirs[1]!, dirs[2]!], dirs[3]!);
      assert.deepEqual(merged.map(stable), whole.map(stable));
      assert.equal(readFileSync(join(dirs[3]!, 'summary.csv'), 'utf8'), readFileSync(join(dirs[0]!, 'summary.csv'), 'utf8'));
      assert.throws(() => mergeSweeps([dirs[1]!], join(dirs[3]!, 'partial')), /3 of 6 points missing.*--allow-partial/);
      assert.equal(mergeSweeps([dirs[1]!], join(dirs[3]!, 'partial'), true).length, 3);
      const other = planSweep(base, [parseVary('op=0.15,0.3')]);
      await runSweep(other, other.points.slice(0, 1), join(dirs[3]!, 'other'), { workers: 1 });
      assert.throws(() => mergeSweeps([dirs[1]!, join(dirs[3]!, 'other')], join(dirs[3]!, 'x')), /belongs to sweep/);
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });
});
