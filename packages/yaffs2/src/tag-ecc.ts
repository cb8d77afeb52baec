/**
 * The "other" Hamming code YAFFS computes over its 16 packed-tag bytes
 * (yaffs_ecc_calc_other / yaffs_ecc_correct_other in yaffs_ecc.c): 6 column-parity bits plus a
 * line parity and its complement, each the XOR of the indices of the bytes with odd parity.
 * It corrects one flipped bit in the tags and detects two.
 */

/**
 * Column parity of one byte, in the bit positions the SmartMedia code uses:
 * bit 7: bits 7,6,5,4   bit 6: bits 3,2,1,0   bit 5: bits 7,6,3,2   bit 4: bits 5,4,1,0
 * bit 3: bits 7,5,3,1   bit 2: bits 6,4,2,0   bit 0: parity of the whole byte. Bit 1 unused.
 * (This is what the 256-entry table in yaffs_ecc.c holds; we derive it rather than store it.)
 */
const COLUMN_PARITY = (() => {
  const table = new Uint8Array(256);
  const parity = (b: number, mask: number): number => {
    let v = b & mask;
    v ^= v >> 4;
    v ^= v >> 2;
    v ^= v >> 1;
    return v & 1;
  };
  for (let b = 0; b < 256; b++) {
    table[b] =
      (parity(b, 0xf0) << 7) |
      (parity(b, 0x0f) << 6) |
      (parity(b, 0xcc) << 5) |
      (parity(b, 0x33) << 4) |
      (parity(b, 0xaa) << 3) |
      (parity(b, 0x55) << 2) |
      parity(b, 0xff);
  }
  return table;
})();

export interface TagEcc {
  /** Six column-parity bits (stored as one byte). */
  colParity: number;
  /** XOR of the indices of the odd-parity bytes (u32). */
  lineParity: number;
  /** XOR of the complements of those indices (u32). */
  lineParityPrime: number;
}

/** yaffs_ecc_calc_other over `bytes[offset … offset + length)`, into `out` when given (no allocation: it runs for every chunk read or written). */
export function calcTagEcc(bytes: Uint8Array, offset: number, length: number, out?: TagEcc): TagEcc {
  let col = 0;
  let line = 0;
  let linePrime = 0;
  for (let i = 0; i < length; i++) {
    const b = COLUMN_PARITY[bytes[offset + i]!]!;
    col ^= b;
    if (b & 1) {
      line ^= i;
      linePrime ^= ~i;
    }
  }
  if (out === undefined) return { colParity: (col >> 2) & 0x3f, lineParity: line >>> 0, lineParityPrime: linePrime >>> 0 };
  out.colParity = (col >> 2) & 0x3f;
  out.lineParity = line >>> 0;
  out.lineParityPrime = linePrime >>> 0;
  return out;
}

/** A TagEcc to compute into (module scratch; every use is finished before the next begins). */
export function tagEccScratch(): TagEcc {
  return { colParity: 0, lineParity: 0, lineParityPrime: 0 };
}
const freshScratch = tagEccScratch();

function popcount32(v: number): number {
  v >>>= 0;
  let n = 0;
  while (v) {
    v &= v - 1;
    n++;
  }
  return n;
}

/**
 * yaffs_ecc_correct_other: compares the stored ECC with a fresh one and repairs one bit in
 * `bytes` when it can. Returns 0 (clean), 1 (one bit corrected, in the data or in the ECC
 * itself) or −1 (uncorrectable).
 */
export function correctTagEcc(bytes: Uint8Array, offset: number, length: number, stored: TagEcc): number {
  const fresh = calcTagEcc(bytes, offset, length, freshScratch);
  const deltaCol = (stored.colParity ^ fresh.colParity) & 0xff;
  const deltaLine = (stored.lineParity ^ fresh.lineParity) >>> 0;
  const deltaLinePrime = (stored.lineParityPrime ^ fresh.lineParityPrime) >>> 0;
  if ((deltaCol | deltaLine | deltaLinePrime) === 0) return 0;
  if (deltaLine === (~deltaLinePrime >>> 0) && ((deltaCol ^ (deltaCol >> 1)) & 0x15) === 0x15) {
    const bit = ((deltaCol & 0x20) ? 4 : 0) | ((deltaCol & 0x08) ? 2 : 0) | ((deltaCol & 0x02) ? 1 : 0);
    if (deltaLine >= length) return -1;
    bytes[offset + deltaLine] = bytes[offset + deltaLine]! ^ (1 << bit);
    return 1;
  }
  if (popcount32(deltaLine) + popcount32(deltaLinePrime) + popcount32(deltaCol) === 1) return 1;
  return -1;
}
