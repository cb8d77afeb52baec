/**
 * Node-only checkpoint directory I/O. A checkpoint is written as one step (@flashdiff/cli-kit's
 * writeFilesAtomic): the four files go to temporaries, then are renamed in, config.json last; a
 * failure (ENOSPC, Ctrl-C) leaves the previous checkpoint whole.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFilesAtomic } from '@flashdiff/cli-kit';
import { join } from 'node:path';
import { DiffusionError } from '../errors.ts';
import type { DiffusionModel } from '../models/index.ts';
import type { NamedArray } from '../models/parameters.ts';
import type { TensorEngine } from '../tensor/engine.ts';
import { type CheckpointConfig, loadModelFromBytes, parseCheckpointConfig } from './checkpoint.ts';
import { decodeSafetensors, encodeSafetensors } from './safetensors.ts';

export const FILES = { config: 'config.json', model: 'model.safetensors', ema: 'ema.safetensors', optimizer: 'optimizer.safetensors' } as const;

export function saveCheckpoint(
  dir: string,
  config: CheckpointConfig,
  weights: { model: Map<string, NamedArray>; ema: Map<string, NamedArray>; optimizer: Map<string, NamedArray> },
): void {
  const meta = { format: config.format, step: String(config.state.step) };
  // config.json last: a checkpoint whose config names step k has all of step k's weights.
  writeFilesAtomic([
    [join(dir, FILES.model), encodeSafetensors(weights.model, meta)],
    [join(dir, FILES.ema), encodeSafetensors(weights.ema, meta)],
    [join(dir, FILES.optimizer), encodeSafetensors(weights.optimizer, meta)],
    [join(dir, FILES.config), JSON.stringify(config, null, 2) + '\n'],
  ]);
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
