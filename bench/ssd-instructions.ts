// Machine instructions and simulated cache misses per host page write of the two loops that
// bench/ssd-throughput.ts times (metadata-only ssd-4k, OP 20 %, greedy, uniform random writes after
// one sequential fill): the Ftl.write loop (case 1) and SsdSimulator.run (case 2, the kernel-driven
// run loop with workload, timing and latency histograms), counted by valgrind's cachegrind. Unlike
// a wall-clock rate these counts do not move with the machine's load, so two versions of the
// simulator can be compared on a noisy machine. Each loop runs twice in a child process, with 0 and
// with `--writes-x` (default 2) times the user capacity after the same fill and warm-up; the
// difference divided by the extra writes is the steady-state cost of one host write (start-up,
// fill and compilation cancel out). Repeated runs spread by a few percent (when V8 optimizes which
// function varies from run to run): compare several runs of each version.
// Under --single-threaded V8 also never finishes its concurrent on-stack replacement, so about 100
// instructions per write of the Ftl.write loop below run in the interpreter: the same in every
// version (SsdSimulator.run has no JavaScript per write).
// Needs valgrind (Debian: apt-get install valgrind). Takes a few minutes: cachegrind runs the
// process about 50 times slower.
// Run: npx tsx bench/ssd-instructions.ts [--writes-x N]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { geometryPreset } from '@flashdiff/nand';
import { SsdSimulator } from '@flashdiff/ssd';
import { steadyStateFtl } from './ssd-steady-state.ts';

const childAt = process.argv.indexOf('--child');
type Loop = 'ftl' | 'simulator';
/** The measured loops: bench/ssd-throughput.ts cases 1 and 2, in functions as there. */
function measuredLoop(loop: Loop, times: number): { writes: number; userPages: number } {
  if (loop === 'ftl') {
    const { ftl, random } = steadyStateFtl();
    const user = ftl.userPages;
    const n = times * user;
    for (let i = 0; i < n; i++) ftl.write(random.nextInt(user));
    return { writes: n, userPages: user };
  }
  const sim = new SsdSimulator({ geometry: geometryPreset('ssd-4k'), ftl: { overProvisioning: 0.2, gcPolicy: 'greedy' }, workload: { kind: 'uniform', seed: 1 } });
  sim.precondition();
  sim.run(sim.userPages);
  sim.startMeasurement();
  const n = times * sim.userPages;
  if (n > 0) sim.run(n);
  return { writes: n, userPages: sim.userPages };
}

if (childAt >= 0) {
  console.log(JSON.stringify(measuredLoop(process.argv[childAt + 1] as Loop, Number(process.argv[childAt + 2]))));
} else {
  const writesAt = process.argv.indexOf('--writes-x');
  const times = writesAt >= 0 ? Number(process.argv[writesAt + 1]) : 2;
  if (!Number.isInteger(times) || times < 1) {
    console.error(`ssd-instructions: --writes-x must be a positive integer, got ${process.argv[writesAt + 1]}`);
    process.exit(2);
  }
  if (spawnSync('valgrind', ['--version']).status !== 0) {
    console.error('ssd-instructions: valgrind is not installed (Debian: apt-get install valgrind)');
    process.exit(2);
  }
  const script = fileURLToPath(import.meta.url);
  interface Counts {
    instructions: number;
    d1Misses: number;
    lastLevelMisses: number;
    writes: number;
  }
  const run = (loop: Loop, extra: number): Counts => {
    const result = spawnSync(
      'valgrind',
      // --single-threaded keeps V8's background compilers out of the count, but then WebAssembly
      // never tiers up from its baseline compiler (Liftoff): --no-liftoff compiles the FTL's
      // kernel with the optimizing compiler at once, as a normal run has it within milliseconds.
      ['--tool=cachegrind', '--cache-sim=yes', '--cachegrind-out-file=/dev/null', process.execPath, '--single-threaded', '--no-liftoff', '--import', 'tsx', script, '--child', loop, String(extra)],
      { encoding: 'utf8', maxBuffer: 1 << 26 },
    );
    if (result.status !== 0) {
      console.error(`ssd-instructions: the measured child failed (exit ${result.status}):\n${result.stderr.slice(-2000)}`);
      process.exit(1);
    }
    // cachegrind's summary lines, e.g. "==123== I   refs:      2,144,279,785".
    const count = (label: string): number => {
      const line = result.stderr.split('\n').find((l) => new RegExp(`==\\d+== ${label}`).test(l));
      if (line === undefined) throw new Error(`no "${label}" line in cachegrind's output`);
      return Number(line.split(':')[1]!.trim().split(/\s+/)[0]!.replaceAll(',', ''));
    };
    const written = JSON.parse(result.stdout.trim().split('\n').pop()!) as { writes: number };
    return { instructions: count('I\\s+refs'), d1Misses: count('D1\\s+misses'), lastLevelMisses: count('LLd misses'), writes: written.writes };
  };
  for (const [loop, label] of [['ftl', 'Ftl.write loop'], ['simulator', 'SsdSimulator.run']] as const) {
    const base = run(loop, 0);
    const measured = run(loop, times);
    const n = measured.writes - base.writes;
    const per = (a: number, b: number): string => ((a - b) / n).toFixed(0);
    console.log(`${label}, cachegrind, ${n} steady-state host page writes (ssd-4k, OP 20 %, greedy, metadata-only): ` +
      `${per(measured.instructions, base.instructions)} instructions, ${per(measured.d1Misses, base.d1Misses)} L1 data misses, ` +
      `${((measured.lastLevelMisses - base.lastLevelMisses) / n).toFixed(2)} last-level data misses per host write`);
  }
  console.log(`command: npx tsx bench/ssd-instructions.ts${writesAt >= 0 ? ` --writes-x ${times}` : ''}`);
}
