/**
 * The SSD simulator's stepping API ({@link SsdSimulator}): a NAND device + the FTL + a workload,
 * driven one timed host operation at a time or by run() (the synthetic workload, closed loop:
 * operation i is issued when operation i − queueDepth completed), precondition() (a sequential
 * fill) and replay() (block traces). This file owns the timed host operations, the closed-loop
 * queue slots and the run loop; the rest lives beside it in simulator/: config.ts (the options and
 * their checks), replay.ts (trace replay through the host interface: submission queue, open and
 * closed loop, the transaction scheduler), kernel-batch.ts (the run loop's batches in the FTL's
 * WebAssembly kernel), device-setup.ts (the device, multi-plane grouping and transaction scheduler
 * built from the config), cached-io.ts (the DRAM data cache between the host operations and the
 * FTL) and report.ts (the report and time series). Upstream counterpart: MQSim's
 * SSD_Device with its Host_Interface and IO_Flow_Synthetic (the closed-loop, queue-depth-limited
 * synthetic flow).
 */
import { planesPerDie, validateGeometry } from '@flashdiff/nand';
import type { MultiPlaneGrouping, SimulatedNand } from '@flashdiff/nand';
import { resolveFtlOptions } from './config.ts';
import { SsdError } from './errors.ts';
import { Ftl } from './ftl.ts';
import type { BlockMapSnapshot, FtlKernel } from './ftl.ts';
import { LatencyHistogram } from './metrics.ts';
import { PlaneView } from './planes.ts';
import type { TransactionScheduler, TransactionScheduling } from './scheduler.ts';
import type { TraceRequest } from './trace.ts';
import { OP_READ, OP_TRIM, OP_WRITE, Workload } from './workload.ts';
import { resolveHostOptions, resolveTransactionScheduling } from './simulator/config.ts';
import type { PartialPageWrites, ReplayLoop, SimulatorConfig, UnmappedReads } from './simulator/config.ts';
import {
  BATCH_LBA, BATCH_LIMIT, BATCH_READ, BATCH_TRIM, BATCH_WRITE, FTL_CODE, HOST_OPS, LAST_ISSUE, MAX_BATCH, PENDING_ISSUE, QUEUE_SLOT, WRITES_DONE,
  allocateLoopTables, simulateBatch,
} from './simulator/kernel-batch.ts';
import type { KernelLoopStats, LoopTables } from './simulator/kernel-batch.ts';
import { REQUEST_READ, REQUEST_TRIM, replayTrace, replayTraceScheduled } from './simulator/replay.ts';
import type { ReplayHost } from './simulator/replay.ts';
import { DataCache, resolveDataCacheOptions } from './cache/data-cache.ts';
import { CachedHostIo } from './simulator/cached-io.ts';
import { createSimulatorDevice, withKernelPaused } from './simulator/device-setup.ts';
import { replayInKernel, replayKernelBlocker } from './simulator/replay-kernel.ts';
import type { KernelReplayHost } from './simulator/replay-kernel.ts';
import { describeSimulator, deviceEraseStats, pointErase, simulationReport, timeSeriesPoint, writeLatencyOf } from './simulator/report.ts';
import type { Baseline, EraseCells, PointErase, PointMark, SimulationReport, TimeSeriesPoint } from './simulator/report.ts';

export type { PartialPageWrites, ReplayLoop, SimulatorConfig, UnmappedReads } from './simulator/config.ts';
export type { KernelLoopStats } from './simulator/kernel-batch.ts';
export type { LatencySummary, SimulationReport, TimeSeriesPoint } from './simulator/report.ts';

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
  private readonly scheduler: TransactionScheduler | null;
  /** Multi-plane command grouping (config.multiPlane with planes), or null. */
  readonly multiPlane: MultiPlaneGrouping | null;
  readonly timeSeries: TimeSeriesPoint[] = [];
  readonly queueDepth: number;
  readonly snapshotEvery: number;
  readonly backgroundGcIdleNs: number;
  /**
   * The DRAM write-back data cache (cache/data-cache.ts), or null (SimulatorConfig.dataCache
   * absent, the default). With a cache the run loop stays in TypeScript (the kernel loop has no
   * cache): see {@link kernelLoopActive}.
   */
  readonly dataCache: DataCache | null;
  /** The data cache between the host operations (and replay) and the FTL (simulator/cached-io.ts), or null. */
  private readonly cachedIo: CachedHostIo | null;
  private readonly config: SimulatorConfig;
  /** The run loop's tables (kernel-batch.ts), shared with the kernel when it runs. */
  private readonly tables: LoopTables;
  /** Completion time of the last operation issued in each queue slot. */
  private readonly completions: Float64Array;
  /** f64 cells: lastIssue, hostOps, the issue time of a write the kernel handed back. */
  private readonly timeCells: Float64Array;
  /** i32 cells: queueSlot; the kernel's LBA drawn or handed back, FTL code, host writes done. */
  private readonly batchCells: Int32Array;
  /**
   * The FTL's WebAssembly module with this simulator's tables bound (kernel/simulator-kernel.ts):
   * run() and precondition() run their per-operation loop there; null where the FTL has no kernel
   * (or these tables did not fit in its memory).
   */
  private readonly kernel: FtlKernel | null;
  /** What the kernel loop did (internal; tests). */
  readonly kernelLoop: KernelLoopStats = { batches: 0, handedBackWrites: 0, handedBackOperations: 0 };
  private baseline: Baseline;
  private previousPoint: PointMark = { host: 0, nand: 0, elapsed: 0 };
  private preconditionResult: SimulationReport['precondition'] = null;
  /** Holds the table report() has the FTL's module tally erase counts into (report.ts deviceEraseStats; null: none). */
  private readonly eraseTally: { eraseCells?: EraseCells } = {};
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
    this.transactionScheduling = resolveTransactionScheduling(config);
    const planes = planesPerDie(config.geometry);
    ({ device: this.device, multiPlane: this.multiPlane, scheduler: this.scheduler } = createSimulatorDevice(config, this.transactionScheduling));
    this.dataCache = config.dataCache !== undefined ? new DataCache(resolveDataCacheOptions(config.dataCache, config.geometry.pageSize)) : null;
    this.ftl = new Ftl(planes > 1 ? new PlaneView(this.device, this.multiPlane) : this.device, config.ftl);
    this.workload = new Workload(this.ftl.userPages, config.workload);
    const host = resolveHostOptions(config);
    this.queueDepth = host.queueDepth;
    this.replayLoop = host.replayLoop;
    this.unmappedReads = host.unmappedReads;
    // A device taken as holding data from before has its translation pages on flash too.
    this.ftl.presumeTranslationPages = host.unmappedReads === 'flash-read';
    this.partialPageWrites = host.partialPageWrites;
    this.snapshotEvery = host.snapshotEvery;
    this.backgroundGcIdleNs = host.backgroundGcIdleNs;
    this.cachedIo = this.dataCache === null ? null : new CachedHostIo(this.dataCache, {
      ftl: this.ftl,
      device: this.device,
      pageSize: config.geometry.pageSize,
      scheduled: this.scheduler !== null,
      unmappedFlashRead: host.unmappedReads === 'flash-read',
      chargeUnmappedRead: (lba) => this.chargeUnmappedRead(lba),
    });
    const tables = allocateLoopTables(this.ftl, this.device, this.workload, this.queueDepth);
    this.tables = tables;
    this.completions = tables.completions;
    this.timeCells = tables.timeCells;
    this.batchCells = tables.batchCells;
    this.latency = tables.latency;
    this.intervalLatency = tables.intervalLatency;
    // The kernel loop writes straight to the FTL: with a data cache every operation goes through
    // the TypeScript loop (the FTL's own kernel still runs the writes that reach it).
    this.kernel = this.dataCache !== null ? null : tables.kernel;
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
    if (this.scheduler !== null) this.scheduler.resetCounts();
    this.dataCache?.startMeasurement();
    this.ftl.startMappingCacheMeasurement();
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
    this.completeAt(issuedAt, touched ? Math.max(issuedAt, this.device.timing.lastCompletion) : issuedAt, kind);
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
    if (this.dataCache !== null) {
      this.cachedWrite(lba, data);
      return;
    }
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
    // A cache hit (or, with readAllocate, a miss read into the cache) completes there.
    const cached = this.cachedIo !== null ? this.cachedIo.hostRead(lba, t, out) : -1;
    if (cached >= 0) {
      this.completeAt(t, cached, this.readLatency);
      return;
    }
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
    // Cached copies of the range are dropped, dirty or not: the TRIM supersedes them.
    this.dataCache?.invalidate(lba, count);
    this.ftl.trim(lba, count);
    this.complete(t, this.device.stats.pagePrograms !== before, this.trimLatency);
  }

  /** A host page write with the data cache (simulator/cached-io.ts): it completes when the page is in DRAM. */
  private cachedWrite(lba: number, data?: Uint8Array): void {
    const t = this.issue();
    this.completeAt(t, this.cachedIo!.hostWrite(lba, t, data ?? null), null);
    this.writeMaxExact = false;
    this.afterWrite();
  }

  /** Completes the operation issued at `issuedAt` at `done` (complete() with the time given). */
  private completeAt(issuedAt: number, done: number, kind: LatencyHistogram | null): void {
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
   * Writes dirty cached pages back to flash, oldest write first, starting at time `from`: all of
   * them, or (until given) those that start while the device clock is before `until` — replay's
   * flush in an idle gap. Counts one flush when it wrote a page. Returns the pages written.
   */
  flushDataCache(from = this.device.timing.elapsed, until = Infinity): number {
    if (this.cachedIo === null) return 0;
    const timing = this.device.timing;
    timing.issueAt(from);
    const written = this.cachedIo.writeBackWhile(() => until === Infinity || timing.elapsed < until);
    if (until === Infinity && this.lastIssue < timing.lastCompletion) this.lastIssue = timing.lastCompletion;
    return written;
  }

  /**
   * After SsdError POWER_LOSS: the DRAM data cache loses its contents (its dirty pages were never
   * on flash: counted in the report's dataCache.lostDirtyPages), then the FTL rebuilds its map
   * from the spares (Ftl.recover).
   */
  recover(): void {
    this.dataCache?.powerLoss();
    this.ftl.recover();
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
    this.writeMaxExact = false;
    const status = simulateBatch(kernel, this.workload, this.tables, limit, fillFrom);
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
   * Replays block-trace requests through the host interface model (replay.ts {@link replayTrace}):
   * a submission queue of queueDepth slots, requests issued at their arrival times ('open') or as
   * soon as a slot frees ('closed'), split into page transactions; request latency = completion of
   * its last page − arrival, recorded by kind. With transactionScheduling 'fifo' or 'read-first'
   * the flash operations go through the transaction scheduler ({@link replayTraceScheduled}).
   */
  replay(requests: readonly TraceRequest[], onProgress?: (done: number, total: number) => void): SimulationReport {
    const scheduler = this.scheduler;
    if (scheduler !== null) {
      // The whole replay in the FTL's WebAssembly module where it covers it (replay-kernel.ts), else here.
      const host = this.kernelReplayHost(scheduler);
      this.replayKernelBlocked = replayKernelBlocker(host, { dataCache: this.dataCache !== null, backgroundGc: this.backgroundGcIdleNs > 0 }, requests);
      if (this.replayKernelBlocked === null && !replayInKernel(host, requests, onProgress)) {
        this.replayKernelBlocked = "the trace's tables do not fit in the device's table memory";
      }
      if (this.replayKernelBlocked === null) {
        onProgress?.(requests.length, requests.length);
      } else {
        withKernelPaused(this.device, () => replayTraceScheduled(this.replayHost(), scheduler, requests, onProgress));
      }
    } else {
      replayTrace(this.replayHost(), requests, onProgress);
    }
    return this.report();
  }

  /**
   * When set, every replayed request's kind (replay.ts REQUEST_*) and latency (ns) are appended
   * to it as the request completes, in TypeScript and in the kernel replay alike (tests compare them).
   */
  requestLog: number[] | null = null;

  /**
   * Why the last replay through the transaction scheduler ran in TypeScript (null: it ran in the
   * kernel; undefined: none yet). engine() and the report say it.
   */
  private replayKernelBlocked: string | null | undefined = undefined;

  /** What the kernel replay (replay-kernel.ts) reads from this simulator and hands back to it. */
  private kernelReplayHost(scheduler: TransactionScheduler): KernelReplayHost {
    return {
      ftl: this.ftl,
      device: this.device,
      geometry: this.config.geometry,
      scheduler,
      multiPlane: this.multiPlane,
      queueDepth: this.queueDepth,
      closedLoop: this.replayLoop === 'closed',
      flashReadUnmapped: this.unmappedReads === 'flash-read',
      readModifyWrite: this.partialPageWrites === 'read-modify-write',
      partialPageTransfers: this.config.partialPageTransfers === true,
      latency: this.latency,
      intervalLatency: this.intervalLatency,
      readLatency: this.readLatency,
      trimLatency: this.trimLatency,
      requestLog: this.requestLog,
      snapshotEvery: this.snapshotEvery,
      writesUntilPoint: () => this.snapshotEvery - ((this.ftl.counters.hostPageWrites - this.baseline.host) % this.snapshotEvery),
      recordPoint: () => this.recordPoint(),
      writeMax: this.writeMax,
      setWriteMax: (value) => {
        this.writeMax = value;
      },
      addCounts: (requestsIssued, readModifyWriteReads, unmappedFlashReads) => {
        this.hostOps += requestsIssued;
        this.readModifyWriteReads += readModifyWriteReads;
        this.unmappedFlashReads += unmappedFlashReads;
      },
    };
  }

  /** What replay.ts reads from this simulator and records into it. */
  private replayHost(): ReplayHost {
    return {
      ftl: this.ftl,
      device: this.device,
      geometry: this.config.geometry,
      queueDepth: this.queueDepth,
      replayLoop: this.replayLoop,
      unmappedReads: this.unmappedReads,
      partialPageWrites: this.partialPageWrites,
      partialPageTransfers: this.config.partialPageTransfers === true,
      backgroundGcIdleNs: this.backgroundGcIdleNs,
      cache: this.cachedIo,
      recordLatency: (kind, latency) => this.recordRequest(kind, latency),
      chargeUnmappedRead: (lba) => this.chargeUnmappedRead(lba),
      readModifyWriteRead: () => {
        this.readModifyWriteReads++;
      },
      requestIssued: () => {
        this.hostOps++;
      },
      afterHostWrite: () => {
        if (this.snapshotEvery > 0 && (this.ftl.counters.hostPageWrites - this.baseline.host) % this.snapshotEvery === 0) {
          this.recordPoint();
        }
      },
    };
  }

  /** A replayed request's latency: in every request's histogram, the interval's, and its kind's (REQUEST_*). */
  private recordRequest(kind: number, latency: number): void {
    this.requestLog?.push(kind, latency);
    const bucket = this.latency.bucketOf(latency);
    this.latency.recordInBucket(bucket, latency);
    this.intervalLatency.recordInBucket(bucket, latency);
    if (kind === REQUEST_TRIM) this.trimLatency.recordInBucket(bucket, latency);
    else if (kind === REQUEST_READ) this.readLatency.recordInBucket(bucket, latency);
    else if (latency > this.writeMax) this.writeMax = latency;
  }

  /**
   * The writes' latencies (report.ts {@link writeLatencyOf}): every host operation's histogram
   * less the reads' and TRIMs'; the largest write exact where it is known.
   */
  writeLatency(): LatencyHistogram {
    return writeLatencyOf(this.latency, this.readLatency, this.trimLatency, this.writeMax, this.writeMaxExact);
  }

  // ------------------------------------------------------------------ metrics

  // The last time-series point's erase figures (reused while no block is erased or retired).
  private lastPointErase: PointErase | null = null;

  private recordPoint(): void {
    this.lastPointErase = pointErase(this.ftl, this.device, this.lastPointErase);
    const { point, mark } = timeSeriesPoint(this.ftl, this.device, this.config.geometry, this.lastPointErase, this.baseline, this.previousPoint, this.intervalLatency);
    this.timeSeries.push(point);
    this.previousPoint = mark;
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

  /**
   * Where the work runs: the FTL's write() in the WebAssembly kernel or not, the run loop
   * (run(), precondition()) in the kernel or not, and why TypeScript where it is (reports echo it).
   */
  engine(): { ftlKernel: boolean; runLoopKernel: boolean; replayKernel?: boolean; typescriptBecause: string[] } {
    const because: string[] = [];
    const mappingCache = this.ftl.mappingCacheReport() !== null;
    const planes = planesPerDie(this.config.geometry) > 1;
    if (mappingCache) because.push('the cached mapping table (the kernel has none)');
    if (this.dataCache !== null) because.push('the data cache (the kernel loop writes straight to the FTL)');
    if (typeof this.replayKernelBlocked === 'string') because.push(`the replay through the transaction scheduler: ${this.replayKernelBlocked}`);
    if (planes) because.push('planesPerDie > 1 outside the kernel replay (the FTL kernel and the run loop have one plane per die)');
    // The data cache and the scheduler leave the FTL kernel on: say why it is off when it is.
    if (!mappingCache && !planes && !this.ftl.wasmKernelActive) {
      because.push(this.ftl.options.wasmKernel ? 'options, device or memory outside the kernel (see FtlOptions.wasmKernel)' : 'wasmKernel false');
    }
    // replayKernel: whether the last replay through the transaction scheduler ran in the kernel (after one).
    const replay = this.replayKernelBlocked === undefined ? {} : { replayKernel: this.replayKernelBlocked === null };
    return { ftlKernel: this.ftl.wasmKernelActive, runLoopKernel: this.kernel !== null, ...replay, typescriptBecause: because };
  }

  /** The resolved configuration, as echoed in reports. */
  describeConfig(): Record<string, unknown> {
    return describeSimulator(this, this.config);
  }

  /** The report of the measured window (report.ts); a last time-series point first when one is due. */
  report(extraConfig: Record<string, unknown> = {}): SimulationReport {
    const host = this.ftl.counters.hostPageWrites - this.baseline.host;
    if (this.snapshotEvery > 0 && (this.timeSeries.length === 0 || this.timeSeries.at(-1)!.hostPageWrites !== host)) {
      this.recordPoint();
    }
    return simulationReport({
      ftl: this.ftl,
      device: this.device,
      geometry: this.config.geometry,
      baseline: this.baseline,
      hostOps: this.hostOps,
      erase: deviceEraseStats(this.ftl, this.device, () => this.eraseCounts(), this.eraseTally),
      precondition: this.preconditionResult,
      latency: this.latency,
      readLatency: this.readLatency,
      writeLatency: this.writeLatency(),
      unmappedFlashReads: this.unmappedFlashReads,
      readModifyWriteReads: this.readModifyWriteReads,
      suspensions: this.scheduler?.suspensions ?? 0,
      transactionTurnaround: this.scheduler?.transactionTurnaround() ?? null,
      dataCache: this.dataCache?.report() ?? null,
      timeSeries: this.timeSeries,
      config: { ...this.describeConfig(), ...extraConfig },
    });
  }
}
