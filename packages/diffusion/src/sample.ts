import { DiffusionError } from './errors.ts';
import { type DiffusionModel, contextSizeOf, imageShapeOf } from './models/index.ts';
import type { Random } from './rng.ts';
import type { NoiseScheduler } from './schedulers/index.ts';
import type { SamplingRun } from './schedulers/sampling-run.ts';
import type { TensorEngine } from './tensor/engine.ts';

/**
 * What to condition on: one class, a weighted mix of classes (the course's "0.6 of one, 1.0 of
 * another" is the context vector with those weights), one class per sample, or nothing (the null
 * context, all zeros).
 */
export type ContextSpec =
  | { kind: 'none' }
  | { kind: 'class'; classIndex: number }
  | { kind: 'mix'; weights: Array<{ classIndex: number; weight: number }> }
  | { kind: 'per-sample'; classes: ArrayLike<number> };

export function buildContext(spec: ContextSpec, n: number, contextSize: number): Float32Array {
  const out = new Float32Array(n * contextSize);
  const check = (k: number): void => {
    if (!Number.isInteger(k) || k < 0 || k >= contextSize) throw new DiffusionError('INVALID_ARGUMENT', `class ${k} outside 0..${contextSize - 1}`);
  };
  if (spec.kind === 'class') {
    check(spec.classIndex);
    for (let i = 0; i < n; i++) out[i * contextSize + spec.classIndex] = 1;
  } else if (spec.kind === 'mix') {
    for (const { classIndex, weight } of spec.weights) {
      check(classIndex);
      if (!Number.isFinite(weight)) throw new DiffusionError('INVALID_ARGUMENT', `mix weight ${weight} is not a number`);
      for (let i = 0; i < n; i++) out[i * contextSize + classIndex] += weight;
    }
  } else if (spec.kind === 'per-sample') {
    if (spec.classes.length !== n) throw new DiffusionError('INVALID_ARGUMENT', `per-sample context: ${spec.classes.length} classes for ${n} samples`);
    for (let i = 0; i < n; i++) {
      check(spec.classes[i]);
      out[i * contextSize + spec.classes[i]] = 1;
    }
  }
  return out;
}

export interface SampleOptions {
  scheduler: NoiseScheduler;
  /** Number of inference steps (DDPM: usually all T; DDIM: e.g. 25 or 50). */
  steps: number;
  n: number;
  context: ContextSpec;
  /** Classifier-free guidance w: ε = ε_uncond + w·(ε_cond − ε_uncond) (Ho & Salimans 2022). 1 = conditional only. */
  guidance: number;
  random: Random;
  /** Step indices (0 = first step) after which to keep the current x as a progression frame; the final x is always returned. */
  frameSteps?: number[];
  /** Called after every step with (index, total); may return a promise (to yield to a UI). */
  onStep?: (index: number, total: number, timestep: number) => void | Promise<void>;
  /** Largest batch for one forward pass (memory bound); the n samples are processed in chunks. */
  maxBatch?: number;
  /** Where the model call runs (default: the model's `noisePredictor`, else its forward on the engine). */
  predictor?: NoisePredictor;
}

export interface SampleResult {
  /** n images, NHWC, clipped to [−1, 1]. */
  images: Float32Array;
  frames: Array<{ step: number; timestep: number; images: Float32Array }>;
  height: number;
  width: number;
  channels: number;
}

/**
 * The model call of one denoising step, behind a small interface so that the same loop runs the
 * model on a tfjs engine (`enginePredictor`) or elsewhere (onnx/ort-node.ts: an ORT session on the
 * exported graph). Returns ε̂ for `rows` images.
 */
export interface NoisePredictor {
  /** x: rows·H·W·C values (NHWC); timesteps: rows values; context: rows·contextSize values. */
  predict(x: Float32Array, timesteps: Float32Array, context: Float32Array, rows: number): Float32Array | Promise<Float32Array>;
}

/** A model that carries its own predictor (see `withNoisePredictor`). */
export type PredictingModel = DiffusionModel & { readonly noisePredictor?: NoisePredictor };

/**
 * The model with its model call replaced by `predictor`, for code that hands a model on to
 * `sampleImages` (evaluation) without knowing where it runs.
 */
export function withNoisePredictor(model: DiffusionModel, predictor: NoisePredictor): PredictingModel {
  return { ...model, noisePredictor: predictor };
}

/** The model's forward pass (eval mode) on a TensorEngine. */
export function enginePredictor(e: TensorEngine, model: DiffusionModel): NoisePredictor {
  const { height, width, channels } = imageShapeOf(model.config);
  const contextSize = contextSizeOf(model.config);
  return {
    predict(x, timesteps, context, rows) {
      const out = e.tidy(() =>
        model.forward(e, e.tensor(x, [rows, height, width, channels]), e.tensor(timesteps, [rows]), e.tensor(context, [rows, contextSize]), { training: false }),
      );
      const values = e.readSync(out).slice();
      out.dispose();
      return values;
    },
  };
}

/**
 * The sampling loop — the only place where a model and a scheduler meet:
 * x_T ~ N(0, I); for t in timesteps: ε̂ = model(x_t, t, c) (guided); x_prev = scheduler.step(ε̂, t, prevT, x_t).
 * The model call goes through `options.predictor`, else the model's own `noisePredictor`, else the
 * model's forward on `engine`.
 */
export async function sampleImages(engine: TensorEngine, model: PredictingModel, options: SampleOptions): Promise<SampleResult> {
  const { height, width, channels } = imageShapeOf(model.config);
  const contextSize = contextSizeOf(model.config);
  const { scheduler, n, guidance, random } = options;
  if (!Number.isInteger(n) || n < 1) throw new DiffusionError('INVALID_ARGUMENT', `n must be a positive integer, got ${n}`);
  if (!Number.isFinite(guidance)) throw new DiffusionError('INVALID_ARGUMENT', `guidance must be a number, got ${guidance}`);
  const predictor = options.predictor ?? model.noisePredictor ?? enginePredictor(engine, model);
  const timesteps = scheduler.timesteps(options.steps);
  const per = height * width * channels;
  const context = buildContext(options.context, n, contextSize);
  const guided = options.context.kind !== 'none' && guidance !== 1;
  let x = random.normalArray(n * per);
  const frames: SampleResult['frames'] = [];
  const maxBatch = Math.max(1, options.maxBatch ?? 64);
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i];
    const prevT = i + 1 < timesteps.length ? timesteps[i + 1] : -1;
    const eps = new Float32Array(n * per);
    for (let start = 0; start < n; start += maxBatch) {
      const b = Math.min(maxBatch, n - start);
      const chunk = await predictNoise(predictor, x.subarray(start * per, (start + b) * per), t, context.subarray(start * contextSize, (start + b) * contextSize), b, guided, guidance);
      eps.set(chunk, start * per);
    }
    const noise = scheduler.needsNoise(t, prevT) ? random.normalArray(n * per) : undefined;
    x = scheduler.step(eps, t, prevT, x, noise).prevSample;
    if (options.frameSteps?.includes(i)) frames.push({ step: i, timestep: t, images: clip(x) });
    if (options.onStep) await options.onStep(i, timesteps.length, t);
  }
  return { images: clip(x), frames, height, width, channels };
}

async function predictNoise(predictor: NoisePredictor, x: Float32Array, t: number, context: Float32Array, b: number, guided: boolean, w: number): Promise<Float32Array> {
  const rows = guided ? 2 * b : b;
  const xs = new Float32Array(rows * (x.length / b));
  xs.set(x);
  if (guided) xs.set(x, x.length);
  const cs = new Float32Array(rows * (context.length / b));
  cs.set(context); // guided: the second half stays zero — the null context
  const all = await predictor.predict(xs, new Float32Array(rows).fill(t), cs, rows);
  if (!guided) return all;
  const half = x.length;
  const result = new Float32Array(half);
  for (let i = 0; i < half; i++) result[i] = all[half + i] + w * (all[i] - all[half + i]);
  return result;
}

function clip(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.max(-1, Math.min(1, x[i]));
  return out;
}

/**
 * The text-conditioned UNet's call for one denoising step of latent diffusion: ε̂ (or v̂) for `rows`
 * latents (NHWC values) at timestep t, each row under its own text embedding (`conditions[row]`
 * indexes the embeddings the caller prepared).
 */
export interface LatentNoisePredictor {
  predict(latents: Float32Array, timestep: number, conditions: Int32Array, rows: number): Float32Array | Promise<Float32Array>;
}

export interface LatentSampleOptions {
  run: SamplingRun;
  /**
   * The unit-variance noise (NHWC, n rows): the initial latents once scaled by run.initNoiseSigma,
   * or (img2img, `startFrom`) the noise added to the encoded image.
   */
  latents: Float32Array;
  n: number;
  /** The text embedding row of each sample and, with guidance, of its negative prompt. */
  conditions: Int32Array;
  unconditions?: Int32Array;
  /** Classifier-free guidance w > 1: ε = ε_u + w·(ε_c − ε_u) (Ho & Salimans 2022); w ≤ 1 runs the conditional model only. */
  guidance: number;
  random: Random;
  /** Largest number of rows (after the guidance doubling) per model call. */
  maxBatch?: number;
  /** Called after every step with the new latents and the scheduler's x̂_0 estimate. */
  onStep?: (index: number, total: number, latents: Float32Array, predictedOriginal: Float32Array) => void | Promise<void>;
  signal?: AbortSignal;
  /** img2img: the run starts from the encoded image's latents noised to its first timestep. */
  startFrom?: { original: Float32Array };
}

/**
 * The latent sampling loop, the text-to-image counterpart of `sampleImages` and, like it, the only
 * place where a model and a scheduler meet:
 *   z = ε·σ_init; for i: ε̂ = unet(scale(z, i), t_i, c) (guided); z = run.step(ε̂, i, z).
 */
export async function sampleLatents(predictor: LatentNoisePredictor, options: LatentSampleOptions): Promise<Float32Array> {
  const { run, n, guidance, random } = options;
  const per = options.latents.length / n;
  if (!Number.isInteger(per) || per < 1) throw new DiffusionError('SHAPE_MISMATCH', `sampleLatents: ${options.latents.length} latent values for ${n} samples`);
  if (!Number.isFinite(guidance)) throw new DiffusionError('INVALID_ARGUMENT', `guidance must be a number, got ${guidance}`);
  const guided = guidance > 1;
  if (guided && !options.unconditions) throw new DiffusionError('INVALID_ARGUMENT', 'sampleLatents: guidance needs the negative-prompt rows');
  let x: Float32Array;
  if (options.startFrom) x = run.addNoiseAtStart(options.startFrom.original, options.latents);
  else {
    x = new Float32Array(options.latents.length);
    for (let i = 0; i < x.length; i++) x[i] = options.latents[i] * run.initNoiseSigma;
  }
  const maxBatch = Math.max(1, options.maxBatch ?? 8);
  const total = run.timesteps.length;
  for (let i = 0; i < total; i++) {
    if (options.signal?.aborted) throw new DiffusionError('CANCELLED', 'sampling cancelled');
    const t = run.timesteps[i];
    const input = run.scaleModelInput(x, i);
    // Rows: the n conditional samples, then (guided) the same latents under the negative prompts.
    const rows = guided ? 2 * n : n;
    const rowCondition = new Int32Array(rows);
    rowCondition.set(options.conditions);
    if (guided) rowCondition.set(options.unconditions as Int32Array, n);
    const out = new Float32Array(rows * per);
    for (let start = 0; start < rows; start += maxBatch) {
      const b = Math.min(maxBatch, rows - start);
      const chunk = new Float32Array(b * per);
      for (let r = 0; r < b; r++) chunk.set(input.subarray(((start + r) % n) * per, ((start + r) % n + 1) * per), r * per);
      out.set(await predictor.predict(chunk, t, rowCondition.subarray(start, start + b), b), start * per);
    }
    let eps = out.subarray(0, n * per);
    if (guided) {
      const guidedEps = new Float32Array(n * per);
      for (let k = 0; k < n * per; k++) guidedEps[k] = out[n * per + k] + guidance * (out[k] - out[n * per + k]);
      eps = guidedEps;
    }
    const noise = run.needsNoise(i) ? random.normalArray(n * per) : undefined;
    const step = run.step(eps, i, x, noise);
    x = step.prevSample;
    if (options.onStep) await options.onStep(i, total, x, step.predOriginalSample);
  }
  return x;
}
