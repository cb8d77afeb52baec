import type { NandGeometry } from '@flashdiff/nand';
import { crc32Bytes, crc32Continue, crc32Words3 } from './crc32.ts';
import { SsdError } from './errors.ts';

/**
 * Per-page metadata the FTL writes into the spare area (the seed's P2L entry), little-endian,
 * 16 bytes starting at {@link metadataOffset}:
 *
 *   +0  u8   0xFF, never written (the bad-block marker byte of large-page parts)
 *   +1  u8   kind: 1 host/GC data, 2 TRIM record, 3 P2L summary (a block's last page, `p2l` mode)
 *   +2  u16  page count: 1 for data; the range length for a TRIM record (≤ 65535)
 *   +4  u32  LBA (TRIM record: first LBA of the range; summary: the block number)
 *   +8  u32  sequence number: a device-wide counter, +1 per programmed page (a TRIM record moved by
 *            GC keeps its number, so "highest sequence wins" holds per LBA)
 *   +12 u32  CRC-32 of bytes +0…+11, continued over the page data when the device stores data
 *
 * A torn (half-programmed) page fails the CRC and is ignored by recovery.
 */
export const KIND_DATA = 1;
export const KIND_TRIM = 2;
export const KIND_SUMMARY = 3;
/** A translation page of the cached mapping table (ftl/cached-mapping.ts); the LBA field holds its page number. */
export const KIND_TRANSLATION = 4;
export const METADATA_BYTES = 16;
/** Largest range one TRIM record covers. */
export const MAX_TRIM_RECORD_PAGES = 0xffff;

/**
 * Offset of the metadata in the spare: 0 on large-page parts (byte 0, the marker, stays 0xFF);
 * 6 on small-page parts, after their marker at byte 5.
 */
export function metadataOffset(geometry: NandGeometry): number {
  const offset = geometry.pageSize >= 2048 ? 0 : 6;
  if (geometry.spareSize >= offset + METADATA_BYTES) return offset;
  throw new SsdError(
    'INVALID_CONFIG',
    `spareSize ${geometry.spareSize} is too small: the FTL needs ${METADATA_BYTES} spare bytes at offset ${offset}`,
  );
}

/** A decoded spare; `valid` is false for erased, torn or foreign pages. */
export interface PageMetadata {
  valid: boolean;
  kind: number;
  lba: number;
  sequence: number;
  count: number;
}

export function encodeSpare(
  spare: Uint8Array,
  offset: number,
  kind: number,
  lba: number,
  sequence: number,
  count: number,
  data: Uint8Array | null,
): void {
  spare[offset] = 0xff;
  spare[offset + 1] = kind;
  spare[offset + 2] = count & 0xff;
  spare[offset + 3] = (count >>> 8) & 0xff;
  writeU32(spare, offset + 4, lba);
  writeU32(spare, offset + 8, sequence);
  let crc = crc32Bytes(spare, offset, 12);
  if (data !== null) crc = crc32Continue(data, crc);
  writeU32(spare, offset + 12, crc);
}

/**
 * {@link encodeSpare} for a device without data (metadata-only), writing the 16 bytes as four
 * 32-bit words: `words` views the metadata (4-byte aligned) on a little-endian host, so each word
 * lands as the little-endian bytes of the layout above. Same bytes, same CRC, no byte stores.
 */
export function encodeSpareWords(words: Uint32Array, kind: number, lba: number, sequence: number, count: number): void {
  const w0 = 0xff | (kind << 8) | ((count & 0xffff) << 16);
  const w1 = lba >>> 0;
  const w2 = sequence >>> 0;
  words[0] = w0;
  words[1] = w1;
  words[2] = w2;
  words[3] = crc32Words3(w0, w1, w2);
}

/** Word 0 of the layout above (bytes +0…+3 as a little-endian u32): the marker, kind and count. */
export function spareWord0(kind: number, count: number): number {
  return (0xff | (kind << 8) | ((count & 0xffff) << 16)) >>> 0;
}

/** True when a Uint32Array stores its words little-endian (the spare layout's byte order). */
export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Decodes and checks a spare read back from NAND (`data` when the device stores data). */
export function decodeSpare(spare: Uint8Array, offset: number, data: Uint8Array | null, out: PageMetadata): PageMetadata {
  const kind = spare[offset + 1]!;
  out.kind = kind;
  out.count = spare[offset + 2]! | (spare[offset + 3]! << 8);
  out.lba = readU32(spare, offset + 4);
  out.sequence = readU32(spare, offset + 8);
  let crc = crc32Bytes(spare, offset, 12);
  if (data !== null) crc = crc32Continue(data, crc);
  out.valid =
    spare[offset] === 0xff &&
    (kind === KIND_DATA || kind === KIND_TRIM || kind === KIND_SUMMARY || kind === KIND_TRANSLATION) &&
    crc === readU32(spare, offset + 12);
  return out;
}

export function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = (value >>> 24) & 0xff;
}

export function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}
