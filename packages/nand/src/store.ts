/**
 * Backing stores: where a simulated chip keeps its cells. A store knows nothing of the NAND rules
 * (the device enforces them); it holds page records (data + spare), remembers which pages hold
 * programmed content, and persists what a raw dump cannot hold (erase counts, bad-block table).
 */
import { clearPageBytes, wordsOver } from './page-bytes.ts';
import { COMPACT_HEAD_BYTES, COMPACT_HEAD_STATE, DEFAULT_COMPACT_WORD0, headCrc } from './spare-head.ts';
import { recordSize, totalBlocks, totalPages, validateGeometry } from './geometry.ts';
import { NandError } from './types.ts';
import type { NandGeometry } from './types.ts';

export interface NandStore {
  readonly geometry: NandGeometry;
  /** Pages keep spare bytes only; data reads back 0xFF and data writes are dropped. */
  readonly metadataOnly: boolean;
  /** Every write throws (IMAGE_IO for image files). */
  readonly readOnly: boolean;
  /**
   * Bytes of page buffers allocated so far: grows with what is written, not with the geometry
   * (except a metadata-only RAM store's dense 16-byte spare heads, allocated up front).
   */
  readonly allocatedBytes: number;
  /**
   * False when the store came with no persisted metadata (a new RAM store, a new image, an image
   * without its sidecar): the device then takes bad blocks from the markers and applies factory
   * bad blocks. True once metadata exists.
   */
  readonly hasMetadata: boolean;
  /** P/E cycles per block; the device updates it in place, {@link sync} persists it. */
  readonly eraseCounts: Uint32Array;
  /** Bad-block table, 1 = bad; the device updates it in place, {@link sync} persists it. */
  readonly badBlocks: Uint8Array;

  /** True when the page holds programmed content since its block's last erase. */
  isProgrammed(page: number): boolean;
  /** Copies min(out.length, pageSize) data bytes (0xFF when erased or metadata-only). */
  readData(page: number, out: Uint8Array): void;
  /** Copies min(out.length, spareSize) spare bytes (0xFF when erased). */
  readSpare(page: number, out: Uint8Array): void;
  /**
   * Replaces the page's record: `data` is pageSize bytes or null (data area 0xFF); `spare` is at
   * most spareSize bytes, the rest becomes 0xFF. The page then counts as programmed.
   */
  writePage(page: number, data: Uint8Array | null, spare: Uint8Array): void;
  /** Sets every byte of the block to 0xFF; its pages count as erased. */
  eraseBlock(block: number): void;
  /** Makes the page records and the metadata durable. */
  sync(): void;
  /** Releases resources; `persist` false skips writing metadata (power is gone). */
  close(persist?: boolean): void;
  /** Drops unsynced metadata and re-reads the persisted state, as after a power cycle. */
  reload(): void;
}

export interface RamStoreOptions {
  metadataOnly?: boolean;
  /**
   * Metadata-only mode with a spare of at least 16 bytes: the common first word of the compact spare
   * heads (spare-head.ts; default {@link DEFAULT_COMPACT_WORD0}, the SSD FTL's data page).
   */
  compactWord0?: number;
}

/** A store's compact spare heads (spare-head.ts), for the fast device: words 1 and 2 of page p at pairs[2p], pairs[2p + 1]. */
export interface CompactHeads {
  readonly pairs: Uint32Array;
  readonly word0: number;
}

/**
 * The arrays of a metadata-only {@link RamStore} with compact heads when the caller allocates them
 * (the fast device puts them in its TableMemory): the compact heads' word pairs (8 bytes a page),
 * the page state bytes, the erase counts and the bad-block table.
 */
export interface RamStoreTables {
  readonly headPairs: Uint32Array;
  readonly pageState: Uint8Array;
  readonly eraseCounts: Uint32Array;
  readonly badBlocks: Uint8Array;
}

/** Leading spare bytes a metadata-only {@link RamStore} keeps densely per block (the FTL's 16). */
export const SPARE_HEAD_BYTES = 16;

/**
 * Most bytes one typed array holds in Node 20 (V8's limit): a metadata-only RamStore keeps the
 * compact spare heads of every page in one array (8 bytes a page), so it holds at most this / 8 =
 * 2^29 pages (8 TiB of 16 KiB pages, 2 TiB of 4 KiB pages).
 */
export const MAX_TYPED_ARRAY_BYTES = 2 ** 32;

/** Whether a metadata-only RamStore of this geometry keeps compact heads (spare-head.ts): a spare of at least 16 bytes. */
export function keepsCompactHeads(geometry: NandGeometry): boolean {
  return geometry.spareSize >= COMPACT_HEAD_BYTES;
}

/** Bytes a page of a metadata-only RamStore's dense head table: 8 (compact heads' words 1, 2) or its head bytes. */
export function metadataHeadBytes(geometry: NandGeometry): number {
  return keepsCompactHeads(geometry) ? 8 : Math.min(SPARE_HEAD_BYTES, geometry.spareSize);
}

/** Throws INVALID_GEOMETRY when a metadata-only RamStore's head area (`headBytes` a page) cannot be one typed array. */
export function checkMetadataHeadArea(geometry: NandGeometry, headBytes: number = metadataHeadBytes(geometry)): void {
  const pages = totalPages(geometry);
  if (pages * headBytes > MAX_TYPED_ARRAY_BYTES) {
    throw new NandError(
      'INVALID_GEOMETRY',
      `a metadata-only RAM store keeps ${headBytes} spare bytes of every page in one array: ${pages} pages need ${pages * headBytes} bytes, ` +
        `more than the ${MAX_TYPED_ARRAY_BYTES} one array holds (at most ${Math.floor(MAX_TYPED_ARRAY_BYTES / headBytes)} pages; use larger pages or fewer blocks)`,
    );
  }
}

/** Copies `length` bytes; short runs by a loop (subarray()+set() allocate a view and call into C++). */
function copyBytes(target: Uint8Array, targetStart: number, source: Uint8Array, sourceStart: number, length: number): void {
  if (length <= 16) {
    for (let i = 0; i < length; i++) target[targetStart + i] = source[sourceStart + i]!;
  } else {
    target.set(source.subarray(sourceStart, sourceStart + length), targetStart);
  }
}

/** The little-endian word at bytes at … at + 3. */
function readWord(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** {@link RamStore} page state meaning "the whole spare slot is stored". */
const FULL_SLOT = 255;

/**
 * A chip in memory. Sparse: a block's buffer is allocated on its first program and kept across
 * erases, so memory grows with the blocks ever written. Full mode keeps each block as
 * pagesPerBlock records of (data, spare), the raw-dump layout; metadata-only mode keeps the
 * spares (see below). The RAM store is the chip itself: it survives reboot() unchanged.
 *
 * Each page also has a state byte (`pageState`): 0 erased, else how much of
 * its spare slot holds programmed bytes. An erase only zeroes the block's state bytes — the stale
 * bytes stay in the buffer but are never read, since an erased page reads 0xFF without looking —
 * and a program of a short spare copies its bytes and records the length instead of refilling
 * the rest of the slot with 0xFF. (A metadata-only SSD simulation programs millions of 16-byte
 * spares into 128-byte slots; the refills were its main memory traffic.)
 *
 * Metadata-only mode keeps the first {@link SPARE_HEAD_BYTES} spare bytes of every page in one
 * dense array allocated up front (16 bytes a page, page p at bytes 16p…16p+15), and the rest of
 * each spare in per-block buffers allocated when a program first writes past those bytes: the
 * few bytes an FTL writes per page sit 4 pages to a cache line, at an address computed from the
 * page number alone (no per-block lookup, no scattered 8 KiB buffers to walk). With a spare of at
 * least 16 bytes those heads are compact (spare-head.ts): a 16-byte spare whose first word is the
 * store's common one and whose last word is the CRC-32 of the first twelve bytes is kept as its
 * words 1 and 2 (8 bytes a page, state {@link COMPACT_HEAD_STATE}) and rebuilt on reading; the
 * head bytes of every other programmed page are kept whole in an overflow: 16 bytes a page, in a
 * per-block buffer allocated when the block first holds such a head.
 */
export class RamStore implements NandStore {
  readonly geometry: NandGeometry;
  readonly metadataOnly: boolean;
  readonly readOnly = false;
  readonly eraseCounts: Uint32Array;
  readonly badBlocks: Uint8Array;
  hasMetadata = false;
  /**
   * Per block its buffer (undefined until it has one). Empty until the first block gets one, then
   * a slot per block: an array of a slot per block is ~4 ms to allocate at 262,144 blocks (a
   * 512 GiB device), and a metadata-only run may never store a block's bytes (reading past the
   * end gives undefined, as an empty slot does).
   */
  private blocks: (Uint8Array | undefined)[] = [];
  /** Metadata-only mode: spare bytes 0 … headBytes − 1 of every page (page p at p · headBytes), else null. */
  private readonly headArea: Uint8Array | null;
  /** {@link headArea} as words (4 per page) when headBytes is 16, else null. */
  private readonly headWords: Uint32Array | null;
  /** Compact heads (metadata-only, spare of at least 16 bytes): words 1 and 2 of page p at 2p, 2p + 1; else null. */
  private readonly headPairs: Uint32Array | null;
  /** The compact heads' common first word. */
  private readonly compactWord0: number;
  /**
   * With compact heads: per block, the head bytes (16 a page, page i at 16i) of its programmed
   * pages whose heads are not compact, or undefined until it first holds one (the page's state
   * byte says which pages' bytes are current; stale ones are never read).
   */
  private overflow: (Uint8Array | undefined)[] = [];
  /** Blocks of the device: the length {@link blocks} and {@link overflow} take when first written. */
  private readonly blockCount: number;
  /** The spare most recently programmed, and its first 16 bytes as words when 4-byte aligned. */
  private lastSpare: Uint8Array | null = null;
  private lastSpareWords: Uint32Array | null = null;
  /**
   * Per page: 0 = erased; 1 … {@link FULL_SLOT} − 1 = programmed, the first (state − 1) spare bytes
   * are stored and the rest of the spare reads 0xFF; {@link FULL_SLOT} = programmed, the whole
   * slot is stored (longer spares are padded in the buffer, as before). In full mode the data area
   * of a programmed page is always stored.
   */
  private readonly pageState: Uint8Array;
  private readonly pageStateWords: Uint32Array | null;
  private readonly pageSize: number;
  private readonly spareSize: number;
  private readonly pagesPerBlock: number;
  /** log2(pagesPerBlock) when it is a power of two, else −1 (page → block by a shift). */
  private readonly pageShift: number;
  /** Bytes per page slot inside a block buffer: a record, or a spare in metadata-only mode. */
  private readonly slotSize: number;
  /**
   * Full mode: spare bytes 0 … headBytes − 1 of page i lie at i · headStride + headOffset in its
   * block's buffer (metadata-only mode: in {@link headArea}).
   */
  private readonly headBytes: number;
  private readonly headStride: number;
  private readonly headOffset: number;
  /** Spare bytes headBytes … spareSize − 1 of page i lie at i · tailStride + tailOffset in its block's buffer. */
  private readonly tailStride: number;
  private readonly tailOffset: number;
  private allocated = 0;

  /** `tables` (metadata-only mode with a spare of at least 16 bytes): the arrays to use. */
  constructor(geometry: NandGeometry, options: RamStoreOptions = {}, tables?: RamStoreTables) {
    this.geometry = validateGeometry(geometry);
    this.metadataOnly = options.metadataOnly ?? false;
    this.pageSize = geometry.pageSize;
    this.spareSize = geometry.spareSize;
    this.pagesPerBlock = geometry.pagesPerBlock;
    this.pageShift = Number.isInteger(Math.log2(geometry.pagesPerBlock)) ? Math.log2(geometry.pagesPerBlock) : -1;
    this.slotSize = this.metadataOnly ? geometry.spareSize : recordSize(geometry);
    if (this.metadataOnly) {
      this.headBytes = Math.min(SPARE_HEAD_BYTES, geometry.spareSize);
      this.headStride = this.headBytes;
      this.headOffset = 0;
      this.tailStride = geometry.spareSize - this.headBytes;
      this.tailOffset = 0;
    } else {
      // Raw-dump layout: each record is data then the whole spare.
      this.headBytes = geometry.spareSize;
      this.headStride = this.slotSize;
      this.headOffset = geometry.pageSize;
      this.tailStride = this.slotSize;
      this.tailOffset = geometry.pageSize + geometry.spareSize;
    }
    const blockCount = totalBlocks(geometry);
    const compact = this.metadataOnly && keepsCompactHeads(geometry);
    if (this.metadataOnly && tables === undefined) checkMetadataHeadArea(geometry);
    if (tables !== undefined && !compact) {
      throw new NandError('INVALID_GEOMETRY', 'RamStore tables are for a metadata-only store with a spare of at least 16 bytes');
    }
    this.compactWord0 = (options.compactWord0 ?? DEFAULT_COMPACT_WORD0) | 0;
    this.eraseCounts = tables?.eraseCounts ?? new Uint32Array(blockCount);
    this.badBlocks = tables?.badBlocks ?? new Uint8Array(blockCount);
    this.pageState = tables?.pageState ?? new Uint8Array(totalPages(geometry));
    this.pageStateWords = wordsOver(this.pageState);
    this.blockCount = blockCount;
    this.headPairs = compact ? (tables?.headPairs ?? new Uint32Array(2 * totalPages(geometry))) : null;
    this.headArea = this.metadataOnly && !compact ? new Uint8Array(totalPages(geometry) * this.headBytes) : null;
    this.headWords = this.headArea !== null && this.headBytes === SPARE_HEAD_BYTES ? new Uint32Array(this.headArea.buffer, this.headArea.byteOffset, this.headArea.length / 4) : null;
    this.allocated = this.headArea !== null ? this.headArea.byteLength : this.headPairs !== null ? this.headPairs.byteLength : 0;
  }

  get allocatedBytes(): number {
    return this.allocated;
  }

  isProgrammed(page: number): boolean {
    return this.pageState[page] !== 0;
  }

  readData(page: number, out: Uint8Array): void {
    const n = out.length < this.pageSize ? out.length : this.pageSize;
    const block = this.pageShift >= 0 ? page >>> this.pageShift : (page / this.pagesPerBlock) | 0;
    const buffer = this.blocks[block];
    if (this.metadataOnly || buffer === undefined || this.pageState[page] === 0) {
      out.fill(0xff, 0, n);
      return;
    }
    const start = (page - block * this.pagesPerBlock) * this.slotSize;
    out.set(buffer.subarray(start, start + n));
  }

  readSpare(page: number, out: Uint8Array): void {
    const n = out.length < this.spareSize ? out.length : this.spareSize;
    const state = this.pageState[page]!;
    if (state === COMPACT_HEAD_STATE && this.headPairs !== null) {
      this.readCompact(page, out, n);
      return;
    }
    const stored = state === 0 ? 0 : state === FULL_SLOT ? this.spareSize : state - 1;
    const copied = n < stored ? n : stored;
    if (copied > 0) {
      const block = this.pageShift >= 0 ? page >>> this.pageShift : (page / this.pagesPerBlock) | 0;
      const inBlock = page - block * this.pagesPerBlock;
      const fromHead = copied < this.headBytes ? copied : this.headBytes;
      const headArea = this.headArea;
      if (this.headPairs !== null) copyBytes(out, 0, this.overflow[block]!, inBlock * COMPACT_HEAD_BYTES, fromHead);
      else if (headArea !== null) copyBytes(out, 0, headArea, page * this.headBytes, fromHead);
      else copyBytes(out, 0, this.blocks[block]!, inBlock * this.headStride + this.headOffset, fromHead);
      if (copied > fromHead) copyBytes(out, fromHead, this.blocks[block]!, inBlock * this.tailStride + this.tailOffset, copied - fromHead);
    }
    if (n - copied <= 16) {
      for (let i = copied; i < n; i++) out[i] = 0xff;
    } else {
      out.fill(0xff, copied, n);
    }
  }

  /** readSpare of a compact head: words 0 and 3 rebuilt, `n` bytes out (16 stored, the rest 0xFF). */
  private readCompact(page: number, out: Uint8Array, n: number): void {
    const pairs = this.headPairs!;
    const w0 = this.compactWord0;
    const w1 = pairs[2 * page]!;
    const w2 = pairs[2 * page + 1]!;
    const w3 = headCrc(w0, w1, w2);
    const copied = n < COMPACT_HEAD_BYTES ? n : COMPACT_HEAD_BYTES;
    for (let i = 0; i < copied; i++) {
      const w = i < 4 ? w0 : i < 8 ? w1 : i < 12 ? w2 : w3;
      out[i] = (w >>> ((i & 3) << 3)) & 0xff;
    }
    if (n > copied) out.fill(0xff, copied, n);
  }

  /**
   * Programs a 16-byte spare given as its four little-endian words (the fast device's program):
   * compact when it is (spare-head.ts), else kept whole in the overflow. Compact heads only.
   */
  writeHeadWords(page: number, w0: number, w1: number, w2: number, w3: number): void {
    const pairs = this.headPairs!;
    if ((w0 ^ this.compactWord0) === 0 && ((w3 ^ headCrc(w0, w1, w2)) | 0) === 0) {
      pairs[2 * page] = w1;
      pairs[2 * page + 1] = w2;
      this.pageState[page] = COMPACT_HEAD_STATE;
      return;
    }
    const block = this.pageShift >= 0 ? page >>> this.pageShift : (page / this.pagesPerBlock) | 0;
    const head = this.overflowOf(block);
    const at = (page - block * this.pagesPerBlock) * COMPACT_HEAD_BYTES;
    for (let i = 0; i < COMPACT_HEAD_BYTES; i++) {
      const w = i < 4 ? w0 : i < 8 ? w1 : i < 12 ? w2 : w3;
      head[at + i] = (w >>> ((i & 3) << 3)) & 0xff;
    }
    this.pageState[page] = COMPACT_HEAD_BYTES + 1;
  }

  /** The block's overflow head bytes (16 a page, allocated on first use). */
  private overflowOf(block: number): Uint8Array {
    let heads = this.overflow[block];
    if (heads === undefined) {
      heads = new Uint8Array(COMPACT_HEAD_BYTES * this.pagesPerBlock).fill(0xff);
      if (this.overflow.length === 0) this.overflow = new Array<Uint8Array | undefined>(this.blockCount).fill(undefined);
      this.overflow[block] = heads;
      this.allocated += heads.byteLength;
    }
    return heads;
  }

  writePage(page: number, data: Uint8Array | null, spare: Uint8Array): void {
    const block = this.pageShift >= 0 ? page >>> this.pageShift : (page / this.pagesPerBlock) | 0;
    if (spare.length === COMPACT_HEAD_BYTES && this.headPairs !== null) {
      const words = this.spareWords(spare);
      if (words !== null) this.writeHeadWords(page, words[0]!, words[1]!, words[2]!, words[3]!);
      else this.writeHeadWords(page, readWord(spare, 0), readWord(spare, 4), readWord(spare, 8), readWord(spare, 12));
      return;
    }
    const target = this.headWords;
    if (spare.length === SPARE_HEAD_BYTES && target !== null) {
      // The metadata-only FTL's case: one reused 16-byte spare, 4 words.
      const words = this.spareWords(spare);
      if (words !== null) {
        const w = page << 2;
        target[w] = words[0]!;
        target[w + 1] = words[1]!;
        target[w + 2] = words[2]!;
        target[w + 3] = words[3]!;
        this.pageState[page] = SPARE_HEAD_BYTES + 1;
        return;
      }
    }
    this.writeRecord(page, block, data, spare);
  }

  /** writePage's general case (kept apart so the 16-byte path above stays small enough to inline). */
  private writeRecord(page: number, block: number, data: Uint8Array | null, spare: Uint8Array): void {
    const n = spare.length;
    const inBlock = page - block * this.pagesPerBlock;
    const toHead = n < this.headBytes ? n : this.headBytes;
    const headArea = this.headPairs !== null ? this.overflowOf(block) : this.headArea;
    // Full mode always writes the block's buffer; metadata-only mode only past the head bytes.
    let buffer = this.blocks[block];
    if (buffer === undefined && (headArea === null || n > toHead)) buffer = this.allocateBlock(block);
    if (headArea === null) {
      const slot = inBlock * this.slotSize;
      if (data === null) buffer!.fill(0xff, slot, slot + this.pageSize);
      else buffer!.set(data, slot);
    }
    const headBuffer = headArea ?? buffer!;
    const head = this.headPairs !== null ? inBlock * COMPACT_HEAD_BYTES : headArea !== null ? page * this.headBytes : inBlock * this.headStride + this.headOffset;
    const tail = inBlock * this.tailStride + this.tailOffset;
    const words = n >= SPARE_HEAD_BYTES && this.headWords !== null ? this.spareWords(spare) : null;
    if (words !== null) {
      // Callers reuse one spare buffer (the FTL does): copy its 16-byte head as 4 words.
      const target = this.headWords!;
      const w = page << 2;
      target[w] = words[0]!;
      target[w + 1] = words[1]!;
      target[w + 2] = words[2]!;
      target[w + 3] = words[3]!;
    } else {
      copyBytes(headBuffer, head, spare, 0, toHead);
    }
    if (n > toHead) copyBytes(buffer!, tail, spare, toHead, n - toHead);
    // With compact heads n + 1 = COMPACT_HEAD_STATE is taken: such a spare (253 bytes) is padded as a full slot.
    if (n < FULL_SLOT - 1 && !(n + 1 === COMPACT_HEAD_STATE && this.headPairs !== null)) {
      this.pageState[page] = n + 1;
    } else {
      // Too long to record in the state byte: pad the spare, as a raw slot holds it.
      if (n < this.headBytes) headBuffer.fill(0xff, head + n, head + this.headBytes);
      const tailFrom = n > this.headBytes ? n - this.headBytes : 0;
      const tailBytes = this.spareSize - this.headBytes;
      if (tailFrom < tailBytes) buffer!.fill(0xff, tail + tailFrom, tail + tailBytes);
      this.pageState[page] = FULL_SLOT;
    }
  }

  eraseBlock(block: number): void {
    // The buffer keeps its stale bytes: an erased page (state 0) reads 0xFF without touching it.
    clearPageBytes(this.pageState, this.pageStateWords, block * this.pagesPerBlock, this.pagesPerBlock);
  }

  sync(): void {
    this.hasMetadata = true;
  }

  close(): void {
    // The RAM chip keeps its contents; nothing to release beyond what the GC collects.
  }

  reload(): void {
    // RAM is the chip: cells, erase counts and the bad-block table survive a power cycle, so the
    // tables count as persisted from now on (no marker rescan).
    this.hasMetadata = true;
  }

  /**
   * For the metadata-only fast device ({@link createNandDevice} picks it): the compact heads'
   * pairs and first word, or null when this store does not keep them (full mode, or a spare
   * shorter than 16 bytes). Not for other callers: the device keeps {@link pageStates} in step
   * when it writes there.
   */
  get compactHeads(): CompactHeads | null {
    return this.headPairs === null ? null : { pairs: this.headPairs, word0: this.compactWord0 };
  }

  /** The per-page state bytes (see the class comment); with {@link metadataHeadWords}, for the fast device only. */
  get pageStates(): Uint8Array {
    return this.pageState;
  }

  /** The first 16 bytes of `spare` as words (same bytes, any host byte order), or null when unaligned. */
  private spareWords(spare: Uint8Array): Uint32Array | null {
    if (spare !== this.lastSpare) {
      this.lastSpare = spare;
      this.lastSpareWords = (spare.byteOffset & 3) === 0 ? new Uint32Array(spare.buffer, spare.byteOffset, SPARE_HEAD_BYTES >>> 2) : null;
    }
    return this.lastSpareWords;
  }

  private allocateBlock(block: number): Uint8Array {
    // Metadata-only mode: the bytes past each page's head; full mode: whole records.
    const bytes = (this.metadataOnly ? this.tailStride : this.slotSize) * this.pagesPerBlock;
    const buffer = new Uint8Array(bytes).fill(0xff);
    if (this.blocks.length === 0) this.blocks = new Array<Uint8Array | undefined>(this.blockCount).fill(undefined);
    this.blocks[block] = buffer;
    this.allocated += buffer.byteLength;
    return buffer;
  }
}
