import type { NandStats } from './types.ts';

/** Plain counters; the device bumps them in place on every operation. */
export class NandCounters implements NandStats {
  pageReads = 0;
  pagePrograms = 0;
  blockErases = 0;
  bytesRead = 0;
  bytesWritten = 0;
  eccCorrectedBits = 0;
  eccUncorrectableReads = 0;
  programFailures = 0;
  eraseFailures = 0;
  readonly readsPerBlock: Uint32Array;
  readonly programsPerBlock: Uint32Array;
  readonly erasesPerBlock: Uint32Array;

  constructor(blocks: number) {
    this.readsPerBlock = new Uint32Array(blocks);
    this.programsPerBlock = new Uint32Array(blocks);
    this.erasesPerBlock = new Uint32Array(blocks);
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
