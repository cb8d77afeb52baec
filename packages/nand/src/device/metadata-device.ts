/**
 * The metadata fast path: the metadata-only device (a RAM store keeping each page's 16-byte spare
 * head compactly, spare-head.ts: words 1 and 2 when word 0 is the common one and word 3 its CRC)
 * with programSpareWords, copyback and copybackRun, its WebAssembly kernel
 * (kernel/metadata-device.ts, which mirrors the methods marked there), and the one table layout
 * the store, the device and the kernel share. The SSD simulator replays millions of page writes
 * through it. Upstream counterpart: MQSim's flash back end as its FTL drives it (NVM_PHY_ONFI
 * issuing transactions to Flash_Chip, which keeps per-page metadata — the LPA in the spare — and
 * no payload); copyback is ONFI's COPYBACK READ / COPYBACK PROGRAM (MQSim's copyback GC).
 */
import { totalBlocks, totalDies, totalPages } from '../geometry.ts';
import type { NandCounters } from '../stats.ts';
import { RamStore, SPARE_HEAD_BYTES } from '../store.ts';
import { COMPACT_HEAD_STATE, crc32Table } from '../spare-head.ts';
import { float64Table, int32Table, TableMemory, uint32Table, uint8Table } from '../tables.ts';
import { CHANNEL_CALENDAR_SLOTS } from '../timing.ts';
import type { NandClock } from '../timing.ts';
import { instantiateKernel } from '../kernel-module.ts';
import { METADATA_KERNEL_WASM_BASE64 } from '../metadata-kernel-wasm.ts';
import type { MetadataKernelLayout } from '../types.ts';
import { NandError } from '../types.ts';
import type { NandGeometry } from '../types.ts';
import type { NandDeviceOptions } from './options.ts';
import { SimulatedNandDevice, exactLog2 } from './simulated-device.ts';
import type { DeviceTables } from './simulated-device.ts';

/**
 * The metadata-only fast device: the general device (every rule, fault, power cut, reboot and
 * counter is the inherited code) plus {@link NandDevice.programSpareWords},
 * {@link NandDevice.copyback} and {@link NandDevice.copybackRun}, which write the 16-byte spare
 * head as four words straight into the RAM store's compact heads (RamStore.writeHeadWords) and
 * per-page state bytes: no spare Uint8Array, no byte copy. While a power cut or a program
 * fault is armed (or power is off) the one-page methods go through
 * {@link SimulatedNandDevice.programPage} instead and copybackRun declines, so what is observable —
 * the page contents, the thrown errors, the seeded damage, the counters and the clock — is the
 * general device's by construction.
 */
export class MetadataNandDevice extends SimulatedNandDevice {
  /** The compact heads' common word 0 (NandDevice.compactHeadWord0). */
  readonly compactHeadWord0: number;
  /** The RAM store (compact heads). */
  private readonly ram: RamStore;
  /** The RAM store's compact heads: words 1 and 2 of page p at 2p, 2p + 1 (when its state is COMPACT_HEAD_STATE). */
  private readonly pairs: Uint32Array;
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
    this.ram = store;
    this.pairs = store.compactHeads!.pairs;
    this.compactHeadWord0 = store.compactHeads!.word0;
    this.pageStates = store.pageStates;
    this.clock = this.timing;
    this.counters = this.counterObject;
    if (layout !== undefined && options.wasmKernel !== false) {
      const cells = layout.memory.allocate({ counterCells: float64Table(4), flagCells: int32Table(3), crcTable: int32Table(256) });
      cells.views.crcTable.set(crc32Table());
      const at = layout.offsets;
      const params = this.timing.params;
      // The kernel's imported globals (kernel/metadata-device.ts): table addresses and parameters.
      const globals: Record<string, number> = {
        heads: at.headPairs!, headWord0: store.compactHeads!.word0, compactHeadState: COMPACT_HEAD_STATE, crcTable: cells.offsets.crcTable, pageState: at.pageState!, eraseCounts: at.eraseCounts!, badBlocks: at.badBlocks!, programmed: at.programmed!,
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

  private paused = false;

  /** While true the kernel takes no operation: everything runs here, through the clock (see NandDevice.kernelPaused). */
  get kernelPaused(): boolean {
    return this.paused;
  }

  set kernelPaused(paused: boolean) {
    this.paused = paused;
    this.updateGeneralOnly();
  }

  /** Also tells the kernel whether fast programs, fast erases and charged reads may run (none while paused). */
  override updateGeneralOnly(): void {
    super.updateGeneralOnly();
    const flags = this.kernelFlags;
    if (flags === null || flags === undefined) return; // during the base constructor
    const paused = this.paused === true;
    flags[0] = this.generalOnly === true || paused ? 0 : 1;
    flags[1] = this.generalOnly === true || this.eraseFaultsArmed || paused ? 0 : 1;
    flags[2] = this.powered && this.plainReads && !paused ? 1 : 0;
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
    // The head (compact, or whole in the store's overflow) and the store's state byte.
    this.ram.writeHeadWords(page, w0, w1, w2, w3);
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
    const ram = this.ram;
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
    // The spare heads (compact, or whole in the store's overflow) and the pages' state bytes.
    for (let k = 0; k < count; k++) ram.writeHeadWords(target + k, words[4 * k]!, words[4 * k + 1]!, words[4 * k + 2]!, words[4 * k + 3]!);
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

  /**
   * Word 1 of the page's spare head (the SSD FTL's LBA) when the page holds a compact head
   * (spare-head.ts: word 0 the common one, word 3 its CRC), else −1 (erased, or another head: read
   * it with {@link peekSpare}). No operation, nothing charged or counted.
   */
  compactHeadWord1(page: number): number {
    return this.pageStates[page] === COMPACT_HEAD_STATE ? this.pairs[2 * page]! : -1;
  }

  /** The page's stored spare bytes, as readPage would return them, with no operation charged or counted. */
  peekSpare(page: number, out: Uint8Array): void {
    this.ram.readSpare(page, out);
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
export function metadataDeviceTables(geometry: NandGeometry) {
  const pages = totalPages(geometry);
  const blocks = totalBlocks(geometry);
  const dies = totalDies(geometry);
  return {
    headPairs: uint32Table(2 * pages),
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

