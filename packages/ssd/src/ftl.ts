// The FTL's public API: Ftl, a thin facade over one FtlState and the functions of src/ftl/, which
// hold the FTL itself along MQSim's units:
//   ftl/abi.ts            constants shared with the WebAssembly kernel (kernel/ftl/ imports it)
//   ftl/state.ts          the state object (tables, streams, counters) and the unit topology
//   ftl/mapping.ts        host write / read / TRIM and the host die choice (Address_Mapping_Unit_Page_Level)
//   ftl/block-manager.ts  validity bookkeeping, open units, allocation, programming (Flash_Block_Manager)
//   ftl/free-pool.ts      free-unit heaps and format (Flash_Block_Manager_Base's free block pool)
//   ftl/victim.ts         victim policies: greedy buckets, FIFO, random, cost-benefit
//   ftl/gc.ts             foreground, background and in-place GC (GC_and_WL_Unit_Page_Level)
//   ftl/bad-blocks.ts     program/erase failures, block retirement
//   ftl/wear-leveling.ts  static wear leveling (GC_and_WL_Unit_Page_Level's static WL)
//   ftl/recovery.ts       the mount / power-loss scan
//   ftl/inspect.ts        snapshot and consistency check
//   ftl/cached-mapping.ts the demand-paged cached mapping table (DFTL; Address_Mapping_Unit's CMT and GTD)
// The kernel (kernel/ftl/) has the same layout, file for file where it has a counterpart.
import type { NandDevice, NandGeometry } from '@flashdiff/nand';
import type { FtlOptions } from './config.ts';
import { SsdError } from './errors.ts';
import { FtlState, isValid, p2lAt, poolOfUnit, unitOfBlock } from './ftl/state.ts';
import type { FtlCounters, FtlKernel } from './ftl/state.ts';
import { format } from './ftl/free-pool.ts';
import { checkLba, checkPower, finishKernelWrite, guard, physicalPage, read, trim, write } from './ftl/mapping.ts';
import { accessMapping, createMappingCache, flushPendingTranslations } from './ftl/cached-mapping.ts';
import type { MappingCacheReport, TranslationReadTiming } from './ftl/cached-mapping.ts';
import type { FtlReadResult } from './ftl/mapping.ts';
import { selectVictim } from './ftl/victim.ts';
import { backgroundGc, collectOnce } from './ftl/gc.ts';
import type { GcTiming } from './ftl/gc.ts';
import { eraseSpread } from './ftl/wear-leveling.ts';
import { recover } from './ftl/recovery.ts';
import { checkConsistency, freeUnits, snapshot } from './ftl/inspect.ts';
import { markedFill } from './ftl/marked-fill.ts';
import type { BlockMapSnapshot } from './ftl/inspect.ts';

export { BLOCK_BAD, BLOCK_FREE, BLOCK_FULL, BLOCK_OPEN, BLOCK_VICTIM, PAGE_ERASED, PAGE_INVALID, PAGE_META, PAGE_VALID } from './ftl/abi.ts';
export type { FtlCounters, FtlKernel } from './ftl/state.ts';
export type { FtlReadResult } from './ftl/mapping.ts';
export type { BlockMapSnapshot } from './ftl/inspect.ts';
export type { MappingCacheReport } from './ftl/cached-mapping.ts';

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
  readonly blockMode: boolean;
  /** Dies in channel-first order: consecutive writes go to different channels. */
  readonly dieOrder: Int32Array;

  /**
   * The FTL's L2P table as stored: each entry bitwise inverted (~ppa, 0 unmapped; ftl/abi.ts), so
   * a new one is zero memory. {@link l2p} decodes a copy, {@link physicalPage} one entry.
   */
  /**
   * The L2P table itself (~ppa, abi.ts), whatever a lazy fill still implies written first
   * (src/ftl/lazy-fill.ts). Internal: for tests and the simulator's checks.
   */
  get l2pTable(): Int32Array {
    this.state.settleFill();
    return this.state.l2p;
  }
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
  /** Bytes of this FTL's tables (in the device's table memory when the kernel runs). */
  readonly tableBytes: number;
  /** The state the functions of src/ftl/ work on (the tables above are its own). */
  private readonly state: FtlState;

  /**
   * The reverse map (P2L_NONE where a page holds nothing mapped): a copy decoded from the FTL's
   * table (which holds ~entry, ftl/abi.ts) or, where the FTL derives its entries from the spare
   * heads (FtlState.derivedP2l), built from them (O(pages): for tests and inspection;
   * {@link p2lOf} reads one entry).
   */
  get p2l(): Int32Array {
    this.state.settleFill();
    const st = this.state;
    const out = new Int32Array(st.totalPages);
    for (let ppa = 0; ppa < st.totalPages; ppa++) out[ppa] = p2lAt(st, ppa);
    return out;
  }

  /**
   * The L2P map (−1 where an LBA is unmapped): a copy decoded from {@link l2pTable} (O(user
   * pages): for tests and inspection; {@link physicalPage} reads one entry).
   */
  get l2p(): Int32Array {
    this.state.settleFill();
    const table = this.state.l2p;
    const out = new Int32Array(table.length);
    for (let lba = 0; lba < table.length; lba++) out[lba] = ~table[lba]!;
    return out;
  }

  /** P2L[ppa] (see {@link p2l}). */
  p2lOf(ppa: number): number {
    this.state.settleFill();
    return p2lAt(this.state, ppa);
  }

  constructor(device: NandDevice, options: Partial<FtlOptions> = {}) {
    const st = new FtlState(device, options);
    this.state = st;
    this.device = st.device;
    this.geometry = st.geometry;
    this.options = st.options;
    this.userPages = st.userPages;
    this.pagesPerBlock = st.pagesPerBlock;
    this.dataPages = st.dataPages;
    this.blocksPerDie = st.blocksPerDie;
    this.dies = st.dies;
    this.totalBlocks = st.totalBlocks;
    this.totalPages = st.totalPages;
    this.unitCount = st.unitCount;
    this.poolCount = st.poolCount;
    this.blockMode = st.blockMode;
    this.dieOrder = st.dieOrder;
    this.validBits = st.validBits;
    this.blockValid = st.blockValid;
    this.unitValid = st.unitValid;
    this.unitCapacity = st.unitCapacity;
    this.blockState = st.blockState;
    this.unitState = st.unitState;
    this.writePointer = st.writePointer;
    this.blockMinSeq = st.blockMinSeq;
    this.unitStamp = st.unitStamp;
    this.freeCount = st.freeCount;
    this.tableBytes = st.tableBytes;

    st.cmt = createMappingCache(st.geometry, st.userPages, st.options.mappingCacheEntries, st.options.mappingCacheBytes);
    format(st);
    let spareUnits = 0;
    for (let pool = 0; pool < st.poolCount; pool++) spareUnits += st.freeCount[pool]!;
    let goodPages = 0;
    for (let u = 0; u < st.unitCount; u++) goodPages += st.unitCapacity[u]!;
    if (goodPages <= st.userPages || spareUnits < 1) {
      throw new SsdError(
        'INVALID_CONFIG',
        `no spare capacity: ${goodPages} good data pages for ${st.userPages} user pages (raise OP)`,
      );
    }
  }

  /** The FTL's state: the kernel replay (simulator/replay-kernel.ts) runs over its tables in the FTL's module. Internal. */
  get internalState(): FtlState {
    return this.state;
  }

  /** What the FTL counted (the kernel's counts folded in). */
  get counters(): FtlCounters {
    return this.state.counters;
  }
  /** The unit GC collected last (−1: none yet). */
  get lastVictimUnit(): number {
    return this.state.lastVictimUnit;
  }
  /** The next page's sequence number. */
  get nextSequence(): number {
    return this.state.nextSequence;
  }
  set nextSequence(value: number) {
    this.state.nextSequence = value;
  }
  /** Whether write() runs in the WebAssembly kernel (see FtlOptions.wasmKernel for when it can). */
  get wasmKernelActive(): boolean {
    return this.state.kernel !== null;
  }
  /**
   * The kernel's exports for calling its write() directly (SsdSimulator's kernel loop), or null
   * while that would not be the same as write(): no kernel, or the FTL waits for recover().
   * A write() that returns a code < 0 is finished by {@link finishKernelWrite}. Internal.
   */
  get directKernel(): FtlKernel | null {
    return this.state.directKernel;
  }

  /** GC unit of a block. */
  unitOfBlock(block: number): number {
    return unitOfBlock(this.state, block);
  }
  /** Free pool (die, or 0 in superblock mode) of a unit. */
  poolOfUnit(u: number): number {
    return poolOfUnit(this.state, u);
  }
  isValid(ppa: number): boolean {
    this.state.settleFill();
    return isValid(this.state, ppa);
  }

  /** Writes one logical page (data of pageSize bytes when the device stores data; zeros if omitted). */
  write(lba: number, data?: Uint8Array): void {
    this.state.settleFill();
    const st = this.state;
    if (st.cmt === null) {
      write(st, lba, data);
      return;
    }
    this.mapped(lba, 1, true);
    write(st, lba, data);
    this.afterMappingChanges();
  }
  /**
   * Host-writes LBAs order[0 … count) (first … first + count − 1 when order is null) as count
   * write() calls would, in one loop over the tables (src/ftl/marked-fill.ts): null when done,
   * else why it declined (nothing changed). The preconditioning fill's fast path.
   */
  markedFill(order: Int32Array | null, first: number, count: number, kernelProgramsReady = false): string | null {
    this.state.settleFill();
    return markedFill(this.state, order, first, count, kernelProgramsReady);
  }
  /**
   * With a cached mapping table: the mapping accesses before a host operation on [lba, lba + count)
   * (write: the entries become dirty), a miss reading a translation page, an eviction writing one back.
   */
  private mapped(lba: number, count: number, dirty: boolean): void {
    const st = this.state;
    checkPower(st);
    checkLba(st, lba, count);
    try {
      for (let x = lba; x < lba + count; x++) accessMapping(st, x, dirty);
    } catch (e) {
      guard(st, e);
    }
  }
  /** With a cached mapping table: DFTL's batch update of the translation pages GC or TRIM changed. */
  private afterMappingChanges(): void {
    const st = this.state;
    if (st.cmt === null || st.cmt.pending.size === 0) return;
    try {
      flushPendingTranslations(st);
    } catch (e) {
      guard(st, e);
    }
  }
  /**
   * With a cached mapping table: how a transaction scheduler times translation-page reads for host
   * accesses (replay.ts sets it); null (default): the eager clock issues what follows at each
   * read's completion. Internal.
   */
  set translationTiming(timing: TranslationReadTiming | null) {
    this.state.translationTiming = timing;
  }
  /** How a transaction scheduler learns which operations are foreground GC's (replay.ts sets it). Internal. */
  set gcTiming(timing: GcTiming | null) {
    this.state.gcTiming = timing;
  }
  /** See FtlState.presumeTranslationPages (the simulator sets it with unmappedReads 'flash-read'). Internal. */
  set presumeTranslationPages(on: boolean) {
    this.state.presumeTranslationPages = on;
  }
  /** The cached mapping table's counts since {@link startMappingCacheMeasurement} (null: the full table in RAM). */
  mappingCacheReport(): MappingCacheReport | null {
    return this.state.cmt?.report() ?? null;
  }
  /** Starts the cached mapping table's measured window. */
  startMappingCacheMeasurement(): void {
    this.state.cmt?.startMeasurement();
  }
  /**
   * Writes back a page the simulator's DRAM data cache held (cache/data-cache.ts): the same
   * program as write(), counted as a cache write-back (counters.cacheWriteBacks) instead of a host
   * page write, since the host's write was counted when the cache took it ({@link countCachedHostWrite}).
   */
  writeBack(lba: number, data?: Uint8Array): void {
    this.write(lba, data);
    const c = this.state.counterValues;
    c.hostPageWrites--;
    c.cacheWriteBacks++;
  }
  /** Throws SsdError POWER_LOSS while the FTL waits for recover() (a host command's first check). */
  assertPowered(): void {
    checkPower(this.state);
  }
  /** Counts a host page write the DRAM data cache took (it reaches flash later, by {@link writeBack}). */
  countCachedHostWrite(): void {
    checkPower(this.state);
    this.state.counterValues.hostPageWrites++;
  }
  /** Counts a host page read the DRAM data cache served. */
  countCachedHostRead(): void {
    checkPower(this.state);
    this.state.counterValues.hostPageReads++;
  }
  /**
   * Finishes host write `lba` whose kernel write(lba), called through {@link directKernel},
   * returned `code` < 0: what write() does after that call. Internal.
   */
  finishKernelWrite(lba: number, code: number): void {
    this.state.settleFill();
    finishKernelWrite(this.state, lba, code);
  }
  /**
   * Reads one logical page into `out` (pageSize bytes, optional). Unmapped or trimmed pages read
   * as zeros. Throws READ_FAILED when the ECC gives up or the page fails its CRC.
   */
  read(lba: number, out?: Uint8Array): FtlReadResult {
    this.state.settleFill();
    if (this.state.cmt !== null) this.mapped(lba, 1, false);
    return read(this.state, lba, out);
  }
  /**
   * TRIM (the seed's steps): for each mapped page in [lba, lba+count) unmap it in L2P, clear its
   * VPBM bit and decrement its block's VPC. To survive power loss a TRIM record (one page) is
   * programmed first in the host stream; recovery replays it by sequence number. Never runs GC.
   */
  trim(lba: number, count = 1): void {
    this.state.settleFill();
    const st = this.state;
    const cmt = st.cmt;
    if (cmt === null) {
      trim(st, lba, count);
      return;
    }
    checkPower(st);
    checkLba(st, lba, count);
    // The entries TRIM unmaps change like a GC move's: dirty when cached, else a batch update.
    const mapped: number[] = [];
    for (let x = lba; x < lba + count; x++) if (~st.l2p[x]! >= 0) mapped.push(x);
    trim(st, lba, count);
    for (const x of mapped) cmt.mappingChanged(x);
    this.afterMappingChanges();
  }
  /** Physical page of a logical page (−1 when unmapped). */
  physicalPage(lba: number): number {
    this.state.settleFill();
    return physicalPage(this.state, lba);
  }

  /** Picks a FULL unit of the pool per the policy, or −1. */
  selectVictim(pool: number): number {
    this.state.settleFill();
    return selectVictim(this.state, pool);
  }
  /**
   * Background GC (idle time): collects in every pool until it has `backgroundGcTarget` free
   * units or no victim frees space. Returns the number of units collected.
   */
  backgroundGc(maxUnits = Infinity): number {
    this.state.settleFill();
    const done = backgroundGc(this.state, maxUnits);
    this.afterMappingChanges();
    return done;
  }
  /** Runs one GC in a pool now (the victim per policy). Returns false when nothing can be gained. */
  collectOnce(pool = 0): boolean {
    this.state.settleFill();
    const done = collectOnce(this.state, pool);
    this.afterMappingChanges();
    return done;
  }
  /** Erase-count spread over good blocks. */
  eraseSpread(): { min: number; max: number } {
    return eraseSpread(this.state);
  }

  /**
   * Rebuilds L2P, VPC and VPBM from the spares after a power cut (or to mount a used device):
   * reboots the device, reads every page of every good block, keeps for each LBA the copy with
   * the highest sequence number whose CRC checks, then replays TRIM records newer than it.
   * Partly written blocks are closed (their erased tail is reclaimed by GC).
   */
  recover(): void {
    this.state.settleFill();
    recover(this.state);
  }

  /** Total free units over all pools. */
  freeUnits(): number {
    return freeUnits(this.state);
  }
  /** Per-block (and per-page) state for the dashboard. Costs O(total pages). */
  snapshot(): BlockMapSnapshot {
    this.state.settleFill();
    return snapshot(this.state);
  }
  /** Cross-checks the tables (L2P ↔ VPBM ↔ VPC) and throws on the first mismatch. O(pages); for tests. */
  checkConsistency(): void {
    this.state.settleFill();
    checkConsistency(this.state);
  }
}
