/**
 * The addon inside worker threads that end while its OpenMP team is alive. Node closes the addons a
 * worker loaded when the worker's environment is torn down (dlclose); without `-z nodelete` that
 * unmapped the addon and libgomp under their own pool threads, and the whole process died with
 * SIGSEGV (the dashboard runs text-to-image jobs in workers and terminates them on Cancel). Found
 * as a crash of the dashboard's browser test on a many-core CI machine; reproduced here with
 * OMP_NUM_THREADS=8: the process died after 14 and 19 terminated workers, and survived 80 after the
 * fix. The crash is a race, so the stress test below catches a regression only sometimes; the
 * flag check before it catches it always.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { addonPath } from '../src/addon.ts';
import { nativeBackendAvailable, nativeBackendUnavailableReason } from '../src/index.ts';
import { requireNative } from './backends.ts';

function addonOrSkip(t: TestContext): boolean {
  if (nativeBackendAvailable()) return true;
  if (requireNative) assert.fail(`FLASHDIFF_REQUIRE_NATIVE=1 but the native backend is unavailable: ${nativeBackendUnavailableReason()}`);
  t.skip(nativeBackendUnavailableReason());
  return false;
}

/**
 * DF_1_NODELETE (0x8) in the DT_FLAGS_1 entry (0x6ffffffb) of the ELF64 little-endian dynamic
 * section: read from the file itself, so the check needs no binutils.
 */
function hasNodeleteFlag(file: Buffer): boolean {
  assert.equal(file.readUInt32BE(0), 0x7f454c46, 'an ELF file');
  assert.equal(file[4], 2, 'ELF64');
  assert.equal(file[5], 1, 'little-endian');
  const programHeaders = Number(file.readBigUInt64LE(0x20));
  const entrySize = file.readUInt16LE(0x36);
  const count = file.readUInt16LE(0x38);
  for (let i = 0; i < count; i++) {
    const header = programHeaders + i * entrySize;
    if (file.readUInt32LE(header) !== 2) continue; // PT_DYNAMIC
    const offset = Number(file.readBigUInt64LE(header + 8));
    const size = Number(file.readBigUInt64LE(header + 32));
    for (let entry = offset; entry + 16 <= offset + size; entry += 16) {
      const tag = file.readBigUInt64LE(entry);
      if (tag === 0n) break;
      if (tag === 0x6ffffffbn) return (file.readBigUInt64LE(entry + 8) & 8n) !== 0n;
    }
  }
  return false;
}

describe('the addon in worker threads', () => {
  test('is linked -z nodelete, so a worker that ends cannot unmap it', (t) => {
    if (!addonOrSkip(t)) return;
    assert.ok(hasNodeleteFlag(readFileSync(addonPath())), `${addonPath()} lacks DF_1_NODELETE`);
  });

  test('workers terminated in the middle of parallel convolutions leave the process alive', { timeout: 240_000 }, (t) => {
    if (!addonOrSkip(t)) return;
    const index = fileURLToPath(new URL('../src/index.ts', import.meta.url));
    // Each worker registers the backend, signals, and convolves until terminated at a different
    // moment; 16 workers (the crash came within 14–19 before the fix).
    const worker = `
      const { register } = await import('tsx/esm/api'); register();
      const tf = await import('@tensorflow/tfjs');
      const { registerNativeBackend } = await import(${JSON.stringify(index)});
      if (!(await registerNativeBackend(tf))) throw new Error('native backend unavailable');
      await tf.setBackend('native');
      (await import('node:worker_threads')).parentPort.postMessage('ready');
      const x = tf.ones([4, 64, 64, 64]); const w = tf.ones([3, 3, 64, 64]);
      for (;;) tf.tidy(() => tf.conv2d(x, w, 1, 'same').dataSync());
    `;
    const parent = `
      import { Worker } from 'node:worker_threads';
      for (let i = 0; i < 16; i++) {
        await new Promise((resolve, reject) => {
          const w = new Worker(${JSON.stringify(worker)}, { eval: true });
          w.on('error', reject);
          w.on('message', () => setTimeout(() => void w.terminate(), 20 + ((37 * i) % 200)));
          w.on('exit', resolve);
        });
      }
      console.log('all workers ended');
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', parent], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, OMP_NUM_THREADS: '8' },
      encoding: 'utf8',
      timeout: 200_000,
    });
    assert.equal(run.signal, null, `the process died of ${run.signal}\n${run.stderr}`);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /all workers ended/);
  });
});
