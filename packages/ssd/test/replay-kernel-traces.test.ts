// MQSim's own traces (test/fixtures/traces/mqsim-tpcc-small.trace and mqsim-wsrch-small.trace, the
// ones bench/ssd-mqsim.ts and bench/ssd-mqsim-speed.ts replay) through the FTL's WebAssembly kernel
// against the same replay in TypeScript alone (wasmKernel false), on small devices where the
// traces' addresses wrap (page mod user pages) so that tpcc's writes keep GC running: one with 32 pages per
// block and one with 24 (not a power of two: the kernels' page → block division instead of a
// shift). The whole traces (6,999 and 24,783 requests). Compared: every request's latency in the order the replay records them, the read and the
// write latency histograms, the whole report (WAF, GC runs, erases, the summaries), every block's
// erase count, the L2P and the clock. Two host models: the eager clock with MQSim's host options
// (CWDP, read-modify-write of partial pages, reads of unwritten LBAs cost a flash read), where the
// kernel writes the pages; and read-first transaction scheduling with partial-page transfers, where
// the kernels fill the device first and pause for the replay (every replayed operation goes through
// the TypeScript scheduler). Upstream counterpart: none (MQSim has one engine).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { NandGeometry } from '@flashdiff/nand';
import { SsdSimulator, fitToDevice, loadTrace } from '../src/index.ts';
import type { SimulatorConfig, TraceRequest } from '../src/index.ts';

const traceDir = fileURLToPath(new URL('./fixtures/traces/', import.meta.url));
function traceOf(name: 'tpcc' | 'wsrch', userBytes: number): TraceRequest[] {
  return fitToDevice(loadTrace(`${traceDir}mqsim-${name}-small.trace`).requests, userBytes).requests;
}

// 2 channels × 2 dies × 24 blocks of 8 KiB pages (MQSim's page size): 32 and 24 pages per block.
const geometries: [string, NandGeometry][] = [
  ['32 pages per block', { pageSize: 8192, spareSize: 448, pagesPerBlock: 32, blocksPerDie: 24, diesPerChannel: 2, channels: 2 }],
  ['24 pages per block', { pageSize: 8192, spareSize: 448, pagesPerBlock: 24, blocksPerDie: 32, diesPerChannel: 2, channels: 2 }],
];

type Host = Omit<SimulatorConfig, 'geometry' | 'ftl'>;
const hosts: [string, Host, boolean][] = [
  ['eager clock, MQSim host options, fresh device', { queueDepth: 64, partialPageWrites: 'read-modify-write', unmappedReads: 'flash-read' }, false],
  ['eager clock, MQSim host options, preconditioned, closed loop', { queueDepth: 16, replayLoop: 'closed', partialPageWrites: 'read-modify-write' }, true],
  ['read-first scheduling, partial transfers, preconditioned', { queueDepth: 64, transactionScheduling: 'read-first', partialPageTransfers: true, partialPageWrites: 'read-modify-write', unmappedReads: 'flash-read' }, true],
];

interface Outcome {
  sim: SsdSimulator;
  /** [kind, latency ns] of every request, in the order recorded. */
  requests: number[];
  report: string;
  readHistogram: number[];
  writeHistogram: number[];
  eraseCounts: number[];
  l2p: number[];
  clock: number;
}

function replay(geometry: NandGeometry, host: Host, precondition: boolean, trace: 'tpcc' | 'wsrch', wasmKernel: boolean): Outcome {
  const sim = new SsdSimulator({ geometry, snapshotEvery: 256, ...host, ftl: { overProvisioning: 0.25, hostAllocation: 'cwdp', wasmKernel } });
  // Every request's latency as the replay hands it to the simulator (recordRequest, private).
  const requests: number[] = [];
  const hooked = sim as unknown as { recordRequest(kind: number, latency: number): void };
  const record = hooked.recordRequest.bind(sim);
  hooked.recordRequest = (kind, latency) => {
    requests.push(kind, latency);
    record(kind, latency);
  };
  if (precondition) sim.precondition();
  const report = sim.replay(traceOf(trace, sim.userPages * geometry.pageSize));
  const l2p: number[] = [];
  for (let lba = 0; lba < sim.userPages; lba++) l2p.push(sim.ftl.physicalPage(lba));
  return {
    sim,
    requests,
    // The configuration echo (wasmKernel, the engine) differs by construction; everything else must not.
    report: JSON.stringify({ ...report, config: null }),
    readHistogram: Array.from(sim.readLatency.bucketCounts()),
    writeHistogram: Array.from(sim.writeLatency().bucketCounts()),
    eraseCounts: Array.from(sim.eraseCounts()),
    l2p,
    clock: sim.device.timing.elapsed,
  };
}

for (const [geometryName, geometry] of geometries) {
  describe(`MQSim's traces, the FTL kernel against TypeScript: ${geometryName}`, () => {
    for (const [hostName, host, precondition] of hosts) {
      for (const trace of ['tpcc', 'wsrch'] as const) {
        test(`${trace}-small, ${hostName}`, () => {
          const kernel = replay(geometry, host, precondition, trace, true);
          const typescript = replay(geometry, host, precondition, trace, false);
          assert.equal(kernel.sim.engine().ftlKernel, true, 'the kernel ran the FTL');
          assert.equal(typescript.sim.engine().ftlKernel, false);
          const r = JSON.parse(kernel.report) as { gcRuns: number; erases: number; readLatencyUs: { count: number }; writeLatencyUs: { count: number } };
          // tpcc-small writes 2,857 pages, GC running throughout; wsrch-small is reads but for 4 pages.
          if (trace === 'tpcc') assert.ok(r.gcRuns > 0 && r.erases > 0, 'GC ran during the replay');
          assert.ok(r.readLatencyUs.count > 0 && r.writeLatencyUs.count > 0, 'reads and writes were replayed');
          assert.equal(kernel.requests.length, 2 * traceOf(trace, kernel.sim.userPages * geometry.pageSize).length);
          assert.deepEqual(kernel.requests, typescript.requests);
          assert.deepEqual(kernel.readHistogram, typescript.readHistogram);
          assert.deepEqual(kernel.writeHistogram, typescript.writeHistogram);
          assert.deepEqual(kernel.eraseCounts, typescript.eraseCounts);
          assert.equal(kernel.report, typescript.report);
          assert.deepEqual(kernel.l2p, typescript.l2p);
          assert.equal(kernel.clock, typescript.clock);
        });
      }
    }
  });
}
