/** Node-only checkpoint directory I/O (atomic writes: temp file, then rename). */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiffusionError } from '../errors.ts';
import type { DiffusionModel } from '../models/index.ts';
import type { NamedArray } from '../models/parameters.ts';
import type { TensorEngine } from '../tensor/engine.ts';
import { type CheckpointConfig, loadModelFromBytes, parseCheckpointConfig } from './checkpoint.ts';
import { decodeSafetensors, encodeSafetensors } from './safetensors.ts';

export const FILES = { config: 'config.json', model: 'model.safetensors', ema: 'ema.safetensors', optimizer: 'optimizer.safetensors' } as const;

function writeAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

export function saveCheckpoint(
  dir: string,
  config: CheckpointConfig,
  weights: { model: Map<string, NamedArray>; ema: Map<string, NamedArray>; optimizer: Map<string, NamedArray> },
): void {
  mkdirSync(dir, { recursive: true });
  const meta = { format: config.format, step: String(config.state.step) };
  writeAtomic(join(dir, FILES.model), encodeSafetensors(weights.model, meta));
  writeAtomic(join(dir, FILES.ema), encodeSafetensors(weights.ema, meta));
  writeAtomic(join(dir, FILES.optimizer), encodeSafetensors(weights.optimizer, meta));
  // config.json last: a checkpoint whose config names step k has all of step k's weights.
  writeAtomic(join(dir, FILES.config), JSON.stringify(config, null, 2) + '\n');
}

function readFile(dir: string, name: string): Uint8Array {
  const path = join(dir, name);
  if (!existsSync(path)) throw new DiffusionError('CHECKPOINT_MISSING', `${path}: missing (is ${dir} a checkpoint directory?)`);
  return new Uint8Array(readFileSync(path));
}

export function readCheckpointConfig(dir: string): CheckpointConfig {
  const path = join(dir, FILES.config);
  return parseCheckpointConfig(new TextDecoder().decode(readFile(dir, FILES.config)), path);
}

export function readSafetensorsFile(dir: string, name: string): Map<string, NamedArray> {
  return decodeSafetensors(readFile(dir, name), join(dir, name)).tensors;
}

/** The model to sample with: EMA weights (or the live ones with `which: 'model'`). */
export function loadModel(engine: TensorEngine, dir: string, which: 'ema' | 'model' = 'ema'): { model: DiffusionModel; config: CheckpointConfig } {
  const config = readCheckpointConfig(dir);
  const name = which === 'ema' ? FILES.ema : FILES.model;
  return { model: loadModelFromBytes(engine, config, readFile(dir, name), join(dir, name)), config };
}
