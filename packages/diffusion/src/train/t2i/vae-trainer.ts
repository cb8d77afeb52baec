/**
 * Stage 1 of issue 15: the AutoencoderKL (models/sd/autoencoder-kl.ts) trained from scratch on
 * Shapes, 32×32×3 → 8×8×4 (Rombach et al. 2022, §3.1 and appendix G: reconstruction loss plus a
 * small KL term towards N(0, I); no perceptual or adversarial loss at this size).
 *
 *   q(z | x) = N(μ, σ²) = encode(x);  z = μ + σ·ε;  x̂ = decode(z)
 *   L = mean((x̂ − x)²) + w_L1·mean|x̂ − x| + w_KL · ½·mean(μ² + σ² − 1 − ln σ²)
 *
 * w_L1 is 0 by default: on Shapes (≈ 85 % black pixels) the per-pixel median is black, and with
 * an L1 term the first run sat at the all-black reconstruction (PSNR 14.9 dB after 185 steps);
 * the squared error's mean keeps a gradient towards the objects' colours.
 *
 * Reported: PSNR of decode(μ) against held-out images (10·log₁₀(1/MSE) on [0, 1] pixels, averaged
 * over images), and the latent scaling factor 1/std(z) over posterior samples of held-in images,
 * which is what SD's 0.18215 is (diffusers' `scaling_factor`). Upstream counterpart: the
 * autoencoder training of CompVis' latent-diffusion (ldm/models/autoencoder.py), without the GAN.
 */
import { type AutoencoderKLConfig, AutoencoderKL, readAutoencoderConfig } from '../../models/sd/autoencoder-kl.ts';
import type { NamedArray } from '../../models/parameters.ts';
import { Random, type RandomState } from '../../rng.ts';
import type { ShapesSplit } from '../../data/shapes.ts';
import type { TensorEngine } from '../../tensor/engine.ts';
import { type StageTrainer, type StageTrainingConfig, OptimizerGroup, checkFinite, meanAbs, normaliseStageConfig, evaluationBatch, trainingBatch, checkTrainingData, type TrainingData } from './common.ts';

/** A small diffusers AutoencoderKL config for 32×32 RGB → 8×8×4 (three blocks: two downsamplings). */
export const SHAPES_VAE_CONFIG = {
  in_channels: 3,
  out_channels: 3,
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
  block_out_channels: [16, 32, 32],
  layers_per_block: 1,
  act_fn: 'silu',
  latent_channels: 4,
  norm_num_groups: 8,
  sample_size: 32,
  scaling_factor: 1,
  force_upcast: true,
} as const;

export interface VaeStageOptions {
  /** diffusers config of the autoencoder (default SHAPES_VAE_CONFIG). */
  model: Record<string, unknown>;
  /** w_KL (default 1e-4). */
  klWeight: number;
  /** w_L1 (default 0). */
  l1Weight: number;
  /**
   * Starting ln σ² of the posterior (quant_conv's bias on the log-variance half; default −6, σ = 0.05).
   * PyTorch's default initialisation leaves ln σ² ≈ 0, so z = μ + ε is mostly noise; with the small
   * KL weight σ shrinks only slowly, and the first Shapes run decoded grey blobs without colour
   * after 900 steps (σ still 0.92). Null keeps the default initialisation.
   */
  initialLogvar: number | null;
  /** Held-out images for PSNR and held-in images for the scaling factor (default 256). */
  evalImages: number;
}

export const DEFAULT_VAE_OPTIONS: VaeStageOptions = { model: { ...SHAPES_VAE_CONFIG }, klWeight: 1e-4, l1Weight: 0, initialLogvar: -6, evalImages: 128 };

export const VAE_TRAINING_DEFAULTS: StageTrainingConfig = { steps: 600, batchSize: 32, learningRate: 2e-3, warmupSteps: 20, lrSchedule: 'constant', emaDecay: 0.99, gradClipNorm: 1, seed: 0, dataSeed: 0, datasetSize: 0, data: null };

export class VaeTrainer implements StageTrainer {
  readonly stage = 'vae';
  readonly config: StageTrainingConfig;
  readonly vae: AutoencoderKL;
  readonly ema: AutoencoderKL;
  readonly modelConfig: AutoencoderKLConfig;
  readonly random: Random;
  private readonly group: OptimizerGroup;
  step = 0;
  /** The cache `config.data` names, opened by the runner (null: the Shapes generator). */
  trainingData: TrainingData | null = null;

  constructor(
    private readonly engine: TensorEngine,
    config: Partial<StageTrainingConfig>,
    readonly options: VaeStageOptions = DEFAULT_VAE_OPTIONS,
  ) {
    this.config = normaliseStageConfig(config, VAE_TRAINING_DEFAULTS);
    this.modelConfig = readAutoencoderConfig(options.model, 'vae config');
    this.random = new Random(this.config.seed);
    this.vae = new AutoencoderKL(engine, this.random, this.modelConfig);
    if (options.initialLogvar !== null && options.initialLogvar !== undefined) {
      const bias = this.vae.params.get('quant_conv.bias');
      const values = engine.readSync(bias).slice();
      values.fill(options.initialLogvar, this.modelConfig.latent_channels);
      const t = engine.tensor(values, bias.shape);
      bias.assign(t);
      t.dispose();
    }
    this.ema = new AutoencoderKL(engine, new Random(0), this.modelConfig);
    this.group = new OptimizerGroup(engine, this.vae.params, this.ema.params, this.config);
  }

  /** The weights to ship (EMA). */
  get shipped(): AutoencoderKL {
    return this.config.emaDecay > 0 ? this.ema : this.vae;
  }

  trainStep(): Record<string, number> {
    const size = this.modelConfig.sample_size;
    checkTrainingData(this.trainingData, size, size, this.modelConfig.in_channels, 'VAE');
    return this.trainOn(trainingBatch(this.config, this.step, this.trainingData).images);
  }

  /**
   * One step on these images ([batchSize, size, size, 3] NHWC in [−1, 1]): the posterior noise from
   * the stage's Random, the loss above, its gradients, clipping, Adam and the EMA update.
   * bench/diffusion-t2i-train.ts times exactly this against diffusers' AutoencoderKL.
   */
  trainOn(images: Float32Array): Record<string, number> {
    const e = this.engine;
    const b = this.config.batchSize;
    const f = this.vae.scaleFactor;
    const size = this.modelConfig.sample_size;
    const latentShape = [b, size / f, size / f, this.modelConfig.latent_channels];
    const noise = this.random.normalArray(latentShape.reduce((p, q) => p * q, 1));
    const x = e.tensor(images, [b, size, size, 3]);
    const eps = e.tensor(noise, latentShape);
    let rec = NaN;
    let kl = NaN;
    const { value, grads } = e.valueAndGrads(() => {
      const { mean, logvar } = this.vae.encode(e, x);
      const z = e.add(mean, e.mul(e.exp(e.mulScalar(logvar, 0.5)), eps));
      const diff = e.sub(this.vae.decode(e, z), x);
      const squared = e.mean(e.square(diff));
      const reconstruction = this.options.l1Weight > 0 ? e.add(squared, e.mulScalar(meanAbs(e, diff), this.options.l1Weight)) : squared;
      const divergence = e.mulScalar(e.mean(e.sub(e.add(e.square(mean), e.exp(logvar)), e.addScalar(logvar, 1))), 0.5);
      rec = e.readSync(reconstruction)[0];
      kl = e.readSync(divergence)[0];
      return e.add(reconstruction, e.mulScalar(divergence, this.options.klWeight));
    }, this.group.trainable() as never);
    const loss = e.readSync(value)[0];
    value.dispose();
    x.dispose();
    eps.dispose();
    if (!Number.isFinite(loss)) grads.forEach((g) => g.dispose());
    checkFinite(loss, this.step, 'vae');
    const gradNorm = this.group.apply(grads, this.step);
    this.step += 1;
    return { loss, reconstruction: rec, kl, gradNorm };
  }

  /** decode(μ(x)) in [0, 1] for images in [−1, 1], `chunk` at a time. */
  reconstruct(images: Float32Array, count: number, model: AutoencoderKL = this.shipped, chunk = 64): Float32Array {
    const e = this.engine;
    const size = this.modelConfig.sample_size;
    const per = size * size * 3;
    const out = new Float32Array(count * per);
    for (let start = 0; start < count; start += chunk) {
      const n = Math.min(chunk, count - start);
      const y = e.tidy(() => model.decode(e, model.encode(e, e.tensor(images.subarray(start * per, (start + n) * per), [n, size, size, 3])).mean));
      const values = e.readSync(y);
      y.dispose();
      for (let i = 0; i < values.length; i++) out[start * per + i] = Math.min(1, Math.max(0, (values[i] + 1) / 2));
    }
    return out;
  }

  /** Mean per-image PSNR (dB) of the shipped weights on `count` images of a split (data seed + 1: unseen in training). */
  psnr(split: ShapesSplit, count: number): number {
    const batch = evaluationBatch(this.config, this.trainingData, split, this.config.dataSeed + 1, count);
    if (batch === null) return Number.NaN;
    const { images } = batch;
    const rec = this.reconstruct(images, count);
    const per = rec.length / count;
    let total = 0;
    for (let i = 0; i < count; i++) {
      let se = 0;
      for (let j = 0; j < per; j++) {
        const d = rec[i * per + j] - (images[i * per + j] + 1) / 2;
        se += d * d;
      }
      total += 10 * Math.log10(1 / Math.max(se / per, 1e-10));
    }
    return total / count;
  }

  /**
   * 1/std of posterior samples z ~ q(z | x) over `count` held-in images (SD's recipe for 0.18215),
   * with the std over every latent value. Deterministic: its own Random.
   */
  scalingFactor(count: number): number {
    const e = this.engine;
    const model = this.shipped;
    const random = new Random(this.config.seed + 7);
    const { images } = evaluationBatch(this.config, this.trainingData, 'train', this.config.dataSeed + 2, count)!;
    const size = this.modelConfig.sample_size;
    const per = size * size * 3;
    let sum = 0;
    let sumSq = 0;
    let n = 0;
    for (let start = 0; start < count; start += 64) {
      const k = Math.min(64, count - start);
      const [meanT, logvarT] = e.tidy(() => {
        const d = model.encode(e, e.tensor(images.subarray(start * per, (start + k) * per), [k, size, size, 3]));
        return [d.mean, d.logvar];
      });
      const mu = e.readSync(meanT);
      const lv = e.readSync(logvarT);
      meanT.dispose();
      logvarT.dispose();
      for (let i = 0; i < mu.length; i++) {
        const z = mu[i] + Math.exp(0.5 * lv[i]) * random.normal();
        sum += z;
        sumSq += z * z;
        n += 1;
      }
    }
    const variance = sumSq / n - (sum / n) ** 2;
    return 1 / Math.sqrt(variance);
  }

  evaluate(): Record<string, number> {
    const n = this.options.evalImages;
    // A data cache has no held-out colour–shape split, and may lack a test split: those figures are left out.
    const figures = { psnrTest: this.psnr('test', n), psnrHeldOut: this.psnr('held-out', n), scalingFactor: this.scalingFactor(n) };
    return Object.fromEntries(Object.entries(figures).filter(([, v]) => !Number.isNaN(v)));
  }

  /** The diffusers config to save, with the measured scaling factor. */
  diffusersConfig(scalingFactor: number): Record<string, unknown> {
    return { ...this.modelConfig, scaling_factor: scalingFactor };
  }

  exportState(): { files: Record<string, Map<string, NamedArray>>; random: RandomState; optimizerSteps: number } {
    return { files: this.group.exportFiles(''), random: this.random.state(), optimizerSteps: this.group.adam.stepCount };
  }

  importState(files: Record<string, Map<string, NamedArray>>, random: RandomState, optimizerSteps: number, step: number, source: string): void {
    this.group.importFiles('', files, optimizerSteps, source);
    this.random.restore(random);
    this.step = step;
  }

  dispose(): void {
    this.group.dispose();
    this.vae.params.dispose();
    this.ema.params.dispose();
  }
}
