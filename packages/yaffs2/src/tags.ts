/**
 * YAFFS2 packed tags ("packed tags 2", yaffs_packedtags2.c) and the two spare layouts.
 *
 * Packed tags, 28 bytes, little-endian (x86 images):
 *   @0  u32 sequence number (0xFFFFFFFF: the page is erased)
 *   @4  u32 object id        (Linux header chunks: object type in the top 4 bits)
 *   @8  u32 chunk id         (0 = object header, k = data bytes from (k−1)·chunkSize;
 *                             Linux header chunks: 0x80000000 | parent id, +0x40000000 shrink,
 *                             +0x20000000 shadows)
 *   @12 u32 byte count       (data chunks: bytes used; mkyaffs2image headers: 0xFFFF;
 *                             Linux headers: file size, or the equivalent id for a hard link)
 *   @16 u8  tag ECC column parity, @17..19 zero padding,
 *   @20 u32 tag ECC line parity, @24 u32 tag ECC line parity prime (see tag-ecc.ts).
 */
import { calcTagEcc, correctTagEcc, tagEccScratch } from './tag-ecc.ts';
import type { TagEcc } from './tag-ecc.ts';
import { Yaffs2Error } from './errors.ts';
import { PACKED_TAGS1_OFFSET, packPackedTags1, packTags1, unpackPackedTags1, unpackTags1, YAFFS1_BLOCK_STATUS_OFFSET, YAFFS1_DATA_ECC_OFFSETS, YAFFS1_PAGE_SIZE, YAFFS1_SPARE_SIZE } from './tags1.ts';

export const PACKED_TAGS_SIZE = 28;
export const TAGS_ONLY_SIZE = 16;

export const EXTRA_HEADER_INFO_FLAG = 0x80000000;
export const EXTRA_SHRINK_FLAG = 0x40000000;
export const EXTRA_SHADOWS_FLAG = 0x20000000;
export const ALL_EXTRA_FLAGS = 0xf0000000;
export const EXTRA_OBJECT_TYPE_SHIFT = 28;

/**
 * Where YAFFS keeps its tags (and data ECC) in the spare area: two YAFFS2 layouts, and two of
 * YAFFS1 on 512 + 16-byte pages (tags1.ts): `struct yaffs_spare` (yaffs_tagscompat.c,
 * mkyaffsimage) and Linux MTD's packed tags 1 in the OOB free bytes (yaffs_mtdif1.c, yaffs2utils).
 */
export type SpareLayoutName = 'mkyaffs2' | 'mtd' | 'yaffs1' | 'yaffs1-mtd';
export const SPARE_LAYOUT_NAMES: readonly SpareLayoutName[] = ['mkyaffs2', 'mtd', 'yaffs1', 'yaffs1-mtd'];

/** Whether a layout is one of YAFFS1's (no sequence numbers, serial numbers, deletion marks). */
export function isYaffs1Layout(name: SpareLayoutName): boolean {
  return name === 'yaffs1' || name === 'yaffs1-mtd';
}

/**
 * How the packed tags (and object headers) are encoded: byte order of every u32 (upstream's
 * `stored_endian`) and whether the 12 tag-ECC bytes follow the 16 tag bytes
 * (upstream's `no_tags_ecc` leaves them out: 16 bytes, the rest of the spare 0xFF).
 */
export interface TagFormat {
  readonly bigEndian: boolean;
  readonly tagEcc: boolean;
  /**
   * Upstream's `inband_tags`: the 16 tag bytes (packed tags 2 without ECC) take the last 16
   * bytes of every page, whose data area shrinks by as much; the spare holds no tags.
   */
  readonly inbandTags?: boolean;
  /** Byte order of the data ECC in the `mtd` layout (default 'smartmedia'); see {@link DataEccOrder}. */
  readonly dataEcc?: DataEccOrder;
  /**
   * Big-endian tags with tag ECC: the ECC's two line-parity words stored little-endian, as
   * upstream's stored_endian on a little-endian host writes them (yaffs direct on x86). Default
   * false: in the image's byte order, as a big-endian CPU running Linux and yaffs2utils write
   * them. Reading takes either; this chooses what is written.
   */
  readonly littleEndianParity?: boolean;
}

/**
 * How the 3 Hamming bytes per 256 data bytes are stored: 'smartmedia' — yaffs_ecc_calc's order
 * (and Linux nand_ecc.c built with CONFIG_MTD_NAND_ECC_SMC): line parities of byte-index bits
 * 0-3 first; 'linux' — Linux nand_ecc.c's default: the two line-parity bytes swapped; 'none' —
 * no data ECC written (all 0xFF), nothing checked.
 */
export type DataEccOrder = 'smartmedia' | 'linux' | 'none';
export const DATA_ECC_ORDERS: readonly DataEccOrder[] = ['smartmedia', 'linux', 'none'];

/** Bytes of a page that inband tags take (sizeof(struct yaffs_packed_tags2_tags_only)). */
export const INBAND_TAGS_SIZE = TAGS_ONLY_SIZE;

/** mkyaffs2image's and Linux-on-x86's encoding: little-endian, tag ECC on. */
export const DEFAULT_TAG_FORMAT: TagFormat = Object.freeze({ bigEndian: false, tagEcc: true });

export interface SpareLayout extends TagFormat {
  readonly name: SpareLayoutName;
  readonly inbandTags: boolean;
  /** Data ECC byte order ('none' wherever the layout has no data ECC). */
  readonly dataEcc: DataEccOrder;
  /** First spare byte of the packed tags. */
  readonly tagsOffset: number;
  /** First spare byte of the data ECC (3 bytes per 256 data bytes), or null: no data ECC. */
  readonly dataEccOffset: number | null;
  /** Spare offset of each 256-byte sector's 3 data-ECC bytes (empty: no data ECC). */
  readonly dataEccSectors: readonly number[];
  /** Spare byte that carries the factory bad-block marker, or null (mkyaffs2image images). */
  readonly badBlockMarkerOffset: number | null;
}

/**
 * - mkyaffs2: what mkyaffs2image writes: packed tags + tag ECC at spare byte 0, the rest 0xFF,
 *   no data ECC, no bad-block marker.
 * - mtd: Linux MTD's default large-page OOB layout (nand_oob_64): byte 0–1 bad-block marker,
 *   free bytes 2–39 hold the tags, ECC bytes at the end (40–63 on a 64-byte spare) hold
 *   3 Hamming bytes per 256 data bytes.
 */
export function spareLayout(name: SpareLayoutName, pageSize: number, spareSize: number, format: TagFormat = DEFAULT_TAG_FORMAT): SpareLayout {
  const { bigEndian, tagEcc } = format;
  if (isYaffs1Layout(name)) {
    if (pageSize !== YAFFS1_PAGE_SIZE || spareSize !== YAFFS1_SPARE_SIZE) {
      throw new Yaffs2Error('EINVAL', `YAFFS1 tags need 512 + 16-byte pages (got ${pageSize} + ${spareSize})`);
    }
    if (!tagEcc) throw new Yaffs2Error('EINVAL', 'YAFFS1 tags always carry their 12-bit tag ECC');
    if (format.inbandTags) throw new Yaffs2Error('EINVAL', 'inband tags are YAFFS2 only (upstream refuses them with YAFFS1)');
    if (name === 'yaffs1-mtd') {
      // MTD's data ECC (bytes 0–2 and 3, 6, 7, Linux order) is not checked: yaffs2utils leaves
      // it 0xFF, and the NAND controller, not YAFFS, owns it.
      return { name, tagsOffset: PACKED_TAGS1_OFFSET, dataEccOffset: null, dataEccSectors: [], badBlockMarkerOffset: YAFFS1_BLOCK_STATUS_OFFSET, bigEndian, tagEcc, inbandTags: false, dataEcc: 'none' };
    }
    return { name, tagsOffset: 0, dataEccOffset: null, dataEccSectors: YAFFS1_DATA_ECC_OFFSETS, badBlockMarkerOffset: YAFFS1_BLOCK_STATUS_OFFSET, bigEndian, tagEcc, inbandTags: false, dataEcc: 'smartmedia' };
  }
  if (pageSize === YAFFS1_PAGE_SIZE) {
    throw new Yaffs2Error('EINVAL', `512-byte pages are YAFFS1's: use the yaffs1 or yaffs1-mtd layout (YAFFS2 tags do not fit a ${spareSize}-byte spare beside its ECC)`);
  }
  const inbandTags = format.inbandTags ?? false;
  const littleEndianParity = format.littleEndianParity ?? false;
  // Inband tags: none in the spare (and no tag ECC: upstream packs tags only).
  const tagsSize = inbandTags ? 0 : tagEcc ? PACKED_TAGS_SIZE : TAGS_ONLY_SIZE;
  if (inbandTags && tagEcc) throw new Yaffs2Error('EINVAL', 'inband tags carry no tag ECC (upstream packs the 16 tag bytes only)');
  if (name === 'mkyaffs2') {
    if (spareSize < tagsSize) {
      throw new Yaffs2Error('EINVAL', `a ${spareSize}-byte spare cannot hold the ${tagsSize}-byte YAFFS2 packed tags`);
    }
    return { name, tagsOffset: 0, dataEccOffset: null, dataEccSectors: [], badBlockMarkerOffset: null, bigEndian, tagEcc, inbandTags, dataEcc: 'none', littleEndianParity };
  }
  const eccBytes = (pageSize / 256) * 3;
  const eccOffset = spareSize - eccBytes;
  if (!Number.isInteger(eccBytes) || eccOffset < 2 + tagsSize) {
    throw new Yaffs2Error(
      'EINVAL',
      `the mtd layout needs 2 + ${tagsSize} tag bytes + ${eccBytes} ECC bytes in the spare; it has ${spareSize}`,
    );
  }
  const dataEcc = format.dataEcc ?? 'smartmedia';
  const dataEccSectors = dataEcc === 'none' ? [] : Array.from({ length: pageSize / 256 }, (_, s) => eccOffset + 3 * s);
  return { name, tagsOffset: 2, dataEccOffset: eccOffset, dataEccSectors, badBlockMarkerOffset: 0, bigEndian, tagEcc, inbandTags, dataEcc, littleEndianParity };
}

/** Object types as stored in headers (enum yaffs_obj_type). */
export const ObjectType = {
  unknown: 0,
  file: 1,
  symlink: 2,
  directory: 3,
  hardlink: 4,
  special: 5,
} as const;
export type ObjectTypeValue = (typeof ObjectType)[keyof typeof ObjectType];

export type TagEccResult = 'ok' | 'fixed' | 'unfixed';

/** Tags as read back: the four fields after tag ECC, plus the Linux "extra" header info. */
export interface ChunkTags {
  erased: boolean;
  /** YAFFS1: the page status marks the chunk deleted (never set for YAFFS2, which has no such mark). */
  deleted: boolean;
  /** YAFFS1's 2-bit serial number (which of two copies is newer); 0 for YAFFS2. */
  serialNumber: number;
  eccResult: TagEccResult;
  sequenceNumber: number;
  objectId: number;
  chunkId: number;
  byteCount: number;
  /** True when the tags carry Linux's packed header info (chunk id had bit 31 set). */
  extraAvailable: boolean;
  extraParentId: number;
  extraIsShrink: boolean;
  extraShadows: boolean;
  extraObjectType: number;
  /** File size (files) or equivalent object id (hard links) from the tags. */
  extraFileSizeOrEquiv: number;
}

export function emptyTags(): ChunkTags {
  return {
    erased: true,
    deleted: false,
    serialNumber: 0,
    eccResult: 'ok',
    sequenceNumber: 0xffffffff,
    objectId: 0,
    chunkId: 0,
    byteCount: 0,
    extraAvailable: false,
    extraParentId: 0,
    extraIsShrink: false,
    extraShadows: false,
    extraObjectType: 0,
    extraFileSizeOrEquiv: 0,
  };
}

/** Linux's header info, packed into a header's tags by {@link packTags}. */
export interface ExtraHeaderInfo {
  parentId: number;
  objectType: number;
  isShrink: boolean;
  shadows: boolean;
  /** File size (files, must be < 2^31) or the equivalent id (hard links); 0 otherwise. */
  fileSizeOrEquiv: number;
}

function putU32(b: Uint8Array, o: number, v: number, bigEndian = false): void {
  if (bigEndian) {
    b[o] = (v >>> 24) & 0xff;
    b[o + 1] = (v >>> 16) & 0xff;
    b[o + 2] = (v >>> 8) & 0xff;
    b[o + 3] = v & 0xff;
    return;
  }
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}
function getU32(b: Uint8Array, o: number, bigEndian = false): number {
  if (bigEndian) return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

const packScratch = tagEccScratch();
const storedScratch = tagEccScratch();

/**
 * yaffs_pack_tags2 with tag ECC: writes 28 bytes at `spare[offset]`. With `extra` (a header
 * chunk), Linux's extra info replaces chunk id / byte count and tops the object id.
 */
export function packTags(
  spare: Uint8Array,
  offset: number,
  sequenceNumber: number,
  objectId: number,
  chunkId: number,
  byteCount: number,
  extra: ExtraHeaderInfo | null,
  format: TagFormat = DEFAULT_TAG_FORMAT,
): void {
  const be = format.bigEndian;
  let obj = objectId >>> 0;
  let chunk = chunkId >>> 0;
  let bytes = byteCount >>> 0;
  if (extra && chunkId === 0) {
    chunk = (EXTRA_HEADER_INFO_FLAG | (extra.parentId & ~ALL_EXTRA_FLAGS)) >>> 0;
    if (extra.isShrink) chunk = (chunk | EXTRA_SHRINK_FLAG) >>> 0;
    if (extra.shadows) chunk = (chunk | EXTRA_SHADOWS_FLAG) >>> 0;
    obj = ((obj & 0x0fffffff) | (extra.objectType << EXTRA_OBJECT_TYPE_SHIFT)) >>> 0;
    bytes = extra.fileSizeOrEquiv >>> 0;
  }
  putU32(spare, offset, sequenceNumber >>> 0, be);
  putU32(spare, offset + 4, obj, be);
  putU32(spare, offset + 8, chunk, be);
  putU32(spare, offset + 12, bytes, be);
  if (!format.tagEcc) return;
  const ecc = calcTagEcc(spare, offset, TAGS_ONLY_SIZE, packScratch);
  spare[offset + 16] = ecc.colParity;
  spare[offset + 17] = 0;
  spare[offset + 18] = 0;
  spare[offset + 19] = 0;
  // struct yaffs_ecc_other's two u32 line parities in the image's byte order, as a big-endian
  // CPU running Linux YAFFS2 stores them (and yaffs2utils' `mkyaffs2 -e`, whose unyaffs2 -e
  // rejects them otherwise). See {@link unpackTags} for upstream's stored_endian variant.
  const parityBigEndian = be && !format.littleEndianParity;
  putU32(spare, offset + 20, ecc.lineParity, parityBigEndian);
  putU32(spare, offset + 24, ecc.lineParityPrime, parityBigEndian);
}

/**
 * yaffs_ecc_correct_other on the tags at `spare[offset]`, repairing in place: 0 clean,
 * 1 fixed, −1 not fixable. Big-endian tags may carry their line parities in either byte order:
 * big-endian (a big-endian CPU, yaffs2utils) or little-endian (upstream's `stored_endian` on a
 * little-endian host: yaffs_endian.c swaps the 16 tag bytes, not struct yaffs_ecc_other). The
 * order that leaves the tags clean (else correctable) wins.
 */
function checkTagEcc(spare: Uint8Array, offset: number, bigEndian: boolean): number {
  if (!bigEndian) {
    // The common case, once per chunk read: no allocation (not even a closure).
    storedScratch.colParity = spare[offset + 16]!;
    storedScratch.lineParity = getU32(spare, offset + 20, false);
    storedScratch.lineParityPrime = getU32(spare, offset + 24, false);
    return correctTagEcc(spare, offset, TAGS_ONLY_SIZE, storedScratch);
  }
  return checkBigEndianTagEcc(spare, offset);
}

const cleanScratch = tagEccScratch();

/**
 * The packed tags at `spare[offset]` check clean against their tag ECC: nothing to repair, as
 * checkTagEcc would find (big-endian tags: line parities in either byte order). No allocation.
 */
export function tagEccClean(spare: Uint8Array, offset: number, bigEndian: boolean): boolean {
  const fresh = calcTagEcc(spare, offset, TAGS_ONLY_SIZE, cleanScratch);
  if (spare[offset + 16] !== fresh.colParity) return false;
  if (getU32(spare, offset + 20, false) === fresh.lineParity && getU32(spare, offset + 24, false) === fresh.lineParityPrime) return true;
  return bigEndian && getU32(spare, offset + 20, true) === fresh.lineParity && getU32(spare, offset + 24, true) === fresh.lineParityPrime;
}

function checkBigEndianTagEcc(spare: Uint8Array, offset: number): number {
  if (tagEccClean(spare, offset, true)) return 0;
  const stored = (be: boolean): TagEcc => ({
    colParity: spare[offset + 16]!,
    lineParity: getU32(spare, offset + 20, be),
    lineParityPrime: getU32(spare, offset + 24, be),
  });
  const native = stored(true);
  const swapped = stored(false);
  // One bit off: correctTagEcc changes nothing when it cannot correct, so the native order goes
  // first and the other one second (a wrong order practically never passes as a one-bit error).
  const result = correctTagEcc(spare, offset, TAGS_ONLY_SIZE, native);
  return result >= 0 ? result : correctTagEcc(spare, offset, TAGS_ONLY_SIZE, swapped);
}

/**
 * yaffs_unpack_tags2 with tag ECC: reads and repairs the tags at `spare[offset]` into `out`.
 * Repairs happen in `spare` itself. An erased page (sequence number 0xFFFFFFFF) is reported
 * as `erased` without an ECC check, as upstream does.
 */
export function unpackTags(spare: Uint8Array, offset: number, out: ChunkTags, format: TagFormat = DEFAULT_TAG_FORMAT): ChunkTags {
  const be = format.bigEndian;
  out.deleted = false;
  out.serialNumber = 0;
  out.extraAvailable = false;
  out.extraParentId = 0;
  out.extraIsShrink = false;
  out.extraShadows = false;
  out.extraObjectType = 0;
  out.extraFileSizeOrEquiv = 0;
  if (getU32(spare, offset) === 0xffffffff) {
    out.erased = true;
    out.eccResult = 'ok';
    out.sequenceNumber = 0xffffffff;
    out.objectId = 0;
    out.chunkId = 0;
    out.byteCount = 0;
    return out;
  }
  if (format.tagEcc) {
    const result = checkTagEcc(spare, offset, be);
    out.eccResult = result === 0 ? 'ok' : result === 1 ? 'fixed' : 'unfixed';
  } else {
    out.eccResult = 'ok';
  }
  out.erased = false;
  out.sequenceNumber = getU32(spare, offset, be);
  out.objectId = getU32(spare, offset + 4, be);
  out.chunkId = getU32(spare, offset + 8, be);
  out.byteCount = getU32(spare, offset + 12, be);
  if (out.chunkId & EXTRA_HEADER_INFO_FLAG) {
    const raw = out.chunkId;
    out.extraAvailable = true;
    out.extraParentId = (raw & ~ALL_EXTRA_FLAGS) >>> 0;
    out.extraIsShrink = (raw & EXTRA_SHRINK_FLAG) !== 0;
    out.extraShadows = (raw & EXTRA_SHADOWS_FLAG) !== 0;
    out.extraObjectType = out.objectId >>> EXTRA_OBJECT_TYPE_SHIFT;
    out.extraFileSizeOrEquiv = out.byteCount;
    out.objectId = (out.objectId & 0x0fffffff) >>> 0;
    out.chunkId = 0;
    out.byteCount = 0;
  }
  return out;
}

/** Reads the tags of a page's spare in `layout` (YAFFS2 packed tags, or YAFFS1's spare tags or packed tags 1). */
export function readTags(spare: Uint8Array, layout: SpareLayout, out: ChunkTags): ChunkTags {
  if (layout.name === 'yaffs1') return unpackTags1(spare, out, layout.bigEndian);
  if (layout.name === 'yaffs1-mtd') return unpackPackedTags1(spare, out, layout.bigEndian);
  return unpackTags(spare, layout.tagsOffset, out, layout);
}

/**
 * Writes a chunk's tags into `spare` (filled with 0xFF by the caller) in `layout`. YAFFS1 has
 * no sequence number or header info in its tags: those are dropped (its headers carry all).
 */
export function writeTags(
  spare: Uint8Array,
  layout: SpareLayout,
  sequenceNumber: number,
  objectId: number,
  chunkId: number,
  byteCount: number,
  extra: ExtraHeaderInfo | null,
): void {
  if (layout.name === 'yaffs1') {
    packTags1(spare, objectId, chunkId, byteCount, 0, layout.bigEndian);
    return;
  }
  if (layout.name === 'yaffs1-mtd') {
    packPackedTags1(spare, objectId, chunkId, byteCount, 0, layout.bigEndian);
    return;
  }
  packTags(spare, layout.tagsOffset, sequenceNumber, objectId, chunkId, byteCount, extra, layout);
}
