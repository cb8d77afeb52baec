/**
 * The plain-data config of the latent-diffusion schedulers, and its reader for diffusers'
 * `scheduler/scheduler_config.json` (diffusers' `ConfigMixin.from_config`, as of v0.27: the target
 * class reads the keys it knows from the file, takes its own defaults for the rest, and ignores keys
 * that belong to the other scheduler classes). Options this package does not implement throw
 * INVALID_CONFIG naming the key, rather than being silently ignored.
 */
import { DiffusionError, checkKnownKeys, checkOption } from '../errors.ts';
import { LATENT_BETA_SCHEDULES, type LatentBetaSchedule } from './latent-schedule.ts';

export const LATENT_SCHEDULER_KINDS = ['pndm', 'ddim', 'euler', 'euler-a', 'dpm++2m'] as const;
export type LatentSchedulerKind = (typeof LATENT_SCHEDULER_KINDS)[number];
export const PREDICTION_TYPES = ['epsilon', 'v_prediction', 'sample'] as const;
export type PredictionType = (typeof PREDICTION_TYPES)[number];
export const LATENT_TIMESTEP_SPACINGS = ['leading', 'trailing', 'linspace'] as const;
export type LatentTimestepSpacing = (typeof LATENT_TIMESTEP_SPACINGS)[number];

/**
 * Plain data (camelCase keys, diffusers' spelling of values), JSON-serialisable. Every field is
 * always present; fields a kind does not use are kept at their defaults and ignored by it.
 */
export interface LatentSchedulerConfig {
  kind: LatentSchedulerKind;
  numTrainTimesteps: number;
  betaSchedule: LatentBetaSchedule;
  betaStart: number;
  betaEnd: number;
  /** What the UNet predicts: ε, v = √ᾱ·ε − √(1−ᾱ)·x_0 (Salimans & Ho 2022, §4), or x_0. */
  predictionType: PredictionType;
  timestepSpacing: LatentTimestepSpacing;
  /** Added to every 'leading' timestep (SD-1.x: 1, so 25 steps run 961 … 1). */
  stepsOffset: number;
  /** PNDM, DDIM: ᾱ "before" the last step is 1 (true) or ᾱ_0 (false, SD-1.x). */
  setAlphaToOne: boolean;
  /** PNDM: start with PLMS right away (SD-1.x) instead of 4 Runge-Kutta warm-up steps. */
  skipPrkSteps: boolean;
  /** DDIM: clip x̂_0 to ±clipSampleRange. */
  clipSample: boolean;
  clipSampleRange: number;
  /** DDIM: η of Song et al. 2021 eq. 16 (a pipeline argument in diffusers; 0 = deterministic). */
  eta: number;
  /** Euler, DPM-Solver++: Karras et al. 2022 σ spacing (eq. 5, ρ = 7). */
  useKarrasSigmas: boolean;
  /** Euler with Karras σ: the ends of the ramp (null: the schedule's own). */
  sigmaMin: number | null;
  sigmaMax: number | null;
  /** DPM-Solver++: 1 or 2. */
  solverOrder: number;
  /** DPM-Solver++ second-order update: 'midpoint' (DPM-Solver++ paper) or 'heun'. */
  solverType: 'midpoint' | 'heun';
  /** DPM-Solver++: first-order last step (second-order second-to-last) below 15 steps. */
  lowerOrderFinal: boolean;
  /** DPM-Solver++: always take the last step with first order. */
  eulerAtFinal: boolean;
  /** DPM-Solver++: the last step lands on σ = 0 ('zero') or on σ_0 ('sigma_min'). */
  finalSigmasType: 'zero' | 'sigma_min';
}

export const LATENT_SCHEDULER_CONFIG_KEYS = [
  'kind',
  'numTrainTimesteps',
  'betaSchedule',
  'betaStart',
  'betaEnd',
  'predictionType',
  'timestepSpacing',
  'stepsOffset',
  'setAlphaToOne',
  'skipPrkSteps',
  'clipSample',
  'clipSampleRange',
  'eta',
  'useKarrasSigmas',
  'sigmaMin',
  'sigmaMax',
  'solverOrder',
  'solverType',
  'lowerOrderFinal',
  'eulerAtFinal',
  'finalSigmasType',
] as const satisfies ReadonlyArray<keyof LatentSchedulerConfig>;

const BASE_DEFAULTS: Omit<LatentSchedulerConfig, 'kind'> = {
  numTrainTimesteps: 1000,
  betaSchedule: 'linear',
  betaStart: 0.0001,
  betaEnd: 0.02,
  predictionType: 'epsilon',
  timestepSpacing: 'leading',
  stepsOffset: 0,
  setAlphaToOne: false,
  skipPrkSteps: false,
  clipSample: false,
  clipSampleRange: 1,
  eta: 0,
  useKarrasSigmas: false,
  sigmaMin: null,
  sigmaMax: null,
  solverOrder: 2,
  solverType: 'midpoint',
  lowerOrderFinal: true,
  eulerAtFinal: false,
  finalSigmasType: 'zero',
};

/** Each kind's defaults where they differ from BASE_DEFAULTS (diffusers' `__init__` defaults). */
const KIND_DEFAULTS: Record<LatentSchedulerKind, Partial<LatentSchedulerConfig>> = {
  pndm: {},
  ddim: { clipSample: true, setAlphaToOne: true },
  euler: { timestepSpacing: 'linspace' },
  'euler-a': { timestepSpacing: 'linspace' },
  'dpm++2m': { timestepSpacing: 'linspace' },
};

export function defaultLatentSchedulerConfig(kind: LatentSchedulerKind): LatentSchedulerConfig {
  return { kind, ...BASE_DEFAULTS, ...KIND_DEFAULTS[kind] };
}

function invalid(message: string): DiffusionError {
  return new DiffusionError('INVALID_CONFIG', message);
}

/** Fill defaults for `config.kind`, reject unknown keys and values out of range. */
export function normaliseLatentSchedulerConfig(config: Partial<LatentSchedulerConfig>): LatentSchedulerConfig {
  checkKnownKeys('scheduler', config, LATENT_SCHEDULER_CONFIG_KEYS);
  const kind = checkOption('scheduler.kind', config.kind ?? 'pndm', LATENT_SCHEDULER_KINDS);
  const c: LatentSchedulerConfig = { ...defaultLatentSchedulerConfig(kind), ...config, kind };
  if (!Number.isInteger(c.numTrainTimesteps) || c.numTrainTimesteps < 2) throw invalid(`scheduler.numTrainTimesteps must be an integer ≥ 2, got ${c.numTrainTimesteps}`);
  checkOption('scheduler.betaSchedule', c.betaSchedule, LATENT_BETA_SCHEDULES);
  if (!(c.betaStart > 0 && c.betaEnd < 1 && c.betaStart <= c.betaEnd)) throw invalid(`scheduler: need 0 < betaStart ≤ betaEnd < 1, got ${c.betaStart}, ${c.betaEnd}`);
  checkOption('scheduler.predictionType', c.predictionType, PREDICTION_TYPES);
  if (c.predictionType === 'sample' && (kind === 'pndm' || kind === 'euler-a')) {
    throw invalid(`scheduler.predictionType "sample" is not supported by ${kind} (nor by diffusers)`);
  }
  checkOption('scheduler.timestepSpacing', c.timestepSpacing, LATENT_TIMESTEP_SPACINGS);
  if (!Number.isInteger(c.stepsOffset) || c.stepsOffset < 0) throw invalid(`scheduler.stepsOffset must be a non-negative integer, got ${c.stepsOffset}`);
  for (const key of ['setAlphaToOne', 'skipPrkSteps', 'clipSample', 'useKarrasSigmas', 'lowerOrderFinal', 'eulerAtFinal'] as const) {
    if (typeof c[key] !== 'boolean') throw invalid(`scheduler.${key} must be a boolean, got ${JSON.stringify(c[key])}`);
  }
  if (!(c.clipSampleRange > 0)) throw invalid(`scheduler.clipSampleRange must be > 0, got ${c.clipSampleRange}`);
  if (!(c.eta >= 0 && c.eta <= 1)) throw invalid(`scheduler.eta must be in [0, 1], got ${c.eta}`);
  for (const key of ['sigmaMin', 'sigmaMax'] as const) {
    const v = c[key];
    if (v !== null && !(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw invalid(`scheduler.${key} must be null or a positive number, got ${JSON.stringify(v)}`);
  }
  if (c.solverOrder !== 1 && c.solverOrder !== 2) throw invalid(`scheduler.solverOrder must be 1 or 2 (third order is not implemented), got ${c.solverOrder}`);
  checkOption('scheduler.solverType', c.solverType, ['midpoint', 'heun'] as const);
  checkOption('scheduler.finalSigmasType', c.finalSigmasType, ['zero', 'sigma_min'] as const);
  return c;
}

// ---------------------------------------------------------------------------------------------
// diffusers' scheduler_config.json

export const DIFFUSERS_SCHEDULER_CLASSES: Record<string, LatentSchedulerKind> = {
  PNDMScheduler: 'pndm',
  DDIMScheduler: 'ddim',
  EulerDiscreteScheduler: 'euler',
  EulerAncestralDiscreteScheduler: 'euler-a',
  DPMSolverMultistepScheduler: 'dpm++2m',
};

type KeyReader = (value: unknown, c: LatentSchedulerConfig) => void;

function keyOf(key: string): string {
  return `scheduler_config.json: "${key}"`;
}

function readNumber(key: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${keyOf(key)} must be a number, got ${JSON.stringify(value)}`);
  return value;
}

function readBoolean(key: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid(`${keyOf(key)} must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

function readEnum<T extends string>(key: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(`${keyOf(key)}: unsupported value ${JSON.stringify(value)} (supported: ${allowed.join(', ')})`);
  }
  return value as T;
}

/** Accept only the value that leaves a feature off (an option this package does not implement). */
function onlyOff(key: string, off: unknown[], what: string): KeyReader {
  return (value) => {
    if (!off.some((o) => Object.is(o, value))) throw invalid(`${keyOf(key)} = ${JSON.stringify(value)} is not supported (${what})`);
  };
}

const COMMON_READERS: Record<string, KeyReader> = {
  num_train_timesteps: (v, c) => (c.numTrainTimesteps = readNumber('num_train_timesteps', v)),
  beta_start: (v, c) => (c.betaStart = readNumber('beta_start', v)),
  beta_end: (v, c) => (c.betaEnd = readNumber('beta_end', v)),
  beta_schedule: (v, c) => (c.betaSchedule = readEnum('beta_schedule', v, LATENT_BETA_SCHEDULES)),
  trained_betas: onlyOff('trained_betas', [null], 'give beta_start, beta_end and beta_schedule instead'),
  prediction_type: (v, c) => (c.predictionType = readEnum('prediction_type', v, PREDICTION_TYPES)),
  timestep_spacing: (v, c) => (c.timestepSpacing = readEnum('timestep_spacing', v, LATENT_TIMESTEP_SPACINGS)),
  steps_offset: (v, c) => (c.stepsOffset = readNumber('steps_offset', v)),
};
const RESCALE = { rescale_betas_zero_snr: onlyOff('rescale_betas_zero_snr', [false], 'zero-terminal-SNR rescaling is not implemented') };
const THRESHOLDING = {
  thresholding: onlyOff('thresholding', [false], 'dynamic thresholding is not implemented'),
  dynamic_thresholding_ratio: () => undefined,
  sample_max_value: () => undefined,
};
const KARRAS = { use_karras_sigmas: (v: unknown, c: LatentSchedulerConfig) => (c.useKarrasSigmas = readBoolean('use_karras_sigmas', v ?? false)) };

/** Per class: the keys its `__init__` takes, and how each is read (diffusers v0.27 signatures). */
const CLASS_READERS: Record<LatentSchedulerKind, Record<string, KeyReader>> = {
  pndm: {
    ...COMMON_READERS,
    skip_prk_steps: (v, c) => (c.skipPrkSteps = readBoolean('skip_prk_steps', v)),
    set_alpha_to_one: (v, c) => (c.setAlphaToOne = readBoolean('set_alpha_to_one', v)),
  },
  ddim: {
    ...COMMON_READERS,
    ...RESCALE,
    ...THRESHOLDING,
    clip_sample: (v, c) => (c.clipSample = readBoolean('clip_sample', v)),
    clip_sample_range: (v, c) => (c.clipSampleRange = readNumber('clip_sample_range', v)),
    set_alpha_to_one: (v, c) => (c.setAlphaToOne = readBoolean('set_alpha_to_one', v)),
  },
  euler: {
    ...COMMON_READERS,
    ...RESCALE,
    ...KARRAS,
    interpolation_type: onlyOff('interpolation_type', ['linear'], 'only linear interpolation of σ is implemented'),
    timestep_type: onlyOff('timestep_type', ['discrete'], 'only discrete timesteps are implemented'),
    sigma_min: (v, c) => (c.sigmaMin = v === null ? null : readNumber('sigma_min', v)),
    sigma_max: (v, c) => (c.sigmaMax = v === null ? null : readNumber('sigma_max', v)),
  },
  'euler-a': { ...COMMON_READERS, ...RESCALE },
  'dpm++2m': {
    ...COMMON_READERS,
    ...RESCALE,
    ...THRESHOLDING,
    ...KARRAS,
    solver_order: (v, c) => (c.solverOrder = readNumber('solver_order', v)),
    algorithm_type: onlyOff('algorithm_type', ['dpmsolver++'], 'only DPM-Solver++ (the data-prediction, ODE variant) is implemented'),
    // diffusers maps the UniPC/DEIS solver names onto midpoint.
    solver_type: (v, c) => (c.solverType = readEnum('solver_type', v, ['midpoint', 'heun', 'logrho', 'bh1', 'bh2']) === 'heun' ? 'heun' : 'midpoint'),
    lower_order_final: (v, c) => (c.lowerOrderFinal = readBoolean('lower_order_final', v)),
    euler_at_final: (v, c) => (c.eulerAtFinal = readBoolean('euler_at_final', v)),
    use_lu_lambdas: onlyOff('use_lu_lambdas', [false, null], 'uniform-λ steps are not implemented'),
    final_sigmas_type: (v, c) => (c.finalSigmasType = readEnum('final_sigmas_type', v, ['zero', 'sigma_min'] as const)),
    lambda_min_clipped: onlyOff('lambda_min_clipped', [-Infinity, null], 'λ clipping is not implemented'),
    variance_type: onlyOff('variance_type', [null, 'fixed_small', 'fixed_large'], 'learned variances are not implemented'),
  },
};

const ALL_DIFFUSERS_KEYS = new Set(Object.values(CLASS_READERS).flatMap((r) => Object.keys(r)));

/**
 * Read diffusers' scheduler_config.json. Without `kind`, the algorithm is the file's `_class_name`;
 * with it, the file gives the noise schedule and `kind` the algorithm, as
 * `XScheduler.from_config(pipe.scheduler.config)` does (keys the file lacks take `kind`'s defaults).
 * Keys of the other scheduler classes are ignored, as diffusers ignores them; a key no supported
 * class knows is accepted only when it is null or false (a feature left off).
 */
export function latentConfigFromDiffusers(json: Record<string, unknown>, kind?: LatentSchedulerKind): LatentSchedulerConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid('scheduler_config.json must hold a JSON object');
  const className = json._class_name;
  if (typeof className !== 'string') throw invalid(`${keyOf('_class_name')} must name the scheduler class, got ${JSON.stringify(className)}`);
  const classKind = DIFFUSERS_SCHEDULER_CLASSES[className];
  if (classKind === undefined) {
    throw invalid(`${keyOf('_class_name')}: unsupported scheduler ${JSON.stringify(className)} (supported: ${Object.keys(DIFFUSERS_SCHEDULER_CLASSES).join(', ')})`);
  }
  const target = kind === undefined ? classKind : checkOption('scheduler kind', kind, LATENT_SCHEDULER_KINDS);
  const config = defaultLatentSchedulerConfig(target);
  const readers = CLASS_READERS[target];
  for (const [key, value] of Object.entries(json)) {
    if (key.startsWith('_')) continue;
    const reader = readers[key];
    if (reader !== undefined) reader(value, config);
    else if (!ALL_DIFFUSERS_KEYS.has(key) && value !== null && value !== false) {
      throw invalid(`${keyOf(key)} is not a scheduler option this package knows (value ${JSON.stringify(value)})`);
    }
  }
  return normaliseLatentSchedulerConfig(config);
}

/**
 * JSON.parse for files Python's `json` wrote: it spells ±∞ and NaN as bare `Infinity`, `-Infinity`
 * and `NaN` (e.g. DPMSolverMultistepScheduler's `"lambda_min_clipped": -Infinity`), which strict JSON
 * rejects. Those tokens are turned into numbers; strings are left untouched.
 */
export function parseDiffusersJson(text: string): unknown {
  const marker = '"__diffusers_number__:';
  const patched = text.replace(/("(?:[^"\\]|\\.)*")|(-?Infinity|NaN)/g, (_whole, str: string | undefined, token: string | undefined) =>
    str !== undefined ? str : `${marker}${token}"`,
  );
  return JSON.parse(patched, (_key, value: unknown) => {
    if (typeof value === 'string' && value.startsWith(marker.slice(1))) {
      const token = value.slice(marker.length - 1);
      return token === 'NaN' ? Number.NaN : token === '-Infinity' ? -Infinity : Infinity;
    }
    return value;
  });
}
