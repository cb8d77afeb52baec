/**
 * YAFFS2 constants, block states and the file system's state object (upstream: yaffs_guts.h,
 * yaffs_getblockinfo.h and struct yaffs_dev).
 */
import type { NandDevice } from '@flashdiff/nand';
import { Yaffs2Error } from './errors.ts';
import { encodeName } from './header.ts';
import { emptyTags, INBAND_TAGS_SIZE, isYaffs1Layout, ObjectType, spareLayout } from './tags.ts';
import type { DataEccOrder, SpareLayout, SpareLayoutName } from './tags.ts';

// ------------------------------------------------------------------ constants (yaffs_guts.h)
export const OBJECT_ID_ROOT = 1;
export const OBJECT_ID_LOST_AND_FOUND = 2;
export const OBJECT_ID_UNLINKED = 3;
export const OBJECT_ID_DELETED = 4;
/** mkyaffs2image numbers user objects from YAFFS_NOBJECT_BUCKETS + 1. */
export const FIRST_USER_OBJECT_ID = 257;
/** Chunks of upstream's block summaries (YAFFS_OBJECTID_SUMMARY): an index, not an object. */
export const OBJECT_ID_SUMMARY = 0x10;
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
export const MAX_SYMLINK_DEPTH = 40;

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
  /** Tags and headers stored big-endian (upstream's stored_endian 2); default little-endian. */
  bigEndian?: boolean;
  /** Big-endian tags with tag ECC: write the ECC's line parities little-endian (see TagFormat). */
  littleEndianParity?: boolean;
  /** Packed tags carry their 12-byte ECC (default true; upstream's no_tags_ecc is false). */
  tagEcc?: boolean;
  /** Tags in the last 16 bytes of each page (upstream's inband_tags; no tag ECC); default false. */
  inbandTags?: boolean;
  /** Data ECC byte order in the mtd layout (default 'smartmedia', yaffs_ecc_calc's). */
  dataEcc?: DataEccOrder;
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
  /** Told as a mount scan goes, in blocks examined (see scan()): progress bars of the CLI. */
  onScanProgress?: (done: number, total: number) => void;
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
  /** The name as text (UTF-8; other bytes spelled `\xHH`, see header.ts decodeName). */
  name: string;
  /** The name's bytes as stored. */
  nameBytes: Uint8Array;
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

/** One object in memory (struct yaffs_obj). */
export interface YObject {
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


export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

/**
 * A new object with nothing on NAND yet: no header page, no chunks, zero size, times `time`,
 * its header still to be written; a directory gets a children map and a file a hard-link set.
 */
export function freshObject(id: number, type: number, parentId: number, name: string, mode: number, time: number): YObject {
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

/**
 * The mounted file system's state (upstream's struct yaffs_dev): geometry, per-block
 * information (yaffs_block_info), the allocation cursor, the object table and statistics.
 * Every module works on it through plain functions, as upstream's C does on its dev.
 */
export class Yaffs2Dev {
  readonly device: NandDevice;
  readonly layout: SpareLayout;
  readonly chunkSize: number;
  readonly pagesPerBlock: number;
  readonly blockCount: number;
  readonly readOnly: boolean;
  readonly reservedBlocks: number;
  readonly stats: Yaffs2Stats;
  headerTags: HeaderTagsStyle;

  readonly useCheckpoint: boolean;
  readonly verifyWrites: boolean;
  readonly now: () => number;

  // Block information, one entry per erase block (yaffs_block_info).
  /** Each block's {@link BlockState}: read-only here; {@link setBlockState} changes it (and keeps {@link erasedBlocks}). */
  readonly blockState: Readonly<Uint8Array>;
  /** Blocks in the empty state (upstream's n_erased_blocks), kept by {@link setBlockState}: no scan of every block to count them. */
  erasedBlocks = 0;
  readonly blockSequence: Uint32Array;
  readonly blockLive: Uint16Array;
  readonly blockWritten: Uint16Array;
  /** Holds a shrink/shadowing header: may be erased only when no older block holds stale chunks. */
  readonly blockProtected: Uint8Array;
  readonly blockNeedsRetiring: Uint8Array;
  readonly blockEccStrikes: Uint8Array;
  /** Content unknown (looked erased at scan): erase before the first program. */
  readonly blockEraseBeforeUse: Uint8Array;
  readonly chunkLive: Uint8Array;
  liveChunks = 0;

  allocBlock = -1;
  allocPage = 0;
  sequenceNumber = LOWEST_SEQUENCE_NUMBER - 1;
  nextObjectId = FIRST_USER_OBJECT_ID;
  readonly objects = new Map<number, YObject>();
  checkpointValid = false;
  gcRunning = false;
  gcBlock = -1;
  mounted = true;
  /**
   * Hard-linked files the scan found displaced from their name by a newer header (a rename over
   * them cut short before the file took one of its links' names): already applied in memory;
   * a writable mount programs them (see scan.ts linkTree).
   */
  pendingPromotions: { file: YObject; link: YObject }[] = [];
  /**
   * Bumped whenever a block may have become dead (retired, found bad, restored from a
   * checkpoint): {@link usableBlockCount} recounts only then, not on every chunk written.
   */
  deadEpoch = 0;
  usableCache = { epoch: -1, blocks: 0 };
  /**
   * Bumped wherever blocks may become empty other than by an erase (a mount's scan or checkpoint,
   * a reset): findAllocBlock's heap of empty blocks (allocator.ts) is then built again; an erase
   * adds its block to the heap (noteBlockEmptied).
   */
  allocEpoch = 0;
  /** findAllocBlock's min-heap: keys erase count × blockCount + block, built for allocEpoch; entries gone stale are dropped as they surface. */
  allocHeap = { epoch: -1, keys: [] as number[] };
  /** Some block may be in the checkpoint state (set wherever one is; cleared once they are erased). */
  checkpointBlocksPresent = false;
  /**
   * What the mount could not read or had to change, one line each (bad tags, unreadable or
   * inconsistent headers, objects dropped or moved to lost+found). Empty on a clean image.
   */
  scanProblems: string[] = [];
  /**
   * What the ECC corrected in the chunks read so far, each chunk once however often it is read
   * (the stats count every read): data ECC, page → bits corrected; tag ECC, the pages.
   */
  readonly dataEccCorrectedPages = new Map<number, number>();
  readonly tagEccCorrectedPages = new Set<number>();

  readonly pageBuffer: Uint8Array;
  readonly spareBuffer: Uint8Array;
  /** The spare writeNewChunk builds (one for every program: no allocation per chunk). */
  readonly writeSpare: Uint8Array;
  readonly verifyData: Uint8Array;
  /** Inband tags: a whole page (data area + tags) as read or programmed. */
  readonly inbandPage: Uint8Array;
  readonly verifySpare: Uint8Array;
  readonly tagsScratch = emptyTags();
  constructor(device: NandDevice, options: Yaffs2Options) {
    const g = device.geometry;
    this.device = device;
    this.layout = spareLayout(options.layout ?? 'mkyaffs2', g.pageSize, g.spareSize, {
      bigEndian: options.bigEndian ?? false,
      tagEcc: options.inbandTags ? false : (options.tagEcc ?? true),
      inbandTags: options.inbandTags ?? false,
      dataEcc: options.dataEcc,
      littleEndianParity: options.littleEndianParity,
    });
    // Inband tags take the last 16 bytes of each page (upstream's data_bytes_per_chunk).
    this.chunkSize = g.pageSize - (this.layout.inbandTags ? INBAND_TAGS_SIZE : 0);
    this.pagesPerBlock = g.pagesPerBlock;
    this.blockCount = g.blocksPerDie * g.diesPerChannel * g.channels;
    if (this.pagesPerBlock > 0xffff) throw new Yaffs2Error('EINVAL', 'more than 65535 pages per block');
    if (this.chunkSize < 512) throw new Yaffs2Error('EINVAL', `YAFFS2 needs chunks of at least 512 bytes (got ${this.chunkSize})`);
    this.readOnly = options.readOnly ?? false;
    const reserved = options.reservedBlocks ?? Math.max(1, Math.min(DEFAULT_RESERVED_BLOCKS, Math.floor(this.blockCount / 4)));
    if (!Number.isInteger(reserved) || reserved < 0) throw new Yaffs2Error('EINVAL', `reservedBlocks ${String(reserved)} is not a count`);
    if (reserved >= this.blockCount && !this.readOnly) {
      throw new Yaffs2Error('EROFS', `${this.blockCount} blocks do not leave room beyond the ${reserved} reserved for garbage collection: such an image opens read-only`);
    }
    // A one-block image (or one smaller than the reserve) is still readable.
    this.reservedBlocks = Math.min(reserved, this.blockCount - 1);
    this.headerTags = options.headerTags ?? 'linux';
    // YAFFS1 has no checkpoint (it always scans).
    // Inband-tag images mount by scan here (no checkpoint is written or read).
    this.useCheckpoint = isYaffs1Layout(this.layout.name) || this.layout.inbandTags ? false : (options.checkpoint ?? true);
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
    this.writeSpare = new Uint8Array(g.spareSize);
    this.verifyData = new Uint8Array(g.pageSize);
    this.inbandPage = new Uint8Array(this.layout.inbandTags ? g.pageSize : 0);
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
    makeFakeDirectories(this);
  }
}

export function makeFakeDirectories(dev: Yaffs2Dev): void {
  // Root and lost+found exist without headers on NAND ("fake" directories, as upstream).
  const mk = (id: number, name: string, parent: number): YObject => ({
    ...freshObject(id, ObjectType.directory, parent, name, S_IFDIR | 0o755, 0),
    headerDirty: false,
    fake: true,
  });
  dev.objects.clear();
  dev.objects.set(OBJECT_ID_ROOT, mk(OBJECT_ID_ROOT, '', 0));
  dev.objects.set(OBJECT_ID_LOST_AND_FOUND, mk(OBJECT_ID_LOST_AND_FOUND, 'lost+found', OBJECT_ID_ROOT));
  dev.objects.get(OBJECT_ID_ROOT)!.children!.set('lost+found', OBJECT_ID_LOST_AND_FOUND);
}

export function blockOf(dev: Yaffs2Dev, page: number): number {
  return Math.floor(page / dev.pagesPerBlock);
}

export function markLive(dev: Yaffs2Dev, page: number): void {
  if (page < 0 || dev.chunkLive[page]) return;
  dev.chunkLive[page] = 1;
  dev.blockLive[blockOf(dev, page)]!++;
  dev.liveChunks++;
}

/** Sets a block's state, keeping the count of empty blocks (dev.erasedBlocks): every change of a block's state goes through here. */
export function setBlockState(dev: Yaffs2Dev, block: number, state: number): void {
  const was = dev.blockState[block];
  if (was === state) return;
  if (was === BlockState.empty) dev.erasedBlocks--;
  if (state === BlockState.empty) dev.erasedBlocks++;
  (dev.blockState as Uint8Array)[block] = state;
}

export function resetState(dev: Yaffs2Dev): void {
  dev.allocEpoch++;
  (dev.blockState as Uint8Array).fill(0);
  dev.erasedBlocks = 0;
  dev.blockSequence.fill(0);
  dev.blockLive.fill(0);
  dev.blockWritten.fill(0);
  dev.blockProtected.fill(0);
  dev.blockNeedsRetiring.fill(0);
  dev.blockEccStrikes.fill(0);
  dev.blockEraseBeforeUse.fill(0);
  dev.chunkLive.fill(0);
  dev.liveChunks = 0;
  dev.allocBlock = -1;
  dev.allocPage = 0;
  makeFakeDirectories(dev);
}

/**
 * A chunk map (page of chunk k at [k − 1], −1 for none) with room for chunk `chunkId`: doubled
 * from its length (at least `minimum`) until it fits, the old entries kept; the map itself when it
 * already fits.
 */
export function growChunkMap(map: Int32Array, chunkId: number, minimum: number): Int32Array {
  if (chunkId <= map.length) return map;
  let length = Math.max(minimum, map.length * 2);
  while (length < chunkId) length *= 2;
  const grown = new Int32Array(length).fill(-1);
  grown.set(map);
  return grown;
}
