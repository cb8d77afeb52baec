// yaffs2's progress bars and the shared rule (on stderr, with ETA, only when stderr is a terminal),
// on a real pseudo-terminal (util-linux `script`, as packages/ssd/test/sweep-progress.test.ts):
// import draws "import [bar] % MiB ETA" over the tree's bytes; ls, info, fsck and extract draw
// "scan [bar] % blocks ETA" over the mount scan, and extract then "extract [bar] % MiB ETA".
// A bar appears only once the command has worked for half a second (src/progress-bars.ts), so
// this few-MiB image draws none while shorter than the delay (quiet on a terminal, as on a pipe);
// YAFFS2_PROGRESS_DELAY_MS=0 shows the bars it would draw on a longer run. On a pipe, or with
// --no-progress, nothing but import's summary line reaches stderr, even with no delay; stdout
// is the same in every case. (The delay itself is unit-tested in packages/cli-kit/test/progress.test.ts.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PROGRESS_DELAY_MS, progressDelayMs } from '../src/progress-bars.ts';

const bin = new URL('../bin/yaffs2.js', import.meta.url).pathname;
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const skip = hasScript ? false : 'util-linux `script` is not installed (apt-get install bsdutils)';
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
// eslint-disable-next-line no-control-regex
const CSI = /\x1B\[[0-9;?]*[A-Za-z]|\x1B[78]/g;
/** What the terminal shows, line by line (escape codes dropped). */
const shownLines = (text: string) => text.replace(CSI, '\n').split(/[\r\n]+/).filter((l) => l.trim() !== '');
let work = '';

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'yaffs2-progress-tty-'));
  const tree = path.join(work, 'tree');
  // A few MiB in 40 files: enough pages for a bar to move, far below half a second of work.
  for (let d = 0; d < 4; d++) {
    fs.mkdirSync(path.join(tree, `directory-${d}`), { recursive: true });
    for (let f = 0; f < 10; f++) fs.writeFileSync(path.join(tree, `directory-${d}`, `file-${f}.bin`), Buffer.alloc(100_000 + 997 * f, d * 10 + f));
  }
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** What each command may write on stderr without a bar: import its summary line, the others nothing. */
const IMPORT_SUMMARY = /^imported \d+ objects, \d+ bytes, into \d+ blocks\r?\n$/;
function assertNoBar(command: string, text: string, where: string): void {
  if (command === 'import') assert.match(text, IMPORT_SUMMARY, `import: only its summary line ${where}`);
  else assert.equal(text, '', `${command}: nothing ${where}`);
}

/** The commands, writing under names tagged `tag` (each run its own image and output directory). */
function commands(tag: string): string[][] {
  const image = path.join(work, `${tag}.img`);
  return [
    ['import', path.join(work, 'tree'), image],
    ['ls', '-l', '-R', image],
    ['extract', image, path.join(work, `${tag}-out`)],
    ['fsck', image],
    ['info', image],
  ];
}

const NO_DELAY = { ...process.env, YAFFS2_PROGRESS_DELAY_MS: '0' };

function piped(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000, env });
}

/** stderr on a pseudo-terminal, stdout into a file (with the run's tag made neutral). */
function onTerminal(args: string[], tag: string, env: NodeJS.ProcessEnv = process.env): { status: number | null; terminal: string; stdout: string } {
  const stdoutFile = path.join(work, 'stdout.txt');
  const command = [process.execPath, bin, ...args].map(quote).join(' ') + ` > ${quote(stdoutFile)}`;
  const r = spawnSync('script', ['-qfec', command, '/dev/null'], { encoding: 'utf8', timeout: 120_000, env });
  return { status: r.status, terminal: r.stdout, stdout: neutral(fs.readFileSync(stdoutFile, 'utf8'), tag) };
}
const neutral = (text: string, tag: string) => text.replaceAll(path.join(work, tag), '<work>');

const SCAN_BAR = /^scan \[[█░]{40}\] \d{1,3}% \d+\/\d+ ETA (--|\d+s|\d+m\d+s)$/;
const bytesBar = (label: string) => new RegExp(`^${label} \\[[█░]{40}\\] \\d{1,3}% \\d+\\.\\d\\/\\d+\\.\\d MiB ETA (--|\\d+s|\\d+m\\d+s)$`);

describe('yaffs2 progress bars: terminal only, not before half a second', () => {
  test('on a pipe: no bar, even with no delay; stderr empty but for import\'s summary line', () => {
    for (const args of commands('piped')) {
      const r = piped(args, NO_DELAY);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assertNoBar(args[0]!, r.stderr, 'on a stderr that is not a terminal');
    }
  });

  test('on a pseudo-terminal, a run shorter than the delay: no bar, no escape codes, stdout as piped', { skip }, () => {
    const pipedOut = commands('piped-again').map((args) => neutral(piped(args).stdout, 'piped-again'));
    // The delay is set far beyond the run here: at the default half second a loaded machine could
    // take longer than that over this image and rightly draw a bar (the default is unit-tested below).
    const LONG_DELAY = { ...process.env, YAFFS2_PROGRESS_DELAY_MS: '600000' };
    commands('short').forEach((args, i) => {
      const r = onTerminal(args, 'short', LONG_DELAY);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.terminal}`);
      assertNoBar(args[0]!, r.terminal, 'on the terminal (stderr)');
      assert.equal(r.stdout, pipedOut[i], `${args[0]}: stdout as on a pipe`);
    });
  });

  test('on a pseudo-terminal past the delay: import, scan and extract bars reach 100 %; stdout as piped; --no-progress: none', { skip }, () => {
    const pipedOut = commands('piped-third').map((args) => neutral(piped(args).stdout, 'piped-third'));
    const expected: Record<string, RegExp[]> = { import: [bytesBar('import')], ls: [SCAN_BAR], extract: [SCAN_BAR, bytesBar('extract')], fsck: [SCAN_BAR], info: [SCAN_BAR] };
    commands('bars').forEach((args, i) => {
      const command = args[0]!;
      const r = onTerminal(args, 'bars', NO_DELAY);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.terminal}`);
      const lines = shownLines(r.terminal);
      const isBar = (l: string) => /^(scan|import|extract) \[/.test(l);
      const bars = lines.filter(isBar);
      for (const pattern of expected[command]!) {
        const mine = bars.filter((l) => pattern.test(l));
        assert.ok(mine.length >= 1, `${command}: a bar like ${pattern}: ${JSON.stringify(lines)}`);
        assert.match(mine.at(-1)!, /\] 100% ([\d.]+)\/\1( MiB)? ETA 0s$/, `${command}: the bar ends full`);
      }
      assert.deepEqual(bars.filter((l) => !expected[command]!.some((p) => p.test(l))), [], `${command}: no other bar`);
      const rest = lines.filter((l) => !isBar(l));
      if (command === 'import') {
        assert.equal(rest.length, 1, `import: the bar, then only its summary line: ${JSON.stringify(rest)}`);
        assert.match(`${rest[0]}\n`, IMPORT_SUMMARY);
      }
      else assert.deepEqual(rest, [], `${command}: nothing but the bar`);
      assert.ok(r.terminal.lastIndexOf('\x1B[?25h') > r.terminal.lastIndexOf('\x1B[?25l'), `${command}: the cursor is shown again`);
      assert.equal(r.stdout, pipedOut[i], `${command}: stdout as on a pipe`);
    });
    commands('quiet').forEach((args) => {
      const r = onTerminal([...args, '--no-progress'], 'quiet', NO_DELAY);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.terminal}`);
      assertNoBar(args[0]!, r.terminal, 'with --no-progress');
    });
  });

  test('YAFFS2_PROGRESS_DELAY_MS: a whole number of milliseconds, else the default', () => {
    assert.equal(PROGRESS_DELAY_MS, 500);
    assert.equal(progressDelayMs({}), 500);
    assert.equal(progressDelayMs({ YAFFS2_PROGRESS_DELAY_MS: '0' }), 0);
    assert.equal(progressDelayMs({ YAFFS2_PROGRESS_DELAY_MS: '2000' }), 2000);
    for (const bad of ['', '-1', '1.5', 'soon']) assert.equal(progressDelayMs({ YAFFS2_PROGRESS_DELAY_MS: bad }), 500, bad);
  });
});
