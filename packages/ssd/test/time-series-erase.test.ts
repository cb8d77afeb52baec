// A time-series point's erase figures (src/simulator/report.ts pointErase: read in place, reused
// while no block is erased or retired) are those of eraseStats over SsdSimulator.eraseCounts() at
// that moment: checked at the last point of runs that erase and retire blocks between points
// (a reused figure from before would be stale there), and the points in between are checked to
// move with the erases. No upstream counterpart (MQSim reports no time series of erase counts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NandGeometry } from '@flashdiff/nand';
import { BLOCK_BAD } from '../src/ftl/abi.ts';
import { SsdSimulator, eraseStats } from '../src/index.ts';
import type { SimulatorConfig } from '../src/index.ts';

const geometry: NandGeometry = { pageSize: 4096, spareSize: 128, pagesPerBlock: 32, blocksPerDie: 48, diesPerChannel: 2, channels: 2 };

function run(config: SimulatorConfig, writes: number): void {
  const sim = new SsdSimulator(config);
  const report = sim.run(writes);
  const points = report.timeSeries;
  assert.ok(points.length >= 10, `points taken (${points.length})`);
  const last = points[points.length - 1]!;
  assert.equal(last.hostPageWrites, writes, 'the last point is at the end of the run');
  const e = eraseStats(sim.eraseCounts(), (b) => sim.ftl.blockState[b] === BLOCK_BAD);
  assert.ok(e.max > 2, `blocks were erased several times (max ${e.max})`);
  assert.deepEqual([last.eraseMin, last.eraseMax, last.eraseMean], [e.min, e.max, e.mean]);
  // The mean grows as blocks are erased: more than a few distinct values along the series.
  assert.ok(new Set(points.map((p) => p.eraseMean)).size > 5, 'the points follow the erases');
}

describe('time-series erase figures', () => {
  for (const wasmKernel of [true, false]) {
    test(`uniform writes with GC (${wasmKernel ? 'kernel' : 'TypeScript'})`, () => {
      run({ geometry, ftl: { overProvisioning: 0.2, wasmKernel }, snapshotEvery: 200, workload: { kind: 'uniform', seed: 3 } }, 40_000);
    });
  }
  test('with program and erase failures retiring blocks', () => {
    const config: SimulatorConfig = {
      geometry, ftl: { overProvisioning: 0.3, wasmKernel: false }, snapshotEvery: 200, workload: { kind: 'uniform', seed: 4 },
      faults: { seed: 9, programFailureRate: 0.0003, eraseFailureRate: 0.001 },
    };
    const sim = new SsdSimulator(config);
    sim.run(20_000);
    assert.ok(sim.ftl.counters.retiredBlocks > 0, 'blocks were retired');
    run(config, 20_000);
  });
});
