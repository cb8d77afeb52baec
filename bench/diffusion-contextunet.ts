/**
 * The reference ContextUnet (3×16×16, n_feat 64, 5 classes), the package's own model code, side by
 * side with PyTorch in ONE run: the median wall time of a training step (batch 100, Adam) and of one
 * sampling step's model call (forward, batch 32, eval mode) after warm-up, on each chosen backend,
 * then bench/torch_reference.py (the same architecture) on the same machine, and the ratios.
 *
 * Run: npx tsx bench/diffusion-contextunet.ts [--backends native,wasm,onnx] [--iters 3] [--forwards 10]
 *        [--threads <n>] [--no-torch] [--profile] [--route onednn|blas] [--json]
 *   backends: native, wasm, cpu, tensorflow (tfjs engines: train + forward); onnx (onnxruntime-node
 *   on the exported graph: forward only). --threads sets ORT's intra-op threads and PyTorch's threads
 *   (default: the number of cores). --profile prints the native addon's kernel profile.
 * PyTorch runs where /usr/bin/python3 imports torch (Debian's python3-torch), as a child process
 * (`torch_reference.py --serve`) whose timings are INTERLEAVED with ours — each of our steps is
 * followed by one PyTorch step — so that a background load that comes and goes weighs on both
 * figures of a ratio alike. Without torch, the issue's figures are printed, labelled "not measured here".
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { availableParallelism, loadavg } from 'node:os';
import { createModel, enginePredictor } from '@flashdiff/diffusion';
import {
  BACKENDS,
  type BackendName,
  FORWARD_BATCH,
  ISSUE_PYTORCH_REFERENCE,
  REFERENCE_CONTEXT_UNET,
  TRAIN_BATCH,
  benchForward,
  benchTrainStep,
  initBackend,
  median,
  OnnxNoisePredictor,
  onnxRuntimeVersion,
} from '@flashdiff/diffusion/node';

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
const option = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
};
const positive = (name: string, fallback: string): number => {
  const v = Number(option(name, fallback));
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${name}: expected a positive integer, got ${option(name, fallback)}`);
    process.exit(2);
  }
  return v;
};
const backends = option('backends', 'native,wasm,onnx').split(',').filter(Boolean);
const iters = positive('iters', '3');
const forwards = positive('forwards', '10');
const threads = positive('threads', String(availableParallelism()));
const profile = flag('profile');
const json = flag('json');
for (const b of backends) {
  if (b !== 'onnx' && (b === 'auto' || !(BACKENDS as readonly string[]).includes(b))) {
    console.error(`--backends: "${b}" is not one of ${[...BACKENDS.filter((x) => x !== 'auto'), 'onnx'].join(', ')}`);
    process.exit(2);
  }
}
const log = (line: string): void => {
  process.stderr.write(line + '\n');
};

interface Row {
  backend: string;
  figure: 'train' | 'forward';
  ms: number;
  /** Median of the PyTorch steps interleaved with this row's (empty: none measured). */
  torchTimes: number[];
  note?: string;
}
const rows: Row[] = [];
const loadBefore = loadavg();

async function nativeProfiling(on: boolean, what?: string): Promise<void> {
  if (!profile) return;
  const native = await import('@flashdiff/diffusion-native');
  if (what) {
    const kernels = native.kernelProfile();
    const total = kernels.reduce((s, r) => s + r.ms, 0);
    console.log(`  native kernel profile, ${what}: ${total.toFixed(0)} ms in kernels`);
    for (const r of kernels.slice(0, 15)) console.log(`    ${r.kernel.padEnd(24)} ${String(r.calls).padStart(6)} calls ${r.ms.toFixed(1).padStart(9)} ms`);
  }
  native.setKernelProfiling(on);
}

/** PyTorch in a child process answering "train"/"forward" with one timing each, or the reason it is not available. */
interface TorchServer {
  label: string;
  time(kind: 'train' | 'forward'): Promise<number>;
  close(): void;
}
async function startTorch(): Promise<TorchServer | { reason: string }> {
  if (flag('no-torch')) return { reason: '--no-torch' };
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return { reason: '/usr/bin/python3 cannot import torch (apt-get install python3-torch)' };
  const script = new URL('./torch_reference.py', import.meta.url).pathname;
  const child = spawn('/usr/bin/python3', [script, '--serve', '--threads', String(threads)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await lines.next();
    if (r.done) throw new Error('torch_reference.py --serve exited');
    return r.value;
  };
  log('pytorch: starting bench/torch_reference.py --serve (2 warm-up steps of each kind) …');
  const ready = JSON.parse(await next()) as { torch: string; threads: number };
  return {
    label: `PyTorch ${ready.torch}, ${ready.threads} threads, interleaved in this run`,
    async time(kind) {
      child.stdin.write(`${kind}\n`);
      const ms = Number(await next());
      log(`pytorch: ${kind} ${ms.toFixed(1)} ms`);
      return ms;
    },
    close() {
      child.stdin.end('quit\n');
    },
  };
}
const torch = await startTorch();
const interleave = 'time' in torch ? torch : null;
/** A round hook: after each of our timed steps, one PyTorch step of the same kind (its time kept for this row). */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 30));
const pairWith = (kind: 'train' | 'forward', into: number[]) => async (): Promise<void> => {
  if (!interleave) return;
  // A pause on each side, so that thread pools spinning after one side's step (OpenMP, ORT) do not
  // steal cores from the other side's.
  await settle();
  into.push(await interleave.time(kind));
  await settle();
};

for (const name of backends) {
  if (name === 'onnx') {
    const version = await onnxRuntimeVersion();
    if (!version) {
      console.log('onnx: unavailable (onnxruntime-node is not installed: ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node)');
      continue;
    }
    // Any engine can hold the weights that get exported; wasm is always there.
    const engine = await initBackend('wasm');
    const model = createModel(engine, REFERENCE_CONTEXT_UNET, 0);
    const predictor = await OnnxNoisePredictor.create(model, { threads });
    model.params.dispose();
    const label = `onnxruntime-node ${version}`;
    const torchTimes: number[] = [];
    const forward = await benchForward(predictor, forwards, { log, label, afterEach: pairWith('forward', torchTimes) });
    await predictor.dispose();
    rows.push({ backend: label, figure: 'forward', ms: forward.medianMs, torchTimes, note: `${threads} intra-op threads, graph optimisation all` });
    continue;
  }
  if (name === 'native' && argv.includes('--route')) {
    const native = await import('@flashdiff/diffusion-native');
    native.setConvRoute(option('route', 'onednn') as Parameters<typeof native.setConvRoute>[0]);
  }
  let engine;
  try {
    engine = await initBackend(name as BackendName);
  } catch (error) {
    console.log(`${name}: unavailable (${(error as Error).message})`);
    continue;
  }
  await nativeProfiling(true);
  const trainTorch: number[] = [];
  const train = await benchTrainStep(engine, iters, { log, afterEach: pairWith('train', trainTorch) });
  if (name === 'native') await nativeProfiling(true, `${iters} training steps (with PyTorch's steps in between)`);
  const model = createModel(engine, REFERENCE_CONTEXT_UNET, 0);
  const forwardTorch: number[] = [];
  const forward = await benchForward(enginePredictor(engine, model), forwards, { log, label: engine.name, afterEach: pairWith('forward', forwardTorch) });
  if (name === 'native') await nativeProfiling(false, `${forwards + 2} forward passes`);
  model.params.dispose();
  rows.push({ backend: engine.name, figure: 'train', ms: train.medianMs, torchTimes: trainTorch, note: train.tensorCountStable ? 'tensor count stable' : 'TENSOR COUNT GREW' });
  rows.push({ backend: engine.name, figure: 'forward', ms: forward.medianMs, torchTimes: forwardTorch });
}

if (interleave) interleave.close();
const loadAfter = loadavg();

const goal = { train: 1.5, forward: 1.0 };
const figureName = { train: `train step (batch ${TRAIN_BATCH}, Adam)`, forward: `forward (batch ${FORWARD_BATCH}, eval)` };
const issueMs = { train: ISSUE_PYTORCH_REFERENCE.trainStepMs, forward: ISSUE_PYTORCH_REFERENCE.forwardMs };
const referenceLabel = 'reason' in torch ? `PyTorch figures: ${ISSUE_PYTORCH_REFERENCE.source} — ${torch.reason}` : `PyTorch figures: ${torch.label}, median of the steps interleaved with each row`;
const table = rows.map((r) => {
  const torchMs = r.torchTimes.length > 0 ? median(r.torchTimes) : issueMs[r.figure];
  return { ...r, torchMs, ratio: r.ms / torchMs, goal: goal[r.figure], met: r.ms / torchMs <= goal[r.figure] };
});
const command = `npx tsx bench/diffusion-contextunet.ts ${argv.join(' ')}`.trim();
if (json) {
  console.log(JSON.stringify({ command, pytorch: referenceLabel, rows: table, loadAverage: { before: loadBefore, after: loadAfter }, cores: availableParallelism() }));
} else {
  console.log(`\n${referenceLabel}`);
  console.log(`${'figure'.padEnd(30)} ${'backend'.padEnd(26)} ${'ms'.padStart(8)} ${'PyTorch'.padStart(8)} ${'ratio'.padStart(7)}  goal`);
  for (const r of table) {
    console.log(
      `${figureName[r.figure].padEnd(30)} ${r.backend.padEnd(26)} ${r.ms.toFixed(1).padStart(8)} ${r.torchMs.toFixed(1).padStart(8)} ${`${r.ratio.toFixed(2)}×`.padStart(7)}  ≤ ${r.goal.toFixed(1)}× ${r.met ? 'met' : 'not met'}${r.note ? ` (${r.note})` : ''}`,
    );
  }
  console.log(`load average (1/5/15 min): ${loadBefore.map((v) => v.toFixed(2)).join(' ')} before, ${loadAfter.map((v) => v.toFixed(2)).join(' ')} after, on ${availableParallelism()} cores`);
  console.log(`command: ${command}`);
}
