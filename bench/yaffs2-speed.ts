/**
 * Whole-process speed of the yaffs2 CLI against the C tools, side by side in one run (issue 16:
 * `import` ≤ 2× mkyaffs2image's wall time, `extract` ≤ 2× unyaffs's):
 *   import   — `yaffs2 import tree a.img`      vs `mkyaffs2image tree b.img`
 *   extract  — `yaffs2 extract b.img out1`     vs `unyaffs b.img out2` (the same image)
 *   start-up — `yaffs2 --version`              (the CLI's fixed cost)
 * over a seeded tree of about 50 MB in a few hundred files. Each command runs 3 times; the best
 * wall time counts. unyaffs is Debian's (apt-get install unyaffs); mkyaffs2image is not packaged:
 * build it from upstream's utils/ (see packages/yaffs2/test/fixtures/README.md) and pass its path
 * with --mkyaffs2image (or MKYAFFS2IMAGE=); without it the import row compares nothing.
 *
 * The CLI bundle is rebuilt first; CPU times (user + system, GNU time) print beside wall times.
 * Run: npx tsx bench/yaffs2-speed.ts [--mb 50] [--mkyaffs2image /tmp/mkyaffs2image]
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
const cli = fileURLToPath(new URL('../packages/yaffs2/bin/yaffs2.js', import.meta.url));

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
let cpuOfLast = NaN;

/**
 * Best wall time of 3 runs, in seconds; `before` runs untimed before each (clean-up). Also the
 * least CPU time (user + system) of the 3 into {@link cpuOfLast}: on a loaded machine wall times
 * mostly measure the wait for a core, CPU times much less so.
 */
function time(label: string, command: string, args: string[], before: () => void): number {
  let best = Infinity;
  let cpu = Infinity;
  const cpuFile = path.join(work, 'cpu.txt');
  const viaTime = fs.existsSync(gnuTime);
  for (let run = 0; run < 3; run++) {
    before();
    const t0 = performance.now();
    const r = viaTime
      ? spawnSync(gnuTime, ['-f', '%U %S', '-o', cpuFile, command, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
      : spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    const s = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`${label}: ${command} exited ${r.status}: ${r.stderr}`);
    best = Math.min(best, s);
    if (viaTime) {
      const [user, system] = fs.readFileSync(cpuFile, 'utf8').trim().split(/\s+/).map(Number);
      cpu = Math.min(cpu, user! + system!);
    }
  }
  cpuOfLast = cpu;
  return best;
}
const cpuText = (): string => (Number.isFinite(cpuOfLast) ? `cpu ${cpuOfLast.toFixed(2)} s` : 'cpu n/a');

function available(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v "${command}"`]).status === 0;
}

// Time the compiled CLI: bin/yaffs2.js runs the bundle only when it is newer than every source
// (packages/yaffs2, nand, cli-kit), else the sources through tsx (about 0.4 s more per start).
const built = spawnSync('npm', ['run', 'build', '-w', 'packages/yaffs2'], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: 'pipe', encoding: 'utf8' });
if (built.status !== 0) throw new Error(`npm run build -w packages/yaffs2 failed: ${built.stderr}`);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-speed-'));
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
  const ours = path.join(work, 'ours.img');
  const theirs = path.join(work, 'theirs.img');
  const rm = (...paths: string[]) => () => {
    for (const p of paths) fs.rmSync(p, { recursive: true, force: true });
  };
  console.log(`tree: ${files} files, ${mb.toFixed(1)} MiB; best of 3 whole-process wall times`);
  const startUp = time('start-up', process.execPath, [cli, '--version'], () => {});
  console.log(`start-up  yaffs2 --version                 ${startUp.toFixed(3)} s`);
  const startCpu = cpuOfLast;
  console.log(`          (${cpuText()})`);
  const importOurs = time('import', process.execPath, [cli, 'import', tree, ours], rm(ours));
  const importOursCpu = cpuOfLast;
  let reference = ours;
  if (mkyaffs2image && fs.existsSync(mkyaffs2image)) {
    const importTheirs = time('mkyaffs2image', mkyaffs2image, [tree, theirs], rm(theirs));
    const importTheirsCpu = cpuOfLast;
    reference = theirs;
    console.log(`import    yaffs2 ${importOurs.toFixed(2)} s (${(mb / importOurs).toFixed(0)} MiB/s)   mkyaffs2image ${importTheirs.toFixed(2)} s   ratio ${(importOurs / importTheirs).toFixed(2)}× (target ≤ 2)`);
    console.log(`          cpu: yaffs2 ${importOursCpu.toFixed(2)} s (start-up ${startCpu.toFixed(2)} s)   mkyaffs2image ${importTheirsCpu.toFixed(2)} s   ratio ${(importOursCpu / importTheirsCpu).toFixed(2)}×`);
  } else {
    console.log(`import    yaffs2 ${importOurs.toFixed(2)} s (${(mb / importOurs).toFixed(0)} MiB/s)   mkyaffs2image: not given (--mkyaffs2image PATH)`);
  }
  const out1 = path.join(work, 'out1');
  const out2 = path.join(work, 'out2');
  const extractOurs = time('extract', process.execPath, [cli, 'extract', reference, out1], rm(out1));
  const extractOursCpu = cpuOfLast;
  if (available('unyaffs')) {
    const extractTheirs = time('unyaffs', 'unyaffs', [reference, out2], rm(out2));
    const extractTheirsCpu = cpuOfLast;
    console.log(`extract   yaffs2 ${extractOurs.toFixed(2)} s (${(mb / extractOurs).toFixed(0)} MiB/s)   unyaffs ${extractTheirs.toFixed(2)} s   ratio ${(extractOurs / extractTheirs).toFixed(2)}× (target ≤ 2)`);
    console.log(`          cpu: yaffs2 ${extractOursCpu.toFixed(2)} s   unyaffs ${extractTheirsCpu.toFixed(2)} s   ratio ${(extractOursCpu / extractTheirsCpu).toFixed(2)}×`);
  } else {
    console.log(`extract   yaffs2 ${extractOurs.toFixed(2)} s   unyaffs: not installed`);
  }
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`command: npx tsx bench/yaffs2-speed.ts --mb ${targetMb}${mkyaffs2image ? ` --mkyaffs2image ${mkyaffs2image}` : ''}`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
