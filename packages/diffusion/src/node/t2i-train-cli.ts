/**
 * `diffusion train-vae | train-clip | train-unet | eval-t2i` — the text-to-image training stages of
 * issue 15 and their evaluation. Registered on the main program by src/cli.ts; errors propagate to
 * its handler (one line; exit 2 for bad flags and data, 1 otherwise). Progress on stderr (TTY);
 * each command ends with one JSON line on stdout.
 *
 *   diffusion train-vae  --out runs/vae                               → runs/vae/vae/
 *   diffusion train-clip --out runs/clip                              → runs/clip/text_encoder/, tokenizer/
 *   diffusion train-unet --vae runs/vae --clip runs/clip --out runs/unet → runs/unet/pipeline/ (diffusers folder)
 *   diffusion eval-t2i   --model runs/unet/pipeline --out eval.json
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ensureDirectory, writeFileAtomic } from '@flashdiff/cli-kit';
import { BACKENDS, type BackendName, initBackend } from '../backend-node.ts';
import { parseJsonFile, saveDiffusersPipeline } from '../checkpoint/diffusers-folder.ts';
import { openSafetensorsFile, writeSafetensorsFile } from '../checkpoint/safetensors-file.ts';
import { fashionEvaluationPrompts } from '../data/fashion-mnist.ts';
import { shapesSample } from '../data/shapes.ts';
import { DiffusionError } from '../errors.ts';
import { imagesToGrid } from '../image/grid.ts';
import { encodePng } from '../image/png-node.ts';
import { AutoencoderKL, readAutoencoderConfig } from '../models/sd/autoencoder-kl.ts';
import { ClipTextModel, readClipTextConfig } from '../models/sd/clip-text-model.ts';
import { type SdModel, loadModelWeights, torchStateDict } from '../models/sd/weights.ts';
import { bundledClipTokenizerDirectory, loadStableDiffusion } from '../pipelines/load-node.ts';
import { Random } from '../rng.ts';
import { LATENT_SCHEDULER_KINDS, type LatentSchedulerKind } from '../schedulers/latent-config.ts';
import type { TensorEngine } from '../tensor/engine.ts';
import { loadClipTokenizer } from '../text/clip-tokenizer-node.ts';
import { learnBpe } from '../train/t2i/bpe.ts';
import { ClipTrainer, type ClipStageOptions, DEFAULT_CLIP_OPTIONS } from '../train/t2i/clip-trainer.ts';
import type { StageTrainer, StageTrainingConfig } from '../train/t2i/common.ts';
import { LR_SCHEDULES, type LrSchedule } from '../train/optimizer.ts';
import { DEFAULT_UNET_OPTIONS, SHAPES_SCHEDULER_CONFIG, UNetTrainer, type UNetStageOptions } from '../train/t2i/unet-trainer.ts';
import { initialiseUNetFrom } from '../train/t2i/unet-init.ts';
import { DEFAULT_VAE_OPTIONS, VaeTrainer, type VaeStageOptions } from '../train/t2i/vae-trainer.ts';
import { evaluateTextToImage } from './eval-t2i.ts';
import { classifyFashion, loadFashionClassifier } from './fashion-classifier.ts';
import { resolveTextToImageModel } from './shipped-model.ts';
import { type StageState, openTrainingCache, readStageState, runStage, trainingCachePath } from './t2i-stage-run.ts';

const integer = (min: number) => (value: string): number => {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer ≥ ${min}`);
  return n;
};
const positive = (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number > 0');
  return n;
};
const nonNegative = (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number ≥ 0');
  return n;
};
const unit = (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n >= 1) throw new InvalidArgumentError('must be a number in [0, 1)');
  return n;
};

interface StageFlags {
  out: string;
  resume?: boolean;
  steps?: number;
  batchSize?: number;
  lr?: number;
  warmup?: number;
  lrSchedule?: LrSchedule;
  emaDecay?: number;
  seed?: number;
  dataSeed?: number;
  datasetSize?: number;
  data?: string;
  saveEvery: number;
  evalEvery: number;
  timeLimit?: number;
  maxSteps?: number;
  progress: boolean;
  backend: BackendName;
}

function stageOptions(command: Command): Command {
  return command
    .requiredOption('--out <dir>', 'run folder (state/, log.jsonl and the diffusers-layout outputs)')
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--steps <n>', 'total optimisation steps', integer(1))
    .option('--batch-size <n>', 'images per step', integer(2))
    .option('--lr <rate>', 'Adam learning rate (with --resume: the new rate from the resumed step on)', positive)
    .option('--warmup <n>', 'linear warm-up steps', integer(0))
    .addOption(new Option('--lr-schedule <name>', 'after warm-up: constant, or a linear or cosine decay to 0 at --steps').choices(LR_SCHEDULES))
    .option('--ema-decay <d>', 'EMA decay per step (0: none)', unit)
    .option('--seed <n>', 'seed of initialisation and noise', integer(0))
    .option('--data-seed <n>', 'seed of the Shapes stream', integer(0))
    .option('--dataset-size <n>', 'train on the first n samples of the stream, cycled (default 0: never repeat)', integer(0))
    .option('--data <cache>', 'read the training batches from a data-set cache (`diffusion data shapes|fashion-mnist --out DIR`: DIR or DIR/train.bin), shuffled per epoch by --data-seed, instead of the Shapes generator')
    .option('--save-every <n>', 'checkpoint every n steps', integer(1), 100)
    .option('--eval-every <n>', 'evaluate every n steps (0: at the end only)', integer(0), 0)
    .option('--time-limit <minutes>', 'stop (resumably) after this many minutes', positive)
    .option('--max-steps <n>', 'stop (resumably) after this many steps in this session', integer(1))
    .option('--no-progress', 'no progress bar')
    .addOption(new Option('--backend <name>', 'tensor backend').choices(BACKENDS).default('auto'));
}

function trainingFlags(o: StageFlags): Partial<StageTrainingConfig> {
  return { steps: o.steps, batchSize: o.batchSize, learningRate: o.lr, warmupSteps: o.warmup, lrSchedule: o.lrSchedule, emaDecay: o.emaDecay, seed: o.seed, dataSeed: o.dataSeed, datasetSize: o.datasetSize, data: o.data !== undefined ? trainingCachePath(o.data) : undefined };
}

/**
 * Fresh run: the flags over the stage defaults. Resume: the saved configuration; a larger --steps
 * extends it and --lr (and --lr-schedule) replace the learning rate (schedule) from the resumed step
 * on (a manual step decay, saved with the run so that a later resume keeps it).
 */
function resolveRun<T>(o: StageFlags, stage: StageState['stage'], fresh: T): { state: StageState | null; training: Partial<StageTrainingConfig>; options: T } {
  if (!o.resume) return { state: null, training: trainingFlags(o), options: fresh };
  const state = readStageState(o.out, stage);
  const steps = o.steps !== undefined ? Math.max(o.steps, state.training.steps) : state.training.steps;
  // Runs saved before the data field read from the generator (data: null).
  const saved = state.training.data ?? null;
  if (o.data !== undefined && trainingCachePath(o.data) !== saved) {
    throw new DiffusionError('INVALID_ARGUMENT', `--data ${o.data}: the run in ${o.out} reads ${saved ?? 'the Shapes generator'}; a resumed run keeps its data (leave --data out)`);
  }
  return { state, training: { ...state.training, steps, learningRate: o.lr ?? state.training.learningRate, ...(o.lrSchedule !== undefined ? { lrSchedule: o.lrSchedule } : {}) }, options: state.options as T };
}

/**
 * Run `body` with the stage's training data attached: the cache the configuration names, opened
 * and checked whole first (and closed after), or the Shapes generator.
 */
async function withTrainingData<R>(training: Partial<StageTrainingConfig>, trainer: StageTrainer, body: () => R | Promise<R>): Promise<R> {
  const path = training.data ?? null;
  if (path === null) return body();
  const data = openTrainingCache(path);
  process.stderr.write(`training data: ${path} (${data.split} split, ${data.count} images)\n`);
  trainer.trainingData = data;
  try {
    return await body();
  } finally {
    trainer.trainingData = null;
    data.close();
  }
}

function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** `<dir>/vae/`: diffusers' AutoencoderKL folder (config.json with the measured scaling_factor). */
export function writeVaeFolder(dir: string, trainer: VaeTrainer, scalingFactor: number): void {
  const folder = join(dir, 'vae');
  ensureDirectory(folder);
  writeSafetensorsFile(join(folder, 'diffusion_pytorch_model.safetensors'), torchStateDict(trainer.shipped), { metadata: { format: 'pt' } });
  writeFileSync(join(folder, 'config.json'), JSON.stringify({ _class_name: 'AutoencoderKL', _diffusers_version: '0.27.2', ...trainer.diffusersConfig(scalingFactor) }, null, 2) + '\n');
}

/** Captions the BPE vocabulary is learnt from: the first 20,000 of the training stream. */
const BPE_CAPTIONS = 20_000;

/**
 * `<dir>/tokenizer/`: a BPE vocabulary learnt from the training captions, or OpenAI CLIP's (the
 * bundled files) — both with model_max_length 16, the text encoder's context. The captions are the
 * first 20,000 of the Shapes stream, or of `trainingCaptions` (a data cache's stream) when given.
 */
export function writeTokenizerFolder(dir: string, kind: 'bpe' | 'clip', dataSeed: number, modelMaxLength = 16, trainingCaptions?: (count: number) => string[]): string {
  const folder = join(dir, 'tokenizer');
  ensureDirectory(folder);
  const captions = trainingCaptions ? trainingCaptions(BPE_CAPTIONS) : Array.from({ length: BPE_CAPTIONS }, (_, i) => shapesSample(dataSeed, i).scene.caption);
  const learnt = learnBpe(captions, { modelMaxLength });
  if (kind === 'bpe') {
    for (const [name, text] of Object.entries(learnt.files)) writeFileSync(join(folder, name), text);
  } else {
    const bundled = bundledClipTokenizerDirectory();
    for (const name of ['vocab.json', 'merges.txt', 'special_tokens_map.json']) copyFileSync(join(bundled, name), join(folder, name));
    writeFileSync(join(folder, 'tokenizer_config.json'), learnt.files['tokenizer_config.json']);
  }
  return folder;
}

/** `<dir>/text_encoder/`: transformers' CLIPTextModel folder. */
export function writeTextEncoderFolder(dir: string, trainer: ClipTrainer): void {
  const folder = join(dir, 'text_encoder');
  ensureDirectory(folder);
  writeSafetensorsFile(join(folder, 'model.safetensors'), torchStateDict(trainer.text), { metadata: { format: 'pt' } });
  writeFileSync(join(folder, 'config.json'), JSON.stringify(trainer.diffusersConfig(), null, 2) + '\n');
}

function readJson(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new DiffusionError('CHECKPOINT_MISSING', `${path}: missing`);
  const value = parseJsonFile(readFileSync(path, 'utf8'), path);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new DiffusionError('CHECKPOINT_CORRUPT', `${path}: not a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * A frozen model of an earlier stage's run folder: built from `<folder>/config.json` at zero (its
 * weights are about to be overwritten) and loaded from `<folder>/<weights>`.
 */
function loadFolderModel<M extends SdModel>(folder: string, weights: string, build: (config: Record<string, unknown>, source: string) => M): M {
  const configPath = join(folder, 'config.json');
  const model = build(readJson(configPath), configPath);
  const file = openSafetensorsFile(join(folder, weights));
  try {
    loadModelWeights(model, file);
  } finally {
    file.close();
  }
  return model;
}

/** The frozen stage-1 VAE of a train-vae run folder (`<dir>/vae/`). */
export function loadVaeFolder(engine: TensorEngine, runDir: string): AutoencoderKL {
  return loadFolderModel(join(runDir, 'vae'), 'diffusion_pytorch_model.safetensors', (config, source) => new AutoencoderKL(engine, new Random(0), readAutoencoderConfig(config, source), { initialise: false }));
}

/** The frozen stage-2 text encoder of a train-clip run folder (`<dir>/text_encoder/`). */
export function loadTextEncoderFolder(engine: TensorEngine, runDir: string): ClipTextModel {
  return loadFolderModel(join(runDir, 'text_encoder'), 'model.safetensors', (config, source) => new ClipTextModel(engine, new Random(0), readClipTextConfig(config, source), { initialise: false }));
}

/** `<dir>`: the whole diffusers pipeline folder (what loadStableDiffusion and diffusers' from_pretrained read). */
export function writePipelineFolder(dir: string, trainer: UNetTrainer, tokenizerDir: string): void {
  const { vae, textEncoder } = trainer.frozen;
  saveDiffusersPipeline(dir, {
    textEncoder: { config: readJson(join(tokenizerDir, '..', 'text_encoder', 'config.json')), tensors: torchStateDict(textEncoder) },
    unet: { config: { ...trainer.modelConfig }, tensors: torchStateDict(trainer.shipped) },
    vae: { config: { ...vae.config }, tensors: torchStateDict(vae) },
    scheduler: { className: String(trainer.schedulerConfig._class_name), config: Object.fromEntries(Object.entries(trainer.schedulerConfig).filter(([k]) => k !== '_class_name')) },
    tokenizerDir,
  });
}

/** Prompts of the sample grid (one row each) in the shipped model's README. */
export const GRID_PROMPTS = [
  'a small red circle',
  'a large green square',
  'a blue triangle',
  'a yellow circle',
  'a red circle above a blue square',
  'a green triangle to the left of a cyan circle',
  'a magenta square below a yellow triangle',
  'a large cyan square',
];

export function registerTextToImageTrainingCommands(program: Command): void {
  program
    .command('eval-t2i')
    .description('evaluate a text-to-image model on Shapes prompts (detector: every attribute right, per prompt kind; Fréchet distance on detector features) and, with --fashion-classifier, on Fashion-MNIST class prompts')
    .option('--model <dir>', 'diffusers folder, or a shipped model: shapes-t2i (the default), fashion-t2i')
    .option('--steps <n>', 'sampling steps', integer(1), 20)
    .option('--guidance <w>', 'classifier-free guidance scale', positive, 4)
    .addOption(new Option('--scheduler <kind>', "sampler (default: the model's own)").choices(LATENT_SCHEDULER_KINDS))
    .option('--samples-per-prompt <n>', 'images per Shapes prompt', integer(1), 2)
    .option('--two-object-prompts <n>', 'two-object prompts per kind (held-in, held-out)', integer(0), 45)
    .option('--sized-pair-prompts <n>', 'two-object prompts with size words ("a small red circle above a blue square"), reported apart as sizedPairs (0: skip)', integer(0), 45)
    .option('--seed <n>', 'seed of prompts and noise', integer(0), 0)
    .option('--batch-size <n>', 'prompts per pipeline call', integer(1), 64)
    .option('--no-shapes', 'skip the Shapes evaluation (a model trained on Fashion-MNIST only)')
    .option('--fashion-classifier <file>', 'also evaluate Fashion-MNIST class prompts with this classifier (`diffusion data fashion-classifier`)')
    .option('--fashion-samples-per-class <n>', 'images per Fashion-MNIST class prompt', integer(1), 20)
    .option('--out <file.json>', 'write the evaluation JSON here (stdout gets it either way)')
    .option('--grid <file.png>', 'also write a grid of the sample-grid prompts (one row each, 8 seeds; the ten class prompts with --no-shapes)')
    .addOption(new Option('--backend <name>', 'tensor backend').choices(BACKENDS).default('auto'))
    .action(
      async (o: { model?: string; steps: number; guidance: number; scheduler?: LatentSchedulerKind; samplesPerPrompt: number; twoObjectPrompts: number; sizedPairPrompts: number; seed: number; batchSize: number; shapes: boolean; fashionClassifier?: string; fashionSamplesPerClass: number; out?: string; grid?: string; backend: BackendName }) => {
        if (!o.shapes && o.fashionClassifier === undefined) throw new DiffusionError('INVALID_ARGUMENT', '--no-shapes leaves nothing to evaluate: give --fashion-classifier FILE');
        const model = resolveTextToImageModel(o.model);
        if (model === null) throw new DiffusionError('INVALID_ARGUMENT', 'no --model given, and this copy of the package has no shipped text-to-image model');
        const engine = await initBackend(o.backend);
        // Loaded before the pipeline: a wrong classifier file fails before any sampling.
        const fashion = o.fashionClassifier === undefined ? null : loadFashionClassifier(engine, o.fashionClassifier);
        const pipeline = loadStableDiffusion(engine, model, { scheduler: o.scheduler });
        try {
          const started = performance.now();
          const generate = async (prompts: string[], seed: number): Promise<Float32Array[]> => {
            const result = await pipeline.textToImage({ prompt: prompts, n: 1, seed, steps: o.steps, guidance: o.guidance, maxBatch: 256 });
            const per = result.width * result.height * 3;
            return Array.from({ length: result.count }, (_, i) => result.images.slice(i * per, (i + 1) * per));
          };
          const report = await evaluateTextToImage({
            generate,
            seed: o.seed,
            samplesPerPrompt: o.samplesPerPrompt,
            twoObjectPrompts: o.twoObjectPrompts,
            sizedPairPrompts: o.sizedPairPrompts,
            batchSize: o.batchSize,
            shapes: o.shapes,
            ...(fashion
              ? { fashion: { classify: (images: Float32Array, count: number) => classifyFashion(engine, fashion.classifier, images, count), samplesPerClass: o.fashionSamplesPerClass, classifierTestAccuracy: fashion.testAccuracy } }
              : {}),
            log: (line) => {
              if (process.stderr.isTTY) process.stderr.write(`\r${line}   `);
            },
          });
          if (process.stderr.isTTY) process.stderr.write('\n');
          const full = { model, sampler: { scheduler: o.scheduler ?? 'model default', steps: o.steps, guidance: o.guidance }, seconds: (performance.now() - started) / 1000, backend: engine.name, ...report };
          if (o.grid !== undefined) {
            const prompts = o.shapes ? GRID_PROMPTS : fashionEvaluationPrompts().map((p) => p.prompt);
            const result = await pipeline.textToImage({ prompt: prompts, n: 8, seed: o.seed, steps: o.steps, guidance: o.guidance, maxBatch: 256 });
            // The pipeline gives [0, 1]; the grid takes [−1, 1].
            writeFileAtomic(o.grid, encodePng(imagesToGrid(result.images.map((v) => 2 * v - 1), result.count, result.height, result.width, 3, 8)));
          }
          const text = JSON.stringify(full, null, 2) + '\n';
          if (o.out !== undefined) writeFileAtomic(o.out, text);
          process.stdout.write(text);
        } finally {
          pipeline.dispose();
          fashion?.classifier.params.dispose();
        }
      },
    );

  stageOptions(program.command('train-unet').description('stage 3: the UNet2DConditionModel in the frozen VAE latent space, cross-attending to the frozen text encoder'))
    .option('--vae <dir>', 'train-vae run folder (its vae/ is used, frozen)')
    .option('--clip <dir>', 'train-clip run folder (its text_encoder/ and tokenizer/ are used, frozen)')
    .option('--caption-dropout <p>', 'share of captions replaced by the empty prompt', unit)
    .option('--snr-gamma <γ>', 'min-SNR-γ loss weighting, min(SNR, γ)/SNR per sample (Hang et al. 2023; 5 is their choice; 0: unweighted)', nonNegative)
    .option('--summary-dropout <p>', 'share of captions whose end-of-text and padding states are replaced by the empty prompt\'s, so the UNet reads the words (default 0: off)', unit)
    .option('--pair-sizes <p>', 'state each object\'s size word in two-object captions with probability p ("a small red circle above a blue square"; default 0: never, as the data set); with --resume: from the resumed step on', unit)
    .option('--grounding <λ>', 'weight of the token-grounding loss: each object\'s colour and shape words attend to its pixels in every cross-attention layer (TokenCompose\'s token loss; Shapes generator only; default 0: off)', nonNegative)
    .option('--binding <λ>', 'weight of the binding loss: at each object\'s pixels of a two-object scene, its own colour and shape words outweigh the other object\'s in every cross-attention layer (Shapes generator only; default 0: off)', nonNegative)
    .option('--init-unet <dir>', 'start from a trained UNet (a diffusers pipeline folder or its unet/ folder) instead of a random one; its config must be this run\'s, except that transformer_layers_per_block may grow (added blocks start as the identity); a new run only')
    .option('--unet-config <file.json>', 'diffusers UNet2DConditionModel config keys (block_out_channels, layers_per_block, attention_head_dim, …) over the default small UNet; a new run only (a resumed run keeps its own)')
    .action(async (o: StageFlags & { vae?: string; clip?: string; captionDropout?: number; snrGamma?: number; summaryDropout?: number; pairSizes?: number; grounding?: number; binding?: number; unetConfig?: string; initUnet?: string }) => {
      if (o.resume && o.unetConfig !== undefined) throw new DiffusionError('INVALID_ARGUMENT', `--unet-config ${o.unetConfig}: a resumed run keeps the UNet it was started with (leave --unet-config out)`);
      if (o.resume && o.initUnet !== undefined) throw new DiffusionError('INVALID_ARGUMENT', `--init-unet ${o.initUnet}: a resumed run continues from its own checkpoint (leave --init-unet out)`);
      const initFolder = o.initUnet === undefined ? undefined : existsSync(join(o.initUnet, 'unet', 'config.json')) ? join(o.initUnet, 'unet') : o.initUnet;
      const engine = await initBackend(o.backend);
      const model = o.unetConfig !== undefined ? { ...DEFAULT_UNET_OPTIONS.model, ...readJson(o.unetConfig) } : DEFAULT_UNET_OPTIONS.model;
      const resolved = resolveRun<UNetStageOptions>(o, 'unet', { ...DEFAULT_UNET_OPTIONS, model, vae: o.vae, clip: o.clip, ...(initFolder !== undefined ? { initUnet: initFolder } : {}), ...(o.captionDropout !== undefined ? { captionDropout: o.captionDropout } : {}), ...(o.snrGamma !== undefined ? { snrGamma: o.snrGamma } : {}), ...(o.summaryDropout !== undefined ? { summaryDropout: o.summaryDropout } : {}), ...(o.grounding !== undefined ? { groundingWeight: o.grounding } : {}), ...(o.binding !== undefined ? { bindingWeight: o.binding } : {}) });
      // Like --lr, --pair-sizes may change a resumed run's captions from its resumed step on (saved with it).
      const run = o.pairSizes !== undefined ? { ...resolved, options: { ...resolved.options, pairSizes: o.pairSizes } } : resolved;
      const vaeDir = o.vae ?? run.options.vae;
      const clipDir = o.clip ?? run.options.clip;
      if (vaeDir === undefined || clipDir === undefined) throw new DiffusionError('INVALID_ARGUMENT', 'train-unet needs --vae DIR and --clip DIR (the train-vae and train-clip run folders)');
      const vae = loadVaeFolder(engine, vaeDir);
      const textEncoder = loadTextEncoderFolder(engine, clipDir);
      const tokenizerDir = join(clipDir, 'tokenizer');
      const trainer = new UNetTrainer(engine, { vae, textEncoder, tokenizer: loadClipTokenizer(tokenizerDir) }, run.training, { ...run.options, vae: vaeDir, clip: clipDir }, { ...SHAPES_SCHEDULER_CONFIG });
      try {
        if (initFolder !== undefined) {
          const weights = openSafetensorsFile(join(initFolder, 'diffusion_pytorch_model.safetensors'));
          try {
            const added = initialiseUNetFrom(readJson(join(initFolder, 'config.json')), weights, trainer);
            process.stderr.write(`initialised from ${initFolder}${added > 0 ? ` (${added} transformer blocks added as the identity)` : ''}\n`);
          } finally {
            weights.close();
          }
        }
        // The run folder is made only now: a refused --init-unet or an unreadable frozen model leaves nothing behind.
        ensureDirectory(o.out);
        const result = await withTrainingData(run.training, trainer, () => runStage(trainer, {
          out: o.out,
          resumeFrom: run.state,
          stageOptions: { ...run.options, vae: vaeDir, clip: clipDir } as unknown as Record<string, unknown>,
          saveEvery: o.saveEvery,
          evalEvery: o.evalEvery,
          timeLimitSeconds: o.timeLimit !== undefined ? o.timeLimit * 60 : undefined,
          maxSteps: o.maxSteps,
          progress: o.progress,
          publish: (t) => writePipelineFolder(join(o.out, 'pipeline'), t as UNetTrainer, tokenizerDir),
        }));
        process.stdout.write(JSON.stringify({ stage: 'unet', out: join(o.out, 'pipeline'), ...result, peakRssMiB: peakRssMiB(), backend: engine.name }) + '\n');
      } finally {
        trainer.dispose();
        vae.params.dispose();
        textEncoder.params.dispose();
      }
    });

  stageOptions(program.command('train-clip').description('stage 2: CLIP (the CLIPTextModel + a small image encoder) trained contrastively on Shapes captions'))
    .addOption(new Option('--tokenizer <kind>', 'vocabulary: bpe (learnt from the captions) or clip (OpenAI CLIP)').choices(['bpe', 'clip']))
    .option('--hard-negatives', 'add each Shapes caption\'s relation-, colour- and shape-swapped captions as extra negatives (NegCLIP); with --resume: from the resumed step on')
    .option('--pair-sizes <p>', 'state each object\'s size word in two-object captions with probability p (as train-unet --pair-sizes); with --resume: from the resumed step on', unit)
    .action(async (o: StageFlags & { tokenizer?: 'bpe' | 'clip'; hardNegatives?: boolean; pairSizes?: number }) => {
      const engine = await initBackend(o.backend);
      const resolved = resolveRun<ClipStageOptions>(o, 'clip', { ...DEFAULT_CLIP_OPTIONS, ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}) });
      // Like --lr, --hard-negatives and --pair-sizes may change a resumed run from its resumed step on (saved with it).
      const run = {
        ...resolved,
        options: { ...resolved.options, ...(o.hardNegatives ? { hardNegatives: true } : {}), ...(o.pairSizes !== undefined ? { pairSizes: o.pairSizes } : {}) },
      };
      ensureDirectory(o.out);
      const dataSeed = run.training.dataSeed ?? 0;
      const fromCache = (count: number): string[] => {
        const cache = openTrainingCache(run.training.data as string);
        try {
          return cache.captions(dataSeed, Math.min(count, cache.count));
        } finally {
          cache.close();
        }
      };
      const tokenizerDir =
        o.resume && existsSync(join(o.out, 'tokenizer', 'vocab.json')) ? join(o.out, 'tokenizer') : writeTokenizerFolder(o.out, run.options.tokenizer, dataSeed, 16, run.training.data ? fromCache : undefined);
      const trainer = new ClipTrainer(engine, loadClipTokenizer(tokenizerDir), run.training, run.options);
      try {
        const result = await withTrainingData(run.training, trainer, () => runStage(trainer, {
          out: o.out,
          resumeFrom: run.state,
          stageOptions: run.options as unknown as Record<string, unknown>,
          saveEvery: o.saveEvery,
          evalEvery: o.evalEvery,
          timeLimitSeconds: o.timeLimit !== undefined ? o.timeLimit * 60 : undefined,
          maxSteps: o.maxSteps,
          progress: o.progress,
          publish: (t) => writeTextEncoderFolder(o.out, t as ClipTrainer),
        }));
        process.stdout.write(JSON.stringify({ stage: 'clip', out: o.out, ...result, peakRssMiB: peakRssMiB(), backend: engine.name }) + '\n');
      } finally {
        trainer.dispose();
      }
    });

  stageOptions(program.command('train-vae').description('stage 1 of text-to-image training: the AutoencoderKL on Shapes (32×32×3 → 8×8×4)'))
    .option('--kl-weight <w>', 'weight of the KL term', positive)
    .option('--l1-weight <w>', 'weight of an L1 term beside the squared error (default 0)', positive)
    .action(async (o: StageFlags & { klWeight?: number; l1Weight?: number }) => {
      const engine = await initBackend(o.backend);
      const run = resolveRun<VaeStageOptions>(o, 'vae', { ...DEFAULT_VAE_OPTIONS, ...(o.klWeight !== undefined ? { klWeight: o.klWeight } : {}), ...(o.l1Weight !== undefined ? { l1Weight: o.l1Weight } : {}) });
      ensureDirectory(o.out);
      const trainer = new VaeTrainer(engine, run.training, run.options);
      try {
        const result = await withTrainingData(run.training, trainer, () => runStage(trainer, {
          out: o.out,
          resumeFrom: run.state,
          stageOptions: run.options as unknown as Record<string, unknown>,
          saveEvery: o.saveEvery,
          evalEvery: o.evalEvery,
          timeLimitSeconds: o.timeLimit !== undefined ? o.timeLimit * 60 : undefined,
          maxSteps: o.maxSteps,
          progress: o.progress,
          publish: (t, evaluation) => writeVaeFolder(o.out, t as VaeTrainer, evaluation?.scalingFactor ?? 1),
        }));
        process.stdout.write(JSON.stringify({ stage: 'vae', out: join(o.out, 'vae'), ...result, peakRssMiB: peakRssMiB(), backend: engine.name }) + '\n');
      } finally {
        trainer.dispose();
      }
    });
}

