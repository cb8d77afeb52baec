// The diffusion CLI in the shared style (@flashdiff/cli-kit): every validation error printed, help and
// version, and output files (checkpoints, PNGs) whole or not at all — under an injected ENOSPC and Ctrl-C.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeNpy } from '../src/data/npy.ts';
import { barsDataset } from './helpers.ts';

const bin = fileURLToPath(new URL('../bin/diffusion.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'diffusion-cli-style-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function toyData(): { images: string; labels: string } {
  const d = barsDataset(64, 4);
  const images = join(dir, 'bars.npy');
  const labels = join(dir, 'bars-labels.npy');
  writeFileSync(images, encodeNpy('|u1', [d.count, 8, 8, 1], Uint8Array.from(d.images, (v) => Math.round(((Math.max(-1, Math.min(1, v)) + 1) / 2) * 255))));
  writeFileSync(labels, encodeNpy('<i4', [d.count], d.labels as Int32Array));
  return { images, labels };
}

function checkpointFiles(ckpt: string): Record<string, string> {
  return Object.fromEntries(readdirSync(ckpt).filter((f) => !f.startsWith('.')).map((f) => [f, readFileSync(join(ckpt, f)).toString('base64')]));
}

describe('diffusion CLI style', () => {
  const data = toyData();
  const common = ['--data', data.images, '--labels', data.labels, '--n-feat', '8', '--timesteps', '50', '--batch', '16', '--sample-every', '0', '--no-progress', '--seed', '3', '--lr-schedule', 'constant', '--backend', 'wasm'];
  const ckpt = join(dir, 'ckpt');

  test('no arguments: help on stderr, exit 2; --version', () => {
    const none = run([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Usage: diffusion/);
    assert.match(run(['--version']).stdout, /^\d+\.\d+\.\d+\n$/);
    assert.match(run(['--help']).stdout, /Examples:\n {2}diffusion sample/);
  });

  test('every validation error is printed: one line, exit 2', () => {
    for (const [args, message] of [
      [['sample', '--class', '12', '--out', join(dir, 'x.png'), '--steps', '1'], /^diffusion: --class 12: expected 0\.\.9 or "all"\n$/],
      [['sample', '--class', 'abc', '--out', join(dir, 'x.png'), '--steps', '1'], /^diffusion: --class abc: expected 0\.\.9 or "all"\n$/],
      [['sample', '--class', '-1', '--out', join(dir, 'x.png'), '--steps', '1'], /^diffusion: --class -1: expected 0\.\.9 or "all"\n$/],
      [['train', '--data', 'mnist', '--out', join(dir, 'y')], /^diffusion: --epochs is required \(unless --resume\)\n$/],
      [['sample', '--class', '1', '--mix', '1:1', '--out', join(dir, 'x.png')], /^diffusion: --class and --mix are exclusive\n$/],
      [['sample', '--n', 'abc', '--out', join(dir, 'x.png')], /^diffusion: option '--n <n>' argument 'abc' is invalid\. must be an integer ≥ 1\n$/],
    ] as const) {
      const r = run([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
  });

  test('a sample PNG is written whole or not at all; a path under /proc fails at once', () => {
    const png = join(dir, 'grid.png');
    const ok = run(['sample', '--class', '3', '--n', '1', '--steps', '2', '--out', png, '--backend', 'wasm']);
    assert.equal(ok.code, 0, ok.stderr);
    const before = readFileSync(png);
    const full = run(['sample', '--class', '4', '--n', '1', '--steps', '2', '--out', png, '--backend', 'wasm'], { FLASHDIFF_WRITE_FAULT: 'ENOSPC' });
    assert.equal(full.code, 1);
    assert.match(full.stderr, /^diffusion: .*grid\.png: cannot write \(ENOSPC\); the previous file, if any, is unchanged\n$/);
    assert.ok(readFileSync(png).equals(before));
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
    const t0 = Date.now();
    const proc = run(['sample', '--class', '1', '--n', '1', '--steps', '1', '--out', '/proc/flashdiff/x/grid.png', '--backend', 'wasm']);
    assert.equal(proc.code, 1);
    assert.match(proc.stderr, /^diffusion: \/proc\/flashdiff\/x: cannot create directory/);
    assert.ok(Date.now() - t0 < 60_000);
  });

  test('train: a checkpoint write that fails (ENOSPC) leaves the previous checkpoint whole', () => {
    const first = run(['train', ...common, '--epochs', '1', '--out', ckpt]);
    assert.equal(first.code, 0, first.stderr);
    const before = checkpointFiles(ckpt);
    assert.deepEqual(Object.keys(before).sort(), ['config.json', 'ema.safetensors', 'model.safetensors', 'optimizer.safetensors']);
    const r = run(['train', '--data', data.images, '--labels', data.labels, '--epochs', '2', '--out', ckpt, '--resume', '--no-progress', '--sample-every', '0', '--backend', 'wasm'], { FLASHDIFF_WRITE_FAULT: 'ENOSPC' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /diffusion: .*model\.safetensors: cannot write \(ENOSPC\)/);
    assert.deepEqual(checkpointFiles(ckpt), before);
    assert.deepEqual(readdirSync(ckpt).filter((f) => f.endsWith('.tmp')), []);
  });

  test('train: Ctrl-C leaves a whole checkpoint (config and weights of one step) and no temporary files, exit 130', async () => {
    const out = join(dir, 'interrupted');
    const child = spawn(process.execPath, [bin, 'train', ...common, '--epochs', '1000', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    try {
      const deadline = Date.now() + 240_000;
      while (!existsSync(join(out, 'config.json'))) {
        assert.ok(Date.now() < deadline, `no checkpoint written: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGINT');
      // The timer is cleared once the child exits: a pending 60 s timer would keep this test
      // process alive that long after the test passed.
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([exited, new Promise((r) => (timer = setTimeout(() => r('still running 60 s after SIGINT'), 60_000)))]).finally(() => clearTimeout(timer));
      assert.equal(code, 130, stderr);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    assert.match(stderr, /diffusion: interrupted/);
    assert.deepEqual(readdirSync(out).filter((f) => f.startsWith('.')), []);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { state: { step: number } };
    // Each weight file records its step in the safetensors metadata: it matches config.json's.
    for (const f of ['model.safetensors', 'ema.safetensors', 'optimizer.safetensors']) {
      const bytes = readFileSync(join(out, f));
      const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as { __metadata__: { step: string } };
      assert.equal(header.__metadata__.step, String(config.state.step), f);
    }
    // And it resumes.
    const resumed = run(['train', '--data', data.images, '--labels', data.labels, '--epochs', String(1 + (config.state.step / 4)), '--out', out, '--resume', '--no-progress', '--sample-every', '0', '--backend', 'wasm', '--json']);
    assert.equal(resumed.code, 0, resumed.stderr);
  });
});
