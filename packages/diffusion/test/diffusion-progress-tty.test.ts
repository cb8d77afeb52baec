// The diffusion CLI's progress bars, on a real pseudo-terminal (util-linux `script`, as
// packages/ssd/test/sweep-progress.test.ts): `sample` draws "sampling [bar] % n/N ETA" and
// `train` one bar per epoch whose ETA is the whole run's ("--" until a step has been timed, then
// every epoch left: epoch 1 of 2 ends with time still to go, only the last one ends at "0s"), on stderr, only when stderr is a terminal; piped, `sample` writes
// nothing on stderr and `train` only its one log line per epoch (by design: a training log in a
// file or CI keeps them); `--no-progress` drops the bar on a terminal too. The cursor the bars
// hide is shown again at the end.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeNpy } from '../src/data/npy.ts';
import { formatRunEta } from '../src/node/train-run.ts';
import { barsDataset } from './helpers.ts';

const bin = fileURLToPath(new URL('../bin/diffusion.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'diffusion-progress-tty-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const skip = hasScript ? false : 'util-linux `script` is not installed (apt-get install bsdutils)';
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
// eslint-disable-next-line no-control-regex
const CSI = /\x1B\[[0-9;?]*[A-Za-z]|\x1B[78]/g;
/** What the terminal shows, line by line (escape codes dropped). */
const shownLines = (text: string) => text.replace(CSI, '\n').split(/[\r\n]+/).filter((l) => l.trim() !== '');

/** Runs the CLI with stderr on a pseudo-terminal and stdout into a file: returns both. */
function onTerminal(args: string[]): { status: number | null; terminal: string; stdout: string } {
  const stdoutFile = join(dir, 'stdout.txt');
  const command = [process.execPath, bin, ...args].map(quote).join(' ') + ` > ${quote(stdoutFile)}`;
  const r = spawnSync('script', ['-qfec', command, '/dev/null'], { encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, terminal: r.stdout, stdout: readFileSync(stdoutFile, 'utf8') };
}

function piped(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const data = { images: join(dir, 'bars.npy'), labels: join(dir, 'bars-labels.npy') };
const ckpt = join(dir, 'ckpt');
const trainArgs = (out: string) => ['train', '--data', data.images, '--labels', data.labels, '--n-feat', '8', '--timesteps', '50', '--batch', '16', '--epochs', '2', '--sample-every', '0', '--seed', '3', '--backend', 'wasm', '--out', out];

before(() => {
  const d = barsDataset(64, 4);
  writeFileSync(data.images, encodeNpy('|u1', [d.count, 8, 8, 1], Uint8Array.from(d.images, (v) => Math.round(((Math.max(-1, Math.min(1, v)) + 1) / 2) * 255))));
  writeFileSync(data.labels, encodeNpy('<i4', [d.count], d.labels as Int32Array));
  const r = piped([...trainArgs(ckpt), '--no-progress']);
  assert.equal(r.status, 0, r.stderr);
});

describe('diffusion progress bars: terminal only', () => {
  test('sample: a bar with count and ETA on a terminal, the result on stdout; piped, stderr stays empty', { skip }, () => {
    const args = ['sample', '--checkpoint', ckpt, '--sampler', 'ddpm', '--steps', '50', '--n', '4', '--backend', 'wasm'];
    const tty = onTerminal([...args, '--out', join(dir, 'tty.png')]);
    assert.equal(tty.status, 0, tty.terminal);
    const lines = shownLines(tty.terminal);
    const bars = lines.filter((l) => l.startsWith('sampling ['));
    assert.ok(bars.length >= 2, `bar lines on the terminal: ${JSON.stringify(lines)}`);
    for (const bar of bars) assert.match(bar, /^sampling \[[█░]{40}\] \d{1,3}% \d{1,2}\/50 ETA (--|\d+s|\d+m\d+s)$/);
    assert.match(bars.at(-1)!, /^sampling \[█{40}\] 100% 50\/50 ETA 0s$/);
    assert.deepEqual(lines.filter((l) => !l.startsWith('sampling [')), [], 'nothing but the bar on the terminal');
    assert.ok(tty.terminal.lastIndexOf('\x1B[?25h') > tty.terminal.lastIndexOf('\x1B[?25l'), 'the cursor is shown again');
    assert.match(tty.stdout, /tty\.png: 4 images, ddpm 50 steps, /);

    const pipe = piped([...args, '--out', join(dir, 'piped.png')]);
    assert.equal(pipe.status, 0, pipe.stderr);
    assert.equal(pipe.stderr, '', 'no bar on a stderr that is not a terminal');
    assert.match(pipe.stdout, /^\S*piped\.png: 4 images, ddpm 50 steps, [^\n]*\n$/);
    assert.deepEqual(readFileSync(join(dir, 'piped.png')), readFileSync(join(dir, 'tty.png')), 'the same image either way');
  });

  test('train: one bar per epoch on a terminal; piped or --no-progress, only the per-epoch log lines', { skip }, () => {
    const tty = onTerminal(trainArgs(join(dir, 'tty-ckpt')));
    assert.equal(tty.status, 0, tty.terminal);
    const lines = shownLines(tty.terminal);
    const bars = lines.filter((l) => /^epoch \d\/2 \|/.test(l));
    for (const bar of bars) assert.match(bar, /^epoch [12]\/2 \|[█░]{40}\| [0-4]\/4 loss (-|\d+\.\d{4}) \| (-|[\d.]+) steps\/s \| run ETA (--|\d+s|\d+m\d+s|\d+h\d+m)$/);
    for (const epoch of [1, 2]) assert.ok(bars.some((l) => l.startsWith(`epoch ${epoch}/2 |${'█'.repeat(40)}| 4/4 loss `)), `epoch ${epoch}'s bar reaches 4/4: ${JSON.stringify(bars)}`);
    // No ETA before a step was timed (cli-progress's {eta} read "0s" there), and only there.
    assert.match(bars[0]!, /^epoch 1\/2 \|░{40}\| 0\/4 loss - \| - steps\/s \| run ETA --$/, 'the first bar: no ETA yet');
    assert.deepEqual(bars.filter((l) => l.endsWith('run ETA --')), bars.filter((l) => l.startsWith('epoch 1/2 ') && / 0\/4 /.test(l)), '"--" only before the first step');
    // The run's ETA, not the epoch's: epoch 1 done still has epoch 2 to go; the run ends at 0s.
    const endOf = (epoch: number) => bars.filter((l) => l.startsWith(`epoch ${epoch}/2 |${'█'.repeat(40)}| 4/4 `)).at(-1)!;
    assert.doesNotMatch(endOf(1), /run ETA (--|0s)$/, `epoch 1 of 2 done: the run's ETA is not over: ${endOf(1)}`);
    assert.match(endOf(2), /run ETA 0s$/);
    const logLine = /^epoch [12]\/2 loss \d+\.\d{4} \([\d.]+ s\) → \S*ckpt$/;
    assert.equal(lines.filter((l) => logLine.test(l)).length, 2, 'the two per-epoch log lines');
    assert.deepEqual(lines.filter((l) => !/^epoch \d\/2 \|/.test(l) && !logLine.test(l)), [], 'nothing else on the terminal');
    assert.match(tty.stdout, /^checkpoint \S*tty-ckpt: epoch 2, step 8, loss /);

    const quiet = onTerminal([...trainArgs(join(dir, 'quiet-ckpt')), '--no-progress']);
    assert.equal(quiet.status, 0, quiet.terminal);
    assert.deepEqual(shownLines(quiet.terminal).filter((l) => !logLine.test(l)), [], '--no-progress: no bar on a terminal');
    assert.doesNotMatch(quiet.terminal, CSI, 'no escape codes');

    const pipe = piped([...trainArgs(join(dir, 'piped-ckpt')), '--json']);
    assert.equal(pipe.status, 0, pipe.stderr);
    const stderrLines = pipe.stderr.split('\n').filter((l) => l !== '');
    assert.equal(stderrLines.length, 2, pipe.stderr);
    for (const l of stderrLines) assert.match(l, logLine);
    assert.doesNotMatch(pipe.stderr, CSI, 'no bar, no escape codes on a pipe');
    assert.equal((JSON.parse(pipe.stdout) as { step: number }).step, 8, 'one JSON object on stdout');
  });
});

test("formatRunEta: cli-progress's ETA format, rounded up, '--' when not known", () => {
  assert.equal(formatRunEta(0), '0s');
  assert.equal(formatRunEta(0.04), '1s', 'steps left never read 0s');
  assert.equal(formatRunEta(125), '2m5s');
  assert.equal(formatRunEta(5400), '1h30m');
  assert.equal(formatRunEta(Infinity), '--');
  assert.equal(formatRunEta(NaN), '--');
});
