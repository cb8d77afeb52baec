/**
 * YAFFS2 on a {@link NandDevice}: chunk allocation (yaffs_write_new_chunk), objects, garbage
 * collection, the backward mount scan and the checkpoint. One chunk is one NAND page.
 *
 * Durability contract: a call that returns has programmed its data chunks; object headers
 * (file size, times) of files being written are programmed on close(), fsync(), sync() and
 * unmount(). Directory operations (mkdir, unlink, rename, symlink, link, truncate) program their
 * headers before they return. A rename is one header program, so it is all-or-nothing.
 */
import { hammingEcc, isNandError } from '@flashdiff/nand';
import type { NandDevice } from '@flashdiff/nand';
import { Yaffs2Error } from './errors.ts';
import { decodeHeader, decodeName, encodeHeader, encodeName, MAX_ALIAS_BYTES, MAX_NAME_BYTES } from './header.ts';
import type { ObjectHeader } from './header.ts';
import { emptyTags, ObjectType, packTags, PACKED_TAGS_SIZE, spareLayout, unpackTags } from './tags.ts';
import type { ChunkTags, ExtraHeaderInfo, SpareLayout, SpareLayoutName } from './tags.ts';
import { crc32, StreamReader, StreamWriter } from './checkpoint-codec.ts';

// ------------------------------------------------------------------ constants (yaffs_guts.h)
export const OBJECT_ID_ROOT = 1;
export const OBJECT_ID_LOST_AND_FOUND = 2;
export const OBJECT_ID_UNLINKED = 3;
export const OBJECT_ID_DELETED = 4;
/** mkyaffs2image numbers user objects from YAFFS_NOBJECT_BUCKETS + 1. */
export const FIRST_USER_OBJECT_ID = 257;
/** YAFFS_MAX_OBJECT_ID + 1 (YAFFS_OBJECT_SPACE). */
export const OBJECT_ID_LIMIT = 0x40000;
export const LOWEST_SEQUENCE_NUMBER = 0x1000;
export const HIGHEST_SEQUENCE_NUMBER = 0xefffff00;
/** Checkpoint chunks carry this sequence number (YAFFS_SEQUENCE_CHECKPOINT_DATA). */
export const SEQUENCE_CHECKPOINT_DATA = 0x21;
/** mkyaffs2image writes 0xFFFF as the byte count of header chunks. */
export const MKYAFFS2_HEADER_BYTE_COUNT = 0xffff;
/** Linux's default number of reserved blocks. */
export const DEFAULT_RESERVED_BLOCKS = 5;
/** Bound on program attempts in one writeNewChunk (upstream YAFFS_WR_ATTEMPTS is 5 × 64). */
export const MAX_WRITE_ATTEMPTS = 5 * 64;
/** A block whose reads needed correction more than this many times is retired. */
export const ECC_STRIKES_BEFORE_RETIRE = 3;
/** Chunks a passive GC pass copies per write. */
export const PASSIVE_GC_CHUNKS = 5;
const MAX_SYMLINK_DEPTH = 40;

/** Block states (enum yaffs_block_state, reduced to what this implementation needs). */
export const BlockState = {
  empty: 1,
  allocating: 2,
  full: 3,
  checkpoint: 4,
  dead: 5,
} as const;
export const BLOCK_STATE_NAMES: Record<number, string> = {
  1: 'empty',
  2: 'allocating',
  3: 'full',
  4: 'checkpoint',
  5: 'dead',
};

export type HeaderTagsStyle = 'linux' | 'mkyaffs2';

export interface Yaffs2Options {
  /** Spare layout; default 'mkyaffs2'. {@link detectLayout} finds it on an existing image. */
  layout?: SpareLayoutName;
  /** Blocks kept back for GC and header rewrites (Linux: 5). Default min(5, ¼ of the blocks). */
  reservedBlocks?: number;
  /** How header tags are written: 'linux' (extra info packed in tags, the default) or 'mkyaffs2'. */
  headerTags?: HeaderTagsStyle;
  /** Mount without ever programming or erasing (read-only commands). */
  readOnly?: boolean;
  /** Try the checkpoint at mount and write one on sync/unmount (default true). */
  checkpoint?: boolean;
  /** Clock for object times, seconds since the epoch (default: the wall clock). */
  now?: () => number;
  /** Read back every programmed chunk and compare (default true). */
  verifyWrites?: boolean;
}

export type FileType = 'file' | 'directory' | 'symlink' | 'special';

export interface Stat {
  id: number;
  type: FileType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atime: number;
  mtime: number;
  ctime: number;
  rdev: number;
  nlink: number;
}

export interface DirEntry {
  name: string;
  id: number;
  type: FileType;
}

/** What {@link Yaffs2.blockInfo} reports for one block. */
export interface BlockInfo {
  block: number;
  /** empty, allocating, full, checkpoint or dead (retired). */
  state: string;
  sequence: number;
  pagesWritten: number;
  pagesLive: number;
  eraseCount: number;
  bad: boolean;
}

export interface StatFs {
  chunkSize: number;
  chunksPerBlock: number;
  totalBlocks: number;
  usableBlocks: number;
  erasedBlocks: number;
  reservedBlocks: number;
  /** Chunks not holding live data (erased plus reclaimable by GC). */
  freeChunks: number;
  /** Bytes a user can still write: free chunks beyond the reserve × chunk size. */
  freeBytes: number;
  totalBytes: number;
}

export interface Yaffs2Stats {
  mountedFrom: 'scan' | 'checkpoint' | 'format';
  chunkWrites: number;
  chunkReads: number;
  writeRetries: number;
  programFailures: number;
  verifyFailures: number;
  blocksRetired: number;
  gcBlocksCollected: number;
  gcChunksCopied: number;
  blockErases: number;
  dataEccCorrected: number;
  dataEccUncorrectable: number;
  tagEccCorrected: number;
  tagEccUncorrectable: number;
  checkpointsWritten: number;
  checkpointsInvalidated: number;
}

export interface OpenOptions {
  /** Create the file when missing. */
  create?: boolean;
  /** With create: fail with EEXIST when the file exists. */
  exclusive?: boolean;
  /** Truncate to 0 on open. */
  truncate?: boolean;
  /** Open for writing (default true when create/truncate is given). */
  write?: boolean;
  /** Every write goes to the end of the file. */
  append?: boolean;
  mode?: number;
}

interface YObject {
  id: number;
  type: number;
  parentId: number;
  name: Uint8Array;
  nameString: string;
  mode: number;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
  ctime: number;
  rdev: number;
  size: number;
  equivId: number;
  alias: Uint8Array;
  /** Page of the live header chunk, or −1 (root / lost+found are never written). */
  headerPage: number;
  /** Logical chunk k (1-based) lives at page chunks[k − 1], or −1 for a hole. */
  chunks: Int32Array;
  /** Directories: child name → object id. */
  children: Map<string, number> | null;
  /** Files: ids of hard-link objects pointing here. */
  links: Set<number> | null;
  headerDirty: boolean;
  fake: boolean;
}

interface OpenHandle {
  objectId: number;
  write: boolean;
  append: boolean;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

function typeName(type: number): FileType {
  switch (type) {
    case ObjectType.file:
      return 'file';
    case ObjectType.directory:
      return 'directory';
    case ObjectType.symlink:
      return 'symlink';
    default:
      return 'special';
  }
}

/** Reads `tags` from a page spare with the given layout; no data read. */
function readTagsFromSpare(spare: Uint8Array, layout: SpareLayout, out: ChunkTags): ChunkTags {
  return unpackTags(spare, layout.tagsOffset, out);
}

/**
 * Finds the spare layout of an image: the first written chunks are read under both layouts and
 * the one whose tags pass their ECC with plausible fields wins (like unyaffs's detection).
 * Returns 'blank' when no page is written, null when neither layout fits.
 */
export function detectLayout(device: NandDevice): SpareLayoutName | 'blank' | null {
  const g = device.geometry;
  const total = g.blocksPerDie * g.diesPerChannel * g.channels * g.pagesPerBlock;
  const spare = new Uint8Array(g.spareSize);
  const tags = emptyTags();
  const score: Record<SpareLayoutName, number> = { mkyaffs2: 0, mtd: 0 };
  let seen = 0;
  const names: SpareLayoutName[] = ['mkyaffs2', 'mtd'];
  for (let page = 0; page < total && seen < 8; page++) {
    const block = Math.floor(page / g.pagesPerBlock);
    if (page % g.pagesPerBlock === 0 && device.isBad(block)) {
      page += g.pagesPerBlock - 1;
      continue;
    }
    device.readPage(page, undefined, spare);
    let allErased = true;
    for (let i = 0; i < spare.length; i++) {
      if (spare[i] !== 0xff) {
        allErased = false;
        break;
      }
    }
    if (allErased) continue;
    seen++;
    for (const name of names) {
      let layout: SpareLayout;
      try {
        layout = spareLayout(name, g.pageSize, g.spareSize);
      } catch {
        continue;
      }
      const copy = spare.slice();
      readTagsFromSpare(copy, layout, tags);
      if (tags.erased || tags.eccResult === 'unfixed') continue;
      if (tags.sequenceNumber === SEQUENCE_CHECKPOINT_DATA) score[name]++;
      else if (
        tags.sequenceNumber >= LOWEST_SEQUENCE_NUMBER &&
        tags.sequenceNumber <= HIGHEST_SEQUENCE_NUMBER &&
        tags.objectId > 0 &&
        tags.objectId < OBJECT_ID_LIMIT
      ) {
        score[name]++;
      }
    }
  }
  if (seen === 0) return 'blank';
  if (score.mkyaffs2 === 0 && score.mtd === 0) return null;
  return score.mtd > score.mkyaffs2 ? 'mtd' : 'mkyaffs2';
}

interface ScanObject {
  id: number;
  header: ObjectHeader | null;
  headerType: number;
  headerPage: number;
  deleted: boolean;
  shrinkSize: number;
  scannedSize: number;
  chunks: Map<number, number>;
}

/** The checkpoint stream's validity marker (YAFFS_MAGIC) and this format's version. */
const CHECKPOINT_MAGIC = 0x5941ff53;
const CHECKPOINT_END_MAGIC = 0x53ff4159;
const CHECKPOINT_FORMAT_VERSION = 0x46440001; // "FD" + 1: this project's stream, not upstream's v8
const CHECKPOINT_CHUNK_HEADER = 16;

/**
 * A new object with nothing on NAND yet: no header page, no chunks, zero size, times `time`,
 * its header still to be written; a directory gets a children map and a file a hard-link set.
 */
function freshObject(id: number, type: number, parentId: number, name: string, mode: number, time: number): YObject {
  return {
    id,
    type,
    parentId,
    name: encodeName(name),
    nameString: name,
    mode,
    uid: 0,
    gid: 0,
    atime: time,
    mtime: time,
    ctime: time,
    rdev: 0,
    size: 0,
    equivId: 0,
    alias: new Uint8Array(0),
    headerPage: -1,
    chunks: new Int32Array(0),
    children: type === ObjectType.directory ? new Map() : null,
    links: type === ObjectType.file ? new Set() : null,
    headerDirty: true,
    fake: false,
  };
}

export class Yaffs2 {
  readonly device: NandDevice;
  readonly layout: SpareLayout;
  readonly chunkSize: number;
  readonly pagesPerBlock: number;
  readonly blockCount: number;
  readonly readOnly: boolean;
  readonly reservedBlocks: number;
  readonly stats: Yaffs2Stats;
  headerTags: HeaderTagsStyle;

  private readonly useCheckpoint: boolean;
  private readonly verifyWrites: boolean;
  private readonly now: () => number;

  // Block information, one entry per erase block (yaffs_block_info).
  private readonly blockState: Uint8Array;
  private readonly blockSequence: Uint32Array;
  private readonly blockLive: Uint16Array;
  private readonly blockWritten: Uint16Array;
  /** Holds a shrink/shadowing header: may be erased only when no older block holds stale chunks. */
  private readonly blockProtected: Uint8Array;
  private readonly blockNeedsRetiring: Uint8Array;
  private readonly blockEccStrikes: Uint8Array;
  /** Content unknown (looked erased at scan): erase before the first program. */
  private readonly blockEraseBeforeUse: Uint8Array;
  private readonly chunkLive: Uint8Array;
  private liveChunks = 0;

  private allocBlock = -1;
  private allocPage = 0;
  private sequenceNumber = LOWEST_SEQUENCE_NUMBER - 1;
  private nextObjectId = FIRST_USER_OBJECT_ID;
  private readonly objects = new Map<number, YObject>();
  private readonly handles = new Map<number, OpenHandle>();
  private nextHandle = 3;
  private checkpointValid = false;
  private gcRunning = false;
  private gcBlock = -1;
  private mounted = true;

  private readonly pageBuffer: Uint8Array;
  private readonly spareBuffer: Uint8Array;
  private readonly verifyData: Uint8Array;
  private readonly verifySpare: Uint8Array;
  private readonly tagsScratch = emptyTags();

  private constructor(device: NandDevice, options: Yaffs2Options) {
    const g = device.geometry;
    this.device = device;
    this.chunkSize = g.pageSize;
    this.pagesPerBlock = g.pagesPerBlock;
    this.blockCount = g.blocksPerDie * g.diesPerChannel * g.channels;
    if (this.pagesPerBlock > 0xffff) throw new Yaffs2Error('EINVAL', 'more than 65535 pages per block');
    if (this.chunkSize < 512) throw new Yaffs2Error('EINVAL', `YAFFS2 needs chunks of at least 512 bytes (got ${this.chunkSize})`);
    this.layout = spareLayout(options.layout ?? 'mkyaffs2', g.pageSize, g.spareSize);
    this.readOnly = options.readOnly ?? false;
    this.reservedBlocks = options.reservedBlocks ?? Math.max(1, Math.min(DEFAULT_RESERVED_BLOCKS, Math.floor(this.blockCount / 4)));
    if (!Number.isInteger(this.reservedBlocks) || this.reservedBlocks < 0 || this.reservedBlocks >= this.blockCount) {
      throw new Yaffs2Error('EINVAL', `reservedBlocks ${String(options.reservedBlocks)} does not fit ${this.blockCount} blocks`);
    }
    this.headerTags = options.headerTags ?? 'linux';
    this.useCheckpoint = options.checkpoint ?? true;
    this.verifyWrites = options.verifyWrites ?? true;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    const n = this.blockCount;
    this.blockState = new Uint8Array(n);
    this.blockSequence = new Uint32Array(n);
    this.blockLive = new Uint16Array(n);
    this.blockWritten = new Uint16Array(n);
    this.blockProtected = new Uint8Array(n);
    this.blockNeedsRetiring = new Uint8Array(n);
    this.blockEccStrikes = new Uint8Array(n);
    this.blockEraseBeforeUse = new Uint8Array(n);
    this.chunkLive = new Uint8Array(n * this.pagesPerBlock);
    this.pageBuffer = new Uint8Array(this.chunkSize);
    this.spareBuffer = new Uint8Array(g.spareSize);
    this.verifyData = new Uint8Array(this.chunkSize);
    this.verifySpare = new Uint8Array(g.spareSize);
    this.stats = {
      mountedFrom: 'scan',
      chunkWrites: 0,
      chunkReads: 0,
      writeRetries: 0,
      programFailures: 0,
      verifyFailures: 0,
      blocksRetired: 0,
      gcBlocksCollected: 0,
      gcChunksCopied: 0,
      blockErases: 0,
      dataEccCorrected: 0,
      dataEccUncorrectable: 0,
      tagEccCorrected: 0,
      tagEccUncorrectable: 0,
      checkpointsWritten: 0,
      checkpointsInvalidated: 0,
    };
    this.makeFakeDirectories();
  }

  // ================================================================== mount / format

  /** Erases every good block and mounts the empty file system. */
  static format(device: NandDevice, options: Yaffs2Options = {}): Yaffs2 {
    if (options.readOnly) throw new Yaffs2Error('EROFS', 'cannot format read-only');
    const fs = new Yaffs2(device, options);
    for (let b = 0; b < fs.blockCount; b++) {
      if (device.isBad(b)) {
        fs.blockState[b] = BlockState.dead;
        continue;
      }
      fs.eraseBlockNow(b);
    }
    fs.stats.mountedFrom = 'format';
    return fs;
  }

  /**
   * Mounts: the checkpoint when one is valid, else the backward scan. Throws CORRUPT_IMAGE only
   * for what cannot be a YAFFS2 image; damaged chunks are skipped and counted.
   */
  static mount(device: NandDevice, options: Yaffs2Options = {}): Yaffs2 {
    const fs = new Yaffs2(device, options);
    if (fs.useCheckpoint && fs.tryLoadCheckpoint()) {
      fs.stats.mountedFrom = 'checkpoint';
      return fs;
    }
    fs.scan();
    fs.stats.mountedFrom = 'scan';
    return fs;
  }

  private makeFakeDirectories(): void {
    // Root and lost+found exist without headers on NAND ("fake" directories, as upstream).
    const mk = (id: number, name: string, parent: number): YObject => ({
      ...freshObject(id, ObjectType.directory, parent, name, S_IFDIR | 0o755, 0),
      headerDirty: false,
      fake: true,
    });
    this.objects.clear();
    this.objects.set(OBJECT_ID_ROOT, mk(OBJECT_ID_ROOT, '', 0));
    this.objects.set(OBJECT_ID_LOST_AND_FOUND, mk(OBJECT_ID_LOST_AND_FOUND, 'lost+found', OBJECT_ID_ROOT));
    this.objects.get(OBJECT_ID_ROOT)!.children!.set('lost+found', OBJECT_ID_LOST_AND_FOUND);
  }

  // ================================================================== NAND access

  private blockOf(page: number): number {
    return Math.floor(page / this.pagesPerBlock);
  }

  /**
   * Reads a chunk's data and tags, repairing with the data ECC (mtd layout) and the tag ECC.
   * Corrections count as strikes against the block; an uncorrectable read marks the block
   * for retirement and returns false.
   */
  private readChunk(page: number, data: Uint8Array | null, tags: ChunkTags): boolean {
    this.stats.chunkReads++;
    const spare = this.spareBuffer;
    this.device.readPage(page, data ?? undefined, spare);
    readTagsFromSpare(spare, this.layout, tags);
    const block = this.blockOf(page);
    let ok = true;
    if (tags.eccResult === 'fixed') {
      this.stats.tagEccCorrected++;
      this.strike(block);
    } else if (tags.eccResult === 'unfixed') {
      this.stats.tagEccUncorrectable++;
      this.markForRetirement(block);
      ok = false;
    }
    if (data && this.layout.dataEccOffset !== null && !tags.erased) {
      const sectors = this.chunkSize / 256;
      for (let s = 0; s < sectors; s++) {
        const r = hammingEcc.correct(data, s * 256, spare, this.layout.dataEccOffset + s * 3);
        if (r > 0) {
          this.stats.dataEccCorrected += r;
          this.strike(block);
        } else if (r < 0) {
          this.stats.dataEccUncorrectable++;
          this.markForRetirement(block);
          ok = false;
        }
      }
    }
    return ok;
  }

  private strike(block: number): void {
    if (this.blockEccStrikes[block]! < 255) this.blockEccStrikes[block]!++;
    if (this.blockEccStrikes[block]! > ECC_STRIKES_BEFORE_RETIRE) this.markForRetirement(block);
  }

  private markForRetirement(block: number): void {
    if (this.readOnly) return;
    this.blockNeedsRetiring[block] = 1;
  }

  private eraseBlockNow(block: number): boolean {
    try {
      this.device.eraseBlock(block);
      this.stats.blockErases++;
    } catch (e) {
      if (isNandError(e, 'ERASE_FAILED')) {
        this.retireBlockNow(block);
        return false;
      }
      throw e;
    }
    this.blockState[block] = BlockState.empty;
    this.blockSequence[block] = 0;
    this.blockLive[block] = 0;
    this.blockWritten[block] = 0;
    this.blockProtected[block] = 0;
    this.blockNeedsRetiring[block] = 0;
    this.blockEccStrikes[block] = 0;
    this.blockEraseBeforeUse[block] = 0;
    return true;
  }

  private retireBlockNow(block: number): void {
    this.device.markBad(block);
    this.blockState[block] = BlockState.dead;
    this.blockLive[block] = 0;
    this.blockNeedsRetiring[block] = 0;
    this.stats.blocksRetired++;
    if (this.allocBlock === block) this.allocBlock = -1;
  }

  private erasedBlockCount(): number {
    let n = 0;
    for (let b = 0; b < this.blockCount; b++) if (this.blockState[b] === BlockState.empty) n++;
    return n;
  }

  private usableBlockCount(): number {
    let n = 0;
    for (let b = 0; b < this.blockCount; b++) if (this.blockState[b] !== BlockState.dead) n++;
    return n;
  }

  /** Chunks not holding live data, in blocks that can hold data (checkpoint blocks count as free: they are erased on the first write). */
  private freeChunkCount(): number {
    return this.usableBlockCount() * this.pagesPerBlock - this.liveChunks;
  }

  /** Blocks a checkpoint of the present state needs (yaffs_calc_checkpt_blocks_required). */
  private checkpointBlocksRequired(): number {
    if (!this.useCheckpoint) return 0;
    // An O(1) estimate (names average well under 60 bytes); if it falls short, the checkpoint is
    // simply not written and the next mount scans.
    const bytes = 64 + this.blockCount * 9 + this.objects.size * 120 + this.liveChunks * 4;
    const perChunk = this.chunkSize - CHECKPOINT_CHUNK_HEADER;
    return Math.ceil(Math.ceil(bytes / perChunk) / this.pagesPerBlock) + 1;
  }

  /** yaffs_check_alloc_available: free chunks beyond the reserve. */
  private hasSpaceFor(chunks: number): boolean {
    const reserved = (this.reservedBlocks + this.checkpointBlocksRequired()) * this.pagesPerBlock;
    return this.freeChunkCount() > reserved + chunks;
  }

  /** yaffs_find_alloc_block: the least-erased empty block, with the next sequence number. */
  private findAllocBlock(): number {
    for (let attempts = 0; attempts < this.blockCount; attempts++) {
      let best = -1;
      let bestErases = Infinity;
      for (let b = 0; b < this.blockCount; b++) {
        if (this.blockState[b] !== BlockState.empty) continue;
        const erases = this.device.eraseCount(b);
        if (erases < bestErases) {
          bestErases = erases;
          best = b;
        }
      }
      if (best < 0) return -1;
      if (this.blockEraseBeforeUse[best] && !this.eraseBlockNow(best)) continue;
      if (this.sequenceNumber >= HIGHEST_SEQUENCE_NUMBER) throw new Yaffs2Error('ENOSPC', 'sequence numbers exhausted');
      this.sequenceNumber++;
      this.blockState[best] = BlockState.allocating;
      this.blockSequence[best] = this.sequenceNumber;
      this.blockWritten[best] = 0;
      this.blockLive[best] = 0;
      return best;
    }
    return -1;
  }

  /** yaffs_alloc_chunk: the next page of the allocation block. */
  private allocChunk(useReserve: boolean): number {
    if (!useReserve && !this.hasSpaceFor(1)) {
      throw new Yaffs2Error('ENOSPC', 'no free chunks beyond the reserved blocks');
    }
    if (this.allocBlock < 0) {
      this.allocBlock = this.findAllocBlock();
      this.allocPage = 0;
      if (this.allocBlock < 0) throw new Yaffs2Error('ENOSPC', 'no erased block left');
    }
    const block = this.allocBlock;
    const page = block * this.pagesPerBlock + this.allocPage;
    this.allocPage++;
    this.blockWritten[block] = this.allocPage;
    if (this.allocPage >= this.pagesPerBlock) {
      this.blockState[block] = BlockState.full;
      this.allocBlock = -1;
    }
    return page;
  }

  /** Abandons the rest of a block after a write failure (it will be retired by GC). */
  private skipRestOfBlock(block: number): void {
    if (this.allocBlock === block) {
      this.allocBlock = -1;
      this.blockWritten[block] = this.pagesPerBlock;
      this.blockState[block] = BlockState.full;
    }
  }

  /**
   * yaffs_write_new_chunk: allocate, program data + tags (+ data ECC), read back and compare;
   * on a program failure or a mismatch the block is marked for retirement, the rest of it
   * skipped, and the write retried on a fresh chunk, up to {@link MAX_WRITE_ATTEMPTS}.
   * Returns the page written. Updates block counters; the caller updates its chunk map.
   */
  private writeNewChunk(
    data: Uint8Array,
    objectId: number,
    chunkId: number,
    byteCount: number,
    extra: ExtraHeaderInfo | null,
    useReserve: boolean,
  ): number {
    this.ensureWritable();
    const spare = new Uint8Array(this.device.geometry.spareSize).fill(0xff);
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const page = this.allocChunk(useReserve);
      const block = this.blockOf(page);
      spare.fill(0xff);
      packTags(spare, this.layout.tagsOffset, this.blockSequence[block]!, objectId, chunkId, byteCount, extra);
      if (this.layout.dataEccOffset !== null) {
        for (let s = 0; s < this.chunkSize / 256; s++) hammingEcc.encode(data, s * 256, spare, this.layout.dataEccOffset + s * 3);
      }
      this.stats.chunkWrites++;
      try {
        this.device.programPage(page, data, spare);
      } catch (e) {
        if (isNandError(e, 'PROGRAM_FAILED')) {
          this.stats.programFailures++;
          this.stats.writeRetries++;
          this.markForRetirement(block);
          this.skipRestOfBlock(block);
          continue;
        }
        throw e;
      }
      if (this.verifyWrites && !this.verifyChunk(page, data, spare)) {
        this.stats.verifyFailures++;
        this.stats.writeRetries++;
        this.markForRetirement(block);
        this.skipRestOfBlock(block);
        continue;
      }
      this.chunkLive[page] = 1;
      this.blockLive[block]!++;
      this.liveChunks++;
      return page;
    }
    throw new Yaffs2Error('EIO', `no chunk could be written after ${MAX_WRITE_ATTEMPTS} attempts`);
  }

  private verifyChunk(page: number, data: Uint8Array, spare: Uint8Array): boolean {
    this.device.readPage(page, this.device.metadataOnly ? undefined : this.verifyData, this.verifySpare);
    const t = this.layout.tagsOffset;
    for (let i = t; i < t + PACKED_TAGS_SIZE; i++) if (this.verifySpare[i] !== spare[i]) return false;
    if (!this.device.metadataOnly) {
      const a = this.verifyData;
      for (let i = 0; i < data.length; i++) if (a[i] !== data[i]) return false;
    }
    return true;
  }

  /** yaffs_chunk_del: the chunk no longer holds live data. */
  private deleteChunk(page: number): void {
    if (page < 0 || this.chunkLive[page] === 0) return;
    this.chunkLive[page] = 0;
    const block = this.blockOf(page);
    this.blockLive[block]!--;
    this.liveChunks--;
    if (this.blockLive[block] === 0 && this.blockState[block] === BlockState.full && !this.gcRunning) {
      this.tryReclaimBlock(block);
    }
  }

  /** Lowest sequence number among full blocks still holding stale chunks (yaffs2_find_oldest_dirty_seq). */
  private oldestDirtySequence(): number {
    let oldest = Infinity;
    for (let b = 0; b < this.blockCount; b++) {
      if (this.blockState[b] !== BlockState.full) continue;
      if (this.blockLive[b]! < this.blockWritten[b]! || this.blockLive[b]! < this.pagesPerBlock) {
        if (this.blockSequence[b]! < oldest) oldest = this.blockSequence[b]!;
      }
    }
    return oldest;
  }

  /** yaffs_block_ok_for_gc: a block with a shrink/shadow header waits until it is the oldest dirty one. */
  private blockOkForGc(block: number, oldestDirty: number): boolean {
    return this.blockProtected[block] === 0 || this.blockSequence[block]! <= oldestDirty;
  }

  /** A full block without live chunks: erase it now (or retire it) when allowed. */
  private tryReclaimBlock(block: number): void {
    if (this.readOnly) return;
    if (!this.blockOkForGc(block, this.oldestDirtySequence())) return;
    if (this.blockNeedsRetiring[block]) this.retireBlockNow(block);
    else this.eraseBlockNow(block);
  }

  // ================================================================== garbage collection

  /**
   * yaffs_check_gc: retire blocks that asked for it; collect whole blocks aggressively when
   * erased blocks run low; otherwise copy a few chunks of a very dirty block (passive).
   */
  private checkGc(): void {
    if (this.gcRunning || this.readOnly) return;
    this.gcRunning = true;
    try {
      // Prioritised: blocks that must be retired (their live chunks move first).
      for (let b = 0; b < this.blockCount; b++) {
        if (this.blockNeedsRetiring[b] && this.blockState[b] === BlockState.full) this.collectBlock(b, Infinity);
      }
      const threshold = this.reservedBlocks + this.checkpointBlocksRequired() + 1;
      for (let pass = 0; pass < this.blockCount; pass++) {
        const erased = this.erasedBlockCount();
        const aggressive = erased < threshold;
        if (!aggressive && this.gcBlock >= 0 && this.blockState[this.gcBlock] === BlockState.full) {
          this.collectBlock(this.gcBlock, PASSIVE_GC_CHUNKS);
          break;
        }
        const victim = this.findGcBlock(aggressive);
        if (victim < 0) break;
        if (aggressive) {
          this.collectBlock(victim, Infinity);
          continue;
        }
        this.gcBlock = victim;
        this.collectBlock(victim, PASSIVE_GC_CHUNKS);
        break;
      }
    } finally {
      this.gcRunning = false;
    }
  }

  /** yaffs_find_gc_block: the dirtiest full block; passive GC only takes blocks at most half live. */
  private findGcBlock(aggressive: boolean): number {
    const oldestDirty = this.oldestDirtySequence();
    let best = -1;
    let bestLive = Infinity;
    const limit = aggressive ? this.pagesPerBlock - 1 : this.pagesPerBlock >> 1;
    for (let b = 0; b < this.blockCount; b++) {
      if (this.blockState[b] !== BlockState.full) continue;
      const live = this.blockLive[b]!;
      if (live > limit) continue;
      if (!this.blockOkForGc(b, oldestDirty)) continue;
      if (live < bestLive || (live === bestLive && best >= 0 && this.blockSequence[b]! < this.blockSequence[best]!)) {
        best = b;
        bestLive = live;
      }
    }
    return best;
  }

  /** Copies up to `maxChunks` live chunks out of `block`; erases (or retires) it once empty. */
  private collectBlock(block: number, maxChunks: number): void {
    const first = block * this.pagesPerBlock;
    let copied = 0;
    const data = new Uint8Array(this.chunkSize);
    const tags = emptyTags();
    for (let i = 0; i < this.pagesPerBlock && copied < maxChunks && this.blockLive[block]! > 0; i++) {
      const page = first + i;
      if (!this.chunkLive[page]) continue;
      copied++;
      this.copyLiveChunk(page, data, tags);
    }
    if (this.blockLive[block] === 0 && this.blockState[block] === BlockState.full) {
      if (this.gcBlock === block) this.gcBlock = -1;
      this.stats.gcBlocksCollected++;
      if (this.blockNeedsRetiring[block]) this.retireBlockNow(block);
      else if (this.blockOkForGc(block, this.oldestDirtySequence())) this.eraseBlockNow(block);
    }
  }

  private copyLiveChunk(page: number, data: Uint8Array, tags: ChunkTags): void {
    this.readChunk(page, data, tags);
    const owner = this.objects.get(tags.objectId);
    this.stats.gcChunksCopied++;
    if (!owner) {
      this.deleteChunk(page);
      return;
    }
    if (owner.headerPage === page) {
      // A moved header drops its shrink/shadow marks: the block it leaves is the oldest dirty
      // one, so nothing older remains for them to act on (as upstream's GC does).
      this.writeHeader(owner, false, 0);
      return;
    }
    const k = tags.chunkId;
    if (k >= 1 && k <= owner.chunks.length && owner.chunks[k - 1] === page) {
      const newPage = this.writeNewChunk(data, owner.id, k, tags.byteCount, null, true);
      owner.chunks[k - 1] = newPage;
      this.deleteChunk(page);
      return;
    }
    this.deleteChunk(page);
  }

  /** Runs GC until no more work is due (used by tests and fsck --repair). */
  gc(): void {
    this.assertMounted();
    this.ensureWritable();
    this.checkGc();
  }

  // ================================================================== headers & chunks

  private extraFor(o: YObject, isShrink: boolean, shadows: number): ExtraHeaderInfo | null {
    if (this.headerTags !== 'linux') return null;
    if (o.type === ObjectType.file && o.size >= 0x80000000) return null;
    return {
      parentId: o.parentId,
      objectType: o.type,
      isShrink,
      shadows: shadows > 0,
      fileSizeOrEquiv: o.type === ObjectType.file ? o.size : o.type === ObjectType.hardlink ? o.equivId : 0,
    };
  }

  /** yaffs_update_oh: programs a new header for `o` and deletes the previous one. */
  private writeHeader(o: YObject, isShrink: boolean, shadows: number): void {
    const chunk = new Uint8Array(this.chunkSize);
    encodeHeader(
      {
        type: o.type,
        parentId: o.parentId,
        name: o.name,
        mode: o.mode,
        uid: o.uid,
        gid: o.gid,
        atime: o.atime,
        mtime: o.mtime,
        ctime: o.ctime,
        fileSize: o.size,
        equivId: o.equivId,
        alias: o.alias,
        rdev: o.rdev,
        shadows,
        isShrink,
      },
      chunk,
    );
    const extra = this.extraFor(o, isShrink, shadows);
    const page = this.writeNewChunk(chunk, o.id, 0, extra ? 0 : MKYAFFS2_HEADER_BYTE_COUNT, extra, true);
    if (isShrink || shadows > 0) this.blockProtected[this.blockOf(page)] = 1;
    const old = o.headerPage;
    o.headerPage = page;
    o.headerDirty = false;
    this.deleteChunk(old);
  }

  /** Reads logical chunk k of a file into `out` (zeros for holes and past the chunk's byte count). */
  private readFileChunk(o: YObject, k: number, out: Uint8Array): void {
    const page = k <= o.chunks.length ? o.chunks[k - 1]! : -1;
    if (page < 0) {
      out.fill(0);
      return;
    }
    const tags = this.tagsScratch;
    if (!this.readChunk(page, out, tags)) {
      throw new Yaffs2Error('EIO', `uncorrectable ECC error in chunk ${k} of object ${o.id} (page ${page})`);
    }
    const valid = Math.min(tags.byteCount, this.chunkSize);
    if (valid < this.chunkSize) out.fill(0, valid);
  }

  private setChunk(o: YObject, k: number, page: number): void {
    if (k > o.chunks.length) {
      let size = Math.max(8, o.chunks.length * 2);
      while (size < k) size *= 2;
      const next = new Int32Array(size).fill(-1);
      next.set(o.chunks);
      o.chunks = next;
    }
    const old = o.chunks[k - 1]!;
    o.chunks[k - 1] = page;
    if (old >= 0) this.deleteChunk(old);
  }

  /** Deletes data chunks whose start lies at or beyond `size` (yaffs_prune_chunks). */
  private pruneChunks(o: YObject, size: number): void {
    const keep = Math.ceil(size / this.chunkSize);
    for (let k = keep + 1; k <= o.chunks.length; k++) {
      const page = o.chunks[k - 1]!;
      if (page >= 0) {
        o.chunks[k - 1] = -1;
        this.deleteChunk(page);
      }
    }
  }

  // ================================================================== path resolution

  private assertMounted(): void {
    if (!this.mounted) throw new Yaffs2Error('UNMOUNTED', 'the file system is unmounted');
  }

  /** Before the first change after a checkpoint: erase it (any write invalidates it). */
  private ensureWritable(): void {
    this.assertMounted();
    if (this.readOnly) throw new Yaffs2Error('EROFS', 'mounted read-only');
    this.checkpointValid = false;
    let invalidated = false;
    for (let b = 0; b < this.blockCount; b++) {
      if (this.blockState[b] === BlockState.checkpoint) {
        this.eraseBlockNow(b);
        invalidated = true;
      }
    }
    if (invalidated) this.stats.checkpointsInvalidated++;
  }

  private splitPath(path: string): string[] {
    if (typeof path !== 'string' || path.length === 0) throw new Yaffs2Error('EINVAL', `bad path ${JSON.stringify(path)}`);
    if (path.includes('\0')) throw new Yaffs2Error('EINVAL', 'path contains a NUL byte');
    return path.split('/').filter((p) => p.length > 0 && p !== '.');
  }

  private getObject(id: number): YObject {
    const o = this.objects.get(id);
    if (!o) throw new Yaffs2Error('ENOENT', `object ${id} does not exist`);
    return o;
  }

  private resolve(path: string, followLast: boolean, depth = 0, startDir = OBJECT_ID_ROOT): YObject {
    if (depth > MAX_SYMLINK_DEPTH) throw new Yaffs2Error('ELOOP', `too many symbolic links resolving ${path}`);
    const parts = this.splitPath(path);
    let cur = path.startsWith('/') ? this.getObject(OBJECT_ID_ROOT) : this.getObject(startDir);
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (cur.type !== ObjectType.directory) throw new Yaffs2Error('ENOTDIR', `${path}: not a directory`);
      if (part === '..') {
        cur = this.getObject(cur.parentId > 0 ? cur.parentId : OBJECT_ID_ROOT);
        continue;
      }
      const childId = this.lookupChild(cur, part);
      if (childId === undefined) throw new Yaffs2Error('ENOENT', `${path}: no such file or directory`);
      let child = this.getObject(childId);
      const last = i === parts.length - 1;
      if (child.type === ObjectType.symlink && (!last || followLast)) {
        child = this.resolve(decodeName(child.alias), true, depth + 1, cur.id);
      }
      cur = child;
    }
    return cur;
  }

  private lookupChild(dir: YObject, name: string): number | undefined {
    const id = dir.children!.get(name);
    if (id !== undefined) return id;
    return undefined;
  }

  /** Resolves the parent directory of `path` and validates the last name. */
  private resolveParent(path: string): { dir: YObject; name: string } {
    const parts = this.splitPath(path);
    if (parts.length === 0) throw new Yaffs2Error('EEXIST', `${path}: is the root directory`);
    const name = parts[parts.length - 1]!;
    if (name === '..') throw new Yaffs2Error('EINVAL', `${path}: bad name`);
    const parentPath = (path.startsWith('/') ? '/' : '') + parts.slice(0, -1).join('/');
    const dir = parentPath === '' ? this.getObject(OBJECT_ID_ROOT) : this.resolve(parentPath, true);
    if (dir.type !== ObjectType.directory) throw new Yaffs2Error('ENOTDIR', `${path}: parent is not a directory`);
    if (encodeName(name).length > MAX_NAME_BYTES) throw new Yaffs2Error('ENAMETOOLONG', `${path}: name over ${MAX_NAME_BYTES} bytes`);
    return { dir, name };
  }

  /** The object a hard link stands for (or the object itself). */
  private target(o: YObject): YObject {
    if (o.type === ObjectType.hardlink) {
      const t = this.objects.get(o.equivId);
      if (!t) throw new Yaffs2Error('ENOENT', `hard link ${o.id} points at missing object ${o.equivId}`);
      return t;
    }
    return o;
  }

  private allocateObjectId(): number {
    for (let i = 0; i < OBJECT_ID_LIMIT; i++) {
      const id = this.nextObjectId;
      this.nextObjectId = this.nextObjectId + 1 >= OBJECT_ID_LIMIT ? FIRST_USER_OBJECT_ID : this.nextObjectId + 1;
      if (!this.objects.has(id)) return id;
    }
    throw new Yaffs2Error('ENOSPC', 'no free object id');
  }

  private newObject(type: number, dir: YObject, name: string, mode: number): YObject {
    return freshObject(this.allocateObjectId(), type, dir.id, name, mode, this.now());
  }

  private addObject(o: YObject, dir: YObject): void {
    this.writeHeader(o, false, 0);
    this.objects.set(o.id, o);
    dir.children!.set(o.nameString, o.id);
  }

  // ================================================================== public operations

  /** Creates a directory. */
  mkdir(path: string, mode = 0o755): void {
    this.ensureWritable();
    this.checkGc();
    const { dir, name } = this.resolveParent(path);
    if (dir.children!.has(name)) throw new Yaffs2Error('EEXIST', `${path}: exists`);
    if (!this.hasSpaceFor(1)) throw new Yaffs2Error('ENOSPC', `${path}: no space for a header`);
    const o = this.newObject(ObjectType.directory, dir, name, S_IFDIR | (mode & 0o7777));
    this.addObject(o, dir);
  }

  /** Lists a directory (hard links appear under their own names, as the type they point at). */
  readdir(path: string): DirEntry[] {
    this.assertMounted();
    const dir = this.resolve(path, true);
    if (dir.type !== ObjectType.directory) throw new Yaffs2Error('ENOTDIR', `${path}: not a directory`);
    const out: DirEntry[] = [];
    for (const [name, id] of dir.children!) {
      const o = this.objects.get(id);
      if (!o) continue;
      if (id === OBJECT_ID_LOST_AND_FOUND && o.children!.size === 0) continue; // shown only when it holds something
      const t = o.type === ObjectType.hardlink ? this.objects.get(o.equivId) : o;
      out.push({ name, id, type: typeName(t ? t.type : o.type) });
    }
    out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return out;
  }

  /** Opens (or creates) a file; returns a handle for read/write/close. */
  open(path: string, options: OpenOptions = {}): number {
    this.assertMounted();
    const wantsWrite = options.write ?? (options.create || options.truncate || options.append || false);
    let o: YObject;
    try {
      o = this.target(this.resolve(path, true));
      if (options.create && options.exclusive) throw new Yaffs2Error('EEXIST', `${path}: exists`);
    } catch (e) {
      if (!(e instanceof Yaffs2Error) || e.code !== 'ENOENT' || !options.create) throw e;
      this.ensureWritable();
      this.checkGc();
      const { dir, name } = this.resolveParent(path);
      if (dir.children!.has(name)) throw e;
      if (!this.hasSpaceFor(1)) throw new Yaffs2Error('ENOSPC', `${path}: no space for a header`);
      o = this.newObject(ObjectType.file, dir, name, S_IFREG | ((options.mode ?? 0o644) & 0o7777));
      this.addObject(o, dir);
    }
    if (o.type === ObjectType.directory) {
      if (wantsWrite) throw new Yaffs2Error('EISDIR', `${path}: is a directory`);
    } else if (o.type !== ObjectType.file) {
      throw new Yaffs2Error('EINVAL', `${path}: not a regular file`);
    }
    if (wantsWrite) this.ensureWritable();
    if (options.truncate && o.size > 0) this.truncateObject(o, 0);
    const handle = this.nextHandle++;
    this.handles.set(handle, { objectId: o.id, write: wantsWrite, append: options.append ?? false });
    return handle;
  }

  private handle(fd: number): { h: OpenHandle; o: YObject } {
    this.assertMounted();
    const h = this.handles.get(fd);
    if (!h) throw new Yaffs2Error('EBADF', `handle ${fd} is not open`);
    const o = this.objects.get(h.objectId);
    if (!o) throw new Yaffs2Error('EBADF', `handle ${fd}: its file was deleted`);
    return { h, o };
  }

  /** Reads up to `length` bytes at `position`; returns the bytes read (short at end of file). */
  read(fd: number, position: number, length: number): Uint8Array {
    const { o } = this.handle(fd);
    if (o.type === ObjectType.directory) throw new Yaffs2Error('EISDIR', 'read of a directory');
    return this.readObject(o, position, length);
  }

  private readObject(o: YObject, position: number, length: number): Uint8Array {
    if (!(position >= 0) || !(length >= 0) || !Number.isSafeInteger(position) || !Number.isSafeInteger(length)) {
      throw new Yaffs2Error('EINVAL', `bad read range ${position}+${length}`);
    }
    const end = Math.min(o.size, position + length);
    if (end <= position) return new Uint8Array(0);
    const out = new Uint8Array(end - position);
    const cs = this.chunkSize;
    const buf = this.pageBuffer;
    let at = position;
    while (at < end) {
      const k = Math.floor(at / cs) + 1;
      const inChunk = at - (k - 1) * cs;
      const n = Math.min(cs - inChunk, end - at);
      this.readFileChunk(o, k, buf);
      out.set(buf.subarray(inChunk, inChunk + n), at - position);
      at += n;
    }
    return out;
  }

  /** Writes `data` at `position` (holes read as zeros). Returns bytes written. */
  write(fd: number, data: Uint8Array, position?: number): number {
    const { h, o } = this.handle(fd);
    if (!h.write) throw new Yaffs2Error('EBADF', `handle ${fd} is read-only`);
    const pos = h.append ? o.size : (position ?? o.size);
    this.writeObject(o, pos, data);
    return data.length;
  }

  private writeObject(o: YObject, position: number, data: Uint8Array): void {
    if (!(position >= 0) || !Number.isSafeInteger(position)) throw new Yaffs2Error('EINVAL', `bad write position ${position}`);
    this.ensureWritable();
    const cs = this.chunkSize;
    const end = position + data.length;
    const newSize = Math.max(o.size, end);
    let at = position;
    const buf = new Uint8Array(cs);
    while (at < end) {
      this.checkGc();
      const k = Math.floor(at / cs) + 1;
      const start = (k - 1) * cs;
      const inChunk = at - start;
      const n = Math.min(cs - inChunk, end - at);
      const existing = k <= o.chunks.length && o.chunks[k - 1]! >= 0;
      if ((inChunk !== 0 || n !== cs) && existing) this.readFileChunk(o, k, buf);
      else buf.fill(0);
      buf.set(data.subarray(at - position, at - position + n), inChunk);
      const byteCount = Math.min(cs, newSize - start);
      if (byteCount < cs) buf.fill(0xff, byteCount); // as mkyaffs2image pads a short chunk
      if (!this.hasSpaceFor(1)) throw new Yaffs2Error('ENOSPC', `no space to write chunk ${k} of object ${o.id}`);
      const page = this.writeNewChunk(buf, o.id, k, byteCount, null, false);
      this.setChunk(o, k, page);
      at += n;
      if (at > o.size) o.size = at;
    }
    o.mtime = this.now();
    o.headerDirty = true;
  }

  /** Programs the file's header (size, times) if it changed. */
  fsync(fd: number): void {
    const { o } = this.handle(fd);
    if (o.headerDirty && !this.readOnly) {
      this.ensureWritable();
      this.writeHeader(o, false, 0);
    }
  }

  close(fd: number): void {
    const h = this.handles.get(fd);
    if (!h) throw new Yaffs2Error('EBADF', `handle ${fd} is not open`);
    const o = this.objects.get(h.objectId);
    if (o && o.headerDirty && h.write && !this.readOnly) {
      this.ensureWritable();
      this.writeHeader(o, false, 0);
    }
    this.handles.delete(fd);
  }

  /** Whole-file helpers. */
  readFile(path: string): Uint8Array {
    this.assertMounted();
    const o = this.target(this.resolve(path, true));
    if (o.type === ObjectType.directory) throw new Yaffs2Error('EISDIR', `${path}: is a directory`);
    if (o.type !== ObjectType.file) throw new Yaffs2Error('EINVAL', `${path}: not a regular file`);
    return this.readObject(o, 0, o.size);
  }

  writeFile(path: string, data: Uint8Array, mode = 0o644): void {
    const fd = this.open(path, { create: true, truncate: true, mode });
    try {
      this.write(fd, data, 0);
    } finally {
      this.close(fd);
    }
  }

  /** Sets a file's size: shrinking writes a shrink header; growing leaves a hole. */
  truncate(path: string, size: number): void {
    this.ensureWritable();
    this.checkGc();
    const o = this.target(this.resolve(path, true));
    if (o.type === ObjectType.directory) throw new Yaffs2Error('EISDIR', `${path}: is a directory`);
    if (o.type !== ObjectType.file) throw new Yaffs2Error('EINVAL', `${path}: not a regular file`);
    if (!(size >= 0) || !Number.isSafeInteger(size)) throw new Yaffs2Error('EINVAL', `bad size ${size}`);
    this.truncateObject(o, size);
  }

  private truncateObject(o: YObject, size: number): void {
    const cs = this.chunkSize;
    if (size < o.size) {
      // yaffs_resize_file_down: zero the tail of a partial last chunk, drop chunks past the
      // end, then write a shrink header so a scan also drops the older chunks.
      const partial = size % cs;
      const k = Math.floor(size / cs) + 1;
      if (partial !== 0 && k <= o.chunks.length && o.chunks[k - 1]! >= 0) {
        const buf = new Uint8Array(cs);
        this.readFileChunk(o, k, buf);
        buf.fill(0xff, partial);
        const page = this.writeNewChunk(buf, o.id, k, partial, null, true);
        this.setChunk(o, k, page);
      }
      this.pruneChunks(o, size);
      o.size = size;
      o.mtime = this.now();
      this.writeHeader(o, true, 0);
    } else if (size > o.size) {
      o.size = size;
      o.mtime = this.now();
      this.writeHeader(o, false, 0);
    }
  }

  /** Removes a file, symlink or hard link. */
  unlink(path: string): void {
    this.ensureWritable();
    this.checkGc();
    const o = this.resolve(path, false);
    if (o.type === ObjectType.directory) throw new Yaffs2Error('EISDIR', `${path}: is a directory (use rmdir)`);
    this.unlinkObject(o);
  }

  private unlinkObject(o: YObject): void {
    const dir = this.getObject(o.parentId);
    if (o.type === ObjectType.hardlink) {
      const t = this.objects.get(o.equivId);
      t?.links?.delete(o.id);
      dir.children!.delete(o.nameString);
      this.deleteObject(o);
      return;
    }
    if (o.type === ObjectType.file && o.links && o.links.size > 0) {
      // yaffs_unlink_file with hard links: the file takes the place of one of its links, in one
      // header program that shadows (replaces) the link object.
      const linkId = o.links.values().next().value as number;
      const link = this.getObject(linkId);
      const linkDir = this.getObject(link.parentId);
      o.links.delete(linkId);
      dir.children!.delete(o.nameString);
      o.parentId = link.parentId;
      o.name = link.name;
      o.nameString = link.nameString;
      this.writeHeader(o, false, link.id);
      linkDir.children!.set(o.nameString, o.id);
      this.deleteObject(link);
      return;
    }
    dir.children!.delete(o.nameString);
    this.deleteObject(o);
  }

  /**
   * Deletes an object: a tombstone header (parent "deleted", shrink flag, size 0) is programmed
   * first, then its chunks are let go; the tombstone's block is protected from early erase.
   */
  private deleteObject(o: YObject): void {
    o.parentId = OBJECT_ID_DELETED;
    o.name = encodeName('deleted');
    o.nameString = 'deleted';
    o.size = 0;
    this.writeHeader(o, true, 0);
    this.pruneChunks(o, 0);
    this.deleteChunk(o.headerPage);
    o.headerPage = -1;
    this.objects.delete(o.id);
  }

  rmdir(path: string): void {
    this.ensureWritable();
    this.checkGc();
    const o = this.resolve(path, false);
    if (o.type !== ObjectType.directory) throw new Yaffs2Error('ENOTDIR', `${path}: not a directory`);
    if (o.fake) throw new Yaffs2Error('EPERM', `${path}: cannot remove ${o.id === OBJECT_ID_ROOT ? 'the root' : 'lost+found'}`);
    if (o.children!.size > 0) throw new Yaffs2Error('ENOTEMPTY', `${path}: directory not empty`);
    this.getObject(o.parentId).children!.delete(o.nameString);
    this.deleteObject(o);
  }

  /**
   * Renames atomically: one header program moves the object; a replaced target is named in
   * that header's shadows field, so a scan after a cut drops it even before its tombstone.
   */
  rename(from: string, to: string): void {
    this.ensureWritable();
    this.checkGc();
    const o = this.resolve(from, false);
    if (o.fake) throw new Yaffs2Error('EPERM', `${from}: cannot rename`);
    const { dir, name } = this.resolveParent(to);
    // Moving a directory into its own subtree would detach it.
    if (o.type === ObjectType.directory) {
      let cur: YObject | undefined = dir;
      for (let guard = 0; cur && guard <= this.objects.size; guard++) {
        if (cur.id === o.id) throw new Yaffs2Error('EINVAL', `${to}: inside ${from}`);
        if (cur.id === OBJECT_ID_ROOT) break;
        cur = this.objects.get(cur.parentId);
      }
    }
    const existingId = dir.children!.get(name);
    let victim: YObject | null = null;
    if (existingId !== undefined) {
      if (existingId === o.id) return;
      victim = this.getObject(existingId);
      if (victim.type === ObjectType.directory) {
        if (o.type !== ObjectType.directory) throw new Yaffs2Error('EISDIR', `${to}: is a directory`);
        if (victim.children!.size > 0) throw new Yaffs2Error('ENOTEMPTY', `${to}: directory not empty`);
      } else if (o.type === ObjectType.directory) {
        throw new Yaffs2Error('ENOTDIR', `${to}: not a directory`);
      }
      if (victim.type === ObjectType.file && victim.links && victim.links.size > 0) victim = null; // handled by unlink below
    }
    if (existingId !== undefined && victim === null) {
      // The target has hard links: unlink it the ordinary way first (it survives under a link name).
      this.unlinkObject(this.getObject(existingId));
    }
    const oldDir = this.getObject(o.parentId);
    oldDir.children!.delete(o.nameString);
    if (victim) dir.children!.delete(victim.nameString);
    o.parentId = dir.id;
    o.name = encodeName(name);
    o.nameString = name;
    o.ctime = this.now();
    this.writeHeader(o, false, victim ? victim.id : 0);
    dir.children!.set(name, o.id);
    if (victim) {
      if (victim.type === ObjectType.hardlink) this.objects.get(victim.equivId)?.links?.delete(victim.id);
      this.deleteObject(victim);
    }
  }

  symlink(target: string, path: string): void {
    this.ensureWritable();
    this.checkGc();
    const alias = encodeName(target);
    if (alias.length > MAX_ALIAS_BYTES) throw new Yaffs2Error('ENAMETOOLONG', `symlink target over ${MAX_ALIAS_BYTES} bytes`);
    const { dir, name } = this.resolveParent(path);
    if (dir.children!.has(name)) throw new Yaffs2Error('EEXIST', `${path}: exists`);
    const o = this.newObject(ObjectType.symlink, dir, name, S_IFLNK | 0o777);
    o.alias = alias;
    this.addObject(o, dir);
  }

  readlink(path: string): string {
    this.assertMounted();
    const o = this.resolve(path, false);
    if (o.type !== ObjectType.symlink) throw new Yaffs2Error('EINVAL', `${path}: not a symbolic link`);
    return decodeName(o.alias);
  }

  /** Hard link: `newPath` becomes another name of the file at `existing`. */
  link(existing: string, newPath: string): void {
    this.ensureWritable();
    this.checkGc();
    const t = this.target(this.resolve(existing, false));
    if (t.type !== ObjectType.file) throw new Yaffs2Error('EPERM', `${existing}: only regular files can be hard-linked`);
    const { dir, name } = this.resolveParent(newPath);
    if (dir.children!.has(name)) throw new Yaffs2Error('EEXIST', `${newPath}: exists`);
    const o = this.newObject(ObjectType.hardlink, dir, name, 0);
    o.equivId = t.id;
    this.addObject(o, dir);
    t.links!.add(o.id);
  }

  /**
   * Creates an object in mkyaffs2image order: its one header (with the final size and the
   * given attributes) first, then data chunks 1…n. Used by `import`, whose images must hold
   * exactly one header per object for unyaffs.
   */
  createObject(
    path: string,
    spec: {
      type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'special';
      mode?: number;
      uid?: number;
      gid?: number;
      atime?: number;
      mtime?: number;
      ctime?: number;
      rdev?: number;
      content?: Uint8Array;
      target?: string;
      linkTo?: string;
    },
  ): number {
    this.ensureWritable();
    this.checkGc();
    const { dir, name } = this.resolveParent(path);
    if (dir.children!.has(name)) throw new Yaffs2Error('EEXIST', `${path}: exists`);
    const typeCode = {
      file: ObjectType.file,
      directory: ObjectType.directory,
      symlink: ObjectType.symlink,
      hardlink: ObjectType.hardlink,
      special: ObjectType.special,
    }[spec.type];
    const defaultMode = { file: S_IFREG | 0o644, directory: S_IFDIR | 0o755, symlink: S_IFLNK | 0o777, hardlink: 0, special: 0 }[spec.type];
    const content = spec.content ?? new Uint8Array(0);
    const chunksNeeded = 1 + Math.ceil(content.length / this.chunkSize);
    if (!this.hasSpaceFor(chunksNeeded)) throw new Yaffs2Error('ENOSPC', `${path}: needs ${chunksNeeded} chunks`);
    const o = this.newObject(typeCode, dir, name, spec.mode ?? defaultMode);
    if (spec.uid !== undefined) o.uid = spec.uid >>> 0;
    if (spec.gid !== undefined) o.gid = spec.gid >>> 0;
    if (spec.atime !== undefined) o.atime = spec.atime >>> 0;
    if (spec.mtime !== undefined) o.mtime = spec.mtime >>> 0;
    if (spec.ctime !== undefined) o.ctime = spec.ctime >>> 0;
    if (spec.rdev !== undefined) o.rdev = spec.rdev >>> 0;
    let linkTarget: YObject | null = null;
    if (spec.type === 'symlink') {
      o.alias = encodeName(spec.target ?? '');
      if (o.alias.length > MAX_ALIAS_BYTES) throw new Yaffs2Error('ENAMETOOLONG', `${path}: symlink target over ${MAX_ALIAS_BYTES} bytes`);
    } else if (spec.type === 'hardlink') {
      linkTarget = this.target(this.resolve(spec.linkTo ?? '', false));
      if (linkTarget.type !== ObjectType.file) throw new Yaffs2Error('EPERM', `${path}: only regular files can be hard-linked`);
      o.equivId = linkTarget.id;
    } else if (spec.type === 'file') {
      o.size = content.length;
    }
    this.addObject(o, dir);
    linkTarget?.links!.add(o.id);
    if (spec.type === 'file' && content.length > 0) {
      const cs = this.chunkSize;
      const buf = new Uint8Array(cs);
      for (let k = 1, at = 0; at < content.length; k++, at += cs) {
        const n = Math.min(cs, content.length - at);
        buf.set(content.subarray(at, at + n));
        if (n < cs) buf.fill(0xff, n);
        const page = this.writeNewChunk(buf, o.id, k, n, null, false);
        this.setChunk(o, k, page);
      }
    }
    return o.id;
  }

  /** Creates a special file (device node, FIFO, socket) as mkyaffs2image does. */
  mknod(path: string, mode: number, rdev = 0): void {
    this.ensureWritable();
    const { dir, name } = this.resolveParent(path);
    if (dir.children!.has(name)) throw new Yaffs2Error('EEXIST', `${path}: exists`);
    const o = this.newObject(ObjectType.special, dir, name, mode);
    o.rdev = rdev;
    this.addObject(o, dir);
  }

  /** Sets mode bits, owner and times of an object (one header program). */
  setAttributes(
    path: string,
    attrs: { mode?: number; uid?: number; gid?: number; atime?: number; mtime?: number; ctime?: number },
  ): void {
    this.ensureWritable();
    const o = this.target(this.resolve(path, false));
    if (attrs.mode !== undefined) o.mode = (o.mode & S_IFMT) | (attrs.mode & 0o7777);
    if (attrs.uid !== undefined) o.uid = attrs.uid >>> 0;
    if (attrs.gid !== undefined) o.gid = attrs.gid >>> 0;
    if (attrs.atime !== undefined) o.atime = attrs.atime >>> 0;
    if (attrs.mtime !== undefined) o.mtime = attrs.mtime >>> 0;
    if (attrs.ctime !== undefined) o.ctime = attrs.ctime >>> 0;
    if (o.fake) return; // root and lost+found are never written (mkyaffs2image does not write them)
    this.writeHeader(o, false, 0);
  }

  stat(path: string): Stat {
    this.assertMounted();
    return this.statOf(this.target(this.resolve(path, true)));
  }

  lstat(path: string): Stat {
    this.assertMounted();
    const o = this.resolve(path, false);
    return this.statOf(o.type === ObjectType.hardlink ? this.target(o) : o);
  }

  private statOf(o: YObject): Stat {
    return {
      id: o.id,
      type: typeName(o.type),
      mode: o.mode,
      uid: o.uid,
      gid: o.gid,
      size: o.type === ObjectType.file ? o.size : o.type === ObjectType.symlink ? o.alias.length : 0,
      atime: o.atime,
      mtime: o.mtime,
      ctime: o.ctime,
      rdev: o.rdev,
      nlink: o.type === ObjectType.file ? 1 + (o.links?.size ?? 0) : 1,
    };
  }

  statfs(): StatFs {
    this.assertMounted();
    const usable = this.usableBlockCount();
    const reserved = this.reservedBlocks + this.checkpointBlocksRequired();
    const free = this.freeChunkCount();
    return {
      chunkSize: this.chunkSize,
      chunksPerBlock: this.pagesPerBlock,
      totalBlocks: this.blockCount,
      usableBlocks: usable,
      erasedBlocks: this.erasedBlockCount(),
      reservedBlocks: this.reservedBlocks,
      freeChunks: free,
      freeBytes: Math.max(0, free - reserved * this.pagesPerBlock - 1) * this.chunkSize,
      totalBytes: Math.max(0, usable - reserved) * this.pagesPerBlock * this.chunkSize,
    };
  }

  /** Block states, erase counts and object counts, for `yaffs2 info`. */
  info(): {
    layout: SpareLayoutName;
    objects: number;
    files: number;
    directories: number;
    symlinks: number;
    hardlinks: number;
    blocksByState: Record<string, number>;
    eraseCounts: { min: number; max: number; mean: number };
    sequenceNumber: number;
  } {
    const blocksByState: Record<string, number> = { empty: 0, allocating: 0, full: 0, checkpoint: 0, dead: 0 };
    let min = Infinity;
    let max = 0;
    let sum = 0;
    for (let b = 0; b < this.blockCount; b++) {
      const name = BLOCK_STATE_NAMES[this.blockState[b]!] ?? 'unknown';
      blocksByState[name] = (blocksByState[name] ?? 0) + 1;
      const e = this.device.eraseCount(b);
      min = Math.min(min, e);
      max = Math.max(max, e);
      sum += e;
    }
    let files = 0;
    let directories = 0;
    let symlinks = 0;
    let hardlinks = 0;
    for (const o of this.objects.values()) {
      if (o.fake) continue;
      if (o.type === ObjectType.file) files++;
      else if (o.type === ObjectType.directory) directories++;
      else if (o.type === ObjectType.symlink) symlinks++;
      else if (o.type === ObjectType.hardlink) hardlinks++;
    }
    return {
      layout: this.layout.name,
      objects: this.objects.size - 2,
      files,
      directories,
      symlinks,
      hardlinks,
      blocksByState,
      eraseCounts: { min: this.blockCount ? min : 0, max, mean: this.blockCount ? sum / this.blockCount : 0 },
      sequenceNumber: this.sequenceNumber,
    };
  }

  /**
   * One block's allocation facts (upstream's yaffs_block_info): state name, sequence number,
   * chunks written since its erase, chunks still live, and its erase count. "dirty" is not a
   * state of its own: a full block with live < written holds stale chunks that GC can reclaim.
   */
  blockInfo(block: number): BlockInfo {
    if (!Number.isInteger(block) || block < 0 || block >= this.blockCount) {
      throw new Yaffs2Error('EINVAL', `block ${block} is outside 0..${this.blockCount - 1}`);
    }
    return {
      block,
      state: BLOCK_STATE_NAMES[this.blockState[block]!] ?? 'unknown',
      sequence: this.blockSequence[block]!,
      pagesWritten: this.blockWritten[block]!,
      pagesLive: this.blockLive[block]!,
      eraseCount: this.device.eraseCount(block),
      bad: this.device.isBad(block),
    };
  }

  /** Programs every pending header, then the checkpoint, then syncs the device. */
  sync(): void {
    this.assertMounted();
    if (this.readOnly) return;
    for (const o of this.objects.values()) {
      if (o.headerDirty && !o.fake) {
        this.ensureWritable();
        this.writeHeader(o, false, 0);
      }
    }
    if (this.useCheckpoint && !this.checkpointValid) this.writeCheckpoint();
    this.device.sync();
  }

  /** Syncs (writing the checkpoint) and detaches from the device; the device stays open. */
  unmount(): void {
    if (!this.mounted) return;
    this.sync();
    this.handles.clear();
    this.mounted = false;
  }

  get isMounted(): boolean {
    return this.mounted;
  }

  // ================================================================== consistency check

  /**
   * Checks the in-memory structures against the flash: every live chunk's tags name its owner,
   * block live counts add up, the tree is connected. Returns a list of problems (empty: clean).
   */
  check(): string[] {
    this.assertMounted();
    const problems: string[] = [];
    const counted = new Uint32Array(this.blockCount);
    const tags = emptyTags();
    const verifyPage = (page: number, id: number, chunkId: number, what: string): void => {
      counted[this.blockOf(page)]!++;
      if (!this.chunkLive[page]) problems.push(`${what}: page ${page} is not marked live`);
      const data = new Uint8Array(this.chunkSize);
      if (!this.readChunk(page, data, tags)) {
        problems.push(`${what}: page ${page} is unreadable (ECC)`);
        return;
      }
      if (tags.objectId !== id || tags.chunkId !== chunkId) {
        problems.push(`${what}: page ${page} holds object ${tags.objectId} chunk ${tags.chunkId}`);
      }
    };
    for (const o of this.objects.values()) {
      if (o.fake) continue;
      if (o.headerPage >= 0) verifyPage(o.headerPage, o.id, 0, `object ${o.id} header`);
      else problems.push(`object ${o.id} has no header`);
      if (!this.objects.has(o.parentId)) problems.push(`object ${o.id}: parent ${o.parentId} missing`);
      for (let k = 1; k <= o.chunks.length; k++) {
        const p = o.chunks[k - 1]!;
        if (p >= 0) verifyPage(p, o.id, k, `object ${o.id} chunk ${k}`);
      }
      if (o.type === ObjectType.hardlink && !this.objects.has(o.equivId)) problems.push(`hard link ${o.id}: target ${o.equivId} missing`);
    }
    for (let b = 0; b < this.blockCount; b++) {
      if (counted[b] !== this.blockLive[b]) problems.push(`block ${b}: ${this.blockLive[b]} live chunks counted, ${counted[b]} found`);
    }
    return problems;
  }

  // ================================================================== mount scan

  /**
   * The yaffs2 backward scan: blocks sorted by sequence number, newest first, pages last to
   * first; the first copy seen of (object, chunk) wins. Shrink headers drop older chunks past
   * their size; shadowing headers delete the object they replace; tombstones (parent deleted
   * or unlinked) delete the object. Objects without any header are dropped.
   */
  private scan(): void {
    const ppb = this.pagesPerBlock;
    const spare = new Uint8Array(this.device.geometry.spareSize);
    const tags = emptyTags();
    const order: number[] = [];
    let maxSequence = LOWEST_SEQUENCE_NUMBER - 1;
    for (let b = 0; b < this.blockCount; b++) {
      if (this.device.isBad(b)) {
        this.blockState[b] = BlockState.dead;
        continue;
      }
      // Classify by the first page that is not fully erased.
      let sequence = -1;
      let anyProgrammed = false;
      for (let i = 0; i < ppb; i++) {
        this.device.readPage(b * ppb + i, undefined, spare);
        let erased = true;
        for (let j = 0; j < spare.length; j++) {
          if (spare[j] !== 0xff) {
            erased = false;
            break;
          }
        }
        if (erased) continue;
        anyProgrammed = true;
        if (sequence < 0) {
          readTagsFromSpare(spare, this.layout, tags);
          if (!tags.erased && tags.eccResult !== 'unfixed') sequence = tags.sequenceNumber;
        }
      }
      if (!anyProgrammed) {
        this.blockState[b] = BlockState.empty;
        // Safe to program only if a torn erase left no zero bits in the data area: we cannot
        // tell from the spare alone, so the first use erases it again.
        this.blockEraseBeforeUse[b] = 1;
        continue;
      }
      this.blockWritten[b] = ppb;
      if (sequence === SEQUENCE_CHECKPOINT_DATA) {
        this.blockState[b] = BlockState.checkpoint;
        continue;
      }
      this.blockState[b] = BlockState.full;
      if (sequence >= LOWEST_SEQUENCE_NUMBER && sequence <= HIGHEST_SEQUENCE_NUMBER) {
        this.blockSequence[b] = sequence;
        if (sequence > maxSequence) maxSequence = sequence;
        order.push(b);
      } else {
        this.blockSequence[b] = 0; // garbage only: reclaimed by GC
      }
    }
    // Newest first; equal numbers (every block of a mkyaffs2image image has 0x1000): the later
    // block is newer.
    order.sort((a, b) => this.blockSequence[b]! - this.blockSequence[a]! || b - a);
    this.sequenceNumber = maxSequence;

    const scanObjects = new Map<number, ScanObject>();
    const getScan = (id: number): ScanObject => {
      let s = scanObjects.get(id);
      if (!s) {
        s = { id, header: null, headerType: 0, headerPage: -1, deleted: false, shrinkSize: Infinity, scannedSize: 0, chunks: new Map() };
        scanObjects.set(id, s);
      }
      return s;
    };
    const data = new Uint8Array(this.chunkSize);
    const cs = this.chunkSize;
    for (const b of order) {
      for (let i = ppb - 1; i >= 0; i--) {
        const page = b * ppb + i;
        this.device.readPage(page, undefined, spare);
        readTagsFromSpare(spare, this.layout, tags);
        if (tags.erased) continue;
        if (tags.eccResult === 'unfixed') {
          this.stats.tagEccUncorrectable++;
          continue;
        }
        if (tags.eccResult === 'fixed') {
          this.stats.tagEccCorrected++;
          this.strike(b);
        }
        if (tags.sequenceNumber !== this.blockSequence[b]) continue; // not from this block's life
        const id = tags.objectId;
        if (id < 1 || id >= OBJECT_ID_LIMIT || id === OBJECT_ID_UNLINKED || id === OBJECT_ID_DELETED) continue;
        if (tags.chunkId === 0) {
          const s = getScan(id);
          const shrinkFromTags = tags.extraAvailable && tags.extraIsShrink;
          if (s.header || s.deleted) {
            // An older header: only its shrink mark matters (older chunks past its size are gone).
            if (shrinkFromTags || tags.extraAvailable) {
              if (shrinkFromTags) s.shrinkSize = Math.min(s.shrinkSize, tags.extraFileSizeOrEquiv);
            } else {
              if (!this.readChunk(page, data, this.tagsScratch)) continue;
              const h = decodeHeader(data);
              if (h.isShrink) s.shrinkSize = Math.min(s.shrinkSize, h.fileSize);
            }
            continue;
          }
          if (!this.readChunk(page, data, this.tagsScratch)) continue;
          const h = decodeHeader(data);
          const type = tags.extraAvailable ? tags.extraObjectType : h.type;
          if (type < ObjectType.file || type > ObjectType.special || h.type !== type) continue;
          if (id === OBJECT_ID_ROOT || id === OBJECT_ID_LOST_AND_FOUND) {
            // A written root/lost+found header (Linux writes one after chmod): take its attributes.
            s.header = h;
            s.headerType = type;
            s.headerPage = page;
            continue;
          }
          const isShrink = shrinkFromTags || h.isShrink;
          if (isShrink) {
            s.shrinkSize = Math.min(s.shrinkSize, h.fileSize);
            this.blockProtected[b] = 1;
          }
          if (h.shadows > 0) {
            this.blockProtected[b] = 1;
            const shadowed = getScan(h.shadows);
            if (!shadowed.header) shadowed.deleted = true;
          }
          if (h.parentId === OBJECT_ID_DELETED || h.parentId === OBJECT_ID_UNLINKED) {
            s.deleted = true;
            s.shrinkSize = 0;
            continue;
          }
          s.header = h;
          s.headerType = type;
          s.headerPage = page;
        } else {
          const s = getScan(id);
          if (s.deleted) continue;
          const k = tags.chunkId;
          if (k > 0x7fffffff || s.chunks.has(k)) continue;
          const start = (k - 1) * cs;
          if (start >= s.shrinkSize) continue;
          const endPos = Math.min(start + Math.min(tags.byteCount, cs), s.shrinkSize);
          s.chunks.set(k, page);
          if (endPos > s.scannedSize) s.scannedSize = endPos;
        }
      }
    }

    // Build objects.
    const t0 = 0;
    for (const s of scanObjects.values()) {
      if (s.deleted || !s.header) continue;
      const h = s.header;
      if (s.id === OBJECT_ID_ROOT || s.id === OBJECT_ID_LOST_AND_FOUND) {
        const fake = this.objects.get(s.id)!;
        fake.mode = h.mode;
        fake.uid = h.uid;
        fake.gid = h.gid;
        fake.atime = h.atime;
        fake.mtime = h.mtime;
        fake.ctime = h.ctime;
        fake.headerPage = s.headerPage;
        this.markLive(s.headerPage);
        continue;
      }
      const nameString = decodeName(h.name);
      const o: YObject = {
        id: s.id,
        type: s.headerType,
        parentId: h.parentId,
        name: h.name,
        nameString,
        mode: h.mode === 0xffffffff ? t0 : h.mode,
        uid: h.uid === 0xffffffff ? 0 : h.uid,
        gid: h.gid === 0xffffffff ? 0 : h.gid,
        atime: h.atime === 0xffffffff ? 0 : h.atime,
        mtime: h.mtime === 0xffffffff ? 0 : h.mtime,
        ctime: h.ctime === 0xffffffff ? 0 : h.ctime,
        rdev: h.rdev === 0xffffffff ? 0 : h.rdev,
        size: 0,
        equivId: h.equivId,
        alias: h.alias,
        headerPage: s.headerPage,
        chunks: new Int32Array(0),
        children: s.headerType === ObjectType.directory ? new Map() : null,
        links: s.headerType === ObjectType.file ? new Set() : null,
        headerDirty: false,
        fake: false,
      };
      if (o.type === ObjectType.file) {
        o.size = Math.max(h.fileSize === 0xffffffff ? 0 : h.fileSize, s.scannedSize);
        let maxK = 0;
        for (const k of s.chunks.keys()) if (k > maxK) maxK = k;
        const keep = Math.ceil(o.size / cs);
        o.chunks = new Int32Array(Math.min(maxK, keep)).fill(-1);
        for (const [k, page] of s.chunks) {
          if (k <= o.chunks.length) {
            o.chunks[k - 1] = page;
            this.markLive(page);
          }
        }
      } else if (o.type === ObjectType.hardlink) {
        o.mode = 0;
      }
      if (o.name.length === 0 || nameString.includes('/') || nameString === '.' || nameString === '..') {
        o.name = encodeName(`obj${o.id}`);
        o.nameString = `obj${o.id}`;
        o.parentId = OBJECT_ID_LOST_AND_FOUND;
      }
      this.objects.set(o.id, o);
      this.markLive(s.headerPage);
    }
    // Never hand out an id seen on flash, deleted ones included (their tombstones may remain).
    for (const id of scanObjects.keys()) {
      if (id >= this.nextObjectId && id + 1 < OBJECT_ID_LIMIT) this.nextObjectId = id + 1;
    }
    this.linkTree();
    this.allocBlock = -1; // the newest block may end in a torn page: never program into it again
  }

  private markLive(page: number): void {
    if (page < 0 || this.chunkLive[page]) return;
    this.chunkLive[page] = 1;
    this.blockLive[this.blockOf(page)]!++;
    this.liveChunks++;
  }

  /**
   * Hooks every object into its parent directory (yaffs_fix_hanging_objs): a missing or
   * non-directory parent, a parent loop or a duplicate name sends the object to lost+found.
   * Hard links without a file to point at are dropped.
   */
  private linkTree(): void {
    const lostAndFound = this.getObject(OBJECT_ID_LOST_AND_FOUND);
    const limit = this.objects.size + 2;
    const toLost = (o: YObject): void => {
      o.parentId = OBJECT_ID_LOST_AND_FOUND;
      let name = `obj${o.id}`;
      if (lostAndFound.children!.has(name)) name = `obj${o.id}-${lostAndFound.children!.size}`;
      o.name = encodeName(name);
      o.nameString = name;
      lostAndFound.children!.set(name, o.id);
    };
    const ids = [...this.objects.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      const o = this.objects.get(id)!;
      if (o.fake) continue;
      if (o.type === ObjectType.hardlink) {
        const t = this.objects.get(o.equivId);
        if (!t || t.type !== ObjectType.file) {
          this.deleteChunk(o.headerPage);
          this.objects.delete(id);
          continue;
        }
        t.links!.add(o.id);
      }
      const parent = this.objects.get(o.parentId);
      let ok = parent !== undefined && parent.type === ObjectType.directory && o.parentId !== o.id;
      if (ok) {
        // Bounded walk up the parent chain: a loop never reaches the root.
        let cur: YObject | undefined = parent;
        let steps = 0;
        while (cur && cur.id !== OBJECT_ID_ROOT && steps <= limit) {
          cur = this.objects.get(cur.parentId);
          steps++;
          if (cur && cur.id === o.id) {
            cur = undefined;
            break;
          }
        }
        ok = cur !== undefined && cur.id === OBJECT_ID_ROOT;
      }
      if (!ok) {
        toLost(o);
        continue;
      }
      if (parent!.children!.has(o.nameString)) {
        toLost(o);
        continue;
      }
      parent!.children!.set(o.nameString, o.id);
    }
  }

  // ================================================================== checkpoint

  /**
   * Checkpoint stream (this project's format, carried in upstream's checkpoint chunks):
   *   u32 magic 0x5941FF53, u32 version 0x46440001, u32 blocks, u32 pages per block,
   *   u32 sequence number, u32 next object id, i32 alloc block, u32 alloc page,
   *   per block: u8 state, u32 sequence, u16 written, u8 flags (1 protected, 2 retire,
   *     4 erase-before-use), u8 ECC strikes,
   *   u32 object count, per object: u32 id, u8 type, u32 parent, u16 name length + bytes,
   *     u32 mode, uid, gid, atime, mtime, ctime, rdev, f64 size, u32 equiv id,
   *     u16 alias length + bytes, i32 header page, u32 chunk count + i32 page per chunk,
   *   u32 end magic 0x53FF4159, u32 CRC-32 of everything before it.
   * Each checkpoint chunk: tags seq 0x21, obj id = next-block hint, chunk id = page number + 1,
   * byte count = chunk size; data starts with u32 version, u32 page number, u32 byte sum,
   * u32 byte xor of the stream so far (yaffs_checkpt_chunk_hdr), then stream bytes.
   */
  private buildCheckpointStream(): Uint8Array {
    const w = new StreamWriter();
    w.u32(CHECKPOINT_MAGIC);
    w.u32(CHECKPOINT_FORMAT_VERSION);
    w.u32(this.blockCount);
    w.u32(this.pagesPerBlock);
    w.u32(this.sequenceNumber);
    w.u32(this.nextObjectId);
    w.i32(this.allocBlock);
    w.u32(this.allocPage);
    for (let b = 0; b < this.blockCount; b++) {
      w.u8(this.blockState[b]!);
      w.u32(this.blockSequence[b]!);
      w.u16(this.blockWritten[b]!);
      w.u8((this.blockProtected[b] ? 1 : 0) | (this.blockNeedsRetiring[b] ? 2 : 0) | (this.blockEraseBeforeUse[b] ? 4 : 0));
      w.u8(this.blockEccStrikes[b]!);
    }
    const list = [...this.objects.values()];
    w.u32(list.length);
    for (const o of list) {
      w.u32(o.id);
      w.u8(o.type);
      w.u32(o.parentId);
      w.u16(o.name.length);
      w.bytes(o.name);
      for (const v of [o.mode, o.uid, o.gid, o.atime, o.mtime, o.ctime, o.rdev]) w.u32(v);
      w.f64(o.size);
      w.u32(o.equivId);
      w.u16(o.alias.length);
      w.bytes(o.alias);
      w.i32(o.headerPage);
      let n = o.chunks.length;
      while (n > 0 && o.chunks[n - 1]! < 0) n--;
      w.u32(n);
      for (let k = 0; k < n; k++) w.i32(o.chunks[k]!);
    }
    w.u32(CHECKPOINT_END_MAGIC);
    const body = w.finish();
    const out = new Uint8Array(body.length + 4);
    out.set(body);
    new DataView(out.buffer).setUint32(body.length, crc32(body), true);
    return out;
  }

  private writeCheckpoint(): void {
    // Old checkpoint blocks are stale: erase them first (ensureWritable did when anything changed).
    for (let b = 0; b < this.blockCount; b++) if (this.blockState[b] === BlockState.checkpoint) this.eraseBlockNow(b);
    const stream = this.buildCheckpointStream();
    const perChunk = this.chunkSize - CHECKPOINT_CHUNK_HEADER;
    const chunksNeeded = Math.ceil(stream.length / perChunk);
    const blocksNeeded = Math.ceil(chunksNeeded / this.pagesPerBlock);
    // yaffs2_checkpt_space_ok: only from erased blocks beyond the reserve.
    if (this.erasedBlockCount() - this.reservedBlocks < blocksNeeded) return;
    const blocks: number[] = [];
    for (let b = 0; b < this.blockCount && blocks.length < blocksNeeded; b++) {
      if (this.blockState[b] === BlockState.empty) blocks.push(b);
    }
    const chunk = new Uint8Array(this.chunkSize);
    const spare = new Uint8Array(this.device.geometry.spareSize);
    let sum = 0;
    let xor = 0;
    let offset = 0;
    for (let c = 0; c < chunksNeeded; c++) {
      const blockIndex = Math.floor(c / this.pagesPerBlock);
      const block = blocks[blockIndex]!;
      const inBlock = c % this.pagesPerBlock;
      if (inBlock === 0) {
        if (this.blockEraseBeforeUse[block] && !this.eraseBlockNow(block)) return;
        this.blockState[block] = BlockState.checkpoint;
      }
      chunk.fill(0);
      const view = new DataView(chunk.buffer);
      view.setUint32(0, CHECKPOINT_FORMAT_VERSION, true);
      view.setUint32(4, c, true);
      view.setUint32(8, sum >>> 0, true);
      view.setUint32(12, xor, true);
      const n = Math.min(perChunk, stream.length - offset);
      chunk.set(stream.subarray(offset, offset + n), CHECKPOINT_CHUNK_HEADER);
      for (let i = offset; i < offset + n; i++) {
        sum = (sum + stream[i]!) >>> 0;
        xor ^= stream[i]!;
      }
      offset += n;
      spare.fill(0xff);
      const nextHint = blocks[blockIndex + 1] ?? 0;
      packTags(spare, this.layout.tagsOffset, SEQUENCE_CHECKPOINT_DATA, nextHint, c + 1, this.chunkSize, null);
      if (this.layout.dataEccOffset !== null) {
        for (let s = 0; s < this.chunkSize / 256; s++) hammingEcc.encode(chunk, s * 256, spare, this.layout.dataEccOffset + s * 3);
      }
      try {
        this.device.programPage(block * this.pagesPerBlock + inBlock, chunk, spare);
      } catch (e) {
        if (isNandError(e, 'PROGRAM_FAILED')) {
          this.markForRetirement(block);
          return; // no checkpoint this time; the next mount scans
        }
        throw e;
      }
    }
    this.checkpointValid = true;
    this.stats.checkpointsWritten++;
  }

  private tryLoadCheckpoint(): boolean {
    const ppb = this.pagesPerBlock;
    const spare = new Uint8Array(this.device.geometry.spareSize);
    const tags = emptyTags();
    const blocks: number[] = [];
    for (let b = 0; b < this.blockCount; b++) {
      if (this.device.isBad(b)) continue;
      this.device.readPage(b * ppb, undefined, spare);
      readTagsFromSpare(spare, this.layout, tags);
      if (!tags.erased && tags.eccResult !== 'unfixed' && tags.sequenceNumber === SEQUENCE_CHECKPOINT_DATA) blocks.push(b);
    }
    if (blocks.length === 0) return false;
    const pieces: Uint8Array[] = [];
    const chunk = new Uint8Array(this.chunkSize);
    let pageNumber = 0;
    let total = 0;
    let sum = 0;
    let xor = 0;
    outer: for (const b of blocks) {
      for (let i = 0; i < ppb; i++) {
        if (!this.readChunk(b * ppb + i, chunk, tags)) return false;
        if (tags.erased) break outer;
        if (tags.sequenceNumber !== SEQUENCE_CHECKPOINT_DATA || tags.chunkId !== pageNumber + 1) return false;
        const view = new DataView(chunk.buffer);
        if (view.getUint32(0, true) !== CHECKPOINT_FORMAT_VERSION || view.getUint32(4, true) !== pageNumber) return false;
        if (view.getUint32(8, true) !== sum || view.getUint32(12, true) !== xor) return false;
        const piece = chunk.slice(CHECKPOINT_CHUNK_HEADER);
        for (const v of piece) {
          sum = (sum + v) >>> 0;
          xor ^= v;
        }
        pieces.push(piece);
        total += piece.length;
        pageNumber++;
        if (pageNumber === 1 && new DataView(piece.buffer).getUint32(0, true) !== CHECKPOINT_MAGIC) return false;
      }
    }
    const stream = concat(pieces, total);
    try {
      return this.applyCheckpoint(stream, blocks);
    } catch (e) {
      if (e instanceof Yaffs2Error) {
        this.resetState();
        return false;
      }
      throw e;
    }
  }

  private resetState(): void {
    this.blockState.fill(0);
    this.blockSequence.fill(0);
    this.blockLive.fill(0);
    this.blockWritten.fill(0);
    this.blockProtected.fill(0);
    this.blockNeedsRetiring.fill(0);
    this.blockEccStrikes.fill(0);
    this.blockEraseBeforeUse.fill(0);
    this.chunkLive.fill(0);
    this.liveChunks = 0;
    this.allocBlock = -1;
    this.allocPage = 0;
    this.makeFakeDirectories();
  }

  private applyCheckpoint(stream: Uint8Array, checkpointBlocks: number[]): boolean {
    const r = new StreamReader(stream);
    const bad = (why: string): never => {
      throw new Yaffs2Error('CORRUPT_IMAGE', `checkpoint: ${why}`);
    };
    if (r.u32() !== CHECKPOINT_MAGIC || r.u32() !== CHECKPOINT_FORMAT_VERSION) bad('bad marker');
    if (r.u32() !== this.blockCount || r.u32() !== this.pagesPerBlock) bad('geometry differs');
    this.sequenceNumber = r.u32();
    this.nextObjectId = r.u32();
    this.allocBlock = r.i32();
    this.allocPage = r.u32();
    for (let b = 0; b < this.blockCount; b++) {
      this.blockState[b] = r.u8();
      this.blockSequence[b] = r.u32();
      this.blockWritten[b] = r.u16();
      const flags = r.u8();
      this.blockProtected[b] = flags & 1;
      this.blockNeedsRetiring[b] = (flags >> 1) & 1;
      this.blockEraseBeforeUse[b] = (flags >> 2) & 1;
      this.blockEccStrikes[b] = r.u8();
      if (this.blockState[b]! < BlockState.empty || this.blockState[b]! > BlockState.dead) bad('bad block state');
    }
    const count = r.u32();
    if (count > OBJECT_ID_LIMIT) bad('object count');
    this.objects.clear();
    const totalPages = this.blockCount * this.pagesPerBlock;
    for (let i = 0; i < count; i++) {
      const id = r.u32();
      const type = r.u8();
      const parentId = r.u32();
      const name = r.bytesOf(r.u16());
      const [mode, uid, gid, atime, mtime, ctime, rdev] = [r.u32(), r.u32(), r.u32(), r.u32(), r.u32(), r.u32(), r.u32()];
      const size = r.f64();
      const equivId = r.u32();
      const alias = r.bytesOf(r.u16());
      const headerPage = r.i32();
      const n = r.u32();
      if (n > totalPages) bad('chunk count');
      const chunks = new Int32Array(n);
      for (let k = 0; k < n; k++) {
        const p = r.i32();
        if (p >= totalPages) bad('chunk page');
        chunks[k] = p;
      }
      if (headerPage >= totalPages) bad('header page');
      const fake = id === OBJECT_ID_ROOT || id === OBJECT_ID_LOST_AND_FOUND;
      this.objects.set(id, {
        id,
        type,
        parentId,
        name,
        nameString: decodeName(name),
        mode,
        uid,
        gid,
        atime,
        mtime,
        ctime,
        rdev,
        size,
        equivId,
        alias,
        headerPage,
        chunks,
        children: type === ObjectType.directory ? new Map() : null,
        links: type === ObjectType.file ? new Set() : null,
        headerDirty: false,
        fake,
      });
    }
    if (r.u32() !== CHECKPOINT_END_MAGIC) bad('missing end marker');
    const bodyEnd = r.offset;
    if (r.u32() !== crc32(stream, 0, bodyEnd)) bad('checksum mismatch');
    if (!this.objects.has(OBJECT_ID_ROOT) || !this.objects.has(OBJECT_ID_LOST_AND_FOUND)) bad('missing root');
    // Rebuild derived state: live chunks, directory children, hard-link sets.
    for (const o of this.objects.values()) {
      if (o.headerPage >= 0) this.markLive(o.headerPage);
      for (let k = 0; k < o.chunks.length; k++) if (o.chunks[k]! >= 0) this.markLive(o.chunks[k]!);
    }
    const ids = [...this.objects.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      const o = this.objects.get(id)!;
      if (o.type === ObjectType.hardlink) this.objects.get(o.equivId)?.links?.add(o.id);
      if (id === OBJECT_ID_ROOT) continue;
      const parent = this.objects.get(o.parentId);
      if (!parent || !parent.children) bad(`object ${id} has no parent directory`);
      parent!.children!.set(o.nameString, id);
    }
    for (const b of checkpointBlocks) this.blockState[b] = BlockState.checkpoint;
    if (this.allocBlock >= 0 && this.blockState[this.allocBlock] !== BlockState.allocating) this.allocBlock = -1;
    this.checkpointValid = true;
    return true;
  }
}

function concat(pieces: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of pieces) {
    if (at >= length) break;
    const n = Math.min(p.length, length - at);
    out.set(p.subarray(0, n), at);
    at += n;
  }
  return out;
}
