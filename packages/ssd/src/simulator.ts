import { NandClock, allocateTables, createNandDevice, float64Table, int32Table, validateGeometry } from '@flashdiff/nand';
import type { FaultOptions, NandGeometry, NandTimingParams, SimulatedNand } from '@flashdiff/nand';
import { resolveFtlOptions } from './config.ts';
import type { FtlOptions } from './config.ts';
import { SsdError } from './errors.ts';
import { BLOCK_BAD, Ftl } from './ftl.ts';
import type { BlockMapSnapshot, FtlCounters, FtlKernel } from './ftl.ts';
import { LatencyHistogram, eraseStats } from './metrics.ts';
import type { EraseStats } from './metrics.ts';
import { CLASS_READ, CLASS_WRITE, TRANSACTION_SCHEDULINGS, TransactionScheduler } from './scheduler.ts';
import type { SuspendOptions, TransactionScheduling } from './scheduler.ts';
import { SECTOR_BYTES } from './trace.ts';
import type { TraceRequest } from './trace.ts';
import { DEFAULT_WORKLOAD, OP_READ, OP_TRIM, OP_WRITE, Workload } from './workload.ts';
import type { WorkloadKind, WorkloadOptions } from './workload.ts';

/** Everything a simulation needs; only `geometry` is required. */
export interface SimulatorConfig {
  readonly geometry: NandGeometry;
  /** Name of the preset the geometry came from (echoed in reports). */
  readonly preset?: string;
  readonly ftl?: Partial<FtlOptions>;
  readonly workload?: Partial<WorkloadOptions>;
  /** Pages keep only their spare bytes (default true; false to carry real payloads). */
  readonly metadataOnly?: boolean;
  readonly faults?: FaultOptions;
  readonly timing?: Partial<NandTimingParams>;
  /**
   * Closed-loop host queue depth for synthetic workloads: operation i is issued when operation
   * i − queueDepth completed (default 32).
   */
  readonly queueDepth?: number;
  /** Time-series point every N measured host page writes (0: none). */
  readonly snapshotEvery?: number;
  /** Trace replay: a gap between arrivals longer than this (ns) runs background GC (0: never). */
  readonly backgroundGcIdleNs?: number;
  /**
   * Trace replay's host: 'open' (default) issues each request at its arrival time, or later when
   * all queueDepth submission-queue slots are taken; 'closed' ignores the arrival times and issues
   * each request as soon as a slot is free (the trace's order and addresses, as fast as the device
   * allows). Latency = completion − arrival (closed loop: the time it entered the queue).
   */
  readonly replayLoop?: ReplayLoop;
  /**
   * A host read of an LBA that was never written (or was trimmed): 'free' (default) completes at
   * once with zeros and charges the flash nothing; 'flash-read' charges a page read on the die
   * the LBA would have by channel-first striping (MQSim creates a mapping for such reads and
   * reads the flash). Stated in the report's config.
   */
  readonly unmappedReads?: UnmappedReads;
  /**
   * How trace replay times the flash operations: 'eager' (default) — nand's clock, each die in
   * issue order, computed as the FTL issues them; 'fifo' or 'read-first' — the controller's
   * transaction scheduler (scheduler.ts: per-die queues, host reads first with 'read-first', as
   * MQSim's default scheduler). The scheduler needs every operation in TypeScript: the device's and
   * the FTL's WebAssembly kernels are off for the whole simulator (synthetic runs keep the eager
   * clock, in TypeScript).
   */
  readonly transactionScheduling?: 'eager' | TransactionScheduling;
  /**
   * With a transaction scheduler: a host page transfer moves only the bytes of the page the
   * request touches (MQSim's behaviour), not the whole page and spare (default false).
   */
  readonly partialPageTransfers?: boolean;
  /**
   * Replay: a write covering part of a page that holds data — 'overwrite' (default) programs the
   * page as if whole; 'read-modify-write' first reads the old page (one flash read, counted in
   * nandPageReads and readModifyWriteReads). With a transaction scheduler the program waits for
   * that read (as MQSim's update read); with the eager clock both are issued together.
   */
  readonly partialPageWrites?: PartialPageWrites;
  /** With a transaction scheduler: host reads suspend programs and/or erases (scheduler.ts SuspendOptions; default none). */
  readonly suspend?: SuspendOptions;
}

export type PartialPageWrites = 'overwrite' | 'read-modify-write';

export type ReplayLoop = 'open' | 'closed';
export type UnmappedReads = 'free' | 'flash-read';

/** Latency summary of one kind of request (µs). */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
  max: number;
}

/** One point of the time series. */
export interface TimeSeriesPoint {
  hostPageWrites: number;
  nandPageWrites: number;
  /** WAF since the measurement started. */
  waf: number;
  /** WAF over the interval since the previous point. */
  intervalWaf: number;
  gcRuns: number;
  gcMovedPages: number;
  freeUnits: number;
  eraseMin: number;
  eraseMax: number;
  eraseMean: number;
  /** Simulated device time since the measurement started (ms). */
  simulatedMs: number;
  /** Host write bandwidth over the interval (MB/s of simulated time). */
  intervalHostWriteMBps: number;
  /** Latency percentiles of the host operations of the interval (µs). */
  intervalLatencyP50Us: number;
  intervalLatencyP99Us: number;
}

/** What `ssdsim --json` prints (and {@link SsdSimulator.report} returns). */
export interface SimulationReport {
  /** NAND page programs / host page writes over the measured window (preconditioning excluded). */
  waf: number;
  hostPageWrites: number;
  nandPageWrites: number;
  gcRuns: number;
  gcMovedPages: number;
  wearLevelingMovedPages: number;
  /** TRIM records and P2L summaries (counted in nandPageWrites). */
  metadataPagePrograms: number;
  hostPageReads: number;
  nandPageReads: number;
  erases: number;
  erase: EraseStats;
  precondition: { hostPageWrites: number; nandPageWrites: number; waf: number } | null;
  lifetime: { hostPageWrites: number; nandPageWrites: number; waf: number };
  throughput: { simulatedSeconds: number; hostWriteMBps: number; hostOpsPerSecond: number };
  latencyUs: { mean: number; p50: number; p99: number; p999: number; max: number };
  /** Host reads alone (replay: read requests; synthetic runs: page reads). */
  readLatencyUs: LatencySummary;
  /**
   * Host writes alone (replay: write requests; synthetic runs: page writes). In synthetic runs the
   * kernel loop records writes in the shared histogram only: the write histogram is it less the
   * reads' and TRIMs' buckets, and its max is the largest write where that is known (see report()).
   */
  writeLatencyUs: LatencySummary;
  /** Flash reads charged for reads of never-written LBAs (unmappedReads 'flash-read'). */
  unmappedFlashReads: number;
  /** Old pages read before partial-page writes (partialPageWrites 'read-modify-write'). */
  readModifyWriteReads: number;
  /** Host reads that suspended a program or erase (the scheduler's suspend option). */
  suspensions: number;
  counters: FtlCounters;
  timeSeries: TimeSeriesPoint[];
  config: Record<string, unknown>;
}

// simulate()'s reasons for returning (kernel/simulator-kernel.ts BATCH_*).
/** The batch's host writes all completed; nothing pending. */
const BATCH_LIMIT = 0;
/** A read was drawn (LBA in the batch cells), not issued. */
const BATCH_READ = 1;
/** A TRIM was drawn (LBA in the batch cells), not issued. */
const BATCH_TRIM = 2;
/** A write was issued and the FTL kernel handed it back (LBA, code, issue time in the cells). */
const BATCH_WRITE = 3;
// timeCells (f64) and batchCells (i32), as kernel/simulator-kernel.ts names them.
const LAST_ISSUE = 0;
const HOST_OPS = 1;
const PENDING_ISSUE = 2;
const QUEUE_SLOT = 0;
const BATCH_LBA = 1;
const FTL_CODE = 2;
const WRITES_DONE = 3;
/** The simulator kernel's workload kinds. */
const KERNEL_WORKLOAD_KIND: Readonly<Record<WorkloadKind, number>> = { seq: 0, uniform: 1, hotcold: 2 };
/** count, sum, max after each histogram's buckets (metrics.ts LatencyHistogramStorage). */
const HISTOGRAM_CELLS = 3;
/** The most host writes one simulate() call is given (its limit is an i32). */
const MAX_BATCH = 0x40000000;

/** What the kernel-driven run loop did (tests look at it). */
export interface KernelLoopStats {
  /** simulate() calls. */
  batches: number;
  /** Host writes the FTL kernel handed back, finished by the TypeScript FTL. */
  handedBackWrites: number;
  /** Reads and TRIMs drawn by the kernel and run by the TypeScript code. */
  handedBackOperations: number;
}

interface Baseline {
  host: number;
  nand: number;
  reads: number;
  hostReads: number;
  gcRuns: number;
  gcMoved: number;
  wlMoved: number;
  meta: number;
  erases: number;
  elapsed: number;
  hostOps: number;
}

/**
 * The stepping API: a NAND device (metadata-only by default) + the FTL + a workload, with the
 * timing model, latency percentiles and time series. The dashboard drives it one write at a
 * time and draws {@link snapshot}; the CLI runs whole workloads and traces.
 */
export class SsdSimulator {
  readonly device: SimulatedNand;
  readonly ftl: Ftl;
  readonly workload: Workload;
  readonly latency: LatencyHistogram;
  /** Host reads and TRIMs alone (every read and TRIM runs in TypeScript, also in kernel runs). */
  readonly readLatency = new LatencyHistogram();
  private readonly trimLatency = new LatencyHistogram();
  private readonly intervalLatency: LatencyHistogram;
  readonly replayLoop: ReplayLoop;
  readonly unmappedReads: UnmappedReads;
  private unmappedFlashReads = 0;
  private readModifyWriteReads = 0;
  readonly partialPageWrites: PartialPageWrites;
  /** The largest write latency of the replays since the measurement started. */
  private writeMax = 0;
  /** Whether every write since the measurement started came from replay (writeMax is then exact). */
  private writeMaxExact = true;
  readonly transactionScheduling: 'eager' | TransactionScheduling;
  /** The transaction scheduler replay runs the flash operations through (null: 'eager'). */
  private readonly scheduler: TransactionScheduler | null = null;
  readonly timeSeries: TimeSeriesPoint[] = [];
  readonly queueDepth: number;
  readonly snapshotEvery: number;
  readonly backgroundGcIdleNs: number;
  private readonly config: SimulatorConfig;
  /** Completion time of the last operation issued in each queue slot. */
  private readonly completions: Float64Array;
  /** f64 cells: lastIssue, hostOps, the issue time of a write the kernel handed back. */
  private readonly timeCells: Float64Array;
  /** i32 cells: queueSlot; the kernel's LBA drawn or handed back, FTL code, host writes done. */
  private readonly batchCells: Int32Array;
  /** The workload's generator state and sequential cursor while the kernel draws (Workload.saveState). */
  private readonly workloadCells: Int32Array;
  /**
   * The FTL's WebAssembly module with this simulator's tables bound (kernel/simulator-kernel.ts):
   * run() and precondition() run their per-operation loop there; null where the FTL has no kernel
   * (or these tables did not fit in its memory).
   */
  private readonly kernel: FtlKernel | null;
  /** What the kernel loop did (internal; tests). */
  readonly kernelLoop: KernelLoopStats = { batches: 0, handedBackWrites: 0, handedBackOperations: 0 };
  private baseline: Baseline;
  private previousPoint = { host: 0, nand: 0, elapsed: 0 };
  private preconditionResult: SimulationReport['precondition'] = null;
  /**
   * True while precondition() fills the device: no time-series points then (startMeasurement
   * discards them anyway, and one point costs a pass over every block, so points taken during a
   * fill made a preconditioned run quadratic in the device size).
   */
  private filling = false;

  constructor(config: SimulatorConfig) {
    validateGeometry(config.geometry);
    resolveFtlOptions(config.ftl);
    this.config = config;
    this.transactionScheduling = config.transactionScheduling ?? 'eager';
    if (this.transactionScheduling !== 'eager' && !TRANSACTION_SCHEDULINGS.includes(this.transactionScheduling)) {
      throw new SsdError('INVALID_CONFIG', `transactionScheduling must be eager, ${TRANSACTION_SCHEDULINGS.join(' or ')}, got '${String(this.transactionScheduling)}'`);
    }
    const scheduled = this.transactionScheduling !== 'eager';
    this.device = createNandDevice({
      geometry: config.geometry,
      metadataOnly: config.metadataOnly ?? true,
      ...(config.faults ? { faults: config.faults } : {}),
      ...(config.timing ? { timing: config.timing } : {}),
      ...(scheduled ? { wasmKernel: false } : {}),
    });
    if (scheduled) {
      const clock = this.device.timing;
      if (!(clock instanceof NandClock)) throw new SsdError('INVALID_CONFIG', 'transactionScheduling needs the NAND device\'s own clock');
      const g = config.geometry;
      const suspend = config.suspend ?? null;
      if (suspend !== null && !['program', 'erase', 'program-erase'].includes(suspend.operations)) {
        throw new SsdError('INVALID_CONFIG', `suspend.operations must be program, erase or program-erase, got '${String(suspend.operations)}'`);
      }
      this.scheduler = new TransactionScheduler(clock, clock.params, g.channels * g.diesPerChannel, this.transactionScheduling as TransactionScheduling, suspend);
    } else if (config.suspend !== undefined) {
      throw new SsdError('INVALID_CONFIG', "suspend needs transactionScheduling 'fifo' or 'read-first'");
    }
    this.ftl = new Ftl(this.device, config.ftl);
    this.workload = new Workload(this.ftl.userPages, config.workload);
    this.queueDepth = config.queueDepth ?? 32;
    if (!Number.isInteger(this.queueDepth) || this.queueDepth < 1) {
      throw new SsdError('INVALID_CONFIG', `queueDepth must be a positive integer, got ${this.queueDepth}`);
    }
    this.replayLoop = config.replayLoop ?? 'open';
    if (this.replayLoop !== 'open' && this.replayLoop !== 'closed') {
      throw new SsdError('INVALID_CONFIG', `replayLoop must be 'open' or 'closed', got '${String(this.replayLoop)}'`);
    }
    this.unmappedReads = config.unmappedReads ?? 'free';
    if (this.unmappedReads !== 'free' && this.unmappedReads !== 'flash-read') {
      throw new SsdError('INVALID_CONFIG', `unmappedReads must be 'free' or 'flash-read', got '${String(this.unmappedReads)}'`);
    }
    this.partialPageWrites = config.partialPageWrites ?? 'overwrite';
    if (this.partialPageWrites !== 'overwrite' && this.partialPageWrites !== 'read-modify-write') {
      throw new SsdError('INVALID_CONFIG', `partialPageWrites must be 'overwrite' or 'read-modify-write', got '${String(this.partialPageWrites)}'`);
    }
    this.snapshotEvery = config.snapshotEvery ?? 0;
    this.backgroundGcIdleNs = config.backgroundGcIdleNs ?? 1_000_000;
    // The tables the kernel loop steps too: in the FTL's table memory when its kernel runs (they
    // are allocated after the FTL, so the kernel gets their addresses from bindSimulator).
    const memory = this.ftl.wasmKernelActive ? (this.device.metadataKernel?.memory ?? null) : null;
    const buckets = LatencyHistogram.BUCKETS;
    const tables = allocateTables(
      {
        completions: float64Table(this.queueDepth),
        timeCells: float64Table(3),
        batchCells: int32Table(4),
        workloadCells: int32Table(5),
        // One block, so the kernel reaches all of it from one address (kernel/simulator-kernel.ts
        // HISTOGRAM_*): the latency histogram's buckets and cells, the interval histogram's, the edges.
        histograms: float64Table(2 * (buckets + HISTOGRAM_CELLS) + LatencyHistogram.OCTAVE_EDGES.length),
      },
      memory,
    );
    const t = tables.views;
    this.completions = t.completions;
    this.timeCells = t.timeCells;
    this.batchCells = t.batchCells;
    this.workloadCells = t.workloadCells;
    const h = t.histograms;
    const histogram = (at: number): LatencyHistogram =>
      new LatencyHistogram({ buckets: h.subarray(at, at + buckets), cells: h.subarray(at + buckets, at + buckets + HISTOGRAM_CELLS) });
    this.latency = histogram(0);
    this.intervalLatency = histogram(buckets + HISTOGRAM_CELLS);
    h.set(LatencyHistogram.OCTAVE_EDGES, 2 * (buckets + HISTOGRAM_CELLS));
    const kernel = tables.inMemory ? this.ftl.directKernel : null;
    if (kernel !== null) {
      const at = tables.offsets;
      const o = this.workload.options;
      kernel.bindSimulator(
        at.completions, this.queueDepth, at.timeCells, at.batchCells, at.workloadCells, at.histograms,
        KERNEL_WORKLOAD_KIND[o.kind], this.ftl.userPages, this.workload.hotPages, o.readRatio, o.trimRatio, o.hotAccessFraction,
      );
    }
    this.kernel = kernel;
    this.baseline = this.takeBaseline();
  }

  // The loop's scalars live in cells, where the kernel loop steps them too.
  private get lastIssue(): number {
    return this.timeCells[LAST_ISSUE]!;
  }
  private set lastIssue(t: number) {
    this.timeCells[LAST_ISSUE] = t;
  }
  private get hostOps(): number {
    return this.timeCells[HOST_OPS]!;
  }
  private set hostOps(n: number) {
    this.timeCells[HOST_OPS] = n;
  }
  /** Queue slot of the next operation: the operation index mod queueDepth, kept incrementally. */
  private get queueSlot(): number {
    return this.batchCells[QUEUE_SLOT]!;
  }
  private set queueSlot(slot: number) {
    this.batchCells[QUEUE_SLOT] = slot;
  }

  get userPages(): number {
    return this.ftl.userPages;
  }

  private takeBaseline(): Baseline {
    const c = this.ftl.counters;
    const s = this.device.stats;
    return {
      host: c.hostPageWrites,
      nand: s.pagePrograms,
      reads: s.pageReads,
      hostReads: c.hostPageReads,
      gcRuns: c.gcRuns,
      gcMoved: c.gcMovedPages,
      wlMoved: c.wearLevelingMovedPages,
      meta: c.metadataPagePrograms,
      erases: s.blockErases,
      elapsed: this.device.timing.elapsed,
      hostOps: this.hostOps,
    };
  }

  /** Starts the measured window: WAF, latencies and the time series count from here. */
  startMeasurement(): void {
    this.baseline = this.takeBaseline();
    this.previousPoint = { host: this.baseline.host, nand: this.baseline.nand, elapsed: this.baseline.elapsed };
    this.latency.reset();
    this.readLatency.reset();
    this.trimLatency.reset();
    this.unmappedFlashReads = 0;
    this.readModifyWriteReads = 0;
    if (this.scheduler !== null) this.scheduler.suspensions = 0;
    this.writeMax = 0;
    this.writeMaxExact = true;
    this.intervalLatency.reset();
    this.timeSeries.length = 0;
  }

  /**
   * Waits for the device to go idle: the next host operation is issued no earlier than the last
   * completion so far. For writes made straight to the FTL (untimed for the host, e.g. a
   * preconditioning fill), whose device work would otherwise delay the first measured operations.
   */
  waitForIdle(): void {
    const t = this.device.timing.elapsed;
    if (this.lastIssue < t) this.lastIssue = t;
  }

  // ------------------------------------------------------------------ timed host operations

  private issue(): number {
    const completed = this.completions[this.queueSlot]!;
    const t = this.lastIssue > completed ? this.lastIssue : completed;
    this.lastIssue = t;
    this.device.timing.issueAt(t);
    return t;
  }

  private complete(issuedAt: number, touched: boolean, kind: LatencyHistogram | null = null): void {
    const done = touched ? Math.max(issuedAt, this.device.timing.lastCompletion) : issuedAt;
    this.completions[this.queueSlot] = done;
    if (++this.queueSlot === this.queueDepth) this.queueSlot = 0;
    this.hostOps++;
    const latency = done - issuedAt;
    const bucket = this.latency.bucketOf(latency);
    this.latency.recordInBucket(bucket, latency);
    this.intervalLatency.recordInBucket(bucket, latency);
    if (kind !== null) kind.recordInBucket(bucket, latency);
  }

  /**
   * unmappedReads 'flash-read': charges a page read for a never-written LBA on the die channel-first
   * striping gives it (channel = lba mod channels, then the die within the channel), as MQSim's
   * CWDP static allocation would place it. Returns the completion time.
   */
  private chargeUnmappedRead(lba: number): number {
    const g = this.config.geometry;
    const channel = lba % g.channels;
    const die = channel * g.diesPerChannel + (Math.floor(lba / g.channels) % g.diesPerChannel);
    this.unmappedFlashReads++;
    return this.device.timing.read(die, channel, g.pageSize + g.spareSize);
  }

  /** One host page write (timed). */
  write(lba: number, data?: Uint8Array): void {
    const t = this.issue();
    this.ftl.write(lba, data);
    this.complete(t, true);
    this.writeMaxExact = false;
    this.afterWrite();
  }

  /** After each host write: a time-series point every snapshotEvery measured writes. */
  private afterWrite(): void {
    if (this.snapshotEvery > 0 && !this.filling && (this.ftl.counters.hostPageWrites - this.baseline.host) % this.snapshotEvery === 0) {
      this.recordPoint();
    }
  }

  /** One host page read (timed); trimmed / never-written pages read as zeros. */
  read(lba: number, out?: Uint8Array): void {
    const t = this.issue();
    let mapped = this.ftl.read(lba, out) === 'mapped';
    if (!mapped && this.unmappedReads === 'flash-read') {
      this.chargeUnmappedRead(lba);
      mapped = true;
    }
    this.complete(t, mapped, this.readLatency);
  }

  /** TRIM of [lba, lba + count) (timed). */
  trim(lba: number, count = 1): void {
    const t = this.issue();
    const before = this.device.stats.pagePrograms;
    this.ftl.trim(lba, count);
    this.complete(t, this.device.stats.pagePrograms !== before, this.trimLatency);
  }

  /** Applies the next `count` workload operations. */
  step(count = 1): void {
    const w = this.workload;
    for (let i = 0; i < count; i++) {
      const op = w.next();
      if (op === OP_WRITE) this.write(w.lba);
      else if (op === OP_READ) this.read(w.lba);
      else if (op === OP_TRIM) this.trim(w.lba, 1);
    }
  }

  /**
   * Fills the device once (every LBA written sequentially), then starts the measured window.
   * `onProgress(done, total)` is called every 65536 pages.
   */
  precondition(onProgress?: (done: number, total: number) => void): void {
    const before = this.takeBaseline();
    const n = this.ftl.userPages;
    this.filling = true;
    try {
      this.fill(n, onProgress);
    } finally {
      this.filling = false;
    }
    const host = this.ftl.counters.hostPageWrites - before.host;
    const nand = this.device.stats.pagePrograms - before.nand;
    this.preconditionResult = { hostPageWrites: host, nandPageWrites: nand, waf: host > 0 ? nand / host : 0 };
    this.startMeasurement();
  }

  /** precondition()'s loop: LBAs 0 … n − 1 written in order. */
  private fill(n: number, onProgress?: (done: number, total: number) => void): void {
    for (let lba = 0; lba < n; ) {
      const kernel = this.kernel !== null ? this.ftl.directKernel : null;
      if (kernel === null) {
        this.write(lba);
        if (onProgress && (lba & 0xffff) === 0xffff) onProgress(lba + 1, n);
        lba++;
        continue;
      }
      // A batch of writes in the kernel, up to the next point where the loop above does more
      // than write: a progress call (after LBA …ffff), a time-series point, the end.
      const limit = Math.min(n - lba, 0x10000 - (lba & 0xffff), this.writesToNextPoint());
      const status = this.runBatch(kernel, limit, lba);
      lba += this.batchCells[WRITES_DONE]!;
      if (status === BATCH_WRITE) {
        this.finishHandedBackWrite();
        lba++;
      }
      this.afterWrite();
      if (onProgress && ((lba - 1) & 0xffff) === 0xffff) onProgress(lba, n);
    }
  }

  /**
   * Runs the workload until `writes` host page writes were measured (reads and TRIMs interleave
   * per the workload's ratios). `onProgress(done, total)` every 65536 writes.
   */
  run(writes: number, onProgress?: (done: number, total: number) => void): SimulationReport {
    const o = this.workload.options;
    if (writes > 0 && o.readRatio + o.trimRatio >= 1) {
      throw new SsdError('INVALID_CONFIG', 'workload has no writes (readRatio + trimRatio = 1) but writes were requested');
    }
    const target = this.baseline.host + writes;
    let nextProgress = 0x10000;
    let host = this.ftl.counters.hostPageWrites;
    while (host < target) {
      const kernel = this.kernel !== null ? this.ftl.directKernel : null;
      if (kernel === null) {
        this.step(1);
      } else {
        // A batch of operations in the kernel, stopping after the host write where the loop does
        // more than step (a progress call, a time-series point, the end), or at an operation that
        // needs the TypeScript code.
        const toProgress = onProgress ? Math.max(1, nextProgress - (host - this.baseline.host)) : MAX_BATCH;
        const limit = Math.min(target - host, toProgress, this.writesToNextPoint(), MAX_BATCH);
        const status = this.runBatch(kernel, limit, -1);
        if (status === BATCH_LIMIT) {
          this.afterWrite();
        } else if (status === BATCH_WRITE) {
          this.finishHandedBackWrite();
          this.afterWrite();
        } else if (status === BATCH_READ) {
          this.kernelLoop.handedBackOperations++;
          this.read(this.batchCells[BATCH_LBA]!);
        } else if (status === BATCH_TRIM) {
          this.kernelLoop.handedBackOperations++;
          this.trim(this.batchCells[BATCH_LBA]!, 1);
        }
      }
      host = this.ftl.counters.hostPageWrites;
      const done = host - this.baseline.host;
      if (onProgress && done >= nextProgress) {
        onProgress(done, writes);
        nextProgress += 0x10000;
      }
    }
    return this.report();
  }

  /** Host writes until the next time-series point (MAX_BATCH when there are none). */
  private writesToNextPoint(): number {
    if (this.snapshotEvery <= 0 || this.filling) return MAX_BATCH;
    const done = this.ftl.counters.hostPageWrites - this.baseline.host;
    return this.snapshotEvery - (done % this.snapshotEvery);
  }

  /**
   * One simulate() call: up to `limit` (≥ 1) host writes in the kernel. fillFrom ≥ 0: LBAs
   * fillFrom, fillFrom + 1, … (precondition); else drawn from the workload, whose generator state
   * goes to the kernel and back. Returns why it stopped (BATCH_*).
   */
  private runBatch(kernel: FtlKernel, limit: number, fillFrom: number): number {
    const w = this.workload;
    const draws = fillFrom < 0;
    if (draws) {
      w.saveState(this.workloadCells);
      this.batchCells[BATCH_LBA] = w.lba;
    }
    this.writeMaxExact = false;
    const status = kernel.simulate(limit, fillFrom);
    if (draws) {
      w.restoreState(this.workloadCells);
      w.lba = this.batchCells[BATCH_LBA]!;
    }
    this.kernelLoop.batches++;
    return status;
  }

  /** A write the batch issued and the FTL kernel handed back: the TypeScript FTL finishes it, then it completes. */
  private finishHandedBackWrite(): void {
    this.kernelLoop.handedBackWrites++;
    this.ftl.finishKernelWrite(this.batchCells[BATCH_LBA]!, this.batchCells[FTL_CODE]!);
    this.complete(this.timeCells[PENDING_ISSUE]!, true);
  }

  /**
   * Replays block-trace requests through a host interface model (NVMe-style): a submission queue
   * of queueDepth slots; a request is issued at its arrival time (replayLoop 'open') or as soon as
   * the trace reaches it ('closed'), and no earlier than a slot is free — the earliest completion
   * among the queueDepth requests outstanding. Issued, its byte range is split into page
   * transactions, all issued at once (the dies and channels then run them in parallel); page
   * numbers map into the device modulo the user capacity. Request latency = completion of its last
   * page − arrival (closed loop: the time it entered the queue), recorded by kind (reads, writes,
   * TRIMs). A gap between issues longer than backgroundGcIdleNs runs background GC (up to the next
   * issue). Trace times are shifted to start at the device's current clock.
   */
  replay(requests: readonly TraceRequest[], onProgress?: (done: number, total: number) => void): SimulationReport {
    if (this.scheduler !== null) return this.replayScheduled(this.scheduler, requests, onProgress);
    const pageSize = this.config.geometry.pageSize;
    const user = this.ftl.userPages;
    const timing = this.device.timing;
    const origin = requests.length > 0 ? requests[0]!.arrivalNs : 0;
    const base = Math.max(timing.elapsed, timing.now);
    const closed = this.replayLoop === 'closed';
    const flashReadUnmapped = this.unmappedReads === 'flash-read';
    const rmw = this.partialPageWrites === 'read-modify-write';
    // The completion times of the outstanding requests: a binary min-heap of at most queueDepth.
    const depth = this.queueDepth;
    const outstanding = new Float64Array(depth);
    let queued = 0;
    let previousIssue = base;
    for (let r = 0; r < requests.length; r++) {
      const req = requests[r]!;
      // Beyond 2^53 bytes p++ stops advancing and the loops below never end (the trace parsers
      // reject such lines; this guards requests built by hand).
      if (!Number.isSafeInteger((req.sector + req.sectors) * SECTOR_BYTES) || !(req.sectors >= 1)) {
        throw new SsdError('TRACE_PARSE', `request of line ${req.line}: sector ${req.sector} + ${req.sectors} is not a range below 2^53 bytes`);
      }
      let arrival = closed ? previousIssue : base + Math.max(0, req.arrivalNs - origin);
      let issue = arrival;
      if (queued === depth) {
        // Every slot taken: wait for the earliest completion, then free its slot.
        const free = outstanding[0]!;
        if (free > issue) issue = free;
        if (closed) arrival = issue;
        queued = heapPop(outstanding, queued);
      }
      // Issue times never go backwards: arrivals are in trace order and a slot frees no earlier
      // than the previous one did (each completion comes after its own issue).
      if (issue < previousIssue) issue = previousIssue;
      if (this.backgroundGcIdleNs > 0 && issue - previousIssue > this.backgroundGcIdleNs) {
        timing.issueAt(previousIssue);
        for (let k = 0; k < 64 && timing.elapsed < issue; k++) {
          if (this.ftl.backgroundGc(1) === 0) break;
        }
      }
      previousIssue = issue;
      timing.issueAt(issue);
      const first = Math.floor((req.sector * SECTOR_BYTES) / pageSize);
      const last = Math.floor(((req.sector + req.sectors) * SECTOR_BYTES - 1) / pageSize);
      let done = issue;
      const firstByte = req.sector * SECTOR_BYTES;
      const endByte = (req.sector + req.sectors) * SECTOR_BYTES;
      // TRIM (blkparse discards, flashdiff traces): the range in pieces that do not wrap the device.
      for (let p = first; req.isTrim && p <= last; ) {
        const lba = p % user;
        const count = Math.min(last - p + 1, user - lba);
        const programs = this.device.stats.pagePrograms;
        this.ftl.trim(lba, count);
        if (this.device.stats.pagePrograms !== programs) done = Math.max(done, timing.lastCompletion);
        p += count;
      }
      for (let p = req.isTrim ? last + 1 : first; p <= last; p++) {
        const lba = p % user;
        if (req.isRead) {
          if (this.ftl.read(lba) === 'mapped') done = Math.max(done, timing.lastCompletion);
          else if (flashReadUnmapped) done = Math.max(done, this.chargeUnmappedRead(lba));
        } else {
          if (rmw && (p * pageSize < firstByte || (p + 1) * pageSize > endByte)) {
            const old = this.ftl.physicalPage(lba);
            if (old >= 0) {
              this.device.readPage(old);
              this.readModifyWriteReads++;
              done = Math.max(done, timing.lastCompletion);
            }
          }
          this.ftl.write(lba);
          done = Math.max(done, timing.lastCompletion);
          if (this.snapshotEvery > 0 && (this.ftl.counters.hostPageWrites - this.baseline.host) % this.snapshotEvery === 0) {
            this.recordPoint();
          }
        }
      }
      queued = heapPush(outstanding, queued, done);
      this.hostOps++;
      const latency = done - arrival;
      const bucket = this.latency.bucketOf(latency);
      this.latency.recordInBucket(bucket, latency);
      this.intervalLatency.recordInBucket(bucket, latency);
      if (req.isTrim) this.trimLatency.recordInBucket(bucket, latency);
      else if (req.isRead) this.readLatency.recordInBucket(bucket, latency);
      else if (latency > this.writeMax) this.writeMax = latency;
      if (onProgress && (r & 0xfff) === 0xfff) onProgress(r + 1, requests.length);
    }
    return this.report();
  }

  /**
   * {@link replay} through the transaction scheduler: the same host model (queue slots, open or
   * closed loop, page transactions, the latencies by kind), with each request's operations queued
   * on their dies and a request complete when its last transaction is.
   */
  private replayScheduled(scheduler: TransactionScheduler, requests: readonly TraceRequest[], onProgress?: (done: number, total: number) => void): SimulationReport {
    const pageSize = this.config.geometry.pageSize;
    const user = this.ftl.userPages;
    const clock = this.device.timing as NandClock;
    const origin = requests.length > 0 ? requests[0]!.arrivalNs : 0;
    const base = Math.max(clock.elapsed, clock.now);
    const closed = this.replayLoop === 'closed';
    const flashReadUnmapped = this.unmappedReads === 'flash-read';
    const depth = this.queueDepth;
    const partial = this.config.partialPageTransfers === true;
    const rmw = this.partialPageWrites === 'read-modify-write';
    // Completion times of requests done but still holding their slot (freed once the host looks).
    const doneTimes = new Float64Array(depth);
    let doneCount = 0;
    let inFlight = 0;
    const arrivals = new Float64Array(requests.length);
    const kinds = new Uint8Array(requests.length); // 0 write, 1 read, 2 TRIM
    scheduler.onComplete = (r, completion) => {
      doneCount = heapPush(doneTimes, doneCount, completion);
      const latency = completion - arrivals[r]!;
      const bucket = this.latency.bucketOf(latency);
      this.latency.recordInBucket(bucket, latency);
      this.intervalLatency.recordInBucket(bucket, latency);
      if (kinds[r] === 1) this.readLatency.recordInBucket(bucket, latency);
      else if (kinds[r] === 2) this.trimLatency.recordInBucket(bucket, latency);
      else if (latency > this.writeMax) this.writeMax = latency;
    };
    let previousIssue = base;
    scheduler.advance(base);
    clock.sink = scheduler;
    try {
      for (let r = 0; r < requests.length; r++) {
        const req = requests[r]!;
        if (!Number.isSafeInteger((req.sector + req.sectors) * SECTOR_BYTES) || !(req.sectors >= 1)) {
          throw new SsdError('TRACE_PARSE', `request of line ${req.line}: sector ${req.sector} + ${req.sectors} is not a range below 2^53 bytes`);
        }
        let arrival = closed ? previousIssue : base + Math.max(0, req.arrivalNs - origin);
        let issue = arrival > previousIssue ? arrival : previousIssue;
        if (this.backgroundGcIdleNs > 0 && issue - previousIssue > this.backgroundGcIdleNs) {
          // An idle gap: GC units queued at its start, while their work ends before the next issue.
          scheduler.operationClass = CLASS_WRITE;
          for (let k = 0; k < 64; k++) {
            if (this.ftl.backgroundGc(1) === 0) break;
            while (scheduler.nextEvent() < issue) scheduler.step();
            if (clock.elapsed >= issue) break;
          }
        }
        scheduler.advance(issue);
        while (doneCount > 0 && doneTimes[0]! <= issue) {
          doneCount = heapPop(doneTimes, doneCount);
          inFlight--;
        }
        if (inFlight === depth) {
          // Every slot taken: run the dies until the earliest completion is known, then take its slot.
          // Completions come in time order: the first one reported is the earliest.
          while (doneCount === 0) {
            if (scheduler.nextEvent() === Infinity) throw new SsdError('INVALID_CONFIG', 'internal: a full queue with nothing outstanding');
            scheduler.step();
          }
          const free = doneTimes[0]!;
          doneCount = heapPop(doneTimes, doneCount);
          inFlight--;
          if (free > issue) issue = free;
          if (closed) arrival = issue;
          scheduler.advance(issue);
        }
        previousIssue = issue;
        clock.issueAt(issue);
        arrivals[r] = arrival;
        kinds[r] = req.isTrim ? 2 : req.isRead ? 1 : 0;
        inFlight++;
        scheduler.open(r);
        scheduler.operationClass = req.isRead ? CLASS_READ : CLASS_WRITE;
        const first = Math.floor((req.sector * SECTOR_BYTES) / pageSize);
        const last = Math.floor(((req.sector + req.sectors) * SECTOR_BYTES - 1) / pageSize);
        for (let p = first; req.isTrim && p <= last; ) {
          const lba = p % user;
          const count = Math.min(last - p + 1, user - lba);
          this.ftl.trim(lba, count);
          p += count;
        }
        const firstByte = req.sector * SECTOR_BYTES;
        const endByte = (req.sector + req.sectors) * SECTOR_BYTES;
        for (let p = req.isTrim ? last + 1 : first; p <= last; p++) {
          const lba = p % user;
          // The bytes of this page the request touches: what its transfer moves.
          const touched = Math.min(endByte, (p + 1) * pageSize) - Math.max(firstByte, p * pageSize);
          if (partial) scheduler.transferBytes = touched;
          if (req.isRead) {
            if (this.ftl.read(lba) === 'unmapped' && flashReadUnmapped) this.chargeUnmappedRead(lba);
          } else {
            const old = rmw && touched < pageSize ? this.ftl.physicalPage(lba) : -1;
            if (old >= 0) {
              // The update read (the sectors the write leaves), then the program held until it is done.
              scheduler.operationClass = CLASS_READ;
              if (partial) scheduler.transferBytes = pageSize - touched;
              scheduler.lastTransaction = null;
              this.device.readPage(old);
              this.readModifyWriteReads++;
              scheduler.holdAfter = scheduler.lastTransaction;
              scheduler.operationClass = CLASS_WRITE;
              if (partial) scheduler.transferBytes = touched;
            }
            this.ftl.write(lba);
            scheduler.holdAfter = null;
            if (this.snapshotEvery > 0 && (this.ftl.counters.hostPageWrites - this.baseline.host) % this.snapshotEvery === 0) {
              this.recordPoint();
            }
          }
        }
        scheduler.transferBytes = 0;
        scheduler.seal(r);
        this.hostOps++;
        if (onProgress && (r & 0xfff) === 0xfff) onProgress(r + 1, requests.length);
      }
      scheduler.drain();
    } finally {
      clock.sink = null;
    }
    return this.report();
  }

  /**
   * The writes' latencies: every host operation is recorded in `latency` (the kernel loop records
   * its writes there alone), reads and TRIMs also in their own histograms, so the writes' buckets,
   * count and sum are the difference. The largest write is exact when every write since the
   * measurement started came from replay (recorded there by kind) or when it is the largest latency
   * of all; otherwise it is the top of the highest write bucket (within 9 %), capped at that — the
   * same rule whether run() took the kernel loop or the TypeScript one.
   */
  writeLatency(): LatencyHistogram {
    const all = this.latency.bucketCounts();
    const reads = this.readLatency.bucketCounts();
    const trims = this.trimLatency.bucketCounts();
    let top = -1;
    for (let i = 0; i < all.length; i++) {
      all[i] = all[i]! - reads[i]! - trims[i]!;
      if (all[i]! > 0) top = i;
    }
    const count = this.latency.count - this.readLatency.count - this.trimLatency.count;
    const sum = this.latency.sum - this.readLatency.sum - this.trimLatency.sum;
    const allMax = this.latency.max;
    const max = top < 0 ? 0 : this.writeMaxExact ? this.writeMax : allMax > this.readLatency.max && allMax > this.trimLatency.max ? allMax : Math.max(this.writeMax, Math.min(allMax, 2 ** ((top + 1) / 8)));
    return new LatencyHistogram({ buckets: all, cells: Float64Array.of(count, sum, max) });
  }

  // ------------------------------------------------------------------ metrics

  private recordPoint(): void {
    const c = this.ftl.counters;
    const host = c.hostPageWrites;
    const nand = this.device.stats.pagePrograms;
    const e = eraseStats(this.eraseCounts(), (blk) => this.ftl.blockState[blk] === BLOCK_BAD, 1);
    const dHost = host - this.previousPoint.host;
    const dNand = nand - this.previousPoint.nand;
    const wHost = host - this.baseline.host;
    const elapsed = this.device.timing.elapsed;
    this.timeSeries.push({
      hostPageWrites: wHost,
      nandPageWrites: nand - this.baseline.nand,
      waf: wHost > 0 ? (nand - this.baseline.nand) / wHost : 0,
      intervalWaf: dHost > 0 ? dNand / dHost : 0,
      gcRuns: c.gcRuns - this.baseline.gcRuns,
      gcMovedPages: c.gcMovedPages - this.baseline.gcMoved,
      freeUnits: this.ftl.freeUnits(),
      eraseMin: e.min,
      eraseMax: e.max,
      eraseMean: e.mean,
      simulatedMs: (elapsed - this.baseline.elapsed) / 1e6,
      intervalHostWriteMBps: elapsed > this.previousPoint.elapsed ? (dHost * this.config.geometry.pageSize) / 1e6 / ((elapsed - this.previousPoint.elapsed) / 1e9) : 0,
      intervalLatencyP50Us: this.intervalLatency.quantile(0.5) / 1000,
      intervalLatencyP99Us: this.intervalLatency.quantile(0.99) / 1000,
    });
    this.previousPoint = { host, nand, elapsed };
    this.intervalLatency.reset();
  }

  /** Erase count of every block (from the device). */
  eraseCounts(): Uint32Array {
    const out = new Uint32Array(this.ftl.totalBlocks);
    for (let b = 0; b < out.length; b++) out[b] = this.device.eraseCount(b);
    return out;
  }

  /** The block map for drawing (see {@link Ftl.snapshot}). */
  snapshot(): BlockMapSnapshot {
    return this.ftl.snapshot();
  }

  /** The resolved configuration, as echoed in reports. */
  describeConfig(): Record<string, unknown> {
    const g = this.config.geometry;
    const blocks = g.channels * g.diesPerChannel * g.blocksPerDie;
    return {
      preset: this.config.preset ?? null,
      geometry: { ...g },
      totalBlocks: blocks,
      physicalPages: blocks * g.pagesPerBlock,
      userPages: this.ftl.userPages,
      overProvisioningDefinition: '(physical - user) / user',
      ftl: { ...this.ftl.options },
      workload: { ...DEFAULT_WORKLOAD, ...this.workload.options },
      metadataOnly: this.device.metadataOnly,
      queueDepth: this.queueDepth,
      backgroundGcIdleNs: this.backgroundGcIdleNs,
      replayLoop: this.replayLoop,
      unmappedReads: this.unmappedReads,
      transactionScheduling: this.transactionScheduling,
      partialPageTransfers: this.config.partialPageTransfers === true,
      partialPageWrites: this.partialPageWrites,
      suspend: this.config.suspend ?? null,
      timing: { ...this.device.timing.params },
    };
  }

  report(extraConfig: Record<string, unknown> = {}): SimulationReport {
    const c = this.ftl.counters;
    const s = this.device.stats;
    const b = this.baseline;
    const host = c.hostPageWrites - b.host;
    const nand = s.pagePrograms - b.nand;
    const seconds = (this.device.timing.elapsed - b.elapsed) / 1e9;
    const l = this.latency;
    if (this.snapshotEvery > 0 && (this.timeSeries.length === 0 || this.timeSeries.at(-1)!.hostPageWrites !== host)) {
      this.recordPoint();
    }
    return {
      waf: host > 0 ? nand / host : 0,
      hostPageWrites: host,
      nandPageWrites: nand,
      gcRuns: c.gcRuns - b.gcRuns,
      gcMovedPages: c.gcMovedPages - b.gcMoved,
      wearLevelingMovedPages: c.wearLevelingMovedPages - b.wlMoved,
      metadataPagePrograms: c.metadataPagePrograms - b.meta,
      hostPageReads: c.hostPageReads - b.hostReads,
      nandPageReads: s.pageReads - b.reads,
      erases: s.blockErases - b.erases,
      erase: eraseStats(this.eraseCounts(), (blk) => this.device.isBad(blk)),
      precondition: this.preconditionResult,
      lifetime: { hostPageWrites: c.hostPageWrites, nandPageWrites: s.pagePrograms, waf: c.hostPageWrites > 0 ? s.pagePrograms / c.hostPageWrites : 0 },
      throughput: {
        simulatedSeconds: seconds,
        hostWriteMBps: seconds > 0 ? (host * this.config.geometry.pageSize) / 1e6 / seconds : 0,
        hostOpsPerSecond: seconds > 0 ? (this.hostOps - b.hostOps) / seconds : 0,
      },
      latencyUs: {
        mean: l.count > 0 ? l.sum / l.count / 1000 : 0,
        p50: l.quantile(0.5) / 1000,
        p99: l.quantile(0.99) / 1000,
        p999: l.quantile(0.999) / 1000,
        max: l.max / 1000,
      },
      readLatencyUs: summarize(this.readLatency),
      writeLatencyUs: summarize(this.writeLatency()),
      unmappedFlashReads: this.unmappedFlashReads,
      readModifyWriteReads: this.readModifyWriteReads,
      suspensions: this.scheduler?.suspensions ?? 0,
      counters: { ...c },
      timeSeries: this.timeSeries.slice(),
      config: { ...this.describeConfig(), ...extraConfig },
    };
  }
}

/** Mean and percentiles of a histogram, in µs. */
function summarize(h: LatencyHistogram): LatencySummary {
  return {
    count: h.count,
    mean: h.count > 0 ? h.sum / h.count / 1000 : 0,
    p50: h.quantile(0.5) / 1000,
    p90: h.quantile(0.9) / 1000,
    p99: h.quantile(0.99) / 1000,
    p999: h.quantile(0.999) / 1000,
    p9999: h.quantile(0.9999) / 1000,
    max: h.max / 1000,
  };
}

/** Pushes `value` on a binary min-heap of `size` items in `heap`; returns the new size. */
function heapPush(heap: Float64Array, size: number, value: number): number {
  let i = size;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! <= value) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = value;
  return size + 1;
}

/** Removes the smallest item (heap[0]) of a binary min-heap of `size` items; returns the new size. */
function heapPop(heap: Float64Array, size: number): number {
  const last = heap[--size]!;
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1]! < heap[child]!) child++;
    if (heap[child]! >= last) break;
    heap[i] = heap[child]!;
    i = child;
  }
  if (size > 0) heap[i] = last;
  return size;
}
