/**
 * DPM-Solver++(2M): the multistep second-order solver of Lu, Zhou, Bao, Chen, Li & Zhu 2022,
 * "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic Models", Algorithm 2
 * (data prediction, ODE). Counterpart: diffusers' `DPMSolverMultistepScheduler` with
 * algorithm_type "dpmsolver++", solver_order 2 (the "DPM++ 2M" of the SD web UIs; "DPM++ 2M Karras"
 * with use_karras_sigmas).
 *
 * With α_t = 1/√(σ²+1), σ_t = σ·α_t (VP quantities from the VE σ), λ = ln(α_t/σ_t), h = λ_t − λ_s and
 * the model's x_0-estimate D (converted from ε / v / x_0 predictions):
 *   first order (DDIM):  x_t = (σ_t/σ_s)·x_s − α_t·(e^{−h} − 1)·D_s                      (eq. 5 / Alg. 2)
 *   second order:        D1 = (D_s − D_{s−1})/r, r = h_{s−1}/h, and
 *     midpoint:  x_t = (σ_t/σ_s)·x_s − α_t(e^{−h}−1)·D_s − ½·α_t(e^{−h}−1)·D1           (Alg. 2, line 7)
 *     heun:      x_t = (σ_t/σ_s)·x_s − α_t(e^{−h}−1)·D_s + α_t((e^{−h}−1)/h + 1)·D1
 * The first step is first order (no history), and so are the last (always when it lands on σ = 0,
 * where the second-order term is undefined, or below 15 steps with lower_order_final, or with
 * euler_at_final): diffusers' rules as of v0.27.
 */
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
  karrasSigmas,
  numpyArange,
  numpyLinspace,
  roundHalfEven,
  sigmaToTimestep,
  trainingSchedule,
} from './latent-schedule.ts';
import { vpAddNoise } from './pndm.ts';

const f32 = Math.fround;

export class DpmSolverMultistepScheduler implements LatentScheduler {
  readonly config: LatentSchedulerConfig;
  readonly schedule: TrainingSchedule;

  constructor(config: LatentSchedulerConfig) {
    this.config = config;
    this.schedule = trainingSchedule(config.numTrainTimesteps, config.betaSchedule, config.betaStart, config.betaEnd);
  }

  /** The n timesteps (integers) and n+1 σ of a run (diffusers' `set_timesteps`). */
  fullSchedule(n: number): { timesteps: number[]; sigmas: number[] } {
    const c = this.config;
    const T = c.numTrainTimesteps;
    checkSteps('DPM-Solver++', T, n);
    let timesteps: number[];
    if (c.timestepSpacing === 'linspace') {
      // n+1 points from 0 to T−1, the last (0) dropped.
      timesteps = numpyLinspace(0, T - 1, n + 1).map(roundHalfEven).reverse().slice(0, -1);
    } else if (c.timestepSpacing === 'leading') {
      const ratio = Math.floor(T / (n + 1));
      timesteps = [];
      for (let i = n; i >= 1; i--) timesteps.push(i * ratio + c.stepsOffset);
    } else {
      timesteps = numpyArange(T, 0, -T / n).map((t) => roundHalfEven(t) - 1);
    }
    const table = this.schedule.sigmas;
    let sigmas: number[];
    if (c.useKarrasSigmas) {
      sigmas = karrasSigmas(table[0], table[T - 1], n);
      timesteps = sigmas.map((s) => roundHalfEven(sigmaToTimestep(s, this.schedule.logSigmas)));
    } else {
      sigmas = timesteps.map((t) => table[t]);
    }
    const sigmaLast = c.finalSigmasType === 'sigma_min' ? table[0] : 0;
    return { timesteps, sigmas: [...sigmas, sigmaLast].map(f32) };
  }

  begin(numInferenceSteps: number, options: { startIndex?: number } = {}): SamplingRun {
    const full = this.fullSchedule(numInferenceSteps);
    const start = checkStartIndex('DPM-Solver++', options.startIndex, full.timesteps.length);
    return new DpmSolverRun(this.config, full, start);
  }

  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    return vpAddNoise('DPM-Solver++', this.schedule, original, noise, timestep);
  }
}

/** α_t, σ_t (VP) and λ_t of a VE σ. */
function vp(sigma: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const sigmaVp = sigma * alpha;
  return { alpha, sigma: sigmaVp, lambda: Math.log(alpha) - Math.log(sigmaVp) };
}

class DpmSolverRun implements SamplingRun {
  readonly timesteps: Float64Array;
  readonly initNoiseSigma = 1;
  private readonly sigmas: Float64Array;
  private readonly numSteps: number;
  /** x_0-estimates of the previous and the current step (diffusers' model_outputs). */
  private previousOutput: Float32Array | null = null;
  private lowerOrderNums = 0;
  private next = 0;

  constructor(
    private readonly config: LatentSchedulerConfig,
    full: { timesteps: number[]; sigmas: number[] },
    private readonly start: number,
  ) {
    this.timesteps = Float64Array.from(full.timesteps.slice(start));
    this.sigmas = Float64Array.from(full.sigmas);
    this.numSteps = full.timesteps.length;
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkRunStep('DPM-Solver++', stepIndex, this.timesteps.length, sample, sample);
    return sample;
  }

  needsNoise(): boolean {
    return false;
  }

  addNoiseAtStart(original: Float32Array, noise: Float32Array): Float32Array {
    checkNoiseArgs('DPM-Solver++', original, noise);
    const { alpha, sigma } = vp(this.sigmas[this.start]);
    const out = new Float32Array(original.length);
    for (let i = 0; i < out.length; i++) out[i] = alpha * original[i] + sigma * noise[i];
    return out;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): StepResult {
    checkRunStep('DPM-Solver++', stepIndex, this.timesteps.length, modelOutput, sample);
    checkInOrder('DPM-Solver++', stepIndex, this.next);
    const c = this.config;
    const index = this.start + stepIndex; // diffusers' step_index, over the full run
    const n = this.numSteps;
    const lowerOrderFinal = index === n - 1 && (c.eulerAtFinal || (c.lowerOrderFinal && n < 15) || c.finalSigmasType === 'zero');
    const s0 = vp(this.sigmas[index]);
    const t = vp(this.sigmas[index + 1]);
    const x0 = this.dataPrediction(modelOutput, sample, s0);
    const h = t.lambda - s0.lambda;
    const expm = Math.exp(-h) - 1; // e^{−h} − 1
    const sampleCoeff = t.sigma / s0.sigma;
    const prev = new Float32Array(sample.length);
    const firstOrder = c.solverOrder === 1 || this.lowerOrderNums < 1 || lowerOrderFinal;
    if (firstOrder) {
      const d0 = -t.alpha * expm;
      for (let i = 0; i < prev.length; i++) prev[i] = sampleCoeff * sample[i] + d0 * x0[i];
    } else {
      // (diffusers' lower_order_second only matters for third order, which is not implemented.)
      const s1 = vp(this.sigmas[index - 1]);
      const r0 = (s0.lambda - s1.lambda) / h;
      const m1 = this.previousOutput as Float32Array;
      const d0 = -t.alpha * expm;
      const d1 = c.solverType === 'midpoint' ? -0.5 * t.alpha * expm : t.alpha * (expm / h + 1);
      for (let i = 0; i < prev.length; i++) {
        const D1 = (x0[i] - m1[i]) / r0;
        prev[i] = sampleCoeff * sample[i] + d0 * x0[i] + d1 * D1;
      }
    }
    this.previousOutput = x0;
    if (this.lowerOrderNums < c.solverOrder) this.lowerOrderNums++;
    this.next++;
    return { prevSample: prev, predOriginalSample: x0 };
  }

  /** D: x_0 from ε (x − σ_t·ε)/α_t, from v (α_t·x − σ_t·v), or x_0 itself. */
  private dataPrediction(modelOutput: Float32Array, sample: Float32Array, s: { alpha: number; sigma: number }): Float32Array {
    const out = new Float32Array(sample.length);
    const type = this.config.predictionType;
    for (let i = 0; i < out.length; i++) {
      out[i] = type === 'epsilon' ? (sample[i] - s.sigma * modelOutput[i]) / s.alpha : type === 'v_prediction' ? s.alpha * sample[i] - s.sigma * modelOutput[i] : modelOutput[i];
    }
    return out;
  }
}
