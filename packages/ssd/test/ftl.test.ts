// FTL behaviours: TRIM, the three ways to find valid pages and what they cost, wear leveling,
// victim policies, recovery, snapshots, errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { createNandDevice } from '@flashdiff/nand';
import type { NandGeometry } from '@flashdiff/nand';
import {
  BLOCK_BAD, BLOCK_FULL, Ftl, PAGE_ERASED, PAGE_INVALID, PAGE_META, PAGE_VALID, SsdSimulator, crc32Bytes, isSsdError,
} from '../src/index.ts';
import type { FtlOptions } from '../src/index.ts';

const oneDie: NandGeometry = { pageSize: 2048, spareSize: 64, pagesPerBlock: 8, blocksPerDie: 16, diesPerChannel: 1, channels: 1 };

function make(options: Partial<FtlOptions> = {}, geometry = oneDie, metadataOnly = false): Ftl {
  return new Ftl(createNandDevice({ geometry, metadataOnly }), { overProvisioning: 0.5, ...options });
}

function page(fill: number, size = oneDie.pageSize): Uint8Array {
  return new Uint8Array(size).fill(fill);
}

describe('TRIM', () => {
  test("the seed's steps: unmap L2P, clear the VPBM bit, decrement VPC; reads return zeros; no GC", () => {
    const ftl = make();
    for (let lba = 0; lba < 8; lba++) ftl.write(lba, page(lba + 1));
    const ppas = [0, 1, 2, 3, 4, 5, 6, 7].map((lba) => ftl.physicalPage(lba));
    const block = Math.floor(ppas[0]! / 8);
    assert.equal(ftl.blockValid[block], 8);
    const gcBefore = ftl.counters.gcRuns;
    ftl.trim(2, 3);
    for (const lba of [2, 3, 4]) {
      assert.equal(ftl.physicalPage(lba), -1);
      assert.equal(ftl.isValid(ppas[lba]!), false);
      const out = page(0xaa);
      assert.equal(ftl.read(lba, out), 'unmapped');
      assert.ok(out.every((b) => b === 0));
    }
    assert.equal(ftl.blockValid[block], 5);
    assert.equal(ftl.counters.gcRuns, gcBefore, 'TRIM never triggers GC');
    const out = page(0);
    ftl.read(5, out);
    assert.ok(out.every((b) => b === 6));
    ftl.checkConsistency();
  });

  test('GC never moves trimmed data', () => {
    const ftl = make({ gcThreshold: 0 });
    for (let lba = 0; lba < 8; lba++) ftl.write(lba, page(9));
    const victim = Math.floor(ftl.physicalPage(0) / 8);
    ftl.trim(0, 6); // 2 pages of the block stay valid
    for (let lba = 8; lba < 16; lba++) ftl.write(lba, page(1)); // close the TRIM record's block
    assert.equal(ftl.selectVictim(0), victim);
    const moved = ftl.counters.gcMovedPages;
    assert.ok(ftl.collectOnce(0));
    assert.equal(ftl.counters.gcMovedPages - moved, 2);
    assert.equal(ftl.device.eraseCount(victim), 1);
    for (let lba = 0; lba < 6; lba++) assert.equal(ftl.physicalPage(lba), -1);
    ftl.checkConsistency();
  });

  test('a trimmed page stays trimmed after recovery; a later write wins over the TRIM', () => {
    const ftl = make();
    for (let lba = 0; lba < 20; lba++) ftl.write(lba, page(lba));
    ftl.trim(3, 4);
    ftl.write(5, page(0x55));
    ftl.recover();
    const out = page(0xff);
    for (const lba of [3, 4, 6]) {
      assert.equal(ftl.read(lba, out), 'unmapped');
    }
    ftl.read(5, out);
    assert.ok(out.every((b) => b === 0x55));
    ftl.read(7, out);
    assert.ok(out.every((b) => b === 7));
    ftl.checkConsistency();
  });
});

describe('finding valid pages: bitmap, scan, p2l', () => {
  /** One victim block with `valid` valid pages; returns the GC page reads of collecting it. */
  function gcReads(method: 'bitmap' | 'scan' | 'p2l', valid: number): { reads: number; moved: number; ppbData: number } {
    const ftl = make({ validityMethod: method, gcThreshold: 0 });
    const dataPages = ftl.dataPages;
    for (let lba = 0; lba < dataPages; lba++) ftl.write(lba, page(lba));
    const victim = Math.floor(ftl.physicalPage(0) / 8);
    for (let lba = valid; lba < dataPages; lba++) ftl.write(lba, page(100 + lba)); // invalidates the rest
    for (let lba = 50; lba < 50 + dataPages; lba++) ftl.write(lba, page(3)); // close the update block
    assert.equal(ftl.selectVictim(0), victim);
    const reads = ftl.counters.gcPageReads;
    const deviceReads = ftl.device.stats.pageReads;
    const moved = ftl.counters.gcMovedPages;
    assert.ok(ftl.collectOnce(0));
    assert.equal(ftl.device.stats.pageReads - deviceReads, ftl.counters.gcPageReads - reads, 'every counted read reached the device');
    for (let lba = 0; lba < valid; lba++) {
      const out = page(0);
      ftl.read(lba, out);
      assert.ok(out.every((b) => b === lba), `LBA ${lba} survived the move`);
    }
    ftl.checkConsistency();
    return { reads: ftl.counters.gcPageReads - reads, moved: ftl.counters.gcMovedPages - moved, ppbData: dataPages };
  }

  test('bitmap reads only the valid pages', () => {
    const r = gcReads('bitmap', 3);
    assert.deepEqual([r.reads, r.moved], [3, 3]);
  });

  test('scan reads every programmed page and checks L2P', () => {
    const r = gcReads('scan', 3);
    assert.deepEqual([r.reads, r.moved], [8, 3]);
  });

  test('p2l reads the summary page plus the valid pages; the summary costs one page per block', () => {
    const r = gcReads('p2l', 3);
    assert.equal(r.ppbData, 7);
    assert.deepEqual([r.reads, r.moved], [4, 3]);
  });

  test('p2l works from RAM on a metadata-only device and still charges the summary read', () => {
    const ftl = make({ validityMethod: 'p2l', gcThreshold: 0 }, oneDie, true);
    for (let i = 0; i < 400; i++) ftl.write((i * 7) % ftl.userPages);
    assert.ok(ftl.counters.gcRuns > 0);
    assert.ok(ftl.counters.metadataPagePrograms > 0);
    ftl.checkConsistency();
  });
});

describe('victim policies', () => {
  test('greedy picks the unit with the fewest valid pages', () => {
    const ftl = make({ gcPolicy: 'greedy', gcThreshold: 0 });
    for (let lba = 0; lba < 40; lba++) ftl.write(lba);
    // Invalidate 1, 5, 3 pages in the first three blocks.
    for (const lba of [0, 8, 9, 10, 11, 12, 16, 17, 18]) ftl.write(lba);
    const blockOf = (lba: number) => Math.floor(ftl.physicalPage(lba) / 8);
    assert.equal(ftl.selectVictim(0), blockOf(13));
    assert.equal(ftl.unitValid[blockOf(13)], 3);
  });

  test('cost-benefit prefers the older of two equally full units', () => {
    const ftl = make({ gcPolicy: 'cost-benefit', gcThreshold: 0 });
    for (let lba = 0; lba < 40; lba++) ftl.write(lba);
    const old = Math.floor(ftl.physicalPage(0) / 8);
    const young = Math.floor(ftl.physicalPage(24) / 8);
    for (const lba of [0, 1, 24, 25]) ftl.write(lba); // two invalid pages in each
    assert.equal(ftl.unitValid[old], ftl.unitValid[young]);
    assert.equal(ftl.selectVictim(0), old);
  });

  test('fifo collects in closing order', () => {
    const ftl = make({ gcPolicy: 'fifo', gcThreshold: 0 });
    for (let lba = 0; lba < 40; lba++) ftl.write(lba);
    const first = Math.floor(ftl.physicalPage(0) / 8);
    ftl.write(30);
    assert.equal(ftl.selectVictim(0), first);
  });
});

describe('wear leveling', () => {
  test('dynamic: new data goes to the free block with the fewest erases', () => {
    const device = createNandDevice({ geometry: oneDie, metadataOnly: true });
    for (let b = 0; b < 4; b++) for (let k = 0; k < 5; k++) device.eraseBlock(b);
    const dynamic = new Ftl(device, { overProvisioning: 0.5, dynamicWearLeveling: true });
    dynamic.write(0);
    assert.ok(Math.floor(dynamic.physicalPage(0) / 8) >= 4, 'a young block is used first');
    const device2 = createNandDevice({ geometry: oneDie, metadataOnly: true });
    for (let b = 0; b < 4; b++) for (let k = 0; k < 5; k++) device2.eraseBlock(b);
    const fifo = new Ftl(device2, { overProvisioning: 0.5, dynamicWearLeveling: false });
    fifo.write(0);
    assert.equal(Math.floor(fifo.physicalPage(0) / 8), 0, 'without it, blocks go in pool order');
  });

  test('static: cold data moves so the erase-count spread stays near the threshold', () => {
    const geometry: NandGeometry = { pageSize: 4096, spareSize: 64, pagesPerBlock: 16, blocksPerDie: 64, diesPerChannel: 1, channels: 1 };
    const spread = (staticWearLeveling: boolean) => {
      const sim = new SsdSimulator({
        geometry,
        ftl: { overProvisioning: 0.25, staticWearLeveling, staticWearLevelingThreshold: 10 },
        // 90% of the LBAs are written once and never again: cold data pins their blocks.
        workload: { kind: 'hotcold', hotFraction: 0.1, hotAccessFraction: 1, seed: 4 },
      });
      sim.precondition();
      const r = sim.run(40 * sim.userPages);
      return r;
    };
    const without = spread(false);
    const withStatic = spread(true);
    assert.equal(without.erase.min, 0, 'cold blocks are never erased without static wear leveling');
    assert.ok(without.erase.max - without.erase.min > 50);
    assert.ok(withStatic.wearLevelingMovedPages > 0);
    assert.ok(withStatic.erase.max - withStatic.erase.min <= 25, `spread ${withStatic.erase.max - withStatic.erase.min}`);
    assert.ok(withStatic.erase.stddev < without.erase.stddev / 2);
  });
});

describe('bad blocks', () => {
  test('factory-bad blocks are never used; a failed program retires its block without data loss', () => {
    const device = createNandDevice({ geometry: oneDie, faults: { factoryBadBlocks: [0, 7] } });
    const ftl = new Ftl(device, { overProvisioning: 0.5 });
    for (let lba = 0; lba < 12; lba++) ftl.write(lba, page(lba));
    const open = Math.floor(ftl.physicalPage(11) / 8);
    device.faults.failProgram(ftl.physicalPage(11) + 1);
    ftl.write(12, page(12));
    assert.ok(device.isBad(open));
    assert.equal(ftl.blockState[open], BLOCK_BAD);
    assert.equal(ftl.counters.retiredBlocks, 1);
    for (let lba = 0; lba <= 12; lba++) {
      const out = page(0);
      ftl.read(lba, out);
      assert.ok(out.every((b) => b === lba), `LBA ${lba}`);
      const b = Math.floor(ftl.physicalPage(lba) / 8);
      assert.ok(b !== 0 && b !== 7 && b !== open);
    }
    ftl.checkConsistency();
  });

  test('a failed erase retires the victim', () => {
    const device = createNandDevice({ geometry: oneDie, metadataOnly: true });
    const ftl = new Ftl(device, { overProvisioning: 0.5, gcThreshold: 0 });
    for (let lba = 0; lba < 16; lba++) ftl.write(lba);
    for (let lba = 0; lba < 8; lba++) ftl.write(lba);
    const victim = ftl.selectVictim(0);
    device.faults.failErase(victim);
    ftl.collectOnce(0);
    assert.ok(device.isBad(victim));
    assert.equal(ftl.counters.eraseFailures, 1);
    ftl.checkConsistency();
  });
});

describe('recovery, snapshot, errors', () => {
  test('metadata-only device: tables rebuilt from the spares equal the live ones', () => {
    const ftl = make({ gcPolicy: 'greedy' }, { ...oneDie, blocksPerDie: 64 }, true);
    let x = 1;
    for (let i = 0; i < 3000; i++) {
      x = (x * 48271) % 2147483647;
      if (i % 17 === 0) ftl.trim(x % ftl.userPages, 1);
      else ftl.write(x % ftl.userPages);
    }
    const l2p = ftl.l2p.slice();
    ftl.recover();
    assert.deepEqual(ftl.l2p, l2p);
    ftl.checkConsistency();
    ftl.write(0); // and it keeps working
  });

  test('snapshot: per-block counts add up and match the page states', () => {
    const ftl = make({ validityMethod: 'p2l' });
    for (let i = 0; i < 200; i++) ftl.write((i * 13) % 40);
    const s = ftl.snapshot();
    let valid = 0;
    for (let b = 0; b < 16; b++) {
      if (s.blockState[b] === BLOCK_BAD) continue;
      assert.equal(s.validPages[b]! + s.invalidPages[b]! + s.freePages[b]!, 8);
      const states = Array.from(s.pageState.subarray(b * 8, b * 8 + 8));
      assert.equal(states.filter((p) => p === PAGE_VALID).length, s.validPages[b]);
      assert.equal(states.filter((p) => p === PAGE_ERASED).length, s.freePages[b]);
      assert.equal(states.filter((p) => p === PAGE_INVALID || p === PAGE_META).length, s.invalidPages[b]);
      if (s.blockState[b] === BLOCK_FULL) assert.equal(states[7], PAGE_META);
      valid += s.validPages[b]!;
      assert.equal(s.eraseCount[b], ftl.device.eraseCount(b));
    }
    assert.equal(valid, 40);
    assert.ok(s.gcRuns > 0 && s.lastVictimUnit >= 0);
  });

  test('errors are typed', () => {
    const ftl = make();
    assert.throws(() => ftl.write(ftl.userPages), (e: unknown) => isSsdError(e, 'OUT_OF_RANGE'));
    assert.throws(() => ftl.write(-1), (e: unknown) => isSsdError(e, 'OUT_OF_RANGE'));
    assert.throws(() => ftl.write(0, new Uint8Array(10)), (e: unknown) => isSsdError(e, 'BUFFER_SIZE'));
    assert.throws(() => ftl.trim(ftl.userPages - 1, 2), (e: unknown) => isSsdError(e, 'OUT_OF_RANGE'));
    assert.throws(() => make({ overProvisioning: 0 }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG'));
    assert.throws(() => make({ gcPolicy: 'lru' as never }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /gcPolicy/.test(e.message));
    assert.throws(
      () => new Ftl(createNandDevice({ geometry: { ...oneDie, pageSize: 512, spareSize: 16 } }), {}),
      (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /spareSize/.test(e.message),
    );
  });

  test('power loss: the FTL refuses work until recover()', () => {
    const device = createNandDevice({ geometry: oneDie });
    const ftl = new Ftl(device, { overProvisioning: 0.5 });
    ftl.write(0, page(1));
    device.faults.cutPowerAfter(1);
    assert.throws(() => ftl.write(1, page(2)), (e: unknown) => isSsdError(e, 'POWER_LOSS'));
    assert.throws(() => ftl.read(0), (e: unknown) => isSsdError(e, 'POWER_LOSS'));
    ftl.recover();
    const out = page(0);
    ftl.read(0, out);
    assert.ok(out.every((b) => b === 1));
    assert.equal(ftl.read(1, out), 'unmapped', 'the torn page is ignored');
  });

  test('the spare CRC is CRC-32 (zlib)', () => {
    const bytes = new Uint8Array([1, 2, 3, 250, 0, 0, 7, 9, 11, 13, 17, 19]);
    assert.equal(crc32Bytes(bytes, 0, bytes.length), zlib.crc32(bytes));
    assert.equal(crc32Bytes(bytes, 3, 5), zlib.crc32(bytes.subarray(3, 8)));
  });
});
