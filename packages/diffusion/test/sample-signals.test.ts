// `diffusion sample` interrupted and failing, as a user meets it: Ctrl-C typed on a real
// pseudo-terminal (util-linux `script`) while the progress bar runs, SIGINT while the PNGs are
// being written (FLASHDIFF_WRITE_FAULT=SLOW), and a strip that cannot be written. Each must leave
// the previous files as they were or whole new ones (never one new and one old, never a
// temporary), exit non-zero with one line on stderr and no stack trace, and give the terminal its
// cursor back.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeNpy } from '../src/data/npy.ts';
import { decodePng } from '../src/image/png-node.ts';
import { barsDataset } from './helpers.ts';

const bin = fileURLToPath(new URL('../bin/diffusion.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'diffusion-sample-signals-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ckpt = join(dir, 'ckpt');
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
// eslint-disable-next-line no-control-regex
const CSI = /\x1B\[[0-9;?]*[A-Za-z]|\x1B[78]/g;
/** What a terminal shows, line by line: escape codes dropped, the tty's echo of Ctrl-C ("^C") too. */
const shownLines = (text: string) => text.replace(CSI, '\n').split(/[\r\n]+/).map((l) => l.replace(/\^C/g, '')).filter((l) => l.trim() !== '');

/** A tiny checkpoint (8×8 bars, n_feat 8) with T = 1000, so that a DDPM sample has many steps. */
before(() => {
  const d = barsDataset(64, 4);
  const images = join(dir, 'bars.npy');
  const labels = join(dir, 'bars-labels.npy');
  writeFileSync(images, encodeNpy('|u1', [d.count, 8, 8, 1], Uint8Array.from(d.images, (v) => Math.round(((Math.max(-1, Math.min(1, v)) + 1) / 2) * 255))));
  writeFileSync(labels, encodeNpy('<i4', [d.count], d.labels as Int32Array));
  const r = spawnSync(process.execPath, [bin, 'train', '--data', images, '--labels', labels, '--n-feat', '8', '--timesteps', '1000', '--batch', '16', '--epochs', '1', '--sample-every', '0', '--no-progress', '--seed', '3', '--backend', 'wasm', '--out', ckpt], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
});

/** A folder with a previous grid and strip (bytes that are not a PNG, so any change shows). */
function workFolder(name: string): { work: string; grid: string; strip: string } {
  const work = join(dir, name);
  mkdirSync(work);
  const grid = join(work, 'grid.png');
  const strip = join(work, 'strip.png');
  writeFileSync(grid, 'previous grid\n');
  writeFileSync(strip, 'previous strip\n');
  return { work, grid, strip };
}

describe('diffusion sample: Ctrl-C and failed writes', () => {
  test('Ctrl-C on a terminal while sampling: previous files untouched, no temporaries, exit 130, one line, cursor shown', { skip: hasScript ? false : 'util-linux `script` is not installed (apt-get install bsdutils)' }, async () => {
    const { work, grid, strip } = workFolder('tty');
    const args = ['sample', '--checkpoint', ckpt, '--sampler', 'ddpm', '--steps', '1000', '--n', '16', '--out', grid, '--strip', strip, '--backend', 'wasm'];
    // stdout to a file inside the terminal session: what the terminal shows is stderr.
    const command = [process.execPath, bin, ...args].map(quote).join(' ') + ` > ${quote(join(dir, 'tty-stdout.txt'))}`;
    // `script` copies its stdin to the terminal: a 0x03 byte there is the user's Ctrl-C (the tty sends SIGINT).
    const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let text = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      text += String(d);
      // Interrupt once the bar has counted a few steps: the sampling loop is running.
      if (!sent && shownLines(text).some((l) => /^sampling \[.*\] \d+% ([3-9]|\d\d+)\/1000 /.test(l))) {
        sent = true;
        child.stdin.write('\x03');
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    const status = await new Promise<number | null>((r) => child.on('close', (code) => r(code))).finally(() => clearTimeout(timer));
    assert.ok(sent, `the bar never showed progress: ${JSON.stringify(shownLines(text))}`);
    assert.equal(status, 130, text);
    assert.equal(readFileSync(grid, 'utf8'), 'previous grid\n');
    assert.equal(readFileSync(strip, 'utf8'), 'previous strip\n');
    assert.deepEqual(readdirSync(work).sort(), ['grid.png', 'strip.png'], 'no temporary files');
    assert.equal(readFileSync(join(dir, 'tty-stdout.txt'), 'utf8'), '', 'no result line on stdout');
    const lines = shownLines(text);
    const lastBar = lines.findLastIndex((l) => l.startsWith('sampling ['));
    assert.deepEqual(lines.slice(lastBar + 1), ['diffusion: interrupted'], 'one line after the bar');
    assert.ok(!lines.some((l) => /^\s+at .*:\d+:\d+\)?$/.test(l)), 'no stack trace');
    assert.ok(text.lastIndexOf('\x1B[?25h') > text.lastIndexOf('\x1B[?25l'), 'the cursor the bar hid is shown again');
  });

  test('SIGINT while the PNGs are being written: grid and strip both whole, no temporaries, no stack trace', async () => {
    const { work, grid, strip } = workFolder('slow-write');
    const child = spawn(process.execPath, [bin, 'sample', '--checkpoint', ckpt, '--steps', '2', '--n', '4', '--out', grid, '--strip', strip, '--backend', 'wasm'], {
      env: { ...process.env, FLASHDIFF_WRITE_FAULT: 'SLOW' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    const exited = new Promise<[number | null, string | null]>((r) => child.on('close', (c, s) => r([c, s])));
    const deadline = Date.now() + 240_000;
    // Wait until a temporary file exists: the write is under way (20 pieces 100 ms apart).
    while (!readdirSync(work).some((f) => f.endsWith('.tmp'))) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `the write never started: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    const [code, signal] = await exited;
    assert.equal(signal, null, 'not ended by the signal\'s default action (that would leave the temporary file)');
    assert.deepEqual(readdirSync(work).sort(), ['grid.png', 'strip.png'], 'no temporary files');
    // The writes are synchronous, so the handler runs after both renames (or not at all when the
    // process ends first): both files are whole and new. Either Ctrl-C is reported (exit 130,
    // one line) or the command ended normally (exit 0, its result line) — never a stack trace.
    if (code === 130) {
      assert.equal(stderr, '\ndiffusion: interrupted\n', 'one line, no stack trace');
    } else {
      assert.equal(code, 0, stderr);
      assert.equal(stderr, '');
      assert.match(stdout, /^\S*grid\.png: 4 images, ddim 2 steps, .*; strip \S*strip\.png\n$/);
    }
    assert.equal(decodePng(readFileSync(grid)).width, 2 * 8 + 3, 'the grid: 2 columns of 8 pixels, gaps of 1');
    assert.equal(decodePng(readFileSync(strip)).width, 2 * 8 + 3, 'the strip: one frame and the result');
  });

  test('a strip that cannot be written leaves the previous grid too: one line, exit 1', () => {
    const { work, grid } = workFolder('strip-fails');
    writeFileSync(join(work, 'not-a-folder'), 'x');
    const r = spawnSync(process.execPath, [bin, 'sample', '--checkpoint', ckpt, '--steps', '2', '--n', '4', '--out', grid, '--strip', join(work, 'not-a-folder', 'strip.png'), '--backend', 'wasm'], { encoding: 'utf8', timeout: 240_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^diffusion: .*not-a-folder: cannot create directory: .*not-a-folder is not a directory\n$/);
    assert.equal(r.stdout, '');
    assert.equal(readFileSync(grid, 'utf8'), 'previous grid\n', 'the grid is not written without its strip');
    assert.deepEqual(readdirSync(work).sort(), ['grid.png', 'not-a-folder', 'strip.png']);
    assert.ok(!existsSync(join(work, 'not-a-folder', 'strip.png')));
  });
});
