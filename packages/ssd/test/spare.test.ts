import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32Bytes, crc32Words3, crc32Words3Int32 } from '../src/crc32.ts';
import { encodeSpare, encodeSpareWords, LITTLE_ENDIAN_HOST } from '../src/spare.ts';

/** xorshift32: seeded test data. */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
}

test('crc32Words3 equals the byte-wise CRC-32 of the same 12 little-endian bytes', () => {
  const next = xorshift(7);
  const bytes = new Uint8Array(12);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 20_000; i++) {
    // Repeat the first word often: the word routine caches it.
    const w0 = i % 3 === 0 ? 0x000101ff : next();
    const w1 = next();
    const w2 = next();
    view.setUint32(0, w0, true);
    view.setUint32(4, w1, true);
    view.setUint32(8, w2, true);
    assert.equal(crc32Words3(w0, w1, w2), crc32Bytes(bytes, 0, 12));
  }
});

test('crc32Words3 stays exact over consecutive sequence words (the stepped third-word term)', () => {
  const bytes = new Uint8Array(12);
  const view = new DataView(bytes.buffer);
  const next = xorshift(13);
  // Runs of consecutive third words across carries and the 2³¹ and 2³² wraps, interleaved with
  // repeats and jumps (each step, repeat and jump takes its own branch of the routine).
  for (const start of [0, 1, 0xff, 0xfffe, 0x7ffffff0, 0xfffffff0, 0xfffffff8]) {
    for (let i = 0; i < 40; i++) {
      const w1 = next();
      const w2 = (start + i) >>> 0;
      for (const third of i % 7 === 3 ? [w2, w2] : i % 11 === 5 ? [next(), w2] : [w2]) {
        view.setUint32(0, 0x000101ff, true);
        view.setUint32(4, w1, true);
        view.setUint32(8, third, true);
        const expected = crc32Bytes(bytes, 0, 12);
        assert.equal(crc32Words3(0x000101ff, w1, third), expected, `third word ${third}`);
        // As the FTL calls it: signed words, so runs past 2³¹ step too.
        assert.equal(crc32Words3Int32(0x000101ff, w1 | 0, third | 0) >>> 0, expected, `third word ${third | 0}`);
      }
    }
  }
});

test('encodeSpareWords writes the same 16 bytes as encodeSpare without data', { skip: !LITTLE_ENDIAN_HOST && 'big-endian host: the word path is not used' }, () => {
  const next = xorshift(11);
  const viaBytes = new Uint8Array(16);
  const words = new Uint32Array(4);
  const viaWords = new Uint8Array(words.buffer);
  for (let i = 0; i < 5_000; i++) {
    const kind = 1 + (next() % 3);
    const lba = next();
    const sequence = next();
    const count = next() & 0xffff;
    encodeSpare(viaBytes, 0, kind, lba, sequence, count, null);
    encodeSpareWords(words, kind, lba, sequence, count);
    assert.deepEqual(viaWords, viaBytes);
  }
});
