// A 4 TiB device: 2^28 pages of 16 KiB (a metadata-only RAM store holds up to 2^29: its compact
// spare heads, 8 bytes a page, lie in one typed array, at most 2^32 bytes in Node 20). The address arithmetic past
// 2^32 bytes, programs, copybacks, reads and erases at the far end of the device, and a clear
// INVALID_GEOMETRY one step beyond. The store's tables are allocated for the whole device but
// zero-filled by the operating system on first touch, so the test stays at a few hundred MiB
// resident (about 0.35 GiB measured).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RamStore, blockOfPage, capacityBytes, channelOfDie, createNandDevice, dieOfBlock, isNandError, recordSize, totalBlocks, totalPages, validateGeometry,
} from '../src/index.ts';
import type { NandGeometry } from '../src/index.ts';

const TIB4: NandGeometry = { pageSize: 16384, spareSize: 1952, pagesPerBlock: 256, blocksPerDie: 16384, diesPerChannel: 8, channels: 8 };

test('4 TiB geometry: page and byte addresses past 2^32', () => {
  validateGeometry(TIB4);
  assert.equal(totalPages(TIB4), 2 ** 28);
  assert.equal(capacityBytes(TIB4), 2 ** 42);
  const last = totalPages(TIB4) - 1;
  assert.equal(blockOfPage(TIB4, last), 2 ** 20 - 1);
  assert.equal(dieOfBlock(TIB4, 2 ** 20 - 1), 63);
  assert.equal(channelOfDie(TIB4, 63), 7);
  // The last record of a raw dump starts 4.9 TB in: exact in a double, not wrapped at 2^32.
  assert.equal(last * recordSize(TIB4), 268435455 * 18336);
  assert.ok(last * recordSize(TIB4) > 2 ** 42);
});

test('4 TiB metadata-only device: programs, copyback, reads and erases at the far end', () => {
  const nand = createNandDevice({ geometry: TIB4, metadataOnly: true });
  const lastBlock = totalBlocks(TIB4) - 1;
  const first = lastBlock * TIB4.pagesPerBlock;
  assert.ok(first > 2 ** 27, 'page numbers past 2^27: four words a page reach past 2^29');
  nand.programSpareWords!(first, 0x11111111, 0x22222222, 0x33333333, 0x44444444);
  nand.programSpareWords!(first + 1, 5, 6, 7, 8);
  const spare = new Uint8Array(TIB4.spareSize);
  const words = (): number[] => [...new Uint32Array(spare.buffer, 0, 4)];
  assert.equal(nand.readPage(first, undefined, spare).erased, false);
  assert.deepEqual(words(), [0x11111111, 0x22222222, 0x33333333, 0x44444444]);
  assert.equal(spare[16], 0xff, 'the rest of the spare reads erased');
  nand.readPage(first + 1, undefined, spare);
  assert.deepEqual(words(), [5, 6, 7, 8]);

  // A copyback from the last block into a block of die 32 (channel 4).
  const target = 32 * TIB4.blocksPerDie * TIB4.pagesPerBlock;
  nand.copyback!(first + 1, target, 9, 10, 11, 12);
  nand.readPage(target, undefined, spare);
  assert.deepEqual(words(), [9, 10, 11, 12]);

  // The device's rules hold out there too.
  assert.throws(() => nand.programSpareWords!(first + 1, 0, 0, 0, 0), (e) => isNandError(e, 'PROGRAM_TWICE'));
  assert.throws(() => nand.readPage(totalPages(TIB4)), (e) => isNandError(e, 'OUT_OF_RANGE'));

  nand.eraseBlock(lastBlock);
  assert.equal(nand.eraseCount(lastBlock), 1);
  assert.equal(nand.readPage(first, undefined, spare).erased, true);
  assert.deepEqual(words(), [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
  nand.markBad(lastBlock);
  assert.equal(nand.isBad(lastBlock), true);
  assert.throws(() => nand.programSpareWords!(first, 1, 2, 3, 4), (e) => isNandError(e, 'BAD_BLOCK'));

  const stats = nand.stats;
  assert.equal(stats.pagePrograms, 3);
  assert.equal(stats.blockErases, 1);
  assert.ok(nand.timing.elapsed > 0);
});

test('one step beyond: a metadata-only store of more than 2^29 pages is a clear INVALID_GEOMETRY', () => {
  // 4 TiB of 4 KiB pages: 2^30 pages, 8 GiB of compact spare heads.
  const small = { ...TIB4, pageSize: 4096, spareSize: 224, blocksPerDie: 65536 };
  validateGeometry(small); // the geometry itself is fine (2^30 < 2^31 pages)
  const beyond = (e: unknown): boolean => isNandError(e, 'INVALID_GEOMETRY') && /at most 536870912 pages/.test((e as Error).message);
  assert.throws(() => createNandDevice({ geometry: small, metadataOnly: true }), beyond);
  assert.throws(() => new RamStore(small, { metadataOnly: true }), beyond);
});
