/**
 * Whole-process speed of the yaffs2 CLI against the C tools, side by side in one run (issue 16:
 * `import` ≤ 2× mkyaffs2image's wall time, `extract` ≤ 2× unyaffs's):
 *   import   — `yaffs2 import tree a.img`      vs `mkyaffs2image tree b.img`
 *   extract  — `yaffs2 extract b.img out1`     vs `unyaffs b.img out2` (the same image)
 *   start-up — `yaffs2 --version`              (the CLI's fixed cost) vs `node -e 0` (Node's own)
 *   load     — `yaffs2 --version` with its code cache, with YAFFS2_CODE_CACHE=off, and the bundle
 *              required directly (no staleness check, no cache): what bin/bundle.js saves
 *   tiny     — `yaffs2 import` of a one-file tree vs mkyaffs2image of it (fixed costs of a command)
 * over a seeded tree of about 50 MB in a few hundred files. Each pair runs 5 times, ours and
 * theirs alternating (so a change of load hits both alike), ours first in even runs and last in
 * odd ones (so what a run leaves behind, such as dirty pages being written back, falls on both
 * alike); the best wall and CPU times count. unyaffs is Debian's (apt-get install unyaffs); mkyaffs2image is not packaged:
 * build it from upstream's utils/ (see packages/yaffs2/test/fixtures/README.md) and pass its path
 * with --mkyaffs2image (or MKYAFFS2IMAGE=); without it the import row compares nothing.
 *
 * The CLI bundle is rebuilt first and copied (see installDir); CPU times (user + system, GNU time) print beside wall times.
 * With --before PATH (another checkout's packages/yaffs2/bin/yaffs2.js, e.g. an older commit's,
 * built), that CLI runs in the same alternation and prints beside ours: a before/after in one run.
 * With --perf, CPU times come from `perf stat -e task-clock` (ms resolution) in a run of their own
 * after each timed one (wall times then are of the bare commands).
 * Best and median of the runs print side by side (the best is the least disturbed run; the
 * median shows how much the rest vary), and the ratios of both.
 * With --out-dir DIR the extracts write under DIR (e.g. /dev/shm, a tmpfs) instead of the work
 * directory under the system's temporary directory. Where that is ext4 without a journal (this
 * machine's /), creating a file costs 0.1–0.4 ms of CPU in the kernel, growing with the files
 * deleted in the last minute or so (ext4's recently_deleted() check walks them: the bench deletes
 * each run's output before the next), so both extracts then mostly time inode allocation.
 * With --fresh-outputs every extract run writes a directory of its own, all deleted after the
 * extract rows (so no run creates its files right after the previous run's were deleted: creating
 * files is then as cheap as it gets on that file system; needs runs × 2 × the tree on disk).
 * Ours runs as the command, bin/yaffs2.js executed as npm's link to it is (its shell header
 * starts Node from the CLI's startup snapshot, dist/yaffs2.blob, when it fits); the start-up,
 * load and extract rows also time it with YAFFS2_SNAPSHOT=off (the header then runs `node
 * bin/yaffs2.js`), and --node-bin times `node bin/yaffs2.js` throughout instead (as before the
 * snapshot). The --before CLI always runs as `node PATH`.
 * NODE_EXTRA_CA_CERTS, when set (this machine's environment sets it to the system's whole CA
 * bundle), makes every Node process parse those certificates before any JavaScript runs (about
 * half of `node -e 0` here): the start-up row then also times `node -e 0` without it, and
 * --no-extra-ca-certs runs every command (both tools alike) without it, as on a machine that
 * does not set it. yaffs2 makes no TLS connection; the variable changes nothing else it does.
 * Run: npx tsx bench/yaffs2-speed.ts [--mb 50] [--runs 5] [--mkyaffs2image /tmp/mkyaffs2image] [--before PATH] [--perf] [--out-dir DIR] [--fresh-outputs] [--no-extra-ca-certs] [--node-bin]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
};
const targetMb = Number(option('mb', '50'));
const mkyaffs2image = option('mkyaffs2image', process.env.MKYAFFS2IMAGE ?? '');
/**
 * Ours runs from a copy of the built package (bin/, the bundle, package.json) in a directory of
 * the bench's own, with its own code cache and startup snapshot made there (below): edits to
 * the working tree during the runs (other people's, to yaffs2, nand or cli-kit) would make the
 * bin rebuild the bundle in a timed run and leave the snapshot older than it, unused.
 */
const installDir = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-speed-cli-'));
process.on('exit', () => fs.rmSync(installDir, { recursive: true, force: true }));
const cli = path.join(installDir, 'bin', 'yaffs2.js');
const beforeCli = option('before', '');
/** Every timed command runs without NODE_EXTRA_CA_CERTS (spawnSync passes process.env on). */
const noExtraCaCerts = argv.includes('--no-extra-ca-certs');
const extraCaCerts = process.env.NODE_EXTRA_CA_CERTS;
/** Ours as `node bin/yaffs2.js …` (--node-bin) or as the command `bin/yaffs2.js …` (the default, as a user runs it). */
const asNode = argv.includes('--node-bin');
const ourCommand = asNode ? process.execPath : cli;
const ours = (...args: string[]): string[] => (asNode ? [cli, ...args] : args);
if (noExtraCaCerts) delete process.env.NODE_EXTRA_CA_CERTS;
/** The environment without the startup snapshot (made after the line above: otherwise as every command's). */
const snapshotOff = { ...process.env, YAFFS2_SNAPSHOT: 'off' };

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** CPU seconds (user + system) of the last timed run, from GNU time when it is installed. */
const gnuTime = '/usr/bin/time';

interface Timing {
  /** Best (least) of the runs. */
  wall: number;
  cpu: number;
  /** Median of the runs. */
  wallMedian: number;
  cpuMedian: number;
}

/** One run's times. */
interface Sample {
  wall: number;
  cpu: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * With --perf: CPU times from `perf stat -e task-clock` (milliseconds; GNU time's are in
 * hundredths, too coarse for a 0.05 s process), taken in a run of their own right after the
 * timed one, so that the wall time is of the bare command (no wrapper at all).
 */
const usePerf = argv.includes('--perf');
if (usePerf && spawnSync('perf', ['stat', '-x,', '-e', 'task-clock', 'true'], { stdio: 'ignore' }).status !== 0) {
  throw new Error('--perf: `perf stat -e task-clock` does not run here');
}

/** CPU seconds of one run of the command under perf stat (task-clock: every thread's time on a CPU). */
function perfCpu(label: string, command: string, args: string[], env?: NodeJS.ProcessEnv): number {
  const out = path.join(work, 'perf.txt');
  const r = spawnSync('perf', ['stat', '-x,', '-e', 'task-clock', '-o', out, '--', command, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`${label}: perf stat ${command} exited ${r.status}: ${r.stderr}`);
  const line = fs.readFileSync(out, 'utf8').split('\n').find((l) => l.includes('task-clock'));
  const ms = Number(line?.split(',')[0]);
  if (!Number.isFinite(ms)) throw new Error(`${label}: no task-clock in perf's output`);
  return ms / 1000;
}

/** One whole-process run: wall seconds, and CPU seconds (user + system) where GNU time is installed (or perf, with --perf). */
function runOnce(label: string, command: string, args: string[], env?: NodeJS.ProcessEnv, before?: () => void): Sample {
  const cpuFile = path.join(work, 'cpu.txt');
  if (usePerf) {
    const t0 = performance.now();
    const r = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env });
    const wall = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`${label}: ${command} exited ${r.status}: ${r.stderr}`);
    before?.();
    return { wall, cpu: perfCpu(label, command, args, env) };
  }
  const viaTime = fs.existsSync(gnuTime);
  const t0 = performance.now();
  const r = viaTime
    ? spawnSync(gnuTime, ['-f', '%U %S', '-o', cpuFile, command, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env })
    : spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${label}: ${command} exited ${r.status}: ${r.stderr}`);
  let cpu = NaN;
  if (viaTime) {
    const [user, system] = fs.readFileSync(cpuFile, 'utf8').trim().split(/\s+/).map(Number);
    cpu = user! + system!;
  }
  return { wall, cpu };
}

interface Command {
  label: string;
  command: string;
  args: string[];
  /** Runs untimed before each run (clean-up). */
  before: () => void;
  /** The environment, when not this process's. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Best wall and CPU times of {@link RUNS} runs of each command, the commands alternating run by
 * run: on a loaded machine wall times mostly measure the wait for a core (CPU times much less
 * so), and alternating gives both sides the same share of it.
 */
const RUNS = Number(option('runs', '5'));
function timeSideBySide(...commands: Command[]): Timing[] {
  // The --before CLI: the same command as ours (the first), run by the other bin, timed last.
  if (beforeCli) {
    const first = commands[0]!;
    // Its output (the last argument, when ours writes one) goes beside ours.
    const other = [beforeCli, ...(asNode ? first.args.slice(1) : first.args)];
    const last = other.length - 1;
    const output = other[last]!.startsWith(work) || other[last]!.startsWith(outDir) ? `${other[last]!}.before` : null;
    if (output) other[last] = output;
    let fresh = 0;
    const clean = (): void => {
      if (output && freshOutputs) other[last] = `${output}-${fresh++}`;
      else if (output) fs.rmSync(output, { recursive: true, force: true });
    };
    commands = [...commands, { label: `before ${first.label}`, command: process.execPath, args: other, before: clean }];
  }
  const samples: Sample[][] = commands.map(() => []);
  for (let run = 0; run < RUNS; run++) {
    // Ours first in even runs, last in odd ones (ABBA): whatever one run leaves the next (dirty
    // pages being written back, inodes just freed, a CPU's frequency) falls on both sides alike.
    const order = commands.map((_, i) => i);
    if (run % 2 === 1) order.reverse();
    for (const i of order) {
      const c = commands[i]!;
      c.before();
      samples[i]!.push(runOnce(c.label, c.command, c.args, c.env, c.before));
    }
  }
  const best: Timing[] = samples.map((runs) => ({
    wall: Math.min(...runs.map((r) => r.wall)),
    cpu: Math.min(...runs.map((r) => r.cpu)),
    wallMedian: median(runs.map((r) => r.wall)),
    cpuMedian: median(runs.map((r) => r.cpu)),
  }));
  if (beforeCli) {
    const b = best[best.length - 1]!;
    const a = best[0]!;
    console.log(
      `  (before: ${commands[0]!.label} ${b.wall.toFixed(3)} s, cpu ${b.cpu.toFixed(cpuDigits)} s, medians ${b.wallMedian.toFixed(3)} / ${b.cpuMedian.toFixed(cpuDigits)} s; now ${a.wall.toFixed(3)} s, cpu ${a.cpu.toFixed(cpuDigits)} s, medians ${a.wallMedian.toFixed(3)} / ${a.cpuMedian.toFixed(cpuDigits)} s)`,
    );
  }
  return best;
}
const cpuDigits = usePerf ? 3 : 2;
const cpuText = (t: Timing): string => (Number.isFinite(t.cpu) ? `cpu ${t.cpu.toFixed(cpuDigits)} s` : 'cpu n/a');

function available(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v "${command}"`]).status === 0;
}

// Time the compiled CLI: bin/yaffs2.js runs dist/yaffs2.cjs, rebuilding it first when a source
// of yaffs2, nand or cli-kit is newer; built here so that no timed run pays for a build.
const built = spawnSync('npm', ['run', 'build', '-w', 'packages/yaffs2'], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: 'pipe', encoding: 'utf8' });
if (built.status !== 0) throw new Error(`npm run build -w packages/yaffs2 failed: ${built.stderr}`);

// The copy (see installDir): its bundle current (dated after bin/, the one source of it copied
// along; the rest are absent there), then the code cache trained and the snapshot made by the
// copy's own build script, as `npm install` would.
{
  const packageDir = fileURLToPath(new URL('../packages/yaffs2/', import.meta.url));
  fs.cpSync(path.join(packageDir, 'bin'), path.join(installDir, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(packageDir, 'package.json'), path.join(installDir, 'package.json'));
  fs.mkdirSync(path.join(installDir, 'dist'));
  for (const f of ['yaffs2.cjs', 'yaffs2.inputs.json']) fs.copyFileSync(path.join(packageDir, 'dist', f), path.join(installDir, 'dist', f));
  const older = new Date(Date.now() - 120_000);
  for (const f of fs.readdirSync(path.join(installDir, 'bin'))) fs.utimesSync(path.join(installDir, 'bin', f), older, older);
  const before = new Date(Date.now() - 60_000);
  fs.utimesSync(path.join(installDir, 'dist', 'yaffs2.cjs'), before, before);
  const build = JSON.stringify(path.join(installDir, 'bin', 'build.js'));
  const made = spawnSync(process.execPath, ['-e', `const b = require(${build}); b.trainCodeCache(); process.exitCode = b.buildSnapshot() ? 0 : 1`], { stdio: 'pipe', encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`the startup snapshot of the copy in ${installDir} was not made: ${made.stderr}`);
  // That the command starts from it (a preloaded probe reports Node's options).
  const probe = path.join(installDir, 'probe.cjs');
  fs.writeFileSync(probe, "process.on('exit', () => process.stderr.write(process.execArgv.includes('--snapshot-blob') ? 'snapshot' : 'none'));\n");
  const started = spawnSync(cli, ['--version'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: `--require ${probe}` } });
  if (!asNode && started.stderr !== 'snapshot') throw new Error(`${cli} did not start from its startup snapshot: ${started.stderr}`);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-speed-'));
const outDirOption = option('out-dir', '');
const freshOutputs = argv.includes('--fresh-outputs');
const outDir = outDirOption ? fs.mkdtempSync(path.join(outDirOption, 'yaffs2-speed-out-')) : work;
try {
  const tree = path.join(work, 'tree');
  const random = mulberry32(16);
  let total = 0;
  let files = 0;
  while (total < targetMb * 1024 * 1024) {
    const pick = random();
    const size = pick < 0.6 ? Math.floor(random() * 16384) : pick < 0.9 ? Math.floor(random() * 262144) : Math.floor(random() * 2_097_152);
    const dir = path.join(tree, `d${files % 13}`, `e${files % 4}`);
    fs.mkdirSync(dir, { recursive: true });
    const data = Buffer.alloc(size);
    for (let i = 0; i + 4 <= size; i += 4) data.writeUInt32LE((random() * 0x100000000) >>> 0, i);
    fs.writeFileSync(path.join(dir, `f${files}.bin`), data);
    total += size;
    files++;
  }
  const mb = total / (1024 * 1024);
  const oursImage = path.join(work, 'ours.img');
  const theirs = path.join(work, 'theirs.img');
  const rm = (...paths: string[]) => () => {
    for (const p of paths) fs.rmSync(p, { recursive: true, force: true });
  };
  console.log(`tree: ${files} files, ${mb.toFixed(1)} MiB; best of ${RUNS} whole-process runs, ours and theirs alternating`);
  const none = (): void => {};
  // Where NODE_EXTRA_CA_CERTS is set (and kept): `node -e 0` without it too, what it costs every Node start.
  const withoutCa: Command[] = [];
  if (extraCaCerts !== undefined && !noExtraCaCerts) {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    withoutCa.push({ label: 'node without NODE_EXTRA_CA_CERTS', command: process.execPath, args: ['-e', '0'], before: none, env });
  }
  const [startUp, bare, bareWithoutCa] = timeSideBySide(
    { label: 'start-up', command: ourCommand, args: ours('--version'), before: none },
    { label: 'node', command: process.execPath, args: ['-e', '0'], before: none },
    ...withoutCa,
  );
  console.log(
    `start-up  yaffs2 --version ${startUp!.wall.toFixed(3)} s (${cpuText(startUp!)})   node -e 0 ${bare!.wall.toFixed(3)} s (${cpuText(bare!)})` +
      (bareWithoutCa ? `   without NODE_EXTRA_CA_CERTS ${bareWithoutCa.wall.toFixed(3)} s (${cpuText(bareWithoutCa)})` : ''),
  );
  if (extraCaCerts !== undefined) {
    console.log(`          NODE_EXTRA_CA_CERTS=${extraCaCerts} ${noExtraCaCerts ? 'removed for every command (--no-extra-ca-certs)' : 'set for every command (--no-extra-ca-certs removes it)'}`);
  }
  // What loading the bundle costs, and what the code cache (bin/bundle.js) saves of it: the
  // bundle alone (plain require, no staleness check, no cache) and the bin with the cache off.
  const bundle = path.join(installDir, 'dist', 'yaffs2.cjs');
  // And what the startup snapshot saves: the command with it and without (YAFFS2_SNAPSHOT=off).
  const [cached, noCache, plain, snapshot, noSnapshot] = timeSideBySide(
    { label: 'cached start-up', command: process.execPath, args: [cli, '--version'], before: none },
    { label: 'start-up, cache off', command: process.execPath, args: [cli, '--version'], before: none, env: { ...process.env, YAFFS2_CODE_CACHE: 'off' } },
    { label: 'bundle alone', command: process.execPath, args: [bundle, '--version'], before: none },
    { label: 'snapshot start-up', command: cli, args: ['--version'], before: none },
    { label: 'start-up, snapshot off', command: cli, args: ['--version'], before: none, env: snapshotOff },
  );
  console.log(
    `load      node bin/yaffs2.js: code cache ${cached!.wall.toFixed(3)} s (${cpuText(cached!)})   cache off ${noCache!.wall.toFixed(3)} s (${cpuText(noCache!)})   bundle required directly ${plain!.wall.toFixed(3)} s (${cpuText(plain!)})`,
  );
  console.log(`          bin/yaffs2.js as a command: snapshot ${snapshot!.wall.toFixed(3)} s (${cpuText(snapshot!)})   YAFFS2_SNAPSHOT=off ${noSnapshot!.wall.toFixed(3)} s (${cpuText(noSnapshot!)})`);
  const tiny = path.join(work, 'tiny');
  fs.mkdirSync(tiny);
  fs.writeFileSync(path.join(tiny, 'hello.txt'), 'hello\n');
  const tinyOurs = path.join(work, 'tiny-ours.img');
  const tinyTheirs = path.join(work, 'tiny-theirs.img');
  const tinyImport: Command = { label: 'tiny import', command: ourCommand, args: ours('import', tiny, tinyOurs), before: rm(tinyOurs) };
  if (mkyaffs2image && fs.existsSync(mkyaffs2image)) {
    const [a, b] = timeSideBySide(tinyImport, { label: 'tiny mkyaffs2image', command: mkyaffs2image, args: [tiny, tinyTheirs], before: rm(tinyTheirs) });
    console.log(`tiny      yaffs2 import ${a!.wall.toFixed(3)} s (${cpuText(a!)})   mkyaffs2image ${b!.wall.toFixed(3)} s (${cpuText(b!)})   one 6-byte file`);
  } else {
    const [a] = timeSideBySide(tinyImport);
    console.log(`tiny      yaffs2 import ${a!.wall.toFixed(3)} s (${cpuText(a!)})   one 6-byte file`);
  }
  const importOurs: Command = { label: 'import', command: ourCommand, args: ours('import', tree, oursImage), before: rm(oursImage) };
  let reference = oursImage;
  if (mkyaffs2image && fs.existsSync(mkyaffs2image)) {
    const [a, b] = timeSideBySide(importOurs, { label: 'mkyaffs2image', command: mkyaffs2image, args: [tree, theirs], before: rm(theirs) });
    reference = theirs;
    console.log(`import    yaffs2 ${a!.wall.toFixed(3)} s (${(mb / a!.wall).toFixed(0)} MiB/s)   mkyaffs2image ${b!.wall.toFixed(3)} s   ratio ${(a!.wall / b!.wall).toFixed(2)}× (target ≤ 2)`);
    console.log(`          cpu: yaffs2 ${a!.cpu.toFixed(cpuDigits)} s (start-up ${startUp!.cpu.toFixed(cpuDigits)} s)   mkyaffs2image ${b!.cpu.toFixed(cpuDigits)} s   ratio ${(a!.cpu / b!.cpu).toFixed(2)}×`);
    console.log(`          medians: yaffs2 ${a!.wallMedian.toFixed(3)} s   mkyaffs2image ${b!.wallMedian.toFixed(3)} s   ratio ${(a!.wallMedian / b!.wallMedian).toFixed(2)}×; cpu ratio ${(a!.cpuMedian / b!.cpuMedian).toFixed(2)}×`);
  } else {
    const [a] = timeSideBySide(importOurs);
    console.log(`import    yaffs2 ${a!.wall.toFixed(3)} s (${(mb / a!.wall).toFixed(0)} MiB/s, ${cpuText(a!)})   mkyaffs2image: not given (--mkyaffs2image PATH)`);
  }
  const out1 = path.join(outDir, 'out1');
  const out2 = path.join(outDir, 'out2');
  /** Before each run: the output deleted, or (--fresh-outputs) a new output path for it. */
  const outputFor = (args: string[], base: string): (() => void) => {
    let n = 0;
    return freshOutputs ? () => void (args[args.length - 1] = `${base}-${n++}`) : rm(base);
  };
  const oursArgs = ours('extract', reference, out1);
  const theirsArgs = [reference, out2];
  const extractOurs: Command = { label: 'extract', command: ourCommand, args: oursArgs, before: outputFor(oursArgs, out1) };
  // The command without its snapshot, in the same alternation (not with --node-bin).
  const out3 = path.join(outDir, 'out3');
  const noSnapshotArgs = ['extract', reference, out3];
  const extractNoSnapshot: Command[] = asNode ? [] : [{ label: 'extract, snapshot off', command: cli, args: noSnapshotArgs, before: outputFor(noSnapshotArgs, out3), env: snapshotOff }];
  if (available('unyaffs')) {
    const [a, b, c] = timeSideBySide(extractOurs, { label: 'unyaffs', command: 'unyaffs', args: theirsArgs, before: outputFor(theirsArgs, out2) }, ...extractNoSnapshot);
    console.log(`extract   yaffs2 ${a!.wall.toFixed(3)} s (${(mb / a!.wall).toFixed(0)} MiB/s)   unyaffs ${b!.wall.toFixed(3)} s   ratio ${(a!.wall / b!.wall).toFixed(2)}× (target ≤ 2)`);
    console.log(`          cpu: yaffs2 ${a!.cpu.toFixed(cpuDigits)} s   unyaffs ${b!.cpu.toFixed(cpuDigits)} s   ratio ${(a!.cpu / b!.cpu).toFixed(2)}×`);
    console.log(`          medians: yaffs2 ${a!.wallMedian.toFixed(3)} s   unyaffs ${b!.wallMedian.toFixed(3)} s   ratio ${(a!.wallMedian / b!.wallMedian).toFixed(2)}×; cpu ratio ${(a!.cpuMedian / b!.cpuMedian).toFixed(2)}×   (into ${outDir === work ? os.tmpdir() : outDirOption}${freshOutputs ? ', a fresh directory each run' : ''})`);
    if (c) console.log(`          (YAFFS2_SNAPSHOT=off: extract ${c.wall.toFixed(3)} s, cpu ${c.cpu.toFixed(cpuDigits)} s, medians ${c.wallMedian.toFixed(3)} / ${c.cpuMedian.toFixed(cpuDigits)} s; ratio ${(c.wall / b!.wall).toFixed(2)}× best, ${(c.wallMedian / b!.wallMedian).toFixed(2)}× median)`);
  } else {
    const [a] = timeSideBySide(extractOurs);
    console.log(`extract   yaffs2 ${a!.wall.toFixed(3)} s (${cpuText(a!)})   unyaffs: not installed`);
  }
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`command: npx tsx bench/yaffs2-speed.ts --mb ${targetMb} --runs ${RUNS}${mkyaffs2image ? ` --mkyaffs2image ${mkyaffs2image}` : ''}${beforeCli ? ` --before ${beforeCli}` : ''}${usePerf ? ' --perf' : ''}${outDirOption ? ` --out-dir ${outDirOption}` : ''}${freshOutputs ? ' --fresh-outputs' : ''}${noExtraCaCerts ? ' --no-extra-ca-certs' : ''}${asNode ? ' --node-bin' : ''}`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
  if (outDir !== work) fs.rmSync(outDir, { recursive: true, force: true });
}
