import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeNpy } from '../src/data/npy.ts';
import { SHIPPED_MODEL_GUIDANCE, shippedModelDirectory } from '../src/node/shipped-model.ts';
import { barsDataset } from './helpers.ts';

const bin = fileURLToPath(new URL('../bin/diffusion.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'diffusion-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Bars as an 8×8 uint8 .npy with labels. */
function writeToyData(): { images: string; labels: string } {
  const d = barsDataset(64, 4);
  const images = join(dir, 'bars.npy');
  const labels = join(dir, 'bars-labels.npy');
  writeFileSync(images, encodeNpy('|u1', [d.count, 8, 8, 1], Uint8Array.from(d.images, (v) => Math.round(((Math.max(-1, Math.min(1, v)) + 1) / 2) * 255))));
  writeFileSync(labels, encodeNpy('<i4', [d.count], d.labels as Int32Array));
  return { images, labels };
}

describe('diffusion CLI', () => {
  const data = writeToyData();
  const common = ['--data', data.images, '--labels', data.labels, '--n-feat', '8', '--timesteps', '50', '--batch', '16', '--sample-every', '0', '--no-progress', '--seed', '3', '--lr-schedule', 'constant'];

  test('bad flags and unreadable data: one line on stderr, exit 2', () => {
    for (const args of [
      ['train', '--data', 'mnist', '--out', join(dir, 'x'), '--epochs', 'many'],
      ['train', '--data', 'mnist', '--out', join(dir, 'x'), '--epochs', '1', '--schedule', 'quadratic'],
      ['train', '--data', join(dir, 'missing.npy'), '--out', join(dir, 'x'), '--epochs', '1'],
      ['sample', '--checkpoint', dir, '--out', join(dir, 'g.png'), '--mix', '3:x'],
      ['frobnicate'],
    ]) {
      const r = run(args);
      assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
    }
    const bad = join(dir, 'bad.npy');
    writeFileSync(bad, 'this is not numpy');
    const r = run(['train', '--data', bad, '--out', join(dir, 'y'), '--epochs', '1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.npy: not a \.npy file/);
  });

  // A constant learning rate: linear/cosine schedules depend on the total epochs, which --resume may extend.
  test('train 2 epochs straight equals train 1 epoch then --resume to 2 (weights, optimizer, EMA, PRNG)', () => {
    const straight = join(dir, 'straight');
    const resumed = join(dir, 'resumed');
    assert.equal(run(['train', ...common, '--epochs', '2', '--out', straight]).code, 0);
    const first = run(['train', ...common, '--epochs', '1', '--out', resumed, '--json']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).epoch, 1);
    const second = run(['train', '--data', data.images, '--labels', data.labels, '--epochs', '2', '--out', resumed, '--resume', '--no-progress', '--sample-every', '0', '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(JSON.parse(second.stdout).epoch, 2);
    for (const file of ['model.safetensors', 'ema.safetensors', 'optimizer.safetensors']) {
      assert.ok(readFileSync(join(straight, file)).equals(readFileSync(join(resumed, file))), `${file} differs`);
    }
  });

  test('sample writes a grid and a strip; a class, a mix and guidance are accepted', () => {
    const ckpt = join(dir, 'straight');
    const grid = join(dir, 'grid.png');
    const strip = join(dir, 'strip.png');
    const r = run(['sample', '--checkpoint', ckpt, '--sampler', 'ddim', '--steps', '10', '--class', '1', '--guidance', '2', '--n', '4', '--seed', '1', '--out', grid, '--strip', strip, '--frames', '4']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(grid).subarray(1, 4).toString() === 'PNG' && existsSync(strip));
    const mix = run(['sample', '--checkpoint', ckpt, '--sampler', 'ddpm', '--mix', '0:0.6,1:1', '--n', '2', '--out', join(dir, 'mix.png'), '--json']);
    assert.equal(mix.code, 0, mix.stderr);
    assert.equal(JSON.parse(mix.stdout).steps, 50);
    const wrongClass = run(['sample', '--checkpoint', ckpt, '--class', '7', '--out', join(dir, 'w.png')]);
    assert.equal(wrongClass.code, 2);
    assert.equal(wrongClass.stderr, 'diffusion: --class 7: expected 0..1 or "all"\n');
    // Without --json: one human line on stdout, nothing machine-shaped.
    const human = run(['sample', '--checkpoint', ckpt, '--steps', '2', '--n', '1', '--out', join(dir, 'h.png')]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^.*h\.png: 1 images, ddim 2 steps, guidance 1, \S+, [\d.]+ s\n$/);
  });

  test('sample without --checkpoint uses the shipped model', () => {
    const shipped = shippedModelDirectory();
    assert.ok(shipped, 'packages/diffusion/models/mnist-16 holds config.json and ema.safetensors');
    const grid = join(dir, 'shipped.png');
    const r = run(['sample', '--class', 'all', '--n', '10', '--steps', '4', '--seed', '2', '--out', grid, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { checkpoint: string; n: number; guidance: number };
    assert.equal(report.checkpoint, shipped);
    assert.equal(report.n, 10);
    assert.equal(report.guidance, SHIPPED_MODEL_GUIDANCE, 'the shipped model samples with its evaluated guidance by default');
    const told = run(['sample', '--class', '3', '--n', '1', '--steps', '2', '--guidance', '2', '--out', join(dir, 'told.png'), '--json']);
    assert.equal(told.code, 0, told.stderr);
    assert.equal((JSON.parse(told.stdout) as { guidance: number }).guidance, 2);
    // One 16×16 tile per class, one column, 1-pixel gaps: the PNG's IHDR width and height.
    const png = readFileSync(grid);
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [16 + 2, 10 * 16 + 11]);
  });

  test('a corrupt checkpoint gives one clear error naming the file', () => {
    const ckpt = join(dir, 'straight');
    const ema = join(ckpt, 'ema.safetensors');
    writeFileSync(ema, readFileSync(ema).subarray(0, 1000));
    const r = run(['sample', '--checkpoint', ckpt, '--out', join(dir, 'c.png')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ema\.safetensors: .*truncated/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    writeFileSync(join(ckpt, 'config.json'), '{"format": ');
    const c = run(['sample', '--checkpoint', ckpt, '--out', join(dir, 'c.png')]);
    assert.match(c.stderr, /config\.json: not valid JSON/);
  });
});
