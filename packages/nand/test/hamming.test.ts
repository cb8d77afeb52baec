import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eccSectors, hammingEcc } from '../src/index.ts';
import { seededBytes, seededRandom } from './helpers.ts';

/**
 * An independent, bit-by-bit statement of the SmartMedia parity: for every data bit (byte i, bit j)
 * that is 1, toggle P1/P1' by bit 0 of j, P2/P2' by bit 1, P4/P4' by bit 2, and P8…P1024 (and primes)
 * by bits 0…7 of i; then lay the bits out as yaffs_ecc.c does and invert.
 */
function referenceParity(sector: Uint8Array): number[] {
  const p = new Array<number>(11).fill(0); // P1, P2, P4, P8 … P1024
  const prime = new Array<number>(11).fill(0);
  for (let i = 0; i < 256; i++) {
    for (let j = 0; j < 8; j++) {
      if (((sector[i] >> j) & 1) === 0) continue;
      const index = j | (i << 3); // the 11-bit bit address
      for (let k = 0; k < 11; k++) {
        if ((index >> k) & 1) p[k] ^= 1;
        else prime[k] ^= 1;
      }
    }
  }
  const pair = (k: number): number => (p[k] << 1) | prime[k];
  const byte0 = (pair(6) << 6) | (pair(5) << 4) | (pair(4) << 2) | pair(3); // P64 P64' P32 P32' P16 P16' P8 P8'
  const byte1 = (pair(10) << 6) | (pair(9) << 4) | (pair(8) << 2) | pair(7); // P1024 … P128'
  const byte2 = (pair(2) << 6) | (pair(1) << 4) | (pair(0) << 2); // P4 P4' P2 P2' P1 P1' 0 0
  return [~byte0 & 0xff, ~byte1 & 0xff, (~byte2 & 0xff) | 0x03];
}

function encode(sector: Uint8Array): Uint8Array {
  const parity = new Uint8Array(3);
  hammingEcc.encode(sector, 0, parity, 0);
  return parity;
}

describe('hammingEcc (SmartMedia / YAFFS Hamming, 256-byte sectors)', () => {
  test('shape: 256-byte sectors, 3 parity bytes; a 2048-byte page has 8 sectors', () => {
    assert.equal(hammingEcc.sectorSize, 256);
    assert.equal(hammingEcc.parityBytes, 3);
    assert.equal(eccSectors(hammingEcc, 2048), 8);
  });

  test('an all-0xFF sector has parity FF FF FF (stored inverted); all-zero too', () => {
    assert.deepEqual(Array.from(encode(new Uint8Array(256).fill(0xff))), [0xff, 0xff, 0xff]);
    assert.deepEqual(Array.from(encode(new Uint8Array(256))), [0xff, 0xff, 0xff]);
  });

  test('hand-derived vector: a single 0x01 at byte 0 gives AA AA AB', () => {
    const sector = new Uint8Array(256);
    sector[0] = 0x01;
    assert.deepEqual(Array.from(encode(sector)), [0xaa, 0xaa, 0xab]);
  });

  test('matches the bit-by-bit definition and layout on seeded sectors', () => {
    for (let seed = 1; seed <= 64; seed++) {
      const sector = seededBytes(seed, 256);
      assert.deepEqual(Array.from(encode(sector)), referenceParity(sector), `seed ${seed}`);
    }
  });

  test('every alignment gives the same parity: the word-wise path (4-byte aligned) and the byte-wise one', () => {
    for (let seed = 100; seed < 132; seed++) {
      const sector = seededBytes(seed, 256);
      const want = referenceParity(sector);
      // Start 0…7 bytes into an array that itself starts 0 or 4 bytes into its buffer.
      for (const viewOffset of [0, 4]) {
        for (let at = 0; at < 8; at++) {
          const bytes = new Uint8Array(new ArrayBuffer(viewOffset + 8 + 256 + 8), viewOffset);
          bytes.set(sector, at);
          const parity = new Uint8Array(3);
          hammingEcc.encode(bytes, at, parity, 0);
          assert.deepEqual(Array.from(parity), want, `seed ${seed}, view offset ${viewOffset}, sector at ${at}`);
          bytes[at + (seed % 256)] ^= 1 << (seed % 8);
          assert.equal(hammingEcc.correct(bytes, at, parity, 0), 1);
          assert.deepEqual(bytes.subarray(at, at + 256), sector);
        }
      }
    }
  });

  test('encode/correct honour offsets', () => {
    const buffer = seededBytes(5, 600);
    const parity = new Uint8Array(10).fill(0x5a);
    hammingEcc.encode(buffer, 300, parity, 4);
    assert.deepEqual(Array.from(parity.subarray(4, 7)), referenceParity(buffer.subarray(300, 556)));
    assert.equal(parity[3], 0x5a);
    assert.equal(parity[7], 0x5a);
    buffer[400] ^= 0x10;
    assert.equal(hammingEcc.correct(buffer, 300, parity, 4), 1);
    assert.deepEqual(buffer, seededBytes(5, 600));
  });

  test('clean sectors report 0 corrections', () => {
    const sector = seededBytes(6, 256);
    const parity = encode(sector);
    assert.equal(hammingEcc.correct(sector, 0, parity, 0), 0);
    assert.deepEqual(sector, seededBytes(6, 256));
  });

  test('every one of the 2048 single-bit errors is corrected (on three different sectors)', () => {
    for (const original of [seededBytes(7, 256), new Uint8Array(256).fill(0xff), new Uint8Array(256)]) {
      const parity = encode(original);
      for (let bit = 0; bit < 2048; bit++) {
        const sector = original.slice();
        sector[bit >> 3] ^= 1 << (bit & 7);
        assert.equal(hammingEcc.correct(sector, 0, parity, 0), 1, `bit ${bit}`);
        assert.deepEqual(sector, original, `bit ${bit} repaired`);
      }
    }
  });

  test('a single-bit error in any of the 24 parity bits counts 1 corrected and leaves data untouched', () => {
    const original = seededBytes(8, 256);
    const parity = encode(original);
    for (let bit = 0; bit < 24; bit++) {
      const damaged = parity.slice();
      damaged[bit >> 3] ^= 1 << (bit & 7);
      const sector = original.slice();
      assert.equal(hammingEcc.correct(sector, 0, damaged, 0), 1, `parity bit ${bit}`);
      assert.deepEqual(sector, original);
    }
  });

  test('every one of the 2 096 128 double-bit errors is detected (uncorrectable), data left alone', () => {
    const original = seededBytes(9, 256);
    const parity = encode(original);
    const sector = original.slice();
    let missed = 0;
    for (let a = 0; a < 2048; a++) {
      for (let b = a + 1; b < 2048; b++) {
        sector[a >> 3] ^= 1 << (a & 7);
        sector[b >> 3] ^= 1 << (b & 7);
        if (hammingEcc.correct(sector, 0, parity, 0) !== -1) missed++;
        sector[a >> 3] ^= 1 << (a & 7);
        sector[b >> 3] ^= 1 << (b & 7);
      }
    }
    assert.equal(missed, 0);
    assert.deepEqual(sector, original);
  });

  test('a data-bit error plus a parity-bit error is not silently "corrected" into wrong data', () => {
    const original = seededBytes(11, 256);
    const parity = encode(original);
    const random = seededRandom(12);
    for (let n = 0; n < 2000; n++) {
      const dataBit = Math.floor(random() * 2048);
      const parityBit = Math.floor(random() * 22) + 2; // bits 0–1 of byte 2 are constant 1s
      const sector = original.slice();
      sector[dataBit >> 3] ^= 1 << (dataBit & 7);
      const damaged = parity.slice();
      const pb = parityBit < 8 ? 16 + parityBit : parityBit - 8; // walk byte 2's live bits first
      damaged[pb >> 3] ^= 1 << (pb & 7);
      assert.equal(hammingEcc.correct(sector, 0, damaged, 0), -1);
    }
  });
});
