// The kernel replay (src/simulator/replay-kernel.ts: a scheduled trace replay run whole in the
// FTL's WebAssembly module, kernel/simulator/replay.ts) against the TypeScript replay
// (replayTraceScheduled, wasmKernel false) on MQSim's traces (test/fixtures/traces/mqsim-tpcc-small
// and mqsim-wsrch-small, whole) and MQSim's host configuration (the mqsim-default scenario's:
// 4 planes per die, multi-plane commands of one chip's two dies at one page address, CWDP,
// read-first, partial-page transfers, read-modify-write, flash reads of unwritten LBAs, queue
// depth 65535) on small devices — 256 and 48 (not a power of two) pages per block — fresh and
// after a 70 % sequential fill, and on neighbours of it (closed loop, fifo, no multi-plane
// commands, one plane per die, PCWD, time-series points). Compared: every request's kind and latency in completion
// order (SsdSimulator.requestLog), the read and write histograms, the whole report (WAF, the
// transaction turnarounds, multi-plane commands…), every block's erase count, the L2P and the
// clock; and a second replay on the same simulator (the scheduler's state handed back). Then the
// fallbacks: where the kernel does not cover a replay, engine() and the report say why.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { NandGeometry } from '@flashdiff/nand';
import { SsdSimulator, fitToDevice, loadTrace, preconditionSimulator } from '../src/index.ts';
import type { SimulatorConfig, TraceRequest } from '../src/index.ts';
import { MQSIM_HOST, type ReplayOutcome, assertSameReplay, replayOutcome } from './replay-comparison.ts';

const traceDir = fileURLToPath(new URL('./fixtures/traces/', import.meta.url));
const traces = { tpcc: loadTrace(`${traceDir}mqsim-tpcc-small.trace`).requests, wsrch: loadTrace(`${traceDir}mqsim-wsrch-small.trace`).requests };

/** MQSim's default device with `blocks` blocks per plane and `pages` pages per block (8 channels × 4 chips × 4 planes). */
const geometry = (blocks: number, pages: number, planesPerDie = 4): NandGeometry => ({
  pageSize: 8192, spareSize: 448, pagesPerBlock: pages, blocksPerDie: planesPerDie * blocks, diesPerChannel: 4, channels: 8, planesPerDie,
});

function replay(config: SimulatorConfig, wasmKernel: boolean, requests: (sim: SsdSimulator) => TraceRequest[][], precondition: boolean): ReplayOutcome {
  const sim = new SsdSimulator({ ...config, ftl: { ...config.ftl, wasmKernel } });
  if (precondition) preconditionSimulator(sim, { state: 'sequential', occupancy: 0.7, seed: 321 });
  const log: number[] = [];
  sim.requestLog = log;
  let report: object = {};
  for (const batch of requests(sim)) report = sim.replay(batch);
  return replayOutcome(sim, log, report);
}

const fitted = (trace: TraceRequest[], sim: SsdSimulator): TraceRequest[] => fitToDevice(trace, sim.userPages * 8192).requests;

describe("the kernel replay against TypeScript on MQSim's traces and host configuration", () => {
  const cases: [string, SimulatorConfig, boolean][] = [
    ['256 pages per block, fresh device', { ...MQSIM_HOST, geometry: geometry(8, 256) }, false],
    ['256 pages per block, 70 % filled first', { ...MQSIM_HOST, geometry: geometry(8, 256) }, true],
    ['48 pages per block, fresh device', { ...MQSIM_HOST, geometry: geometry(40, 48) }, false],
    ['48 pages per block, 70 % filled first', { ...MQSIM_HOST, geometry: geometry(40, 48) }, true],
  ];
  for (const [name, config, precondition] of cases) {
    for (const trace of ['tpcc', 'wsrch'] as const) {
      test(`${trace}-small, ${name}`, () => {
        const batches = (sim: SsdSimulator) => [fitted(traces[trace], sim)];
        const kernel = replay(config, true, batches, precondition);
        const typescript = replay(config, false, batches, precondition);
        assertSameReplay(kernel, typescript, traces[trace].length);
        const r = JSON.parse(kernel.report) as { readLatencyUs: { count: number }; hostPageWrites: number };
        assert.ok(r.readLatencyUs.count > 0 && r.hostPageWrites > 0);
        const planes = kernel.sim.describeConfig().planes as { multiPlaneCommands: number };
        assert.ok(planes.multiPlaneCommands > 0, 'multi-plane commands formed');
      });
    }
  }

  const neighbours: [string, Partial<SimulatorConfig>][] = [
    ['closed loop, queue depth 8', { replayLoop: 'closed', queueDepth: 8 }],
    ['open loop, queue depth 4 (the queue fills)', { queueDepth: 4 }],
    ['fifo scheduling', { transactionScheduling: 'fifo' }],
    ['no multi-plane commands', { multiPlane: false, multiPlaneDiesPerChip: undefined, multiPlaneSamePage: undefined }],
    ['whole-page transfers, unwritten reads free', { partialPageTransfers: false, unmappedReads: 'free' }],
    ['PCWD allocation', { ftl: { ...MQSIM_HOST.ftl, hostAllocation: 'pcwd' } }],
    // The kernel stops after the write that makes a point due (mid-request) and goes on.
    ['a time-series point every 64 host page writes', { snapshotEvery: 64 }],
    ['a time-series point every 29 host page writes, closed loop', { snapshotEvery: 29, replayLoop: 'closed', queueDepth: 16 }],
  ];
  for (const [name, change] of neighbours) {
    test(`tpcc-small, ${name}`, () => {
      const config = { ...MQSIM_HOST, geometry: geometry(8, 256), ...change } as SimulatorConfig;
      const batches = (sim: SsdSimulator) => [fitted(traces.tpcc, sim)];
      const kernel = replay(config, true, batches, true);
      assertSameReplay(kernel, replay(config, false, batches, true), traces.tpcc.length);
      if (config.snapshotEvery !== 0) assert.ok(kernel.sim.timeSeries.length > 40, `time-series points taken (${kernel.sim.timeSeries.length})`);
    });
  }

  for (const staticWearLeveling of [false, true]) {
    test(`one plane per die, static wear leveling ${staticWearLeveling ? 'on (no FTL kernel)' : 'off (the FTL kernel on, its writes paused for the replay)'}`, () => {
      const config = { ...MQSIM_HOST, geometry: geometry(32, 64, 1), multiPlane: undefined, multiPlaneDiesPerChip: undefined, multiPlaneSamePage: undefined, ftl: { ...MQSIM_HOST.ftl, staticWearLeveling } } as SimulatorConfig;
      const batches = (sim: SsdSimulator) => [fitted(traces.tpcc, sim)];
      const kernel = replay(config, true, batches, true);
      assert.equal(kernel.sim.engine().ftlKernel, !staticWearLeveling);
      assertSameReplay(kernel, replay(config, false, batches, true), traces.tpcc.length);
    });
  }

  test('two replays on one simulator: the scheduler, grouping and histograms handed back', () => {
    const config = { ...MQSIM_HOST, geometry: geometry(8, 256) };
    const batches = (sim: SsdSimulator) => [fitted(traces.tpcc.slice(0, 3000), sim), fitted(traces.wsrch.slice(0, 5000), sim), fitted(traces.tpcc.slice(3000), sim)];
    assertSameReplay(replay(config, true, batches, false), replay(config, false, batches, false), traces.tpcc.length + 5000);
  });
});

describe('where the kernel replay does not run, engine() says why', () => {
  const base = { ...MQSIM_HOST, geometry: geometry(8, 256) };
  const cases: [string, Partial<SimulatorConfig>, RegExp][] = [
    ['background GC', { backgroundGcIdleNs: 1_000_000 }, /background GC/],
    ['round-robin allocation', { ftl: { ...MQSIM_HOST.ftl, hostAllocation: 'round-robin' } }, /round-robin/],
    ['program suspension', { suspend: { operations: 'program' } }, /suspension/],
    ['the data cache', { dataCache: { capacityPages: 64 } }, /data cache/],
    ['wasmKernel false', { ftl: { ...MQSIM_HOST.ftl, wasmKernel: false } }, /wasmKernel false/],
  ];
  for (const [name, change, reason] of cases) {
    test(name, () => {
      const sim = new SsdSimulator({ ...base, ...change } as SimulatorConfig);
      const report = sim.replay(fitted(traces.tpcc.slice(0, 500), sim));
      const engine = sim.engine();
      assert.equal(engine.replayKernel, false);
      assert.match(engine.typescriptBecause.join('; '), reason);
      assert.deepEqual((report.config as { engine: unknown }).engine, engine);
    });
  }

  test('a replay that would need GC', () => {
    // 70 % filled, then the tpcc trace written over four times: some pool reaches the GC threshold.
    const sim = new SsdSimulator({ ...base, geometry: geometry(2, 256) });
    preconditionSimulator(sim, { state: 'sequential', occupancy: 0.9, seed: 321 });
    const trace = fitted(traces.tpcc, sim);
    sim.replay([...trace, ...trace.map((r) => ({ ...r, arrivalNs: r.arrivalNs + 1e10 }))]);
    assert.equal(sim.engine().replayKernel, false);
    assert.match(sim.engine().typescriptBecause.join('; '), /would need GC|would fill/);
  });
});

describe('read-modify-write with planes: the update read is of the page that holds the old copy', () => {
  // The FTL's page numbers are its plane view's: the old copy's view page, read on the device
  // itself, would be charged to another block (and die, and channel) than the one that holds it.
  for (const wasmKernel of [false, true]) {
    test(`${wasmKernel ? 'kernel' : 'TypeScript'} replay`, () => {
      const config = { ...MQSIM_HOST, geometry: { ...geometry(8, 64), channels: 2, diesPerChannel: 2 }, ftl: { ...MQSIM_HOST.ftl, wasmKernel } } as SimulatorConfig;
      const sim = new SsdSimulator(config);
      const lba = 7; // CWDP: channel 1, way 1, plane 1 — view die 1·4·… ≠ its real die's first plane
      sim.replay([{ arrivalNs: 0, device: 0, sector: lba * 16, sectors: 16, isRead: false, line: 1 }]);
      const view = sim.ftl.internalState.device as unknown as { physicalBlock(block: number): number };
      const old = sim.ftl.physicalPage(lba);
      const holder = view.physicalBlock(Math.floor(old / 64));
      const stray = Math.floor(old / 64);
      assert.notEqual(holder, stray, 'the test needs a view block that is not the real one');
      const reads = Array.from(sim.device.stats.readsPerBlock);
      const report = sim.replay([{ arrivalNs: 0, device: 0, sector: lba * 16 + 8, sectors: 8, isRead: false, line: 2 }]);
      assert.equal(sim.engine().replayKernel, wasmKernel, sim.engine().typescriptBecause.join('; '));
      assert.equal(report.readModifyWriteReads, 1);
      const after = sim.device.stats.readsPerBlock;
      assert.equal(after[holder]! - reads[holder]!, 1, 'the read is charged to the block that holds the old copy');
      assert.equal(after[stray]! - reads[stray]!, 0);
    });
  }
});

describe("the kernel replay's tables", () => {
  test('a second replay in the same process reuses them: the table memory does not grow', () => {
    const sim = new SsdSimulator({ ...MQSIM_HOST, geometry: geometry(8, 256) });
    const memory = (sim.device.metadataKernel as unknown as { memory: { memory: WebAssembly.Memory } }).memory.memory;
    const trace = fitted(traces.tpcc, sim);
    sim.replay(trace);
    assert.equal(sim.engine().replayKernel, true);
    const after = memory.buffer.byteLength;
    for (let k = 0; k < 3; k++) {
      sim.replay(trace.slice(0, trace.length - 100 * k));
      assert.equal(sim.engine().replayKernel, true);
      assert.equal(memory.buffer.byteLength, after, `replay ${k + 2} grew the memory`);
    }
  });
});
