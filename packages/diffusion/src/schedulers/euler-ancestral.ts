/**
 * Euler ancestral sampling (k-diffusion's `sample_euler_ancestral`; Karras et al. 2022's σ-space ODE
 * with the DDPM-style ancestral split of each step). Counterpart: diffusers'
 * `EulerAncestralDiscreteScheduler`.
 *
 * A step from σ to σ_next splits σ_next² into a deterministic part σ_down² and fresh noise σ_up²:
 *   σ_up = √(σ_next²·(σ² − σ_next²)/σ²),  σ_down = √(σ_next² − σ_up²),
 *   x_next = x + (σ_down − σ)·(x − D)/σ + σ_up·z.
 * So every step but the last draws noise (the last has σ_next = 0, hence σ_up = 0).
 * Timesteps, σ, input scaling and D are the Euler sampler's (euler-discrete.ts); no Karras σ here,
 * as in diffusers.
 */
import { DiffusionError } from '../errors.ts';
import type { StepResult } from './scheduler.ts';
import type { SamplingRun } from './sampling-run.ts';
import type { LatentSchedulerConfig } from './latent-config.ts';
import { checkRunStep } from './latent-schedule.ts';
import { SigmaRun, SigmaScheduler } from './euler-discrete.ts';

export class EulerAncestralScheduler extends SigmaScheduler {
  constructor(config: LatentSchedulerConfig) {
    super(config, 'Euler ancestral');
  }

  protected run(full: { timesteps: number[]; sigmas: number[] }, startIndex: number | undefined): SamplingRun {
    return new EulerAncestralRun(this.config, full, startIndex);
  }
}

class EulerAncestralRun extends SigmaRun {
  constructor(config: LatentSchedulerConfig, full: { timesteps: number[]; sigmas: number[] }, startIndex: number | undefined) {
    super('Euler ancestral', config, full, startIndex);
  }

  needsNoise(stepIndex: number): boolean {
    return this.sigmas[stepIndex + 1] > 0;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: Float32Array): StepResult {
    checkRunStep(this.what, stepIndex, this.timesteps.length, modelOutput, sample);
    const sigma = this.sigmas[stepIndex];
    const sigmaNext = this.sigmas[stepIndex + 1];
    const sigmaUp = Math.sqrt((sigmaNext * sigmaNext * (sigma * sigma - sigmaNext * sigmaNext)) / (sigma * sigma));
    const sigmaDown = Math.sqrt(sigmaNext * sigmaNext - sigmaUp * sigmaUp);
    const stochastic = this.needsNoise(stepIndex);
    if (stochastic && (!noise || noise.length !== sample.length)) {
      throw new DiffusionError('INVALID_ARGUMENT', `Euler ancestral step ${stepIndex} needs a noise array of ${sample.length} values`);
    }
    const x0 = this.denoised(modelOutput, sample, sigma);
    const dt = sigmaDown - sigma;
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < prev.length; i++) {
      prev[i] = sample[i] + ((sample[i] - x0[i]) / sigma) * dt + (stochastic ? sigmaUp * (noise as Float32Array)[i] : 0);
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
