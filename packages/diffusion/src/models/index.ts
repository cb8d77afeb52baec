import { DiffusionError, checkKnownKeys, checkOption } from '../errors.ts';
import { Random } from '../rng.ts';
import type { Tensor, TensorEngine } from '../tensor/engine.ts';
import { CONTEXT_UNET_KEYS, ContextUnet, type ContextUnetConfig } from './context-unet.ts';
import type { ForwardMode } from './layers.ts';
import { ParameterStore } from './parameters.ts';
import { UNET2D_KEYS, Unet2d, type Unet2dConfig } from './unet2d.ts';

export type { ContextUnetConfig } from './context-unet.ts';
export type { Unet2dConfig } from './unet2d.ts';
export type { ClassifierConfig } from './classifier.ts';
export { Classifier } from './classifier.ts';
export { ParameterStore, type NamedArray } from './parameters.ts';
export { type ForwardMode, updateRunningStats } from './layers.ts';

export type ModelConfig = ContextUnetConfig | Unet2dConfig;
export const MODEL_KINDS = ['context-unet', 'unet'] as const;

/** A noise-prediction network ε_θ(x_t, t, c). */
export interface DiffusionModel {
  readonly config: ModelConfig;
  readonly params: ParameterStore;
  /** x: [N, H, W, C] in NHWC; timesteps: [N] integer t as float; context: [N, numClasses]. Returns ε̂, same shape as x. */
  forward(e: TensorEngine, x: Tensor, timesteps: Tensor, context: Tensor, mode: ForwardMode): Tensor;
}

export function imageShapeOf(config: ModelConfig): { height: number; width: number; channels: number } {
  return config.kind === 'context-unet'
    ? { height: config.height, width: config.height, channels: config.inChannels }
    : { height: config.height, width: config.width, channels: config.inChannels };
}

export function contextSizeOf(config: ModelConfig): number {
  return config.kind === 'context-unet' ? config.nCfeat : config.numClasses;
}

/** Validate a plain-data model config (unknown keys and options throw INVALID_CONFIG). */
export function normaliseModelConfig(config: ModelConfig): ModelConfig {
  checkOption('model.kind', config.kind, MODEL_KINDS);
  const positive = (name: string, v: unknown): void => {
    if (!Number.isInteger(v) || (v as number) < 1) throw new DiffusionError('INVALID_CONFIG', `model.${name} must be a positive integer, got ${String(v)}`);
  };
  if (config.kind === 'context-unet') {
    checkKnownKeys('model', config, CONTEXT_UNET_KEYS);
    for (const k of ['inChannels', 'nFeat', 'nCfeat', 'height', 'numTrainTimesteps'] as const) positive(k, config[k]);
  } else {
    checkKnownKeys('model', config, UNET2D_KEYS);
    for (const k of ['inChannels', 'height', 'width', 'layersPerBlock', 'normGroups'] as const) positive(k, config[k]);
    if (!Array.isArray(config.channels) || config.channels.length === 0) throw new DiffusionError('INVALID_CONFIG', 'model.channels must be a non-empty list');
    config.channels.forEach((c, i) => positive(`channels[${i}]`, c));
    if (!Array.isArray(config.attentionLevels)) throw new DiffusionError('INVALID_CONFIG', 'model.attentionLevels must be a list');
    if (!Number.isInteger(config.numClasses) || config.numClasses < 0) throw new DiffusionError('INVALID_CONFIG', 'model.numClasses must be ≥ 0');
  }
  return config;
}

/** Build a model with freshly initialised parameters (seeded, so the same seed gives the same weights). */
export function createModel(engine: TensorEngine, config: ModelConfig, seed = 0): DiffusionModel {
  const c = normaliseModelConfig(config);
  const params = new ParameterStore(engine, new Random(seed));
  const net = c.kind === 'context-unet' ? new ContextUnet(c, params) : new Unet2d(c, params);
  return {
    config: c,
    params,
    forward: (e, x, t, ctx, mode) => net.forward(e, x, t, ctx, mode),
  };
}
