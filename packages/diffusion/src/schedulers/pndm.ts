/**
 * PNDM: pseudo numerical methods for diffusion models (Liu, Ren, Lin & Zhao 2022, "Pseudo Numerical
 * Methods for Diffusion Models on Manifolds"). Counterpart: diffusers' `PNDMScheduler`, Stable
 * Diffusion 1.x's default (skip_prk_steps: true, i.e. PLMS from the first step).
 *
 * The transfer φ(x_t, ε, t → t') is the paper's eq. 11 (DDIM's update rewritten):
 *   x_{t'} = √(ᾱ_{t'}/ᾱ_t)·x_t − (ᾱ_{t'} − ᾱ_t)·ε / (ᾱ_t·√(1−ᾱ_{t'}) + √(ᾱ_t(1−ᾱ_t)ᾱ_{t'})).
 * PLMS (eq. 12) feeds it the 4th-order Adams–Bashforth combination of the last four ε
 * (55, −59, 37, −9)/24, with lower orders while the history fills. With skip_prk_steps the first
 * step is taken twice, as diffusers does: once with ε(x_t) (an Euler step to t'), then again from x_t
 * with (ε(x_t) + ε(x_{t'}))/2 — a Heun-like second-order start, which is why a run of n steps has
 * n+1 timesteps (the second one repeated). Without skip_prk_steps, the first three intervals are
 * taken with 4-stage pseudo Runge–Kutta (eq. 13), each stage a half interval apart (12 UNet calls).
 *
 * Two diffusers behaviours kept on purpose, so the numbers match: (1) v-prediction outputs are mixed
 * by the multistep formula first and converted to ε afterwards, at the current timestep; (2) a run that
 * starts late (img2img, `startIndex`) restarts the history, so its second step repeats the first
 * interval and each later step sees a sample one interval noisier than its timestep says.
 */
import { DiffusionError } from '../errors.ts';
import type { StepResult } from './scheduler.ts';
import type { LatentScheduler, SamplingRun } from './sampling-run.ts';
import type { LatentSchedulerConfig } from './latent-config.ts';
import {
  type TrainingSchedule,
  checkInOrder,
  checkNoiseArgs,
  checkRunStep,
  checkStartIndex,
  checkSteps,
  spacedLatentTimesteps,
  trainingSchedule,
} from './latent-schedule.ts';

export class PndmScheduler implements LatentScheduler {
  readonly config: LatentSchedulerConfig;
  readonly schedule: TrainingSchedule;
  /** ᾱ "before" the last step: 1 with setAlphaToOne, else ᾱ_0 (SD-1.x). */
  readonly finalAlphaCumprod: number;

  constructor(config: LatentSchedulerConfig) {
    this.config = config;
    this.schedule = trainingSchedule(config.numTrainTimesteps, config.betaSchedule, config.betaStart, config.betaEnd);
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.schedule.alphasCumprod[0];
  }

  /** The run's timesteps: PRK's (if any) then PLMS's, as diffusers' `set_timesteps`. */
  fullTimesteps(numInferenceSteps: number): { prk: number[]; plms: number[] } {
    const c = this.config;
    checkSteps('PNDM', c.numTrainTimesteps, numInferenceSteps);
    const ascending = spacedLatentTimesteps(c.numTrainTimesteps, numInferenceSteps, c.timestepSpacing, c.stepsOffset, true).reverse();
    if (c.skipPrkSteps) {
      // [t_0 … t_{n−2}, t_{n−2}, t_{n−1}] reversed: the largest but one appears twice.
      const plms = [...ascending.slice(0, -1), ...ascending.slice(-2, -1), ...ascending.slice(-1)].reverse();
      return { prk: [], plms };
    }
    if (numInferenceSteps < 4) throw new DiffusionError('INVALID_ARGUMENT', `PNDM with Runge–Kutta warm-up needs at least 4 steps, got ${numInferenceSteps}`);
    // The last 4 (largest) timesteps, each with its half-interval point: t, t + δ/2 (δ = ⌊T/n⌋).
    const half = Math.floor(Math.floor(c.numTrainTimesteps / numInferenceSteps) / 2);
    const pairs = ascending.slice(-4).flatMap((t) => [t, t + half]);
    // diffusers: prk[:-1].repeat(2)[1:-1][::-1] — each interval's 4 stages t, t−δ/2, t−δ/2, t−δ.
    const repeated = pairs.slice(0, -1).flatMap((t) => [t, t]).slice(1, -1);
    return { prk: repeated.reverse(), plms: ascending.slice(0, -3).reverse() };
  }

  begin(numInferenceSteps: number, options: { startIndex?: number } = {}): SamplingRun {
    const { prk, plms } = this.fullTimesteps(numInferenceSteps);
    const all = [...prk, ...plms];
    const start = checkStartIndex('PNDM', options.startIndex, all.length);
    if (start > 0 && prk.length > 0) {
      throw new DiffusionError('INVALID_ARGUMENT', 'PNDM: a run that skips its first steps (img2img) needs skip_prk_steps');
    }
    return new PndmRun(this, numInferenceSteps, prk, Float64Array.from(all.slice(start)));
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return vpAddNoise('PNDM', this.schedule, original, noise, timestep);
  }

  /** The transfer φ of eq. 11 from t to prevT with ε̂ (v-prediction converted to ε first). */
  previousSample(sample: Float32Array, t: number, prevT: number, modelOutput: Float32Array): { prev: Float32Array; x0: Float32Array } {
    const alphaT = this.schedule.alphasCumprod[t];
    const alphaPrev = prevT >= 0 ? this.schedule.alphasCumprod[prevT] : this.finalAlphaCumprod;
    const betaT = 1 - alphaT;
    const sampleCoeff = Math.sqrt(alphaPrev / alphaT);
    const denominator = alphaT * Math.sqrt(1 - alphaPrev) + Math.sqrt(alphaT * betaT * alphaPrev);
    const outputCoeff = (alphaPrev - alphaT) / denominator;
    const v = this.config.predictionType === 'v_prediction';
    const prev = new Float32Array(sample.length);
    const x0 = new Float32Array(sample.length);
    const sqrtAlpha = Math.sqrt(alphaT);
    const sqrtBeta = Math.sqrt(betaT);
    for (let i = 0; i < sample.length; i++) {
      // v = √ᾱ·ε − √(1−ᾱ)·x_0 ⇒ ε = √ᾱ·v + √(1−ᾱ)·x_t.
      const eps = v ? sqrtAlpha * modelOutput[i] + sqrtBeta * sample[i] : modelOutput[i];
      prev[i] = sampleCoeff * sample[i] - outputCoeff * eps;
      x0[i] = (sample[i] - sqrtBeta * eps) / sqrtAlpha;
    }
    return { prev, x0 };
  }
}

class PndmRun implements SamplingRun {
  readonly timesteps: Float64Array;
  readonly initNoiseSigma = 1;
  private readonly interval: number;
  private counter = 0;
  private ets: Float32Array[] = [];
  private currentSample: Float32Array | null = null;
  private currentOutput: Float64Array | null = null;

  constructor(
    private readonly scheduler: PndmScheduler,
    numInferenceSteps: number,
    private readonly prk: number[],
    timesteps: Float64Array,
  ) {
    this.timesteps = timesteps;
    this.interval = Math.floor(scheduler.config.numTrainTimesteps / numInferenceSteps);
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkRunStep('PNDM', stepIndex, this.timesteps.length, sample, sample);
    return sample;
  }

  needsNoise(): boolean {
    return false;
  }

  addNoiseAtStart(original: Float32Array, noise: Float32Array): Float32Array {
    return this.scheduler.addNoise(original, noise, this.timesteps[0]);
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): StepResult {
    checkRunStep('PNDM', stepIndex, this.timesteps.length, modelOutput, sample);
    checkInOrder('PNDM', stepIndex, this.counter);
    const t = this.timesteps[stepIndex];
    const out = this.counter < this.prk.length ? this.stepRungeKutta(modelOutput, t, sample) : this.stepLinearMultistep(modelOutput, t, sample);
    this.counter++;
    return { prevSample: out.prev, predOriginalSample: out.x0 };
  }

  /** Pseudo Runge–Kutta (eq. 13): ε' = (e1 + 2·e2 + 2·e3 + e4)/6, stages a half interval apart. */
  private stepRungeKutta(modelOutput: Float32Array, timestep: number, sample: Float32Array): { prev: Float32Array; x0: Float32Array } {
    const stage = this.counter % 4;
    const prevT = timestep - (this.counter % 2 === 1 ? 0 : Math.floor(this.interval / 2));
    const t = this.prk[this.counter - stage];
    let eps: Float32Array = modelOutput;
    if (stage === 0) {
      this.currentOutput = Float64Array.from(modelOutput, (e) => e / 6);
      this.ets.push(modelOutput);
      this.currentSample = sample;
    } else if (stage === 1 || stage === 2) {
      const acc = this.currentOutput as Float64Array;
      for (let i = 0; i < acc.length; i++) acc[i] += modelOutput[i] / 3;
    } else {
      const acc = this.currentOutput as Float64Array;
      eps = Float32Array.from(acc, (a, i) => a + modelOutput[i] / 6);
      this.currentOutput = null;
    }
    return this.scheduler.previousSample(this.currentSample ?? sample, t, prevT, eps);
  }

  /** Pseudo linear multistep (eq. 12), with the doubled first step described at the top. */
  private stepLinearMultistep(modelOutput: Float32Array, timestep: number, sample: Float32Array): { prev: Float32Array; x0: Float32Array } {
    let t = timestep;
    let prevT = t - this.interval;
    if (this.counter !== 1) {
      this.ets = this.ets.slice(-3);
      this.ets.push(modelOutput);
    } else {
      // The repeated timestep: redo the first interval from its start.
      prevT = t;
      t = t + this.interval;
    }
    const e = this.ets;
    const n = e.length;
    let eps: Float32Array;
    let from = sample;
    if (n === 1 && this.counter === 0) {
      eps = modelOutput;
      this.currentSample = sample;
    } else if (n === 1 && this.counter === 1) {
      eps = combine([modelOutput, e[0]], [0.5, 0.5]);
      from = this.currentSample as Float32Array;
      this.currentSample = null;
    } else if (n === 2) {
      eps = combine([e[1], e[0]], [3 / 2, -1 / 2]);
    } else if (n === 3) {
      eps = combine([e[2], e[1], e[0]], [23 / 12, -16 / 12, 5 / 12]);
    } else {
      eps = combine([e[3], e[2], e[1], e[0]], [55 / 24, -59 / 24, 37 / 24, -9 / 24]);
    }
    return this.scheduler.previousSample(from, t, prevT, eps);
  }
}

/** Σ_k w_k·a_k elementwise. */
function combine(arrays: Float32Array[], weights: number[]): Float32Array {
  const out = new Float32Array(arrays[0].length);
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (let k = 0; k < arrays.length; k++) s += weights[k] * arrays[k][i];
    out[i] = s;
  }
  return out;
}

/** q(x_t | x_0) = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε (DDPM eq. 4), for the variance-preserving samplers. */
export function vpAddNoise(what: string, schedule: TrainingSchedule, original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
  checkNoiseArgs(what, original, noise);
  if (!Number.isInteger(timestep) || timestep < 0 || timestep >= schedule.alphasCumprod.length) {
    throw new DiffusionError('INVALID_ARGUMENT', `${what}: addNoise timestep ${timestep} is not an integer in 0..${schedule.alphasCumprod.length - 1}`);
  }
  const a = schedule.alphasCumprod[timestep];
  const out = new Float32Array(original.length);
  const sa = Math.sqrt(a);
  const sb = Math.sqrt(1 - a);
  for (let i = 0; i < out.length; i++) out[i] = sa * original[i] + sb * noise[i];
  return out;
}
