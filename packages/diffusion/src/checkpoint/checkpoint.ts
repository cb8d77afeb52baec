import { DiffusionError } from '../errors.ts';
import { type DiffusionModel, type ModelConfig, createModel, normaliseModelConfig } from '../models/index.ts';
import { type ScheduleConfig, normaliseScheduleConfig } from '../schedule.ts';
import type { TensorEngine } from '../tensor/engine.ts';
import type { TrainingConfig, TrainingState } from '../train/trainer.ts';
import { decodeSafetensors } from './safetensors.ts';

/**
 * A checkpoint is a directory:
 *   config.json            CheckpointConfig (below)
 *   model.safetensors      live weights + BatchNorm buffers (F32)
 *   ema.safetensors        EMA weights (what sampling uses)
 *   optimizer.safetensors  Adam moments "m.<param>" and "v.<param>"
 * This module is browser-safe: it parses bytes; checkpoint-node.ts does the file I/O.
 */
export const CHECKPOINT_FORMAT = 'flashdiff-diffusion-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface DataInfo {
  name: string;
  height: number;
  width: number;
  channels: number;
  numClasses: number;
  classNames: string[];
}

export interface CheckpointConfig {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  model: ModelConfig;
  schedule: ScheduleConfig;
  training: TrainingConfig;
  state: TrainingState & { optimizerSteps: number };
  data: DataInfo;
  /** Wall-clock seconds spent training so far (all sessions). */
  trainingSeconds: number;
}

export function parseCheckpointConfig(text: string, source = 'config.json'): CheckpointConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new DiffusionError('CHECKPOINT_CORRUPT', `${source}: not valid JSON (${(err as Error).message})`);
  }
  const c = raw as Partial<CheckpointConfig>;
  if (typeof c !== 'object' || c === null || c.format !== CHECKPOINT_FORMAT) {
    throw new DiffusionError('CHECKPOINT_CORRUPT', `${source}: not a ${CHECKPOINT_FORMAT} config`);
  }
  if (c.version !== CHECKPOINT_VERSION) throw new DiffusionError('CHECKPOINT_CORRUPT', `${source}: unsupported version ${String(c.version)}`);
  if (!c.model || !c.schedule || !c.training || !c.state || !c.data) throw new DiffusionError('CHECKPOINT_CORRUPT', `${source}: missing model/schedule/training/state/data`);
  try {
    normaliseModelConfig(c.model);
    normaliseScheduleConfig(c.schedule);
  } catch (err) {
    throw new DiffusionError('CHECKPOINT_CORRUPT', `${source}: ${(err as Error).message}`);
  }
  return c as CheckpointConfig;
}

/** Build a model from a config and safetensors bytes (browser entry: bytes come from fetch()). */
export function loadModelFromBytes(engine: TensorEngine, config: CheckpointConfig, weights: Uint8Array, source = 'ema.safetensors'): DiffusionModel {
  const model = createModel(engine, config.model, 0);
  try {
    model.params.importValues(decodeSafetensors(weights, source).tensors, source);
  } catch (err) {
    model.params.dispose();
    throw err;
  }
  return model;
}
