// The compact spare head of a metadata-only RAM store (store.ts) and its fast device: a 16-byte
// head whose bytes 0–3 are the store's common first word and whose bytes 12–15 are the CRC-32 of
// bytes 0–11 carries only 8 bytes of information (bytes 4–11, words 1 and 2), so the store keeps
// those 8 bytes and rebuilds the other 8 on reading (issue 17: 4 TiB of 16 KiB pages in the 4 GiB
// WebAssembly memory needs ≤ 16 bytes a page in all). Every other head — another first word, a
// wrong CRC (a torn page, an injected fault), a spare of another length — is kept whole in the
// store's overflow (per block, allocated on first use). The kernel (kernel/metadata-device.ts) writes the same encoding.
// Upstream counterpart: none (a simulated chip keeps whole spares; MQSim keeps per-page metadata
// as C++ objects with no memory bound to meet).

/** Spare bytes of a compact head (the FTL's metadata: marker, kind, count, LBA, sequence, CRC). */
export const COMPACT_HEAD_BYTES = 16;

/**
 * The store's page state byte of a page holding a compact head: programmed, 16 spare bytes stored
 * (the same content as state 17, "16 bytes stored"), bytes 4–11 in the pair table. A store with
 * compact heads records a 253-byte spare (n + 1 = 254) as a full, padded slot instead.
 */
export const COMPACT_HEAD_STATE = 254;

/**
 * The default common first word: the SSD FTL's data page (bytes FF 01 01 00: the marker byte
 * 0xFF, kind 1 = data, page count 1), which nearly every programmed page of a simulated SSD holds.
 */
export const DEFAULT_COMPACT_WORD0 = 0x000101ff;

// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320; zlib's), byte at a time.
const TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}

/** The CRC table as the kernel imports it (256 words). */
export function crc32Table(): Int32Array {
  return TABLE.slice();
}

function crcWord(c: number, w: number): number {
  c = TABLE[(c ^ w) & 0xff]! ^ (c >>> 8);
  c = TABLE[(c ^ (w >>> 8)) & 0xff]! ^ (c >>> 8);
  c = TABLE[(c ^ (w >>> 16)) & 0xff]! ^ (c >>> 8);
  return TABLE[(c ^ (w >>> 24)) & 0xff]! ^ (c >>> 8);
}

/** CRC-32 of the 12 little-endian bytes of words w0, w1, w2, as an unsigned number. */
// Mirrored by kernel/metadata-device.ts crcHead (same table, same byte order).
export function headCrc(w0: number, w1: number, w2: number): number {
  return ~crcWord(crcWord(crcWord(-1, w0), w1), w2) >>> 0;
}

/** True when the head (w0 … w3, any sign) is compact for first word `word0`. */
export function isCompactHead(word0: number, w0: number, w1: number, w2: number, w3: number): boolean {
  return (w0 ^ word0) === 0 && ((w3 ^ headCrc(w0, w1, w2)) | 0) === 0;
}
