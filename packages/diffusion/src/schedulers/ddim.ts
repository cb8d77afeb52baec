import { DiffusionError } from '../errors.ts';
import { alphaCumprodAt, ddimVariance, type NoiseSchedule } from '../schedule.ts';
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

/** DDIM (Song, Meng & Ermon 2021): non-Markovian steps over any decreasing subset of timesteps. */
export class DdimScheduler implements NoiseScheduler {
  readonly config: SchedulerConfig;
  readonly schedule: NoiseSchedule;

  constructor(config: Partial<SchedulerConfig> = {}) {
    this.config = normaliseSchedulerConfig({ ...config, kind: 'ddim' });
    this.schedule = scheduleOf(this.config);
  }

  timesteps(numInferenceSteps: number): Int32Array {
    return spacedTimesteps(this.config.numTrainTimesteps, numInferenceSteps, this.config.timestepSpacing);
  }

  needsNoise(_t: number, prevT: number): boolean {
    return this.config.eta > 0 && prevT >= 0;
  }

  step(modelOutput: Float32Array, t: number, prevT: number, sample: Float32Array, noise?: Float32Array): StepResult {
    checkStepArgs(this.config.numTrainTimesteps, modelOutput, t, prevT, sample);
    // 1. ᾱ_t and ᾱ_prev (ᾱ_{−1} = 1: the last step lands on x_0).
    const alphaT = alphaCumprodAt(this.schedule, t);
    const alphaPrev = alphaCumprodAt(this.schedule, prevT);
    // 2. "predicted x_0" (eq. 12, first term), clipped.
    const clip = this.config.clipSample ? this.config.clipSampleRange : null;
    const x0 = predictOriginal(modelOutput, sample, alphaT, clip);
    // 3. If x̂_0 was clipped, re-derive ε̂ = (x_t − √ᾱ_t·x̂_0)/√(1−ᾱ_t) so x̂_0 and ε̂ stay consistent
    //    (then η = 1 over every step is exactly the DDPM posterior step).
    const sqrtAlphaT = Math.sqrt(alphaT);
    const sqrtOneMinusAlphaT = Math.sqrt(1 - alphaT);
    // 4. σ_t(η) = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1−ᾱ_t/ᾱ_prev) (eq. 16).
    const sigma = this.config.eta * Math.sqrt(ddimVariance(this.schedule, t, prevT));
    const stochastic = this.needsNoise(t, prevT);
    if (stochastic && (!noise || noise.length !== sample.length)) {
      throw new DiffusionError('INVALID_ARGUMENT', `DDIM step ${t}→${prevT} with eta > 0 needs a noise array of ${sample.length} values`);
    }
    // 5. x_prev = √ᾱ_prev·x̂_0 + √(1−ᾱ_prev−σ²)·ε̂ + σ·z (eq. 12).
    const sqrtAlphaPrev = Math.sqrt(alphaPrev);
    const direction = Math.sqrt(Math.max(1 - alphaPrev - sigma * sigma, 0));
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const eps = clip === null ? modelOutput[i] : (sample[i] - sqrtAlphaT * x0[i]) / sqrtOneMinusAlphaT;
      prev[i] = sqrtAlphaPrev * x0[i] + direction * eps + (stochastic ? sigma * (noise as Float32Array)[i] : 0);
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
