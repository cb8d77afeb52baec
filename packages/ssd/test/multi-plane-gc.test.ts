// GC across the planes of a die (src/ftl/gc-planes.ts, issue 17): with multi-plane commands the
// planes of a die collect together, their valid pages move a round at a time (one multi-plane
// read, one multi-plane program per round) and their victims are erased as one multi-plane erase.
// Exact expectations on a tiny geometry: 1 channel × 1 die × 2 planes × 4 blocks of 4 pages.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TIMING, MultiPlaneGrouping, createNandDevice } from '@flashdiff/nand';
import type { NandClock, NandGeometry } from '@flashdiff/nand';
import { Ftl, PlaneView, SsdSimulator, isSsdError } from '../src/index.ts';

const geometry: NandGeometry = { pageSize: 4096, spareSize: 128, pagesPerBlock: 4, blocksPerDie: 8, diesPerChannel: 1, channels: 1, planesPerDie: 2 };
// With cwdp on one die, LPN n goes to plane n mod 2. The first 16 writes fill two blocks per plane
// (plane 0: {0,2,4,6} {8,10,12,14}), the next pairs overwrite so that every full block keeps 3
// valid pages when the pools reach the GC threshold.
const WRITES = [...Array(16).keys(), 0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 0, 1];

interface GcEvent {
  index: number;
  erases: number;
  moved: number;
  /** Completion of the write's last operation − its issue time (the die is idle at each issue). */
  latency: number;
}

function run(multiPlane: boolean, metadataOnly = true, gcCopyback = false): { ftl: Ftl; view: PlaneView; grouping: MultiPlaneGrouping; events: GcEvent[] } {
  const device = createNandDevice({ geometry, metadataOnly, wasmKernel: false });
  const clock = device.timing as NandClock;
  const grouping = new MultiPlaneGrouping(clock, 2, 1);
  clock.sink = grouping;
  // Without multi-plane GC the view has no grouping: each plane collects alone (the planes take turns).
  const view = new PlaneView(device, multiPlane ? grouping : null);
  const ftl = new Ftl(view, { hostAllocation: 'cwdp', overProvisioning: 1, gcThreshold: 2, wasmKernel: false, gcCopyback });
  const events: GcEvent[] = [];
  let t = 0;
  WRITES.forEach((lba, index) => {
    t += 20_000_000;
    clock.issueAt(t);
    const erases = ftl.counters.erases;
    const moved = ftl.counters.gcMovedPages;
    const data = metadataOnly ? undefined : new Uint8Array(geometry.pageSize).fill((lba * 7 + index) & 0xff);
    ftl.write(lba, data);
    if (ftl.counters.erases !== erases) events.push({ index, erases: ftl.counters.erases - erases, moved: ftl.counters.gcMovedPages - moved, latency: clock.lastCompletion - t });
  });
  return { ftl, view, grouping, events };
}

const { tR, tPROG, tBERS, transferPerByte } = DEFAULT_TIMING;
const transfer = (geometry.pageSize + geometry.spareSize) * transferPerByte;
const hostProgram = transfer + tPROG;

describe('multi-plane GC', () => {
  test('the planes of a die collect together: moves in multi-plane reads and programs, victims in one multi-plane erase', () => {
    const { ftl, view, events } = run(true);
    // Writes 18, 20, 22: both planes' victims (3 valid pages each) collected in one go; write 26: two each.
    assert.deepEqual(events.map((e) => [e.index, e.erases, e.moved]), [[18, 2, 6], [20, 2, 6], [22, 2, 6], [26, 4, 12]]);
    // Per round one multi-plane read (tR, two transfers out) and one multi-plane program (two in, tPROG);
    // then one tBERS for both victims; then the host write's program.
    const round = tR + 2 * transfer + 2 * transfer + tPROG;
    assert.equal(events[0]!.latency, 3 * round + tBERS + hostProgram);
    assert.equal(ftl.counters.erases, 10);
    assert.equal(view.multiPlaneEraseCommands, 5);
    assert.equal(view.multiPlaneErasedBlocks, 10);
    assert.equal(ftl.counters.gcRuns, 10);
    assert.equal(ftl.counters.gcMovedPages, 30);
    ftl.checkConsistency();
  });

  test('without multi-plane commands each plane collects alone, one page and one erase at a time', () => {
    const { ftl, view, events } = run(false);
    assert.deepEqual(events.map((e) => [e.index, e.erases, e.moved]), [[18, 1, 3], [19, 1, 3], [20, 1, 3], [21, 1, 3], [22, 1, 3], [23, 1, 3], [26, 2, 6], [27, 2, 6]]);
    assert.equal(events[0]!.latency, 3 * (tR + 2 * transfer + tPROG) + tBERS + hostProgram);
    assert.equal(view.multiPlaneEraseCommands, 0);
    // The same work as with multi-plane GC: the victims and the pages moved are the same.
    assert.equal(ftl.counters.erases, 10);
    assert.equal(ftl.counters.gcMovedPages, 30);
    ftl.checkConsistency();
  });

  test('with data, every page moved in lockstep reads back as written', () => {
    const { ftl } = run(true, false);
    const last = new Map<number, number>();
    WRITES.forEach((lba, index) => last.set(lba, index));
    const out = new Uint8Array(geometry.pageSize);
    for (const [lba, index] of last) {
      ftl.read(lba, out);
      assert.ok(out.every((b) => b === ((lba * 7 + index) & 0xff)), `lba ${lba}`);
    }
    ftl.checkConsistency();
  });

  test('gcCopyback: each round is one multi-plane copyback (tR, then tPROG, nothing on the channel)', () => {
    const { ftl, view, grouping, events } = run(true, true, true);
    // The same victims and moves as without copyback, each round without its four transfers.
    assert.deepEqual(events.map((e) => [e.index, e.erases, e.moved]), [[18, 2, 6], [20, 2, 6], [22, 2, 6], [26, 4, 12]]);
    assert.equal(events[0]!.latency, 3 * (tR + tPROG) + tBERS + hostProgram);
    // Every move is a copyback read and a copyback program; host writes are not.
    assert.equal(grouping.copybackOperations, 2 * ftl.counters.gcMovedPages);
    assert.equal(view.multiPlaneEraseCommands, 5);
    ftl.checkConsistency();
    // With data: the pages moved by copyback read back as written.
    const withData = run(true, false, true).ftl;
    const last = new Map<number, number>();
    WRITES.forEach((lba, index) => last.set(lba, index));
    const out = new Uint8Array(geometry.pageSize);
    for (const [lba, index] of last) {
      withData.read(lba, out);
      assert.ok(out.every((b) => b === ((lba * 7 + index) & 0xff)), `lba ${lba}`);
    }
  });

  test('a copyback half joins only copybacks: a read and a copyback read on two planes are two commands', () => {
    const device = createNandDevice({ geometry, metadataOnly: true, wasmKernel: false });
    const clock = device.timing as NandClock;
    const grouping = new MultiPlaneGrouping(clock, 2, 1);
    clock.sink = grouping;
    const bytes = geometry.pageSize + geometry.spareSize;
    grouping.setPlanes(0, 0);
    clock.read(0, 0, bytes);
    grouping.copyback = true;
    grouping.setPlanes(1, 1);
    clock.read(0, 0, bytes);
    assert.equal(grouping.multiPlaneCommands, 0);
    assert.equal(clock.lastCompletion, tR + transfer + tR);
    // Two copyback reads on two planes are one command: one tR, nothing on the channel.
    grouping.setPlanes(0, 0);
    clock.read(0, 0, bytes);
    assert.equal(grouping.multiPlaneCommands, 1);
    assert.equal(clock.lastCompletion, tR + transfer + tR);
    assert.equal(grouping.copybackOperations, 2);
  });

  test('gcCopyback without multi-plane commands is INVALID_CONFIG', () => {
    assert.throws(() => run(false, true, true), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /gcCopyback/.test(e.message));
    assert.throws(() => new Ftl(createNandDevice({ geometry: { ...geometry, planesPerDie: 1 }, metadataOnly: true }), { gcCopyback: true }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG'));
  });

  test('background GC collects the planes of a die together', () => {
    const { ftl, view } = run(true);
    const erases = ftl.counters.erases;
    const commands = view.multiPlaneEraseCommands;
    // backgroundGcTarget 4 of 4 blocks per plane is out of reach: it collects while victims remain.
    const done = ftl.backgroundGc(2);
    assert.equal(done, 2);
    assert.equal(ftl.counters.erases - erases, 2);
    assert.equal(view.multiPlaneEraseCommands - commands, 1);
    ftl.checkConsistency();
  });

  test('a power cut at every program and erase of multi-plane GC (with and without copyback): recovery keeps every completed write', () => {
    for (const gcCopyback of [false, true]) {
      let struck = 0;
      for (let cutAfter = 1; ; cutAfter++) {
        const device = createNandDevice({ geometry, wasmKernel: false });
        const clock = device.timing as NandClock;
        const grouping = new MultiPlaneGrouping(clock, 2, 1);
        clock.sink = grouping;
        const ftl = new Ftl(new PlaneView(device, grouping), { hostAllocation: 'cwdp', overProvisioning: 1, gcThreshold: 2, wasmKernel: false, gcCopyback });
        const last = new Map<number, number>();
        const content = (lba: number, index: number) => new Uint8Array(geometry.pageSize).fill((lba * 7 + index) & 0xff);
        device.faults.cutPowerAfter(cutAfter);
        let cut = false;
        for (let index = 0; index < WRITES.length; index++) {
          const lba = WRITES[index]!;
          try {
            ftl.write(lba, content(lba, index));
            last.set(lba, index);
          } catch (e) {
            if (!isSsdError(e, 'POWER_LOSS')) throw e;
            cut = true;
            ftl.recover();
            // The write in flight: old or new contents; every other LBA its last completed write.
            const out = new Uint8Array(geometry.pageSize);
            ftl.read(lba, out);
            const old = last.get(lba);
            assert.ok(out.every((b) => b === ((lba * 7 + index) & 0xff)) || out.every((b) => b === (old === undefined ? 0 : (lba * 7 + old) & 0xff)), `cut ${cutAfter}: lba ${lba}`);
            if (out.every((b) => b === ((lba * 7 + index) & 0xff))) last.set(lba, index);
            break;
          }
        }
        if (!cut) break;
        struck++;
        const out = new Uint8Array(geometry.pageSize);
        for (const [lba, index] of last) {
          ftl.read(lba, out);
          assert.ok(out.every((b) => b === ((lba * 7 + index) & 0xff)), `copyback ${gcCopyback}, cut ${cutAfter}: lba ${lba}`);
        }
        ftl.checkConsistency();
      }
      // Every program and erase of the run was a cut point (32 host writes, 30 moves, 10 erases).
      assert.equal(struck, 72, `copyback ${gcCopyback}`);
    }
  });

  test('the simulator reports the multi-plane erases of its GC', () => {
    const base = { pageSize: 4096, spareSize: 128, pagesPerBlock: 16, blocksPerDie: 64, diesPerChannel: 2, channels: 2 };
    const sim = new SsdSimulator({ geometry: { ...base, planesPerDie: 2 }, multiPlane: true, workload: { kind: 'uniform', seed: 3 }, snapshotEvery: 0 });
    sim.precondition();
    sim.startMeasurement();
    const r = sim.run(3 * sim.ftl.userPages);
    const planes = r.config.planes as { multiPlaneEraseCommands: number; multiPlaneErasedBlocks: number };
    const erases = sim.ftl.counters.erases;
    assert.ok(erases > 100, `erases ${erases}`);
    // Uniform writes keep the planes of a die within a block of each other: nearly every erase pairs up.
    assert.ok(planes.multiPlaneErasedBlocks >= 0.8 * erases, `${planes.multiPlaneErasedBlocks} of ${erases} erases in multi-plane commands`);
    assert.equal(planes.multiPlaneErasedBlocks, 2 * planes.multiPlaneEraseCommands);
    sim.ftl.checkConsistency();
  });
});
