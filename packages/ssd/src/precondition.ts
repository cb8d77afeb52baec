/**
 * Preconditioning a simulated SSD to a chosen state before the measured window (SNIA Solid State
 * Storage Performance Test Specification 2.0, "workload independent preconditioning" followed by
 * "steady state"): a share of the user capacity holding valid data (occupancy), written
 * sequentially or in random order, optionally followed by random overwrites of that data until the
 * WAF of successive windows settles. The report says what was done, what it cost and, for steady
 * state, which criterion held.
 */
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
}

export interface PreconditionReport {
  state: PreconditionStateName;
  occupancy: number;
  /** User pages holding valid data at the end. */
  validPages: number;
  hostPageWrites: number;
  nandPageWrites: number;
  waf: number;
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
  const progress = (done: number, total: number) => {
    if (onProgress && (done & 0xffff) === 0) onProgress(done, total);
  };
  if (state === 'sequential' && valid === user) {
    sim.precondition(onProgress);
  } else if (state === 'sequential') {
    for (let lba = 0; lba < valid; lba++) {
      ftl.write(lba);
      progress(lba + 1, valid);
    }
  } else if (state === 'random' || state === 'steady') {
    const order = permutation(user, options.seed);
    for (let i = 0; i < valid; i++) {
      ftl.write(order[i]!);
      progress(i + 1, valid);
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
    simulatedSeconds: (sim.device.timing.elapsed - t0) / 1e9,
    wallSeconds: (performance.now() - started) / 1000,
    ...(steady ? { steady } : {}),
  };
}
