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

// Slicing-by-8 tables (Intel's "slicing-by-N" CRC, Kounavis & Berry 2005): SLICE[k·256 + n] is
// the CRC register after byte n is followed by k zero bytes (k = 0…7).
const SLICE = new Int32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  SLICE[n] = TABLE[n]!;
  for (let k = 1; k < 8; k++) {
    const c = SLICE[(k - 1) * 256 + n]!;
    SLICE[k * 256 + n] = TABLE[c & 0xff]! ^ (c >>> 8);
  }
}

/**
 * The CRC register shifted over 4 zero bytes after the register value x (one slicing-by-4 step):
 * linear over GF(2), so shift4(a ^ b) = shift4(a) ^ shift4(b).
 */
function shift4(x: number): number {
  return SLICE[768 + (x & 0xff)]! ^ SLICE[512 + ((x >>> 8) & 0xff)]! ^ SLICE[256 + ((x >>> 16) & 0xff)]! ^ SLICE[x >>> 24]!;
}

// crc32Words3's cache: for its most recent first word w0, shift4(shift4(register after w0)).
let lastFirstWord = 0;
let lastFirstTerm = crc32FirstWordTerm(0);

/** The first word's term of {@link crc32Words3Int32}: shift4(shift4(shift4(~w0))). */
function crc32FirstWordTerm(w0: number): number {
  return shift4(shift4(shift4(~w0)));
}

// The third word is the FTL's sequence number, which nearly always exceeds the previous call's
// by one. With s ^ (s + 1) = 2^(j+1) − 1 (j = the trailing one bits of s), linearity gives
// shift4(s + 1) = shift4(s) ^ SEQUENCE_STEP[j]: one lookup instead of four.
const SEQUENCE_STEP = new Int32Array(32);
for (let j = 0; j < 32; j++) SEQUENCE_STEP[j] = shift4(j === 31 ? -1 : 2 ** (j + 1) - 1);
let lastSequenceWord = 0;
let lastSequenceTerm = shift4(0);

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
 *
 * Word by word the register is r1 = shift4(~w0), r2 = shift4(r1 ^ w1), r3 = shift4(r2 ^ w2), and
 * by linearity r3 = shift4(shift4(r1)) ^ shift8(w1) ^ shift4(w2), where shift8 is the 8-zero-byte
 * shift (slicing-by-8's upper tables). The first term depends on w0 only (nearly always the same
 * word: cached); the lookups of the other two are independent of each other instead of two
 * dependent rounds of four, and shift4(w2) is stepped from the previous call's (see SEQUENCE_STEP).
 */
export function crc32Words3Int32(w0: number, w1: number, w2: number): number {
  if (w0 !== lastFirstWord) {
    lastFirstWord = w0;
    lastFirstTerm = crc32FirstWordTerm(w0);
  }
  const previous = lastSequenceWord;
  const sequenceTerm =
    w2 === ((previous + 1) | 0) ? lastSequenceTerm ^ SEQUENCE_STEP[31 - Math.clz32(previous ^ w2)]! : w2 === previous ? lastSequenceTerm : shift4(w2);
  lastSequenceWord = w2 | 0;
  lastSequenceTerm = sequenceTerm;
  // The table in a local: V8 then loads and checks the module's binding once, not per lookup.
  const slice = SLICE;
  return ~(
    lastFirstTerm ^
    slice[1792 + (w1 & 0xff)]! ^ slice[1536 + ((w1 >>> 8) & 0xff)]! ^ slice[1280 + ((w1 >>> 16) & 0xff)]! ^ slice[1024 + (w1 >>> 24)]! ^
    sequenceTerm
  );
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
