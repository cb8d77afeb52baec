// The scheduler on long die queues (issue 17): MQSim's tpcc-small trace written 6 times over, 20 s
// apart, on a small device (2 channels × 2 dies × 4 planes of 16 blocks of 256 pages of 8 KiB,
// filled 70 % first) with MQSim's host options (open loop, read-first, the 4 planes of a die
// collected into multi-plane commands at one page address) — the first case of
// packages/ssd/test/kernel-replay-gc.test.ts. The trace outruns 4 dies, so each die's queues grow
// to thousands of transactions; every command start gathers the same-die transactions that join
// it (src/scheduler/multi-plane.ts, kernel/scheduler/multi-plane.ts). The gather used to walk the
// die's whole queues at every start; measured with this script under flock, fastest of 3, the
// kernel replay took 1.37 s of CPU then (a profile had the walk at 83 % of it), 0.32–0.38 s with
// the queues chained by plane, 0.10–0.12 s chained by plane, kind and page; the TypeScript
// replay 2.72, 0.55–0.87 and 0.26–0.37 s (load 1.8–6.1 across those runs).
// Prints, for the kernel replay, the TypeScript replay and — before/after in one run — the
// TypeScript replay with the gather as it was (a walk of each whole queue, patched in here for
// the figure), the replay's wall and CPU time (the fill before it is not timed) as the fastest of
// --reps runs, the multi-plane commands formed and the mean latency (the same for all three: the
// kernel comparison tests hold the engines equal, and this script checks the walk forms the same
// commands), then the walk's CPU over the chains'.
// No upstream counterpart (MQSim's TSU scans its chip queues too, but they stay short there).
// Run: npx tsx bench/ssd-long-queues.ts [--reps N] [--times T]
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { SsdSimulator, fitToDevice, loadTrace, preconditionSimulator } from '@flashdiff/ssd';
import type { SimulatorConfig, TraceRequest } from '@flashdiff/ssd';
import { MQSIM_HOST } from '../packages/ssd/test/replay-comparison.ts';
import { useWholeQueueWalk } from '../packages/ssd/test/whole-queue-walk.ts';

function intArg(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`ssd-long-queues: ${name} must be a positive integer, got ${process.argv[at + 1]}`);
    process.exit(2);
  }
  return value;
}

const reps = intArg('--reps', 3);
const times = intArg('--times', 6);
const trace = loadTrace(fileURLToPath(new URL('../packages/ssd/test/fixtures/traces/mqsim-tpcc-small.trace', import.meta.url))).requests;

// The mqsim-default scenario's host and FTL options (the replay comparisons' MQSIM_HOST) on the small device.
const config: SimulatorConfig = {
  ...MQSIM_HOST,
  geometry: { pageSize: 8192, spareSize: 448, pagesPerBlock: 256, blocksPerDie: 4 * 16, diesPerChannel: 2, channels: 2, planesPerDie: 4 },
};

interface Run {
  wallS: number;
  cpuS: number;
  commands: number;
  meanUs: number;
  kernel: boolean;
}

function runOnce(wasmKernel: boolean): Run {
  const sim = new SsdSimulator({ ...config, ftl: { ...config.ftl, wasmKernel } });
  preconditionSimulator(sim, { state: 'sequential', occupancy: 0.7, seed: 321 });
  const one = fitToDevice(trace, sim.userPages * 8192).requests;
  const all: TraceRequest[] = [];
  for (let k = 0; k < times; k++) for (const r of one) all.push({ ...r, arrivalNs: r.arrivalNs + k * 2e10 });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const report = sim.replay(all);
  const wallS = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { wallS, cpuS: (used.user + used.system) / 1e6, commands: sim.multiPlane?.multiPlaneCommands ?? 0, meanUs: report.latencyUs.mean, kernel: sim.engine().replayKernel === true };
}

console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; tpcc-small × ${times} on 2 × 2 dies × 4 planes, 70 % filled; fastest of ${reps}`);
const best: Record<string, Run> = {};
for (let rep = 0; rep < reps; rep++) {
  for (const [name, wasm] of [['kernel', true], ['typescript', false], ['typescript, walk', false]] as const) {
    useWholeQueueWalk(name === 'typescript, walk');
    const run = runOnce(wasm);
    useWholeQueueWalk(false);
    if (run.kernel !== wasm) {
      console.error(`ssd-long-queues: the ${name} replay ran in the other engine (${run.kernel ? 'kernel' : 'TypeScript'})`);
      process.exit(1);
    }
    const previous = best[name];
    if (previous === undefined || run.cpuS < previous.cpuS) best[name] = run;
  }
}
for (const [name, run] of Object.entries(best)) {
  console.log(`${name.padEnd(16)} replay ${run.wallS.toFixed(3)} s wall, ${run.cpuS.toFixed(3)} s CPU; ${run.commands} multi-plane commands; mean latency ${run.meanUs.toFixed(1)} µs`);
}
const walked = best['typescript, walk']!;
const typescript = best['typescript']!;
if (walked.commands !== typescript.commands || walked.meanUs !== typescript.meanUs) {
  console.error('ssd-long-queues: the walk formed other commands than the chains');
  process.exit(1);
}
console.log(`typescript / kernel by CPU: ${(typescript.cpuS / best['kernel']!.cpuS).toFixed(2)}; walk / chains (TypeScript, before / after) by CPU: ${(walked.cpuS / typescript.cpuS).toFixed(2)}`);
console.log(`command: npx tsx bench/ssd-long-queues.ts --reps ${reps} --times ${times}`);
