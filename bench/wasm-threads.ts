/**
 * The first route, measured: tfjs-backend-wasm's threaded SIMD build in Node. Times one of
 * the ContextUnet's 3×3 convolutions (32×16×16×64 → 64, 'same') on the single-threaded SIMD build,
 * then tries the threaded build. In Node 20 the threaded build does not start: its Emscripten glue
 * spawns pthread workers from a blob: URL, which node:worker_threads refuses (ERR_WORKER_PATH), so
 * tfjs falls back to no backend; the figure printed for it is then the failure line.
 * Run: npx tsx bench/wasm-threads.ts
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';

const mode = process.argv[2];
if (mode !== 'single' && mode !== 'threads') {
  // Each build runs in its own process: tfjs keeps one wasm module per process.
  for (const m of ['single', 'threads']) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, m], { encoding: 'utf8' });
    process.stdout.write(r.stdout);
  }
  console.log('command: npx tsx bench/wasm-threads.ts');
  process.exit(0);
}

const wasm = await import('@tensorflow/tfjs-backend-wasm');
const require = createRequire(import.meta.url);
wasm.setWasmPaths(require.resolve('@tensorflow/tfjs-backend-wasm').replace(/[^/\\]+$/, ''));
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', mode === 'threads');
// tfjs reports a failed initialisation on the console: keep the error it names, print one line.
const log = console.log;
const reported: string[] = [];
console.warn = console.error = (...args: unknown[]) => {
  for (const a of args) {
    const text = a instanceof Error ? `${a.name}: ${a.message}` : String(a);
    if (/error/i.test(text)) reported.push(text.split('\n')[0]);
  }
};
let ready = false;
try {
  ready = await tf.setBackend('wasm');
} catch {
  ready = false;
}
if (!ready || tf.getBackend() !== 'wasm') {
  log(`wasm ${mode}: the backend did not initialise (${reported[0] ?? 'no reason given'})`);
} else {
  const x = tf.randomNormal([32, 16, 16, 64]) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 64, 64]) as tf.Tensor4D;
  for (let i = 0; i < 3; i++) tf.conv2d(x, w, 1, 'same').dispose();
  const runs = 20;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const y = tf.conv2d(x, w, 1, 'same');
    y.dataSync();
    y.dispose();
  }
  log(`wasm ${mode}: conv 32×16×16×64 → 64 (3×3, same): ${((performance.now() - t0) / runs).toFixed(1)} ms (${wasm.getThreadsCount()} thread(s))`);
}
