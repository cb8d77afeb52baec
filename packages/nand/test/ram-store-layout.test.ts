// The RamStore keeps a state byte per page (erased / how many spare bytes were programmed) and, in
// metadata-only mode, the first 16 spare bytes of a block's pages together. These tests pin the
// observable behaviour that layout must keep: short spares read back padded with 0xFF, an erase
// hides every stale byte, long spares survive whole, and a reused (word-copied) spare buffer is
// copied by value.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RamStore, createNandDevice } from '../src/index.ts';
import type { NandGeometry } from '../src/index.ts';
import { allBytes, seededBytes, throwsNand } from './helpers.ts';

const WIDE: NandGeometry = { pageSize: 512, spareSize: 128, pagesPerBlock: 8, blocksPerDie: 4, diesPerChannel: 1, channels: 1 };
// A spare longer than the state byte can count (≥ 254 bytes): stored padded, as a raw slot.
const HUGE_SPARE: NandGeometry = { pageSize: 512, spareSize: 300, pagesPerBlock: 4, blocksPerDie: 2, diesPerChannel: 1, channels: 1 };

for (const metadataOnly of [true, false]) {
  describe(`RamStore layout (${metadataOnly ? 'metadata-only' : 'full'})`, () => {
    test('short, head-sized and head+tail spares read back exactly, padded with 0xFF', () => {
      const nand = createNandDevice({ geometry: WIDE, metadataOnly });
      const lengths = [0, 1, 15, 16, 17, 100, 128];
      lengths.forEach((n, page) => nand.programPage(page, null, seededBytes(10 + page, n)));
      const spare = new Uint8Array(128);
      lengths.forEach((n, page) => {
        nand.readPage(page, undefined, spare);
        assert.deepEqual(spare.subarray(0, n), seededBytes(10 + page, n), `page ${page}: the ${n} programmed bytes`);
        assert.ok(allBytes(spare.subarray(n), 0xff), `page ${page}: bytes after ${n} read 0xFF`);
      });
      // A read buffer shorter than what was programmed gets a prefix; a longer one is capped.
      const prefix = new Uint8Array(20);
      nand.readPage(5, undefined, prefix);
      assert.deepEqual(prefix, seededBytes(15, 100).subarray(0, 20));
      const longer = new Uint8Array(200).fill(7);
      nand.readPage(4, undefined, longer);
      assert.deepEqual(longer.subarray(0, 17), seededBytes(14, 17));
      assert.ok(allBytes(longer.subarray(17, 128), 0xff));
      assert.ok(allBytes(longer.subarray(128), 7), 'bytes past spareSize are left alone');
    });

    test('after an erase no stale byte shows: erased pages and shorter re-programs read 0xFF', () => {
      const nand = createNandDevice({ geometry: WIDE, metadataOnly });
      for (let page = 0; page < 8; page++) nand.programPage(page, null, seededBytes(page, 128));
      nand.eraseBlock(0);
      const spare = new Uint8Array(128);
      for (let page = 0; page < 8; page++) {
        const r = nand.readPage(page, undefined, spare);
        assert.equal(r.erased, true);
        assert.ok(allBytes(spare, 0xff), `page ${page} reads erased`);
      }
      nand.programPage(2, null, new Uint8Array([1, 2, 3]));
      nand.readPage(2, undefined, spare);
      assert.deepEqual(Array.from(spare.subarray(0, 4)), [1, 2, 3, 0xff]);
      assert.ok(allBytes(spare.subarray(3), 0xff), 'the old 128-byte spare does not show through');
      assert.equal(nand.store.isProgrammed(2), true);
      assert.equal(nand.store.isProgrammed(1), false);
    });

    test('spares longer than 253 bytes are kept whole and padded; erase still hides them', () => {
      const nand = createNandDevice({ geometry: HUGE_SPARE, metadataOnly });
      nand.programPage(0, null, seededBytes(1, 300));
      nand.programPage(1, null, seededBytes(2, 260));
      nand.programPage(2, null, seededBytes(3, 253));
      const spare = new Uint8Array(300);
      nand.readPage(0, undefined, spare);
      assert.deepEqual(spare, seededBytes(1, 300));
      nand.readPage(1, undefined, spare);
      assert.deepEqual(spare.subarray(0, 260), seededBytes(2, 260));
      assert.ok(allBytes(spare.subarray(260), 0xff));
      nand.readPage(2, undefined, spare);
      assert.deepEqual(spare.subarray(0, 253), seededBytes(3, 253));
      assert.ok(allBytes(spare.subarray(253), 0xff));
      nand.eraseBlock(0);
      nand.programPage(0, null, seededBytes(4, 5));
      nand.readPage(0, undefined, spare);
      assert.deepEqual(spare.subarray(0, 5), seededBytes(4, 5));
      assert.ok(allBytes(spare.subarray(5), 0xff));
    });

    test('one spare buffer reused for many programs: each page keeps the bytes it was given', () => {
      const nand = createNandDevice({ geometry: WIDE, metadataOnly });
      const reused = new Uint8Array(16);
      const backing = new Uint8Array(33);
      const unaligned = backing.subarray(1, 17); // not 4-byte aligned: copied byte by byte
      for (let page = 0; page < 8; page++) {
        const source = page % 3 === 2 ? unaligned : reused;
        source.set(seededBytes(100 + page, 16));
        nand.programPage(page, null, source);
      }
      reused.fill(0);
      unaligned.fill(0);
      const spare = new Uint8Array(16);
      for (let page = 0; page < 8; page++) {
        nand.readPage(page, undefined, spare);
        assert.deepEqual(spare, seededBytes(100 + page, 16), `page ${page}`);
      }
    });
  });
}

describe('RamStore used directly', () => {
  test('writePage/readSpare/eraseBlock without a device follow the same rules', () => {
    const store = new RamStore(WIDE, { metadataOnly: true });
    const out = new Uint8Array(128);
    store.readSpare(3, out);
    assert.ok(allBytes(out, 0xff));
    store.writePage(3, null, seededBytes(5, 40));
    store.readSpare(3, out);
    assert.deepEqual(out.subarray(0, 40), seededBytes(5, 40));
    assert.ok(allBytes(out.subarray(40), 0xff));
    const data = new Uint8Array(512);
    store.readData(3, data);
    assert.ok(allBytes(data, 0xff), 'metadata-only data reads 0xFF');
    store.eraseBlock(0);
    assert.equal(store.isProgrammed(3), false);
    store.readSpare(3, out);
    assert.ok(allBytes(out, 0xff));
    // The compact heads' 8 bytes of every page, block 0's overflow heads (16 bytes a page: page 3's
    // is no compact head), and the rest of block 0's spares (byte 40 went past the head).
    const pages = WIDE.pagesPerBlock * WIDE.blocksPerDie * WIDE.diesPerChannel * WIDE.channels;
    assert.equal(store.allocatedBytes, pages * 8 + WIDE.pagesPerBlock * 16 + WIDE.pagesPerBlock * (WIDE.spareSize - 16));
  });

  test('full mode: an erased page reads 0xFF data even though its buffer keeps the old bytes', () => {
    const nand = createNandDevice({ geometry: WIDE });
    nand.programPage(0, seededBytes(9, 512), seededBytes(8, 16));
    nand.eraseBlock(0);
    const data = new Uint8Array(512);
    nand.readPage(0, data);
    assert.ok(allBytes(data, 0xff));
    nand.programPage(0, null, new Uint8Array(0));
    nand.readPage(0, data);
    assert.ok(allBytes(data, 0xff), 'null data leaves the data area erased');
    throwsNand(() => nand.programPage(0, null, new Uint8Array(0)), 'PROGRAM_TWICE');
  });
});
