/**
 * DDIM for latent diffusion (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models", eq. 12
 * with σ_t(η) of eq. 16). Counterpart: diffusers' `DDIMScheduler`, configured from a checkpoint's
 * scheduler_config.json. It is the update of ddim.ts's `DdimScheduler` (the pixel-space sampler of
 * the MNIST models), restated in one loop because diffusers' version differs in every input: ε / v /
 * x_0 prediction, the float32 training schedule, steps_offset, set_alpha_to_one, clipping that leaves
 * ε̂ alone, and diffusers' previous timestep t − ⌊T/n⌋ whatever the spacing (so 'trailing' and
 * 'linspace' runs step by ⌊T/n⌋, as diffusers does).
 */
import { DiffusionError } from '../errors.ts';
import type { StepResult } from './scheduler.ts';
import type { LatentScheduler, SamplingRun } from './sampling-run.ts';
import type { LatentSchedulerConfig } from './latent-config.ts';
import { type TrainingSchedule, checkRunStep, checkStartIndex, checkSteps, spacedLatentTimesteps, trainingSchedule } from './latent-schedule.ts';
import { vpAddNoise } from './pndm.ts';

export class DdimLatentScheduler implements LatentScheduler {
  readonly config: LatentSchedulerConfig;
  readonly schedule: TrainingSchedule;
  readonly finalAlphaCumprod: number;

  constructor(config: LatentSchedulerConfig) {
    this.config = config;
    this.schedule = trainingSchedule(config.numTrainTimesteps, config.betaSchedule, config.betaStart, config.betaEnd);
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.schedule.alphasCumprod[0];
  }

  begin(numInferenceSteps: number, options: { startIndex?: number } = {}): SamplingRun {
    const c = this.config;
    checkSteps('DDIM', c.numTrainTimesteps, numInferenceSteps);
    const all = spacedLatentTimesteps(c.numTrainTimesteps, numInferenceSteps, c.timestepSpacing, c.stepsOffset, true);
    const start = checkStartIndex('DDIM', options.startIndex, all.length);
    return new DdimRun(this, Float64Array.from(all.slice(start)), Math.floor(c.numTrainTimesteps / numInferenceSteps));
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return vpAddNoise('DDIM', this.schedule, original, noise, timestep);
  }
}

class DdimRun implements SamplingRun {
  readonly initNoiseSigma = 1;

  constructor(
    private readonly scheduler: DdimLatentScheduler,
    readonly timesteps: Float64Array,
    private readonly interval: number,
  ) {}

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkRunStep('DDIM', stepIndex, this.timesteps.length, sample, sample);
    return sample;
  }

  needsNoise(): boolean {
    return this.scheduler.config.eta > 0;
  }

  addNoiseAtStart(original: Float32Array, noise: Float32Array): Float32Array {
    return this.scheduler.addNoise(original, noise, this.timesteps[0]);
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: Float32Array): StepResult {
    checkRunStep('DDIM', stepIndex, this.timesteps.length, modelOutput, sample);
    const { config, schedule, finalAlphaCumprod } = this.scheduler;
    const t = this.timesteps[stepIndex];
    const prevT = t - this.interval;
    // 1. ᾱ_t and ᾱ_prev (past the last step: 1 or ᾱ_0, per set_alpha_to_one).
    const alphaT = schedule.alphasCumprod[t];
    const alphaPrev = prevT >= 0 ? schedule.alphasCumprod[prevT] : finalAlphaCumprod;
    const betaT = 1 - alphaT;
    const sqrtAlpha = Math.sqrt(alphaT);
    const sqrtBeta = Math.sqrt(betaT);
    // 2. σ_t(η) = η·√((1−ᾱ_prev)/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ_prev)) (eq. 16).
    const sigma = config.eta * Math.sqrt(((1 - alphaPrev) / betaT) * (1 - alphaT / alphaPrev));
    const stochastic = config.eta > 0;
    if (stochastic && (!noise || noise.length !== sample.length)) {
      throw new DiffusionError('INVALID_ARGUMENT', `DDIM step ${stepIndex} with eta > 0 needs a noise array of ${sample.length} values`);
    }
    const clip = config.clipSample ? config.clipSampleRange : Infinity;
    const direction = Math.sqrt(1 - alphaPrev - sigma * sigma);
    const sqrtAlphaPrev = Math.sqrt(alphaPrev);
    const prev = new Float32Array(sample.length);
    const x0 = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const m = modelOutput[i];
      const x = sample[i];
      // 3. x̂_0 and ε̂ from what the model predicts (v = √ᾱ·ε − √(1−ᾱ)·x_0).
      let predX0: number;
      let predEps: number;
      if (config.predictionType === 'epsilon') {
        predX0 = (x - sqrtBeta * m) / sqrtAlpha;
        predEps = m;
      } else if (config.predictionType === 'sample') {
        predX0 = m;
        predEps = (x - sqrtAlpha * m) / sqrtBeta;
      } else {
        predX0 = sqrtAlpha * x - sqrtBeta * m;
        predEps = sqrtAlpha * m + sqrtBeta * x;
      }
      // 4. Clipping touches x̂_0 only (diffusers' default use_clipped_model_output = False).
      predX0 = Math.min(clip, Math.max(-clip, predX0));
      // 5. x_prev = √ᾱ_prev·x̂_0 + √(1−ᾱ_prev−σ²)·ε̂ + σ·z (eq. 12).
      prev[i] = sqrtAlphaPrev * predX0 + direction * predEps + (stochastic ? sigma * (noise as Float32Array)[i] : 0);
      x0[i] = predX0;
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
