// The seed article's mini SSD (4 channels × 1 die × 6 blocks × 9 pages = 216 pages; GC per
// superblock = the same block number on the four dies, 36 pages) and its worked numbers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createNandDevice, geometryPreset } from '@flashdiff/nand';
import { Ftl, userPagesFor } from '../src/index.ts';

const geometry = geometryPreset('seed-mini');
const UNIT_PAGES = 36;

function seedFtl(overProvisioning: number): Ftl {
  const device = createNandDevice({ geometry, metadataOnly: true });
  // gcThreshold 0: collect only when the whole flash is written, as the article does.
  return new Ftl(device, { overProvisioning, gcUnit: 'superblock', gcThreshold: 0 });
}

/** Superblock (unit) holding a logical page. */
function unitOf(ftl: Ftl, lba: number): number {
  return ftl.unitOfBlock(Math.floor(ftl.physicalPage(lba) / geometry.pagesPerBlock));
}

function lbasIn(ftl: Ftl, unit: number): number[] {
  const out: number[] = [];
  for (let lba = 0; lba < ftl.userPages; lba++) if (ftl.physicalPage(lba) >= 0 && unitOf(ftl, lba) === unit) out.push(lba);
  return out;
}

function programs(ftl: Ftl): number {
  return ftl.device.stats.pagePrograms;
}

describe('seed mini SSD', () => {
  test('20 user blocks + 4 OP blocks: OP 20% gives 180 user pages of 216', () => {
    assert.equal(userPagesFor(geometry, 0.2), 180);
    assert.equal(userPagesFor(geometry, 0.5), 144); // 72 of 216 pages as OP
  });

  test('sequential logical pages 1–4 land on dies 0–3 (channel-first striping)', () => {
    const ftl = seedFtl(0.2);
    for (let lba = 0; lba < 8; lba++) ftl.write(lba);
    const dies = [0, 1, 2, 3, 4, 5, 6, 7].map((lba) => Math.floor(ftl.physicalPage(lba) / geometry.pagesPerBlock / geometry.blocksPerDie));
    assert.deepEqual(dies, [0, 1, 2, 3, 0, 1, 2, 3]);
    // One superblock: the same block number on every die, page 0 then page 1.
    const blocks = [0, 1, 2, 3].map((lba) => Math.floor(ftl.physicalPage(lba) / geometry.pagesPerBlock) % geometry.blocksPerDie);
    assert.equal(new Set(blocks).size, 1);
    assert.equal(ftl.physicalPage(4) % geometry.pagesPerBlock, 1);
  });

  test('GC example: a superblock with 12 valid of 36 pages gives WAF 36 / 24 = 1.5', () => {
    const ftl = seedFtl(0.2);
    for (let lba = 0; lba < 180; lba++) ftl.write(lba);
    const first = unitOf(ftl, 0);
    const inFirst = lbasIn(ftl, first);
    assert.equal(inFirst.length, UNIT_PAGES);
    // Fill the OP superblock with updates: 24 of the first superblock's pages, 3 of each other one.
    const others = [...new Set(Array.from({ length: 180 }, (_, lba) => unitOf(ftl, lba)))].filter((u) => u !== first);
    assert.equal(others.length, 4);
    const updates = inFirst.slice(0, 24);
    for (const u of others) updates.push(...lbasIn(ftl, u).slice(0, 3));
    for (const lba of updates) ftl.write(lba);
    assert.equal(ftl.freeUnits(), 0, 'the whole flash is written');
    assert.equal(ftl.unitValid[first], 12);
    for (const u of others) assert.equal(ftl.unitValid[u], 33);

    const programsBefore = programs(ftl);
    const movedBefore = ftl.counters.gcMovedPages;
    for (let i = 0; i < 24; i++) ftl.write(100 + i);
    assert.equal(ftl.lastVictimUnit, first, 'greedy picks the superblock with the most garbage');
    assert.equal(ftl.counters.gcMovedPages - movedBefore, 12);
    const written = programs(ftl) - programsBefore;
    assert.equal(written, 36);
    assert.equal(written / 24, 1.5);
    ftl.checkConsistency();
  });

  /**
   * Worst case of the OP arithmetic: garbage spread evenly, every superblock holds
   * user/physical × 36 valid pages; each GC moves them and frees the rest for host data.
   * The host rewrites pages of the unit just collected, so the even state persists.
   */
  function evenGarbageWaf(ftl: Ftl, validPerUnit: number, cycles: number): number {
    for (const u of [0, 1, 2, 3, 4, 5]) assert.equal(ftl.unitValid[u], validPerUnit, `unit ${u} valid pages`);
    assert.equal(ftl.freeUnits(), 0);
    const before = programs(ftl);
    const hostBefore = ftl.counters.hostPageWrites;
    const free = UNIT_PAGES - validPerUnit;
    for (let c = 0; c < cycles; c++) {
      const victim = ftl.selectVictim(0);
      assert.equal(ftl.unitValid[victim], validPerUnit);
      const targets = lbasIn(ftl, victim).slice(0, free);
      for (const lba of targets) ftl.write(lba);
      assert.equal(ftl.lastVictimUnit, victim);
    }
    return (programs(ftl) - before) / (ftl.counters.hostPageWrites - hostBefore);
  }

  test('OP arithmetic: 36 of 216 pages as OP (20%) → worst-case WAF 9 / 1.5 = 6', () => {
    const ftl = seedFtl(0.2);
    for (let lba = 0; lba < 180; lba++) ftl.write(lba);
    const units = Array.from({ length: 5 }, (_, k) => unitOf(ftl, 36 * k));
    // 6 updates from each full superblock, then 6 of those updated again: 30 valid everywhere.
    for (const u of units) for (const lba of lbasIn(ftl, u).slice(0, 6)) ftl.write(lba);
    for (let lba = 0; lba < 6; lba++) ftl.write(lba);
    const waf = evenGarbageWaf(ftl, 30, 12);
    assert.equal(waf, 6);
    ftl.checkConsistency();
  });

  test('OP arithmetic: 72 of 216 pages as OP → worst-case WAF 9 / 3 = 3', () => {
    const ftl = seedFtl(0.5);
    assert.equal(ftl.userPages, 144);
    for (let lba = 0; lba < 144; lba++) ftl.write(lba);
    const units = Array.from({ length: 4 }, (_, k) => unitOf(ftl, 36 * k));
    const firstUpdates: number[] = [];
    for (const u of units) firstUpdates.push(...lbasIn(ftl, u).slice(0, 12));
    for (const lba of firstUpdates) ftl.write(lba); // 36 into one OP superblock, 12 into the other
    const fifth = unitOf(ftl, firstUpdates[0]!);
    const sixth = unitOf(ftl, firstUpdates[47]!);
    assert.notEqual(fifth, sixth);
    for (const lba of [...lbasIn(ftl, fifth).slice(0, 12), ...lbasIn(ftl, sixth)]) ftl.write(lba);
    const waf = evenGarbageWaf(ftl, 24, 12);
    assert.equal(waf, 3);
    ftl.checkConsistency();
  });
});
