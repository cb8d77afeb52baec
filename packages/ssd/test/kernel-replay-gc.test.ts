// The kernel replay with foreground GC (kernel/ftl/replay-gc.ts inside kernel/simulator/replay.ts)
// against the TypeScript replay (replayTraceScheduled, wasmKernel false): MQSim's tpcc-small trace
// written over several times on small devices filled 70 % first, so that the replay collects a
// lot — 256 and 48 (not a power of two) pages per block; MQSim's host configuration (4 planes per
// die collected together for multi-plane commands, read-first), and its neighbours: no multi-plane
// commands (one victim at a time, its pages moved in copyback runs), static wear leveling at a low
// threshold (the coldest block moved into the most worn free one), no dynamic wear leveling, fifo
// scheduling, one plane per die (the FTL's P2L table kept), time-series points. Compared: every
// request's kind and latency in completion order, the read and write histograms, the whole report
// (erases, GC runs and moves, WAF, wear leveling, transaction turnarounds…), every block's erase
// count, the L2P and the clock. Then: a replay the kernel's GC cannot prove safe says why.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { MQSIM_TIMING } from '@flashdiff/nand';
import type { NandGeometry } from '@flashdiff/nand';
import { SsdSimulator, fitToDevice, loadTrace, preconditionSimulator } from '../src/index.ts';
import type { SimulatorConfig, TraceRequest } from '../src/index.ts';

const traceDir = fileURLToPath(new URL('./fixtures/traces/', import.meta.url));
const tpcc = loadTrace(`${traceDir}mqsim-tpcc-small.trace`).requests;

/** `channels` channels × `dies` dies × `planes` planes of `blocks` blocks of `pages` pages of 8 KiB. */
const geometry = (blocks: number, pages: number, planesPerDie = 4, channels = 2, dies = 2): NandGeometry => ({
  pageSize: 8192, spareSize: 448, pagesPerBlock: pages, blocksPerDie: planesPerDie * blocks, diesPerChannel: dies, channels, planesPerDie,
});

const mqsimHost: Omit<SimulatorConfig, 'geometry'> = {
  timing: MQSIM_TIMING,
  snapshotEvery: 0,
  backgroundGcIdleNs: 0,
  queueDepth: 65535,
  unmappedReads: 'flash-read',
  transactionScheduling: 'read-first',
  multiPlane: true,
  multiPlaneDiesPerChip: 2,
  multiPlaneSamePage: true,
  partialPageTransfers: true,
  partialPageWrites: 'read-modify-write',
  ftl: { overProvisioning: 0.07 / 0.93, gcPolicy: 'greedy', hostAllocation: 'cwdp', dynamicWearLeveling: true, staticWearLeveling: true, staticWearLevelingThreshold: 100, seed: 321 },
};

interface Outcome {
  sim: SsdSimulator;
  log: number[];
  report: string;
  erases: number;
  wearLevelingRuns: number;
  readHistogram: number[];
  writeHistogram: number[];
  eraseCounts: number[];
  l2p: Int32Array;
  clock: number[];
}

/** The trace fitted to the device and written `times` over, 20 s apart. */
function repeated(sim: SsdSimulator, times: number): TraceRequest[] {
  const one = fitToDevice(tpcc, sim.userPages * 8192).requests;
  const all: TraceRequest[] = [];
  for (let k = 0; k < times; k++) for (const r of one) all.push({ ...r, arrivalNs: r.arrivalNs + k * 2e10 });
  return all;
}

function replay(config: SimulatorConfig, wasmKernel: boolean, times: number): Outcome {
  const sim = new SsdSimulator({ ...config, ftl: { ...config.ftl, wasmKernel } });
  preconditionSimulator(sim, { state: 'sequential', occupancy: 0.7, seed: 321 });
  const log: number[] = [];
  sim.requestLog = log;
  const report = sim.replay(repeated(sim, times));
  const timing = sim.device.timing;
  return {
    sim,
    log,
    report: JSON.stringify({ ...report, config: null }),
    erases: report.erases,
    wearLevelingRuns: sim.ftl.counters.wearLevelingRuns,
    readHistogram: Array.from(sim.readLatency.bucketCounts()),
    writeHistogram: Array.from(sim.writeLatency().bucketCounts()),
    eraseCounts: Array.from(sim.eraseCounts()),
    l2p: sim.ftl.l2p,
    clock: [timing.now, timing.lastCompletion, timing.elapsed],
  };
}

function assertSame(kernel: Outcome, typescript: Outcome): void {
  assert.equal(kernel.sim.engine().replayKernel, true, `the kernel replayed: ${kernel.sim.engine().typescriptBecause.join('; ')}`);
  assert.equal(typescript.sim.engine().replayKernel, false);
  assert.equal(kernel.log.length, typescript.log.length);
  assert.deepEqual(kernel.log, typescript.log);
  assert.deepEqual(kernel.readHistogram, typescript.readHistogram);
  assert.deepEqual(kernel.writeHistogram, typescript.writeHistogram);
  assert.equal(kernel.report, typescript.report);
  assert.deepEqual(kernel.eraseCounts, typescript.eraseCounts);
  assert.deepEqual(kernel.l2p, typescript.l2p);
  assert.deepEqual(kernel.clock, typescript.clock);
}

describe('the kernel replay with foreground GC against TypeScript', () => {
  const cases: [string, SimulatorConfig, number, number][] = [
    // name, configuration, times the trace is written, erases at least
    ['256 pages per block, planes collected together', { ...mqsimHost, geometry: geometry(16, 256) }, 6, 60],
    ['48 pages per block, planes collected together', { ...mqsimHost, geometry: geometry(80, 48) }, 6, 200],
    ['256 pages per block, no multi-plane commands (copyback runs)', { ...mqsimHost, geometry: geometry(16, 256), multiPlane: false, multiPlaneDiesPerChip: undefined, multiPlaneSamePage: undefined }, 6, 60],
    ['48 pages per block, no multi-plane commands, fifo', { ...mqsimHost, geometry: geometry(80, 48), multiPlane: false, multiPlaneDiesPerChip: undefined, multiPlaneSamePage: undefined, transactionScheduling: 'fifo' }, 6, 200],
    ['256 pages per block, no dynamic wear leveling', { ...mqsimHost, geometry: geometry(16, 256), ftl: { ...mqsimHost.ftl, dynamicWearLeveling: false } }, 6, 60],
    ['one plane per die (the FTL keeps its P2L table)', { ...mqsimHost, geometry: geometry(64, 64, 1), multiPlane: undefined, multiPlaneDiesPerChip: undefined, multiPlaneSamePage: undefined }, 6, 400],
    ['time-series points every 97 host page writes', { ...mqsimHost, geometry: geometry(16, 256), snapshotEvery: 97 }, 6, 60],
  ];
  for (const [name, config, times, minimum] of cases) {
    test(name, () => {
      const kernel = replay(config, true, times);
      const typescript = replay(config, false, times);
      assertSame(kernel, typescript);
      assert.ok(kernel.erases >= minimum, `the replay collects (${kernel.erases} erases)`);
    });
  }

  test('static wear leveling at a low threshold runs inside the kernel replay', () => {
    // 8 pools of 16 blocks: a wear check every 32 erases.
    const config = { ...mqsimHost, geometry: geometry(16, 256, 4, 1, 2), ftl: { ...mqsimHost.ftl, staticWearLevelingThreshold: 1 } };
    const kernel = replay(config, true, 6);
    const typescript = replay(config, false, 6);
    assertSame(kernel, typescript);
    assert.ok(kernel.wearLevelingRuns > 0, `static wear leveling ran (${kernel.wearLevelingRuns} runs)`);
  });

  test('static wear leveling at a low threshold, no multi-plane commands', () => {
    const config = { ...mqsimHost, geometry: geometry(40, 48, 4, 1, 2), multiPlane: undefined, multiPlaneDiesPerChip: undefined, multiPlaneSamePage: undefined, ftl: { ...mqsimHost.ftl, staticWearLevelingThreshold: 2 } } as SimulatorConfig;
    const kernel = replay(config, true, 6);
    const typescript = replay(config, false, 6);
    assertSame(kernel, typescript);
    assert.ok(kernel.wearLevelingRuns > 0, `static wear leveling ran (${kernel.wearLevelingRuns} runs)`);
  });
});

describe('where the kernel GC cannot prove a replay safe, engine() says why', () => {
  test('a pool that could run out of blocks', () => {
    const sim = new SsdSimulator({ ...mqsimHost, geometry: geometry(4, 256) });
    preconditionSimulator(sim, { state: 'sequential', occupancy: 0.9, seed: 321 });
    sim.replay(repeated(sim, 2));
    assert.equal(sim.engine().replayKernel, false);
    assert.match(sim.engine().typescriptBecause.join('; '), /would fill die|free blocks/);
  });

  test('GC with gcThreshold 1', () => {
    const sim = new SsdSimulator({ ...mqsimHost, geometry: geometry(16, 256), ftl: { ...mqsimHost.ftl, gcThreshold: 1 } });
    preconditionSimulator(sim, { state: 'sequential', occupancy: 0.7, seed: 321 });
    sim.replay(repeated(sim, 6));
    assert.equal(sim.engine().replayKernel, false);
    assert.match(sim.engine().typescriptBecause.join('; '), /gcThreshold 1/);
  });
});
