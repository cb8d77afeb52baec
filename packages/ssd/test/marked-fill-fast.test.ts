// The FTL kernel's marked fill (kernel/ftl/marked-fill.ts: per page only the L2P entry, the head
// and the write pointer; per run of pages in a block the validity words, valid counts, oldest
// sequence and the device's page states, flags and counts) against the TypeScript marked fill
// (src/ftl/marked-fill.ts pass 2, page by page, the FTL kernel off): every table either leaves
// must be the same — at 256 pages per block and at pages per block that are not a power of two
// (nor a multiple of 32: validity words shared by two blocks), with and without planes, blocks
// left part-written at the end, sequential and random orders, round robin and static schemes.
// And a sequential fill's checks (writes per die counted by residue) decide as the page-by-page
// checks of the same LBAs given as an order (mutation-checked).
// Upstream counterpart: MQSim's preconditioning (FTL::Perform_precondition).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MQSIM_TIMING, totalPages } from '@flashdiff/nand';
import type { NandGeometry } from '@flashdiff/nand';
import { SsdSimulator } from '../src/index.ts';
import type { SimulatorConfig } from '../src/index.ts';
import { preconditionSimulator } from '../src/precondition.ts';
import type { PreconditionOptions } from '../src/precondition.ts';

interface Case {
  name: string;
  geometry: NandGeometry;
  ftl: NonNullable<SimulatorConfig['ftl']>;
  state: PreconditionOptions['state'];
  occupancy: number;
  multiPlane?: boolean;
}

const small: NandGeometry = { pageSize: 4096, spareSize: 128, pagesPerBlock: 256, blocksPerDie: 16, diesPerChannel: 2, channels: 2 };

const cases: Case[] = [
  { name: '256 pages per block, one plane, round robin, sequential', geometry: small, ftl: { overProvisioning: 0.25 }, state: 'sequential', occupancy: 0.63 },
  { name: '256 pages per block, 4 planes, cwdp, multi-plane, sequential', geometry: { ...small, planesPerDie: 4, blocksPerDie: 32 }, ftl: { overProvisioning: 0.0752688, hostAllocation: 'cwdp', seed: 5 }, state: 'sequential', occupancy: 0.7, multiPlane: true },
  { name: '256 pages per block, 2 planes, pcwd, random order', geometry: { ...small, planesPerDie: 2, blocksPerDie: 24 }, ftl: { overProvisioning: 0.2, hostAllocation: 'pcwd' }, state: 'random', occupancy: 0.55 },
  { name: '40 pages per block, one plane, round robin, sequential', geometry: { ...small, pagesPerBlock: 40, blocksPerDie: 40 }, ftl: { overProvisioning: 0.3 }, state: 'sequential', occupancy: 0.71 },
  { name: '40 pages per block, 4 planes, cwdp, sequential', geometry: { ...small, pagesPerBlock: 40, blocksPerDie: 64, planesPerDie: 4, diesPerChannel: 3 }, ftl: { overProvisioning: 0.15, hostAllocation: 'cwdp' }, state: 'sequential', occupancy: 0.66 },
  { name: '12 pages per block, 2 planes, round robin, random order', geometry: { ...small, pagesPerBlock: 12, blocksPerDie: 40, planesPerDie: 2 }, ftl: { overProvisioning: 0.25 }, state: 'random', occupancy: 0.8 },
];

function filled(c: Case, kernel: boolean): SsdSimulator {
  const sim = new SsdSimulator({
    geometry: c.geometry,
    timing: MQSIM_TIMING,
    ftl: { ...c.ftl, wasmKernel: kernel },
    ...(c.multiPlane === true ? { multiPlane: true, multiPlaneDiesPerChip: 2, multiPlaneSamePage: true } : {}),
    snapshotEvery: 0,
  });
  const report = preconditionSimulator(sim, { state: c.state, occupancy: c.occupancy, seed: 13, fill: 'marked' });
  assert.equal(report.fill, 'marked', `${c.name}: marked (${report.fillNote ?? ''})`);
  assert.equal(sim.ftl.internalState.moduleKernel !== null, kernel, `${c.name}: FTL kernel ${kernel ? 'on' : 'off'}`);
  return sim;
}

describe('the kernel marked fill (runs a block at a time) leaves the TypeScript fill\'s tables', () => {
  for (const c of cases) {
    test(c.name, () => {
      const a = filled(c, true);
      const b = filled(c, false);
      const x = a.ftl;
      const y = b.ftl;
      assert.deepEqual(x.counters, y.counters, 'FTL counters');
      assert.deepEqual(x.l2p, y.l2p, 'L2P');
      assert.deepEqual(x.p2l, y.p2l, 'P2L');
      assert.deepEqual(x.validBits, y.validBits, 'validity bits');
      assert.deepEqual(x.blockValid, y.blockValid, 'valid pages per block');
      assert.deepEqual(x.unitValid, y.unitValid, 'valid pages per unit');
      assert.deepEqual(x.blockState, y.blockState, 'block states');
      assert.deepEqual(x.unitState, y.unitState, 'unit states');
      assert.deepEqual(x.writePointer, y.writePointer, 'write pointers');
      assert.deepEqual(x.blockMinSeq, y.blockMinSeq, 'oldest sequence per block');
      assert.deepEqual(x.unitStamp, y.unitStamp, 'unit stamps');
      assert.deepEqual(x.freeCount, y.freeCount, 'free pools');
      assert.equal(x.freeUnits(), y.freeUnits(), 'free units');
      assert.equal(x.nextSequence, y.nextSequence, 'sequence counter');
      assert.equal(x.internalState.hostCursor, y.internalState.hostCursor, 'host cursor');
      assert.deepEqual(x.snapshot().pageState, y.snapshot().pageState, 'page states');
      assert.deepEqual(a.device.stats, b.device.stats, 'device counts (programs, programs per block, erases)');
      const open = Array.from(x.writePointer).filter((wp) => wp > 0 && wp < c.geometry.pagesPerBlock).length;
      assert.ok(open > 0, 'some blocks left part-written');
      const g = a.device.geometry;
      const spareA = new Uint8Array(g.spareSize);
      const spareB = new Uint8Array(g.spareSize);
      for (let p = 0; p < totalPages(g); p++) {
        assert.equal(a.device.readPage(p, undefined, spareA).erased, b.device.readPage(p, undefined, spareB).erased, `page ${p} erased`);
        assert.deepEqual(spareA, spareB, `page ${p} spare`);
      }
      x.checkConsistency();
      // The same writes from there on (the tables the fill left are the ones the run uses).
      const ra = a.run(a.userPages);
      const rb = b.run(b.userPages);
      assert.equal(ra.erases, rb.erases);
      assert.deepEqual(x.l2p, y.l2p, 'L2P after a run');
    });
  }

  test('a sequential fill\'s checks (counted by residue) decide as the page-by-page checks of the same LBAs in a given order', () => {
    const configs: SimulatorConfig[] = [
      { geometry: { ...small, pagesPerBlock: 12, blocksPerDie: 20, diesPerChannel: 3 }, ftl: { overProvisioning: 0.1, gcThreshold: 2, wasmKernel: false }, snapshotEvery: 0 },
      { geometry: { ...small, pagesPerBlock: 12, blocksPerDie: 24, planesPerDie: 2 }, ftl: { overProvisioning: 0.1, gcThreshold: 2, hostAllocation: 'cwdp', wasmKernel: false }, snapshotEvery: 0 },
    ];
    for (const config of configs) {
      const userPages = new SsdSimulator(config).userPages;
      const accepts = (count: number): boolean => new SsdSimulator(config).ftl.markedFill(null, 0, count) === null;
      // The largest count accepted (the checks decline from there on: a die's room or GC).
      let lo = 1;
      let hi = userPages;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (accepts(mid)) lo = mid;
        else hi = mid - 1;
      }
      assert.ok(lo < userPages - 25, `the checks decline before the end (${lo} of ${userPages})`);
      let declined = 0;
      for (const first of [0, 5]) {
        const counts = [...Array.from({ length: 41 }, (_, k) => lo - 20 + k), userPages - first, userPages + 1 - first];
        for (const count of counts) {
          const sequential = new SsdSimulator(config).ftl.markedFill(null, first, count);
          const order = Int32Array.from({ length: count }, (_, i) => first + i);
          const given = new SsdSimulator(config).ftl.markedFill(order, 0, count);
          assert.equal(sequential, given, `first ${first}, count ${count}`);
          if (sequential !== null) declined++;
        }
      }
      assert.ok(declined > 0 && declined < 86, `some counts declined, some not (${declined} of 86)`);
    }
  });
});
