// The marked preconditioning fill (src/ftl/marked-fill.ts, PreconditionOptions.fill) against the
// simulated fill it replaces: on small geometries (planes and multi-plane commands, a static
// allocation or round robin, the FTL kernel on or off, pages per block not a power of two) both
// must leave the same FTL (L2P, P2L, VPBM, valid counts, block and unit states, write pointers,
// free pools, unit stamps, sequence counter, counters), the same device contents (every page's
// spare, programs per block) and the same behaviour afterwards (a GC-heavy run from there, and
// recovery from the spares). The one intended difference: the marked fill takes no simulated time.
// Upstream counterpart: MQSim's preconditioning, which assigns the state instead of simulating it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MQSIM_TIMING, totalPages } from '@flashdiff/nand';
import type { NandGeometry } from '@flashdiff/nand';
import { SsdSimulator } from '../src/index.ts';
import type { SimulatorConfig } from '../src/index.ts';
import { preconditionSimulator } from '../src/precondition.ts';
import type { PreconditionOptions } from '../src/precondition.ts';

const base: NandGeometry = { pageSize: 4096, spareSize: 128, pagesPerBlock: 16, blocksPerDie: 32, diesPerChannel: 2, channels: 2 };

interface Case {
  name: string;
  config: SimulatorConfig;
  state: PreconditionOptions['state'];
  occupancy: number;
}

const cases: Case[] = [
  {
    name: 'planes, multi-plane commands, cwdp, read-first scheduler (mqsim-default in small)',
    config: {
      geometry: { ...base, diesPerChannel: 2, planesPerDie: 4, blocksPerDie: 64 },
      timing: MQSIM_TIMING,
      ftl: { overProvisioning: 0.0752688, hostAllocation: 'cwdp', dynamicWearLeveling: true, staticWearLeveling: true, staticWearLevelingThreshold: 100, seed: 321 },
      transactionScheduling: 'read-first',
      multiPlane: true,
      multiPlaneDiesPerChip: 2,
      multiPlaneSamePage: true,
      snapshotEvery: 0,
    },
    state: 'sequential',
    occupancy: 0.7,
  },
  {
    name: 'round robin, one plane (the FTL kernel on)',
    config: { geometry: base, ftl: { overProvisioning: 0.25 }, snapshotEvery: 0 },
    state: 'sequential',
    occupancy: 0.6,
  },
  {
    name: 'random order, pcwd, kernel off, 12 pages per block and 3 dies per channel',
    config: { geometry: { ...base, pagesPerBlock: 12, diesPerChannel: 3, blocksPerDie: 20 }, ftl: { overProvisioning: 0.3, hostAllocation: 'pcwd', wasmKernel: false }, snapshotEvery: 0 },
    state: 'random',
    occupancy: 0.75,
  },
  {
    name: 'random order, round robin, greedy GC thresholds close (but not reached)',
    config: { geometry: base, ftl: { overProvisioning: 0.12, gcThreshold: 2 }, snapshotEvery: 0 },
    state: 'random',
    occupancy: 0.85,
  },
];

function filled(c: Case, fill: 'marked' | 'simulated'): { sim: SsdSimulator; report: ReturnType<typeof preconditionSimulator> } {
  const sim = new SsdSimulator(c.config);
  const report = preconditionSimulator(sim, { state: c.state, occupancy: c.occupancy, seed: 7, fill });
  return { sim, report };
}

function assertSameState(a: SsdSimulator, b: SsdSimulator, label: string): void {
  const x = a.ftl;
  const y = b.ftl;
  assert.deepEqual(x.counters, y.counters, `${label}: FTL counters`);
  assert.deepEqual(x.l2p, y.l2p, `${label}: L2P`);
  assert.deepEqual(x.p2l, y.p2l, `${label}: P2L`);
  assert.deepEqual(x.validBits, y.validBits, `${label}: VPBM`);
  assert.deepEqual(x.blockValid, y.blockValid, `${label}: VPC per block`);
  assert.deepEqual(x.unitValid, y.unitValid, `${label}: VPC per unit`);
  assert.deepEqual(x.blockState, y.blockState, `${label}: block states`);
  assert.deepEqual(x.unitState, y.unitState, `${label}: unit states`);
  assert.deepEqual(x.writePointer, y.writePointer, `${label}: write pointers`);
  assert.deepEqual(x.blockMinSeq, y.blockMinSeq, `${label}: oldest sequence per block`);
  assert.deepEqual(x.unitStamp, y.unitStamp, `${label}: unit stamps`);
  assert.deepEqual(x.freeCount, y.freeCount, `${label}: free pools`);
  assert.equal(x.nextSequence, y.nextSequence, `${label}: sequence counter`);
  assert.equal(x.freeUnits(), y.freeUnits(), `${label}: free units`);
  assert.deepEqual(x.snapshot().pageState, y.snapshot().pageState, `${label}: page states`);
  assert.equal(a.device.stats.pagePrograms, b.device.stats.pagePrograms, `${label}: NAND programs`);
  assert.deepEqual(a.device.stats.programsPerBlock, b.device.stats.programsPerBlock, `${label}: programs per block`);
  const g = a.device.geometry;
  const spareA = new Uint8Array(g.spareSize);
  const spareB = new Uint8Array(g.spareSize);
  for (let p = 0; p < totalPages(g); p++) {
    assert.equal(a.device.readPage(p, undefined, spareA).erased, b.device.readPage(p, undefined, spareB).erased, `${label}: page ${p} erased`);
    assert.deepEqual(spareA, spareB, `${label}: page ${p} spare`);
  }
  x.checkConsistency();
}

describe('marked preconditioning fill', () => {
  for (const c of cases) {
    test(`${c.name}: the simulated fill's state, untimed`, () => {
      const marked = filled(c, 'marked');
      const simulated = filled(c, 'simulated');
      assert.equal(marked.report.fill, 'marked', `marked (${marked.report.fillNote ?? ''})`);
      assert.equal(simulated.report.fill, 'simulated');
      assert.equal(marked.report.hostPageWrites, simulated.report.hostPageWrites);
      assert.equal(marked.report.nandPageWrites, simulated.report.nandPageWrites);
      assert.equal(marked.report.validPages, simulated.report.validPages);
      assert.equal(marked.report.simulatedSeconds, 0, 'no simulated time');
      assert.ok(simulated.report.simulatedSeconds > 0);
      assert.equal(marked.sim.ftl.counters.gcRuns, 0);
      assertSameState(marked.sim, simulated.sim, c.name);
      // From there a run with GC goes the same way (victims, moves, erases, tables).
      const writes = 2 * marked.sim.userPages;
      const ra = marked.sim.run(writes);
      const rb = simulated.sim.run(writes);
      assert.ok(ra.gcRuns > 0, 'GC ran afterwards');
      assert.equal(ra.waf, rb.waf);
      assert.equal(ra.erases, rb.erases);
      assertSameState(marked.sim, simulated.sim, `${c.name}, after ${writes} writes`);
    });
  }

  test('recovery from the spares after a marked fill rebuilds its map', () => {
    const { sim } = filled(cases[0]!, 'marked');
    const l2p = Int32Array.from(sim.ftl.l2p);
    sim.ftl.recover();
    assert.deepEqual(sim.ftl.l2p, l2p);
    for (let lba = 0; lba < sim.userPages; lba += 97) assert.equal(sim.ftl.read(lba), l2p[lba]! >= 0 ? 'mapped' : 'unmapped');
  });

  test('where foreground GC would run during the fill, the fill is simulated and the report says why', () => {
    const sim = new SsdSimulator({ geometry: base, ftl: { overProvisioning: 0.05, gcThreshold: 2 }, snapshotEvery: 0 });
    const r = preconditionSimulator(sim, { state: 'random', occupancy: 0.99, seed: 7 });
    assert.equal(r.fill, 'simulated');
    assert.match(r.fillNote ?? '', /foreground GC|room/);
    assert.equal(r.hostPageWrites, r.validPages);
    sim.ftl.checkConsistency();
  });

  test('a program that fails part-way: the page retried elsewhere and the rest written one by one, as the simulated fill does', () => {
    const c: Case = {
      name: 'program failures',
      config: { geometry: base, ftl: { overProvisioning: 0.3, wasmKernel: false }, faults: { programFailureRate: 0.004, seed: 11 }, snapshotEvery: 0 },
      state: 'sequential',
      occupancy: 0.6,
    };
    const marked = filled(c, 'marked');
    const simulated = filled(c, 'simulated');
    assert.equal(marked.report.fill, 'marked', `marked (${marked.report.fillNote ?? ''})`);
    assert.ok(marked.sim.ftl.counters.programFailures > 0, 'a program failed during the fill');
    assertSameState(marked.sim, simulated.sim, c.name);
  });

  test('an order that names an LBA twice: declined before anything changes', () => {
    const sim = new SsdSimulator({ geometry: base, ftl: { overProvisioning: 0.25 }, snapshotEvery: 0 });
    const before = sim.ftl.nextSequence;
    assert.match(sim.ftl.markedFill(Int32Array.from([3, 9, 40, 9]), 0, 4) ?? '', /already written/);
    assert.match(sim.ftl.markedFill(Int32Array.from([3, sim.userPages]), 0, 2) ?? '', /out of range/);
    assert.equal(sim.ftl.nextSequence, before);
    assert.equal(sim.ftl.counters.hostPageWrites, 0);
    assert.equal(sim.ftl.markedFill(Int32Array.from([3, 9, 40]), 0, 3), null);
    assert.equal(sim.ftl.physicalPage(9) >= 0 && sim.ftl.physicalPage(3) >= 0 && sim.ftl.physicalPage(40) >= 0, true);
  });

  test('an LBA already written: declined before anything changes', () => {
    const sim = new SsdSimulator({ geometry: base, ftl: { overProvisioning: 0.25 }, snapshotEvery: 0 });
    sim.ftl.write(5);
    const before = sim.ftl.nextSequence;
    assert.match(sim.ftl.markedFill(null, 0, 10) ?? '', /already written/);
    assert.equal(sim.ftl.nextSequence, before);
    assert.equal(sim.ftl.counters.hostPageWrites, 1);
  });
});
