// Trace replay with the FTL's WebAssembly kernel (its writes, GC and the preconditioning fill in
// kernel/) against the same replay in TypeScript alone (wasmKernel false): the same seeded trace on
// the same small device must give the same report (latency histograms, read and write summaries,
// WAF, GC and erase counts), the same L2P and the same clock, in the open and the closed loop,
// with host reads, TRIMs and partial-page writes, round-robin and static (cwdp …) host allocation,
// eager and through the transaction scheduler (the kernels fill, then pause for the replay).
// The trace is a few thousand requests on a device small enough that GC runs throughout the
// replay. Synthetic runs with a static allocation are compared the same way.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NandGeometry } from '@flashdiff/nand';
import { SsdSimulator, Xoshiro128 } from '../src/index.ts';
import type { SimulatorConfig, TraceRequest } from '../src/index.ts';

// 2 channels × 2 dies × 32 blocks × 32 pages of 4096 bytes: 4096 pages.
const small: NandGeometry = { pageSize: 4096, spareSize: 64, pagesPerBlock: 32, blocksPerDie: 32, diesPerChannel: 2, channels: 2 };

/** A seeded trace: 60 % writes (1 to 4 pages, some partial), 35 % reads, 5 % TRIMs, arrivals 0 to 400 µs apart. */
function syntheticTrace(userPages: number, requests: number, seed: number): TraceRequest[] {
  const rng = new Xoshiro128(seed);
  const draw = (n: number): number => Math.floor((rng.nextUint32() / 4294967296) * n);
  const sectorsPerPage = small.pageSize / 512;
  const out: TraceRequest[] = [];
  let t = 0;
  for (let i = 0; i < requests; i++) {
    t += draw(400_000);
    const pages = 1 + draw(4);
    const page = draw(userPages - pages);
    const kind = draw(100);
    // A partial first or last page now and then (read-modify-write when configured).
    const trimFront = kind % 7 === 0 ? 1 + draw(sectorsPerPage - 1) : 0;
    out.push({
      arrivalNs: t,
      device: 0,
      sector: page * sectorsPerPage + trimFront,
      sectors: pages * sectorsPerPage - trimFront,
      isRead: kind < 35,
      ...(kind >= 95 ? { isTrim: true } : {}),
      line: i + 1,
    });
  }
  return out;
}

type Host = Omit<SimulatorConfig, 'geometry' | 'ftl'> & { ftl?: SimulatorConfig['ftl'] };

function replay(host: Host, wasmKernel: boolean, precondition: boolean): { sim: SsdSimulator; report: string; l2p: number[]; clock: number } {
  const sim = new SsdSimulator({ geometry: small, snapshotEvery: 64, ...host, ftl: { overProvisioning: 0.25, ...host.ftl, wasmKernel } });
  if (precondition) sim.precondition();
  const report = sim.replay(syntheticTrace(sim.userPages, 3000, 17));
  const l2p: number[] = [];
  for (let lba = 0; lba < sim.userPages; lba++) l2p.push(sim.ftl.physicalPage(lba));
  // The configuration echo (wasmKernel, the engine) differs by construction; everything else must not.
  return { sim, report: JSON.stringify({ ...report, config: null }), l2p, clock: sim.device.timing.elapsed };
}

describe('synthetic runs with a static host allocation: the kernel against TypeScript', () => {
  for (const hostAllocation of ['cwdp', 'pwcd'] as const) {
    test(hostAllocation, () => {
      const outcome = (wasmKernel: boolean) => {
        const sim = new SsdSimulator({ geometry: small, ftl: { overProvisioning: 0.25, hostAllocation, wasmKernel }, snapshotEvery: 256, workload: { kind: 'uniform', seed: 5, readRatio: 0.1 } });
        sim.precondition();
        const report = sim.run(4 * sim.userPages);
        const l2p: number[] = [];
        for (let lba = 0; lba < sim.userPages; lba++) l2p.push(sim.ftl.physicalPage(lba));
        return { sim, report: JSON.stringify({ ...report, config: null }), l2p };
      };
      const kernel = outcome(true);
      const typescript = outcome(false);
      assert.deepEqual(kernel.sim.engine(), { ftlKernel: true, runLoopKernel: true, typescriptBecause: [] });
      assert.ok(kernel.sim.kernelLoop.batches > 0);
      assert.ok((JSON.parse(kernel.report) as { gcRuns: number }).gcRuns > 0);
      assert.equal(kernel.report, typescript.report);
      assert.deepEqual(kernel.l2p, typescript.l2p);
    });
  }
});

describe('replay: the FTL kernel against TypeScript', () => {
  const cases: [string, Host, boolean][] = [
    ['open loop, preconditioned', { queueDepth: 16 }, true],
    ['closed loop, preconditioned', { queueDepth: 4, replayLoop: 'closed' }, true],
    ['open loop, fresh device, read-modify-write, unmapped reads read flash', { queueDepth: 32, partialPageWrites: 'read-modify-write', unmappedReads: 'flash-read' }, false],
    ['open loop, background GC in idle gaps', { queueDepth: 8, backgroundGcIdleNs: 200_000 }, true],
    // Static host allocation (MQSim's CWDP, and a way-first scheme) in the kernel's staticHostDie.
    ['open loop, cwdp allocation, preconditioned', { queueDepth: 16, ftl: { hostAllocation: 'cwdp' } }, true],
    ['closed loop, wcdp allocation, fresh device', { queueDepth: 8, replayLoop: 'closed', ftl: { hostAllocation: 'wcdp' } }, false],
    // With the transaction scheduler the kernels run the fill and pause for the replay.
    ['read-first scheduling, cwdp, preconditioned', { queueDepth: 64, transactionScheduling: 'read-first', ftl: { hostAllocation: 'cwdp' } }, true],
    ['fifo scheduling, partial transfers and read-modify-write, preconditioned', { queueDepth: 16, transactionScheduling: 'fifo', partialPageTransfers: true, partialPageWrites: 'read-modify-write' }, true],
  ];
  for (const [name, host, precondition] of cases) {
    test(name, () => {
      const kernel = replay(host, true, precondition);
      const typescript = replay(host, false, precondition);
      assert.equal(kernel.sim.engine().ftlKernel, true, 'the kernel ran the FTL writes');
      assert.equal(typescript.sim.engine().ftlKernel, false);
      const r = JSON.parse(kernel.report) as { gcRuns: number; hostPageWrites: number };
      assert.ok(r.gcRuns > 0 && r.hostPageWrites > 0, 'GC ran during the replay');
      assert.equal(kernel.report, typescript.report);
      assert.deepEqual(kernel.l2p, typescript.l2p);
      assert.equal(kernel.clock, typescript.clock);
      assert.equal(kernel.sim.device.kernelPaused, false, 'the device kernel runs again after a scheduled replay');
    });
  }
});
