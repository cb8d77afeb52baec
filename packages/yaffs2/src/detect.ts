/**
 * Finds an image's format from its bytes alone: page and spare size, pages per block, where the
 * tags sit in the spare (byte 0, as mkyaffs2image and yaffs2utils write them, or the MTD free
 * bytes after the bad-block marker), their byte order and whether they carry tag ECC.
 * Upstream counterparts: unyaffs's `-d` layout detection and yaffshiv's brute-force search; the
 * plausibility rules are upstream's scan rules (yaffs2_scan_chunk's "bad tags" test).
 *
 * Every candidate format reads the first programmed records of the image; a record counts as
 * plausible when its tags pass their ECC (or, without tag ECC, leave the 12 ECC bytes erased),
 * name a sequence number YAFFS2 hands out (or the checkpoint's), an object id below 2^18, and a
 * chunk that fits: a header whose data starts with an object type, or a data chunk of at most
 * one page. The candidate with the most plausible records wins; pages per block then follow
 * from where the sequence number changes (each block is written under a sequence number of
 * its own), defaulting to 64 when nothing tells (mkyaffs2image writes one number everywhere).
 */
import * as fs from 'node:fs';
import { HIGHEST_SEQUENCE_NUMBER, LOWEST_SEQUENCE_NUMBER, OBJECT_ID_LIMIT, SEQUENCE_CHECKPOINT_DATA } from './block-info.ts';
import { Yaffs2Error } from './errors.ts';
import { calcTagEcc } from './tag-ecc.ts';
import { emptyTags, INBAND_TAGS_SIZE, isYaffs1Layout, PACKED_TAGS_SIZE, readTags, spareLayout, tagEccClean, unpackTags } from './tags.ts';
import { unpackPackedTags1, YAFFS1_BLOCK_STATUS_OFFSET, YAFFS1_PAGE_SIZE, YAFFS1_PAGES_PER_BLOCK, YAFFS1_SPARE_SIZE } from './tags1.ts';
import type { ChunkTags, DataEccOrder, SpareLayout, SpareLayoutName } from './tags.ts';
import { hammingEcc } from '@flashdiff/nand';

/** Everything that fixes how an image's bytes are read. */
export interface ImageFormat {
  pageSize: number;
  spareSize: number;
  pagesPerBlock: number;
  layout: SpareLayoutName;
  bigEndian: boolean;
  tagEcc: boolean;
  /** Tags in the last 16 bytes of each page (upstream's inband_tags; then tagEcc is false). */
  inbandTags: boolean;
  /** Byte order of the data ECC ('none' when the layout has none or it is all 0xFF). */
  dataEcc: DataEccOrder;
  /** Big-endian tag ECC with its line parities little-endian (upstream's stored_endian on x86). */
  littleEndianParity: boolean;
}

export interface DetectedFormat extends ImageFormat {
  /** No programmed page was found: a blank (all 0xFF) image; the format is the default one. */
  blank: boolean;
  /** Programmed records the winning format read, and how many of them were plausible. */
  examined: number;
  plausible: number;
  /** Plausible records of the best other candidate (a wide margin means a sure answer). */
  runnerUp: number;
  /** 'forced' (all given), 'high', 'medium', 'low'. */
  confidence: 'forced' | 'high' | 'medium' | 'low';
  /** One line per property on how it was found. */
  notes: string[];
}

/** Page + spare sizes met on NAND parts YAFFS2 runs on (datasheet OOB sizes of SLC and MLC parts). */
export const PAGE_GEOMETRIES: readonly (readonly [number, number])[] = [
  [2048, 64],
  [2048, 128],
  [4096, 128],
  [4096, 224],
  [4096, 256],
  [8192, 256],
  [8192, 448],
  [8192, 512],
  [16384, 512],
  [16384, 1280],
  // YAFFS1 (last: on a tie the YAFFS2 geometries above win).
  [512, 16],
];
export const PAGES_PER_BLOCK_CANDIDATES: readonly number[] = [32, 64, 128, 256, 512];
export const DEFAULT_PAGES_PER_BLOCK = 64;

const LAYOUT_NOTES: Record<SpareLayoutName, string> = {
  mkyaffs2: 'tags at spare byte 0 (mkyaffs2image, yaffs2utils)',
  mtd: 'tags in the MTD free bytes after the bad-block marker, data ECC at the end of the spare',
  yaffs1: "YAFFS1: tags and data ECC in the 16-byte spare's yaffs_spare layout (mkyaffsimage, Linux YAFFS1)",
  'yaffs1-mtd': 'YAFFS1 through Linux MTD: packed tags 1 in the OOB free bytes 8-15 (yaffs_mtdif1.c, yaffs2utils mkyaffs2 -p 512)',
};

/** Bytes of the image read for detection. */
export const DETECT_SAMPLE_BYTES = 16 << 20;
/** Programmed records examined per candidate. */
const RECORDS_EXAMINED = 64;

function allErased(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0xff) return false;
  return true;
}

function u32(bytes: Uint8Array, at: number, bigEndian: boolean): number {
  return bigEndian
    ? ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
    : (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

let copyBuffer = new Uint8Array(64);

/**
 * sample[from … to) copied into a buffer of exactly that length (unpackTags repairs in place, and
 * the sample must stay as read), one buffer reused rather than a slice per record examined.
 */
function tagsCopy(sample: Uint8Array, from: number, to: number): Uint8Array {
  if (copyBuffer.length !== to - from) copyBuffer = new Uint8Array(to - from);
  copyBuffer.set(sample.subarray(from, to));
  return copyBuffer;
}

/** Upstream's scan test for usable tags, plus a header check: is this record YAFFS2 in `layout`? */
function plausible(sample: Uint8Array, recordStart: number, pageSize: number, spareSize: number, layout: SpareLayout, tags: ChunkTags): boolean {
  const spareStart = recordStart + pageSize;
  if (isYaffs1Layout(layout.name)) return plausibleYaffs1(sample, recordStart, layout, tags);
  if (layout.inbandTags) {
    // The spare tells the two layouts apart: MTD's data ECC in it, or nothing at all.
    const eccAt = layout.dataEccOffset;
    const tellsApart = eccAt === null ? allErased(sample, spareStart, spareStart + spareSize) : !allErased(sample, spareStart + eccAt, spareStart + eccAt + layout.dataEccSectors.length * 3);
    if (!tellsApart) return false;
    if (layout.badBlockMarkerOffset !== null && sample[spareStart + layout.badBlockMarkerOffset] !== 0xff) return false;
    const copy = tagsCopy(sample, spareStart - INBAND_TAGS_SIZE, spareStart);
    unpackTags(copy, 0, tags, layout);
    return plausibleTags(sample, recordStart, pageSize - INBAND_TAGS_SIZE, layout, tags);
  }
  const spare = tagsCopy(sample, spareStart, spareStart + layout.tagsOffset + PACKED_TAGS_SIZE);
  if (!layout.tagEcc && !allErased(spare, layout.tagsOffset + 16, layout.tagsOffset + PACKED_TAGS_SIZE)) return false;
  if (layout.badBlockMarkerOffset !== null && sample[spareStart + layout.badBlockMarkerOffset] !== 0xff) return false;
  unpackTags(spare, layout.tagsOffset, tags, layout);
  return plausibleTags(sample, recordStart, pageSize, layout, tags);
}

/** yaffs2_scan_chunk's test of unpacked tags: a sequence number YAFFS2 hands out, ids in range, a chunk that fits. */
function plausibleTags(sample: Uint8Array, recordStart: number, chunkSize: number, layout: SpareLayout, tags: ChunkTags): boolean {
  if (tags.erased || tags.eccResult === 'unfixed') return false;
  const seq = tags.sequenceNumber;
  if (seq === SEQUENCE_CHECKPOINT_DATA) return tags.chunkId >= 1 && tags.byteCount === chunkSize;
  if (seq < LOWEST_SEQUENCE_NUMBER || seq > HIGHEST_SEQUENCE_NUMBER) return false;
  if (tags.objectId < 1 || tags.objectId >= OBJECT_ID_LIMIT) return false;
  if (tags.chunkId === 0) {
    const type = u32(sample, recordStart, layout.bigEndian);
    if (type < 1 || type > 5) return false;
    return !tags.extraAvailable || tags.extraObjectType === type;
  }
  // YAFFS_MAX_CHUNK_ID and a byte count that fits the page (0 for a chunk written empty).
  return tags.chunkId <= 0xfffff && tags.byteCount <= chunkSize;
}

/** yaffs1_scan's view of a 512 + 16-byte record: tag ECC passes, ids in range, a header starts with an object type. */
function plausibleYaffs1(sample: Uint8Array, recordStart: number, layout: SpareLayout, tags: ChunkTags): boolean {
  const spare = tagsCopy(sample, recordStart + YAFFS1_PAGE_SIZE, recordStart + YAFFS1_PAGE_SIZE + YAFFS1_SPARE_SIZE);
  // The block status byte is 0xFF in a good block; the byte count's two high bits are 3 on
  // 512-byte chunks (upstream and mkyaffsimage both store them so).
  if (spare[YAFFS1_BLOCK_STATUS_OFFSET] !== 0xff) return false;
  if (layout.name === 'yaffs1-mtd') {
    // Packed tags 1: the unused bit after the not-deleted bit is 0 (yaffs_pack_tags1).
    if ((layout.bigEndian ? spare[15]! & 1 : spare[15]! >> 7) !== 0) return false;
  } else if (layout.bigEndian ? (spare[12]! & 3) !== 3 && spare[6]! >> 6 !== 3 : spare[12]! >> 6 !== 3) {
    // Big-endian: a big-endian CPU's bit fields put them at the bottom of tag byte 7, upstream's
    // stored_endian (little-endian fields, words swapped) at the top of tag byte 4.
    return false;
  }
  readTags(spare, layout, tags);
  // The 12-bit tag ECC "corrects" 1 in 64 random patterns: only clean tags count here.
  if (tags.erased || tags.eccResult !== 'ok') return false;
  // A deleted chunk's tags are still its own: it counts when they read.
  if (tags.objectId < 1) return false;
  if (tags.chunkId === 0) {
    const type = u32(sample, recordStart, layout.bigEndian);
    return type >= 1 && type <= 5;
  }
  return tags.byteCount <= YAFFS1_PAGE_SIZE;
}

interface Candidate extends ImageFormat {
  examined: number;
  plausible: number;
}

/**
 * Detects the format of the image at `path`; properties given in `force` are taken as they are
 * (and only the others searched). `bytes`, when given, is the whole image already read
 * (image-bytes.ts; not modified here): then the file is not read again. Throws UNKNOWN_LAYOUT
 * when no candidate reads a single plausible record.
 */
export function detectImageFormat(path: string, force: Partial<ImageFormat> = {}, bytes?: Uint8Array): DetectedFormat {
  return detect(path, force, bytes, false)!;
}

/**
 * The format {@link detectImageFormat} finds, without what only `info` reports (how sure it is,
 * the runner-up's count, the notes; the result's `runnerUp` is −1, its confidence 'low' and its
 * notes empty): the search over candidates stops at the first one that reads every examined
 * record as YAFFS (no later candidate can rank above it: the ranking prefers the most plausible
 * records, then the higher share, then the earlier candidate). Used by `extract`, which needs
 * only the format (a clean mkyaffs2image image: 1 candidate examined instead of about 120).
 * With `tagsCheckedLater` (stream-extract.ts, which checks every tag's ECC and hands any image
 * with one that is not clean to the general path) the pages-per-block search takes each record's
 * sequence number as stored, without its tag-ECC check: where every tag is clean that is what
 * the check would give, so the answer is the same.
 */
export function detectImageFormatOnly(path: string, force: Partial<ImageFormat> = {}, bytes?: Uint8Array, options: { tagsCheckedLater?: boolean } = {}): DetectedFormat {
  return detect(path, force, bytes, true, options.tagsCheckedLater === true)!;
}

/**
 * {@link detectImageFormatOnly}'s answer (tags checked later) from the image's first bytes only,
 * `head` (any length up to the image's `imageSize`), or null when `head` is too short to be
 * sure: when a candidate, or the data-ECC or parity-order count, runs out of records in `head`
 * before it has examined its 64 (a longer sample could then change the answer). Pages per block
 * are left out (0, unless forced): they need the spares of the first {@link DETECT_SAMPLE_BYTES},
 * which stream-extract.ts has once it has read them, and gives to {@link pagesPerBlockFromSpares}.
 * So stream-extract.ts reads its image once, in small windows, with no 16 MiB sample.
 */
export function detectFormatFromHead(path: string, force: Partial<ImageFormat>, head: Uint8Array, imageSize: number): DetectedFormat | null {
  return detect(path, force, head, true, true, imageSize);
}

/**
 * Pages per block as {@link detectImageFormatOnly} (tags checked later) finds them, from the
 * spares of the records in the image's first {@link DETECT_SAMPLE_BYTES} (`spares`: each
 * record's spare, `format.spareSize` bytes apiece, `records` of them) rather than from the
 * sample itself: the search reads nothing else when the tags are in the spare.
 */
export function pagesPerBlockFromSpares(spares: Uint8Array, records: number, format: ImageFormat, imageSize: number): number {
  if (format.inbandTags) throw new Yaffs2Error('EINVAL', 'pagesPerBlockFromSpares: inband tags are not in the spare');
  if (format.pagesPerBlock > 0) return format.pagesPerBlock;
  if (isYaffs1Layout(format.layout)) return YAFFS1_PAGES_PER_BLOCK;
  const starts = sequenceStarts(spares, records, format.spareSize, 0, format, true);
  return pagesPerBlockFrom(starts, imageSize, format.pageSize + format.spareSize).pages;
}

/**
 * `head` (detectFormatFromHead): `bytes` is the image's first bytes, `imageSize` long in all;
 * the answer is null when they are too few, and pages per block are left out.
 */
function detect(path: string, force: Partial<ImageFormat>, bytes: Uint8Array | undefined, formatOnly: boolean, tagsCheckedLater = false, imageSize?: number): DetectedFormat | null {
  let size: number;
  let sample: Uint8Array;
  const head = imageSize !== undefined;
  let short = false; // head: some count ran out of records
  if (bytes) {
    size = imageSize ?? bytes.length;
    sample = bytes.subarray(0, Math.min(size, DETECT_SAMPLE_BYTES));
  } else try {
    size = fs.statSync(path).size;
    const fd = fs.openSync(path, 'r');
    try {
      sample = new Uint8Array(Math.min(size, DETECT_SAMPLE_BYTES));
      fs.readSync(fd, sample, 0, sample.length, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    throw new Yaffs2Error('ENOENT', `${path}: cannot read the image (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const geometries = PAGE_GEOMETRIES.filter(([p, s]) => (force.pageSize ?? p) === p && (force.spareSize ?? s) === s);
  if (force.pageSize !== undefined && force.spareSize !== undefined && geometries.length === 0) {
    geometries.push([force.pageSize, force.spareSize]);
  }
  const layouts: SpareLayoutName[] = force.layout ? [force.layout] : ['mkyaffs2', 'mtd', 'yaffs1', 'yaffs1-mtd'];
  const endians = force.bigEndian !== undefined ? [force.bigEndian] : [false, true];
  // (tag ECC, inband tags): inband tags carry no tag ECC.
  const tagModes = ([[true, false], [false, false], [false, true]] as const).filter(
    ([ecc, inband]) => (force.tagEcc === undefined || force.tagEcc === ecc) && (force.inbandTags === undefined || force.inbandTags === inband),
  );
  const tags = emptyTags();
  const candidates: Candidate[] = [];
  let anyProgrammed = false;
  search: for (const [pageSize, spareSize] of geometries) {
    const record = pageSize + spareSize;
    // Whether each record's spare (and the last 16 data bytes, for inband tags) is erased, found
    // once per geometry rather than once per candidate (up to 22 of them share it): an image
    // mostly erased at its start has every candidate walk its whole sample. 0: not yet looked at,
    // 1: not erased, 2: erased.
    const records = Math.floor(sample.length / record);
    const spareErased = new Uint8Array(records);
    const tailErased = new Uint8Array(records);
    for (const layoutName of layouts) {
      for (const bigEndian of endians) {
        for (const [tagEcc, inbandTags] of tagModes) {
          // Combinations spareLayout refuses, skipped without building its error (a stack trace
          // each: most of the 264 candidates a detection tries would throw).
          if (isYaffs1Layout(layoutName) !== (pageSize === YAFFS1_PAGE_SIZE)) continue;
          if (isYaffs1Layout(layoutName) && (!tagEcc || inbandTags)) continue;
          let layout: SpareLayout;
          try {
            layout = spareLayout(layoutName, pageSize, spareSize, { bigEndian, tagEcc, inbandTags });
          } catch {
            continue;
          }
          let examined = 0;
          let good = 0;
          for (let at = 0, r = 0; at + record <= sample.length && examined < RECORDS_EXAMINED; at += record, r++) {
            // Inband tags leave the spare erased (or holding only MTD's data ECC): the tags tell.
            let spare = spareErased[r]!;
            if (spare === 0) spare = spareErased[r] = allErased(sample, at + pageSize, at + record) ? 2 : 1;
            if (spare === 2 && inbandTags) {
              let tail = tailErased[r]!;
              if (tail === 0) tail = tailErased[r] = allErased(sample, at + pageSize - INBAND_TAGS_SIZE, at + pageSize) ? 2 : 1;
              if (tail === 2) continue;
            } else if (spare === 2) {
              continue;
            }
            anyProgrammed = true;
            examined++;
            if (plausible(sample, at, pageSize, spareSize, layout, tags)) good++;
          }
          if (examined < RECORDS_EXAMINED) short = true;
          candidates.push({ pageSize, spareSize, pagesPerBlock: 0, layout: layoutName, bigEndian, tagEcc, inbandTags, dataEcc: layout.dataEcc, littleEndianParity: false, examined, plausible: good });
          if (formatOnly && good === RECORDS_EXAMINED) break search;
        }
      }
    }
  }
  const yaffs1 = (force.layout !== undefined && isYaffs1Layout(force.layout)) || force.pageSize === YAFFS1_PAGE_SIZE;
  const defaults = {
    pageSize: force.pageSize ?? (yaffs1 ? YAFFS1_PAGE_SIZE : 2048),
    spareSize: force.spareSize ?? (yaffs1 ? YAFFS1_SPARE_SIZE : 64),
    pagesPerBlock: force.pagesPerBlock ?? (yaffs1 ? YAFFS1_PAGES_PER_BLOCK : DEFAULT_PAGES_PER_BLOCK),
    layout: force.layout ?? ((yaffs1 ? 'yaffs1' : 'mkyaffs2') as SpareLayoutName),
    bigEndian: force.bigEndian ?? false,
    tagEcc: force.tagEcc ?? !force.inbandTags,
    inbandTags: force.inbandTags ?? false,
    littleEndianParity: force.littleEndianParity ?? false,
    dataEcc: force.dataEcc ?? ((force.layout === 'mtd' || force.layout === 'yaffs1' ? 'smartmedia' : yaffs1 && force.layout === undefined ? 'smartmedia' : 'none') as DataEccOrder),
  };
  // A head shorter than the whole sample: short when a candidate ran out of records in it.
  const partial = head && sample.length < Math.min(size, DETECT_SAMPLE_BYTES);
  if (partial && short) return null;
  if (!anyProgrammed) {
    return { ...defaults, blank: true, examined: 0, plausible: 0, runnerUp: 0, confidence: 'low', notes: ['no programmed page: a blank image, default format'] };
  }
  // Most plausible records; then the higher share; then the usual choices (candidates are listed in that order).
  const ranked = [...candidates].sort((a, b) => b.plausible - a.plausible || b.plausible / Math.max(1, b.examined) - a.plausible / Math.max(1, a.examined));
  const best = ranked[0]!;
  if (best.plausible === 0) {
    throw new Yaffs2Error('UNKNOWN_LAYOUT', `${path}: no page size, spare layout, byte order or tag ECC setting reads YAFFS2 tags here (give --page-size, --spare-size, --layout, --endian, --no-tag-ecc to force one)`);
  }
  if (formatOnly) {
    const { format, ppb, short: detailsShort } = detectDetails(sample, size, best, force, tagsCheckedLater, head);
    if (partial && detailsShort) return null;
    return { ...format, pagesPerBlock: ppb.pages, blank: false, runnerUp: -1, confidence: 'low', notes: [] };
  }
  const runnerUp =
    ranked.find(
      (c) =>
        c !== best &&
        (c.pageSize !== best.pageSize || c.spareSize !== best.spareSize || c.layout !== best.layout || c.bigEndian !== best.bigEndian || c.tagEcc !== best.tagEcc || c.inbandTags !== best.inbandTags),
    )?.plausible ?? 0;
  const { ppb, ecc, parity } = detectDetails(sample, size, best, force);
  const share = best.plausible / best.examined;
  const allForced = ['pageSize', 'spareSize', 'pagesPerBlock', 'layout', 'bigEndian', 'tagEcc'].every((k) => force[k as keyof ImageFormat] !== undefined);
  const confidence = allForced ? 'forced' : share >= 0.9 && best.plausible >= 4 && runnerUp <= best.plausible / 2 ? 'high' : share >= 0.5 && runnerUp < best.plausible ? 'medium' : 'low';
  const how = (key: keyof ImageFormat, text: string): string => (force[key] !== undefined ? `${text} (forced)` : text);
  const notes = [
    how('pageSize', `${best.pageSize}+${best.spareSize} bytes per page: ${best.plausible} of ${best.examined} programmed records read as YAFFS (next best format ${runnerUp})`),
    how('pagesPerBlock', `${ppb.pages} pages per block: ${ppb.why}`),
    how('layout', LAYOUT_NOTES[best.layout]),
    how('bigEndian', best.bigEndian ? 'big-endian tags and headers' : 'little-endian tags and headers'),
    how(
      best.inbandTags ? 'inbandTags' : 'tagEcc',
      isYaffs1Layout(best.layout)
        ? 'YAFFS1 tags carry their 12-bit tag ECC'
        : best.inbandTags
          ? `inband tags: the last ${INBAND_TAGS_SIZE} bytes of each page (no tag ECC; ${best.pageSize - INBAND_TAGS_SIZE}-byte chunks)`
          : best.tagEcc
            ? 'tags carry tag ECC (28 bytes)'
            : 'tags without tag ECC (16 bytes)',
    ),
  ];
  if (parity) {
    notes.push(
      how(
        'littleEndianParity',
        `tag-ECC line parities ${parity.little ? "little-endian (upstream's stored_endian on a little-endian host)" : "big-endian (a big-endian CPU's, yaffs2utils')"}: ${parity.why}`,
      ),
    );
  }
  if (best.layout === 'yaffs1-mtd') {
    const cleared = countClearedNotDeleted(sample, best.bigEndian);
    notes.push(
      cleared > 0
        ? `${cleared} chunks have the not-deleted bit clear under a tag ECC computed so, as yaffs2utils' mkyaffs2 -p 512 writes every chunk (Linux would read them as deleted): read as live`
        : 'the not-deleted bit is read as Linux writes it',
    );
  }
  if (ecc) notes.push(how('dataEcc', `data ECC ${ecc.order === 'none' ? 'absent (all 0xFF): not checked' : `in ${ecc.order === 'linux' ? "Linux nand_ecc.c's" : "SmartMedia (yaffs_ecc_calc's)"} byte order`}: ${ecc.why}`));
  return { ...best, pagesPerBlock: ppb.pages, blank: false, runnerUp, confidence, notes };
}

/**
 * What follows from the winning candidate: pages per block (left out, 0, for `head`: see
 * detectFormatFromHead); the data ECC's byte order (mtd layout) and the tag-ECC parities' byte
 * order (big-endian tags), both set into it; each with how it was found. `short`: the data-ECC
 * or parity-order count examined fewer than its 64 records (the sample ran out).
 */
function detectDetails(
  sample: Uint8Array,
  size: number,
  best: Candidate,
  force: Partial<ImageFormat>,
  tagsCheckedLater = false,
  head = false,
): { format: Candidate; ppb: { pages: number; why: string }; ecc: { order: DataEccOrder; why: string } | null; parity: { little: boolean; why: string } | null; short: boolean } {
  const ppb =
    force.pagesPerBlock !== undefined
      ? { pages: force.pagesPerBlock, why: 'given' }
      : isYaffs1Layout(best.layout)
        ? { pages: YAFFS1_PAGES_PER_BLOCK, why: "YAFFS1's 16 KiB blocks (its tags carry no sequence number to tell blocks apart; the block size does not change how the image reads)" }
        : head
          ? { pages: 0, why: 'left out (pagesPerBlockFromSpares)' }
          : detectPagesPerBlock(sample, size, best, tagsCheckedLater);
  let short = false;
  const ecc = best.layout === 'mtd' ? (force.dataEcc !== undefined ? { order: force.dataEcc, why: 'given', records: RECORDS_EXAMINED } : detectDataEcc(sample, best)) : null;
  if (ecc) {
    best.dataEcc = ecc.order;
    if (ecc.records < RECORDS_EXAMINED) short = true;
  }
  const parity =
    best.bigEndian && best.tagEcc && !best.inbandTags && !isYaffs1Layout(best.layout)
      ? force.littleEndianParity !== undefined
        ? { little: force.littleEndianParity, why: 'given', records: RECORDS_EXAMINED }
        : detectParityOrder(sample, best)
      : null;
  if (parity) {
    best.littleEndianParity = parity.little;
    if (parity.records < RECORDS_EXAMINED) short = true;
  }
  return { format: best, ppb, ecc, parity, short };
}

/**
 * Which byte order the tag ECC's line parities of a big-endian image use: the examined records'
 * stored parities are compared with fresh ones read both ways. Records whose parities read the
 * same either way tell nothing.
 */
function detectParityOrder(sample: Uint8Array, format: ImageFormat): { little: boolean; why: string; records: number } {
  const record = format.pageSize + format.spareSize;
  const layout = spareLayout(format.layout, format.pageSize, format.spareSize, format);
  let big = 0;
  let little = 0;
  let records = 0;
  for (let at = 0; at + record <= sample.length && records < RECORDS_EXAMINED; at += record) {
    const t = at + format.pageSize + layout.tagsOffset;
    if (u32(sample, t, false) === 0xffffffff) continue;
    records++;
    const fresh = calcTagEcc(sample, t, 16);
    const asBig = u32(sample, t + 20, true) === fresh.lineParity && u32(sample, t + 24, true) === fresh.lineParityPrime;
    const asLittle = u32(sample, t + 20, false) === fresh.lineParity && u32(sample, t + 24, false) === fresh.lineParityPrime;
    if (asBig && !asLittle) big++;
    else if (asLittle && !asBig) little++;
  }
  return { little: little > big, why: `${big} records check with big-endian parities, ${little} with little-endian${big === little ? ' (assumed big-endian)' : ''}`, records };
}

/** Records whose packed tags 1 carry yaffs2utils' cleared not-deleted bit (see unpackPackedTags1). */
function countClearedNotDeleted(sample: Uint8Array, bigEndian: boolean): number {
  const record = YAFFS1_PAGE_SIZE + YAFFS1_SPARE_SIZE;
  const tags = emptyTags();
  const reading = { notDeletedBitCleared: false };
  let n = 0;
  for (let at = 0; at + record <= sample.length; at += record) {
    unpackPackedTags1(sample.slice(at + YAFFS1_PAGE_SIZE, at + record), tags, bigEndian, reading);
    if (reading.notDeletedBitCleared) n++;
  }
  return n;
}

/**
 * The data ECC's byte order in the mtd layout: every 256-byte sector of the examined records is
 * encoded in SmartMedia order and compared with what is stored, as is and with its two
 * line-parity bytes swapped (Linux nand_ecc.c's default). Sectors whose code reads the same
 * both ways tell nothing. Stored codes all 0xFF mean no data ECC was written.
 */
function detectDataEcc(sample: Uint8Array, format: ImageFormat): { order: DataEccOrder; why: string; records: number } {
  const record = format.pageSize + format.spareSize;
  const layout = spareLayout('mtd', format.pageSize, format.spareSize, { ...format, dataEcc: 'smartmedia' });
  const code = new Uint8Array(3);
  let smartMedia = 0;
  let linux = 0;
  let erased = 0;
  let neither = 0;
  let records = 0;
  for (let at = 0; at + record <= sample.length && records < RECORDS_EXAMINED; at += record) {
    const spare = at + format.pageSize;
    if (allErased(sample, spare, at + record) && allErased(sample, at, spare)) continue;
    records++;
    for (let s = 0; s < layout.dataEccSectors.length; s++) {
      const stored = spare + layout.dataEccSectors[s]!;
      hammingEcc.encode(sample, at + s * 256, code, 0);
      const a = sample[stored]!;
      const b = sample[stored + 1]!;
      const c = sample[stored + 2]!;
      if (a === 0xff && b === 0xff && c === 0xff && !(code[0] === 0xff && code[1] === 0xff && code[2] === 0xff)) erased++;
      else if (code[0] === code[1]) continue;
      else if (a === code[0] && b === code[1] && c === code[2]) smartMedia++;
      else if (a === code[1] && b === code[0] && c === code[2]) linux++;
      else neither++;
    }
  }
  const counts = `${smartMedia} sectors match SmartMedia order, ${linux} Linux order, ${erased} are blank, ${neither} neither`;
  if (linux > smartMedia && linux >= erased) return { order: 'linux', why: counts, records };
  if (erased > smartMedia && erased > linux) return { order: 'none', why: counts, records };
  return { order: 'smartmedia', why: smartMedia > 0 ? counts : `assumed (${counts})`, records };
}

/** Pages per block from where sequence numbers change, or after an erased stretch (blocks are programmed from their first page). */
function detectPagesPerBlock(sample: Uint8Array, fileSize: number, format: ImageFormat, tagsCheckedLater = false): { pages: number; why: string } {
  const record = format.pageSize + format.spareSize;
  const starts = sequenceStarts(sample, Math.floor(sample.length / record), record, format.pageSize, format, tagsCheckedLater);
  return pagesPerBlockFrom(starts, fileSize, record);
}

/**
 * The records (0 …) where a sequence number starts: `records` records of `stride` bytes in
 * `bytes`, each one's spare at `spareOffset` in it (the data before it, for inband tags).
 */
function sequenceStarts(bytes: Uint8Array, records: number, stride: number, spareOffset: number, format: ImageFormat, tagsCheckedLater: boolean): number[] {
  const layout = spareLayout(format.layout, format.pageSize, format.spareSize, format);
  const tags = emptyTags();
  const starts: number[] = [];
  let previous: number | null = null; // sequence number of the previous record; null: erased
  // Tags are read from a copy (unpackTags repairs in place), one buffer for every record.
  const copy = new Uint8Array(Math.max(format.spareSize, INBAND_TAGS_SIZE));
  for (let i = 0; i < records; i++) {
    const spareAt = i * stride + spareOffset;
    if (format.inbandTags) {
      copy.set(bytes.subarray(spareAt - INBAND_TAGS_SIZE, spareAt));
      unpackTags(copy, 0, tags, layout);
    } else {
      if (allErased(bytes, spareAt, spareAt + format.spareSize)) {
        previous = null;
        continue;
      }
      const t = spareAt + layout.tagsOffset;
      if (u32(bytes, t, false) !== 0xffffffff && (!layout.tagEcc || tagsCheckedLater || tagEccClean(bytes, t, layout.bigEndian))) {
        // Tags that need no repair (nearly all; all, where the caller checks them later): their
        // sequence number as unpackTags reads it, with no copy of the spare made.
        const seq = u32(bytes, t, layout.bigEndian);
        if (i > 0 && seq !== previous) starts.push(i);
        previous = seq;
        continue;
      }
      copy.set(bytes.subarray(spareAt, spareAt + format.spareSize));
      unpackTags(copy, layout.tagsOffset, tags, layout);
    }
    if (tags.erased) {
      previous = null;
      continue;
    }
    const seq = tags.erased || tags.eccResult === 'unfixed' ? -1 : tags.sequenceNumber;
    if (i > 0 && seq >= 0 && seq !== previous) starts.push(i);
    previous = seq;
  }
  return starts;
}

/** Pages per block from the records where sequence numbers start (see detectPagesPerBlock). */
function pagesPerBlockFrom(starts: number[], fileSize: number, record: number): { pages: number; why: string } {
  const consistent = PAGES_PER_BLOCK_CANDIDATES.filter((p) => starts.every((s) => s % p === 0));
  if (starts.length === 0 || consistent.length === 0) {
    const fits = fileSize % (DEFAULT_PAGES_PER_BLOCK * record) === 0 ? 'the file is whole blocks of it' : 'the file is not a whole number of such blocks';
    return {
      pages: DEFAULT_PAGES_PER_BLOCK,
      why: starts.length === 0 ? `assumed (one sequence number throughout, as mkyaffs2image writes; ${fits})` : `assumed (sequence numbers change at no common block size)`,
    };
  }
  const pages = consistent[consistent.length - 1]!;
  return { pages, why: `sequence numbers change only at multiples of ${pages} pages (${starts.length} changes seen)` };
}
