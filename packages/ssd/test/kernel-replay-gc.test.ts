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
import type { NandGeometry } from '@flashdiff/nand';
import { SsdSimulator, fitToDevice, loadTrace, preconditionSimulator } from '../src/index.ts';
import type { SimulatorConfig, TraceRequest } from '../src/index.ts';
import { MQSIM_HOST, type ReplayOutcome, assertSameReplay, replayOutcome } from './replay-comparison.ts';

const traceDir = fileURLToPath(new URL('./fixtures/traces/', import.meta.url));
const tpcc = loadTrace(`${traceDir}mqsim-tpcc-small.trace`).requests;

/** `channels` channels × `dies` dies × `planes` planes of `blocks` blocks of `pages` pages of 8 KiB. */
const geometry = (blocks: number, pages: number, planesPerDie = 4, channels = 2, dies = 2): NandGeometry => ({
  pageSize: 8192, spareSize: 448, pagesPerBlock: pages, blocksPerDie: planesPerDie * blocks, diesPerChannel: dies, channels, planesPerDie,
});

interface Outcome extends ReplayOutcome {
  erases: number;
  wearLevelingRuns: number;
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
  return { ...replayOutcome(sim, log, report), erases: report.erases, wearLevelingRuns: sim.ftl.counters.wearLevelingRuns };
}

describe('the kernel replay with foreground GC against TypeScript', () => {
  const cases: [string, SimulatorConfig, number, number][] = [
    // name, configuration, times the trace is written, erases at least
    ['256 pages per block, planes collected together', { ...MQSIM_HOST, geometry: geometry(16, 256) }, 6, 60],
    ['48 pages per block, planes collected together', { ...MQSIM_HOST, geometry: geometry(80, 48) }, 6, 200],
    ['256 pages per block, no multi-plane commands (copyback runs)', { ...MQSIM_HOST, geometry: geometry(16, 256), multiPlane: false, multiPlaneDiesPerChip: undefined, multiPlaneSamePage: undefined }, 6, 60],
    ['48 pages per block, no multi-plane commands, fifo', { ...MQSIM_HOST, geometry: geometry(80, 48), multiPlane: false, multiPlaneDiesPerChip: undefined, multiPlaneSamePage: undefined, transactionScheduling: 'fifo' }, 6, 200],
    ['256 pages per block, no dynamic wear leveling', { ...MQSIM_HOST, geometry: geometry(16, 256), ftl: { ...MQSIM_HOST.ftl, dynamicWearLeveling: false } }, 6, 60],
    ['one plane per die (the FTL keeps its P2L table)', { ...MQSIM_HOST, geometry: geometry(64, 64, 1), multiPlane: undefined, multiPlaneDiesPerChip: undefined, multiPlaneSamePage: undefined }, 6, 400],
    ['time-series points every 97 host page writes', { ...MQSIM_HOST, geometry: geometry(16, 256), snapshotEvery: 97 }, 6, 60],
  ];
  for (const [name, config, times, minimum] of cases) {
    test(name, () => {
      const kernel = replay(config, true, times);
      const typescript = replay(config, false, times);
      assertSameReplay(kernel, typescript);
      assert.ok(kernel.erases >= minimum, `the replay collects (${kernel.erases} erases)`);
    });
  }

  test('static wear leveling at a low threshold runs inside the kernel replay', () => {
    // 8 pools of 16 blocks: a wear check every 32 erases.
    const config = { ...MQSIM_HOST, geometry: geometry(16, 256, 4, 1, 2), ftl: { ...MQSIM_HOST.ftl, staticWearLevelingThreshold: 1 } };
    const kernel = replay(config, true, 6);
    const typescript = replay(config, false, 6);
    assertSameReplay(kernel, typescript);
    assert.ok(kernel.wearLevelingRuns > 0, `static wear leveling ran (${kernel.wearLevelingRuns} runs)`);
  });

  test('static wear leveling at a low threshold, no multi-plane commands', () => {
    const config = { ...MQSIM_HOST, geometry: geometry(40, 48, 4, 1, 2), multiPlane: undefined, multiPlaneDiesPerChip: undefined, multiPlaneSamePage: undefined, ftl: { ...MQSIM_HOST.ftl, staticWearLevelingThreshold: 2 } } as SimulatorConfig;
    const kernel = replay(config, true, 6);
    const typescript = replay(config, false, 6);
    assertSameReplay(kernel, typescript);
    assert.ok(kernel.wearLevelingRuns > 0, `static wear leveling ran (${kernel.wearLevelingRuns} runs)`);
  });
});

describe('where the kernel GC cannot prove a replay safe, engine() says why', () => {
  test('a pool that could run out of blocks', () => {
    const sim = new SsdSimulator({ ...MQSIM_HOST, geometry: geometry(4, 256) });
    preconditionSimulator(sim, { state: 'sequential', occupancy: 0.9, seed: 321 });
    sim.replay(repeated(sim, 2));
    assert.equal(sim.engine().replayKernel, false);
    assert.match(sim.engine().typescriptBecause.join('; '), /would fill die|free blocks/);
  });

  test('GC with gcThreshold 1', () => {
    const sim = new SsdSimulator({ ...MQSIM_HOST, geometry: geometry(16, 256), ftl: { ...MQSIM_HOST.ftl, gcThreshold: 1 } });
    preconditionSimulator(sim, { state: 'sequential', occupancy: 0.7, seed: 321 });
    sim.replay(repeated(sim, 6));
    assert.equal(sim.engine().replayKernel, false);
    assert.match(sim.engine().typescriptBecause.join('; '), /gcThreshold 1/);
  });
});
