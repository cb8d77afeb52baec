/**
 * Browser entry for the dashboard: load a checkpoint from ArrayBuffers (config.json text and
 * ema.safetensors bytes, e.g. from fetch()), sample with a per-step progress callback, and get
 * RGBA pixels. Uses whatever tfjs backend the page has initialised (webgl, wasm or cpu).
 */
import { type CheckpointConfig, loadModelFromBytes, parseCheckpointConfig } from './checkpoint/checkpoint.ts';
import { type RgbaImage, imagesToGrid } from './image/grid.ts';
import type { DiffusionModel } from './models/index.ts';
import { Random } from './rng.ts';
import { type ContextSpec, sampleImages } from './sample.ts';
import { createScheduler } from './schedulers/index.ts';
import { TfjsEngine } from './tensor/tfjs-engine.ts';

export type { ContextSpec } from './sample.ts';
export type { RgbaImage } from './image/grid.ts';

export interface LoadedCheckpoint {
  config: CheckpointConfig;
  model: DiffusionModel;
  engine: TfjsEngine;
  dispose(): void;
}

export function loadCheckpointFromBuffers(configJson: string | ArrayBuffer, weights: ArrayBuffer): LoadedCheckpoint {
  const text = typeof configJson === 'string' ? configJson : new TextDecoder().decode(configJson);
  const config = parseCheckpointConfig(text, 'config.json');
  const engine = new TfjsEngine();
  const model = loadModelFromBytes(engine, config, new Uint8Array(weights), 'ema.safetensors');
  return { config, model, engine, dispose: () => model.params.dispose() };
}

export interface BrowserSampleOptions {
  sampler: 'ddpm' | 'ddim';
  steps: number;
  eta?: number;
  n: number;
  context: ContextSpec;
  guidance?: number;
  seed?: number;
  columns?: number;
  /** Called after every denoising step; the sampler awaits it, so a UI can repaint. */
  onStep?: (index: number, total: number, timestep: number) => void | Promise<void>;
}

/** Sample and return both the raw images (NHWC in [−1, 1]) and an RGBA grid ready for ImageData. */
export async function sampleGrid(loaded: LoadedCheckpoint, options: BrowserSampleOptions): Promise<{ grid: RgbaImage; images: Float32Array }> {
  const scheduler = createScheduler({ ...loaded.config.schedule, kind: options.sampler, eta: options.eta ?? 0, timestepSpacing: 'trailing' });
  const result = await sampleImages(loaded.engine, loaded.model, {
    scheduler,
    steps: options.steps,
    n: options.n,
    context: options.context,
    guidance: options.guidance ?? 1,
    random: new Random(options.seed ?? 0),
    onStep: options.onStep,
  });
  const grid = imagesToGrid(result.images, options.n, result.height, result.width, result.channels, options.columns ?? Math.ceil(Math.sqrt(options.n)));
  return { grid, images: result.images };
}
