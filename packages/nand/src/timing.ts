/**
 * The discrete-event clock of {@link NandTimingModel}: every die and every channel is busy until
 * some time. Reads: the die senses the page (tR), then the channel moves it out. Programs: the
 * channel moves the page in, then the die programs it (tPROG). Erases: the die only (tBERS).
 * A die stays busy until its page register is drained, so a read holds its die through the transfer.
 */
import type { NandTimingModel, NandTimingParams } from './types.ts';

export const DEFAULT_TIMING: Readonly<NandTimingParams> = Object.freeze({
  tR: 50_000,
  tPROG: 600_000,
  tBERS: 3_000_000,
  transferPerByte: 2.5,
});

/** Where a {@link NandClock} keeps its state (for a clock whose tables live in a TableMemory). */
export interface NandClockTables {
  readonly dieBusy: Float64Array;
  readonly dieFree: Float64Array;
  readonly channelFree: Float64Array;
  /** The issue time, the last completion and the latest completion, in that order. */
  readonly clockCells: Float64Array;
}

export class NandClock implements NandTimingModel {
  readonly params: NandTimingParams;
  readonly dieBusy: Float64Array;
  private readonly dieFree: Float64Array;
  private readonly channelFree: Float64Array;
  // The three scalars live in an array (see NandClockTables) so that WebAssembly code over the
  // same memory can advance the clock too.
  private readonly cells: Float64Array;
  // The parameters as plain fields: the per-operation methods read them without a second load.
  private readonly tR: number;
  private readonly tPROG: number;
  private readonly tBERS: number;
  private readonly transferPerByte: number;

  constructor(params: NandTimingParams, dies: number, channels: number, tables?: NandClockTables) {
    this.params = params;
    this.tR = params.tR;
    this.tPROG = params.tPROG;
    this.tBERS = params.tBERS;
    this.transferPerByte = params.transferPerByte;
    this.dieBusy = tables?.dieBusy ?? new Float64Array(dies);
    this.dieFree = tables?.dieFree ?? new Float64Array(dies);
    this.channelFree = tables?.channelFree ?? new Float64Array(channels);
    this.cells = tables?.clockCells ?? new Float64Array(3);
  }

  private get issueTime(): number {
    return this.cells[0]!;
  }
  private set issueTime(value: number) {
    this.cells[0] = value;
  }
  private get last(): number {
    return this.cells[1]!;
  }
  private set last(value: number) {
    this.cells[1] = value;
  }
  private get latest(): number {
    return this.cells[2]!;
  }
  private set latest(value: number) {
    this.cells[2] = value;
  }

  issueAt(timeNs: number): void {
    if (timeNs > this.issueTime) this.issueTime = timeNs;
  }

  get now(): number {
    return this.issueTime;
  }

  get lastCompletion(): number {
    return this.last;
  }

  get elapsed(): number {
    return this.latest;
  }

  dieFreeAt(die: number): number {
    return this.dieFree[die];
  }

  /** Charges a page read; returns its completion time. */
  read(die: number, channel: number, bytes: number): number {
    const dieFree = this.dieFree[die]!;
    const start = this.issueTime > dieFree ? this.issueTime : dieFree;
    const sensed = start + this.tR;
    const channelFree = this.channelFree[channel]!;
    const done = (sensed > channelFree ? sensed : channelFree) + bytes * this.transferPerByte;
    this.channelFree[channel] = done;
    return this.finish(die, start, done);
  }

  /** Charges a page program; returns its completion time. */
  program(die: number, channel: number, bytes: number): number {
    const dieFree = this.dieFree[die]!;
    const channelFree = this.channelFree[channel]!;
    let start = this.issueTime > dieFree ? this.issueTime : dieFree;
    if (channelFree > start) start = channelFree;
    const moved = start + bytes * this.transferPerByte;
    this.channelFree[channel] = moved;
    return this.finish(die, start, moved + this.tPROG);
  }

  /**
   * Charges `count` copybacks on one die and channel: each a {@link read} then a {@link program}
   * of `bytes`, in that order. The same arithmetic as the 2·count calls, with the die, channel
   * and totals held in locals for the run (the issue time cannot move inside it). Returns the
   * completion time of the last program.
   */
  copybackRun(die: number, channel: number, bytes: number, count: number): number {
    const issue = this.issueTime;
    const transfer = bytes * this.transferPerByte;
    const tR = this.tR;
    const tPROG = this.tPROG;
    let dieFree = this.dieFree[die]!;
    let channelFree = this.channelFree[channel]!;
    let busy = this.dieBusy[die]!;
    let latest = this.latest;
    let done = this.last;
    for (let i = 0; i < count; i++) {
      if (i === 1 && count > 2) {
        // From the second copyback on the die is the bottleneck: it is free at dieFree ≥ issue
        // and the channel earlier (channelFree ≤ dieFree), so each copyback starts when the die
        // is free and adds step = tR + transfer + transfer + tPROG to dieFree and to busy, with
        // the channel free again tPROG before the die. With whole numbers of ns below 2^53 every
        // sum is exact, so the closed form is bit-identical to the loop; otherwise the loop runs on.
        const step = tR + 2 * transfer + tPROG;
        const remaining = count - 1;
        const finalDie = dieFree + remaining * step;
        const finalBusy = busy + remaining * step;
        if (
          Number.isInteger(tR) && Number.isInteger(transfer) && Number.isInteger(tPROG) && Number.isInteger(dieFree) && Number.isInteger(busy) &&
          dieFree >= issue && channelFree <= dieFree && Number.isSafeInteger(finalDie) && Number.isSafeInteger(finalBusy)
        ) {
          dieFree = finalDie;
          channelFree = finalDie - tPROG;
          busy = finalBusy;
          done = finalDie;
          if (done > latest) latest = done;
          break;
        }
      }
      // read: the die senses (tR), then the channel moves the page out
      let start = issue > dieFree ? issue : dieFree;
      const sensed = start + tR;
      done = (sensed > channelFree ? sensed : channelFree) + transfer;
      channelFree = done;
      dieFree = done;
      busy += done - start;
      if (done > latest) latest = done;
      // program: the channel moves the page in, then the die programs it (tPROG)
      start = issue > dieFree ? issue : dieFree;
      if (channelFree > start) start = channelFree;
      const moved = start + transfer;
      channelFree = moved;
      done = moved + tPROG;
      dieFree = done;
      busy += done - start;
      if (done > latest) latest = done;
    }
    this.dieFree[die] = dieFree;
    this.channelFree[channel] = channelFree;
    this.dieBusy[die] = busy;
    this.last = done;
    this.latest = latest;
    return done;
  }

  /** Charges a block erase; returns its completion time. */
  erase(die: number): number {
    const dieFree = this.dieFree[die]!;
    const start = this.issueTime > dieFree ? this.issueTime : dieFree;
    return this.finish(die, start, start + this.tBERS);
  }

  reset(): void {
    this.dieBusy.fill(0);
    this.dieFree.fill(0);
    this.channelFree.fill(0);
    this.issueTime = 0;
    this.last = 0;
    this.latest = 0;
  }

  private finish(die: number, start: number, done: number): number {
    this.dieFree[die] = done;
    this.dieBusy[die] += done - start;
    this.last = done;
    if (done > this.latest) this.latest = done;
    return done;
  }
}
