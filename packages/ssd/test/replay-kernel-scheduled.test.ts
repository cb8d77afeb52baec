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
import { MQSIM_TIMING } from '@flashdiff/nand';
import type { NandGeometry } from '@flashdiff/nand';
import { SsdSimulator, fitToDevice, loadTrace, preconditionSimulator } from '../src/index.ts';
import type { SimulatorConfig, TraceRequest } from '../src/index.ts';

const traceDir = fileURLToPath(new URL('./fixtures/traces/', import.meta.url));
const traces = { tpcc: loadTrace(`${traceDir}mqsim-tpcc-small.trace`).requests, wsrch: loadTrace(`${traceDir}mqsim-wsrch-small.trace`).requests };

/** MQSim's default device with `blocks` blocks per plane and `pages` pages per block (8 channels × 4 chips × 4 planes). */
const geometry = (blocks: number, pages: number, planesPerDie = 4): NandGeometry => ({
  pageSize: 8192, spareSize: 448, pagesPerBlock: pages, blocksPerDie: planesPerDie * blocks, diesPerChannel: 4, channels: 8, planesPerDie,
});

/** The mqsim-default scenario's host and FTL options. */
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
  readHistogram: number[];
  writeHistogram: number[];
  eraseCounts: number[];
  l2p: Int32Array;
  clock: number[];
}

function outcome(sim: SsdSimulator, log: number[], report: object): Outcome {
  const timing = sim.device.timing;
  return {
    sim,
    log,
    // The configuration echo says which engine ran; everything else must not differ.
    report: JSON.stringify({ ...report, config: null }),
    readHistogram: Array.from(sim.readLatency.bucketCounts()),
    writeHistogram: Array.from(sim.writeLatency().bucketCounts()),
    eraseCounts: Array.from(sim.eraseCounts()),
    l2p: sim.ftl.l2p,
    clock: [timing.now, timing.lastCompletion, timing.elapsed],
  };
}

function replay(config: SimulatorConfig, wasmKernel: boolean, requests: (sim: SsdSimulator) => TraceRequest[][], precondition: boolean): Outcome {
  const sim = new SsdSimulator({ ...config, ftl: { ...config.ftl, wasmKernel } });
  if (precondition) preconditionSimulator(sim, { state: 'sequential', occupancy: 0.7, seed: 321 });
  const log: number[] = [];
  sim.requestLog = log;
  let report: object = {};
  for (const batch of requests(sim)) report = sim.replay(batch);
  return outcome(sim, log, report);
}

function assertSame(kernel: Outcome, typescript: Outcome, requests: number): void {
  assert.equal(kernel.sim.engine().replayKernel, true, `the kernel replayed: ${kernel.sim.engine().typescriptBecause.join('; ')}`);
  assert.equal(typescript.sim.engine().replayKernel, false);
  assert.equal(kernel.log.length, 2 * requests);
  assert.deepEqual(kernel.log, typescript.log);
  assert.deepEqual(kernel.readHistogram, typescript.readHistogram);
  assert.deepEqual(kernel.writeHistogram, typescript.writeHistogram);
  assert.equal(kernel.report, typescript.report);
  assert.deepEqual(kernel.eraseCounts, typescript.eraseCounts);
  assert.deepEqual(kernel.l2p, typescript.l2p);
  assert.deepEqual(kernel.clock, typescript.clock);
}

const fitted = (trace: TraceRequest[], sim: SsdSimulator): TraceRequest[] => fitToDevice(trace, sim.userPages * 8192).requests;

describe("the kernel replay against TypeScript on MQSim's traces and host configuration", () => {
  const cases: [string, SimulatorConfig, boolean][] = [
    ['256 pages per block, fresh device', { ...mqsimHost, geometry: geometry(8, 256) }, false],
    ['256 pages per block, 70 % filled first', { ...mqsimHost, geometry: geometry(8, 256) }, true],
    ['48 pages per block, fresh device', { ...mqsimHost, geometry: geometry(40, 48) }, false],
    ['48 pages per block, 70 % filled first', { ...mqsimHost, geometry: geometry(40, 48) }, true],
  ];
  for (const [name, config, precondition] of cases) {
    for (const trace of ['tpcc', 'wsrch'] as const) {
      test(`${trace}-small, ${name}`, () => {
        const batches = (sim: SsdSimulator) => [fitted(traces[trace], sim)];
        const kernel = replay(config, true, batches, precondition);
        const typescript = replay(config, false, batches, precondition);
        assertSame(kernel, typescript, traces[trace].length);
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
    ['PCWD allocation', { ftl: { ...mqsimHost.ftl, hostAllocation: 'pcwd' } }],
    // The kernel stops after the write that makes a point due (mid-request) and goes on.
    ['a time-series point every 64 host page writes', { snapshotEvery: 64 }],
    ['a time-series point every 29 host page writes, closed loop', { snapshotEvery: 29, replayLoop: 'closed', queueDepth: 16 }],
  ];
  for (const [name, change] of neighbours) {
    test(`tpcc-small, ${name}`, () => {
      const config = { ...mqsimHost, geometry: geometry(8, 256), ...change } as SimulatorConfig;
      const batches = (sim: SsdSimulator) => [fitted(traces.tpcc, sim)];
      const kernel = replay(config, true, batches, true);
      assertSame(kernel, replay(config, false, batches, true), traces.tpcc.length);
      if (config.snapshotEvery !== 0) assert.ok(kernel.sim.timeSeries.length > 40, `time-series points taken (${kernel.sim.timeSeries.length})`);
    });
  }

  for (const staticWearLeveling of [false, true]) {
    test(`one plane per die, static wear leveling ${staticWearLeveling ? 'on (no FTL kernel)' : 'off (the FTL kernel on, its writes paused for the replay)'}`, () => {
      const config = { ...mqsimHost, geometry: geometry(32, 64, 1), multiPlane: undefined, multiPlaneDiesPerChip: undefined, multiPlaneSamePage: undefined, ftl: { ...mqsimHost.ftl, staticWearLeveling } } as SimulatorConfig;
      const batches = (sim: SsdSimulator) => [fitted(traces.tpcc, sim)];
      const kernel = replay(config, true, batches, true);
      assert.equal(kernel.sim.engine().ftlKernel, !staticWearLeveling);
      assertSame(kernel, replay(config, false, batches, true), traces.tpcc.length);
    });
  }

  test('two replays on one simulator: the scheduler, grouping and histograms handed back', () => {
    const config = { ...mqsimHost, geometry: geometry(8, 256) };
    const batches = (sim: SsdSimulator) => [fitted(traces.tpcc.slice(0, 3000), sim), fitted(traces.wsrch.slice(0, 5000), sim), fitted(traces.tpcc.slice(3000), sim)];
    assertSame(replay(config, true, batches, false), replay(config, false, batches, false), traces.tpcc.length + 5000);
  });
});

describe('where the kernel replay does not run, engine() says why', () => {
  const base = { ...mqsimHost, geometry: geometry(8, 256) };
  const cases: [string, Partial<SimulatorConfig>, RegExp][] = [
    ['background GC', { backgroundGcIdleNs: 1_000_000 }, /background GC/],
    ['round-robin allocation', { ftl: { ...mqsimHost.ftl, hostAllocation: 'round-robin' } }, /round-robin/],
    ['program suspension', { suspend: { operations: 'program' } }, /suspension/],
    ['the data cache', { dataCache: { capacityPages: 64 } }, /data cache/],
    ['wasmKernel false', { ftl: { ...mqsimHost.ftl, wasmKernel: false } }, /wasmKernel false/],
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
      const config = { ...mqsimHost, geometry: { ...geometry(8, 64), channels: 2, diesPerChannel: 2 }, ftl: { ...mqsimHost.ftl, wasmKernel } } as SimulatorConfig;
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
    const sim = new SsdSimulator({ ...mqsimHost, geometry: geometry(8, 256) });
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
