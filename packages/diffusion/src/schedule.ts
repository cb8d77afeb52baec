import { DiffusionError, checkKnownKeys, checkOption } from './errors.ts';

/**
 * Noise schedules β_1..β_T (stored 0-indexed: betas[t] for t = 0..T−1, the diffusers convention)
 * and the quantities derived from them, in float64.
 */
export const BETA_SCHEDULES = ['linear', 'scaled-linear', 'cosine'] as const;
export type BetaSchedule = (typeof BETA_SCHEDULES)[number];

export interface ScheduleConfig {
  /** T, the number of diffusion steps the model is trained on (DDPM: 1000; the course: 500). */
  numTrainTimesteps: number;
  betaSchedule: BetaSchedule;
  /** β_1 for linear / scaled-linear (DDPM: 1e-4). Ignored by cosine. */
  betaStart: number;
  /** β_T for linear / scaled-linear (DDPM: 0.02). Ignored by cosine. */
  betaEnd: number;
}

export const DEFAULT_SCHEDULE: ScheduleConfig = { numTrainTimesteps: 1000, betaSchedule: 'linear', betaStart: 1e-4, betaEnd: 0.02 };

export interface NoiseSchedule {
  readonly config: ScheduleConfig;
  readonly betas: Float64Array;
  readonly alphas: Float64Array;
  /** ᾱ_t = ∏_{s≤t} α_s (DDPM eq. 4). */
  readonly alphasCumprod: Float64Array;
  /** β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t)·β_t (DDPM eq. 7), with ᾱ_{−1} = 1 so β̃_0 = 0. */
  readonly posteriorVariance: Float64Array;
}

export function normaliseScheduleConfig(config: Partial<ScheduleConfig>): ScheduleConfig {
  checkKnownKeys('schedule', config, ['numTrainTimesteps', 'betaSchedule', 'betaStart', 'betaEnd']);
  const merged = { ...DEFAULT_SCHEDULE, ...config };
  checkOption('schedule.betaSchedule', merged.betaSchedule, BETA_SCHEDULES);
  if (!Number.isInteger(merged.numTrainTimesteps) || merged.numTrainTimesteps < 2) {
    throw new DiffusionError('INVALID_CONFIG', `schedule.numTrainTimesteps must be an integer ≥ 2, got ${merged.numTrainTimesteps}`);
  }
  if (!(merged.betaStart > 0 && merged.betaEnd < 1 && merged.betaStart <= merged.betaEnd)) {
    throw new DiffusionError('INVALID_CONFIG', `schedule: need 0 < betaStart ≤ betaEnd < 1, got ${merged.betaStart}, ${merged.betaEnd}`);
  }
  return merged;
}

export function makeSchedule(config: Partial<ScheduleConfig> = {}): NoiseSchedule {
  const c = normaliseScheduleConfig(config);
  const n = c.numTrainTimesteps;
  const betas = new Float64Array(n);
  if (c.betaSchedule === 'linear') {
    for (let i = 0; i < n; i++) betas[i] = c.betaStart + ((c.betaEnd - c.betaStart) * i) / (n - 1);
  } else if (c.betaSchedule === 'scaled-linear') {
    // Latent-diffusion schedule: √β is linear, then squared.
    const a = Math.sqrt(c.betaStart);
    const b = Math.sqrt(c.betaEnd);
    for (let i = 0; i < n; i++) betas[i] = (a + ((b - a) * i) / (n - 1)) ** 2;
  } else {
    // Nichol & Dhariwal 2021, eq. 17: ᾱ(t) = f(t)/f(0), f(t) = cos²(((t/T + s)/(1 + s))·π/2);
    // β_t = 1 − ᾱ(t+1)/ᾱ(t), clipped at 0.999 to avoid the singularity at t = T.
    const s = 0.008;
    const f = (t: number): number => Math.cos(((t / n + s) / (1 + s)) * (Math.PI / 2)) ** 2;
    for (let i = 0; i < n; i++) betas[i] = Math.min(1 - f(i + 1) / f(i), 0.999);
  }
  const alphas = new Float64Array(n);
  const alphasCumprod = new Float64Array(n);
  const posteriorVariance = new Float64Array(n);
  let product = 1;
  for (let i = 0; i < n; i++) {
    alphas[i] = 1 - betas[i];
    const previous = product;
    product *= alphas[i];
    alphasCumprod[i] = product;
    posteriorVariance[i] = ((1 - previous) / (1 - product)) * betas[i];
  }
  return { config: c, betas, alphas, alphasCumprod, posteriorVariance };
}

/** ᾱ at a timestep, with ᾱ_{t<0} = 1 (the "set_alpha_to_one" convention for the final step). */
export function alphaCumprodAt(schedule: NoiseSchedule, t: number): number {
  return t >= 0 ? schedule.alphasCumprod[t] : 1;
}

/**
 * DDIM variance between t and prevT (Song et al. 2021, eq. 16 with η = 1):
 * σ² = (1−ᾱ_prev)/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ_prev). diffusers calls it `_get_variance(t, prev)`.
 */
export function ddimVariance(schedule: NoiseSchedule, t: number, prevT: number): number {
  const alphaT = alphaCumprodAt(schedule, t);
  const alphaPrev = alphaCumprodAt(schedule, prevT);
  return ((1 - alphaPrev) / (1 - alphaT)) * (1 - alphaT / alphaPrev);
}

/**
 * The forward process in closed form, q(x_t | x_0) = N(√ᾱ_t·x_0, (1−ᾱ_t)·I) (DDPM eq. 4):
 * x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε. `timesteps` holds one t per sample (batch-major x0).
 * (The course notebook scaled ε by (1−ᾱ_t) instead of its square root; that is wrong.)
 */
export function addNoise(schedule: NoiseSchedule, x0: Float32Array, noise: Float32Array, timesteps: ArrayLike<number>): Float32Array {
  if (x0.length !== noise.length || x0.length % timesteps.length !== 0) {
    throw new DiffusionError('SHAPE_MISMATCH', `addNoise: x0 (${x0.length}), noise (${noise.length}) and timesteps (${timesteps.length}) disagree`);
  }
  const per = x0.length / timesteps.length;
  const out = new Float32Array(x0.length);
  for (let b = 0; b < timesteps.length; b++) {
    const t = timesteps[b];
    if (!(t >= 0 && t < schedule.config.numTrainTimesteps)) throw new DiffusionError('INVALID_ARGUMENT', `addNoise: timestep ${t} out of range`);
    const a = Math.sqrt(schedule.alphasCumprod[t]);
    const s = Math.sqrt(1 - schedule.alphasCumprod[t]);
    for (let i = b * per; i < (b + 1) * per; i++) out[i] = a * x0[i] + s * noise[i];
  }
  return out;
}
