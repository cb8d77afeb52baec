/**
 * Reporting: what a simulation reports ({@link SimulationReport}: WAF, GC, erase spread,
 * throughput, latency percentiles by request kind, the time series) and how it is computed from
 * the FTL's and the device's counters relative to the start of the measured window. Upstream
 * counterpart: MQSim's statistics output (Stats, IO_Flow_Base's per-flow response times and
 * the XML report written at the end of a run).
 */
import type { NandDevice, NandGeometry, SimulatedNand } from '@flashdiff/nand';
import { allocateTables, float64Table, planesPerDie } from '@flashdiff/nand';
import type { Ftl, FtlCounters } from '../ftl.ts';
import { ERASE_HISTOGRAM_BINS, LatencyHistogram, eraseStats, eraseStatsOf } from '../metrics.ts';
import type { EraseStats } from '../metrics.ts';
import { BLOCK_BAD } from '../ftl.ts';
import { DEFAULT_WORKLOAD } from '../workload.ts';
import type { SsdSimulator } from '../simulator.ts';
import type { SimulatorConfig } from './config.ts';
import type { DataCacheReport } from '../cache/data-cache.ts';
import type { MappingCacheReport } from '../ftl/cached-mapping.ts';
import { PlaneView } from '../planes.ts';
import type { TransactionTurnaround } from '../scheduler.ts';

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
  /**
   * With a transaction scheduler: host read and program transactions and their mean turnaround
   * (hand-over to completion; MQSim's Average_Read / Write_Transaction_Turnaround_Time, which
   * bench/ssd-mqsim.ts compares with). Absent without a scheduler.
   */
  transactionTurnaround?: TransactionTurnaround;
  /** The DRAM data cache over the measured window (SimulatorConfig.dataCache; null: none). */
  dataCache: DataCacheReport | null;
  /** The cached mapping table over the measured window (FtlOptions.mappingCacheEntries / Bytes; null: the full table in RAM). */
  mappingCache: MappingCacheReport | null;
  counters: FtlCounters;
  timeSeries: TimeSeriesPoint[];
  config: Record<string, unknown>;
}

/** The counters at the start of the measured window (the report subtracts them). */
export interface Baseline {
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

/** Host writes, NAND programs and device time at the previous time-series point. */
export interface PointMark {
  host: number;
  nand: number;
  elapsed: number;
}

/**
 * The writes' latencies: every host operation is recorded in `latency` (the kernel loop records
 * its writes there alone), reads and TRIMs also in their own histograms, so the writes' buckets,
 * count and sum are the difference. The largest write is exact when every write since the
 * measurement started came from replay (recorded there by kind) or when it is the largest latency
 * of all; otherwise it is the top of the highest write bucket (within 9 %), capped at that — the
 * same rule whether run() took the kernel loop or the TypeScript one.
 */
export function writeLatencyOf(latency: LatencyHistogram, readLatency: LatencyHistogram, trimLatency: LatencyHistogram, writeMax: number, writeMaxExact: boolean): LatencyHistogram {
  const all = latency.bucketCounts();
  const reads = readLatency.bucketCounts();
  const trims = trimLatency.bucketCounts();
  let top = -1;
  for (let i = 0; i < all.length; i++) {
    all[i] = all[i]! - reads[i]! - trims[i]!;
    if (all[i]! > 0) top = i;
  }
  const count = latency.count - readLatency.count - trimLatency.count;
  const sum = latency.sum - readLatency.sum - trimLatency.sum;
  const allMax = latency.max;
  const max = top < 0 ? 0 : writeMaxExact ? writeMax : allMax > readLatency.max && allMax > trimLatency.max ? allMax : Math.max(writeMax, Math.min(allMax, 2 ** ((top + 1) / 8)));
  return new LatencyHistogram({ buckets: all, cells: Float64Array.of(count, sum, max) });
}

/** A time-series point's erase-count figures over the good blocks, and the device's erases and the FTL's retired blocks when they were taken. */
export interface PointErase {
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly erases: number;
  readonly retired: number;
}

/**
 * The erase counts' min, max and mean over the good blocks (as {@link eraseStats}) for a
 * time-series point: read in place (no copy of the counts), and `last`'s when the device has
 * erased no block and the FTL retired none since (the counts and the bad blocks are then as they
 * were). A replay's points mostly see no erase; at 512 GiB the copy and scan of 131,072 counts at
 * each of its 100 points was 80 % of a cold `ssdsim replay`.
 */
export function pointErase(ftl: Ftl, device: SimulatedNand, last: PointErase | null): PointErase {
  const erases = device.stats.blockErases;
  const retired = ftl.internalState.counterValues.retiredBlocks;
  if (last !== null && last.erases === erases && last.retired === retired) return last;
  const state = ftl.blockState;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  for (let b = 0; b < state.length; b++) {
    if (state[b] === BLOCK_BAD) continue;
    const c = device.eraseCount(b);
    if (c < min) min = c;
    if (c > max) max = c;
    sum += c;
    n++;
  }
  return n === 0 ? { min: 0, max: 0, mean: 0, erases, retired } : { min, max, mean: sum / n, erases, retired };
}

/** The time-series point now, since `baseline` and over the interval since `previous`; with the mark for the next one. */
export function timeSeriesPoint(
  ftl: Ftl, device: SimulatedNand, geometry: NandGeometry, e: PointErase, baseline: Baseline, previous: PointMark, intervalLatency: LatencyHistogram,
): { point: TimeSeriesPoint; mark: PointMark } {
  const c = ftl.counters;
  const host = c.hostPageWrites;
  const nand = device.stats.pagePrograms;
  const dHost = host - previous.host;
  const dNand = nand - previous.nand;
  const wHost = host - baseline.host;
  const elapsed = device.timing.elapsed;
  const point: TimeSeriesPoint = {
    hostPageWrites: wHost,
    nandPageWrites: nand - baseline.nand,
    waf: wHost > 0 ? (nand - baseline.nand) / wHost : 0,
    intervalWaf: dHost > 0 ? dNand / dHost : 0,
    gcRuns: c.gcRuns - baseline.gcRuns,
    gcMovedPages: c.gcMovedPages - baseline.gcMoved,
    freeUnits: ftl.freeUnits(),
    eraseMin: e.min,
    eraseMax: e.max,
    eraseMean: e.mean,
    simulatedMs: (elapsed - baseline.elapsed) / 1e6,
    intervalHostWriteMBps: elapsed > previous.elapsed ? (dHost * geometry.pageSize) / 1e6 / ((elapsed - previous.elapsed) / 1e9) : 0,
    intervalLatencyP50Us: intervalLatency.quantile(0.5) / 1000,
    intervalLatencyP99Us: intervalLatency.quantile(0.99) / 1000,
  };
  return { point, mark: { host, nand, elapsed } };
}

/** The resolved configuration of `simulator`, as echoed in reports. */
export function describeSimulator(simulator: SsdSimulator, config: SimulatorConfig): Record<string, unknown> {
  const g = config.geometry;
  const blocks = g.channels * g.diesPerChannel * g.blocksPerDie;
  return {
    preset: config.preset ?? null,
    geometry: { ...g },
    totalBlocks: blocks,
    physicalPages: blocks * g.pagesPerBlock,
    userPages: simulator.ftl.userPages,
    overProvisioningDefinition: '(physical - user) / user',
    ftl: { ...simulator.ftl.options },
    workload: { ...DEFAULT_WORKLOAD, ...simulator.workload.options },
    metadataOnly: simulator.device.metadataOnly,
    queueDepth: simulator.queueDepth,
    backgroundGcIdleNs: simulator.backgroundGcIdleNs,
    replayLoop: simulator.replayLoop,
    unmappedReads: simulator.unmappedReads,
    transactionScheduling: simulator.transactionScheduling,
    partialPageTransfers: config.partialPageTransfers === true,
    partialPageWrites: simulator.partialPageWrites,
    suspend: config.suspend ?? null,
    dataCache: simulator.dataCache?.options ?? null,
    engine: simulator.engine(),
    timing: { ...simulator.device.timing.params },
    // Only with planes, so one-plane reports stay as they were.
    ...(planesPerDie(g) > 1 ? { planes: { planesPerDie: planesPerDie(g), multiPlane: simulator.multiPlane !== null, multiPlaneCommands: simulator.multiPlane?.multiPlaneCommands ?? 0, multiPlaneOperations: simulator.multiPlane?.multiPlaneOperations ?? 0, ...planeEraseCounts(simulator.ftl.device), copybackOperations: simulator.multiPlane?.copybackOperations ?? 0 } } : {}),
  };
}

/** The multi-plane erases (GC's) a PlaneView counted: commands, and the blocks they erased. */
function planeEraseCounts(device: NandDevice): { multiPlaneEraseCommands: number; multiPlaneErasedBlocks: number } {
  return device instanceof PlaneView
    ? { multiPlaneEraseCommands: device.multiPlaneEraseCommands, multiPlaneErasedBlocks: device.multiPlaneErasedBlocks }
    : { multiPlaneEraseCommands: 0, multiPlaneErasedBlocks: 0 };
}

/** What {@link simulationReport} reads beside the FTL and the device. */
export interface ReportInputs {
  readonly ftl: Ftl;
  readonly device: SimulatedNand;
  readonly geometry: NandGeometry;
  readonly baseline: Baseline;
  /** Host operations so far (the throughput's). */
  readonly hostOps: number;
  /** The erase counts' statistics over the device's good blocks ({@link deviceEraseStats}). */
  readonly erase: EraseStats;
  readonly precondition: SimulationReport['precondition'];
  readonly latency: LatencyHistogram;
  readonly readLatency: LatencyHistogram;
  readonly writeLatency: LatencyHistogram;
  readonly unmappedFlashReads: number;
  readonly readModifyWriteReads: number;
  readonly suspensions: number;
  readonly transactionTurnaround?: TransactionTurnaround | null;
  readonly dataCache: DataCacheReport | null;
  readonly timeSeries: readonly TimeSeriesPoint[];
  readonly config: Record<string, unknown>;
}

/** Where {@link deviceEraseStats} keeps the FTL module's tally: 5 cells, then 16 bins (f64). */
export type EraseCells = { cells: Float64Array; offset: number } | null;

/**
 * eraseStats over the device's erase counts (blocks 0 … ftl.totalBlocks − 1, those device.isBad
 * says are bad skipped): in the FTL's module where its tables share the device's memory
 * (kernel/metrics.ts eraseTally reads the device's erase counts and bad blocks, the same figures:
 * test/report-erase.test.ts), else from `counts()` in TypeScript. `cells` is the table the module
 * counts into (allocated in that memory at the first call: `holder`).
 */
export function deviceEraseStats(ftl: Ftl, device: SimulatedNand, counts: () => Uint32Array, holder: { eraseCells?: EraseCells }): EraseStats {
  const BINS = ERASE_HISTOGRAM_BINS;
  const kernel = ftl.internalState.moduleKernel;
  const memory = device.metadataKernel?.memory ?? null;
  if (kernel !== null && memory !== null && holder.eraseCells === undefined) {
    const t = allocateTables({ eraseCells: float64Table(5 + BINS) }, memory);
    holder.eraseCells = t.inMemory ? { cells: t.views.eraseCells, offset: t.offsets.eraseCells } : null;
  }
  const at = holder.eraseCells ?? null;
  if (kernel === null || memory === null || at === null) return eraseStats(counts(), (b) => device.isBad(b));
  const blocks = ftl.totalBlocks;
  const c = at.cells;
  kernel.eraseTally(blocks, at.offset, 0, 0, 1);
  return eraseStatsOf({ min: c[0]!, max: c[1]!, sum: c[2]!, sumSq: c[3]!, n: c[4]! }, BINS, (binStart, binWidth, length) => {
    c.fill(0, 5);
    kernel.eraseTally(blocks, at.offset, at.offset + 40, binStart, binWidth);
    return Array.from(c.subarray(5, 5 + length));
  });
}

/** The report of the measured window (since `baseline`). */
export function simulationReport(r: ReportInputs): SimulationReport {
  const c = r.ftl.counters;
  const s = r.device.stats;
  const b = r.baseline;
  const host = c.hostPageWrites - b.host;
  const nand = s.pagePrograms - b.nand;
  const seconds = (r.device.timing.elapsed - b.elapsed) / 1e9;
  const l = r.latency;
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
    erase: r.erase,
    precondition: r.precondition,
    lifetime: { hostPageWrites: c.hostPageWrites, nandPageWrites: s.pagePrograms, waf: c.hostPageWrites > 0 ? s.pagePrograms / c.hostPageWrites : 0 },
    throughput: {
      simulatedSeconds: seconds,
      hostWriteMBps: seconds > 0 ? (host * r.geometry.pageSize) / 1e6 / seconds : 0,
      hostOpsPerSecond: seconds > 0 ? (r.hostOps - b.hostOps) / seconds : 0,
    },
    latencyUs: {
      mean: l.count > 0 ? l.sum / l.count / 1000 : 0,
      p50: l.quantile(0.5) / 1000,
      p99: l.quantile(0.99) / 1000,
      p999: l.quantile(0.999) / 1000,
      max: l.max / 1000,
    },
    readLatencyUs: summarize(r.readLatency),
    writeLatencyUs: summarize(r.writeLatency),
    unmappedFlashReads: r.unmappedFlashReads,
    readModifyWriteReads: r.readModifyWriteReads,
    suspensions: r.suspensions,
    ...(r.transactionTurnaround ? { transactionTurnaround: r.transactionTurnaround } : {}),
    dataCache: r.dataCache,
    mappingCache: r.ftl.mappingCacheReport(),
    counters: { ...c },
    timeSeries: r.timeSeries.slice(),
    config: r.config,
  };
}

/** Mean and percentiles of a histogram, in µs. */
export function summarize(h: LatencyHistogram): LatencySummary {
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
