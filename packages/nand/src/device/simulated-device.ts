/**
 * The simulated NAND device: enforces the contract written on {@link NandDevice} (types.ts) over a
 * {@link NandStore}, and adds on-device ECC, the timing model and counters; the seeded faults and
 * power loss it injects are faults.ts's, its bad-block markers bad-blocks.ts's, its options'
 * checks options.ts's. Upstream counterparts: the command layer of MQSim's Flash_Chip /
 * NVM_PHY_ONFI (a page read, program or block erase on a die, with its latency) and the Linux MTD
 * nand core's rules for a raw NAND chip (drivers/mtd/nand/raw/nand_base.c: in-order programs,
 * no program twice without an erase, bad blocks refused).
 *
 * The device keeps its own view of the chip — which pages are programmed, each block's next-page
 * pointer — rebuilt from the store at creation and on reboot(), so the contract checks cost a few
 * typed-array reads and no allocation.
 *
 * Fields without `private` are package-internal state that faults.ts, bad-blocks.ts and the
 * metadata fast device (metadata-device.ts) read and write; the class itself is not exported from
 * the package (createNandDevice returns it as a {@link SimulatedNand}).
 */
import { totalBlocks, totalDies, totalPages, validateGeometry } from '../geometry.ts';
import { FaultRandom } from '../random.ts';
import { NandCounters } from '../stats.ts';
import { RamStore } from '../store.ts';
import { clearPageBytes, wordsOver } from '../page-bytes.ts';
import type { NandStore } from '../store.ts';
import type { NandClockTables } from '../timing.ts';
import type { NandCounterTables } from '../stats.ts';
import { NandClock } from '../timing.ts';
import { NandError } from '../types.ts';
import type { EccCode, NandDevice, NandGeometry, ReadResult } from '../types.ts';
import { findBadBlocks, writeBadBlockMarker } from './bad-blocks.ts';
import {
  FaultControlView, STREAM_BIT_ERRORS, STREAM_DAMAGE, STREAM_FAILURES, armPowerCut, eraseShouldFail, injectBitErrors, programShouldFail,
  writeInterruptedErase, writeInterruptedProgram,
} from './faults.ts';
import type { FaultControl } from './faults.ts';
import { checkStoreAgrees, resolveBadBlockMarker, resolveEcc, resolveFaults, resolveTiming } from './options.ts';
import type { FaultOptions, NandDeviceOptions } from './options.ts';

export interface SimulatedNand extends NandDevice {
  readonly faults: FaultControl;
  /** The backing store (RAM or image file). */
  readonly store: NandStore;
}

function result(ecc: ReadResult['ecc'], erased: boolean): ReadResult {
  return Object.freeze({ ecc, correctedBits: 0, uncorrectableSectors: 0, erased });
}
const UNCHECKED = result('unchecked', false);
const UNCHECKED_ERASED = result('unchecked', true);
const OK = result('ok', false);
const OK_ERASED = result('ok', true);

/**
 * The device's own arrays when the caller allocates them (the metadata fast device puts them in
 * its TableMemory, next to the store's).
 */
export interface DeviceTables {
  readonly programmed: Uint8Array;
  readonly nextPage: Uint32Array;
  readonly dieOfBlock: Int32Array;
  readonly channelOfDie: Int32Array;
  readonly clock: NandClockTables;
  readonly counters: NandCounterTables;
  /**
   * The store was created with these tables and nothing has been written to either (every byte
   * zero): the constructor then skips the scan that rebuilds the device's view from the store (a
   * fresh 512 GiB device has 64 M page states to read and a programmed table to clear; the memory
   * of both stays untouched until a page is programmed).
   */
  readonly fresh?: boolean;
}

export class SimulatedNandDevice implements SimulatedNand {
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
  readonly pageSize: number;
  readonly spareSize: number;
  readonly pagesPerBlock: number;
  protected readonly pageCount: number;
  readonly blockCount: number;
  protected readonly recordBytes: number;
  /** 1 = programmed since the last erase (device view, rebuilt from the store). */
  readonly programmed: Uint8Array;
  private readonly programmedWords: Uint32Array | null;
  /** Lowest page index in the block that may still be programmed. */
  readonly nextPage: Uint32Array;
  private readonly eccCode: EccCode | null;
  private readonly eccOffset: number;
  private readonly eccSectorCount: number;
  readonly markerOffset: number;
  readonly scratchData: Uint8Array;
  readonly scratchSpare: Uint8Array;
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

  readonly faultOptions: FaultOptions;
  readonly failureRandom: FaultRandom;
  readonly bitRandom: FaultRandom;
  readonly damageRandom: FaultRandom;
  readonly programFailureRate: number;
  readonly eraseFailureRate: number;
  readonly endurance: number;
  readonly berBase: number;
  readonly berPerCycle: number;
  private readonly bitErrorsOn: boolean;
  readonly pendingProgramFailures = new Set<number>();
  readonly pendingEraseFailures = new Set<number>();
  programFaultsArmed: boolean;
  eraseFaultsArmed: boolean;
  cutCountdown = 0;
  /**
   * Power off, a power cut or program fault armed, or a read-only store: what sends the fast
   * metadata methods down the general path, kept as one flag (updateGeneralOnly after each change).
   * Tested as `=== true`: one compare, where a bare `if` compiles to V8's generic truthiness test.
   */
  protected generalOnly = false;

  constructor(options: NandDeviceOptions, tables?: DeviceTables) {
    const geometry = validateGeometry(options.geometry);
    checkStoreAgrees(options, geometry);
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
    // A die's blocks are a range: one fill each, not a (once-run, unoptimised) per-block loop.
    for (let d = 0; d < totalDies(geometry); d++) this.dieOfBlock.fill(d, d * geometry.blocksPerDie, (d + 1) * geometry.blocksPerDie);
    this.channelOfDie = tables?.channelOfDie ?? new Int32Array(totalDies(geometry));
    for (let d = 0; d < this.channelOfDie.length; d++) this.channelOfDie[d] = Math.floor(d / geometry.diesPerChannel);
    this.nextPage = tables?.nextPage ?? new Uint32Array(this.blockCount);
    this.scratchData = new Uint8Array(geometry.pageSize);
    this.scratchSpare = new Uint8Array(geometry.spareSize);

    this.markerOffset = resolveBadBlockMarker(options, geometry);
    const ecc = resolveEcc(options, geometry, this.markerOffset);
    this.eccCode = ecc.code;
    this.eccOffset = ecc.offset;
    this.eccSectorCount = ecc.sectors;

    this.timing = new NandClock(resolveTiming(options), totalDies(geometry), geometry.channels, tables?.clock);
    this.counterObject = new NandCounters(this.blockCount, this.recordBytes, tables?.counters);
    this.readsPerBlock = this.counterObject.readsPerBlock;
    this.programsPerBlock = this.counterObject.programsPerBlock;

    const faults = options.faults ?? {};
    this.faultOptions = faults;
    const resolved = resolveFaults(faults);
    this.failureRandom = new FaultRandom(resolved.seed, STREAM_FAILURES);
    this.bitRandom = new FaultRandom(resolved.seed, STREAM_BIT_ERRORS);
    this.damageRandom = new FaultRandom(resolved.seed, STREAM_DAMAGE);
    this.programFailureRate = resolved.programFailureRate;
    this.eraseFailureRate = resolved.eraseFailureRate;
    this.endurance = resolved.endurance;
    this.berBase = resolved.berBase;
    this.berPerCycle = resolved.berPerCycle;
    this.bitErrorsOn = this.berBase > 0 || this.berPerCycle > 0;
    this.plainReads = !this.bitErrorsOn && (this.eccCode === null || this.metadataOnly);
    this.programFaultsArmed = this.programFailureRate > 0 || this.endurance !== Infinity;
    this.updateGeneralOnly();
    this.eraseFaultsArmed = this.eraseFailureRate > 0 || this.endurance !== Infinity;
    if (faults.powerCutAfter !== undefined) armPowerCut(this, faults.powerCutAfter);
    this.faults = new FaultControlView(this);

    // A store made here (or with these new tables) holds nothing yet: no view to rebuild from it.
    this.rebuildView(options.store === undefined && tables === undefined ? true : tables?.fresh === true);
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
          injectBitErrors(this, null, this.scratchSpare, block);
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
    if (this.bitErrorsOn) injectBitErrors(this, pageData, pageSpare, block);
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
      writeInterruptedProgram(this, page, data, spareOut);
      this.markProgrammed(page, block, inBlock);
      this.powered = false;
      this.updateGeneralOnly();
      throw new NandError('POWER_LOSS', `power cut during the program of page ${page} (block ${block}); the page is left half programmed`);
    }
    if (this.programFaultsArmed && programShouldFail(this, page, block)) {
      stats.programFailures++;
      // A failed program leaves the page in an undefined state: model it as partly programmed.
      writeInterruptedProgram(this, page, data, spareOut);
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
      writeInterruptedErase(this, block);
      this.powered = false;
      this.updateGeneralOnly();
      throw new NandError('POWER_LOSS', `power cut during the erase of block ${block}; the block is left partly erased`);
    }
    if (this.eraseFaultsArmed && eraseShouldFail(this, block)) {
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
    writeBadBlockMarker(this, block);
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

  // ---------------------------------------------------------------- fault control (the rest: faults.ts)

  /** Recomputes {@link generalOnly}; faults.ts calls it after arming or disarming a fault. */
  updateGeneralOnly(): void {
    this.generalOnly = !this.powered || this.cutCountdown !== 0 || this.programFaultsArmed || this.storeReadOnly;
  }

  // ---------------------------------------------------------------- internals

  checkPage(page: number): void {
    // (page >>> 0) === page holds exactly for integers in 0 … 2^32−1; pageCount < 2^31.
    if (page >>> 0 !== page || page >= this.pageCount) {
      throw new NandError('OUT_OF_RANGE', `page ${String(page)} is outside 0…${this.pageCount - 1}`);
    }
  }

  checkBlock(block: number): void {
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

  markProgrammed(page: number, block: number, inBlock: number): void {
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

  /**
   * Rebuilds the device's view from the store; on a fresh store, finds bad blocks from markers and
   * applies factory faults. `empty`: the store and the view's tables are new (all zero), so there is
   * nothing to clear or to read back, and no marker to find.
   */
  private rebuildView(empty = false): void {
    const store = this.store;
    if (empty) {
      if (!store.hasMetadata) findBadBlocks(this, false);
      return;
    }
    this.programmed.fill(0);
    this.nextPage.fill(0);
    const ppb = this.pagesPerBlock;
    // A RAM store's state bytes read as words skip four erased pages at a time: a fresh store of
    // 2^28 pages (4 TiB of 16 KiB pages) is scanned in a fraction of a second, not page by page.
    const states = store instanceof RamStore ? wordsOver(store.pageStates) : null;
    for (let page = 0; page < this.pageCount; page++) {
      if (states !== null && (page & 3) === 0 && states[page >>> 2] === 0) {
        page += 3;
        continue;
      }
      if (store.isProgrammed(page)) {
        this.programmed[page] = 1;
        const block = Math.floor(page / ppb);
        this.nextPage[block] = page - block * ppb + 1;
      }
    }
    if (store.hasMetadata) return;
    findBadBlocks(this);
  }
}

/** log2(n) when n is a power of two (n ≤ 2^30), else −1. */
export function exactLog2(n: number): number {
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
