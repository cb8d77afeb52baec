/**
 * Backing stores: where a simulated chip keeps its cells. A store knows nothing of the NAND rules
 * (the device enforces them); it holds page records (data + spare), remembers which pages hold
 * programmed content, and persists what a raw dump cannot hold (erase counts, bad-block table).
 */
import { recordSize, totalBlocks, totalPages, validateGeometry } from './geometry.ts';
import type { NandGeometry } from './types.ts';

export interface NandStore {
  readonly geometry: NandGeometry;
  /** Pages keep spare bytes only; data reads back 0xFF and data writes are dropped. */
  readonly metadataOnly: boolean;
  /** Every write throws (IMAGE_IO for image files). */
  readonly readOnly: boolean;
  /** Bytes of page buffers allocated so far: grows with what is written, not with the geometry. */
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
}

/**
 * A chip in memory. Sparse: a block's buffer is allocated on its first program and kept (refilled
 * with 0xFF) across erases, so memory grows with the blocks ever written. Full mode keeps each
 * block as pagesPerBlock records of (data, spare), the raw-dump layout; metadata-only mode keeps
 * pagesPerBlock spares. The RAM store is the chip itself: it survives reboot() unchanged.
 */
export class RamStore implements NandStore {
  readonly geometry: NandGeometry;
  readonly metadataOnly: boolean;
  readonly readOnly = false;
  readonly eraseCounts: Uint32Array;
  readonly badBlocks: Uint8Array;
  hasMetadata = false;
  private readonly blocks: (Uint8Array | undefined)[];
  private readonly programmed: Uint8Array;
  private readonly pageSize: number;
  private readonly spareSize: number;
  private readonly pagesPerBlock: number;
  /** Bytes per page slot inside a block buffer: a record, or a spare in metadata-only mode. */
  private readonly slotSize: number;
  /** Offset of the spare within a slot. */
  private readonly spareOffset: number;
  private allocated = 0;

  constructor(geometry: NandGeometry, options: RamStoreOptions = {}) {
    this.geometry = validateGeometry(geometry);
    this.metadataOnly = options.metadataOnly ?? false;
    this.pageSize = geometry.pageSize;
    this.spareSize = geometry.spareSize;
    this.pagesPerBlock = geometry.pagesPerBlock;
    this.slotSize = this.metadataOnly ? geometry.spareSize : recordSize(geometry);
    this.spareOffset = this.metadataOnly ? 0 : geometry.pageSize;
    const blockCount = totalBlocks(geometry);
    this.eraseCounts = new Uint32Array(blockCount);
    this.badBlocks = new Uint8Array(blockCount);
    this.programmed = new Uint8Array(totalPages(geometry));
    this.blocks = new Array<Uint8Array | undefined>(blockCount).fill(undefined);
  }

  get allocatedBytes(): number {
    return this.allocated;
  }

  isProgrammed(page: number): boolean {
    return this.programmed[page] === 1;
  }

  readData(page: number, out: Uint8Array): void {
    const n = out.length < this.pageSize ? out.length : this.pageSize;
    const block = (page / this.pagesPerBlock) | 0;
    const buffer = this.blocks[block];
    if (this.metadataOnly || buffer === undefined) {
      out.fill(0xff, 0, n);
      return;
    }
    const start = (page - block * this.pagesPerBlock) * this.slotSize;
    out.set(buffer.subarray(start, start + n));
  }

  readSpare(page: number, out: Uint8Array): void {
    const n = out.length < this.spareSize ? out.length : this.spareSize;
    const block = (page / this.pagesPerBlock) | 0;
    const buffer = this.blocks[block];
    if (buffer === undefined) {
      out.fill(0xff, 0, n);
      return;
    }
    const start = (page - block * this.pagesPerBlock) * this.slotSize + this.spareOffset;
    if (n <= 16) {
      // Short copies: a loop beats subarray()+set(), which allocate a view.
      for (let i = 0; i < n; i++) out[i] = buffer[start + i];
    } else {
      out.set(buffer.subarray(start, start + n));
    }
  }

  writePage(page: number, data: Uint8Array | null, spare: Uint8Array): void {
    const block = (page / this.pagesPerBlock) | 0;
    let buffer = this.blocks[block];
    if (buffer === undefined) buffer = this.allocateBlock(block);
    const slot = (page - block * this.pagesPerBlock) * this.slotSize;
    if (!this.metadataOnly) {
      if (data === null) buffer.fill(0xff, slot, slot + this.pageSize);
      else buffer.set(data, slot);
    }
    const spareStart = slot + this.spareOffset;
    const n = spare.length;
    if (n <= 16) {
      for (let i = 0; i < n; i++) buffer[spareStart + i] = spare[i];
    } else {
      buffer.set(spare, spareStart);
    }
    if (n < this.spareSize) buffer.fill(0xff, spareStart + n, spareStart + this.spareSize);
    this.programmed[page] = 1;
  }

  eraseBlock(block: number): void {
    const buffer = this.blocks[block];
    if (buffer !== undefined) buffer.fill(0xff);
    const first = block * this.pagesPerBlock;
    this.programmed.fill(0, first, first + this.pagesPerBlock);
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

  private allocateBlock(block: number): Uint8Array {
    const buffer = new Uint8Array(this.slotSize * this.pagesPerBlock).fill(0xff);
    this.blocks[block] = buffer;
    this.allocated += buffer.byteLength;
    return buffer;
  }
}
