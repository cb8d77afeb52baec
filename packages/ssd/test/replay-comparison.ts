// Shared by the tests that hold the kernel replay (kernel/simulator/replay.ts) against the
// TypeScript replay (replayTraceScheduled) request for request: the mqsim-default scenario's host
// and FTL options, what one replay leaves behind (Outcome), and the comparison of two of them.
// Used by replay-kernel-scheduled.test.ts and kernel-replay-gc.test.ts. No upstream counterpart.
import assert from 'node:assert/strict';
import { MQSIM_TIMING } from '@flashdiff/nand';
import type { SimulatorConfig, SsdSimulator } from '../src/index.ts';

/** The mqsim-default scenario's host and FTL options. */
export const MQSIM_HOST: Omit<SimulatorConfig, 'geometry'> = {
  timing: MQSIM_TIMING,
  snapshotEvery: 0,
  backgroundGcIdleNs: 0,
  queueDepth: 65535,
  unmappedReads: 'flash-read',
  transactionScheduling: 'read-first',
  multiPlane: true,
  multiPlaneDiesPerChip: 2,
  multiPlaneSamePage: true,
  partialPageTransfers: true,
  partialPageWrites: 'read-modify-write',
  ftl: { overProvisioning: 0.07 / 0.93, gcPolicy: 'greedy', hostAllocation: 'cwdp', dynamicWearLeveling: true, staticWearLeveling: true, staticWearLevelingThreshold: 100, seed: 321 },
};

/** What a replay leaves that the two engines must agree on. */
export interface ReplayOutcome {
  sim: SsdSimulator;
  /** SsdSimulator.requestLog: every request's kind and latency, in completion order. */
  log: number[];
  report: string;
  readHistogram: number[];
  writeHistogram: number[];
  eraseCounts: number[];
  l2p: Int32Array;
  clock: number[];
}

export function replayOutcome(sim: SsdSimulator, log: number[], report: object): ReplayOutcome {
  const timing = sim.device.timing;
  return {
    sim,
    log,
    // The configuration echo says which engine ran; everything else must not differ.
    report: JSON.stringify({ ...report, config: null }),
    readHistogram: Array.from(sim.readLatency.bucketCounts()),
    writeHistogram: Array.from(sim.writeLatency().bucketCounts()),
    eraseCounts: Array.from(sim.eraseCounts()),
    l2p: sim.ftl.l2p,
    clock: [timing.now, timing.lastCompletion, timing.elapsed],
  };
}

/** The kernel ran one, TypeScript the other, and they agree on everything (all `requests` logged, when given). */
export function assertSameReplay(kernel: ReplayOutcome, typescript: ReplayOutcome, requests?: number): void {
  assert.equal(kernel.sim.engine().replayKernel, true, `the kernel replayed: ${kernel.sim.engine().typescriptBecause.join('; ')}`);
  assert.equal(typescript.sim.engine().replayKernel, false);
  // Two log entries per request: its kind and its latency.
  assert.equal(kernel.log.length, requests === undefined ? typescript.log.length : 2 * requests);
  assert.deepEqual(kernel.log, typescript.log);
  assert.deepEqual(kernel.readHistogram, typescript.readHistogram);
  assert.deepEqual(kernel.writeHistogram, typescript.writeHistogram);
  assert.equal(kernel.report, typescript.report);
  assert.deepEqual(kernel.eraseCounts, typescript.eraseCounts);
  assert.deepEqual(kernel.l2p, typescript.l2p);
  assert.deepEqual(kernel.clock, typescript.clock);
}
