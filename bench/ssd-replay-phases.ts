// Where an unwritten replay's time goes (issue 17, "Validation and speed"): MQSim's tpcc-small and
// wsrch-small traces on the mqsim-default scenario (nothing written first, as MQSim replays them),
// at each --blocks-per-plane (default 64,2048: 16 and 512 GiB), each case in a fresh Node process
// so that its first run is cold (nothing compiled yet, as in `ssdsim replay` and as
// bench/ssd-mqsim-speed.ts's first case), then --reps − 1 more runs in that process (warm: the
// TypeScript compiled by V8's optimising tier). Per phase, by wall time (runScenario's
// ScenarioRunOptions.phaseTimes): scenario (load the YAML, apply the overrides), trace (read,
// parse, fit to the device), construct (the simulator: device, FTL tables, free pools, plane view,
// scheduler), run (the replay loop with its report), finish (runScenario's own report); then the
// process's CPU time for the cold run (every thread: V8 compiles on helper threads). No upstream
// counterpart (MQSim's own phases: its device build and its event loop; bench/ssd-mqsim-speed.ts
// times MQSim beside ours).
// On a busy machine the figures swing: --processes P runs each case in P fresh processes and
// reports the fastest cold run and the fastest warm run over all of them.
// --occupancy F (0 < F < 1) writes F of the user capacity sequentially first (the marked fill,
// PreconditionOptions.fill 'marked'; a phase of its own, precondition, between construct and run).
// Run: npx tsx bench/ssd-replay-phases.ts [--blocks-per-plane B[,B…]] [--reps N] [--processes P] [--traces tpcc,wsrch] [--occupancy F]
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { applyOverrides, loadScenario, runScenario } from '@flashdiff/ssd';
import type { ScenarioPhaseTimes } from '@flashdiff/ssd';

const PHASES = ['scenario', 'trace', 'construct', 'precondition', 'run', 'finish'] as const;
type Phases = Record<(typeof PHASES)[number], number> & { cpu: number; meanUs: number };
const traceDir = fileURLToPath(new URL('../packages/ssd/test/fixtures/traces/', import.meta.url));

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at < 0 ? fallback : String(process.argv[at + 1]);
}

function fail(message: string): never {
  console.error(`ssd-replay-phases: ${message}`);
  process.exit(2);
}

/** One replay of `trace` at `blocksPerPlane`, timed by phase. */
function runOnce(blocksPerPlane: number, trace: string, occupancy: number): Phases {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const scenario = applyOverrides(loadScenario('mqsim-default'), [{
    device: { geometry: { blocksPerDie: 4 * blocksPerPlane } },
    precondition: occupancy > 0 ? { state: 'sequential', occupancy, seed: 1 } : { state: 'none' },
    workload: { kind: 'trace', path: `${traceDir}mqsim-${trace}-small.trace` },
    outputs: { snapshotEvery: 0 },
  }]);
  const loaded = performance.now() - started;
  const times: ScenarioPhaseTimes = { trace: 0, construct: 0, precondition: 0, run: 0, finish: 0 };
  const report = runScenario(scenario, { phaseTimes: times });
  const used = process.cpuUsage(cpu);
  return { scenario: loaded, trace: times.trace, construct: times.construct, precondition: times.precondition, run: times.run, finish: times.finish, cpu: (used.user + used.system) / 1000, meanUs: report.latencyUs.mean };
}

if (process.argv.includes('--child')) {
  // The child: one case, --reps runs, one JSON line per run.
  const blocksPerPlane = Number(argument('--child-blocks', '64'));
  const trace = argument('--child-trace', 'tpcc');
  const reps = Number(argument('--reps', '6'));
  const occupancy = Number(argument('--occupancy', '0'));
  for (let i = 0; i < reps; i++) console.log(JSON.stringify(runOnce(blocksPerPlane, trace, occupancy)));
} else {
  const blocks = argument('--blocks-per-plane', '64,2048').split(',').map(Number);
  if (blocks.some((b) => !Number.isInteger(b) || b < 1)) fail(`--blocks-per-plane must be positive integers separated by commas, got ${argument('--blocks-per-plane', '')}`);
  const reps = Number(argument('--reps', '6'));
  if (!Number.isInteger(reps) || reps < 2) fail(`--reps must be an integer ≥ 2, got ${argument('--reps', '')}`);
  const processes = Number(argument('--processes', '1'));
  if (!Number.isInteger(processes) || processes < 1) fail(`--processes must be a positive integer, got ${argument('--processes', '')}`);
  const traces = argument('--traces', 'tpcc,wsrch').split(',');
  if (traces.some((t) => t !== 'tpcc' && t !== 'wsrch')) fail(`--traces must name tpcc and/or wsrch, got ${argument('--traces', '')}`);
  const occupancy = Number(argument('--occupancy', '0'));
  if (!(occupancy >= 0 && occupancy < 1)) fail(`--occupancy must be a number in [0, 1), got ${argument('--occupancy', '')}`);
  const script = fileURLToPath(import.meta.url);
  const fmt = (p: Phases): string => `${PHASES.map((k) => `${k} ${p[k].toFixed(1)}`).join(', ')}; total ${PHASES.reduce((s, k) => s + p[k], 0).toFixed(1)} ms`;
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ms of wall time by phase`);
  for (const b of blocks) {
    for (const trace of traces) {
      const colds: Phases[] = [];
      const warms: Phases[] = [];
      for (let p = 0; p < processes; p++) {
        const out = execFileSync(process.execPath, ['--import', 'tsx', script, '--child', '--child-blocks', String(b), '--child-trace', trace, '--reps', String(reps), '--occupancy', String(occupancy)], { encoding: 'utf8' });
        const runs = out.trim().split('\n').map((line) => JSON.parse(line) as Phases);
        colds.push(runs[0]!);
        warms.push(...runs.slice(1));
      }
      // The fastest run by total, its phases taken from that one run.
      const total = (r: Phases): number => PHASES.reduce((s, k) => s + r[k], 0);
      const fastest = (runs: Phases[]): Phases => runs.reduce((best, r) => (total(r) < total(best) ? r : best));
      const cold = fastest(colds);
      const warm = fastest(warms);
      const gib = (8 * 4 * 4 * b * 256 * 8192) / 2 ** 30;
      console.log(`${trace}-small, ${b} blocks/plane (${gib} GiB), mean latency ${cold.meanUs.toFixed(1)} µs`);
      console.log(`  cold${processes > 1 ? ` (best of ${processes} processes)` : ''}: ${fmt(cold)}; CPU ${cold.cpu.toFixed(1)} ms`);
      console.log(`  warm (best of ${warms.length}): ${fmt(warm)}`);
    }
  }
  console.log(`command: npx tsx bench/ssd-replay-phases.ts --blocks-per-plane ${blocks.join(',')} --reps ${reps} --processes ${processes} --traces ${traces.join(',')}${occupancy > 0 ? ` --occupancy ${occupancy}` : ''}`);
}
