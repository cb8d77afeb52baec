/**
 * The latent-diffusion scheduler contract: an extension of `NoiseScheduler` (scheduler.ts) for
 * samplers that keep history between steps (PNDM's PLMS, DPM-Solver++ 2M) or work in σ-space with a
 * scaled model input (Euler). diffusers keeps that state on the scheduler object (`set_timesteps`
 * resets it, `step` mutates it); here the scheduler stays pure plain data and each sampling run gets
 * its own `SamplingRun` object holding the history, so two runs never share state. The sampling loop
 * (the pipeline) stays the only place where model and scheduler meet:
 *
 *   const run = scheduler.begin(steps);
 *   let x = noise · run.initNoiseSigma;
 *   for (i = 0 … run.timesteps.length−1)
 *     out = unet(run.scaleModelInput(x, i), run.timesteps[i], text);
 *     x = run.step(out, i, x, run.needsNoise(i) ? z : undefined).prevSample;
 *
 * Counterpart: diffusers' `SchedulerMixin` / `KarrasDiffusionSchedulers` family.
 */
import type { StepResult } from './scheduler.ts';
import { DdimLatentScheduler } from './ddim-latent.ts';
import { DpmSolverMultistepScheduler } from './dpm-solver-multistep.ts';
import { EulerAncestralScheduler } from './euler-ancestral.ts';
import { EulerDiscreteScheduler } from './euler-discrete.ts';
import { type LatentSchedulerConfig, type LatentSchedulerKind, latentConfigFromDiffusers, normaliseLatentSchedulerConfig } from './latent-config.ts';
import { PndmScheduler } from './pndm.ts';

export interface LatentScheduler {
  /** Plain data (camelCase), JSON-serialisable; `createLatentScheduler(config)` rebuilds it. */
  readonly config: LatentSchedulerConfig;
  /** Pure: a fresh run of n inference steps; startIndex > 0 skips the first steps (img2img strength). */
  begin(numInferenceSteps: number, options?: { startIndex?: number }): SamplingRun;
  /**
   * q(x_t | x_0) at a training timestep t, in the scheduler's own sample space (diffusers'
   * `add_noise`): √ᾱ_t·x_0 + √(1−ᾱ_t)·ε for PNDM, DDIM and DPM-Solver++; x_0 + σ_t·ε for the
   * Euler samplers, whose samples are the variance-exploding x/√ᾱ (divide by √(σ_t²+1) for the VP one).
   */
  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array;
}

/** One sampling run: its timesteps and the multistep history. Steps must be taken in order. */
export interface SamplingRun {
  /** The values given to the UNet, in order (PNDM with skip_prk_steps: n+1 entries; Euler: fractional). */
  readonly timesteps: Float64Array;
  /** latents = noise · initNoiseSigma (1 for VP samplers; Euler: σ_max, or √(σ_max²+1) with 'leading'). */
  readonly initNoiseSigma: number;
  /** The UNet's input at this step: identity, except x/√(σ²+1) for the Euler samplers. */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array;
  /** One step with the model output at timesteps[stepIndex]; `noise` (z ~ N(0, I)) when needsNoise. */
  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: Float32Array): StepResult;
  /** True when `step` at this index draws noise (Euler ancestral; DDIM with η > 0). */
  needsNoise(stepIndex: number): boolean;
  /** img2img: noise the encoded image to this run's first timestep (diffusers' add_noise at timesteps[:1]). */
  addNoiseAtStart(original: Float32Array, noise: Float32Array): Float32Array;
}

/** Rebuild a latent scheduler from its plain-data config (unknown keys or values throw INVALID_CONFIG). */
export function createLatentScheduler(config: Partial<LatentSchedulerConfig>): LatentScheduler {
  const c = normaliseLatentSchedulerConfig(config);
  switch (c.kind) {
    case 'pndm':
      return new PndmScheduler(c);
    case 'ddim':
      return new DdimLatentScheduler(c);
    case 'euler':
      return new EulerDiscreteScheduler(c);
    case 'euler-a':
      return new EulerAncestralScheduler(c);
    case 'dpm++2m':
      return new DpmSolverMultistepScheduler(c);
  }
}

/**
 * A scheduler from diffusers' scheduler/scheduler_config.json. With `kind`, the noise schedule comes
 * from the file and the algorithm from `kind`, as `XScheduler.from_config(pipe.scheduler.config)`.
 */
export function latentSchedulerFromDiffusers(json: Record<string, unknown>, kind?: LatentSchedulerKind): LatentScheduler {
  return createLatentScheduler(latentConfigFromDiffusers(json, kind));
}
