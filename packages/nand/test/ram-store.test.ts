import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RamStore, createNandDevice, hammingEcc } from '../src/index.ts';
import type { NandGeometry } from '../src/index.ts';
import { SMALL, allBytes, seededBytes, throwsNand } from './helpers.ts';

describe('RamStore: sparse allocation', () => {
  // 8192 blocks × 64 pages × 2048 bytes = 1 GiB of data (plus 32 MiB of spare).
  const gibibyte: NandGeometry = { pageSize: 2048, spareSize: 64, pagesPerBlock: 64, blocksPerDie: 8192, diesPerChannel: 1, channels: 1 };

  test('a 1 GiB geometry allocates no page buffers up front; memory grows per written block', () => {
    const before = process.memoryUsage().arrayBuffers;
    const nand = createNandDevice({ geometry: gibibyte });
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.equal(nand.store.allocatedBytes, 0);
    assert.ok(grown < 16 * 2 ** 20, `device bookkeeping took ${grown} bytes`);
    nand.programPage(8191 * 64 + 3, seededBytes(1, 2048), new Uint8Array([1]));
    assert.equal(nand.store.allocatedBytes, 64 * (2048 + 64));
    nand.programPage(5, null, new Uint8Array([2]));
    assert.equal(nand.store.allocatedBytes, 2 * 64 * (2048 + 64));
    const data = new Uint8Array(2048);
    nand.readPage(8191 * 64 + 3, data);
    assert.deepEqual(data, seededBytes(1, 2048));
    // reading or erasing untouched blocks allocates nothing
    nand.readPage(1000 * 64);
    nand.eraseBlock(1000);
    assert.equal(nand.store.allocatedBytes, 2 * 64 * (2048 + 64));
  });

  test('metadata-only on 1 GiB: 8 compact head bytes a page up front, other heads whole and the rest of a spare per block', () => {
    const nand = createNandDevice({ geometry: gibibyte, metadataOnly: true });
    const heads = 8192 * 64 * 8;
    assert.equal(nand.store.allocatedBytes, heads);
    nand.programPage(0, null, new Uint8Array([1]));
    assert.equal(nand.store.allocatedBytes, heads + 16 * 64, "a head that is not compact is kept whole: block 0's overflow, 16 bytes a page");
    nand.programPage(64, null, seededBytes(3, 64));
    assert.equal(nand.store.allocatedBytes, heads + 2 * 16 * 64 + 64 * (64 - 16), "block 1's overflow, and the rest of block 1's spares");
    const spare = new Uint8Array(64);
    nand.readPage(64, undefined, spare);
    assert.deepEqual(spare, seededBytes(3, 64));
    nand.readPage(0, undefined, spare);
    assert.equal(spare[0], 1);
    assert.ok(allBytes(spare.subarray(1), 0xff));
  });
});

describe('metadata-only mode', () => {
  test('pages keep their spare bytes; data reads back 0xFF', () => {
    const nand = createNandDevice({ geometry: SMALL, metadataOnly: true });
    assert.equal(nand.metadataOnly, true);
    nand.programPage(0, seededBytes(1, 512), seededBytes(2, 16));
    nand.programPage(1, null, new Uint8Array([9, 8]));
    const data = new Uint8Array(512);
    const spare = new Uint8Array(16);
    const result = nand.readPage(0, data, spare);
    assert.ok(allBytes(data, 0xff));
    assert.deepEqual(spare, seededBytes(2, 16));
    assert.equal(result.erased, false);
    nand.readPage(1, data, spare);
    assert.deepEqual(Array.from(spare.subarray(0, 3)), [9, 8, 0xff]);
    assert.equal(nand.readPage(2, data, spare).erased, true);
  });

  test('the NAND rules hold exactly as in full mode', () => {
    const nand = createNandDevice({ geometry: SMALL, metadataOnly: true });
    nand.programPage(3, null, new Uint8Array(0));
    throwsNand(() => nand.programPage(3, null, new Uint8Array(0)), 'PROGRAM_TWICE');
    throwsNand(() => nand.programPage(2, null, new Uint8Array(0)), 'PROGRAM_OUT_OF_ORDER');
    throwsNand(() => nand.programPage(4, new Uint8Array(100), new Uint8Array(0)), 'BUFFER_SIZE');
    nand.markBad(5);
    throwsNand(() => nand.programPage(40, null, new Uint8Array(0)), 'BAD_BLOCK');
    nand.eraseBlock(0);
    nand.programPage(0, null, new Uint8Array(0));
  });

  test('reads report ECC "unchecked" even with an ECC configured; bit errors hit the spare copy', () => {
    const nand = createNandDevice({
      geometry: SMALL, metadataOnly: true, ecc: { code: hammingEcc, spareOffset: 8 },
      faults: { seed: 1, bitErrorRate: { base: 0.05, perCycle: 0 } },
    });
    nand.programPage(0, null, new Uint8Array(16).fill(0x0f));
    const spare = new Uint8Array(16);
    const data = new Uint8Array(512);
    let flipped = 0;
    for (let i = 0; i < 20; i++) {
      assert.equal(nand.readPage(0, data, spare).ecc, 'unchecked');
      assert.ok(allBytes(data, 0xff));
      if (!allBytes(spare, 0x0f)) flipped++;
    }
    assert.ok(flipped > 10);
    const clean = createNandDevice({ geometry: SMALL, store: nand.store });
    clean.readPage(0, data, spare);
    assert.ok(allBytes(spare, 0x0f), 'stored spare untouched');
  });

  test('a power cut during a metadata-only program damages the spare', () => {
    const nand = createNandDevice({ geometry: SMALL, metadataOnly: true, faults: { seed: 2, powerCutAfter: 1 } });
    const spare = new Uint8Array(16); // all zero bits intended
    throwsNand(() => nand.programPage(0, null, spare), 'POWER_LOSS');
    nand.reboot();
    const read = new Uint8Array(16);
    nand.readPage(0, undefined, read);
    assert.ok(!allBytes(read, 0), 'some bits were not programmed');
  });

  test('a store and the device must agree on metadataOnly', () => {
    throwsNand(() => createNandDevice({ geometry: SMALL, store: new RamStore(SMALL), metadataOnly: true }), 'INVALID_GEOMETRY');
  });
});
