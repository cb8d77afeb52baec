import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ImageFileStore, SIDECAR_FORMAT, createNandDevice, hammingEcc, openImageDevice, sidecarPath } from '../src/index.ts';
import type { NandSidecar } from '../src/index.ts';
import { LARGE_PAGE, SMALL, allBytes, seededBytes, tempDirectory, throwsNand } from './helpers.ts';

const RECORD = 512 + 16;
const { dir, cleanup } = tempDirectory();
let counter = 0;
const fresh = (): string => path.join(dir, `image-${counter++}.img`);

describe('ImageFileStore: raw NAND image + sidecar', () => {
  after(cleanup);

  test('layout: each page is pageSize data bytes then spareSize spare bytes; the file grows with what is written', () => {
    const file = fresh();
    const nand = openImageDevice(file, { geometry: SMALL, create: true });
    assert.equal(fs.statSync(file).size, 0);
    nand.programPage(1, seededBytes(1, 512), seededBytes(2, 16));
    nand.programPage(10, seededBytes(3, 512), new Uint8Array([0xa5]));
    nand.eraseBlock(5); // untouched block past the end: nothing written
    nand.close();
    const bytes = fs.readFileSync(file);
    assert.equal(bytes.length, 11 * RECORD);
    assert.deepEqual(bytes.subarray(RECORD, RECORD + 512), Buffer.from(seededBytes(1, 512)));
    assert.deepEqual(bytes.subarray(RECORD + 512, 2 * RECORD), Buffer.from(seededBytes(2, 16)));
    assert.ok(allBytes(bytes.subarray(0, RECORD), 0xff), 'page 0 erased');
    assert.ok(allBytes(bytes.subarray(2 * RECORD, 10 * RECORD), 0xff), 'the gap is 0xFF, not zeros');
    assert.equal(bytes[10 * RECORD + 512], 0xa5);
    assert.ok(allBytes(bytes.subarray(10 * RECORD + 513), 0xff));
  });

  test('erase writes 0xFF over the block in the file', () => {
    const file = fresh();
    const nand = openImageDevice(file, { geometry: SMALL, create: true });
    for (let p = 8; p < 12; p++) nand.programPage(p, seededBytes(p, 512), new Uint8Array(0));
    nand.eraseBlock(1);
    nand.close();
    const bytes = fs.readFileSync(file);
    assert.equal(bytes.length, 12 * RECORD);
    assert.ok(allBytes(bytes, 0xff));
  });

  test('sidecar: erase counts and the bad-block table, written on sync and close', () => {
    const file = fresh();
    const nand = openImageDevice(file, { geometry: SMALL, create: true });
    nand.eraseBlock(3);
    nand.eraseBlock(3);
    nand.markBad(7);
    nand.sync();
    const sidecar = JSON.parse(fs.readFileSync(sidecarPath(file), 'utf8')) as NandSidecar;
    assert.equal(sidecar.format, SIDECAR_FORMAT);
    assert.equal(sidecar.version, 1);
    assert.deepEqual(sidecar.geometry, { ...SMALL });
    assert.equal(sidecar.eraseCounts.length, 16);
    assert.equal(sidecar.eraseCounts[3], 2);
    assert.deepEqual(sidecar.badBlocks, [7]);
    nand.eraseBlock(3);
    nand.close();
    const again = openImageDevice(file, { geometry: SMALL });
    assert.equal(again.eraseCount(3), 3);
    assert.equal(again.isBad(7), true);
    again.close();
  });

  test('without a sidecar: erase counts 0 and bad blocks found from the markers (unless the marker position is off)', () => {
    const file = fresh();
    const nand = openImageDevice(file, { geometry: LARGE_PAGE, create: true, faults: { factoryBadBlocks: [4] } });
    nand.eraseBlock(1);
    nand.markBad(2);
    nand.programPage(0, seededBytes(5, 2048), new Uint8Array([0xff, 0x01])); // marker byte left 0xFF
    nand.close();
    fs.rmSync(sidecarPath(file));
    const again = openImageDevice(file, { geometry: LARGE_PAGE });
    assert.equal(again.eraseCount(1), 0);
    assert.deepEqual([0, 1, 2, 3, 4, 5].map((b) => again.isBad(b)), [false, false, true, false, true, false]);
    again.close();
    fs.rmSync(sidecarPath(file));
    const tableOnly = openImageDevice(file, { geometry: LARGE_PAGE, badBlockMarker: null });
    assert.equal(tableOnly.isBad(2), false);
    tableOnly.close();
  });

  test('power cut: writes before the cut are in the file; metadata since the last sync is lost; reopen and reboot agree', () => {
    const file = fresh();
    const nand = openImageDevice(file, { geometry: SMALL, create: true });
    nand.eraseBlock(2);
    nand.sync();
    nand.eraseBlock(2);
    nand.programPage(16, seededBytes(6, 512), seededBytes(7, 16));
    nand.faults.cutPowerAfter(1);
    throwsNand(() => nand.programPage(17, seededBytes(8, 512), seededBytes(9, 16)), 'POWER_LOSS');
    nand.reboot();
    assert.equal(nand.eraseCount(2), 1, 'the erase after the sync was not persisted');
    const data = new Uint8Array(512);
    nand.readPage(16, data);
    assert.deepEqual(data, seededBytes(6, 512));
    const rebooted = new Uint8Array(512);
    assert.equal(nand.readPage(17, rebooted).erased, false);
    assert.notDeepEqual(rebooted, seededBytes(8, 512));
    nand.faults.cutPowerAfter(1);
    throwsNand(() => nand.eraseBlock(2), 'POWER_LOSS');
    nand.close(); // power is off: nothing more is written
    const reopened = openImageDevice(file, { geometry: SMALL });
    const page16 = new Uint8Array(512);
    const page17 = new Uint8Array(512);
    const r16 = reopened.readPage(16, page16);
    const r17 = reopened.readPage(17, page17);
    assert.ok(!(r16.erased && r17.erased) && !(page16.every((v, i) => v === seededBytes(6, 512)[i]) && page17.every((v, i) => v === rebooted[i])),
      'the cut erase left block 2 neither erased nor intact');
    reopened.eraseBlock(2);
    reopened.close();
  });

  test('a bit flipped in the image file is corrected by on-device ECC on the next open; two in a sector are not', () => {
    const file = fresh();
    const ecc = { code: hammingEcc, spareOffset: 8 }; // 2 sectors × 3 bytes at spare 8…13
    const nand = openImageDevice(file, { geometry: SMALL, create: true, ecc });
    const data = seededBytes(12, 512);
    nand.programPage(0, data, new Uint8Array(0));
    nand.programPage(1, data, new Uint8Array(0));
    nand.close();
    const bytes = fs.readFileSync(file);
    const parity = new Uint8Array(3);
    hammingEcc.encode(data, 256, parity, 0);
    assert.deepEqual(bytes.subarray(512 + 11, 512 + 14), Buffer.from(parity), 'sector 1 parity at spare 11…13');
    bytes[300] ^= 0x04; // page 0, sector 1
    bytes[RECORD + 5] ^= 0x01; // page 1, sector 0: two bits
    bytes[RECORD + 77] ^= 0x80;
    fs.writeFileSync(file, bytes);
    const again = openImageDevice(file, { geometry: SMALL, ecc });
    const out = new Uint8Array(512);
    const first = again.readPage(0, out);
    assert.equal(first.ecc, 'corrected');
    assert.equal(first.correctedBits, 1);
    assert.deepEqual(out, data);
    const second = again.readPage(1, out);
    assert.equal(second.ecc, 'uncorrectable');
    assert.equal(second.uncorrectableSectors, 1);
    assert.deepEqual([again.stats.eccCorrectedBits, again.stats.eccUncorrectableReads], [1, 1]);
    again.close();
  });

  test('readOnly never writes the image or the sidecar; programs and erases throw IMAGE_IO', () => {
    const file = fresh();
    const writer = openImageDevice(file, { geometry: SMALL, create: true });
    writer.programPage(0, seededBytes(10, 512), new Uint8Array(0));
    writer.close();
    const imageBefore = fs.readFileSync(file);
    const sidecarBefore = fs.readFileSync(sidecarPath(file));
    const reader = openImageDevice(file, { geometry: SMALL, readOnly: true });
    const data = new Uint8Array(512);
    reader.readPage(0, data);
    assert.deepEqual(data, seededBytes(10, 512));
    throwsNand(() => reader.programPage(1, null, new Uint8Array(0)), 'IMAGE_IO');
    throwsNand(() => reader.eraseBlock(0), 'IMAGE_IO');
    reader.markBad(3); // in-memory table only
    assert.equal(reader.isBad(3), true);
    reader.sync();
    reader.close();
    assert.deepEqual(fs.readFileSync(file), imageBefore);
    assert.deepEqual(fs.readFileSync(sidecarPath(file)), sidecarBefore);
  });

  test('a length that is not whole page records, or longer than the geometry, is IMAGE_CORRUPT naming the path', () => {
    const file = fresh();
    fs.writeFileSync(file, new Uint8Array(RECORD * 3 + 7).fill(0xff));
    assert.throws(() => ImageFileStore.open(file, SMALL), (e: Error & { code?: string }) => e.code === 'IMAGE_CORRUPT' && e.message.includes(file) && e.message.includes('528'));
    fs.writeFileSync(file, new Uint8Array(RECORD * (128 + 1)).fill(0xff));
    throwsNand(() => openImageDevice(file, { geometry: SMALL }), 'IMAGE_CORRUPT');
    fs.writeFileSync(file, new Uint8Array(RECORD * 128).fill(0xff)); // exactly full is fine
    openImageDevice(file, { geometry: SMALL }).close();
  });

  test('a damaged or mismatched sidecar is IMAGE_CORRUPT naming the sidecar', () => {
    const file = fresh();
    openImageDevice(file, { geometry: SMALL, create: true }).close();
    fs.writeFileSync(sidecarPath(file), '{ not json');
    assert.throws(() => openImageDevice(file, { geometry: SMALL }), (e: Error & { code?: string }) => e.code === 'IMAGE_CORRUPT' && e.message.includes(sidecarPath(file)));
    openImageDevice(fresh(), { geometry: SMALL, create: true }).close();
    fs.rmSync(sidecarPath(file));
    const other = openImageDevice(file, { geometry: SMALL });
    other.close(); // writes a fresh sidecar for SMALL
    throwsNand(() => openImageDevice(file, { geometry: { ...SMALL, blocksPerDie: 16 } }), 'IMAGE_CORRUPT');
  });

  test('a missing image is IMAGE_IO; create makes it; create never truncates an existing image', () => {
    const file = fresh();
    throwsNand(() => openImageDevice(file, { geometry: SMALL }), 'IMAGE_IO');
    const first = openImageDevice(file, { geometry: SMALL, create: true });
    first.programPage(0, seededBytes(11, 512), new Uint8Array(0));
    first.close();
    const second = openImageDevice(file, { geometry: SMALL, create: true });
    const data = new Uint8Array(512);
    second.readPage(0, data);
    assert.deepEqual(data, seededBytes(11, 512));
    second.close();
    // ImageFileStore.create does start over
    const store = ImageFileStore.create(file, SMALL);
    assert.equal(fs.statSync(file).size, 0);
    const nand = createNandDevice({ geometry: SMALL, store });
    assert.equal(nand.readPage(0).erased, true);
    nand.close();
  });
});
