// SsdSimulator's run loop in the WebAssembly kernel (kernel/simulator-kernel.ts) must not drift
// from the TypeScript loop: the same seeded simulation with the kernel (ftl.wasmKernel true) and
// without it must leave the same report (time series included), L2P, latency histograms, clock,
// workload position and generator state. Also: the exact latency bucket definition.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { geometryPreset, isNandError } from '@flashdiff/nand';
import type { FaultOptions, NandGeometry } from '@flashdiff/nand';
import { LatencyHistogram, SsdSimulator, Xoshiro128, isSsdError } from '../src/index.ts';
import type { SimulationReport, SimulatorConfig } from '../src/index.ts';

// 2 channels × 2 dies × 32 blocks × 32 pages of 2048 + 64 bytes: 4096 pages.
const small: NandGeometry = { pageSize: 2048, spareSize: 64, pagesPerBlock: 32, blocksPerDie: 32, diesPerChannel: 2, channels: 2 };

interface Outcome {
  sim: SsdSimulator;
  report: SimulationReport;
  /** onProgress calls of precondition and run, in order. */
  progress: string[];
  /** POWER_LOSS errors caught (the simulation then recovered and went on). */
  powerLosses: number;
  /** Kernel batches run when each power loss was caught. */
  batchesAtPowerLoss: number[];
}

type Config = Omit<SimulatorConfig, 'ftl'> & { ftl?: SimulatorConfig['ftl'] };

/**
 * Precondition, then `rounds` × user capacity of measured writes (in `parts` run() calls; with
 * `cutAfter`, power is cut during the cutAfter-th NAND program or erase after the first part). A
 * POWER_LOSS is caught, the FTL recovered, and the run goes on.
 */
function simulate(config: Config, wasmKernel: boolean, rounds: number, parts = 1, cutAfter = 0): Outcome {
  const sim = new SsdSimulator({ ...config, ftl: { overProvisioning: 0.25, ...config.ftl, wasmKernel } });
  const progress: string[] = [];
  let powerLosses = 0;
  const batchesAtPowerLoss: number[] = [];
  const guarded = (action: () => void): void => {
    for (;;) {
      try {
        action();
        return;
      } catch (e) {
        if (!isSsdError(e, 'POWER_LOSS') && !isNandError(e, 'POWER_LOSS')) throw e;
        powerLosses++;
        batchesAtPowerLoss.push(sim.kernelLoop.batches);
        progress.push(`power loss at ${sim.ftl.counters.hostPageWrites} host writes, clock ${sim.device.timing.now}`);
        sim.ftl.recover();
      }
    }
  };
  guarded(() => sim.precondition((done, total) => progress.push(`precondition ${done}/${total}`)));
  // run(writes) counts from the start of the measurement, so the parts ask for cumulative totals
  // (and a run cut by a power loss is asked again for the same total after recover()).
  const total = rounds * sim.userPages;
  let report: SimulationReport | null = null;
  for (let p = 1; p <= parts; p++) {
    if (p === 2 && cutAfter > 0) sim.device.faults.cutPowerAfter(cutAfter);
    guarded(() => {
      report = sim.run(Math.round((total * p) / parts), (done, writes) => progress.push(`run ${done}/${writes}`));
    });
  }
  return { sim, report: report!, progress, powerLosses, batchesAtPowerLoss };
}

function withoutKernelFlag(report: SimulationReport): SimulationReport {
  const ftl = { ...(report.config.ftl as Record<string, unknown>) };
  delete ftl.wasmKernel;
  const config: Record<string, unknown> = { ...report.config, ftl };
  delete config.engine;
  return { ...report, config };
}

/** The private interval histogram (its percentiles are in the time series, its bins are not). */
function intervalOf(sim: SsdSimulator): LatencyHistogram {
  return (sim as unknown as { intervalLatency: LatencyHistogram }).intervalLatency;
}

function assertSame(kernel: Outcome, plain: Outcome, label: string): void {
  const a = kernel.sim;
  const b = plain.sim;
  assert.equal(a.ftl.wasmKernelActive, true, `${label}: the FTL kernel runs`);
  assert.equal(b.ftl.wasmKernelActive, false, `${label}: the reference runs without it`);
  assert.ok(a.kernelLoop.batches > 0, `${label}: the kernel loop ran`);
  assert.equal(b.kernelLoop.batches, 0, `${label}: the reference loop is TypeScript`);
  assert.deepEqual(withoutKernelFlag(kernel.report), withoutKernelFlag(plain.report), `${label}: report`);
  assert.deepEqual(kernel.progress, plain.progress, `${label}: progress calls`);
  assert.equal(kernel.powerLosses, plain.powerLosses, `${label}: power losses`);
  assert.deepEqual(a.ftl.l2p, b.ftl.l2p, `${label}: L2P`);
  assert.deepEqual(a.ftl.counters, b.ftl.counters, `${label}: FTL counters`);
  assert.deepEqual(a.device.stats, b.device.stats, `${label}: NAND counters`);
  for (const [x, y, name] of [[a.latency, b.latency, 'latency'], [intervalOf(a), intervalOf(b), 'interval latency']] as const) {
    assert.deepEqual(x.bucketCounts(), y.bucketCounts(), `${label}: ${name} buckets`);
    assert.deepEqual([x.count, x.sum, x.max], [y.count, y.sum, y.max], `${label}: ${name} count, sum, max`);
  }
  assert.equal(a.device.timing.elapsed, b.device.timing.elapsed, `${label}: elapsed`);
  assert.equal(a.device.timing.now, b.device.timing.now, `${label}: issue time`);
  assert.equal(a.workload.lba, b.workload.lba, `${label}: workload position`);
  // The generator and the sequential cursor came back from the kernel where they were.
  const draws = (sim: SsdSimulator): number[] => Array.from({ length: 64 }, () => [sim.workload.next(), sim.workload.lba]).flat();
  assert.deepEqual(draws(a), draws(b), `${label}: the next draws`);
  // Stepping on from there (the TypeScript path in both) stays the same.
  a.step(500);
  b.step(500);
  assert.deepEqual(withoutKernelFlag(a.report()), withoutKernelFlag(b.report()), `${label}: report after step()`);
}

function compare(label: string, config: Config, rounds: number, parts = 1, cutAfter = 0): { kernel: Outcome; plain: Outcome } {
  const kernel = simulate(config, true, rounds, parts, cutAfter);
  const plain = simulate(config, false, rounds, parts, cutAfter);
  assertSame(kernel, plain, label);
  return { kernel, plain };
}

describe('SsdSimulator run loop in the kernel = the TypeScript loop', () => {
  test('uniform, queue depth 32, a point every 1000 writes, three run() calls', () => {
    const { kernel } = compare('uniform', { geometry: small, workload: { kind: 'uniform', seed: 3 }, snapshotEvery: 1000 }, 6, 3);
    assert.ok(kernel.report.timeSeries.length > 10, 'the time series has points');
  });

  test('seq, queue depth 1', () => {
    compare('seq', { geometry: small, workload: { kind: 'seq', seed: 4 }, queueDepth: 1, snapshotEvery: 777 }, 4);
  });

  test('hotcold, queue depth 32, no dynamic wear leveling', () => {
    compare('hotcold', { geometry: small, ftl: { dynamicWearLeveling: false }, workload: { kind: 'hotcold', seed: 5, hotFraction: 0.1, hotAccessFraction: 0.9 } }, 6);
  });

  test('uniform with reads and TRIMs: hand-backs', () => {
    const { kernel } = compare('read/trim mix', { geometry: small, workload: { kind: 'uniform', seed: 6, readRatio: 0.2, trimRatio: 0.05 }, snapshotEvery: 1000 }, 6);
    assert.ok(kernel.sim.kernelLoop.handedBackOperations > 1000, `reads and TRIMs handed back (${kernel.sim.kernelLoop.handedBackOperations})`);
    assert.ok(kernel.sim.kernelLoop.handedBackWrites > 0, 'writes handed back (TRIM records in victims)');
  });

  test('hotcold with reads, queue depth 1', () => {
    compare('hotcold mix', { geometry: small, workload: { kind: 'hotcold', seed: 7, readRatio: 0.3 }, queueDepth: 1 }, 4);
  });

  test('faults: bad blocks, program and erase failures, power cuts (every write handed back while faults are armed)', () => {
    const faults: FaultOptions = { seed: 9, factoryBadBlocks: [5, 70], programFailureRate: 0.0003, eraseFailureRate: 0.0005, powerCutAfter: 9000 };
    const { kernel } = compare('faults', { geometry: small, faults, ftl: { overProvisioning: 0.5 }, workload: { kind: 'uniform', seed: 8, trimRatio: 0.02 }, snapshotEvery: 500 }, 3);
    assert.equal(kernel.powerLosses, 1, 'the power cut happened');
    assert.ok(kernel.sim.kernelLoop.handedBackWrites > 1000, `writes handed back (${kernel.sim.kernelLoop.handedBackWrites})`);
  });

  test('a power cut armed mid-run, no other faults: the kernel runs before and after recover()', () => {
    const { kernel } = compare('power cut', { geometry: small, workload: { kind: 'uniform', seed: 10 }, snapshotEvery: 1000 }, 4, 2, 3000);
    assert.equal(kernel.powerLosses, 1, 'the power cut happened');
    const before = kernel.batchesAtPowerLoss[0]!;
    assert.ok(before > 1 && kernel.sim.kernelLoop.batches > before, `kernel batches before the cut ${before}, in all ${kernel.sim.kernelLoop.batches}`);
  });

  test('ssd-small, uniform, a point every 10000 writes', () => {
    const { kernel } = compare('ssd-small', { geometry: geometryPreset('ssd-small'), workload: { kind: 'uniform', seed: 11 }, snapshotEvery: 10_000 }, 3);
    assert.ok(kernel.progress.filter((p) => p.startsWith('precondition ')).length > 0, 'precondition progress was reported');
    assert.ok(kernel.progress.filter((p) => p.startsWith('run ')).length > 3, 'run progress was reported');
  });
});

describe('LatencyHistogram.bucketOf', () => {
  const h = new LatencyHistogram();
  const old = (ns: number): number => Math.min(511, Math.floor(Math.log2(ns < 1 ? 1 : ns) * 8));

  test('matches floor(8 · log2) away from the bucket edges', () => {
    const random = new Xoshiro128(12);
    let checked = 0;
    for (let i = 0; i < 200_000; i++) {
      // Latencies from below 1 ns to beyond 2^64 ns, integers and not.
      const ns = 2 ** (random.nextFloat() * 70 - 2) * (i % 2 === 0 ? 1 : 1 + random.nextFloat() * 1e-3);
      const x = Math.log2(Math.max(ns, 1)) * 8;
      if (Math.abs(x - Math.round(x)) < 1e-9) continue; // at an edge both are allowed to round
      assert.equal(h.bucketOf(ns), old(ns), `bucket of ${ns}`);
      checked++;
    }
    assert.ok(checked > 190_000);
    for (const ns of [0, -5, 0.5, 1, 1.5, 2, 3, 1000, 600_000, 2 ** 40 + 1, 1e300, Infinity]) {
      const x = Math.log2(Math.max(ns, 1)) * 8;
      if (Number.isInteger(x) || Math.abs(x - Math.round(x)) > 1e-9) assert.equal(h.bucketOf(ns), old(ns), `bucket of ${ns}`);
    }
  });

  test('is exact on powers of two and monotone', () => {
    for (let e = 0; e < 64; e++) assert.equal(h.bucketOf(2 ** e), 8 * e, `2^${e}`);
    for (let k = 0; k < 8; k++) assert.equal(h.bucketOf(LatencyHistogram.OCTAVE_EDGES[k]! * 2 ** 10), 80 + k, `edge ${k}`);
    let previous = -1;
    for (let v = 0.25; v < 2 ** 66; v = v * 1.0007 + 1) {
      const b = h.bucketOf(v);
      assert.ok(b >= previous, `monotone at ${v}`);
      previous = b;
    }
    assert.equal(previous, 511);
    // Just below and at each edge of one octave.
    for (let k = 1; k < 8; k++) {
      const edge = LatencyHistogram.OCTAVE_EDGES[k]! * 4096;
      assert.equal(h.bucketOf(edge), 96 + k);
      assert.equal(h.bucketOf(edge - edge * Number.EPSILON), 96 + k - 1);
    }
  });

  test('external storage: count, sum, max readable, reset clears it', () => {
    const buckets = new Float64Array(LatencyHistogram.BUCKETS);
    const cells = new Float64Array(3);
    const x = new LatencyHistogram({ buckets, cells });
    x.record(1000);
    x.record(3000);
    assert.deepEqual([x.count, x.sum, x.max], [2, 4000, 3000]);
    assert.deepEqual([...cells], [2, 4000, 3000]);
    assert.equal(buckets.reduce((s, c) => s + c, 0), 2);
    assert.equal(x.quantile(1), 3000);
    x.reset();
    assert.deepEqual([x.count, x.sum, x.max, buckets.reduce((s, c) => s + c, 0)], [0, 0, 0, 0]);
    assert.throws(() => new LatencyHistogram({ buckets: new Float64Array(10), cells }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG'));
  });
});
