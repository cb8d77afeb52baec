/**
 * Chunk I/O on the NAND device (upstream: yaffs_nand.c, and yaffs_guts.c yaffs_write_new_chunk,
 * yaffs_verify_chunk_written, yaffs_retire_block, yaffs_chunk_del): reads with tag and data ECC,
 * programs with read-back verification and retry, erase and retirement of blocks.
 */
import { hammingEcc, isNandError } from '@flashdiff/nand';
import { Yaffs2Error } from './errors.ts';
import { isYaffs1Layout, PACKED_TAGS_SIZE, packTags, readTags, unpackTags, writeTags } from './tags.ts';
import type { ChunkTags, ExtraHeaderInfo, SpareLayout } from './tags.ts';
import { blockOf, BlockState, setBlockState, ECC_STRIKES_BEFORE_RETIRE, MAX_WRITE_ATTEMPTS } from './block-info.ts';
import type { Yaffs2Dev } from './block-info.ts';
import { allocChunk, noteBlockEmptied, skipRestOfBlock } from './allocator.ts';
import { tryReclaimBlock } from './gc.ts';
import { ensureWritable } from './objects.ts';

/** Reads `tags` from a page spare with the given layout; no data read. */
export function readTagsFromSpare(spare: Uint8Array, layout: SpareLayout, out: ChunkTags): ChunkTags {
  return readTags(spare, layout, out);
}

/**
 * The data ECC of the layout, if it has one: 3 Hamming bytes per 256 data bytes
 * (yaffs_ecc_calc / nand_calculate_ecc), written into the spare at the layout's offset.
 */
export function encodeDataEcc(dev: Yaffs2Dev, data: Uint8Array, spare: Uint8Array): void {
  const sectors = dev.layout.dataEccSectors;
  const linux = dev.layout.dataEcc === 'linux';
  for (let s = 0; s < sectors.length; s++) {
    const at = sectors[s]!;
    hammingEcc.encode(data, s * 256, spare, at);
    if (linux) swapLineParityBytes(spare, at);
  }
}

/** Linux nand_ecc.c's default order ↔ SmartMedia's: the two line-parity bytes trade places. */
function swapLineParityBytes(code: Uint8Array, at: number): void {
  const b = code[at]!;
  code[at] = code[at + 1]!;
  code[at + 1] = b;
}

const smartMediaCode = new Uint8Array(3);

const dataEccResult = { corrected: 0, uncorrectable: 0 };

/**
 * Checks and repairs `data` against the layout's data ECC in `spare`; counts corrected bits and
 * uncorrectable sectors (in one result object, reused: valid until the next call).
 */
export function correctDataEcc(dev: Yaffs2Dev, data: Uint8Array, spare: Uint8Array): { corrected: number; uncorrectable: number } {
  const sectors = dev.layout.dataEccSectors;
  let corrected = 0;
  let uncorrectable = 0;
  const linux = dev.layout.dataEcc === 'linux';
  for (let s = 0; s < sectors.length; s++) {
    let code = spare;
    let at = sectors[s]!;
    if (linux) {
      smartMediaCode[0] = spare[at + 1]!;
      smartMediaCode[1] = spare[at]!;
      smartMediaCode[2] = spare[at + 2]!;
      code = smartMediaCode;
      at = 0;
    }
    const r = hammingEcc.correct(data, s * 256, code, at);
    if (r > 0) corrected += r;
    else if (r < 0) uncorrectable++;
  }
  dataEccResult.corrected = corrected;
  dataEccResult.uncorrectable = uncorrectable;
  return dataEccResult;
}

/** What the ECC corrected in the chunks an image's reader read, each chunk counted once. */
export interface EccCorrections {
  /** Data ECC: bit errors corrected (a flipped bit of the stored code counts as one) … */
  dataBits: number;
  /** … in this many chunks … */
  dataChunks: number;
  /** … of these erase blocks (ascending). */
  dataBlocks: number[];
  /** Tag ECC: chunks whose tags it corrected, in these blocks. */
  tagChunks: number;
  tagBlocks: number[];
}

/** The corrections of `dataPages` (page → bits) and `tagPages`, by chunk and block. */
export function eccCorrectionsOf(dataPages: ReadonlyMap<number, number>, tagPages: Iterable<number>, pagesPerBlock: number): EccCorrections {
  const blocksOf = (pages: Iterable<number>): number[] => [...new Set([...pages].map((p) => Math.floor(p / pagesPerBlock)))].sort((a, b) => a - b);
  let dataBits = 0;
  for (const bits of dataPages.values()) dataBits += bits;
  const tags = [...tagPages];
  return { dataBits, dataChunks: dataPages.size, dataBlocks: blocksOf(dataPages.keys()), tagChunks: tags.length, tagBlocks: blocksOf(tags) };
}

/** "blocks 4, 9" (the first 8, then how many more), "block 4". */
function blockList(blocks: readonly number[]): string {
  const shown = blocks.slice(0, 8).join(', ');
  return `${blocks.length === 1 ? 'block' : 'blocks'} ${shown}${blocks.length > 8 ? ` and ${blocks.length - 8} more` : ''}`;
}

/**
 * The corrections in words, e.g. "the data ECC corrected 3 bit errors in 3 chunks (blocks 4, 9);
 * the tag ECC corrected the tags of 1 chunk (block 4)"; null when there were none.
 */
export function describeEccCorrections(c: EccCorrections): string | null {
  const parts: string[] = [];
  const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  if (c.dataChunks > 0) parts.push(`the data ECC corrected ${plural(c.dataBits, 'bit error', 'bit errors')} in ${plural(c.dataChunks, 'chunk', 'chunks')} (${blockList(c.dataBlocks)})`);
  if (c.tagChunks > 0) parts.push(`the tag ECC corrected the tags of ${plural(c.tagChunks, 'chunk', 'chunks')} (${blockList(c.tagBlocks)})`);
  return parts.length > 0 ? parts.join('; ') : null;
}

/**
 * Reads a chunk's data and tags, repairing with the data ECC (mtd layout) and the tag ECC.
 * Corrections count as strikes against the block; an uncorrectable read marks the block
 * for retirement and returns false.
 */
export function readChunk(dev: Yaffs2Dev, page: number, data: Uint8Array | null, tags: ChunkTags): boolean {
  if (dev.layout.inbandTags) return readInbandChunk(dev, page, data, tags);
  dev.stats.chunkReads++;
  const spare = dev.spareBuffer;
  dev.device.readPage(page, data ?? undefined, spare);
  readTagsFromSpare(spare, dev.layout, tags);
  return checkChunkRead(dev, page, data, spare, tags);
}

/**
 * Inband tags (yaffs_tags_marshall_read with inband_tags): the whole page is read, its data ECC
 * (over data area and tags alike, as MTD computes it) checked, then the 16 tag bytes at the end
 * unpacked; `data` gets the data area.
 */
function readInbandChunk(dev: Yaffs2Dev, page: number, data: Uint8Array | null, tags: ChunkTags): boolean {
  dev.stats.chunkReads++;
  const spare = dev.spareBuffer;
  const whole = dev.inbandPage;
  dev.device.readPage(page, whole, spare);
  unpackTags(whole, dev.chunkSize, tags, dev.layout);
  const ok = checkChunkRead(dev, page, whole, spare, tags);
  // The data ECC may have repaired a tag byte: read the tags again.
  if (!tags.erased) unpackTags(whole, dev.chunkSize, tags, dev.layout);
  if (data) data.set(whole.subarray(0, dev.chunkSize));
  return ok;
}

/** Only the tags of a page (the scan): the spare, or with inband tags the whole page. */
export function readPageTags(dev: Yaffs2Dev, page: number, spare: Uint8Array, tags: ChunkTags): ChunkTags {
  if (dev.layout.inbandTags) {
    dev.device.readPage(page, dev.inbandPage, spare);
    unpackTags(dev.inbandPage, dev.chunkSize, tags, dev.layout);
    // On MTD the page's data ECC covers the tags: read them as the driver would hand them up
    // (the correction is counted when the chunk's data is read).
    if (!tags.erased && dev.layout.dataEccSectors.length > 0 && correctDataEcc(dev, dev.inbandPage, spare).corrected > 0) {
      unpackTags(dev.inbandPage, dev.chunkSize, tags, dev.layout);
    }
    return tags;
  }
  dev.device.readPage(page, undefined, spare);
  return readTagsFromSpare(spare, dev.layout, tags);
}

function checkChunkRead(dev: Yaffs2Dev, page: number, data: Uint8Array | null, spare: Uint8Array, tags: ChunkTags): boolean {
  const block = blockOf(dev, page);
  let ok = true;
  if (tags.eccResult === 'fixed') {
    dev.stats.tagEccCorrected++;
    dev.tagEccCorrectedPages.add(page);
    strike(dev, block);
  } else if (tags.eccResult === 'unfixed') {
    dev.stats.tagEccUncorrectable++;
    markForRetirement(dev, block);
    ok = false;
  }
  if (data && !tags.erased) {
    const r = correctDataEcc(dev, data, spare);
    if (r.corrected > 0) {
      dev.stats.dataEccCorrected += r.corrected;
      if (!dev.dataEccCorrectedPages.has(page)) dev.dataEccCorrectedPages.set(page, r.corrected);
      strike(dev, block);
    }
    if (r.uncorrectable > 0) {
      dev.stats.dataEccUncorrectable += r.uncorrectable;
      markForRetirement(dev, block);
      ok = false;
    }
  }
  return ok;
}

export function strike(dev: Yaffs2Dev, block: number): void {
  if (dev.blockEccStrikes[block]! < 255) dev.blockEccStrikes[block]!++;
  if (dev.blockEccStrikes[block]! > ECC_STRIKES_BEFORE_RETIRE) markForRetirement(dev, block);
}

export function markForRetirement(dev: Yaffs2Dev, block: number): void {
  if (dev.readOnly) return;
  dev.blockNeedsRetiring[block] = 1;
}

export function eraseBlockNow(dev: Yaffs2Dev, block: number): boolean {
  try {
    dev.device.eraseBlock(block);
    dev.stats.blockErases++;
  } catch (e) {
    if (isNandError(e, 'ERASE_FAILED')) {
      retireBlockNow(dev, block);
      return false;
    }
    throw e;
  }
  setBlockState(dev, block, BlockState.empty);
  noteBlockEmptied(dev, block);
  dev.blockSequence[block] = 0;
  dev.blockLive[block] = 0;
  dev.blockWritten[block] = 0;
  dev.blockProtected[block] = 0;
  dev.blockNeedsRetiring[block] = 0;
  dev.blockEccStrikes[block] = 0;
  dev.blockEraseBeforeUse[block] = 0;
  return true;
}

export function retireBlockNow(dev: Yaffs2Dev, block: number): void {
  dev.device.markBad(block);
  setBlockState(dev, block, BlockState.dead);
  dev.deadEpoch++;
  dev.blockLive[block] = 0;
  dev.blockNeedsRetiring[block] = 0;
  dev.stats.blocksRetired++;
  if (dev.allocBlock === block) dev.allocBlock = -1;
}

/**
 * yaffs_write_new_chunk: allocate, program data + tags (+ data ECC), read back and compare;
 * on a program failure or a mismatch the block is marked for retirement, the rest of it
 * skipped, and the write retried on a fresh chunk, up to {@link MAX_WRITE_ATTEMPTS}.
 * Returns the page written. Updates block counters; the caller updates its chunk map.
 */
export function writeNewChunk(
  dev: Yaffs2Dev,
  data: Uint8Array,
  objectId: number,
  chunkId: number,
  byteCount: number,
  extra: ExtraHeaderInfo | null,
  useReserve: boolean,
): number {
  ensureWritable(dev);
  const spare = dev.writeSpare;
  const inband = dev.layout.inbandTags;
  // Inband tags: the data area, then the 16 tag bytes, make the page (yaffs_tags_marshall_write).
  const programmed = inband ? new Uint8Array(dev.device.geometry.pageSize) : data;
  if (inband) programmed.set(data.subarray(0, dev.chunkSize));
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    const page = allocChunk(dev, useReserve);
    const block = blockOf(dev, page);
    spare.fill(0xff);
    if (inband) packTags(programmed, dev.chunkSize, dev.blockSequence[block]!, objectId, chunkId, byteCount, extra, dev.layout);
    else writeTags(spare, dev.layout, dev.blockSequence[block]!, objectId, chunkId, byteCount, extra);
    encodeDataEcc(dev, programmed, spare);
    dev.stats.chunkWrites++;
    try {
      dev.device.programPage(page, programmed, spare);
    } catch (e) {
      if (isNandError(e, 'PROGRAM_FAILED')) {
        dev.stats.programFailures++;
        dev.stats.writeRetries++;
        markForRetirement(dev, block);
        skipRestOfBlock(dev, block);
        continue;
      }
      throw e;
    }
    if (dev.verifyWrites && !verifyChunk(dev, page, programmed, spare)) {
      dev.stats.verifyFailures++;
      dev.stats.writeRetries++;
      markForRetirement(dev, block);
      skipRestOfBlock(dev, block);
      continue;
    }
    dev.chunkLive[page] = 1;
    dev.blockLive[block]!++;
    dev.liveChunks++;
    return page;
  }
  throw new Yaffs2Error('EIO', `no chunk could be written after ${MAX_WRITE_ATTEMPTS} attempts`);
}

export function verifyChunk(dev: Yaffs2Dev, page: number, data: Uint8Array, spare: Uint8Array): boolean {
  dev.device.readPage(page, dev.device.metadataOnly ? undefined : dev.verifyData, dev.verifySpare);
  const t = dev.layout.tagsOffset;
  const end = Math.min(spare.length, t + PACKED_TAGS_SIZE);
  for (let i = t; i < end; i++) if (dev.verifySpare[i] !== spare[i]) return false;
  if (!dev.device.metadataOnly) {
    const a = dev.verifyData;
    for (let i = 0; i < data.length; i++) if (a[i] !== data[i]) return false;
  }
  return true;
}

/** yaffs_chunk_del: the chunk no longer holds live data. */
export function deleteChunk(dev: Yaffs2Dev, page: number): void {
  if (page < 0 || dev.chunkLive[page] === 0) return;
  if (isYaffs1Layout(dev.layout.name) && !dev.readOnly) {
    // YAFFS1 marks a dead chunk by programming its page status to 0 again, a second program
    // of the page that this NAND model refuses: YAFFS1 images are written once, in order.
    throw new Yaffs2Error('EROFS', 'YAFFS1 images are written whole (import, or an edit that rewrites the image); they cannot be changed in place');
  }
  dev.chunkLive[page] = 0;
  const block = blockOf(dev, page);
  dev.blockLive[block]!--;
  dev.liveChunks--;
  if (dev.blockLive[block] === 0 && dev.blockState[block] === BlockState.full && !dev.gcRunning) {
    tryReclaimBlock(dev, block);
  }
}
