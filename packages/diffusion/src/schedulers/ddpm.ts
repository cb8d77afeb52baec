import { DiffusionError } from '../errors.ts';
import { alphaCumprodAt, type NoiseSchedule } from '../schedule.ts';
import {
  type NoiseScheduler,
  type SchedulerConfig,
  type StepResult,
  checkStepArgs,
  normaliseSchedulerConfig,
  predictOriginal,
  scheduleOf,
  spacedTimesteps,
} from './scheduler.ts';

/**
 * DDPM ancestral sampling (Ho et al. 2020, Algorithm 2), generalised to a prevT that may skip steps
 * (β'_t = 1 − ᾱ_t/ᾱ_prev, as diffusers does). With every step, prevT = t − 1 and β'_t = β_t.
 */
export class DdpmScheduler implements NoiseScheduler {
  readonly config: SchedulerConfig;
  readonly schedule: NoiseSchedule;

  constructor(config: Partial<SchedulerConfig> = {}) {
    this.config = normaliseSchedulerConfig({ ...config, kind: 'ddpm' });
    this.schedule = scheduleOf(this.config);
  }

  timesteps(numInferenceSteps = this.config.numTrainTimesteps): Int32Array {
    return spacedTimesteps(this.config.numTrainTimesteps, numInferenceSteps, this.config.timestepSpacing);
  }

  /** σ_t² of the step t → prevT. */
  variance(t: number, prevT: number): number {
    const alphaT = alphaCumprodAt(this.schedule, t);
    const alphaPrev = alphaCumprodAt(this.schedule, prevT);
    const betaT = 1 - alphaT / alphaPrev;
    if (this.config.varianceType === 'fixed_large') return betaT;
    // β̃_t = (1−ᾱ_prev)/(1−ᾱ_t)·β_t (eq. 7); floored so its log/sqrt never see exact zero at t > 0.
    return Math.max(((1 - alphaPrev) / (1 - alphaT)) * betaT, 1e-20);
  }

  needsNoise(_t: number, prevT: number): boolean {
    return prevT >= 0;
  }

  step(modelOutput: Float32Array, t: number, prevT: number, sample: Float32Array, noise?: Float32Array): StepResult {
    checkStepArgs(this.config.numTrainTimesteps, modelOutput, t, prevT, sample);
    // 1. ᾱ_t, ᾱ_prev and the step's own α'_t, β'_t.
    const alphaT = alphaCumprodAt(this.schedule, t);
    const alphaPrev = alphaCumprodAt(this.schedule, prevT);
    const currentAlpha = alphaT / alphaPrev;
    const currentBeta = 1 - currentAlpha;
    // 2. x̂_0 from ε̂ (eq. 15), clipped to the data range.
    const x0 = predictOriginal(modelOutput, sample, alphaT, this.config.clipSample ? this.config.clipSampleRange : null);
    // 3. Posterior mean μ̃_t(x_t, x̂_0) = √ᾱ_prev·β'_t/(1−ᾱ_t)·x̂_0 + √α'_t·(1−ᾱ_prev)/(1−ᾱ_t)·x_t (eq. 7).
    const coefX0 = (Math.sqrt(alphaPrev) * currentBeta) / (1 - alphaT);
    const coefXt = (Math.sqrt(currentAlpha) * (1 - alphaPrev)) / (1 - alphaT);
    // 4. x_prev = μ̃ + σ_t·z, no noise on the last step (Algorithm 2, line 3: z = 0 if t = 1).
    const stochastic = this.needsNoise(t, prevT);
    if (stochastic && (!noise || noise.length !== sample.length)) {
      throw new DiffusionError('INVALID_ARGUMENT', `DDPM step ${t}→${prevT} needs a noise array of ${sample.length} values`);
    }
    const sigma = stochastic ? Math.sqrt(this.variance(t, prevT)) : 0;
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      prev[i] = coefX0 * x0[i] + coefXt * sample[i] + (stochastic ? sigma * (noise as Float32Array)[i] : 0);
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
