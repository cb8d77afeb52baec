/**
 * `diffusion train|sample|eval|bench|export-onnx` — Node-only command line.
 * The shared CLI style (@flashdiff/cli-kit): exit codes 0 ok; 2 usage errors, bad flags and
 * unreadable/malformed data; 1 other failures (a corrupt checkpoint: one line naming the file);
 * `--json` prints one JSON object on stdout and nothing else there; progress goes to stderr (a
 * bar only on a terminal); output files are written atomically; Ctrl-C leaves no partial file.
 */
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CliError, applyCliStyle, packageVersion, progressBar, runCli, writeFileAtomic, writeFilesAtomic } from '@flashdiff/cli-kit';
import type { CliDefinition } from '@flashdiff/cli-kit';
import { BACKENDS, type BackendName, initBackend } from './backend-node.ts';
import { loadModel } from './checkpoint/checkpoint-node.ts';
import { loadDataset } from './data/load-node.ts';
import { DiffusionError } from './errors.ts';
import { imagesToGrid } from './image/grid.ts';
import { encodePng } from './image/png-node.ts';
import type { DiffusionModel, ModelConfig } from './models/index.ts';
import { ONNX_OPSET, exportOnnx } from './onnx/export.ts';
import { OnnxNoisePredictor, loadOnnxRuntime, onnxRuntimeVersion } from './onnx/ort-node.ts';
import { SHIPPED_MODEL_GUIDANCE, SHIPPED_MODEL_NAME, shippedModelDirectory } from './node/shipped-model.ts';
import { registerSdCommands } from './node/sd-cli.ts';
import { registerDataCommands } from './node/data-cli.ts';
import { registerTextToImageTrainingCommands } from './node/t2i-train-cli.ts';
import { runBench } from './node/bench.ts';
import { runSd15Bench, runSd15Reference, sd15Ratios } from './node/sd-bench.ts';
import { evaluateModel } from './node/evaluate.ts';
import { runTraining } from './node/train-run.ts';
import { Random } from './rng.ts';
import { type ContextSpec, sampleImages, withNoisePredictor } from './sample.ts';
import { BETA_SCHEDULES, type BetaSchedule } from './schedule.ts';
import { TIMESTEP_SPACINGS, type TimestepSpacing, createScheduler } from './schedulers/index.ts';
import { LR_SCHEDULES, type LrSchedule } from './train/optimizer.ts';

const int = (min: number) => (value: string): number => {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer ≥ ${min}`);
  return n;
};
const float = (min: number, max = Infinity) => (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`must be a number in [${min}, ${max === Infinity ? '∞' : max}]`);
  return n;
};
const intList = (value: string): number[] => {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new InvalidArgumentError('must be a comma-separated list of integers');
  return parts.map(Number);
};
/** "3:1,7:0.6" → [{3, 1}, {7, 0.6}] */
export function parseMix(value: string): Array<{ classIndex: number; weight: number }> {
  return value.split(',').map((part) => {
    const m = /^\s*(\d+)\s*:\s*(-?[\d.]+(?:e-?\d+)?)\s*$/i.exec(part);
    if (!m || !Number.isFinite(Number(m[2]))) throw new InvalidArgumentError(`"${part}" is not class:weight (e.g. "3:1,7:0.6")`);
    return { classIndex: Number(m[1]), weight: Number(m[2]) };
  });
}

const backendOption = (): Option =>
  new Option('--backend <name>', 'tensor backend (native: @flashdiff/diffusion-native; auto: native when built, else wasm)').choices(BACKENDS).default('auto');

/** sample and eval also accept onnx: the model call runs in onnxruntime-node on the exported graph. */
const SAMPLING_BACKENDS = [...BACKENDS, 'onnx'] as const;
type SamplingBackend = (typeof SAMPLING_BACKENDS)[number];

const samplingBackendOption = (): Option =>
  new Option('--backend <name>', 'tensor backend (onnx: the model call runs in onnxruntime-node; auto: onnx when onnxruntime-node loads, else native when built, else wasm)')
    .choices(SAMPLING_BACKENDS)
    .default('auto');

/**
 * Load a checkpoint for sampling. With --backend onnx the model is exported to ONNX in memory and
 * each denoising step's model call runs in an ORT session; tfjs (auto: native when built, else
 * wasm) still reads the weights and runs anything else (the evaluation classifier). --backend auto
 * takes the onnx route when onnxruntime-node loads: it runs the forward pass fastest
 * (bench/diffusion-contextunet.ts).
 */
async function openForSampling(
  backend: SamplingBackend,
  checkpoint: string,
  weights: 'ema' | 'model' = 'ema',
): Promise<{ engine: Awaited<ReturnType<typeof initBackend>>; model: DiffusionModel; config: ReturnType<typeof loadModel>['config']; backend: string; close: () => Promise<void> }> {
  if (backend === 'auto') backend = (await onnxRuntimeVersion()) !== null ? 'onnx' : 'auto';
  if (backend !== 'onnx') {
    const engine = await initBackend(backend);
    const { model, config } = loadModel(engine, checkpoint, weights);
    return { engine, model, config, backend: engine.name, close: async () => model.params.dispose() };
  }
  await loadOnnxRuntime(); // fail fast, before any work, when the optional package is missing
  const engine = await initBackend('auto');
  const { model, config } = loadModel(engine, checkpoint, weights);
  const predictor = await OnnxNoisePredictor.create(model);
  return {
    engine,
    model: withNoisePredictor(model, predictor),
    config,
    backend: 'onnx',
    close: async () => {
      await predictor.dispose();
      model.params.dispose();
    },
  };
}

/** A usage error (exit 2), printed by runCli as one line. */
function fail(message: string, _code: 2): never {
  throw new CliError('USAGE', message);
}

function exitCodeFor(err: DiffusionError): number {
  // An unavailable --backend is a flag the machine cannot serve: a usage error (2), like a bad choice.
  return err.code === 'CHECKPOINT_CORRUPT' || err.code === 'CHECKPOINT_MISSING' ? 1 : 2;
}

const program = new Command();
program.name('diffusion').description('DDPM training, DDPM/DDIM sampling and evaluation on TensorFlow.js');

program
  .command('train')
  .description('train a noise-prediction model; writes a checkpoint directory')
  .requiredOption('--data <spec>', 'mnist | <dir of class sub-folders of PNGs> | <file.npy>')
  .option('--labels <file.npy>', 'integer labels for .npy data')
  .option('--image-size <n>', 'MNIST side: 16 (area-resized), 28 or 32 (padded)', int(1), 16)
  .option('--limit <n>', 'use at most n images', int(1))
  .addOption(new Option('--model <kind>', 'network').choices(['context-unet', 'unet']).default('context-unet'))
  .option('--n-feat <n>', 'context-unet: channels of the first level (multiple of 8)', int(8), 64)
  .option('--channels <list>', 'unet: channels per level', intList, [32, 64, 64])
  .option('--layers-per-block <n>', 'unet: residual blocks per level', int(1), 1)
  .option('--attention <list>', 'unet: levels with self-attention (empty: none)', (v: string) => (v === '' ? [] : intList(v)), [] as number[])
  .option('--norm-groups <n>', 'unet: GroupNorm groups', int(1), 8)
  .option('--epochs <n>', 'epochs', int(1))
  .option('--batch <n>', 'batch size', int(1), 100)
  .option('--lr <x>', 'peak learning rate', float(1e-12, 10), 1e-3)
  .addOption(new Option('--lr-schedule <kind>', 'learning-rate schedule').choices(LR_SCHEDULES).default('linear'))
  .option('--warmup <steps>', 'linear warm-up steps', int(0), 0)
  .option('--timesteps <T>', 'diffusion steps T', int(2), 500)
  .addOption(new Option('--schedule <kind>', 'β schedule').choices(BETA_SCHEDULES).default('linear'))
  .option('--beta-start <x>', 'β_1 (linear, scaled-linear)', float(1e-8, 0.5), 1e-4)
  .option('--beta-end <x>', 'β_T (linear, scaled-linear)', float(1e-8, 0.999), 0.02)
  .option('--context-dropout <p>', 'probability of the null context (for guidance)', float(0, 1), 0.1)
  .option('--ema-decay <d>', 'EMA decay (0 = off)', float(0, 0.999999), 0.995)
  .option('--grad-clip <norm>', 'global gradient-norm clip (0 = off)', float(0), 1)
  .option('--sample-every <epochs>', 'write samples/epoch-N.png every N epochs (0 = never)', int(0), 1)
  .option('--seed <n>', 'seed for weights, batches and noise', int(0), 0)
  .option('--max-steps <n>', 'stop this session after n steps (quick checks)', int(1))
  .requiredOption('--out <dir>', 'checkpoint directory')
  .option('--resume', 'continue the run saved in --out', false)
  .option('--no-progress', 'no progress bar')
  .option('--json', 'print the result as one JSON object on stdout', false)
  .addOption(backendOption())
  .action(async (o) => {
    if (!o.resume && o.epochs === undefined) throw new InvalidArgumentError('--epochs is required (unless --resume)');
    const engine = await initBackend(o.backend as BackendName);
    const data = loadDataset(o.data, { labelsPath: o.labels, imageSize: o.imageSize, limit: o.limit });
    const numClasses = Math.max(data.numClasses, 1);
    const model: ModelConfig =
      o.model === 'context-unet'
        ? { kind: 'context-unet', inChannels: data.channels, nFeat: o.nFeat, nCfeat: numClasses, height: data.height, numTrainTimesteps: o.timesteps }
        : { kind: 'unet', inChannels: data.channels, height: data.height, width: data.width, channels: o.channels, layersPerBlock: o.layersPerBlock, attentionLevels: o.attention, numClasses, normGroups: o.normGroups };
    if (model.kind === 'context-unet' && data.height !== data.width) throw new DiffusionError('DATA_INVALID', `${data.name}: context-unet needs square images, got ${data.height}×${data.width}`);
    const result = await runTraining(engine, data, {
      out: o.out,
      resume: o.resume,
      model,
      schedule: { numTrainTimesteps: o.timesteps, betaSchedule: o.schedule as BetaSchedule, betaStart: o.betaStart, betaEnd: o.betaEnd },
      training: {
        ...(o.epochs !== undefined ? { epochs: o.epochs } : {}),
        batchSize: o.batch,
        learningRate: o.lr,
        lrSchedule: o.lrSchedule as LrSchedule,
        warmupSteps: o.warmup,
        contextDropout: o.contextDropout,
        emaDecay: o.emaDecay,
        gradClipNorm: o.gradClip,
        seed: o.seed,
      },
      sampleEvery: o.sampleEvery,
      progress: o.progress,
      maxSteps: o.maxSteps,
    });
    const summary = { out: o.out, epoch: result.config.state.epoch, step: result.config.state.step, loss: result.lastLoss, trainingSeconds: Math.round(result.config.trainingSeconds) };
    process.stdout.write(
      o.json
        ? JSON.stringify(summary) + '\n'
        : `checkpoint ${summary.out}: epoch ${summary.epoch}, step ${summary.step}, loss ${summary.loss.toFixed(4)}, ${summary.trainingSeconds} s of training\n`,
    );
  });

program
  .command('sample')
  .description('generate a PNG grid (and optionally a denoising strip) from a checkpoint')
  .option('--checkpoint <dir>', `checkpoint directory (default: the shipped ${SHIPPED_MODEL_NAME} model)`)
  .addOption(new Option('--sampler <kind>', 'sampler').choices(['ddpm', 'ddim']).default('ddim'))
  .option('--steps <n>', 'inference steps (ddpm: default T)', int(1))
  .option('--eta <e>', 'DDIM η (0 = deterministic)', float(0, 1), 0)
  .addOption(new Option('--spacing <kind>', 'timestep spacing').choices(TIMESTEP_SPACINGS).default('trailing'))
  .addOption(new Option('--variance <kind>', 'DDPM variance').choices(['fixed_small', 'fixed_large']).default('fixed_small'))
  .option('--class <k>', 'class index, or "all" for one row per class')
  .option('--mix <spec>', 'weighted mix of classes, e.g. "3:1,7:0.6"', parseMix)
  .option('--guidance <w>', `classifier-free guidance scale (1 = none; default 1, or ${SHIPPED_MODEL_GUIDANCE} with the shipped model)`, float(-100, 100))
  .option('--n <n>', 'number of images', int(1), 16)
  .option('--columns <n>', 'grid columns', int(1))
  .option('--seed <n>', 'seed', int(0), 0)
  .requiredOption('--out <file.png>', 'output grid')
  .option('--strip <file.png>', 'also write the denoising progression (one row per image, up to 8)')
  .option('--frames <n>', 'frames in the strip', int(2), 8)
  .option('--weights <which>', 'ema | model', 'ema')
  .option('--json', 'print the result as one JSON object on stdout', false)
  .addOption(samplingBackendOption())
  .action(async (o) => {
    if (o.class !== undefined && o.mix !== undefined) throw new InvalidArgumentError('--class and --mix are exclusive');
    if (o.weights !== 'ema' && o.weights !== 'model') throw new InvalidArgumentError('--weights must be ema or model');
    const checkpoint: string = o.checkpoint ?? shippedModelDirectory() ?? fail(`no --checkpoint given, and this copy of the package has no shipped ${SHIPPED_MODEL_NAME} model`, 2);
    const guidance: number = o.guidance ?? (o.checkpoint === undefined ? SHIPPED_MODEL_GUIDANCE : 1);
    const { engine, model, config, backend, close } = await openForSampling(o.backend as SamplingBackend, checkpoint, o.weights);
    const numClasses = config.data.numClasses;
    let context: ContextSpec = { kind: 'none' };
    let n: number = o.n;
    let columns: number = o.columns ?? Math.ceil(Math.sqrt(n));
    if (o.class === 'all') {
      if (numClasses < 1) throw new InvalidArgumentError('--class all: the checkpoint was trained without labels');
      const perRow = Math.max(1, Math.floor(n / numClasses));
      n = perRow * numClasses;
      columns = perRow;
      context = { kind: 'per-sample', classes: Array.from({ length: n }, (_, i) => Math.floor(i / perRow)) };
    } else if (o.class !== undefined) {
      const k = Number(o.class);
      if (!Number.isInteger(k) || k < 0 || k >= numClasses) throw new InvalidArgumentError(`--class ${o.class}: expected 0..${numClasses - 1} or "all"`);
      context = { kind: 'class', classIndex: k };
    } else if (o.mix) {
      for (const { classIndex } of o.mix as Array<{ classIndex: number }>) {
        if (classIndex >= numClasses) throw new InvalidArgumentError(`--mix: class ${classIndex} outside 0..${numClasses - 1}`);
      }
      context = { kind: 'mix', weights: o.mix };
    }
    const scheduler = createScheduler({ ...config.schedule, kind: o.sampler, eta: o.eta, timestepSpacing: o.spacing as TimestepSpacing, varianceType: o.variance });
    const steps: number = o.steps ?? (o.sampler === 'ddpm' ? config.schedule.numTrainTimesteps : 50);
    if (steps > config.schedule.numTrainTimesteps) throw new InvalidArgumentError(`--steps ${steps}: at most ${config.schedule.numTrainTimesteps}`);
    const frameCount: number = Math.min(o.frames, steps);
    const frameSteps = o.strip ? Array.from({ length: frameCount - 1 }, (_, i) => Math.round((i * (steps - 1)) / (frameCount - 1))) : undefined;
    const t0 = performance.now();
    const bar = progressBar('sampling');
    const result = await sampleImages(engine, model, {
      scheduler,
      steps,
      n,
      context,
      guidance,
      random: new Random(o.seed),
      frameSteps,
      onStep: async (i, total) => {
        bar.update(i + 1, total);
        // A turn of the event loop per step: Ctrl-C's handler can run between steps.
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    bar.stop();
    const { height, width, channels } = result;
    const files: Array<[string, Uint8Array]> = [[o.out, encodePng(imagesToGrid(result.images, n, height, width, channels, columns))]];
    if (o.strip) {
      const rows = Math.min(n, 8);
      const per = height * width * channels;
      const tiles = [...result.frames.map((f) => f.images), result.images];
      const strip = new Float32Array(rows * tiles.length * per);
      for (let r = 0; r < rows; r++) tiles.forEach((img, c) => strip.set(img.subarray(r * per, (r + 1) * per), (r * tiles.length + c) * per));
      files.push([o.strip, encodePng(imagesToGrid(strip, rows * tiles.length, height, width, channels, tiles.length))]);
    }
    // The grid and the strip as one step: a strip that cannot be written leaves the previous grid too.
    writeFilesAtomic(files);
    const summary = { out: o.out, checkpoint, strip: o.strip ?? null, n, sampler: o.sampler, steps, guidance, backend, seconds: Math.round((performance.now() - t0) / 100) / 10 };
    process.stdout.write(
      o.json
        ? JSON.stringify(summary) + '\n'
        : `${summary.out}: ${n} images, ${summary.sampler} ${steps} steps, guidance ${guidance}, ${backend}, ${summary.seconds} s${summary.strip ? `; strip ${summary.strip}` : ''}\n`,
    );
    await close();
  });

program
  .command('eval')
  .description('conditional accuracy and Fréchet distance of samples, with real-vs-real for scale')
  .requiredOption('--checkpoint <dir>', 'checkpoint directory')
  .requiredOption('--data <spec>', 'mnist | <dir> | <file.npy> — the data the model was trained on')
  .option('--labels <file.npy>', 'labels for .npy data')
  .option('--n <n>', 'samples to generate (and real images per half)', int(10), 500)
  .addOption(new Option('--sampler <kind>', 'sampler').choices(['ddpm', 'ddim']).default('ddim'))
  .option('--steps <n>', 'inference steps', int(1), 50)
  .option('--eta <e>', 'DDIM η', float(0, 1), 0)
  .addOption(new Option('--spacing <kind>', 'timestep spacing').choices(TIMESTEP_SPACINGS).default('trailing'))
  .option('--guidance <w>', 'classifier-free guidance scale', float(-100, 100), 1)
  .option('--seed <n>', 'seed', int(0), 0)
  .option('--classifier-epochs <n>', 'epochs for the evaluation classifier', int(1), 15)
  .option('--json', 'print one JSON object', false)
  .addOption(samplingBackendOption())
  .action(async (o) => {
    const { engine, model, config, backend, close } = await openForSampling(o.backend as SamplingBackend, o.checkpoint);
    const data = loadDataset(o.data, { labelsPath: o.labels, imageSize: config.data.height });
    if (data.height !== config.data.height || data.width !== config.data.width || data.channels !== config.data.channels) {
      throw new DiffusionError('DATA_INVALID', `${o.data}: ${data.height}×${data.width}×${data.channels} images, the checkpoint was trained on ${config.data.height}×${config.data.width}×${config.data.channels}`);
    }
    const scheduler = createScheduler({ ...config.schedule, kind: o.sampler, eta: o.eta, timestepSpacing: o.spacing as TimestepSpacing });
    const report = await evaluateModel(engine, model, data, {
      n: o.n,
      scheduler,
      steps: Math.min(o.steps, config.schedule.numTrainTimesteps),
      guidance: o.guidance,
      seed: o.seed,
      classifierEpochs: o.classifierEpochs,
      cacheDir: join(o.checkpoint, 'classifier'),
    });
    await close();
    if (o.json) process.stdout.write(JSON.stringify({ ...report, backend }) + '\n');
    else {
      process.stdout.write(`conditional accuracy ${(100 * report.accuracy).toFixed(1)}% (classifier on real data ${(100 * report.classifierAccuracy).toFixed(1)}%)\n`);
      process.stdout.write(`Fréchet distance ${report.fd.toFixed(3)} (real vs real ${report.fdRealVsReal.toFixed(3)})\n`);
    }
  });

program
  .command('bench')
  .description('time the reference ContextUnet (3×16×16, n_feat 64, 5 classes): train step at batch 100, forward at batch 32; with --sd15, Stable Diffusion 1.5 at 512×512')
  .option('--iters <n>', 'timed training steps (forward passes: at least 10); --sd15: runs of each model', int(1), 3)
  .option('--sd15', "SD-1.5's UNet step (2×4×64×64, 77×768 text), VAE decode to 512×512 and text encoder (2 prompts) on random weights, with PyTorch + diffusers side by side when python3 imports them", false)
  .option('--onnx', '--sd15: run the three models in onnxruntime-node (what txt2img --backend onnx does)', false)
  .option('--json', 'print one JSON object', false)
  .addOption(backendOption())
  .action(async (o) => {
    const engine = await initBackend(o.backend as BackendName);
    const log = (line: string) => process.stderr.write(line + '\n');
    if (o.sd15) {
      const ours = await runSd15Bench(engine, o.iters, log, o.onnx ? 'onnx' : 'tfjs');
      const { reference, why } = runSd15Reference(o.iters);
      const ratios = reference ? sd15Ratios(ours, reference) : null;
      if (o.json) process.stdout.write(JSON.stringify({ ...ours, reference, ratios, ...(reference ? {} : { referenceMissing: why }) }) + '\n');
      else {
        process.stdout.write(`${ours.backend}/${ours.unetRoute}: UNet step ${ours.unetStepMs} ms, VAE decode ${ours.vaeDecodeMs} ms, text encoder ${ours.textEncoderMs} ms, peak RSS ${ours.peakRssMb} MB\n`);
        if (reference && ratios) process.stdout.write(`PyTorch ${reference.torch}: ${reference.unetStepMs} / ${reference.vaeDecodeMs} / ${reference.textEncoderMs} ms, ${reference.peakRssMb} MB; ratios ${ratios.unetStepMs}× / ${ratios.vaeDecodeMs}× / ${ratios.textEncoderMs}× / ${ratios.peakRssMb}×\n`);
        else process.stdout.write(`no PyTorch figures: ${why}\n`);
      }
      return;
    }
    const report = await runBench(engine, o.iters, Math.max(10, o.iters), log);
    if (o.json) process.stdout.write(JSON.stringify(report) + '\n');
    else {
      const ref = report.issueReference;
      process.stdout.write(`backend ${report.backend}: train step ${report.trainStepMs} ms, forward ${report.forwardMs} ms\n`);
      process.stdout.write(`reference, ${ref.source}: train step ${ref.trainStepMs} ms, forward ${ref.forwardMs} ms — for a side-by-side measurement run npx tsx bench/diffusion-contextunet.ts\n`);
    }
  });

program
  .command('export-onnx')
  .description(`export a checkpoint's model to ONNX (opset ${ONNX_OPSET}; inputs x [N,H,W,C], t [N], context [N,classes]; output eps [N,H,W,C]; any batch N)`)
  .requiredOption('--checkpoint <dir>', 'checkpoint directory')
  .addOption(new Option('--weights <which>', 'which weights').choices(['ema', 'model']).default('ema'))
  .requiredOption('--out <file.onnx>', 'output file')
  .option('--json', 'print the result as one JSON object on stdout', false)
  .action(async (o) => {
    // Weights only need reading: wasm (always available, no addon).
    const engine = await initBackend('wasm');
    const { model, config } = loadModel(engine, o.checkpoint, o.weights as 'ema' | 'model');
    const bytes = exportOnnx(model, { docString: `${o.checkpoint} (${o.weights} weights, step ${config.state.step})` });
    model.params.dispose();
    writeFileAtomic(o.out, bytes);
    const summary = { out: o.out, bytes: bytes.length, opset: ONNX_OPSET, model: config.model.kind, weights: o.weights, step: config.state.step };
    process.stdout.write(o.json ? JSON.stringify(summary) + '\n' : `${o.out}: ${bytes.length} bytes, ONNX opset ${ONNX_OPSET}, ${summary.model} (${o.weights} weights, step ${summary.step})\n`);
  });

registerDataCommands(program);
registerSdCommands(program);
registerTextToImageTrainingCommands(program);

const DEFINITION: CliDefinition = {
  tool: 'diffusion',
  version: packageVersion(import.meta.url),
  examples: [
    'diffusion sample --class all --n 100 --out grid.png',
    'diffusion train --data mnist --n-feat 32 --epochs 60 --lr 2e-3 --lr-schedule cosine --out ckpt/mnist32',
    'diffusion eval --checkpoint ckpt/mnist32 --data mnist --n 500 --json',
    'diffusion export-onnx --checkpoint ckpt/mnist32 --out mnist32.onnx',
    'source <(diffusion completion bash)',
  ],
  classify: (e) => (e instanceof DiffusionError ? { status: exitCodeFor(e) as 1 | 2, message: e.message } : undefined),
  // Training and sampling await between steps: Ctrl-C removes temporary files and exits 130.
  interruptible: true,
};

const status = await runCli(applyCliStyle(program, DEFINITION), DEFINITION, process.argv.slice(2));
// A failure may leave a backend's handles open: end now rather than wait on them.
if (status !== 0) process.exit(status);
