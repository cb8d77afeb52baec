/**
 * The SmartMedia / YAFFS Hamming code: 22 parity bits in 3 bytes per 256 data bytes; corrects one
 * bit error and detects two.
 *
 * Parities (even parity over the named bits, before inversion):
 *   column parities over bit positions, from every byte of the sector:
 *     P4  = bits 4–7   P4' = bits 0–3
 *     P2  = bits 2,3,6,7   P2' = bits 0,1,4,5
 *     P1  = bits 1,3,5,7   P1' = bits 0,2,4,6
 *   line parities over byte indexes i (0…255), each from the bytes whose own bit parity is odd:
 *     P(8·2^k)  = XOR over bytes with bit k of i set,  P(8·2^k)' = those with bit k clear (k = 0…7),
 *     i.e. P8, P8', P16, P16', … P1024, P1024'.
 * Byte layout (as yaffs_ecc.c writes it, = Linux nand_ecc.c in SmartMedia byte order), every bit
 * stored inverted so an all-0xFF sector has parity FF FF FF:
 *   byte 0: P64  P64'  P32  P32'  P16  P16'  P8   P8'     (bit 7 … bit 0)
 *   byte 1: P1024 P1024' P512 P512' P256 P256' P128 P128'
 *   byte 2: P4   P4'   P2   P2'   P1   P1'   1    1
 */
import type { EccCode } from '../types.ts';

const SECTOR_SIZE = 256;

/**
 * Per byte value: bit 7..2 = P4 P4' P2 P2' P1 P1' of that byte alone; bit 0 = parity of all 8 bits
 * (whether the byte takes part in the line parities).
 */
const COLUMN_PARITY = new Uint8Array(256);
/** For a 4-bit line-parity nibble n and its complement nibble m: the interleaved byte P…P' (see layout). */
const INTERLEAVE = new Uint8Array(256);
const POPCOUNT = new Uint8Array(256);

function parityOf(value: number, mask: number): number {
  let v = value & mask;
  v ^= v >> 4;
  v ^= v >> 2;
  v ^= v >> 1;
  return v & 1;
}

for (let v = 0; v < 256; v++) {
  COLUMN_PARITY[v] =
    (parityOf(v, 0xf0) << 7) |
    (parityOf(v, 0x0f) << 6) |
    (parityOf(v, 0xcc) << 5) |
    (parityOf(v, 0x33) << 4) |
    (parityOf(v, 0xaa) << 3) |
    (parityOf(v, 0x55) << 2) |
    parityOf(v, 0xff);
  let count = 0;
  for (let b = v; b !== 0; b >>= 1) count += b & 1;
  POPCOUNT[v] = count;
  // v = (lineNibble << 4) | primeNibble; output bit pairs (P, P') from nibble bit 3 down to bit 0.
  const line = v >> 4;
  const prime = v & 0x0f;
  let t = 0;
  for (let k = 3; k >= 0; k--) {
    t = (t << 2) | (((line >> k) & 1) << 1) | ((prime >> k) & 1);
  }
  INTERLEAVE[v] = t;
}

/** Byte order of this machine's 32-bit words: the word-wise path reads byte k of a word at bits 8k…8k+7. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/**
 * For the 4-bit mask m of which bytes of a 32-bit word have odd bit parity: the XOR of those
 * bytes' positions in the word (0…3), and 0xFF when their count is odd (then the word's own
 * index, times 4, enters the line parity too).
 */
const MASK_POSITIONS = new Uint8Array(16);
const MASK_ODD = new Uint8Array(16);
for (let m = 0; m < 16; m++) {
  let positions = 0;
  let count = 0;
  for (let k = 0; k < 4; k++) {
    if ((m >> k) & 1) {
      positions ^= k;
      count++;
    }
  }
  MASK_POSITIONS[m] = positions;
  MASK_ODD[m] = count & 1 ? 0xff : 0;
}

/**
 * A 32-bit view of the last buffer seen (data is read through it when the sector is 4-byte
 * aligned): made once per buffer, not once per sector. It keeps that one buffer reachable.
 */
let wordsBuffer: ArrayBufferLike | null = null;
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/** Computes the three parity bytes of data[offset … offset+256) (not yet inverted). */
function computeRaw(data: Uint8Array, offset: number, out: Uint8Array, outOffset: number): void {
  const start = data.byteOffset + offset;
  if (LITTLE_ENDIAN && (start & 3) === 0 && offset + SECTOR_SIZE <= data.length) {
    computeRawWords(data, start, out, outOffset);
    return;
  }
  let columnParity = 0;
  let lineParity = 0;
  let lineParityPrime = 0;
  for (let i = 0; i < SECTOR_SIZE; i++) {
    const b = COLUMN_PARITY[data[offset + i]];
    columnParity ^= b;
    if (b & 1) {
      lineParity ^= i;
      lineParityPrime ^= ~i & 0xff;
    }
  }
  writeRaw(columnParity, lineParity, lineParityPrime, out, outOffset);
}

/**
 * computeRaw a 32-bit word (4 bytes) at a time, with no branch per byte: the parities are linear,
 * so the column parities are those of the XOR of all 256 bytes; a byte's index i = 4j + k enters
 * the line parity when the byte's bit parity is odd, and the XOR of those indices is, per word j,
 * the XOR of the odd bytes' k plus 4j when their count is odd; P' is P with every bit flipped
 * when the number of odd bytes (the parity of all 2048 bits) is odd.
 */
function computeRawWords(data: Uint8Array, start: number, out: Uint8Array, outOffset: number): void {
  if (data.buffer !== wordsBuffer) {
    wordsBuffer = data.buffer;
    words = new Uint32Array(data.buffer, 0, data.buffer.byteLength >>> 2);
  }
  const w32 = words;
  const base = start >>> 2;
  let all = 0;
  let lineParity = 0;
  for (let j = 0; j < SECTOR_SIZE / 4; j++) {
    const w = w32[base + j];
    all ^= w;
    // Bit parity of each byte, gathered into bits 0…3.
    let x = w ^ (w >>> 4);
    x ^= x >>> 2;
    x ^= x >>> 1;
    // (× 2^28 + 2^21 + 2^14 + 2^7: bits 0, 8, 16, 24 land on 28…31, the other products below 28.)
    const m = Math.imul(x & 0x01010101, 0x10204080) >>> 28;
    lineParity ^= MASK_POSITIONS[m] ^ ((j << 2) & MASK_ODD[m]);
  }
  const columnParity = COLUMN_PARITY[(all ^ (all >>> 8) ^ (all >>> 16) ^ (all >>> 24)) & 0xff];
  writeRaw(columnParity, lineParity, columnParity & 1 ? lineParity ^ 0xff : lineParity, out, outOffset);
}

function writeRaw(columnParity: number, lineParity: number, lineParityPrime: number, out: Uint8Array, outOffset: number): void {
  out[outOffset] = INTERLEAVE[((lineParity & 0x0f) << 4) | (lineParityPrime & 0x0f)];
  out[outOffset + 1] = INTERLEAVE[(lineParity & 0xf0) | (lineParityPrime >> 4)];
  out[outOffset + 2] = columnParity & 0xfc;
}

const scratch = new Uint8Array(3);

export const hammingEcc: EccCode = Object.freeze({
  name: 'hamming-256',
  sectorSize: SECTOR_SIZE,
  parityBytes: 3,

  encode(data: Uint8Array, offset: number, parity: Uint8Array, parityOffset: number): void {
    computeRaw(data, offset, parity, parityOffset);
    parity[parityOffset] = ~parity[parityOffset] & 0xff;
    parity[parityOffset + 1] = ~parity[parityOffset + 1] & 0xff;
    parity[parityOffset + 2] = (~parity[parityOffset + 2] & 0xff) | 0x03;
  },

  correct(data: Uint8Array, offset: number, parity: Uint8Array, parityOffset: number): number {
    computeRaw(data, offset, scratch, 0);
    // Stored bytes are inverted, so stored XOR ~computed = stored XOR computed XOR 0xFF.
    const d0 = parity[parityOffset] ^ scratch[0] ^ 0xff;
    const d1 = parity[parityOffset + 1] ^ scratch[1] ^ 0xff;
    const d2 = (parity[parityOffset + 2] ^ scratch[2] ^ 0xff) & 0xff;
    if ((d0 | d1 | d2) === 0) return 0;
    // One data bit flipped: every parity pair (P, P') differs in exactly one of its two bits.
    if (((d0 ^ (d0 >> 1)) & 0x55) === 0x55 && ((d1 ^ (d1 >> 1)) & 0x55) === 0x55 && ((d2 ^ (d2 >> 1)) & 0x54) === 0x54) {
      // The P bits of the line pairs spell the byte index; those of the column pairs the bit.
      const byteIndex =
        ((d1 & 0x80) | ((d1 & 0x20) << 1) | ((d1 & 0x08) << 2) | ((d1 & 0x02) << 3)) |
        (((d0 & 0x80) >> 4) | ((d0 & 0x20) >> 3) | ((d0 & 0x08) >> 2) | ((d0 & 0x02) >> 1));
      const bit = ((d2 & 0x80) >> 5) | ((d2 & 0x20) >> 4) | ((d2 & 0x08) >> 3);
      data[offset + byteIndex] ^= 1 << bit;
      return 1;
    }
    // One flipped bit in the stored parity itself: the data is right.
    if (POPCOUNT[d0] + POPCOUNT[d1] + POPCOUNT[d2] === 1) return 1;
    return -1;
  },
});

/** Number of ECC sectors of a page: pageSize / sectorSize. */
export function eccSectors(code: EccCode, pageSize: number): number {
  return Math.floor(pageSize / code.sectorSize);
}
