/**
 * The kernel replay: a trace replay through the transaction scheduler (replay.ts
 * replayTraceScheduled) run whole in the FTL's WebAssembly module (kernel/simulator/replay.ts with
 * kernel/scheduler.ts, kernel/planes.ts and kernel/ftl/mapping.ts replayRead / replayWrite), so
 * that a request costs no call out of WebAssembly and no JavaScript to compile. This file decides
 * whether the kernel covers a replay ({@link replayKernelBlocker}: the reason it does not, shown
 * in SsdSimulator.engine() and the report), lays the trace and the scheduler's tables out in the
 * device's table memory, hands the kernel the scheduler's, grouping's and histograms' state, and
 * takes it back: afterwards the simulator, the FTL, the device, the clock, the scheduler and the
 * grouping hold what the TypeScript replay leaves (test/replay-kernel-scheduled.test.ts).
 *
 * What it covers: MQSim's configuration (mqsim-default) and its neighbours — 'fifo' or
 * 'read-first' scheduling without suspension or preemptible GC; planes, with or without
 * multi-plane commands; partial-page transfers, read-modify-write, flash reads of unwritten LBAs,
 * open or closed loop, any queue depth; a static host allocation (cwdp, pcwd…) on the metadata
 * fast path with greedy GC and the VPBM; foreground GC (the planes of a die together with
 * multi-plane commands, copyback runs without), dynamic and static wear leveling; no data cache,
 * no cached mapping table, no background GC, no TRIM, no armed faults (time-series points are
 * taken as the TypeScript replay takes them: the kernel stops after the write that makes one due,
 * and goes on) — where a check made first ({@link gcBlocker}) proves that no pool can run out of
 * free blocks. Everything else takes the TypeScript replay, and says why. No upstream
 * counterpart: MQSim runs its replay in C++.
 */
import { allocateTables, float64Table, int32Table } from '@flashdiff/nand';
import type { MultiPlaneGrouping, NandClock, NandGeometry, SimulatedNand, TableBlock, TableMemory, TableSpecs } from '@flashdiff/nand';
import { SsdError, rethrowKernelAbort } from '../errors.ts';
import { BLOCK_BAD } from '../ftl/abi.ts';
import { impliedPage } from '../ftl/lazy-fill.ts';
import type { Ftl, FtlKernel } from '../ftl.ts';
import { LatencyHistogram } from '../metrics.ts';
import type { TransactionScheduler } from '../scheduler.ts';
// Transaction classes and operation kinds: the kernel's queues and chains are laid out as the TypeScript scheduler's.
import { CLASSES, KINDS } from '../scheduler/transactions.ts';
import { SECTOR_BYTES } from '../trace.ts';
import type { TraceRequest } from '../trace.ts';
import {
  CELL_SLOTS, D_PROGRESS, D_SNAPSHOT_EVERY, D_UNTIL_POINT, C_BASE, C_COUNTS, C_HOST_OPS, C_HOST_PAGE_READS, C_LATEST, C_MP_COMMANDS, C_MP_OPERATIONS, C_NOW, C_ORIGIN, C_PER_BYTE, C_RMW_READS, C_SEQUENCE,
  C_TBERS, C_TPROG, C_TR, C_UNMAPPED_READS, C_WRITE_MAX, DESCRIPTOR_SLOTS, D_ALLOCATION, D_CELLS, D_CHANNELS, D_CLOSED, D_DIES, D_DIES_PER_CHANNEL,
  D_DIE_FREE, D_DONE_TIMES, D_FINISH_REQUEST, D_FINISH_TIME, D_FLASH_READ_UNMAPPED, D_GROUP, D_GROUPING, D_HEADS, D_HEAP_DIE, D_HEAP_INDEX, D_HEAP_KEY,
  D_HISTOGRAMS, D_IN_ARRIVAL, D_IN_READ, D_IN_SECTOR, D_IN_SECTORS, D_LOG, D_OPERATION_CLASS, D_PAGES_PER_BLOCK, D_PAGE_SIZE, D_PARTIAL, D_PLANES, D_PLANE_SETS,
  D_PROGRAM_PAGE, D_PROGRAM_PLANE, D_QUEUE_DEPTH, D_READ_FIRST, D_READ_PAGE, D_READ_PLANE, D_REAL_BLOCKS_PER_DIE, D_RECORD_BYTES, D_REQUESTS,
  D_REQ_FLOATS, D_REQ_INTS, D_RMW, D_RUN_KIND, D_RUN_REQUEST, D_SAME_PAGE, D_SPARE_SIZE, D_TAILS, D_TX_CAPACITY, D_TX_FLOATS, D_TX_INTS, D_USER_PAGES,
  D_VIEW_BLOCKS_PER_DIE, HISTOGRAMS, HISTOGRAM_BUCKETS, H_INTERVAL, H_LATENCY, H_READ, H_TRIM, C_WEAR_CHECK, C_WEAR_MOVED, C_WEAR_RUNS, D_COLD_SLOT, D_GC_GROUP,
  D_GC_SCRATCH, D_P2L, D_PLANE_HEADS, D_PLANE_TAILS, D_STATIC_WEAR_LEVELING, D_UNITS, D_WEAR_THRESHOLD,
} from './replay-abi.ts';

/** replayScheduled's and replayResume's "a time-series point is due" (kernel/simulator/replay.ts POINT). */
const POINT = 2;
/** Fields of the kernel's records (kernel/scheduler/transactions.ts I_STRIDE, F_STRIDE, RI_STRIDE, RF_STRIDE). */
const TX_INT_FIELDS = 17;
const TX_FLOAT_FIELDS = 4;
const REQ_INT_FIELDS = 4;
const REQ_FLOAT_FIELDS = 2;

/** What the kernel replay reads from the simulator and hands back to it. */
export interface KernelReplayHost {
  readonly ftl: Ftl;
  readonly device: SimulatedNand;
  /** The device's geometry (its planes per die). */
  readonly geometry: NandGeometry;
  readonly scheduler: TransactionScheduler;
  readonly multiPlane: MultiPlaneGrouping | null;
  readonly queueDepth: number;
  readonly closedLoop: boolean;
  readonly flashReadUnmapped: boolean;
  readonly readModifyWrite: boolean;
  readonly partialPageTransfers: boolean;
  readonly latency: LatencyHistogram;
  readonly intervalLatency: LatencyHistogram;
  readonly readLatency: LatencyHistogram;
  readonly trimLatency: LatencyHistogram;
  /** The largest write latency so far (SsdSimulator.writeMax), and its setter. */
  readonly writeMax: number;
  setWriteMax(value: number): void;
  /** Time-series points: one every this many host page writes (0: none), and the writes until the next. */
  readonly snapshotEvery: number;
  writesUntilPoint(): number;
  /** Records a time-series point now (SsdSimulator.recordPoint: it reads and resets the interval histogram). */
  recordPoint(): void;
  /** SsdSimulator.requestLog: every request's kind and latency as it completes (null: not kept). */
  readonly requestLog: number[] | null;
  /** Adds what the kernel replay counted: requests issued, read-modify-write reads, unmapped flash reads. */
  addCounts(requests: number, readModifyWriteReads: number, unmappedFlashReads: number): void;
}

/** The host model's options that keep a replay out of the kernel (null: none does). */
export interface ReplayOptionsBlocking {
  readonly dataCache: boolean;
  readonly backgroundGc: boolean;
}

/**
 * Why `requests` cannot be replayed in the kernel (a sentence for engine() and the report), or
 * null when it can.
 */
export function replayKernelBlocker(host: KernelReplayHost, options: ReplayOptionsBlocking, requests: readonly TraceRequest[]): string | null {
  const ftl = host.ftl;
  const st = ftl.internalState;
  const kernel = st.moduleKernel;
  if (kernel === null) {
    return ftl.options.wasmKernel ? "the FTL's options or tables are outside the kernel (greedy GC, the VPBM, the metadata fast path, tables in the device's memory)" : 'wasmKernel false';
  }
  if (options.dataCache) return 'the data cache';
  if (ftl.mappingCacheReport() !== null) return 'the cached mapping table';
  if (options.backgroundGc) return 'background GC in idle gaps';
  const scheduler = host.scheduler.kernelState();
  if (!scheduler.kernelCovers) return 'program/erase suspension or preemptible GC';
  if (!scheduler.idle) return 'transactions still queued from before';
  if (!st.staticAllocation) return 'round-robin host allocation (the kernel replay takes a static scheme: cwdp, pcwd…)';
  if (!deviceReady(host.device, kernel)) return 'faults armed or the power off on the device';
  for (const r of requests) {
    if (r.isTrim === true) return 'TRIM requests in the trace';
    if (!Number.isSafeInteger((r.sector + r.sectors) * SECTOR_BYTES) || !(r.sectors >= 1)) return 'a request outside 2^53 bytes (the TypeScript replay reports it)';
  }
  return gcBlocker(ftl, requests);
}

/** Whether the device's kernel would take programs and reads now (paused or not): no faults armed, power on. */
function deviceReady(device: SimulatedNand, kernel: FtlKernel): boolean {
  const paused = device.kernelPaused;
  if (paused === undefined) return false;
  device.kernelPaused = false;
  try {
    return kernel.programsReady() === 1 && kernel.readsReady() === 1;
  } finally {
    device.kernelPaused = paused;
  }
}

/**
 * Foreground GC in the kernel (kernel/ftl/replay-gc.ts) meets only what it covers: data pages
 * (no TRIM record, translation page or P2L summary on flash), good blocks, no copyback GC, and a
 * pool never without a free block. The last is proven here: with gcThreshold T ≥ 2, every pool
 * starting with at least T − 1 free blocks and, after the replay's new valid pages (its LBAs not
 * yet mapped, or mapped in another pool, counted on the pool the static scheme gives them), more
 * than (T + 2) blocks of pages not valid, a pool collecting (fewer than T free, so at least one)
 * has, besides its free blocks and at most three open ones (host, GC, cold), a full block with
 * garbage — a victim that fits in a free block — and the static die always has room (no
 * round-robin fallback). A pool the replay never collects in (its page writes fit its open block and
 * its free blocks above the threshold, with room left) needs none of this. Null when so, else why not.
 */
function gcBlocker(ftl: Ftl, requests: readonly TraceRequest[]): string | null {
  const st = ftl.internalState;
  const threshold = st.gcThreshold;
  const g = st.geometry;
  const pageSize = g.pageSize;
  const user = ftl.userPages;
  const planes = st.planesPerDie;
  const ways = g.diesPerChannel / planes;
  const order = st.allocationOrder;
  const fresh = new Float64Array(st.dies);
  const writes = new Float64Array(st.dies);
  const seen = new Set<number>();
  const fill = st.impliedFill;
  for (const r of requests) {
    if (r.isRead) continue;
    const first = Math.floor((r.sector * SECTOR_BYTES) / pageSize);
    const last = Math.floor(((r.sector + r.sectors) * SECTOR_BYTES - 1) / pageSize);
    for (let p = first; p <= last; p++) {
      const lba = p % user;
      let rest = lba;
      let channel = 0;
      let way = 0;
      let plane = 0;
      for (let k = 0; k < 4; k++) {
        const letter = order.charCodeAt(k);
        if (letter === 99) {
          channel = rest % g.channels;
          rest = Math.floor(rest / g.channels);
        } else if (letter === 119) {
          way = rest % ways;
          rest = Math.floor(rest / ways);
        } else if (letter === 112) {
          plane = rest % planes;
          rest = Math.floor(rest / planes);
        }
      }
      const die = channel * g.diesPerChannel + way * planes + plane;
      writes[die]!++;
      if (seen.has(lba)) continue;
      seen.add(lba);
      let old = ~st.l2p[lba]!;
      // An entry a lazy fill still implies (0 in the table: src/ftl/lazy-fill.ts) is computed,
      // not written: the replay writes it when it first reads it.
      if (old < 0 && fill !== null && lba - fill.first >= 0 && lba - fill.first < fill.count) old = impliedPage(fill, st.pagesPerBlock, st.dataPages, lba - fill.first);
      if (old < 0 || st.dieOfBlock[Math.floor(old / st.pagesPerBlock)] !== die) fresh[die]!++;
    }
  }
  const reserve = (threshold + 2) * st.dataPages;
  let collects = false;
  for (let d = 0; d < st.dies; d++) {
    const w = writes[d]!;
    if (w === 0) continue;
    // A pool the replay never collects: its pages fit its open block and the free blocks above the threshold, with room left.
    const open = st.hostStream.slot[d]!;
    const room = open >= 0 ? st.dataPages - st.writePointer[open]! : 0;
    const blocks = w <= room ? 0 : Math.ceil((w - room) / st.dataPages);
    if (st.freeCount[d]! - blocks >= Math.max(1, threshold) && st.poolCapacity[d]! - st.poolValid[d]! - w >= st.dataPages) continue;
    // A pool that collects: never without a victim with garbage and a free block to move it into.
    collects = true;
    if (st.freeCount[d]! < threshold - 1 || st.poolCapacity[d]! - st.poolValid[d]! - fresh[d]! <= reserve) {
      return `the replay would fill die ${d} of the FTL (${w} page writes, ${fresh[d]} new valid pages, ${st.freeCount[d]} free blocks)`;
    }
  }
  if (!collects) return null;
  if (threshold < 2) return `GC with gcThreshold ${threshold} (the kernel replay's GC needs 2 or more)`;
  if (st.options.gcCopyback) return 'copyback GC';
  if (st.counterValues.metadataPagePrograms > 0) return 'GC with TRIM records on flash (a TRIM before this replay)';
  if (st.blockState.includes(BLOCK_BAD)) return 'GC with bad blocks';
  return null;
}

/** The tables of the last kernel replay on each device's table memory, and their lengths: reused by the next. */
const keptTables = new WeakMap<TableMemory, { readonly lengths: Record<string, number>; readonly block: TableBlock<TableSpecs> }>();

/**
 * The kernel replay's tables in `memory`: those of the replay before on the same memory where each
 * is long enough (the kernel reads no more than this replay's part of any; the ones it expects
 * filled are filled again), else new ones, kept for the next replay — so that replaying again in
 * one process does not grow the memory by ~310 bytes a trace page each time. Null when they do not fit.
 */
function replayTables<S extends TableSpecs>(spec: S, memory: TableMemory | null): TableBlock<S> | null {
  if (memory === null) return null;
  const kept = keptTables.get(memory);
  if (kept !== undefined && Object.keys(spec).every((name) => (kept.lengths[name] ?? -1) >= spec[name]!.length)) {
    const views = kept.block.views as Record<string, { fill(value: number): unknown }>;
    for (const name of Object.keys(spec)) if (spec[name]!.fill !== 0) views[name]!.fill(spec[name]!.fill);
    return kept.block as unknown as TableBlock<S>;
  }
  const block = allocateTables(spec, memory);
  if (!block.inMemory) return null;
  const lengths: Record<string, number> = {};
  for (const name of Object.keys(spec)) lengths[name] = spec[name]!.length;
  keptTables.set(memory, { lengths, block: block as unknown as TableBlock<TableSpecs> });
  return block;
}

/**
 * Runs the replay in the kernel (replayKernelBlocker said it can) and hands its state back; false,
 * with nothing done, when its tables (about 310 bytes a page of the trace) do not fit in the
 * device's table memory.
 */
export function replayInKernel(host: KernelReplayHost, requests: readonly TraceRequest[], onProgress?: (done: number, total: number) => void): boolean {
  const ftl = host.ftl;
  const st = ftl.internalState;
  const kernel = st.moduleKernel!;
  const device = host.device;
  const memory = device.metadataKernel?.memory ?? null;
  const clock = device.timing as NandClock;
  const g = host.geometry;
  const dies = g.channels * g.diesPerChannel;
  const planes = st.planesPerDie;
  const n = requests.length;
  const sc = host.scheduler;
  // Transactions: a read or a program per page, and a held record and an update read per partial write.
  let pages = 0;
  for (const r of requests) {
    pages += Math.floor(((r.sector + r.sectors) * SECTOR_BYTES - 1) / g.pageSize) - Math.floor((r.sector * SECTOR_BYTES) / g.pageSize) + 1;
  }
  // Records are reused once their transaction has run: room for every host transaction and a few
  // collections per pool in flight (a read and a program per page moved, an erase); the kernel
  // moves them to a larger table at the end of the memory if that is ever short.
  const gcGroup = host.multiPlane !== null && sc.multiPlane !== null ? planes : 1;
  // With multi-plane commands each die queue's transactions are chained by plane, kind and page
  // slot too (kernel/scheduler/die-queues.ts; pages in a block + 1 slots with one page address per command).
  const chainPlanes = host.multiPlane !== null && sc.multiPlane !== null ? planes : 0;
  const chainSlots = chainPlanes > 0 && sc.multiPlane!.samePage ? g.pagesPerBlock + 1 : 1;
  const chains = CLASSES * dies * chainPlanes * KINDS * chainSlots;
  const capacity = 3 * pages + 2 * (2 * g.pagesPerBlock + 1) * st.dies + 1;
  const histogramNumbers = HISTOGRAM_BUCKETS + 3;
  const tables = replayTables(
    {
      descriptor: int32Table(DESCRIPTOR_SLOTS),
      cells: float64Table(CELL_SLOTS),
      txInts: int32Table(capacity * TX_INT_FIELDS),
      txFloats: float64Table(capacity * TX_FLOAT_FIELDS),
      reqInts: int32Table(Math.max(1, n) * REQ_INT_FIELDS),
      reqFloats: float64Table(Math.max(1, n) * REQ_FLOAT_FIELDS),
      inArrival: float64Table(Math.max(1, n)),
      inSector: float64Table(Math.max(1, n)),
      inSectors: float64Table(Math.max(1, n)),
      inRead: int32Table(Math.max(1, n)),
      heads: int32Table(CLASSES * dies, -1),
      tails: int32Table(CLASSES * dies, -1),
      planeHeads: int32Table(chains, -1),
      planeTails: int32Table(chains, -1),
      dieFree: float64Table(dies),
      heapDie: int32Table(dies),
      heapKey: float64Table(dies),
      heapIndex: int32Table(dies, -1),
      runKind: int32Table(dies),
      runRequest: int32Table(dies),
      finishTime: float64Table(Math.max(1, n)),
      finishRequest: int32Table(Math.max(1, n)),
      doneTimes: float64Table(Math.max(1, host.queueDepth)),
      group: int32Table(Math.max(1, planes)),
      gcScratch: int32Table(gcGroup * (4 + g.pagesPerBlock)),
      histograms: float64Table(HISTOGRAMS * histogramNumbers + LatencyHistogram.OCTAVE_EDGES.length),
      log: float64Table(host.requestLog !== null ? 2 * n : 0),
    },
    memory,
  );
  if (tables === null) return false;
  const t = tables.views;
  const at = tables.offsets;
  // The trace.
  for (let r = 0; r < n; r++) {
    const q = requests[r]!;
    t.inArrival[r] = q.arrivalNs;
    t.inSector[r] = q.sector;
    t.inSectors[r] = q.sectors;
    t.inRead[r] = q.isRead ? 1 : 0;
  }
  // The scheduler's, grouping's and histograms' state.
  const s = host.scheduler.kernelState();
  t.dieFree.set(s.dieFree);
  t.runKind.set(s.runKind);
  t.runRequest.set(s.runRequest);
  const c = t.cells;
  c[C_BASE] = Math.max(clock.elapsed, clock.now);
  c[C_ORIGIN] = n > 0 ? requests[0]!.arrivalNs : 0;
  c[C_NOW] = s.now;
  c[C_LATEST] = s.latest;
  c[C_SEQUENCE] = s.sequence;
  c[C_TR] = s.tR;
  c[C_TPROG] = s.tPROG;
  c[C_TBERS] = s.tBERS;
  c[C_PER_BYTE] = s.transferPerByte;
  c[C_COUNTS] = sc.hostReadTransactions;
  c[C_COUNTS + 1] = sc.hostReadTurnaroundNs;
  c[C_COUNTS + 2] = sc.hostProgramTransactions;
  c[C_COUNTS + 3] = sc.hostProgramTurnaroundNs;
  const mp = host.multiPlane !== null && sc.multiPlane !== null ? host.multiPlane : null;
  c[C_MP_COMMANDS] = mp?.multiPlaneCommands ?? 0;
  c[C_MP_OPERATIONS] = mp?.multiPlaneOperations ?? 0;
  c[C_WRITE_MAX] = host.writeMax;
  const histograms = [host.latency, host.intervalLatency, host.readLatency, host.trimLatency];
  const slots = [H_LATENCY, H_INTERVAL, H_READ, H_TRIM];
  for (let k = 0; k < HISTOGRAMS; k++) histograms[k]!.saveTo(t.histograms, slots[k]! * histogramNumbers);
  t.histograms.set(LatencyHistogram.OCTAVE_EDGES, HISTOGRAMS * histogramNumbers);
  const d = t.descriptor;
  d[D_TX_INTS] = at.txInts;
  d[D_TX_FLOATS] = at.txFloats;
  d[D_TX_CAPACITY] = Math.floor(t.txInts.length / TX_INT_FIELDS);
  d[D_REQ_INTS] = at.reqInts;
  d[D_REQ_FLOATS] = at.reqFloats;
  d[D_IN_ARRIVAL] = at.inArrival;
  d[D_IN_SECTOR] = at.inSector;
  d[D_IN_SECTORS] = at.inSectors;
  d[D_IN_READ] = at.inRead;
  d[D_REQUESTS] = n;
  d[D_HEADS] = at.heads;
  d[D_TAILS] = at.tails;
  d[D_PLANE_HEADS] = at.planeHeads;
  d[D_PLANE_TAILS] = at.planeTails;
  d[D_DIE_FREE] = at.dieFree;
  d[D_HEAP_DIE] = at.heapDie;
  d[D_HEAP_KEY] = at.heapKey;
  d[D_HEAP_INDEX] = at.heapIndex;
  d[D_RUN_KIND] = at.runKind;
  d[D_RUN_REQUEST] = at.runRequest;
  d[D_FINISH_TIME] = at.finishTime;
  d[D_FINISH_REQUEST] = at.finishRequest;
  d[D_DONE_TIMES] = at.doneTimes;
  d[D_GROUP] = at.group;
  d[D_HISTOGRAMS] = at.histograms;
  d[D_CELLS] = at.cells;
  d[D_DIES] = dies;
  d[D_READ_FIRST] = s.readFirst ? 1 : 0;
  d[D_QUEUE_DEPTH] = host.queueDepth;
  d[D_CLOSED] = host.closedLoop ? 1 : 0;
  d[D_FLASH_READ_UNMAPPED] = host.flashReadUnmapped ? 1 : 0;
  d[D_PARTIAL] = host.partialPageTransfers ? 1 : 0;
  d[D_RMW] = host.readModifyWrite ? 1 : 0;
  d[D_USER_PAGES] = ftl.userPages;
  d[D_PAGE_SIZE] = g.pageSize;
  d[D_SPARE_SIZE] = g.spareSize;
  d[D_CHANNELS] = g.channels;
  d[D_DIES_PER_CHANNEL] = g.diesPerChannel;
  d[D_REAL_BLOCKS_PER_DIE] = g.blocksPerDie;
  d[D_VIEW_BLOCKS_PER_DIE] = st.blocksPerDie;
  d[D_PAGES_PER_BLOCK] = g.pagesPerBlock;
  d[D_PLANES] = planes;
  d[D_GROUPING] = mp !== null ? 1 : 0;
  d[D_PLANE_SETS] = mp?.planeSets ?? 1;
  d[D_SAME_PAGE] = mp?.samePage === true ? 1 : 0;
  d[D_READ_PLANE] = mp?.nextReadPlane ?? 0;
  d[D_PROGRAM_PLANE] = mp?.nextProgramPlane ?? 0;
  d[D_READ_PAGE] = mp?.readPageInBlock ?? -1;
  d[D_PROGRAM_PAGE] = mp?.programPageInBlock ?? -1;
  let letters = 0;
  for (let k = 0; k < 4; k++) letters |= (st.allocationOrder.charCodeAt(k) & 0xff) << (8 * k);
  d[D_ALLOCATION] = letters;
  d[D_RECORD_BYTES] = g.pageSize + g.spareSize;
  d[D_LOG] = host.requestLog !== null && n > 0 ? at.log : 0;
  d[D_GC_GROUP] = gcGroup;
  d[D_STATIC_WEAR_LEVELING] = st.options.staticWearLeveling ? 1 : 0;
  d[D_WEAR_THRESHOLD] = st.options.staticWearLevelingThreshold;
  d[D_UNITS] = st.unitCount;
  d[D_COLD_SLOT] = st.tableOffsets!['coldSlot']!;
  d[D_P2L] = st.derivedP2l ? 0 : st.tableOffsets!['p2l']!;
  d[D_GC_SCRATCH] = at.gcScratch;
  c[C_WEAR_CHECK] = st.erasesSinceWearCheck;
  const counters = st.counterValues;
  const wearRuns = counters.wearLevelingRuns;
  const wearMoved = counters.wearLevelingMovedPages;
  d[D_SNAPSHOT_EVERY] = host.snapshotEvery;
  d[D_UNTIL_POINT] = host.snapshotEvery > 0 ? host.writesUntilPoint() : 0;
  let status = POINT;
  try {
    status = kernel.replayScheduled(at.descriptor);
  } catch (e) {
    rethrowKernelAbort(`the kernel trace replay (${n} requests)`, e);
  }
  while (status === POINT) {
    // A time-series point is due (mid-request, as replay.ts takes it): the histograms as they are
    // now, the point (which resets the interval's), the interval's back; then on.
    for (let k = 0; k < HISTOGRAMS; k++) histograms[k]!.loadFrom(t.histograms, slots[k]! * histogramNumbers);
    host.setWriteMax(c[C_WRITE_MAX]!);
    counters.wearLevelingRuns = wearRuns + c[C_WEAR_RUNS]!;
    counters.wearLevelingMovedPages = wearMoved + c[C_WEAR_MOVED]!;
    host.recordPoint();
    host.intervalLatency.saveTo(t.histograms, H_INTERVAL * histogramNumbers);
    onProgress?.(d[D_PROGRESS]!, n);
    try {
      status = kernel.replayResume();
    } catch (e) {
      rethrowKernelAbort(`the kernel trace replay (${n} requests, resumed after request ${d[D_PROGRESS]!})`, e);
    }
  }
  // Back: the scheduler (its die arrays, scalars, counts), the grouping, the histograms, the counts.
  s.dieFree.set(t.dieFree);
  for (let die = 0; die < dies; die++) {
    s.runKind[die] = t.runKind[die]!;
    s.runRequest[die] = t.runRequest[die]!;
  }
  sc.adoptKernelState(c[C_NOW]!, c[C_LATEST]!, c[C_SEQUENCE]!, d[D_OPERATION_CLASS]!);
  sc.hostReadTransactions = c[C_COUNTS]!;
  sc.hostReadTurnaroundNs = c[C_COUNTS + 1]!;
  sc.hostProgramTransactions = c[C_COUNTS + 2]!;
  sc.hostProgramTurnaroundNs = c[C_COUNTS + 3]!;
  if (mp !== null) {
    mp.setPlanes(d[D_READ_PLANE]!, d[D_PROGRAM_PLANE]!);
    mp.readPageInBlock = d[D_READ_PAGE]!;
    mp.programPageInBlock = d[D_PROGRAM_PAGE]!;
    mp.multiPlaneCommands = c[C_MP_COMMANDS]!;
    mp.multiPlaneOperations = c[C_MP_OPERATIONS]!;
  }
  for (let k = 0; k < HISTOGRAMS; k++) histograms[k]!.loadFrom(t.histograms, slots[k]! * histogramNumbers);
  host.setWriteMax(c[C_WRITE_MAX]!);
  if (host.requestLog !== null) for (let i = 0; i < 2 * n; i++) host.requestLog.push(t.log[i]!);
  host.addCounts(c[C_HOST_OPS]!, c[C_RMW_READS]!, c[C_UNMAPPED_READS]!);
  st.counterValues.hostPageReads += c[C_HOST_PAGE_READS]!;
  counters.wearLevelingRuns = wearRuns + c[C_WEAR_RUNS]!;
  counters.wearLevelingMovedPages = wearMoved + c[C_WEAR_MOVED]!;
  st.erasesSinceWearCheck = c[C_WEAR_CHECK]!;
  // As the TypeScript replay leaves it: the clock hands its operations to no one.
  clock.sink = null;
  if (status !== 0) throw new SsdError('INVALID_CONFIG', 'internal: a full queue with nothing outstanding');
  return true;
}
