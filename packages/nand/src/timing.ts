/**
 * The discrete-event clock of {@link NandTimingModel}: every die is busy until some time, and
 * every channel keeps a calendar of the data transfers booked on it. Reads: the die senses the
 * page (tR), then the channel moves it out. Programs: the channel moves the page in, then the die
 * programs it (tPROG). Erases: the die only (tBERS). A die stays busy until its page register is
 * drained, so a read holds its die through the transfer.
 *
 * The channel bus is held only for the transfers themselves (as in MQSim's ONFI channel, the
 * field's reference simulator): a transfer takes the earliest gap of the channel's calendar at or
 * after the moment its data is ready, so a read to a busy die no longer blocks the channel until
 * that die is free, and transfers of the channel's other dies fill the time in between. Where a
 * channel has one die, its transfers come in time order anyway and the calendar is a single
 * "free at" time (channelFree), the same arithmetic as before.
 */
import type { NandTimingModel, NandTimingParams } from './types.ts';

/**
 * Transfers a channel's calendar holds (booked and not yet over at the issue time). When it is
 * full, the two neighbouring transfers with the shortest gap between them are merged into one
 * booking (that gap is lost to later transfers: a bounded, pessimistic approximation).
 */
export const CHANNEL_CALENDAR_SLOTS = 64;

export const DEFAULT_TIMING: Readonly<NandTimingParams> = Object.freeze({
  tR: 50_000,
  tPROG: 600_000,
  tBERS: 3_000_000,
  transferPerByte: 2.5,
});

/**
 * MQSim's default flash timing (ssdconfig.xml of MQSim 7ec40e3: Page_Read_Latency 75 µs,
 * Page_Program_Latency 750 µs, Block_Erase_Latency 3.8 ms, Channel_Transfer_Rate 333 MT/s on an
 * 8-bit channel: 1000 / 333 ns per byte), for configurations that compare with it.
 */
export const MQSIM_TIMING: Readonly<NandTimingParams> = Object.freeze({
  tR: 75_000,
  tPROG: 750_000,
  tBERS: 3_800_000,
  transferPerByte: 1000 / 333,
});

/** Timing presets by name. */
export const TIMING_PRESETS: Readonly<Record<'default' | 'mqsim', Readonly<NandTimingParams>>> = Object.freeze({
  default: DEFAULT_TIMING,
  mqsim: MQSIM_TIMING,
});

/** Where a {@link NandClock} keeps its state (for a clock whose tables live in a TableMemory). */
export interface NandClockTables {
  readonly dieBusy: Float64Array;
  readonly dieFree: Float64Array;
  readonly channelFree: Float64Array;
  /** The issue time, the last completion and the latest completion, in that order. */
  readonly clockCells: Float64Array;
  /**
   * The channel calendars: channel c's bookings are slots c·CHANNEL_CALENDAR_SLOTS + head …
   * + head + count − 1, sorted by start (calendarStart/End), with head and count at
   * calendarSpan[2c], calendarSpan[2c + 1]. Optional: a clock without them makes its own.
   */
  readonly calendarStart?: Float64Array;
  readonly calendarEnd?: Float64Array;
  readonly calendarSpan?: Int32Array;
}

/**
 * Takes a clock's operations instead of timing them (see {@link NandClock.sink}): a controller
 * model that queues and schedules flash transactions itself (an SSD's transaction scheduler).
 */
export interface NandOperationSink {
  read(die: number, channel: number, bytes: number): void;
  program(die: number, channel: number, bytes: number): void;
  erase(die: number): void;
}

export class NandClock implements NandTimingModel {
  /**
   * When set, read/program/erase/copybackRun hand each operation to the sink and return the issue
   * time; the dies, channels and totals stay as they are (the sink's owner times the operations,
   * through {@link bookChannel} and {@link noteCompletion}). Only the TypeScript device paths
   * see it: a device whose WebAssembly kernel runs keeps timing there (NandDeviceOptions.wasmKernel).
   */
  sink: NandOperationSink | null = null;
  readonly params: NandTimingParams;
  readonly dieBusy: Float64Array;
  private readonly dieFree: Float64Array;
  private readonly channelFree: Float64Array;
  // The three scalars live in an array (see NandClockTables) so that WebAssembly code over the
  // same memory can advance the clock too.
  private readonly cells: Float64Array;
  private readonly calendarStart: Float64Array;
  private readonly calendarEnd: Float64Array;
  private readonly calendarSpan: Int32Array;
  /** Whether some channel has more than one die (else every calendar is its channelFree). */
  private readonly sharedChannels: boolean;
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
    this.calendarStart = tables?.calendarStart ?? new Float64Array(channels * CHANNEL_CALENDAR_SLOTS);
    this.calendarEnd = tables?.calendarEnd ?? new Float64Array(channels * CHANNEL_CALENDAR_SLOTS);
    this.calendarSpan = tables?.calendarSpan ?? new Int32Array(channels * 2);
    this.sharedChannels = dies > channels;
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
    if (this.sink !== null) {
      this.sink.read(die, channel, bytes);
      return this.issueTime;
    }
    const dieFree = this.dieFree[die]!;
    const start = this.issueTime > dieFree ? this.issueTime : dieFree;
    const transfer = bytes * this.transferPerByte;
    const done = this.book(channel, start + this.tR, transfer) + transfer;
    return this.finish(die, start, done);
  }

  /** Charges a page program; returns its completion time. */
  program(die: number, channel: number, bytes: number): number {
    if (this.sink !== null) {
      this.sink.program(die, channel, bytes);
      return this.issueTime;
    }
    const dieFree = this.dieFree[die]!;
    const transfer = bytes * this.transferPerByte;
    const start = this.book(channel, this.issueTime > dieFree ? this.issueTime : dieFree, transfer);
    return this.finish(die, start, start + transfer + this.tPROG);
  }

  /**
   * Charges `count` copybacks on one die and channel: each a {@link read} then a {@link program}
   * of `bytes`, in that order. The same arithmetic as the 2·count calls, with the die, channel
   * and totals held in locals for the run (the issue time cannot move inside it). Returns the
   * completion time of the last program.
   */
  copybackRun(die: number, channel: number, bytes: number, count: number): number {
    if (this.sharedChannels || this.sink !== null) {
      // Other dies may book the gaps between this run's transfers: page by page, through the calendar.
      let done = this.last;
      for (let i = 0; i < count; i++) {
        this.read(die, channel, bytes);
        done = this.program(die, channel, bytes);
      }
      return done;
    }
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
    if (this.sink !== null) {
      this.sink.erase(die);
      return this.issueTime;
    }
    const dieFree = this.dieFree[die]!;
    const start = this.issueTime > dieFree ? this.issueTime : dieFree;
    return this.finish(die, start, start + this.tBERS);
  }

  /**
   * Charges a multi-plane read of `planes` pages (one per plane) on one die: the die senses them
   * all in one tR, then the channel moves them out one after the other (each in the earliest gap
   * of the channel at or after the previous one ends). The die is held until the last is out.
   * With planes = 1 it is {@link read}. With bytes = 0 it is a (multi-plane) copyback read: tR
   * alone. Returns the completion time (of the last transfer).
   */
  readMultiPlane(die: number, channel: number, bytes: number, planes: number): number {
    const dieFree = this.dieFree[die]!;
    const start = this.issueTime > dieFree ? this.issueTime : dieFree;
    const transfer = bytes * this.transferPerByte;
    let end = start + this.tR;
    // No bytes: a copyback read (the page stays in the die's page register), the channel untouched.
    if (transfer > 0) for (let k = 0; k < planes; k++) end = this.book(channel, end, transfer) + transfer;
    return this.finish(die, start, end);
  }

  /**
   * Charges a multi-plane program of `planes` pages (one per plane) on one die: the channel moves
   * the pages in one after the other from when the die is free, then the die programs them all
   * in one tPROG (ONFI 80h…11h, 80h…10h; MQSim's NVM_PHY_ONFI_NVDDR2 sums the transfers and adds
   * one command latency). With planes = 1 it is {@link program}. With bytes = 0 it is a
   * (multi-plane) copyback program: tPROG alone. Returns the completion time.
   */
  programMultiPlane(die: number, channel: number, bytes: number, planes: number): number {
    const dieFree = this.dieFree[die]!;
    const transfer = bytes * this.transferPerByte;
    const ready = this.issueTime > dieFree ? this.issueTime : dieFree;
    // No bytes: a copyback program from the page register, the channel untouched.
    if (transfer === 0) return this.finish(die, ready, ready + this.tPROG);
    const start = this.book(channel, ready, transfer);
    let end = start + transfer;
    for (let k = 1; k < planes; k++) end = this.book(channel, end, transfer) + transfer;
    return this.finish(die, start, end + this.tPROG);
  }

  /** Charges a multi-plane erase of one block in each of `planes` planes: one tBERS. Returns the completion time. */
  eraseMultiPlane(die: number, planes: number): number {
    if (!(planes >= 1)) throw new RangeError(`planes must be at least 1 (got ${planes})`);
    const dieFree = this.dieFree[die]!;
    const start = this.issueTime > dieFree ? this.issueTime : dieFree;
    return this.finish(die, start, start + this.tBERS);
  }

  /**
   * Adds one more plane's page to the multi-plane command `die` ran last (a {@link MultiPlaneGrouping}
   * decides that it may): a read's page goes out on the channel after the last one (the die was
   * free at that transfer's end); a program's goes in after the last one and the one tPROG moves
   * behind it; an erase costs nothing more. The die's busy time grows by what its completion
   * moved. Returns the command's new completion time.
   */
  extendMultiPlane(kind: 'read' | 'program' | 'erase', die: number, channel: number, bytes: number): number {
    const previous = this.dieFree[die]!;
    let done = previous;
    // An erase, or a copyback page (no bytes on the channel), adds nothing to the command.
    if (kind !== 'erase' && bytes > 0) {
      const transfer = bytes * this.transferPerByte;
      const tail = kind === 'program' ? this.tPROG : 0;
      done = this.book(channel, previous - tail, transfer) + transfer + tail;
    }
    this.dieFree[die] = done;
    this.dieBusy[die] += done - previous;
    this.last = done;
    if (done > this.latest) this.latest = done;
    return done;
  }

  reset(): void {
    this.dieBusy.fill(0);
    this.dieFree.fill(0);
    this.channelFree.fill(0);
    this.calendarSpan.fill(0);
    this.issueTime = 0;
    this.last = 0;
    this.latest = 0;
  }

  /**
   * {@link book} for a sink's owner: books `duration` ns of `channel` at the earliest free time ≥
   * `ready` (bookings over by the issue time dropped); returns the start.
   */
  bookChannel(channel: number, ready: number, duration: number): number {
    return this.book(channel, ready, duration);
  }

  /** For a sink's owner: an operation it timed completes at `done` (lastCompletion, elapsed). */
  noteCompletion(done: number): void {
    this.last = done;
    if (done > this.latest) this.latest = done;
  }

  /**
   * Books `duration` ns of channel `channel` at the earliest time ≥ `ready` where the bus is free
   * for that long; returns that start time. Bookings over by the issue time are dropped first: no
   * later operation can be ready before the issue time, which never goes backwards.
   * (kernel/metadata-device.ts book mirrors this step for step.)
   */
  private book(channel: number, ready: number, duration: number): number {
    const channelFree = this.channelFree;
    if (!this.sharedChannels) {
      const free = channelFree[channel]!;
      const start = ready > free ? ready : free;
      channelFree[channel] = start + duration;
      return start;
    }
    const starts = this.calendarStart;
    const ends = this.calendarEnd;
    const span = this.calendarSpan;
    const base = channel * CHANNEL_CALENDAR_SLOTS;
    const issue = this.issueTime;
    let head = span[2 * channel]!;
    let count = span[2 * channel + 1]!;
    while (count > 0 && ends[base + head]! <= issue) {
      head++;
      count--;
    }
    if (count === 0) head = 0;
    // The earliest gap: walk the bookings that end after the candidate start.
    let start = ready;
    let at = head + count;
    if (count > 0 && ready < channelFree[channel]!) {
      for (let i = head; i < head + count; i++) {
        const end = ends[base + i]!;
        if (end <= start) continue;
        if (starts[base + i]! >= start + duration) {
          at = i;
          break;
        }
        start = end;
      }
    }
    const end = start + duration;
    if (at > head && ends[base + at - 1] === start) {
      // Back to back with the booking before: one longer booking.
      ends[base + at - 1] = end;
    } else {
      if (head + count === CHANNEL_CALENDAR_SLOTS) {
        if (count === CHANNEL_CALENDAR_SLOTS) {
          // Full: merge the two neighbours with the shortest gap, other than the gap being booked.
          let merge = -1;
          let shortest = Infinity;
          for (let i = 0; i + 1 < count; i++) {
            if (i + 1 === at) continue;
            const gap = starts[base + i + 1]! - ends[base + i]!;
            if (gap < shortest) {
              shortest = gap;
              merge = i;
            }
          }
          ends[base + merge] = ends[base + merge + 1]!;
          starts.copyWithin(base + merge + 1, base + merge + 2, base + count);
          ends.copyWithin(base + merge + 1, base + merge + 2, base + count);
          count--;
          if (at > merge + 1) at--;
        } else {
          starts.copyWithin(base, base + head, base + head + count);
          ends.copyWithin(base, base + head, base + head + count);
          at -= head;
          head = 0;
        }
      }
      starts.copyWithin(base + at + 1, base + at, base + head + count);
      ends.copyWithin(base + at + 1, base + at, base + head + count);
      starts[base + at] = start;
      ends[base + at] = end;
      count++;
    }
    span[2 * channel] = head;
    span[2 * channel + 1] = count;
    if (end > channelFree[channel]!) channelFree[channel] = end;
    return start;
  }

  private finish(die: number, start: number, done: number): number {
    this.dieFree[die] = done;
    this.dieBusy[die] += done - start;
    this.last = done;
    if (done > this.latest) this.latest = done;
    return done;
  }
}
