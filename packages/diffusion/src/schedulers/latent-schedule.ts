/**
 * The numerics every latent-diffusion scheduler shares, as diffusers computes them (its
 * `SchedulerMixin` subclasses repeat these lines in each scheduler file): the training noise schedule
 * β_t → ᾱ_t in float32, the σ_t = √((1−ᾱ_t)/ᾱ_t) table, the three timestep spacings, the Karras
 * σ ramp and the σ → t inversion. Values are held in Float64Array but rounded to float32 wherever
 * diffusers stores a float32 tensor, so the tables equal diffusers' bit for bit (or within an ulp).
 */
import { DiffusionError } from '../errors.ts';

const f32 = Math.fround;

export const LATENT_BETA_SCHEDULES = ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const;
export type LatentBetaSchedule = (typeof LATENT_BETA_SCHEDULES)[number];

export interface TrainingSchedule {
  /** β_t, float32 values (torch.linspace in float32; `scaled_linear`: linspace of √β, squared). */
  readonly betas: Float64Array;
  /** ᾱ_t = ∏ (1 − β_s) (DDPM eq. 4); torch's CPU cumprod accumulates in double, stores float32. */
  readonly alphasCumprod: Float64Array;
  /** σ_t = √((1−ᾱ_t)/ᾱ_t), the variance-exploding noise level of Karras et al. 2022 (float32). */
  readonly sigmas: Float64Array;
  /** ln σ_t, as float32 (diffusers: `np.log` of the float32 σ array). */
  readonly logSigmas: Float64Array;
}

/**
 * β schedules of diffusers' schedulers. `squaredcos_cap_v2` is Nichol & Dhariwal 2021, eq. 17
 * (ᾱ(t) = cos²(((t/T + 0.008)/1.008)·π/2), β_t = min(1 − ᾱ(t+1)/ᾱ(t), 0.999)), computed in float64
 * and stored float32 as diffusers' `betas_for_alpha_bar` does.
 */
export function trainingSchedule(numTrainTimesteps: number, betaSchedule: LatentBetaSchedule, betaStart: number, betaEnd: number): TrainingSchedule {
  const n = numTrainTimesteps;
  const betas = new Float64Array(n);
  if (betaSchedule === 'linear') {
    for (let i = 0; i < n; i++) betas[i] = f32(linspaceAt(betaStart, betaEnd, n, i));
  } else if (betaSchedule === 'scaled_linear') {
    // Latent diffusion (LDM's "linear" schedule): √β is linear in t, then squared (both float32).
    const a = f32(Math.sqrt(betaStart));
    const b = f32(Math.sqrt(betaEnd));
    for (let i = 0; i < n; i++) {
      const root = f32(linspaceAt(a, b, n, i));
      betas[i] = f32(root * root);
    }
  } else {
    const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    for (let i = 0; i < n; i++) betas[i] = f32(Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999));
  }
  const alphasCumprod = new Float64Array(n);
  const sigmas = new Float64Array(n);
  const logSigmas = new Float64Array(n);
  let product = 1;
  for (let i = 0; i < n; i++) {
    product *= f32(1 - betas[i]);
    alphasCumprod[i] = f32(product);
    sigmas[i] = f32(Math.sqrt(f32(f32(1 - alphasCumprod[i]) / alphasCumprod[i])));
    logSigmas[i] = f32(Math.log(sigmas[i]));
  }
  return { betas, alphasCumprod, sigmas, logSigmas };
}

/** torch.linspace's i-th value: from the start for the first half, from the end for the second. */
function linspaceAt(start: number, end: number, steps: number, i: number): number {
  const step = f32((f32(end) - f32(start)) / (steps - 1));
  return i < steps >> 1 ? f32(start) + step * i : f32(end) - step * (steps - i - 1);
}

/** NumPy's `round`: halves go to the even neighbour (so 812.5 → 812, not 813). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `np.arange(start, stop, step)` in float64: length ⌈(stop−start)/step⌉, values start + i·δ. */
export function numpyArange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const delta = start + step - start;
  const out: number[] = [];
  for (let i = 0; i < length; i++) out.push(start + i * delta);
  return out;
}

/** `np.linspace(start, stop, num)` in float64 (endpoint included, last value exactly `stop`). */
export function numpyLinspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out: number[] = [];
  for (let i = 0; i < num; i++) out.push(i * step + start);
  out[num - 1] = stop;
  return out;
}

/** `np.interp(x, arange(len), table)` at one x (table indexed by integer position). */
export function interpolateTable(table: Float64Array, x: number): number {
  if (x <= 0) return table[0];
  if (x >= table.length - 1) return table[table.length - 1];
  const low = Math.floor(x);
  const w = x - low;
  return w === 0 ? table[low] : table[low] + (table[low + 1] - table[low]) * w;
}

/**
 * Karras et al. 2022, eq. 5 with ρ = 7: σ_i = (σ_max^{1/ρ} + i/(n−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ,
 * n values from σ_max down to σ_min (diffusers' `_convert_to_karras`).
 */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const rho = 7;
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  return numpyLinspace(0, 1, n).map((ramp) => (maxInvRho + ramp * (minInvRho - maxInvRho)) ** rho);
}

/**
 * The fractional training timestep whose σ is `sigma`: linear interpolation of ln σ between the
 * two neighbouring table entries, clamped to the table (diffusers' `_sigma_to_t`).
 */
export function sigmaToTimestep(sigma: number, logSigmas: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // Last index whose ln σ ≤ ln σ_query (the table ascends with t); 0 when there is none.
  let low = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i] >= 0) low = i;
  low = Math.min(low, logSigmas.length - 2);
  const high = low + 1;
  let w = (logSigmas[low] - logSigma) / (logSigmas[low] - logSigmas[high]);
  w = Math.min(1, Math.max(0, w));
  return (1 - w) * low + w * high;
}

/** Checks shared by every `step`: equal sizes and a step index inside the run. */
export function checkRunStep(what: string, stepIndex: number, length: number, modelOutput: Float32Array, sample: Float32Array): void {
  if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= length) {
    throw new DiffusionError('INVALID_ARGUMENT', `${what}: step index ${stepIndex} is outside the run's ${length} steps`);
  }
  if (modelOutput.length !== sample.length) {
    throw new DiffusionError('SHAPE_MISMATCH', `${what}: modelOutput has ${modelOutput.length} values, sample ${sample.length}`);
  }
}

/** Checks `addNoise` arguments. */
export function checkNoiseArgs(what: string, original: Float32Array, noise: Float32Array): void {
  if (original.length !== noise.length) {
    throw new DiffusionError('SHAPE_MISMATCH', `${what}: original has ${original.length} values, noise ${noise.length}`);
  }
}

/** x·a + n·b elementwise, into a new Float32Array. */
export function axpby(a: number, x: Float32Array, b: number, n: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = a * x[i] + b * n[i];
  return out;
}

/**
 * The inference timesteps of diffusers' DDIM/PNDM/Euler `set_timesteps`, descending, as float64
 * (integers except 'linspace' without rounding):
 * linspace: round(linspace(0, T−1, n)); leading: i·⌊T/n⌋ + stepsOffset;
 * trailing: round(arange(T, 0, −T/n)) − 1 (Lin et al. 2023, Table 2).
 */
export function spacedLatentTimesteps(
  numTrainTimesteps: number,
  numInferenceSteps: number,
  spacing: 'leading' | 'trailing' | 'linspace',
  stepsOffset: number,
  roundLinspace: boolean,
): number[] {
  const T = numTrainTimesteps;
  const n = numInferenceSteps;
  if (spacing === 'linspace') {
    return numpyLinspace(0, T - 1, n)
      .map((t) => (roundLinspace ? roundHalfEven(t) : Math.fround(t)))
      .reverse();
  }
  if (spacing === 'leading') {
    const ratio = Math.floor(T / n);
    const out: number[] = [];
    for (let i = n - 1; i >= 0; i--) out.push(i * ratio + stepsOffset);
    return out;
  }
  return numpyArange(T, 0, -T / n).map((t) => roundHalfEven(t) - 1);
}

/** Checks `begin(n)`'s step count. */
export function checkSteps(what: string, numTrainTimesteps: number, numInferenceSteps: number): void {
  if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > numTrainTimesteps) {
    throw new DiffusionError('INVALID_ARGUMENT', `${what}: steps must be an integer in 1..${numTrainTimesteps}, got ${numInferenceSteps}`);
  }
}

/** Checks `begin`'s startIndex against the full run's length and returns it (default 0). */
export function checkStartIndex(what: string, startIndex: number | undefined, length: number): number {
  const start = startIndex ?? 0;
  if (!Number.isInteger(start) || start < 0 || start >= length) {
    throw new DiffusionError('INVALID_ARGUMENT', `${what}: startIndex must be an integer in 0..${length - 1}, got ${startIndex}`);
  }
  return start;
}

/** Runs with history take their steps in order: the index must be the next one. */
export function checkInOrder(what: string, stepIndex: number, expected: number): void {
  if (stepIndex !== expected) {
    throw new DiffusionError('INVALID_ARGUMENT', `${what}: steps must be taken in order (expected step ${expected}, got ${stepIndex}); begin a new run to start over`);
  }
}
