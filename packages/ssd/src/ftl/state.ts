// The FTL's one state object, FtlState: its geometry and options, the tables (L2P, P2L, VPBM, VPC,
// block and unit states, write pointers, free-pool heaps, greedy buckets), the write streams, the
// scalars the kernel also steps, and the counters. The functions of the other src/ftl/ files work
// on it; Ftl (src/ftl.ts) is the public facade over it. Also here: the unit/member topology helpers
// (which blocks make a GC unit, which pool a unit is in) that every unit uses.
// MQSim counterpart: the members of FTL, Address_Mapping_Unit_Page_Level (its Domain's mapping
// tables) and Flash_Block_Manager_Base (PlaneBookKeepingType, Block_Pool_Slot_Type), which MQSim
// spreads over those classes and which live here in one object the functions share.
import { allocateTables, float64Table, instantiateKernel, int32Table, uint32Table, uint8Table } from '@flashdiff/nand';
import type { MetadataKernelLayout, NandDevice, NandGeometry } from '@flashdiff/nand';
import { dataPagesPerBlock, resolveFtlOptions, userPagesFor } from '../config.ts';
import type { FtlOptions } from '../config.ts';
import { SsdError } from '../errors.ts';
import type { MappingCache, TranslationReadTiming } from './cached-mapping.ts';
import type { GcTiming } from './gc.ts';
import type { ImpliedFill } from './lazy-fill.ts';
import { FTL_KERNEL_WASM_BASE64 } from '../ftl-kernel-wasm.ts';
import { KIND_DATA, KIND_SUMMARY, KIND_TRANSLATION, KIND_TRIM, LITTLE_ENDIAN_HOST, METADATA_BYTES, decodeSpare, metadataOffset, spareWord0 } from '../spare.ts';
import type { PageMetadata } from '../spare.ts';
import {
  BLOCK_BAD, COUNTER_CELLS, COUNTER_ERASES, COUNTER_GC_MOVED_PAGES, COUNTER_GC_PAGE_READS, COUNTER_GC_RUNS, COUNTER_HOST_PAGE_WRITES, P2L_NONE, P2L_SUMMARY, P2L_TRANSLATION_BASE, P2L_TRIM,
  SCALAR_CELLS, SCALAR_INSERTION_STAMP, SCALAR_NEXT_SEQUENCE, STATE_CELLS, STATE_HOST_CURSOR, STATE_LAST_VICTIM,
} from './abi.ts';

/** The tables whose addresses the kernel imports as globals (kernel/ftl/state.ts's @external("ftl", …) declarations). */
export const KERNEL_TABLES = [
  'l2p', 'validBits', 'blockValid', 'poolValid', 'unitState', 'blockState', 'writePointer', 'blockMinSeq', 'unitStamp',
  'bucketHead', 'bucketNext', 'bucketPrev', 'bucketMin', 'dieOfBlock', 'hostSlot', 'gcSlot', 'moveSources', 'moveWords',
  'unitCapacity', 'freeCount', 'poolCapacity', 'heap', 'heapKey', 'heapSize', 'dieOrder', 'scalarCells', 'stateCells', 'counterCells',
] as const;

/** The parameters the kernel imports as "ftl" globals beside the tables' addresses (startKernel sets each). */
export const KERNEL_PARAMETERS = [
  'pageShift', 'pagesPerBlock', 'dieShift', 'dataPages', 'bucketWidth', 'dies', 'unitsPerPool', 'gcThreshold', 'hostReserve',
  'dynamicWearLeveling', 'staticAllocation', 'channelFirst', 'channels', 'diesPerChannel',
] as const;

/**
 * The exports of the FTL's WebAssembly module (entry kernel/simulator-kernel.ts, which re-exports
 * kernel/ftl/mapping.ts's write). Internal: SsdSimulator drives its run loop through it.
 */
export interface FtlKernel {
  /** The page written; −1: nothing done; −2 − die: go on with that die (see the kernel's write). */
  write(lba: number): number;
  /**
   * Gives the simulator kernel the addresses of SsdSimulator's tables and the workload's
   * parameters (kernel/simulator-kernel.ts bindSimulator; kind: 0 seq, 1 uniform, 2 hotcold).
   */
  bindSimulator(
    completions: number, queueDepth: number, timeCells: number, batchCells: number, workloadCells: number, histograms: number,
    kind: number, userPages: number, hotPages: number, readRatio: number, trimRatio: number, hotAccessFraction: number,
  ): void;
  /**
   * Runs host operations until `limit` host writes completed or one needs TypeScript; returns
   * why it stopped (kernel/simulator-kernel.ts simulate). fillFrom ≥ 0: writes LBAs fillFrom, fillFrom + 1, …
   * (preconditioning) instead of drawing from the workload.
   */
  simulate(limit: number, fillFrom: number): number;
  /**
   * Replays the trace a descriptor names through the kernel's scheduler (kernel/simulator/replay.ts);
   * 0 done, 1 a full queue with nothing outstanding, 2 a time-series point is due (then
   * replayResume goes on).
   */
  replayScheduled(descriptor: number): number;
  replayResume(): number;
  /** kernel/planes.ts bindPlanes: the plane view's geometry for markedFillPages. */
  bindPlaneView(planesPerDie: number, viewBlocksPerDie: number, realBlocksPerDie: number, pagesPerBlock: number, recordBytes: number): void;
  /** kernel/ftl/marked-fill.ts: markedFill's pass 2 (see there); returns the last page written. */
  markedFillPages(order: number, first: number, count: number, residues: number, period: number, cursor: number, runs: number): number;
  /**
   * kernel/ftl/marked-fill.ts markedFillLazy: the sequential fill a block at a time, its L2P
   * entries and heads left implied (kernel/ftl/lazy-fill.ts); returns the last page written.
   */
  markedFillLazy(
    first: number, count: number, residues: number, period: number, cursor: number, dieTable: number, rankTable: number, posTable: number,
    perTable: number, wpTable: number, startTable: number, list: number, entries: number, viewBlocks: number,
  ): number;
  /** kernel/metrics.ts eraseTally: eraseStats's passes over the device's blocks (with bins 0 the tally into cells, else the histogram into bins). */
  eraseTally(blocks: number, cells: number, bins: number, binStart: number, binWidth: number): void;
  /** kernel/ftl/free-pool.ts formatBlocks: free-pool.ts format in block mode over the module's tables (the plane view bound first). */
  formatBlocks(units: number, capacity: number): void;
  /** kernel/ftl/lazy-fill.ts: writes every entry the fill still implies. */
  settleFill(): void;
  /** kernel/ftl/lazy-fill.ts: 1 while some of the fill is implied. */
  fillImplied(): number;
  /** nand's kernel: whether fast programs and charged reads may run now (1) — the device's faults and power allow them. */
  programsReady(): number;
  readsReady(): number;
}

/** log2(n) where n is a power of two, else −1: the shift that replaces a division by n (or a table lookup). */
export function exactLog2(n: number): number {
  const log = Math.log2(n);
  return Number.isInteger(log) ? log : -1;
}

/** Counters of what the FTL did (NAND-level counts live in the device's stats). */
export interface FtlCounters {
  hostPageWrites: number;
  hostPageReads: number;
  hostTrimCommands: number;
  hostTrimmedPages: number;
  gcRuns: number;
  gcMovedPages: number;
  /** Page reads GC issued to find and fetch valid data (method-dependent). */
  gcPageReads: number;
  /** Collections done by copying through the controller's RAM into the victim itself. */
  inPlaceGcRuns: number;
  backgroundGcRuns: number;
  wearLevelingRuns: number;
  wearLevelingMovedPages: number;
  /** TRIM records and P2L summaries programmed. */
  metadataPagePrograms: number;
  /** Pages moved out of blocks retired after a program failure. */
  retirementMovedPages: number;
  programFailures: number;
  eraseFailures: number;
  retiredBlocks: number;
  erases: number;
  recoveries: number;
  /** Pages the simulator's DRAM data cache wrote back (programs, not host page writes). */
  cacheWriteBacks: number;
  /** Translation-page reads and programs of the cached mapping table (ftl/cached-mapping.ts; GC moves of translation pages are in gcMovedPages). */
  translationPageReads: number;
  translationPagePrograms: number;
}

export function zeroCounters(): FtlCounters {
  return {
    hostPageWrites: 0, hostPageReads: 0, hostTrimCommands: 0, hostTrimmedPages: 0, gcRuns: 0, gcMovedPages: 0,
    gcPageReads: 0, inPlaceGcRuns: 0, backgroundGcRuns: 0, wearLevelingRuns: 0, wearLevelingMovedPages: 0,
    metadataPagePrograms: 0, retirementMovedPages: 0, programFailures: 0, eraseFailures: 0, retiredBlocks: 0,
    erases: 0, recoveries: 0, cacheWriteBacks: 0, translationPageReads: 0, translationPagePrograms: 0,
  };
}

/** One write stream: its open unit(s) and its stripe cursor. */
export class Stream {
  /** Open block per die (−1: none). */
  readonly slot: Int32Array;
  /** Superblock mode: the open unit (−1: none). */
  unit = -1;
  cursor = 0;
  constructor(
    dies: number,
    readonly preferOldBlocks: boolean,
    slot?: Int32Array,
  ) {
    this.slot = slot ?? new Int32Array(dies).fill(-1);
  }
}

/**
 * The state of one page-mapped FTL over one NandDevice (see Ftl for the design). Built with its
 * tables allocated (in the device's kernel memory when the kernel runs) and the kernel started;
 * Ftl's constructor then formats it (free-pool.ts format).
 */
export class FtlState {
  readonly device: NandDevice;
  readonly geometry: NandGeometry;
  readonly options: FtlOptions;
  /** Logical pages the host sees. */
  readonly userPages: number;
  readonly pagesPerBlock: number;
  readonly dataPages: number;
  readonly blocksPerDie: number;
  readonly dies: number;
  readonly totalBlocks: number;
  readonly totalPages: number;
  readonly unitCount: number;
  readonly poolCount: number;
  /**
   * The hot paths test this and the other boolean flags (greedy, fastMeta, summaries, withData,
   * poweredOff) as `=== true`: V8 does not track a field's boolean type, so a bare `if (flag)`
   * compiles to the generic truthiness test, about ten instructions instead of one compare.
   */
  readonly blockMode: boolean;
  /** Dies in channel-first order: consecutive writes go to different channels. */
  readonly dieOrder: Int32Array;

  /**
   * The map, each entry held bitwise inverted (~ppa; abi.ts L2P and P2L tables): 0 is an unmapped
   * LBA (−1), so a new table is fresh zero memory, never filled (64 M entries at MQSim's default
   * geometry). Read an entry as ~l2p[lba], store ~ppa.
   */
  readonly l2p: Int32Array;
  /**
   * The reverse map, P2L_NONE where a page holds nothing mapped, each entry held as ~entry as the
   * L2P's (0: P2L_NONE); p2lAt reads one. Empty when {@link derivedP2l}:
   * then every read goes through p2lAt and a store into it is a no-op (a typed array ignores
   * stores past its end), since the entry is the page's spare head.
   */
  readonly p2l: Int32Array;
  /**
   * The P2L entries are derived from the pages' spare heads (p2lAt) instead of kept in a table
   * (issue 17: 4 bytes a page less, for 4 TiB in the kernel's memory): on a device that keeps
   * compact heads (NandDevice.compactHeadWord1) in the configurations the kernel runs, and on a
   * plane view (planes.ts) of one with the VPBM and the full map, where an entry is an LBA (a data
   * page's head word 1) or a marker that the head's kind gives (TRIM).
   */
  readonly derivedP2l: boolean;
  /** p2lAt's spare buffer for heads that are not compact. */
  private readonly peekBuffer: Uint8Array;
  private readonly peekMeta: PageMetadata = { valid: false, kind: 0, lba: 0, sequence: 0, count: 0 };
  readonly validBits: Uint32Array;
  readonly blockValid: Int32Array;
  /** VPC per GC unit. In block mode a unit is a block: the same array as {@link blockValid}. */
  readonly unitValid: Int32Array;
  readonly unitCapacity: Int32Array;
  readonly blockState: Uint8Array;
  readonly unitState: Uint8Array;
  readonly writePointer: Int32Array;
  /** Sequence number of the first data page programmed in the block since its erase. */
  readonly blockMinSeq: Float64Array;
  /** Sequence counter value when the unit was closed (FIFO order, cost-benefit age). */
  readonly unitStamp: Float64Array;
  readonly freeCount: Int32Array;
  /** Valid pages per die and good data pages per die (block mode's host steering). */
  readonly poolValid: Int32Array;
  readonly poolCapacity: Int32Array;

  /** What the FTL counted; the kernel's counts are folded in on reading (see {@link counterCells}). */
  readonly counterValues: FtlCounters = zeroCounters();
  get counters(): FtlCounters {
    const cells = this.counterCells;
    if (cells[0] !== 0 || cells[1] !== 0 || cells[2] !== 0 || cells[3] !== 0 || cells[4] !== 0) {
      const c = this.counterValues;
      c.hostPageWrites += cells[COUNTER_HOST_PAGE_WRITES]!;
      c.gcRuns += cells[COUNTER_GC_RUNS]!;
      c.gcMovedPages += cells[COUNTER_GC_MOVED_PAGES]!;
      c.gcPageReads += cells[COUNTER_GC_PAGE_READS]!;
      c.erases += cells[COUNTER_ERASES]!;
      cells.fill(0);
    }
    return this.counterValues;
  }

  // The scalars the kernel also steps live in cells of the tables block.
  /** The unit GC collected last (−1: none yet). */
  get lastVictimUnit(): number {
    return this.stateCells[STATE_LAST_VICTIM]!;
  }
  set lastVictimUnit(u: number) {
    this.stateCells[STATE_LAST_VICTIM] = u;
  }
  /** The next page's sequence number. */
  get nextSequence(): number {
    return this.scalarCells[SCALAR_NEXT_SEQUENCE]!;
  }
  set nextSequence(value: number) {
    this.scalarCells[SCALAR_NEXT_SEQUENCE] = value;
  }
  get insertionStamp(): number {
    return this.scalarCells[SCALAR_INSERTION_STAMP]!;
  }
  set insertionStamp(value: number) {
    this.scalarCells[SCALAR_INSERTION_STAMP] = value;
  }
  get hostCursor(): number {
    return this.stateCells[STATE_HOST_CURSOR]!;
  }
  set hostCursor(value: number) {
    this.stateCells[STATE_HOST_CURSOR] = value;
  }

  readonly withData: boolean;
  /** log2(pagesPerBlock) when it is a power of two, else −1: page → block by a shift, not a division. */
  readonly pageShift: number;
  /** Die (= pool in block mode) and GC unit of each block, looked up instead of divided out. */
  readonly dieOfBlock: Int32Array;
  /** Superblock mode only (empty in block mode, where a block is its own unit: no 262,144-entry identity to write at 512 GiB). */
  readonly unitOfBlockTable: Int32Array;
  readonly metaOffset: number;
  readonly spare: Uint8Array;
  /** The metadata bytes of `spare` as words, when they can be written that way (see encodeSpareWords); else null. */
  readonly spareWords: Uint32Array | null;
  readonly readSpare: Uint8Array;
  readonly pageBuffer: Uint8Array;
  readonly zeroPage: Uint8Array;
  readonly summaryReadBuffer: Uint8Array;
  readonly summaryWriteBuffer: Uint8Array;
  readonly meta: PageMetadata = { valid: false, kind: 0, lba: 0, sequence: 0, count: 0 };
  readonly hostStream: Stream;
  readonly gcStream: Stream;
  readonly coldStream: Stream;
  // Free pools: one binary min-heap per pool (a die in block mode, the device in superblock mode).
  readonly heap: Int32Array;
  readonly heapKey: Float64Array;
  readonly heapSize: Int32Array;
  readonly unitsPerPool: number;
  // Greedy buckets: doubly linked lists of FULL units per (pool, valid count).
  readonly bucketHead: Int32Array;
  readonly bucketNext: Int32Array;
  readonly bucketPrev: Int32Array;
  readonly bucketMin: Int32Array;
  readonly bucketWidth: number;
  readonly greedy: boolean;
  // FIFO: closed units in closing order per pool, validated lazily against unitStamp.
  readonly fifo: number[][];
  readonly fifoHead: Int32Array;
  rngState: number;
  erasesSinceWearCheck = 0;
  /**
   * The device offers the metadata fast path (programSpareWords + copyback, see NandDevice) and the
   * metadata lies at spare offset 0: pages are programmed from four words (no spare buffer) and GC
   * moves data pages by copyback. Decided once here; the device itself keeps every fault and power
   * cut on its general path, so the FTL's behaviour is the same either way.
   */
  readonly fastMeta: boolean;
  /** Spare word 0 of a data page (marker, kind 1, count 1): the same for every host/GC data page. */
  readonly dataWord0 = spareWord0(KIND_DATA, 1) | 0;
  /** options.gcThreshold, and nextHostDie's reserve (gcThreshold + 2) · dataPages, as plain fields. */
  readonly gcThreshold: number;
  readonly hostReserve: number;
  /** validityMethod p2l: each block ends with a P2L summary page (written when its data pages are full). */
  readonly summaries: boolean;
  /** A static hostAllocation (cwdp, pcwd…): host writes go to the die their LBA stripes to. */
  readonly staticAllocation: boolean;
  /** The static scheme's letters ('' for round robin; see mapping.ts staticHostDie). */
  readonly allocationOrder: string;
  /**
   * Planes per real die when the device is a planes.ts PlaneView (its dies are planes: view die
   * v is plane v mod planesPerDie of a real die); 1 otherwise.
   */
  readonly planesPerDie: number;
  /** relocateBlockFast's scratch: a victim block's valid pages, and the spare words of a run. */
  readonly moveSources: Int32Array;
  readonly moveWords: Uint32Array;
  /**
   * The WebAssembly kernel (kernel/ftl/, entry kernel/ftl/mapping.ts write) that does what mapping.ts write does in
   * the configurations it covers, over these same tables; null where it does not run (see
   * FtlOptions.wasmKernel).
   */
  readonly kernel: FtlKernel | null;
  /** f64 cells: the next sequence number, the free-pool insertion stamp. */
  readonly scalarCells: Float64Array;
  /** i32 cells: the host die cursor, the last victim unit. */
  readonly stateCells: Int32Array;
  /** The kernel's counts (host page writes, GC runs, GC moved pages, GC page reads, erases), folded into counters on reading. */
  readonly counterCells: Float64Array;
  /** Bytes of this FTL's tables (in the device's table memory when the kernel runs). */
  readonly tableBytes: number;
  /** Where each table starts in the device's table memory (null: the tables are plain arrays): the kernel replay's P2L and cold-stream slots. */
  readonly tableOffsets: Readonly<Record<string, number>> | null;
  /**
   * The FTL's WebAssembly module over these tables: {@link kernel}, or on a plane view the same
   * module for the kernel replay alone (its write() not called: one plane per die); null where the
   * tables are not in a device's table memory.
   */
  readonly moduleKernel: FtlKernel | null;
  /** Whether write() runs in the WebAssembly kernel (see FtlOptions.wasmKernel for when it can). */
  get wasmKernelActive(): boolean {
    return this.kernel !== null;
  }
  /**
   * The kernel's exports for calling its write() directly (SsdSimulator's kernel loop), or null
   * while that would not be the same as write(): no kernel, or the FTL waits for recover().
   * A write() that returns a code < 0 is finished by {@link finishKernelWrite}. Internal.
   */
  get directKernel(): FtlKernel | null {
    return this.poweredOff ? null : this.kernel;
  }
  poweredOff = false;
  /**
   * The module's last fill left L2P entries and heads implied (src/ftl/lazy-fill.ts): set by the
   * kernel fill, cleared by {@link settleFill}. Its tables, for tests (null when none is pending).
   */
  impliedFill: ImpliedFill | null = null;
  /** Whether a sequential kernel fill may leave entries implied (false: every page written as it goes; the tests' eager side). */
  lazyFill = true;
  /** Has the kernel write what its fill still implies: before TypeScript reads the L2P, the P2L or the heads. */
  settleFill(): void {
    if (this.impliedFill === null) return;
    this.impliedFill = null;
    this.moduleKernel!.settleFill();
  }
  /** The cached mapping table (ftl/cached-mapping.ts; null: the full L2P in RAM). Set by Ftl's constructor. */
  cmt: MappingCache | null = null;
  /**
   * How a transaction scheduler times the cached mapping table's translation-page reads for host
   * accesses (ftl/cached-mapping.ts TranslationReadTiming); null: the eager clock's issue time
   * moves to each read's completion.
   */
  translationTiming: TranslationReadTiming | null = null;
  /** How a transaction scheduler marks foreground GC's operations (ftl/gc.ts GcTiming); null: nobody asks. */
  gcTiming: GcTiming | null = null;
  /**
   * Translation pages never written are taken as present on flash (a device that holds data from
   * before: the simulator's unmappedReads 'flash-read'): reading one costs a flash read on the die
   * channel-first striping gives it, without a page behind it. False: such a page holds no mapping
   * and costs nothing.
   */
  presumeTranslationPages = false;
  /**
   * Bumped by every in-place collection and block retirement (the moves outside foreground GC
   * that can relocate a host write's old page): write() compares it instead of two counters.
   */
  relocations = 0;

  constructor(device: NandDevice, options: Partial<FtlOptions> = {}) {
    this.device = device;
    this.geometry = device.geometry;
    this.options = resolveFtlOptions(options);
    const g = this.geometry;
    this.pagesPerBlock = g.pagesPerBlock;
    if (this.options.validityMethod === 'p2l' && g.pagesPerBlock < 2) {
      throw new SsdError('INVALID_CONFIG', 'validityMethod p2l needs at least 2 pages per block');
    }
    this.dataPages = dataPagesPerBlock(g, this.options.validityMethod);
    this.blocksPerDie = g.blocksPerDie;
    this.dies = g.channels * g.diesPerChannel;
    this.totalBlocks = this.dies * g.blocksPerDie;
    this.totalPages = this.totalBlocks * g.pagesPerBlock;
    this.blockMode = this.options.gcUnit === 'block';
    this.unitCount = this.blockMode ? this.totalBlocks : g.blocksPerDie;
    this.poolCount = this.blockMode ? this.dies : 1;
    this.unitsPerPool = g.blocksPerDie;
    this.userPages = userPagesFor(g, this.options.overProvisioning, this.options.validityMethod);
    if (this.userPages < 1) throw new SsdError('INVALID_CONFIG', 'user capacity is zero pages');
    if (this.options.gcCopyback && !(((device as { readonly multiPlaneGc?: number }).multiPlaneGc ?? 1) > 1 && this.options.gcUnit === 'block')) {
      throw new SsdError('INVALID_CONFIG', 'gcCopyback needs planes with multi-plane commands and gcUnit block (the device models copyback only there)');
    }
    this.metaOffset = metadataOffset(g);
    this.withData = !device.metadataOnly;

    this.pageShift = exactLog2(g.pagesPerBlock);
    this.fastMeta = !this.withData && this.metaOffset === 0 && device.programSpareWords !== undefined && device.copyback !== undefined && device.copybackRun !== undefined;
    this.bucketWidth = (this.blockMode ? 1 : this.dies) * this.dataPages + 1;
    this.greedy = this.options.gcPolicy === 'greedy';
    // The kernel takes the configurations its write() covers, on a device that offers its own
    // kernel's memory (the metadata fast device): the FTL's tables are then appended to that memory.
    const o = this.options;
    const layout = device.metadataKernel ?? null;
    // A static host allocation runs in the kernel with one plane per die (kernel/ftl/mapping.ts staticHostDie).
    const kernelPlanes = (device as { readonly planesPerDie?: unknown }).planesPerDie ?? 1;
    // The kernel keeps no P2L: it reads the LBA from the device's compact heads, which must be the FTL's data heads.
    const headsFit = device.compactHeadWord1 !== undefined && device.peekSpare !== undefined && device.compactHeadWord0 === this.dataWord0;
    const kernelFits = o.mappingCacheEntries === 0 && o.mappingCacheBytes === 0 && o.wasmKernel && this.fastMeta && headsFit && layout !== null && this.blockMode && o.validityMethod === 'bitmap' && this.greedy && !o.staticWearLeveling && (o.hostAllocation === 'round-robin' || kernelPlanes === 1);
    // Where the kernel may run the TypeScript FTL derives P2L the same way (they share the state);
    // also on a plane view of such a device with the VPBM (MQSim's configuration: no kernel there,
    // and no 4-byte P2L entry a page to allocate and store: 256 MiB at its 64 M pages).
    this.derivedP2l = kernelFits || (kernelPlanes !== 1 && this.fastMeta && headsFit && o.validityMethod === 'bitmap' && o.mappingCacheEntries === 0 && o.mappingCacheBytes === 0);
    this.peekBuffer = new Uint8Array(g.spareSize);
    const spec = {
      // Both maps hold ~entry (abi.ts): a new table is all unmapped with no fill.
      l2p: int32Table(this.userPages),
      p2l: int32Table(this.derivedP2l ? 0 : this.totalPages),
      validBits: uint32Table(Math.ceil(this.totalPages / 32)),
      blockValid: int32Table(this.totalBlocks),
      poolValid: int32Table(this.dies),
      unitState: uint8Table(this.unitCount),
      blockState: uint8Table(this.totalBlocks),
      writePointer: int32Table(this.totalBlocks),
      blockMinSeq: float64Table(this.totalBlocks, Infinity),
      unitStamp: float64Table(this.unitCount),
      bucketHead: int32Table(this.poolCount * this.bucketWidth, -1),
      bucketNext: int32Table(this.unitCount, -1),
      bucketPrev: int32Table(this.unitCount, -1),
      bucketMin: int32Table(this.poolCount),
      dieOfBlock: int32Table(this.totalBlocks),
      hostSlot: int32Table(this.dies, -1),
      gcSlot: int32Table(this.dies, -1),
      coldSlot: int32Table(this.dies, -1),
      moveSources: int32Table(this.fastMeta ? g.pagesPerBlock : 0),
      moveWords: uint32Table(this.fastMeta ? 4 * g.pagesPerBlock : 0),
      unitCapacity: int32Table(this.unitCount),
      freeCount: int32Table(this.poolCount),
      poolCapacity: int32Table(this.dies, 0x3fffffff),
      heap: int32Table(this.poolCount * this.unitsPerPool),
      heapKey: float64Table(this.unitCount),
      heapSize: int32Table(this.poolCount),
      dieOrder: int32Table(this.dies),
      scalarCells: float64Table(SCALAR_CELLS),
      stateCells: int32Table(STATE_CELLS),
      counterCells: float64Table(COUNTER_CELLS),
    };
    // Where the FTL kernel does not fit but the kernel replay does (a plane view of a device with a
    // kernel, static wear leveling) the tables go into the device's memory too, and the module is
    // instantiated over them for the kernel replay alone (src/simulator/replay-kernel.ts; write()
    // stays in TypeScript: the FTL kernel has one plane per die and no static wear leveling).
    const viewLayout = kernelPlanes !== 1 ? ((device as { readonly tableLayout?: MetadataKernelLayout | null }).tableLayout ?? null) : layout;
    const replayFits = !kernelFits && viewLayout !== null && o.mappingCacheEntries === 0 && o.mappingCacheBytes === 0 && o.wasmKernel && this.fastMeta && headsFit && this.blockMode && o.validityMethod === 'bitmap' && this.greedy;
    const tables = allocateTables(spec, kernelFits ? layout.memory : replayFits ? viewLayout.memory : null);
    const t = tables.views;
    this.tableBytes = tables.bytes;
    this.tableOffsets = tables.inMemory ? tables.offsets : null;
    this.scalarCells = t.scalarCells;
    this.stateCells = t.stateCells;
    this.counterCells = t.counterCells;
    this.nextSequence = 1;
    this.lastVictimUnit = -1;
    this.dieOfBlock = t.dieOfBlock;
    this.unitOfBlockTable = new Int32Array(this.blockMode ? 0 : this.totalBlocks);
    // A die's blocks are a range: one fill each (a per-block loop runs once, unoptimised, over
    // 256 K blocks at MQSim's default geometry).
    for (let d = 0; d < this.dies; d++) this.dieOfBlock.fill(d, d * g.blocksPerDie, (d + 1) * g.blocksPerDie);
    const units = this.unitOfBlockTable;
    if (!this.blockMode) for (let b = 0; b < this.totalBlocks; b++) units[b] = b % g.blocksPerDie;
    this.dieOrder = t.dieOrder;
    // Channel first, then the die within the channel, then (through a PlaneView) the plane: a
    // burst reaches every real die before a second plane of one (one plane: (k mod C)·W + ⌊k / C⌋).
    const viewPlanes = (device as { readonly planesPerDie?: unknown }).planesPerDie;
    this.planesPerDie = typeof viewPlanes === 'number' ? viewPlanes : 1;
    const ways = g.diesPerChannel / this.planesPerDie;
    for (let k = 0; k < this.dies; k++) {
      const rest = Math.floor(k / g.channels);
      this.dieOrder[k] = (k % g.channels) * g.diesPerChannel + (rest % ways) * this.planesPerDie + Math.floor(rest / ways);
    }
    this.l2p = t.l2p;
    this.p2l = t.p2l;
    this.validBits = t.validBits;
    this.blockValid = t.blockValid;
    // One count per block in block mode: each page's validity changes one counter, not two.
    this.unitValid = this.blockMode ? this.blockValid : new Int32Array(this.unitCount);
    this.unitCapacity = t.unitCapacity;
    this.blockState = t.blockState;
    this.unitState = t.unitState;
    this.writePointer = t.writePointer;
    this.blockMinSeq = t.blockMinSeq;
    this.unitStamp = t.unitStamp;
    this.freeCount = t.freeCount;
    this.poolValid = t.poolValid;
    this.poolCapacity = t.poolCapacity;
    this.spare = new Uint8Array(this.metaOffset + METADATA_BYTES).fill(0xff);
    this.spareWords = !this.withData && LITTLE_ENDIAN_HOST && this.metaOffset % 4 === 0 ? new Uint32Array(this.spare.buffer, this.metaOffset, METADATA_BYTES / 4) : null;
    this.readSpare = new Uint8Array(this.metaOffset + METADATA_BYTES);
    this.pageBuffer = new Uint8Array(g.pageSize);
    this.zeroPage = new Uint8Array(g.pageSize);
    this.summaryReadBuffer = new Uint8Array(g.pageSize);
    this.summaryWriteBuffer = new Uint8Array(g.pageSize);
    this.hostStream = new Stream(this.dies, false, t.hostSlot);
    this.gcStream = new Stream(this.dies, false, t.gcSlot);
    this.coldStream = new Stream(this.dies, true, t.coldSlot);
    this.heap = t.heap;
    this.heapKey = t.heapKey;
    this.heapSize = t.heapSize;
    this.bucketHead = t.bucketHead;
    this.bucketNext = t.bucketNext;
    this.bucketPrev = t.bucketPrev;
    this.bucketMin = t.bucketMin;
    this.fifo = Array.from({ length: this.poolCount }, () => []);
    this.fifoHead = new Int32Array(this.poolCount);
    this.rngState = this.options.seed | 0 || 0x9e3779b9;
    this.moveSources = t.moveSources;
    this.moveWords = t.moveWords;
    this.kernel = kernelFits && tables.inMemory ? this.startKernel(layout, tables.offsets) : null;
    this.moduleKernel = this.kernel ?? (replayFits && tables.inMemory ? this.startKernel(viewLayout, tables.offsets) : null);
    this.gcThreshold = this.options.gcThreshold;
    this.summaries = this.options.validityMethod === 'p2l';
    this.staticAllocation = this.options.hostAllocation !== 'round-robin';
    this.allocationOrder = this.staticAllocation ? this.options.hostAllocation : '';
    this.hostReserve = (this.options.gcThreshold + 2) * this.dataPages;
  }

  /** Starts the kernel over the device's memory, with the tables' addresses and the parameters as its "ftl" globals. */
  private startKernel(layout: MetadataKernelLayout, at: Readonly<Record<string, number>>): FtlKernel | null {
    // Typed by KERNEL_PARAMETERS: a parameter missing here, or one not in that list, does not compile.
    const parameters: Record<(typeof KERNEL_PARAMETERS)[number], number> = {
      pageShift: this.pageShift,
      pagesPerBlock: this.pagesPerBlock,
      dieShift: exactLog2(this.blocksPerDie),
      dataPages: this.dataPages,
      bucketWidth: this.bucketWidth,
      dies: this.dies,
      unitsPerPool: this.unitsPerPool,
      gcThreshold: this.options.gcThreshold,
      hostReserve: (this.options.gcThreshold + 2) * this.dataPages,
      dynamicWearLeveling: this.options.dynamicWearLeveling ? 1 : 0,
      staticAllocation: this.options.hostAllocation !== 'round-robin' ? 1 : 0,
      channelFirst: this.options.hostAllocation.indexOf('c') < this.options.hostAllocation.indexOf('w') ? 1 : 0,
      channels: this.geometry.channels,
      diesPerChannel: this.geometry.diesPerChannel,
    };
    const globals: Record<string, number> = { ...parameters };
    for (const name of KERNEL_TABLES) globals[name] = at[name]!;
    return instantiateKernel<FtlKernel>(FTL_KERNEL_WASM_BASE64, layout.memory.memory, { device: layout.globals, ftl: globals });
  }

  /** P2L[ppa] derived from the page's spare head (see {@link derivedP2l}; p2lAt calls it). */
  deriveP2l(ppa: number): number {
    this.settleFill();
    const device = this.device;
    const word1 = device.compactHeadWord1!(ppa);
    if (word1 >= 0) return word1 | 0;
    // Erased (the spare reads 0xFF: no kind), or a head kept whole: a TRIM record, a torn page.
    device.peekSpare!(ppa, this.peekBuffer);
    const meta = decodeSpare(this.peekBuffer, this.metaOffset, null, this.peekMeta);
    if (!meta.valid) return P2L_NONE;
    if (meta.kind === KIND_DATA) return meta.lba | 0;
    if (meta.kind === KIND_TRIM) return P2L_TRIM;
    if (meta.kind === KIND_SUMMARY) return P2L_SUMMARY;
    if (meta.kind === KIND_TRANSLATION) return P2L_TRANSLATION_BASE - meta.lba;
    return P2L_NONE;
  }
}

/**
 * Gives the FTL's module the plane view's geometry (kernel/planes.ts bindPlanes: the view block
 * to real block arithmetic), which its functions on the device's tables by real block need.
 */
export function bindKernelPlaneView(st: FtlState, kernel: FtlKernel): void {
  const g = st.geometry;
  const device = st.device as { readonly physicalGeometry?: { readonly blocksPerDie: number } };
  kernel.bindPlaneView(st.planesPerDie, st.blocksPerDie, device.physicalGeometry?.blocksPerDie ?? st.blocksPerDie, g.pagesPerBlock, g.pageSize + g.spareSize);
}

/**
 * P2L[ppa]: the table's entry, or the one derived from the page's spare head when the FTL keeps
 * no table (FtlState.derivedP2l). The same number either way: every program that sets an entry
 * writes the head it derives from, an erase clears both, and recovery sets entries from the heads.
 */
export function p2lAt(st: FtlState, ppa: number): number {
  return st.derivedP2l === true ? st.deriveP2l(ppa) : ~st.p2l[ppa]!;
}

// ---------------------------------------------------------------- units, members, pools

export function goodMembers(st: FtlState, u: number): number {
  if (st.blockMode) return st.blockState[u] === BLOCK_BAD ? 0 : 1;
  let n = 0;
  for (let d = 0; d < st.dies; d++) if (st.blockState[d * st.blocksPerDie + u] !== BLOCK_BAD) n++;
  return n;
}

/** GC unit of a block. */
export function unitOfBlock(st: FtlState, block: number): number {
  return st.blockMode ? block : st.unitOfBlockTable[block]!;
}

/** Free pool (die, or 0 in superblock mode) of a unit. */
export function poolOfUnit(st: FtlState, u: number): number {
  // In block mode a unit is a block and its pool is its die.
  return st.blockMode ? st.dieOfBlock[u]! : 0;
}

export function memberCount(st: FtlState): number {
  return st.blockMode ? 1 : st.dies;
}

export function memberBlock(st: FtlState, u: number, k: number): number {
  return st.blockMode ? u : k * st.blocksPerDie + u;
}

export function blockOfPage(st: FtlState, ppa: number): number {
  return st.pageShift >= 0 ? ppa >>> st.pageShift : (ppa / st.pagesPerBlock) | 0;
}

export function isValid(st: FtlState, ppa: number): boolean {
  return (st.validBits[ppa >>> 5]! & (1 << (ppa & 31))) !== 0;
}
