/**
 * ContextUnet speed, tfjs backends side by side with PyTorch: the median wall time of a training
 * step (batch 100, MSE on the noise, Adam lr 1e-3) and of a forward pass (batch 32, eval mode),
 * after warm-up, on this machine.
 *
 * Run: npx tsx bench/native-contextunet.ts [--backends native,wasm] [--steps 5] [--forwards 10]
 *        [--fused] [--route onednn|blas] [--profile] [--no-torch]
 * PyTorch figures come from bench/torch_reference.py (needs /usr/bin/python3 with python3-torch).
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import {
  kernelProfile,
  nativeBackendUnavailableReason,
  registerNativeBackend,
  setConvRoute,
  setKernelProfiling,
  type ConvRoute,
} from '@flashdiff/diffusion-native';
import { BenchContextUnet } from './native-contextunet-model.ts';

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
const option = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
};
const backends = option('backends', 'native,wasm').split(',');
const steps = Number(option('steps', '5'));
const forwards = Number(option('forwards', '10'));
const fused = flag('fused');
const profile = flag('profile');
setConvRoute(option('route', 'onednn') as ConvRoute);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function useBackend(name: string): Promise<boolean> {
  if (name === 'native') {
    if (!(await registerNativeBackend(tf))) {
      console.log(`native: unavailable (${nativeBackendUnavailableReason()})`);
      return false;
    }
  } else if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const dist = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm').replace(/[^/\\]+$/, '');
    wasm.setWasmPaths(dist);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  }
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (name === 'wasm') registerWasmConv2dBackpropFilter();
  return ok;
}

/**
 * tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter; for timing, the bench runs it as the 3-D
 * kernel with depth 1, as packages/diffusion does. (The numerical suite shows this stand-in's
 * stride-2 filter gradients are wrong; the time is what matters here.)
 */
function registerWasmConv2dBackpropFilter(): void {
  const conv3d = tf.getKernel('Conv3DBackpropFilterV2', 'wasm');
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm') || !conv3d) return;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const a = attrs as unknown as { strides: number | [number, number]; pad: 'same' | 'valid'; filterShape: number[] };
      const [sh, sw] = typeof a.strides === 'number' ? [a.strides, a.strides] : a.strides;
      const [kh, kw, ci, co] = a.filterShape;
      const out = conv3d.kernelFunc({
        inputs: {
          x: { dataId: x.dataId, shape: [x.shape[0], 1, ...x.shape.slice(1)], dtype: x.dtype },
          dy: { dataId: dy.dataId, shape: [dy.shape[0], 1, ...dy.shape.slice(1)], dtype: dy.dtype },
        },
        backend,
        attrs: { strides: [1, sh, sw], pad: a.pad, filterShape: [1, kh, kw, ci, co] },
      }) as tf.TensorInfo;
      return { dataId: out.dataId, shape: [kh, kw, ci, co], dtype: out.dtype };
    },
  });
}

function batch(n: number, seed: number): { x: tf.Tensor4D; t: tf.Tensor2D; c: tf.Tensor2D; noise: tf.Tensor4D } {
  return tf.tidy(() => ({
    x: tf.randomNormal([n, 16, 16, 3], 0, 1, 'float32', seed) as tf.Tensor4D,
    t: tf.div(tf.floor(tf.randomUniform([n, 1], 1, 501, 'float32', seed + 1)), 500) as tf.Tensor2D,
    c: tf.oneHot(tf.randomUniform([n], 0, 5, 'int32', seed + 2) as tf.Tensor1D, 5).toFloat() as tf.Tensor2D,
    noise: tf.randomNormal([n, 16, 16, 3], 0, 1, 'float32', seed + 3) as tf.Tensor4D,
  }));
}

interface Figures {
  trainMs: number;
  forwardMs: number;
  tensorsStable: boolean;
}

async function measure(backend: string, trainSteps: number, forwardPasses: number): Promise<Figures> {
  const model = new BenchContextUnet({ inChannels: 3, nFeat: 64, nCfeat: 5, height: 16, fused });
  const vars = [...model.params.values()];
  const optimizer = tf.train.adam(1e-3);
  const train = batch(100, 11);
  const step = (): number => {
    const t0 = performance.now();
    const loss = optimizer.minimize(() => tf.losses.meanSquaredError(train.noise, model.forward(train.x, train.t, train.c, true)) as tf.Scalar, true, vars);
    loss?.dataSync();
    loss?.dispose();
    return performance.now() - t0;
  };
  step(); // warm-up: oneDNN primitive creation, wasm compilation, Adam slots
  const before = tf.memory().numTensors;
  if (profile) setKernelProfiling(true);
  const trainTimes: number[] = [];
  for (let i = 0; i < trainSteps; i++) trainTimes.push(step());
  if (profile && backend === 'native') printProfile(`training steps (${trainSteps})`);
  const tensorsStable = tf.memory().numTensors === before;

  const fwd = batch(32, 21);
  const forward = (): number => {
    const t0 = performance.now();
    tf.tidy(() => model.forward(fwd.x, fwd.t, fwd.c, false).dataSync());
    return performance.now() - t0;
  };
  forward();
  forward();
  if (profile) setKernelProfiling(true);
  const forwardTimes: number[] = [];
  for (let i = 0; i < forwardPasses; i++) forwardTimes.push(forward());
  if (profile && backend === 'native') printProfile(`forward passes (${forwardPasses})`);
  setKernelProfiling(false);
  tf.dispose([train.x, train.t, train.c, train.noise, fwd.x, fwd.t, fwd.c, fwd.noise]);
  optimizer.dispose();
  tf.dispose(vars);
  return { trainMs: median(trainTimes), forwardMs: median(forwardTimes), tensorsStable };
}

function printProfile(what: string): void {
  const rows = kernelProfile();
  const total = rows.reduce((s, r) => s + r.ms, 0);
  console.log(`  kernel profile, ${what}: ${total.toFixed(0)} ms in kernels`);
  for (const r of rows.slice(0, 18)) console.log(`    ${r.kernel.padEnd(24)} ${String(r.calls).padStart(6)} calls ${r.ms.toFixed(1).padStart(9)} ms`);
}

function torchFigures(): { trainMs: number; forwardMs: number; version: string } | null {
  if (flag('no-torch')) return null;
  const script = new URL('./torch_reference.py', import.meta.url).pathname;
  const run = spawnSync('/usr/bin/python3', [script, '--json', '--steps', String(steps), '--forwards', String(forwards)], { encoding: 'utf8' });
  if (run.status !== 0) {
    console.log(`pytorch: unavailable (${(run.stderr || run.error?.message || 'no python3-torch').trim().split('\n').pop()})`);
    return null;
  }
  const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as { train_ms: number; forward_ms: number; torch: string };
  return { trainMs: r.train_ms, forwardMs: r.forward_ms, version: r.torch };
}

const results = new Map<string, Figures>();
for (const name of backends) {
  if (!(await useBackend(name))) continue;
  const heavy = name !== 'native';
  const figures = await measure(name, heavy ? Math.min(steps, 3) : steps, heavy ? Math.min(forwards, 5) : forwards);
  results.set(name, figures);
  const peakMiB = process.resourceUsage().maxRSS / 1024;
  console.log(
    `${name}: train step ${figures.trainMs.toFixed(0)} ms, forward ${figures.forwardMs.toFixed(1)} ms, tensor count stable: ${figures.tensorsStable}, peak RSS so far ${peakMiB.toFixed(0)} MiB`,
  );
}
const torch = torchFigures();
if (torch) console.log(`pytorch ${torch.version}: train step ${torch.trainMs.toFixed(0)} ms, forward ${torch.forwardMs.toFixed(1)} ms`);

console.log('\nbackend      train step (b100, Adam)   forward (b32)   train/torch   forward/torch');
for (const [name, f] of results) {
  const ratio = (a: number, b: number | undefined): string => (b ? `${(a / b).toFixed(2)}×` : 'n/a');
  console.log(
    `${name.padEnd(12)} ${`${f.trainMs.toFixed(0)} ms`.padStart(22)}   ${`${f.forwardMs.toFixed(1)} ms`.padStart(13)}   ${ratio(f.trainMs, torch?.trainMs).padStart(11)}   ${ratio(f.forwardMs, torch?.forwardMs).padStart(13)}`,
  );
}
if (torch) console.log(`${'pytorch'.padEnd(12)} ${`${torch.trainMs.toFixed(0)} ms`.padStart(22)}   ${`${torch.forwardMs.toFixed(1)} ms`.padStart(13)}`);
console.log(`goal: train ≤ 1.5× PyTorch, forward ≤ 1.0× PyTorch${fused ? ' (fused GELU/batch norm)' : ''}`);
console.log(`command: npx tsx bench/native-contextunet.ts ${argv.join(' ')}`.trim());
