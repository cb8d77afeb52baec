/**
 * What the three text-to-image training stages (VAE, CLIP, UNet — issue 15) share: their training
 * hyper-parameters, the Shapes batches they draw, and one optimiser group (Adam after global-norm
 * clipping, plus an optional EMA copy of the weights) over a model's ParameterStore.
 *
 * Data: batch k of a run is samples k·B … k·B + B − 1 of the procedural Shapes stream
 * (data/shapes.ts `shapesSample(dataSeed, index, split)`), so the data never repeats, needs no
 * cache, and a resumed run sees exactly the batches it would have seen. With `data` (a cache
 * written by `diffusion data shapes|fashion-mnist`, opened by the Node runner and handed to the
 * trainer as its `trainingData`), batch k is samples k·B … k·B + B − 1 of that cache's endless
 * stream of shuffled epochs (CaptionDataset.streamBatch, seeded by dataSeed): as reproducible. Every random draw of a
 * step (noise, timesteps, caption dropout) comes from the stage's own seeded `Random`, whose state
 * is saved with each checkpoint: a resumed run continues bit for bit.
 *
 * Browser-safe (no Node imports). No upstream counterpart as a file: diffusers' train_text_to_image.py
 * and OpenAI CLIP's training recipe are where the loop shapes come from.
 */
import { pairCaptionWithSizes, shapesSample, type ShapesScene, type ShapesSplit } from '../../data/shapes.ts';
import { DiffusionError, checkKnownKeys, checkOption } from '../../errors.ts';
import type { NamedArray, ParameterStore } from '../../models/parameters.ts';
import { Random, type RandomState } from '../../rng.ts';
import type { Tensor, TensorEngine } from '../../tensor/engine.ts';
import { Adam, LR_SCHEDULES, type LrSchedule, learningRateAt, updateEma } from '../optimizer.ts';

/** Hyper-parameters of one stage (plain data, saved in the stage's state.json). */
export interface StageTrainingConfig {
  /** Total optimisation steps of the run. */
  steps: number;
  batchSize: number;
  learningRate: number;
  /** Linear warm-up; then the rate follows `lrSchedule`. */
  warmupSteps: number;
  /**
   * After warm-up: 'constant' (runs are extended by raising `steps`), or a decay to 0 at `steps`,
   * 'linear' or 'cosine' (diffusers' train_text_to_image.py --lr_scheduler). Runs saved before this
   * field read as 'constant'.
   */
  lrSchedule: LrSchedule;
  /** EMA decay per step (0: no EMA copy; the live weights are saved). */
  emaDecay: number;
  gradClipNorm: number;
  /** Seed of the stage's Random (init, noise, timesteps, dropout). */
  seed: number;
  /** Seed of the Shapes stream the batches come from. */
  dataSeed: number;
  /** 0: a stream that never repeats; n > 0: a fixed training set of the stream's first n samples, cycled. */
  datasetSize: number;
  /**
   * The training split of a data-set cache (its `.bin` path) the batches come from instead of the
   * Shapes generator; null (the default, and what runs saved before this field read as): the generator.
   */
  data: string | null;
}

export const DEFAULT_STAGE_TRAINING: StageTrainingConfig = {
  steps: 1000,
  batchSize: 32,
  learningRate: 1e-3,
  warmupSteps: 50,
  lrSchedule: 'constant',
  emaDecay: 0.999,
  gradClipNorm: 1,
  seed: 0,
  dataSeed: 0,
  datasetSize: 0,
  data: null,
};

export function normaliseStageConfig(config: Partial<StageTrainingConfig>, defaults: StageTrainingConfig = DEFAULT_STAGE_TRAINING): StageTrainingConfig {
  checkKnownKeys('training', config, Object.keys(DEFAULT_STAGE_TRAINING));
  const c = { ...defaults, ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) } as StageTrainingConfig;
  const bad = (why: string): never => {
    throw new DiffusionError('INVALID_CONFIG', `training: ${why}`);
  };
  if (!Number.isSafeInteger(c.steps) || c.steps < 1) bad(`steps must be a positive integer, got ${c.steps}`);
  if (!Number.isSafeInteger(c.batchSize) || c.batchSize < 2) bad(`batchSize must be an integer ≥ 2, got ${c.batchSize}`);
  if (!(c.learningRate > 0)) bad(`learningRate must be > 0, got ${c.learningRate}`);
  if (!Number.isSafeInteger(c.warmupSteps) || c.warmupSteps < 0) bad('warmupSteps must be an integer ≥ 0');
  checkOption('training: lrSchedule', c.lrSchedule, LR_SCHEDULES);
  if (!(c.emaDecay >= 0 && c.emaDecay < 1)) bad('emaDecay must be in [0, 1)');
  if (!(c.gradClipNorm >= 0)) bad('gradClipNorm must be ≥ 0');
  if (!Number.isSafeInteger(c.seed) || !Number.isSafeInteger(c.dataSeed)) bad('seeds must be integers');
  if (!Number.isSafeInteger(c.datasetSize) || c.datasetSize < 0) bad('datasetSize must be an integer ≥ 0');
  if (c.data !== null && (typeof c.data !== 'string' || c.data === '')) bad('data must be a cache path or null');
  if (c.data !== null && c.datasetSize > 0) bad('datasetSize applies to the Shapes generator, not to a data cache (give one or the other)');
  return c;
}

export interface ShapesBatch {
  /** [count, 32, 32, 3] NHWC in [−1, 1]. */
  images: Float32Array;
  captions: string[];
  /** The scenes behind the images (the Shapes generator only; a data-set cache holds captions, not scenes). */
  scenes?: ShapesScene[];
}

/** Samples start … start + count − 1 of a Shapes split (modulo `datasetSize` when > 0), as the models take them. */
export function shapesBatch(dataSeed: number, start: number, count: number, split: ShapesSplit = 'train', datasetSize = 0, pairSizes = 0): ShapesBatch {
  const images = new Float32Array(count * 32 * 32 * 3);
  const captions: string[] = [];
  const scenes: ShapesScene[] = [];
  for (let i = 0; i < count; i++) {
    const index = datasetSize > 0 ? (start + i) % datasetSize : start + i;
    const { scene, image } = shapesSample(dataSeed, index, split);
    for (let j = 0; j < image.length; j++) images[i * image.length + j] = image[j] / 127.5 - 1;
    captions.push(pairSizes > 0 && scene.objects.length === 2 ? sizedPairCaption(scene, dataSeed, start + i, pairSizes) : scene.caption);
    scenes.push(scene);
  }
  return { images, captions, scenes };
}

/**
 * A two-object caption with each object's size word stated with probability `p`, drawn from a
 * stream of its own keyed by (data seed, position in the stream), so the choice does not move the
 * trainer's random stream and a resumed run draws the same captions.
 */
function sizedPairCaption(scene: ShapesScene, dataSeed: number, position: number, p: number): string {
  const random = new Random((Math.imul((dataSeed >>> 0) ^ 0x51ed, 0x9e3779b1) ^ Math.imul(position >>> 0, 0x85ebca6b) ^ Math.floor(position / 4294967296)) >>> 0);
  return pairCaptionWithSizes(scene, [random.uniform() < p, random.uniform() < p]);
}

/**
 * Where training batches come from when not from the generator: samples start … start + count − 1
 * of a fixed, seeded stream (a data-set cache's shuffled epochs, one after another).
 */
export interface TrainingData {
  /** What the batches are read from (the cache path), as `StageTrainingConfig.data` names it. */
  readonly source: string;
  /** Image side and channels of every sample. */
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  batch(seed: number, start: number, count: number): ShapesBatch;
  /**
   * The same data set's held-out split (the cache's sibling test.bin), which evaluation draws from
   * instead of the Shapes generator's test split; null when the cache has none.
   */
  readonly heldOut: { readonly source: string; batch(seed: number, start: number, count: number): ShapesBatch } | null;
}

/**
 * Evaluation samples of a stage (data seed + 1 or + 2, so never a training batch): a Shapes split
 * from the generator; or, when training reads a cache, its held-out split for 'test' and its own
 * stream for 'train'. Shapes' 'held-out' colour–shape split has no counterpart in a cache (null),
 * nor has 'test' in a cache without a test split.
 */
export function evaluationBatch(config: StageTrainingConfig, data: TrainingData | null, split: ShapesSplit, seed: number, count: number): ShapesBatch | null {
  if (config.data === null) return shapesBatch(seed, 0, count, split);
  if (data === null) throw new DiffusionError('INVALID_ARGUMENT', `evaluation: the configuration reads ${config.data}, which is not open`);
  if (split === 'train') return data.batch(seed, 0, count);
  if (split === 'test' && data.heldOut !== null) return data.heldOut.batch(seed, 0, count);
  return null;
}

/** Training batch `step` of a stage: from `data` when the config names a cache, else the Shapes generator. */
export function trainingBatch(config: StageTrainingConfig, step: number, data: TrainingData | null = null, pairSizes = 0): ShapesBatch {
  if (config.data === null) {
    if (data !== null) throw new DiffusionError('INVALID_ARGUMENT', `training: data ${data.source} is open but the configuration names the Shapes generator`);
    return shapesBatch(config.dataSeed, step * config.batchSize, config.batchSize, 'train', config.datasetSize, pairSizes);
  }
  // A cache holds captions, not scenes: it cannot say how large each object is.
  if (pairSizes > 0) throw new DiffusionError('INVALID_ARGUMENT', `training: pair sizes need the Shapes generator's scenes, not the cache ${config.data}`);
  if (data === null || data.source !== config.data) throw new DiffusionError('INVALID_ARGUMENT', `training: the configuration reads ${config.data}, which is not open (${data === null ? 'no data cache given' : `${data.source} is`})`);
  return data.batch(config.dataSeed, step * config.batchSize, config.batchSize);
}

/** A stage's check that a cache's images are what its model takes (32×32 RGB for Shapes' models). */
export function checkTrainingData(data: TrainingData | null, height: number, width: number, channels: number, stage: string): void {
  if (data && (data.height !== height || data.width !== width || data.channels !== channels)) {
    throw new DiffusionError('DATA_INVALID', `${data.source}: ${data.height}×${data.width}×${data.channels} images, but the ${stage} takes ${height}×${width}×${channels}`);
  }
}

/**
 * Adam over one ParameterStore, with an optional EMA store of the same names. The EMA decay is
 * warmed up as min(d, (1 + step)/(10 + step)), as the pixel-space trainer does.
 */
export class OptimizerGroup {
  readonly adam: Adam;
  constructor(
    private readonly engine: TensorEngine,
    readonly params: ParameterStore,
    readonly ema: ParameterStore | null,
    private readonly config: StageTrainingConfig,
  ) {
    this.adam = new Adam(engine, params, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, gradClipNorm: config.gradClipNorm });
    if (ema) ema.importValues(params.exportValues());
  }

  trainable(): Tensor[] {
    return this.params.names('trainable').map((n) => this.params.get(n));
  }

  /** One update with these gradients (disposed); returns the pre-clip gradient norm. */
  apply(grads: Tensor[], step: number): number {
    const c = this.config;
    const norm = this.adam.apply(grads, learningRateAt(c.learningRate, c.lrSchedule, step, c.steps, c.warmupSteps));
    if (this.ema && c.emaDecay > 0) updateEma(this.engine, this.ema, this.params, Math.min(c.emaDecay, (1 + step) / (10 + step)));
    return norm;
  }

  /** The weights to ship: the EMA copy when there is one. */
  get shipped(): ParameterStore {
    return this.ema && this.config.emaDecay > 0 ? this.ema : this.params;
  }

  exportFiles(prefix: string): Record<string, Map<string, NamedArray>> {
    const out: Record<string, Map<string, NamedArray>> = { [`${prefix}model`]: this.params.exportValues(), [`${prefix}optimizer`]: this.adam.exportState() };
    if (this.ema) out[`${prefix}ema`] = this.ema.exportValues();
    return out;
  }

  importFiles(prefix: string, files: Record<string, Map<string, NamedArray>>, optimizerSteps: number, source: string): void {
    const need = (name: string): Map<string, NamedArray> => {
      const f = files[name];
      if (!f) throw new DiffusionError('CHECKPOINT_MISSING', `${source}: no ${name}.safetensors`);
      return f;
    };
    this.params.importValues(need(`${prefix}model`), `${source}/${prefix}model.safetensors`);
    this.adam.importState(need(`${prefix}optimizer`), optimizerSteps, `${source}/${prefix}optimizer.safetensors`);
    if (this.ema) this.ema.importValues(need(`${prefix}ema`), `${source}/${prefix}ema.safetensors`);
  }

  dispose(): void {
    this.adam.dispose();
  }
}

/** What the Node runner needs of a stage: one step at a time, its state as files, its evaluation. */
export interface StageTrainer {
  readonly stage: 'vae' | 'clip' | 'unet';
  readonly config: StageTrainingConfig;
  /** The open cache that `config.data` names (null: the generator); set before the first step. */
  trainingData: TrainingData | null;
  /** Steps done. */
  step: number;
  /** One optimisation step; returns the figures for the loss log (always `loss`). */
  trainStep(): Record<string, number>;
  /** Held-out figures (PSNR, retrieval accuracy, …). */
  evaluate(): Record<string, number>;
  /** Weights, EMA and optimiser moments as named safetensors files, plus the RNG state. */
  exportState(): { files: Record<string, Map<string, NamedArray>>; random: RandomState; optimizerSteps: number };
  importState(files: Record<string, Map<string, NamedArray>>, random: RandomState, optimizerSteps: number, step: number, source: string): void;
  dispose(): void;
}

/** mean(|x|) written with the seam's relu: |x| = relu(x) + relu(−x). */
export function meanAbs(e: TensorEngine, x: Tensor): Tensor {
  return e.mean(e.add(e.relu(x), e.relu(e.mulScalar(x, -1))));
}

export function checkFinite(loss: number, step: number, stage: string): void {
  if (!Number.isFinite(loss)) throw new DiffusionError('INVALID_ARGUMENT', `${stage} training diverged: loss is ${loss} at step ${step}`);
}
