import { DiffusionError, checkKnownKeys, checkOption } from '../errors.ts';
import { BETA_SCHEDULES, type NoiseSchedule, type ScheduleConfig, makeSchedule } from '../schedule.ts';

/**
 * The noise-scheduler boundary (the diffusers pattern): the scheduler never sees the model. The
 * sampling loop is `eps = model(x, t); x = scheduler.step(eps, t, prevT, x, noise).prevSample`.
 * Schedulers work on Float32Array, so they are independent of the tensor engine.
 */
export const SCHEDULER_KINDS = ['ddpm', 'ddim'] as const;
export type SchedulerKind = (typeof SCHEDULER_KINDS)[number];
export const VARIANCE_TYPES = ['fixed_small', 'fixed_large'] as const;
export type VarianceType = (typeof VARIANCE_TYPES)[number];
export const TIMESTEP_SPACINGS = ['leading', 'trailing'] as const;
export type TimestepSpacing = (typeof TIMESTEP_SPACINGS)[number];

/** Plain data: saved with a checkpoint, reloaded by `createScheduler`. */
export interface SchedulerConfig extends ScheduleConfig {
  kind: SchedulerKind;
  /** DDPM only. 'fixed_small': σ² = β̃_t (posterior variance); 'fixed_large': σ² = β_t. */
  varianceType: VarianceType;
  /** DDIM only. η = 0 is deterministic; η = 1 over every timestep is DDPM with σ² = β̃_t. */
  eta: number;
  /** How `timesteps(n)` spreads n steps over T ('trailing' is better at few steps). */
  timestepSpacing: TimestepSpacing;
  /** Clip the predicted x̂_0 to [−clipSampleRange, clipSampleRange] (data lives in [−1, 1]). */
  clipSample: boolean;
  clipSampleRange: number;
}

export interface StepResult {
  /** x_{prev}, the sample at the previous (less noisy) timestep. */
  prevSample: Float32Array;
  /** x̂_0, the model's estimate of the clean sample. */
  predOriginalSample: Float32Array;
}

export interface NoiseScheduler {
  readonly config: SchedulerConfig;
  readonly schedule: NoiseSchedule;
  /** Pure: the descending timesteps of an n-step run (no hidden state is set). */
  timesteps(numInferenceSteps: number): Int32Array;
  /**
   * One reverse step from t to prevT (prevT < 0 means "to x_0"). `noise` is z ~ N(0, I) of the
   * sample's size; it is required when the step is stochastic and ignored when it is not.
   */
  step(modelOutput: Float32Array, t: number, prevT: number, sample: Float32Array, noise?: Float32Array): StepResult;
  /** True when `step` from t to prevT draws noise (so callers can skip generating it). */
  needsNoise(t: number, prevT: number): boolean;
}

export const SCHEDULER_CONFIG_KEYS = [
  'kind',
  'numTrainTimesteps',
  'betaSchedule',
  'betaStart',
  'betaEnd',
  'varianceType',
  'eta',
  'timestepSpacing',
  'clipSample',
  'clipSampleRange',
] as const;

export function normaliseSchedulerConfig(config: Partial<SchedulerConfig>): SchedulerConfig {
  checkKnownKeys('scheduler', config, SCHEDULER_CONFIG_KEYS);
  const c: SchedulerConfig = {
    kind: 'ddpm',
    numTrainTimesteps: 1000,
    betaSchedule: 'linear',
    betaStart: 1e-4,
    betaEnd: 0.02,
    varianceType: 'fixed_small',
    eta: 0,
    timestepSpacing: 'leading',
    clipSample: true,
    clipSampleRange: 1,
    ...config,
  };
  checkOption('scheduler.kind', c.kind, SCHEDULER_KINDS);
  checkOption('scheduler.betaSchedule', c.betaSchedule, BETA_SCHEDULES);
  checkOption('scheduler.varianceType', c.varianceType, VARIANCE_TYPES);
  checkOption('scheduler.timestepSpacing', c.timestepSpacing, TIMESTEP_SPACINGS);
  if (!(c.eta >= 0 && c.eta <= 1 && Number.isFinite(c.eta))) throw new DiffusionError('INVALID_CONFIG', `scheduler.eta must be in [0, 1], got ${c.eta}`);
  if (typeof c.clipSample !== 'boolean') throw new DiffusionError('INVALID_CONFIG', 'scheduler.clipSample must be a boolean');
  if (!(c.clipSampleRange > 0)) throw new DiffusionError('INVALID_CONFIG', 'scheduler.clipSampleRange must be > 0');
  return c;
}

export function scheduleOf(config: SchedulerConfig): NoiseSchedule {
  return makeSchedule({
    numTrainTimesteps: config.numTrainTimesteps,
    betaSchedule: config.betaSchedule,
    betaStart: config.betaStart,
    betaEnd: config.betaEnd,
  });
}

/**
 * Spread n inference steps over T training steps, descending.
 * leading:  t_i = i·⌊T/n⌋ for i = 0..n−1 (DDIM paper / diffusers "leading").
 * trailing: t_i = round(T − i·T/n) − 1 for i = 0..n−1 (Lin et al. 2023, Table 2): starts at T−1.
 */
export function spacedTimesteps(numTrainTimesteps: number, numInferenceSteps: number, spacing: TimestepSpacing): Int32Array {
  if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > numTrainTimesteps) {
    throw new DiffusionError('INVALID_ARGUMENT', `steps must be an integer in 1..${numTrainTimesteps}, got ${numInferenceSteps}`);
  }
  const out = new Int32Array(numInferenceSteps);
  if (spacing === 'leading') {
    const ratio = Math.floor(numTrainTimesteps / numInferenceSteps);
    for (let i = 0; i < numInferenceSteps; i++) out[i] = (numInferenceSteps - 1 - i) * ratio;
  } else {
    const ratio = numTrainTimesteps / numInferenceSteps;
    for (let i = 0; i < numInferenceSteps; i++) out[i] = Math.round(numTrainTimesteps - i * ratio) - 1;
  }
  return out;
}

/** x̂_0 = (x_t − √(1−ᾱ_t)·ε̂)/√ᾱ_t (DDPM eq. 15; DDIM eq. 12's "predicted x_0"), optionally clipped. */
export function predictOriginal(
  modelOutput: Float32Array,
  sample: Float32Array,
  alphaCumprodT: number,
  clip: number | null,
): Float32Array {
  const out = new Float32Array(sample.length);
  const a = Math.sqrt(alphaCumprodT);
  const s = Math.sqrt(1 - alphaCumprodT);
  for (let i = 0; i < sample.length; i++) {
    let v = (sample[i] - s * modelOutput[i]) / a;
    if (clip !== null) v = Math.min(clip, Math.max(-clip, v));
    out[i] = v;
  }
  return out;
}

export function checkStepArgs(numTrainTimesteps: number, modelOutput: Float32Array, t: number, prevT: number, sample: Float32Array): void {
  if (modelOutput.length !== sample.length) {
    throw new DiffusionError('SHAPE_MISMATCH', `step: modelOutput has ${modelOutput.length} values, sample ${sample.length}`);
  }
  if (!Number.isInteger(t) || t < 0 || t >= numTrainTimesteps) throw new DiffusionError('INVALID_ARGUMENT', `step: timestep ${t} out of range`);
  if (!Number.isInteger(prevT) || prevT >= t || prevT < -1) throw new DiffusionError('INVALID_ARGUMENT', `step: prevT ${prevT} must be in [-1, t)`);
}
