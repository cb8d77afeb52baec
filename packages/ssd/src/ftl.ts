import { allocateTables, float64Table, instantiateKernel, int32Table, isNandError, uint32Table, uint8Table } from '@flashdiff/nand';
import type { MetadataKernelLayout, NandDevice, NandGeometry } from '@flashdiff/nand';
import { dataPagesPerBlock, resolveFtlOptions, userPagesFor } from './config.ts';
import type { FtlOptions } from './config.ts';
import { SsdError } from './errors.ts';
import { crc32FirstWordTerm, crc32KernelTables, crc32Words3Int32 } from './crc32.ts';
import { FTL_KERNEL_WASM_BASE64 } from './ftl-kernel-wasm.ts';
import { KIND_DATA, KIND_SUMMARY, KIND_TRIM, LITTLE_ENDIAN_HOST, MAX_TRIM_RECORD_PAGES, METADATA_BYTES, decodeSpare, encodeSpare, encodeSpareWords, metadataOffset, readU32, spareWord0, writeU32 } from './spare.ts';
import type { PageMetadata } from './spare.ts';

/** Block / unit states, as in {@link BlockMapSnapshot.blockState}. */
export const BLOCK_FREE = 0;
export const BLOCK_OPEN = 1;
export const BLOCK_FULL = 2;
export const BLOCK_VICTIM = 3;
export const BLOCK_BAD = 4;

/** Page states in {@link BlockMapSnapshot.pageState}. */
export const PAGE_ERASED = 0;
export const PAGE_VALID = 1;
export const PAGE_INVALID = 2;
export const PAGE_META = 3;

// Reverse-map markers for pages that hold no host LBA.
const P2L_NONE = -1;
const P2L_TRIM = -2;
const P2L_SUMMARY = -3;

/** The tables whose addresses the kernel imports as globals (kernel/ftl-kernel.ts). */
const KERNEL_TABLES = [
  'l2p', 'p2l', 'validBits', 'blockValid', 'poolValid', 'unitState', 'blockState', 'writePointer', 'blockMinSeq', 'unitStamp',
  'bucketHead', 'bucketNext', 'bucketPrev', 'bucketMin', 'dieOfBlock', 'hostSlot', 'gcSlot', 'moveSources', 'moveWords', 'crcSlice',
  'unitCapacity', 'freeCount', 'poolCapacity', 'heap', 'heapKey', 'heapSize', 'dieOrder', 'scalarCells', 'stateCells', 'counterCells',
];

/**
 * The exports of the FTL's WebAssembly module (entry kernel/simulator-kernel.ts, which re-exports
 * kernel/ftl-kernel.ts's write). Internal: SsdSimulator drives its run loop through it.
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
}

/** log2(n) where n is a power of two, else −1: the shift that replaces a division by n (or a table lookup). */
function exactLog2(n: number): number {
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
}

function zeroCounters(): FtlCounters {
  return {
    hostPageWrites: 0, hostPageReads: 0, hostTrimCommands: 0, hostTrimmedPages: 0, gcRuns: 0, gcMovedPages: 0,
    gcPageReads: 0, inPlaceGcRuns: 0, backgroundGcRuns: 0, wearLevelingRuns: 0, wearLevelingMovedPages: 0,
    metadataPagePrograms: 0, retirementMovedPages: 0, programFailures: 0, eraseFailures: 0, retiredBlocks: 0,
    erases: 0, recoveries: 0,
  };
}

/** Per-block view of the device for the dashboard. Arrays are indexed by block number. */
export interface BlockMapSnapshot {
  readonly geometry: NandGeometry;
  readonly gcUnit: 'block' | 'superblock';
  /** BLOCK_FREE / BLOCK_OPEN / BLOCK_FULL / BLOCK_VICTIM / BLOCK_BAD. */
  readonly blockState: Uint8Array;
  readonly validPages: Uint32Array;
  readonly invalidPages: Uint32Array;
  readonly freePages: Uint32Array;
  readonly eraseCount: Uint32Array;
  /** GC unit of each block (the block itself, or its superblock number). */
  readonly unitOfBlock: Int32Array;
  /** PAGE_ERASED / PAGE_VALID / PAGE_INVALID / PAGE_META per physical page. */
  readonly pageState: Uint8Array;
  /** The unit GC collected most recently (−1 before the first GC). */
  readonly lastVictimUnit: number;
  readonly gcRuns: number;
  readonly freeUnits: number;
}

/** One write stream: its open unit(s) and its stripe cursor. */
class Stream {
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

/** What {@link Ftl.read} reports. */
export type FtlReadResult = 'mapped' | 'unmapped';

/**
 * A page-mapped FTL over one NandDevice (the seed's design): L2P map, valid page count (VPC) per
 * block, valid page bitmap (VPBM), and per page its LBA + sequence number in the spare (P2L).
 * Host writes go out of place, striped channel-first across the dies; GC data has its own stream.
 *
 * Every physical operation goes through the device, so its stats and timing model see exactly
 * what the FTL does. After a POWER_LOSS (thrown as SsdError POWER_LOSS) call {@link recover}.
 */
export class Ftl {
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

  readonly l2p: Int32Array;
  readonly p2l: Int32Array;
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
  private readonly poolValid: Int32Array;
  private readonly poolCapacity: Int32Array;

  /** What the FTL counted; the kernel's counts are folded in on reading (see {@link counterCells}). */
  private readonly counterValues: FtlCounters = zeroCounters();
  get counters(): FtlCounters {
    const cells = this.counterCells;
    if (cells[0] !== 0 || cells[1] !== 0 || cells[2] !== 0 || cells[3] !== 0 || cells[4] !== 0) {
      const c = this.counterValues;
      c.hostPageWrites += cells[0]!;
      c.gcRuns += cells[1]!;
      c.gcMovedPages += cells[2]!;
      c.gcPageReads += cells[3]!;
      c.erases += cells[4]!;
      cells.fill(0);
    }
    return this.counterValues;
  }

  // The scalars the kernel also steps live in cells of the tables block.
  /** The unit GC collected last (−1: none yet). */
  get lastVictimUnit(): number {
    return this.stateCells[1]!;
  }
  private set lastVictimUnit(u: number) {
    this.stateCells[1] = u;
  }
  /** The next page's sequence number. */
  get nextSequence(): number {
    return this.scalarCells[0]!;
  }
  set nextSequence(value: number) {
    this.scalarCells[0] = value;
  }
  private get insertionStamp(): number {
    return this.scalarCells[1]!;
  }
  private set insertionStamp(value: number) {
    this.scalarCells[1] = value;
  }
  private get hostCursor(): number {
    return this.stateCells[0]!;
  }
  private set hostCursor(value: number) {
    this.stateCells[0] = value;
  }

  private readonly withData: boolean;
  /** log2(pagesPerBlock) when it is a power of two, else −1: page → block by a shift, not a division. */
  private readonly pageShift: number;
  /** Die (= pool in block mode) and GC unit of each block, looked up instead of divided out. */
  private readonly dieOfBlock: Int32Array;
  private readonly unitOfBlockTable: Int32Array;
  private readonly metaOffset: number;
  private readonly spare: Uint8Array;
  /** The metadata bytes of `spare` as words, when they can be written that way (see encodeSpareWords); else null. */
  private readonly spareWords: Uint32Array | null;
  private readonly readSpare: Uint8Array;
  private readonly pageBuffer: Uint8Array;
  private readonly zeroPage: Uint8Array;
  private readonly summaryReadBuffer: Uint8Array;
  private readonly summaryWriteBuffer: Uint8Array;
  private readonly meta: PageMetadata = { valid: false, kind: 0, lba: 0, sequence: 0, count: 0 };
  private readonly hostStream: Stream;
  private readonly gcStream: Stream;
  private readonly coldStream: Stream;
  // Free pools: one binary min-heap per pool (a die in block mode, the device in superblock mode).
  private readonly heap: Int32Array;
  private readonly heapKey: Float64Array;
  private readonly heapSize: Int32Array;
  private readonly unitsPerPool: number;
  // Greedy buckets: doubly linked lists of FULL units per (pool, valid count).
  private readonly bucketHead: Int32Array;
  private readonly bucketNext: Int32Array;
  private readonly bucketPrev: Int32Array;
  private readonly bucketMin: Int32Array;
  private readonly bucketWidth: number;
  private readonly greedy: boolean;
  // FIFO: closed units in closing order per pool, validated lazily against unitStamp.
  private readonly fifo: number[][];
  private readonly fifoHead: Int32Array;
  private rngState: number;
  private erasesSinceWearCheck = 0;
  /**
   * The device offers the metadata fast path (programSpareWords + copyback, see NandDevice) and the
   * metadata lies at spare offset 0: pages are programmed from four words (no spare buffer) and GC
   * moves data pages by copyback. Decided once here; the device itself keeps every fault and power
   * cut on its general path, so the FTL's behaviour is the same either way.
   */
  private readonly fastMeta: boolean;
  /** Spare word 0 of a data page (marker, kind 1, count 1): the same for every host/GC data page. */
  private readonly dataWord0 = spareWord0(KIND_DATA, 1) | 0;
  /** options.gcThreshold, and nextHostDie's reserve (gcThreshold + 2) · dataPages, as plain fields. */
  private readonly gcThreshold: number;
  private readonly hostReserve: number;
  /** validityMethod p2l: each block ends with a P2L summary page (written when its data pages are full). */
  private readonly summaries: boolean;
  /** hostAllocation 'cwdp': host writes go to the die their LBA stripes to. */
  private readonly staticAllocation: boolean;
  /** relocateBlockFast's scratch: a victim block's valid pages, and the spare words of a run. */
  private readonly moveSources: Int32Array;
  private readonly moveWords: Uint32Array;
  /**
   * The WebAssembly kernel (kernel/ftl-kernel.ts) whose write() does what write() below does in
   * the configurations it covers, over these same tables; null where it does not run (see
   * FtlOptions.wasmKernel).
   */
  private readonly kernel: FtlKernel | null;
  /** f64 cells: the next sequence number, the free-pool insertion stamp. */
  private readonly scalarCells: Float64Array;
  /** i32 cells: the host die cursor, the last victim unit. */
  private readonly stateCells: Int32Array;
  /** The kernel's counts (host page writes, GC runs, GC moved pages, GC page reads, erases), folded into counters on reading. */
  private readonly counterCells: Float64Array;
  /** Bytes of this FTL's tables (in the device's table memory when the kernel runs). */
  readonly tableBytes: number;
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
  private poweredOff = false;
  /**
   * Bumped by every in-place collection and block retirement (the moves outside foreground GC
   * that can relocate a host write's old page): write() compares it instead of two counters.
   */
  private relocations = 0;

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
    const kernelFits = o.wasmKernel && this.fastMeta && layout !== null && this.blockMode && o.validityMethod === 'bitmap' && this.greedy && !o.staticWearLeveling && o.hostAllocation === 'round-robin';
    const spec = {
      l2p: int32Table(this.userPages, -1),
      p2l: int32Table(this.totalPages, P2L_NONE),
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
      moveSources: int32Table(this.fastMeta ? g.pagesPerBlock : 0),
      moveWords: uint32Table(this.fastMeta ? 4 * g.pagesPerBlock : 0),
      crcSlice: int32Table(kernelFits ? 8 * 256 + 32 : 0),
      unitCapacity: int32Table(this.unitCount),
      freeCount: int32Table(this.poolCount),
      poolCapacity: int32Table(this.dies, 0x3fffffff),
      heap: int32Table(this.poolCount * this.unitsPerPool),
      heapKey: float64Table(this.unitCount),
      heapSize: int32Table(this.poolCount),
      dieOrder: int32Table(this.dies),
      scalarCells: float64Table(2),
      stateCells: int32Table(2),
      counterCells: float64Table(5),
    };
    const tables = allocateTables(spec, kernelFits ? layout.memory : null);
    const t = tables.views;
    this.tableBytes = tables.bytes;
    this.scalarCells = t.scalarCells;
    this.stateCells = t.stateCells;
    this.counterCells = t.counterCells;
    this.nextSequence = 1;
    this.lastVictimUnit = -1;
    this.dieOfBlock = t.dieOfBlock;
    this.unitOfBlockTable = new Int32Array(this.totalBlocks);
    for (let b = 0; b < this.totalBlocks; b++) {
      this.dieOfBlock[b] = Math.floor(b / g.blocksPerDie);
      this.unitOfBlockTable[b] = this.blockMode ? b : b % g.blocksPerDie;
    }
    this.dieOrder = t.dieOrder;
    for (let k = 0; k < this.dies; k++) {
      this.dieOrder[k] = (k % g.channels) * g.diesPerChannel + Math.floor(k / g.channels);
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
    this.coldStream = new Stream(this.dies, true);
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
    this.kernel = kernelFits && tables.inMemory ? this.startKernel(layout, tables.offsets, t.crcSlice) : null;
    this.gcThreshold = this.options.gcThreshold;
    this.summaries = this.options.validityMethod === 'p2l';
    this.staticAllocation = this.options.hostAllocation === 'cwdp';
    this.hostReserve = (this.options.gcThreshold + 2) * this.dataPages;

    this.format();
    const spareUnits = this.freeCount.reduce((a, b) => a + b, 0);
    const goodPages = this.unitCapacity.reduce((a, b) => a + b, 0);
    if (goodPages <= this.userPages || spareUnits < 1) {
      throw new SsdError(
        'INVALID_CONFIG',
        `no spare capacity: ${goodPages} good data pages for ${this.userPages} user pages (raise OP)`,
      );
    }
  }

  /** Starts the kernel over the device's memory, with the tables' addresses and the parameters as its "ftl" globals. */
  private startKernel(layout: MetadataKernelLayout, at: Readonly<Record<string, number>>, crcSlice: Int32Array): FtlKernel | null {
    crcSlice.set(crc32KernelTables());
    const globals: Record<string, number> = {
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
      dataWord0: this.dataWord0,
      firstTerm: crc32FirstWordTerm(this.dataWord0),
    };
    for (const name of KERNEL_TABLES) globals[name] = at[name]!;
    return instantiateKernel<FtlKernel>(FTL_KERNEL_WASM_BASE64, layout.memory.memory, { device: layout.globals, ftl: globals });
  }

  // ---------------------------------------------------------------- format and unit helpers

  /** A fresh device: every good block erased-state is trusted as free (factory-bad skipped). */
  private format(): void {
    for (let b = 0; b < this.totalBlocks; b++) {
      this.blockState[b] = this.device.isBad(b) ? BLOCK_BAD : BLOCK_FREE;
    }
    for (let u = 0; u < this.unitCount; u++) {
      this.unitCapacity[u] = this.goodMembers(u) * this.dataPages;
      if (this.unitCapacity[u] === 0) this.unitState[u] = BLOCK_BAD;
      else this.freeUnit(u);
    }
    for (let pool = 0; pool < this.poolCount; pool++) this.updatePoolCapacity(pool);
  }

  private goodMembers(u: number): number {
    if (this.blockMode) return this.blockState[u] === BLOCK_BAD ? 0 : 1;
    let n = 0;
    for (let d = 0; d < this.dies; d++) if (this.blockState[d * this.blocksPerDie + u] !== BLOCK_BAD) n++;
    return n;
  }

  /** GC unit of a block. */
  unitOfBlock(block: number): number {
    return this.unitOfBlockTable[block]!;
  }

  /** Free pool (die, or 0 in superblock mode) of a unit. */
  poolOfUnit(u: number): number {
    // In block mode a unit is a block and its pool is its die.
    return this.blockMode ? this.dieOfBlock[u]! : 0;
  }

  private memberCount(): number {
    return this.blockMode ? 1 : this.dies;
  }

  private memberBlock(u: number, k: number): number {
    return this.blockMode ? u : k * this.blocksPerDie + u;
  }

  private unitEraseKey(u: number): number {
    let sum = 0;
    const m = this.memberCount();
    for (let k = 0; k < m; k++) {
      const b = this.memberBlock(u, k);
      if (this.blockState[b] !== BLOCK_BAD) sum += this.device.eraseCount(b);
    }
    return sum;
  }

  // ---------------------------------------------------------------- free pool (binary heap)

  private freeUnit(u: number): void {
    this.unitState[u] = BLOCK_FREE;
    const m = this.memberCount();
    for (let k = 0; k < m; k++) {
      const b = this.memberBlock(u, k);
      if (this.blockState[b] !== BLOCK_BAD) this.blockState[b] = BLOCK_FREE;
    }
    this.heapKey[u] = this.options.dynamicWearLeveling ? this.unitEraseKey(u) : this.insertionStamp++;
    const pool = this.poolOfUnit(u);
    this.siftUp(pool * this.unitsPerPool, this.heapSize[pool]!++, u);
    this.freeCount[pool]!++;
  }

  /** Places unit `u` at slot `i` of a pool's min-heap (at `base`), moving it up past larger keys. */
  private siftUp(base: number, i: number, u: number): void {
    const heap = this.heap;
    const key = this.heapKey;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pu = heap[base + parent]!;
      if (key[pu]! <= key[u]!) break;
      heap[base + i] = pu;
      i = parent;
    }
    heap[base + i] = u;
  }

  private heapRemoveAt(pool: number, index: number): number {
    const base = pool * this.unitsPerPool;
    const heap = this.heap;
    const key = this.heapKey;
    const top = heap[base + index]!;
    const size = --this.heapSize[pool]!;
    this.freeCount[pool]!--;
    if (index === size) return top;
    const last = heap[base + size]!;
    // Sift the last item down from `index` (then up, for a removal from the middle).
    let i = index;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const r = l + 1;
      const c = r < size && key[heap[base + r]!]! < key[heap[base + l]!]! ? r : l;
      if (key[heap[base + c]!]! >= key[last]!) break;
      heap[base + i] = heap[base + c]!;
      i = c;
    }
    this.siftUp(base, i, last);
    return top;
  }

  /** Takes a free unit: the youngest (or oldest-freed) one, or the most worn for cold data. */
  private takeFreeUnit(pool: number, preferOld: boolean): number {
    if (!preferOld) return this.heapRemoveAt(pool, 0);
    const base = pool * this.unitsPerPool;
    let best = 0;
    let bestKey = -Infinity;
    for (let i = 0; i < this.heapSize[pool]!; i++) {
      const k = this.heapKey[this.heap[base + i]!]!;
      if (k > bestKey) {
        bestKey = k;
        best = i;
      }
    }
    return this.heapRemoveAt(pool, best);
  }

  // ---------------------------------------------------------------- greedy buckets

  private bucketInsert(u: number): void {
    const pool = this.poolOfUnit(u);
    const v = this.unitValid[u]!;
    const h = pool * this.bucketWidth + v;
    const head = this.bucketHead[h]!;
    this.bucketNext[u] = head;
    this.bucketPrev[u] = -1;
    if (head >= 0) this.bucketPrev[head] = u;
    this.bucketHead[h] = u;
    if (v < this.bucketMin[pool]!) this.bucketMin[pool] = v;
  }

  private bucketRemove(u: number, v: number): void {
    const next = this.bucketNext[u]!;
    const prev = this.bucketPrev[u]!;
    if (prev >= 0) this.bucketNext[prev] = next;
    else this.bucketHead[this.poolOfUnit(u) * this.bucketWidth + v] = next;
    if (next >= 0) this.bucketPrev[next] = prev;
  }

  // ---------------------------------------------------------------- valid-page bookkeeping

  private setValid(ppa: number): void {
    this.validBits[ppa >>> 5]! |= 1 << (ppa & 31);
    const b = this.blockOfPage(ppa);
    const die = this.dieOfBlock[b]!;
    this.poolValid[die]!++;
    if (this.blockMode === true) {
      // The unit is the block, and unitValid is blockValid. A block still open is in no bucket.
      if (this.greedy === true && this.unitState[b] === BLOCK_FULL) {
        const v = this.blockValid[b]!++;
        this.bucketMove(b, die, v, v + 1);
      } else {
        this.blockValid[b]!++;
      }
      return;
    }
    this.blockValid[b]!++;
    const u = this.unitOfBlockTable[b]!;
    const v = this.unitValid[u]!++;
    if (this.greedy === true && this.unitState[u] === BLOCK_FULL) this.bucketMove(u, 0, v, v + 1);
  }

  /** Clears a page's VPBM bit and decrements VPC (the seed's TRIM steps 2–3, and every overwrite). */
  private setInvalid(ppa: number): void {
    const w = ppa >>> 5;
    const m = 1 << (ppa & 31);
    const bits = this.validBits[w]!;
    if ((bits & m) === 0) return;
    this.validBits[w] = bits & ~m;
    const b = this.blockOfPage(ppa);
    const die = this.dieOfBlock[b]!;
    this.poolValid[die]!--;
    if (this.blockMode === true) {
      // The unit is the block (pool: its die), and unitValid is blockValid.
      const v = this.blockValid[b]!--;
      if (this.greedy === true && this.unitState[b] === BLOCK_FULL) this.bucketMove(b, die, v, v - 1);
      return;
    }
    this.blockValid[b]!--;
    const u = this.unitOfBlockTable[b]!;
    const v = this.unitValid[u]!--;
    if (this.greedy === true && this.unitState[u] === BLOCK_FULL) this.bucketMove(u, 0, v, v - 1);
  }

  /**
   * O(1) greedy: moves FULL unit `u` of `pool` from the head-inserted list of valid count `from`
   * to the head of the list of count `to` (the same as bucketRemove then bucketInsert).
   */
  private bucketMove(u: number, pool: number, from: number, to: number): void {
    const next = this.bucketNext;
    const prev = this.bucketPrev;
    const heads = this.bucketHead;
    const base = pool * this.bucketWidth;
    const after = next[u]!;
    const before = prev[u]!;
    if (before >= 0) next[before] = after;
    else heads[base + from] = after;
    if (after >= 0) prev[after] = before;
    const head = heads[base + to]!;
    next[u] = head;
    prev[u] = -1;
    if (head >= 0) prev[head] = u;
    heads[base + to] = u;
    if (to < this.bucketMin[pool]!) this.bucketMin[pool] = to;
  }

  private blockOfPage(ppa: number): number {
    return this.pageShift >= 0 ? ppa >>> this.pageShift : (ppa / this.pagesPerBlock) | 0;
  }

  isValid(ppa: number): boolean {
    return (this.validBits[ppa >>> 5]! & (1 << (ppa & 31))) !== 0;
  }

  // ---------------------------------------------------------------- allocation

  /** Opens a unit for a stream (slots = its good member blocks), collecting in place if none is free. */
  private openUnit(s: Stream, pool: number): void {
    if (this.freeCount[pool] === 0) {
      this.collectInPlace(s, pool);
      return;
    }
    const u = this.takeFreeUnit(pool, s.preferOldBlocks);
    this.unitState[u] = BLOCK_OPEN;
    this.unitValid[u] = 0;
    const m = this.memberCount();
    for (let k = 0; k < m; k++) {
      const b = this.memberBlock(u, k);
      if (this.blockState[b] === BLOCK_BAD) continue;
      this.blockState[b] = BLOCK_OPEN;
      this.writePointer[b] = 0;
      this.blockMinSeq[b] = Infinity;
      s.slot[this.blockMode ? pool : k] = b;
    }
    if (!this.blockMode) s.unit = u;
  }

  private closeUnit(u: number): void {
    this.unitState[u] = BLOCK_FULL;
    this.unitStamp[u] = this.nextSequence;
    if (this.greedy) this.bucketInsert(u);
    else if (this.options.gcPolicy === 'fifo') this.fifo[this.poolOfUnit(u)]!.push(u, this.nextSequence);
  }

  /** Next physical page of a stream; `die` picks the die in block mode. */
  private allocate(s: Stream, die: number): number {
    for (;;) {
      if (this.blockMode) {
        const b = s.slot[die]!;
        if (b >= 0) return b * this.pagesPerBlock + this.writePointer[b]!++;
        this.openUnit(s, die);
        continue;
      }
      if (s.unit < 0) {
        this.openUnit(s, 0);
        continue;
      }
      for (let k = 0, pos = s.cursor; k < this.dies; k++, pos = pos + 1 === this.dies ? 0 : pos + 1) {
        const d = this.dieOrder[pos]!;
        const b = s.slot[d]!;
        if (b >= 0) {
          s.cursor = pos + 1 === this.dies ? 0 : pos + 1;
          return b * this.pagesPerBlock + this.writePointer[b]!++;
        }
      }
      // Every member is full or retired.
      this.closeUnit(s.unit);
      s.unit = -1;
    }
  }

  /** After a page of block `b` was programmed: close the block when its data pages are used up. */
  private afterProgram(s: Stream, b: number): void {
    if (this.writePointer[b]! < this.dataPages) return;
    if (this.options.validityMethod === 'p2l' && !this.writeSummary(b)) return;
    this.blockState[b] = BLOCK_FULL;
    const die = this.dieOfBlock[b]!;
    if (s.slot[die] === b) s.slot[die] = -1;
    if (this.blockMode) this.closeUnit(b);
    else if (s.unit >= 0) {
      let open = false;
      for (let d = 0; d < this.dies; d++) if (s.slot[d]! >= 0) open = true;
      if (!open) {
        this.closeUnit(s.unit);
        s.unit = -1;
      }
    }
  }

  /**
   * Programs the P2L summary into the block's last page: the LBA of each data page (u32 LE;
   * 0xFFFFFFFE for a TRIM record, 0xFFFFFFFF for none). Returns false when the program failed
   * (the block was then retired).
   */
  private writeSummary(b: number): boolean {
    const first = b * this.pagesPerBlock;
    let data: Uint8Array | null = null;
    if (this.withData) {
      data = this.summaryWriteBuffer;
      data.fill(0xff);
      for (let i = 0; i < this.dataPages && 4 * i + 4 <= data.length; i++) {
        const v = this.p2l[first + i]!;
        writeU32(data, 4 * i, v >= 0 ? v : v === P2L_TRIM ? 0xfffffffe : 0xffffffff);
      }
    }
    const ppa = first + this.pagesPerBlock - 1;
    encodeSpare(this.spare, this.metaOffset, KIND_SUMMARY, b, this.nextSequence++, this.dataPages, data);
    this.writePointer[b] = this.pagesPerBlock;
    try {
      this.device.programPage(ppa, data, this.spare);
    } catch (e) {
      if (!isNandError(e, 'PROGRAM_FAILED')) throw e;
      this.counterValues.programFailures++;
      this.retireBlock(b);
      return false;
    }
    this.p2l[ppa] = P2L_SUMMARY;
    this.counterValues.metadataPagePrograms++;
    return true;
  }

  /**
   * Allocates, programs and accounts one page; on PROGRAM_FAILED retires the block (moving its
   * valid pages) and retries elsewhere with the same metadata. Returns the page written.
   */
  private place(s: Stream, die: number, kind: number, lba: number, sequence: number, count: number, data: Uint8Array | null): number {
    for (;;) {
      // Fast path: the stream already has an open block on this die (block mode).
      const open = this.blockMode ? s.slot[die]! : -1;
      const ppa = open >= 0 ? open * this.pagesPerBlock + this.writePointer[open]!++ : this.allocate(s, die);
      const b = open >= 0 ? open : this.blockOfPage(ppa);
      try {
        if (this.fastMeta) {
          // Words as signed 32-bit integers: never boxed on the way into the device.
          const w0 = kind === KIND_DATA && count === 1 ? this.dataWord0 : spareWord0(kind, count) | 0;
          this.device.programSpareWords!(ppa, w0, lba | 0, sequence | 0, crc32Words3Int32(w0, lba | 0, sequence | 0));
        } else {
          if (this.spareWords !== null) encodeSpareWords(this.spareWords, kind, lba, sequence, count);
          else encodeSpare(this.spare, this.metaOffset, kind, lba, sequence, count, data);
          this.device.programPage(ppa, data, this.spare);
        }
      } catch (e) {
        if (!isNandError(e, 'PROGRAM_FAILED')) throw e;
        this.counterValues.programFailures++;
        this.retireBlock(b);
        continue;
      }
      this.p2l[ppa] = kind === KIND_DATA ? lba : P2L_TRIM;
      if (kind === KIND_DATA && sequence < this.blockMinSeq[b]!) this.blockMinSeq[b] = sequence;
      if (this.writePointer[b]! < this.dataPages) return ppa;
      this.afterProgram(s, b);
      // The block's P2L summary failed to program and the block was retired after this page was
      // written but before the caller marked it valid: write the page again elsewhere.
      if (this.blockState[b] === BLOCK_BAD) continue;
      return ppa;
    }
  }

  /**
   * {@link place} for a GC move of a data page on the metadata fast path: the victim page
   * `source` is read and `lba` programmed with a fresh sequence number. When the stream has an
   * open block on this die the two go as one device copyback; otherwise the read is issued first
   * and then the page placed, exactly the order relocatePage uses (allocation may itself collect).
   */
  private placeMoved(s: Stream, die: number, source: number, lba: number): number {
    const open = this.blockMode === true ? s.slot[die]! : -1;
    if (open < 0 || this.writePointer[open]! + 1 >= this.dataPages) {
      // No open block, or this page closes it (a P2L summary or a closed unit follows): the general order.
      this.device.readPage(source);
      this.counterValues.gcPageReads++;
      return this.place(s, die, KIND_DATA, lba, this.nextSequence++, 1, null);
    }
    this.counterValues.gcPageReads++;
    const sequence = this.nextSequence++;
    const ppa = open * this.pagesPerBlock + this.writePointer[open]!++;
    const w0 = this.dataWord0;
    try {
      this.device.copyback!(source, ppa, w0, lba | 0, sequence | 0, crc32Words3Int32(w0, lba | 0, sequence | 0));
    } catch (e) {
      // The read was done: retry the program alone, as place's retry loop does.
      return this.retryFailedProgram(e, s, die, lba, sequence, open);
    }
    this.p2l[ppa] = lba;
    if (sequence < this.blockMinSeq[open]!) this.blockMinSeq[open] = sequence;
    return ppa;
  }

  /**
   * After a fast-path program of data page `lba` into `open` threw: a PROGRAM_FAILED retires the
   * block (moving its valid pages) and the page goes through place(), which allocates anew;
   * anything else propagates.
   */
  private retryFailedProgram(e: unknown, s: Stream, die: number, lba: number, sequence: number, open: number): number {
    if (!isNandError(e, 'PROGRAM_FAILED')) throw e;
    this.counterValues.programFailures++;
    this.retireBlock(open);
    return this.place(s, die, KIND_DATA, lba, sequence, 1, null);
  }

  /**
   * {@link place} for a host data page on the metadata fast path: when the host stream has an
   * open block on this die, the page is programmed there from its spare words directly (and the
   * block closed after its last data page, as place does); allocation, a retry after a failed
   * program and blocks that end in a P2L summary go through place.
   */
  private placeHost(die: number, lba: number): number {
    const s = this.hostStream;
    const open = this.blockMode === true ? s.slot[die]! : -1;
    const sequence = this.nextSequence++;
    // No open block (allocation may collect), or a last page followed by a P2L summary: place().
    if (open < 0 || (this.summaries === true && this.writePointer[open]! + 1 >= this.dataPages)) return this.place(s, die, KIND_DATA, lba, sequence, 1, null);
    const ppa = open * this.pagesPerBlock + this.writePointer[open]!++;
    const w0 = this.dataWord0;
    const w1 = lba | 0;
    const w2 = sequence | 0;
    try {
      this.device.programSpareWords!(ppa, w0, w1, w2, crc32Words3Int32(w0, w1, w2));
    } catch (e) {
      return this.retryFailedProgram(e, s, die, lba, sequence, open);
    }
    this.p2l[ppa] = lba;
    if (sequence < this.blockMinSeq[open]!) this.blockMinSeq[open] = sequence;
    // The block's last data page: close it, as place() does.
    if (this.writePointer[open]! >= this.dataPages) this.afterProgram(s, open);
    return ppa;
  }

  // ---------------------------------------------------------------- host operations

  private checkPower(): void {
    if (this.poweredOff) throw new SsdError('POWER_LOSS', 'the device lost power: call recover() first');
  }

  private guard(e: unknown): never {
    if (isNandError(e, 'POWER_LOSS') || isNandError(e, 'POWER_OFF')) {
      this.poweredOff = true;
      throw new SsdError('POWER_LOSS', 'power lost during a NAND operation; call recover()', { cause: e });
    }
    throw e;
  }

  private checkLba(lba: number, count = 1): void {
    if (!Number.isInteger(lba) || !Number.isInteger(count) || lba < 0 || count < 0 || lba + count > this.userPages) {
      throw new SsdError('OUT_OF_RANGE', `logical page ${lba} (+${count}) outside 0…${this.userPages - 1}`);
    }
  }

  /** Writes one logical page (data of pageSize bytes when the device stores data; zeros if omitted). */
  write(lba: number, data?: Uint8Array): void {
    if (this.poweredOff === true) this.checkPower();
    if (!(lba >= 0 && lba < this.userPages && (lba | 0) === lba)) this.checkLba(lba);
    let payload: Uint8Array | null = null;
    if (this.withData === true) {
      payload = data ?? this.zeroPage;
      if (payload.length !== this.geometry.pageSize) {
        throw new SsdError('BUFFER_SIZE', `data must be ${this.geometry.pageSize} bytes, got ${payload.length}`);
      }
    }
    // The kernel does the whole write, or hands it back before changing anything (−1), or with the
    // die it chose after whole GC units (−2 − die): the code below then goes on from there.
    let kernelDie = -1;
    if (this.kernel !== null) {
      const done = this.kernel.write(lba);
      if (done >= 0) return;
      kernelDie = -2 - done;
    }
    this.writeAfterKernel(lba, kernelDie, payload);
  }

  /**
   * Finishes host write `lba` whose kernel write(lba), called through {@link directKernel},
   * returned `code` < 0: what write() does after that call. Internal.
   */
  finishKernelWrite(lba: number, code: number): void {
    if (this.poweredOff === true) this.checkPower();
    this.writeAfterKernel(lba, -2 - code, null);
  }

  /** write() from where the kernel handed it back (kernelDie ≥ 0: with that die; −1: the whole write). */
  private writeAfterKernel(lba: number, kernelDie: number, payload: Uint8Array | null): void {
    try {
      // Read the old mapping first: the random L2P access misses the cache, and issued here it
      // overlaps the program below. Only GC (foreground or in place) and a block retirement can
      // move the page in between; then it is read again (the counters tell whether they ran).
      const early = this.l2p[lba]!;
      const die = kernelDie >= 0 ? kernelDie : this.blockMode === true ? (this.staticAllocation === true ? this.staticHostDie(lba) : this.nextHostDie()) : 0;
      const collected = this.freeCount[die]! < this.gcThreshold;
      if (collected) this.foregroundGc(die);
      const moves = this.relocations;
      const ppa = this.fastMeta === true ? this.placeHost(die, lba) : this.place(this.hostStream, die, KIND_DATA, lba, this.nextSequence++, 1, payload);
      const old = collected || moves !== this.relocations ? this.l2p[lba]! : early;
      if (old >= 0) this.setInvalid(old);
      this.l2p[lba] = ppa;
      this.setValid(ppa);
      this.counterValues.hostPageWrites++;
    } catch (e) {
      this.guard(e);
    }
  }

  /**
   * Reads one logical page into `out` (pageSize bytes, optional). Unmapped or trimmed pages read
   * as zeros. Throws READ_FAILED when the ECC gives up or the page fails its CRC.
   */
  read(lba: number, out?: Uint8Array): FtlReadResult {
    this.checkPower();
    this.checkLba(lba);
    this.counterValues.hostPageReads++;
    const ppa = this.l2p[lba]!;
    if (ppa < 0) {
      out?.fill(0);
      return 'unmapped';
    }
    try {
      const buffer = this.withData ? (out ?? this.pageBuffer) : undefined;
      const r = this.device.readPage(ppa, buffer, this.readSpare);
      if (r.ecc === 'uncorrectable') throw new SsdError('READ_FAILED', `logical page ${lba}: uncorrectable at page ${ppa}`);
      const m = decodeSpare(this.readSpare, this.metaOffset, this.withData ? buffer! : null, this.meta);
      if (!m.valid || m.lba !== lba) {
        throw new SsdError('READ_FAILED', `logical page ${lba}: page ${ppa} fails its metadata check`);
      }
      return 'mapped';
    } catch (e) {
      return this.guard(e);
    }
  }

  /**
   * TRIM (the seed's steps): for each mapped page in [lba, lba+count) unmap it in L2P, clear its
   * VPBM bit and decrement its block's VPC. To survive power loss a TRIM record (one page) is
   * programmed first in the host stream; recovery replays it by sequence number. Never runs GC.
   */
  trim(lba: number, count = 1): void {
    this.checkPower();
    this.checkLba(lba, count);
    this.counterValues.hostTrimCommands++;
    try {
      for (let start = lba; start < lba + count; start += MAX_TRIM_RECORD_PAGES) {
        this.trimRange(start, Math.min(MAX_TRIM_RECORD_PAGES, lba + count - start));
      }
    } catch (e) {
      this.guard(e);
    }
  }

  private trimRange(lba: number, count: number): void {
    let mapped = false;
    for (let i = lba; i < lba + count; i++) if (this.l2p[i]! >= 0) mapped = true;
    if (!mapped) return;
    const die = this.blockMode ? this.nextHostDie() : 0;
    if (this.freeCount[die]! < this.options.gcThreshold) this.foregroundGc(die);
    const data = this.withData ? this.zeroPage : null;
    const ppa = this.place(this.hostStream, die, KIND_TRIM, lba, this.nextSequence++, count, data);
    this.setValid(ppa);
    this.counterValues.metadataPagePrograms++;
    for (let i = lba; i < lba + count; i++) {
      const old = this.l2p[i]!;
      if (old < 0) continue;
      this.l2p[i] = -1;
      this.setInvalid(old);
      this.counterValues.hostTrimmedPages++;
    }
  }

  /**
   * hostAllocation 'cwdp': the die of `lba` by channel-first striping (config.ts HostAllocation);
   * when that die has no room left (more than a block's pages not valid, and an open block, a free
   * one or one to collect), the next die in round robin. The room asked is less than
   * nextHostDie's reserve: a static scheme fills every die to the user share of its capacity.
   */
  private staticHostDie(lba: number): number {
    const g = this.geometry;
    const channel = lba % g.channels;
    const die = channel * g.diesPerChannel + (Math.floor(lba / g.channels) % g.diesPerChannel);
    if (this.poolCapacity[die]! - this.poolValid[die]! > this.dataPages && (this.hostStream.slot[die]! >= 0 || this.freeCount[die]! > 0 || this.leastValidUnit(die) >= 0)) {
      return die;
    }
    return this.nextHostDie();
  }

  /**
   * Block mode: the next die in channel-first round robin. A die that has no open block, no free
   * block and nothing to collect (its invalid pages all went to other dies) is skipped.
   */
  private nextHostDie(): number {
    // A die whose good pages are nearly all valid (it lost blocks to failures) is skipped while
    // another die has room, so data drifts towards the dies with spare capacity.
    const reserve = this.hostReserve;
    for (let tries = 0; tries < this.dies; tries++) {
      const die = this.dieOrder[this.hostCursor]!;
      if (++this.hostCursor === this.dies) this.hostCursor = 0;
      if (this.poolCapacity[die]! - this.poolValid[die]! < reserve) continue;
      if (this.hostStream.slot[die]! >= 0 || this.freeCount[die]! > 0) return die;
      if (this.leastValidUnit(die) >= 0) return die;
    }
    for (let tries = 0; tries < this.dies; tries++) {
      const die = this.dieOrder[this.hostCursor]!;
      if (++this.hostCursor === this.dies) this.hostCursor = 0;
      if (this.hostStream.slot[die]! >= 0 || this.freeCount[die]! > 0) return die;
      if (this.leastValidUnit(die) >= 0) return die;
    }
    throw new SsdError('NO_SPACE', 'no die has a free block or a block with invalid pages');
  }

  /** Recomputes the good data pages of a pool (after a block is retired). */
  private updatePoolCapacity(pool: number): void {
    if (!this.blockMode) return;
    let pages = 0;
    for (let u = pool * this.blocksPerDie; u < (pool + 1) * this.blocksPerDie; u++) pages += this.unitCapacity[u]!;
    this.poolCapacity[pool] = pages;
  }

  /** Physical page of a logical page (−1 when unmapped). */
  physicalPage(lba: number): number {
    this.checkLba(lba);
    return this.l2p[lba]!;
  }

  // ---------------------------------------------------------------- garbage collection

  private random(): number {
    // xorshift32: only for the `random` victim policy.
    let x = this.rngState;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rngState = x;
    return (x >>> 0) / 4294967296;
  }

  /** Picks a FULL unit of the pool per the policy, or −1. */
  selectVictim(pool: number): number {
    const policy = this.options.gcPolicy;
    if (policy === 'greedy') {
      const base = pool * this.bucketWidth;
      for (let v = this.bucketMin[pool]!; v < this.bucketWidth; v++) {
        const u = this.bucketHead[base + v]!;
        if (u >= 0) {
          this.bucketMin[pool] = v;
          return u;
        }
      }
      this.bucketMin[pool] = this.bucketWidth;
      return -1;
    }
    const first = this.blockMode ? pool * this.blocksPerDie : 0;
    const end = first + this.unitsPerPool;
    if (policy === 'fifo') {
      const queue = this.fifo[pool]!;
      let h = this.fifoHead[pool]!;
      while (h < queue.length) {
        const u = queue[h]!;
        const stamp = queue[h + 1]!;
        if (this.unitState[u] === BLOCK_FULL && this.unitStamp[u] === stamp) {
          this.fifoHead[pool] = h;
          if (h > 4096) {
            queue.splice(0, h);
            this.fifoHead[pool] = 0;
          }
          return u;
        }
        h += 2;
      }
      this.fifoHead[pool] = h;
      return -1;
    }
    if (policy === 'random') {
      for (let tries = 0; tries < 64; tries++) {
        const u = first + Math.floor(this.random() * this.unitsPerPool);
        if (this.unitState[u] === BLOCK_FULL && this.unitValid[u]! < this.unitCapacity[u]!) return u;
      }
      const start = first + Math.floor(this.random() * this.unitsPerPool);
      for (let i = 0; i < this.unitsPerPool; i++) {
        const u = first + ((start - first + i) % this.unitsPerPool);
        if (this.unitState[u] === BLOCK_FULL && this.unitValid[u]! < this.unitCapacity[u]!) return u;
      }
      return -1;
    }
    // cost-benefit (Rosenblum & Ousterhout; Kawaguchi et al.): maximise (1 − u)·age / 2u, where u is
    // the valid fraction and age the time (in sequence numbers) since the unit was closed. O(units).
    let best = -1;
    let bestScore = -1;
    const now = this.nextSequence;
    for (let u = first; u < end; u++) {
      if (this.unitState[u] !== BLOCK_FULL) continue;
      const cap = this.unitCapacity[u]!;
      const utilisation = this.unitValid[u]! / cap;
      if (utilisation >= 1) continue;
      const age = now - this.unitStamp[u]! + 1;
      const score = utilisation === 0 ? Infinity : ((1 - utilisation) * age) / (2 * utilisation);
      if (score > bestScore) {
        bestScore = score;
        best = u;
      }
    }
    return best;
  }

  /** The FULL unit of a pool with the fewest valid pages, if it has any garbage (else −1). O(units). */
  private leastValidUnit(pool: number): number {
    if (this.greedy) {
      const u = this.selectVictim(pool);
      return u >= 0 && this.unitValid[u]! < this.unitCapacity[u]! ? u : -1;
    }
    const first = this.blockMode ? pool * this.blocksPerDie : 0;
    let best = -1;
    let bestSpare = 0;
    for (let u = first; u < first + this.unitsPerPool; u++) {
      if (this.unitState[u] !== BLOCK_FULL) continue;
      const spare = this.unitCapacity[u]! - this.unitValid[u]!;
      if (spare > bestSpare) {
        bestSpare = spare;
        best = u;
      }
    }
    return best;
  }

  private fits(victim: number, s: Stream, pool: number): boolean {
    const valid = this.unitValid[victim]!;
    const room = this.streamRoom(s, pool);
    return valid <= room || (this.freeCount[pool]! > 0 && valid <= room + this.freeCapacity(pool));
  }

  /** Data pages in a pool's free units (units with retired members hold fewer). */
  private freeCapacity(pool: number): number {
    const base = pool * this.unitsPerPool;
    let pages = 0;
    for (let i = 0; i < this.heapSize[pool]!; i++) pages += this.unitCapacity[this.heap[base + i]!]!;
    return pages;
  }

  /** Free data pages a stream can still take in a pool without opening a unit. */
  private streamRoom(s: Stream, pool: number): number {
    if (this.blockMode) {
      const b = s.slot[pool]!;
      return b >= 0 ? this.dataPages - this.writePointer[b]! : 0;
    }
    let room = 0;
    for (let d = 0; d < this.dies; d++) {
      const b = s.slot[d]!;
      if (b >= 0) room += this.dataPages - this.writePointer[b]!;
    }
    return room;
  }

  private foregroundGc(pool: number): void {
    let guard = this.unitsPerPool + 4;
    while (this.freeCount[pool]! < this.gcThreshold && guard-- > 0) {
      if (!this.collect(pool, -1, this.gcStream)) break;
    }
  }

  /**
   * Background GC (idle time): collects in every pool until it has `backgroundGcTarget` free
   * units or no victim frees space. Returns the number of units collected.
   */
  backgroundGc(maxUnits = Infinity): number {
    this.checkPower();
    let done = 0;
    try {
      for (let pool = 0; pool < this.poolCount && done < maxUnits; pool++) {
        while (this.freeCount[pool]! < this.options.backgroundGcTarget && done < maxUnits) {
          if (!this.collect(pool, -1, this.gcStream)) break;
          done++;
          this.counterValues.backgroundGcRuns++;
        }
      }
    } catch (e) {
      this.guard(e);
    }
    return done;
  }

  /** Runs one GC in a pool now (the victim per policy). Returns false when nothing can be gained. */
  collectOnce(pool = 0): boolean {
    this.checkPower();
    try {
      return this.collect(pool, -1, this.gcStream);
    } catch (e) {
      return this.guard(e);
    }
  }

  /**
   * Destination-first GC of one unit: move its valid pages to `s`, then erase it. Gives up (false)
   * when there is no victim with an invalid page, or not enough free space to move it into.
   */
  private collect(pool: number, forcedVictim: number, s: Stream): boolean {
    let victim = forcedVictim >= 0 ? forcedVictim : this.selectVictim(pool);
    if (victim < 0) return false;
    if (forcedVictim < 0 && !this.fits(victim, s, pool)) {
      // The policy's pick does not fit in the space left: take the emptiest unit instead.
      victim = this.leastValidUnit(pool);
      if (victim < 0) return false;
    }
    const valid = this.unitValid[victim]!;
    // FIFO cleans the oldest unit even when it is all valid (the log must advance); the others
    // never collect a unit without garbage.
    if (forcedVictim < 0 && valid >= this.unitCapacity[victim]! && this.options.gcPolicy !== 'fifo') return false;
    // Destination first: the valid pages must fit in the stream's open unit plus free units.
    const room = this.streamRoom(s, pool);
    if (valid > room && (this.freeCount[pool] === 0 || valid > room + this.freeCapacity(pool))) {
      return false;
    }
    this.beginVictim(victim);
    const moved = this.relocateUnit(victim, s, pool);
    if (s === this.coldStream) {
      this.counterValues.wearLevelingRuns++;
      this.counterValues.wearLevelingMovedPages += moved;
    } else {
      this.counterValues.gcRuns++;
      this.counterValues.gcMovedPages += moved;
    }
    this.eraseUnit(victim);
    return true;
  }

  private beginVictim(victim: number): void {
    if (this.greedy && this.unitState[victim] === BLOCK_FULL) this.bucketRemove(victim, this.unitValid[victim]!);
    this.unitState[victim] = BLOCK_VICTIM;
    const m = this.memberCount();
    for (let k = 0; k < m; k++) {
      const b = this.memberBlock(victim, k);
      if (this.blockState[b] !== BLOCK_BAD) this.blockState[b] = BLOCK_VICTIM;
    }
    this.lastVictimUnit = victim;
  }

  /** Moves every valid page of a victim unit into stream `s`, finding them by the configured method. */
  private relocateUnit(victim: number, s: Stream, pool: number): number {
    let moved = 0;
    const m = this.memberCount();
    for (let k = 0; k < m; k++) {
      const b = this.memberBlock(victim, k);
      if (this.blockState[b] === BLOCK_BAD) continue;
      moved += this.relocateBlock(b, s, pool);
    }
    return moved;
  }

  private relocateBlock(b: number, s: Stream, pool: number): number {
    const first = b * this.pagesPerBlock;
    const written = Math.min(this.writePointer[b]!, this.dataPages);
    const method = this.options.validityMethod;
    let moved = 0;
    if (method === 'bitmap' && this.fastMeta) return this.relocateBlockFast(b, s, pool);
    if (method === 'bitmap') {
      // Walk the set bits of the VPBM a word at a time (re-read after each move, which clears
      // the moved page's bit): the same pages in the same order as testing every page.
      const bits = this.validBits;
      for (let i = 0; i < written; ) {
        const ppa = first + i;
        const word = bits[ppa >>> 5]! >>> (ppa & 31);
        if (word === 0) {
          i += 32 - (ppa & 31);
          continue;
        }
        i += 31 - Math.clz32(word & -word); // trailing zeros: the next valid page
        if (i >= written) break;
        moved += this.relocatePage(first + i, s, pool, true);
        i++;
      }
      return moved;
    }
    if (method === 'p2l' && this.writePointer[b]! === this.pagesPerBlock) {
      // Load the block's P2L summary (one page read), then check each LBA against L2P.
      const summary = this.summaryReadBuffer;
      this.device.readPage(first + this.pagesPerBlock - 1, this.withData ? summary : undefined, this.readSpare);
      this.counterValues.gcPageReads++;
      const fromFlash = this.withData && decodeSpare(this.readSpare, this.metaOffset, summary, this.meta).valid;
      for (let i = 0; i < written; i++) {
        const ppa = first + i;
        // The summary on flash is authoritative; a metadata-only device keeps no data bytes, so the
        // same table is taken from RAM (the read above is still charged).
        const raw = fromFlash ? readU32(summary, 4 * i) : this.p2l[ppa]! >= 0 ? this.p2l[ppa]! : this.p2l[ppa] === P2L_TRIM ? 0xfffffffe : 0xffffffff;
        if (raw === 0xffffffff) continue;
        const valid = raw === 0xfffffffe ? this.isValid(ppa) : raw < this.userPages && this.l2p[raw] === ppa;
        if (valid) moved += this.relocatePage(ppa, s, pool, true);
      }
      return moved;
    }
    // scan: read every programmed page's spare, keep it when the map still points at it.
    for (let i = 0; i < written; i++) {
      const ppa = first + i;
      const data = this.withData ? this.pageBuffer : undefined;
      const r = this.device.readPage(ppa, data, this.readSpare);
      this.counterValues.gcPageReads++;
      if (r.erased) continue;
      const meta = decodeSpare(this.readSpare, this.metaOffset, this.withData ? this.pageBuffer : null, this.meta);
      let valid = false;
      if (meta.valid && meta.kind === KIND_DATA) valid = meta.lba < this.userPages && this.l2p[meta.lba] === ppa;
      else if (meta.valid && meta.kind === KIND_TRIM) valid = this.isValid(ppa);
      else valid = this.isValid(ppa); // a page whose spare reads wrong: fall back to the bitmap
      if (valid) moved += this.relocatePage(ppa, s, pool, false);
    }
    return moved;
  }

  /**
   * The bitmap method on the metadata fast path. Lists the victim's valid pages from its VPBM
   * words (x & −x isolates the lowest set bit, Math.clz32 gives its index), then moves them in
   * page order: runs of data pages that fit in the stream's open block go to the device as one
   * copybackRun, with their L2P/P2L/VPBM updates in one loop and the VPC, pool and unit counts
   * changed once per run (the victim's once per block; nothing reads them while it is being
   * emptied); a run that fills the block closes it. Everything else (TRIM records, no open block,
   * superblock striping, an armed fault) takes the one-page path. The pages, their order,
   * sequence numbers and the device operations are those of moving them one by one.
   */
  private relocateBlockFast(b: number, s: Stream, pool: number): number {
    const ppb = this.pagesPerBlock;
    const first = b * ppb;
    const end = first + Math.min(this.writePointer[b]!, this.dataPages);
    const bits = this.validBits;
    const p2l = this.p2l;
    const l2p = this.l2p;
    const list = this.moveSources;
    let n = 0;
    for (let w = first >>> 5; w << 5 < end; w++) {
      const base = w << 5;
      // This block's part of the word (a block may share a word with its neighbours).
      let x = bits[w]!;
      if (base < first) x &= -1 << (first - base);
      if (end - base < 32) x &= (1 << (end - base)) - 1;
      while (x !== 0) {
        const low = x & -x;
        x ^= low;
        list[n++] = base + 31 - Math.clz32(low);
      }
    }
    let moved = 0;
    let dataMoved = 0;
    const words = this.moveWords;
    const w0 = this.dataWord0;
    for (let i = 0; i < n; ) {
      const ppa = list[i]!;
      if ((bits[ppa >>> 5]! & (1 << (ppa & 31))) === 0) {
        i++;
        continue;
      }
      const lba = p2l[ppa]!;
      if (lba < 0) {
        // A TRIM record: the general move (reads its spare, may drop it); keeps its own VPC.
        moved += this.relocatePage(ppa, s, pool, true);
        i++;
        continue;
      }
      const open = this.blockMode === true ? s.slot[pool]! : -1;
      // Room in the stream's open block (block mode; relocateBlockFast runs only without P2L summaries).
      const room = open >= 0 && this.unitState[this.unitOfBlockTable[open]!] !== BLOCK_FULL ? this.dataPages - this.writePointer[open]! : 0;
      const target = open >= 0 ? open * ppb + this.writePointer[open]! : -1;
      // A copybackRun of no pages asks the device whether runs may go now (nothing armed, power
      // on); then one loop builds the run's spare words and makes its table updates.
      if (room === 0 || !this.device.copybackRun!(list, i, 0, target, words)) {
        // One page: the read and program as relocatePage issues them.
        const to = this.placeMoved(s, pool, ppa, lba);
        bits[ppa >>> 5] = bits[ppa >>> 5]! & ~(1 << (ppa & 31));
        l2p[lba] = to;
        this.setValid(to);
        dataMoved++;
        i++;
        continue;
      }
      let k = 0;
      const sequence = this.nextSequence;
      while (k < room && i + k < n) {
        const source = list[i + k]!;
        const runLba = p2l[source]!;
        const sourceWord = bits[source >>> 5]!;
        const sourceBit = 1 << (source & 31);
        if (runLba < 0 || (sourceWord & sourceBit) === 0) break;
        const w2 = (sequence + k) | 0;
        const at = k << 2;
        words[at] = w0;
        words[at + 1] = runLba;
        words[at + 2] = w2;
        words[at + 3] = crc32Words3Int32(w0, runLba, w2);
        const to = target + k;
        p2l[to] = runLba;
        l2p[runLba] = to;
        bits[source >>> 5] = sourceWord & ~sourceBit;
        bits[to >>> 5] = bits[to >>> 5]! | (1 << (to & 31));
        k++;
      }
      // The device said yes above and nothing has run since, and the FTL's sources are in range.
      if (!this.device.copybackRun!(list, i, k, target, words)) throw new Error('copybackRun declined a run it had accepted');
      this.nextSequence = sequence + k;
      this.writePointer[open]! += k;
      // The run's sequence numbers ascend: its first is the block's minimum candidate.
      if (sequence < this.blockMinSeq[open]!) this.blockMinSeq[open] = sequence;
      // A run needs an open block of the stream on this die: block mode, where unitValid is blockValid.
      this.blockValid[open]! += k;
      this.poolValid[this.dieOfBlock[open]!]! += k;
      this.counterValues.gcPageReads += k;
      dataMoved += k;
      i += k;
      // The run filled the block: close it as place() does after its last page. (The one-by-one
      // path closes it before marking that last copy valid; the unit then ends at the head of
      // the same greedy list either way, and no other list changes.)
      if (this.writePointer[open]! >= this.dataPages) this.afterProgram(s, open);
    }
    if (dataMoved > 0) {
      this.blockValid[b]! -= dataMoved;
      this.poolValid[this.dieOfBlock[b]!]! -= dataMoved;
      if (this.blockMode !== true) this.unitValid[this.unitOfBlockTable[b]!]! -= dataMoved;
    }
    return moved + dataMoved;
  }

  /**
   * Moves one valid page to stream `s`. `readIt`: the page still has to be read (otherwise the
   * scan just read it into pageBuffer/readSpare). Returns 1 when a page was programmed.
   */
  private relocatePage(ppa: number, s: Stream, pool: number, readIt: boolean, buffer = this.pageBuffer): number {
    const data = this.withData ? buffer : null;
    const p2l = this.p2l[ppa]!;
    if (readIt) {
      // The LBA of a data page is known from the P2L/VPBM tables; the read fetches the payload
      // (and is charged to the clock even when a metadata-only device has none to return).
      if (data !== null || p2l === P2L_TRIM) this.device.readPage(ppa, data ?? undefined, this.readSpare);
      else this.device.readPage(ppa);
      this.counterValues.gcPageReads++;
    }
    if (p2l === P2L_TRIM) {
      const meta = decodeSpare(this.readSpare, this.metaOffset, data, this.meta);
      const b = (ppa / this.pagesPerBlock) | 0;
      if (!meta.valid || this.trimObsolete(meta.sequence, b)) {
        this.setInvalid(ppa);
        return 0;
      }
      const lba = meta.lba;
      const count = meta.count;
      const seq = meta.sequence;
      const to = this.place(s, pool, KIND_TRIM, lba, seq, count, data);
      this.setInvalid(ppa);
      this.setValid(to);
      this.counterValues.metadataPagePrograms++;
      return 1;
    }
    // Data: a fresh sequence number (the copy is the newest version of its LBA).
    const to = this.place(s, pool, KIND_DATA, p2l, this.nextSequence++, 1, data);
    this.setInvalid(ppa);
    this.l2p[p2l] = to;
    this.setValid(to);
    return 1;
  }

  /**
   * A TRIM record with sequence t is needed while some block other than its own may still hold an
   * older copy of a trimmed LBA: any unerased block whose first data page is older than t.
   */
  private trimObsolete(sequence: number, ownBlock: number): boolean {
    for (let b = 0; b < this.totalBlocks; b++) {
      if (b === ownBlock) continue;
      const st = this.blockState[b];
      if ((st === BLOCK_OPEN || st === BLOCK_FULL || st === BLOCK_VICTIM) && this.blockMinSeq[b]! < sequence) return false;
    }
    return true;
  }

  /** Erases every good member of a victim and returns the unit to its free pool (failures retire). */
  private eraseUnit(u: number, allowWearLeveling = true): void {
    const m = this.memberCount();
    for (let k = 0; k < m; k++) {
      const b = this.memberBlock(u, k);
      if (this.blockState[b] === BLOCK_BAD) continue;
      try {
        this.device.eraseBlock(b);
        this.counterValues.erases++;
      } catch (e) {
        if (!isNandError(e, 'ERASE_FAILED')) throw e;
        this.counterValues.eraseFailures++;
        this.markBlockBad(b);
      }
      this.resetBlock(b);
    }
    this.unitValid[u] = 0;
    const capacity = this.goodMembers(u) * this.dataPages;
    if (capacity !== this.unitCapacity[u]) {
      this.unitCapacity[u] = capacity;
      this.updatePoolCapacity(this.poolOfUnit(u));
    }
    if (capacity === 0) this.unitState[u] = BLOCK_BAD;
    else this.freeUnit(u);
    if (allowWearLeveling && this.options.staticWearLeveling && ++this.erasesSinceWearCheck >= Math.max(16, this.unitCount >> 2)) {
      this.erasesSinceWearCheck = 0;
      this.staticWearLevel();
    }
  }

  private resetBlock(b: number): void {
    const first = b * this.pagesPerBlock;
    const end = first + this.pagesPerBlock;
    const p2l = this.p2l;
    // Short loops: TypedArray.prototype.fill is a call into C++, dearer than 64 stores.
    for (let ppa = first; ppa < end; ppa++) p2l[ppa] = P2L_NONE;
    const bits = this.validBits;
    let ppa = first;
    while (ppa < end && (ppa & 31) !== 0) {
      bits[ppa >>> 5]! &= ~(1 << (ppa & 31));
      ppa++;
    }
    for (; ppa + 32 <= end; ppa += 32) bits[ppa >>> 5] = 0; // whole VPBM words of this block
    for (; ppa < end; ppa++) bits[ppa >>> 5]! &= ~(1 << (ppa & 31));
    this.blockValid[b] = 0;
    this.writePointer[b] = 0;
    this.blockMinSeq[b] = Infinity;
  }

  private markBlockBad(b: number): void {
    if (this.blockState[b] === BLOCK_BAD) return;
    this.blockState[b] = BLOCK_BAD;
    this.counterValues.retiredBlocks++;
    this.relocations++;
    this.device.markBad(b);
  }

  /**
   * A program failed in block b: take it out of every stream, move its valid pages out, mark it
   * bad. The caller retries its own write elsewhere.
   */
  private retireBlock(b: number): void {
    const die = Math.floor(b / this.blocksPerDie);
    const u = this.unitOfBlock(b);
    for (const s of [this.hostStream, this.gcStream, this.coldStream]) if (s.slot[die] === b) s.slot[die] = -1;
    const unitWasFull = this.unitState[u] === BLOCK_FULL;
    if (this.blockMode) {
      if (unitWasFull && this.greedy) this.bucketRemove(u, this.unitValid[u]!);
      this.unitState[u] = BLOCK_VICTIM;
    }
    this.blockState[b] = BLOCK_VICTIM;
    const first = b * this.pagesPerBlock;
    const pool = this.poolOfUnit(u);
    const written = Math.min(this.writePointer[b]!, this.dataPages);
    // Its own buffer: the caller's page (in pageBuffer) is still waiting to be retried.
    const buffer = new Uint8Array(this.withData ? this.geometry.pageSize : 0);
    for (let i = 0; i < written; i++) {
      if (this.isValid(first + i)) this.counterValues.retirementMovedPages += this.relocatePage(first + i, this.gcStream, pool, true, buffer);
    }
    this.markBlockBad(b);
    this.resetBlock(b);
    this.unitCapacity[u] = this.goodMembers(u) * this.dataPages;
    this.updatePoolCapacity(pool);
    if (this.blockMode || this.unitCapacity[u] === 0) {
      if (!this.blockMode && this.unitState[u] === BLOCK_FULL && this.greedy) this.bucketRemove(u, this.unitValid[u]!);
      this.unitState[u] = BLOCK_BAD;
      for (const s of [this.hostStream, this.gcStream, this.coldStream]) if (s.unit === u) s.unit = -1;
    }
  }

  /**
   * No free unit for a stream: the seed's collection. Read the victim's valid pages into the
   * controller's RAM, erase it, and program them back into it; it becomes the stream's open
   * unit. (Not power-safe: a cut between erase and rewrite loses the buffered pages. Only
   * reached when OP is a single unit, or GC fell behind.)
   */
  private collectInPlace(s: Stream, pool: number): void {
    let victim = this.selectVictim(pool);
    if (victim < 0 || this.unitValid[victim]! >= this.unitCapacity[victim]!) victim = this.leastValidUnit(pool);
    if (victim < 0) {
      throw new SsdError('NO_SPACE', 'no free block and no block with invalid pages to collect');
    }
    this.beginVictim(victim);
    const lbas: number[] = [];
    const payloads: Uint8Array[] = [];
    const trims: number[] = [];
    const m = this.memberCount();
    for (let k = 0; k < m; k++) {
      const b = this.memberBlock(victim, k);
      if (this.blockState[b] === BLOCK_BAD) continue;
      const first = b * this.pagesPerBlock;
      const written = Math.min(this.writePointer[b]!, this.dataPages);
      for (let i = 0; i < written; i++) {
        const ppa = first + i;
        if (!this.isValid(ppa)) continue;
        const data = this.withData ? new Uint8Array(this.geometry.pageSize) : undefined;
        this.device.readPage(ppa, data, this.readSpare);
        this.counterValues.gcPageReads++;
        if (this.p2l[ppa] === P2L_TRIM) {
          const meta = decodeSpare(this.readSpare, this.metaOffset, data ?? null, this.meta);
          if (meta.valid) trims.push(meta.lba, meta.count, meta.sequence);
        } else {
          lbas.push(this.p2l[ppa]!);
          if (data) payloads.push(data);
        }
        this.setInvalid(ppa);
      }
    }
    for (let i = 0; i < lbas.length; i++) this.l2p[lbas[i]!] = -1;
    this.eraseUnit(victim, false);
    // eraseUnit returned it to the pool; take it straight back as this stream's unit.
    if (this.unitState[victim] === BLOCK_FREE) {
      const base = pool * this.unitsPerPool;
      for (let i = 0; i < this.heapSize[pool]!; i++) {
        if (this.heap[base + i] === victim) {
          this.heapRemoveAt(pool, i);
          break;
        }
      }
      this.unitState[victim] = BLOCK_OPEN;
      for (let k = 0; k < m; k++) {
        const b = this.memberBlock(victim, k);
        if (this.blockState[b] === BLOCK_BAD) continue;
        this.blockState[b] = BLOCK_OPEN;
        s.slot[this.blockMode ? pool : k] = b;
      }
      if (!this.blockMode) s.unit = victim;
    }
    this.counterValues.inPlaceGcRuns++;
    this.relocations++;
    this.counterValues.gcRuns++;
    for (let i = 0; i < trims.length; i += 3) {
      const to = this.place(s, pool, KIND_TRIM, trims[i]!, trims[i + 2]!, trims[i + 1]!, this.withData ? this.zeroPage : null);
      this.setValid(to);
      this.counterValues.metadataPagePrograms++;
    }
    for (let i = 0; i < lbas.length; i++) {
      const to = this.place(s, pool, KIND_DATA, lbas[i]!, this.nextSequence++, 1, this.withData ? payloads[i]! : null);
      this.l2p[lbas[i]!] = to;
      this.setValid(to);
      this.counterValues.gcMovedPages++;
    }
  }

  // ---------------------------------------------------------------- wear leveling

  /** Erase-count spread over good blocks. */
  eraseSpread(): { min: number; max: number } {
    let min = Infinity;
    let max = -Infinity;
    for (let b = 0; b < this.totalBlocks; b++) {
      if (this.blockState[b] === BLOCK_BAD) continue;
      const c = this.device.eraseCount(b);
      if (c < min) min = c;
      if (c > max) max = c;
    }
    return { min, max };
  }

  /**
   * Static wear leveling: when max − min erase count exceeds the threshold, the FULL unit with the
   * fewest erases (it holds cold data) is collected into the most-worn free unit (cold stream),
   * so the young unit returns to the pool for hot data.
   */
  private staticWearLevel(): void {
    const { min, max } = this.eraseSpread();
    if (max - min <= this.options.staticWearLevelingThreshold) return;
    let victim = -1;
    let victimKey = Infinity;
    for (let u = 0; u < this.unitCount; u++) {
      if (this.unitState[u] !== BLOCK_FULL) continue;
      const key = this.unitEraseKey(u) / Math.max(1, this.goodMembers(u));
      if (key < victimKey) {
        victimKey = key;
        victim = u;
      }
    }
    if (victim < 0 || victimKey > min) return;
    const pool = this.poolOfUnit(victim);
    if (this.freeCount[pool]! < 2) return;
    this.collect(pool, victim, this.coldStream);
  }

  // ---------------------------------------------------------------- power-loss recovery

  /**
   * Rebuilds L2P, VPC and VPBM from the spares after a power cut (or to mount a used device):
   * reboots the device, reads every page of every good block, keeps for each LBA the copy with
   * the highest sequence number whose CRC checks, then replays TRIM records newer than it.
   * Partly written blocks are closed (their erased tail is reclaimed by GC).
   */
  recover(): void {
    this.device.reboot();
    this.poweredOff = false;
    this.counterValues.recoveries++;
    const bestSeq = new Float64Array(this.userPages).fill(-1);
    this.l2p.fill(-1);
    this.p2l.fill(P2L_NONE);
    this.validBits.fill(0);
    this.blockValid.fill(0);
    this.unitValid.fill(0);
    this.poolValid.fill(0);
    this.writePointer.fill(0);
    this.blockMinSeq.fill(Infinity);
    this.heapSize.fill(0);
    this.freeCount.fill(0);
    this.bucketHead.fill(-1);
    this.bucketMin.fill(0);
    for (const q of this.fifo) q.length = 0;
    this.fifoHead.fill(0);
    for (const s of [this.hostStream, this.gcStream, this.coldStream]) {
      s.slot.fill(-1);
      s.unit = -1;
      s.cursor = 0;
    }
    const trimRecords: number[] = [];
    let maxSeq = 0;
    const data = this.withData ? this.pageBuffer : undefined;
    for (let b = 0; b < this.totalBlocks; b++) {
      if (this.device.isBad(b)) {
        this.blockState[b] = BLOCK_BAD;
        continue;
      }
      const first = b * this.pagesPerBlock;
      let lastProgrammed = -1;
      for (let i = 0; i < this.pagesPerBlock; i++) {
        const ppa = first + i;
        const r = this.device.readPage(ppa, data, this.readSpare);
        if (r.erased) continue;
        lastProgrammed = i;
        const meta = decodeSpare(this.readSpare, this.metaOffset, data ?? null, this.meta);
        if (!meta.valid || r.ecc === 'uncorrectable') continue;
        if (meta.sequence > maxSeq) maxSeq = meta.sequence;
        if (meta.kind === KIND_DATA) {
          if (meta.lba >= this.userPages) continue;
          this.p2l[ppa] = meta.lba;
          if (meta.sequence < this.blockMinSeq[b]!) this.blockMinSeq[b] = meta.sequence;
          if (meta.sequence > bestSeq[meta.lba]!) {
            bestSeq[meta.lba] = meta.sequence;
            this.l2p[meta.lba] = ppa;
          }
        } else if (meta.kind === KIND_TRIM) {
          this.p2l[ppa] = P2L_TRIM;
          trimRecords.push(ppa, meta.lba, meta.count, meta.sequence);
        } else {
          this.p2l[ppa] = P2L_SUMMARY;
        }
      }
      this.writePointer[b] = lastProgrammed + 1;
      this.blockState[b] = lastProgrammed < 0 ? BLOCK_FREE : BLOCK_FULL;
    }
    // TRIM records, oldest first: a record unmaps every LBA whose best copy is older than it.
    const order: number[] = [];
    for (let i = 0; i < trimRecords.length; i += 4) order.push(i);
    order.sort((a, b) => trimRecords[a + 3]! - trimRecords[b + 3]!);
    for (const i of order) {
      const lba = trimRecords[i + 1]!;
      const count = trimRecords[i + 2]!;
      const seq = trimRecords[i + 3]!;
      const end = Math.min(this.userPages, lba + count);
      for (let x = lba; x < end; x++) {
        if (bestSeq[x]! < seq) {
          bestSeq[x] = seq;
          this.l2p[x] = -1;
        }
      }
    }
    this.nextSequence = maxSeq + 1;
    for (let x = 0; x < this.userPages; x++) {
      const ppa = this.l2p[x]!;
      if (ppa < 0) continue;
      this.validBits[ppa >>> 5]! |= 1 << (ppa & 31);
      const b = (ppa / this.pagesPerBlock) | 0;
      this.blockValid[b]!++;
      this.poolValid[(b / this.blocksPerDie) | 0]!++;
      if (!this.blockMode) this.unitValid[this.unitOfBlock(b)]!++;
    }
    // Keep every TRIM record (GC drops those no longer needed).
    for (let i = 0; i < trimRecords.length; i += 4) {
      const ppa = trimRecords[i]!;
      this.validBits[ppa >>> 5]! |= 1 << (ppa & 31);
      const b = (ppa / this.pagesPerBlock) | 0;
      this.blockValid[b]!++;
      this.poolValid[(b / this.blocksPerDie) | 0]!++;
      if (!this.blockMode) this.unitValid[this.unitOfBlock(b)]!++;
    }
    for (let u = 0; u < this.unitCount; u++) {
      this.unitCapacity[u] = this.goodMembers(u) * this.dataPages;
      if (this.unitCapacity[u] === 0) {
        this.unitState[u] = BLOCK_BAD;
        continue;
      }
      let used = false;
      let stamp = 0;
      const m = this.memberCount();
      for (let k = 0; k < m; k++) {
        const b = this.memberBlock(u, k);
        if (this.blockState[b] === BLOCK_FULL) used = true;
      }
      if (!used) {
        this.freeUnit(u);
        continue;
      }
      for (let k = 0; k < m; k++) {
        const b = this.memberBlock(u, k);
        if (this.blockState[b] === BLOCK_BAD) continue;
        // Erased members of a used superblock are closed too; GC reclaims them with the rest.
        this.blockState[b] = BLOCK_FULL;
        if (this.writePointer[b] === 0) this.writePointer[b] = this.pagesPerBlock;
        if (this.blockMinSeq[b]! !== Infinity) stamp = Math.max(stamp, this.blockMinSeq[b]!);
      }
      this.unitState[u] = BLOCK_FULL;
      this.unitStamp[u] = stamp;
    }
    for (let pool = 0; pool < this.poolCount; pool++) this.updatePoolCapacity(pool);
    // Closed units enter the victim structures in age order.
    const closed: number[] = [];
    for (let u = 0; u < this.unitCount; u++) if (this.unitState[u] === BLOCK_FULL) closed.push(u);
    closed.sort((a, b) => this.unitStamp[a]! - this.unitStamp[b]!);
    for (const u of closed) {
      if (this.greedy) this.bucketInsert(u);
      else if (this.options.gcPolicy === 'fifo') this.fifo[this.poolOfUnit(u)]!.push(u, this.unitStamp[u]!);
    }
  }

  // ---------------------------------------------------------------- inspection

  /** Total free units over all pools. */
  freeUnits(): number {
    let n = 0;
    for (let p = 0; p < this.poolCount; p++) n += this.freeCount[p]!;
    return n;
  }

  /** Per-block (and per-page) state for the dashboard. Costs O(total pages). */
  snapshot(): BlockMapSnapshot {
    const B = this.totalBlocks;
    const ppb = this.pagesPerBlock;
    const validPages = new Uint32Array(B);
    const invalidPages = new Uint32Array(B);
    const freePages = new Uint32Array(B);
    const eraseCount = new Uint32Array(B);
    const unitOfBlock = new Int32Array(B);
    const pageState = new Uint8Array(this.totalPages);
    for (let b = 0; b < B; b++) {
      eraseCount[b] = this.device.eraseCount(b);
      unitOfBlock[b] = this.unitOfBlock(b);
      if (this.blockState[b] === BLOCK_BAD) continue;
      const wp = this.writePointer[b]!;
      for (let i = 0; i < ppb; i++) {
        const ppa = b * ppb + i;
        if (i >= wp) {
          freePages[b]!++;
          pageState[ppa] = PAGE_ERASED;
        } else if (this.isValid(ppa)) {
          validPages[b]!++;
          pageState[ppa] = PAGE_VALID;
        } else {
          invalidPages[b]!++;
          pageState[ppa] = this.p2l[ppa] === P2L_SUMMARY ? PAGE_META : PAGE_INVALID;
        }
      }
    }
    return {
      geometry: this.geometry,
      gcUnit: this.options.gcUnit,
      blockState: this.blockState.slice(),
      validPages,
      invalidPages,
      freePages,
      eraseCount,
      unitOfBlock,
      pageState,
      lastVictimUnit: this.lastVictimUnit,
      gcRuns: this.counterValues.gcRuns,
      freeUnits: this.freeUnits(),
    };
  }

  /**
   * Cross-checks the tables (L2P ↔ VPBM ↔ VPC) and throws on the first mismatch. O(pages); for tests.
   */
  checkConsistency(): void {
    const count = new Uint32Array(this.totalBlocks);
    for (let x = 0; x < this.userPages; x++) {
      const ppa = this.l2p[x]!;
      if (ppa < 0) continue;
      if (!this.isValid(ppa)) throw new Error(`L2P[${x}] = ${ppa} but its VPBM bit is clear`);
      if (this.p2l[ppa] !== x) throw new Error(`L2P[${x}] = ${ppa} but P2L[${ppa}] = ${this.p2l[ppa]}`);
    }
    for (let ppa = 0; ppa < this.totalPages; ppa++) {
      if (!this.isValid(ppa)) continue;
      const b = (ppa / this.pagesPerBlock) | 0;
      count[b]!++;
      const lba = this.p2l[ppa]!;
      if (lba >= 0 && this.l2p[lba] !== ppa) throw new Error(`page ${ppa} valid but L2P[${lba}] = ${this.l2p[lba]}`);
    }
    const unit = new Int32Array(this.unitCount);
    for (let b = 0; b < this.totalBlocks; b++) {
      if (count[b] !== this.blockValid[b]) throw new Error(`block ${b}: VPC ${this.blockValid[b]} but ${count[b]} valid bits`);
      unit[this.unitOfBlock(b)]! += count[b]!;
    }
    for (let u = 0; u < this.unitCount; u++) {
      if (unit[u] !== this.unitValid[u]) throw new Error(`unit ${u}: VPC ${this.unitValid[u]} but ${unit[u]} valid bits`);
    }
  }
}
