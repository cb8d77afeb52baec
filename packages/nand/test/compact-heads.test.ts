// The compact spare heads of a metadata-only RAM store (src/spare-head.ts, store.ts): whatever a
// head is stored as — compact (8 bytes) or whole in the overflow — it reads back as the bytes
// programmed, through the TypeScript device and through its WebAssembly kernel alike, and a torn
// page (a power cut) is never taken for a compact head. The contract the SSD FTL's derived P2L
// and the FTL kernel rely on (issue 17: 4 TiB in the 4 GiB kernel memory).
// Upstream counterpart: none (a real chip stores whole spares).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { DEFAULT_COMPACT_WORD0, headCrc } from '../src/spare-head.ts';
import { RamStore, createNandDevice, isNandError } from '../src/index.ts';
import type { NandGeometry, SimulatedNand } from '../src/index.ts';
import { splitmix32 } from '../src/random.ts';

const G: NandGeometry = { pageSize: 2048, spareSize: 64, pagesPerBlock: 16, blocksPerDie: 8, diesPerChannel: 2, channels: 2 };
const PAGES = 16 * 8 * 4;

function bytesOf(words: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 * words.length);
  const view = new DataView(out.buffer);
  words.forEach((w, i) => view.setUint32(4 * i, w >>> 0, true));
  return out;
}

/** Seeded heads, half of them compact (the common word 0 and the right CRC), the rest not in one way or another. */
function headsFor(seed: number): number[][] {
  const next = splitmix32(seed);
  const heads: number[][] = [];
  for (let p = 0; p < PAGES; p++) {
    const w1 = next() >>> 0;
    const w2 = next() >>> 0;
    const kind = p % 6;
    const w0 = kind === 3 ? (DEFAULT_COMPACT_WORD0 | (2 << 8)) >>> 0 : DEFAULT_COMPACT_WORD0; // 3: a TRIM-like word 0
    const crc = headCrc(w0, w1, w2);
    heads.push([w0, w1, w2, kind === 4 ? (crc ^ (1 << (p % 32))) >>> 0 : crc]); // 4: a wrong CRC
  }
  return heads;
}

describe('compact spare heads', () => {
  test('headCrc is CRC-32 (zlib) of the 12 bytes', () => {
    const next = splitmix32(3);
    for (let i = 0; i < 200; i++) {
      const w = [next(), next(), next()];
      assert.equal(headCrc(w[0]!, w[1]!, w[2]!), zlib.crc32(bytesOf(w)));
    }
  });

  for (const wasmKernel of [true, false]) {
    test(`every head reads back as programmed (${wasmKernel ? 'kernel' : 'TypeScript'} device), compact ones in 8 bytes`, () => {
      const nand = createNandDevice({ geometry: G, metadataOnly: true, wasmKernel }) as SimulatedNand;
      assert.equal(nand.metadataKernel !== null && nand.metadataKernel !== undefined, wasmKernel);
      const before = nand.store.allocatedBytes;
      assert.equal(before, 8 * PAGES, 'the pairs: 8 bytes a page up front');
      const heads = headsFor(wasmKernel ? 1 : 2);
      const blocksWithWhole = new Set<number>();
      for (let p = 0; p < PAGES; p++) {
        const [w0, w1, w2, w3] = heads[p]!;
        if (p % 6 === 5) nand.programPage(p, null, bytesOf(heads[p]!)); // the general path's 16-byte spare
        else nand.programSpareWords!(p, w0!, w1!, w2!, w3!);
        const compact = p % 6 !== 3 && p % 6 !== 4;
        assert.equal(nand.compactHeadWord1!(p), compact ? w1 : -1, `page ${p}`);
        if (!compact) blocksWithWhole.add(Math.floor(p / G.pagesPerBlock));
      }
      assert.equal(nand.store.allocatedBytes, before + 16 * G.pagesPerBlock * blocksWithWhole.size, 'only blocks holding heads that are not compact take 16 bytes a page more');
      const spare = new Uint8Array(G.spareSize);
      const peeked = new Uint8Array(G.spareSize);
      for (let p = 0; p < PAGES; p++) {
        nand.readPage(p, undefined, spare);
        assert.deepEqual(spare.subarray(0, 16), bytesOf(heads[p]!), `page ${p}`);
        assert.ok(spare.subarray(16).every((b) => b === 0xff), `page ${p}: the rest reads erased`);
        nand.peekSpare!(p, peeked);
        assert.deepEqual(peeked, spare, `page ${p}: peekSpare`);
      }
      // A copyback run mixes both kinds too.
      nand.eraseBlock(1);
      const words = new Uint32Array(heads.slice(0, 6).flat());
      assert.equal(nand.copybackRun!(Int32Array.from([0, 1, 2, 3, 4, 5]), 0, 6, 16, words), true);
      for (let k = 0; k < 6; k++) {
        nand.readPage(16 + k, undefined, spare);
        assert.deepEqual(spare.subarray(0, 16), bytesOf(heads[k]!), `copyback target ${16 + k}`);
      }
      nand.eraseBlock(0);
      assert.equal(nand.compactHeadWord1!(0), -1, 'an erased page holds no compact head');
      nand.readPage(0, undefined, spare);
      assert.ok(spare.every((b) => b === 0xff));
    });
  }

  test('a torn page (power cut during its program) reads damaged and is no compact head', () => {
    const nand = createNandDevice({ geometry: G, metadataOnly: true, faults: { powerCutAfter: 3 } }) as SimulatedNand;
    const heads = headsFor(9);
    for (let p = 0; p < 2; p++) nand.programSpareWords!(p, heads[p]![0]!, heads[p]![1]!, heads[p]![2]!, heads[p]![3]!);
    assert.throws(() => nand.programSpareWords!(2, heads[2]![0]!, heads[2]![1]!, heads[2]![2]!, heads[2]![3]!), (e) => isNandError(e, 'POWER_LOSS'));
    nand.reboot();
    assert.equal(nand.compactHeadWord1!(2), -1);
    const spare = new Uint8Array(G.spareSize);
    nand.readPage(2, undefined, spare);
    assert.notDeepEqual(spare.subarray(0, 16), bytesOf(heads[2]!), 'the torn head differs from the one meant');
    nand.readPage(1, undefined, spare);
    assert.deepEqual(spare.subarray(0, 16), bytesOf(heads[1]!), 'the page before it is intact');
  });

  test('a store with another common word 0 compacts those heads, and spares of 253 bytes stay distinct from compact ones', () => {
    const wide: NandGeometry = { ...G, spareSize: 512 };
    const store = new RamStore(wide, { metadataOnly: true, compactWord0: 0x12345678 });
    const w = [0x12345678, 7, 9, headCrc(0x12345678, 7, 9)];
    store.writePage(0, null, bytesOf(w));
    assert.equal(store.pageStates[0], 254, 'compact');
    const long = new Uint8Array(253).fill(0x5a);
    store.writePage(1, null, long);
    const out = new Uint8Array(512);
    store.readSpare(1, out);
    assert.deepEqual(out.subarray(0, 253), long);
    assert.ok(out.subarray(253).every((b) => b === 0xff));
    store.readSpare(0, out);
    assert.deepEqual(out.subarray(0, 16), bytesOf(w));
  });
});
