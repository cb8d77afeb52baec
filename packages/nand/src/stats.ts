import type { NandStats } from './types.ts';

/** The per-block arrays of {@link NandCounters}, when the caller allocates them. */
export interface NandCounterTables {
  readonly readsPerBlock: Uint32Array;
  readonly programsPerBlock: Uint32Array;
  readonly erasesPerBlock: Uint32Array;
}

/**
 * Plain counters; the device bumps them in place on every operation.
 *
 * Every read moves one page record (data + spare) off the chip and every program one onto it,
 * so the byte counts are the page counts times the record size: they are derived on demand
 * instead of being summed per operation (a floating-point field update the hot paths skip).
 * Assigning one still works: the difference is kept as an offset.
 */
export class NandCounters implements NandStats {
  pageReads = 0;
  pagePrograms = 0;
  blockErases = 0;
  eccCorrectedBits = 0;
  eccUncorrectableReads = 0;
  programFailures = 0;
  eraseFailures = 0;
  readonly readsPerBlock: Uint32Array;
  readonly programsPerBlock: Uint32Array;
  readonly erasesPerBlock: Uint32Array;
  /** Data + spare bytes moved off the chip by reads: pageReads × (pageSize + spareSize). */
  declare bytesRead: number;
  /** Data + spare bytes moved onto the chip by programs: pagePrograms × (pageSize + spareSize). */
  declare bytesWritten: number;

  /** `tables`: the per-block arrays to use (a device whose tables live in a TableMemory). */
  constructor(blocks: number, recordBytes: number, tables?: NandCounterTables) {
    this.readsPerBlock = tables?.readsPerBlock ?? new Uint32Array(blocks);
    this.programsPerBlock = tables?.programsPerBlock ?? new Uint32Array(blocks);
    this.erasesPerBlock = tables?.erasesPerBlock ?? new Uint32Array(blocks);
    // Own enumerable accessors (a spread copy or JSON.stringify of the stats still shows them);
    // an assigned value is kept as its difference from the derived one.
    let readOffset = 0;
    let writtenOffset = 0;
    Object.defineProperty(this, 'bytesRead', {
      enumerable: true,
      get: (): number => this.pageReads * recordBytes + readOffset,
      set: (value: number): void => {
        readOffset = value - this.pageReads * recordBytes;
      },
    });
    Object.defineProperty(this, 'bytesWritten', {
      enumerable: true,
      get: (): number => this.pagePrograms * recordBytes + writtenOffset,
      set: (value: number): void => {
        writtenOffset = value - this.pagePrograms * recordBytes;
      },
    });
  }

  reset(): void {
    this.pageReads = 0;
    this.pagePrograms = 0;
    this.blockErases = 0;
    this.bytesRead = 0;
    this.bytesWritten = 0;
    this.eccCorrectedBits = 0;
    this.eccUncorrectableReads = 0;
    this.programFailures = 0;
    this.eraseFailures = 0;
    this.readsPerBlock.fill(0);
    this.programsPerBlock.fill(0);
    this.erasesPerBlock.fill(0);
  }
}
