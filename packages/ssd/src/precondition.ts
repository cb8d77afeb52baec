/**
 * Preconditioning a simulated SSD to a chosen state before the measured window (SNIA Solid State
 * Storage Performance Test Specification 2.0, "workload independent preconditioning" followed by
 * "steady state"): a share of the user capacity holding valid data (occupancy), written
 * sequentially or in random order, optionally followed by random overwrites of that data until the
 * WAF of successive windows settles. The report says what was done, what it cost and, for steady
 * state, which criterion held.
 */
import { NandClock } from '@flashdiff/nand';
import type { NandOperationSink } from '@flashdiff/nand';
import { SsdError } from './errors.ts';
import type { SsdSimulator } from './simulator.ts';
import { Xoshiro128 } from './workload.ts';

export type PreconditionStateName = 'none' | 'sequential' | 'random' | 'steady';

export interface PreconditionOptions {
  readonly state: PreconditionStateName;
  /** Fraction of the user pages valid afterwards, in (0, 1]. */
  readonly occupancy: number;
  readonly seed: number;
  /**
   * Steady state: random overwrites (uniform over the valid pages) in windows of `windowWrites`
   * host writes; settled when the last `rounds` window WAFs lie within `tolerance` × their mean of
   * each other and their least-squares trend over those windows moves less than tolerance / 2 ×
   * mean (SNIA PTS 2.0 §3: a 20 % data excursion and 10 % slope excursion over 5 rounds; the
   * defaults here are 10 % / 5 % over 5). Gives up after `maxWrites` overwrites.
   */
  readonly steady?: { readonly windowWrites: number; readonly rounds: number; readonly tolerance: number; readonly maxWrites: number };
  /**
   * How the sequential or random fill is written (the steady state's overwrites are always
   * simulated). 'marked' (the default): the FTL's tables and the device's spares in one loop
   * (Ftl.markedFill), untimed, as MQSim's preconditioning assigns its initial state without
   * simulating the writes: the same mapping, blocks, free pools, valid counts, sequence numbers,
   * spares and counters as the simulated fill, but no simulated time passes (the measured window
   * starts at 0 on a clock, and a multi-plane grouping, as on a fresh device). Where it cannot
   * (see Ftl.markedFill: foreground GC would run, a cached mapping table, data stored…) the fill
   * is simulated and the report says why. 'simulated': host writes one at a time through the
   * FTL, timed.
   */
  readonly fill?: 'marked' | 'simulated';
}

export interface PreconditionReport {
  state: PreconditionStateName;
  occupancy: number;
  /** User pages holding valid data at the end. */
  validPages: number;
  hostPageWrites: number;
  nandPageWrites: number;
  waf: number;
  /** How the fill was written ('marked': untimed, in bulk; see PreconditionOptions.fill), and why not marked when it was asked for. */
  fill: 'marked' | 'simulated';
  fillNote?: string;
  /** Simulated device time the preconditioning took (s) and the wall-clock time (s). */
  simulatedSeconds: number;
  wallSeconds: number;
  steady?: {
    criterion: string;
    settled: boolean;
    windowWrites: number;
    /** The WAF of every window, in order. */
    windowWaf: number[];
    overwrites: number;
  };
}

/** A random permutation of 0 … n − 1 (Fisher–Yates with the workload's generator). */
function permutation(n: number, seed: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const rng = new Xoshiro128(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor((rng.nextUint32() / 4294967296) * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** The clock's sink while a marked fill programs: the operations take no time. */
const UNTIMED: NandOperationSink = { read() {}, program() {}, erase() {} };

/**
 * The marked fill of order[0 … count) (first … first + count − 1 when order is null), untimed:
 * the clock hands its operations to a sink that drops them and the device's kernel is paused
 * (its kernel would time them itself). Returns why it declined, or null.
 */
function markedFill(sim: SsdSimulator, order: Int32Array | null, first: number, count: number): string | null {
  const device = sim.device;
  const clock = device.timing;
  if (!(clock instanceof NandClock)) return 'the device has no NandClock';
  const sink = clock.sink;
  const paused = device.kernelPaused;
  // The kernel fill (kernel/ftl/marked-fill.ts) programs through the device's kernel: only with
  // nothing armed there, which its flags say while it is not paused.
  const kernel = sim.ftl.internalState.moduleKernel;
  let kernelReady = false;
  if (kernel !== null && paused !== undefined) {
    device.kernelPaused = false;
    kernelReady = kernel.programsReady() === 1;
    device.kernelPaused = paused;
  }
  clock.sink = UNTIMED;
  if (paused !== undefined) device.kernelPaused = true;
  try {
    return sim.ftl.markedFill(order, first, count, kernelReady);
  } finally {
    clock.sink = sink;
    if (paused !== undefined) device.kernelPaused = paused;
  }
}

/** The steady-state test on the last `rounds` windows (see {@link PreconditionOptions.steady}). */
export function steadyStateReached(windowWaf: readonly number[], rounds: number, tolerance: number): boolean {
  if (windowWaf.length < rounds) return false;
  const w = windowWaf.slice(-rounds);
  const mean = w.reduce((a, b) => a + b, 0) / rounds;
  if (mean <= 0) return false;
  const excursion = Math.max(...w) - Math.min(...w);
  // Least-squares slope over x = 0 … rounds − 1, times the span: the trend's change over the windows.
  const xMean = (rounds - 1) / 2;
  let num = 0;
  let den = 0;
  for (let i = 0; i < rounds; i++) {
    num += (i - xMean) * (w[i]! - mean);
    den += (i - xMean) ** 2;
  }
  const trend = Math.abs((num / den) * (rounds - 1));
  return excursion <= tolerance * mean && trend <= (tolerance / 2) * mean;
}

/**
 * Brings the simulator's device to the chosen state, then starts its measured window. Writes go
 * straight to the FTL (untimed host-wise, no time-series points), except a full sequential fill,
 * which is the simulator's own precondition() and runs in its kernel.
 */
export function preconditionSimulator(sim: SsdSimulator, options: PreconditionOptions, onProgress?: (done: number, total: number) => void): PreconditionReport {
  const { state, occupancy } = options;
  if (!(occupancy > 0 && occupancy <= 1)) throw new SsdError('INVALID_CONFIG', `precondition occupancy must be in (0, 1], got ${occupancy}`);
  const started = performance.now();
  const ftl = sim.ftl;
  const user = sim.userPages;
  const host0 = ftl.counters.hostPageWrites;
  const nand0 = sim.device.stats.pagePrograms;
  const t0 = sim.device.timing.elapsed;
  const valid = state === 'none' ? 0 : Math.max(1, Math.round(occupancy * user));
  let steady: PreconditionReport['steady'];
  let fill: PreconditionReport['fill'] = 'simulated';
  let fillNote: string | undefined;
  const marked = (order: Int32Array | null, count: number): boolean => {
    if (options.fill === 'simulated') return false;
    const declined = markedFill(sim, order, 0, count);
    if (declined !== null) {
      fillNote = declined;
      return false;
    }
    fill = 'marked';
    onProgress?.(count, count);
    return true;
  };
  const progress = (done: number, total: number) => {
    if (onProgress && (done & 0xffff) === 0) onProgress(done, total);
  };
  if (state === 'sequential' && valid === user) {
    sim.precondition(onProgress);
  } else if (state === 'sequential') {
    if (!marked(null, valid)) {
      for (let lba = 0; lba < valid; lba++) {
        ftl.write(lba);
        progress(lba + 1, valid);
      }
    }
  } else if (state === 'random' || state === 'steady') {
    const order = permutation(user, options.seed);
    if (!marked(order, valid)) {
      for (let i = 0; i < valid; i++) {
        ftl.write(order[i]!);
        progress(i + 1, valid);
      }
    }
    if (state === 'steady') {
      const s = options.steady;
      if (s === undefined) throw new SsdError('INVALID_CONFIG', 'steady-state preconditioning needs its window, rounds, tolerance and maxWrites');
      const rng = new Xoshiro128(options.seed ^ 0x5eed);
      const windowWaf: number[] = [];
      let overwrites = 0;
      let settled = false;
      while (!settled && overwrites < s.maxWrites) {
        const h = ftl.counters.hostPageWrites;
        const n = sim.device.stats.pagePrograms;
        const count = Math.min(s.windowWrites, s.maxWrites - overwrites);
        for (let i = 0; i < count; i++) ftl.write(order[Math.floor((rng.nextUint32() / 4294967296) * valid)]!);
        overwrites += count;
        windowWaf.push((sim.device.stats.pagePrograms - n) / (ftl.counters.hostPageWrites - h));
        settled = steadyStateReached(windowWaf, s.rounds, s.tolerance);
        onProgress?.(overwrites, s.maxWrites);
      }
      steady = {
        criterion: `the last ${s.rounds} windows of ${s.windowWrites} random overwrites: WAF range ≤ ${s.tolerance * 100}% of their mean and least-squares trend ≤ ${(s.tolerance / 2) * 100}% of it (SNIA PTS 2.0 style)`,
        settled,
        windowWrites: s.windowWrites,
        windowWaf,
        overwrites,
      };
    }
  } else if (state !== 'none') {
    throw new SsdError('INVALID_CONFIG', `unknown precondition state '${String(state)}' (none, sequential, random, steady)`);
  }
  if (!(state === 'sequential' && valid === user)) {
    sim.waitForIdle();
    sim.startMeasurement();
  }
  const host = ftl.counters.hostPageWrites - host0;
  const nand = sim.device.stats.pagePrograms - nand0;
  return {
    state,
    occupancy: state === 'none' ? 0 : valid / user,
    validPages: valid,
    hostPageWrites: host,
    nandPageWrites: nand,
    waf: host > 0 ? nand / host : 0,
    fill,
    ...(fillNote !== undefined && options.fill !== 'simulated' ? { fillNote } : {}),
    simulatedSeconds: (sim.device.timing.elapsed - t0) / 1e9,
    wallSeconds: (performance.now() - started) / 1000,
    ...(steady ? { steady } : {}),
  };
}
