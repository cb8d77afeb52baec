/**
 * Stage 3 of issue 15: the UNet2DConditionModel (models/sd/unet-2d-condition.ts) trained in the
 * latent space of the frozen stage-1 VAE, cross-attending to the frozen stage-2 text encoder's
 * last hidden state — latent diffusion (Rombach et al. 2022, eq. 2) with DDPM's ε-objective
 * (Ho et al. 2020, Algorithm 1):
 *
 *   z_0 = scaling_factor · (μ + σ·ε_q),  (μ, σ) = VAE.encode(x)        (a posterior sample, as SD trains)
 *   t ~ U{0 … T−1},  ε ~ N(0, I),  z_t = √ᾱ_t·z_0 + √(1−ᾱ_t)·ε
 *   c = text_encoder(caption), the caption replaced by "" with probability p (10 %: classifier-free guidance)
 *   L = mean((ε_θ(z_t, t, c) − ε)²)
 *
 * ᾱ comes from the pipeline's own scheduler config (SD's scaled_linear β 0.00085 → 0.012, T = 1000),
 * so the samplers of schedulers/ run on the schedule the model was trained on. Reported: the loss on
 * a fixed held-out batch (test split, fixed t and ε), comparable across checkpoints. Upstream
 * counterpart: diffusers' examples/text_to_image/train_text_to_image.py.
 */
import { DiffusionError } from '../../errors.ts';
import type { NamedArray } from '../../models/parameters.ts';
import type { AutoencoderKL } from '../../models/sd/autoencoder-kl.ts';
import type { ClipTextModel } from '../../models/sd/clip-text-model.ts';
import { type UNet2DConditionConfig, UNet2DConditionModel, readUNetConfig } from '../../models/sd/unet-2d-condition.ts';
import type { ShapesScene } from '../../data/shapes.ts';
import { Random, type RandomState } from '../../rng.ts';
import { trainingSchedule } from '../../schedulers/latent-schedule.ts';
import type { Tensor, TensorEngine } from '../../tensor/engine.ts';
import type { Tokenizer } from '../../text/tokenizer.ts';
import { type AttentionRecord, GroundingBatch, attentionLosses } from './token-grounding.ts';
import { type StageTrainer, type StageTrainingConfig, OptimizerGroup, checkFinite, normaliseStageConfig, evaluationBatch, trainingBatch, checkTrainingData, type TrainingData } from './common.ts';

/**
 * diffusers' scheduler_config.json the pipeline ships with: DPM-Solver++ 2M on SD's training
 * schedule. The last three keys belong to the other schedulers a user may swap in
 * (`--scheduler`, diffusers' `XScheduler.from_config`), which take the missing keys from their own
 * `__init__` defaults: DDIM's default clip_sample true clips x̂_0 to ±1, which wrecks latents (their
 * std is 1 after the scaling factor, so a third of the values lie outside ±1: the shipped model
 * drew noise under DDIM); SD-1.x's own scheduler_config.json carries the same three keys for the
 * same reason.
 */
export const SHAPES_SCHEDULER_CONFIG = {
  _class_name: 'DPMSolverMultistepScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  trained_betas: null,
  prediction_type: 'epsilon',
  algorithm_type: 'dpmsolver++',
  solver_order: 2,
  solver_type: 'midpoint',
  lower_order_final: true,
  thresholding: false,
  timestep_spacing: 'linspace',
  steps_offset: 0,
  use_karras_sigmas: false,
  clip_sample: false,
  set_alpha_to_one: false,
  skip_prk_steps: true,
} as const;

export interface UNetStageOptions {
  /** diffusers UNet2DConditionModel config (cross_attention_dim and in_channels are checked against the frozen models). */
  model: Record<string, unknown>;
  /** Probability of training on the empty prompt. */
  captionDropout: number;
  /** Held-out batch for the validation loss. */
  evalImages: number;
  /**
   * Min-SNR-γ loss weighting (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting
   * Strategy"; diffusers' --snr_gamma): each sample's ε-loss is weighted by min(SNR(t), γ)/SNR(t),
   * SNR(t) = ᾱ_t/(1 − ᾱ_t), so the nearly clean timesteps, whose ε-loss is large and says little
   * about layout, stop dominating the gradient. 0 or absent (runs saved before it): unweighted.
   */
  snrGamma?: number;
  /**
   * Summary-position dropout: for this share of the (non-empty) training captions, the text states
   * at the end-of-text position and after it (the padding) are replaced by the empty prompt's
   * states at those positions. In CLIP's causal text tower those positions summarise the whole
   * caption, so a UNet reads the colour–shape pairs it saw from them and draws held-out pairs as
   * those; without them it must read each object's words (the shapes-t2i README's position probe).
   * 0 or absent: off, and no random draw is made (runs saved before it resume bit for bit).
   */
  summaryDropout?: number;
  /**
   * Size words in two-object captions: each object of a two-object training caption has its size
   * class stated ("a small red circle above a blue square") with this probability, drawn per
   * caption from a stream of its own (Shapes generator only). The data set's two-object captions
   * state no size, yet users write such prompts (the issue's own example), and without this the
   * UNet never saw their text states. 0 or absent: off (runs saved before it resume bit for bit).
   */
  pairSizes?: number;
  /**
   * Weight λ of the token-grounding loss (train/t2i/token-grounding.ts: each object's colour and
   * shape words attend to that object's pixels in every cross-attention layer) added to the ε-loss.
   * Needs the Shapes generator's scenes. 0 or absent: off (runs saved before it resume bit for bit).
   */
  groundingWeight?: number;
  /**
   * Weight of the binding loss (train/t2i/token-grounding.ts: at each object's pixels of a
   * two-object scene, its own colour and shape words outweigh the other object's) added to the
   * ε-loss. Needs the Shapes generator's scenes. 0 or absent: off (runs saved before it resume bit for bit).
   */
  bindingWeight?: number;
  /** Folders of the frozen stages (recorded for the log; the runner loads them). */
  vae?: string;
  clip?: string;
  /** The trained UNet this run started from (`--init-unet`; recorded for the log; the runner loads it). */
  initUnet?: string;
}

export const SHAPES_UNET_CONFIG = {
  sample_size: 8,
  in_channels: 4,
  out_channels: 4,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  block_out_channels: [32, 64],
  layers_per_block: 1,
  cross_attention_dim: 64,
  attention_head_dim: 4,
  norm_num_groups: 8,
} as const;

export const DEFAULT_UNET_OPTIONS: UNetStageOptions = { model: { ...SHAPES_UNET_CONFIG }, captionDropout: 0.1, evalImages: 64 };

export const UNET_TRAINING_DEFAULTS: StageTrainingConfig = { steps: 2000, batchSize: 32, learningRate: 1e-3, warmupSteps: 50, lrSchedule: 'constant', emaDecay: 0.995, gradClipNorm: 1, seed: 0, dataSeed: 0, datasetSize: 0, data: null };

export class UNetTrainer implements StageTrainer {
  readonly stage = 'unet';
  readonly config: StageTrainingConfig;
  readonly modelConfig: UNet2DConditionConfig;
  readonly unet: UNet2DConditionModel;
  readonly ema: UNet2DConditionModel;
  readonly random: Random;
  private readonly group: OptimizerGroup;
  private readonly alphasCumprod: Float64Array;
  step = 0;
  /** The cache `config.data` names, opened by the runner (null: the Shapes generator). */
  trainingData: TrainingData | null = null;
  /** The empty prompt's text states [L × d] (summary dropout), once encoded. */
  private emptyRows: Float32Array | null = null;

  constructor(
    private readonly engine: TensorEngine,
    readonly frozen: { vae: AutoencoderKL; textEncoder: ClipTextModel; tokenizer: Tokenizer },
    config: Partial<StageTrainingConfig>,
    readonly options: UNetStageOptions = DEFAULT_UNET_OPTIONS,
    readonly schedulerConfig: Record<string, unknown> = { ...SHAPES_SCHEDULER_CONFIG },
  ) {
    this.config = normaliseStageConfig(config, UNET_TRAINING_DEFAULTS);
    this.modelConfig = readUNetConfig(options.model, 'unet config');
    const { vae, textEncoder } = frozen;
    if (this.modelConfig.cross_attention_dim !== textEncoder.config.hidden_size) {
      throw new DiffusionError('INVALID_CONFIG', `unet cross_attention_dim ${this.modelConfig.cross_attention_dim} differs from the text encoder's hidden_size ${textEncoder.config.hidden_size}`);
    }
    if (this.modelConfig.in_channels !== vae.config.latent_channels || this.modelConfig.sample_size * vae.scaleFactor !== vae.config.sample_size) {
      throw new DiffusionError('INVALID_CONFIG', `unet in_channels ${this.modelConfig.in_channels} / sample_size ${this.modelConfig.sample_size} do not match the VAE's ${vae.config.latent_channels} latent channels at ${vae.config.sample_size}/${vae.scaleFactor}`);
    }
    if (!(options.captionDropout >= 0 && options.captionDropout <= 1)) throw new DiffusionError('INVALID_CONFIG', 'captionDropout must be in [0, 1]');
    if (options.summaryDropout !== undefined && !(options.summaryDropout >= 0 && options.summaryDropout <= 1)) throw new DiffusionError('INVALID_CONFIG', `summaryDropout must be in [0, 1], got ${options.summaryDropout}`);
    if (options.pairSizes !== undefined && !(options.pairSizes >= 0 && options.pairSizes <= 1)) throw new DiffusionError('INVALID_CONFIG', `pairSizes must be in [0, 1], got ${options.pairSizes}`);
    if (options.groundingWeight !== undefined && !(options.groundingWeight >= 0)) throw new DiffusionError('INVALID_CONFIG', `groundingWeight must be ≥ 0, got ${options.groundingWeight}`);
    if (options.bindingWeight !== undefined && !(options.bindingWeight >= 0)) throw new DiffusionError('INVALID_CONFIG', `bindingWeight must be ≥ 0, got ${options.bindingWeight}`);
    if (this.attentionSupervised && this.config.data !== null) throw new DiffusionError('INVALID_CONFIG', `grounding and binding need the Shapes generator's scenes, not the cache ${this.config.data}`);
    if (options.snrGamma !== undefined && !(options.snrGamma >= 0)) throw new DiffusionError('INVALID_CONFIG', `snrGamma must be ≥ 0, got ${options.snrGamma}`);
    const s = schedulerConfig as { num_train_timesteps: number; beta_schedule: 'scaled_linear'; beta_start: number; beta_end: number };
    this.alphasCumprod = trainingSchedule(s.num_train_timesteps, s.beta_schedule, s.beta_start, s.beta_end).alphasCumprod;
    this.random = new Random(this.config.seed);
    this.unet = new UNet2DConditionModel(engine, this.random, this.modelConfig);
    this.ema = new UNet2DConditionModel(engine, new Random(0), this.modelConfig);
    this.group = new OptimizerGroup(engine, this.unet.params, this.ema.params, this.config);
  }

  get shipped(): UNet2DConditionModel {
    return this.config.emaDecay > 0 ? this.ema : this.unet;
  }

  /** Frozen text embeddings [n, L, d] (kept). */
  encodeText(captions: readonly string[]): Tensor {
    const e = this.engine;
    const ids = this.frozen.tokenizer.call(captions, { padding: 'max_length', truncation: true }).inputIds;
    return e.tidy(() => this.frozen.textEncoder.forward(e, ids).hiddenState);
  }

  /**
   * `context` [n, L, d] with, for each caption chosen by `summaryDropout`, the rows from its
   * end-of-text position on replaced by the empty prompt's rows (see UNetStageOptions). Returns
   * `context` itself when nothing is replaced; otherwise a new tensor (the caller disposes both).
   */
  dropSummaries(context: Tensor, captions: readonly string[]): Tensor {
    const p = this.options.summaryDropout ?? 0;
    if (p === 0) return context;
    const chosen = captions.map((c) => c !== '' && this.random.uniform() < p);
    if (!chosen.includes(true)) return context;
    const e = this.engine;
    const [n, length, width] = context.shape;
    const values = e.readSync(context).slice();
    // The frozen encoder's empty prompt: encoded once.
    if (this.emptyRows === null) {
      const emptyT = this.encodeText(['']);
      this.emptyRows = e.readSync(emptyT).slice();
      emptyT.dispose();
    }
    const empty = this.emptyRows;
    const ids = this.frozen.tokenizer.call(captions, { padding: 'max_length', truncation: true }).inputIds;
    const eos = this.frozen.tokenizer.eosTokenId;
    for (let i = 0; i < n; i++) {
      if (!chosen[i]) continue;
      const from = ids[i].indexOf(eos);
      if (from < 0) continue;
      values.set(empty.subarray(from * width, length * width), (i * length + from) * width);
    }
    return e.tensor(values, [n, length, width]);
  }

  /** Scaled posterior samples of the frozen VAE, [n, h, w, c] values (kept tensor). */
  encodeImages(images: Float32Array, n: number, random: Random): Tensor {
    const e = this.engine;
    const vae = this.frozen.vae;
    const size = vae.config.sample_size;
    return e.tidy(() => {
      const d = vae.encode(e, e.tensor(images, [n, size, size, 3]));
      const noise = e.tensor(random.normalArray(d.mean.size), d.mean.shape);
      return e.mulScalar(e.add(d.mean, e.mul(e.exp(e.mulScalar(d.logvar, 0.5)), noise)), vae.config.scaling_factor);
    });
  }

  /** z_t and ε for per-sample timesteps (q(z_t | z_0), DDPM eq. 4). */
  private noised(z0: Float32Array, n: number, timesteps: Float32Array, random: Random): { zt: Float32Array; noise: Float32Array } {
    const noise = random.normalArray(z0.length);
    const per = z0.length / n;
    const zt = new Float32Array(z0.length);
    for (let i = 0; i < n; i++) {
      const a = this.alphasCumprod[timesteps[i]];
      const sa = Math.sqrt(a);
      const sb = Math.sqrt(1 - a);
      for (let j = i * per; j < (i + 1) * per; j++) zt[j] = sa * z0[j] + sb * noise[j];
    }
    return { zt, noise };
  }

  /** Min-SNR-γ weights of these timesteps, one per sample (null: unweighted). */
  lossWeights(timesteps: Float32Array): Float32Array | null {
    const gamma = this.options.snrGamma ?? 0;
    if (gamma <= 0) return null;
    return Float32Array.from(timesteps, (t) => {
      const a = this.alphasCumprod[t];
      const snr = a / (1 - a);
      return Math.min(snr, gamma) / snr;
    });
  }

  /** mean over the batch of w_i · mean((ε_θ − ε)²) of sample i; w = 1 without weights. */
  epsilonLoss(model: UNet2DConditionModel, zt: Tensor, timesteps: Float32Array, context: Tensor, noise: Tensor, weights: Float32Array | null = null): Tensor {
    const e = this.engine;
    const squared = e.square(e.sub(model.forward(e, zt, timesteps, context), noise));
    // Every sample has the same element count, so weighting the elements is weighting the per-sample means.
    return e.mean(weights === null ? squared : e.mul(squared, e.tensor(weights, [weights.length, 1, 1, 1])));
  }

  /** Whether the run trains the cross-attention maps (a grounding or binding weight above 0). */
  get attentionSupervised(): boolean {
    return (this.options.groundingWeight ?? 0) > 0 || (this.options.bindingWeight ?? 0) > 0;
  }

  /**
   * The ε-loss and, with `grounding`, the token-grounding and binding losses of the same forward
   * pass (the cross-attention probabilities are recorded through the builder's probe while it runs).
   */
  losses(model: UNet2DConditionModel, zt: Tensor, timesteps: Float32Array, context: Tensor, noise: Tensor, weights: Float32Array | null, grounding: GroundingBatch | null): { epsilon: Tensor; grounding: Tensor | null; binding: Tensor | null } {
    if (grounding === null) return { epsilon: this.epsilonLoss(model, zt, timesteps, context, noise, weights), grounding: null, binding: null };
    const records: AttentionRecord[] = [];
    model.builder.crossAttentionProbe = (probabilities, heads) => records.push({ probabilities, heads });
    try {
      const epsilon = this.epsilonLoss(model, zt, timesteps, context, noise, weights);
      return { epsilon, ...attentionLosses(this.engine, records, grounding) };
    } finally {
      model.builder.crossAttentionProbe = null;
    }
  }

  /** The grounding targets of a batch's (dropped) captions, or null when neither grounding nor binding is on. */
  groundingBatch(captions: readonly string[], scenes: readonly ShapesScene[] | undefined, tokens: number): GroundingBatch | null {
    if (!this.attentionSupervised) return null;
    if (scenes === undefined) throw new DiffusionError('INVALID_ARGUMENT', 'grounding: the batch has no scenes (a data-set cache); grounding and binding need the Shapes generator');
    return new GroundingBatch(captions.length, tokens, captions, scenes, this.frozen.tokenizer);
  }

  trainStep(): Record<string, number> {
    const e = this.engine;
    const b = this.config.batchSize;
    const size = this.frozen.vae.config.sample_size;
    checkTrainingData(this.trainingData, size, size, this.frozen.vae.config.in_channels, 'VAE encoder');
    const { images, captions, scenes } = trainingBatch(this.config, this.step, this.trainingData, this.options.pairSizes ?? 0);
    const dropped = captions.map((c) => (this.random.uniform() < this.options.captionDropout ? '' : c));
    const z0T = this.encodeImages(images, b, this.random);
    const z0 = e.readSync(z0T);
    const shape = z0T.shape;
    z0T.dispose();
    const T = this.alphasCumprod.length;
    const timesteps = new Float32Array(b);
    for (let i = 0; i < b; i++) timesteps[i] = this.random.int(T);
    const { zt, noise } = this.noised(z0, b, timesteps, this.random);
    const encoded = this.encodeText(dropped);
    const context = this.dropSummaries(encoded, dropped);
    if (context !== encoded) encoded.dispose();
    const ztT = e.tensor(zt, shape);
    const noiseT = e.tensor(noise, shape);
    try {
      return this.optimiseOn(ztT, timesteps, context, noiseT, this.groundingBatch(dropped, scenes, context.shape[1]));
    } finally {
      for (const t of [context, ztT, noiseT]) t.dispose();
    }
  }

  /**
   * The optimisation half of a step, on inputs already drawn: ε_θ(z_t, t, c), the ε-loss, its
   * gradients, clipping, Adam and the EMA update; `step` advances. The inputs stay the caller's.
   * bench/diffusion-t2i-train.ts times exactly this against diffusers' UNet2DConditionModel.
   */
  optimiseOn(zt: Tensor, timesteps: Float32Array, context: Tensor, noise: Tensor, grounding: GroundingBatch | null = null): { loss: number; gradNorm: number; groundingLoss?: number; bindingLoss?: number } {
    const e = this.engine;
    const weights = this.lossWeights(timesteps);
    const groundingWeight = this.options.groundingWeight ?? 0;
    const bindingWeight = this.options.bindingWeight ?? 0;
    let kept: Tensor[] = [];
    const { value, grads } = e.valueAndGrads(() => {
      const parts = this.losses(this.unet, zt, timesteps, context, noise, weights, grounding);
      if (parts.grounding === null || parts.binding === null) return parts.epsilon;
      kept = [e.keep(parts.grounding), e.keep(parts.binding)];
      // A term at weight 0 is reported but adds nothing (and no gradient).
      let total = parts.epsilon;
      if (groundingWeight > 0) total = e.add(total, e.mulScalar(parts.grounding, groundingWeight));
      if (bindingWeight > 0) total = e.add(total, e.mulScalar(parts.binding, bindingWeight));
      return total;
    }, this.group.trainable() as never);
    const loss = e.readSync(value)[0];
    value.dispose();
    const [groundingValue, bindingValue] = kept.map((t) => e.readSync(t)[0]);
    kept.forEach((t) => t.dispose());
    if (!Number.isFinite(loss)) grads.forEach((g) => g.dispose());
    checkFinite(loss, this.step, 'unet');
    const gradNorm = this.group.apply(grads, this.step);
    this.step += 1;
    // The reported loss stays the objective's total; the attention parts are reported beside it.
    return groundingValue === undefined ? { loss, gradNorm } : { loss, gradNorm, groundingLoss: groundingValue, bindingLoss: bindingValue };
  }

  /** ε-loss of the shipped weights on a fixed held-out batch: test-split images, fixed t, ε and posterior noise. */
  evaluate(): Record<string, number> {
    const e = this.engine;
    const n = this.options.evalImages;
    const random = new Random(this.config.seed + 99);
    // A cache without a test split is evaluated on its own stream at another seed.
    const { images, captions, scenes } = evaluationBatch(this.config, this.trainingData, 'test', this.config.dataSeed + 1, n) ?? evaluationBatch(this.config, this.trainingData, 'train', this.config.dataSeed + 1, n)!;
    const z0T = this.encodeImages(images, n, random);
    const z0 = e.readSync(z0T);
    const shape = z0T.shape;
    z0T.dispose();
    const timesteps = new Float32Array(n);
    for (let i = 0; i < n; i++) timesteps[i] = Math.floor(((i + 0.5) / n) * this.alphasCumprod.length);
    const { zt, noise } = this.noised(z0, n, timesteps, random);
    const context = this.encodeText(captions);
    const emptyContext = this.encodeText(captions.map(() => ''));
    // Where the batch has scenes, the grounding and binding losses of the same pass say how well
    // each word's attention stays on its object (reported whether or not the run trains them).
    const grounding = scenes === undefined ? null : new GroundingBatch(n, context.shape[1], captions, scenes, this.frozen.tokenizer);
    const [[withText, groundingValue, bindingValue], [withoutText]] = [context, emptyContext].map((c, i) => {
      const values = e.tidy(() => {
        const parts = this.losses(this.shipped, e.tensor(zt, shape), timesteps, c, e.tensor(noise, shape), null, i === 0 ? grounding : null);
        return parts.grounding === null || parts.binding === null ? [parts.epsilon] : [parts.epsilon, parts.grounding, parts.binding];
      });
      const out = values.map((v) => e.readSync(v)[0]);
      values.forEach((v) => v.dispose());
      return out;
    });
    context.dispose();
    emptyContext.dispose();
    // The gap between the unconditional and conditional losses is what the text contributes.
    return {
      validationLoss: withText,
      unconditionalValidationLoss: withoutText,
      ...(groundingValue !== undefined ? { validationGroundingLoss: groundingValue } : {}),
      ...(bindingValue !== undefined ? { validationBindingLoss: bindingValue } : {}),
    };
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
    this.unet.params.dispose();
    this.ema.params.dispose();
  }
}
