/**
 * One training step of the shipped text-to-image model's networks (issue 15), ours against PyTorch
 * 1.13 running diffusers' classes of the same config, side by side in ONE run:
 *
 *   unet: UNet2DConditionModel of packages/diffusion/models/shapes-t2i/unet/config.json — latents
 *         8×8×4, cross-attention on 64-wide text of the shipped tokenizer's length (16), batch 32
 *         (as trained): ε_θ(z_t, t, c), L = mean((ε_θ − ε)²), backward, clip to norm 1, Adam, EMA.
 *         Ours is exactly UNetTrainer.optimiseOn (src/train/t2i/unet-trainer.ts).
 *   vae:  AutoencoderKL of …/vae/config.json, 32×32×3 → 8×8×4, batch 16: MSE + 1e-4·KL, backward,
 *         clip, Adam, EMA. Ours is exactly VaeTrainer.trainOn (src/train/t2i/vae-trainer.ts).
 *
 * The reference is bench/t2i_train_reference.py (diffusers' classes, imported, random weights, the
 * same loss, clipping, Adam and EMA). Both sides run as child processes answering "step" with one
 * wall time, so that each has its own peak RSS, and their steps are INTERLEAVED (ours, PyTorch,
 * ours, …) so that a background load that comes and goes weighs on both figures of a ratio alike.
 * Every row carries the 1-minute load average at its start and end (figures taken on a loaded
 * machine must say so) and the median process CPU time per step of each side, which a load moves
 * less than wall time.
 *
 * Run: npx tsx bench/diffusion-t2i-train.ts [--models unet,vae] [--backends native,wasm]
 *        [--iters 3] [--warmup 2] [--threads 2] [--no-torch] [--torch-omp-spin] [--json]
 *   backends: native, wasm, cpu, tensorflow (tfjs engines). --threads: PyTorch's threads and the
 *   native addon's (FLASHDIFF_NATIVE_THREADS of our worker; default 2, the machine the figures are for). PyTorch runs where `/usr/bin/python3 -c "import diffusers"`
 *   works: set PYTHON and PYTHONPATH (diffusers 0.27.2 from source; see packages/diffusion/reference/).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AutoencoderKL, ClipTextModel, Random, readAutoencoderConfig, readClipTextConfig, type TensorEngine } from '@flashdiff/diffusion';
import { BACKENDS, type BackendName, initBackend, loadClipTokenizer, median } from '@flashdiff/diffusion/node';
import { UNetTrainer } from '../packages/diffusion/src/train/t2i/unet-trainer.ts';
import { VaeTrainer } from '../packages/diffusion/src/train/t2i/vae-trainer.ts';

const MODEL_DIR = fileURLToPath(new URL('../packages/diffusion/models/shapes-t2i/', import.meta.url));
const MODELS = { unet: { batch: 32, label: 'UNet2DConditionModel' }, vae: { batch: 16, label: 'AutoencoderKL' } } as const;
type ModelName = keyof typeof MODELS;

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
const option = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
};
const fail = (message: string): never => {
  console.error(message);
  process.exit(2);
};
const positive = (name: string, fallback: string): number => {
  const v = Number(option(name, fallback));
  return Number.isInteger(v) && v >= 0 ? v : fail(`--${name}: expected an integer ≥ 0, got ${option(name, fallback)}`);
};
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

// ---- worker: one of our engines, one model, one step per "step" line ----

/** The step of our trainer for `model`, on seeded random inputs of the trained shapes. */
function ourStep(engine: TensorEngine, model: ModelName): { step: () => void; parameters: number; dispose: () => void } {
  const random = new Random(1);
  const vaeJson = readJson(`${MODEL_DIR}vae/config.json`);
  if (model === 'vae') {
    const batch = MODELS.vae.batch;
    const trainer = new VaeTrainer(engine, { batchSize: batch, steps: 1_000_000 }, { model: vaeJson, klWeight: 1e-4, l1Weight: 0, initialLogvar: -6, evalImages: 16 });
    const images = random.normalArray(batch * 32 * 32 * 3).map((v) => Math.max(-1, Math.min(1, v)));
    return { step: () => void trainer.trainOn(images), parameters: trainer.vae.params.count(), dispose: () => trainer.dispose() };
  }
  const batch = MODELS.unet.batch;
  const textConfig = readClipTextConfig(readJson(`${MODEL_DIR}text_encoder/config.json`));
  const vae = new AutoencoderKL(engine, new Random(2), readAutoencoderConfig(vaeJson));
  const textEncoder = new ClipTextModel(engine, new Random(3), textConfig);
  const tokenizer = loadClipTokenizer(`${MODEL_DIR}tokenizer`);
  const unetJson = readJson(`${MODEL_DIR}unet/config.json`);
  const trainer = new UNetTrainer(engine, { vae, textEncoder, tokenizer }, { batchSize: batch, steps: 1_000_000 }, { model: unetJson, captionDropout: 0.1, evalImages: 16 });
  const size = trainer.modelConfig.sample_size;
  const channels = trainer.modelConfig.in_channels;
  const length = tokenizer.modelMaxLength;
  const shape = [batch, size, size, channels];
  const zt = engine.tensor(random.normalArray(batch * size * size * channels), shape);
  const noise = engine.tensor(random.normalArray(batch * size * size * channels), shape);
  const context = engine.tensor(random.normalArray(batch * length * textConfig.hidden_size), [batch, length, textConfig.hidden_size]);
  const timesteps = Float32Array.from({ length: batch }, () => random.int(1000));
  return {
    step: () => void trainer.optimiseOn(zt, timesteps, context, noise),
    parameters: trainer.unet.params.count(),
    dispose: () => {
      for (const t of [zt, noise, context]) t.dispose();
      trainer.dispose();
      vae.params.dispose();
      textEncoder.params.dispose();
    },
  };
}

async function worker(model: ModelName, backend: BackendName, warmup: number): Promise<void> {
  const engine = await initBackend(backend);
  const run = ourStep(engine, model);
  for (let i = 0; i < warmup; i++) run.step();
  const tensorsAfterWarmup = engine.numTensors();
  console.log(JSON.stringify({ ready: true, engine: engine.name, parameters: run.parameters }));
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'step') {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      run.step();
      const cpu = process.cpuUsage(cpu0);
      console.log(`${(performance.now() - t0).toFixed(3)} ${((cpu.user + cpu.system) / 1000).toFixed(3)}`);
    } else if (line === 'rss') {
      console.log(JSON.stringify({ peakRssMb: process.resourceUsage().maxRSS / 1024, tensorCountStable: engine.numTensors() === tensorsAfterWarmup }));
    } else if (line === 'quit') break;
  }
  run.dispose();
}

// ---- parent: start both sides, interleave, print ----

interface Server {
  label: string;
  parameters: number;
  /** Wall and process CPU time of one step (ms). */
  step(): Promise<{ wall: number; cpu: number }>;
  rss(): Promise<{ peakRssMb: number; tensorCountStable?: boolean }>;
  close(): void;
}

async function startServer(command: string, args: string[], describe: (ready: Record<string, unknown>) => string, env?: NodeJS.ProcessEnv): Promise<Server> {
  const child: ChildProcessWithoutNullStreams = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await lines.next();
    if (r.done) throw new Error(`${command} ${args.join(' ')} exited:\n${stderr.trim().split('\n').slice(-5).join('\n')}`);
    return r.value;
  };
  const ready = JSON.parse(await next()) as Record<string, unknown>;
  return {
    label: describe(ready),
    parameters: Number(ready.parameters),
    async step() {
      child.stdin.write('step\n');
      const [wall, cpu] = (await next()).split(' ').map(Number);
      return { wall, cpu };
    },
    async rss() {
      child.stdin.write('rss\n');
      return JSON.parse(await next()) as { peakRssMb: number; tensorCountStable?: boolean };
    },
    close() {
      child.stdin.end('quit\n');
    },
  };
}

interface Row {
  model: ModelName;
  batch: number;
  backend: string;
  oursMs: number;
  oursTimes: number[];
  torchMs: number | null;
  torchTimes: number[];
  ratio: number | null;
  /** Median process CPU time per step (all threads): less moved by the load than wall time. */
  oursCpuMs: number;
  torchCpuMs: number | null;
  oursPeakRssMb: number;
  torchPeakRssMb: number | null;
  parameters: { ours: number; torch: number | null };
  tensorCountStable: boolean;
  /** 1-minute load average when the row started and ended (the machine's 2 cores are shared). */
  load: { start: number; end: number };
}

async function main(): Promise<void> {
  if (flag('worker')) {
    await worker(option('model', 'unet') as ModelName, option('backend', 'native') as BackendName, positive('warmup', '2'));
    return;
  }
  const models = option('models', 'unet,vae').split(',').filter(Boolean);
  const backends = option('backends', 'native').split(',').filter(Boolean);
  const iters = positive('iters', '3') || fail('--iters: expected a positive integer');
  const warmup = positive('warmup', '2');
  const threads = positive('threads', '2') || fail('--threads: expected a positive integer');
  const json = flag('json');
  for (const m of models) if (!(m in MODELS)) fail(`--models: "${m}" is not one of ${Object.keys(MODELS).join(', ')}`);
  for (const b of backends) if (b === 'auto' || !(BACKENDS as readonly string[]).includes(b)) fail(`--backends: "${b}" is not one of ${BACKENDS.filter((x) => x !== 'auto').join(', ')}`);
  const log = (line: string): void => void process.stderr.write(line + '\n');

  const python = process.env.PYTHON ?? '/usr/bin/python3';
  const torchWhyNot = flag('no-torch')
    ? '--no-torch'
    : spawnSync(python, ['-c', 'import torch, diffusers'], { encoding: 'utf8' }).status !== 0
      ? `${python} cannot import torch and diffusers (set PYTHON / PYTHONPATH)`
      : null;
  // Our addon sets OMP_WAIT_POLICY=PASSIVE unless told otherwise (diffusion-native README: spinning
  // OpenMP threads made a step 2–3× slower on a shared machine). PyTorch's OpenMP pool spins by
  // default, and under a load it measured 3–9 s instead of 0.45 s for the UNet step here, so the
  // reference gets the same policy; --torch-omp-spin leaves PyTorch's default.
  const torchEnv: NodeJS.ProcessEnv = flag('torch-omp-spin') ? { ...process.env } : { OMP_WAIT_POLICY: 'PASSIVE', ...process.env };
  if (flag('torch-omp-spin')) delete torchEnv.OMP_WAIT_POLICY;
  const self = fileURLToPath(import.meta.url);
  const reference = fileURLToPath(new URL('./t2i_train_reference.py', import.meta.url));
  const textLength = Number(readJson(`${MODEL_DIR}tokenizer/tokenizer_config.json`).model_max_length);
  const loadStart = loadavg();
  const rows: Row[] = [];
  let torchLabel = torchWhyNot ? `not measured: ${torchWhyNot}` : '';

  for (const model of models as ModelName[]) {
    const { batch } = MODELS[model];
    let torch: Server | null = null;
    if (!torchWhyNot) {
      log(`pytorch: starting bench/t2i_train_reference.py --model ${model} (${warmup} warm-up steps) …`);
      torch = await startServer(
        python,
        [reference, '--serve', '--model', model, '--config', `${MODEL_DIR}${model}/config.json`, '--batch', String(batch), '--text-length', String(textLength), '--threads', String(threads), '--warmup', String(warmup)],
        (r) => `PyTorch ${r.torch} + diffusers ${r.diffusers}, ${r.threads} threads, OMP_WAIT_POLICY=${torchEnv.OMP_WAIT_POLICY ?? '(unset: spinning)'}`,
        torchEnv,
      );
      torchLabel = torch.label;
    }
    for (const backend of backends) {
      log(`${backend}: starting our ${model} worker (${warmup} warm-up steps) …`);
      let ours: Server;
      try {
        ours = await startServer(process.execPath, [...process.execArgv, self, '--worker', '--model', model, '--backend', backend, '--warmup', String(warmup)], (r) => String(r.engine), {
          ...process.env,
          FLASHDIFF_NATIVE_THREADS: String(threads),
        });
      } catch (error) {
        console.log(`${backend}: unavailable (${(error as Error).message.split('\n').slice(-1)[0]})`);
        continue;
      }
      const load = { start: loadavg()[0], end: NaN };
      const oursTimes: number[] = [];
      const torchTimes: number[] = [];
      const oursCpu: number[] = [];
      const torchCpu: number[] = [];
      // A pause on each side, so that thread pools still spinning after one side's step (OpenMP)
      // do not take the cores from the other side's.
      const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));
      for (let i = 0; i < iters; i++) {
        const a = await ours.step();
        oursTimes.push(a.wall);
        oursCpu.push(a.cpu);
        await settle();
        if (torch) {
          const b = await torch.step();
          torchTimes.push(b.wall);
          torchCpu.push(b.cpu);
        }
        await settle();
        log(`${model} step ${i + 1}/${iters}: ${ours.label} ${oursTimes[i].toFixed(0)} ms${torch ? `, PyTorch ${torchTimes[i].toFixed(0)} ms` : ''} (load ${loadavg()[0].toFixed(2)})`);
      }
      load.end = loadavg()[0];
      const oursRss = await ours.rss();
      ours.close();
      const oursMs = median(oursTimes);
      const torchMs = torch ? median(torchTimes) : null;
      rows.push({
        model,
        batch,
        backend: ours.label,
        oursMs,
        oursTimes,
        torchMs,
        torchTimes,
        ratio: torchMs ? oursMs / torchMs : null,
        oursCpuMs: median(oursCpu),
        torchCpuMs: torch ? median(torchCpu) : null,
        oursPeakRssMb: oursRss.peakRssMb,
        torchPeakRssMb: null,
        parameters: { ours: ours.parameters, torch: torch?.parameters ?? null },
        tensorCountStable: oursRss.tensorCountStable === true,
        load,
      });
    }
    if (torch) {
      const peak = (await torch.rss()).peakRssMb;
      for (const r of rows) if (r.model === model) r.torchPeakRssMb = peak;
      torch.close();
    }
  }

  const loadEnd = loadavg();
  const command = `npx tsx bench/diffusion-t2i-train.ts ${argv.join(' ')}`.trim();
  if (json) {
    console.log(JSON.stringify({ command, pytorch: torchLabel, threads, iters, warmup, cores: availableParallelism(), loadAverage: { start: loadStart, end: loadEnd }, rows }));
    return;
  }
  const fmt = (v: number | null, digits = 0): string => (v === null ? '—' : v.toFixed(digits));
  console.log(`\nOne training step (forward, loss, backward, clip, Adam, EMA), median of ${iters} interleaved steps after ${warmup} warm-up; ours with ${threads} native thread(s); reference: ${torchLabel}`);
  console.log(`${'model'.padEnd(26)} ${'backend'.padEnd(18)} ${'ours ms'.padStart(8)} ${'torch ms'.padStart(9)} ${'ratio'.padStart(7)} ${'CPU ms ours/torch'.padStart(18)} ${'RSS ours'.padStart(9)} ${'RSS torch'.padStart(10)}  params ours/torch   load 1-min start→end`);
  for (const r of rows) {
    const label = `${MODELS[r.model].label} b${r.batch}`;
    const params = `${r.parameters.ours}/${r.parameters.torch ?? '—'}${r.parameters.torch !== null && r.parameters.torch !== r.parameters.ours ? ' DIFFER' : ''}`;
    console.log(
      `${label.padEnd(26)} ${r.backend.padEnd(18)} ${fmt(r.oursMs).padStart(8)} ${fmt(r.torchMs).padStart(9)} ${(r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`).padStart(7)} ${`${fmt(r.oursCpuMs)}/${fmt(r.torchCpuMs)}`.padStart(18)} ${`${fmt(r.oursPeakRssMb)} MB`.padStart(9)} ${(r.torchPeakRssMb === null ? '—' : `${fmt(r.torchPeakRssMb)} MB`).padStart(10)}  ${params.padEnd(18)} ${r.load.start.toFixed(2)}→${r.load.end.toFixed(2)}${r.tensorCountStable ? '' : '  TENSOR COUNT GREW'}`,
    );
  }
  console.log(`per-step times (ms): ${rows.map((r) => `${r.model}/${r.backend} ours [${r.oursTimes.map((t) => t.toFixed(0)).join(', ')}] torch [${r.torchTimes.map((t) => t.toFixed(0)).join(', ')}]`).join('; ')}`);
  console.log(`peak RSS: each side's whole process (ours: one worker per row; PyTorch: one process per model, all its rows)`);
  console.log(`load average (1/5/15 min): ${loadStart.map((v) => v.toFixed(2)).join(' ')} at start, ${loadEnd.map((v) => v.toFixed(2)).join(' ')} at end, on ${availableParallelism()} cores`);
  console.log(`command: ${command}`);
}

await main().catch((error: unknown) => {
  console.error(`diffusion-t2i-train: ${(error as Error).message}`);
  process.exit(1);
});
