// Machine instructions and simulated cache misses per host page write of the FTL loop that
// bench/ssd-throughput.ts times (metadata-only ssd-4k, OP 20 %, greedy, uniform random writes after
// one sequential fill), counted by valgrind's cachegrind. Unlike a wall-clock rate these counts do
// not move with the machine's load, so two versions of the simulator can be compared on a noisy
// machine. The loop runs twice in a child process, with 0 and with `--writes-x` (default 2) times
// the user capacity after the same fill and warm-up; the difference divided by the extra writes is
// the steady-state cost of one host write (start-up, fill and compilation cancel out). Repeated
// runs spread by up to about 8 % (when V8 optimizes which function varies from run to run): compare
// several runs of each version.
// Under --single-threaded V8 also never finishes its concurrent on-stack replacement, so about 100
// instructions per write of the loop below run in the interpreter: the same in every version.
// Needs valgrind (Debian: apt-get install valgrind). Takes a few minutes: cachegrind runs the
// process about 50 times slower.
// Run: npx tsx bench/ssd-instructions.ts [--writes-x N]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { steadyStateFtl } from './ssd-steady-state.ts';

const childAt = process.argv.indexOf('--child');
/** The measured loop: the same as bench/ssd-throughput.ts case 1, in a function as there. */
function ftlLoop(times: number): { writes: number; userPages: number } {
  const { ftl, random } = steadyStateFtl();
  const user = ftl.userPages;
  const n = times * user;
  for (let i = 0; i < n; i++) ftl.write(random.nextInt(user));
  return { writes: n, userPages: user };
}

if (childAt >= 0) {
  console.log(JSON.stringify(ftlLoop(Number(process.argv[childAt + 1]))));
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
  const run = (extra: number): Counts => {
    const result = spawnSync(
      'valgrind',
      // --single-threaded keeps V8's background compilers out of the count, but then WebAssembly
      // never tiers up from its baseline compiler (Liftoff): --no-liftoff compiles the FTL's
      // kernel with the optimizing compiler at once, as a normal run has it within milliseconds.
      ['--tool=cachegrind', '--cache-sim=yes', '--cachegrind-out-file=/dev/null', process.execPath, '--single-threaded', '--no-liftoff', '--import', 'tsx', script, '--child', String(extra)],
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
  const base = run(0);
  const measured = run(times);
  const n = measured.writes - base.writes;
  const per = (a: number, b: number): string => ((a - b) / n).toFixed(0);
  console.log(`cachegrind, ${n} steady-state host page writes (ssd-4k, OP 20 %, greedy, metadata-only): ` +
    `${per(measured.instructions, base.instructions)} instructions, ${per(measured.d1Misses, base.d1Misses)} L1 data misses, ` +
    `${((measured.lastLevelMisses - base.lastLevelMisses) / n).toFixed(2)} last-level data misses per host write`);
  console.log(`command: npx tsx bench/ssd-instructions.ts${writesAt >= 0 ? ` --writes-x ${times}` : ''}`);
}
