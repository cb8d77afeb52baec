/**
 * The Stable Diffusion pipelines, text-to-image and image-to-image — diffusers'
 * pipelines/stable_diffusion/pipeline_stable_diffusion.py and pipeline_stable_diffusion_img2img.py.
 * Browser-safe: components come in as objects (pipelines/load-node.ts reads them from files).
 *
 *   prompt ──tokenizer──▶ ids ──CLIPTextModel──▶ c [77 × d]          (and c_∅ for the negative prompt)
 *   z_T ~ N(0, I)·σ_init ──(UNet ε_θ(z_t, t, c) guided, scheduler step)×steps──▶ z_0   (sample.ts)
 *   z_0 / scaling_factor ──VAE decoder──▶ image ∈ [−1, 1] ──▶ [0, 1]
 *
 * img2img encodes the input image instead, scales it by scaling_factor, noises it to the timestep
 * that `strength` selects (strength 1: pure noise, 0: the image unchanged) and denoises from there.
 *
 * Latents cross this boundary in diffusers' NCHW order (N × 4 × h × w), so that initial noise saved
 * by diffusers (`latents=`) gives the same image here; inside, tensors are NHWC.
 *
 * Each of the three models can run elsewhere through a runner (onnx/sd-unet-ort.ts: onnxruntime
 * sessions on graphs traced from these same models); the loop and the schedulers do not change.
 */
import { DiffusionError } from '../errors.ts';
import type { AutoencoderKL } from '../models/sd/autoencoder-kl.ts';
import { CLIP_TOKEN_TABLE, type ClipTextModel } from '../models/sd/clip-text-model.ts';
import { type UNet2DConditionModel, timestepEmbedding } from '../models/sd/unet-2d-condition.ts';
import { Random } from '../rng.ts';
import { type LatentNoisePredictor, sampleLatents } from '../sample.ts';
import type { LatentScheduler } from '../schedulers/sampling-run.ts';
import type { Tensor, TensorEngine } from '../tensor/engine.ts';
import type { Tokenizer } from '../text/tokenizer.ts';
import { nchwToNhwc, nhwcToNchw } from '../tensor/layout.ts';

export interface StableDiffusionComponents {
  tokenizer: Tokenizer;
  textEncoder: ClipTextModel;
  unet: UNet2DConditionModel;
  vae: AutoencoderKL;
  /** The checkpoint's own scheduler (diffusers' scheduler/scheduler_config.json). */
  scheduler: LatentScheduler;
}

/**
 * Runs the UNet somewhere other than the tfjs engine (onnx/sd-unet-ort.ts: an onnxruntime session
 * on the exported graph) for one latent size. Inputs are host arrays: latents NHWC (rows × h × w × c),
 * the sinusoidal timestep embedding (rows × block_out_channels[0]) and the text embeddings
 * (rows × tokens × dim); the result is ε̂ (or v̂), NHWC.
 */
export interface UNetRunner {
  readonly height: number;
  readonly width: number;
  run(latents: Float32Array, rows: number, timestepEmbedding: Float32Array, context: Float32Array): Promise<Float32Array>;
  dispose?(): Promise<void> | void;
}

/**
 * Runs the text encoder elsewhere (onnxruntime) for one clip skip: token embeddings (rows × tokens ×
 * hidden, the rows of the token table) → the hidden state the UNet attends to, same shape.
 */
export interface TextEncoderRunner {
  readonly clipSkip: number;
  run(tokenEmbeddings: Float32Array, rows: number, tokens: number): Promise<Float32Array>;
  dispose?(): Promise<void> | void;
}

/** Runs the VAE decoder elsewhere (onnxruntime) for one latent size: unscaled latents NHWC → image NHWC in about [−1, 1]. */
export interface VaeDecoderRunner {
  readonly height: number;
  readonly width: number;
  run(latents: Float32Array, rows: number): Promise<Float32Array>;
  dispose?(): Promise<void> | void;
}

export interface StepInfo {
  step: number;
  total: number;
  /** Current latents, NHWC; decode with `decodeLatents` for a preview. */
  latents: Float32Array;
  /** The scheduler's x̂_0 estimate at this step (a cleaner preview). */
  predictedOriginal: Float32Array;
}

export interface GenerationOptions {
  /** One prompt or a list; each gives `n` images. */
  prompt: string | string[];
  /** One for all prompts, or one per prompt; "" by default (the unconditional embedding). */
  negativePrompt?: string | string[];
  /** Classifier-free guidance scale w (diffusers' guidance_scale); ≤ 1 disables guidance. */
  guidance?: number;
  steps?: number;
  /** Images per prompt. */
  n?: number;
  seed?: number;
  /** Another scheduler with the same training schedule (e.g. DPM-Solver++ from the checkpoint's config). */
  scheduler?: LatentScheduler;
  /** Use the text encoder's layer N − k (diffusers' clip_skip). */
  clipSkip?: number;
  /** Rows per UNet call after the guidance doubling (memory bound; default 2). */
  maxBatch?: number;
  onStep?: (info: StepInfo) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface TextToImageOptions extends GenerationOptions {
  width?: number;
  height?: number;
  /** Initial noise, N × C × h × w (NCHW, unit variance, before σ_init), N = prompts × n. */
  latents?: Float32Array;
}

export interface ImageToImageOptions extends GenerationOptions {
  /** The input image, H × W × 3 in [0, 1] (one image, used for every prompt and sample). */
  image: { data: Float32Array; width: number; height: number };
  /** How much of the schedule to run: 1 = from pure noise, 0 = return the image. */
  strength?: number;
}

export interface GeneratedImages {
  /** count × height × width × 3, in [0, 1] (before quantisation), prompt-major. */
  images: Float32Array;
  count: number;
  width: number;
  height: number;
  /** The final latents, NCHW (N × C × h × w), unscaled (what the VAE decodes after ÷ scaling_factor). */
  latents: Float32Array;
}

export class StableDiffusionPipeline {
  private unetRunner: UNetRunner | null = null;
  private decoderRunner: VaeDecoderRunner | null = null;
  private textRunner: TextEncoderRunner | null = null;
  private unetReleased = false;
  /** The clip skip whose text runner replaced the tfjs text encoder (its weights but the token table freed). */
  private textReleasedFor: number | null = null;
  private decoderReleased = false;

  constructor(
    readonly engine: TensorEngine,
    readonly components: StableDiffusionComponents,
  ) {}

  /** Route the UNet's calls to `runner` (for its latent size; other sizes use the tfjs UNet while it exists). */
  useUNetRunner(runner: UNetRunner): void {
    void this.unetRunner?.dispose?.();
    this.unetRunner = runner;
  }

  /** Route text encoding with the runner's clip skip to it. */
  useTextEncoderRunner(runner: TextEncoderRunner): void {
    void this.textRunner?.dispose?.();
    this.textRunner = runner;
  }

  /** Route VAE decodes of the runner's latent size to it (the encoder, img2img, stays on tfjs). */
  useVaeDecoderRunner(runner: VaeDecoderRunner): void {
    void this.decoderRunner?.dispose?.();
    this.decoderRunner = runner;
  }

  /** Free the tfjs copy of the UNet's weights (a runner serves the UNet from now on, at its size only). */
  releaseUNetWeights(): void {
    if (this.unetReleased) return;
    this.components.unet.params.dispose();
    this.unetReleased = true;
  }

  /**
   * Free the tfjs text encoder's weights but its token table (the host lookup that feeds the text
   * runner): from now on prompts are encoded only through the runner, at its clip skip.
   */
  releaseTextEncoderWeights(): void {
    if (this.textRunner === null) throw new DiffusionError('INVALID_ARGUMENT', 'releaseTextEncoderWeights: no text encoder runner serves this pipeline');
    if (this.textReleasedFor !== null) return;
    this.components.textEncoder.params.disposeWhere((name) => name !== CLIP_TOKEN_TABLE);
    this.textReleasedFor = this.textRunner.clipSkip;
  }

  /** Free the tfjs VAE decoder's weights (post_quant_conv, decoder.*); the encoder stays for img2img. */
  releaseVaeDecoderWeights(): void {
    if (this.decoderRunner === null) throw new DiffusionError('INVALID_ARGUMENT', 'releaseVaeDecoderWeights: no VAE decoder runner serves this pipeline');
    if (this.decoderReleased) return;
    this.components.vae.params.disposeWhere((name) => name.startsWith('decoder.') || name.startsWith('post_quant_conv.'));
    this.decoderReleased = true;
  }

  /** Frees the models' weights (and the UNet runner's session). */
  dispose(): void {
    void this.unetRunner?.dispose?.();
    void this.decoderRunner?.dispose?.();
    void this.textRunner?.dispose?.();
    this.unetRunner = null;
    this.decoderRunner = null;
    this.textRunner = null;
    for (const model of [this.components.textEncoder, this.components.vae]) model.params.dispose();
    if (!this.unetReleased) this.components.unet.params.dispose();
  }

  /** Pixels per latent pixel (SD-1.x: 8). */
  get vaeScaleFactor(): number {
    return this.components.vae.scaleFactor;
  }

  /** Default output size: the UNet's sample_size × the VAE factor (SD-1.5: 512). */
  get defaultSize(): number {
    return this.components.unet.config.sample_size * this.vaeScaleFactor;
  }

  /** Token ids of each prompt, padded/truncated to the tokenizer's length (what the text encoder sees). */
  tokenize(prompts: readonly string[]): Int32Array[] {
    return this.components.tokenizer.call(prompts, { padding: 'max_length', truncation: true }).inputIds;
  }

  /** Text embeddings [prompts, L, d] (kept: the caller disposes). */
  encodePrompts(prompts: readonly string[], clipSkip = 0): Tensor {
    const e = this.engine;
    return e.tidy(() => this.components.textEncoder.forward(e, this.tokenize(prompts), clipSkip).hiddenState);
  }

  /** Text embeddings as host values [prompts × tokens × width], through the text runner when one serves this clip skip. */
  async encodeText(prompts: readonly string[], clipSkip = 0): Promise<{ values: Float32Array; tokens: number; width: number }> {
    const e = this.engine;
    const encoder = this.components.textEncoder;
    const ids = this.tokenize(prompts);
    const tokens = ids[0]?.length ?? 0;
    const width = encoder.config.hidden_size;
    if (this.textRunner && this.textRunner.clipSkip === clipSkip) {
      const table = e.readSync(encoder.tokenEmbeddingTable);
      const lookup = new Float32Array(prompts.length * tokens * width);
      ids.forEach((row, p) => row.forEach((id, i) => lookup.set(table.subarray(id * width, (id + 1) * width), (p * tokens + i) * width)));
      return { values: await this.textRunner.run(lookup, prompts.length, tokens), tokens, width };
    }
    if (this.textReleasedFor !== null) throw new DiffusionError('INVALID_ARGUMENT', `this pipeline's text encoder runs with clip skip ${this.textReleasedFor} only, not ${clipSkip}`);
    const embeddings = this.encodePrompts(prompts, clipSkip);
    const values = e.readSync(embeddings).slice();
    embeddings.dispose();
    return { values, tokens, width };
  }

  async textToImage(options: TextToImageOptions): Promise<GeneratedImages> {
    const size = this.defaultSize;
    const width = options.width ?? size;
    const height = options.height ?? size;
    this.checkSize(width, height);
    const { count, prompts } = this.promptRows(options);
    const f = this.vaeScaleFactor;
    const [h, w, c] = [height / f, width / f, this.components.unet.config.in_channels];
    const random = new Random(options.seed ?? 0);
    let noise: Float32Array;
    if (options.latents) {
      if (options.latents.length !== count * c * h * w) {
        throw new DiffusionError('SHAPE_MISMATCH', `initial latents have ${options.latents.length} values, expected ${count}×${c}×${h}×${w} = ${count * c * h * w}`);
      }
      noise = options.latents;
    } else noise = random.normalArray(count * c * h * w);
    const scheduler = options.scheduler ?? this.components.scheduler;
    const run = scheduler.begin(options.steps ?? 50);
    const latents = await this.denoise(options, prompts, count, nchwToNhwc(noise, count, c, h, w), run, random, [h, w, c]);
    return this.finish(latents, count, height, width, [h, w, c]);
  }

  async imageToImage(options: ImageToImageOptions): Promise<GeneratedImages> {
    const { width, height, data } = options.image;
    this.checkSize(width, height);
    if (data.length !== width * height * 3) throw new DiffusionError('SHAPE_MISMATCH', `input image has ${data.length} values, expected ${width}×${height}×3`);
    const strength = options.strength ?? 0.8;
    if (!(strength >= 0 && strength <= 1)) throw new DiffusionError('INVALID_ARGUMENT', `strength must be in [0, 1], got ${strength}`);
    const { count, prompts } = this.promptRows(options);
    const f = this.vaeScaleFactor;
    const [h, w, c] = [height / f, width / f, this.components.vae.config.latent_channels];
    const random = new Random(options.seed ?? 0);
    const e = this.engine;
    const vae = this.components.vae;
    // Encode once: z = (μ + σ·ε)·scaling_factor (diffusers samples the posterior with the generator).
    const posterior = e.tidy(() => {
      const x = e.addScalar(e.mulScalar(e.tensor(data, [1, height, width, 3]), 2), -1);
      const d = vae.encode(e, x);
      return e.concat([d.mean, d.logvar], 3);
    });
    const values = e.readSync(posterior).slice();
    posterior.dispose();
    const per = h * w * c;
    const original = new Float32Array(count * per);
    for (let k = 0; k < count; k++) {
      const eps = nchwToNhwc(random.normalArray(per), 1, c, h, w);
      for (let i = 0; i < per; i++) {
        const mean = values[Math.floor(i / c) * 2 * c + (i % c)];
        const logvar = values[Math.floor(i / c) * 2 * c + c + (i % c)];
        original[k * per + i] = (mean + Math.exp(0.5 * logvar) * eps[i]) * vae.config.scaling_factor;
      }
    }
    // diffusers' get_timesteps: run the last ⌊steps·strength⌋ steps.
    const steps = options.steps ?? 50;
    const initSteps = Math.min(Math.floor(steps * strength), steps);
    if (initSteps === 0) return this.finish(original, count, height, width, [h, w, c]);
    const scheduler = options.scheduler ?? this.components.scheduler;
    const run = scheduler.begin(steps, { startIndex: steps - initSteps });
    const noise = nchwToNhwc(random.normalArray(count * per), count, c, h, w);
    const latents = await this.denoise(options, prompts, count, noise, run, random, [h, w, c], original);
    return this.finish(latents, count, height, width, [h, w, c]);
  }

  /** Latents (NHWC, unscaled) → images in [0, 1], one VAE decode at a time. */
  async decodeLatents(latents: Float32Array, count: number, latentShape: [number, number, number]): Promise<Float32Array> {
    const e = this.engine;
    const vae = this.components.vae;
    const [h, w, c] = latentShape;
    const f = this.vaeScaleFactor;
    const per = h * w * c;
    const out = new Float32Array(count * h * f * w * f * 3);
    const runner = this.decoderRunner !== null && this.decoderRunner.height === h && this.decoderRunner.width === w ? this.decoderRunner : null;
    if (runner === null && this.decoderReleased) {
      const served = this.decoderRunner as VaeDecoderRunner;
      throw new DiffusionError('INVALID_ARGUMENT', `this pipeline's VAE decoder runs for ${served.width * f}×${served.height * f} images only, not ${w * f}×${h * f}`);
    }
    for (let k = 0; k < count; k++) {
      const z = latents.subarray(k * per, (k + 1) * per);
      let values: Float32Array;
      if (runner) {
        const scaled = new Float32Array(per);
        for (let i = 0; i < per; i++) scaled[i] = z[i] / vae.config.scaling_factor;
        values = await runner.run(scaled, 1);
      } else {
        const image = e.tidy(() => vae.decode(e, e.mulScalar(e.tensor(z, [1, h, w, c]), 1 / vae.config.scaling_factor)));
        values = e.readSync(image);
        image.dispose();
      }
      const base = k * values.length;
      for (let i = 0; i < values.length; i++) out[base + i] = Math.min(1, Math.max(0, values[i] / 2 + 0.5));
    }
    return out;
  }

  private checkSize(width: number, height: number): void {
    const f = this.vaeScaleFactor;
    for (const [name, v] of [['width', width], ['height', height]] as const) {
      if (!Number.isInteger(v) || v < f || v % f !== 0) throw new DiffusionError('INVALID_ARGUMENT', `${name} must be a positive multiple of ${f}, got ${v}`);
    }
  }

  private promptRows(options: GenerationOptions): { count: number; prompts: string[] } {
    const prompts = typeof options.prompt === 'string' ? [options.prompt] : options.prompt;
    const n = options.n ?? 1;
    if (prompts.length === 0) throw new DiffusionError('INVALID_ARGUMENT', 'no prompt');
    if (!Number.isInteger(n) || n < 1) throw new DiffusionError('INVALID_ARGUMENT', `n must be a positive integer, got ${n}`);
    return { count: prompts.length * n, prompts };
  }

  private async denoise(
    options: GenerationOptions,
    prompts: string[],
    count: number,
    noise: Float32Array,
    run: ReturnType<LatentScheduler['begin']>,
    random: Random,
    latentShape: [number, number, number],
    original?: Float32Array,
  ): Promise<Float32Array> {
    const e = this.engine;
    const n = options.n ?? 1;
    const guidance = options.guidance ?? 7.5;
    const guided = guidance > 1;
    const negatives = options.negativePrompt === undefined ? [''] : typeof options.negativePrompt === 'string' ? [options.negativePrompt] : options.negativePrompt;
    if (negatives.length !== 1 && negatives.length !== prompts.length) {
      throw new DiffusionError('INVALID_ARGUMENT', `${negatives.length} negative prompts for ${prompts.length} prompts (give one, or one per prompt)`);
    }
    // Embedding rows: the prompts, then (guided) the negative prompts.
    const texts = guided ? [...prompts, ...negatives] : prompts;
    const text = await this.encodeText(texts, options.clipSkip ?? 0);
    const { tokens, width } = text;
    const table = e.tensor(text.values, [texts.length, tokens * width]);
    const conditions = Int32Array.from({ length: count }, (_, k) => Math.floor(k / n));
    const unconditions = Int32Array.from({ length: count }, (_, k) => prompts.length + (negatives.length === 1 ? 0 : Math.floor(k / n)));
    const unet = this.components.unet;
    const [h, w, c] = latentShape;
    const runner = this.unetRunner;
    const useRunner = runner !== null && runner.height === h && runner.width === w;
    if (!useRunner && this.unetReleased) {
      const served = runner ? `runs for ${runner.width * this.vaeScaleFactor}×${runner.height * this.vaeScaleFactor} images only` : 'has been released';
      throw new DiffusionError('INVALID_ARGUMENT', `this pipeline's UNet ${served}, not ${w * this.vaeScaleFactor}×${h * this.vaeScaleFactor}`);
    }
    const hostTable = text.values;
    const predictor: LatentNoisePredictor = {
      predict: (latents, timestep, rows, b) => {
        if (useRunner) {
          const context = new Float32Array(b * tokens * width);
          for (let r = 0; r < b; r++) context.set(hostTable.subarray(rows[r] * tokens * width, (rows[r] + 1) * tokens * width), r * tokens * width);
          const c0 = unet.config.block_out_channels[0];
          const embedding = timestepEmbedding(new Float32Array(b).fill(timestep), c0, unet.config.flip_sin_to_cos, unet.config.freq_shift);
          return (runner as UNetRunner).run(latents, b, embedding, context);
        }
        const out = e.tidy(() => {
          const context = e.reshape(e.gather(table, rows), [b, tokens, width]);
          return unet.forward(e, e.tensor(latents, [b, h, w, c]), new Float32Array(b).fill(timestep), context);
        });
        const values = e.readSync(out).slice();
        out.dispose();
        return values;
      },
    };
    try {
      return await sampleLatents(predictor, {
        run,
        latents: noise,
        n: count,
        conditions,
        unconditions: guided ? unconditions : undefined,
        guidance,
        random,
        maxBatch: options.maxBatch ?? 2,
        signal: options.signal,
        startFrom: original ? { original } : undefined,
        onStep: options.onStep ? (step, total, latents, predictedOriginal) => options.onStep?.({ step, total, latents, predictedOriginal }) : undefined,
      });
    } finally {
      table.dispose();
    }
  }

  private async finish(latents: Float32Array, count: number, height: number, width: number, latentShape: [number, number, number]): Promise<GeneratedImages> {
    const [h, w, c] = latentShape;
    return { images: await this.decodeLatents(latents, count, latentShape), count, width, height, latents: nhwcToNchw(latents, count, h, w, c) };
  }
}
