import zlib from 'node:zlib';

// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the same function as zlib.crc32.
// The 16 metadata bytes of a page are hashed by this table loop (no call overhead on the
// hot path); page data continues the same CRC through zlib.crc32(data, crcSoFar).
const TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}

// Slicing-by-4 tables (Intel's "slicing-by-N" CRC, Kounavis & Berry 2005): SLICE[k·256 + n] is
// the CRC register after byte n is followed by k zero bytes, so one 32-bit little-endian word is
// folded in with four table lookups instead of four dependent byte steps.
const SLICE = new Int32Array(4 * 256);
for (let n = 0; n < 256; n++) {
  SLICE[n] = TABLE[n]!;
  for (let k = 1; k < 4; k++) {
    const c = SLICE[(k - 1) * 256 + n]!;
    SLICE[k * 256 + n] = TABLE[c & 0xff]! ^ (c >>> 8);
  }
}

// crc32Words3's cache: the CRC register after its most recent first word (seeded with word 0).
let lastFirstWord = 0;
let lastFirstRegister = SLICE[768 + 0xff]! ^ SLICE[512 + 0xff]! ^ SLICE[256 + 0xff]! ^ SLICE[0xff]!;

/**
 * CRC-32 of the 12 bytes that are the little-endian encodings of three 32-bit words (the FTL's
 * spare metadata, +0…+11): equal to crc32Bytes over those bytes.
 */
export function crc32Words3(w0: number, w1: number, w2: number): number {
  return crc32Words3Int32(w0, w1, w2) >>> 0;
}

/**
 * {@link crc32Words3} as a signed 32-bit integer (the same 32 bits): what the metadata fast path
 * hands the device, since a value ≥ 2³¹ passed to or returned from a call that is not inlined
 * would be boxed as a heap number, one allocation per page.
 */
export function crc32Words3Int32(w0: number, w1: number, w2: number): number {
  // The first word (marker, kind, count) is nearly always the same: remember its register.
  let c: number;
  if (w0 === lastFirstWord) {
    c = lastFirstRegister;
  } else {
    c = ~w0;
    c = SLICE[768 + (c & 0xff)]! ^ SLICE[512 + ((c >>> 8) & 0xff)]! ^ SLICE[256 + ((c >>> 16) & 0xff)]! ^ SLICE[c >>> 24]!;
    lastFirstWord = w0;
    lastFirstRegister = c;
  }
  c ^= w1;
  c = SLICE[768 + (c & 0xff)]! ^ SLICE[512 + ((c >>> 8) & 0xff)]! ^ SLICE[256 + ((c >>> 16) & 0xff)]! ^ SLICE[c >>> 24]!;
  c ^= w2;
  c = SLICE[768 + (c & 0xff)]! ^ SLICE[512 + ((c >>> 8) & 0xff)]! ^ SLICE[256 + ((c >>> 16) & 0xff)]! ^ SLICE[c >>> 24]!;
  return ~c;
}

/** CRC-32 of bytes[offset … offset+length), as an unsigned 32-bit number. */
export function crc32Bytes(bytes: Uint8Array, offset: number, length: number): number {
  let c = -1;
  const end = offset + length;
  for (let i = offset; i < end; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** Continues a CRC-32 (`previous` is a finished CRC) over `data`. */
export function crc32Continue(data: Uint8Array, previous: number): number {
  return zlib.crc32(data, previous) >>> 0;
}
