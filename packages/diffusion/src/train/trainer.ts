import { DiffusionError, checkKnownKeys, checkOption } from '../errors.ts';
import { type DiffusionModel, createModel, updateRunningStats, type ForwardMode } from '../models/index.ts';
import { Random, type RandomState } from '../rng.ts';
import { addNoise, makeSchedule, type NoiseSchedule, type ScheduleConfig } from '../schedule.ts';
import type { TensorEngine } from '../tensor/engine.ts';
import { Adam, LR_SCHEDULES, type LrSchedule, learningRateAt, updateEma } from './optimizer.ts';

/** Training hyper-parameters (plain data, saved in the checkpoint's config.json). */
export interface TrainingConfig {
  epochs: number;
  batchSize: number;
  learningRate: number;
  lrSchedule: LrSchedule;
  warmupSteps: number;
  /** Probability of replacing a sample's context by the null (zero) context — for classifier-free guidance. */
  contextDropout: number;
  /** EMA decay per step (0 disables EMA: the EMA copy then equals the live weights). */
  emaDecay: number;
  gradClipNorm: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  seed: number;
}

export const DEFAULT_TRAINING: TrainingConfig = {
  epochs: 10,
  batchSize: 100,
  learningRate: 1e-3,
  lrSchedule: 'linear',
  warmupSteps: 0,
  contextDropout: 0.1,
  emaDecay: 0.995,
  gradClipNorm: 1,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  seed: 0,
};

export function normaliseTrainingConfig(config: Partial<TrainingConfig>): TrainingConfig {
  checkKnownKeys('training', config, Object.keys(DEFAULT_TRAINING));
  const c = { ...DEFAULT_TRAINING, ...config };
  checkOption('training.lrSchedule', c.lrSchedule, LR_SCHEDULES);
  const bad = (why: string): never => {
    throw new DiffusionError('INVALID_CONFIG', `training: ${why}`);
  };
  if (!Number.isInteger(c.epochs) || c.epochs < 1) bad(`epochs must be a positive integer, got ${c.epochs}`);
  if (!Number.isInteger(c.batchSize) || c.batchSize < 1) bad(`batchSize must be a positive integer, got ${c.batchSize}`);
  if (!(c.learningRate > 0)) bad(`learningRate must be > 0, got ${c.learningRate}`);
  if (!(c.contextDropout >= 0 && c.contextDropout <= 1)) bad('contextDropout must be in [0, 1]');
  if (!(c.emaDecay >= 0 && c.emaDecay < 1)) bad('emaDecay must be in [0, 1)');
  if (!(c.gradClipNorm >= 0)) bad('gradClipNorm must be ≥ 0');
  return c;
}

/** Where a run is: saved with every checkpoint and restored by --resume. */
export interface TrainingState {
  step: number;
  epoch: number;
  random: RandomState;
}

/**
 * The DDPM training loop's core (Ho et al. 2020, Algorithm 1), engine-agnostic and browser-safe:
 * t ~ U{0..T−1}, ε ~ N(0, I), x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε, loss L_simple = ‖ε − ε_θ(x_t, t, c)‖² (mean).
 */
export class DiffusionTrainer {
  readonly schedule: NoiseSchedule;
  readonly config: TrainingConfig;
  readonly ema: DiffusionModel;
  readonly optimizer: Adam;
  readonly random: Random;
  state: TrainingState;

  constructor(
    readonly engine: TensorEngine,
    readonly model: DiffusionModel,
    scheduleConfig: ScheduleConfig,
    config: Partial<TrainingConfig>,
    readonly contextSize: number,
  ) {
    this.schedule = makeSchedule(scheduleConfig);
    this.config = normaliseTrainingConfig(config);
    this.random = new Random(this.config.seed);
    this.state = { step: 0, epoch: 0, random: this.random.state() };
    this.optimizer = new Adam(engine, model.params, {
      beta1: this.config.adamBeta1,
      beta2: this.config.adamBeta2,
      epsilon: this.config.adamEpsilon,
      gradClipNorm: this.config.gradClipNorm,
    });
    this.ema = createModel(engine, model.config, 0);
    this.ema.params.importValues(model.params.exportValues());
  }

  /** Continue the random stream from a saved state (for --resume). */
  restoreRandom(state: RandomState): void {
    this.random.restore(state);
  }

  learningRate(totalSteps: number): number {
    return learningRateAt(this.config.learningRate, this.config.lrSchedule, this.state.step, totalSteps, this.config.warmupSteps);
  }

  /**
   * One optimisation step on a batch of clean images x_0 (NHWC, [−1, 1]) and labels
   * (null = unconditional data: the context is always the null vector). Returns the loss.
   */
  trainStep(x0: Float32Array, labels: Int32Array | null, batch: number, totalSteps: number): { loss: number; gradNorm: number; learningRate: number } {
    const e = this.engine;
    const { height, width, channels } = shapeOf(this.model);
    if (x0.length !== batch * height * width * channels) {
      throw new DiffusionError('SHAPE_MISMATCH', `trainStep: ${x0.length} values for a batch of ${batch}×${height}×${width}×${channels}`);
    }
    const T = this.schedule.config.numTrainTimesteps;
    const timesteps = new Float32Array(batch);
    for (let i = 0; i < batch; i++) timesteps[i] = this.random.int(T);
    const noise = this.random.normalArray(x0.length);
    const xt = addNoise(this.schedule, x0, noise, timesteps);
    const context = new Float32Array(batch * this.contextSize);
    if (labels) {
      for (let i = 0; i < batch; i++) {
        // Context dropout: with probability p the sample trains the unconditional model (zero context).
        if (this.random.uniform() >= this.config.contextDropout) context[i * this.contextSize + labels[i]] = 1;
      }
    }
    const learningRate = this.learningRate(totalSteps);
    const mode: ForwardMode = { training: true, batchStats: [] };
    const xtT = e.tensor(xt, [batch, height, width, channels]);
    const tT = e.tensor(timesteps, [batch]);
    const cT = e.tensor(context, [batch, this.contextSize]);
    const noiseT = e.tensor(noise, [batch, height, width, channels]);
    const trainable = this.model.params.names('trainable').map((n) => this.model.params.get(n));
    const { value, grads } = e.valueAndGrads(() => e.mean(e.square(e.sub(this.model.forward(e, xtT, tT, cT, mode), noiseT))), trainable);
    const loss = e.readSync(value)[0];
    value.dispose();
    for (const t of [xtT, tT, cT, noiseT]) t.dispose();
    if (!Number.isFinite(loss)) {
      grads.forEach((g) => g.dispose());
      for (const s of mode.batchStats ?? []) {
        s.mean.dispose();
        s.variance.dispose();
      }
      throw new DiffusionError('INVALID_ARGUMENT', `training diverged: loss is ${loss} at step ${this.state.step}`);
    }
    const gradNorm = this.optimizer.apply(grads, learningRate);
    updateRunningStats(e, this.model.params, mode.batchStats);
    // EMA warm-up (as in many DDPM codebases): the effective decay grows from 0 towards emaDecay.
    if (this.config.emaDecay > 0) {
      const decay = Math.min(this.config.emaDecay, (1 + this.state.step) / (10 + this.state.step));
      updateEma(e, this.ema.params, this.model.params, decay);
    }
    this.state.step += 1;
    return { loss, gradNorm, learningRate };
  }

  /** With emaDecay 0 the EMA copy is not updated per step; call this before saving or sampling. */
  syncEma(): void {
    if (this.config.emaDecay === 0) updateEma(this.engine, this.ema.params, this.model.params, 0);
  }

  captureState(): TrainingState {
    return { step: this.state.step, epoch: this.state.epoch, random: this.random.state() };
  }

  dispose(): void {
    this.optimizer.dispose();
    this.ema.params.dispose();
  }
}

export function shapeOf(model: DiffusionModel): { height: number; width: number; channels: number } {
  const c = model.config;
  return c.kind === 'context-unet' ? { height: c.height, width: c.height, channels: c.inChannels } : { height: c.height, width: c.width, channels: c.inChannels };
}
