/**
 * YAFFS1 tags in the 16-byte spare of a 512-byte page (upstream: yaffs_tagscompat.c, the
 * `struct yaffs_tags` / `struct yaffs_spare` of yaffs_guts.h, and utils/mkyaffsimage.c).
 *
 * The spare (struct yaffs_spare):
 *   @0..3  tag bytes 0-3     @4 page status (0xFF live; fewer than 7 one-bits: chunk deleted)
 *   @5     block status ('Y' or fewer than 7 one-bits in pages 0 and 1: bad block)
 *   @6..7  tag bytes 4-5     @8..10  data ECC of bytes 0-255 (yaffs_ecc_calc, SmartMedia order)
 *   @11..12 tag bytes 6-7    @13..15 data ECC of bytes 256-511
 * The 8 tag bytes are two 32-bit words of bit fields (struct yaffs_tags):
 *   word 0: chunk id (20 bits), serial number (2), byte count low 10 bits (10)
 *   word 1: object id (18 bits), tag ECC (12), byte count high 2 bits (2; 3 on 512-byte chunks)
 * Little-endian (x86 GCC): fields from bit 0 up, words stored little-endian. Big-endian (what a
 * big-endian CPU writes, and `mkyaffsimage … convert`): fields from bit 31 down, words stored
 * big-endian. The tag ECC (yaffs_calc_tags_ecc) is the XOR of the 1-based positions of the
 * one-bits of the 8 stored bytes (bit 0 of byte 0 is position 1) with the ECC field zeroed; a
 * syndrome of 1..64 names the one flipped bit, anything else is uncorrectable.
 */
import type { ChunkTags } from './tags.ts';

export const YAFFS1_PAGE_SIZE = 512;
export const YAFFS1_SPARE_SIZE = 16;
/** Upstream's YAFFS1 block: 32 chunks of 512 bytes (16 KiB erase blocks of small-page NAND). */
export const YAFFS1_PAGES_PER_BLOCK = 32;
/** Spare offsets of the 8 tag bytes, in order (tb0…tb7 of struct yaffs_spare). */
export const YAFFS1_TAG_BYTE_OFFSETS: readonly number[] = [0, 1, 2, 3, 6, 7, 11, 12];
export const YAFFS1_PAGE_STATUS_OFFSET = 4;
export const YAFFS1_BLOCK_STATUS_OFFSET = 5;
/** Data ECC: 3 bytes per 256-byte half of the page. */
export const YAFFS1_DATA_ECC_OFFSETS: readonly number[] = [8, 13];
/** YAFFS1 has no sequence numbers; every chunk reads as written under this one (mkyaffs2image's). */
export const YAFFS1_SEQUENCE = 0x1000;

const CHUNK_ID_MASK = 0xfffff;
const OBJECT_ID_MASK = 0x3ffff;

function popcount8(v: number): number {
  let n = 0;
  for (let b = v & 0xff; b; b &= b - 1) n++;
  return n;
}

/** The 8 tag bytes (ECC field as given) of the two words, in stored order. */
function wordsToBytes(w0: number, w1: number, bigEndian: boolean, out: Uint8Array): void {
  for (let i = 0; i < 4; i++) {
    const shift = bigEndian ? 24 - 8 * i : 8 * i;
    out[i] = (w0 >>> shift) & 0xff;
    out[4 + i] = (w1 >>> shift) & 0xff;
  }
}

function bytesToWords(b: Uint8Array, bigEndian: boolean): [number, number] {
  const w = (o: number): number =>
    bigEndian
      ? ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0
      : (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
  return [w(0), w(4)];
}

interface Fields {
  chunkId: number;
  serial: number;
  bytesLow: number;
  objectId: number;
  ecc: number;
  bytesHigh: number;
}

function encodeWords(f: Fields, bigEndian: boolean): [number, number] {
  if (bigEndian) {
    return [
      (((f.chunkId & CHUNK_ID_MASK) << 12) | ((f.serial & 3) << 10) | (f.bytesLow & 0x3ff)) >>> 0,
      (((f.objectId & OBJECT_ID_MASK) << 14) | ((f.ecc & 0xfff) << 2) | (f.bytesHigh & 3)) >>> 0,
    ];
  }
  return [
    ((f.chunkId & CHUNK_ID_MASK) | ((f.serial & 3) << 20) | ((f.bytesLow & 0x3ff) << 22)) >>> 0,
    ((f.objectId & OBJECT_ID_MASK) | ((f.ecc & 0xfff) << 18) | ((f.bytesHigh & 3) << 30)) >>> 0,
  ];
}

function decodeWords(w0: number, w1: number, bigEndian: boolean): Fields {
  if (bigEndian) {
    return { chunkId: w0 >>> 12, serial: (w0 >>> 10) & 3, bytesLow: w0 & 0x3ff, objectId: w1 >>> 14, ecc: (w1 >>> 2) & 0xfff, bytesHigh: w1 & 3 };
  }
  return { chunkId: w0 & CHUNK_ID_MASK, serial: (w0 >>> 20) & 3, bytesLow: w0 >>> 22, objectId: w1 & OBJECT_ID_MASK, ecc: (w1 >>> 18) & 0xfff, bytesHigh: w1 >>> 30 };
}

/** yaffs_calc_tags_ecc over 8 stored tag bytes whose ECC field is zero. */
function tagsEcc(bytes: Uint8Array): number {
  let ecc = 0;
  for (let i = 0; i < 8; i++) {
    const b = bytes[i]!;
    for (let j = 0; j < 8; j++) if (b & (1 << j)) ecc ^= i * 8 + j + 1;
  }
  return ecc;
}

const scratch = new Uint8Array(8);
const stored8 = new Uint8Array(8);

/** The 8 tag bytes with each 4-byte word reversed (upstream's stored_endian swap). */
function swapWords(b: Uint8Array): Uint8Array {
  return Uint8Array.of(b[3]!, b[2]!, b[1]!, b[0]!, b[7]!, b[6]!, b[5]!, b[4]!);
}

/** A syndrome that names one flipped bit (yaffs_check_tags_ecc: 1..64). */
function correctable(syndrome: number): boolean {
  return syndrome !== 0 && syndrome <= 64;
}

/** Fields of 8 tag bytes read with `bigEndian` fields and words, and their tag-ECC syndrome. */
function checkTags1(bytes: Uint8Array, bigEndian: boolean): { fields: Fields; syndrome: number } {
  const [w0, w1] = bytesToWords(bytes, bigEndian);
  const fields = decodeWords(w0, w1, bigEndian);
  const [z0, z1] = encodeWords({ ...fields, ecc: 0 }, bigEndian);
  const zeroed = new Uint8Array(8);
  wordsToBytes(z0, z1, bigEndian, zeroed);
  return { fields, syndrome: fields.ecc ^ tagsEcc(zeroed) };
}

/** Fields → 8 stored tag bytes with their ECC, into `out`. */
function packFields(f: Fields, bigEndian: boolean, out: Uint8Array): void {
  const [w0, w1] = encodeWords({ ...f, ecc: 0 }, bigEndian);
  wordsToBytes(w0, w1, bigEndian, out);
  const ecc = tagsEcc(out);
  const [e0, e1] = encodeWords({ ...f, ecc }, bigEndian);
  wordsToBytes(e0, e1, bigEndian, out);
}

/**
 * yaffs_tags_compat_wr for a live chunk: the 8 tag bytes (with their ECC) into a 16-byte spare
 * that the caller filled with 0xFF; byte count: its low 10 bits, high bits 3 (512-byte chunks,
 * as upstream and mkyaffsimage store them; a header's 0xFFFF becomes 0x3FF).
 */
export function packTags1(spare: Uint8Array, objectId: number, chunkId: number, byteCount: number, serial: number, bigEndian: boolean): void {
  packFields({ chunkId, serial, bytesLow: byteCount & 0x3ff, objectId, ecc: 0, bytesHigh: 3 }, bigEndian, scratch);
  for (let i = 0; i < 8; i++) spare[YAFFS1_TAG_BYTE_OFFSETS[i]!] = scratch[i]!;
}

/** YAFFS1's tags never carry YAFFS2's object-header extras. */
function clearTagExtras(out: ChunkTags): void {
  out.extraAvailable = false;
  out.extraParentId = 0;
  out.extraIsShrink = false;
  out.extraShadows = false;
  out.extraObjectType = 0;
  out.extraFileSizeOrEquiv = 0;
}

/** An all-0xFF tag area: an erased chunk, reported without an ECC check (as upstream does). */
function setErasedTags1(out: ChunkTags): ChunkTags {
  out.erased = true;
  out.deleted = false;
  out.eccResult = 'ok';
  out.sequenceNumber = 0xffffffff;
  out.objectId = 0;
  out.chunkId = 0;
  out.byteCount = 0;
  out.serialNumber = 0;
  return out;
}

/** A written chunk's decoded tags into `out` (the ECC result is the caller's). */
function setLiveTags1(out: ChunkTags, f: Fields, deleted: boolean): ChunkTags {
  out.erased = false;
  out.deleted = deleted;
  out.sequenceNumber = YAFFS1_SEQUENCE;
  out.objectId = f.objectId;
  out.chunkId = f.chunkId;
  // 512-byte chunks: only the low 10 bits count (upstream ignores the high bits below 1 KiB).
  out.byteCount = f.bytesLow;
  out.serialNumber = f.serial;
  return out;
}

/**
 * yaffs_tags_compat_rd: tags of a 16-byte spare into `out`. An all-0xFF spare is erased; a
 * page status with fewer than 7 one-bits is a deleted chunk (`deleted`, still decoded). The
 * tag ECC repairs one flipped bit of the 8 tag bytes (in `spare` too).
 */
export function unpackTags1(spare: Uint8Array, out: ChunkTags, bigEndian: boolean): ChunkTags {
  clearTagExtras(out);
  let used = false;
  for (let i = 0; i < YAFFS1_SPARE_SIZE; i++) {
    if (spare[i] !== 0xff) {
      used = true;
      break;
    }
  }
  if (!used) return setErasedTags1(out);
  for (let i = 0; i < 8; i++) stored8[i] = spare[YAFFS1_TAG_BYTE_OFFSETS[i]!]!;
  // Big-endian images come two ways: a big-endian CPU's (fields from bit 31, the ECC over the
  // stored bytes) and upstream's stored_endian on a little-endian host (yaffs_tagscompat.c
  // swaps the two words of the little-endian bit fields after computing the ECC over them).
  // The one whose ECC checks clean wins; else the native one is corrected, then the other.
  let swapped = false;
  let check = checkTags1(stored8, bigEndian);
  if (bigEndian && check.syndrome !== 0) {
    const other = checkTags1(swapWords(stored8), false);
    if (other.syndrome === 0 || (!correctable(check.syndrome) && correctable(other.syndrome))) {
      check = other;
      swapped = true;
    }
  }
  let f = check.fields;
  const syndrome = check.syndrome;
  const fieldsBigEndian = bigEndian && !swapped;
  out.eccResult = 'ok';
  if (correctable(syndrome)) {
    // One flipped bit at position `syndrome` (1-based) of the bytes the ECC was computed over:
    // flip it back. A position inside the ECC field itself only means the ECC was hit
    // (upstream recomputes it).
    const position = syndrome - 1;
    const bytes = swapped ? swapWords(stored8) : Uint8Array.from(stored8);
    bytes[position >> 3] = bytes[position >> 3]! ^ (1 << (position & 7));
    const [w0, w1] = bytesToWords(bytes, fieldsBigEndian);
    f = decodeWords(w0, w1, fieldsBigEndian);
    packFields(f, fieldsBigEndian, scratch);
    const repaired = swapped ? swapWords(scratch) : scratch;
    for (let i = 0; i < 8; i++) spare[YAFFS1_TAG_BYTE_OFFSETS[i]!] = repaired[i]!;
    out.eccResult = 'fixed';
  } else if (syndrome !== 0) {
    out.eccResult = 'unfixed';
  }
  return setLiveTags1(out, f, popcount8(spare[YAFFS1_PAGE_STATUS_OFFSET]!) < 7);
}

/** Whether a block's first two spares mark it bad (yaffs_tags_compat_query_block). */
export function isYaffs1BadBlock(spare0: Uint8Array, spare1: Uint8Array): boolean {
  return popcount8(spare0[YAFFS1_BLOCK_STATUS_OFFSET]! & spare1[YAFFS1_BLOCK_STATUS_OFFSET]!) < 7;
}

/*
 * YAFFS1 through Linux MTD (upstream yaffs_mtdif1.c, yaffs_packedtags1.c): the 64 tag bits of
 * struct yaffs_packed_tags1 — chunk id, serial number, byte count (10 bits), object id, tag ECC
 * as above, then a *not-deleted* bit and an unused bit where struct yaffs_tags keeps the byte
 * count's high bits — stored as 8 contiguous bytes in MTD's free OOB bytes (nand_oob_16's
 * 8–15, MTD_OOB_AUTO); MTD's own data ECC takes bytes 0–3, 6 and 7, the bad-block marker byte 5.
 * The tag ECC is computed with the not-deleted bit set; Linux deletes a chunk by programming
 * its tags again with only that bit cleared, and on reading sets it back before the ECC check.
 */

/** First spare byte of the packed tags 1 (Linux nand_oob_16's free bytes 8–15). */
export const PACKED_TAGS1_OFFSET = 8;

/** 1-based position of the not-deleted bit in the 8 stored bytes (for a tag-ECC syndrome). */
function notDeletedPosition(bigEndian: boolean): number {
  // Little-endian: bit 30 of word 1 → byte 7 bit 6; big-endian: bit 1 of word 1 → byte 7 bit 1.
  return bigEndian ? 7 * 8 + 1 + 1 : 7 * 8 + 6 + 1;
}

/** The (not-deleted, unused) pair kept where struct yaffs_tags has the byte count's high bits. */
function splitHigh(bytesHigh: number, bigEndian: boolean): { notDeleted: number; unused: number } {
  return bigEndian ? { notDeleted: (bytesHigh >> 1) & 1, unused: bytesHigh & 1 } : { notDeleted: bytesHigh & 1, unused: (bytesHigh >> 1) & 1 };
}
function joinHigh(notDeleted: number, unused: number, bigEndian: boolean): number {
  return bigEndian ? (notDeleted << 1) | unused : notDeleted | (unused << 1);
}

/**
 * yaffs_pack_tags1 + yaffs_calc_tags_ecc for a live chunk (not-deleted 1, unused 0): the 8 tag
 * bytes into spare bytes 8–15 of a spare the caller filled with 0xFF. Byte count: low 10 bits
 * (a header's 0xFFFF becomes 0x3FF, as yaffs2utils writes it).
 */
export function packPackedTags1(spare: Uint8Array, objectId: number, chunkId: number, byteCount: number, serial: number, bigEndian: boolean): void {
  packFields({ chunkId, serial, bytesLow: byteCount & 0x3ff, objectId, ecc: 0, bytesHigh: joinHigh(1, 0, bigEndian) }, bigEndian, scratch);
  spare.set(scratch, PACKED_TAGS1_OFFSET);
}

/**
 * What packed tags 1 say beyond {@link ChunkTags}: `cleared` — the not-deleted bit is clear
 * and the tag ECC was computed so (yaffs2utils' `mkyaffs2 -p 512` writes every chunk like that,
 * masking with big-endian bit-field masks on a little-endian build); such chunks read as live.
 */
export interface PackedTags1Reading {
  notDeletedBitCleared: boolean;
}

/**
 * nandmtd1_read_chunk_tags: the tags in spare bytes 8–15 into `out`. All 0xFF: erased. The
 * not-deleted bit is read, set back, and the tag ECC checked (one flipped bit repaired, in
 * `spare` too); a chunk whose ECC matches only with the bit clear was written so (yaffs2utils)
 * and is live, reported through `reading`.
 */
export function unpackPackedTags1(spare: Uint8Array, out: ChunkTags, bigEndian: boolean, reading?: PackedTags1Reading): ChunkTags {
  clearTagExtras(out);
  if (reading) reading.notDeletedBitCleared = false;
  let used = false;
  for (let i = 0; i < 8; i++) {
    if (spare[PACKED_TAGS1_OFFSET + i] !== 0xff) {
      used = true;
      break;
    }
  }
  if (!used) return setErasedTags1(out);
  for (let i = 0; i < 8; i++) scratch[i] = spare[PACKED_TAGS1_OFFSET + i]!;
  let [w0, w1] = bytesToWords(scratch, bigEndian);
  let f = decodeWords(w0, w1, bigEndian);
  const high = splitHigh(f.bytesHigh, bigEndian);
  let deleted = high.notDeleted === 0;
  const stored = f.ecc;
  // The ECC of the tags with the ECC field zeroed and the not-deleted bit set, as Linux checks.
  const [z0, z1] = encodeWords({ ...f, ecc: 0, bytesHigh: joinHigh(1, high.unused, bigEndian) }, bigEndian);
  wordsToBytes(z0, z1, bigEndian, scratch);
  const syndrome = stored ^ tagsEcc(scratch);
  out.eccResult = 'ok';
  if (syndrome === notDeletedPosition(bigEndian) && deleted) {
    // The ECC was computed with the bit clear: not a deletion (Linux's leaves the ECC as it was).
    deleted = false;
    if (reading) reading.notDeletedBitCleared = true;
  } else if (syndrome !== 0 && syndrome <= 64) {
    const position = syndrome - 1;
    for (let i = 0; i < 8; i++) scratch[i] = spare[PACKED_TAGS1_OFFSET + i]!;
    scratch[position >> 3] = scratch[position >> 3]! ^ (1 << (position & 7));
    [w0, w1] = bytesToWords(scratch, bigEndian);
    f = decodeWords(w0, w1, bigEndian);
    deleted = splitHigh(f.bytesHigh, bigEndian).notDeleted === 0;
    packFields(f, bigEndian, scratch);
    spare.set(scratch, PACKED_TAGS1_OFFSET);
    out.eccResult = 'fixed';
  } else if (syndrome !== 0) {
    out.eccResult = 'unfixed';
  }
  return setLiveTags1(out, f, deleted);
}
