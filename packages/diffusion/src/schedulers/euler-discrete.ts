/**
 * Euler's method on the probability-flow ODE in σ-space (Karras, Aittala, Aila & Laine 2022,
 * "Elucidating the Design Space of Diffusion-Based Generative Models", Algorithm 1 without the 2nd-order
 * correction and with S_churn = 0). Counterpart: diffusers' `EulerDiscreteScheduler` (k-diffusion's
 * `sample_euler`).
 *
 * The sampler works on the variance-exploding x = x_VP/√ᾱ, with σ_t = √((1−ᾱ_t)/ᾱ_t): the model sees
 * x/√(σ²+1) (= x_VP), the denoised estimate is D = x − σ·ε̂ (eq. 6's D_θ for an ε-model), and one step is
 * x_next = x + (σ_next − σ)·(x − D)/σ (the ODE dx/dσ = (x − D)/σ, eq. 3). Latents start at σ_max·z
 * (√(σ_max²+1)·z with 'leading' spacing, as diffusers does). The σ of fractional timesteps (linspace
 * spacing, Karras σ) is interpolated linearly in t from the training table.
 */
import type { StepResult } from './scheduler.ts';
import type { LatentScheduler, SamplingRun } from './sampling-run.ts';
import type { LatentSchedulerConfig } from './latent-config.ts';
import { DiffusionError } from '../errors.ts';
import {
  type TrainingSchedule,
  checkNoiseArgs,
  checkRunStep,
  checkStartIndex,
  checkSteps,
  interpolateTable,
  karrasSigmas,
  sigmaToTimestep,
  spacedLatentTimesteps,
  trainingSchedule,
} from './latent-schedule.ts';

const f32 = Math.fround;

/** The timesteps and σ of an n-step Euler run (σ has n+1 entries, the last 0). */
export function eulerSigmas(config: LatentSchedulerConfig, schedule: TrainingSchedule, n: number): { timesteps: number[]; sigmas: number[] } {
  checkSteps('Euler', config.numTrainTimesteps, n);
  let timesteps = spacedLatentTimesteps(config.numTrainTimesteps, n, config.timestepSpacing, config.stepsOffset, false).map(f32);
  // σ at each timestep, linear in t (np.interp over the float32 table; float64 until stored).
  let sigmas = timesteps.map((t) => interpolateTable(schedule.sigmas, t));
  if (config.useKarrasSigmas && config.kind === 'euler') {
    const sigmaMin = config.sigmaMin ?? sigmas[sigmas.length - 1];
    const sigmaMax = config.sigmaMax ?? sigmas[0];
    sigmas = karrasSigmas(sigmaMin, sigmaMax, n);
    timesteps = sigmas.map((s) => f32(sigmaToTimestep(s, schedule.logSigmas)));
  }
  return { timesteps, sigmas: [...sigmas.map(f32), 0] };
}

/** q(x_t | x_0) in σ-space: x_0 + σ_t·ε at a training timestep. */
export function sigmaAddNoise(what: string, schedule: TrainingSchedule, original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
  checkNoiseArgs(what, original, noise);
  if (!Number.isInteger(timestep) || timestep < 0 || timestep >= schedule.sigmas.length) {
    throw new DiffusionError('INVALID_ARGUMENT', `${what}: addNoise timestep ${timestep} is not an integer in 0..${schedule.sigmas.length - 1}`);
  }
  return addScaledNoise(original, noise, schedule.sigmas[timestep]);
}

export function addScaledNoise(original: Float32Array, noise: Float32Array, sigma: number): Float32Array {
  const out = new Float32Array(original.length);
  for (let i = 0; i < out.length; i++) out[i] = original[i] + sigma * noise[i];
  return out;
}

/**
 * Shared by the Euler samplers: σ-space timesteps, input scaling and the denoised estimate D(x; σ).
 * v-prediction: v = α·ε − σ_VP·x_0 with α = 1/√(σ²+1), σ_VP = σ·α, on the model input x·α, so
 * D = x/(σ²+1) − σ/√(σ²+1)·v.
 */
export abstract class SigmaRun implements SamplingRun {
  readonly timesteps: Float64Array;
  readonly initNoiseSigma: number;
  /** σ of this run's steps, plus the final 0 (length timesteps.length + 1). */
  readonly sigmas: Float64Array;

  protected constructor(
    protected readonly what: string,
    protected readonly config: LatentSchedulerConfig,
    full: { timesteps: number[]; sigmas: number[] },
    startIndex: number | undefined,
  ) {
    const start = checkStartIndex(what, startIndex, full.timesteps.length);
    this.timesteps = Float64Array.from(full.timesteps.slice(start));
    this.sigmas = Float64Array.from(full.sigmas.slice(start));
    const maxSigma = Math.max(...full.sigmas);
    this.initNoiseSigma = config.timestepSpacing === 'leading' ? f32(Math.sqrt(maxSigma * maxSigma + 1)) : maxSigma;
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkRunStep(this.what, stepIndex, this.timesteps.length, sample, sample);
    const sigma = this.sigmas[stepIndex];
    const scale = 1 / Math.sqrt(sigma * sigma + 1);
    return Float32Array.from(sample, (x) => x * scale);
  }

  addNoiseAtStart(original: Float32Array, noise: Float32Array): Float32Array {
    checkNoiseArgs(this.what, original, noise);
    return addScaledNoise(original, noise, this.sigmas[0]);
  }

  abstract needsNoise(stepIndex: number): boolean;
  abstract step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: Float32Array): StepResult;

  /** D(x; σ): the model's estimate of x_0 from its output at σ. */
  protected denoised(modelOutput: Float32Array, sample: Float32Array, sigma: number): Float32Array {
    const out = new Float32Array(sample.length);
    if (this.config.predictionType === 'epsilon') {
      for (let i = 0; i < out.length; i++) out[i] = sample[i] - sigma * modelOutput[i];
    } else if (this.config.predictionType === 'v_prediction') {
      const a = -sigma / Math.sqrt(sigma * sigma + 1);
      const b = 1 / (sigma * sigma + 1);
      for (let i = 0; i < out.length; i++) out[i] = modelOutput[i] * a + sample[i] * b;
    } else {
      out.set(modelOutput);
    }
    return out;
  }
}

/** The σ-space samplers' scheduler side: the training schedule, σ-space noising, one run kind. */
export abstract class SigmaScheduler implements LatentScheduler {
  readonly config: LatentSchedulerConfig;
  readonly schedule: TrainingSchedule;

  constructor(
    config: LatentSchedulerConfig,
    /** For messages: "Euler", "Euler ancestral". */
    private readonly label: string,
  ) {
    this.config = config;
    this.schedule = trainingSchedule(config.numTrainTimesteps, config.betaSchedule, config.betaStart, config.betaEnd);
  }

  protected abstract run(full: { timesteps: number[]; sigmas: number[] }, startIndex: number | undefined): SamplingRun;

  begin(numInferenceSteps: number, options: { startIndex?: number } = {}): SamplingRun {
    return this.run(eulerSigmas(this.config, this.schedule, numInferenceSteps), options.startIndex);
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return sigmaAddNoise(this.label, this.schedule, original, noise, timestep);
  }
}

export class EulerDiscreteScheduler extends SigmaScheduler {
  constructor(config: LatentSchedulerConfig) {
    super(config, 'Euler');
  }

  protected run(full: { timesteps: number[]; sigmas: number[] }, startIndex: number | undefined): SamplingRun {
    return new EulerRun(this.config, full, startIndex);
  }
}

class EulerRun extends SigmaRun {
  constructor(config: LatentSchedulerConfig, full: { timesteps: number[]; sigmas: number[] }, startIndex: number | undefined) {
    super('Euler', config, full, startIndex);
  }

  needsNoise(): boolean {
    return false;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): StepResult {
    checkRunStep(this.what, stepIndex, this.timesteps.length, modelOutput, sample);
    const sigma = this.sigmas[stepIndex];
    const x0 = this.denoised(modelOutput, sample, sigma);
    // x_next = x + (σ_next − σ)·(x − D)/σ.
    const dt = this.sigmas[stepIndex + 1] - sigma;
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < prev.length; i++) prev[i] = sample[i] + ((sample[i] - x0[i]) / sigma) * dt;
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
