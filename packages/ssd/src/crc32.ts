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
