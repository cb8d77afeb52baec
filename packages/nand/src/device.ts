/**
 * The simulated NAND device: enforces the contract written on {@link NandDevice} (types.ts) over a
 * {@link NandStore}, and adds on-device ECC, seeded fault injection, the timing model and counters.
 *
 * The device keeps its own view of the chip — which pages are programmed, each block's next-page
 * pointer — rebuilt from the store at creation and on reboot(), so the contract checks cost a few
 * typed-array reads and no allocation.
 */
import { eccSectors } from './ecc/hamming.ts';
import { totalBlocks, totalDies, totalPages, validateGeometry, sameGeometry } from './geometry.ts';
import { FaultRandom } from './random.ts';
import { NandCounters } from './stats.ts';
import { RamStore, SPARE_HEAD_BYTES } from './store.ts';
import { clearPageBytes, wordsOver } from './page-bytes.ts';
import type { NandStore } from './store.ts';
import { allocateTables, float64Table, int32Table, TableMemory, uint32Table, uint8Table } from './tables.ts';
import type { NandClockTables } from './timing.ts';
import type { NandCounterTables } from './stats.ts';
import { CHANNEL_CALENDAR_SLOTS, DEFAULT_TIMING, NandClock } from './timing.ts';
import { instantiateKernel } from './kernel-module.ts';
import { METADATA_KERNEL_WASM_BASE64 } from './metadata-kernel-wasm.ts';
import type { MetadataKernelLayout } from './types.ts';
import { NandError } from './types.ts';
import type { EccCode, NandDevice, NandGeometry, NandTimingParams, ReadResult } from './types.ts';

export interface FaultOptions {
  /** Every random fault comes from this seed (default 1). */
  seed?: number;
  /** Blocks marked bad (marker in the spare, as real parts carry it) when the store is fresh. */
  factoryBadBlocks?: readonly number[];
  /** Fraction of blocks made factory-bad when the store is fresh (block 0 never is). */
  factoryBadBlockRate?: number;
  /** Probability that a program fails (PROGRAM_FAILED). */
  programFailureRate?: number;
  /** Probability that an erase fails (ERASE_FAILED). */
  eraseFailureRate?: number;
  /** P/E cycle limit: once a block's erase count reaches it, its programs and erases fail. */
  endurance?: number;
  /** Raw bit error rate per bit per read = base + perCycle · eraseCount; flips appear in the read copy only. */
  bitErrorRate?: { base: number; perCycle: number };
  /** Cut power during the N-th program or erase from now (1 = the next one). */
  powerCutAfter?: number;
}

export interface NandDeviceOptions {
  geometry: NandGeometry;
  /** Default: new RamStore(geometry, { metadataOnly }). */
  store?: NandStore;
  /** Pages keep spare bytes only (the SSD simulator replays millions of writes). */
  metadataOnly?: boolean;
  /** On-device ECC; default null (raw reads, status 'unchecked'). */
  ecc?: { code: EccCode; spareOffset: number } | null;
  /** Bad-block marker byte in the spare of a block's first two pages; default offset 0 for pageSize ≥ 2048, 5 for smaller pages; null = table only. */
  badBlockMarker?: { spareOffset: number } | null;
  /** Operation latencies in ns; defaults {@link DEFAULT_TIMING}. */
  timing?: Partial<NandTimingParams>;
  faults?: FaultOptions;
  /**
   * Use the general device even where the metadata-only fast device would be picked (a
   * metadata-only RamStore whose spare holds at least 16 bytes). For cross-checks and benchmarks.
   */
  forceGeneric?: boolean;
  /**
   * The metadata-only fast device runs its programs, reads and erases in its WebAssembly kernel
   * where one loads (default true). false keeps them in TypeScript, where a {@link NandClock.sink}
   * sees every operation (the same results otherwise).
   */
  wasmKernel?: boolean;
}

export interface FaultControl {
  /** Arms the countdown: power is cut during the N-th program or erase from now; 0 or Infinity disarms. */
  cutPowerAfter(operations: number): void;
  /** Programs + erases that reached the chip so far (failed and interrupted ones included). */
  readonly operations: number;
  /** The next program of this page fails (PROGRAM_FAILED). */
  failProgram(page: number): void;
  /** The next erase of this block fails (ERASE_FAILED). */
  failErase(block: number): void;
  readonly powerIsOn: boolean;
}

export interface SimulatedNand extends NandDevice {
  readonly faults: FaultControl;
  /** The backing store (RAM or image file). */
  readonly store: NandStore;
}

/** The marker value written into bad blocks: anything but 0xFF marks the block. */
export const BAD_BLOCK_MARKER_VALUE = 0x00;
/** Pages of a block that carry the marker (first and second, as ONFI parts do). */
export const BAD_BLOCK_MARKER_PAGES = 2;

export function defaultBadBlockMarker(geometry: NandGeometry): { spareOffset: number } {
  return { spareOffset: geometry.pageSize >= 2048 ? 0 : 5 };
}

function result(ecc: ReadResult['ecc'], erased: boolean): ReadResult {
  return Object.freeze({ ecc, correctedBits: 0, uncorrectableSectors: 0, erased });
}
const UNCHECKED = result('unchecked', false);
const UNCHECKED_ERASED = result('unchecked', true);
const OK = result('ok', false);
const OK_ERASED = result('ok', true);

// Independent random streams, so enabling one fault kind does not shift another's draws.
const STREAM_FACTORY = 0;
const STREAM_FAILURES = 1;
const STREAM_BIT_ERRORS = 2;
const STREAM_DAMAGE = 3;

function checkRate(name: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new NandError('INVALID_GEOMETRY', `faults.${name} must be a probability in [0, 1] (got ${String(value)})`);
  }
  return value;
}

class FaultControlView implements FaultControl {
  constructor(private readonly device: SimulatedNandDevice) {}
  cutPowerAfter(operations: number): void {
    this.device.armPowerCut(operations);
  }
  get operations(): number {
    return this.device.operationsSoFar();
  }
  failProgram(page: number): void {
    this.device.armProgramFailure(page);
  }
  failErase(block: number): void {
    this.device.armEraseFailure(block);
  }
  get powerIsOn(): boolean {
    return this.device.powered;
  }
}

/**
 * The device's own arrays when the caller allocates them (the metadata fast device puts them in
 * its TableMemory, next to the store's).
 */
interface DeviceTables {
  readonly programmed: Uint8Array;
  readonly nextPage: Uint32Array;
  readonly dieOfBlock: Int32Array;
  readonly channelOfDie: Int32Array;
  readonly clock: NandClockTables;
  readonly counters: NandCounterTables;
}

class SimulatedNandDevice implements SimulatedNand {
  readonly geometry: NandGeometry;
  readonly metadataOnly: boolean;
  readonly store: NandStore;
  /** The counters (see {@link stats}); the device's own code updates them through this field. */
  protected readonly counterObject: NandCounters;
  readonly timing: NandClock;
  readonly faults: FaultControl;
  operationCount = 0;
  powered = true;

  private closed = false;
  private readonly pageSize: number;
  private readonly spareSize: number;
  protected readonly pagesPerBlock: number;
  protected readonly pageCount: number;
  protected readonly blockCount: number;
  protected readonly recordBytes: number;
  /** 1 = programmed since the last erase (device view, rebuilt from the store). */
  protected readonly programmed: Uint8Array;
  private readonly programmedWords: Uint32Array | null;
  /** Lowest page index in the block that may still be programmed. */
  protected readonly nextPage: Uint32Array;
  private readonly eccCode: EccCode | null;
  private readonly eccOffset: number;
  private readonly eccSectorCount: number;
  private readonly markerOffset: number;
  private readonly scratchData: Uint8Array;
  private readonly scratchSpare: Uint8Array;
  // The store's tables and flags, held here so the hot paths skip a load through the store
  // (the arrays are the store's own: never replaced, only updated in place).
  protected readonly badBlocks: Uint8Array;
  private readonly eraseCounts: Uint32Array;
  protected readonly storeReadOnly: boolean;
  /** No ECC, no bit errors: a read copies the stored bytes and nothing else. */
  protected readonly plainReads: boolean;
  /** log2(pagesPerBlock) when it is a power of two, else −1: page → block by a shift, not a division. */
  protected readonly pageShift: number;
  /** Die of each block and channel of each die, looked up instead of divided out per operation. */
  protected readonly dieOfBlock: Int32Array;
  protected readonly channelOfDie: Int32Array;
  /** The per-block counters of {@link stats} (never replaced; reset() zeroes them in place). */
  protected readonly readsPerBlock: Uint32Array;
  protected readonly programsPerBlock: Uint32Array;

  private readonly faultOptions: FaultOptions;
  private readonly failureRandom: FaultRandom;
  private readonly bitRandom: FaultRandom;
  private readonly damageRandom: FaultRandom;
  private readonly programFailureRate: number;
  private readonly eraseFailureRate: number;
  private readonly endurance: number;
  private readonly berBase: number;
  private readonly berPerCycle: number;
  private readonly bitErrorsOn: boolean;
  private readonly pendingProgramFailures = new Set<number>();
  private readonly pendingEraseFailures = new Set<number>();
  protected programFaultsArmed: boolean;
  protected eraseFaultsArmed: boolean;
  protected cutCountdown = 0;
  /**
   * Power off, a power cut or program fault armed, or a read-only store: what sends the fast
   * metadata methods down the general path, kept as one flag (updateGeneralOnly after each change).
   * Tested as `=== true`: one compare, where a bare `if` compiles to V8's generic truthiness test.
   */
  protected generalOnly = false;

  constructor(options: NandDeviceOptions, tables?: DeviceTables) {
    const geometry = validateGeometry(options.geometry);
    if (options.store !== undefined) {
      if (!sameGeometry(options.store.geometry, geometry)) {
        throw new NandError('INVALID_GEOMETRY', 'the store was made for a different geometry than options.geometry');
      }
      if (options.metadataOnly !== undefined && options.metadataOnly !== options.store.metadataOnly) {
        throw new NandError('INVALID_GEOMETRY', `options.metadataOnly (${options.metadataOnly}) disagrees with the store (${options.store.metadataOnly})`);
      }
    }
    this.geometry = geometry;
    this.store = options.store ?? new RamStore(geometry, { metadataOnly: options.metadataOnly ?? false });
    this.metadataOnly = this.store.metadataOnly;
    this.badBlocks = this.store.badBlocks;
    this.eraseCounts = this.store.eraseCounts;
    this.storeReadOnly = this.store.readOnly;
    this.pageSize = geometry.pageSize;
    this.spareSize = geometry.spareSize;
    this.pagesPerBlock = geometry.pagesPerBlock;
    this.pageCount = totalPages(geometry);
    this.blockCount = totalBlocks(geometry);
    this.recordBytes = geometry.pageSize + geometry.spareSize;
    this.programmed = tables?.programmed ?? new Uint8Array(this.pageCount);
    this.programmedWords = wordsOver(this.programmed);
    this.pageShift = exactLog2(geometry.pagesPerBlock);
    this.dieOfBlock = tables?.dieOfBlock ?? new Int32Array(this.blockCount);
    for (let b = 0; b < this.blockCount; b++) this.dieOfBlock[b] = Math.floor(b / geometry.blocksPerDie);
    this.channelOfDie = tables?.channelOfDie ?? new Int32Array(totalDies(geometry));
    for (let d = 0; d < this.channelOfDie.length; d++) this.channelOfDie[d] = Math.floor(d / geometry.diesPerChannel);
    this.nextPage = tables?.nextPage ?? new Uint32Array(this.blockCount);
    this.scratchData = new Uint8Array(geometry.pageSize);
    this.scratchSpare = new Uint8Array(geometry.spareSize);

    const marker = options.badBlockMarker === undefined ? defaultBadBlockMarker(geometry) : options.badBlockMarker;
    if (marker !== null && !(Number.isInteger(marker.spareOffset) && marker.spareOffset >= 0 && marker.spareOffset < geometry.spareSize)) {
      throw new NandError('INVALID_GEOMETRY', `badBlockMarker.spareOffset ${marker.spareOffset} is outside the ${geometry.spareSize}-byte spare`);
    }
    this.markerOffset = marker === null ? -1 : marker.spareOffset;

    const ecc = options.ecc ?? null;
    this.eccCode = ecc === null ? null : ecc.code;
    this.eccOffset = ecc === null ? 0 : ecc.spareOffset;
    this.eccSectorCount = ecc === null ? 0 : eccSectors(ecc.code, geometry.pageSize);
    if (ecc !== null) {
      const bytes = this.eccSectorCount * ecc.code.parityBytes;
      if (geometry.pageSize % ecc.code.sectorSize !== 0) {
        throw new NandError('INVALID_GEOMETRY', `pageSize ${geometry.pageSize} is not a multiple of the ${ecc.code.name} sector size ${ecc.code.sectorSize}`);
      }
      if (!Number.isInteger(ecc.spareOffset) || ecc.spareOffset < 0 || ecc.spareOffset + bytes > geometry.spareSize) {
        throw new NandError('INVALID_GEOMETRY', `ECC parity (${bytes} bytes at spare offset ${ecc.spareOffset}) does not fit the ${geometry.spareSize}-byte spare`);
      }
      if (this.markerOffset >= ecc.spareOffset && this.markerOffset < ecc.spareOffset + bytes) {
        throw new NandError('INVALID_GEOMETRY', `ECC parity bytes ${ecc.spareOffset}…${ecc.spareOffset + bytes - 1} overlap the bad-block marker at spare offset ${this.markerOffset}`);
      }
    }

    const params: NandTimingParams = { ...DEFAULT_TIMING, ...options.timing };
    for (const [name, value] of Object.entries(params)) {
      if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
        throw new NandError('INVALID_GEOMETRY', `timing.${name} must be a finite number ≥ 0 (got ${String(value)})`);
      }
    }
    this.timing = new NandClock(Object.freeze(params), totalDies(geometry), geometry.channels, tables?.clock);
    this.counterObject = new NandCounters(this.blockCount, this.recordBytes, tables?.counters);
    this.readsPerBlock = this.counterObject.readsPerBlock;
    this.programsPerBlock = this.counterObject.programsPerBlock;

    const faults = options.faults ?? {};
    this.faultOptions = faults;
    const seed = faults.seed ?? 1;
    this.failureRandom = new FaultRandom(seed, STREAM_FAILURES);
    this.bitRandom = new FaultRandom(seed, STREAM_BIT_ERRORS);
    this.damageRandom = new FaultRandom(seed, STREAM_DAMAGE);
    this.programFailureRate = checkRate('programFailureRate', faults.programFailureRate);
    this.eraseFailureRate = checkRate('eraseFailureRate', faults.eraseFailureRate);
    checkRate('factoryBadBlockRate', faults.factoryBadBlockRate);
    this.endurance = faults.endurance ?? Infinity;
    if (!(this.endurance >= 0)) throw new NandError('INVALID_GEOMETRY', `faults.endurance must be ≥ 0 (got ${String(faults.endurance)})`);
    this.berBase = faults.bitErrorRate?.base ?? 0;
    this.berPerCycle = faults.bitErrorRate?.perCycle ?? 0;
    if (!(this.berBase >= 0 && this.berPerCycle >= 0)) {
      throw new NandError('INVALID_GEOMETRY', 'faults.bitErrorRate.base and .perCycle must be ≥ 0');
    }
    this.bitErrorsOn = this.berBase > 0 || this.berPerCycle > 0;
    this.plainReads = !this.bitErrorsOn && (this.eccCode === null || this.metadataOnly);
    this.programFaultsArmed = this.programFailureRate > 0 || this.endurance !== Infinity;
    this.updateGeneralOnly();
    this.eraseFaultsArmed = this.eraseFailureRate > 0 || this.endurance !== Infinity;
    if (faults.powerCutAfter !== undefined) this.armPowerCut(faults.powerCutAfter);
    this.faults = new FaultControlView(this);

    this.rebuildView();
  }

  get stats(): NandCounters {
    return this.counterObject;
  }

  /** Operations so far (the count a power cut armed with cutPowerAfter counts down in). */
  operationsSoFar(): number {
    return this.operationCount;
  }

  // ---------------------------------------------------------------- operations

  readPage(page: number, data?: Uint8Array, spare?: Uint8Array): ReadResult {
    if (!this.powered) throw this.powerOffError();
    if (page >>> 0 !== page || page >= this.pageCount) this.checkPage(page);
    const block = this.pageShift >= 0 ? page >>> this.pageShift : (page / this.pagesPerBlock) | 0;
    const die = this.dieOfBlock[block]!;
    this.timing.read(die, this.channelOfDie[die]!, this.recordBytes);
    const stats = this.counterObject;
    stats.pageReads++;
    this.readsPerBlock[block]++;
    const erased = this.programmed[page] === 0;

    if (this.plainReads) {
      // No ECC to run and no bit errors to inject: copy straight from the store.
      if (data !== undefined) {
        if (this.metadataOnly) data.fill(0xff, 0, Math.min(data.length, this.pageSize));
        else this.store.readData(page, data);
      }
      if (spare !== undefined) this.store.readSpare(page, spare);
      return erased ? UNCHECKED_ERASED : UNCHECKED;
    }
    return this.readWithErrors(page, block, erased, data, spare);
  }

  /**
   * The rest of readPage (already charged and counted) when ECC runs or bit errors are injected;
   * kept apart so the plain path above stays small enough for the JIT to inline into callers.
   */
  private readWithErrors(page: number, block: number, erased: boolean, data?: Uint8Array, spare?: Uint8Array): ReadResult {
    const stats = this.counterObject;
    if (this.metadataOnly) {
      if (data !== undefined) data.fill(0xff, 0, Math.min(data.length, this.pageSize));
      if (spare !== undefined) {
        if (this.bitErrorsOn) {
          this.store.readSpare(page, this.scratchSpare);
          this.injectBitErrors(null, this.scratchSpare, block);
          copyInto(spare, this.scratchSpare);
        } else {
          this.store.readSpare(page, spare);
        }
      }
      return erased ? UNCHECKED_ERASED : UNCHECKED;
    }

    if (this.eccCode === null && !this.bitErrorsOn) {
      if (data !== undefined) this.store.readData(page, data);
      if (spare !== undefined) this.store.readSpare(page, spare);
      return erased ? UNCHECKED_ERASED : UNCHECKED;
    }

    const pageData = this.scratchData;
    const pageSpare = this.scratchSpare;
    this.store.readData(page, pageData);
    this.store.readSpare(page, pageSpare);
    if (this.bitErrorsOn) this.injectBitErrors(pageData, pageSpare, block);
    let outcome: ReadResult = erased ? UNCHECKED_ERASED : UNCHECKED;
    if (this.eccCode !== null) {
      const code = this.eccCode;
      let corrected = 0;
      let failed = 0;
      for (let s = 0; s < this.eccSectorCount; s++) {
        const n = code.correct(pageData, s * code.sectorSize, pageSpare, this.eccOffset + s * code.parityBytes);
        if (n < 0) failed++;
        else corrected += n;
      }
      stats.eccCorrectedBits += corrected;
      if (failed > 0) {
        stats.eccUncorrectableReads++;
        outcome = Object.freeze({ ecc: 'uncorrectable', correctedBits: 0, uncorrectableSectors: failed, erased });
      } else if (corrected > 0) {
        outcome = Object.freeze({ ecc: 'corrected', correctedBits: corrected, uncorrectableSectors: 0, erased });
      } else {
        outcome = erased ? OK_ERASED : OK;
      }
    }
    if (data !== undefined) copyInto(data, pageData);
    if (spare !== undefined) copyInto(spare, pageSpare);
    return outcome;
  }

  programPage(page: number, data: Uint8Array | null, spare: Uint8Array): void {
    if (!this.powered) throw this.powerOffError();
    if (page >>> 0 !== page || page >= this.pageCount) this.checkPage(page);
    if ((data !== null && data.length !== this.pageSize) || spare.length > this.spareSize) throw this.bufferSizeError(page, data, spare);
    const block = this.pageShift >= 0 ? page >>> this.pageShift : (page / this.pagesPerBlock) | 0;
    if (this.badBlocks[block] !== 0) throw new NandError('BAD_BLOCK', `program of page ${page}: block ${block} is bad`);
    const inBlock = page - block * this.pagesPerBlock;
    // A programmed page always lies below its block's next-page pointer, so one comparison
    // clears both PROGRAM_TWICE and PROGRAM_OUT_OF_ORDER on the way through.
    if (inBlock < this.nextPage[block]!) throw this.programOrderError(page, block, inBlock);
    if (this.storeReadOnly) throw readOnlyError('program');

    // The operation reaches the chip from here on.
    this.operationCount++;
    const die = this.dieOfBlock[block]!;
    this.timing.program(die, this.channelOfDie[die]!, this.recordBytes);
    const stats = this.counterObject;
    stats.pagePrograms++;
    this.programsPerBlock[block]++;

    if ((this.eccCode !== null && !this.metadataOnly) || this.cutCountdown !== 0 || this.programFaultsArmed) {
      this.programWithHooks(page, block, inBlock, data, spare);
      return;
    }
    this.store.writePage(page, data, spare);
    this.programmed[page] = 1;
    this.nextPage[block] = inBlock + 1;
  }

  /**
   * The rest of programPage (already charged and counted) when ECC parity is written, a power cut
   * is armed or program failures may happen; kept apart so the plain path stays small.
   */
  private programWithHooks(page: number, block: number, inBlock: number, data: Uint8Array | null, spare: Uint8Array): void {
    const stats = this.counterObject;
    let spareOut = spare;
    if (this.eccCode !== null && !this.metadataOnly) {
      spareOut = this.scratchSpare;
      copyInto(spareOut, spare);
      spareOut.fill(0xff, spare.length);
      this.writeParity(data, spareOut);
    }
    if (this.cutCountdown !== 0 && --this.cutCountdown === 0) {
      this.writeInterruptedProgram(page, data, spareOut);
      this.markProgrammed(page, block, inBlock);
      this.powered = false;
      this.updateGeneralOnly();
      throw new NandError('POWER_LOSS', `power cut during the program of page ${page} (block ${block}); the page is left half programmed`);
    }
    if (this.programFaultsArmed && this.programShouldFail(page, block)) {
      stats.programFailures++;
      // A failed program leaves the page in an undefined state: model it as partly programmed.
      this.writeInterruptedProgram(page, data, spareOut);
      this.markProgrammed(page, block, inBlock);
      throw new NandError('PROGRAM_FAILED', `program of page ${page} failed (block ${block}); retire the block`);
    }
    this.store.writePage(page, data, spareOut);
    this.programmed[page] = 1;
    this.nextPage[block] = inBlock + 1;
  }

  eraseBlock(block: number): void {
    if (!this.powered) throw this.powerOffError();
    if (block >>> 0 !== block || block >= this.blockCount) this.checkBlock(block);
    if (this.badBlocks[block] !== 0) {
      throw new NandError('BAD_BLOCK', `erase of block ${block}: the block is bad`);
    }
    if (this.storeReadOnly) throw readOnlyError('erase');

    this.operationCount++;
    this.timing.erase(this.dieOfBlock[block]!);
    this.counterObject.blockErases++;
    this.counterObject.erasesPerBlock[block]++;
    if (this.cutCountdown !== 0 && --this.cutCountdown === 0) {
      this.writeInterruptedErase(block);
      this.powered = false;
      this.updateGeneralOnly();
      throw new NandError('POWER_LOSS', `power cut during the erase of block ${block}; the block is left partly erased`);
    }
    if (this.eraseFaultsArmed && this.eraseShouldFail(block)) {
      this.counterObject.eraseFailures++;
      throw new NandError('ERASE_FAILED', `erase of block ${block} failed; retire the block`);
    }
    this.store.eraseBlock(block);
    clearPageBytes(this.programmed, this.programmedWords, block * this.pagesPerBlock, this.pagesPerBlock);
    this.nextPage[block] = 0;
    this.eraseCounts[block]++;
  }

  isBad(block: number): boolean {
    if (block >>> 0 !== block || block >= this.blockCount) this.checkBlock(block);
    return this.badBlocks[block] !== 0;
  }

  markBad(block: number): void {
    if (!this.powered) throw this.powerOffError();
    this.checkBlock(block);
    if (this.store.badBlocks[block] !== 0) return;
    this.store.badBlocks[block] = 1;
    this.writeBadBlockMarker(block);
  }

  eraseCount(block: number): number {
    if (block >>> 0 !== block || block >= this.blockCount) this.checkBlock(block);
    return this.eraseCounts[block]!;
  }

  sync(): void {
    if (!this.powered) throw this.powerOffError();
    this.store.sync();
  }

  close(): void {
    if (this.closed) return;
    // After a power cut nothing more reaches the store: unsynced metadata is lost, as on a board.
    this.store.close(this.powered);
    this.powered = false;
    this.updateGeneralOnly();
    this.closed = true;
  }

  reboot(): void {
    if (this.closed) throw new NandError('POWER_OFF', 'the device is closed; open it again instead of rebooting');
    if (this.powered) this.store.sync(); // a clean power cycle
    this.store.reload();
    this.rebuildView();
    this.powered = true;
    this.updateGeneralOnly();
  }

  // ---------------------------------------------------------------- fault control

  armPowerCut(operations: number): void {
    if (operations === 0 || operations === Infinity) {
      this.cutCountdown = 0;
      this.updateGeneralOnly();
      return;
    }
    if (!Number.isInteger(operations) || operations < 0) {
      throw new NandError('OUT_OF_RANGE', `cutPowerAfter(${operations}): expected a positive integer, 0 or Infinity`);
    }
    this.cutCountdown = operations;
    this.updateGeneralOnly();
  }

  protected updateGeneralOnly(): void {
    this.generalOnly = !this.powered || this.cutCountdown !== 0 || this.programFaultsArmed || this.storeReadOnly;
  }

  armProgramFailure(page: number): void {
    this.checkPage(page);
    this.pendingProgramFailures.add(page);
    this.programFaultsArmed = true;
    this.updateGeneralOnly();
  }

  armEraseFailure(block: number): void {
    this.checkBlock(block);
    this.pendingEraseFailures.add(block);
    this.eraseFaultsArmed = true;
    this.updateGeneralOnly();
  }

  // ---------------------------------------------------------------- internals

  protected checkPage(page: number): void {
    // (page >>> 0) === page holds exactly for integers in 0 … 2^32−1; pageCount < 2^31.
    if (page >>> 0 !== page || page >= this.pageCount) {
      throw new NandError('OUT_OF_RANGE', `page ${String(page)} is outside 0…${this.pageCount - 1}`);
    }
  }

  private checkBlock(block: number): void {
    if (block >>> 0 !== block || block >= this.blockCount) {
      throw new NandError('OUT_OF_RANGE', `block ${String(block)} is outside 0…${this.blockCount - 1}`);
    }
  }

  private bufferSizeError(page: number, data: Uint8Array | null, spare: Uint8Array): NandError {
    if (data !== null && data.length !== this.pageSize) {
      return new NandError('BUFFER_SIZE', `program of page ${page}: data is ${data.length} bytes, the page holds ${this.pageSize}`);
    }
    return new NandError('BUFFER_SIZE', `program of page ${page}: spare is ${spare.length} bytes, the page has ${this.spareSize}`);
  }

  /** The contract error for programming a page at or below its block's next-page pointer. */
  protected programOrderError(page: number, block: number, inBlock: number): NandError {
    if (this.programmed[page] !== 0) {
      return new NandError('PROGRAM_TWICE', `page ${page} (block ${block}) is already programmed; erase the block first`);
    }
    return new NandError(
      'PROGRAM_OUT_OF_ORDER',
      `page ${page} is page ${inBlock} of block ${block}, but page ${this.nextPage[block]! - 1} of that block is already programmed (pages go in ascending order)`,
    );
  }

  private powerOffError(): NandError {
    return new NandError('POWER_OFF', this.closed ? 'the device is closed' : 'power is off after a power cut; call reboot()');
  }

  private markProgrammed(page: number, block: number, inBlock: number): void {
    this.programmed[page] = 1;
    if (inBlock + 1 > this.nextPage[block]) this.nextPage[block] = inBlock + 1;
  }

  private writeParity(data: Uint8Array | null, spare: Uint8Array): void {
    const code = this.eccCode as EccCode;
    const source = data ?? this.scratchData.fill(0xff);
    for (let s = 0; s < this.eccSectorCount; s++) {
      code.encode(source, s * code.sectorSize, spare, this.eccOffset + s * code.parityBytes);
    }
  }

  private programShouldFail(page: number, block: number): boolean {
    if (this.pendingProgramFailures.delete(page)) return true;
    if (this.store.eraseCounts[block] >= this.endurance) return true;
    return this.programFailureRate > 0 && this.failureRandom.nextFloat() < this.programFailureRate;
  }

  private eraseShouldFail(block: number): boolean {
    if (this.pendingEraseFailures.delete(block)) return true;
    if (this.store.eraseCounts[block] >= this.endurance) return true;
    return this.eraseFailureRate > 0 && this.failureRandom.nextFloat() < this.eraseFailureRate;
  }

  /** Flips each bit of the copy with probability base + perCycle · eraseCount (geometric gaps). */
  private injectBitErrors(data: Uint8Array | null, spare: Uint8Array, block: number): void {
    const p = Math.min(1, this.berBase + this.berPerCycle * this.store.eraseCounts[block]);
    if (p <= 0) return;
    const dataBits = data === null ? 0 : this.pageSize * 8;
    const totalBits = dataBits + this.spareSize * 8;
    const random = this.bitRandom;
    for (let bit = random.nextGap(p); bit < totalBits; bit += 1 + random.nextGap(p)) {
      if (bit < dataBits) (data as Uint8Array)[bit >> 3] ^= 1 << (bit & 7);
      else spare[(bit - dataBits) >> 3] ^= 1 << ((bit - dataBits) & 7);
    }
  }

  /**
   * Programming moves cells from 1 to 0. Cut short, a seeded subset of the bits meant to become 0
   * is still 1, in data and spare alike; at least one such bit when the page had any.
   */
  private writeInterruptedProgram(page: number, data: Uint8Array | null, spare: Uint8Array): void {
    const random = this.damageRandom;
    const partData = new Uint8Array(this.pageSize).fill(0xff);
    if (data !== null && !this.metadataOnly) partData.set(data);
    const partSpare = new Uint8Array(this.spareSize).fill(0xff);
    partSpare.set(spare);
    let damaged = false;
    let firstZero: Uint8Array | null = null;
    let firstZeroIndex = 0;
    for (const buffer of [partData, partSpare]) {
      for (let i = 0; i < buffer.length; i++) {
        const intended = buffer[i];
        if (intended === 0xff) continue;
        if (firstZero === null) {
          firstZero = buffer;
          firstZeroIndex = i;
        }
        const unprogrammed = random.nextUint32() & 0xff & ~intended;
        if (unprogrammed !== 0) damaged = true;
        buffer[i] = intended | unprogrammed;
      }
    }
    if (!damaged && firstZero !== null) {
      const v = firstZero[firstZeroIndex];
      firstZero[firstZeroIndex] = v | ((v + 1) & ~v & 0xff); // raise the lowest 0 bit
    }
    this.store.writePage(page, this.metadataOnly ? null : partData, partSpare);
  }

  /**
   * Erasing moves cells from 0 to 1. Cut short, a seeded prefix of the block's pages is erased and
   * the programmed pages after it keep their content with a seeded subset of 0 bits already at 1.
   * The last programmed page always survives (damaged), so the block is neither erased nor intact.
   */
  private writeInterruptedErase(block: number): void {
    const first = block * this.pagesPerBlock;
    let lastProgrammed = -1;
    for (let i = 0; i < this.pagesPerBlock; i++) if (this.programmed[first + i] !== 0) lastProgrammed = i;
    if (lastProgrammed < 0) return; // nothing to damage: an empty block stays empty
    const random = this.damageRandom;
    const erasedPrefix = random.nextInt(lastProgrammed + 1);
    const survivors: { page: number; data: Uint8Array; spare: Uint8Array }[] = [];
    for (let i = erasedPrefix; i <= lastProgrammed; i++) {
      const page = first + i;
      if (this.programmed[page] === 0) continue;
      const data = new Uint8Array(this.pageSize);
      const spare = new Uint8Array(this.spareSize);
      this.store.readData(page, data);
      this.store.readSpare(page, spare);
      let damaged = false;
      for (const buffer of this.metadataOnly ? [spare] : [data, spare]) {
        for (let j = 0; j < buffer.length; j++) {
          const value = buffer[j];
          if (value === 0xff) continue;
          // each 0 bit is already back at 1 with probability 1/4
          const raised = random.nextUint32() & random.nextUint32() & 0xff & ~value;
          if (raised !== 0) damaged = true;
          buffer[j] = value | raised;
        }
      }
      if (!damaged) {
        const buffer = this.metadataOnly ? spare : data;
        const j = buffer.findIndex((v) => v !== 0xff);
        if (j >= 0) buffer[j] |= (buffer[j] + 1) & ~buffer[j] & 0xff;
      }
      survivors.push({ page, data, spare });
    }
    this.store.eraseBlock(block);
    this.programmed.fill(0, first, first + this.pagesPerBlock);
    this.nextPage[block] = 0;
    for (const s of survivors) {
      this.store.writePage(s.page, this.metadataOnly ? null : s.data, s.spare);
      this.markProgrammed(s.page, block, s.page - first);
    }
  }

  /** Writes the marker byte into the spare of the block's first pages (AND-ing, as a real re-program does). */
  private writeBadBlockMarker(block: number): void {
    if (this.markerOffset < 0 || this.store.readOnly) return;
    const first = block * this.pagesPerBlock;
    const pages = Math.min(BAD_BLOCK_MARKER_PAGES, this.pagesPerBlock);
    for (let i = 0; i < pages; i++) {
      const page = first + i;
      this.store.readData(page, this.scratchData);
      this.store.readSpare(page, this.scratchSpare);
      this.scratchSpare[this.markerOffset] &= BAD_BLOCK_MARKER_VALUE;
      this.store.writePage(page, this.metadataOnly ? null : this.scratchData, this.scratchSpare);
      this.markProgrammed(page, block, i);
    }
  }

  /** Rebuilds the device's view from the store; on a fresh store, finds bad blocks from markers and applies factory faults. */
  private rebuildView(): void {
    const store = this.store;
    this.programmed.fill(0);
    this.nextPage.fill(0);
    const ppb = this.pagesPerBlock;
    for (let page = 0; page < this.pageCount; page++) {
      if (store.isProgrammed(page)) {
        this.programmed[page] = 1;
        const block = Math.floor(page / ppb);
        this.nextPage[block] = page - block * ppb + 1;
      }
    }
    if (store.hasMetadata) return;
    if (this.markerOffset >= 0) {
      const spare = this.scratchSpare;
      const pages = Math.min(BAD_BLOCK_MARKER_PAGES, ppb);
      for (let block = 0; block < this.blockCount; block++) {
        for (let i = 0; i < pages; i++) {
          const page = block * ppb + i;
          if (this.programmed[page] === 0) continue;
          store.readSpare(page, spare);
          if (spare[this.markerOffset] !== 0xff) {
            store.badBlocks[block] = 1;
            break;
          }
        }
      }
    }
    const faults = this.faultOptions;
    const factory = new Set<number>();
    for (const block of faults.factoryBadBlocks ?? []) {
      this.checkBlock(block);
      factory.add(block);
    }
    const rate = faults.factoryBadBlockRate ?? 0;
    if (rate > 0) {
      const random = new FaultRandom(faults.seed ?? 1, STREAM_FACTORY);
      for (let block = 1; block < this.blockCount; block++) if (random.nextFloat() < rate) factory.add(block);
    }
    for (const block of factory) {
      if (store.badBlocks[block] !== 0) continue;
      store.badBlocks[block] = 1;
      this.writeBadBlockMarker(block);
    }
    // Persist the table found now, so later reboots/reopens trust it instead of rescanning
    // markers (user spare bytes at the marker position would otherwise read as bad blocks).
    if (!store.readOnly) store.sync();
  }
}

/** log2(n) when n is a power of two (n ≤ 2^30), else −1. */
function exactLog2(n: number): number {
  for (let k = 0; k <= 30; k++) if (n === 2 ** k) return k;
  return -1;
}

function copyInto(target: Uint8Array, source: Uint8Array): void {
  const n = Math.min(target.length, source.length);
  if (n === source.length) target.set(source);
  else target.set(source.subarray(0, n));
}

function readOnlyError(operation: string): NandError {
  return new NandError('IMAGE_IO', `${operation} refused: the image is open read-only`);
}

/**
 * The metadata-only fast device: the general device (every rule, fault, power cut, reboot and
 * counter is the inherited code) plus {@link NandDevice.programSpareWords},
 * {@link NandDevice.copyback} and {@link NandDevice.copybackRun}, which write the 16-byte spare
 * head as four words straight into the RAM store's dense head words and per-page
 * state bytes: no spare Uint8Array, no store call, no byte copy. While a power cut or a program
 * fault is armed (or power is off) the one-page methods go through
 * {@link SimulatedNandDevice.programPage} instead and copybackRun declines, so what is observable —
 * the page contents, the thrown errors, the seeded damage, the counters and the clock — is the
 * general device's by construction.
 */
class MetadataNandDevice extends SimulatedNandDevice {
  /** The RAM store's dense spare heads: page p's four words at 4p … 4p + 3. */
  private readonly heads: Uint32Array;
  private readonly pageStates: Uint8Array;
  private readonly clock: NandClock;
  private readonly counters: NandCounters;
  /** The general path's spare buffer (16 bytes, word-aligned). */
  private readonly wordSpare = new Uint8Array(SPARE_HEAD_BYTES);
  private readonly wordSpareView = new DataView(this.wordSpare.buffer);

  /** The WebAssembly kernel over the tables (kernel/metadata-device.ts), or null. */
  private readonly kernel: MetadataKernel | null = null;
  /** The kernel's counter cells (page reads, page programs, block erases, operations), folded into the counters on reading. */
  private readonly kernelCounters: Float64Array | null = null;
  /** The kernel's flag cells: fast programs allowed, fast erases allowed (see updateGeneralOnly). */
  private readonly kernelFlags: Int32Array | null = null;
  readonly metadataKernel: MetadataKernelLayout | null = null;

  constructor(options: NandDeviceOptions, store: RamStore, tables?: DeviceTables, layout?: { memory: TableMemory; offsets: Readonly<Record<string, number>> }) {
    super({ ...options, store }, tables);
    this.heads = store.metadataHeadWords!;
    this.pageStates = store.pageStates;
    this.clock = this.timing;
    this.counters = this.counterObject;
    if (layout !== undefined && options.wasmKernel !== false) {
      const cells = layout.memory.allocate({ counterCells: float64Table(4), flagCells: int32Table(3) });
      const at = layout.offsets;
      const params = this.timing.params;
      // The kernel's imported globals (kernel/metadata-device.ts): table addresses and parameters.
      const globals: Record<string, number> = {
        heads: at.headArea!, pageState: at.pageState!, eraseCounts: at.eraseCounts!, badBlocks: at.badBlocks!, programmed: at.programmed!,
        nextPage: at.nextPage!, dieOfBlock: at.dieOfBlock!, channelOfDie: at.channelOfDie!, readsPerBlock: at.readsPerBlock!,
        programsPerBlock: at.programsPerBlock!, erasesPerBlock: at.erasesPerBlock!, dieBusy: at.dieBusy!, dieFree: at.dieFree!,
        channelFree: at.channelFree!, clockCells: at.clockCells!, calendarStart: at.calendarStart!, calendarEnd: at.calendarEnd!, calendarSpan: at.calendarSpan!,
        sharedChannels: this.geometry.diesPerChannel > 1 ? 1 : 0, calendarSlots: CHANNEL_CALENDAR_SLOTS, counterCells: cells.offsets.counterCells, flagCells: cells.offsets.flagCells,
        pageCount: this.pageCount, blockCount: this.blockCount, pagesPerBlock: this.pagesPerBlock, pageShift: this.pageShift, dieShift: exactLog2(this.geometry.blocksPerDie),
        tR: params.tR, tPROG: params.tPROG, tBERS: params.tBERS, transfer: this.recordBytes * params.transferPerByte,
      };
      const kernel = instantiateKernel<MetadataKernel>(METADATA_KERNEL_WASM_BASE64, layout.memory.memory, { device: globals });
      if (kernel !== null) {
        this.kernel = kernel;
        this.kernelCounters = cells.views.counterCells;
        this.kernelFlags = cells.views.flagCells;
        this.metadataKernel = { memory: layout.memory, globals };
        this.updateGeneralOnly();
      }
    }
  }

  /** The counters, with what the kernel counted since the last reading folded in. */
  override get stats(): NandCounters {
    this.foldKernelCounters();
    return this.counterObject;
  }

  override operationsSoFar(): number {
    this.foldKernelCounters();
    return this.operationCount;
  }

  private foldKernelCounters(): void {
    const cells = this.kernelCounters;
    if (cells === null) return;
    const counters = this.counterObject;
    if (cells[0] !== 0) counters.pageReads += cells[0]!;
    if (cells[1] !== 0) counters.pagePrograms += cells[1]!;
    if (cells[2] !== 0) counters.blockErases += cells[2]!;
    if (cells[3] !== 0) this.operationCount += cells[3]!;
    cells.fill(0);
  }

  /** Also tells the kernel whether fast programs and fast erases may run. */
  protected override updateGeneralOnly(): void {
    super.updateGeneralOnly();
    const flags = this.kernelFlags;
    if (flags === null || flags === undefined) return; // during the base constructor
    flags[0] = this.generalOnly === true ? 0 : 1;
    flags[1] = this.generalOnly === true || this.eraseFaultsArmed ? 0 : 1;
    flags[2] = this.powered && this.plainReads ? 1 : 0;
  }

  override eraseBlock(block: number): void {
    const kernel = this.kernel;
    if (kernel !== null && block >>> 0 === block && kernel.erase(block) === 0) return;
    super.eraseBlock(block);
  }

  programSpareWords(page: number, w0: number, w1: number, w2: number, w3: number): void {
    // The kernel programs the page when it can; otherwise (nothing done) the code below raises
    // the error or takes the general path, as before.
    const kernel = this.kernel;
    if (kernel !== null && page >>> 0 === page && kernel.program(page, w0, w1, w2, w3) === 0) return;
    if (this.generalOnly === true) {
      this.programPage(page, null, this.spareOf(w0, w1, w2, w3));
      return;
    }
    if (page >>> 0 !== page || page >= this.pageCount) this.checkPage(page);
    const block = this.pageShift >= 0 ? page >>> this.pageShift : (page / this.pagesPerBlock) | 0;
    if (this.badBlocks[block] !== 0) throw new NandError('BAD_BLOCK', `program of page ${page}: block ${block} is bad`);
    const inBlock = page - block * this.pagesPerBlock;
    if (inBlock < this.nextPage[block]!) throw this.programOrderError(page, block, inBlock);
    this.operationCount++;
    const die = this.dieOfBlock[block]!;
    this.clock.program(die, this.channelOfDie[die]!, this.recordBytes);
    this.counters.pagePrograms++;
    this.programsPerBlock[block]++;
    const words = this.heads;
    const w = page << 2;
    words[w] = w0;
    words[w + 1] = w1;
    words[w + 2] = w2;
    words[w + 3] = w3;
    // The store's state byte: programmed, 16 spare bytes stored (RamStore's encoding, n + 1).
    this.pageStates[page] = SPARE_HEAD_BYTES + 1;
    this.programmed[page] = 1;
    this.nextPage[block] = inBlock + 1;
  }

  copyback(source: number, target: number, w0: number, w1: number, w2: number, w3: number): void {
    if (this.generalOnly === true) {
      this.readPage(source);
      this.programSpareWords(target, w0, w1, w2, w3);
      return;
    }
    if (source >>> 0 !== source || source >= this.pageCount) this.checkPage(source);
    // The read (readPage with no buffers: charged and counted, nothing copied).
    const sourceBlock = this.pageShift >= 0 ? source >>> this.pageShift : (source / this.pagesPerBlock) | 0;
    const sourceDie = this.dieOfBlock[sourceBlock]!;
    this.clock.read(sourceDie, this.channelOfDie[sourceDie]!, this.recordBytes);
    const stats = this.counters;
    stats.pageReads++;
    this.readsPerBlock[sourceBlock]++;
    // The program: nothing is armed, so programSpareWords takes its own fast path, checks included.
    this.programSpareWords(target, w0, w1, w2, w3);
  }

  copybackRun(sources: Int32Array, from: number, count: number, target: number, words: Uint32Array): boolean {
    if (this.generalOnly === true) return false;
    if (count <= 0) return true;
    if (words.length < 4 * count) {
      throw new NandError('BUFFER_SIZE', `copybackRun: ${count} pages need ${4 * count} spare words, got ${words.length}`);
    }
    const pageCount = this.pageCount;
    const ppb = this.pagesPerBlock;
    const shift = this.pageShift;
    const dieOfBlock = this.dieOfBlock;
    // One pass: every source in range (else decline), whether all lie on one die, and whether
    // all lie in one block (a GC run from its victim: the reads are then counted once).
    let sourceDie = -1;
    let sourceBlock = -1;
    for (let i = from; i < from + count; i++) {
      const source = sources[i]!;
      if (source >>> 0 !== source || source >= pageCount) return false;
      const b = shift >= 0 ? source >>> shift : (source / ppb) | 0;
      if (b === sourceBlock) continue;
      const die = dieOfBlock[b]!;
      sourceDie = sourceDie === -1 || sourceDie === die ? die : -2;
      sourceBlock = sourceBlock === -1 ? b : -2;
    }
    // The targets: the same checks as the first program makes, and the run must stay in one block.
    if (target >>> 0 !== target || target >= pageCount) this.checkPage(target);
    const block = shift >= 0 ? target >>> shift : (target / ppb) | 0;
    if (this.badBlocks[block] !== 0) throw new NandError('BAD_BLOCK', `program of page ${target}: block ${block} is bad`);
    const first = target - block * ppb;
    if (first < this.nextPage[block]!) throw this.programOrderError(target, block, first);
    if (first + count > ppb) {
      throw new NandError('OUT_OF_RANGE', `copybackRun: ${count} pages from page ${target} run past the end of block ${block}`);
    }
    const clock = this.clock;
    const bytes = this.recordBytes;
    const channelOfDie = this.channelOfDie;
    const readsPerBlock = this.readsPerBlock;
    const targetDie = dieOfBlock[block]!;
    const targetChannel = channelOfDie[targetDie]!;
    const heads = this.heads;
    const pageStates = this.pageStates;
    const programmed = this.programmed;
    // The usual case, a block-mode GC: every source on the target's die (the victim block).
    const sameDie = sourceDie === targetDie;
    if (sameDie) clock.copybackRun(targetDie, targetChannel, bytes, count);
    if (sourceBlock >= 0) readsPerBlock[sourceBlock] += count;
    if (sourceBlock < 0 || !sameDie) {
      // Sources in several blocks, or on other dies: reads counted per block, timed page by page.
      for (let i = 0; i < count; i++) {
        const source = sources[from + i]!;
        const b = shift >= 0 ? source >>> shift : (source / ppb) | 0;
        if (sourceBlock < 0) readsPerBlock[b]++;
        if (!sameDie) {
          const die = dieOfBlock[b]!;
          clock.read(die, channelOfDie[die]!, bytes);
          clock.program(targetDie, targetChannel, bytes);
        }
      }
    }
    // The spare heads, and the pages' state bytes (RamStore's encoding n + 1: 16 bytes stored).
    // Bulk copies: a JavaScript loop re-checks every array on every page.
    heads.set(count << 2 === words.length ? words : words.subarray(0, count << 2), target << 2);
    pageStates.fill(SPARE_HEAD_BYTES + 1, target, target + count);
    programmed.fill(1, target, target + count);
    // The counters of count reads and count programs, once.
    const stats = this.counters;
    stats.pageReads += count;
    stats.pagePrograms += count;
    this.programsPerBlock[block] += count;
    this.operationCount += count;
    this.nextPage[block] = first + count;
    return true;
  }

  /** The words as the 16 spare bytes they stand for (little-endian), for the general path. */
  private spareOf(w0: number, w1: number, w2: number, w3: number): Uint8Array {
    const view = this.wordSpareView;
    view.setUint32(0, w0 >>> 0, true);
    view.setUint32(4, w1 >>> 0, true);
    view.setUint32(8, w2 >>> 0, true);
    view.setUint32(12, w3 >>> 0, true);
    return this.wordSpare;
  }
}

/** The exports of kernel/metadata-device.ts that this device calls (status codes as documented there). */
interface MetadataKernel {
  program(page: number, w0: number, w1: number, w2: number, w3: number): number;
  erase(block: number): number;
}

/** Every table of a metadata-only RAM store and its fast device, in one layout. */
function metadataDeviceTables(geometry: NandGeometry) {
  const pages = totalPages(geometry);
  const blocks = totalBlocks(geometry);
  const dies = totalDies(geometry);
  return {
    headArea: uint8Table(pages * SPARE_HEAD_BYTES),
    pageState: uint8Table(pages),
    eraseCounts: uint32Table(blocks),
    badBlocks: uint8Table(blocks),
    programmed: uint8Table(pages),
    nextPage: uint32Table(blocks),
    dieOfBlock: int32Table(blocks),
    channelOfDie: int32Table(dies),
    readsPerBlock: uint32Table(blocks),
    programsPerBlock: uint32Table(blocks),
    erasesPerBlock: uint32Table(blocks),
    dieBusy: float64Table(dies),
    dieFree: float64Table(dies),
    channelFree: float64Table(geometry.channels),
    clockCells: float64Table(3),
    calendarStart: float64Table(geometry.channels * CHANNEL_CALENDAR_SLOTS),
    calendarEnd: float64Table(geometry.channels * CHANNEL_CALENDAR_SLOTS),
    calendarSpan: int32Table(geometry.channels * 2),
  };
}

/** The fast device writes spare words as numbers; the layout's bytes are little-endian. */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Creates a simulated NAND device (RAM store unless `options.store` is given). A metadata-only
 * RAM store whose spare holds at least 16 bytes gets the fast metadata device (on a
 * little-endian host, unless `forceGeneric`); everything else the general device.
 */
export function createNandDevice(options: NandDeviceOptions): SimulatedNand {
  if (options.forceGeneric !== true && LITTLE_ENDIAN_HOST && options.geometry !== null && typeof options.geometry === 'object' && options.geometry.spareSize >= SPARE_HEAD_BYTES) {
    if (options.store === undefined && options.metadataOnly === true) {
      // The store's and the device's tables together, in a TableMemory where one can be made.
      const geometry = validateGeometry(options.geometry);
      const memory = TableMemory.create();
      const block = allocateTables(metadataDeviceTables(geometry), memory);
      const t = block.views;
      const store = new RamStore(geometry, { metadataOnly: true }, { headArea: t.headArea, pageState: t.pageState, eraseCounts: t.eraseCounts, badBlocks: t.badBlocks });
      const tables: DeviceTables = {
        programmed: t.programmed,
        nextPage: t.nextPage,
        dieOfBlock: t.dieOfBlock,
        channelOfDie: t.channelOfDie,
        clock: {
          dieBusy: t.dieBusy, dieFree: t.dieFree, channelFree: t.channelFree, clockCells: t.clockCells,
          calendarStart: t.calendarStart, calendarEnd: t.calendarEnd, calendarSpan: t.calendarSpan,
        },
        counters: { readsPerBlock: t.readsPerBlock, programsPerBlock: t.programsPerBlock, erasesPerBlock: t.erasesPerBlock },
      };
      return new MetadataNandDevice(options, store, tables, block.inMemory && memory !== null ? { memory, offsets: block.offsets } : undefined);
    }
    const store = options.store;
    if (store instanceof RamStore && store.metadataOnly && store.metadataHeadWords !== null) {
      return new MetadataNandDevice(options, store);
    }
  }
  return new SimulatedNandDevice(options);
}
