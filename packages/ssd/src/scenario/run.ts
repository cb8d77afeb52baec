/**
 * Running a resolved scenario: the geometry from its preset and overrides, the simulator, the
 * preconditioning, then the synthetic workload or the trace. `ssdsim run`, `ssdsim replay` and
 * every sweep point (on any worker) go through {@link runScenario}, so they cannot drift apart.
 */
import type { NandTimingParams } from '@flashdiff/nand';
import { resolveFtlOptions, userPagesFor } from '../config.ts';
import type { FtlOptions } from '../config.ts';
import { preconditionSimulator } from '../precondition.ts';
import type { PreconditionReport } from '../precondition.ts';
import { SsdSimulator } from '../simulator.ts';
import type { SimulationReport, SimulatorConfig } from '../simulator.ts';
import type { LatencyHistogram } from '../metrics.ts';
import { fitToDevice, loadTrace, tracePageWrites } from '../traces/load.ts';
import type { TraceFormat } from '../traces/load.ts';
import type { BlkparseEvent } from '../traces/blkparse.ts';
import type { WorkloadKind } from '../workload.ts';
import { scenarioGeometry } from './schema.ts';
import type { Scenario } from './schema.ts';

/** Time-series points a run gets by default: the interval is the measured host page writes / this. */
export const DEFAULT_TIME_SERIES_POINTS = 100;

/** "4x" → 4 × user pages; a number → itself. */
export function resolveWrites(writes: string | number, userPages: number): number {
  return typeof writes === 'number' ? writes : Math.round(Number(writes.slice(0, -1)) * userPages);
}

export function scenarioFtlOptions(s: Scenario): FtlOptions {
  return resolveFtlOptions(s.device.ftl as Partial<FtlOptions>);
}

/** A report whose precondition field says what preconditioning did ({@link PreconditionReport}). */
export interface ScenarioReport extends SimulationReport {
  precondition: PreconditionReport | null;
  /**
   * The measured window's latency histogram (all host operations): [bucket, count] for each
   * non-empty bucket; bucket b holds latencies in [2^(b/8), 2^((b+1)/8)) ns (metrics.ts
   * LatencyHistogram). The plots draw the latency CDF from it.
   */
  latencyHistogram: SparseHistogram;
  /** The same for reads alone and for writes alone (the plots draw one CDF each). */
  readLatencyHistogram: SparseHistogram;
  writeLatencyHistogram: SparseHistogram;
}

/** A latency histogram's non-empty buckets (metrics.ts LatencyHistogram: 8 per power of two of ns). */
export interface SparseHistogram {
  bucketsPerOctave: number;
  buckets: [number, number][];
}

function sparse(h: LatencyHistogram): SparseHistogram {
  const buckets: [number, number][] = [];
  h.bucketCounts().forEach((count, bucket) => {
    if (count > 0) buckets.push([bucket, count]);
  });
  return { bucketsPerOctave: 8, buckets };
}

export interface ScenarioRunOptions {
  onProgress?: (phase: 'precondition' | 'measure', done: number, total: number) => void;
  /** Warnings (an empty trace allowed, a trace sorted, requests split) go here. */
  onWarning?: (message: string) => void;
  /** How the preconditioning fill is written (PreconditionOptions.fill; default 'marked'). */
  preconditionFill?: 'marked' | 'simulated';
  /**
   * Filled with the wall time (ms, performance.now) of each phase of the run, for
   * bench/ssd-replay-phases.ts: trace (read, parse, fit), construct (the simulator), precondition,
   * run (the replay or synthetic run with its report) and finish (this function's own report).
   */
  phaseTimes?: ScenarioPhaseTimes;
}

/** Wall time of each phase of {@link runScenario} (ms). */
export interface ScenarioPhaseTimes {
  trace: number;
  construct: number;
  precondition: number;
  run: number;
  finish: number;
}

function hostModel(s: Scenario): Partial<SimulatorConfig> {
  const d = s.device;
  return {
    ...(d.replayLoop !== undefined ? { replayLoop: d.replayLoop as SimulatorConfig['replayLoop'] } : {}),
    ...(d.unmappedReads !== undefined ? { unmappedReads: d.unmappedReads as SimulatorConfig['unmappedReads'] } : {}),
    ...(d.transactionScheduling !== undefined ? { transactionScheduling: d.transactionScheduling as SimulatorConfig['transactionScheduling'] } : {}),
    ...(d.multiPlane !== undefined ? { multiPlane: d.multiPlane } : {}),
    ...(d.multiPlaneDiesPerChip !== undefined ? { multiPlaneDiesPerChip: d.multiPlaneDiesPerChip } : {}),
    ...(d.multiPlaneSamePage !== undefined ? { multiPlaneSamePage: d.multiPlaneSamePage } : {}),
    ...(d.gcPriority !== undefined ? { gcPriority: d.gcPriority as SimulatorConfig['gcPriority'] } : {}),
    ...(d.gcHardThreshold !== undefined ? { gcHardThreshold: d.gcHardThreshold } : {}),
    ...(d.partialPageTransfers !== undefined ? { partialPageTransfers: d.partialPageTransfers } : {}),
    ...(d.partialPageWrites !== undefined ? { partialPageWrites: d.partialPageWrites as SimulatorConfig['partialPageWrites'] } : {}),
    ...dataCacheOf(s),
  };
}

/** device.dataCache as the simulator's option: none when absent or its capacity is 0 (a sweep's "off" point). */
function dataCacheOf(s: Scenario): Partial<SimulatorConfig> {
  const c = s.device.dataCache;
  if (c === undefined) return {};
  const { capacityPages = 0, capacityBytes = 0, ...rest } = c;
  if (capacityPages === 0 && capacityBytes === 0) return {};
  return { dataCache: { ...rest, ...(capacityPages > 0 ? { capacityPages } : { capacityBytes }) } };
}

/** Runs a scenario and returns its report (config.scenario holds the scenario itself). */
export function runScenario(s: Scenario, options: ScenarioRunOptions = {}): ScenarioReport {
  const times = options.phaseTimes;
  let mark = times !== undefined ? performance.now() : 0;
  const phase = (name: keyof ScenarioPhaseTimes): void => {
    if (times === undefined) return;
    const now = performance.now();
    times[name] = now - mark;
    mark = now;
  };
  const geometry = scenarioGeometry(s);
  const ftl = scenarioFtlOptions(s);
  const user = userPagesFor(geometry, ftl.overProvisioning, ftl.validityMethod);
  const w = s.workload;
  const isTrace = w.kind === 'trace';
  let requests: ReturnType<typeof loadTrace>['requests'] = [];
  let traceInfo: Record<string, unknown> = {};
  let measuredWrites: number;
  if (isTrace) {
    const loaded = loadTrace(w.path, {
      format: w.format as TraceFormat | 'auto',
      sort: w.sort,
      allowEmpty: w.allowEmpty,
      ...(w.blkparseEvent !== 'auto' ? { blkparseEvent: w.blkparseEvent as BlkparseEvent } : {}),
    });
    for (const m of loaded.warnings) options.onWarning?.(m);
    const fit = fitToDevice(loaded.requests, user * geometry.pageSize);
    if (fit.split > 0) options.onWarning?.(`${w.path}: ${fit.split} request(s) larger than the device's ${user * geometry.pageSize} bytes split into device-sized pieces`);
    requests = fit.requests;
    measuredWrites = tracePageWrites(requests, geometry.pageSize);
    traceInfo = {
      trace: w.path,
      traceFormat: loaded.format,
      ...(loaded.blkparseEvent ? { blkparseEvent: loaded.blkparseEvent } : {}),
      requests: loaded.requests.length,
      splitRequests: fit.split,
      sorted: loaded.sorted,
      addressMapping: 'page = floor(sector * 512 / pageSize) mod userPages',
    };
  } else {
    measuredWrites = resolveWrites(w.writes, user);
  }
  // The interval follows the measured host page writes (never the request count, never the fill).
  phase('trace');
  const snapshotEvery = s.outputs.snapshotEvery ?? Math.max(1, Math.ceil(measuredWrites / DEFAULT_TIME_SERIES_POINTS));
  const sim = new SsdSimulator({
    geometry,
    preset: s.device.preset,
    ftl,
    ...(isTrace ? {} : { workload: { kind: w.kind as WorkloadKind, seed: w.seed, readRatio: w.readRatio, trimRatio: w.trimRatio, hotFraction: w.hotFraction, hotAccessFraction: w.hotAccess } }),
    ...(Object.keys(s.device.timing).length > 0 ? { timing: s.device.timing as Partial<NandTimingParams> } : {}),
    metadataOnly: true,
    queueDepth: s.device.queueDepth,
    snapshotEvery,
    backgroundGcIdleNs: s.device.backgroundGcIdleUs * 1000,
    // The host and controller model's options (issue 17), passed only when the scenario sets them.
    ...hostModel(s),
  });
  phase('construct');
  const p = s.precondition;
  const pre = preconditionSimulator(
    sim,
    {
      state: p.state,
      occupancy: p.occupancy,
      seed: p.seed,
      steady: { windowWrites: Math.max(1, resolveWrites(p.steady.window, user)), rounds: p.steady.rounds, tolerance: p.steady.tolerance, maxWrites: resolveWrites(p.steady.maxWrites, user) },
      ...(options.preconditionFill !== undefined ? { fill: options.preconditionFill } : {}),
    },
    (d, t) => options.onProgress?.('precondition', d, t),
  );
  phase('precondition');
  const onMeasure = (d: number, t: number) => options.onProgress?.('measure', d, t);
  const base = isTrace ? sim.replay(requests, onMeasure) : sim.run(measuredWrites, onMeasure);
  phase('run');
  const report: ScenarioReport = {
    ...base,
    precondition: p.state === 'none' ? null : pre,
    latencyHistogram: sparse(sim.latency),
    readLatencyHistogram: sparse(sim.readLatency),
    writeLatencyHistogram: sparse(sim.writeLatency()),
  };
  const command = isTrace ? 'replay' : 'run';
  report.config = {
    ...report.config,
    command,
    ...(isTrace ? traceInfo : { writes: measuredWrites, writesFlag: String(w.writes) }),
    precondition: p.state !== 'none',
    snapshotEvery,
    scenario: s,
  };
  phase('finish');
  return report;
}
